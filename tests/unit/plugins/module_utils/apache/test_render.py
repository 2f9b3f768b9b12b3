"""Rendering of each directive, from effective sites (table-driven)."""
import pytest

from ansible_collections.revproxy.tls.plugins.module_utils.apache._render import (
    MANAGED_MARKER,
    needed_modules,
    parse_listens,
    render_listen_conf,
    ssl_proxy_protocol,
)
from support.apache_model import render_site
from support.apache_model import normalize_site


def rendered(**over):
    site = {
        "name": "shop",
        "server_name": "shop.example.com",
        "locations": [{"path": "/", "backend": "https://backend.internal:8443/"}],
        "backend_tls": {"ca_file": "/etc/ssl/backend-ca.pem"},
    }
    site.update(over)
    return render_site(normalize_site(site), tls_dir="/srv/tls").splitlines()


DIRECTIVES = [
    ("managed header first", {}, MANAGED_MARKER, 0),
    ("vhost on all addresses", {}, "<VirtualHost *:80>", 2),
    ("vhost on one address", {"listen": {"port": 8080, "address": "127.0.0.1"}}, "<VirtualHost 127.0.0.1:8080>", 2),
    ("vhost on IPv6", {"listen": {"port": 8080, "address": "::1"}}, "<VirtualHost [::1]:8080>", 2),
    ("frontend tls defaults to 443", {"tls": {"certificate_file": "/c.pem", "key_file": "/k.pem"}},
     "<VirtualHost *:443>", 2),
]


@pytest.mark.parametrize("case,over,line,index", DIRECTIVES, ids=[d[0] for d in DIRECTIVES])
def test_line_at(case, over, line, index):
    assert rendered(**over)[index] == line


CONTAINS = [
    ("server name", {}, "    ServerName shop.example.com"),
    ("alias", {"server_aliases": ["www.example.com"]}, "    ServerAlias www.example.com"),
    ("log level", {}, "    LogLevel warn ssl:info"),
    ("proxy engine", {}, "    SSLProxyEngine on"),
    ("verify", {}, "    SSLProxyVerify require"),
    ("depth", {}, "    SSLProxyVerifyDepth 4"),
    ("ca file quoted", {}, '    SSLProxyCACertificateFile "/etc/ssl/backend-ca.pem"'),
    ("ca path", {"backend_tls": {"ca_path": "/etc/ssl/certs"}}, '    SSLProxyCACertificatePath "/etc/ssl/certs"'),
    ("crl", {"backend_tls": {"ca_file": "/ca.pem", "crl_file": "/crl.pem", "crl_check": "chain"}},
     '    SSLProxyCARevocationFile "/crl.pem"'),
    ("crl check", {"backend_tls": {"ca_file": "/ca.pem", "crl_file": "/crl.pem", "crl_check": "chain"}},
     "    SSLProxyCARevocationCheck chain"),
    ("peer name", {}, "    SSLProxyCheckPeerName on"),
    ("peer expire", {}, "    SSLProxyCheckPeerExpire on"),
    ("protocols", {}, "    SSLProxyProtocol -all +TLSv1.2 +TLSv1.3"),
    ("tls13 only", {"backend_tls": {"ca_file": "/ca.pem", "protocols": ["TLSv1.3"]}}, "    SSLProxyProtocol -all +TLSv1.3"),
    ("ciphers", {"backend_tls": {"ca_file": "/ca.pem", "ciphers": "ECDHE+AESGCM:!aNULL"}},
     "    SSLProxyCipherSuite ECDHE+AESGCM:!aNULL"),
    ("client cert file", {"backend_tls": {"ca_file": "/ca.pem", "client_cert_file": "/c.pem"}},
     '    SSLProxyMachineCertificateFile "/c.pem"'),
    ("combined client cert", {"backend_tls": {"ca_file": "/ca.pem", "client_cert_file": "/c.pem",
                                              "client_key_file": "/k.pem"}},
     '    SSLProxyMachineCertificateFile "/srv/tls/shop/proxy-client.pem"'),
    ("client chain", {"backend_tls": {"ca_file": "/ca.pem", "client_cert_file": "/c.pem",
                                      "client_chain_file": "/chain.pem"}},
     '    SSLProxyMachineCertificateChainFile "/chain.pem"'),
    ("preserve host off", {}, "    ProxyPreserveHost Off"),
    ("preserve host on", {"preserve_host": True}, "    ProxyPreserveHost On"),
    ("proxy pass", {}, '    ProxyPass "/" "https://backend.internal:8443/"'),
    ("proxy pass reverse", {}, '    ProxyPassReverse "/" "https://backend.internal:8443/"'),
    ("worker params", {"locations": [{"path": "/", "backend": "https://b.internal/", "timeout": 30,
                                      "connectiontimeout": 5, "keepalive": True, "flushpackets": "auto"}]},
     '    ProxyPass "/" "https://b.internal/" timeout=30 connectiontimeout=5 keepalive=On flushpackets=auto'),
    ("frontend cert", {"tls": {"certificate_file": "/c.pem", "key_file": "/k.pem", "chain_file": "/ch.pem"}},
     '    SSLCertificateChainFile "/ch.pem"'),
    ("insecure comment", {"allow_insecure_backend_tls": True, "backend_tls": {"verify": "none"}},
     "    # WARNING: INSECURE backend TLS, accepted with allow_insecure_backend_tls: true:"),
]


