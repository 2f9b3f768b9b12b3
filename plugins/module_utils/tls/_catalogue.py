# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""The failure catalogue, the part every server shares: one entry per stable reason code of the backend_handshake
module, with what happened (title) and why (message, a template the checker fills for each backend) and the
reference numbers of the failure analysis ("f").

What a server adds (the log lines to expect, what the client gets, the fix in the server's own directives, the
insecure workaround) lives beside that server's renderer and is merged with this part by merge(); the merged
catalogue reaches the checker through the semantics object (_semantics.Semantics.catalogue), so this file never
names a server. scripts/gen_troubleshooting.py renders a merged catalogue into the troubleshooting guide.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import string

NEUTRAL = {
    "ok": {
        "f": [], "title": "The request succeeds",
        "message": "ok: {tls_version} {cipher}, certificate {subject} valid for {checked_name} until {not_after}",
    },
    "dns_failure": {
        "f": ["F-22"], "title": "The backend's name does not resolve on the proxy",
        "message": "DNS lookup of {host} failed on the proxy host: {detail}",
    },
    "connect_refused": {
        "f": ["F-21"], "title": "TCP connection refused",
        "message": "{address} refused the TCP connection (nothing listens on port {port})",
    },
    "connect_timeout": {
        "f": ["F-21"], "title": "TCP connect timed out (no answer: firewall, blackhole, wrong address)",
        "message": "no answer to the TCP connect to {address} within {timeout} s",
    },
    "connect_failed": {
        "f": ["F-21"], "title": "TCP connect failed (unreachable network or host)",
        "message": "TCP connect to {address} failed: {detail}",
    },
    "selinux_denied": {
        "f": [], "title": "SELinux forbids the proxy server to connect to the backend (RHEL family, enforcing)",
        "message": "the proxy server may not connect to {address}: SELinux (enforcing) denies its outbound "
                   "connections until the boolean that lets it connect to the network is on",
    },
    "timeout": {
        "f": [], "title": "The backend accepts TCP but does not complete the TLS handshake in time",
        "message": "TCP connected to {address}, but no TLS handshake within {timeout} s ({detail})",
    },
    "connection_closed": {
        "f": [], "title": "The backend closed the connection during the TLS handshake",
        "message": "{address} closed the connection during the TLS handshake ({detail})",
    },
    "plain_http_backend": {
        "f": ["F-14"], "title": "The backend speaks plain HTTP on an https:// URL",
        "message": "{address} answered the TLS ClientHello with plain HTTP ({detail})",
    },
    "not_tls": {
        "f": ["F-14"], "title": "The backend answers with something that is not TLS",
        "message": "{address} did not answer with TLS ({detail})",
    },
    "tls_protocol_mismatch": {
        "f": ["F-12"], "title": "No common TLS protocol version",
        "message": "no TLS version in common: the proxy allows {protocols}; {detail}",
    },
    "tls_cipher_mismatch": {
        "f": ["F-13"], "title": "No common cipher suite",
        "message": "no cipher suite in common ({detail})",
    },
    "tls_handshake_failed": {
        "f": [], "title": "The TLS handshake failed for another reason",
        "message": "TLS handshake with {address} failed: {detail}",
    },
    "untrusted_ca": {
        "f": ["F-1"], "title": "The backend's certificate is not signed by a configured CA",
        "message": "certificate chain of {address} is not trusted: error {errnum} ({errstr}) at depth {errdepth} for "
                   "{err_subject}",
    },
    "no_ca_configured": {
        "f": ["F-2"], "title": "Verification required without any CA",
        "message": "verify is {verify} but neither ca_file nor ca_path is set: the proxy does not use the system "
                   "trust store for backends, so every backend fails (error {errnum}: {errstr})",
    },
    "ca_file_missing_root": {
        "f": ["F-5"], "title": "The CA file holds an intermediate but not the root",
        "message": "the CA file has {err_subject} but not its issuer {err_issuer} (error {errnum}: {errstr})",
    },
    "incomplete_chain": {
        "f": ["F-4"], "title": "The issuer of the backend's certificate is neither sent nor trusted",
        "message": "{address} sent only {served} certificate(s): its certificate {err_subject} is issued by "
                   "{err_issuer} ({err_aki}), which the backend does not send and the configured CAs do not hold "
                   "(error {errnum}: {errstr}); that issuer may be a root or an intermediate CA",
    },
    "chain_too_long": {
        "f": ["F-3"], "title": "The chain is deeper than the verify depth",
        "message": "the chain needs depth {errdepth} but the verify depth is {verify_depth}",
    },
    "name_mismatch": {
        "f": ["F-6"], "title": "The certificate does not name the backend URL's host",
        "message": "certificate names {ids} do not match {checked_name}",
    },
    "preserve_host_name_mismatch": {
        "f": ["F-7", "F-8"], "title": "Preserve host: the public name is sent as SNI and checked",
        "message": "with preserve_host the proxy checks the client's Host {checked_name}, which certificate names "
                   "{ids} do not cover",
    },
    "ip_literal_name": {
        "f": ["F-9"], "title": "IP-literal backend URL: no SNI, and iPAddress SANs never match",
        "message": "the backend URL uses the IP {checked_name}: no SNI is sent and the string {checked_name} is "
                   "compared with dNSName SANs and CNs only ({ids}); iPAddress SANs are ignored",
    },
    "expired": {
        "f": ["F-10", "F-11"], "title": "The backend certificate has expired",
        "message": "certificate {err_subject} expired on {err_not_after}",
    },
    "not_yet_valid": {
        "f": ["F-10", "F-11"], "title": "The backend certificate is not yet valid",
        "message": "certificate {err_subject} is valid only from {err_not_before} (check the clocks)",
    },
    "revoked": {
        "f": [], "title": "The backend certificate is revoked (CRL)",
        "message": "certificate {err_subject} is revoked by the configured CRL",
    },
    "crl_error": {
        "f": ["F-25"], "title": "CRL checking is on but the CRL is missing, stale or invalid",
        "message": "CRL check ({crl_check}) failed for {err_subject}: error {errnum} ({errstr})",
    },
    "verify_failed": {
        "f": [], "title": "Certificate verification failed (other X.509 error)",
        "message": "certificate verification failed: error {errnum} ({errstr}) at depth {errdepth} for {err_subject}",
    },
    "weak_key": {
        "f": [], "title": "The backend's certificate key is too weak for OpenSSL's security level",
        "message": "certificate {err_subject} at depth {errdepth} has a weak key ({err_key}), below the proxy's "
                   "OpenSSL security level (error {errnum}: {errstr})",
    },
    "weak_signature": {
        "f": [], "title": "A certificate of the backend's chain is signed with SHA-1 or MD5",
        "message": "certificate {err_subject} at depth {errdepth} is signed with {err_sig} by {err_issuer}, which the "
                   "proxy's OpenSSL security level refuses (error {errnum}: {errstr})",
    },
    "certificate_too_large": {
        "f": [], "title": "The backend's certificate message is larger than OpenSSL accepts",
        "message": "{address} sent a certificate message larger than OpenSSL's 100 KiB limit (a certificate with "
                   "thousands of subjectAltNames, or a very long chain): {detail}",
    },
    "client_cert_required": {
        "f": ["F-16"], "title": "The backend requires a client certificate and none is configured",
        "message": "the backend asked for a client certificate (acceptable CAs: {ca_list}) and the proxy has none; "
                   "{detail}",
    },
    "client_cert_not_chosen": {
        "f": ["F-16"], "title": "None of the configured client certificates matches the backend's CA list",
        "message": "the backend accepts client certificates from {ca_list}; no configured certificate is issued by "
                   "one of them (directly or through the chain file), so the proxy sends none; {detail}",
    },
    "client_cert_rejected": {
        "f": ["F-16"], "title": "The backend rejected the client certificate",
        "message": "the backend rejected the client certificate {client_subject}: {detail}",
    },
    "client_cert_invalid": {
        "f": ["F-17"], "title": "The client certificate file is unusable: the server will not start",
        "message": "the client certificate cannot be used: {detail}",
    },
    "misdirected_request": {
        "f": ["F-23"], "title": "The backend answers 421: SNI and Host disagree",
        "message": "the backend answered 421 Misdirected Request: SNI {sni_label} and Host {host_header} select "
                   "different TLS setups on the backend",
    },
    "no_http_response": {
        "f": [], "title": "TLS works, but the backend closes without an HTTP response",
        "message": "the TLS handshake succeeded but {address} closed the connection without an HTTP status line "
                   "({detail})",
    },
    "response_timeout": {
        "f": [], "title": "TLS works, but no HTTP response in time",
        "message": "no HTTP status line from {address} within {timeout} s after the handshake",
    },
    "response_head_too_long": {
        "f": [], "title": "The backend's status line or a response header line is too long for the proxy",
        "message": "{address} sent a {detail}: the proxy answers 502",
    },
    "tls_backend_on_http_url": {
        "f": ["F-20"], "title": "An http:// URL points at a TLS port",
        "message": "{address} speaks TLS but the URL is http:// ({detail})",
    },
    "no_cipher_match": {
        "f": ["F-13"], "title": "The cipher list selects no cipher: the server will not start",
        "message": "the cipher list {ciphers} selects no cipher, so the server will not start ({detail})",
    },
    "invalid_input": {
        "f": [], "title": "The checker refused this backend's settings: nothing was checked",
        "message": "invalid input, not checked: {detail}",
    },
}

