# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""The public side of a site: HTTP->HTTPS redirect, forwarded and custom headers, HSTS, frontend TLS policy.

normalize_frontend() turns a user's site fields into the effective "frontend" part of the site the server's
renderer writes. Pure (no I/O); every value goes through a grammar kind, every error names the field (the caller
prefixes the site). The server's own rules (what a header value may not hold, the extra lines of its configuration
a site may add) are asked of its capability profile (model/_server.py), passed in as `server`.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.revproxy.tls.plugins.module_utils.model import _grammar as grammar
from ansible_collections.revproxy.tls.plugins.module_utils.model import _policy
from ansible_collections.revproxy.tls.plugins.module_utils.model._grammar import ConfigError

# Mozilla server-side TLS recommendations, version 5.7 (https://ssl-config.mozilla.org/guidelines/5.7.json).
TLS_PROFILES = {
    "intermediate": {
        "protocols": ["TLSv1.2", "TLSv1.3"],
        "ciphers": "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
                   "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
                   "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305",
    },
    "modern": {"protocols": ["TLSv1.3"], "ciphers": None},
    "old": {
        "protocols": ["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"],
        "ciphers": "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
                   "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
                   "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305:"
                   "ECDHE-ECDSA-AES128-SHA256:ECDHE-RSA-AES128-SHA256:ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:"
                   "ECDHE-ECDSA-AES256-SHA384:ECDHE-RSA-AES256-SHA384:ECDHE-ECDSA-AES256-SHA:ECDHE-RSA-AES256-SHA:"
                   "DHE-RSA-AES128-SHA256:DHE-RSA-AES256-SHA256:AES128-GCM-SHA256:AES256-GCM-SHA384:"
                   "AES128-SHA256:AES256-SHA256:AES128-SHA:AES256-SHA:DES-CBC3-SHA",
    },
}
HEADER_ACTIONS = ("set", "unset", "append", "add", "merge")
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
HSTS_DEFAULT_MAX_AGE = 63072000  # two years, Mozilla's recommendation
HSTS_PRELOAD_MIN_AGE = 31536000  # hstspreload.org requires at least one year
HSTS_MIN_AGE = 31536000  # shorter than a year needs allow_insecure_frontend_tls (Mozilla: two years)
ACME_PATH = "/.well-known/acme-challenge/"

# An RFC 9110 field name (token) without the quote and backtick characters a config line never needs.
HEADER_NAME_RE = re.compile(r"^[A-Za-z0-9!#$%&*+.^_|~-]+$")

HEADER_ENTRY_SPEC = {
    "action": {"type": "str", "choices": list(HEADER_ACTIONS), "default": "set"},
    "name": {"type": "str", "required": True},
    "value": {"type": "str"},
}
_HEADERS_SPEC = {"type": "list", "elements": "dict", "default": [], "options": HEADER_ENTRY_SPEC}

# Site-level options, added to _sites.SITE_SPEC.
FRONTEND_SITE_SPEC = {
    "redirect_http": {"type": "bool", "default": True},
    "redirect_http_port": {"type": "int", "default": 80},
    "redirect_status": {"type": "int", "default": 301, "choices": list(REDIRECT_STATUSES)},
    "acme_challenge_dir": {"type": "path"},
    "forwarded_headers": {"type": "bool", "default": True},
    "request_headers": _HEADERS_SPEC,
    "response_headers": _HEADERS_SPEC,
    "hsts": {"type": "bool", "default": True},
    "hsts_max_age": {"type": "int", "default": HSTS_DEFAULT_MAX_AGE},
    "hsts_include_subdomains": {"type": "bool", "default": False},
    "hsts_preload": {"type": "bool", "default": False},
    "tls_profile": {"type": "str", "default": "intermediate", "choices": sorted(TLS_PROFILES)},
    "tls_session_tickets": {"type": "bool", "default": False},
    "http2": {"type": "bool", "default": False},
    "ocsp_stapling": {"type": "bool", "default": False},
    "allow_insecure_frontend_tls": {"type": "bool", "default": False},
    "proxy_exclusions": {"type": "list", "elements": "str", "default": []},
    "extra_directives": {"type": "list", "elements": "str", "default": []},
    "error_pages": {"type": "list", "elements": "dict", "default": [], "options": {
        "status": {"type": "int", "required": True},
        "file": {"type": "path", "required": True},
    }},
}

