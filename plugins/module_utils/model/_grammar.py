# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""The value grammar of revproxy.tls: the kinds every field is checked by.

Every field of every module and of the role names one kind below (host name, IP literal, port, absolute path, URL
path, token, cipher string, bounded integer...). A kind checks a value and returns its normalised form, or raises
ConfigError naming the field. Nothing else validates ad hoc. How a checked value is then written into a server's
configuration is the job of that server's emitter, in the server's own directory (one argument per value, read
back before it is written); the kinds are neutral so that any server's emitter can rely on them.

Pure: no I/O.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import math
import re


class ConfigError(ValueError):
    """A setting that must be refused. The message names the field; callers prefix the site or backend."""


# ---------------------------------------------------------------------------------------------------------------
# Kinds

MAX_TEXT = 4096
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_HOST_LABEL = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$")
_NUMERIC_LABEL = re.compile(r"^[0-9]+$")
URL_PATH_RE = re.compile(r"^/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$")
TOKEN_RE = re.compile(r"^[A-Za-z0-9_.-]+$")
SITE_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
CIPHER_RE = re.compile(r"^[A-Za-z0-9_:+!@=.-]+$")
LOG_LEVEL_RE = re.compile(r"^(?:[a-z_0-9]+:)?(?:emerg|alert|crit|error|warn|notice|info|debug|trace[1-8])$")


def text(value, field, max_len=MAX_TEXT):
    """Any single-line string: no control characters, no ${ (a configuration variable, substituted before the line is
    read)."""
    if not isinstance(value, str):
        raise ConfigError("%s: must be a string, got %s" % (field, type(value).__name__))
    if value == "":
        raise ConfigError("%s: must not be empty" % field)
    if CONTROL_RE.search(value):
        raise ConfigError("%s: must not contain newlines or control characters" % field)
    if "${" in value:
        raise ConfigError("%s: must not contain '${' (a configuration variable would be substituted there)" % field)
    if len(value) > max_len:
        raise ConfigError("%s: is longer than %d characters" % (field, max_len))
    return value


def safe_text(value, field, max_len=MAX_TEXT):
    """text() without quotes, angle brackets, backslashes or backticks (values that never need them)."""
    text(value, field, max_len)
    for bad in ('"', "'", "<", ">", "\\", "`"):
        if bad in value:
            raise ConfigError("%s: must not contain %r" % (field, bad))
    return value


def _ascii(value, field):
    try:
        value.encode("ascii")
    except UnicodeEncodeError:
        raise ConfigError("%s: %r must be ASCII (use the IDNA 'xn--' form of an international name)" % (field, value))


def ip_literal(value, field, brackets=False):
    """An IPv4 or IPv6 address without a zone id; with brackets=True an IPv6 address may be written [..].
    Returns the address without brackets."""
    if not isinstance(value, str):
        raise ConfigError("%s: must be a string, got %s" % (field, type(value).__name__))
    addr = value
    if brackets and addr.startswith("[") and addr.endswith("]"):
        addr = addr[1:-1]
    if "%" in addr:
        raise ConfigError("%s: %r: IPv6 zone ids (%%...) are not accepted" % (field, value))
    try:
        parsed = ipaddress.ip_address(addr)
    except ValueError:
        raise ConfigError("%s: must be an IP address, got %r" % (field, value))
    if parsed.version == 4 and addr != value:
        raise ConfigError("%s: %r: only IPv6 addresses are written in brackets" % (field, value))
    return addr


def is_ip_literal(host):
    """True for an IPv4/IPv6 address (IPv6 optionally in brackets) without a zone id."""
    try:
        ip_literal(host, "host", brackets=True)
        return True
    except ConfigError:
        return False


