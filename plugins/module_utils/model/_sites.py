# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""The site model: argument spec, validation and normalisation of one site, in neutral words.

normalize_site() turns a user's site into the effective site the renderer writes and the checker checks: every
default applied, every string validated, deployed files given their paths. It is pure (no I/O). The rules of the
server the sites are for, and its refusals of what it cannot express, come from its capability profile
(model/_server.ServerProfile), passed in as `server=`; where the role deploys files (`tls_dir`) is the caller's
layout. Both are required: neither has a default that could stand for a server or a path without saying so.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import ipaddress
import posixpath

from ansible_collections.revproxy.tls.plugins.module_utils.model._backend_tls import (
    BACKEND_TLS_CONTENT_SPEC,
    BACKEND_TLS_DEFAULTS,
    BACKEND_TLS_SPEC,
    ConfigError,
    PATH_KEYS,
    insecure_settings,
    merge_backend_tls,
    parse_backend_url,
    validate_backend_tls,
)
from ansible_collections.revproxy.tls.plugins.module_utils.model import _acme
from ansible_collections.revproxy.tls.plugins.module_utils.model import _grammar as grammar
from ansible_collections.revproxy.tls.plugins.module_utils.model import _frontend
from ansible_collections.revproxy.tls.plugins.module_utils.model import _pem
from ansible_collections.revproxy.tls.plugins.module_utils.model import _policy
from ansible_collections.revproxy.tls.plugins.module_utils.model import _pools
from ansible_collections.revproxy.tls.plugins.module_utils.model import _replaces
from ansible_collections.revproxy.tls.plugins.module_utils.model._server import require_server

SITE_NAME_RE = grammar.SITE_NAME_RE
LOCATION_PATH_RE = grammar.URL_PATH_RE

# A location's connection options toward its backend (timeouts, connection reuse, buffers, the upgrade protocol),
# with their value kinds; their ranges, and how each is written, are the server's (ServerProfile.connection_params).
CONNECTION_OPTIONS = {
    "timeout": "int", "connectiontimeout": "int", "retry": "int", "keepalive": "bool", "disablereuse": "bool",
    "enablereuse": "bool", "ttl": "int", "min": "int", "max": "int", "smax": "int", "acquire": "int", "ping": "int",
    "flushpackets": "onoffauto", "flushwait": "int", "iobuffersize": "int", "receivebuffersize": "int",
    "responsefieldsize": "int", "upgrade": "token",
}

_CONNECTION_SPEC_TYPES = {"int": "int", "bool": "bool", "onoffauto": "str", "token": "str"}

LOCATION_SPEC = dict(
    {
        "path": {"type": "str", "required": True},
        "backend": {"type": "str"},
        "probe_status": {"type": "list", "elements": "int"},
    },
    **dict(_pools.POOL_LOCATION_SPEC,
           **dict((k, dict({"type": _CONNECTION_SPEC_TYPES[v]},
                           **({"choices": ["on", "off", "auto"]} if v == "onoffauto" else {})))
                  for k, v in CONNECTION_OPTIONS.items()))
)

SITE_SPEC = {
    "name": {"type": "str", "required": True},
    "server_name": {"type": "str", "required": True},
    "server_aliases": {"type": "list", "elements": "str", "default": []},
    "listen": {"type": "dict", "options": {"port": {"type": "int"}, "address": {"type": "str"}}},
    "tls": {"type": "dict", "options": {
        "certificate_file": {"type": "path"},
        "key_file": {"type": "path", "no_log": False},
        "chain_file": {"type": "path"},
        "acme": {"type": "dict", "options": _acme.SITE_ACME_SPEC},
    }},
    "preserve_host": {"type": "bool", "default": False},
    "locations": {"type": "list", "elements": "dict", "required": True, "options": LOCATION_SPEC},
    "backend_tls": {"type": "dict", "options": dict(
        dict((k, dict((kk, vv) for kk, vv in v.items() if kk != "default")) for k, v in BACKEND_TLS_SPEC.items()),
        **BACKEND_TLS_CONTENT_SPEC)},
    "allow_insecure_backend_tls": {"type": "bool", "default": False},
    "replaces": _replaces.SPEC,
}
SITE_SPEC.update(_pools.POOL_SITE_SPEC)
# A location's (or its pool's) own backend_tls: the site's keys, files only (see _pools.location_tls).
LOCATION_SPEC["backend_tls"] = {"type": "dict", "options": dict(
    (k, v) for k, v in SITE_SPEC["backend_tls"]["options"].items() if k not in BACKEND_TLS_CONTENT_SPEC)}