# Location-level options, added to _sites.LOCATION_SPEC.
FRONTEND_LOCATION_SPEC = {
    "request_headers": _HEADERS_SPEC,
    "response_headers": _HEADERS_SPEC,
    "nocanon": {"type": "bool", "default": False},
    "reverse_cookie_domain": {"type": "str"},
    "reverse_cookie_path": {"type": "bool", "default": False},
    "extra_directives": {"type": "list", "elements": "str", "default": []},
}

# Request headers that say who the client is or how it connected. With forwarded_headers the proxy drops every
# client-sent value of them, in each spelling a backend may read as the same name (CGI, WSGI and PHP turn '-' and '_'
# into '_'), sets X-Forwarded-Proto/-Port itself and lets the server add X-Forwarded-For/-Host/-Server.
FORWARDED_NAMES = ("Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Server", "X-Forwarded-Proto",
                   "X-Forwarded-Port", "X-Forwarded-Ssl", "X-Forwarded-Prefix", "X-Forwarded-Scheme",
                   "X-Forwarded-Protocol", "X-Real-IP", "X-Client-IP", "Client-IP", "True-Client-IP",
                   "X-Cluster-Client-IP", "X-Url-Scheme", "Front-End-Https",
                   # Round two's review: CDN and framework spellings of the client address and host, and the
                   # headers some frameworks take as the request path (a path override bypasses path-based rules).
                   "X-Forwarded", "Forwarded-For", "X-Original-Forwarded-For", "X-Remote-Addr", "X-Remote-IP",
                   "X-Originating-IP", "X-ProxyUser-Ip", "CF-Connecting-IP", "Fastly-Client-IP", "X-Host",
                   "X-Original-Host", "X-Forwarded-Uri", "X-Original-URL", "X-Rewrite-URL")


def spellings(name):
    """Every spelling of a header name with '-' or '_' at each separator: X-Real-IP -> X-Real-IP, X-Real_IP,
    X_Real-IP, X_Real_IP (header names compare without case, but '-' and '_' are different bytes)."""
    parts = name.split("-")
    out = [parts[0]]
    for part in parts[1:]:
        out = [prefix + sep + part for prefix in out for sep in ("-", "_")]
    return out


def forwarded_unset_names():
    return [variant for name in FORWARDED_NAMES for variant in spellings(name)]


_OWNED_REQUEST = set(n.lower().replace("_", "-") for n in FORWARDED_NAMES)
# Request headers that choose the vhost a request reaches (Host: with preserve_host a backend on this host would
# answer as another site) or frame the request (smuggling): always the proxy's.
PROXY_REQUEST_HEADERS = ("host", "content-length", "transfer-encoding", "connection", "upgrade", "te", "trailer",
                         "keep-alive", "expect", "proxy-connection", "proxy-authorization", "max-forwards")


def check_owned_headers(site, forwarded):
    """Typed headers must not undo what a typed field guarantees: HSTS is the hsts fields' (a header could send
    max-age=0 without the opt-in), and with forwarded_headers the forwarded names are the proxy's."""
    groups = [("", site)] + [("locations[%d]." % i, loc) for i, loc in enumerate(site.get("locations") or [])
                             if isinstance(loc, dict)]
    for prefix, node in groups:
        for kind in ("request_headers", "response_headers"):
            for i, entry in enumerate(node.get(kind) or []):
                name = entry.get("name") if isinstance(entry, dict) else None
                if not isinstance(name, str):
                    continue
                key = name.lower().replace("_", "-")
                field = "%s%s[%d].name" % (prefix, kind, i)
                if kind == "response_headers" and key == "strict-transport-security":
                    raise ConfigError("%s: Strict-Transport-Security is set by the hsts fields (hsts, hsts_max_age, "
                                      "hsts_include_subdomains, hsts_preload); a header here could switch it off" % field)
                if kind == "request_headers" and key in PROXY_REQUEST_HEADERS:
                    raise ConfigError("%s: %s is set by the proxy (it chooses the vhost a request reaches, or frames "
                                      "the request); use preserve_host for the client's Host" % (field, name))
                if kind == "request_headers" and forwarded and key in _OWNED_REQUEST:
                    raise ConfigError("%s: %s is set by the proxy (forwarded_headers: true drops client values and "
                                      "sets its own); set forwarded_headers: false to manage it yourself"
                                      % (field, name))


def header_name(value, field):
    grammar.safe_text(value, field, 256)
    if not HEADER_NAME_RE.match(value):
        raise ConfigError("%s: %r is not an HTTP header name (letters, digits and !#$%%&*+.^_|~-)" % (field, value))
    return value


