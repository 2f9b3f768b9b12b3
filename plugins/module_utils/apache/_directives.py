# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""extra_directives: the allow-list of directives a site or location may add, each with typed arguments.

The first hardening made every extra line one well-formed directive; the second review showed that a well-formed
directive can still write a root-owned file (CustomLog), read files (Header ... expr=file()), weaken TLS
(SSLProtocol, SSLCipherSuite, SSLInsecureRenegotiation, LogLevel ssl:trace8) or open what the model keeps closed
(Require, SetHandler). So a line is accepted only when its directive is listed in ALLOWED below and every argument
passes that directive's own kind: numbers in Apache's ranges, keywords from a fixed set, MIME types. None of the
listed directives names a file, takes an expression, logs, maps a handler, changes who may reach what or touches TLS:
those have typed fields (request_headers, response_headers, error_pages, backend_tls, tls_profile, hsts...).

Anything else is a *raw* directive: accepted only when the operator sets the role-level switch
apache_proxy_allow_raw_directives (a policy, never a site field: see model/_policy.py), rendered under a RAW comment
with a warning. Raw lines still go through the syntax checks (one directive per line, no sections, no includes,
module loads or piped programs) and the backend-TLS gate (SSLProxy*/Proxy* need allow_insecure_backend_tls).
Pure (no I/O).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.revproxy.tls.plugins.module_utils.model import _grammar as grammar
from ansible_collections.revproxy.tls.plugins.module_utils.model._grammar import ConfigError
from ansible_collections.revproxy.tls.plugins.module_utils.apache._emit import tokenize

_INT_MAX = 2147483647
_MIME_RE = re.compile(r"^[a-z0-9][a-z0-9.+-]{0,63}/[a-z0-9*][a-z0-9.+*-]{0,127}$")
_CHARSET_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,39}$")
# Environment variables that tune mod_proxy and the protocol (mod_proxy's and httpd's documented "special purpose"
# variables); their value is ignored, "1" is written.
PROXY_ENV_VARS = ("proxy-nokeepalive", "proxy-sendchunked", "proxy-sendcl", "proxy-interim-response",
                  "proxy-initial-not-pooled", "force-proxy-request-1.0", "no-gzip", "nokeepalive", "downgrade-1.0",
                  "force-response-1.0")
VHOST, LOCATION = "vhost", "location"


def _int(low, high):
    def check(value, field):
        if not re.match(r"^-?[0-9]{1,10}$", value):
            raise ConfigError("%s: %r is not a whole number" % (field, value))
        grammar.integer(int(value), field, low, high)
        return str(int(value))
    check.doc = "a number %d-%d" % (low, high)
    return check


def _keyword(*choices):
    def check(value, field):
        for c in choices:
            if value.lower() == c.lower():
                return c
        raise ConfigError("%s: must be one of %s, got %r" % (field, ", ".join(choices), value))
    check.doc = "|".join(choices)
    return check


def _mime(value, field):
    if not _MIME_RE.match(value.lower()):
        raise ConfigError("%s: %r is not a MIME type (type/subtype)" % (field, value))
    return value.lower()


_mime.doc = "a MIME type"


def _charset(value, field):
    if value.lower() in ("on", "off"):
        return value.capitalize()
    if not _CHARSET_RE.match(value):
        raise ConfigError("%s: %r is not On, Off or a character set name" % (field, value))
    return value


_charset.doc = "On|Off|<charset>"


def _env_name(value, field):
    if value.lower() not in PROXY_ENV_VARS:
        raise ConfigError("%s: %r is not one of the proxy environment variables %s"
                          % (field, value, ", ".join(PROXY_ENV_VARS)))
    return value.lower()


_env_name.doc = "one of " + ", ".join(PROXY_ENV_VARS)


def _env_value(value, field):
    if value != "1":
        raise ConfigError("%s: these variables are switches: write 1" % field)
    return value


_env_value.doc = "1"

_ON_OFF = _keyword("On", "Off")

