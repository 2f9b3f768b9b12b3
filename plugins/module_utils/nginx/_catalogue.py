# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""nginx's part of the failure catalogue: for each reason of tls/_catalogue (same keys), the error-log lines nginx
1.22 / OpenSSL 3.0 writes (timestamp, pid, connection number and the ", client: ..." context stripped), what the
client gets (502; 504 for timeouts), the fix in nginx's directives and the insecure workaround; a title or message
that names nginx's directives replaces the neutral one.

Each line carries the error_log level at which it first shows ("error", the level of every upstream failure here,
or "startup": written by nginx -t and at start, when nginx refuses the configuration). The real lines are those of
tests/integration/test_nginx_oracle.py, which compares them with a real nginx.

CATALOGUE is the merged catalogue (neutral part + this one); SEMANTICS is nginx's semantics (tls/_nginx.NGINX_TLS)
reporting through it, which backend_handshake hands to the checker with server: nginx (with N1's capability profile
nginx/_capabilities.NGINX for the sites it validates, once that profile exists).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.revproxy.tls.plugins.module_utils.tls import _catalogue
from ansible_collections.revproxy.tls.plugins.module_utils.tls._nginx import NGINX_TLS

try:  # the nginx room's capability profile (the role's rules), when it is there
    from ansible_collections.revproxy.tls.plugins.module_utils.nginx._capabilities import NGINX as _PROFILE
except ImportError:  # pragma: no cover - checks of explicit backends need no profile
    _PROFILE = None

_HS = " while SSL handshaking to upstream"
_READ = " while reading response header from upstream"
_CONNECT = " while connecting to upstream"


def _error(text):
    return [("error", "[error] " + text)]


# The level of these two follows the alert (tls/_nginx.ssl_level): [error] for most, [crit] for the others.
_HANDSHAKE_FAILED = [("error", "[{ssl_level}] SSL_do_handshake() failed (SSL: {ssl_error})" + _HS)]
_READ_FAILED = [("error", "[{ssl_level}] SSL_read() failed (SSL: {ssl_error})" + _READ)]
_VERIFY = _error("upstream SSL certificate verify error: ({errnum}:{errstr})" + _HS)
_NAME = _error('upstream SSL certificate does not match "{checked_name}"' + _HS)
_VERIFY_OFF = "proxy_ssl_verify off (backend_tls.verify: none; also nginx's own default, while this collection " \
              "renders on): nothing is then checked, not the chain, the name or the dates, and anyone on the path " \
              "can impersonate the backend"


def _entry(logs, status, fix, insecure=None, **extra):
    entry = {"logs": logs if isinstance(logs, dict) else {"default": logs}, "http_status": status, "fix": fix,
             "insecure_workaround": insecure}
    entry.update(extra)
    return entry