# The public side of a site (redirect, headers, HSTS, frontend TLS policy): model/_frontend.py.
SITE_SPEC.update(_frontend.FRONTEND_SITE_SPEC)
LOCATION_SPEC.update(_frontend.FRONTEND_LOCATION_SPEC)


# apache_proxy_backend_tls_defaults as a module option: typed like backend_tls, so that a *_content key given there
# (which check_defaults refuses) is still no_log in every module's invocation and output.
def backend_tls_defaults_spec():
    """A fresh spec each call: AnsibleModule fills suboption defaults into the option's default dict in place."""
    return {"type": "dict", "default": {}, "options": copy.deepcopy(SITE_SPEC["backend_tls"]["options"])}


# Files the role deploys for a site from *_content keys, relative to <tls_dir>/<site name>/.
DEPLOYED_FILES = {
    "ca_file": "backend-ca.pem",
    "client_cert_file": "proxy-client.pem",
    "client_chain_file": "proxy-client-chain.pem",
}


def _label(site, index):
    name = site.get("name") if isinstance(site, dict) else None
    if isinstance(name, str) and SITE_NAME_RE.match(name) and len(name) <= 100:
        return "site %r" % name
    return "site #%d" % index


def _normalize_location(loc, field, pools, policy, server):
    grammar.mapping(loc, LOCATION_SPEC, field)
    if loc.get("path") is None:
        raise ConfigError("%s.path: is required" % field)
    _pools.check_location_keys(loc, field)
    path = grammar.url_path(loc["path"], field + ".path")
    if loc.get("backends") is not None:
        pool = _pools.normalize_pool(loc, field, path, pools, server)
        url = None
    else:
        pool = None
        url = parse_backend_url(loc["backend"], field + ".backend")
        server.check_backend(url, path, field)
    params = server.connection_params(loc, field)
    probe_status = loc.get("probe_status")
    if probe_status is not None:
        if not isinstance(probe_status, list) or not all(
                isinstance(s, int) and not isinstance(s, bool) and 100 <= s <= 599 for s in probe_status):
            raise ConfigError("%s.probe_status: must be a list of HTTP status codes" % field)
    backend = url.url if url else server.pool_backend(pool, path)
    return {"path": path, "backend": backend, "url": url, "params": params, "probe_status": probe_status,
            "frontend": _frontend.normalize_location_frontend(loc, field, url, policy, server),
            "pool": pool, "backend_tls_raw": loc.get("backend_tls")}


def _effective_tls(raw, name, field, tls_dir, used, server):
    """Merge defaults and the site's backend_tls; give *_content keys the path they are deployed to."""
    raw = dict(raw or {})
    contents = {}
    if raw.get("ca_content") is not None:
        if raw.get("ca_file") is not None:
            raise ConfigError("%s: ca_file and ca_content are mutually exclusive" % field)
        contents["ca_file"] = raw.pop("ca_content")
    else:
        raw.pop("ca_content", None)
    cert_content = raw.pop("client_cert_content", None)
    key_content = raw.pop("client_key_content", None)
    chain_content = raw.pop("client_chain_content", None)
    if cert_content is not None or key_content is not None:
        if cert_content is None or key_content is None:
            raise ConfigError("%s: client_cert_content and client_key_content go together" % field)
        if raw.get("client_cert_file") or raw.get("client_key_file"):
            raise ConfigError("%s: client_cert_content/client_key_content and client_cert_file/client_key_file "
                              "are mutually exclusive" % field)
        _pem.check_client_pair(cert_content, key_content, field + ".client_cert_content",
                               field + ".client_key_content", server)
        contents["client_cert_file"] = cert_content.rstrip("\n") + "\n" + key_content.rstrip("\n") + "\n"
    if chain_content is not None:
        if raw.get("client_chain_file"):
            raise ConfigError("%s: client_chain_file and client_chain_content are mutually exclusive" % field)
        contents["client_chain_file"] = chain_content
    for key in ("ca_file", "client_chain_file"):
        if key in contents:
            _pem.check_certificates(contents[key], "%s.%s" % (field, key.replace("_file", "_content")))
    grammar.mapping(raw, BACKEND_TLS_DEFAULTS, field)
    tls = merge_backend_tls(raw)
    for key in contents:
        tls[key] = posixpath.join(tls_dir, name, DEPLOYED_FILES[key])
    # A separate client key file: the pair, for a server that reads the certificate and its key from one file (the
    # role deploys the combined file).
    combined_from = None
    if tls["client_key_file"] and tls["client_key_file"] != tls["client_cert_file"]:
        combined_from = (tls["client_cert_file"], tls["client_key_file"])
    validate_backend_tls(tls, field, used, server)
    return tls, contents, combined_from