# name -> (contexts, Apache modules it needs (Debian names; () for core), [argument kinds], repeat the last kind)
ALLOWED = {
    "Timeout": ((VHOST,), (), [_int(1, 86400)], False),
    "KeepAlive": ((VHOST,), (), [_ON_OFF], False),
    "KeepAliveTimeout": ((VHOST,), (), [_int(0, 3600)], False),
    "MaxKeepAliveRequests": ((VHOST,), (), [_int(0, 1000000)], False),
    "LimitRequestBody": ((VHOST, LOCATION), (), [_int(0, _INT_MAX)], False),
    "LimitRequestFields": ((VHOST,), (), [_int(0, 32767)], False),
    "LimitRequestFieldSize": ((VHOST,), (), [_int(1, 65536)], False),
    "LimitRequestLine": ((VHOST,), (), [_int(1, 65536)], False),
    "LimitXMLRequestBody": ((VHOST, LOCATION), (), [_int(0, _INT_MAX)], False),
    "ProxyTimeout": ((VHOST,), (), [_int(1, 86400)], False),
    "ProxyIOBufferSize": ((VHOST,), (), [_int(512, 1 << 24)], False),
    "ProxyReceiveBufferSize": ((VHOST,), (), [_int(512, 1 << 24)], False),
    "ProxyBadHeader": ((VHOST,), (), [_keyword("IsError", "Ignore", "StartBody")], False),
    "ProxyVia": ((VHOST,), (), [_keyword("Off", "On", "Full", "Block")], False),
    "ProxyMaxForwards": ((VHOST,), (), [_int(-1, 1000)], False),
    "TraceEnable": ((VHOST,), (), [_keyword("Off")], False),
    "ServerSignature": ((VHOST, LOCATION), (), [_keyword("Off", "On")], False),
    # NoDecode forwards %2F undecoded (traversal at a backend that decodes it): like nocanon, not for a site.
    "AllowEncodedSlashes": ((VHOST,), (), [_keyword("Off")], False),
    "AddDefaultCharset": ((VHOST, LOCATION), (), [_charset], False),
    "SetEnv": ((VHOST, LOCATION), ("env",), [_env_name, _env_value], False),
    "AddOutputFilterByType": ((VHOST, LOCATION), ("filter", "deflate"), [_keyword("DEFLATE"), _mime], True),
}
_BY_LOWER = dict((k.lower(), k) for k in ALLOWED)

# Never accepted, not even raw: they load code or files, run programs, or change what the model controls.
NEVER = ("include", "includeoptional", "loadmodule", "loadfile", "define", "undefine", "extfilterdefine",
         "rewritemap", "sslpassphrasedialog", "sslrandomseed", "servername", "serveralias", "serverroot", "listen")
_MODEL_ONLY_PREFIXES = ("sslproxy", "proxy", "sslengine", "balancermember")
_DIRECTIVE_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def split_line(line, field):
    """The words of one config line as Apache reads them; refuses unbalanced quotes (Apache would read to the end)."""
    words, i, n = [], 0, len(line)
    while True:
        while i < n and line[i] in " \t":
            i += 1
        if i >= n:
            return words
        if line[i] in "\"'":
            quote, j = line[i], i + 1
            while j < n and line[j] != quote:
                j += 2 if line[j] == "\\" and j + 1 < n else 1
            if j >= n:
                raise ConfigError("%s: unbalanced %s quote" % (field, quote))
            end = j + 1
            if end < n and line[end] not in " \t":
                raise ConfigError("%s: a quoted argument must be followed by a space" % field)
        else:
            end = i
            while end < n and line[end] not in " \t":
                end += 1
        words.append(line[i:end])
        i = end


