"""nginx_proxy_sites and nginx_proxy_probe against a real nginx (the distribution's 1.22) on a private prefix and
configuration tree, with real TLS backends: the secure defaults proven live (an untrusted backend and a wrong-name
backend get 502, a trusted one 200, a TLS 1.3-only backend works, no TLS session is shared between locations whose
settings differ), a failing `nginx -t` leaves every file as it was, a rollback restores the tree byte for byte, a
reload under a request loop drops no request, and a second run changes nothing."""
import http.client
import threading

import pytest

from conftest import run_playbook
from support.apache import reserve_port
from support.backends import TLSBackend
from support.nginx import PrivateNginx
from support.pki import PKI

PLAY = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Plan and apply
      revproxy.tls.nginx_proxy_sites: "{{ sites_args }}"
      register: plan
    - name: Reload and probe
      revproxy.tls.nginx_proxy_probe: "{{ probe_args | combine({'probe': plan.probe}) }}"
      when: plan.changed and (probe | default(true))
    - name: Commit or roll back
      revproxy.tls.nginx_proxy_sites: "{{ sites_args | combine({'transaction': finish}) }}"
      when: finish is defined
    - name: Reload after a rollback
      revproxy.tls.nginx_proxy_probe: "{{ probe_args | combine({'probe': []}) }}"
      when: finish | default('') == 'rollback'
"""


def run(ng, sites, transaction="apply", finish=None, probe=True, check=False, diff=False):
    extra = {"sites_args": dict(ng.module_args, sites=sites, transaction=transaction), "probe_args": ng.probe_args,
             "probe": probe}
    if finish:
        extra["finish"] = finish
    return run_playbook(PLAY, extra, check=check, diff=diff)


def get(port, path, host="front.test", timeout=10):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Host": host})
        resp = conn.getresponse()
        return resp.status, resp.read().split(b"\n")[0]  # the backends add SNI= and Host= lines
    finally:
        conn.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A PKI, four backends on localhost (trusted, self-signed, wrong name, TLS 1.3 only), a private nginx and a
    reserved port for the site."""
    base = tmp_path_factory.mktemp("nginx-role")
    pki = PKI(str(base / "pki"))
    root = pki.ca("nginx test root")
    other = pki.ca("another root", stem="other-root")
    good = pki.leaf("good", dns=["localhost"], issuer=root)
    wrong = pki.leaf("wrong", dns=["other.test"], issuer=root)
    selfsigned = pki.self_signed("self", dns=["localhost"])
    client = pki.leaf("proxy-client", cn="proxy client", issuer=root, client=True)
    backends = {
        "good": TLSBackend(good.chain_path, good.key_path, body=b"good"),
        "selfsigned": TLSBackend(selfsigned.chain_path, selfsigned.key_path, body=b"self"),
        "wrong": TLSBackend(wrong.chain_path, wrong.key_path, body=b"wrong"),
        "tls13": TLSBackend(good.chain_path, good.key_path, body=b"tls13", min_version="TLSv1.3"),
        "mtls": TLSBackend(good.chain_path, good.key_path, body=b"mtls", client_ca_path=root.cert_path),
    }
    reservation = reserve_port("127.0.0.1")
    ng = PrivateNginx(str(base / "nginx"))
    ng.start()
    try:
        yield {"pki": pki, "root": root, "other": other, "client": client, "backends": backends, "port": reservation.port, "ng": ng}
    finally:
        ng.stop()
        reservation.release()
        for backend in backends.values():
            backend.stop()


def site(world, locations, **over):
    out = {"name": "front", "server_name": "front.test", "listen": {"address": "127.0.0.1", "port": world["port"]},
           "backend_tls": {"ca_file": world["root"].cert_path}, "locations": locations}
    out.update(over)
    return out


def loc(world, path, backend, **over):
    out = {"path": path, "backend": "https://localhost:%d/" % world["backends"][backend].port}
    out.update(over)
    return out


def test_secure_defaults_live(world):
    ng = world["ng"]
    client = {"client_cert_file": world["client"].cert_path, "client_key_file": world["client"].key_path}
    locations = [loc(world, "/good/", "good"), loc(world, "/self/", "selfsigned", probe_status=[502]),
                 loc(world, "/wrong/", "wrong", probe_status=[502]), loc(world, "/tls13/", "tls13"),
                 loc(world, "/mtls/", "mtls", backend_tls=client), loc(world, "/nocert/", "mtls", probe_status=[502])]
    result = run(ng, [site(world, locations)])
    assert result.rc == 0, result
    assert get(world["port"], "/good/") == (200, b"good")
    assert get(world["port"], "/tls13/") == (200, b"tls13")  # nginx 1.22's own default (TLSv1 - 1.2) would fail
    assert get(world["port"], "/self/")[0] == 502
    assert get(world["port"], "/wrong/")[0] == 502
    # A client certificate and its key as two files (proxy_ssl_certificate, proxy_ssl_certificate_key), per location;
    # a location without it fails after the TLS 1.3 handshake (nginx logs SSL_read() ... alert number 116).
    assert get(world["port"], "/mtls/") == (200, b"mtls")
    assert get(world["port"], "/nocert/")[0] == 502
    log = ng.log()
    assert "upstream SSL certificate verify error: (18:self-signed certificate)" in log \
        or "upstream SSL certificate verify error: (18:self signed certificate)" in log, log[-3000:]
    assert 'upstream SSL certificate does not match "localhost"' in log, log[-3000:]
    # SNI was the backend's own host, and so was the Host header.
    assert world["backends"]["good"].seen[-1] == ("localhost", "localhost:%d" % world["backends"]["good"].port)
    # A Host that is not the site's is refused, not answered by this (only) server block on the port.
    assert get(world["port"], "/good/", host="evil.test")[0] == 421

    again = run(ng, [site(world, locations)])
    assert again.rc == 0 and again.changed == 0, again


