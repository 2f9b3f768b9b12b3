"""Table-driven tests of nginx's rules (tls/_nginx.py) and of nginx's part of the failure catalogue
(nginx/_catalogue.py). Every rule is also held against a real nginx by tests/integration/test_nginx_oracle.py."""
import datetime
import re

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.revproxy.tls.plugins.module_utils.apache import _catalogue as apache_catalogue
from ansible_collections.revproxy.tls.plugins.module_utils.model._backend_tls import (
    BACKEND_TLS_DEFAULTS,
    ConfigError,
    parse_backend_url,
)
from ansible_collections.revproxy.tls.plugins.module_utils.nginx import _catalogue as nginx_catalogue
from ansible_collections.revproxy.tls.plugins.module_utils.tls import _catalogue, _checks, _nginx
from ansible_collections.revproxy.tls.plugins.module_utils.tls._nginx import NGINX_TLS

# -- X509_check_host ----------------------------------------------------------------------------------------------

HOST_CASES = [
    # (name checked, dNSName SANs, CNs, matches)
    ("backend.test", ["backend.test"], [], True),
    ("BACKEND.test", ["backend.TEST"], [], True),
    ("backend.test", ["*.test"], [], False),  # one label after the star: no wildcard (the row)
    ("*.test", ["*.test"], [], True),  # ... then compared literally
    ("a.wild.test", ["*.wild.test"], [], True),
    ("a.b.wild.test", ["*.wild.test"], [], False),  # the star covers one label
    ("wild.test", ["*.wild.test"], [], False),  # and at least one character
    ("foo1.wild.test", ["foo*.wild.test"], [], True),  # partial wildcards: flags 0 allows them
    ("bar.wild.test", ["foo*.wild.test"], [], False),
    ("xn--bcher-kva.wild.test", ["xn*.wild.test"], [], False),  # never an A-label under a partial wildcard
    ("xn--bcher-kva.wild.test", ["*.wild.test"], [], True),
    ("a.wild.test", ["a.*.test"], [], False),  # a star only in the left-most label
    ("a.wild.test", ["f*o*.wild.test"], [], False),  # one star
    ("localhost", [], ["localhost"], True),  # the CN without dNSName SANs
    ("localhost", ["other.test"], ["localhost"], False),  # ... never with one
    ("127.0.0.1", ["ip.test"], [], False),  # an IP is a string: iPAddress SANs are not looked at
    ("127.0.0.1", ["127.0.0.1"], [], True),  # ... and matches only a dNSName spelling it
    ("localhost", ["localhost\x00.evil.test"], [], False),
    ("", ["backend.test"], [], False),
    ("backend.test\x00", ["backend.test"], [], False),
]


@pytest.mark.parametrize("name, dns, cns, expected", HOST_CASES)
def test_check_host(name, dns, cns, expected):
    assert _nginx.check_host(name, dns, cns) is expected


# -- names, Host, protocols -------------------------------------------------------------------------------------------

URL = parse_backend_url("https://backend.test:8443/app/", "url")
IP_URL = parse_backend_url("https://127.0.0.1:8443/", "url")


@pytest.mark.parametrize("url, item, expected", [
    (URL, {}, ("backend.test", "backend.test")),
    (URL, {"ssl_server_name": False}, (None, "backend.test")),  # SNI off, the name still checked
    (URL, {"ssl_name": "pool"}, ("pool", "pool")),  # an upstream group's name
    (URL, {"ssl_name": "other.test", "ssl_server_name": True}, ("other.test", "other.test")),
    (IP_URL, {}, (None, "127.0.0.1")),  # never SNI for an address
    (URL, {"ssl_name": "10.0.0.1"}, (None, "10.0.0.1")),
])
def test_backend_names(url, item, expected):
    assert _nginx.backend_names(url, item) == expected
    assert NGINX_TLS.backend_names(url, True, "public.test", item) == expected  # preserve_host changes no name


def test_preserve_host_needs_the_host_it_sends():
    with pytest.raises(ConfigError, match="^host: required when preserve_host is true"):
        NGINX_TLS.backend_names(URL, True, None, {})


@pytest.mark.parametrize("hostile", ["a b", "a;b", "a{b", "a}b", "$host", "a#b", "a\nb", "a\rb", "a\x00b", "a\"b",
                                     "x" * 300, "", "é.test", "a..b"])
def test_ssl_name_is_one_host_name_or_refused(hostile):
    with pytest.raises(ConfigError, match="^ssl_name: "):
        _nginx.backend_names(URL, {"ssl_name": hostile})


