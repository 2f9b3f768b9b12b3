"""insecure_opt_in: insecure backend TLS is refused without the opt-in, rendered and announced with it."""
import copy
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "resources"))
import testlib  # noqa: E402  pylint: disable=wrong-import-position

SITES = "/etc/apache2/sites-available"

INSECURE = [
    ("verify_none", {"verify": "none"}, "SSLProxyVerify none"),
    ("verify_optional_no_ca", {"verify": "optional_no_ca"}, "SSLProxyVerify optional_no_ca"),
    ("no_peer_name_check", {"check_peer_name": False}, "SSLProxyCheckPeerName off"),
    ("no_peer_expire_check", {"check_peer_expire": False}, "SSLProxyCheckPeerExpire off"),
    ("tls_1_1", {"protocols": ["TLSv1.1", "TLSv1.2"]}, "SSLProxyProtocol -all +TLSv1.1 +TLSv1.2"),
]


@pytest.fixture(scope="module")
def proxy():
    return testlib.host("io-proxy")


@pytest.fixture(scope="module")
def role_vars(proxy):
    return proxy.ansible.get_variables()


def probe_site(backend_tls, allow):
    return {"name": "probe", "server_name": "probe.example.test", "listen": {"port": 80},
            "allow_insecure_backend_tls": allow, "backend_tls": backend_tls,
            "locations": [{"path": "/", "backend": "https://bad.backend.test:8441/"}]}


def run_module(proxy, sites, defaults):
    """apache_proxy_sites in check mode: nothing changes on the proxy. Returns the module's result (failed or not)."""
    try:
        return testlib.apply_sites(proxy, sites, defaults, check=True)
    except proxy.ansible.AnsibleException as exc:
        return exc.result


@pytest.mark.parametrize("case,setting,_directive", INSECURE, ids=[c[0] for c in INSECURE])
def test_refused_without_the_opt_in(proxy, role_vars, case, setting, _directive):
    sites = role_vars["apache_proxy_sites"] + [probe_site(setting, False)]
    result = run_module(proxy, sites, role_vars["apache_proxy_backend_tls_defaults"])
    msg = result.get("msg", "")
    assert "refused" in msg and "allow_insecure_backend_tls" in msg, (case, result)
    assert "probe" in msg, (case, result)


@pytest.mark.parametrize("case,setting,directive", INSECURE, ids=[c[0] for c in INSECURE])
def test_accepted_with_the_opt_in_and_a_warning(proxy, role_vars, case, setting, directive):
    sites = role_vars["apache_proxy_sites"] + [probe_site(setting, True)]
    result = run_module(proxy, sites, role_vars["apache_proxy_backend_tls_defaults"])
    assert not result.get("failed"), (case, result)
    probe = [s for s in result["sites"] if s["name"] == "probe"][0]
    assert probe["status"] == "would_apply"
    assert any("INSECURE" in w for w in probe["warnings"]), (case, probe)
    assert not proxy.file(SITES + "/probe.conf").exists  # check mode


@pytest.mark.parametrize("site,directive", [
    ("untrusted-ca", "SSLProxyVerify none"),
    ("expired", "SSLProxyCheckPeerExpire off"),
    ("wrong-name", "SSLProxyCheckPeerName off"),
])
def test_rendered_with_an_insecure_comment(proxy, site, directive):
    lines = [line.strip() for line in proxy.file("%s/%s.conf" % (SITES, site)).content_string.splitlines()]
    assert directive in lines
    assert "# WARNING: INSECURE backend TLS, accepted with allow_insecure_backend_tls: true:" in lines
    assert proxy.file("/etc/apache2/sites-enabled/%s.conf" % site).is_symlink


@pytest.fixture(scope="module")
def predicted(proxy, role_vars):
    result = testlib.handshake(proxy, sites=role_vars["apache_proxy_sites"],
                               backend_tls_defaults=role_vars["apache_proxy_backend_tls_defaults"])
    return {b["site"]: b for b in result["backends"]}


@pytest.mark.parametrize("site,status,reason", [
    ("untrusted-ca", 200, "ok"),
    ("expired", 200, "ok"),
    ("wrong-name", 200, "ok"),
])
def test_the_insecure_sites_serve_as_predicted(proxy, predicted, site, status, reason):
    got, body = testlib.http_get(proxy, "http://127.0.0.1/", host_header="%s.example.test" % site)
    assert got == status, (site, body)
    assert predicted[site]["reason"] == reason, predicted[site]
    assert predicted[site]["http_status"] == got, predicted[site]
    if status == 200:
        assert body.startswith("backend ok")


def test_strict_settings_would_fail_these_backends(proxy, role_vars):
    """The premise: without the insecure settings, the checker refuses each of these backends."""
    strict = copy.deepcopy(role_vars["apache_proxy_sites"])
    for site in strict:
        site.pop("backend_tls", None)
        site["allow_insecure_backend_tls"] = False
    result = testlib.handshake(proxy, sites=strict, backend_tls_defaults=role_vars["apache_proxy_backend_tls_defaults"])
    reasons = {b["site"]: b["reason"] for b in result["backends"]}
    assert reasons == {"untrusted-ca": "untrusted_ca", "expired": "expired", "wrong-name": "name_mismatch"}, result


def test_check_peer_expire_off_alone_does_not_rescue_an_expired_certificate(proxy, role_vars):
    """SSLProxyCheckPeerExpire is mod_ssl's own later check; verify: require already fails in OpenSSL's verification."""
    site = probe_site({"check_peer_expire": False}, True)
    site["locations"][0]["backend"] = "https://bad.backend.test:8442/"
    result = testlib.handshake(proxy, sites=[site], backend_tls_defaults=role_vars["apache_proxy_backend_tls_defaults"])
    backend = result["backends"][0]
    assert (backend["ok"], backend["reason"], backend["http_status"]) == (False, "expired", 500), backend
