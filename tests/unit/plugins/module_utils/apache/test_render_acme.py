"""Rendering of ACME certificates for mod_md (apache/_render_acme.py) through render_site and the Listen file."""
import pytest

from ansible_collections.revproxy.tls.plugins.module_utils.apache._emit import tokenize, tokenize_section
from ansible_collections.revproxy.tls.plugins.module_utils.apache._render import needed_modules, render_listen_conf
from ansible_collections.revproxy.tls.plugins.module_utils.apache._render_acme import ca_path
from ansible_collections.revproxy.tls.plugins.module_utils.model import _acme
from support.apache_model import normalize_sites, render_site
from support.pemdata import CA

POLICY = {"allow_raw_directives": False, "served_roots": ["/srv"]}
HMAC = "aGVsbG8gd29ybGQgaGVsbG8"


def sites(acme=None, **over):
    site = {"name": "shop", "server_name": "shop.example.com", "server_aliases": ["www.example.com"],
            "tls": {"acme": acme or {}}, "locations": [{"path": "/", "backend": "http://app.internal:8080/"}]}
    site.update(over)
    return normalize_sites([site])


def settings(**over):
    base = {"agreement": True, "contact": "a@example.org"}
    base.update(over)
    return _acme.check_settings(base, POLICY, ca_path("/etc/apache2/revproxy-tls"))


def lines_of(text, name):
    return [tokenize(line) for line in text.splitlines() if line.strip().split(" ")[:1] == [name]]


def test_site_file_has_an_mdomain_and_no_certificate_files():
    text = render_site(sites({"contact": "ops@example.com", "key_type": "secp384r1", "renew_window": "20%",
                              "must_staple": True})[0])
    head = text.split("<VirtualHost", 1)[0]
    assert tokenize_section([l for l in head.splitlines() if l.startswith("<MDomain")][0]) == \
        ["<MDomain", "shop.example.com", "www.example.com"]
    assert lines_of(head, "MDPrivateKeys") == [["MDPrivateKeys", "secp384r1"]]
    assert lines_of(head, "MDRenewWindow") == [["MDRenewWindow", "20%"]]
    assert lines_of(head, "MDMustStaple") == [["MDMustStaple", "on"]]
    assert lines_of(head, "MDCAChallenges") == [["MDCAChallenges", "http-01", "tls-alpn-01"]]
    assert lines_of(head, "MDContactEmail") == [["MDContactEmail", "ops@example.com"]]
    assert lines_of(text, "SSLCertificateFile") == [] and lines_of(text, "SSLCertificateKeyFile") == []
    assert lines_of(text, "SSLEngine") == [["SSLEngine", "on"]]
    assert lines_of(text, "Protocols") == [["Protocols", "http/1.1", "acme-tls/1"]]


@pytest.mark.parametrize("acme, http2, expected", [
    ({"challenges": ["http-01"]}, False, []),
    ({"challenges": ["http-01"]}, True, [["Protocols", "h2", "http/1.1"]]),
    ({}, True, [["Protocols", "h2", "http/1.1", "acme-tls/1"]]),
    ({"challenges": ["tls-alpn-01"]}, False, [["Protocols", "http/1.1", "acme-tls/1"]]),
])
def test_protocols(acme, http2, expected):
    assert lines_of(render_site(sites(acme, http2=http2)[0]), "Protocols") == expected


@pytest.mark.parametrize("key_type, words", [
    ("rsa2048", ["RSA", "2048"]), ("rsa3072", ["RSA", "3072"]), ("rsa4096", ["RSA", "4096"]),
    ("secp256r1", ["secp256r1"]), ("secp384r1", ["secp384r1"]),
])
def test_key_types(key_type, words):
    assert lines_of(render_site(sites({"key_type": key_type})[0]), "MDPrivateKeys") == [["MDPrivateKeys"] + words]


