# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""Apache's part of the failure catalogue: for each reason of tls/_catalogue (same keys), the log lines Apache
2.4.71 / OpenSSL 3.0 writes (timestamp, pid and client stripped), what the client gets, the fix in Apache's
directives and the insecure workaround; a title or message that names Apache's directives replaces the neutral one.

Each log line carries the LogLevel at which it first shows: "warn" (Apache's default), "ssl:info" or "ssl:debug";
"startup" lines are written when httpd starts. AH02039 is written only below ssl:info; at ssl:info and above AH02276
(same text plus the certificate) replaces it.

CATALOGUE is the merged catalogue (neutral part + this one) the error-log explainer, the post-reload probe, the report
and scripts/gen_troubleshooting.py read; SEMANTICS is mod_ssl's semantics reporting through it (with Apache's
capability profile for the sites it validates), which backend_handshake hands to the checker. Results carry the log
lines as server_log and, deprecated, as apache_log.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.revproxy.tls.plugins.module_utils.apache._capabilities import APACHE
from ansible_collections.revproxy.tls.plugins.module_utils.tls import _catalogue
from ansible_collections.revproxy.tls.plugins.module_utils.tls._mod_ssl import MOD_SSL

# The common tail of every handshake failure (F-1 .. F-14), visible at LogLevel warn; the client gets 500.
_TAIL = [
    ("warn", "[proxy:error] (20014)Internal error (specific information not available): AH01084: pass request body "
             "failed to {address} ({host})"),
    ("warn", "[proxy:error] AH00898: Error during SSL Handshake with remote server returned by {path}"),
    ("warn", "[proxy_http:error] AH01097: pass request body failed to {address} ({host}) from <client> ()"),
]
_INFO_CONNECT_FAILED = [
    ("ssl:info", "[ssl:info] AH02003: SSL Proxy connect failed"),
    ("ssl:info", "[ssl:info] SSL Library Error: {ssl_error}"),
]
_VERIFY = [
    ("warn", "[ssl:error] AH02039: Certificate Verification: Error ({errnum}): {errstr}"),
    ("ssl:info", "[ssl:info] AH02276: Certificate Verification: Error ({errnum}): {errstr} [subject: {err_subject} / "
                 "issuer: {err_issuer} / ...]"),
    ("ssl:info", "[ssl:info] AH02003: SSL Proxy connect failed"),
    ("ssl:info", "[ssl:info] SSL Library Error: error:0A000086:SSL routines::certificate verify failed"),
] + _TAIL
_READ_FAILED = [
    ("warn", "[proxy_http:error] (70014)End of file found: AH01102: error reading status line from remote server "
             "{host}:{port}"),
    ("warn", "[proxy:error] AH00898: Error reading from remote server returned by {path}"),
]
_NAME = [
    ("ssl:info", "[ssl:info] AH02411: SSL Proxy: Peer certificate does not match for hostname {checked_name}"),
    ("ssl:debug", "[ssl:debug] AH02412: [<vhost>] Cert does not match for name '{checked_name}' [subject: "
                  "{subject} / issuer: {issuer} / ...]"),
] + _TAIL
_EXPIRE_POST = [("ssl:info", "[ssl:info] AH02004: SSL Proxy: Peer certificate is expired")] + _TAIL

_VERIFY_OFF = "SSLProxyVerify none (backend_tls.verify: none; also mod_ssl's own default when the directive is " \
              "absent, while this collection renders require): the CA chain is then not checked at all, and anyone " \
              "on the path can impersonate the backend"

# The OS trust bundle for publicly signed backends, by platform family (the fix names them all: it is read on the
# proxy host, in an execution environment and in the docs alike).
SYSTEM_CA_BUNDLES = (
    ("Debian/Ubuntu", "/etc/ssl/certs/ca-certificates.crt"),
    ("RHEL/Fedora", "/etc/pki/tls/certs/ca-bundle.crt"),
    ("SUSE", "/etc/ssl/ca-bundle.pem"),
    ("Alpine", "/etc/ssl/cert.pem"),
)
SYSTEM_CA_BUNDLES_TEXT = "; ".join("%s: %s" % pair for pair in SYSTEM_CA_BUNDLES)

