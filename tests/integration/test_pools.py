"""Pools and per-backend TLS with a real Apache 2.4 (a private instance) and real HTTPS backends (issue 12).

One vhost proxies to backends signed by different CAs, one of them requiring a client certificate, and to a pool of
three HTTPS members, one of them broken. The vhost is what render_site writes for the effective site, with the
modules needed_modules names; the checker (backend_handshake's run) checks the same site member by member.
"""
import http.client
import os
import shutil
import socket
import tempfile
import threading
import time

import pytest

from ansible_collections.revproxy.tls.plugins.module_utils.apache._render import needed_modules
from support.apache_model import render_site
from support.apache_model import normalize_site
from ansible_collections.revproxy.tls.plugins.module_utils.tls import _checker
from ansible_collections.revproxy.tls.plugins.module_utils.apache._catalogue import SEMANTICS
from support.apache import DEFAULT_MODULES, PrivateApache
from support.backends import PlainHTTPBackend, TLSBackend
from support.pki import PKI

pytestmark = [pytest.mark.apache,
              pytest.mark.skipif(not os.path.exists("/usr/sbin/apache2"), reason="needs Apache httpd")]


class _Module:
    def __init__(self):
        self.warnings = []

    def warn(self, text):
        self.warnings.append(text)


@pytest.fixture(scope="module")
def farm(tmp_path_factory):
    """Backends: A (CA A), B (CA B, requires a client certificate from CA B), pool members C1, C2 (CA C) and C3
    (signed by a CA the proxy does not trust)."""
    pki = PKI(str(tmp_path_factory.mktemp("pools-pki")))
    ca = dict((n, pki.ca("Pools CA %s" % n)) for n in "ABCX")
    leaf = dict((n, pki.leaf("leaf-%s" % n.lower(), dns=["localhost"], issuer=ca[n])) for n in "ABCX")
    client = pki.leaf("proxy-client", cn="revproxy-client", issuer=ca["B"], client=True)
    pair = os.path.join(pki.directory, "proxy-client-pair.pem")
    with open(pair, "w") as handle:
        handle.write(client.pem + client.key_pem)
    os.chmod(pair, 0o644)
    servers = {
        "A": TLSBackend(leaf["A"].chain_path, leaf["A"].key_path, sni_names={"localhost"}, body=b"A"),
        "B": TLSBackend(leaf["B"].chain_path, leaf["B"].key_path, sni_names={"localhost"},
                        client_ca_path=ca["B"].cert_path, body=b"B"),
        "C1": TLSBackend(leaf["C"].chain_path, leaf["C"].key_path, sni_names={"localhost"}, body=b"C1"),
        "C2": TLSBackend(leaf["C"].chain_path, leaf["C"].key_path, sni_names={"localhost"}, body=b"C2"),
        "C3": TLSBackend(leaf["X"].chain_path, leaf["X"].key_path, sni_names={"localhost"}, body=b"C3"),
    }
    yield {"ca": ca, "pair": pair, "servers": servers}
    for server in servers.values():
        server.stop()


def _site(farm, min_ok=None, **pool_over):
    s = farm["servers"]
    pool = {"path": "/p/", "backend_tls": {"ca_file": farm["ca"]["C"].cert_path},
            "backends": [{"url": "https://localhost:%d/" % s[n].port} for n in ("C1", "C2", "C3")]}
    if min_ok is not None:
        pool["min_ok"] = min_ok
    pool.update(pool_over)
    return {
        "name": "pools",
        "server_name": "pools.test",
        "backend_tls": {"ca_file": farm["ca"]["A"].cert_path},
        "locations": [
            {"path": "/a/", "backend": "https://localhost:%d/" % s["A"].port},
            {"path": "/b/", "backend": "https://localhost:%d/" % s["B"].port,
             "backend_tls": {"ca_file": farm["ca"]["B"].cert_path, "client_cert_file": farm["pair"]}},
            pool,
        ],
    }


