"""Table-driven tests of mod_ssl's rules (_mod_ssl.py) and of the failure catalogue."""
import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.revproxy.tls.plugins.module_utils.apache import _catalogue as cat
from ansible_collections.revproxy.tls.plugins.module_utils.tls import _mod_ssl as m
from ansible_collections.revproxy.tls.plugins.module_utils.model._backend_tls import (
    BACKEND_TLS_DEFAULTS, parse_backend_url)
from ansible_collections.revproxy.tls.plugins.module_utils.tls._mod_ssl import tls_names

NOW = datetime.datetime(2026, 6, 1, tzinfo=datetime.timezone.utc)
KEY = ec.generate_private_key(ec.SECP256R1())


def cert(cns=(), dns=(), ips=(), nb=NOW - datetime.timedelta(days=1), na=NOW + datetime.timedelta(days=30),
         issuer_cn="CA"):
    import ipaddress
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn) for cn in cns])
    b = (x509.CertificateBuilder().subject_name(subject)
         .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_cn)]))
         .public_key(KEY.public_key()).serial_number(1).not_valid_before(nb).not_valid_after(na))
    if dns or ips:
        b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(d) for d in dns] +
                                                        [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]),
                            critical=False)
    return b.sign(KEY, hashes.SHA256())


@pytest.mark.parametrize("name, ids, expected", [
    ("backend.test", ["backend.test"], True),
    ("Backend.TEST", ["backend.test"], True),          # case-insensitive
    ("foo.example.org", ["*.example.org"], True),       # wildcard covers one label
    ("foo.bar.example.org", ["*.example.org"], False),  # ... exactly one
    ("example.org", ["*.example.org"], False),
    ("foo.example.org", ["f*.example.org"], False),     # partial-label wildcards are not wildcards
    ("foo.example.org", ["*example.org"], False),
    ("foo.example.org", ["foo.*.org"], False),
    ("127.0.0.1", ["127.0.0.1"], True),                 # a dNSName/CN spelled as the IP string matches
    ("127.0.0.1", [], False),
    ("a.test", ["b.test", "a.test"], True),
    ("", ["a.test"], False),
])
def test_match_name(name, ids, expected):
    assert m.match_name(name, ids) is expected


@pytest.mark.parametrize("kwargs, ids", [
    ({"cns": ["only.cn"]}, ["only.cn"]),                                    # CN-only certificate
    ({"cns": ["cn.test"], "dns": ["san.test"]}, ["san.test", "cn.test"]),   # CNs are added even with SANs
    ({"cns": ["a", "b"]}, ["a", "b"]),                                      # every CN
    ({"cns": ["x"], "dns": ["d.test"], "ips": ["127.0.0.1"]}, ["d.test", "x"]),  # never iPAddress SANs
])
def test_cert_ids(kwargs, ids):
    assert m.cert_ids(cert(**kwargs)) == ids


@pytest.mark.parametrize("errdepth, depth, exceeded", [
    (0, 0, False), (1, 0, True), (1, 1, False), (2, 1, True), (2, 2, False), (5, 4, True), (4, 4, False)])
def test_depth_rule(errdepth, depth, exceeded):
    assert m.depth_exceeded(errdepth, depth) is exceeded


@pytest.mark.parametrize("verify, depth, errnum, errdepth, pre_ok, ok, kind", [
    ("none", 1, 18, 0, False, True, None),              # SSLProxyVerify none: the callback returns TRUE
    ("none", 0, 0, 5, True, True, None),                # ... depth is not checked either
    ("require", 4, 0, 2, True, True, None),
    ("require", 1, 0, 2, True, False, "chain_too_long"),  # root of leaf->int->root at depth 2 > 1
    ("require", 4, 18, 0, False, False, "verify_error"),
    ("optional", 4, 20, 0, False, False, "verify_error"),
    ("optional_no_ca", 4, 18, 0, False, True, None),    # AH02037: accepted
    ("optional_no_ca", 4, 19, 1, False, True, None),
    ("optional_no_ca", 4, 20, 0, False, True, None),
    ("optional_no_ca", 4, 10, 0, False, False, "verify_error"),  # expiry is not an "optional" error
    ("optional_no_ca", 1, 19, 2, False, False, "chain_too_long"),
])
def test_verify_decision(verify, depth, errnum, errdepth, pre_ok, ok, kind):
    got_ok, event = m.verify_decision(verify, depth, errnum, errdepth, pre_ok)
    assert got_ok is ok
    assert (event or {}).get("kind") == kind


