# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""mod_ssl's decisions on a backend connection: the semantics object of Apache httpd (MOD_SSL, a
_semantics.Semantics) and the pure functions behind it (no I/O, no TLS library). The only file of tls/ that knows
Apache: the checker receives MOD_SSL from its caller (backend_handshake, through apache/_catalogue, which attaches
Apache's part of the failure catalogue) and never imports this file.

Why one file: it is one server's semantics, the one file of tls/ that names Apache, and each function
is read side by side with the httpd source it mirrors; splitting it would spread mod_ssl over several files.

Each function mirrors one piece of httpd 2.4.x:
- cert_ids / match_name: ssl_util_ssl.c getIDs() + modssl_X509_match_name() (dNSName SANs + every CN,
  case-insensitive, '*.' as the whole left-most label covering exactly one label, no iPAddress SANs);
- verify_decision: ssl_engine_kernel.c ssl_callback_SSLVerify() for a proxy connection (verify modes, the
  optional_no_ca exemptions, the depth rule errdepth > SSLProxyVerifyDepth -> AH02040);
- expiry_state: ssl_engine_io.c, SSLProxyCheckPeerExpire (notBefore and notAfter of the leaf);
- choose_client_cert: ssl_engine_kernel.c ssl_callback_proxy_cert() (the server's acceptable-CA list against each
  certificate's issuer, then the issuers of its chain built from SSLProxyMachineCertificateChainFile);
- host_header: mod_proxy_http's Host header (ProxyPreserveHost Off: URL host, plus the port when one is written in
  the URL and it is not 80); tls_names: the name sent as SNI and checked (proxy_util.c + ssl_engine_io.c);
  mod_ssl_cipher_string: the list mod_ssl hands to OpenSSL for SSLProxyCipherSuite;
- VERIFY_ERROR_REASONS: X509 verify error number -> catalogue reasons, for classify() and the error-log explainer.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.revproxy.tls.plugins.module_utils.model._backend_tls import ConfigError, is_ip_literal
# parse_status_line lives in _http (it is HTTP's, not mod_ssl's); re-exported for the callers that read it here.
# pylint: disable=unused-import
from ansible_collections.revproxy.tls.plugins.module_utils.tls._http import parse_status_line  # noqa: F401
# pylint: enable=unused-import
from ansible_collections.revproxy.tls.plugins.module_utils.tls._pyopenssl_compat import cert_not_after, cert_not_before
from ansible_collections.revproxy.tls.plugins.module_utils.tls._semantics import Semantics
# The readings every server shares (tls/_x509), under the names this file and its callers have used.
from ansible_collections.revproxy.tls.plugins.module_utils.tls._x509 import (  # noqa: F401 # pylint: disable=unused-import
    X509_ERROR_STRINGS,
    authority_key_id,
    cert_fields as _cert_fields,
    hex_id as _hex_id,
    is_tls_record as _is_tls_record,
    key_description,
    looks_like_http as _looks_like_http,
    signature_digest,
    x509_error_string,
)

# OpenSSL X509_V_ERR_* codes used below (stable across OpenSSL 1.1 - 4.x).
X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT = 2
X509_V_ERR_CERT_NOT_YET_VALID = 9
X509_V_ERR_CERT_HAS_EXPIRED = 10
X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT = 18
X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN = 19
X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY = 20
X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE = 21
X509_V_ERR_CERT_CHAIN_TOO_LONG = 22
X509_V_ERR_CERT_REVOKED = 23
X509_V_ERR_CERT_UNTRUSTED = 27
X509_V_ERR_EE_KEY_TOO_SMALL = 66
X509_V_ERR_CA_KEY_TOO_SMALL = 67
X509_V_ERR_CA_MD_TOO_WEAK = 68

# ssl_engine_kernel.c ssl_verify_error_is_optional(): the errors SSLProxyVerify optional_no_ca accepts.
OPTIONAL_NO_CA_ERRORS = frozenset((
    X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT,
    X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN,
    X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
    X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE,
    X509_V_ERR_CERT_UNTRUSTED,
))

# CRL errors: unable to get CRL (3), CRL signature failure (8), CRL not yet valid / expired (11, 12), bad CRL dates
# (13-16), no CRL signing key usage (35), unable to get CRL issuer (33), different CRL scope (44), and so on.
_CRL_ERRORS = (3, 8, 11, 12, 13, 14, 15, 16, 33, 35, 36, 44)

# X509 verify error number (what AH02039/AH02276 print as "Error (n)") -> the catalogue reasons it can mean: the one
# table the checker (classify) and the error-log explainer (_errorlog) read. A number not listed is verify_failed.
# One reason: the number decides. Two: the number alone cannot tell, and the checker decides in the order listed
# with what it saw. 20, "unable to get local issuer certificate", means the chain OpenSSL built from what the
# backend sent reaches no configured CA: an incomplete chain when the backend sent only its leaf and that leaf is
# not self-issued (the intermediate is missing), an untrusted CA otherwise. A log line carries the number only, so
# the explainer lists both. Without SSLProxyCACertificateFile/Path the checker says no_ca_configured for the errors
# optional_no_ca accepts and for 2 (a log line does not say what is configured).
VERIFY_ERROR_REASONS = {
    X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT: ("ca_file_missing_root",),
    X509_V_ERR_CERT_NOT_YET_VALID: ("not_yet_valid",),
    X509_V_ERR_CERT_HAS_EXPIRED: ("expired",),
    X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT: ("untrusted_ca",),
    X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN: ("untrusted_ca",),
    X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY: ("incomplete_chain", "untrusted_ca"),
    X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE: ("incomplete_chain",),
    X509_V_ERR_CERT_REVOKED: ("revoked",),
    X509_V_ERR_CERT_UNTRUSTED: ("untrusted_ca",),
    # OpenSSL's security level (Debian/RHEL default 2: RSA/DH keys of 2048 bits and more, no SHA-1 or MD5
    # signatures; level 1: 1024 bits, still no SHA-1 since OpenSSL 3.0) applied to the backend's chain.
    X509_V_ERR_EE_KEY_TOO_SMALL: ("weak_key",),
    X509_V_ERR_CA_KEY_TOO_SMALL: ("weak_key",),
    X509_V_ERR_CA_MD_TOO_WEAK: ("weak_signature",),
}
VERIFY_ERROR_REASONS.update((errnum, ("crl_error",)) for errnum in _CRL_ERRORS)
VERIFY_FAILED = "verify_failed"


def verify_error_reasons(errnum):
    """The reasons an X509 verify error number can mean (VERIFY_ERROR_REASONS), most specific first."""
    return VERIFY_ERROR_REASONS.get(errnum, (VERIFY_FAILED,))


# ---------------------------------------------------------------------------------------------------------------------
# Peer name


def match_name(name, ids):
    """modssl_X509_match_name(): True when `name` matches one of `ids` (the certificate's dNSName SANs and CNs)."""
    if not name:
        return False
    lname = name.lower()
    dot = lname.find(".")
    for ident in ids:
        if not ident:
            continue
        lid = ident.lower()
        if lid == lname:
            return True
        # '*.' wildcard: the rest of the id must equal everything from the first '.' of the name, so the '*'
        # covers exactly the first label (strchr(name, '.') in the C code).
        if lid.startswith("*.") and dot >= 0 and lid[1:] == lname[dot:]:
            return True
    return False


def cert_ids(cert):
    """getIDs(): dNSName SANs (GEN_DNS only, never iPAddress), then every CN of the subject.

    `cert` is a cryptography x509.Certificate."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    ids = []
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        ids.extend(san.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        pass
    except ValueError:  # pragma: no cover - malformed extension
        pass
    for attr in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME):
        value = attr.value
        if isinstance(value, bytes):  # pragma: no cover
            value = value.decode("utf-8", "replace")
        ids.append(value)
    return [escape_ctrl(i) for i in ids]


def escape_ctrl(value):
    """What mod_ssl compares: asn1_string_convert() prints names with ASN1_STRFLGS_ESC_CTRL, so a control character
    (a NUL in 'localhost\\0.evil.test' included) becomes '\\XX' and the name cannot match a shorter host name."""
    return "".join("\\%02X" % ord(c) if ord(c) < 0x20 or ord(c) == 0x7f else c for c in value)


# ---------------------------------------------------------------------------------------------------------------------
# Verification


def depth_exceeded(errdepth, verify_depth):
    """mod_ssl's depth rule: a certificate at depth errdepth (leaf = 0, in the built chain) fails when
    errdepth > SSLProxyVerifyDepth (AH02040). The root of leaf -> intermediate -> root is at depth 2."""
    return errdepth > verify_depth


def verify_decision(verify, verify_depth, errnum, errdepth, preverify_ok):
    """ssl_callback_SSLVerify() for a proxy connection, called for each certificate of the chain.

    Returns (ok, event): ok is what the callback returns to OpenSSL (False aborts the handshake); event is None or a
    dict describing what mod_ssl logs: {"kind": "verify_error"|"chain_too_long", "errnum", "errdepth"}.
    """
    if verify == "none":
        return True, None
    ok = bool(preverify_ok)
    if not ok and verify == "optional_no_ca" and errnum in OPTIONAL_NO_CA_ERRORS:
        ok = True  # AH02037: "Verifiable Issuer is configured as optional, therefore we're accepting"
    event = None
    if not ok:
        event = {"kind": "verify_error", "errnum": errnum, "errdepth": errdepth}
    if depth_exceeded(errdepth, verify_depth):
        event = {"kind": "chain_too_long", "errnum": X509_V_ERR_CERT_CHAIN_TOO_LONG, "errdepth": errdepth}
        ok = False
    return ok, event


def expiry_state(not_before, not_after, now):
    """SSLProxyCheckPeerExpire: 'not_yet_valid', 'expired' or None (datetimes, all timezone-aware UTC).

    mod_ssl fails when X509_cmp_current_time(notBefore) >= 0 or X509_cmp_current_time(notAfter) <= 0."""
    if not_before >= now:
        return "not_yet_valid"
    if not_after <= now:
        return "expired"
    return None


# ---------------------------------------------------------------------------------------------------------------------
# Client certificate selection


def choose_client_cert(ca_names, client_certs):
    """ssl_callback_proxy_cert(): which configured client certificate mod_ssl sends.

    ca_names: the server's acceptable-CA list (list of names; any comparable type, e.g. cryptography x509.Name).
    client_certs: list of dicts {"issuer": name, "chain_issuers": [issuer names of chain[1:]]} in file order.
    Returns (index or None, ah_code): AH02268 no certificates configured; AH02270 empty CA list -> the first one;
    AH02271 matched by issuer; AH02272 matched through the chain file; AH02269 nothing matches -> none sent.
    """
    if not client_certs:
        return None, "AH02268"
    if not ca_names:
        return 0, "AH02270"
    for ca_name in ca_names:
        for index, cert in enumerate(client_certs):
            if cert["issuer"] == ca_name:
                return index, "AH02271"
            for issuer in cert.get("chain_issuers") or ():
                if issuer == ca_name:
                    return index, "AH02272"
    return None, "AH02269"


def build_chain_issuers(cert, pool):
    """The issuers of cert's chain beyond the leaf (chain[1:]), walking `pool` (chain-file certificates) by
    issuer DN == subject DN, as X509_verify_cert() on the chain-file store would build it (loop-safe)."""
    issuers = []
    current = cert
    seen = set()
    while True:
        if current.issuer == current.subject and current is not cert:
            break
        parent = None
        for candidate in pool:
            if candidate.subject == current.issuer and id(candidate) not in seen:
                parent = candidate
                break
        if parent is None:
            break
        seen.add(id(parent))
        issuers.append(parent.issuer)
        if parent.issuer == parent.subject:
            break
        current = parent
    return issuers


# ---------------------------------------------------------------------------------------------------------------------
# Protocols and the Host header

PROTOCOL_ORDER = ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")


def protocol_range(protocols):
    """SSLProxyProtocol as a (min, max) pair of names: mod_ssl sets the lowest and highest enabled protocol."""
    enabled = [p for p in PROTOCOL_ORDER if p in protocols]
    if not enabled:
        raise ValueError("no protocol enabled")
    return enabled[0], enabled[-1]


def tls_names(backend_url, preserve_host=False, host=None):
    """mod_ssl's name rule (proxy_util.c ap_proxy_determine_connection + ssl_engine_io.c).

    Returns (sni, checked_name): the name checked against the certificate is the URL host, or the client's Host
    (port stripped) with ProxyPreserveHost On; SNI is the same name, except that none is sent for IP literals.
    """
    if preserve_host:
        if not host:
            raise ConfigError("host: required when preserve_host is true (it is the name Apache sends as SNI)")
        name = host.lower()
        if name.startswith("["):
            name = name[1:name.index("]")]
        elif name.count(":") == 1:
            name = name.split(":", 1)[0]
    else:
        name = backend_url.host
    sni = None if is_ip_literal(name) else name
    return sni, name


def host_header(url_host, explicit_port, preserve_host=False, client_host=None):
    """The Host header mod_proxy_http sends: the client's Host with ProxyPreserveHost On; otherwise the URL host
    (IPv6 in brackets) plus ':port' when the URL spells a port other than 80 (DEFAULT_HTTP_PORT)."""
    if preserve_host:
        return client_host
    host = "[%s]" % url_host if ":" in url_host else url_host
    if explicit_port is not None and explicit_port != 80:
        return "%s:%d" % (host, explicit_port)
    return host


# mod_ssl (ssl_engine_config.c, ssl_cmd_SSLProxyCipherSuite) appends this to every SSLProxyCipherSuite before
# handing it to OpenSSL; the checker builds its list the same way.
MOD_SSL_CIPHER_SUFFIX = ":!aNULL:!eNULL:!EXP"

# mod_ssl's default SSLProxyCipherSuite: OpenSSL's default list minus aNULL, eNULL, EXP (ssl_engine_init.c,
# ssl_init_ctx_cipher_suite: SSL_DEFAULT_CIPHER_LIST ":!aNULL:!eNULL:!EXP").
DEFAULT_CIPHERS = b"DEFAULT" + MOD_SSL_CIPHER_SUFFIX.encode("ascii")


def mod_ssl_cipher_string(ciphers):
    """The cipher list mod_ssl hands to OpenSSL for SSLProxyCipherSuite (None: OpenSSL's default list)."""
    if ciphers is None:
        return None
    return ciphers + MOD_SSL_CIPHER_SUFFIX


# ---------------------------------------------------------------------------------------------------------------------
# Reason mapping

_PROTOCOL_TEXTS = ("unsupported protocol", "no protocols available", "wrong ssl version", "protocol version",
                   "version too low", "version too high")
_CIPHER_TEXTS = ("no ciphers available", "no shared cipher", "no cipher match")
_MESSAGE_SIZE_TEXT = "excessive message size"
_CLIENT_CERT_ALERTS = frozenset((42, 43, 44, 45, 46, 48, 49, 116))


def classify(facts, tls, preserve_host=False, checked_name=None, now=None, is_ip=False):
    """Map probe facts to (reason, variant, fields) as mod_ssl would decide.

    facts: what _tls_probe.probe() observed (plain data, so this is testable without sockets).
    Order follows Apache: DNS, TCP connect, TLS handshake (verify callback), SSLProxyCheckPeerExpire,
    SSLProxyCheckPeerName, then the HTTP response.
    """
    fields = {}
    if facts.get("dns_error") or facts.get("connect_error") or not facts.get("tls"):
        return _before_tls(facts, fields)
    hs = facts.get("handshake") or {}
    fields["ca_list"] = ", ".join(hs.get("ca_list") or []) or "(no list)"
    fields["client_subject"] = hs.get("client_cert_sent") or ""
    if not hs.get("ok"):
        event = hs.get("verify_event")
        if event:
            return _verify_reason(event, facts, tls, fields)
        return _handshake_reason(hs, fields)
    leaf = facts.get("leaf")
    if leaf is not None:
        fields.update(_cert_fields(leaf, "err_"))
    reason = _peer_check_reason(leaf, tls, preserve_host, checked_name, now, is_ip, fields)
    if reason:
        return reason, "default", fields
    if "response" not in facts:
        return "ok", "default", fields
    return _response_reason(facts["response"], hs, fields)


def _before_tls(facts, fields):
    """DNS, the TCP connect, and a plain-HTTP backend's answer (an http:// URL)."""
    if facts.get("dns_error"):
        fields["detail"] = facts["dns_error"]
        return "dns_failure", "default", fields
    if facts.get("connect_error"):
        kind, detail = facts["connect_error"]
        fields["detail"] = detail
        return {"refused": "connect_refused", "timeout": "connect_timeout"}.get(kind, "connect_failed"), \
            "default", fields
    resp = facts.get("response") or {}
    head = resp.get("rx_head") or b""
    if _is_tls_record(head) or "plain HTTP" in (resp.get("head") or "") and resp.get("status") == 400:
        fields["detail"] = resp.get("status_line") or "it answered with a TLS record"
        return "tls_backend_on_http_url", "default", fields
    return _response_reason(resp, {}, fields)


def _handshake_reason(hs, fields):
    """A handshake that failed without a verify error: timeout, not TLS, the client certificate (TLS 1.2: the
    backend's alert ends the handshake), an oversized certificate message, protocols, ciphers, a closed connection."""
    err = hs.get("ssl_error") or ""
    fields["ssl_error"] = err or "unexpected eof while reading"
    alert = hs.get("alert")
    head = hs.get("rx_head") or b""
    if hs.get("timeout"):
        fields["detail"] = "received %d bytes" % hs.get("rx_total", 0) if hs.get("rx_total") else \
            "the backend sent nothing"
        return "timeout", "default", fields
    if head and not _is_tls_record(head):
        fields["detail"] = "first bytes: %r" % bytes(head[:32])
        return ("plain_http_backend" if _looks_like_http(head) else "not_tls"), "default", fields
    if hs.get("cert_requested") and alert is not None and alert != 70:
        fields["detail"] = "TLS 1.2: the handshake fails with alert %d (%s)" % (alert, err)
        if not hs.get("client_cert_sent"):
            reason = "client_cert_not_chosen" if hs.get("choice_code") == "AH02269" else "client_cert_required"
            return reason, "tls12", fields
        return "client_cert_rejected", "tls12", fields
    if _MESSAGE_SIZE_TEXT in err.lower():
        # OpenSSL's client refuses a Certificate message over its max_cert_list (100 KiB; mod_ssl keeps the
        # default): thousands of subjectAltNames, or a long chain of large certificates.
        fields["detail"] = err
        return "certificate_too_large", "default", fields
    if alert == 70 or any(t in err.lower() for t in _PROTOCOL_TEXTS):
        fields["detail"] = err
        return "tls_protocol_mismatch", "default", fields
    if any(t in err.lower() for t in _CIPHER_TEXTS) or (alert == 40 and not hs.get("cert_requested")):
        fields["detail"] = err
        return "tls_cipher_mismatch", "default", fields
    if hs.get("eof") and alert is None:
        fields["detail"] = "after %d bytes" % hs.get("rx_total", 0) if hs.get("rx_total") else \
            "before it sent anything"
        return "connection_closed", "default", fields
    fields["detail"] = err or "unknown error"
    return "tls_handshake_failed", "default", fields


def _peer_check_reason(leaf, tls, preserve_host, checked_name, now, is_ip, fields):
    """What mod_ssl checks after a successful handshake, in its order: SSLProxyCheckPeerExpire, then
    SSLProxyCheckPeerName. The reason, or None when both pass (or are off)."""
    if tls.get("check_peer_expire", True):
        if leaf is None:
            return "expired"  # mod_ssl: !cert counts as expired
        state = expiry_state(cert_not_before(leaf), cert_not_after(leaf), now)
        if state:
            return state
    if tls.get("check_peer_name", True):
        ids = cert_ids(leaf) if leaf is not None else []
        fields["ids"] = ", ".join(ids) or "(none)"
        if not match_name(checked_name, ids):
            if is_ip:
                return "ip_literal_name"
            if preserve_host:
                return "preserve_host_name_mismatch"
            return "name_mismatch"
    return None


def _response_reason(resp, hs, fields):
    if resp.get("too_long"):
        # mod_proxy_http: a status line or header line that does not fit ResponseFieldSize (8192) -> 502
        what = "status line" if resp["too_long"] == "status" else "header line"
        fields["detail"] = "%s too long (%d bytes%s; mod_proxy_http's ResponseFieldSize is 8192)" % (
            what, resp.get("line_length") or 0, "" if resp.get("line_end", True) else " read without a line end")
        fields["status_line"] = (resp.get("status_line") or "")[:80]
        return "response_head_too_long", ("default" if resp["too_long"] == "status" else "header"), fields
    alert = resp.get("alert")
    err = resp.get("ssl_error") or ""
    fields["ssl_error"] = err
    if alert == 116 or (resp.get("status") is None and hs.get("cert_requested") and not hs.get("client_cert_sent")
                        and (alert is not None or resp.get("eof"))):
        fields["detail"] = "TLS 1.3: the backend rejects the missing certificate after the handshake (%s)" % (
            err or "connection closed")
        reason = "client_cert_not_chosen" if hs.get("choice_code") == "AH02269" else "client_cert_required"
        return reason, "default", fields
    if alert in _CLIENT_CERT_ALERTS and hs.get("client_cert_sent"):
        fields["detail"] = err
        return "client_cert_rejected", "default", fields
    status = resp.get("status")
    if status is None:
        if resp.get("timeout"):
            return "response_timeout", "default", fields
        fields["detail"] = err or ("answer: %r" % resp.get("status_line") if resp.get("status_line") else
                                   "connection closed")
        return "no_http_response", "default", fields
    fields["backend_status"] = status
    if resp.get("head_complete") is False and (resp.get("timeout") or resp.get("eof")):
        # the status line arrived, the end of the headers did not (mod_proxy_http: AH01102 / AH10404, AH01106)
        if resp.get("timeout"):
            return "response_timeout", "default", fields
        fields["detail"] = err or "the connection closed inside the response headers (status line %r)" % (
            resp.get("status_line") or "")[:80]
        return "no_http_response", "default", fields
    if status == 421:
        return "misdirected_request", "default", fields
    return "ok", "default", fields


def _verify_reason(event, facts, tls, fields):
    errnum = event["errnum"]
    depth = event["errdepth"]
    cert = event.get("cert")
    fields.update({"errnum": errnum, "errstr": x509_error_string(errnum), "errdepth": depth,
                   "verify_depth": tls.get("verify_depth"), "crl_check": tls.get("crl_check")})
    if cert is not None:
        fields.update(_cert_fields(cert, "err_"))
        fields["err_key"] = key_description(cert)
        fields["err_sig"] = signature_digest(cert)
        aki = authority_key_id(cert)
        fields["err_aki"] = ("authority key identifier %s" % aki) if aki else "no authority key identifier"
    served = facts.get("served_chain") or []
    fields["served"] = len(served)
    if event["kind"] == "chain_too_long":
        return "chain_too_long", "default", fields
    if not (tls.get("ca_file") or tls.get("ca_path")) and \
            errnum in OPTIONAL_NO_CA_ERRORS | {X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT}:
        return "no_ca_configured", "default", fields
    reasons = verify_error_reasons(errnum)
    if len(reasons) > 1:
        # 20: incomplete_chain when the backend sent only its leaf and the leaf is not self-issued, else untrusted_ca
        leaf_only = cert is not None and cert.issuer != cert.subject and len(served) == 1
        return reasons[0] if leaf_only else reasons[1], "default", fields
    reason = reasons[0]
    return reason, ("verify" if reason in ("expired", "not_yet_valid") else "default"), fields


# ---------------------------------------------------------------------------------------------------------------------
# The semantics object the checker is given


class ModSSL(Semantics):
    """Apache httpd's mod_ssl (2.4.x) as the checker's semantics: each method is the function above of the same
    name. The catalogue is attached by apache/_catalogue (SEMANTICS), which adds Apache's log lines and fixes."""

    name = "mod_ssl"
    default_ciphers = DEFAULT_CIPHERS

    _CLIENT_FILE_NOTES = {
        "encrypted_key": "mod_ssl cannot use encrypted keys",
        "no_certificate": "AH02252",
        "only_ca": "only CA certificates: AH02206",
        "no_key": "AH02252",
        "key_mismatch": "AH02326",
        "trust_file": "httpd would not start",
    }

    def tls_names(self, backend_url, preserve_host=False, host=None):
        return tls_names(backend_url, preserve_host, host)

    def host_header(self, url_host, explicit_port, preserve_host=False, client_host=None):
        return host_header(url_host, explicit_port, preserve_host, client_host)

    def protocol_range(self, protocols):
        return protocol_range(protocols)

    def cipher_string(self, ciphers):
        return mod_ssl_cipher_string(ciphers)

    def verify_decision(self, verify, verify_depth, errnum, errdepth, preverify_ok):
        return verify_decision(verify, verify_depth, errnum, errdepth, preverify_ok)

    def choose_client_cert(self, ca_names, client_certs):
        return choose_client_cert(ca_names, client_certs)

    def build_chain_issuers(self, cert, pool):
        return build_chain_issuers(cert, pool)

    def client_file_note(self, kind):
        return self._CLIENT_FILE_NOTES[kind]

    def classify(self, facts, tls, preserve_host=False, checked_name=None, now=None, is_ip=False):
        return classify(facts, tls, preserve_host, checked_name, now, is_ip)


MOD_SSL = ModSSL()