def _syntax(line, efield):
    """One directive line, syntax only (the first hardening). Returns (name, words as Apache reads them)."""
    grammar.text(line, efield, 4096)
    line = line.strip(" \t")
    if not line:
        raise ConfigError("%s: must not be empty" % efield)
    if line.startswith("<") or "</" in line:
        raise ConfigError("%s: section tags (<...>) are not accepted; one directive per line" % efield)
    if line.startswith("#"):
        raise ConfigError("%s: a comment is not a directive" % efield)
    if line.endswith("\\"):
        raise ConfigError("%s: must not end with a continuation backslash" % efield)
    words = split_line(line, efield)
    tokens = tokenize(line)
    if "" in tokens[1:]:
        raise ConfigError("%s: empty quoted arguments are not accepted" % efield)
    name = words[0]
    if not _DIRECTIVE_NAME_RE.match(name):
        raise ConfigError("%s: %r is not a directive name" % (efield, name))
    if name.lower() in NEVER:
        raise ConfigError("%s: %s is not accepted in extra_directives (it loads code or files, runs programs or "
                          "changes what the model controls)" % (efield, name))
    if any(w.lstrip("\"'").startswith("|") for w in words[1:]):
        raise ConfigError("%s: piped arguments ('|program') are not accepted" % efield)
    return line, name, tokens


def _allowed(name, tokens, efield, context):
    canonical = _BY_LOWER[name.lower()]
    contexts, module, kinds, repeat = ALLOWED[canonical]
    if context not in contexts:
        raise ConfigError("%s: %s is valid in a site's extra_directives only (Apache refuses it inside "
                          "<Location>)" % (efield, canonical))
    args = tokens[1:]
    if len(args) < len(kinds) or (len(args) > len(kinds) and not repeat):
        raise ConfigError("%s: %s takes %s%s" % (efield, canonical, " ".join("<%s>" % k.doc for k in kinds),
                                                 " ..." if repeat else ""))
    out = []
    for i, arg in enumerate(args):
        kind = kinds[min(i, len(kinds) - 1)]
        out.append(kind(arg, "%s: %s argument %d" % (efield, canonical, i + 1)))
    return {"name": canonical, "args": out, "raw": None, "modules": list(module)}


def extra_directives(value, field, context=VHOST, allow_raw=False):
    """extra_directives of a site (context VHOST) or a location (LOCATION): a list of entries
    {name, args (allow-listed, typed: rendered bare), raw (the line, for raw directives), modules}."""
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > 100:
        raise ConfigError("%s: must be a list of at most 100 directive lines" % field)
    out = []
    for i, line in enumerate(value):
        efield = "%s[%d]" % (field, i)
        line, name, tokens = _syntax(line, efield)
        if name.lower() in _BY_LOWER:
            out.append(_allowed(name, tokens, efield, context))
        elif allow_raw:
            out.append({"name": name, "args": None, "raw": line, "modules": []})
        else:
            raise ConfigError(
                "%s: %s is not on the extra_directives allow-list (%s). Use the site's typed fields for headers, "
                "logs, TLS, access and error pages; a raw directive needs the role-level switch "
                "apache_proxy_allow_raw_directives: true (an operator's decision: never expose it in a survey)"
                % (efield, name, ", ".join(sorted(ALLOWED))))
    return out


def raw_entries(entries):
    return [e for e in entries if e["raw"] is not None]


def gate(entries, field, allow_insecure):
    """The opt-ins of validated entries (a site's or a location's): raw SSLProxy*/SSLEngine/Proxy* lines go through
    the model unless allow_insecure_backend_tls; every raw line is announced. Returns the warnings."""
    raw = raw_entries(entries)
    found = ["%s %s" % (field, e["name"]) for e in raw if e["name"].lower().startswith(_MODEL_ONLY_PREFIXES)]
    if found and not allow_insecure:
        raise ConfigError("%s: SSLProxy*, SSLEngine and Proxy* directives must go through the site's model "
                          "(backend_tls, locations, preserve_host...) so the preflight checks what Apache does; set "
                          "allow_insecure_backend_tls: true to write them anyway" % ", ".join(found))
    warnings = ["INSECURE extra directive allowed by allow_insecure_backend_tls: %s" % f for f in found]
    if raw:
        warnings.append("RAW directive(s) in %s allowed by apache_proxy_allow_raw_directives: %s"
                        % (field, ", ".join(e["name"] for e in raw)))
    return warnings


def modules(entries):
    return set(m for e in entries for m in e["modules"])
