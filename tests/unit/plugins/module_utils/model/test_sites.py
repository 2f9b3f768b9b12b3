"""Validation rules of the site model: every accepted and refused input, with the exact message."""
import copy

import pytest

from ansible_collections.revproxy.tls.plugins.module_utils.model._backend_tls import BACKEND_TLS_DEFAULTS, ConfigError
from ansible_collections.revproxy.tls.plugins.module_utils.model._sites import (
    select_sites,
)
from support.apache_model import normalize_site, normalize_sites, site_backend_checks

from support.pemdata import CERT, KEY  # noqa: E402  real PEM: contents are parsed


def site(**over):
    base = {
        "name": "shop",
        "server_name": "shop.example.com",
        "locations": [{"path": "/", "backend": "https://backend.internal:8443/"}],
        "backend_tls": {"ca_file": "/etc/ssl/backend-ca.pem"},
    }
    for key, value in over.items():
        if value is None:
            base.pop(key, None)
        else:
            base[key] = value
    return base


def loc(**over):
    base = {"path": "/", "backend": "https://backend.internal:8443/"}
    base.update(over)
    return base


REFUSED = [
    ("name traversal", site(name="../etc/passwd"),
     "site #0: name: '../etc/passwd' must match ^[a-z0-9][a-z0-9_.-]*$ (it becomes a file name)"),
    ("name with slash", site(name="a/b"), "site #0: name: 'a/b' must match ^[a-z0-9][a-z0-9_.-]*$ (it becomes a file name)"),
    ("name upper case", site(name="Shop"), "site #0: name: 'Shop' must match ^[a-z0-9][a-z0-9_.-]*$ (it becomes a file name)"),
    ("name missing", site(name=None), "site #0: name: is required"),
    ("unknown site key", dict(site(), extra_directive="Foo"),
     "site 'shop': site: unknown key(s) extra_directive (allowed: acme_challenge_dir, allow_insecure_backend_tls, "
     "allow_insecure_frontend_tls, backend_tls, balancer_manager, error_pages, extra_directives, forwarded_headers, "
     "hsts, "
     "hsts_include_subdomains, hsts_max_age, "
     "hsts_preload, http2, listen, locations, name, ocsp_stapling, preserve_host, proxy_exclusions, redirect_http, redirect_http_port, "
     "redirect_status, replaces, request_headers, response_headers, server_aliases, server_name, tls, tls_profile, "
     "tls_session_tickets)"),
    ("newline in server_name", site(server_name="a.example\nProxyPass / http://evil/"),
     "site 'shop': server_name: must not contain newlines or control characters"),
    ("closing tag in server_name", site(server_name="</VirtualHost>"),
     "site 'shop': server_name: must not contain '<'"),
    ("quote in alias", site(server_aliases=['a" b']), "site 'shop': server_aliases[0]: must not contain '\"'"),
    ("bad host name", site(server_name="exa mple.com"), "site 'shop': server_name: 'exa mple.com' is not a valid host name"),
    ("javascript url", site(locations=[loc(backend="javascript:alert(1)")]),
     "site 'shop': locations[0].backend: URL scheme must be one of http, https, ws, wss, got 'javascript' in "
     "'javascript:alert(1)'"),
    ("garbage url", site(locations=[loc(backend="not a url")]),
     "site 'shop': locations[0].backend: URL must not contain whitespace: 'not a url'"),
    ("url without host", site(locations=[loc(backend="https:///x/")]),
     "site 'shop': locations[0].backend: URL 'https:///x/' has no host"),
    ("url with credentials", site(locations=[loc(backend="https://u:p@b.internal/")]),
     "site 'shop': locations[0].backend: URL 'https://u:p@b.internal/' must not contain user information"),
    ("url with query", site(locations=[loc(backend="https://b.internal/?a=1")]),
     "site 'shop': locations[0].backend: URL 'https://b.internal/?a=1' must not contain a query or fragment"),
    ("newline in url", site(locations=[loc(backend="https://b.internal/\nSSLProxyVerify none")]),
     "site 'shop': locations[0].backend: must not contain newlines or control characters"),
    ("closing tag in url", site(locations=[loc(backend="https://b.internal/</VirtualHost>/")]),
     "site 'shop': locations[0].backend: must not contain '<'"),
    ("bad port", site(locations=[loc(backend="https://b.internal:99999/")]),
     "site 'shop': locations[0].backend: 'https://b.internal:99999/' is not a valid URL (Port out of range 0-65535)"),
    ("relative location", site(locations=[loc(path="app/", backend="https://b.internal/app/")]),
     "site 'shop': locations[0].path: 'app/' must be an absolute URL path without spaces, quotes or '..'"),
    ("traversal location", site(locations=[loc(path="/a/../b/", backend="https://b.internal/b/")]),
     "site 'shop': locations[0].path: '/a/../b/' must be an absolute URL path without spaces, quotes or '..'"),
    ("slash mismatch", site(locations=[loc(path="/app/", backend="https://b.internal/app")]),
     "site 'shop': locations[0]: path '/app/' and backend 'https://b.internal/app' must both end with '/' or both "
     "not (mod_proxy maps the rest of the URL textually)"),
    ("duplicate path", site(locations=[loc(), loc()]), "site 'shop': locations[1].path: '/' is listed twice"),
    ("unknown worker param", site(locations=[loc(hostname="x")]),
     "site 'shop': locations[0]: unknown key(s) hostname (allowed: acquire, backend, backend_tls, backends, "
     "connectiontimeout, disablereuse, enablereuse, extra_directives, flushpackets, flushwait, health_check, "
     "iobuffersize, keepalive, lbmethod, max, min, min_ok, nocanon, path, ping, probe_status, receivebuffersize, request_headers, "
     "response_headers, responsefieldsize, retry, reverse_cookie_domain, reverse_cookie_path, smax, sticky, timeout, "
     "ttl, upgrade)"),
    ("negative timeout", site(locations=[loc(timeout=-1)]),
     "site 'shop': locations[0].timeout: must be an integer from 1 to 86400, got -1"),
    ("injected upgrade", site(locations=[loc(upgrade="websocket\nProxyPass")]),
     "site 'shop': locations[0].upgrade: must not contain newlines or control characters"),
    ("no locations", site(locations=[]), "site 'shop': locations: must be a non-empty list of at most 1000 locations"),
    ("relative ca_file", site(backend_tls={"ca_file": "certs/ca.pem"}),
     "site 'shop': backend_tls.ca_file: must be an absolute path, got 'certs/ca.pem'"),
    ("ca_file traversal", site(backend_tls={"ca_file": "/etc/../root/ca.pem"}),
     "site 'shop': backend_tls.ca_file: must not contain '..' path components"),
    ("ca_file newline", site(backend_tls={"ca_file": "/etc/ca.pem\nSSLProxyVerify none"}),
     "site 'shop': backend_tls.ca_file: must not contain newlines or control characters"),
    ("require without CA", site(backend_tls={}),
     "site 'shop': backend_tls.verify: 'require' needs a CA (ca_file, ca_content or ca_path): mod_ssl never uses the "
     "system trust store for backends, so every backend would fail with AH02039 (error 20)"),
    ("verify none refused", site(backend_tls={"verify": "none"}),
     "site 'shop': backend_tls: insecure setting(s) refused: verify: none (the backend's CA chain is not checked). "
     "Fix the backend instead (see docs/troubleshooting-ah00898.md), or set allow_insecure_backend_tls: true to "
     "accept the risk"),
    ("peer name off refused", site(backend_tls={"ca_file": "/ca.pem", "check_peer_name": False}),
     "site 'shop': backend_tls: insecure setting(s) refused: check_peer_name: false (any certificate name is "
     "accepted). Fix the backend instead (see docs/troubleshooting-ah00898.md), or set allow_insecure_backend_tls: "
     "true to accept the risk"),
    ("expire off refused", site(backend_tls={"ca_file": "/ca.pem", "check_peer_expire": False}),
     "site 'shop': backend_tls: insecure setting(s) refused: check_peer_expire: false (expired certificates are "
     "accepted). Fix the backend instead (see docs/troubleshooting-ah00898.md), or set allow_insecure_backend_tls: "
     "true to accept the risk"),
    ("old protocol refused", site(backend_tls={"ca_file": "/ca.pem", "protocols": ["TLSv1.1", "TLSv1.2"]}),
     "site 'shop': backend_tls: insecure setting(s) refused: protocols: TLSv1.1 (below TLS 1.2). Fix the backend "
     "instead (see docs/troubleshooting-ah00898.md), or set allow_insecure_backend_tls: true to accept the risk"),
    ("bad protocol", site(backend_tls={"ca_file": "/ca.pem", "protocols": ["SSLv3"]}),
     "site 'shop': backend_tls.protocols: 'SSLv3' is not one of TLSv1, TLSv1.1, TLSv1.2, TLSv1.3"),
    ("bad verify", site(backend_tls={"ca_file": "/ca.pem", "verify": "sometimes"}),
     "site 'shop': backend_tls.verify: must be one of none, optional, require, optional_no_ca, got 'sometimes'"),
    ("depth out of range", site(backend_tls={"ca_file": "/ca.pem", "verify_depth": -1}),
     "site 'shop': backend_tls.verify_depth: must be an integer from 0 to 100, got -1"),
    ("ciphers injection", site(backend_tls={"ca_file": "/ca.pem", "ciphers": "HIGH\nSSLProxyVerify none"}),
     "site 'shop': backend_tls.ciphers: must not contain newlines or control characters"),
    ("ciphers junk", site(backend_tls={"ca_file": "/ca.pem", "ciphers": "HIGH MEDIUM"}),
     "site 'shop': backend_tls.ciphers: 'HIGH MEDIUM' is not an OpenSSL cipher string (letters, digits and _ : + ! @ = . -)"),
    ("crl check without crl", site(backend_tls={"ca_file": "/ca.pem", "crl_check": "chain"}),
     "site 'shop': backend_tls.crl_check: 'chain' needs crl_file or crl_path: without CRLs mod_ssl fails every "
     "backend with 'unable to get certificate CRL'"),
    ("unknown tls key", site(backend_tls={"ca_file": "/ca.pem", "insecure": True}),
     "site 'shop': backend_tls: unknown key(s) insecure (allowed: ca_file, ca_path, check_peer_expire, "
     "check_peer_name, ciphers, client_cert_file, client_chain_file, client_key_file, crl_check, crl_file, crl_path, "
     "protocols, verify, verify_depth)"),
    ("ca_file and ca_content", site(backend_tls={"ca_file": "/ca.pem", "ca_content": CERT}),
     "site 'shop': backend_tls: ca_file and ca_content are mutually exclusive"),
    ("ca_content not pem", site(backend_tls={"ca_content": "hello"}),
     "site 'shop': backend_tls.ca_content: holds text outside PEM blocks (only CERTIFICATE blocks are accepted)"),
    ("key without cert", site(backend_tls={"ca_file": "/ca.pem", "client_key_content": KEY}),
     "site 'shop': backend_tls: client_cert_content and client_key_content go together"),
    ("encrypted key", site(backend_tls={"ca_file": "/ca.pem", "client_cert_content": CERT,
                                        "client_key_content": "-----BEGIN ENCRYPTED PRIVATE KEY-----\nx\n"}),
     "site 'shop': backend_tls.client_key_content: must be an unencrypted PEM private key (mod_ssl cannot use an "
     "encrypted key for SSLProxyMachineCertificateFile: AH02252 at startup)"),
    ("chain in client cert", site(backend_tls={"ca_file": "/ca.pem", "client_cert_content": CERT + CERT,
                                               "client_key_content": KEY}),
     "site 'shop': backend_tls.client_cert_content: must hold only the client certificate; put its intermediates in "
     "client_chain_content or client_chain_file (mod_ssl pairs every certificate in SSLProxyMachineCertificateFile with the key and fails "
     "to start: AH02326)"),
    ("key file without cert file", site(backend_tls={"ca_file": "/ca.pem", "client_key_file": "/k.pem"}),
     "site 'shop': backend_tls.client_key_file: needs client_cert_file"),
    ("ip literal backend", site(locations=[loc(backend="https://10.0.0.5:8443/")]),
     "site 'shop': locations[0].backend: 'https://10.0.0.5:8443/' uses the IP literal 10.0.0.5; mod_ssl sends no SNI "
     "for it and checks the certificate against the string '10.0.0.5', never against iPAddress SANs, so every "
     "request fails with AH02411. Use a DNS name that is in the certificate's subjectAltName (add it to DNS or "
     "/etc/hosts on the proxy)"),
    ("bad listen port", site(listen={"port": 70000}),
     "site 'shop': listen.port: must be a port number from 1 to 65535, got 70000"),
    ("listen address name", site(listen={"port": 8080, "address": "localhost"}),
     "site 'shop': listen.address: must be an IP address, got 'localhost'"),
    ("frontend tls relative", site(tls={"certificate_file": "c.pem", "key_file": "/k.pem"}),
     "site 'shop': tls.certificate_file: must be an absolute path, got 'c.pem'"),
    ("frontend tls missing key", site(tls={"certificate_file": "/c.pem"}),
     "site 'shop': tls.key_file: is required when tls is set"),
    ("bad probe status", site(locations=[loc(probe_status=[200, 999])]),
     "site 'shop': locations[0].probe_status: must be a list of HTTP status codes"),
]