@pytest.mark.parametrize("nb, na, state", [
    (-1, 1, None), (1, 10, "not_yet_valid"), (-10, -1, "expired"), (0, 10, "not_yet_valid"), (-10, 0, "expired")])
def test_expiry(nb, na, state):
    d = datetime.timedelta(days=1)
    assert m.expiry_state(NOW + nb * d, NOW + na * d, NOW) == state


@pytest.mark.parametrize("url, preserve, host, sni, checked", [
    ("https://backend.test:8443/", False, "front.test", "backend.test", "backend.test"),
    ("https://backend.test:8443/", True, "front.test", "front.test", "front.test"),
    ("https://backend.test/", True, "Front.Test:443", "front.test", "front.test"),
    ("https://127.0.0.1:8443/", False, None, None, "127.0.0.1"),   # no SNI for IP literals, name still checked
    ("https://127.0.0.1:8443/", True, "front.test", "front.test", "front.test"),
    ("https://[::1]:8443/", False, None, None, "::1"),
])
def test_sni_rule(url, preserve, host, sni, checked):
    assert tls_names(parse_backend_url(url), preserve, host) == (sni, checked)


@pytest.mark.parametrize("args, expected", [
    (("b.test", 8443), "b.test:8443"), (("b.test", None), "b.test"), (("b.test", 443), "b.test:443"),
    (("b.test", 80), "b.test"), (("::1", 8443), "[::1]:8443"),
])
def test_host_header(args, expected):
    assert m.host_header(*args) == expected
    assert m.host_header("x", 1, True, "front.test:8080") == "front.test:8080"


def test_choose_client_cert():
    a, b, r = "CN=A", "CN=B", "CN=Root"
    certs = [{"issuer": a, "chain_issuers": [r]}, {"issuer": b, "chain_issuers": []}]
    assert m.choose_client_cert([], []) == (None, "AH02268")
    assert m.choose_client_cert(["CN=X"], []) == (None, "AH02268")
    assert m.choose_client_cert([], certs) == (0, "AH02270")          # no CA list: the first one
    assert m.choose_client_cert([b], certs) == (1, "AH02271")         # by issuer
    assert m.choose_client_cert([r], certs) == (0, "AH02272")         # through the chain file
    assert m.choose_client_cert(["CN=X"], certs) == (None, "AH02269")
    assert m.choose_client_cert(["CN=X", b, a], certs) == (1, "AH02271")  # CA list order decides


def test_build_chain_issuers():
    root = cert(cns=["Root"], issuer_cn="Root")
    inter = cert(cns=["Inter"], issuer_cn="Root")
    leaf = cert(cns=["leaf"], issuer_cn="Inter")
    assert [n.rfc4514_string() for n in m.build_chain_issuers(leaf, [root, inter])] == ["CN=Root", "CN=Root"]
    assert m.build_chain_issuers(leaf, []) == []


@pytest.mark.parametrize("protocols, rng", [
    (["TLSv1.2", "TLSv1.3"], ("TLSv1.2", "TLSv1.3")), (["TLSv1.3"], ("TLSv1.3", "TLSv1.3")),
    (["TLSv1.3", "TLSv1"], ("TLSv1", "TLSv1.3"))])
def test_protocol_range(protocols, rng):
    assert m.protocol_range(protocols) == rng


# --- reason mapping ---------------------------------------------------------------------------------------------