def _apache(workdir, eff):
    modules = tuple(DEFAULT_MODULES) + tuple(m for m in needed_modules([eff]) if m not in DEFAULT_MODULES)
    instance = PrivateApache(str(workdir), modules=modules, loglevel="warn ssl:info")
    text = render_site(eff, tls_dir=str(workdir / "tls"))
    text = text.replace("<VirtualHost *:80>", "<VirtualHost 127.0.0.1:%d>" % instance.port)
    instance.set_vhosts(text)
    return instance, text


def test_different_cas_and_a_client_certificate_in_one_vhost(farm, tmp_path):
    eff = normalize_site(_site(farm))
    instance, text = _apache(tmp_path, eff)
    assert text.count("<VirtualHost") == 1
    assert instance.configtest()[0], instance.configtest()[1]
    instance.start()
    try:
        for path, body in (("/a/", b"A"), ("/b/", b"B")):
            status, _headers, got = instance.request(path, host="pools.test")
            assert (status, got.split(b"\n")[0]) == (200, body), instance.error_log_since()[-2000:]
        # B saw the proxy's client certificate, A and B the SNI of their own URL.
        assert farm["servers"]["B"].seen and all(sni == "localhost" for sni, _host in farm["servers"]["B"].seen)
    finally:
        instance.stop()
        instance.cleanup()


def test_site_settings_alone_do_not_reach_the_other_backends(farm, tmp_path):
    """Control: without B's own section, B fails (CA A does not sign it): the <Proxy> section is what made it work."""
    site = _site(farm)
    del site["locations"][1]["backend_tls"]
    eff = normalize_site(site)
    instance, _text = _apache(tmp_path, eff)
    instance.start()
    try:
        status, _headers, _body = instance.request("/b/", host="pools.test")
        assert status in (500, 502)  # Apache 2.4.71 answers 500 when the handshake fails before the request body
        assert "AH02039" in instance.error_log_since() or "certificate verify failed" in instance.error_log_since()
    finally:
        instance.stop()
        instance.cleanup()


def test_pool_of_three_with_one_broken_member(farm, tmp_path):
    eff = normalize_site(_site(farm))
    instance, _text = _apache(tmp_path, eff)
    instance.start()
    try:
        bodies = []
        statuses = []
        for _attempt in range(12):
            status, _headers, got = instance.request("/p/", host="pools.test")
            statuses.append(status)
            bodies.append(got.split(b"\n")[0])
        log = instance.error_log_since()
        # The healthy members answer with the pool's CA; the broken one fails its handshake (untrusted issuer)
        # and the balancer puts it in error state: later requests go to C1 and C2 only.
        assert {b"C1", b"C2"} <= set(bodies)
        assert b"C3" not in bodies
        assert "AH02039" in log or "certificate verify failed" in log, log[-2000:]
        assert statuses[-4:] == [200] * 4, (statuses, log[-2000:])
        # The balancer appends the rest of the path to the member URL: the members get /x, not //x.
        status, _headers, got = instance.request("/p/x", host="pools.test")
        assert status == 200
        served = [r["path"] for n in ("C1", "C2") for r in farm["servers"][n].requests]
        assert "/x" in served and not any(p.startswith("//") for p in served), served
    finally:
        instance.stop()
        instance.cleanup()


def _check(site):
    params = {"sites": [site], "backend_tls_defaults": {}, "tls_dir": "/etc/apache2/revproxy-tls", "timeout": 10,
              "concurrency": 8, "http_request": True, "return_pem": False}
    module = _Module()
    checks, results = _checker.run(params, module, SEMANTICS)
    return checks, results, module


