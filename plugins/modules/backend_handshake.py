#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: backend_handshake
short_description: Check HTTPS backends exactly as Apache mod_ssl would, and name the cause and the fix
version_added: 1.0.0
description:
  - For each backend, answers whether Apache's proxied request to it succeeds with the given C(SSLProxy*) settings,
    and if not, why, which C(AH) lines Apache writes (and at which C(LogLevel)), which HTTP status the client gets,
    and which directive fixes it.
  - "Semantics are mod_ssl's (httpd 2.4.x), not a generic TLS client's: the name used for SNI and for the peer-name
    check is the URL host, or the client's Host with O(backends[].preserve_host); no SNI is sent for IP literals;
    only the configured CA file/path is trusted, with OpenSSL's default verification flags; the chain depth is
    counted as mod_ssl counts it (a certificate at depth N of the built chain, leaf = 0, fails when
    N > O(backends[].verify_depth)); peer names are the dNSName SANs plus every CN, case-insensitive, with C(*.) only
    as the whole left-most label covering exactly one label, never iPAddress SANs; the leaf's notBefore and notAfter
    are checked even with O(backends[].verify=none) unless O(backends[].check_peer_expire=false); the client
    certificate is chosen as C(ssl_callback_proxy_cert) chooses it, from the server's acceptable-CA list."
  - After the handshake a C(GET) request with the Host Apache would send is made (see O(http_request)), which detects
    a TLS 1.3 backend that rejects a missing client certificate, a C(421) and a plain-HTTP C(400).
  - Run it on the proxy host, so DNS, routes and CA files are the ones Apache sees. Backends are checked concurrently
    within one task; each one is bounded by O(timeout), DNS included.
  - "Stable reason codes: C(ok), C(dns_failure), C(connect_refused), C(connect_timeout), C(connect_failed),
    C(timeout), C(connection_closed), C(plain_http_backend), C(not_tls), C(tls_protocol_mismatch),
    C(tls_cipher_mismatch), C(tls_handshake_failed), C(untrusted_ca), C(no_ca_configured), C(ca_file_missing_root),
    C(incomplete_chain), C(chain_too_long), C(name_mismatch), C(preserve_host_name_mismatch), C(ip_literal_name),
    C(expired), C(not_yet_valid), C(revoked), C(crl_error), C(verify_failed), C(client_cert_required),
    C(client_cert_not_chosen), C(client_cert_rejected), C(client_cert_invalid), C(misdirected_request),
    C(no_http_response), C(response_timeout), C(response_head_too_long), C(tls_backend_on_http_url),
    C(no_cipher_match), C(invalid_input). Each is described, with its log lines, status, fix and insecure workaround,
    in C(docs/troubleshooting-ah00898.md) of the collection."
  - "Every field of every O(backends) entry is validated. An entry that is refused (a control character, a
    non-ASCII character or an over-long label in O(backends[].host), a bad URL, a missing file...) gets its own
    result with reason C(invalid_input) and a message naming C(backends[N].<field>); the other backends are still
    checked. The HTTP request the check sends never contains a CR, LF or NUL from the input."
  - "A hostile backend cannot hold the check beyond O(timeout) (a backend that drips bytes included) or make it
    buffer: at most 64 KiB of a response head is read, a status or header line of 8 KiB or more is reported as
    C(response_head_too_long) (Apache answers 502), and a response body is never read."
author:
  - revproxy.tls contributors (@revproxy)