def test_no_session_is_shared_between_locations_with_other_settings(world):
    """Two locations to the same backend host:port: one trusts its CA, one trusts another CA. nginx's default would
    resume the session the first location verified and answer 200 on the second; the rendered config says no."""
    ng = world["ng"]
    locations = [loc(world, "/a/", "good"),
                 loc(world, "/b/", "good", probe_status=[502], backend_tls={"ca_file": world["other"].cert_path})]
    result = run(ng, [site(world, locations)])
    assert result.rc == 0, result
    for _attempt in range(3):
        assert get(world["port"], "/a/") == (200, b"good")
        assert get(world["port"], "/b/")[0] == 502


def test_failed_config_test_changes_nothing(world):
    ng = world["ng"]
    assert run(ng, [site(world, [loc(world, "/good/", "good")])]).rc == 0
    before = ng.tree()
    # Check mode with diff: the change is shown (nginx -t of the candidate included), nothing is written.
    preview = run(ng, [site(world, [loc(world, "/good/", "good")], server_aliases=["preview.test"])], check=True,
                  diff=True)
    assert preview.rc == 0 and preview.changed == 1, preview
    assert "+    server_name front.test preview.test;" in preview.stdout, preview
    assert ng.tree() == before
    bad = site(world, [{"path": "/x/", "backend": "https://no-such-host.invalid:8443/"}])
    result = run(ng, [bad])
    assert result.rc != 0
    assert "nginx -t" in result.output and "host not found" in result.output, result
    assert ng.tree() == before
    assert get(world["port"], "/good/") == (200, b"good")


def test_rollback_restores_the_tree_byte_for_byte(world):
    ng = world["ng"]
    assert run(ng, [site(world, [loc(world, "/good/", "good")])]).rc == 0
    before = ng.tree()
    changed = site(world, [loc(world, "/good/", "good"), loc(world, "/tls13/", "tls13")],
                   server_aliases=["alias.test"],
                   backend_tls={"ca_content": open(world["root"].cert_path).read()})
    other = dict(site(world, [loc(world, "/", "good")]), name="second", server_name="second.test")
    result = run(ng, [changed, other], transaction="begin", finish="rollback")
    assert result.rc == 0, result
    assert ng.tree() == before
    # A probe failure is what a rollback is for: nginx answers with the restored files after a reload.
    result = run(ng, [site(world, [loc(world, "/good/", "good")])], probe=True)
    assert result.rc == 0, result
    assert get(world["port"], "/good/") == (200, b"good")
    assert get(world["port"], "/tls13/")[0] == 404


def test_the_role_rolls_back_when_the_probe_fails(world):
    """With the preflight off, a backend nginx refuses reaches the probe: the role restores the previous files byte
    for byte, reloads nginx with them, and fails naming the site and nginx's log line."""
    ng = world["ng"]
    assert run(ng, [site(world, [loc(world, "/good/", "good")])]).rc == 0
    before = ng.tree()
    failing = site(world, [loc(world, "/good/", "good"), loc(world, "/self/", "selfsigned")])
    result = role(ng, [failing], nginx_proxy_preflight="off")
    assert result.rc != 0
    assert "probe failed for site(s) front" in result.output and "502" in result.output, result
    assert "The previous configuration was restored" in result.output, result
    assert "upstream SSL certificate verify error" in result.output, result
    assert ng.tree() == before
    assert get(world["port"], "/self/")[0] == 404
    assert get(world["port"], "/good/") == (200, b"good")


def test_reload_under_load_drops_no_request(world):
    ng = world["ng"]
    stop = threading.Event()
    results = []

    def loop():
        while not stop.is_set():
            try:
                results.append(get(world["port"], "/good/")[0])
            except OSError as exc:
                results.append(repr(exc))

    threads = [threading.Thread(target=loop) for _thread in range(4)]
    for thread in threads:
        thread.start()
    try:
        for n in range(3):
            aliases = ["a%d.test" % n]
            assert run(ng, [site(world, [loc(world, "/good/", "good")], server_aliases=aliases)]).rc == 0
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert len(results) > 50
    assert set(results) == {200}, [r for r in results if r != 200][:5]


ROLE_PLAY = """
- hosts: localhost
  gather_facts: false
  roles:
    - role: revproxy.tls.nginx_proxy
"""


def role(ng, sites, **extra):
    variables = {"nginx_proxy_sites": sites, "nginx_proxy_install": False, "nginx_proxy_manage_service": False,
                 "nginx_proxy_config_root": ng.etc, "nginx_proxy_prefix": ng.dir, "nginx_proxy_binary": ng.module_args[
                     "binary"], "nginx_proxy_pid_file": ng.pid_file, "nginx_proxy_error_log": ng.error_log}
    variables.update(extra)
    return run_playbook(ROLE_PLAY, variables)


def test_the_role_preflights_applies_and_converges(world):
    ng = world["ng"]
    sites = [site(world, [loc(world, "/good/", "good"), loc(world, "/tls13/", "tls13")], server_aliases=["r.test"])]
    result = role(ng, sites)
    assert result.rc == 0, result
    assert get(world["port"], "/tls13/", host="r.test") == (200, b"tls13")
    assert role(ng, sites).changed == 0
    before = ng.tree()
    # The preflight checks the backend as nginx will (server: nginx) and stops the run before any file changes.
    refused = role(ng, [site(world, [loc(world, "/good/", "good"), loc(world, "/self/", "selfsigned")])])
    assert refused.rc != 0
    assert "No live file was changed" in refused.output, refused
    assert ng.tree() == before
    assert get(world["port"], "/self/", host="r.test")[0] == 404