def header_value(value, field, server):
    """Any single line of printable ASCII (no control characters, no '${', no trailing backslash), then what the
    server would interpret in it (server.check_header_value: expressions, format specifiers)."""
    grammar.text(value, field, 4096)
    if value.endswith("\\"):
        raise ConfigError("%s: must not end with a backslash" % field)
    if not all(" " <= c <= "~" for c in value):
        raise ConfigError("%s: must be printable ASCII (HTTP header values; encode anything else)" % field)
    server.check_header_value(value, field)
    return value


def headers(value, field, server):
    """A request_headers/response_headers list as [(action, name, value or None)]."""
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > 100:
        raise ConfigError("%s: must be a list of at most 100 header entries" % field)
    out = []
    for i, entry in enumerate(value):
        efield = "%s[%d]" % (field, i)
        grammar.mapping(entry, HEADER_ENTRY_SPEC, efield)
        action = entry.get("action")
        action = "set" if action is None else grammar.choice(action, efield + ".action", HEADER_ACTIONS)
        if entry.get("name") is None:
            raise ConfigError("%s.name: is required" % efield)
        name = header_name(entry["name"], efield + ".name")
        val = entry.get("value")
        if action == "unset":
            if val is not None:
                raise ConfigError("%s.value: an unset entry takes no value" % efield)
        else:
            if val is None:
                raise ConfigError("%s.value: is required for action %s" % (efield, action))
            val = header_value(val, efield + ".value", server)
        out.append((action, name, val))
    return out


def normalize_location_frontend(loc, field, url, policy, server):
    """The location-level public-side fields of one location (raw user mapping; url: its parsed backend URL, None
    for a pool). The site-level opt-ins that gate them are checked in normalize_frontend."""
    policy = policy or _policy.DEFAULT_POLICY
    nocanon = grammar.boolean(False if loc.get("nocanon") is None else loc["nocanon"], field + ".nocanon")
    cookie_path = grammar.boolean(False if loc.get("reverse_cookie_path") is None else loc["reverse_cookie_path"],
                                  field + ".reverse_cookie_path")
    cookie_domain = loc.get("reverse_cookie_domain")
    if cookie_domain is not None:
        # A cookie Domain: a host name, optionally with the leading dot of the old cookie syntax.
        dotted = isinstance(cookie_domain, str) and cookie_domain.startswith(".")
        grammar.hostname(cookie_domain[1:] if dotted else cookie_domain, field + ".reverse_cookie_domain", ipv6=False)
    if (cookie_domain is not None or cookie_path) and url is None:
        raise ConfigError("%s: reverse_cookie_domain/reverse_cookie_path need a single backend URL (the backend's "
                          "host and path are what the cookies are rewritten from)" % field)
    return {
        "request_headers": headers(loc.get("request_headers"), field + ".request_headers", server),
        "response_headers": headers(loc.get("response_headers"), field + ".response_headers", server),
        "extra_directives": server.extra_directives(loc.get("extra_directives"), field + ".extra_directives",
                                                    "location", policy["allow_raw_directives"]),
        "nocanon": nocanon,
        # The cookies' Domain rewritten from the backend host to the public domain; their Path from the backend's
        # path to the location's.
        "cookie_domain": (url.host, cookie_domain) if cookie_domain is not None else None,
        "cookie_path": (url.path or "/", loc["path"]) if cookie_path else None,
    }


ERROR_PAGE_PREFIX = "/.revproxy-error/"


def error_pages(value, policy, server, field="error_pages"):
    """error_pages: [(status, file)] for ErrorDocument and ProxyErrorOverride (statuses 400-599, files under a served
    root of the policy)."""
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > 200:
        raise ConfigError("%s: must be a list of at most 200 {status, file} entries" % field)
    out, seen = [], set()
    for i, entry in enumerate(value):
        efield = "%s[%d]" % (field, i)
        grammar.mapping(entry, ("status", "file"), efield)
        for key in ("status", "file"):
            if entry.get(key) is None:
                raise ConfigError("%s.%s: is required" % (efield, key))
        status = grammar.integer(entry["status"], efield + ".status", 400, 599)
        if status in seen:
            raise ConfigError("%s.status: %d is listed twice" % (efield, status))
        seen.add(status)
        out.append((status, _policy.served_path(entry["file"], efield + ".file", policy, "file", server.name)))
    return out