def _check_own_files(name, tls_front, tls, locs, tls_dir):
    """The role deploys each site's CA and client certificate+key under <tls_dir>/<site>/ (0600 for the key): a file
    field naming another site's deployed files (or the directory itself) would let this site use that site's client
    identity toward a backend of its choosing. Only the site's own directory is accepted there."""
    root = tls_dir.rstrip("/")
    own = posixpath.join(root, name) + "/"
    fields = [("tls.%s" % k, v) for k, v in sorted((tls_front or {}).items()) if k != "acme"]
    fields += [("backend_tls.%s" % k, tls[k]) for k in PATH_KEYS if tls.get(k)]
    for i, loc in enumerate(locs):
        if loc.get("backend_tls") is not tls:
            fields += [("locations[%d].backend_tls.%s" % (i, k), loc["backend_tls"][k]) for k in PATH_KEYS
                       if loc["backend_tls"].get(k) and loc["backend_tls"][k] != tls.get(k)]
    for field, path in fields:
        norm = posixpath.normpath(path)
        if (norm == root or norm.startswith(root + "/")) and not (norm + "/").startswith(own):
            raise ConfigError("%s: %r is in the collection's TLS directory %s, where the role deploys other sites' "
                              "CA and client certificate files; give this site's own files (or *_content)"
                              % (field, path, root))


def check_defaults(defaults, field="backend_tls_defaults"):
    """apache_proxy_backend_tls_defaults: the backend_tls keys without the *_content ones (contents are per site)."""
    defaults = defaults or {}
    if not isinstance(defaults, dict):
        raise ConfigError("%s: must be a mapping" % field)
    for key in BACKEND_TLS_CONTENT_SPEC:
        if defaults.get(key) is not None:
            raise ConfigError("%s.%s: is not accepted in the defaults (contents are deployed per site: set it in "
                              "the site's backend_tls)" % (field, key))
    files_only = dict((k, v) for k, v in defaults.items() if k not in BACKEND_TLS_CONTENT_SPEC)
    return grammar.mapping(files_only, BACKEND_TLS_DEFAULTS, field)


def normalize_site(site, index=0, defaults=None, tls_dir=None, policy=None, server=None):
    """Validate one site and return its effective form (raises ConfigError naming the site and the field).
    `tls_dir`: where the role deploys the site's files (the layout's; required). `policy`: the operator's
    (model/_policy.py), already checked; None is the default policy. `server`: the capability profile of the server
    the site is for (model/_server.ServerProfile; required)."""
    require_server(server, "normalize_site")
    if not isinstance(tls_dir, str) or not tls_dir.startswith("/"):
        raise TypeError("normalize_site: tls_dir= must be the absolute directory the role deploys TLS files to (the "
                        "layout's), got %r" % (tls_dir,))
    label = _label(site, index)
    try:
        return _normalize_site(site, defaults, tls_dir, policy or _policy.check_policy(None), server)
    except ConfigError as exc:
        raise ConfigError("%s: %s" % (label, exc))


