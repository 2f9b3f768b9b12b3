"""apache/_balancer_manager.py: the balancer-manager page of Apache 2.4.71 read, and the update form built."""
import os
from urllib.parse import parse_qs

import pytest

from ansible_collections.revproxy.tls.plugins.module_utils.apache._balancer_manager import (
    ManagerError,
    current_state,
    find_member,
    member_key,
    parse_page,
    update_form,
)

# Recorded from Apache 2.4.71 (tests/integration/test_pools.py setup): two balancers with the SAME two members, the
# first member of balancer://q in drain mode.
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "balancer-manager-2.4.71.html")) as _handle:
    PAGE = _handle.read()


def test_parse_page_two_balancers_same_members():
    page = parse_page(PAGE)
    assert sorted(page) == ["q", "root"]
    assert page["q"]["nonce"] == "7b46ce43-4404-2d5f-ae38-9be1fe4060a5"
    assert page["root"]["nonce"] != page["q"]["nonce"]
    assert sorted(page["q"]["members"]) == sorted(page["root"]["members"]) == [
        "https://localhost:35213", "https://localhost:42091"]
    drained = page["q"]["members"]["https://localhost:35213"]
    assert drained["status"] == ["init", "drained", "ok"] and drained["busy"] == 0
    assert current_state(drained) == "drained"
    # The same member in the other balancer is not drained: members are per balancer.
    assert current_state(page["root"]["members"]["https://localhost:35213"]) == "enabled"


@pytest.mark.parametrize("status,state", [
    (["init", "ok"], "enabled"), (["init", "drained", "ok"], "drained"), (["init", "disabled", "ok"], "disabled"),
    (["init", "disabled", "drained"], "disabled"), (["standby", "ok"], "enabled"),
])
def test_current_state(status, state):
    assert current_state({"status": status}) == state


@pytest.mark.parametrize("state,flags", [("disabled", ("1", "0")), ("drained", ("0", "1")), ("enabled", ("0", "0"))])
def test_update_form(state, flags):
    form = parse_qs(update_form(parse_page(PAGE), "root", "https://localhost:42091/", state))
    assert form["b"] == ["root"] and form["w"] == ["https://localhost:42091"]
    assert form["nonce"] == [parse_page(PAGE)["root"]["nonce"]]
    assert (form["w_status_D"][0], form["w_status_N"][0]) == flags


@pytest.mark.parametrize("balancer,member,message", [
    ("nope", "https://localhost:42091/", "balancer 'nope' not found on the balancer-manager page (balancers: q, root)"),
    ("q", "https://localhost:1/", "member 'https://localhost:1/' not found in balancer 'q' (members: "
                                  "https://localhost:35213, https://localhost:42091)"),
])
def test_not_found(balancer, member, message):
    with pytest.raises(ManagerError) as exc:
        find_member(parse_page(PAGE), balancer, member)
    assert str(exc.value) == message


def test_bad_state():
    with pytest.raises(ManagerError):
        update_form(parse_page(PAGE), "q", "https://localhost:42091", "gone")


@pytest.mark.parametrize("url,key", [("https://h:8443/", "https://h:8443"), ("https://h/app", "https://h/app"),
                                     ("https://h/app/", "https://h/app")])
def test_member_key(url, key):
    assert member_key(url) == key


def test_empty_page():
    assert parse_page("<html></html>") == {}


def test_parse_page_with_health_checks():
    """With mod_proxy_hcheck loaded each member row has six more cells (HC Method ... HC Expr); recorded from Apache
    2.4.71 with a pool of two members and a health check. Found by the molecule scenario pools (drain said
    "members: none")."""
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "balancer-manager-hcheck-2.4.71.html")) as handle:
        page = parse_page(handle.read())
    assert sorted(page) == ["app"]
    assert sorted(page["app"]["members"]) == ["https://localhost:34315", "https://localhost:39647"]
    member = find_member(page, "app", "https://localhost:39647/")
    assert member["status"] == ["init", "ok"] and member["busy"] == 0 and member["factor"] == "1.00"
    assert current_state(member) == "enabled"
    form = parse_qs(update_form(page, "app", "https://localhost:39647/", "disabled"))
    assert form["w"] == ["https://localhost:39647"] and form["w_status_D"] == ["1"]
