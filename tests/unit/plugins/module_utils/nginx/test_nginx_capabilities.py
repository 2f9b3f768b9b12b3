"""nginx/_capabilities.py: what nginx cannot express is refused naming nginx and the option; what it can is
normalised. Table-driven: one site, one change, the field and words the refusal must carry."""
import pytest

from ansible_collections.revproxy.tls.plugins.module_utils.model._grammar import ConfigError
from ansible_collections.revproxy.tls.plugins.module_utils.model._sites import (
    normalize_site,
    normalize_sites,
    site_backend_checks,
)
from ansible_collections.revproxy.tls.plugins.module_utils.nginx._capabilities import NGINX

TLS_DIR = "/etc/nginx/revproxy-tls"


def site(**over):
    base = {"name": "shop", "server_name": "shop.example.com",
            "locations": [{"path": "/", "backend": "https://b.internal:8443/"}],
            "backend_tls": {"ca_file": "/etc/ssl/ca.pem"}}
    base.update(over)
    return base


def pool(**over):
    loc = {"path": "/api/", "backends": [{"url": "https://p.internal:9001/"}, {"url": "https://p.internal:9002/"}]}
    loc.update(over)
    return loc


def norm(s):
    return normalize_site(s, tls_dir=TLS_DIR, server=NGINX)


REFUSALS = [
    ("lbmethod bytraffic", site(locations=[pool(lbmethod="bytraffic")]), "locations[0].lbmethod", "by traffic"),
    ("sticky", site(locations=[pool(sticky="JSESSIONID")]), "locations[0].sticky", "NGINX Plus"),
    ("route", site(locations=[pool(backends=[{"url": "https://p.internal:9001/", "route": "a"}])]),
     "locations[0].backends[0].route", "sticky"),
    ("health_check", site(locations=[pool(health_check={"uri": "/health"})]), "locations[0].health_check",
     "passive checks only"),
    ("members with two hosts", site(locations=[pool(backends=[{"url": "https://a.internal/"},
                                                              {"url": "https://b.internal/"}])]),
     "locations[0].backends", "proxy_ssl_name"),
    ("members with two paths", site(locations=[pool(backends=[{"url": "https://a.internal:1/x/"},
                                                              {"url": "https://a.internal:2/y/"}])]),
     "locations[0].backends[1].url", "path"),
    ("balancer_manager", site(balancer_manager=True, locations=[pool()]), "balancer_manager", "balancer manager"),
    ("extra_directives", site(extra_directives=["Header set X 1"]), "extra_directives", "no extra configuration"),
    ("location extra_directives", site(locations=[{"path": "/", "backend": "https://b.internal/",
                                                   "extra_directives": ["Header set X 1"]}]),
     "locations[0].extra_directives", "no extra configuration"),
    ("verify optional", site(backend_tls={"ca_file": "/ca.pem", "verify": "optional"}), "backend_tls.verify",
     "on or off"),
    ("optional_no_ca", site(allow_insecure_backend_tls=True, backend_tls={"verify": "optional_no_ca"}),
     "backend_tls.verify", "on or off"),
    ("check_peer_name false", site(allow_insecure_backend_tls=True,
                                   backend_tls={"ca_file": "/ca.pem", "check_peer_name": False}),
     "backend_tls.check_peer_name", "always checks the name"),
    ("check_peer_expire false", site(allow_insecure_backend_tls=True,
                                     backend_tls={"ca_file": "/ca.pem", "check_peer_expire": False}),
     "backend_tls.check_peer_expire", "validity dates"),
    ("ca_path", site(backend_tls={"ca_path": "/etc/ssl/certs"}), "backend_tls.ca_path", "one file"),
    ("crl_path", site(backend_tls={"ca_file": "/ca.pem", "crl_path": "/crl", "crl_check": "chain"}),
     "backend_tls.crl_path", "one file"),
    ("crl leaf", site(backend_tls={"ca_file": "/ca.pem", "crl_file": "/crl.pem", "crl_check": "leaf"}),
     "backend_tls.crl_check", "every certificate of the chain"),
    ("crl without check", site(backend_tls={"ca_file": "/ca.pem", "crl_file": "/crl.pem"}),
     "backend_tls.crl_file", "crl_check: chain"),
    ("client chain", site(backend_tls={"ca_file": "/ca.pem", "client_cert_file": "/c.pem",
                                       "client_chain_file": "/chain.pem"}),
     "backend_tls.client_chain_file", "same file"),
    ("location verify optional", site(locations=[{"path": "/", "backend": "https://b.internal/",
                                                  "backend_tls": {"verify": "optional"}}]),
     "locations[0].backend_tls.verify", "on or off"),
    ("frontend chain", site(tls={"certificate_file": "/c.pem", "key_file": "/k.pem", "chain_file": "/ch.pem"}),
     "tls.chain_file", "one file"),
    ("nocanon", site(allow_insecure_frontend_tls=True,
                     locations=[{"path": "/", "backend": "https://b.internal/", "nocanon": True}]),
     "locations[0].nocanon", "normalised URI"),
    ("connection option", site(locations=[{"path": "/", "backend": "https://b.internal/", "retry": 5}]),
     "locations[0].retry", "no per-location equivalent"),
    ("flushpackets auto", site(locations=[{"path": "/", "backend": "https://b.internal/", "flushpackets": "auto"}]),
     "locations[0].flushpackets", "on or off"),
    ("connect timeout", site(locations=[{"path": "/", "backend": "https://b.internal/", "connectiontimeout": 600}]),
     "locations[0].connectiontimeout", "75"),
    ("request header append", site(request_headers=[{"action": "append", "name": "X-A", "value": "1"}]),
     "request_headers[0].action", "proxy_set_header"),
    ("response header merge", site(response_headers=[{"action": "merge", "name": "X-A", "value": "1"}]),
     "response_headers[0].action", "add_header"),
    ("dollar in a header", site(response_headers=[{"name": "X-A", "value": "$cookie_session"}]),
     "response_headers[0].value", "variable"),
    ("dollar in a backend", site(locations=[{"path": "/", "backend": "https://b.internal/$host/"}]),
     "locations[0].backend", "variable"),
    ("dollar in a path", site(locations=[{"path": "/a$b", "backend": "https://b.internal/x"}]),
     "location path", "variable"),
    ("upstream name as a host", site(locations=[{"path": "/", "backend": "https://revproxy_shop_api/"}]),
     "locations[0].backend", "upstream"),
    ("IP literal", site(locations=[{"path": "/", "backend": "https://10.0.0.5/"}]), "locations[0].backend",
     "IP literal"),
    ("exclusions", site(proxy_exclusions=["/static/"]), "proxy_exclusions", "not rendered"),
    ("acme", site(tls={"acme": {}}), "tls.acme", "ACME client"),
]