requirements:
  - pyOpenSSL >= 23.0 on the host the module runs on (the verify callback, the server's acceptable client-CA list and
    memory BIOs; Python's C(ssl) module has neither a per-certificate verify callback nor the acceptable-CA list).
    Debian 12's C(python3-openssl) (23.0) works; the test suite runs the Apache oracle cases with it.
  - cryptography >= 38 (certificate parsing; Debian 12's C(python3-cryptography)).
notes:
  - The check uses the OpenSSL that pyOpenSSL/cryptography bring (see RV(openssl_version)), which may differ from the
    OpenSSL Apache is linked with; protocol and cipher defaults can differ between OpenSSL builds.
  - Apache's C(SSL Library Error) strings in RV(backends[].apache_log) are OpenSSL 3.0's (Debian 12).
  - C(SSLProxyCheckPeerCN) is not modelled (the collection never renders it).
seealso:
  - name: mod_ssl SSLProxy directives
    description: The Apache httpd 2.4 manual.
    link: https://httpd.apache.org/docs/2.4/mod/mod_ssl.html#sslproxyverify
extends_documentation_fragment:
  - revproxy.tls._attributes
  - revproxy.tls._sites
  - revproxy.tls._attributes.INFO_MODULE
options:
  backends:
    description:
      - The backends to check, each as a C(ProxyPass) target plus the backend TLS settings, with the same key names and
        defaults as the C(apache_proxy) role's C(backend_tls).
      - Mutually exclusive with O(sites); one of the two is required.
    type: list
    elements: dict
    suboptions:
      url:
        description:
          - The C(ProxyPass) target, for example C(https://backend.example:8443/app/). C(http://) URLs are checked with a
            plain request (to detect a TLS port behind an C(http://) URL).
        type: str
        required: true
      preserve_host:
        description:
          - C(ProxyPreserveHost On). Apache then sends O(backends[].host) as SNI and checks the certificate against it.
        type: bool
        default: false
      host:
        description:
          - The Host header clients send (required with O(backends[].preserve_host=true)).
        type: str
      verify:
        description: C(SSLProxyVerify).
        type: str
        choices: [none, optional, require, optional_no_ca]
        default: require
      verify_depth:
        description: C(SSLProxyVerifyDepth) (mod_ssl's counting; leaf -> intermediate -> root needs 2).
        type: int
        default: 4
      ca_file:
        description: C(SSLProxyCACertificateFile).
        type: path
      ca_path:
        description: C(SSLProxyCACertificatePath) (a directory with C(c_rehash) links).
        type: path
      crl_file:
        description: C(SSLProxyCARevocationFile).
        type: path
      crl_path:
        description: C(SSLProxyCARevocationPath).
        type: path
      crl_check:
        description: C(SSLProxyCARevocationCheck).
        type: str
        choices: [none, leaf, chain]
        default: none
      check_peer_name:
        description: C(SSLProxyCheckPeerName).
        type: bool
        default: true
      check_peer_expire:
        description: C(SSLProxyCheckPeerExpire).
        type: bool
        default: true
      client_cert_file:
        description: C(SSLProxyMachineCertificateFile) (certificate, and its key unless O(backends[].client_key_file)).
        type: path
      client_key_file:
        description: The client certificate's unencrypted key, when it is not in O(backends[].client_cert_file).
        type: path
      client_chain_file:
        description: C(SSLProxyMachineCertificateChainFile).
        type: path
      protocols:
        description: C(SSLProxyProtocol) (the enabled protocols).
        type: list
        elements: str
        choices: [TLSv1, TLSv1.1, TLSv1.2, TLSv1.3]
        default: [TLSv1.2, TLSv1.3]
      ciphers:
        description:
          - C(SSLProxyCipherSuite) for TLS 1.2 and below (default OpenSSL's, minus aNULL, eNULL, EXP).
          - mod_ssl appends C(:!aNULL:!eNULL:!EXP) to the list given; the check does the same. A list that then
            selects no cipher is reported as C(no_cipher_match) (httpd refuses to start with C(AH01898)).
        type: str
  sites:
    description:
      - The C(apache_proxy) role's C(apache_proxy_sites), as is. Every TLS backend in it is checked with the settings
        the role renders; with C(preserve_host) once per public name (C(server_name) and each alias).
      - C(*_content) keys are written to a private temporary directory for the check.
    type: list
    elements: dict
  backend_tls_defaults:
    description:
      - The role's C(apache_proxy_backend_tls_defaults) (used with O(sites)).
      - The C(*_content) keys are refused here, as the role refuses them.
    type: dict
  tls_dir:
    description: The role's C(apache_proxy_tls_dir) (used with O(sites)).
    type: path
    default: /etc/apache2/revproxy-tls
  timeout:
    description:
      - Seconds per backend for everything (DNS, TCP, TLS, HTTP response).
      - A finite number greater than 0 and at most 3600; anything else fails the task naming O(timeout).
    type: float
    default: 5
  concurrency:
    description: How many backends are checked at the same time, from 1 to 1024.
    type: int
    default: 64
  fail_on:
    description:
      - V(failure) fails the task (after all backends are checked) when a backend would fail; V(never) only reports.
    type: str
    choices: [never, failure]
    default: failure
  http_request:
    description:
      - Send C(GET <url path> HTTP/1.1) with the Host Apache would send after the handshake, and read the status line.
    type: bool
    default: true
  return_pem:
    description: Add the PEM of the backend certificate to RV(backends[].certificate).
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Check the backends of the proxy as Apache would
  revproxy.tls.backend_handshake:
    backends:
      - url: https://app.internal.example:8443/
        ca_file: /etc/apache2/revproxy-tls/backend-ca.pem
      - url: https://10.0.0.5/
        verify: none
  register: check

- name: Check every TLS backend of the role's sites, exactly as rendered, without failing the play
  revproxy.tls.backend_handshake:
    sites: "{{ apache_proxy_sites }}"
    backend_tls_defaults: "{{ apache_proxy_backend_tls_defaults }}"
    tls_dir: "{{ apache_proxy_tls_dir }}"
    fail_on: never
    timeout: 3
  register: check

- name: Show the fix of each failing backend
  ansible.builtin.debug:
    msg: "{{ item.url }}: {{ item.message }} -- fix: {{ item.fix }}"
  loop: "{{ check.backends | rejectattr('ok') }}"
  loop_control:
    label: "{{ item.url }}"
"""

RETURN = r"""
msg:
  description: One line summary.
  returned: always
  type: str
  sample: "3 backends checked: 2 ok, 1 failed (shop https://b:8443/: name_mismatch)"
summary:
  description: Number of backends per reason code.
  returned: always
  type: dict
  sample: {"ok": 2, "name_mismatch": 1}
failed_backends:
  description: "The failing backends, as C(<label>: <reason>) strings."
  returned: always
  type: list
  elements: str
openssl_version:
  description: The OpenSSL the checker used.
  returned: always
  type: str
  sample: OpenSSL 3.0.19 27 Jan 2026
backends:
  description: One result per check, in input order.
  returned: always
  type: list
  elements: dict
  contains:
    url:
      description: The backend URL.
      type: str
      returned: always
    site:
      description: The site name (with O(sites)).
      type: str
      returned: with O(sites)
    path:
      description: The location path (with O(sites)); for O(backends) the URL path.
      type: str
      returned: always
    host:
      description: The client Host this check stands for (with C(preserve_host)).
      type: str
      returned: always
    ok:
      description: Whether Apache's request to this backend succeeds.
      type: bool
      returned: always
    reason:
      description: A stable reason code (see the module description).
      type: str
      returned: always
      sample: name_mismatch
    message:
      description: One line a person reads.
      type: str
      returned: always
    apache_log:
      description:
        - The lines Apache writes for this request (timestamp, pid and client stripped), each with the C(LogLevel) at
          which it first shows (C(warn), C(ssl:info), C(ssl:debug)) or C(startup).
      type: list
      elements: dict
      returned: always
      contains:
        level:
          description: The LogLevel at which the line shows.
          type: str
        line:
          description: The log line.
          type: str
    http_status:
      description: The status the client gets from Apache (for C(ok), the backend's own status, which Apache relays).
      type: int
      returned: always
      sample: 500
    fix:
      description: The secure fix, in directive terms.
      type: str
      returned: always
    insecure_workaround:
      description: Where one exists, the insecure workaround, prefixed with C(INSECURE:).
      type: str
      returned: always
    catalogue:
      description: The failure-catalogue entries (F-numbers) this reason corresponds to.
      type: list
      elements: str
      returned: always
    sni:
      description: The SNI sent (null for IP literals).
      type: str
      returned: always
    checked_name:
      description: The name the certificate is checked against.
      type: str
      returned: always
    host_header:
      description: The Host header Apache sends to the backend.
      type: str
      returned: always
    address:
      description: The address connected to.
      type: str
      returned: always
    tls_version:
      description: The negotiated protocol.
      type: str
      returned: always
    cipher:
      description: The negotiated cipher.
      type: str
      returned: always
    certificate:
      description: Summary of the backend's certificate (when one was received).
      type: dict
      returned: always
      contains:
        subject:
          description: Subject DN.
          type: str
        issuer:
          description: Issuer DN.
          type: str
        sans:
          description: Subject alternative names (C(DNS:) and C(IP:)).
          type: list
          elements: str
        not_before:
          description: notBefore (ISO 8601, UTC).
          type: str
        not_after:
          description: notAfter (ISO 8601, UTC).
          type: str
        days_left:
          description: Whole days until notAfter.
          type: int
        fingerprint_sha256:
          description: SHA-256 fingerprint (hex).
          type: str
        pem:
          description: The PEM (only with O(return_pem)).
          type: str
    chain:
      description: The certificates the backend sent, leaf first.
      type: list
      elements: dict
      returned: always
      contains:
        subject:
          description: Subject DN.
          type: str
        issuer:
          description: Issuer DN.
          type: str
    elapsed_ms:
      description: Time spent on this backend.
      type: int
      returned: always
"""

import copy
import datetime
import math
import os
import re
import shutil
import tempfile

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.revproxy.tls.plugins.module_utils._backend_tls import (
    BACKEND_TLS_DEFAULTS,
    BACKEND_TLS_SPEC,
    ConfigError,
    PATH_KEYS,
    check_hostname,
    insecure_settings,
    is_ip_literal,
    parse_backend_url,
    tls_names,
    validate_backend_tls,
)
from ansible_collections.revproxy.tls.plugins.module_utils._catalogue import entry_result
from ansible_collections.revproxy.tls.plugins.module_utils._mod_ssl import classify, host_header
from ansible_collections.revproxy.tls.plugins.module_utils._module import RevproxyModule
from ansible_collections.revproxy.tls.plugins.module_utils._sites import (
    SITE_SPEC,
    check_defaults,
    normalize_sites,
    site_backend_checks,
)
from ansible_collections.revproxy.tls.plugins.module_utils import _tls_probe

try:
    from urllib.parse import urlsplit
except ImportError:  # pragma: no cover
    from urlparse import urlsplit  # type: ignore

BACKEND_OPTIONS = dict(
    {
        "url": {"type": "str", "required": True},
        "preserve_host": {"type": "bool", "default": False},
        "host": {"type": "str"},
    },
    **copy.deepcopy(BACKEND_TLS_SPEC)
)

ARGUMENT_SPEC = {
    "backends": {"type": "list", "elements": "dict", "options": BACKEND_OPTIONS},
    # The role's site model, so client_key_content is no_log from the start (invocation logging included).
    "sites": {"type": "list", "elements": "dict", "options": SITE_SPEC},
    # Typed like backend_tls (the *_content keys included, which run() refuses): a client_key_content given here by
    # mistake is then no_log from the start too, in the invocation log and in every output. No `default: {}`:
    # AnsibleModule fills the suboptions into the default dict itself, which would then leak into the next call.
    "backend_tls_defaults": {"type": "dict", "options": copy.deepcopy(SITE_SPEC["backend_tls"]["options"])},
    "tls_dir": {"type": "path", "default": "/etc/apache2/revproxy-tls"},
    "timeout": {"type": "float", "default": 5},
    "concurrency": {"type": "int", "default": 64},
    "fail_on": {"type": "str", "choices": ["never", "failure"], "default": "failure"},
    "http_request": {"type": "bool", "default": True},
    "return_pem": {"type": "bool", "default": False},
}

TIMEOUT_MAX = 3600
CONCURRENCY_MAX = 1024

_DIR_KEYS = ("ca_path", "crl_path")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_PORT = re.compile(r"^[0-9]{1,5}$")
_CIPHER_CHARS = re.compile(r"^[A-Za-z0-9_:+!@=.-]+$")


def check_limits(params):
    """timeout (a finite number of seconds, 0 < timeout <= 3600) and concurrency (1..1024). Raises ConfigError."""
    timeout = params.get("timeout")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not math.isfinite(timeout) or \
            not 0 < timeout <= TIMEOUT_MAX:
        raise ConfigError("timeout: must be a finite number of seconds greater than 0 and at most %d, got %r"
                          % (TIMEOUT_MAX, timeout))
    concurrency = params.get("concurrency")
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or \
            not 1 <= concurrency <= CONCURRENCY_MAX:
        raise ConfigError("concurrency: must be an integer from 1 to %d, got %r" % (CONCURRENCY_MAX, concurrency))


def check_tls_defaults(defaults):
    """backend_tls_defaults as the role takes them (_sites.check_defaults: the *_content keys are refused, named,
    never their value). Returns the keys that are set."""
    return dict((k, v) for k, v in check_defaults(defaults).items() if v is not None)


def check_host_header(value, field):
    """backends[].host, the Host header clients send: a host name or IP address as check_hostname() takes it,
    optionally followed by ':port' (1-65535); an IPv6 address in brackets ('[::1]', '[::1]:8443'). With
    preserve_host it becomes SNI, the name checked and the Host header sent, so nothing else gets through."""
    if not isinstance(value, str):
        raise ConfigError("%s: must be a string, got %s" % (field, type(value).__name__))
    if value == "":
        raise ConfigError("%s: must not be empty" % field)
    if _CONTROL.search(value):
        raise ConfigError("%s: must not contain CR, LF, NUL or other control characters (they would inject into "
                          "the HTTP request), got %r" % (field, value[:100]))
    try:
        value.encode("ascii")
    except UnicodeEncodeError:
        raise ConfigError("%s: %r must be ASCII (use the IDNA 'xn--' form of an international name)"
                          % (field, value[:100]))
    if len(value) > 262:
        raise ConfigError("%s: is longer than 262 characters (a host name has at most 253)" % field)
    if "%" in value:
        raise ConfigError("%s: %r: IPv6 zone ids (%%...) are not accepted" % (field, value))
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            raise ConfigError("%s: %r: '[' without a closing ']'" % (field, value))
        name, rest = value[1:end], value[end + 1:]
        if ":" not in name or not is_ip_literal(name):
            raise ConfigError("%s: %r: only IPv6 addresses are written in brackets" % (field, value))
    else:
        if value.count(":") > 1:
            raise ConfigError("%s: %r: write an IPv6 address in brackets, e.g. [::1] or [::1]:8443" % (field, value))
        name, sep, port = value.partition(":")
        rest = sep + port
    check_hostname(name, field)
    if rest:
        port = rest[1:]
        if not rest.startswith(":") or not _PORT.match(port) or not 1 <= int(port) <= 65535:
            raise ConfigError("%s: %r: the port after ':' must be a number from 1 to 65535" % (field, value))
    return value


def _check_files(tls, prefix=""):
    for key in PATH_KEYS:
        path = tls.get(key)
        if not path:
            continue
        if not os.path.exists(path):
            raise ConfigError("%s%s: %s does not exist" % (prefix, key, path))
        if key in _DIR_KEYS:
            if not os.path.isdir(path):
                raise ConfigError("%s%s: %s is not a directory" % (prefix, key, path))
        elif not os.path.isfile(path):
            raise ConfigError("%s%s: %s is not a file" % (prefix, key, path))
        if not os.access(path, os.R_OK):
            raise ConfigError("%s%s: %s is not readable" % (prefix, key, path))


class _Refused(Exception):
    """A backend that is reported, not checked: reason (invalid_input, no_cipher_match), message, field."""

    def __init__(self, reason, message, field, **fields):
        Exception.__init__(self, message)
        self.reason = reason
        self.message = message
        self.field = field
        self.fields = fields


def _refused(exc):
    """invalid_input from a ConfigError whose message starts with the field it names."""
    msg = str(exc)
    return _Refused("invalid_input", msg, msg.split(":", 1)[0])


def _validate_tls(tls, prefix):
    """validate_backend_tls, except the two settings mod_ssl accepts at startup and fails at request time (verify
    without a CA, CRL checking without CRLs): the check reports those per backend instead of refusing them. A
    cipher string that selects nothing once mod_ssl appended its suffix is no_cipher_match (httpd's AH01898)."""
    relaxed = dict(tls)
    if relaxed["verify"] in ("require", "optional") and not (relaxed["ca_file"] or relaxed["ca_path"]):
        relaxed["verify"] = "none"
    if relaxed["crl_check"] in ("leaf", "chain") and not (relaxed["crl_file"] or relaxed["crl_path"]):
        relaxed["crl_check"] = "none"
    ciphers = relaxed["ciphers"]
    validate_backend_tls(dict(relaxed, ciphers=None), field=prefix)
    if isinstance(ciphers, str) and _CIPHER_CHARS.match(ciphers) and len(ciphers) <= 1024:
        error = _tls_probe.cipher_match_error(ciphers)
        if error:
            raise _Refused("no_cipher_match", "%s.ciphers: %s" % (prefix, error), prefix + ".ciphers",
                           ciphers=ciphers)
    validate_backend_tls(relaxed, field=prefix)


def _printable(value, limit=200):
    """A value as one line of ASCII for labels and messages (control and non-ASCII characters escaped)."""
    text = value if isinstance(value, str) else repr(value)
    text = text[:limit * 4].encode("ascii", "backslashreplace").decode("ascii")
    text = _CONTROL.sub(lambda m: "\\x%02x" % ord(m.group()), text)
    return text if len(text) <= limit else text[:limit] + "..."


def _backend_check(item, prefix):
    """One backends[] entry, every field validated; raises _Refused naming backends[N].<field>."""
    if not isinstance(item, dict):
        raise _Refused("invalid_input", "%s: must be a dict, got %s" % (prefix, type(item).__name__), prefix)
    unknown = sorted(str(k) for k in item if k not in BACKEND_OPTIONS)
    if unknown:
        raise _Refused("invalid_input", "%s: unknown key(s) %s" % (prefix, ", ".join(unknown)), prefix)
    try:
        url = parse_backend_url(item.get("url"), prefix + ".url")
        preserve_host = item.get("preserve_host", False)
        if not isinstance(preserve_host, bool):
            raise ConfigError("%s.preserve_host: must be a boolean, got %r" % (prefix, preserve_host))
        host = item.get("host")
        if host is not None:
            check_host_header(host, prefix + ".host")
        tls = dict((k, BACKEND_TLS_DEFAULTS[k] if item.get(k) is None else item[k]) for k in BACKEND_TLS_DEFAULTS)
        if url.is_tls:
            _validate_tls(tls, prefix)
            _check_files(tls, prefix + ".")
        else:
            validate_backend_tls(tls, field=prefix, used=False)
        try:
            sni, checked = tls_names(url, preserve_host, host)
        except ConfigError as exc:
            raise ConfigError("%s.%s" % (prefix, exc))
    except ConfigError as exc:
        raise _refused(exc)
    return {"url": url, "preserve_host": preserve_host, "host": host, "sni": sni, "checked_name": checked,
            "tls": tls, "path": url.path, "request_path": url.path}


def build_checks_from_backends(backends):
    """One check per backends[] entry, in order. An entry that fails validation becomes a check marked "refused"
    (reported as invalid_input or no_cipher_match, never probed); the others are unaffected."""
    checks = []
    for index, item in enumerate(backends or []):
        prefix = "backends[%d]" % index
        raw = item if isinstance(item, dict) else {}
        url = raw.get("url")
        host = raw.get("host")
        try:
            check = _backend_check(item, prefix)
        except _Refused as exc:
            check = {"refused": exc, "url": None, "preserve_host": False, "host": None, "sni": None,
                     "checked_name": None, "tls": None, "path": None, "request_path": None}
        check.update({
            "label": "%s (%s)" % (prefix, _printable(url)),
            "field_prefix": prefix + ".",
            "result_keys": {"url": url if isinstance(url, str) else _printable(url),
                            "path": check["path"],
                            "host": host if host is None or isinstance(host, str) else _printable(host)},
        })
        checks.append(check)
    return checks


def build_checks_from_sites(sites, defaults, tls_dir, tmpdir, module):
    effective = normalize_sites(sites, defaults, tls_dir)
    checks = []
    written = {}
    for eff in effective:
        for warning in eff["warnings"]:
            module.warn("site %s: %s" % (eff["name"], warning))
        for check in site_backend_checks(eff):
            tls = dict(check["backend_tls"])
            for key, content in check["contents"].items():
                deployed = tls[key]
                if deployed not in written:
                    path = os.path.join(tmpdir, "%d.pem" % len(written))
                    with open(path, "w") as f:
                        f.write(content)
                    written[deployed] = path
                tls[key] = written[deployed]
            url = parse_backend_url(check["url"], "url")
            label = "%s %s%s" % (check["site"], check["url"], " (Host %s)" % check["host"] if check["host"] else "")
            try:
                _check_files(tls)
            except ConfigError as exc:
                raise ConfigError("site %r: locations path %s: backend_tls: %s"
                                  % (check["site"], check["path"], exc))
            checks.append({
                "label": label, "url": url, "preserve_host": check["preserve_host"], "host": check["host"],
                "sni": check["sni"], "checked_name": check["checked_name"], "tls": tls, "path": check["path"],
                "request_path": url.path, "field_prefix": "site %r: backend_tls." % check["site"],
                "result_keys": {"site": check["site"], "url": check["url"], "path": check["path"],
                                "host": check["host"]},
            })
    return checks


def _settings_key(tls):
    return tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in sorted(tls.items()))


def _secret_values(value):
    """client_key_content values anywhere in the sites/defaults input (masked in all output)."""
    found = []
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "client_key_content" and isinstance(v, str) and v:
                found.append(v)
            else:
                found.extend(_secret_values(v))
    elif isinstance(value, list):
        for v in value:
            found.extend(_secret_values(v))
    return found


_NOT_CHECKED = {"sni": None, "checked_name": None, "host_header": None, "address": None, "tls_version": None,
                "cipher": None, "certificate": None, "chain": [], "elapsed_ms": 0}


def refused_result(check):
    """The result of a backend that is reported without a connection (invalid_input, no_cipher_match)."""
    refused = check["refused"]
    fields = dict(refused.fields, detail=refused.message, field=refused.field)
    result = dict(check["result_keys"])
    result.update(_NOT_CHECKED)
    result.update({"ok": False, "reason": refused.reason})
    result.update(entry_result(refused.reason, fields))
    return result


def check_one(check, context, timeout, http_request, return_pem, now=None):
    if check.get("refused"):
        return refused_result(check)
    url = check["url"]
    tls = check["tls"]
    spec = {
        "url": url, "sni": check["sni"], "path": check["request_path"],
        "request_host": host_header(url.host, urlsplit(url.url).port, check["preserve_host"], check["host"]),
    }
    try:
        # Whatever validation ran before: no CR, LF or NUL reaches the request or the SNI.
        _tls_probe.request_bytes(spec)
        _tls_probe.sni_bytes(spec["sni"])
    except _tls_probe.UnsafeRequest as exc:
        field = check["field_prefix"] + ("host" if check["preserve_host"] else "url")
        check["refused"] = _Refused("invalid_input", "%s: %s" % (field, exc), field)
        return refused_result(check)
    if url.is_tls and context.client_cert_error:
        facts = {"tls": True, "elapsed_ms": 0, "address": None}
        reason, variant, fields = "client_cert_invalid", "default", {
            "detail": check["field_prefix"] + context.client_cert_error}
    else:
        facts = _tls_probe.probe(spec, context, timeout, http_request)
        now = now or datetime.datetime.now(datetime.timezone.utc)
        reason, variant, fields = classify(facts, tls, check["preserve_host"], check["checked_name"], now, url.is_ip)
    result = dict(check["result_keys"])
    fields.update({
        "address": facts.get("address") or url.authority, "host": url.host, "port": url.port, "scheme": url.scheme,
        "path": check["path"], "checked_name": check["checked_name"],
        "sni_label": check["sni"] or "(none: IP literal)", "timeout": timeout, "verify": tls["verify"],
        "verify_depth": tls["verify_depth"], "protocols": " ".join(tls["protocols"]),
        "host_header": spec["request_host"], "tls_version": facts.get("tls_version") or "plain HTTP",
        "cipher": facts.get("cipher") or "",
    })
    leaf = facts.get("leaf")
    now = now or datetime.datetime.now(datetime.timezone.utc)
    cert = _tls_probe.cert_summary(leaf, now, return_pem) if leaf is not None else None
    if cert:
        fields.setdefault("subject", cert["subject"])
        fields.setdefault("issuer", cert["issuer"])
        fields.setdefault("not_after", cert["not_after"])
    entry = entry_result(reason, fields, variant)
    if reason == "ok":
        status = (facts.get("response") or {}).get("status")
        entry["http_status"] = status
        entry["message"] = "ok: %s%s" % (
            "%s %s, certificate %s valid until %s" % (fields["tls_version"], fields["cipher"], cert["subject"],
                                                      cert["not_after"]) if cert else fields["tls_version"],
            ", backend answered %d" % status if status else "")
    result.update({
        "ok": reason == "ok",
        "reason": reason,
        "sni": check["sni"],
        "checked_name": check["checked_name"],
        "host_header": spec["request_host"],
        "address": facts.get("address"),
        "tls_version": facts.get("tls_version"),
        "cipher": facts.get("cipher"),
        "certificate": cert,
        "chain": [{"subject": c.subject.rfc4514_string(), "issuer": c.issuer.rfc4514_string()}
                  for c in facts.get("served_chain") or []],
        "elapsed_ms": facts.get("elapsed_ms", 0),
    })
    result.update(entry)
    if url.is_tls:
        insecure = insecure_settings(tls)
        if insecure:
            result["insecure_settings"] = insecure
    return result


def _attach_contexts(checks):
    """One TLSContext per distinct set of settings; a context that cannot be built refuses its backends (the
    message names each backend's own field)."""
    contexts = {}
    for check in checks:
        check["context"] = None
        if check.get("refused") or not check["url"].is_tls:
            continue
        key = _settings_key(check["tls"])
        if key not in contexts:
            try:
                contexts[key] = (_tls_probe.TLSContext(check["tls"]), None)
            except _tls_probe.ProbeConfigError as exc:
                contexts[key] = (None, exc)
            except (OSError, ValueError, TypeError) as exc:  # never a traceback for a backend's files
                contexts[key] = (None, _tls_probe.ProbeConfigError("backend_tls", str(exc)))
        context, error = contexts[key]
        check["context"] = context
        if error is not None:
            field = check["field_prefix"] + error.field
            check["refused"] = _Refused(error.reason, "%s: %s" % (field, error.detail), field,
                                        ciphers=check["tls"].get("ciphers"))


def run(params, module=None):
    """Validate, build contexts, probe concurrently. Returns (checks, results). Raises ConfigError for what concerns
    the whole task (timeout, concurrency, backend_tls_defaults, sites); a bad backends[] entry is a result."""
    check_limits(params)
    defaults = check_tls_defaults(params.get("backend_tls_defaults"))
    tmpdir = None
    try:
        if params.get("sites") is not None:
            tmpdir = tempfile.mkdtemp(prefix="revproxy-tls-check-")
            os.chmod(tmpdir, 0o700)
            try:
                checks = build_checks_from_sites(params["sites"], defaults, params["tls_dir"], tmpdir, module)
            except ConfigError as exc:
                raise ConfigError("sites: %s" % exc)
        else:
            checks = build_checks_from_backends(params.get("backends"))
        _attach_contexts(checks)
        timeout = params["timeout"]
        jobs = [(lambda c=c: check_one(c, c["context"], timeout, params["http_request"], params["return_pem"]))
                for c in checks]
        results = _tls_probe.run_all(jobs, params["concurrency"])
        return checks, results
    finally:
        if tmpdir:
            shutil.rmtree(tmpdir, ignore_errors=True)


def summarize(checks, results):
    summary = {}
    failed = []
    for check, res in zip(checks, results):
        summary[res["reason"]] = summary.get(res["reason"], 0) + 1
        if not res["ok"]:
            if check.get("refused"):
                failed.append("%s: %s (%s)" % (check["label"], res["reason"], check["refused"].message))
            else:
                failed.append("%s: %s" % (check["label"], res["reason"]))
    n_ok = len(results) - len(failed)
    plural = "" if len(results) == 1 else "s"
    msg = "%d backend%s checked: %d ok, %d failed" % (len(results), plural, n_ok, len(failed))
    if failed:
        shown = failed[:5]
        msg += " (%s%s)" % ("; ".join(shown), "; and %d more" % (len(failed) - 5) if len(failed) > 5 else "")
    return msg, summary, failed


def main():
    # RevproxyModule: the invocation log (syslog) masks no_log values however deeply nested (sites[].backend_tls).
    module = RevproxyModule(
        argument_spec=ARGUMENT_SPEC,
        mutually_exclusive=[("backends", "sites")],
        required_one_of=[("backends", "sites")],
        supports_check_mode=True,
    )
    for secret in _secret_values([module.params.get("sites"), module.params.get("backend_tls_defaults")]):
        module.no_log_values.add(secret)
    if not _tls_probe.HAS_PYOPENSSL:
        module.fail_json(msg=missing_required_lib("pyOpenSSL"), exception=str(_tls_probe.PYOPENSSL_IMPORT_ERROR))
    if not _tls_probe.HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib("cryptography"),
                         exception=str(_tls_probe.CRYPTOGRAPHY_IMPORT_ERROR))
    params = module.params
    try:
        checks, results = run(params, module)
    except ConfigError as exc:
        module.fail_json(msg=str(exc))
    msg, summary, failed = summarize(checks, results)
    out = {
        "changed": False,
        "msg": msg,
        "summary": summary,
        "failed_backends": failed,
        "backends": results,
        "openssl_version": _tls_probe.openssl_version(),
    }
    if failed and params["fail_on"] == "failure":
        module.fail_json(**out)
    module.exit_json(**out)


if __name__ == "__main__":
    main()
