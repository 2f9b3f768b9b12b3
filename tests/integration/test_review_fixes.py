"""Round two's hostile review (issue 21), live: what a second site could do to the balancer-manager of another.

The review proved on a real Apache that a site whose backend resolves back to this host (a name the attacker's DNS
points at 127.0.0.1 after validation: _host_checks refuses it only while it resolves there) reached another site's
balancer-manager, which trusted loopback clients only, and disabled a member with the page's nonce. The manager now
also requires a request that nobody proxied (mod_proxy always adds X-Forwarded-For). Here the attacker is rendered
from the model alone (as if its name had resolved elsewhere at validation), both sites are loaded into one private
Apache, and a request through the attacker must get 403 while a direct loopback client still manages the pool. A
control with the manager's old rule proves the probe sees the danger.

The second review: a site alone on its own port is Apache's default vhost there and answered every Host, the
victim's name included (browsers send a name's cookies to any port). Each vhost now refuses names not its own.
"""
import http.client
import os
import re
import tempfile

import pytest

from ansible_collections.revproxy.tls.plugins.module_utils.apache._balancer_manager import MANAGER_PATH
from ansible_collections.revproxy.tls.plugins.module_utils.apache._render import needed_modules
from support.apache_model import render_site
from support.apache_model import normalize_sites
from support.apache import DEFAULT_MODULES, PrivateApache
from support.apache import reserve_port
from support.backends import PlainHTTPBackend

pytestmark = pytest.mark.apache