def test_checker_reports_each_member_with_its_settings(farm):
    checks, results, _module = _check(_site(farm))
    s = farm["servers"]
    by_url = dict((r["url"], r) for r in results)
    assert by_url["https://localhost:%d/" % s["A"].port]["ok"]
    assert by_url["https://localhost:%d/" % s["B"].port]["ok"]  # its own CA and the client certificate
    assert by_url["https://localhost:%d/" % s["C1"].port]["ok"]
    assert by_url["https://localhost:%d/" % s["C2"].port]["ok"]
    broken = by_url["https://localhost:%d/" % s["C3"].port]
    assert (broken["ok"], broken["path"], broken["sni"]) == (False, "/p/", "localhost")
    # Its issuer is neither served nor trusted: the checker says which of the two it cannot tell apart.
    assert broken["reason"] in ("untrusted_ca", "incomplete_chain")
    _msg, _summary, failed = _checker.summarize(checks, results)
    assert len(failed) == 1 and ":%d/" % s["C3"].port in failed[0]
    assert _checker.pool_warnings(checks, results) == []


def test_checker_min_ok_goes_live_with_a_warning(farm):
    checks, results, _module = _check(_site(farm, min_ok=2))
    _msg, _summary, failed = _checker.summarize(checks, results)
    assert failed == []
    port = farm["servers"]["C3"].port
    reason = [r["reason"] for r in results if r["url"] == "https://localhost:%d/" % port][0]
    assert _checker.pool_warnings(checks, results) == [
        "site pools: pool /p/ (balancer://p) goes live with 2 of 3 members (min_ok 2); failing: "
        "https://localhost:%d/ (%s)" % (port, reason)]


def test_checker_without_the_client_certificate_names_the_member(farm):
    site = _site(farm)
    site["locations"][1]["backend_tls"] = {"ca_file": farm["ca"]["B"].cert_path}
    _checks, results, _module = _check(site)
    by_url = dict((r["url"], r) for r in results)
    got = by_url["https://localhost:%d/" % farm["servers"]["B"].port]
    assert not got["ok"] and got["path"] == "/b/"
    assert got["reason"].startswith("client_cert"), got["reason"]


def test_plain_http_pool(tmp_path):
    one, two = PlainHTTPBackend(body=b"one"), PlainHTTPBackend(body=b"two")
    try:
        eff = normalize_site({"name": "plain", "server_name": "plain.test", "locations": [
            {"path": "/", "lbmethod": "bybusyness",
             "backends": [{"url": "http://127.0.0.1:%d/" % one.port}, {"url": "http://127.0.0.1:%d/" % two.port}]}]})
        instance, _text = _apache(tmp_path, eff)
        instance.start()
        try:
            seen = set()
            deadline = time.time() + 10
            while len(seen) < 2 and time.time() < deadline:
                status, _headers, got = instance.request("/", host="plain.test")
                assert status == 200
                seen.add(got.split(b"\n")[0])
            assert seen == {b"one", b"two"}
        finally:
            instance.stop()
            instance.cleanup()
    finally:
        one.stop()
        two.stop()


# -- Health checks (mod_proxy_hcheck), as measured on this Apache ------------------------------------------------


def _hc_site(ca_file, ports, **hc):
    return {"name": "hc", "server_name": "hc.test", "backend_tls": {"ca_file": ca_file},
            "locations": [{"path": "/p/", "retry": 0,
                           "health_check": dict({"uri": "/health", "interval": 1, "passes": 1, "fails": 1}, **hc),
                           "backends": [{"url": "https://localhost:%d/" % p} for p in ports]}]}


def _bodies(instance, n=6):
    return [instance.request("/p/", host="hc.test")[2].split(b"\n")[0] for _attempt in range(n)]


def _wait_for(predicate, timeout=15.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.3)
    return False


@pytest.fixture()
def hc_pki(tmp_path):
    pki = PKI(str(tmp_path / "pki"))
    ca = pki.ca("HC CA")
    return ca, pki.leaf("hc-leaf", dns=["localhost"], issuer=ca)


