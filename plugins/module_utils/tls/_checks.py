# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""The checks of backend_handshake, built from its input: the module's argument spec, the task-wide limits, every
field of a backends[] entry validated (a bad entry becomes a refused check, never a traceback), and the checks of the
role's `sites` (the same effective settings the renderer writes, *_content written to a private directory).

Server-specific rules (the names sent as SNI and checked, the cipher list) are asked of the semantics object the
caller passes in (_semantics.Semantics); _checker runs the checks this file builds.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import math
import os
import re

from ansible_collections.revproxy.tls.plugins.module_utils.model._backend_tls import (
    BACKEND_TLS_DEFAULTS,
    BACKEND_TLS_SPEC,
    ConfigError,
    PATH_KEYS,
    is_ip_literal,
    parse_backend_url,
    validate_backend_tls,
)
from ansible_collections.revproxy.tls.plugins.module_utils.model._grammar import CIPHER_RE, CONTROL_RE, hostname
from ansible_collections.revproxy.tls.plugins.module_utils.model import _policy
from ansible_collections.revproxy.tls.plugins.module_utils.model._sites import (
    SITE_SPEC,
    check_defaults,
    normalize_sites,
    select_sites,
    site_backend_checks,
)
from ansible_collections.revproxy.tls.plugins.module_utils.tls import _context