@pytest.mark.parametrize("host, port, preserve, client, expected", [
    ("backend.test", None, False, None, "backend.test"),
    ("backend.test", 443, False, None, "backend.test"),  # $proxy_host drops the default port
    ("backend.test", 8443, False, None, "backend.test:8443"),
    ("::1", 8443, False, None, "[::1]:8443"),
    ("backend.test", 8443, True, "public.test", "public.test"),
])
def test_host_header(host, port, preserve, client, expected):
    assert NGINX_TLS.host_header(host, port, preserve, client) == expected


@pytest.mark.parametrize("protocols, expected", [
    (None, ("TLSv1", "TLSv1.2")),  # nginx 1.22's default: a TLS 1.3-only backend fails
    (list(_nginx.DEFAULT_PROTOCOLS), ("TLSv1", "TLSv1.2")),
    (["TLSv1.2", "TLSv1.3"], ("TLSv1.2", "TLSv1.3")),
    (["TLSv1.3"], ("TLSv1.3", "TLSv1.3")),
])
def test_protocol_range(protocols, expected):
    assert NGINX_TLS.protocol_range(protocols) == expected


def test_ciphers_are_handed_over_as_written():
    assert NGINX_TLS.cipher_list(None) == b"DEFAULT"
    assert NGINX_TLS.cipher_list("HIGH:!aNULL") == b"HIGH:!aNULL"


# -- verification --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("verify, errnum, depth, ok, expected", [
    ("none", 20, 1, False, (True, None)),  # proxy_ssl_verify off: nothing recorded
    ("require", 0, 0, True, (True, None)),
    ("require", 20, 1, False, (True, {"kind": "verify_error", "errnum": 20, "errdepth": 1})),  # never ends it
    ("require", 10, 0, False, (True, {"kind": "verify_error", "errnum": 10, "errdepth": 0})),
    ("require", 10, 0, True, (True, None)),  # an earlier error kept with ok=1 is not a new one
])
def test_verify_decision(verify, errnum, depth, ok, expected):
    assert NGINX_TLS.verify_decision(verify, 4, errnum, depth, ok) == expected


def test_depth_and_order_are_openssls():
    assert NGINX_TLS.verify_depth_limit(1) == 1 and NGINX_TLS.verify_after_handshake is True
    assert NGINX_TLS.sends_file_chain is True
    assert NGINX_TLS.choose_client_cert([b"any"], [{"issuer": b"x"}]) == (0, "sent")  # no choice by CA list
    assert NGINX_TLS.choose_client_cert([b"any"], []) == (None, "none")


def _tls(**kw):
    tls = dict(BACKEND_TLS_DEFAULTS, ca_file="/ca.pem")
    tls.update(kw)
    return tls


@pytest.mark.parametrize("settings, field", [
    (dict(verify="optional"), "verify"),
    (dict(verify="optional_no_ca"), "verify"),
    (dict(check_peer_name=False), "check_peer_name"),
    (dict(check_peer_expire=False), "check_peer_expire"),
    (dict(ca_path="/etc/ssl/certs"), "ca_path"),
    (dict(crl_path="/crls"), "crl_path"),
    (dict(crl_file="/crl.pem", crl_check="leaf"), "crl_check"),
    (dict(client_chain_file="/chain.pem"), "client_chain_file"),
    (dict(client_cert_file="/c.pem"), "client_key_file"),
])
def test_what_nginx_cannot_express_is_refused_naming_the_field(settings, field):
    with pytest.raises(ConfigError, match="^%s: .*nginx" % field):
        NGINX_TLS.check_settings(_tls(**settings))


@pytest.mark.parametrize("settings", [
    dict(), dict(verify="none", ca_file=None, check_peer_name=False, check_peer_expire=False),
    dict(crl_file="/crl.pem", crl_check="chain"), dict(client_cert_file="/c.pem", client_key_file="/c.pem"),
])
def test_what_nginx_expresses_passes(settings):
    NGINX_TLS.check_settings(_tls(**settings))


def test_verification_without_a_trusted_certificate_is_nginx_t_refusing():
    with pytest.raises(_checks._Refused) as info:
        NGINX_TLS.check_settings(_tls(ca_file=None))
    assert info.value.reason == "no_ca_configured" and info.value.field == "ca_file"


def test_server_keys_reach_nginx_only():
    entry = {"url": "https://backend.test/", "ssl_name": "pool", "verify": "none"}
    [nginx] = _checks.build_checks_from_backends([entry], nginx_catalogue.SEMANTICS)
    assert (nginx["sni"], nginx["checked_name"]) == ("pool", "pool")
    [apache] = _checks.build_checks_from_backends([entry], apache_catalogue.SEMANTICS)
    assert apache["refused"].reason == "invalid_input"
    assert apache["refused"].message == "backends[0].ssl_name: not a setting of mod_ssl (leave it unset)"


# -- classify ------------------------------------------------------------------------------------------------------