@pytest.mark.parametrize("case,value,message", REFUSED, ids=[c[0] for c in REFUSED])
def test_refused(case, value, message):
    with pytest.raises(ConfigError) as exc:
        normalize_site(value)
    assert str(exc.value) == message


def test_defaults_are_the_collection_defaults():
    eff = normalize_site(site())
    expected = dict(BACKEND_TLS_DEFAULTS, ca_file="/etc/ssl/backend-ca.pem")
    assert eff["backend_tls"] == expected
    assert eff["listen"] == {"port": 80, "address": None}
    assert eff["preserve_host"] is False
    assert eff["uses_tls"] is True
    assert eff["warnings"] == []


def test_layering_role_defaults_then_site():
    eff = normalize_site(site(backend_tls={"verify_depth": 6}), defaults={"ca_file": "/ca.pem", "verify_depth": 3})
    assert eff["backend_tls"]["ca_file"] == "/ca.pem"
    assert eff["backend_tls"]["verify_depth"] == 6


def test_none_values_do_not_override_defaults():
    # AnsibleModule fills unset suboptions with None: they must not erase the layered defaults.
    eff = normalize_site(site(backend_tls={"ca_file": "/ca.pem", "verify": None, "protocols": None}))
    assert eff["backend_tls"]["verify"] == "require"
    assert eff["backend_tls"]["protocols"] == ["TLSv1.2", "TLSv1.3"]


