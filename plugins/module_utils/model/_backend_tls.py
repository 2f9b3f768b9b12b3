# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""The one definition of the backend TLS settings (names, types, defaults), their validation and the gate of
insecure settings.

Both the renderer (the role, through the model) and the checker (backend_handshake) import these, so what the role
writes and what the checker tests cannot disagree. What a server adds (the cipher list it hands to OpenSSL, what a
missing CA or CRL does to it) is asked of its capability profile (model/_server.py), passed in as `server`.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import ssl

from ansible_collections.revproxy.tls.plugins.module_utils.model._grammar import (  # noqa: F401 (re-exported)
    ConfigError,
    URL_PATH_RE,
    abs_path,
    boolean,
    choice,
    cipher_string,
    hostname,
    integer,
    is_ip_literal,
    safe_text,
)

try:  # Python 3
    from urllib.parse import urlsplit
except ImportError:  # pragma: no cover
    from urlparse import urlsplit  # type: ignore

VERIFY_CHOICES = ("none", "optional", "require", "optional_no_ca")
CRL_CHECK_CHOICES = ("none", "leaf", "chain")
PROTOCOL_CHOICES = ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
SECURE_PROTOCOLS = ("TLSv1.2", "TLSv1.3")

# Collection-wide defaults for backend TLS. The only place they are written down: the role's argument_specs,
# the module's argument spec and the docs are checked against this dict by the unit tests.
BACKEND_TLS_DEFAULTS = {
    "verify": "require",
    "verify_depth": 4,
    "ca_file": None,
    "ca_path": None,
    "crl_file": None,
    "crl_path": None,
    "crl_check": "none",
    "check_peer_name": True,
    "check_peer_expire": True,
    "client_cert_file": None,
    "client_key_file": None,
    "client_chain_file": None,
    "protocols": ["TLSv1.2", "TLSv1.3"],
    "ciphers": None,
}

# Ansible argument spec of the settings shared by the role and the checker (the checker's per-backend options).
BACKEND_TLS_SPEC = {
    "verify": {"type": "str", "choices": list(VERIFY_CHOICES), "default": "require"},
    "verify_depth": {"type": "int", "default": 4},
    "ca_file": {"type": "path"},
    "ca_path": {"type": "path"},
    "crl_file": {"type": "path"},
    "crl_path": {"type": "path"},
    "crl_check": {"type": "str", "choices": list(CRL_CHECK_CHOICES), "default": "none"},
    "check_peer_name": {"type": "bool", "default": True},
    "check_peer_expire": {"type": "bool", "default": True},
    "client_cert_file": {"type": "path"},
    "client_key_file": {"type": "path", "no_log": False},
    "client_chain_file": {"type": "path"},
    "protocols": {"type": "list", "elements": "str", "choices": list(PROTOCOL_CHOICES),
                  "default": ["TLSv1.2", "TLSv1.3"]},
    "ciphers": {"type": "str"},
}

# Role-only keys: contents the role deploys as files on the proxy (never accepted by the checker, which reads files).
BACKEND_TLS_CONTENT_SPEC = {
    "ca_content": {"type": "str"},
    "client_cert_content": {"type": "str"},
    "client_key_content": {"type": "str", "no_log": True},
    "client_chain_content": {"type": "str"},
}

PATH_KEYS = ("ca_file", "ca_path", "crl_file", "crl_path", "client_cert_file", "client_key_file", "client_chain_file")

TLS_SCHEMES = ("https", "wss")
BACKEND_SCHEMES = ("http", "https", "ws", "wss")
DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}


class BackendURL:
    """A parsed backend URL."""

    def __init__(self, url, scheme, host, port, path):
        self.url = url
        self.scheme = scheme
        self.host = host
        self.port = port
        self.path = path

    @property
    def is_tls(self):
        return self.scheme in TLS_SCHEMES

    @property
    def is_ip(self):
        return is_ip_literal(self.host)

    @property
    def authority(self):
        host = "[%s]" % self.host if ":" in self.host else self.host
        return "%s:%d" % (host, self.port)


# 'host', 'host:port' or 'host:port/path' written without a scheme (urlsplit reads 'localhost:8443' as scheme
# 'localhost')
_SCHEMELESS_RE = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(:[0-9]*)?(/|$)")


