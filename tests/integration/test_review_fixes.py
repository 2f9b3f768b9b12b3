"""Round two's hostile review (issue 21), live: what a second site could do to the balancer-manager of another.

The review proved on a real Apache that a site whose backend resolves back to this host (a name the attacker's DNS
points at 127.0.0.1 after validation: _host_checks refuses it only while it resolves there) reached another site's
balancer-manager, which trusted loopback clients only, and disabled a member with the page's nonce. The manager now
also requires a request that nobody proxied (mod_proxy always adds X-Forwarded-For). Here the attacker is rendered
from the model alone (as if its name had resolved elsewhere at validation), both sites are loaded into one private
Apache, and a request through the attacker must get 403 while a direct loopback client still manages the pool. A
control with the manager's old rule proves the probe sees the danger.
"""
import http.client
import os
import re
import tempfile

import pytest

from ansible_collections.revproxy.tls.plugins.module_utils.apache._balancer_manager import MANAGER_PATH
from ansible_collections.revproxy.tls.plugins.module_utils.apache._render import needed_modules, render_site
from ansible_collections.revproxy.tls.plugins.module_utils.model._sites import normalize_sites
from support.apache import DEFAULT_MODULES, PrivateApache
from support.backends import PlainHTTPBackend

pytestmark = pytest.mark.apache


def _get(port, path, host):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        conn.request("GET", path, headers={"Host": host})
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


def test_control_the_old_rule_published_the_manager(world):
    text = "".join(render_site(s) for s in world["sites"])
    old = re.sub(r"        <RequireAll>\n.*?        </RequireAll>\n",
                 "        Require ip 127.0.0.0/8\n        Require ip ::1\n", text, flags=re.S)
    assert old != text
    _load(world, old)
    try:
        status, body = _get(world["port"], "/bm", "attacker.test")
        assert status == 200 and b"nonce" in body  # the danger is real: the page and its nonce, to anyone
    finally:
        _load(world, text)