def test_health_check_takes_a_stopped_member_out_and_brings_it_back(hc_pki, tmp_path):
    ca, leaf = hc_pki
    one = TLSBackend(leaf.chain_path, leaf.key_path, body=b"one")
    two = TLSBackend(leaf.chain_path, leaf.key_path, body=b"two")
    port = two.port
    instance, _text = _apache(tmp_path, normalize_site(_hc_site(ca.cert_path, [one.port, two.port])))
    instance.start()
    back = None
    try:
        assert _wait_for(lambda: set(_bodies(instance)) == {b"one", b"two"})
        # What the health check sends: no SNI, Host <member host:port>, HTTP/1.0, the URI after the member's URL.
        assert _wait_for(lambda: any(r["path"].endswith("/health") for r in one.requests)), one.requests[:3]
        hc_requests = [r for r in one.requests if r["path"].endswith("/health")]
        assert all(r["sni"] is None and r["headers"].get("host") == "localhost:%d" % one.port for r in hc_requests)
        two.stop()
        # interval 1 s, fails 1: out within two intervals (polled, with a deadline); then it stays out.
        assert _wait_for(lambda: set(_bodies(instance)) == {b"one"}, timeout=10.0)
        assert set(_bodies(instance, n=12)) == {b"one"}  # no request fails: the checked-out member gets none
        back = TLSBackend(leaf.chain_path, leaf.key_path, body=b"two again", port=port)
        assert _wait_for(lambda: b"two again" in _bodies(instance)), instance.error_log_since()[-2000:]
    finally:
        instance.stop()
        instance.cleanup()
        for server in (one, two, back):
            if server is not None:
                server.stop()


def test_health_check_would_ignore_the_pools_own_settings(hc_pki, tmp_path):
    """Why a pool with its own backend_tls cannot have a health check: mod_proxy_hcheck uses the vhost's SSLProxy*
    settings. Rendered by hand (the model refuses it): every member is taken out and every request gets 503."""
    ca, leaf = hc_pki
    other = PKI(str(tmp_path / "other")).ca("Other CA")
    one = TLSBackend(leaf.chain_path, leaf.key_path, body=b"one")
    site = _hc_site(other.cert_path, [one.port])
    hc = site["locations"][0].pop("health_check")
    site["locations"][0]["backend_tls"] = {"ca_file": ca.cert_path}
    eff = normalize_site(site)
    eff["locations"][0]["pool"]["health_check"] = dict(hc, method="GET", expect=["2xx", "3xx"])
    instance, _text = _apache(tmp_path, eff)
    instance.start()
    try:
        assert _wait_for(lambda: instance.request("/p/", host="hc.test")[0] == 503)
        assert "All workers are in error state" in instance.error_log_since()
    finally:
        instance.stop()
        instance.cleanup()
        one.stop()


def test_checker_catches_members_that_fail_the_health_checks_handshake(hc_pki):
    """A backend that requires SNI answers requests (SNI sent) but not mod_proxy_hcheck (none sent): the checker's
    extra check without SNI fails for each member, so the pool is refused before it goes live."""
    ca, leaf = hc_pki
    strict = [TLSBackend(leaf.chain_path, leaf.key_path, sni_names={"localhost"}) for _attempt in range(2)]
    try:
        checks, results, _module = _check(_hc_site(ca.cert_path, [s.port for s in strict]))
        normal = [r for r in results if not r.get("health_check")]
        hc = [r for r in results if r.get("health_check")]
        assert len(normal) == 2 and all(r["ok"] for r in normal)
        assert len(hc) == 2 and not any(r["ok"] for r in hc)
        _msg, _summary, failed = _checker.summarize(checks, results)
        assert len(failed) == 2 and all("(health check: no SNI)" in f for f in failed)
    finally:
        for server in strict:
            server.stop()