SERVER_PART = {
    "ok": {
        "logs": {"default": []},
        "http_status": None,
        "fix": None,
        "insecure_workaround": None,
    },
    "dns_failure": {
        "logs": {"default": [("warn", "[proxy:error] {detail}: AH00898: DNS lookup failure for: {host} returned by "
                                      "{path}")]},
        "http_status": 500,
        "fix": "Make {host} resolvable on the proxy host (DNS or /etc/hosts), or use a name that resolves in "
               "ProxyPass.",
        "insecure_workaround": None,
    },
    "connect_refused": {
        "logs": {"default": [
            ("warn", "[proxy:error] (111)Connection refused: AH00957: {scheme}: attempt to connect to {address} "
                     "({host}:{port}) failed"),
            ("warn", "[proxy_http:error] AH01114: HTTP: failed to make connection to backend: {host}"),
            ("warn", "[proxy:error] AH00959: ap_proxy_connect_backend disabling worker for ({host}:{port}) for 60s"),
        ]},
        "http_status": 503,
        "fix": "Start the backend or fix the port in ProxyPass. Until the worker's retry (default 60 s) expires "
               "Apache answers 503 without trying again (AH00940); tune retry= and connectiontimeout= on ProxyPass.",
        "insecure_workaround": None,
    },
    "connect_timeout": {
        "logs": {"default": [
            ("warn", "[proxy:error] (70007)The timeout specified has expired: AH00957: {scheme}: attempt to connect "
                     "to {address} ({host}:{port}) failed"),
            ("warn", "[proxy_http:error] AH01114: HTTP: failed to make connection to backend: {host}"),
        ]},
        "http_status": 503,
        "fix": "Fix the route or firewall between the proxy and {address}, or the address in DNS. Set "
               "connectiontimeout= on ProxyPass so clients do not wait for the full timeout.",
        "insecure_workaround": None,
    },
    "connect_failed": {
        "logs": {"default": [
            ("warn", "[proxy:error] ({detail}): AH00957: {scheme}: attempt to connect to {address} ({host}:{port}) "
                     "failed"),
            ("warn", "[proxy_http:error] AH01114: HTTP: failed to make connection to backend: {host}"),
        ]},
        "http_status": 503,
        "fix": "Fix the network path from the proxy to {address}.",
        "insecure_workaround": None,
    },
    "selinux_denied": {
        "title": "SELinux forbids httpd to connect to the backend (RHEL family, enforcing)",
        "message": "httpd may not connect to {address}: SELinux (enforcing) denies httpd_t outbound connections "
                   "until the boolean httpd_can_network_connect is on",
        "logs": {"default": [
            ("warn", "[proxy:error] (13)Permission denied: AH00957: {scheme}: attempt to connect to {address} "
                     "({host}:{port}) failed"),
            ("warn", "[proxy_http:error] AH01114: HTTP: failed to make connection to backend: {host}"),
            ("warn", "[proxy:error] AH00959: ap_proxy_connect_backend disabling worker for ({host}:{port}) for 60s"),
        ]},
        "http_status": 503,
        "fix": "Turn the SELinux boolean on, persistently: `setsebool -P httpd_can_network_connect 1` (the "
               "apache_proxy role does it where SELinux enforces, unless apache_proxy_selinux_network_connect is "
               "false). The denial is in the audit log: `ausearch -m AVC -c httpd` (name_connect). "
               "A curl from a shell works meanwhile: only httpd_t is confined.",
        "insecure_workaround": None,
    },
    "timeout": {
        "logs": {"default": [
            ("warn", "[proxy:error] (70007)The timeout specified has expired: AH01084: pass request body failed to "
                     "{address} ({host})"),
            ("warn", "[proxy:error] AH00898: Error during SSL Handshake with remote server returned by {path}"),
            ("warn", "[proxy_http:error] AH01097: pass request body failed to {address} ({host}) from <client> ()"),
        ]},
        "http_status": 500,
        "fix": "Check that {address} really is the TLS port of the backend and that the backend is not overloaded; "
               "Apache waits for ProxyPass timeout= (default ProxyTimeout/Timeout, 60 s) before it gives up.",
        "insecure_workaround": None,
    },
    "connection_closed": {
        "logs": {"default": _INFO_CONNECT_FAILED + _TAIL},
        "http_status": 500,
        "fix": "Look at the backend's own log: it refused the handshake (SNI {sni_label} unknown to it, access "
               "rules, or a crash).",
        "insecure_workaround": None,
    },
    "plain_http_backend": {
        "logs": {"default": [
            ("ssl:info", "[ssl:info] AH02003: SSL Proxy connect failed"),
            ("ssl:info", "[ssl:info] SSL Library Error: error:0A00010B:SSL routines::wrong version number"),
        ] + _TAIL},
        "http_status": 500,
        "fix": "Use http:// in ProxyPass for this backend, or enable TLS on the backend.",
        "insecure_workaround": None,
    },
    "not_tls": {
        "logs": {"default": _INFO_CONNECT_FAILED + _TAIL},
        "http_status": 500,
        "fix": "Point ProxyPass at the backend's TLS port; {address} runs another protocol.",
        "insecure_workaround": None,
    },
    "tls_protocol_mismatch": {
        "logs": {"default": _INFO_CONNECT_FAILED + _TAIL},
        "http_status": 500,
        "fix": "Align SSLProxyProtocol (backend_tls.protocols) with the backend; prefer upgrading the backend to "
               "TLS 1.2/1.3 over lowering the proxy.",
        "insecure_workaround": "INSECURE: enable TLSv1/TLSv1.1 in SSLProxyProtocol or lower the OpenSSL security "
                               "level (SSLProxyCipherSuite ...@SECLEVEL=0).",
    },
    "tls_cipher_mismatch": {
        "logs": {"default": _INFO_CONNECT_FAILED + _TAIL},
        "http_status": 500,
        "fix": "Align SSLProxyCipherSuite (backend_tls.ciphers) with the backend's ciphers.",
        "insecure_workaround": "INSECURE: enable weak ciphers in SSLProxyCipherSuite.",
    },
    "tls_handshake_failed": {
        "logs": {"default": _INFO_CONNECT_FAILED + _TAIL},
        "http_status": 500,
        "fix": "Read the SSL Library Error at LogLevel ssl:info and the backend's log.",
        "insecure_workaround": None,
    },
    "untrusted_ca": {
        "title": "The backend's certificate is not signed by a CA in SSLProxyCACertificateFile/Path",
        "logs": {"default": _VERIFY},
        "http_status": 500,
        "fix": "Put the backend's CA (or the pinned self-signed certificate) in SSLProxyCACertificateFile "
               "(backend_tls.ca_file / ca_content).",
        "insecure_workaround": "INSECURE: " + _VERIFY_OFF + ".",
    },
    "no_ca_configured": {
        "title": "SSLProxyVerify require without any CA",
        "message": "verify is {verify} but neither ca_file nor ca_path is set: mod_ssl never uses the system trust "
                   "store for backends, so every backend fails (error {errnum}: {errstr})",
        "logs": {"default": [
            ("startup", "[ssl:warn] AH01897: Init: Oops, you want to request client authentication, but no CAs are "
                        "known for verification!?  [Hint: SSLCACertificate*]"),
        ] + _VERIFY},
        "http_status": 500,
        "fix": "Set SSLProxyCACertificateFile (backend_tls.ca_file): the backend's private CA, or for publicly "
               "signed backends the OS trust bundle (" + SYSTEM_CA_BUNDLES_TEXT + ").",
        "insecure_workaround": "INSECURE: " + _VERIFY_OFF + ".",
    },
    "ca_file_missing_root": {
        "logs": {"default": _VERIFY},
        "http_status": 500,
        "fix": "Add the root CA ({err_issuer}) to SSLProxyCACertificateFile: OpenSSL needs a self-signed anchor "
               "(mod_ssl does not enable partial chains).",
        "insecure_workaround": None,
    },
    "incomplete_chain": {
        "message": "{address} sent only {served} certificate(s): its certificate {err_subject} is issued by "
                   "{err_issuer} ({err_aki}), which the backend does not send and SSLProxyCACertificateFile/Path "
                   "does not hold (error {errnum}: {errstr}); that issuer may be a root or an intermediate CA",
        "logs": {"default": _VERIFY},
        "http_status": 500,
        "fix": "Either trust that CA: if {err_issuer} is the CA you run (a one-tier private CA signs leaves with "
               "its root), put its certificate in SSLProxyCACertificateFile (backend_tls.ca_file); or, if it is an "
               "intermediate, have the backend send its full chain (leaf + intermediates) and trust the root above "
               "it. Compare {err_aki} with the subject key identifier of the CA certificates you have "
               "(openssl x509 -noout -subject -ext subjectKeyIdentifier -in ca.pem).",
        "insecure_workaround": "INSECURE: " + _VERIFY_OFF + ".",
    },
    "chain_too_long": {
        "title": "The chain is deeper than SSLProxyVerifyDepth",
        "message": "the chain needs depth {errdepth} but SSLProxyVerifyDepth is {verify_depth} (mod_ssl counts the "
                   "root of leaf -> intermediate -> root as depth 2)",
        "logs": {"default": [
            ("warn", "[ssl:error] AH02040: Certificate Verification: Certificate Chain too long (chain has "
                     "{errdepth} certificates, but maximum allowed are only {verify_depth})"),
            ("ssl:info", "[ssl:info] AH02003: SSL Proxy connect failed"),
            ("ssl:info", "[ssl:info] SSL Library Error: error:0A000086:SSL routines::certificate verify failed"),
        ] + _TAIL},
        "http_status": 500,
        "fix": "SSLProxyVerifyDepth {errdepth} or more (backend_tls.verify_depth; the collection's default is 4).",
        "insecure_workaround": None,
    },
    "name_mismatch": {
        "title": "The certificate does not name the ProxyPass host",
        "logs": {"default": _NAME},
        "http_status": 500,
        "fix": "Use a ProxyPass host that is in the backend certificate's subjectAltName (point DNS or /etc/hosts "
               "at the backend), or reissue the certificate with DNS:{checked_name}.",
        "insecure_workaround": "INSECURE: SSLProxyCheckPeerName off (backend_tls.check_peer_name: false).",
    },
    "preserve_host_name_mismatch": {
        "title": "ProxyPreserveHost On: the public name is sent as SNI and checked",
        "message": "with preserve_host Apache checks the client's Host {checked_name}, which certificate names {ids} "
                   "do not cover",
        "logs": {"default": _NAME},
        "http_status": 500,
        "fix": "ProxyPreserveHost Off (the application gets the public name from X-Forwarded-Host), or a backend "
               "certificate that covers every ServerName/ServerAlias ({checked_name}).",
        "insecure_workaround": "INSECURE: SSLProxyCheckPeerName off (the blog fix).",
    },
    "ip_literal_name": {
        "message": "ProxyPass uses the IP {checked_name}: mod_ssl sends no SNI and compares the string "
                   "{checked_name} with dNSName SANs and CNs only ({ids}); iPAddress SANs are ignored",
        "logs": {"default": _NAME},
        "http_status": 500,
        "fix": "Use a DNS name that is in the certificate's subjectAltName in ProxyPass (add it to DNS or "
               "/etc/hosts on the proxy).",
        "insecure_workaround": "INSECURE: SSLProxyCheckPeerName off.",
    },
    "expired": {
        "logs": {"default": _EXPIRE_POST, "verify": _VERIFY},
        "http_status": 500,
        "fix": "Renew the backend certificate.",
        "insecure_workaround": "INSECURE: SSLProxyCheckPeerExpire off (backend_tls.check_peer_expire: false).",
    },
    "not_yet_valid": {
        "logs": {"default": _EXPIRE_POST, "verify": _VERIFY},
        "http_status": 500,
        "fix": "Fix the clock of the proxy or of the CA, or wait until notBefore; reissue the certificate.",
        "insecure_workaround": "INSECURE: SSLProxyCheckPeerExpire off.",
    },
    "revoked": {
        "logs": {"default": _VERIFY},
        "http_status": 500,
        "fix": "Issue the backend a new certificate.",
        "insecure_workaround": "INSECURE: SSLProxyCARevocationCheck none.",
    },
    "crl_error": {
        "logs": {"default": _VERIFY},
        "http_status": 500,
        "fix": "Deploy a current CRL for every CA in the checked chain (SSLProxyCARevocationFile/Path) and keep it "
               "fresh; crl_check leaf needs only the issuing CA's CRL.",
        "insecure_workaround": "INSECURE: SSLProxyCARevocationCheck none.",
    },
    "verify_failed": {
        "logs": {"default": _VERIFY},
        "http_status": 500,
        "fix": "Reissue the backend certificate so that OpenSSL accepts the chain (extensions, key usage, "
               "signature).",
        "insecure_workaround": "INSECURE: " + _VERIFY_OFF + ".",
    },
    "weak_key": {
        "logs": {"default": _VERIFY},
        "http_status": 500,
        "fix": "Reissue {err_subject} (depth {errdepth}; depth 0 is the backend's own certificate) with an RSA "
               "key of at least 2048 bits or an ECDSA P-256 key: OpenSSL's security level 2 (the Debian and RHEL default) refuses RSA "
               "keys below 2048 bits, level 1 below 1024.",
        "insecure_workaround": "INSECURE: lower the proxy's security level for this backend with "
                               "SSLProxyCipherSuite DEFAULT:@SECLEVEL=1 (RSA 1024) or @SECLEVEL=0 (any key), or "
                               + _VERIFY_OFF + ".",
    },
    "weak_signature": {
        "logs": {"default": _VERIFY},
        "http_status": 500,
        "fix": "Have {err_issuer} reissue {err_subject} with a SHA-256 (or stronger) signature, and replace every "
               "intermediate of the chain that is signed with SHA-1 or MD5 (OpenSSL 3 refuses SHA-1 signatures "
               "from security level 1 on, MD5 always but at level 0).",
        "insecure_workaround": "INSECURE: SSLProxyCipherSuite DEFAULT:@SECLEVEL=0 for this backend, or "
                               + _VERIFY_OFF + ".",
    },
    "certificate_too_large": {
        "logs": {"default": [
            ("ssl:info", "[ssl:info] AH02003: SSL Proxy connect failed"),
            ("ssl:info", "[ssl:info] SSL Library Error: error:0A000098:SSL routines::excessive message size"),
        ] + _TAIL},
        "http_status": 500,
        "fix": "Give the backend a smaller certificate: split a certificate with thousands of subjectAltNames "
               "into several (one per service or a wildcard), and send only the intermediates the chain needs. "
               "mod_ssl has no directive to raise OpenSSL's limit on the Certificate message (100 KiB).",
        "insecure_workaround": None,
    },
    "client_cert_required": {
        "logs": {
            "default": [("warn", "[ssl:warn] AH02268: Proxy client certificate callback: (<vhost>) downstream server "
                                 "wanted client certificate but none are configured")] + _READ_FAILED + [
                ("ssl:info", "[ssl:info] SSL Library Error: error:0A00045C:SSL routines::tlsv13 alert certificate "
                             "required (SSL alert number 116)")],
            "tls12": [("warn", "[ssl:warn] AH02268: Proxy client certificate callback: (<vhost>) downstream server "
                               "wanted client certificate but none are configured")] + _INFO_CONNECT_FAILED + _TAIL,
        },
        "http_status": 502,
        "http_status_tls12": 500,
        "fix": "SSLProxyMachineCertificateFile with a certificate + unencrypted key issued by one of {ca_list} "
               "(backend_tls.client_cert_file/client_key_file).",
        "insecure_workaround": None,
    },
    "client_cert_not_chosen": {
        "message": "the backend accepts client certificates from {ca_list}; no configured certificate is issued by "
                   "one of them (directly or through the chain file), so mod_ssl sends none; {detail}",
        "logs": {
            "default": [("ssl:debug", "[ssl:debug] AH02269: Proxy client certificate callback: (<vhost>) no client "
                                      "certificate found!?")] + _READ_FAILED,
            "tls12": [("ssl:debug", "[ssl:debug] AH02269: Proxy client certificate callback: (<vhost>) no client "
                                    "certificate found!?")] + _INFO_CONNECT_FAILED + _TAIL,
        },
        "http_status": 502,
        "http_status_tls12": 500,
        "fix": "Add the intermediates between the client certificate and the CA the backend names to "
               "SSLProxyMachineCertificateChainFile (backend_tls.client_chain_file), or use a client certificate "
               "from that CA.",
        "insecure_workaround": None,
    },
    "client_cert_rejected": {
        "logs": {"default": _READ_FAILED + [("ssl:info", "[ssl:info] SSL Library Error: {ssl_error}")],
                 "tls12": _INFO_CONNECT_FAILED + _TAIL},
        "http_status": 502,
        "http_status_tls12": 500,
        "fix": "Use a client certificate the backend trusts (issued by its client CA, not expired, with the "
               "clientAuth extended key usage), and send its intermediates (client_chain_file).",
        "insecure_workaround": None,
    },
    "client_cert_invalid": {
        "title": "The client certificate file is unusable: httpd will not start",
        "message": "the client certificate cannot be used by mod_ssl: {detail}",
        "logs": {"default": [
            ("startup", "[ssl:emerg] AH02252: incomplete client cert configured for SSL proxy (missing or encrypted "
                        "private key?)"),
            ("startup", "[ssl:emerg] AH02311: Fatal error initialising mod_ssl, exiting. See <error log> for more "
                        "information"),
        ]},
        "http_status": None,
        "fix": "SSLProxyMachineCertificateFile needs the certificate and its unencrypted, matching key (PEM, "
               "mode 0600, owned by root).",
        "insecure_workaround": None,
    },
    "misdirected_request": {
        "logs": {"default": []},
        "http_status": 421,
        "fix": "Keep SNI and Host consistent: ProxyPreserveHost Off with a URL host the backend serves, or "
               "ProxyPreserveHost On without rewriting Host.",
        "insecure_workaround": "INSECURE: relax SSLVHostSNIPolicy on the backend (httpd >= 2.4.65).",
    },
    "no_http_response": {
        "logs": {"default": _READ_FAILED},
        "http_status": 502,
        "fix": "Look at the backend's log: it does not speak HTTP/1.1 on this port, or rejects the request.",
        "insecure_workaround": None,
    },
    "response_timeout": {
        "logs": {"default": [
            ("warn", "[proxy_http:error] (70007)The timeout specified has expired: AH01102: error reading status "
                     "line from remote server {host}:{port}"),
            ("warn", "[proxy:error] AH00898: Error reading from remote server returned by {path}"),
        ]},
        "http_status": 502,
        "fix": "Make the backend answer faster, or raise timeout= on ProxyPass.",
        "insecure_workaround": None,
    },
    "response_head_too_long": {
        "title": "The backend's status line or a response header line is too long for Apache",
        "message": "{address} sent a {detail}: Apache answers 502",
        "logs": {
            "default": [
                ("warn", "[proxy:error] AH00898: Corrupt status line returned by remote server: {status_line}... "
                         "returned by {path}"),
            ],
            "header": [
                ("warn", "[proxy_http:warn] (28)No space left on device: AH10124: header size is over the limit "
                         "allowed by ResponseFieldSize (8192 bytes). Bad response header: '...'"),
                ("warn", "[proxy_http:warn] AH01106: bad HTTP/1.1 header returned by {path} (GET)"),
            ],
        },
        "http_status": 502,
        "fix": "Fix the backend: a status line or header line of 8 KiB or more is a bug or an attack. A legitimate "
               "long header (a large cookie) needs responsefieldsize= on ProxyPass (locations[].responsefieldsize).",
        "insecure_workaround": None,
    },
    "tls_backend_on_http_url": {
        "logs": {"default": []},
        "http_status": 400,
        "fix": "Use https:// in ProxyPass (the role then renders SSLProxyEngine on).",
        "insecure_workaround": None,
    },
    "no_cipher_match": {
        "title": "SSLProxyCipherSuite selects no cipher: httpd will not start",
        "message": "SSLProxyCipherSuite {ciphers} selects no cipher once mod_ssl appends :!aNULL:!eNULL:!EXP, so "
                   "httpd will not start ({detail})",
        "logs": {"default": [
            ("startup", "[ssl:emerg] AH01898: Unable to configure permitted SSL ciphers"),
            ("startup", "[ssl:emerg] SSL Library Error: error:0A0000B9:SSL routines::no cipher match"),
            ("startup", "[ssl:emerg] AH02312: Fatal error initialising mod_ssl, exiting."),
        ]},
        "http_status": None,
        "fix": "Give SSLProxyCipherSuite (backend_tls.ciphers) a list that still selects a cipher after mod_ssl "
               "appends :!aNULL:!eNULL:!EXP (NULL, anonymous and export ciphers are never used), or leave it unset "
               "for OpenSSL's default list. `openssl ciphers -v '{ciphers}:!aNULL:!eNULL:!EXP'` shows what is left.",
        "insecure_workaround": None,
    },
    "invalid_input": {
        "logs": {"default": []},
        "http_status": None,
        "client_gets": "not checked",
        "fix": "Correct the field named in the message ({field}); the other backends were checked.",
        "insecure_workaround": None,
    },
}

CATALOGUE = _catalogue.merge(SERVER_PART)
REASONS = _catalogue.REASONS

# The result keys of the log lines: server_log, and apache_log, its deprecated alias (the same list).
LOG_KEYS = ("server_log", "apache_log")
SEMANTICS = MOD_SSL.with_catalogue(CATALOGUE, LOG_KEYS, profile=APACHE)


def entry_result(reason, fields, variant="default"):
    """message, server_log (and apache_log), http_status, fix, insecure_workaround and the reference numbers of a
    reason, filled with fields."""
    return SEMANTICS.entry_result(reason, fields, variant)


# The frontend certificate check (tls/_frontend_cert.check_frontend, fixes=) in Apache's words.
FRONTEND_FIXES = {
    "key_mismatch": "point tls.key_file at the private key of this certificate (or the certificate at the one the "
                    "key belongs to); mod_ssl would refuse to start (AH02565)",
}