@pytest.mark.parametrize("label,raw,field,words", REFUSALS, ids=[r[0] for r in REFUSALS])
def test_refusals_name_the_field(label, raw, field, words):
    with pytest.raises(ConfigError) as exc:
        norm(raw)
    msg = str(exc.value)
    assert field in msg and words in msg, msg


def test_refusals_of_what_nginx_cannot_express_name_nginx():
    for label, raw, field, words in REFUSALS:
        if label in ("exclusions", "members with two paths", "connect timeout"):
            continue
        try:
            norm(raw)
        except ConfigError as exc:
            assert "nginx" in str(exc), (label, str(exc))


ACCEPTED = [
    ("pool with backup and least_conn", site(locations=[pool(lbmethod="bybusyness", backends=[
        {"url": "https://p.internal:9001/"}, {"url": "https://p.internal:9002/", "standby": True},
        {"url": "https://p.internal:9003/", "enabled": False, "weight": 5}])])),
    ("verify none with the opt-in", site(allow_insecure_backend_tls=True, backend_tls={"verify": "none"})),
    ("crl chain", site(backend_tls={"ca_file": "/ca.pem", "crl_file": "/crl.pem", "crl_check": "chain"})),
    ("client cert and key as two files", site(backend_tls={"ca_file": "/ca.pem", "client_cert_file": "/c.pem",
                                                           "client_key_file": "/k.pem"})),
    ("timeouts", site(locations=[{"path": "/", "backend": "https://b.internal/", "timeout": 30,
                                  "connectiontimeout": 5, "keepalive": True, "flushpackets": "on"}])),
    ("plain http pool", site(locations=[{"path": "/", "backends": [{"url": "http://h.internal:1/"},
                                                                   {"url": "http://h.internal:2/"}]}])),
]


@pytest.mark.parametrize("label,raw", ACCEPTED, ids=[a[0] for a in ACCEPTED])
def test_accepted(label, raw):
    assert norm(raw)["name"] == "shop"


def test_tls_names_are_the_backends_own_host_even_with_preserve_host():
    eff = norm(site(preserve_host=True, locations=[pool()]))
    checks = site_backend_checks(eff, NGINX)
    assert {(c["sni"], c["checked_name"]) for c in checks} == {("p.internal", "p.internal")}


def test_plain_and_tls_sites_cannot_share_a_port():
    plain = {"name": "a", "server_name": "a.example.com", "listen": {"port": 8080},
             "locations": [{"path": "/", "backend": "http://b.internal/"}]}
    tls = {"name": "b", "server_name": "b.example.com", "listen": {"port": 8080}, "redirect_http": False,
           "tls": {"certificate_file": "/c.pem", "key_file": "/k.pem"},
           "locations": [{"path": "/", "backend": "http://b.internal/"}]}
    with pytest.raises(ConfigError) as exc:
        normalize_sites([plain, tls], tls_dir=TLS_DIR, server=NGINX)
    assert "'ssl' flag" in str(exc.value)


def test_duplicate_names_name_nginx():
    with pytest.raises(ConfigError) as exc:
        normalize_sites([site(), site(name="other")], tls_dir=TLS_DIR, server=NGINX)
    assert "conflicting server name" in str(exc.value)