def test_sticky_cookie_set_by_the_proxy_and_followed(farm, tmp_path):
    s = farm["servers"]
    site = _site(farm, sticky="ROUTEID", backends=[{"url": "https://localhost:%d/" % s[n].port} for n in ("C1", "C2")])
    site["locations"].append({"path": "/q/", "sticky": "QID", "backend_tls": {"ca_file": farm["ca"]["C"].cert_path},
                              "backends": [{"url": "https://localhost:%d/" % s["C1"].port}]})
    instance, _text = _apache(tmp_path, normalize_site(site))
    instance.start()
    try:
        cookies = {}
        for _attempt in range(4):
            status, headers, got = instance.request("/p/", host="pools.test")
            assert status == 200
            cookies[got.split(b"\n")[0]] = headers.get("set-cookie")
        assert cookies == {b"C1": "ROUTEID=.m1; path=/", b"C2": "ROUTEID=.m2; path=/"}
        for _attempt in range(4):
            status, headers, got = instance.request("/p/", host="pools.test", headers={"Cookie": "ROUTEID=.m2"})
            assert (status, got.split(b"\n")[0], headers.get("set-cookie")) == (200, b"C2", None)
        # Each pool sets only its own cookie.
        assert instance.request("/q/", host="pools.test")[1].get("set-cookie") == "QID=.m1; path=/"
    finally:
        instance.stop()
        instance.cleanup()


# -- Drain through the balancer-manager (revproxy.tls.drain, revproxy.tls.balancer_member) -------------------------

DRAIN_PLAY = """
- name: Drain through the collection's playbook
  ansible.builtin.import_playbook: revproxy.tls.drain
"""