def _get(port, path, host, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        conn.request("GET", path, headers=dict({"Host": host}, **(headers or {})))
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def world():
    members = [PlainHTTPBackend(body=b"member one"), PlainHTTPBackend(body=b"member two")]
    # Apache's workers (www-data) walk the document root for a handler's path too: not pytest's 0700 tmp tree.
    os.makedirs("/srv", exist_ok=True)
    workdir = tempfile.mkdtemp(prefix="revproxy-review-", dir="/srv")
    os.chmod(workdir, 0o755)
    instance = PrivateApache(workdir)
    port = instance.port
    victim = {"name": "victim", "server_name": "victim.test", "listen": {"port": port, "address": "127.0.0.1"},
              "balancer_manager": True,
              "locations": [{"path": "/", "backends": [{"url": "http://127.0.0.1:%d/" % m.port} for m in members]}]}
    # The attacker's backend is this Apache (Host 127.0.0.1:<port>: no name matches, so the first vhost there,
    # the victim, answers), at the manager's path.
    attacker = {"name": "zz-attacker", "server_name": "attacker.test",
                "listen": {"port": port, "address": "127.0.0.1"},
                "locations": [{"path": "/bm", "backend": "http://127.0.0.1:%d%s" % (port, MANAGER_PATH)}]}
    sites = normalize_sites([victim, attacker])
    instance.modules = tuple(DEFAULT_MODULES) + tuple(m for m in needed_modules(sites) if m not in DEFAULT_MODULES)
    instance.write_config()
    try:
        yield {"instance": instance, "port": port, "sites": sites}
    finally:
        instance.stop()
        instance.cleanup()
        for m in members:
            m.stop()


def _load(world, text):
    instance = world["instance"]
    instance.set_vhosts(text)
    if instance.proc is None:
        instance.start()
    else:
        instance.reload()


def test_a_site_proxying_back_to_this_host_cannot_reach_another_sites_manager(world):
    _load(world, "".join(render_site(s) for s in world["sites"]))
    port = world["port"]
    status, body = _get(port, MANAGER_PATH, "victim.test")
    assert status == 200 and b"balancer://root" in body  # a loopback client (the drain playbook) still manages it
    status, body = _get(port, "/bm", "attacker.test")
    assert status == 403, (status, body[:300])
    assert b"nonce" not in body
    # The manager's own rule, on its own: a loopback request that a proxy forwarded (mod_proxy always adds
    # X-Forwarded-For; a Host of the victim's name passes the vhost's name rule) is refused.
    for header in ("X-Forwarded-For", "Forwarded"):
        status, body = _get(port, MANAGER_PATH, "victim.test", {header: "192.0.2.7"})
        assert status == 403 and b"nonce" not in body, header


def test_control_the_old_rule_published_the_manager(world):
    text = "".join(render_site(s) for s in world["sites"])
    old = re.sub(r"        <RequireAll>\n.*?        </RequireAll>\n",
                 "        Require ip 127.0.0.0/8\n        Require ip ::1\n", text, flags=re.S)
    old = re.sub(r"    # Only its own names.*?\n    <If .*?</If>\n", "", old, flags=re.S)  # and no name rule
    assert old != text and "<If" not in old
    _load(world, old)
    try:
        status, body = _get(world["port"], "/bm", "attacker.test")
        assert status == 200 and b"nonce" in body  # the danger is real: the page and its nonce, to anyone
    finally:
        _load(world, text)


# -- the second review: a site alone on its port answered for every name (Apache's default vhost) ------------------

@pytest.fixture(scope="module")
def ports_world():
    backends = {"victim": PlainHTTPBackend(body=b"VICTIM backend"), "evil": PlainHTTPBackend(body=b"EVIL backend")}
    os.makedirs("/srv", exist_ok=True)
    workdir = tempfile.mkdtemp(prefix="revproxy-review-", dir="/srv")
    os.chmod(workdir, 0o755)
    instance = PrivateApache(workdir)
    victim_port = instance.port
    held = reserve_port()  # until the module is done: the private Apache binds it
    evil_port = held.port
    victim = {"name": "shop", "server_name": "shop.example", "server_aliases": ["*.img.shop.example"],
              "listen": {"port": victim_port, "address": "127.0.0.1"},
              "locations": [{"path": "/", "backend": "http://127.0.0.1:%d/" % backends["victim"].port}]}
    # The attacker never names the victim: it is alone on its own port, so Apache's default vhost there.
    evil = {"name": "zz-evil", "server_name": "evil.example", "listen": {"port": evil_port, "address": "127.0.0.1"},
            "locations": [{"path": "/", "backend": "http://127.0.0.1:%d/" % backends["evil"].port}]}
    sites = normalize_sites([victim, evil])
    text = "Listen 127.0.0.1:%d\n" % evil_port + "".join(render_site(s) for s in sites)
    try:
        yield {"instance": instance, "text": text, "victim_port": victim_port, "evil_port": evil_port}
    finally:
        instance.stop()
        instance.cleanup()
        held.release()
        for b in backends.values():
            b.stop()


def _load_ports(world, text):
    world["instance"].set_vhosts(text)
    if world["instance"].proc is None:
        world["instance"].start()
    else:
        world["instance"].reload()


def test_a_site_answers_its_own_names_only(ports_world):
    _load_ports(ports_world, ports_world["text"])
    victim, evil = ports_world["victim_port"], ports_world["evil_port"]
    for host in ("shop.example", "SHOP.example", "shop.example.", "shop.example:%d" % victim, "a.img.shop.example",
                 "a.b.img.shop.example"):
        status, body = _get(victim, "/", host)
        assert status == 200 and body.startswith(b"VICTIM backend"), host
    status, body = _get(evil, "/", "evil.example")
    assert status == 200 and body.startswith(b"EVIL backend")
    # The victim's name (and any other) at the attacker's port: refused, the attacker's backend sees nothing.
    for host in ("shop.example", "shop.example:%d" % evil, "img.shop.example", "127.0.0.1", "xshop.example"):
        status, body = _get(evil, "/", host)
        assert status == 403 and b"EVIL" not in body, (host, status)
    for host in ("evil.example", "img.shop.example", "shop.example.evil"):
        assert _get(victim, "/", host)[0] == 403, host


def test_control_without_the_host_rule_the_default_vhost_answered_every_name(ports_world):
    text = re.sub(r"    # Only its own names.*?\n    <If .*?</If>\n", "", ports_world["text"], flags=re.S)
    assert text != ports_world["text"] and "<If" not in text
    _load_ports(ports_world, text)
    try:
        status, body = _get(ports_world["evil_port"], "/", "shop.example")
        assert status == 200 and body.startswith(b"EVIL backend")  # the danger is real
    finally:
        _load_ports(ports_world, ports_world["text"])