TLS = dict(BACKEND_TLS_DEFAULTS, ca_file="/ca.pem")
LEAF = cert(cns=["backend.test"], dns=["backend.test"])
SELF = cert(cns=["backend.test"], dns=["backend.test"], issuer_cn="backend.test")


def hs(**kw):
    d = {"ok": False, "alert": None, "rx_head": b"", "verify_event": None, "cert_requested": False}
    d.update(kw)
    return d


def ev(errnum, depth=0, kind="verify_error", c=LEAF):
    return {"kind": kind, "errnum": errnum, "errdepth": depth, "cert": c}


OK_HS = hs(ok=True)
MAPPING = [
    # (facts, tls overrides, kwargs, reason, variant)
    ({"dns_error": "(EAI 2)x"}, {}, {}, "dns_failure", "default"),
    ({"connect_error": ("refused", "x")}, {}, {}, "connect_refused", "default"),
    ({"connect_error": ("timeout", "x")}, {}, {}, "connect_timeout", "default"),
    ({"connect_error": ("other", "x")}, {}, {}, "connect_failed", "default"),
    ({"tls": True, "handshake": hs(verify_event=ev(22, 2, "chain_too_long"))}, {}, {}, "chain_too_long", "default"),
    ({"tls": True, "handshake": hs(verify_event=ev(10))}, {}, {}, "expired", "verify"),
    ({"tls": True, "handshake": hs(verify_event=ev(9))}, {}, {}, "not_yet_valid", "verify"),
    ({"tls": True, "handshake": hs(verify_event=ev(23))}, {}, {}, "revoked", "default"),
    ({"tls": True, "handshake": hs(verify_event=ev(3))}, {}, {}, "crl_error", "default"),
    ({"tls": True, "handshake": hs(verify_event=ev(18, c=SELF))}, {}, {}, "untrusted_ca", "default"),
    ({"tls": True, "handshake": hs(verify_event=ev(18, c=SELF))}, {"ca_file": None}, {}, "no_ca_configured",
     "default"),
    ({"tls": True, "handshake": hs(verify_event=ev(2, 1))}, {}, {}, "ca_file_missing_root", "default"),
    ({"tls": True, "handshake": hs(verify_event=ev(20)), "served_chain": [LEAF]}, {}, {}, "incomplete_chain",
     "default"),
    ({"tls": True, "handshake": hs(verify_event=ev(20)), "served_chain": [LEAF, SELF]}, {}, {}, "untrusted_ca",
     "default"),
    ({"tls": True, "handshake": hs(verify_event=ev(21))}, {}, {}, "incomplete_chain", "default"),
    ({"tls": True, "handshake": hs(verify_event=ev(26))}, {}, {}, "verify_failed", "default"),
    ({"tls": True, "handshake": hs(verify_event=ev(66))}, {}, {}, "weak_key", "default"),        # EE key too weak
    ({"tls": True, "handshake": hs(verify_event=ev(67, 1))}, {}, {}, "weak_key", "default"),     # CA key too weak
    ({"tls": True, "handshake": hs(verify_event=ev(68))}, {}, {}, "weak_signature", "default"),  # SHA-1/MD5
    ({"tls": True, "handshake": hs(verify_event=ev(66))}, {"ca_file": None}, {}, "weak_key", "default"),
    ({"tls": True, "handshake": hs(rx_head=b"\x16\x03\x03", ssl_error="excessive message size")}, {}, {},
     "certificate_too_large", "default"),
    ({"tls": True, "handshake": hs(timeout=True)}, {}, {}, "timeout", "default"),
    ({"tls": True, "handshake": hs(rx_head=b"HTTP/1.1 400 Bad Request", ssl_error="wrong version number")}, {}, {},
     "plain_http_backend", "default"),
    ({"tls": True, "handshake": hs(rx_head=b"G\x01\x02", ssl_error="wrong version number")}, {}, {}, "not_tls",
     "default"),
    ({"tls": True, "handshake": hs(eof=True)}, {}, {}, "connection_closed", "default"),
    ({"tls": True, "handshake": hs(rx_head=b"\x15\x03\x03", alert=70, ssl_error="tlsv1 alert protocol version")},
     {}, {}, "tls_protocol_mismatch", "default"),
    ({"tls": True, "handshake": hs(ssl_error="no protocols available")}, {}, {}, "tls_protocol_mismatch", "default"),
    ({"tls": True, "handshake": hs(rx_head=b"\x15\x03\x03", alert=40, ssl_error="sslv3 alert handshake failure")},
     {}, {}, "tls_cipher_mismatch", "default"),
    ({"tls": True, "handshake": hs(alert=40, cert_requested=True, ssl_error="alert handshake failure")}, {}, {},
     "client_cert_required", "tls12"),
    ({"tls": True, "handshake": hs(alert=40, cert_requested=True, choice_code="AH02269")}, {}, {},
     "client_cert_not_chosen", "tls12"),
    ({"tls": True, "handshake": hs(alert=48, cert_requested=True, client_cert_sent="CN=c")}, {}, {},
     "client_cert_rejected", "tls12"),
    ({"tls": True, "handshake": hs(ssl_error="something odd")}, {}, {}, "tls_handshake_failed", "default"),
    ({"tls": True, "handshake": OK_HS, "leaf": LEAF}, {}, {"checked_name": "backend.test"}, "ok", "default"),
    ({"tls": True, "handshake": OK_HS, "leaf": LEAF}, {}, {"checked_name": "other.test"}, "name_mismatch", "default"),
    ({"tls": True, "handshake": OK_HS, "leaf": LEAF}, {"check_peer_name": False}, {"checked_name": "other.test"},
     "ok", "default"),
    ({"tls": True, "handshake": OK_HS, "leaf": LEAF}, {}, {"checked_name": "front.test", "preserve_host": True},
     "preserve_host_name_mismatch", "default"),
    ({"tls": True, "handshake": OK_HS, "leaf": LEAF}, {}, {"checked_name": "127.0.0.1", "is_ip": True},
     "ip_literal_name", "default"),
    ({"tls": True, "handshake": OK_HS, "leaf": cert(cns=["backend.test"], na=NOW - datetime.timedelta(days=1),
                                                    nb=NOW - datetime.timedelta(days=9))},
     {"verify": "none"}, {"checked_name": "other.test"}, "expired", "default"),   # expiry before name, verify none
    ({"tls": True, "handshake": OK_HS, "leaf": cert(cns=["backend.test"], nb=NOW + datetime.timedelta(days=1))},
     {}, {"checked_name": "backend.test"}, "not_yet_valid", "default"),
    ({"tls": True, "handshake": OK_HS, "leaf": cert(cns=["b"], na=NOW - datetime.timedelta(days=1),
                                                    nb=NOW - datetime.timedelta(days=9))},
     {"check_peer_expire": False}, {"checked_name": "b"}, "ok", "default"),
    ({"tls": True, "handshake": OK_HS, "leaf": LEAF, "response": {"status": 200}}, {},
     {"checked_name": "backend.test"}, "ok", "default"),
    ({"tls": True, "handshake": OK_HS, "leaf": LEAF, "response": {"status": 421}}, {},
     {"checked_name": "backend.test"}, "misdirected_request", "default"),
    ({"tls": True, "handshake": OK_HS, "leaf": LEAF, "response": {"status": None, "alert": 116}}, {},
     {"checked_name": "backend.test"}, "client_cert_required", "default"),
    ({"tls": True, "handshake": hs(ok=True, cert_requested=True, client_cert_sent="CN=c"), "leaf": LEAF,
      "response": {"status": None, "alert": 48}}, {}, {"checked_name": "backend.test"}, "client_cert_rejected",
     "default"),
    ({"tls": True, "handshake": OK_HS, "leaf": LEAF, "response": {"status": None, "timeout": True}}, {},
     {"checked_name": "backend.test"}, "response_timeout", "default"),
    ({"tls": True, "handshake": OK_HS, "leaf": LEAF, "response": {"status": None, "eof": True}}, {},
     {"checked_name": "backend.test"}, "no_http_response", "default"),
    ({"tls": False, "response": {"status": 400, "head": "HTTP/1.1 400 Bad Request\r\n\r\nYou're speaking plain HTTP "
                                 "to an SSL-enabled server port"}}, {}, {}, "tls_backend_on_http_url", "default"),
    ({"tls": False, "response": {"status": None, "rx_head": b"\x15\x03\x01\x00\x02\x02\x46"}}, {}, {},
     "tls_backend_on_http_url", "default"),
    ({"tls": False, "response": {"status": 200}}, {}, {}, "ok", "default"),
    # the response head, read with mod_proxy_http's limits
    ({"tls": True, "handshake": OK_HS, "leaf": LEAF, "response": {"status": 200, "too_long": "status",
                                                                  "line_length": 8191}}, {},
     {"checked_name": "backend.test"}, "response_head_too_long", "default"),
    ({"tls": True, "handshake": OK_HS, "leaf": LEAF, "response": {"status": None, "too_long": "status",
                                                                  "line_length": 70000}}, {},
     {"checked_name": "backend.test"}, "response_head_too_long", "default"),
    ({"tls": True, "handshake": OK_HS, "leaf": LEAF, "response": {"status": 200, "too_long": "header",
                                                                  "line_length": 9000}}, {},
     {"checked_name": "backend.test"}, "response_head_too_long", "header"),
    ({"tls": False, "response": {"status": 200, "too_long": "header", "line_length": 9000}}, {}, {},
     "response_head_too_long", "header"),
    ({"tls": True, "handshake": OK_HS, "leaf": LEAF, "response": {"status": 200, "head_complete": False,
                                                                  "timeout": True}}, {},
     {"checked_name": "backend.test"}, "response_timeout", "default"),
    ({"tls": True, "handshake": OK_HS, "leaf": LEAF, "response": {"status": 200, "head_complete": False,
                                                                  "eof": True}}, {},
     {"checked_name": "backend.test"}, "no_http_response", "default"),
    ({"tls": True, "handshake": OK_HS, "leaf": LEAF, "response": {"status": 200, "head_complete": False}}, {},
     {"checked_name": "backend.test"}, "ok", "default"),  # 64 KiB of short header lines: not examined further
    # a NUL in the certificate's names never matches the shorter host name (mod_ssl escapes it as \00)
    ({"tls": True, "handshake": OK_HS, "leaf": cert(cns=["nul"], dns=["backend.test\x00.evil.test"])}, {},
     {"checked_name": "backend.test"}, "name_mismatch", "default"),
    ({"tls": True, "handshake": OK_HS, "leaf": cert(cns=["backend.test\x00.evil.test"])}, {},
     {"checked_name": "backend.test"}, "name_mismatch", "default"),
]


