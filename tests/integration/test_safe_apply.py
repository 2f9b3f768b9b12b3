"""Safe apply (issue 4) with real Apache and real backends: every fault ends with the previous configuration
serving and a failure message that names the site, the reason and the fix.

Policy under test: a run is all or nothing. When one changed site fails the preflight or the probe, no site of the
run is applied (or all are rolled back).
"""
import datetime
import os
import subprocess
import threading
import time

import pytest

from conftest import CONFIG_ROOT, PROXY_PORT, apply_role, get, snapshot
from support.backends import TLSBackend
from support.pki import PKI

pytestmark = pytest.mark.skipif(not os.path.exists("/usr/sbin/apache2"), reason="needs Apache httpd")


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    pki = PKI(str(tmp_path_factory.mktemp("pki")))
    root = pki.ca("Safe Apply Root CA")
    inter = pki.ca("Safe Apply Intermediate CA", issuer=root)
    other_root = pki.ca("Some Other Root CA")
    return {
        "pki": pki, "root": root, "other_root": other_root,
        "good": pki.leaf("good", dns=["localhost"], issuer=inter),
        "expired": pki.leaf("expired", dns=["localhost"], issuer=inter,
                            not_before=datetime.timedelta(days=-30), not_after=datetime.timedelta(days=-1)),
        "client": pki.leaf("client", cn="proxy-client", issuer=inter, client=True),
        "stranger": pki.leaf("stranger", cn="stranger", issuer=other_root, client=True),
    }


@pytest.fixture()
def stable(pki):
    """The backend the previous (good) configuration points at."""
    with TLSBackend(pki["good"].chain_path, pki["good"].key_path, body=b"stable backend") as be:
        yield be


def site(port, pki, name="safe", server_name="front.test", **tls):
    return {
        "name": name, "server_name": server_name,
        "listen": {"port": PROXY_PORT, "address": "127.0.0.1"},
        "locations": [{"path": "/", "backend": "https://localhost:%d/" % port, "retry": 0}],
        "backend_tls": dict({"ca_file": pki["root"].cert_path}, **tls),
    }


def assert_serving_stable(host="front.test"):
    status, body = get(host=host)
    assert status == 200 and "stable backend" in body, (status, body)


BECOMES_BAD = [
    ("certificate replaced by an expired one", "expired", {}, "expired"),
    ("CA changed", "good", {"ca_file": "other_root"}, "untrusted_ca"),
    ("client certificate required", "good", {"client_ca": "root"}, "client_cert_required"),
]


@pytest.mark.parametrize("case,cert,change,reason", BECOMES_BAD, ids=[b[0] for b in BECOMES_BAD])
def test_backend_that_becomes_bad_is_refused_in_preflight(system_apache, pki, case, cert, change, reason,
                                                          reserved_port):
    port = reserved_port()  # held across both backends on it (they bind beside the reservation)
    with TLSBackend(pki["good"].chain_path, pki["good"].key_path, port=port, body=b"stable backend"):
        res = apply_role([site(port, pki)])
        assert res.rc == 0, res
        assert_serving_stable()
    before = snapshot()
    client_ca = pki[change["client_ca"]].cert_path if "client_ca" in change else None
    with TLSBackend(pki[cert].chain_path, pki[cert].key_path, port=port, client_ca_path=client_ca):
        tls = {"ca_file": pki[change["ca_file"]].cert_path} if "ca_file" in change else {}
        changed = site(port, pki, **tls)
        changed["locations"][0]["timeout"] = 30  # the run changes the site, so the preflight checks it
        res = apply_role([changed])
    assert res.rc != 0, res
    assert "Preflight refused this run" in res.stdout
    assert "safe: refused by preflight - https://localhost:%d/ %s" % (port, reason) in res.stdout, res
    assert "Fix:" in res.stdout
    assert snapshot() == before


def test_preflight_warn_applies_anyway(system_apache, pki, stable):
    res = apply_role([site(stable.port, pki, ca_file=pki["other_root"].cert_path)], apache_proxy_preflight="warn",
                     apache_proxy_probe=False)
    assert res.rc == 0, res
    assert "WARNING: applying despite failing backends" in res.stdout
    assert "safe: applied - preflight warning: https://localhost:%d/ untrusted_ca" % stable.port in res.stdout


