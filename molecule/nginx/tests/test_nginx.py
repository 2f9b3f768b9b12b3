"""nginx: the nginx_proxy role with one site in front of a strict HTTPS backend on another host (container)."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "resources"))
import testlib  # noqa: E402  pylint: disable=wrong-import-position

ROOT_CA = "/etc/revproxy-test/root.pem"
SITE = "/etc/nginx/conf.d/shop.conf"


@pytest.fixture(scope="module")
def proxy():
    return testlib.host("nginx-proxy")


@pytest.fixture(scope="module")
def role_vars(proxy):
    return proxy.ansible.get_variables()


def test_nginx_runs_as_a_systemd_unit(proxy):
    assert proxy.run("ps -p 1 -o comm=").stdout.strip() == "systemd"
    assert proxy.service("nginx").is_running
    assert proxy.service("nginx").is_enabled
    assert proxy.socket("tcp://0.0.0.0:8080").is_listening
    assert proxy.run("nginx -t").rc == 0


def test_rendered_backend_tls_directives(proxy):
    text = proxy.file(SITE).content_string
    lines = [line.strip() for line in text.splitlines()]
    for directive in ("proxy_ssl_verify on;", "proxy_ssl_server_name on;"):
        assert directive in lines, (directive, text)
    assert any(line.startswith("proxy_ssl_trusted_certificate ") for line in lines), text
    names = [line for line in lines if line.startswith("proxy_ssl_name ")]
    assert names and all("sni.backend.test" in line for line in names), (names, text)
    assert not any("INSECURE" in line for line in lines)


def test_the_backend_requires_its_sni(proxy):
    """The premise: without its SNI the backend refuses the handshake, so a 200 through nginx proves nginx sent it."""
    ip = proxy.run("getent hosts sni.backend.test").stdout.split()[0]
    no_sni = proxy.run("openssl s_client -connect %s:8443 -noservername -CAfile %s </dev/null" % (ip, ROOT_CA))
    assert no_sni.rc != 0 and "unrecognized name" in no_sni.stdout + no_sni.stderr, no_sni.stdout + no_sni.stderr


def test_request_through_nginx_reaches_the_backend(proxy):
    status, body = testlib.http_get(proxy, "http://127.0.0.1:8080/", host_header="shop.example.test")
    assert status == 200, body
    assert body.startswith("page-from-sni-backend"), body
    assert "SNI=sni.backend.test" in body, body


def test_unknown_host_is_refused(proxy):
    status, _body = testlib.http_get(proxy, "http://127.0.0.1:8080/", host_header="other.example.test")
    assert status == 421


def test_backend_handshake_reports_the_backend_ok(proxy, role_vars):
    result = testlib.handshake(proxy, server="nginx", sites=role_vars["nginx_proxy_sites"],
                               backend_tls_defaults=role_vars["nginx_proxy_backend_tls_defaults"])
    backends = result["backends"]
    assert len(backends) == 1, result
    assert backends[0]["site"] == "shop", result
    assert backends[0]["ok"] is True, backends[0]
    assert backends[0]["reason"] == "ok", backends[0]
    assert result["summary"] == {"ok": 1}, result
