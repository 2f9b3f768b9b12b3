# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""nginx's decisions on a backend connection: the semantics object of nginx 1.22 (NGINX_TLS, a _semantics.Semantics)
and the pure functions behind it. The only file of tls/ that knows nginx: the checker receives NGINX_TLS from its
caller (backend_handshake, through nginx/_catalogue, which attaches nginx's part of the failure catalogue) and never
imports this file.

Why one file: it is one server's semantics, the one file of tls/ that names nginx, and each function is read side by
side with the nginx or OpenSSL source it mirrors; splitting it would spread nginx over several files.

Each function mirrors one piece of nginx 1.22 (src/event/ngx_event_openssl.c, src/http/ngx_http_upstream.c,
src/http/modules/ngx_http_proxy_module.c) as Debian 12 builds it, with OpenSSL 3.0; tests/integration/
test_nginx_oracle.py holds every rule against a real nginx:
- verification happens after the handshake: nginx leaves the client's verify mode at SSL_VERIFY_NONE, so no
  certificate ends the handshake; with proxy_ssl_verify on, ngx_http_upstream_ssl_handshake() reads
  SSL_get_verify_result() (the *last* error OpenSSL met: an expired leaf of an untrusted chain logs 10, not 20) and
  then ngx_ssl_check_host() (X509_check_host on proxy_ssl_name); with it off (nginx's default) nothing is checked:
  not the chain, not the name, not the dates (verify_decision, verify_after_handshake, classify);
- proxy_ssl_verify_depth goes to SSL_CTX_set_verify_depth(): OpenSSL counts intermediates, so depth 1 accepts leaf +
  one intermediate + root, and a deeper chain fails as (20:unable to get local issuer certificate), never as "chain
  too long" (verify_depth_limit; _verify_reason tells it from an untrusted CA by where the issuer is);
- the name checked is proxy_ssl_name, by default the proxy_pass host, which for an upstream{} block is the group's
  name; it is checked with SNI off too; SNI is sent only with proxy_ssl_server_name on, and never for an IP address
  (ngx_http_upstream_ssl_name) (backend_names);
- check_host: X509_check_host(flags 0): dNSName SANs, the subject CN only when there is no dNSName SAN, a wildcard
  only as (part of) the left-most label of a pattern with at least two dots after it (so '*.test' matches nothing),
  covering exactly one label; an IP address is compared as a string, never with iPAddress SANs;
- protocols: proxy_ssl_protocols, by default TLSv1 TLSv1.1 TLSv1.2 in 1.22 (a TLS 1.3-only backend fails); ciphers:
  proxy_ssl_ciphers, by default DEFAULT, handed to OpenSSL as written;
- the client certificate: proxy_ssl_certificate is sent whenever the backend asks, whatever CAs it names (no
  choice); the trusted CAs are one file (proxy_ssl_trusted_certificate); proxy_ssl_crl turns on CRL checks for the
  whole chain (X509_V_FLAG_CRL_CHECK | CRL_CHECK_ALL), so every CA needs its CRL (check_settings refuses what nginx
  cannot express, naming the option).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.revproxy.tls.plugins.module_utils._files import FileReadError, read_regular_file
from ansible_collections.revproxy.tls.plugins.module_utils.model._backend_tls import ConfigError, is_ip_literal
from ansible_collections.revproxy.tls.plugins.module_utils.model._grammar import hostname
from ansible_collections.revproxy.tls.plugins.module_utils.tls._checks import _Refused
from ansible_collections.revproxy.tls.plugins.module_utils.tls._semantics import Semantics
from ansible_collections.revproxy.tls.plugins.module_utils.tls._x509 import (
    authority_key_id,
    cert_fields,
    is_tls_record,
    key_description,
    looks_like_http,
    signature_digest,
    x509_error_string,
)

PROTOCOL_ORDER = ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
# proxy_ssl_protocols when it is not set (nginx 1.22; 1.23.4 added TLSv1.3 to the default).
DEFAULT_PROTOCOLS = ("TLSv1", "TLSv1.1", "TLSv1.2")
# proxy_ssl_verify_depth when it is not set.
DEFAULT_VERIFY_DEPTH = 1

# X509 verify error number -> reason, as nginx logs it ("upstream SSL certificate verify error: (N:text)").
_CRL_ERRORS = (3, 8, 11, 12, 13, 14, 15, 16, 33, 35, 36, 44)
VERIFY_ERROR_REASONS = {
    2: "ca_file_missing_root", 9: "not_yet_valid", 10: "expired", 18: "untrusted_ca", 19: "untrusted_ca",
    21: "incomplete_chain", 23: "revoked", 27: "untrusted_ca", 66: "weak_key", 67: "weak_key",
    68: "weak_signature",
}
VERIFY_ERROR_REASONS.update((errnum, "crl_error") for errnum in _CRL_ERRORS)
X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY = 20

_PROTOCOL_TEXTS = ("unsupported protocol", "no protocols available", "wrong ssl version", "protocol version",
                   "version too low", "version too high")
_CIPHER_TEXTS = ("no ciphers available", "no shared cipher", "no cipher match")
_CLIENT_CERT_ALERTS = frozenset((42, 43, 44, 45, 46, 48, 49, 116))
# OpenSSL 3.0's reason codes of the errors nginx prints as "(SSL: error:0A0xxxxx:SSL routines::text)"; a received
# alert N has the code 1000 + N (SSL_AD_REASON_OFFSET).
_REASON_CODES = {"wrong version number": 0x10B, "excessive message size": 0x98, "no shared cipher": 0xC1,
                 "unexpected eof while reading": 0x126, "packet length too long": 0xC6,
                 "record layer failure": 0x6E}
CA_FILE_LIMIT = 64 << 20
# OpenSSL 3.0's texts of a received alert (what nginx on Debian 12 prints; a newer OpenSSL under pyOpenSSL may word
# them otherwise, e.g. "tls alert handshake failure").
ALERT_TEXTS = {
    10: "sslv3 alert unexpected message", 20: "sslv3 alert bad record mac", 40: "sslv3 alert handshake failure",
    42: "sslv3 alert bad certificate", 43: "sslv3 alert unsupported certificate",
    44: "sslv3 alert certificate revoked", 45: "sslv3 alert certificate expired",
    46: "sslv3 alert certificate unknown", 47: "sslv3 alert illegal parameter", 48: "tlsv1 alert unknown ca",
    49: "tlsv1 alert access denied", 50: "tlsv1 alert decode error", 51: "tlsv1 alert decrypt error",
    70: "tlsv1 alert protocol version", 71: "tlsv1 alert insufficient security", 80: "tlsv1 alert internal error",
    86: "tlsv1 alert inappropriate fallback", 90: "tlsv1 alert user cancelled", 112: "tlsv1 unrecognized name",
    116: "tlsv13 alert certificate required", 120: "tlsv1 alert no application protocol",
}
# ngx_ssl_connection_error() (1.22) logs these received alerts at the connection's level ([error] for an upstream);
# any other SSL error, alert 116 included, at [crit].
ERROR_LEVEL_ALERTS = frozenset((10, 20, 21, 22, 30, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 60, 70, 71, 80,
                                86, 90, 100, 110, 111, 112, 113, 114, 115))


# ---------------------------------------------------------------------------------------------------------------------
# X509_check_host (OpenSSL 3.0 crypto/x509/v3_utl.c, flags 0 as ngx_ssl_check_host passes them)


def _equal_nocase(pattern, subject):
    if len(pattern) != len(subject) or "\0" in pattern:
        return False
    return pattern.lower() == subject.lower() if pattern.isascii() and subject.isascii() else pattern == subject


def _valid_star(pattern):
    """valid_star(): the index of the one legal '*' of a pattern, or None (then the pattern compares literally)."""
    star = None
    start, hyphen, idna, dots = True, False, False, 0
    for i, char in enumerate(pattern):
        if char == "*":
            at_end = i == len(pattern) - 1 or pattern[i + 1] == "."
            if star is not None or idna or dots or (not start and not at_end):
                return None
            star, start = i, False
        elif char.isascii() and char.isalnum():
            if start and pattern[i:i + 4].lower() == "xn--":
                idna = True
            start, hyphen = False, False
        elif char == ".":
            if start or hyphen:
                return None
            start, hyphen, idna, dots = True, False, False, dots + 1
        elif char == "-":
            if start:
                return None
            hyphen = True
        else:
            return None
    if start or hyphen or dots < 2:
        return None
    return star


def _wildcard_match(prefix, suffix, subject):
    if len(subject) < len(prefix) + len(suffix):
        return False
    if not _equal_nocase(prefix, subject[:len(prefix)]):
        return False
    middle = subject[len(prefix):len(subject) - len(suffix)]
    if not _equal_nocase(suffix, subject[len(subject) - len(suffix):]):
        return False
    whole_label = prefix == "" and suffix.startswith(".")
    if whole_label and middle == "":
        return False
    if not whole_label and subject[:4].lower() == "xn--":
        return False
    if middle == "*":
        return True
    return all(c.isascii() and (c.isalnum() or c == "-") for c in middle)


def match_pattern(pattern, name):
    """equal_wildcard(): one certificate name (`pattern`) against the name checked."""
    star = None if name.startswith(".") and len(name) > 1 else _valid_star(pattern)
    if star is None:
        return _equal_nocase(pattern, name)
    return _wildcard_match(pattern[:star], pattern[star + 1:], name)


def cert_names(cert):
    """(dNSName SANs, subject CNs) of a cryptography certificate."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    dns = []
    try:
        dns = list(cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
                   .get_values_for_type(x509.DNSName))
    except (x509.ExtensionNotFound, ValueError):
        pass
    cns = [a.value if isinstance(a.value, str) else a.value.decode("utf-8", "replace")
           for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    return dns, cns


def check_host(name, dns, cns):
    """X509_check_host(cert, name, 0, 0): the dNSName SANs decide when there is one, else the subject's CNs."""
    if not name or "\0" in name:
        return False
    ids = dns if dns else cns
    return any(match_pattern(ident, name) for ident in ids)


# ---------------------------------------------------------------------------------------------------------------------
# Names, Host, protocols, verification


def backend_names(url, item):
    """(sni, checked_name) of a backend: proxy_ssl_name (item['ssl_name'], default the URL host: for an upstream{}
    block that is the group's name) is checked; it is sent as SNI with proxy_ssl_server_name on (the default here,
    as the role renders it) unless it is an IP address."""
    name = item.get("ssl_name")
    if name is None:
        name = url.host
    else:
        hostname(name, "ssl_name")
    sni_on = item.get("ssl_server_name")
    sni = None if sni_on is False or is_ip_literal(name) else name
    return sni, name


def host_header(url_host, explicit_port, preserve_host=False, client_host=None):
    """$proxy_host (proxy_set_header Host's default): the URL host, plus ':port' when the URL's port is not the
    scheme's default (443 for https); with preserve_host the client's Host ($host, as the role renders it)."""
    if preserve_host:
        return client_host
    host = "[%s]" % url_host if ":" in url_host else url_host
    if explicit_port is not None and explicit_port != 443:
        return "%s:%d" % (host, explicit_port)
    return host


def protocol_range(protocols):
    """proxy_ssl_protocols as the (lowest, highest) protocol OpenSSL enables."""
    enabled = [p for p in PROTOCOL_ORDER if p in (protocols or DEFAULT_PROTOCOLS)]
    if not enabled:
        raise ValueError("no protocol enabled")
    return enabled[0], enabled[-1]


def verify_decision(verify, errnum, errdepth, preverify_ok):
    """ngx_ssl_verify_callback(): never ends the handshake; an error is recorded (the last one is what
    SSL_get_verify_result() returns to nginx). With proxy_ssl_verify off nothing is recorded."""
    if verify == "none" or preverify_ok:
        return True, None
    return True, {"kind": "verify_error", "errnum": errnum, "errdepth": errdepth}


def check_settings(tls):
    """Refuse what nginx cannot express (ConfigError naming the option and nginx's way), and what nginx -t refuses
    (_Refused with the reason: proxy_ssl_verify on without proxy_ssl_trusted_certificate)."""
    if tls["verify"] == "require" and not tls.get("ca_file") and not tls.get("ca_path"):
        raise _Refused("no_ca_configured", "ca_file: not set, and nginx -t refuses proxy_ssl_verify on without "
                                           "proxy_ssl_trusted_certificate", "ca_file")
    if tls["verify"] in ("optional", "optional_no_ca"):
        raise ConfigError("verify: %s: nginx verifies or not (proxy_ssl_verify on|off); use require or none"
                          % tls["verify"])
    if tls["verify"] == "require" and not (tls["check_peer_name"] and tls["check_peer_expire"]):
        key = "check_peer_name" if not tls["check_peer_name"] else "check_peer_expire"
        raise ConfigError("%s: false: nginx checks the name and the dates whenever it verifies "
                          "(proxy_ssl_verify on); only verify: none turns the checks off" % key)
    for key, what in (("ca_path", "trusted CAs: proxy_ssl_trusted_certificate"),
                      ("crl_path", "CRLs: proxy_ssl_crl")):
        if tls.get(key):
            raise ConfigError("%s: nginx has no directory of %s is one file (concatenate the PEM files)"
                              % (key, what))
    if tls.get("crl_file") and tls["crl_check"] == "leaf":
        raise ConfigError("crl_check: leaf: nginx checks the CRL of every CA of the chain (proxy_ssl_crl); use "
                          "chain and put each CA's CRL in crl_file")
    if tls.get("client_chain_file"):
        raise ConfigError("client_chain_file: nginx has no separate chain file: put the intermediates after the "
                          "certificate in client_cert_file (proxy_ssl_certificate)")
    if tls.get("client_cert_file") and not tls.get("client_key_file"):
        raise ConfigError("client_key_file: nginx needs proxy_ssl_certificate_key with proxy_ssl_certificate (it "
                          "may name the same file)")


# ---------------------------------------------------------------------------------------------------------------------
# The verdict


def openssl_error(text, alert):
    """The OpenSSL error as nginx prints it in "(SSL: ...)": 'error:0A00042E:SSL routines::tlsv1 alert protocol
    version:SSL alert number 70' (the code from the reason; a received alert N is 1000 + N)."""
    text = text or ""
    reason = text.split("; ")[0]
    if alert is not None:
        return "error:0A%06X:SSL routines::%s:SSL alert number %d" % (1000 + alert, ALERT_TEXTS.get(alert, reason),
                                                                      alert)
    code = _REASON_CODES.get(reason)
    return "error:0A%06X:SSL routines::%s" % (code, reason) if code is not None else reason


def ssl_level(alert):
    """The level nginx logs an SSL_do_handshake()/SSL_read() failure at (ERROR_LEVEL_ALERTS)."""
    return "error" if alert is None or alert in ERROR_LEVEL_ALERTS else "crit"


def classify(facts, tls, checked_name=None, now=None):
    """Map probe facts to (reason, variant, fields) as nginx decides: DNS, connect, the handshake (only the
    backend or the protocol ends it), then with proxy_ssl_verify on the verify result and the name, then the
    response."""
    fields = {}
    if facts.get("dns_error") or facts.get("connect_error") or not facts.get("tls"):
        return _before_tls(facts, fields)
    hs = facts.get("handshake") or {}
    fields["ca_list"] = ", ".join(hs.get("ca_list") or []) or "(no list)"
    fields["client_subject"] = hs.get("client_cert_sent") or ""
    if not hs.get("ok"):
        return _handshake_reason(hs, fields)
    leaf = facts.get("leaf")
    if leaf is not None:
        fields.update(cert_fields(leaf, "err_"))
    if tls["verify"] != "none":
        event = hs.get("verify_event")
        if event:
            return _verify_reason(event, facts, tls, fields)
        dns, cns = cert_names(leaf) if leaf is not None else ([], [])
        fields["ids"] = ", ".join(dns or cns) or "(none)"
        if not check_host(checked_name, dns, cns):
            return ("ip_literal_name" if is_ip_literal(checked_name or "") else "name_mismatch"), "default", fields
    if "response" not in facts:
        return "ok", "default", fields
    return _response_reason(facts["response"], hs, fields)


def _before_tls(facts, fields):
    if facts.get("dns_error"):
        fields["detail"] = facts["dns_error"]
        return "dns_failure", "default", fields
    if facts.get("connect_error"):
        kind, detail = facts["connect_error"]
        fields["detail"] = detail
        return {"refused": "connect_refused", "timeout": "connect_timeout"}.get(kind, "connect_failed"), \
            "default", fields
    resp = facts.get("response") or {}
    if is_tls_record(resp.get("rx_head") or b"") or resp.get("status") == 400 and \
            "plain HTTP" in (resp.get("head") or ""):
        fields["detail"] = resp.get("status_line") or "it answered with a TLS record"
        return "tls_backend_on_http_url", "default", fields
    return _response_reason(resp, {}, fields)


def _handshake_reason(hs, fields):
    err = hs.get("ssl_error") or ""
    alert = hs.get("alert")
    head = hs.get("rx_head") or b""
    fields["ssl_error"] = openssl_error(err, alert)
    fields["ssl_level"] = ssl_level(alert)
    if hs.get("timeout"):
        fields["detail"] = "received %d bytes" % hs["rx_total"] if hs.get("rx_total") else "the backend sent nothing"
        return "timeout", "default", fields
    if head and not is_tls_record(head):
        fields["detail"] = "first bytes: %r" % bytes(head[:32])
        fields["ssl_error"] = openssl_error("wrong version number", None)
        return ("plain_http_backend" if looks_like_http(head) else "not_tls"), "default", fields
    if hs.get("cert_requested") and alert is not None and alert != 70:
        fields["detail"] = "TLS 1.2: the handshake fails with alert %d (%s)" % (alert, err)
        return ("client_cert_rejected" if hs.get("client_cert_sent") else "client_cert_required"), "tls12", fields
    lower = err.lower()
    if "excessive message size" in lower:
        fields["detail"] = err
        return "certificate_too_large", "default", fields
    if alert == 70 or any(t in lower for t in _PROTOCOL_TEXTS):
        fields["detail"] = err
        return "tls_protocol_mismatch", "default", fields
    if any(t in lower for t in _CIPHER_TEXTS) or alert == 40:
        fields["detail"] = err
        return "tls_cipher_mismatch", "default", fields
    if hs.get("eof") and alert is None:
        fields["detail"] = "after %d bytes" % hs["rx_total"] if hs.get("rx_total") else "before it sent anything"
        return "connection_closed", "default", fields
    fields["detail"] = err or "unknown error"
    return "tls_handshake_failed", "default", fields


def _response_reason(resp, hs, fields):
    alert = resp.get("alert")
    err = resp.get("ssl_error") or ""
    fields["ssl_error"] = openssl_error(err, alert)
    fields["ssl_level"] = ssl_level(alert)
    if resp.get("too_long"):
        fields["detail"] = "%s longer than the proxy buffer" % (
            "status line" if resp["too_long"] == "status" else "header line")
        fields["status_line"] = (resp.get("status_line") or "")[:80]
        return "response_head_too_long", "default", fields
    if alert == 116 or (resp.get("status") is None and hs.get("cert_requested") and not hs.get("client_cert_sent")
                        and alert is not None):
        fields["detail"] = "TLS 1.3: the backend rejects the missing certificate after the handshake (%s)" % err
        return "client_cert_required", "default", fields
    if alert in _CLIENT_CERT_ALERTS and hs.get("client_cert_sent"):
        fields["detail"] = err
        return "client_cert_rejected", "default", fields
    status = resp.get("status")
    if status is None or resp.get("head_complete") is False and (resp.get("timeout") or resp.get("eof")):
        if resp.get("timeout"):
            return "response_timeout", "default", fields
        fields["detail"] = err or "connection closed"
        return "no_http_response", "default", fields
    fields["backend_status"] = status
    if status == 421:
        return "misdirected_request", "default", fields
    return "ok", "default", fields


def _trusted_subjects(ca_file):
    """The subjects (DER) of the certificates in the trusted-certificate file (empty when it cannot be read)."""
    from cryptography import x509

    try:
        data = read_regular_file(ca_file, CA_FILE_LIMIT, "ca_file")
    except (FileReadError, OSError, TypeError):
        return set()
    subjects = set()
    for block in data.split(b"-----END CERTIFICATE-----")[:-1]:
        try:
            subjects.add(x509.load_pem_x509_certificate(block + b"-----END CERTIFICATE-----\n").subject
                         .public_bytes())
        except ValueError:
            continue
    return subjects


def _verify_reason(event, facts, tls, fields):
    errnum, depth, cert = event["errnum"], event["errdepth"], event.get("cert")
    fields.update({"errnum": errnum, "errstr": x509_error_string(errnum), "errdepth": depth,
                   "verify_depth": tls.get("verify_depth"), "crl_check": tls.get("crl_check")})
    served = facts.get("served_chain") or []
    fields["served"] = len(served)
    if cert is not None:
        fields.update(cert_fields(cert, "err_"))
        fields["err_key"] = key_description(cert)
        fields["err_sig"] = signature_digest(cert)
        aki = authority_key_id(cert)
        fields["err_aki"] = ("authority key identifier %s" % aki) if aki else "no authority key identifier"
    if errnum != X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
        reason = VERIFY_ERROR_REASONS.get(errnum, "verify_failed")
        return reason, ("verify" if reason in ("expired", "not_yet_valid") else "default"), fields
    # 20: the chain OpenSSL built reaches no trusted CA. When it stopped past the depth limit and the issuer it
    # lacks is there (sent by the backend or in the trusted file), the depth is the cause.
    issuer = cert.issuer.public_bytes() if cert is not None else None
    present = issuer is not None and (any(c.subject.public_bytes() == issuer for c in served) or
                                      issuer in _trusted_subjects(tls.get("ca_file")))
    if depth > tls["verify_depth"] and present:
        fields["needed_depth"] = _needed_depth(served, tls)
        return "chain_too_long", "default", fields
    leaf_only = cert is not None and cert.issuer != cert.subject and len(served) == 1
    return ("incomplete_chain" if leaf_only else "untrusted_ca"), "default", fields


def _needed_depth(served, tls):
    """The number of intermediates between the leaf and a trusted CA (what proxy_ssl_verify_depth must be)."""
    trusted = _trusted_subjects(tls.get("ca_file"))
    for index, cert in enumerate(served):
        if cert.issuer.public_bytes() in trusted:
            return index
    return max(len(served) - 1, 1)


class NginxTLS(Semantics):
    """nginx 1.22's upstream TLS client as the checker's semantics: each method is the function above of the same
    name. The catalogue is attached by nginx/_catalogue (SEMANTICS), which adds nginx's log lines and fixes."""

    name = "nginx"
    default_ciphers = b"DEFAULT"
    backend_keys = ("ssl_name", "ssl_server_name")
    verify_after_handshake = True
    sends_file_chain = True

    _CLIENT_FILE_NOTES = {
        "encrypted_key": "nginx would need proxy_ssl_password_file, which the collection never renders",
        "no_certificate": "nginx -t fails: PEM_read_bio_X509_AUX() failed",
        "only_ca": "only CA certificates",
        "no_key": "nginx -t fails: no proxy_ssl_certificate_key",
        "key_mismatch": "nginx -t fails: key values mismatch",
        "trust_file": "nginx would not start",
    }

    def tls_names(self, backend_url, preserve_host=False, host=None):
        return backend_names(backend_url, {})

    def backend_names(self, backend_url, preserve_host, host, item):
        if preserve_host and not host:
            raise ConfigError("host: required when preserve_host is true (the Host header nginx sends with "
                              "proxy_set_header Host $host; nginx checks no name from it)")
        return backend_names(backend_url, item)

    def check_settings(self, tls):
        check_settings(tls)

    def host_header(self, url_host, explicit_port, preserve_host=False, client_host=None):
        return host_header(url_host, explicit_port, preserve_host, client_host)

    def protocol_range(self, protocols):
        return protocol_range(protocols)

    def cipher_string(self, ciphers):
        return ciphers

    def verify_decision(self, verify, verify_depth, errnum, errdepth, preverify_ok):
        return verify_decision(verify, errnum, errdepth, preverify_ok)

    def verify_depth_limit(self, verify_depth):
        return verify_depth

    def choose_client_cert(self, ca_names, client_certs):
        """proxy_ssl_certificate is sent whenever one is configured, whatever CAs the backend names."""
        return (0, "sent") if client_certs else (None, "none")

    def build_chain_issuers(self, cert, pool):
        return []

    def client_file_note(self, kind):
        return self._CLIENT_FILE_NOTES[kind]

    def classify(self, facts, tls, preserve_host=False, checked_name=None, now=None, is_ip=False):
        return classify(facts, tls, checked_name, now)


NGINX_TLS = NginxTLS()