BACKEND_OPTIONS = dict(
    {
        "url": {"type": "str", "required": True},
        "preserve_host": {"type": "bool", "default": False},
        "host": {"type": "str"},
        # Only for a server whose semantics have them (Semantics.backend_keys); the others refuse them when set.
        "ssl_name": {"type": "str"},
        "ssl_server_name": {"type": "bool"},
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
    "names": {"type": "list", "elements": "str"},
    # No default here: the directory is the server's (the module sets and documents its default); run() needs it
    # with `sites`.
    "tls_dir": {"type": "path"},
    "timeout": {"type": "float", "default": 5},
    "concurrency": {"type": "int", "default": 64},
    "fail_on": {"type": "str", "choices": ["never", "failure"], "default": "failure"},
    "http_request": {"type": "bool", "default": True},
    "return_pem": {"type": "bool", "default": False},
}
ARGUMENT_SPEC.update(_policy.POLICY_OPTIONS)

TIMEOUT_MAX = 3600
CONCURRENCY_MAX = 1024

_DIR_KEYS = ("ca_path", "crl_path")
_PORT = re.compile(r"^[0-9]{1,5}$")


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
    """backends[].host, the Host header clients send: a host name or IP address as the grammar's hostname() takes it,
    optionally followed by ':port' (1-65535); an IPv6 address in brackets ('[::1]', '[::1]:8443'). With
    preserve_host it becomes SNI, the name checked and the Host header sent, so nothing else gets through."""
    if not isinstance(value, str):
        raise ConfigError("%s: must be a string, got %s" % (field, type(value).__name__))
    if value == "":
        raise ConfigError("%s: must not be empty" % field)
    if CONTROL_RE.search(value):
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
    hostname(name, field)
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


def _validate_tls(tls, prefix, semantics):
    """validate_backend_tls, except the two settings a server accepts at startup and fails at request time (verify
    without a CA, CRL checking without CRLs): the check reports those per backend instead of refusing them. A
    cipher string that selects nothing once the server built its list is no_cipher_match (the server would not
    start)."""
    relaxed = dict(tls)
    if relaxed["verify"] in ("require", "optional") and not (relaxed["ca_file"] or relaxed["ca_path"]):
        relaxed["verify"] = "none"
    if relaxed["crl_check"] in ("leaf", "chain") and not (relaxed["crl_file"] or relaxed["crl_path"]):
        relaxed["crl_check"] = "none"
    ciphers = relaxed["ciphers"]
    validate_backend_tls(dict(relaxed, ciphers=None), field=prefix)
    if isinstance(ciphers, str) and CIPHER_RE.match(ciphers) and len(ciphers) <= 1024:
        error = _context.cipher_match_error(ciphers, semantics)
        if error:
            raise _Refused("no_cipher_match", "%s.ciphers: %s" % (prefix, error), prefix + ".ciphers",
                           ciphers=ciphers)
    validate_backend_tls(relaxed, field=prefix)


def _printable(value, limit=200):
    """A value as one line of ASCII for labels and messages (control and non-ASCII characters escaped)."""
    text = value if isinstance(value, str) else repr(value)
    text = text[:limit * 4].encode("ascii", "backslashreplace").decode("ascii")
    text = CONTROL_RE.sub(lambda m: "\\x%02x" % ord(m.group()), text)
    return text if len(text) <= limit else text[:limit] + "..."


def _backend_check(item, prefix, semantics):
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
            _validate_tls(tls, prefix, semantics)
            try:
                semantics.check_settings(tls)
            except ConfigError as exc:
                raise ConfigError("%s.%s" % (prefix, exc))
            except _Refused as exc:  # a setting the server refuses at startup: its own reason
                raise _Refused(exc.reason, "%s.%s" % (prefix, exc.message), "%s.%s" % (prefix, exc.field),
                               **exc.fields)
            _check_files(tls, prefix + ".")
        else:
            validate_backend_tls(tls, field=prefix, used=False)
        try:
            sni, checked = semantics.backend_names(url, preserve_host, host, item)
        except ConfigError as exc:
            raise ConfigError("%s.%s" % (prefix, exc))
    except ConfigError as exc:
        raise _refused(exc)
    return {"url": url, "preserve_host": preserve_host, "host": host, "sni": sni, "checked_name": checked,
            "tls": tls, "path": url.path, "request_path": url.path}


def build_checks_from_backends(backends, semantics):
    """One check per backends[] entry, in order. An entry that fails validation becomes a check marked "refused"
    (reported as invalid_input or no_cipher_match, never probed); the others are unaffected."""
    checks = []
    for index, item in enumerate(backends or []):
        prefix = "backends[%d]" % index
        raw = item if isinstance(item, dict) else {}
        url = raw.get("url")
        host = raw.get("host")
        try:
            check = _backend_check(item, prefix, semantics)
        except _Refused as exc:
            check = {"refused": exc, "url": None, "preserve_host": False, "host": None, "sni": None,
                     "checked_name": None, "tls": None, "path": None, "request_path": None}
        check.update({
            "label": "%s (%s)" % (prefix, _printable(url)),
            "field_prefix": prefix + ".", "semantics": semantics,
            "result_keys": {"url": url if isinstance(url, str) else _printable(url),
                            "path": check["path"],
                            "host": host if host is None or isinstance(host, str) else _printable(host)},
        })
        checks.append(check)
    return checks


def build_checks_from_sites(sites, defaults, tls_dir, tmpdir, module, semantics, names=None, policy=None, server=None):
    """The checks of the sites' backends (of the sites in `names` only, when given), each site validated first. An
    error about the sites reads "sites: ..."; an unknown name in `names` reads "names: no such site(s): ...". The
    sites are validated with `server`, by default the semantics' own capability profile."""
    server = server if server is not None else semantics.profile
    try:
        normalized = normalize_sites(sites, defaults, tls_dir, policy, server=server)
    except ConfigError as exc:
        raise ConfigError("sites: %s" % exc)
    effective = select_sites(normalized, names)  # its error names the option: "names: no such site(s): x"
    try:
        return _checks_of(effective, tmpdir, module, semantics, server)
    except ConfigError as exc:
        raise ConfigError("sites: %s" % exc)


def build_checks_from_view(view, names, tmpdir, module, semantics):
    """The checks of the sites in `names` (all when None) from the view the plan of this run validated and handed on
    (each site's `backend_checks`, site_backend_checks' output; see apache/_plan.handoff_view). None when a selected
    site's checks were not handed on (they would need a client key, which no handed-on file holds): the caller then
    validates the sites themselves."""
    selected = select_sites(view, names)
    if any(site.get("backend_checks") is None for site in selected):
        return None
    return _checks_from_site_checks([(s["name"], s["warnings"], s["backend_checks"]) for s in selected],
                                    tmpdir, module, semantics)


def _checks_of(effective, tmpdir, module, semantics, server):
    """One check per backend of each effective site; *_content written once per distinct content into tmpdir."""
    return _checks_from_site_checks([(eff["name"], eff["warnings"], site_backend_checks(eff, server))
                                     for eff in effective], tmpdir, module, semantics)


def _checks_from_site_checks(sites, tmpdir, module, semantics):
    """The checker's checks from (site name, warnings, site_backend_checks) of each site."""
    checks = []
    written = {}
    for name, warnings, site_checks in sites:
        for warning in warnings:
            module.warn("site %s: %s" % (name, warning))
        for check in site_checks:
            tls = dict(check["backend_tls"])
            for key, content in check["contents"].items():
                # One file per distinct content: sites sharing a CA get identical settings (deduplicated checks).
                if content not in written:
                    path = os.path.join(tmpdir, "%d.pem" % len(written))
                    with open(path, "w") as f:
                        f.write(content)
                    written[content] = path
                tls[key] = written[content]
            url = parse_backend_url(check["url"], "url")
            label = "%s %s%s" % (check["site"], check["url"], " (Host %s)" % check["host"] if check["host"] else
                                 " (health check: no SNI)" if check.get("health_check") else "")
            try:
                _check_files(tls)
            except ConfigError as exc:
                raise ConfigError("site %r: locations path %s: backend_tls: %s"
                                  % (check["site"], check["path"], exc))
            checks.append({
                "label": label, "url": url, "preserve_host": check["preserve_host"], "host": check["host"],
                "sni": check["sni"], "checked_name": check["checked_name"], "tls": tls, "path": check["path"],
                "request_path": check.get("request_path") or url.path,
                "field_prefix": "site %r: backend_tls." % check["site"],
                "result_keys": dict({"site": check["site"], "url": check["url"], "path": check["path"],
                                     "host": check["host"]}, **({"health_check": True} if check.get("health_check")
                                                                else {})),
                "pool": check.get("pool"), "site": check["site"], "semantics": semantics,
            })
    return checks


def secret_values(value):
    """client_key_content values anywhere in the sites/defaults input (masked in all output)."""
    found = []
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "client_key_content" and isinstance(v, str) and v:
                found.append(v)
            else:
                found.extend(secret_values(v))
    elif isinstance(value, list):
        for v in value:
            found.extend(secret_values(v))
    return found
