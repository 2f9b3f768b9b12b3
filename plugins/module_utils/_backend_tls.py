# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""The one definition of the backend TLS settings (names, types, defaults) and of mod_ssl's naming rules.

Both the renderer (apache_proxy role, apache_proxy_sites module) and the checker (backend_handshake module) import
these, so what the role writes and what the checker tests cannot disagree.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

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

_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_URL_PATH = re.compile(r"^/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$")


class ConfigError(ValueError):
    """A setting that must be refused. The message names the field; callers prefix the site or backend."""


def check_directive_string(value, field):
    """Refuse anything that could escape an Apache directive argument: control characters, quotes, angle brackets
    and backslashes (ap_getword_conf treats a backslash before a quote as an escape)."""
    if not isinstance(value, str):
        raise ConfigError("%s: must be a string, got %s" % (field, type(value).__name__))
    if value == "":
        raise ConfigError("%s: must not be empty" % field)
    if _CONTROL.search(value):
        raise ConfigError("%s: must not contain newlines or control characters" % field)
    for bad in ('"', "<", ">", "\\", "`"):
        if bad in value:
            raise ConfigError("%s: must not contain %r" % (field, bad))
    return value


def check_abs_path(value, field):
    check_directive_string(value, field)
    if not value.startswith("/"):
        raise ConfigError("%s: must be an absolute path, got %r" % (field, value))
    if any(part == ".." for part in value.split("/")):
        raise ConfigError("%s: must not contain '..' path components" % field)
    if " " in value or "\t" in value:
        raise ConfigError("%s: must not contain whitespace" % field)
    return value


def is_ip_literal(host):
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        return False


def check_hostname(value, field, wildcard=False):
    """A DNS name (or IP literal) as Apache takes it in ServerName/ServerAlias or a URL."""
    check_directive_string(value, field)
    if is_ip_literal(value):
        return value
    labels = value.split(".")
    if wildcard and labels[0] == "*" and len(labels) > 1:
        labels = labels[1:]
    if len(value) > 253 or not all(_HOST_LABEL.match(label) for label in labels):
        raise ConfigError("%s: %r is not a valid host name" % (field, value))
    return value


class BackendURL:
    """A parsed ProxyPass target."""

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


def parse_backend_url(url, field="backend"):
    """Parse and validate a ProxyPass backend URL: http, https, ws or wss, a host, an optional port and path."""
    check_directive_string(url, field)
    if any(c.isspace() for c in url):
        raise ConfigError("%s: URL must not contain whitespace: %r" % (field, url))
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ConfigError("%s: %r is not a valid URL (%s)" % (field, url, exc))
    scheme = parts.scheme.lower()
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
    check_hostname(host, field + " host")
    if port is not None and not 1 <= port <= 65535:
        raise ConfigError("%s: URL %r has an invalid port" % (field, url))
    path = parts.path or "/"
    if not _URL_PATH.match(path):
        raise ConfigError("%s: URL %r has characters that are not allowed in its path" % (field, url))
    return BackendURL(url, scheme, host.lower(), port or DEFAULT_PORTS[scheme], path)


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


def merge_backend_tls(*layers):
    """Defaults first, then each layer's explicitly set (non-None) keys."""
    merged = dict(BACKEND_TLS_DEFAULTS)
    for layer in layers:
        for key, value in (layer or {}).items():
            if value is not None:
                merged[key] = value
    return merged


def validate_backend_tls(tls, field="backend_tls", used=True):
    """Lexical and type checks of effective backend TLS settings (after merge). Raises ConfigError.
    With used=False (no TLS backend uses them), the cross-field rules that only matter for a handshake are skipped."""
    unknown = sorted(set(tls) - set(BACKEND_TLS_DEFAULTS))
    if unknown:
        raise ConfigError("%s: unknown key(s) %s" % (field, ", ".join(unknown)))
    if tls["verify"] not in VERIFY_CHOICES:
        raise ConfigError("%s.verify: must be one of %s, got %r" % (field, ", ".join(VERIFY_CHOICES), tls["verify"]))
    depth = tls["verify_depth"]
    if isinstance(depth, bool) or not isinstance(depth, int) or not 0 <= depth <= 100:
        raise ConfigError("%s.verify_depth: must be an integer from 0 to 100, got %r" % (field, depth))
    if tls["crl_check"] not in CRL_CHECK_CHOICES:
        raise ConfigError("%s.crl_check: must be one of %s, got %r"
                          % (field, ", ".join(CRL_CHECK_CHOICES), tls["crl_check"]))
    for key in ("check_peer_name", "check_peer_expire"):
        if not isinstance(tls[key], bool):
            raise ConfigError("%s.%s: must be a boolean, got %r" % (field, key, tls[key]))
    for key in PATH_KEYS:
        if tls[key] is not None:
            check_abs_path(tls[key], "%s.%s" % (field, key))
    protocols = tls["protocols"]
    if not isinstance(protocols, list) or not protocols:
        raise ConfigError("%s.protocols: must be a non-empty list of %s" % (field, ", ".join(PROTOCOL_CHOICES)))
    for proto in protocols:
        if proto not in PROTOCOL_CHOICES:
            raise ConfigError("%s.protocols: %r is not one of %s" % (field, proto, ", ".join(PROTOCOL_CHOICES)))
    if tls["ciphers"] is not None:
        check_directive_string(tls["ciphers"], field + ".ciphers")
        if not re.match(r"^[A-Za-z0-9_:+!@=.-]+$", tls["ciphers"]):
            raise ConfigError("%s.ciphers: %r is not an OpenSSL cipher string" % (field, tls["ciphers"]))
    if not used:
        return tls
    if tls["verify"] in ("require", "optional") and not (tls["ca_file"] or tls["ca_path"]):
        raise ConfigError("%s.verify: %r needs a CA (ca_file, ca_content or ca_path): mod_ssl never uses the "
                          "system trust store for backends, so every backend would fail with AH02039 (error 20)"
                          % (field, tls["verify"]))
    if tls["crl_check"] != "none" and not (tls["crl_file"] or tls["crl_path"]):
        raise ConfigError("%s.crl_check: %r needs crl_file or crl_path: without CRLs mod_ssl fails every backend "
                          "with 'unable to get certificate CRL'" % (field, tls["crl_check"]))
    if tls["client_key_file"] and not tls["client_cert_file"]:
        raise ConfigError("%s.client_key_file: needs client_cert_file" % field)
    if tls["client_chain_file"] and not tls["client_cert_file"]:
        raise ConfigError("%s.client_chain_file: needs client_cert_file" % field)
    return tls


def insecure_settings(tls):
    """The settings that switch part of the backend check off, as 'field: value' strings (empty when secure)."""
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
    return found
