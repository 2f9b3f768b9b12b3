"""default: the role with two sites in front of two strict HTTPS backends on other hosts (containers)."""
import json
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "resources"))
import testlib  # noqa: E402  pylint: disable=wrong-import-position

ROOT_CA = "/etc/revproxy-test/root.pem"
SITES = "/etc/apache2/sites-available"


@pytest.fixture(scope="module")
def proxy():
    return testlib.host("default-proxy")


@pytest.fixture(scope="module")
def role_vars(proxy):
    return proxy.ansible.get_variables()


def test_apache_runs_as_a_systemd_unit(proxy):
    assert proxy.run("ps -p 1 -o comm=").stdout.strip() == "systemd"
    assert proxy.service("apache2").is_running
    assert proxy.service("apache2").is_enabled
    main_pid = proxy.run("systemctl show -p MainPID --value apache2").stdout.strip()
    assert int(main_pid) > 0
    assert proxy.run("ps -p %s -o comm=" % main_pid).stdout.strip() == "apache2"
    assert proxy.socket("tcp://0.0.0.0:443").is_listening
    assert proxy.socket("tcp://0.0.0.0:80").is_listening


def test_config_test_passes(proxy):
    assert proxy.run("apache2ctl -t").rc == 0


@pytest.mark.parametrize("site", ["sni", "mtls"])
def test_sites_enabled(proxy, site):
    link = proxy.file("/etc/apache2/sites-enabled/%s.conf" % site)
    assert link.is_symlink
    assert link.linked_to == "%s/%s.conf" % (SITES, site)


def test_rendered_backend_tls_directives_are_the_documented_defaults(proxy):
    for site, backend in (("sni", "https://sni.backend.test:8443/"), ("mtls", "https://mtls.backend.test:8443/")):
        text = proxy.file("%s/%s.conf" % (SITES, site)).content_string
        lines = [line.strip() for line in text.splitlines()]
        assert lines[0] == "# Managed by revproxy.tls (apache_proxy role)"
        for directive in (
            "SSLProxyEngine on",
            "SSLProxyVerify require",
            "SSLProxyVerifyDepth 4",
            'SSLProxyCACertificateFile "%s"' % ROOT_CA,
            "SSLProxyCheckPeerName on",
            "SSLProxyCheckPeerExpire on",
            "SSLProxyProtocol -all +TLSv1.2 +TLSv1.3",
            "LogLevel warn ssl:info",
            "ProxyRequests Off",
            "ProxyPreserveHost Off",
            'ProxyPass "/" "%s" timeout=30 connectiontimeout=5 retry=0' % backend,
            'ProxyPassReverse "/" "%s"' % backend,
        ):
            assert directive in lines, (site, directive)
        assert not any("INSECURE" in line for line in lines)
    sni = [line.strip() for line in proxy.file(SITES + "/sni.conf").content_string.splitlines()]
    assert "<VirtualHost *:443>" in sni and "SSLEngine on" in sni
    assert not any(line.startswith("SSLProxyMachineCertificateFile") for line in sni)
    mtls = [line.strip() for line in proxy.file(SITES + "/mtls.conf").content_string.splitlines()]
    assert "<VirtualHost *:80>" in mtls
    assert 'SSLProxyMachineCertificateFile "/etc/apache2/revproxy-tls/mtls/proxy-client.pem"' in mtls


def test_key_files_are_0600(proxy):
    combined = proxy.file("/etc/apache2/revproxy-tls/mtls/proxy-client.pem")
    assert combined.mode == 0o600
    assert combined.user == "root"
    text = combined.content_string
    assert "BEGIN CERTIFICATE" in text and "PRIVATE KEY" in text
    for key in ("/etc/revproxy-test/frontend.key", "/etc/revproxy-test/proxy-client.key"):
        assert proxy.file(key).mode == 0o600


def test_the_backends_are_strict(proxy):
    """The premise: without its SNI, or without a client certificate, the backend refuses the handshake."""
    ip = proxy.run("getent hosts sni.backend.test").stdout.split()[0]
    no_sni = proxy.run("openssl s_client -connect %s:8443 -noservername -CAfile %s </dev/null" % (ip, ROOT_CA))
    # the backend's unrecognized_name alert (112), not just any failure (a missing openssl, a refused connection)
    assert no_sni.rc != 0 and "unrecognized name" in no_sni.stdout + no_sni.stderr, no_sni.stdout + no_sni.stderr
    with_sni = proxy.run("openssl s_client -connect %s:8443 -servername sni.backend.test -CAfile %s </dev/null"
                         % (ip, ROOT_CA))
    assert "Verify return code: 0 (ok)" in with_sni.stdout, with_sni.stdout + with_sni.stderr
    no_cert = proxy.run("curl -sS --max-time 20 -o /dev/null --cacert %s https://mtls.backend.test:8443/" % ROOT_CA)
    # handshake refused without a client certificate: TLS 1.3's certificate_required alert (or 1.2's failure)
    assert no_cert.rc in (35, 56) and ("certificate required" in no_cert.stderr
                                       or "handshake failure" in no_cert.stderr), (no_cert.rc, no_cert.stderr)