def test_insecure_allowed_warns():
    eff = normalize_site(site(allow_insecure_backend_tls=True, backend_tls={"verify": "none", "check_peer_name": False}))
    assert eff["insecure"] == ["verify: none (the backend's CA chain is not checked)",
                               "check_peer_name: false (any certificate name is accepted)"]
    assert eff["warnings"] == ["INSECURE backend TLS allowed by allow_insecure_backend_tls: verify: none (the "
                               "backend's CA chain is not checked); check_peer_name: false (any certificate name is "
                               "accepted)"]


def test_ip_literal_allowed_with_peer_name_off_when_insecure_allowed():
    eff = normalize_site(site(allow_insecure_backend_tls=True, locations=[loc(backend="https://10.0.0.5/")],
                              backend_tls={"ca_file": "/ca.pem", "check_peer_name": False}))
    assert eff["locations"][0]["url"].host == "10.0.0.5"


def test_plain_http_backend_needs_no_ca():
    eff = normalize_site(site(locations=[loc(backend="http://app.internal:8080/")], backend_tls=None))
    assert eff["uses_tls"] is False
    assert eff["insecure"] == []


def test_preserve_host_warning_names_public_names():
    eff = normalize_site(site(preserve_host=True, server_aliases=["www.example.com"]))
    assert eff["warnings"] == [
        "preserve_host is true: Apache sends the client's Host (shop.example.com, www.example.com) as SNI to the TLS "
        "backend and checks the backend certificate against it, so that certificate must cover every public name"]


