# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""The apache_proxy_sites data model: argument spec, validation and normalisation of one site.

normalize_site() turns a user's site into the effective site the renderer writes and the checker checks: every
default applied, every string validated, deployed files given their paths. It is pure (no I/O).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import posixpath
import re

from ansible_collections.revproxy.tls.plugins.module_utils._backend_tls import (
    BACKEND_TLS_CONTENT_SPEC,
    BACKEND_TLS_DEFAULTS,
    BACKEND_TLS_SPEC,
    ConfigError,
    check_abs_path,
    check_directive_string,
    check_hostname,
    insecure_settings,
    is_ip_literal,
    merge_backend_tls,
    parse_backend_url,
    tls_names,
    validate_backend_tls,
)

SITE_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
LOCATION_PATH_RE = re.compile(r"^/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$")

# ProxyPass worker parameters the role accepts (mod_proxy set_worker_param), with their value kinds.
WORKER_PARAMS = {
    "timeout": "int",
    "connectiontimeout": "int",
    "retry": "int",
    "keepalive": "bool",
    "disablereuse": "bool",
    "enablereuse": "bool",
    "ttl": "int",
    "min": "int",
    "max": "int",
    "smax": "int",
    "acquire": "int",
    "ping": "int",
    "flushpackets": "onoffauto",
    "flushwait": "int",
    "iobuffersize": "int",
    "receivebuffersize": "int",
    "responsefieldsize": "int",
    "upgrade": "token",
}

_WORKER_SPEC_TYPES = {"int": "int", "bool": "bool", "onoffauto": "str", "token": "str"}

LOCATION_SPEC = dict(
    {
        "path": {"type": "str", "required": True},
        "backend": {"type": "str", "required": True},
        "probe_status": {"type": "list", "elements": "int"},
    },
    **dict((k, dict({"type": _WORKER_SPEC_TYPES[v]}, **({"choices": ["on", "off", "auto"]} if v == "onoffauto" else {})))
           for k, v in WORKER_PARAMS.items())
)

SITE_SPEC = {
    "name": {"type": "str", "required": True},
    "server_name": {"type": "str", "required": True},
    "server_aliases": {"type": "list", "elements": "str", "default": []},
    "listen": {"type": "dict", "options": {"port": {"type": "int"}, "address": {"type": "str"}}},
    "tls": {"type": "dict", "options": {
        "certificate_file": {"type": "path", "required": True},
        "key_file": {"type": "path", "required": True, "no_log": False},
        "chain_file": {"type": "path"},
    }},
    "preserve_host": {"type": "bool", "default": False},
    "locations": {"type": "list", "elements": "dict", "required": True, "options": LOCATION_SPEC},
    "backend_tls": {"type": "dict", "options": dict(
        dict((k, dict((kk, vv) for kk, vv in v.items() if kk != "default")) for k, v in BACKEND_TLS_SPEC.items()),
        **BACKEND_TLS_CONTENT_SPEC)},
    "allow_insecure_backend_tls": {"type": "bool", "default": False},
}

# Files the role deploys for a site from *_content keys, relative to <tls_dir>/<site name>/.
DEPLOYED_FILES = {
    "ca_file": "backend-ca.pem",
    "client_cert_file": "proxy-client.pem",
    "client_chain_file": "proxy-client-chain.pem",
}


def _label(site, index):
    name = site.get("name") if isinstance(site, dict) else None
    if isinstance(name, str) and SITE_NAME_RE.match(name):
        return "site %r" % name
    return "site #%d" % index


def _check_keys(value, allowed, field):
    if not isinstance(value, dict):
        raise ConfigError("%s: must be a mapping, got %s" % (field, type(value).__name__))
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        raise ConfigError("%s: unknown key(s) %s (allowed: %s)"
                          % (field, ", ".join(map(str, unknown)), ", ".join(sorted(allowed))))


def _worker_value(kind, value, field):
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError("%s: must be a non-negative integer, got %r" % (field, value))
        return str(value)
    if kind == "bool":
        if not isinstance(value, bool):
            raise ConfigError("%s: must be a boolean, got %r" % (field, value))
        return "On" if value else "Off"
    if kind == "onoffauto":
        if value not in ("on", "off", "auto"):
            raise ConfigError("%s: must be on, off or auto, got %r" % (field, value))
        return value
    check_directive_string(value, field)
    if not re.match(r"^[A-Za-z0-9_.-]+$", value):
        raise ConfigError("%s: must be a single token, got %r" % (field, value))
    return value