def test_requests_through_the_proxy_reach_each_backend(proxy):
    status, body = testlib.http_get(proxy, "https://sni.example.test/", resolve="sni.example.test:443:127.0.0.1",
                                    cacert=ROOT_CA)
    assert status == 200
    assert body.startswith("page-from-sni-backend")
    assert "SNI=sni.backend.test" in body
    status, body = testlib.http_get(proxy, "http://127.0.0.1/", host_header="mtls.example.test")
    assert status == 200
    assert body.startswith("page-from-mtls-backend")


def test_http_redirects_to_https_with_hsts(proxy):
    """2.0.0 defaults of a TLS site: a port-80 vhost redirects to https:// (path and query kept), HSTS is sent."""
    res = proxy.run("curl -sS --max-time 20 -o /dev/null -w '%{http_code} %{redirect_url}' "
                    "-H 'Host: sni.example.test' 'http://127.0.0.1/a/b?c=1'")
    assert res.stdout.strip() == "301 https://sni.example.test/a/b?c=1", res.stdout + res.stderr
    res = proxy.run("curl -sS --max-time 20 -D - -o /dev/null --resolve sni.example.test:443:127.0.0.1 --cacert %s "
                    "https://sni.example.test/" % ROOT_CA)
    assert "strict-transport-security: max-age=63072000" in res.stdout.lower(), res.stdout
    # The plain HTTP site on port 80 is still served by its own vhost, not redirected.
    status, body = testlib.http_get(proxy, "http://127.0.0.1/", host_header="mtls.example.test")
    assert status == 200 and body.startswith("page-from-mtls-backend")


def test_forwarded_headers_are_rendered(proxy):
    for site, proto, port in (("sni", "https", 443), ("mtls", "http", 80)):
        lines = [line.strip() for line in proxy.file("%s/%s.conf" % (SITES, site)).content_string.splitlines()]
        for directive in ("RequestHeader unset X-Forwarded-For", "RequestHeader set X-Forwarded-Proto %s" % proto,
                          "RequestHeader set X-Forwarded-Port %d" % port, "ProxyAddHeaders On"):
            assert directive in lines, (site, directive)


SPOOFED = {"X-Forwarded-Proto": "http", "X-Forwarded-Port": "1", "X-Forwarded-For": "6.6.6.6",
           "X-Forwarded-Host": "evil.example", "X-Forwarded-Server": "evil.example"}


def _echoed(body):
    """The backend's echo (tests/support/backends.py --echo-path): {lower-case header name: [values as received]}."""
    seen = {}
    for name, value in json.loads(body)["headers"]:
        seen.setdefault(name.lower(), []).append(value)
    return seen


@pytest.mark.parametrize("site", ["sni", "mtls"])
def test_backend_sees_the_real_forwarded_headers_not_spoofed_ones(proxy, site):
    """End to end: a client sends forged X-Forwarded-* values through the proxy; the backend container (its echo
    path) receives the scheme and port of the real request and mod_proxy's own X-Forwarded-For/-Host/-Server."""
    spoof = []
    for name, value in SPOOFED.items():
        spoof += ["-H", "%s: %s" % (name, value)]
    if site == "sni":
        name, proto, port = "sni.example.test", "https", "443"
        status, body = testlib.http_get(proxy, "https://sni.example.test/revproxy-echo?from=molecule",
                                        resolve="sni.example.test:443:127.0.0.1", cacert=ROOT_CA, extra=spoof)
    else:
        name, proto, port = "mtls.example.test", "http", "80"
        spoof[1] = "X-Forwarded-Proto: https"  # the plain HTTP site must not be talked into https either
        status, body = testlib.http_get(proxy, "http://127.0.0.1/revproxy-echo?from=molecule", host_header=name,
                                        extra=spoof)
    assert status == 200, body
    seen = _echoed(body)
    assert json.loads(body)["target"] == "/revproxy-echo?from=molecule"
    assert seen["x-forwarded-proto"] == [proto], seen
    assert seen["x-forwarded-port"] == [port], seen
    assert seen["x-forwarded-for"] == ["127.0.0.1"], seen
    assert seen["x-forwarded-host"] == [name], seen
    assert seen["x-forwarded-server"] == [name], seen
    # The backend itself got its own name (ProxyPreserveHost Off) and, over TLS to the backend, its SNI.
    assert seen["host"] == ["%s.backend.test:8443" % site], seen
    assert json.loads(body)["sni"] == "%s.backend.test" % site
    assert not any("6.6.6.6" in v or "evil.example" in v for values in seen.values() for v in values), seen


def test_backend_handshake_reports_both_backends_ok(proxy, role_vars):
    result = testlib.handshake(proxy, sites=role_vars["apache_proxy_sites"],
                               backend_tls_defaults=role_vars["apache_proxy_backend_tls_defaults"])
    backends = result["backends"]
    assert len(backends) == 2, result
    assert {b["site"] for b in backends} == {"sni", "mtls"}
    for backend in backends:
        assert backend["ok"] is True, backend
        assert backend["reason"] == "ok", backend
        assert backend["http_status"] == 200, backend
    assert result["summary"] == {"ok": 2}