def hostname(value, field, wildcard=False, ipv4=True, ipv6=True):
    """A DNS name per RFC 1123 (letters, digits, '-', and '_' which service names use; labels of 1-63, 253 in all,
    an optional trailing dot), optionally '*.' + name (wildcard), or an IP literal without zone id."""
    safe_text(value, field, 260)
    _ascii(value, field)
    if is_ip_literal(value):
        if ":" in value and not ipv6:
            raise ConfigError("%s: %r: an IPv6 literal is not accepted here; use a DNS name" % (field, value))
        if ":" not in value and not ipv4:
            raise ConfigError("%s: %r: an IP literal is not accepted here; use a DNS name" % (field, value))
        if value.startswith("["):
            raise ConfigError("%s: %r: write the address without brackets" % (field, value))
        return value
    name = value[:-1] if value.endswith(".") else value
    labels = name.split(".")
    if wildcard and labels[0] == "*" and len(labels) > 1:
        labels = labels[1:]
    if len(name) > 253 or not all(_HOST_LABEL.match(label) for label in labels):
        raise ConfigError("%s: %r is not a valid host name" % (field, value))
    if len(labels) > 1 and _NUMERIC_LABEL.match(labels[-1]):
        raise ConfigError("%s: %r is neither an IP address nor a host name (all-numeric top label)" % (field, value))
    return value


def boolean(value, field):
    if not isinstance(value, bool):
        raise ConfigError("%s: must be a boolean, got %r" % (field, value))
    return value


def integer(value, field, low, high, also=()):
    """An int from low to high (or one of `also`); never a bool, a float or a string."""
    if isinstance(value, bool) or not isinstance(value, int) or not (low <= value <= high or value in also):
        extra = "".join(" or %d" % v for v in also)
        raise ConfigError("%s: must be an integer from %d to %d%s, got %r" % (field, low, high, extra, value))
    return value


def number(value, field, low, high):
    """A finite int or float with low < value <= high."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (
            isinstance(value, float) and not math.isfinite(value)) or not low < value <= high:
        raise ConfigError("%s: must be a number greater than %s and at most %s, got %r" % (field, low, high, value))
    return value


def port(value, field):
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise ConfigError("%s: must be a port number from 1 to 65535, got %r" % (field, value))
    return value


def choice(value, field, choices):
    if value not in choices:
        raise ConfigError("%s: must be one of %s, got %r" % (field, ", ".join(map(str, choices)), value))
    return value


def abs_path(value, field):
    safe_text(value, field, 1024)
    if not value.startswith("/"):
        raise ConfigError("%s: must be an absolute path, got %r" % (field, value))
    if any(part == ".." for part in value.split("/")):
        raise ConfigError("%s: must not contain '..' path components" % field)
    if any(c.isspace() for c in value):
        raise ConfigError("%s: must not contain whitespace" % field)
    return value


def url_path(value, field):
    safe_text(value, field, 2048)
    if not URL_PATH_RE.match(value) or any(part == ".." for part in value.split("/")):
        raise ConfigError("%s: %r must be an absolute URL path without spaces, quotes or '..'" % (field, value))
    return value


def token(value, field, max_len=64):
    safe_text(value, field, max_len)
    if not TOKEN_RE.match(value):
        raise ConfigError("%s: must be a single token of letters, digits, '_', '.', '-', got %r" % (field, value))
    return value


def site_name(value, field="name"):
    safe_text(value, field, 100)
    if not SITE_NAME_RE.match(value) or value in (".", ".."):
        raise ConfigError("%s: %r must match ^[a-z0-9][a-z0-9_.-]*$ (it becomes a file name)" % (field, value))
    return value


def mapping(value, allowed, field):
    """A dict whose keys are all in `allowed`; the error names the unknown keys and the allowed ones."""
    if not isinstance(value, dict):
        raise ConfigError("%s: must be a mapping, got %s" % (field, type(value).__name__))
    unknown = sorted(str(k) for k in set(value) - set(allowed))
    if unknown:
        raise ConfigError("%s: unknown key(s) %s (allowed: %s)"
                          % (field, ", ".join(unknown), ", ".join(sorted(allowed))))
    return value


def log_level(value, field="log_level"):
    """A server log level: one or more `[module:]level` words, returned joined by single spaces."""
    tokens = value.split() if isinstance(value, str) else []
    if not tokens or not all(LOG_LEVEL_RE.match(t) for t in tokens):
        raise ConfigError("%s: %r is not a log level (for example 'warn ssl:info')" % (field, value))
    return " ".join(tokens)


def cipher_string(value, field):
    """The syntax of an OpenSSL cipher string (no spaces, no quotes); whether it selects any cipher is the server
    profile's question (it knows what the server adds to the list)."""
    safe_text(value, field, 1024)
    if not CIPHER_RE.match(value):
        raise ConfigError("%s: %r is not an OpenSSL cipher string (letters, digits and _ : + ! @ = . -)"
                          % (field, value))
    return value