def _normalize_location(loc, field):
    _check_keys(loc, LOCATION_SPEC, field)
    for key in ("path", "backend"):
        if loc.get(key) is None:
            raise ConfigError("%s.%s: is required" % (field, key))
    path = check_directive_string(loc["path"], field + ".path")
    if not LOCATION_PATH_RE.match(path) or any(p == ".." for p in path.split("/")):
        raise ConfigError("%s.path: %r must be an absolute URL path without spaces, quotes or '..'" % (field, path))
    url = parse_backend_url(loc["backend"], field + ".backend")
    if path.endswith("/") != url.path.endswith("/"):
        raise ConfigError("%s: path %r and backend %r must both end with '/' or both not (mod_proxy maps the rest "
                          "of the URL textually)" % (field, path, url.url))
    params = []
    for key in WORKER_PARAMS:
        if loc.get(key) is not None:
            params.append((key, _worker_value(WORKER_PARAMS[key], loc[key], "%s.%s" % (field, key))))
    probe_status = loc.get("probe_status")
    if probe_status is not None:
        if not isinstance(probe_status, list) or not all(
                isinstance(s, int) and not isinstance(s, bool) and 100 <= s <= 599 for s in probe_status):
            raise ConfigError("%s.probe_status: must be a list of HTTP status codes" % field)
    return {"path": path, "backend": url.url, "url": url, "params": params, "probe_status": probe_status}


def _effective_tls(raw, name, field, tls_dir, used):
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
        if "-----BEGIN CERTIFICATE-----" not in str(cert_content):
            raise ConfigError("%s.client_cert_content: is not a PEM certificate" % field)
        if str(cert_content).count("-----BEGIN CERTIFICATE-----") > 1:
            raise ConfigError("%s.client_cert_content: must hold only the client certificate; put its intermediates "
                              "in client_chain_content (mod_ssl pairs every certificate in "
                              "SSLProxyMachineCertificateFile with the key and fails to start: AH02326)" % field)
        if "PRIVATE KEY-----" not in str(key_content) or "ENCRYPTED" in str(key_content):
            raise ConfigError("%s.client_key_content: must be an unencrypted PEM private key (mod_ssl cannot use an "
                              "encrypted key for SSLProxyMachineCertificateFile: AH02252 at startup)" % field)
        contents["client_cert_file"] = cert_content.rstrip("\n") + "\n" + key_content.rstrip("\n") + "\n"
    if chain_content is not None:
        if raw.get("client_chain_file"):
            raise ConfigError("%s: client_chain_file and client_chain_content are mutually exclusive" % field)
        contents["client_chain_file"] = chain_content
    for key, value in contents.items():
        if not isinstance(value, str) or "-----BEGIN " not in value:
            raise ConfigError("%s: the %s content is not PEM" % (field, key.replace("_file", "")))
    _check_keys(raw, BACKEND_TLS_DEFAULTS, field)
    tls = merge_backend_tls(raw)
    for key in contents:
        tls[key] = posixpath.join(tls_dir, name, DEPLOYED_FILES[key])
    # SSLProxyMachineCertificateFile takes the certificate and its key in one file: a separate key file is
    # combined with the certificate into a file the role deploys.
    combined_from = None
    if tls["client_key_file"] and tls["client_key_file"] != tls["client_cert_file"]:
        combined_from = (tls["client_cert_file"], tls["client_key_file"])
    validate_backend_tls(tls, field, used)
    return tls, contents, combined_from


def normalize_site(site, index=0, defaults=None, tls_dir="/etc/apache2/revproxy-tls"):
    """Validate one site and return its effective form (raises ConfigError naming the site and the field)."""
    label = _label(site, index)
    try:
        return _normalize_site(site, defaults, tls_dir)
    except ConfigError as exc:
        raise ConfigError("%s: %s" % (label, exc))