def _names(site):
    """(name, server_name, aliases): the site's file name and the host names it answers."""
    name = grammar.site_name(site["name"], "name")
    # Clients send IPv6 literals as Host: [..], which a name-based virtual server cannot match portably: DNS names
    # and IPv4 addresses only.
    server_name = grammar.hostname(site["server_name"], "server_name", ipv6=False)
    aliases = site.get("server_aliases") or []
    if not isinstance(aliases, list) or len(aliases) > 1000:
        raise ConfigError("server_aliases: must be a list of at most 1000 host names")
    aliases = [grammar.hostname(a, "server_aliases[%d]" % i, wildcard=True, ipv6=False)
               for i, a in enumerate(aliases)]
    for i, alias in enumerate(aliases):
        if alias.startswith("*.") and len(alias.rstrip(".").split(".")) < 3:
            raise ConfigError("server_aliases[%d]: %r would answer for every name under a top-level domain (other "
                              "sites' names among them); a wildcard needs at least two labels after '*.', such as "
                              "*.example.com" % (i, alias))
    return name, server_name, aliases


def _tls_front(site, server_name, aliases):
    """The public certificate files, or {"acme": request} (None for a plain HTTP site)."""
    tls_front = site.get("tls")
    if tls_front is None:
        return None
    grammar.mapping(tls_front, SITE_SPEC["tls"]["options"], "tls")
    if tls_front.get("acme") is not None:  # a module's argument spec fills an unset acme in as None
        return _acme.site_tls(tls_front, site, server_name, aliases)
    for key in ("certificate_file", "key_file"):
        if not tls_front.get(key):
            raise ConfigError("tls.%s: is required when tls is set" % key)
    return dict((k, grammar.abs_path(v, "tls." + k)) for k, v in tls_front.items() if v is not None)


def _listen(site, tls_front, server):
    """(port, address or None for every address)."""
    listen = site.get("listen") or {}
    grammar.mapping(listen, SITE_SPEC["listen"]["options"], "listen")
    port = listen.get("port")
    if port is None:
        port = 443 if tls_front else 80
    grammar.port(port, "listen.port")
    address = listen.get("address")
    if address == "*":
        return port, None  # every address: what an unset address means
    if address is not None:
        address = grammar.ip_literal(address, "listen.address", brackets=True)
        ip = ipaddress.ip_address(address.strip("[]"))
        server.check_listen_address(address, ip)
        if getattr(ip, "ipv4_mapped", None) is not None:
            raise ConfigError("listen.address: %r is an IPv4-mapped IPv6 address; write the IPv4 address %s"
                              % (address, ip.ipv4_mapped))
    return port, address


def _locations(site, policy, server):
    locations = site["locations"]
    if not isinstance(locations, list) or not locations or len(locations) > 1000:
        raise ConfigError("locations: must be a non-empty list of at most 1000 locations")
    pool_names = set()
    locs = [_normalize_location(loc, "locations[%d]" % i, pool_names, policy, server)
            for i, loc in enumerate(locations)]
    seen = set()
    for i, loc in enumerate(locs):
        if loc["path"] in seen:
            raise ConfigError("locations[%d].path: %r is listed twice" % (i, loc["path"]))
        seen.add(loc["path"])
    return locs


def _site_backend_tls(site, defaults, name, locs, tls_dir, server):
    """The site's effective backend TLS settings: (tls, contents, combined_from, uses_tls)."""
    layered = dict((k, v) for k, v in check_defaults(defaults).items() if v is not None)
    backend_tls = site.get("backend_tls") or {}
    if not isinstance(backend_tls, dict):
        raise ConfigError("backend_tls: must be a mapping")
    layered.update((k, v) for k, v in backend_tls.items() if v is not None)
    uses_tls = any(_pools.location_is_tls(loc) for loc in locs)
    site_used = any(_pools.location_is_tls(loc) and loc["backend_tls_raw"] is None for loc in locs)
    tls, contents, combined_from = _effective_tls(layered, name, "backend_tls", tls_dir, site_used, server)
    return tls, contents, combined_from, uses_tls