def _cert(dns=None, cn="leaf", issuer="Root CA", days=(-1, 30)):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
               .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
               .public_key(key.public_key()).serial_number(7)
               .not_valid_before(now + datetime.timedelta(days=days[0]))
               .not_valid_after(now + datetime.timedelta(days=days[1])))
    if dns:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(d) for d in dns]), False)
    return builder.sign(key, hashes.SHA256())


LEAF = _cert(dns=["backend.test"])


def _facts(hs=None, response=None, leaf=LEAF, served=None):
    handshake = {"ok": True}
    handshake.update(hs or {})
    facts = {"tls": True, "handshake": handshake, "leaf": leaf, "served_chain": served or [leaf]}
    if response is not None:
        facts["response"] = response
    return facts


CLASSIFY_CASES = [
    # (facts, tls settings, name checked, reason, variant)
    (_facts(response={"status": 200}), {}, "backend.test", "ok", "default"),
    (_facts(response={"status": 200}), {}, "other.test", "name_mismatch", "default"),
    (_facts(response={"status": 200}), {"verify": "none"}, "other.test", "ok", "default"),  # nothing checked
    (_facts(hs={"verify_event": {"errnum": 10, "errdepth": 0, "cert": LEAF}}, response={"status": 200}),
     {"verify": "none"}, "backend.test", "ok", "default"),
    (_facts(hs={"verify_event": {"errnum": 10, "errdepth": 0, "cert": LEAF}}), {}, "backend.test", "expired",
     "verify"),
    (_facts(hs={"verify_event": {"errnum": 23, "errdepth": 0, "cert": LEAF}}), {}, "backend.test", "revoked",
     "default"),
    (_facts(hs={"verify_event": {"errnum": 3, "errdepth": 1, "cert": LEAF}}), {}, "backend.test", "crl_error",
     "default"),
    (_facts(hs={"verify_event": {"errnum": 21, "errdepth": 0, "cert": LEAF}}), {}, "backend.test",
     "incomplete_chain", "default"),
    (_facts(hs={"verify_event": {"errnum": 20, "errdepth": 0, "cert": LEAF}}), {}, "backend.test",
     "incomplete_chain", "default"),  # leaf only, its issuer nowhere
    (_facts(hs={"verify_event": {"errnum": 20, "errdepth": 1, "cert": LEAF}}, served=[LEAF, LEAF]), {},
     "backend.test", "untrusted_ca", "default"),
    (_facts(response={"status": 200}), {}, "127.0.0.1", "ip_literal_name", "default"),
    (_facts(hs={"ok": False, "alert": 70, "ssl_error": "tlsv1 alert protocol version"}), {}, "backend.test",
     "tls_protocol_mismatch", "default"),
    (_facts(hs={"ok": False, "alert": 40, "ssl_error": "sslv3 alert handshake failure"}), {}, "backend.test",
     "tls_cipher_mismatch", "default"),
    (_facts(hs={"ok": False, "alert": 40, "cert_requested": True, "ssl_error": "x"}), {}, "backend.test",
     "client_cert_required", "tls12"),
    (_facts(hs={"ok": False, "alert": 48, "cert_requested": True, "client_cert_sent": "CN=c", "ssl_error": "x"}),
     {}, "backend.test", "client_cert_rejected", "tls12"),
    (_facts(hs={"cert_requested": True}, response={"status": None, "alert": 116, "ssl_error": "x"}), {},
     "backend.test", "client_cert_required", "default"),
    (_facts(hs={"ok": False, "timeout": True}), {}, "backend.test", "timeout", "default"),
    (_facts(hs={"ok": False, "eof": True}), {}, "backend.test", "connection_closed", "default"),
    (_facts(hs={"ok": False, "rx_head": b"HTTP/1.1 400 Bad"}), {}, "backend.test", "plain_http_backend", "default"),
    (_facts(hs={"ok": False, "rx_head": b"\x00garbage"}), {}, "backend.test", "not_tls", "default"),
    (_facts(response={"status": None, "timeout": True}), {}, "backend.test", "response_timeout", "default"),
    (_facts(response={"status": None, "eof": True}), {}, "backend.test", "no_http_response", "default"),
    (_facts(response={"status": None, "too_long": "status"}), {}, "backend.test", "response_head_too_long",
     "default"),
    (_facts(response={"status": 421}), {}, "backend.test", "misdirected_request", "default"),
    ({"tls": True, "connect_error": ("refused", "x")}, {}, "backend.test", "connect_refused", "default"),
    ({"tls": True, "connect_error": ("timeout", "x")}, {}, "backend.test", "connect_timeout", "default"),
    ({"tls": True, "dns_error": "no such host"}, {}, "backend.test", "dns_failure", "default"),
]