def parse_backend_url(url, field="backend"):
    """Parse and validate a backend URL: http, https, ws or wss, a host, an optional port and path."""
    safe_text(url, field, 2048)
    try:
        url.encode("ascii")
    except UnicodeEncodeError:
        raise ConfigError("%s: URL %r must be ASCII (percent-encode the path, IDNA-encode the host)" % (field, url))
    if any(c.isspace() for c in url):
        raise ConfigError("%s: URL must not contain whitespace: %r" % (field, url))
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ConfigError("%s: %r is not a valid URL (%s)" % (field, url, exc))
    scheme = parts.scheme.lower()
    if "://" not in url and _SCHEMELESS_RE.match(url):
        # 'localhost:8443' parses as scheme 'localhost'; '10.0.0.5:8443' and 'backend' as a bare path
        raise ConfigError("%s: URL %r has no scheme: add https:// (https://%s) for a TLS backend, or http://"
                          % (field, url, url.lstrip("/")))
    if scheme not in BACKEND_SCHEMES:
        raise ConfigError("%s: URL scheme must be one of %s, got %r in %r"
                          % (field, ", ".join(BACKEND_SCHEMES), parts.scheme, url))
    if not parts.hostname:
        raise ConfigError("%s: URL %r has no host" % (field, url))
    if parts.username is not None or parts.password is not None:
        raise ConfigError("%s: URL %r must not contain user information" % (field, url))
    if parts.query or parts.fragment:
        raise ConfigError("%s: URL %r must not contain a query or fragment" % (field, url))
    host = parts.hostname
    if "%" in host or "[" in parts.netloc.split("]")[-1]:
        raise ConfigError("%s: URL %r: IPv6 zone ids and stray brackets are not accepted" % (field, url))
    hostname(host, field + " host")
    if port is not None and not 1 <= port <= 65535:
        raise ConfigError("%s: URL %r has an invalid port" % (field, url))
    path = parts.path or "/"
    if not URL_PATH_RE.match(path) or any(p == ".." for p in path.split("/")):
        raise ConfigError("%s: URL %r has characters that are not allowed in its path" % (field, url))
    return BackendURL(url, scheme, host.lower(), port or DEFAULT_PORTS[scheme], path)


def merge_backend_tls(*layers):
    """Defaults first, then each layer's explicitly set (non-None) keys."""
    merged = dict(BACKEND_TLS_DEFAULTS)
    for layer in layers:
        for key, value in (layer or {}).items():
            if value is not None:
                merged[key] = value
    return merged


def validate_backend_tls(tls, field="backend_tls", used=True, server=None):
    """Lexical and type checks of effective backend TLS settings (after merge). Raises ConfigError.
    With used=False (no TLS backend uses them), the cross-field rules that only matter for a handshake are skipped.
    `server`: the capability profile (model/_server.py) that checks a cipher string selects anything once the
    server built its list, and words the consequences; None (the checker, which asks its own semantics) skips
    that check."""
    unknown = sorted(set(tls) - set(BACKEND_TLS_DEFAULTS))
    if unknown:
        raise ConfigError("%s: unknown key(s) %s" % (field, ", ".join(unknown)))
    choice(tls["verify"], field + ".verify", VERIFY_CHOICES)
    integer(tls["verify_depth"], field + ".verify_depth", 0, 100)
    choice(tls["crl_check"], field + ".crl_check", CRL_CHECK_CHOICES)
    for key in ("check_peer_name", "check_peer_expire"):
        boolean(tls[key], "%s.%s" % (field, key))
    for key in PATH_KEYS:
        if tls[key] is not None:
            abs_path(tls[key], "%s.%s" % (field, key))
    protocols = tls["protocols"]
    if not isinstance(protocols, list) or not protocols:
        raise ConfigError("%s.protocols: must be a non-empty list of %s" % (field, ", ".join(PROTOCOL_CHOICES)))
    for proto in protocols:
        if proto not in PROTOCOL_CHOICES:
            raise ConfigError("%s.protocols: %r is not one of %s" % (field, proto, ", ".join(PROTOCOL_CHOICES)))
    if tls["ciphers"] is not None:
        cipher_string(tls["ciphers"], field + ".ciphers")
        if server is not None:
            server.check_ciphers(tls["ciphers"], field + ".ciphers")
    if not used:
        return tls
    if tls["verify"] in ("require", "optional") and not (tls["ca_file"] or tls["ca_path"]):
        raise ConfigError("%s.verify: %r needs a CA (ca_file, ca_content or ca_path)%s"
                          % (field, tls["verify"], _consequence(server, "no_ca")))
    if tls["crl_check"] != "none" and not (tls["crl_file"] or tls["crl_path"]):
        raise ConfigError("%s.crl_check: %r needs crl_file or crl_path%s"
                          % (field, tls["crl_check"], _consequence(server, "no_crl")))
    if tls["client_key_file"] and not tls["client_cert_file"]:
        raise ConfigError("%s.client_key_file: needs client_cert_file" % field)
    if tls["client_chain_file"] and not tls["client_cert_file"]:
        raise ConfigError("%s.client_chain_file: needs client_cert_file" % field)
    return tls