@pytest.mark.parametrize("case,over,line", CONTAINS, ids=[c[0] for c in CONTAINS])
def test_renders(case, over, line):
    assert line in rendered(**over)


def test_never_renders_peer_cn_and_no_proxy_tls_for_http_only():
    lines = rendered(locations=[{"path": "/", "backend": "http://app.internal:8080/"}], backend_tls=None)
    assert not any("SSLProxy" in line and not line.strip().startswith("#") for line in lines)
    assert not any("CheckPeerCN" in line for line in rendered())


def test_longest_path_first():
    lines = rendered(locations=[{"path": "/", "backend": "https://b.internal/"},
                                {"path": "/api/", "backend": "https://api.internal/v1/"}])
    passes = [line for line in lines if line.startswith("    ProxyPass ")]
    assert passes == ['    ProxyPass "/api/" "https://api.internal/v1/"', '    ProxyPass "/" "https://b.internal/"']


def test_no_frontend_ssl_without_tls():
    assert not any(line.strip().startswith("SSLEngine") for line in rendered())


@pytest.mark.parametrize("protocols,expected", [
    (["TLSv1.2", "TLSv1.3"], "-all +TLSv1.2 +TLSv1.3"),
    (["TLSv1.3", "TLSv1.2"], "-all +TLSv1.2 +TLSv1.3"),
    (["TLSv1.3"], "-all +TLSv1.3"),
])
def test_ssl_proxy_protocol(protocols, expected):
    assert ssl_proxy_protocol(protocols) == expected


def _eff(name, port, address=None, backend="https://b.internal/", tls=None):
    return normalize_site({"name": name, "server_name": name + ".example", "listen": {"port": port, "address": address},
                           "locations": [{"path": "/", "backend": backend}], "tls": tls,
                           "backend_tls": {"ca_file": "/ca.pem"}})


LISTENS = [
    ("port in ports.conf", [_eff("a", 80)], {(None, 80)}, []),
    ("new port", [_eff("a", 8080)], {(None, 80)}, ["Listen 8080"]),
    ("address", [_eff("a", 8080, "127.0.0.1")], set(), ["Listen 127.0.0.1:8080"]),
    ("any address wins", [_eff("a", 8080, "127.0.0.1"), _eff("b", 8080)], set(), ["Listen 8080"]),
    ("two addresses", [_eff("a", 8080, "127.0.0.2"), _eff("b", 8080, "127.0.0.1")], set(),
     ["Listen 127.0.0.1:8080", "Listen 127.0.0.2:8080"]),
    ("address already there", [_eff("a", 8080, "127.0.0.1")], {("127.0.0.1", 8080)}, []),
]


@pytest.mark.parametrize("case,sites,existing,expected", LISTENS, ids=[c[0] for c in LISTENS])
def test_listen_conf(case, sites, existing, expected):
    lines = render_listen_conf(sites, existing).splitlines()
    assert [line for line in lines if line.startswith("Listen")] == expected


def test_parse_listens():
    text = "Listen 80\n<IfModule ssl_module>\n\tListen 443\n</IfModule>\nListen 127.0.0.1:8080\nListen [::1]:81 http\n#Listen 9\n"
    assert parse_listens(text) == {(None, 80), (None, 443), ("127.0.0.1", 8080), ("::1", 81)}


@pytest.mark.parametrize("sites,expected", [
    ([_eff("a", 80)], ["headers", "proxy", "proxy_http", "socache_shmcb", "ssl"]),
    ([_eff("a", 80, backend="http://b.internal/")], ["headers", "proxy", "proxy_http"]),
    ([_eff("a", 80, backend="wss://b.internal/")], ["headers", "proxy", "proxy_http", "proxy_wstunnel", "socache_shmcb", "ssl"]),
    ([_eff("a", 443, backend="http://b.internal/", tls={"certificate_file": "/c", "key_file": "/k"})],
     ["alias", "headers", "proxy", "proxy_http", "socache_shmcb", "ssl"]),
])
def test_needed_modules(sites, expected):
    assert needed_modules(sites) == expected


def test_plain_http_sites_still_load_ssl_for_the_default_log_level():
    """LogLevel 'warn ssl:info' needs mod_ssl loaded even when no site uses TLS (Apache refuses the line otherwise)."""
    from ansible_collections.revproxy.tls.plugins.module_utils.apache._render import needed_modules  # pylint: disable=import-outside-toplevel
    http_only = [{"uses_tls": False, "tls": None, "uses_ws": False}]
    assert "ssl" in needed_modules(http_only, "warn ssl:info")
    assert "ssl" not in needed_modules(http_only, "warn")