@pytest.mark.parametrize("facts, tls, kwargs, reason, variant", MAPPING)
def test_reason_mapping(facts, tls, kwargs, reason, variant):
    settings = dict(TLS, **tls)
    got = m.classify(facts, settings, now=NOW, **kwargs)
    assert got[:2] == (reason, variant)
    # every reason renders without leftover placeholders for the fields classify provides
    entry = cat.entry_result(got[0], got[2], got[1])
    assert entry["http_status"] in (None, 400, 421, 500, 502, 503, 504)


@pytest.mark.parametrize("kwargs, ids", [
    ({"cns": ["x"], "dns": ["localhost\x00.evil.test"]}, ["localhost\\00.evil.test", "x"]),
    ({"cns": ["localhost\x00.evil.test"]}, ["localhost\\00.evil.test"]),
    ({"cns": ["a\x1fb\x7fc"]}, ["a\\1Fb\\7Fc"]),
])
def test_cert_ids_escape_control_characters_as_mod_ssl(kwargs, ids):
    got = m.cert_ids(cert(**kwargs))
    assert got == ids
    assert not m.match_name("localhost", got)


def test_too_long_message_and_logs():
    facts = {"tls": True, "handshake": OK_HS, "leaf": LEAF,
             "response": {"status": 200, "status_line": "HTTP/1.1 200 " + "A" * 200, "too_long": "status",
                          "line_length": 104857613}}
    reason, variant, fields = m.classify(facts, TLS, checked_name="backend.test", now=NOW)
    entry = cat.entry_result(reason, dict(fields, address="127.0.0.1:1", path="/"), variant)
    assert entry["message"] == ("127.0.0.1:1 sent a status line too long (104857613 bytes; mod_proxy_http's "
                                "ResponseFieldSize is 8192): Apache answers 502")
    facts["response"].update(line_length=16397, line_end=False)
    entry = cat.entry_result(*m.classify(facts, TLS, checked_name="backend.test", now=NOW)[::2])
    assert "status line too long (16397 bytes read without a line end;" in entry["message"]
    assert entry["http_status"] == 502
    assert "AH00898: Corrupt status line returned by remote server: HTTP/1.1 200 AAA" in entry["apache_log"][0]["line"]
    facts["response"]["too_long"] = "header"
    reason, variant, fields = m.classify(facts, TLS, checked_name="backend.test", now=NOW)
    entry = cat.entry_result(reason, dict(fields, address="127.0.0.1:1", path="/"), variant)
    assert "header line too long" in entry["message"]
    assert [line["line"].split("AH")[1][:5] for line in entry["apache_log"]] == ["10124", "01106"]


