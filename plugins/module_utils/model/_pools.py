# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""Pools of backends and backend_tls per location: validation and normalisation (pure, no I/O).

A location proxies to one URL (``backend``) or to a pool (``backends``: members with url, weight, route, standby,
enabled; ``lbmethod``, ``sticky``, ``min_ok``, ``health_check``). Backend TLS settings are layered
collection defaults < site < location; for a pool the location's ``backend_tls`` is the pool's. Members take the
pool's settings: there is no per-member TLS setting (a server may not apply one to the requests its balancer sends).

What a server adds (how it maps a path to a member, which members it would merge, what its health checks use and
send) is its capability profile's (model/_server.ServerProfile), passed in as `server`; the checker adds a check per
member as the server's health check sends it (see _sites.site_backend_checks).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.revproxy.tls.plugins.module_utils.model._backend_tls import (
    BACKEND_TLS_CONTENT_SPEC,
    BACKEND_TLS_DEFAULTS,
    ConfigError,
    insecure_settings,
    parse_backend_url,
    validate_backend_tls,
)
from ansible_collections.revproxy.tls.plugins.module_utils.model import _grammar as grammar

LBMETHODS = ("byrequests", "bytraffic", "bybusyness")
HC_METHODS = ("GET", "HEAD", "OPTIONS")
HC_STATUS_CLASSES = ("2xx", "3xx", "4xx")
MAX_MEMBERS = 100
HC_URI_RE = re.compile(r"^/[A-Za-z0-9._~/-]{0,200}$")

MEMBER_SPEC = {
    "url": {"type": "str", "required": True},
    "weight": {"type": "int", "default": 1},
    "route": {"type": "str"},
    "standby": {"type": "bool", "default": False},
    "enabled": {"type": "bool", "default": True},
}

HEALTH_CHECK_SPEC = {
    "method": {"type": "str", "choices": list(HC_METHODS), "default": "GET"},
    "uri": {"type": "str", "default": "/"},
    "interval": {"type": "int", "default": 30},
    "passes": {"type": "int", "default": 1, "no_log": False},
    "fails": {"type": "int", "default": 1},
    "expect": {"type": "list", "elements": "str", "choices": list(HC_STATUS_CLASSES), "default": ["2xx", "3xx"]},
}

# Keys a location gains (merged into _sites.LOCATION_SPEC; backend_tls is added there, typed like the site's).
POOL_LOCATION_SPEC = {
    "backends": {"type": "list", "elements": "dict", "options": MEMBER_SPEC},
    "lbmethod": {"type": "str", "choices": list(LBMETHODS)},
    "sticky": {"type": "str"},
    "min_ok": {"type": "int"},
    "health_check": {"type": "dict", "options": HEALTH_CHECK_SPEC},
}
POOL_ONLY_KEYS = ("lbmethod", "sticky", "min_ok", "health_check")
POOL_SITE_SPEC = {"balancer_manager": {"type": "bool", "default": False}}


def pool_name(path, taken):
    """A stable balancer name from the location path: '/' -> 'root', '/api/v1/' -> 'api-v1' (unique in the site)."""
    slug = re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-")[:40].strip("-") or "root"
    name, n = slug, 2
    while name in taken:
        name = "%s-%d" % (slug, n)
        n += 1
    taken.add(name)
    return name


def _member(raw, field, path, server):
    grammar.mapping(raw, MEMBER_SPEC, field)
    if raw.get("url") is None:
        raise ConfigError("%s.url: is required" % field)
    url = parse_backend_url(raw["url"], field + ".url")
    server.check_member(url, path, field)
    weight = grammar.integer(raw.get("weight", 1) if raw.get("weight") is not None else 1, field + ".weight", 1, 100)
    route = raw.get("route")
    if route is not None:
        route = grammar.token(route, field + ".route", 64)
    standby = grammar.boolean(raw.get("standby", False) if raw.get("standby") is not None else False,
                              field + ".standby")
    enabled = grammar.boolean(raw.get("enabled", True) if raw.get("enabled") is not None else True,
                              field + ".enabled")
    return {"url": url, "backend": url.url, "weight": weight, "route": route, "standby": standby,
            "enabled": enabled}