def test_contents_get_deployed_paths():
    eff = normalize_site(site(backend_tls={"ca_content": CERT, "client_cert_content": CERT, "client_key_content": KEY}),
                         tls_dir="/srv/tls")
    assert eff["backend_tls"]["ca_file"] == "/srv/tls/shop/backend-ca.pem"
    assert eff["backend_tls"]["client_cert_file"] == "/srv/tls/shop/proxy-client.pem"
    assert eff["contents"]["client_cert_file"] == CERT + KEY


def test_separate_key_file_is_combined():
    eff = normalize_site(site(backend_tls={"ca_file": "/ca.pem", "client_cert_file": "/c.pem",
                                           "client_key_file": "/k.pem"}))
    assert eff["combined_client_cert"] == ("/c.pem", "/k.pem")


def test_duplicate_site_names_refused():
    with pytest.raises(ConfigError) as exc:
        normalize_sites([site(), site()])
    assert str(exc.value) == "site 'shop': name: listed twice (sites #0 and #1)"


SELECT = [
    # names, selected (in input order, not in the order named)
    (None, ["a", "b", "c"]),
    ([], []),
    (["c", "a"], ["a", "c"]),
    (["b", "b"], ["b"]),
]


@pytest.mark.parametrize("names,selected", SELECT)
def test_select_sites_keeps_input_order(names, selected):
    sites = normalize_sites([site(name=n, server_name="%s.example.com" % n) for n in "abc"])
    assert [s["name"] for s in select_sites(sites, names)] == selected