# --- the one X509 verify error table (checker and log explainer) ---------------------------------------------------


def test_verify_error_table_names_catalogue_reasons():
    for errnum, reasons in m.VERIFY_ERROR_REASONS.items():
        assert reasons and set(reasons) <= set(cat.REASONS), errnum
    assert m.verify_error_reasons(26) == ("verify_failed",)
    assert m.verify_error_reasons(20) == ("incomplete_chain", "untrusted_ca")


@pytest.mark.parametrize("errnum", sorted(m.VERIFY_ERROR_REASONS))
def test_classify_reads_the_verify_error_table(errnum):
    """With a CA configured, the checker's reason is one the table lists for the number (the first when the backend
    sent only a leaf that is not self-issued, the last otherwise)."""
    reasons = m.VERIFY_ERROR_REASONS[errnum]
    leaf_only = m.classify({"tls": True, "handshake": hs(verify_event=ev(errnum)), "served_chain": [LEAF]}, TLS,
                           now=NOW)[0]
    full = m.classify({"tls": True, "handshake": hs(verify_event=ev(errnum)), "served_chain": [LEAF, SELF]}, TLS,
                      now=NOW)[0]
    assert (leaf_only, full) == (reasons[0], reasons[-1])


# --- legacy crypto and the missing issuer: the fields and texts the messages are built from ------------------------

