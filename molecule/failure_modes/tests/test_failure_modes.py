"""failure_modes: each broken backend is reported with its reason, fails in Apache, and the good site keeps serving."""
import os
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "resources"))
import testlib  # noqa: E402  pylint: disable=wrong-import-position

BAD = "https://bad.backend.test"

# (case, location backend, extra site keys, expected reason)
CASES = [
    ("untrusted_ca", BAD + ":8441/", {}, "untrusted_ca"),
    ("expired", BAD + ":8442/", {}, "expired"),
    ("wrong_name", BAD + ":8443/", {}, "name_mismatch"),
    ("preserve_host", BAD + ":8444/", {"preserve_host": True}, "preserve_host_name_mismatch"),
    ("no_client_cert", BAD + ":8445/", {}, "client_cert_required"),
    ("plain_http", "https://bad.backend.test:8080/", {}, "plain_http_backend"),
]


@pytest.fixture(scope="module")
def proxy():
    return testlib.host("fm-proxy")


@pytest.fixture(scope="module")
def role_vars(proxy):
    return proxy.ansible.get_variables()


def good_site_serves(proxy):
    status, body = testlib.http_get(proxy, "http://127.0.0.1/", host_header="good.example.test")
    return status == 200 and body.startswith("page-from-good")


def reload_apache(proxy):
    """The role's handler: systemctl reload (a graceful restart; give the new generation a moment)."""
    assert proxy.run("systemctl reload apache2").rc == 0
    time.sleep(1)


def bad_site(name, backend, extra):
    site = {
        "name": "bad-%s" % name.replace("_", "-"),
        "server_name": "bad.example.test",
        "listen": {"port": 80},
        "locations": [{"path": "/", "backend": backend, "retry": 0, "connectiontimeout": 5, "timeout": 10}],
    }
    site.update(extra)
    return site


def test_the_working_site_serves_before(proxy, role_vars):
    assert good_site_serves(proxy)
    result = testlib.handshake(proxy, sites=role_vars["apache_proxy_sites"],
                               backend_tls_defaults=role_vars["apache_proxy_backend_tls_defaults"])
    assert result["summary"] == {"ok": 1}, result


@pytest.mark.parametrize("case,backend,extra,reason", CASES, ids=[c[0] for c in CASES])
def test_broken_backend(proxy, role_vars, case, backend, extra, reason):
    good = role_vars["apache_proxy_sites"]
    defaults = role_vars["apache_proxy_backend_tls_defaults"]
    sites = good + [bad_site(case, backend, extra)]
    try:
        # What the role's one task does with these sites, then the reload its handler does.
        applied = testlib.apply_sites(proxy, sites, defaults)
        assert applied["changed"] is True, applied
        reload_apache(proxy)

        result = testlib.handshake(proxy, sites=sites, backend_tls_defaults=defaults)
        by_site = {b["site"]: b for b in result["backends"]}
        bad = by_site[sites[-1]["name"]]
        assert bad["ok"] is False, bad
        assert bad["reason"] == reason, bad
        assert by_site["good"]["ok"] is True, by_site["good"]

        # What Apache really does with that site: the error the checker predicted; the good site is untouched.
        status, body = testlib.http_get(proxy, "http://127.0.0.1/", host_header="bad.example.test")
        assert status == bad["http_status"], (status, body, bad)
        assert status in (500, 502), (status, body)
        assert good_site_serves(proxy)
    finally:
        testlib.apply_sites(proxy, good, defaults)
        reload_apache(proxy)
    assert good_site_serves(proxy)