def test_contact_with_every_allowed_special_character_is_one_argument():
    contact = "o!#%&*+/=?^_{|}~-ps@example.com"  # safe_text already refuses quotes, '$', backquote
    assert lines_of(render_site(sites({"contact": contact})[0]), "MDContactEmail") == [["MDContactEmail", contact]]


def test_modules():
    assert {"md", "authz_host", "ssl"} <= set(needed_modules(sites()))
    plain = normalize_sites([{"name": "p", "server_name": "p.example.com", "locations": [
        {"path": "/", "backend": "http://app.internal:8080/"}]}])
    assert "md" not in needed_modules(plain)


def test_global_lines_each_value_one_argument():
    url = "https://ca.example.com:14000/acme/dir;v=1"
    conf = render_listen_conf(sites(), set(), settings(directory_url=url, contact="a@example.org", ca_content=CA,
                                                       eab_kid="kid-1", eab_hmac=HMAC, http_port=5002,
                                                       https_port=5001, status_port=18409, renew_window="30d"))
    assert lines_of(conf, "MDCertificateAuthority") == [["MDCertificateAuthority", url]]
    assert lines_of(conf, "MDCACertificateFile") == [["MDCACertificateFile",
                                                      "/etc/apache2/revproxy-tls/_acme/ca.pem"]]
    assert lines_of(conf, "MDCertificateAgreement") == [["MDCertificateAgreement", "accepted"]]
    assert lines_of(conf, "MDContactEmail") == [["MDContactEmail", "a@example.org"]]
    assert lines_of(conf, "MDRenewWindow") == [["MDRenewWindow", "30d"]]
    assert lines_of(conf, "MDExternalAccountBinding") == [["MDExternalAccountBinding", "kid-1", HMAC]]
    assert lines_of(conf, "MDPortMap") == [["MDPortMap", "http:5002", "https:5001"]]
    assert ["Listen", "127.0.0.1:18409"] in lines_of(conf, "Listen")


def test_a_site_without_its_own_window_takes_the_operators():
    """MDRenewWindow at server level (the operator's, default 33%); inside <MDomain> only a site's own share."""
    assert lines_of(render_site(sites()[0]), "MDRenewWindow") == []
    assert lines_of(render_listen_conf(sites(), set(), settings()), "MDRenewWindow") == [["MDRenewWindow", "33%"]]


def test_status_handler_only_on_loopback():
    conf = render_listen_conf(sites(), set(), settings())
    block = conf.split("<VirtualHost 127.0.0.1:8409>", 1)[1].split("</VirtualHost>", 1)[0]
    assert lines_of(block, "SetHandler") == [["SetHandler", "md-status"]]
    # Loopback and not proxied: a site whose backend is this port reaches it from 127.0.0.1 too (review 25).
    assert lines_of(block, "Require") == [["Require", "ip", "127.0.0.1", "::1"],
                                          ["Require", "expr", "-z req('X-Forwarded-For') && -z req('Forwarded')"]] * 2
    # md-status is nowhere else: not in the site's vhosts
    assert "md-status" not in render_site(sites()[0])
    assert len([l for l in conf.splitlines() if "md-status" in l and not l.startswith("#")]) == 2


def test_no_acme_site_no_global_lines():
    plain = normalize_sites([{"name": "p", "server_name": "p.example.com", "locations": [
        {"path": "/", "backend": "http://app.internal:8080/"}]}])
    assert "MD" not in render_listen_conf(plain, set(), settings())


def test_site_with_files_unchanged():
    eff = normalize_sites([{"name": "f", "server_name": "f.example.com", "tls": {
        "certificate_file": "/srv/c.pem", "key_file": "/srv/k.pem"},
        "locations": [{"path": "/", "backend": "http://app.internal:8080/"}]}])[0]
    text = render_site(eff)
    assert "MDomain" not in text and "acme-tls/1" not in text
    assert lines_of(text, "SSLCertificateFile") == [["SSLCertificateFile", "/srv/c.pem"]]