RSA_KEYS = {}


def _rsa(bits):
    from cryptography.hazmat.primitives.asymmetric import rsa
    if bits not in RSA_KEYS:
        RSA_KEYS[bits] = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return RSA_KEYS[bits]


def _signed(public_key, signing_key, aki=None):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "backend.test")])
    b = (x509.CertificateBuilder().subject_name(name)
         .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Private Root CA")]))
         .public_key(public_key).serial_number(7).not_valid_before(NOW - datetime.timedelta(days=1))
         .not_valid_after(NOW + datetime.timedelta(days=1)))
    if aki is not None:
        b = b.add_extension(x509.AuthorityKeyIdentifier(aki, None, None), critical=False)
    return b.sign(signing_key, hashes.SHA256())


@pytest.mark.parametrize("make, text", [
    (lambda: _signed(_rsa(1024).public_key(), KEY), "RSA 1024-bit"),
    (lambda: _signed(_rsa(2048).public_key(), KEY), "RSA 2048-bit"),
    (lambda: LEAF, "EC secp256r1 (256-bit)"),
])
def test_key_description(make, text):
    assert m.key_description(make()) == text


def test_signature_digest_and_aki():
    c = _signed(KEY.public_key(), KEY, aki=bytes(range(20)))
    assert m.signature_digest(c) == "SHA-256"
    assert m.authority_key_id(c) == ":".join("%02X" % i for i in range(20))
    assert m.authority_key_id(LEAF) is None