class FlakyBackend(TLSBackend):
    """Serves the first handshake (the preflight), then goes away before Apache's probe."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        threading.Thread(target=self._die_after_first, daemon=True).start()

    def _die_after_first(self):
        # Goes away once the preflight's request was served and its connection is closed (the checker has its
        # answer), not a guessed pause after the request (bound: 120 s).
        deadline = time.monotonic() + 120
        while not (self.requests and not self._writers) and time.monotonic() < deadline:
            time.sleep(0.01)
        self.stop()


def test_backend_breaking_after_preflight_is_rolled_back(system_apache, pki, stable):
    assert apply_role([site(stable.port, pki)]).rc == 0
    before = snapshot()
    flaky = FlakyBackend(pki["good"].chain_path, pki["good"].key_path, body=b"flaky")
    try:
        res = apply_role([site(flaky.port, pki)])
    finally:
        flaky.stop()
    assert res.rc != 0, res
    assert "safe: rolled back - probe failed (/ -> 503)" in res.stdout, res
    assert "connect_refused" in res.stdout
    assert "previous configuration restored and serving again" in res.stdout
    assert snapshot() == before
    assert_serving_stable()
    assert not any(name.endswith(".revproxy-prev") for _d, _s, files in os.walk(CONFIG_ROOT) for name in files)


def test_on_probe_failure_keep_leaves_new_config(system_apache, pki, stable, reserved_port):
    assert apply_role([site(stable.port, pki)]).rc == 0
    dead = reserved_port()  # bound, never listening: the probe's connection is refused
    res = apply_role([site(dead, pki)], apache_proxy_preflight="off", apache_proxy_on_probe_failure="keep")
    assert res.rc != 0, res
    assert "safe: kept failing - probe failed (/ -> 503)" in res.stdout, res
    assert ":%d/" % dead in open(os.path.join(CONFIG_ROOT, "sites-available", "safe.conf")).read()


def test_mismatched_client_key_is_refused_before_any_change(system_apache, pki, stable):
    """A client key that does not match its certificate passes `apache2 -t` (mod_ssl loads it only at startup) and
    used to make the reload exit Apache; it is now refused up front, naming the site and field, and nothing changes."""
    assert apply_role([site(stable.port, pki)]).rc == 0
    before = snapshot()
    res = apply_role([site(stable.port, pki, client_cert_file=pki["client"].cert_path,
                           client_key_file=pki["stranger"].key_path)], apache_proxy_preflight="off")
    assert res.rc != 0, res
    assert "site 'safe': backend_tls.client_key_file" in res.stdout and "does not belong to the certificate" in res.stdout
    assert snapshot() == before
    assert_serving_stable()


def test_reload_that_kills_apache_is_rolled_back(system_apache, pki, stable, tmp_path):
    """A frontend key that does not match its certificate passes `apache2 -t` (mod_ssl loads it only at startup)
    and makes the reload exit Apache: the role restores the previous files and starts Apache again. (The backend
    client key used to serve here; the site model now refuses a mismatched client key up front, see above.)"""
    assert apply_role([site(stable.port, pki)]).rc == 0
    before = snapshot()
    # No HTTP redirect: on 127.0.0.1:80 it would sit beside Debian's *:80 default vhost, which the role refuses (a
    # specific address takes every name of the '*' vhosts there).
    res = apply_role([dict(site(stable.port, pki), tls={"certificate_file": pki["good"].cert_path,
                                                        "key_file": pki["stranger"].key_path}, redirect_http=False)],
                     apache_proxy_preflight="off")
    assert res.rc != 0, res
    assert "safe: rolled back - probe failed (Apache exited)" in res.stdout, res
    assert "AH02565" in res.stdout and "AH00020" in res.stdout  # the cause, then the exit
    assert "previous configuration restored and serving again" in res.stdout
    assert snapshot() == before
    assert_serving_stable()


def test_apache_stopped_when_the_run_starts(system_apache, pki, stable):
    subprocess.run(["service", "apache2", "stop"], check=False, capture_output=True)
    res = apply_role([site(stable.port, pki)])
    assert res.rc == 0, res
    assert_serving_stable()


def test_two_sites_one_failing_applies_neither(system_apache, pki, stable):
    first = [site(stable.port, pki, name="one", server_name="one.test"),
             site(stable.port, pki, name="two", server_name="two.test")]
    assert apply_role(first).rc == 0
    before = snapshot()
    with TLSBackend(pki["expired"].chain_path, pki["expired"].key_path) as bad:
        second = [dict(first[0], locations=[{"path": "/", "backend": "https://localhost:%d/" % stable.port,
                                             "timeout": 20}]),
                  site(bad.port, pki, name="two", server_name="two.test")]
        res = apply_role(second)
    assert res.rc != 0, res
    assert "not applied (another site of this run failed the preflight): 1 site: one" in res.stdout, res
    assert "two: refused by preflight" in res.stdout
    assert snapshot() == before
    assert_serving_stable("one.test")
    assert_serving_stable("two.test")


def test_result_fact_for_later_tasks(system_apache, pki, stable):
    play = """
- hosts: localhost
  gather_facts: false
  roles:
    - role: revproxy.tls.apache_proxy
  post_tasks:
    - name: Show the exported outcome
      ansible.builtin.debug:
        msg: "OUTCOME {{ apache_proxy_result.sites | map(attribute='outcome') | join(',') }}"
"""
    from conftest import run_playbook
    res = run_playbook(play, {"apache_proxy_sites": [site(stable.port, pki)]}, env={"ANSIBLE_SHOW_CUSTOM_STATS": "1"})
    assert res.rc == 0, res
    assert "OUTCOME applied" in res.stdout
    assert "CUSTOM STATS" in res.stdout and "revproxy_apache_proxy" in res.stdout and "safe: applied" in res.stdout
    res = run_playbook(play, {"apache_proxy_sites": [site(stable.port, pki)]})
    assert "OUTCOME unchanged" in res.stdout