def _gate_insecure_backend(tls, uses_tls, allow_insecure, warnings, server):
    insecure = insecure_settings(tls, server) if uses_tls else []
    if insecure and not allow_insecure:
        raise ConfigError("backend_tls: insecure setting(s) refused: %s. Fix the backend instead (see "
                          "docs/troubleshooting-ah00898.md), or set allow_insecure_backend_tls: true to accept the "
                          "risk" % "; ".join(insecure))
    if insecure:
        warnings.append("INSECURE backend TLS allowed by allow_insecure_backend_tls: %s" % "; ".join(insecure))
    return insecure


def _normalize_site(site, defaults, tls_dir, policy, server):
    grammar.mapping(site, SITE_SPEC, "site")
    for key in ("name", "server_name", "locations"):
        if site.get(key) is None:
            raise ConfigError("%s: is required" % key)
    name, server_name, aliases = _names(site)
    tls_front = _tls_front(site, server_name, aliases)
    port, address = _listen(site, tls_front, server)
    preserve_host = grammar.boolean(site.get("preserve_host", False), "preserve_host")
    allow_insecure = grammar.boolean(site.get("allow_insecure_backend_tls", False), "allow_insecure_backend_tls")
    locs = _locations(site, policy, server)

    tls, contents, combined_from, uses_tls = _site_backend_tls(site, defaults, name, locs, tls_dir, server)
    frontend, warnings = _frontend.normalize_frontend(site, tls_front, {"port": port, "address": address}, policy,
                                                      locs, server)
    insecure = _gate_insecure_backend(tls, uses_tls, allow_insecure, warnings, server)
    _pools.normalize_location_tls(locs, tls, allow_insecure, warnings, server)
    server.check_sections(locs, tls)
    _check_own_files(name, tls_front, tls, locs, tls_dir)
    balancer_manager = _pools.balancer_manager(site, locs)
    if uses_tls:
        for i, loc in enumerate(locs):
            server.check_backend_names(loc, i, loc["backend_tls"], preserve_host,
                                       bool(loc["pool"]) or loc["backend_tls"] is not tls)
        if preserve_host:
            warnings.extend(server.preserve_host_warnings([server_name] + aliases))
    eff = {
        "name": name,
        "server_name": server_name,
        "server_aliases": aliases,
        "listen": {"port": port, "address": address},
        "tls": tls_front,
        "preserve_host": preserve_host,
        "allow_insecure_backend_tls": allow_insecure,
        "balancer_manager": balancer_manager,
        "locations": locs,
        "uses_tls": uses_tls,
        "uses_ws": any(u.scheme in ("ws", "wss") for loc in locs for u in _pools.location_urls(loc)),
        "backend_tls": tls,
        "insecure": insecure,
        "contents": contents,
        "combined_client_cert": combined_from,
        "warnings": warnings,
        "frontend": frontend,
        "replaces": _replaces.normalize(site.get("replaces"), server),
    }
    server.check_site(eff)
    return eff


def normalize_sites(sites, defaults=None, tls_dir=None, policy=None, server=None):
    """Validate all sites; returns the list of effective sites. Refuses duplicate names and (port, name) pairs, and
    any site that would take a name or an address another one serves (the server's rules: server.check_ownership).
    `tls_dir` and `server` are required (see normalize_site)."""
    require_server(server, "normalize_sites")
    if not isinstance(sites, list):
        raise ConfigError("sites: must be a list")
    check_defaults(defaults)
    policy = _policy.check_policy(policy)
    out = []
    names = {}
    hosts = {}
    for index, site in enumerate(sites):
        eff = normalize_site(site, index, defaults, tls_dir, policy, server)
        if eff["name"] in names:
            raise ConfigError("site %r: name: listed twice (sites #%d and #%d)" % (eff["name"], names[eff["name"]],
                                                                                   index))
        names[eff["name"]] = index
        # A name declared twice on one address:port: one of the two sites would never answer it.
        listen = (eff["listen"]["address"], eff["listen"]["port"])
        for i, host in enumerate([eff["server_name"]] + eff["server_aliases"]):
            key = listen + (host.lower().rstrip("."),)
            if key in hosts:
                server.duplicate_name(eff, "server_name" if i == 0 else "server_aliases[%d]" % (i - 1), host,
                                      hosts[key], listen)
            hosts[key] = eff["name"]
        for key in _frontend.redirect_hosts(eff):
            if key in hosts:
                raise ConfigError("site %r: redirect_http_port: %r on %s:%d is already served by site %r; set "
                                  "redirect_http: false on one of them"
                                  % (eff["name"], key[2], key[0] or "*", key[1], hosts[key]))
            hosts[key] = eff["name"]
        out.append(eff)
    server.check_ownership(out)
    _check_client_identities(out)
    _replaces.check_distinct(out)
    return out