@pytest.mark.parametrize("errnum, reason, words", [
    (66, "weak_key", ["RSA 1024-bit", "error 66: EE certificate key too weak", "2048"]),
    (68, "weak_signature", ["signed with SHA-256 by CN=Private Root CA",
                            "error 68: CA signature digest algorithm too weak"]),
])
def test_legacy_crypto_messages(errnum, reason, words):
    c = _signed(_rsa(1024).public_key(), KEY)
    got = m.classify({"tls": True, "handshake": hs(verify_event=ev(errnum, c=c)), "served_chain": [c]}, TLS,
                     now=NOW)
    entry = cat.entry_result(got[0], got[2], got[1])
    text = entry["message"] + " " + entry["fix"]
    assert got[0] == reason and all(w in text for w in words), text
    assert "<" not in text
    assert any("Error (%d): %s" % (errnum, m.x509_error_string(errnum)) in line["line"]
               for line in entry["apache_log"])


def test_certificate_too_large_message_and_log():
    got = m.classify({"tls": True, "handshake": hs(ssl_error="excessive message size")}, TLS, now=NOW)
    entry = cat.entry_result(got[0], dict(got[2], address="192.0.2.1:443"), got[1])
    assert "100 KiB" in entry["message"] and "subjectAltNames" in entry["fix"]
    assert "SSL Library Error: error:0A000098:SSL routines::excessive message size" in \
        [line["line"] for line in entry["apache_log"]][1]


def test_missing_issuer_is_named_neutrally_with_both_remedies():
    """A one-tier private CA: the leaf's issuer is a root. The message names the issuer and its key id and does not
    call it an intermediate; the fix gives both remedies."""
    c = _signed(KEY.public_key(), KEY, aki=b"\xab" * 20)
    got = m.classify({"tls": True, "handshake": hs(verify_event=ev(20, c=c)), "served_chain": [c]}, TLS, now=NOW)
    assert got[0] == "incomplete_chain"
    entry = cat.entry_result(got[0], dict(got[2], address="192.0.2.1:443"), got[1])
    aki = ":".join(["AB"] * 20)
    assert "issued by CN=Private Root CA (authority key identifier %s)" % aki in entry["message"]
    assert "root or an intermediate" in entry["message"]
    assert "add the intermediate" not in entry["fix"]
    assert "SSLProxyCACertificateFile" in entry["fix"] and "send its full chain" in entry["fix"]
    got = m.classify({"tls": True, "handshake": hs(verify_event=ev(20)), "served_chain": [LEAF]}, TLS, now=NOW)
    assert "no authority key identifier" in cat.entry_result(got[0], got[2])["message"]


@pytest.mark.parametrize("url, hint", [
    ("localhost:8443", "https://localhost:8443"),        # urlsplit would call 'localhost' the scheme
    ("backend.test:8443/app", "https://backend.test:8443/app"),
    ("10.0.0.5:8443", "https://10.0.0.5:8443"),
    ("backend.test", "https://backend.test"),
    ("[::1]:8443", "https://[::1]:8443"),
])
def test_schemeless_backend_url_says_add_https(url, hint):
    from ansible_collections.revproxy.tls.plugins.module_utils.model._backend_tls import ConfigError
    with pytest.raises(ConfigError) as info:
        parse_backend_url(url, "backends[0].url")
    assert str(info.value) == ("backends[0].url: URL %r has no scheme: add https:// (%s) for a TLS backend, or "
                               "http://" % (url, hint))


def test_unknown_scheme_is_still_named():
    from ansible_collections.revproxy.tls.plugins.module_utils.model._backend_tls import ConfigError
    with pytest.raises(ConfigError, match="URL scheme must be one of .* got 'javascript'"):
        parse_backend_url("javascript:alert(1)", "backend")