def _consequence(server, key):
    return server.consequence(key) if server is not None else ""


# Cipher string words and cipher names that select weak ciphers (when not negated with ! or -).
_WEAK_CIPHER_WORDS = re.compile(r"NULL|RC4|RC2|DES|MD5|EXP|ADH|AECDH|anon|^LOW$|^COMPLEMENTOF|^@SECLEVEL=0$")


def weak_cipher_words(ciphers, server):
    """The parts of a cipher string that select weak ciphers (NULL, aNULL, EXPORT, RC4, DES/3DES, MD5, anonymous,
    LOW, @SECLEVEL=0), plus weak cipher names that OpenSSL selects from it once the server built its list: `server`
    is anything with cipher_string(ciphers) (the model's capability profile, or the checker's semantics). Empty for
    a sound string."""
    if not ciphers:
        return []
    found = []
    for word in re.split(r"[:, ]+", ciphers):
        if not word or word[0] in "!-":
            continue
        parts = [word] if word.startswith("@") else word.lstrip("+").split("+")
        if any(_WEAK_CIPHER_WORDS.search(part) for part in parts):
            found.append(word)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        context.set_ciphers(server.cipher_string(ciphers))
        selected = [c["name"] for c in context.get_ciphers()]
    except ssl.SSLError:
        selected = []
    found.extend(name for name in selected if _WEAK_CIPHER_WORDS.search(name) and name not in found)
    return found


_SECLEVEL_RE = re.compile(r"@SECLEVEL=([0-9]+)", re.IGNORECASE)
_SYSTEM_LEVEL = []


def ssl_module_security_level():
    """The default OpenSSL security level of a fresh context of the ssl module, which links the system library as
    the server does (Debian's openssl.cnf and RHEL's DEFAULT crypto policy: 2); None where the ssl module cannot tell
    (Python < 3.10). The one reading: the insecure-settings gate here and the checker (tls/_context) both use it."""
    if not _SYSTEM_LEVEL:
        level = getattr(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT), "security_level", None)
        _SYSTEM_LEVEL.append(level if isinstance(level, int) else None)
    return _SYSTEM_LEVEL[0]


def system_security_level():
    """ssl_module_security_level(), or 2 (the Debian and RHEL default) where it cannot be told: the gate's bar."""
    level = ssl_module_security_level()
    return 2 if level is None else level


def cipher_security_level(ciphers):
    """The OpenSSL security level a cipher string sets (its last @SECLEVEL=n), None when it sets none."""
    levels = _SECLEVEL_RE.findall(ciphers or "")
    return int(levels[-1]) if levels else None


def insecure_settings(tls, server):
    """The settings that switch part of the backend check off, as 'field: value' strings (empty when secure).
    `server`: whose cipher list the weak-cipher reading asks OpenSSL about (see weak_cipher_words)."""
    found = []
    if tls["verify"] == "none":
        found.append("verify: none (the backend's CA chain is not checked)")
    elif tls["verify"] == "optional_no_ca":
        found.append("verify: optional_no_ca (an untrusted CA is accepted)")
    if not tls["check_peer_name"]:
        found.append("check_peer_name: false (any certificate name is accepted)")
    if not tls["check_peer_expire"]:
        found.append("check_peer_expire: false (expired certificates are accepted)")
    weak = [p for p in tls["protocols"] if p not in SECURE_PROTOCOLS]
    if weak:
        found.append("protocols: %s (below TLS 1.2)" % " ".join(weak))
    weak_ciphers = weak_cipher_words(tls.get("ciphers"), server)
    if weak_ciphers:
        found.append("ciphers: %s (weak or unauthenticated ciphers)" % ":".join(weak_ciphers))
    level = cipher_security_level(tls.get("ciphers"))
    if level is not None and level < system_security_level() and "@SECLEVEL=0" not in weak_ciphers:
        found.append("ciphers: @SECLEVEL=%d (below this host's OpenSSL security level %d: SHA-1 signatures and keys "
                     "under 2048 bits are accepted)" % (level, system_security_level()))
    return found