def _client_files(eff):
    """(field, path) of the client certificate and key files a site presents to its backends."""
    out = []
    for key in ("client_cert_file", "client_key_file"):
        if eff["backend_tls"].get(key) and key not in eff["contents"]:
            out.append(("backend_tls." + key, eff["backend_tls"][key]))
    for i, loc in enumerate(eff["locations"]):
        tls = loc.get("backend_tls")
        if tls is not None and tls is not eff["backend_tls"] and not loc.get("client_cert_inherited", True):
            for key in ("client_cert_file", "client_key_file"):
                if tls.get(key):
                    out.append(("locations[%d].backend_tls.%s" % (i, key), tls[key]))
    return out


def _check_client_identities(sites):
    """A client certificate is a site's identity toward its backends (they grant access by it): two sites naming
    the same certificate or key file would let one reach the other's backends as that site."""
    seen = {}
    for eff in sites:
        for field, path in _client_files(eff):
            key = posixpath.normpath(path)
            other = seen.get(key)
            if other and other[0] != eff["name"]:
                raise ConfigError("site %r: %s: %s is also the client identity of site %r (%s); a client certificate "
                                  "is one site's identity toward its backends. Give each site its own"
                                  % (eff["name"], field, path, other[0], other[1]))
            seen.setdefault(key, (eff["name"], field))


def select_sites(sites, names, field="names"):
    """The effective sites named in `names` (all when None), in input order. Every site was validated first, so a
    bad site is refused even when not selected. A name that is no site is refused, named."""
    if names is None:
        return sites
    wanted = set(names)
    unknown = sorted(wanted - set(s["name"] for s in sites))
    if unknown:
        raise ConfigError("%s: no such site(s): %s" % (field, ", ".join(unknown)))
    return [s for s in sites if s["name"] in wanted]


def site_backend_checks(eff, server):
    """The backend checks the checker runs for an effective site: one per TLS location, and with preserve_host one
    per public name (the name the server sends as SNI and checks is then the client's Host: server.tls_names), and
    per pool member the check the server's own health check makes (server.health_check_request)."""
    require_server(server, "site_backend_checks")
    checks = []
    hosts = [eff["server_name"]] + eff["server_aliases"] if eff["preserve_host"] else [None]
    for loc in eff["locations"]:
        # One URL, or each member of a pool, with the location's (pool's) effective settings (_pools).
        tls = loc.get("backend_tls", eff["backend_tls"])
        contents = dict((k, v) for k, v in eff["contents"].items() if tls[k] == eff["backend_tls"][k])
        pool = loc.get("pool")
        for url in _pools.location_urls(loc):
            if not url.is_tls:
                continue
            for host in hosts:
                if host is not None and host.startswith("*."):
                    continue  # a wildcard alias is not a name a client sends
                sni, checked = server.tls_names(url, eff["preserve_host"], host)
                checks.append({
                    "site": eff["name"],
                    "path": loc["path"],
                    "url": url.url,
                    "preserve_host": eff["preserve_host"],
                    "host": host,
                    "sni": sni,
                    "checked_name": checked,
                    "backend_tls": copy.deepcopy(tls),
                    "contents": contents,
                    "combined_client_cert": eff["combined_client_cert"],
                    "pool": pool and {"name": pool["name"], "min_ok": pool["min_ok"],
                                      "members": len(pool["members"])},
                })
            if pool and pool["health_check"]:
                check = server.health_check_request(checks[-1], url, pool)
                if check is not None:
                    checks.append(check)
    return checks