# The reasons, in the order the docs list them (NEUTRAL's order).
REASONS = tuple(NEUTRAL)

# What a server's part of an entry must hold (title and message override the neutral ones when the server words
# them with its own names; client_gets and http_status_<variant> are optional).
SERVER_KEYS = ("logs", "http_status", "fix", "insecure_workaround")


def merge(server_part):
    """The full catalogue of one server: each reason's neutral entry updated with the server's part, in REASONS
    order. Raises ValueError when the server's part misses a reason or a key, or knows a reason this file does not."""
    unknown = sorted(set(server_part) - set(NEUTRAL))
    missing = [reason for reason in REASONS if reason not in server_part]
    if unknown or missing:
        raise ValueError("server catalogue: unknown reasons %s, missing reasons %s" % (unknown, missing))
    merged = {}
    for reason in REASONS:
        part = server_part[reason]
        absent = [key for key in SERVER_KEYS if key not in part]
        if absent:
            raise ValueError("server catalogue: %s lacks %s" % (reason, ", ".join(absent)))
        entry = dict(NEUTRAL[reason])
        entry.update(part)
        merged[reason] = entry
    return merged


class _Defaulting(dict):
    def __missing__(self, key):
        return "<%s>" % key


def render(template, fields):
    if template is None:
        return None
    return string.Formatter().vformat(template, (), _Defaulting((k, v) for k, v in fields.items() if v is not None))


def entry_result(entry, fields, variant="default", log_keys=("server_log",)):
    """message, the server's log lines (under each of log_keys, the same list), http_status, fix,
    insecure_workaround and the reference numbers of a merged catalogue entry, filled with fields."""
    logs = entry["logs"].get(variant) or entry["logs"]["default"]
    lines = [{"level": level, "line": render(line, fields)} for level, line in logs]
    result = {"message": render(entry["message"], fields)}
    for key in log_keys:
        result[key] = lines
    result.update({
        "http_status": entry.get("http_status_" + variant, entry["http_status"]),
        "fix": render(entry["fix"], fields),
        "insecure_workaround": render(entry["insecure_workaround"], fields),
        "catalogue": list(entry["f"]),
    })
    return result