def _hc_uri(value, field):
    """A health check URI: a plain path (no quotes, '$', '%', parentheses), which a server writes as one bare word."""
    grammar.url_path(value, field)
    if not HC_URI_RE.match(value):
        raise ConfigError("%s: %r: a health check URI takes letters, digits and . _ ~ / - only" % (field, value))
    return value


def _health_check(raw, field):
    if raw is None:
        return None
    grammar.mapping(raw, HEALTH_CHECK_SPEC, field)

    def get(key):
        value = raw.get(key)
        return HEALTH_CHECK_SPEC[key]["default"] if value is None else value
    expect = get("expect")
    if not isinstance(expect, list) or not expect:
        raise ConfigError("%s.expect: must be a non-empty list of %s" % (field, ", ".join(HC_STATUS_CLASSES)))
    expect = [grammar.choice(e, "%s.expect[%d]" % (field, i), HC_STATUS_CLASSES) for i, e in enumerate(expect)]
    return {
        "method": grammar.choice(get("method"), field + ".method", HC_METHODS),
        "uri": _hc_uri(get("uri"), field + ".uri"),
        "interval": grammar.integer(get("interval"), field + ".interval", 1, 3600),
        "passes": grammar.integer(get("passes"), field + ".passes", 1, 100),
        "fails": grammar.integer(get("fails"), field + ".fails", 1, 100),
        "expect": sorted(set(expect)),
    }


def normalize_pool(loc, field, path, taken, server):
    """The pool of a location that has ``backends`` (validated; raises ConfigError naming the field)."""
    members = loc.get("backends")
    if not isinstance(members, list) or not members or len(members) > MAX_MEMBERS:
        raise ConfigError("%s.backends: must be a non-empty list of at most %d members" % (field, MAX_MEMBERS))
    out = [_member(m, "%s.backends[%d]" % (field, i), path, server) for i, m in enumerate(members)]
    server.check_pool_members(out, field)
    schemes = set(m["url"].scheme for m in out)
    if len(schemes) > 1:
        raise ConfigError("%s.backends: members must share one scheme, got %s" % (field, ", ".join(sorted(schemes))))
    if not any(m["enabled"] and not m["standby"] for m in out):
        raise ConfigError("%s.backends: at least one member must be enabled and not standby" % field)
    lbmethod = loc.get("lbmethod")
    lbmethod = grammar.choice("byrequests" if lbmethod is None else lbmethod, field + ".lbmethod", LBMETHODS)
    sticky = loc.get("sticky")
    if sticky is not None and sticky != "off":
        sticky = grammar.token(sticky, field + ".sticky", 64)
        routes = set()
        for i, member in enumerate(out):
            if member["route"] is None:
                member["route"] = "m%d" % (i + 1)
            if member["route"] in routes:
                raise ConfigError("%s.backends[%d].route: %r is used twice (sticky sessions need one route per "
                                  "member)" % (field, i, member["route"]))
            routes.add(member["route"])
    else:
        sticky = None
    min_ok = loc.get("min_ok")
    if min_ok is not None:
        min_ok = grammar.integer(min_ok, field + ".min_ok", 1, len(out))
    pool = {
        "name": pool_name(path, taken),
        "members": out,
        "lbmethod": lbmethod,
        "sticky": sticky,
        "min_ok": min_ok,
        "health_check": _health_check(loc.get("health_check"), field + ".health_check"),
    }
    server.check_pool(pool, field)
    return pool


def check_location_keys(loc, field):
    """``backend`` xor ``backends``; pool-only keys only with ``backends``."""
    if loc.get("backend") is None and loc.get("backends") is None:
        raise ConfigError("%s.backend: is required (or backends, for a pool)" % field)
    if loc.get("backend") is not None and loc.get("backends") is not None:
        raise ConfigError("%s: backend and backends are mutually exclusive (one URL, or a pool)" % field)
    if loc.get("backends") is None:
        for key in POOL_ONLY_KEYS:
            if loc.get(key) is not None:
                raise ConfigError("%s.%s: applies to a pool only (set backends)" % (field, key))