def _normalize_site(site, defaults, tls_dir):
    _check_keys(site, SITE_SPEC, "site")
    for key in ("name", "server_name", "locations"):
        if site.get(key) is None:
            raise ConfigError("%s: is required" % key)
    name = check_directive_string(site["name"], "name")
    if not SITE_NAME_RE.match(name) or len(name) > 100:
        raise ConfigError("name: %r must match ^[a-z0-9][a-z0-9_.-]*$ (it becomes a file name)" % name)
    server_name = check_hostname(site["server_name"], "server_name")
    aliases = site.get("server_aliases") or []
    if not isinstance(aliases, list):
        raise ConfigError("server_aliases: must be a list of host names")
    aliases = [check_hostname(a, "server_aliases[%d]" % i, wildcard=True) for i, a in enumerate(aliases)]

    tls_front = site.get("tls")
    if tls_front is not None:
        _check_keys(tls_front, SITE_SPEC["tls"]["options"], "tls")
        for key in ("certificate_file", "key_file"):
            if not tls_front.get(key):
                raise ConfigError("tls.%s: is required when tls is set" % key)
        tls_front = dict((k, check_abs_path(v, "tls." + k)) for k, v in tls_front.items() if v is not None)

    listen = site.get("listen") or {}
    _check_keys(listen, SITE_SPEC["listen"]["options"], "listen")
    port = listen.get("port")
    if port is None:
        port = 443 if tls_front else 80
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ConfigError("listen.port: must be a port number from 1 to 65535, got %r" % (port,))
    address = listen.get("address")
    if address is not None:
        check_hostname(address, "listen.address")
        if not is_ip_literal(address) and address != "*":
            raise ConfigError("listen.address: must be an IP address, got %r" % address)

    preserve_host = site.get("preserve_host", False)
    if not isinstance(preserve_host, bool):
        raise ConfigError("preserve_host: must be a boolean")
    allow_insecure = site.get("allow_insecure_backend_tls", False)
    if not isinstance(allow_insecure, bool):
        raise ConfigError("allow_insecure_backend_tls: must be a boolean")

    locations = site["locations"]
    if not isinstance(locations, list) or not locations:
        raise ConfigError("locations: must be a non-empty list")
    locs = [_normalize_location(loc, "locations[%d]" % i) for i, loc in enumerate(locations)]
    seen = set()
    for i, loc in enumerate(locs):
        if loc["path"] in seen:
            raise ConfigError("locations[%d].path: %r is listed twice" % (i, loc["path"]))
        seen.add(loc["path"])

    layered = dict((k, v) for k, v in (defaults or {}).items() if v is not None)
    backend_tls = site.get("backend_tls") or {}
    if not isinstance(backend_tls, dict):
        raise ConfigError("backend_tls: must be a mapping")
    layered.update((k, v) for k, v in backend_tls.items() if v is not None)
    uses_tls = any(loc["url"].is_tls for loc in locs)
    tls, contents, combined_from = _effective_tls(layered, name, "backend_tls", tls_dir, uses_tls)
    warnings = []
    insecure = insecure_settings(tls) if uses_tls else []
    if insecure and not allow_insecure:
        raise ConfigError("backend_tls: insecure setting(s) refused: %s. Fix the backend instead (see "
                          "docs/troubleshooting-ah00898.md), or set allow_insecure_backend_tls: true to accept the "
                          "risk" % "; ".join(insecure))
    if insecure:
        warnings.append("INSECURE backend TLS allowed by allow_insecure_backend_tls: %s" % "; ".join(insecure))
    public_names = [server_name] + aliases
    if uses_tls:
        for i, loc in enumerate(locs):
            if not loc["url"].is_tls:
                continue
            if not preserve_host and loc["url"].is_ip and tls["check_peer_name"]:
                raise ConfigError(
                    "locations[%d].backend: %r uses the IP literal %s; mod_ssl sends no SNI for it and checks the "
                    "certificate against the string %r, never against iPAddress SANs, so every request fails with "
                    "AH02411. Use a DNS name that is in the certificate's subjectAltName (add it to DNS or "
                    "/etc/hosts on the proxy)" % (i, loc["backend"], loc["url"].host, loc["url"].host))
        if preserve_host:
            warnings.append(
                "preserve_host is true: Apache sends the client's Host (%s) as SNI to the TLS backend and checks the "
                "backend certificate against it, so that certificate must cover every public name"
                % ", ".join(public_names))
    return {
        "name": name,
        "server_name": server_name,
        "server_aliases": aliases,
        "listen": {"port": port, "address": address},
        "tls": tls_front,
        "preserve_host": preserve_host,
        "allow_insecure_backend_tls": allow_insecure,
        "locations": locs,
        "uses_tls": uses_tls,
        "uses_ws": any(loc["url"].scheme in ("ws", "wss") for loc in locs),
        "backend_tls": tls,
        "insecure": insecure,
        "contents": contents,
        "combined_client_cert": combined_from,
        "warnings": warnings,
    }


def normalize_sites(sites, defaults=None, tls_dir="/etc/apache2/revproxy-tls"):
    """Validate all sites; returns the list of effective sites. Refuses duplicate names and (port, name) pairs."""
    if not isinstance(sites, list):
        raise ConfigError("sites: must be a list")
    out = []
    names = {}
    for index, site in enumerate(sites):
        eff = normalize_site(site, index, defaults, tls_dir)
        if eff["name"] in names:
            raise ConfigError("site %r: name: listed twice (sites #%d and #%d)" % (eff["name"], names[eff["name"]],
                                                                                   index))
        names[eff["name"]] = index
        out.append(eff)
    return out


def site_backend_checks(eff):
    """The backend checks the checker runs for an effective site: one per TLS location, and with preserve_host one
    per public name (the name Apache sends as SNI and checks is then the client's Host)."""
    checks = []
    hosts = [eff["server_name"]] + eff["server_aliases"] if eff["preserve_host"] else [None]
    for loc in eff["locations"]:
        if not loc["url"].is_tls:
            continue
        for host in hosts:
            if host is not None and host.startswith("*."):
                continue  # a wildcard alias is not a name a client sends
            sni, checked = tls_names(loc["url"], eff["preserve_host"], host)
            checks.append({
                "site": eff["name"],
                "path": loc["path"],
                "url": loc["backend"],
                "preserve_host": eff["preserve_host"],
                "host": host,
                "sni": sni,
                "checked_name": checked,
                "backend_tls": copy.deepcopy(eff["backend_tls"]),
                "contents": dict(eff["contents"]),
                "combined_client_cert": eff["combined_client_cert"],
            })
    return checks