@pytest.mark.parametrize("facts, settings, name, reason, variant", CLASSIFY_CASES)
def test_classify(facts, settings, name, reason, variant):
    tls = _tls(**settings)
    got = NGINX_TLS.classify(facts, tls, checked_name=name)
    assert got[:2] == (reason, variant), got


@pytest.mark.parametrize("text, alert, expected", [
    ("tls alert handshake failure", 40, "error:0A000410:SSL routines::sslv3 alert handshake failure:SSL alert "
                                        "number 40"),  # OpenSSL 3.0's words, whatever pyOpenSSL's library says
    ("x", 116, "error:0A00045C:SSL routines::tlsv13 alert certificate required:SSL alert number 116"),
    ("wrong version number", None, "error:0A00010B:SSL routines::wrong version number"),
    ("something new", None, "something new"),
])
def test_openssl_error_as_nginx_prints_it(text, alert, expected):
    assert _nginx.openssl_error(text, alert) == expected


@pytest.mark.parametrize("alert, level", [(40, "error"), (48, "error"), (70, "error"), (116, "crit"),
                                          (None, "error"), (255, "crit")])
def test_ssl_level(alert, level):
    assert _nginx.ssl_level(alert) == level


# -- the catalogue ------------------------------------------------------------------------------------------------

def test_catalogue_has_every_reason_in_nginx_words():
    assert list(nginx_catalogue.CATALOGUE) == list(_catalogue.REASONS)
    for reason, entry in nginx_catalogue.CATALOGUE.items():
        text = " ".join(str(entry.get(k) or "") for k in ("fix", "insecure_workaround", "title", "message"))
        assert not any(word in text for word in ("SSLProxy", "ProxyPass", "AH0", "mod_ssl")), reason
        for lines in entry["logs"].values():
            for level, line in lines:
                assert level in ("error", "crit", "startup"), (reason, level)
                assert line.startswith("[") and "AH0" not in line, (reason, line)
        status = entry["http_status"]
        assert status in (None, 421, 502, 504), (reason, status)


def test_results_carry_nginx_lines_status_and_fix():
    fields = {"errnum": 20, "errstr": "unable to get local issuer certificate", "checked_name": "pool",
              "verify_depth": 1, "errdepth": 2, "needed_depth": 2, "address": "127.0.0.1:8443"}
    res = nginx_catalogue.entry_result("chain_too_long", fields)
    assert res["server_log"] == [{"level": "error", "line": "[error] upstream SSL certificate verify error: "
                                                            "(20:unable to get local issuer certificate) while SSL "
                                                            "handshaking to upstream"}]
    assert res["http_status"] == 502 and "proxy_ssl_verify_depth 2" in res["fix"]
    assert "apache_log" not in res
    res = nginx_catalogue.entry_result("name_mismatch", dict(fields, ids="localhost"))
    assert res["server_log"][0]["line"].startswith('[error] upstream SSL certificate does not match "pool"')
    assert nginx_catalogue.entry_result("response_timeout", fields)["http_status"] == 504


# -- backend_handshake's server option -----------------------------------------------------------------------------

def _params(**kw):
    params = dict(backends=None, sites=None, validated=None, names=None, backend_tls_defaults=None, tls_dir=None,
                  timeout=1.0, concurrency=4, fail_on="never", http_request=True, return_pem=False)
    params.update(kw)
    return params


@pytest.mark.parametrize("params, message", [
    (_params(server="nginx", validated="0" * 64), "validated: the nginx role hands on no validated set"),
    (_params(server="lighttpd", backends=[]), "server: must be one of apache, nginx, got 'lighttpd'"),
])
def test_module_server_refusals(params, message):
    from ansible_collections.revproxy.tls.plugins.modules import backend_handshake as mod
    with pytest.raises(ConfigError, match="^" + re.escape(message)):
        mod.run(params)


def test_module_server_picks_semantics_and_directory():
    from ansible_collections.revproxy.tls.plugins.modules import backend_handshake as mod
    assert mod.SERVERS["nginx"][0] is nginx_catalogue.SEMANTICS
    assert mod.SERVERS["apache"][0] is apache_catalogue.SEMANTICS
    assert mod.ARGUMENT_SPEC["server"] == {"type": "str", "choices": ["apache", "nginx"], "default": "apache"}
    # an entry nginx cannot express is that backend's invalid_input, the others still checked
    checks, results = mod.run(_params(server="nginx", backends=[
        {"url": "https://backend.test/", "verify": "optional", "ca_file": __file__},
        {"url": "http://127.0.0.1:9/", "verify": "none"}]))
    assert results[0]["reason"] == "invalid_input"
    assert results[0]["message"].startswith("invalid input, not checked: backends[0].verify: optional: nginx")
    assert results[1]["reason"] != "invalid_input"