def exclusions(value, location_paths, field="proxy_exclusions"):
    """proxy_exclusions: URL paths never proxied, none equal to a location's path."""
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > 1000:
        raise ConfigError("%s: must be a list of at most 1000 URL paths" % field)
    out = []
    for i, path in enumerate(value):
        path = grammar.url_path(path, "%s[%d]" % (field, i))
        if path in location_paths:
            raise ConfigError("%s[%d]: %r is also a location's path; a path is either proxied or excluded"
                              % (field, i, path))
        hidden = [p for p in location_paths if isinstance(p, str) and p.startswith(path)]
        if hidden:
            raise ConfigError("%s[%d]: %r would hide the location %r (exclusions are matched before every proxied "
                              "path); exclude a narrower path" % (field, i, path, hidden[0]))
        if path in out:
            raise ConfigError("%s[%d]: %r is listed twice" % (field, i, path))
        out.append(path)
    return out


def _get(site, key):
    value = site.get(key)
    return FRONTEND_SITE_SPEC[key].get("default") if value is None else value


def _redirect(site, has_tls, listen, policy, server):
    """The HTTP->HTTPS redirect of a TLS site (None without TLS or with redirect_http: false)."""
    if grammar.boolean(_get(site, "redirect_http"), "redirect_http") and has_tls:
        rport = grammar.port(_get(site, "redirect_http_port"), "redirect_http_port")
        if rport == listen["port"]:
            raise ConfigError("redirect_http_port: %d is the port the HTTPS vhost listens on; choose another port "
                              "or set redirect_http: false" % rport)
        status = _get(site, "redirect_status")
        if isinstance(status, bool) or not isinstance(status, int) or status not in REDIRECT_STATUSES:
            raise ConfigError("redirect_status: must be one of %s, got %r"
                              % (", ".join(map(str, REDIRECT_STATUSES)), status))
        acme = site.get("acme_challenge_dir")
        if acme is not None:
            # Served to anyone on the HTTP port: only under a served root of the operator's policy.
            acme = _policy.served_path(acme, "acme_challenge_dir", policy, "dir", server.name)
        return {"port": rport, "status": status, "acme_challenge_dir": acme}
    if site.get("acme_challenge_dir") is not None:
        raise ConfigError("acme_challenge_dir: is served by the HTTP redirect vhost; it needs tls and "
                          "redirect_http: true")
    return None


def _hsts(site, has_tls):
    """(the Strict-Transport-Security value or None, its max-age or None)."""
    if not (grammar.boolean(_get(site, "hsts"), "hsts") and has_tls):
        return None, None
    max_age = grammar.integer(_get(site, "hsts_max_age"), "hsts_max_age", 0, 10 * 365 * 86400)
    subdomains = grammar.boolean(_get(site, "hsts_include_subdomains"), "hsts_include_subdomains")
    preload = grammar.boolean(_get(site, "hsts_preload"), "hsts_preload")
    if preload and (not subdomains or max_age < HSTS_PRELOAD_MIN_AGE):
        raise ConfigError("hsts_preload: the preload list requires hsts_include_subdomains: true and "
                          "hsts_max_age of at least %d" % HSTS_PRELOAD_MIN_AGE)
    value = "max-age=%d" % max_age + ("; includeSubDomains" if subdomains else "") + ("; preload" if preload else "")
    return value, max_age


def _tls_options(site, has_tls):
    """The frontend TLS policy fields: (profile, session tickets, http2, OCSP stapling)."""
    profile = grammar.choice(_get(site, "tls_profile"), "tls_profile", tuple(sorted(TLS_PROFILES)))
    tickets = grammar.boolean(_get(site, "tls_session_tickets"), "tls_session_tickets")
    http2 = grammar.boolean(_get(site, "http2"), "http2")
    if http2 and not has_tls:
        raise ConfigError("http2: needs tls (browsers speak HTTP/2 only over TLS)")
    stapling = grammar.boolean(_get(site, "ocsp_stapling"), "ocsp_stapling")
    if stapling and not has_tls:
        raise ConfigError("ocsp_stapling: needs tls (it staples the OCSP response of the frontend certificate)")
    return profile, tickets, http2, stapling