def test_select_sites_refuses_unknown_names_named():
    sites = normalize_sites([site(name="a", server_name="a.example.com")])
    with pytest.raises(ConfigError) as exc:
        select_sites(sites, ["zz", "a", "b"])
    assert str(exc.value) == "names: no such site(s): b, zz"


def test_input_is_not_mutated():
    value = site(backend_tls={"ca_content": CERT})
    before = copy.deepcopy(value)
    normalize_site(value)
    assert value == before


CHECKS = [
    ("url host", {}, [(None, "backend.internal", "backend.internal")]),
    ("preserve host: one per public name", {"preserve_host": True, "server_aliases": ["www.example.com", "*.example.com"]},
     [("shop.example.com", "shop.example.com", "shop.example.com"),
      ("www.example.com", "www.example.com", "www.example.com")]),
]


@pytest.mark.parametrize("case,over,expected", CHECKS, ids=[c[0] for c in CHECKS])
def test_site_backend_checks(case, over, expected):
    eff = normalize_site(site(**over))
    checks = site_backend_checks(eff)
    assert [(c["host"], c["sni"], c["checked_name"]) for c in checks] == expected


@pytest.mark.parametrize("second,msg", [
    ({"server_name": "shop.example.com"}, "site 'two': server_name: 'shop.example.com' is already served by site 'shop' on *:80"),
    ({"server_name": "two.example", "server_aliases": ["SHOP.example.com."]},
     "site 'two': server_aliases[0]: 'SHOP.example.com.' is already served by site 'shop' on *:80"),
])
def test_same_name_on_same_address_is_refused(second, msg):
    first = site(locations=[loc(backend="http://b.internal/")], backend_tls=None)
    other = dict(site(locations=[loc(backend="http://b.internal/")], backend_tls=None), name="two", **second)
    with pytest.raises(ConfigError) as exc:
        normalize_sites([first, other])
    assert str(exc.value).startswith(msg)


def test_same_name_on_another_port_is_refused():
    """Round two: a name belongs to one site. On another port the other site still gets the name's cookies
    (browsers do not scope cookies by port) and its users' trust."""
    first = site(locations=[loc(backend="http://b.internal/")], backend_tls=None)
    other = dict(first, name="two", listen={"port": 8080})
    with pytest.raises(ConfigError) as exc:
        normalize_sites([first, other])
    assert "a name belongs to one site" in str(exc.value)
    assert len(normalize_sites([first, dict(other, server_name="two.example.com")])) == 2


@pytest.mark.parametrize("key", ["ca_content", "client_cert_content", "client_key_content", "client_chain_content"])
def test_content_keys_refused_in_defaults(key):
    with pytest.raises(ConfigError) as exc:
        normalize_sites([site()], defaults={key: KEY})
    assert str(exc.value).startswith("backend_tls_defaults.%s: is not accepted in the defaults" % key)
    assert KEY.splitlines()[1] not in str(exc.value)


@pytest.mark.parametrize("address,want", [("[::1]", "::1"), ("::1", "::1"), ("*", None), ("127.0.0.1", "127.0.0.1")])
def test_listen_address_forms(address, want):
    assert normalize_site(site(listen={"port": 8443, "address": address}))["listen"]["address"] == want


def test_weak_ciphers_need_the_opt_in_and_are_named():
    with pytest.raises(ConfigError) as exc:
        normalize_site(site(backend_tls={"ca_file": "/ca.pem", "ciphers": "HIGH:RC4-SHA"}))
    assert "ciphers: RC4-SHA" in str(exc.value) and "allow_insecure_backend_tls" in str(exc.value)
    eff = normalize_site(site(backend_tls={"ca_file": "/ca.pem", "ciphers": "HIGH:RC4-SHA"},
                              allow_insecure_backend_tls=True))
    assert any(item.startswith("ciphers: ") for item in eff["insecure"])