SERVER_PART = {
    "ok": _entry([], None, None),
    "dns_failure": _entry(
        [("startup", '[emerg] host not found in upstream "{host}" in <config file>')], None,
        "Make {host} resolvable on the proxy host (DNS or /etc/hosts) before nginx starts or reloads: nginx "
        "resolves a proxy_pass host when it reads its configuration, and refuses the whole configuration otherwise.",
        message="DNS lookup of {host} failed on the proxy host ({detail}): nginx resolves proxy_pass hosts when it "
                "reads its configuration, so nginx -t fails and nginx does not start or reload"),
    "connect_refused": _entry(
        _error("connect() failed (111: Connection refused)" + _CONNECT), 502,
        "Start the backend or fix the port in proxy_pass. In an upstream group nginx marks the server failed "
        "for fail_timeout (10 s) after max_fails (1) and tries the next one (proxy_next_upstream error timeout)."),
    "connect_timeout": _entry(
        _error("upstream timed out (110: Connection timed out)" + _CONNECT), 504,
        "Fix the route or firewall between the proxy and {address}; proxy_connect_timeout (default 60 s) bounds "
        "the wait."),
    "connect_failed": _entry(
        _error("connect() failed ({detail})" + _CONNECT), 502, "Fix the network path from the proxy to {address}."),
    "selinux_denied": _entry(
        _error("connect() failed (13: Permission denied)" + _CONNECT), 502,
        "Turn the SELinux boolean on, persistently: `setsebool -P httpd_can_network_connect 1` (nginx runs as "
        "httpd_t). The denial is in the audit log: `ausearch -m AVC -c nginx` (name_connect).",
        title="SELinux forbids nginx to connect to the backend (RHEL family, enforcing)",
        message="nginx may not connect to {address}: SELinux (enforcing) denies httpd_t outbound connections until "
                "the boolean httpd_can_network_connect is on"),
    "timeout": _entry(
        _error("upstream timed out (110: Connection timed out)" + _HS), 504,
        "Make the backend complete TLS handshakes; check it speaks TLS on this port. proxy_connect_timeout (default "
        "60 s) bounds the handshake too."),
    "connection_closed": _entry(
        _error("peer closed connection in SSL handshake" + _HS), 502,
        "Look at the backend's log: it drops the handshake (protocol or cipher policy, SNI it does not know: set "
        "proxy_ssl_server_name on and proxy_ssl_name to a name it serves)."),
    "plain_http_backend": _entry(
        _HANDSHAKE_FAILED, 502, "Use http:// in proxy_pass for a plain-HTTP backend, or enable TLS on it.",
        "INSECURE: proxy_pass http://... sends the traffic in clear text."),
    "not_tls": _entry(_HANDSHAKE_FAILED, 502, "Point proxy_pass at the backend's TLS port."),
    "tls_protocol_mismatch": _entry(
        _HANDSHAKE_FAILED, 502,
        "proxy_ssl_protocols with a version the backend speaks: TLSv1.2 TLSv1.3 (backend_tls.protocols, the "
        "collection's default). nginx 1.22's own default, when the directive is absent, is TLSv1 TLSv1.1 TLSv1.2, "
        "so a TLS 1.3-only backend fails without it.",
        "INSECURE: adding TLSv1 or TLSv1.1 to proxy_ssl_protocols."),
    "tls_cipher_mismatch": _entry(
        _HANDSHAKE_FAILED, 502, "Give proxy_ssl_ciphers (backend_tls.ciphers) a suite the backend offers, or "
                                "leave it unset (OpenSSL's DEFAULT).", "INSECURE: weak ciphers in proxy_ssl_ciphers."),
    "tls_handshake_failed": _entry(_HANDSHAKE_FAILED, 502, "Read the OpenSSL error in the log line; compare "
                                                           "`openssl s_client -connect {address}` from the proxy."),
    "untrusted_ca": _entry(
        _VERIFY, 502,
        "Put the CA that issued the backend's chain in proxy_ssl_trusted_certificate (backend_tls.ca_file; one "
        "PEM file, nginx has no CA directory). For publicly signed backends: the OS bundle.",
        "INSECURE: " + _VERIFY_OFF + "."),
    "no_ca_configured": _entry(
        [("startup", "[emerg] no proxy_ssl_trusted_certificate for proxy_ssl_verify")], None,
        "proxy_ssl_trusted_certificate (backend_tls.ca_file) with the CA of the backend: nginx -t refuses "
        "proxy_ssl_verify on without it.", "INSECURE: " + _VERIFY_OFF + ".",
        message="proxy_ssl_verify is on but no proxy_ssl_trusted_certificate is set: nginx -t refuses the "
                "configuration and nginx does not start or reload"),
    "ca_file_missing_root": _entry(
        _VERIFY, 502, "Add the root CA above {err_issuer} to proxy_ssl_trusted_certificate (nginx does not accept "
                      "an intermediate alone as a trust anchor).",
        message="proxy_ssl_trusted_certificate has {err_subject} but not its issuer {err_issuer} "
                "(error {errnum}: {errstr})"),
    "incomplete_chain": _entry(
        _VERIFY, 502,
        "Either trust that CA (proxy_ssl_trusted_certificate, backend_tls.ca_file) if {err_issuer} is the CA you "
        "run, or have the backend send its full chain (leaf + intermediates) and trust the root above it.",
        "INSECURE: " + _VERIFY_OFF + "."),
    "chain_too_long": _entry(
        _VERIFY, 502,
        "proxy_ssl_verify_depth {needed_depth} or more (backend_tls.verify_depth): nginx hands it to OpenSSL, which "
        "counts intermediates (depth 1 accepts leaf + one intermediate + root; nginx's default is 1, the "
        "collection renders 4).",
        title="The chain has more intermediates than proxy_ssl_verify_depth allows",
        message="the chain of {address} has more intermediates than proxy_ssl_verify_depth {verify_depth} allows: "
                "OpenSSL stops building it at depth {errdepth} and reports error {errnum} ({errstr}), not 'chain too "
                "long'"),
    "name_mismatch": _entry(
        _NAME, 502,
        "Set proxy_ssl_name to a name in the backend certificate's subjectAltName (the collection renders each "
        "server's own host), or reissue the certificate with DNS:{checked_name}.",
        "INSECURE: " + _VERIFY_OFF + " (nginx cannot skip the name alone).",
        title="The certificate does not name the name nginx checks (proxy_ssl_name)",
        message="certificate names {ids} do not match {checked_name}, the name nginx checks: proxy_ssl_name, by "
                "default the proxy_pass host, which for an upstream block is the group's name (checked with SNI "
                "off too; a wildcard never covers a single-label name)"),
    "preserve_host_name_mismatch": _entry(
        _NAME, 502, "Set proxy_ssl_name to a name the backend certificate covers.", "INSECURE: " + _VERIFY_OFF + ".",
        title="Not with nginx: the client's Host is neither sent as SNI nor checked (proxy_ssl_name is)",
        message="certificate names {ids} do not match {checked_name}, the name nginx checks (proxy_ssl_name; the "
                "client's Host is never checked by nginx)"),
    "ip_literal_name": _entry(
        _NAME, 502,
        "Use a DNS name that is in the certificate's subjectAltName as proxy_ssl_name (the address may stay in "
        "proxy_pass).", "INSECURE: " + _VERIFY_OFF + ".",
        message="nginx checks the IP {checked_name} as a string against dNSName SANs and CNs ({ids}); iPAddress SANs "
                "never match, and no SNI is sent for an address"),
    "expired": _entry(
        {"default": _VERIFY, "verify": _VERIFY}, 502, "Renew the backend certificate.",
        "INSECURE: " + _VERIFY_OFF + " (nginx cannot skip the dates alone)."),
    "not_yet_valid": _entry(
        {"default": _VERIFY, "verify": _VERIFY}, 502,
        "Fix the clock of the proxy or of the CA, or wait until notBefore; reissue the certificate.",
        "INSECURE: " + _VERIFY_OFF + "."),
    "revoked": _entry(_VERIFY, 502, "Issue the backend a new certificate.",
                      "INSECURE: remove proxy_ssl_crl (backend_tls.crl_file)."),
    "crl_error": _entry(
        _VERIFY, 502,
        "Put a current CRL of every CA of the chain, root included, in proxy_ssl_crl (backend_tls.crl_file, one "
        "file): nginx checks the whole chain (CRL_CHECK_ALL), so the issuing CA's CRL alone fails with error 3.",
        "INSECURE: remove proxy_ssl_crl."),
    "verify_failed": _entry(_VERIFY, 502, "Reissue the backend certificate so that OpenSSL accepts the chain.",
                            "INSECURE: " + _VERIFY_OFF + "."),
    "weak_key": _entry(
        _VERIFY, 502, "Reissue {err_subject} (depth {errdepth}) with an RSA key of at least 2048 bits or an ECDSA "
                      "P-256 key (OpenSSL's security level 2, the Debian and RHEL default).",
        "INSECURE: proxy_ssl_ciphers DEFAULT:@SECLEVEL=1 (RSA 1024) or @SECLEVEL=0, or " + _VERIFY_OFF + "."),
    "weak_signature": _entry(
        _VERIFY, 502, "Have {err_issuer} reissue {err_subject} with a SHA-256 (or stronger) signature.",
        "INSECURE: proxy_ssl_ciphers DEFAULT:@SECLEVEL=0, or " + _VERIFY_OFF + "."),
    "certificate_too_large": _entry(
        _HANDSHAKE_FAILED, 502, "Give the backend a smaller certificate (fewer subjectAltNames, only the "
                                "intermediates the chain needs): nginx keeps OpenSSL's 100 KiB limit."),
    "client_cert_required": _entry(
        {"default": [("crit", "[crit] SSL_read() failed (SSL: {ssl_error})" + _READ)], "tls12": _HANDSHAKE_FAILED},
        502,
        "proxy_ssl_certificate and proxy_ssl_certificate_key (backend_tls.client_cert_file/client_key_file) with a "
        "certificate issued by one of {ca_list}, its intermediates after it in the same file.",
        message="the backend asked for a client certificate (acceptable CAs: {ca_list}) and nginx has none "
                "(proxy_ssl_certificate); {detail}"),
    "client_cert_not_chosen": _entry(
        {"default": _READ_FAILED, "tls12": _HANDSHAKE_FAILED}, 502,
        "nginx sends proxy_ssl_certificate whatever CAs the backend names: use a certificate from one of {ca_list}.",
        title="Not with nginx: it sends proxy_ssl_certificate whatever CAs the backend names (client_cert_rejected)",
        message="the backend accepts client certificates from {ca_list}; nginx sends proxy_ssl_certificate without "
                "looking at that list; {detail}"),
    "client_cert_rejected": _entry(
        {"default": _READ_FAILED, "tls12": _HANDSHAKE_FAILED}, 502,
        "Use a client certificate the backend trusts (issued by its client CA, not expired, clientAuth), with its "
        "intermediates after it in the proxy_ssl_certificate file (nginx has no separate chain file)."),
    "client_cert_invalid": _entry(
        [("startup", "[emerg] cannot load certificate or key for proxy_ssl_certificate")], None,
        "proxy_ssl_certificate needs the certificate (then its intermediates) and proxy_ssl_certificate_key its "
        "unencrypted, matching key (PEM, mode 0600, owned by root).",
        title="The client certificate file is unusable: nginx -t fails",
        message="the client certificate cannot be used by nginx: {detail}"),
    "misdirected_request": _entry(
        [], 421, "Keep SNI and Host consistent: proxy_ssl_name and the Host nginx sends (proxy_set_header Host) must "
                 "select the same site on the backend."),
    "no_http_response": _entry(
        _error("upstream prematurely closed connection" + _READ), 502,
        "Look at the backend's log: it does not speak HTTP/1.x on this port, or rejects the request."),
    "response_timeout": _entry(
        _error("upstream timed out (110: Connection timed out)" + _READ), 504,
        "Make the backend answer faster, or raise proxy_read_timeout (default 60 s)."),
    "response_head_too_long": _entry(
        _error("upstream sent too big header" + _READ), 502,
        "Fix the backend, or raise proxy_buffer_size (default one memory page, 4 KiB: nginx's limit is on the whole "
        "response head, not on each line).",
        title="The backend's response head is too big for nginx's proxy buffer",
        message="{address} sent a {detail}: nginx answers 502"),
    "tls_backend_on_http_url": _entry(
        _error("upstream prematurely closed connection" + _READ), 502,
        "Use https:// in proxy_pass (and the proxy_ssl_* settings)."),
    "no_cipher_match": _entry(
        [("startup", '[emerg] SSL_CTX_set_cipher_list("{ciphers}") failed (SSL: error:0A0000B9:SSL routines::no '
                     'cipher match)')], None,
        "Give proxy_ssl_ciphers (backend_tls.ciphers) a list that selects a cipher, or leave it unset.",
        title="proxy_ssl_ciphers selects no cipher: nginx -t fails",
        message="proxy_ssl_ciphers {ciphers} selects no cipher, so nginx -t fails and nginx does not start "
                "({detail})"),
    "invalid_input": _entry(
        [], None, "Correct the field named in the message ({field}); the other backends were checked.",
        client_gets="not checked"),
}

CATALOGUE = _catalogue.merge(SERVER_PART)
REASONS = _catalogue.REASONS
SEMANTICS = NGINX_TLS.with_catalogue(CATALOGUE, ("server_log",), profile=_PROFILE)


def entry_result(reason, fields, variant="default"):
    """message, server_log, http_status, fix, insecure_workaround and the reference numbers of a reason."""
    return SEMANTICS.entry_result(reason, fields, variant)