def location_urls(loc):
    """The BackendURL of every backend a normalised location proxies to (one, or each pool member)."""
    if loc.get("pool"):
        return [m["url"] for m in loc["pool"]["members"]]
    return [loc["url"]]


def location_is_tls(loc):
    return any(u.is_tls for u in location_urls(loc))


def location_tls(site_tls, raw, field, used, server):
    """Effective backend_tls of a location: the site's effective settings, then the location's own keys.

    Returns (settings, inherits_client): inherits_client is True when the client certificate is the site's (the
    renderer then points at the file the site deploys). *_content keys are refused here: contents are deployed once
    per site."""
    if raw is None:
        return None, True
    grammar.mapping(raw, dict(BACKEND_TLS_DEFAULTS, **BACKEND_TLS_CONTENT_SPEC), field)
    for key in BACKEND_TLS_CONTENT_SPEC:
        if raw.get(key) is not None:
            raise ConfigError("%s.%s: is not accepted per location (contents are deployed once per site): give "
                              "the file with %s, or set it in the site's backend_tls"
                              % (field, key, key.replace("_content", "_file")))
    own = dict((k, v) for k, v in raw.items() if v is not None)
    if own.get("client_cert_file") == site_tls["client_cert_file"] and all(
            own.get(k) in (None, site_tls[k]) for k in ("client_key_file", "client_chain_file")):
        for key in ("client_cert_file", "client_key_file", "client_chain_file"):
            own.pop(key, None)  # the site's client certificate, restated: inherited as it is
    server.check_location_client_key(own, field)
    tls = dict(site_tls)
    inherits_client = "client_cert_file" not in own
    if not inherits_client:
        tls["client_key_file"] = None
        tls["client_chain_file"] = None
    tls.update(own)
    validate_backend_tls(tls, field, used, server)
    return tls, inherits_client


def settings_differ(loc_tls, inherits_client, site_tls):
    return loc_tls is not None and (loc_tls != site_tls or not inherits_client)


def normalize_location_tls(locs, site_tls, allow_insecure, warnings, server):
    """Give each normalised location its effective backend_tls (the site's dict itself when it sets none) and
    tls_section (True when the renderer must write the location's own settings apart from the site's)."""
    for i, loc in enumerate(locs):
        field = "locations[%d].backend_tls" % i
        raw = loc.pop("backend_tls_raw", None)
        used = location_is_tls(loc)
        tls, inherits_client = location_tls(site_tls, raw, field, used, server)
        if tls is None:
            loc.update(backend_tls=site_tls, client_cert_inherited=True, tls_section=False)
            continue
        insecure = insecure_settings(tls, server) if used else []
        if insecure and not allow_insecure:
            raise ConfigError("%s: insecure setting(s) refused: %s. Fix the backend instead (see "
                              "docs/troubleshooting-ah00898.md), or set allow_insecure_backend_tls: true to accept "
                              "the risk" % (field, "; ".join(insecure)))
        if insecure:
            warnings.append("INSECURE backend TLS for %s allowed by allow_insecure_backend_tls: %s"
                            % (loc["path"], "; ".join(insecure)))
        loc.update(backend_tls=tls, client_cert_inherited=inherits_client,
                   tls_section=used and settings_differ(tls, inherits_client, site_tls))
        if loc["tls_section"]:
            server.check_location_tls(loc, i)


def balancer_manager(site, locs):
    """balancer_manager: the site's pools managed at /revproxy-balancer-manager by loopback clients (drain playbook)."""
    value = site.get("balancer_manager")
    wanted = grammar.boolean(False if value is None else value, "balancer_manager")
    if wanted and not any(loc.get("pool") for loc in locs):
        raise ConfigError("balancer_manager: the site has no pool (backends) to manage")
    return wanted