def _outside_address():
    """A non-loopback address of this machine (what a client elsewhere connects to), or None."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))  # no packet is sent
        address = probe.getsockname()[0]
    except OSError:
        return None
    finally:
        probe.close()
    return None if address.startswith("127.") else address


def test_drain_under_a_request_loop_and_manager_unreachable_from_outside(hc_pki, tmp_path, reserved_port):
    from conftest import run_playbook  # pylint: disable=import-outside-toplevel
    ca, leaf = hc_pki
    one = TLSBackend(leaf.chain_path, leaf.key_path, body=b"one", delay=0.2)
    two = TLSBackend(leaf.chain_path, leaf.key_path, body=b"two", delay=0.2)
    site = {"name": "drain", "server_name": "drain.test", "balancer_manager": True,
            "backend_tls": {"ca_file": ca.cert_path},
            "locations": [{"path": "/", "backends": [{"url": "https://localhost:%d/" % b.port} for b in (one, two)]}]}
    eff = normalize_site(site)
    outside = _outside_address()
    outside_port = reserved_port(outside) if outside else None
    modules = tuple(DEFAULT_MODULES) + tuple(m for m in needed_modules([eff]) if m not in DEFAULT_MODULES)
    # The manager's request maps to a file path under the DocumentRoot: the workdir must be searchable by Apache's user.
    workdir = tempfile.mkdtemp(prefix="revproxy-drain-")
    os.chmod(workdir, 0o755)
    instance = PrivateApache(workdir, modules=modules,
                             extra_global="Listen %s:%d" % (outside, outside_port) if outside else "")
    addresses = "127.0.0.1:%d" % instance.port + (" %s:%d" % (outside, outside_port) if outside else "")
    instance.set_vhosts(render_site(eff).replace("<VirtualHost *:80>", "<VirtualHost %s>" % addresses))
    instance.start()
    statuses = []
    stop = threading.Event()

    def loop():
        while not stop.is_set():
            status, _headers, got = instance.request("/x", host="drain.test")
            statuses.append((status, got.split(b"\n")[0]))
    worker = threading.Thread(target=loop)
    try:
        manager = "http://127.0.0.1:%d/revproxy-balancer-manager" % instance.port
        got = instance.request("/revproxy-balancer-manager", host="drain.test")
        assert got[0] == 200, (got, instance.error_log_since()[-2000:])
        if outside:
            # Same vhost from another address: the pool answers, the manager does not.
            conn = http.client.HTTPConnection(outside, outside_port, timeout=10)
            conn.request("GET", "/revproxy-balancer-manager", headers={"Host": "drain.test"})
            assert conn.getresponse().status == 403
            conn.close()
            conn = http.client.HTTPConnection(outside, outside_port, timeout=10)
            conn.request("GET", "/x", headers={"Host": "drain.test"})
            assert conn.getresponse().status == 200
            conn.close()
        worker.start()
        assert _wait_for(lambda: one.requests and two.requests)  # the loop reaches both members before the drain
        args = {"revproxy_hosts": "localhost", "revproxy_site_host": "drain.test", "revproxy_pool": "root",
                "revproxy_member": "https://localhost:%d/" % two.port, "revproxy_manager_url": manager,
                "revproxy_timeout": 30}
        res = run_playbook(DRAIN_PLAY, dict(args, revproxy_member_state="disabled"))
        assert res.rc == 0, res.stdout[-3000:]
        assert "enabled -> disabled" in res.stdout
        served_before, loop_before = len(two.requests), len(statuses)
        # Out of rotation: none of the loop's next 8 requests (byrequests would send every second one to it) reaches
        # the drained member. Counted requests, not a pause: the wait ends when they are answered (bound: 30 s).
        assert _wait_for(lambda: len(statuses) >= loop_before + 8, timeout=30), (len(statuses), loop_before)
        assert len(two.requests) == served_before
        res = run_playbook(DRAIN_PLAY, dict(args, revproxy_member_state="disabled"))
        assert res.rc == 0 and "changed=0" in res.stdout  # idempotent
        res = run_playbook(DRAIN_PLAY, dict(args, revproxy_member_state="enabled"))
        assert res.rc == 0 and "disabled -> enabled" in res.stdout, res.stdout[-3000:]
        assert _wait_for(lambda: len(two.requests) > served_before)
    finally:
        stop.set()
        if worker.is_alive():
            worker.join(15)
        instance.stop()
        instance.cleanup()
        shutil.rmtree(workdir, ignore_errors=True)
        one.stop()
        two.stop()
    assert statuses and all(status == 200 for status, _body in statuses), [s for s in statuses if s[0] != 200][:5]
    assert {b"one", b"two"} <= set(body for _status, body in statuses)


# -- The role on the system Apache ------------------------------------------------------------------------------


def test_role_applies_pools_and_per_location_tls(system_apache, farm):  # pylint: disable=unused-argument
    """The apache_proxy role end to end: modules enabled, per-location TLS and a pool with one broken member live
    with min_ok 2 (warning naming the member); without min_ok the same change is refused and nothing changes."""
    from conftest import CONFIG_ROOT, PROXY_PORT, apply_role, get  # pylint: disable=import-outside-toplevel
    site = _site(farm, min_ok=2)
    site.update(server_name="front.test", listen={"port": PROXY_PORT, "address": "127.0.0.1"})
    res = apply_role([site])
    assert res.rc == 0, res
    assert "goes live with 2 of 3 members (min_ok 2)" in res.output, res
    assert ":%d/ (" % farm["servers"]["C3"].port in res.output
    for path, body in (("/a/", "A"), ("/b/", "B")):
        status, got = get(path)
        assert (status, got.split("\n")[0]) == (200, body), got
    # A request that meets the broken member gets 500 (no failover; each Apache child may meet it once before the
    # member is in error state: see docs/pools.md); the good members serve the rest.
    answers = [get("/p/") for _attempt in range(10)]
    assert all(status in (200, 500) for status, _body in answers), answers
    assert {"C1", "C2"} <= set(body.split("\n")[0] for status, body in answers if status == 200), answers
    for mod in ("proxy_balancer", "slotmem_shm", "lbmethod_byrequests"):
        assert os.path.exists(os.path.join(CONFIG_ROOT, "mods-enabled", mod + ".load")), mod
    conf_path = os.path.join(CONFIG_ROOT, "sites-available", "pools.conf")
    with open(conf_path) as handle:
        before = handle.read()
    assert '<Proxy "balancer://p">' in before and '<Proxy "https://localhost:%d/">' % farm["servers"]["B"].port in before
    site["locations"][2].pop("min_ok")
    site["locations"][2]["lbmethod"] = "bytraffic"
    res = apply_role([site])
    assert res.rc != 0, res
    with open(conf_path) as handle:
        assert handle.read() == before