def _insecure_public_side(site, has_tls, profile, tickets, hsts, max_age, server):
    """The public-side settings that weaken what clients get, as texts; refused without allow_insecure_frontend_tls.
    Returns the warnings."""
    allow_insecure = grammar.boolean(_get(site, "allow_insecure_frontend_tls"), "allow_insecure_frontend_tls")
    insecure = []
    if has_tls:
        if profile == "old":
            insecure.append("tls_profile old (TLS 1.0/1.1 and CBC/3DES ciphers for clients)")
        if tickets:
            insecure.append("tls_session_tickets true (ticket keys undo forward secrecy%s)"
                            % server.consequence("session_tickets"))
        if hsts is None:
            insecure.append("hsts false (browsers may be sent to http:// and downgraded)")
        elif max_age < HSTS_MIN_AGE:
            insecure.append("hsts_max_age %d (below one year, %d s; 0 tells browsers to forget HSTS)"
                            % (max_age, HSTS_MIN_AGE))
    for i, loc in enumerate(site.get("locations") or []):
        if isinstance(loc, dict) and loc.get("nocanon") is True:
            insecure.append("locations[%d].nocanon true (the raw, undecoded URL is forwarded: path traversal and "
                            "request smuggling reach the backend)" % i)
    if insecure and not allow_insecure:
        raise ConfigError("insecure public-side setting(s) refused: %s. Keep the defaults, or set "
                          "allow_insecure_frontend_tls: true to accept the risk" % "; ".join(insecure))
    warnings = []
    if insecure:
        warnings.append("INSECURE frontend TLS allowed by allow_insecure_frontend_tls: %s" % "; ".join(insecure))
    return insecure, warnings


def normalize_frontend(site, tls_front, listen, policy, locations, server):
    """The effective public side of a site (`locations`: its normalised locations; `server`: the capability
    profile). Returns (frontend, warnings)."""
    policy = policy or _policy.DEFAULT_POLICY
    has_tls = bool(tls_front)
    redirect = _redirect(site, has_tls, listen, policy, server)
    hsts, max_age = _hsts(site, has_tls)
    profile, tickets, http2, stapling = _tls_options(site, has_tls)
    insecure, warnings = _insecure_public_side(site, has_tls, profile, tickets, hsts, max_age, server)

    allow_insecure_backend = site.get("allow_insecure_backend_tls") is True
    extra = server.extra_directives(site.get("extra_directives"), "extra_directives", "vhost",
                                    policy["allow_raw_directives"])
    warnings.extend(server.gate_directives(extra, "extra_directives", allow_insecure_backend))
    # The locations' lines were validated with them (normalize_location_frontend): only their opt-ins here.
    for i, loc in enumerate(locations or []):
        warnings.extend(server.gate_directives(loc["frontend"]["extra_directives"],
                                               "locations[%d].extra_directives" % i, allow_insecure_backend))
    forwarded = grammar.boolean(_get(site, "forwarded_headers"), "forwarded_headers")
    request_headers = headers(site.get("request_headers"), "request_headers", server)
    response_headers = headers(site.get("response_headers"), "response_headers", server)
    check_owned_headers(site, forwarded)

    return {
        "redirect": redirect,
        "extra_directives": extra,
        "error_pages": error_pages(site.get("error_pages"), policy, server),
        "forwarded": forwarded,
        "request_headers": request_headers,
        "response_headers": response_headers,
        "hsts": hsts,
        "tls_profile": profile if has_tls else None,
        "tls_protocols": list(TLS_PROFILES[profile]["protocols"]) if has_tls else None,
        "tls_ciphers": TLS_PROFILES[profile]["ciphers"] if has_tls else None,
        "session_tickets": tickets,
        "http2": http2,
        "ocsp_stapling": stapling,
        "insecure": insecure,
        "exclusions": exclusions(site.get("proxy_exclusions"),
                                 [loc.get("path") for loc in site.get("locations") or [] if isinstance(loc, dict)]),
    }, warnings


def redirect_hosts(eff):
    """(address, port, host) keys the redirect vhost of an effective site serves (for the duplicate-name check)."""
    front = eff.get("frontend") or {}
    if not front.get("redirect"):
        return []
    return [(eff["listen"]["address"], front["redirect"]["port"], host.lower().rstrip("."))
            for host in [eff["server_name"]] + eff["server_aliases"]]


def served_paths(eff):
    """(field, path, kind) of every path the server serves or reads for an effective site (for the host-side check
    of the server's host checks: symlinks resolved, the right kind)."""
    front = eff.get("frontend") or {}
    out = []
    redirect = front.get("redirect") or {}
    if redirect.get("acme_challenge_dir"):
        out.append(("acme_challenge_dir", redirect["acme_challenge_dir"], "dir"))
    for i, (_status, path) in enumerate(front.get("error_pages") or []):
        out.append(("error_pages[%d].file" % i, path, "file"))
    return out
