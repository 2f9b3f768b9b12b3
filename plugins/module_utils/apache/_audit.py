# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""The HTTPS backends of the hand-written configuration and their effective SSLProxy* settings (apache_proxy_audit).

backends_of(tree) turns apache/_audit_parse.read_tree's result into one item per (vhost, route, backend URL): a
ProxyPass/ProxyPassMatch/RewriteRule [P] target, or each member of the balancer a route names. Each item carries the
effective settings as mod_ssl merges them: the server config, then the vhost, then the <Proxy> sections that apply
to the backend (the balancer's section for its members; for a URL, the <Proxy> sections whose URL is a prefix of it
and the <ProxyMatch> sections whose expression matches it, the server's before the vhost's), then mod_ssl's own
defaults (SSLProxyVerify none, depth 1, name and expiry checks on, protocols all but SSLv3). Each setting keeps the
file and line it came from ('default' when mod_ssl's default applies). ProxyPreserveHost follows server -> vhost ->
<Location>; with it On the name Apache sends as SNI and checks is the client's Host, so an item checks once per
ServerName and ServerAlias.

tls_of(settings) gives those settings in the checker's words (tls/_checker's backends[] keys), so the audit's
verdicts come from the same mod_ssl-faithful checker as backend_handshake's.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fnmatch
import os
import re

from ansible_collections.revproxy.tls.plugins.module_utils.apache._audit_parse import dynamic_target, problem

# mod_ssl's defaults when no SSLProxy* directive says otherwise (ssl_engine_config.c modssl_ctx_init_proxy and
# ssl_engine_init.c): no verification, depth 1, peer name and expiry checked, all protocols but SSLv3.
MOD_SSL_DEFAULTS = {
    "sslproxyengine": "off", "sslproxyverify": "none", "sslproxyverifydepth": "1",
    "sslproxycheckpeername": "on", "sslproxycheckpeerexpire": "on", "sslproxyprotocol": "all -SSLv3",
    "proxypreservehost": "off",
}
ALL_PROTOCOLS = ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
# Directive -> the checker's key, for the path settings (relative paths are taken from ServerRoot, as mod_ssl does).
_PATHS = {"sslproxycacertificatefile": "ca_file", "sslproxycacertificatepath": "ca_path",
          "sslproxycarevocationfile": "crl_file", "sslproxycarevocationpath": "crl_path",
          "sslproxymachinecertificatefile": "client_cert_file",
          "sslproxymachinecertificatechainfile": "client_chain_file"}
# Names as the audit's results show them.
DISPLAY = {"sslproxyengine": "SSLProxyEngine", "sslproxyverify": "SSLProxyVerify",
           "sslproxyverifydepth": "SSLProxyVerifyDepth", "sslproxycacertificatefile": "SSLProxyCACertificateFile",
           "sslproxycacertificatepath": "SSLProxyCACertificatePath",
           "sslproxycarevocationfile": "SSLProxyCARevocationFile",
           "sslproxycarevocationpath": "SSLProxyCARevocationPath",
           "sslproxycarevocationcheck": "SSLProxyCARevocationCheck",
           "sslproxycheckpeername": "SSLProxyCheckPeerName", "sslproxycheckpeerexpire": "SSLProxyCheckPeerExpire",
           "sslproxycheckpeercn": "SSLProxyCheckPeerCN",
           "sslproxymachinecertificatefile": "SSLProxyMachineCertificateFile",
           "sslproxymachinecertificatepath": "SSLProxyMachineCertificatePath",
           "sslproxymachinecertificatechainfile": "SSLProxyMachineCertificateChainFile",
           "sslproxyprotocol": "SSLProxyProtocol", "sslproxyciphersuite": "SSLProxyCipherSuite",
           "proxypreservehost": "ProxyPreserveHost"}
_TLS_SCHEMES = ("https", "wss", "h2")


def _prefix_match(pattern, url):
    """Does a <Proxy> section's URL apply to url (a prefix, with shell wildcards as mod_proxy allows, '*' all)?"""
    if pattern == "*":
        return True
    pattern, url = pattern.lower(), url.lower()
    if any(c in pattern for c in "*?["):
        return fnmatch.fnmatchcase(url, pattern + "*")
    return url.startswith(pattern)


def _regex_match(pattern, url):
    try:
        return re.search(pattern, url) is not None
    except re.error:
        return False


def sections_for(url, scopes, balancer=None):
    """The <Proxy> sections of scopes (server first, then the vhost) that apply to url, in order."""
    out = []
    for scope in scopes:
        for section in scope["proxies"]:
            match = section["match"]
            if balancer is not None:
                if match.rstrip("/").lower() == balancer.rstrip("/").lower():
                    out.append(section)
            elif section["regex"]:
                if _regex_match(match, url):
                    out.append(section)
            elif not match.lower().startswith("balancer://") and _prefix_match(match, url):
                out.append(section)
    return out


def effective(layers):
    """{directive: {value, args, file, line, origin}}: each directive of SETTINGS from the last layer that sets it,
    else mod_ssl's default (origin 'default', no file). layers: [(origin, settings)]."""
    out = {}
    for key, value in MOD_SSL_DEFAULTS.items():
        out[key] = {"value": value, "args": value.split(), "file": None, "line": None, "origin": "default"}
    for origin, settings in layers:
        for key, item in (settings or {}).items():
            out[key] = {"value": " ".join(item["args"]), "args": list(item["args"]), "file": item["file"],
                        "line": item["line"], "origin": origin}
    return out


def _on(value):
    return value.strip().lower() == "on"


def protocols_of(value):
    """SSLProxyProtocol as mod_ssl reads it (ssl_cmd_protocol_parse): 'all', +X, -X, X; SSLv3 is not offered."""
    enabled = set()
    for word in value.split():
        action = word[0] if word[0] in "+-" else ""
        name = word.lstrip("+-")
        if name.lower() == "all":
            names = set(ALL_PROTOCOLS)
        else:
            names = set(p for p in ALL_PROTOCOLS if p.lower() == name.lower())
        if action == "-":
            enabled -= names
        elif action == "+":
            enabled |= names
        else:
            enabled = set(names)
    return [p for p in ALL_PROTOCOLS if p in enabled]


def tls_of(settings, server_root):
    """(tls, notes): the effective settings as the checker's backends[] keys, and what could not be carried over."""
    notes = []
    tls = {"verify": settings["sslproxyverify"]["value"].lower(),
           "check_peer_name": _on(settings["sslproxycheckpeername"]["value"]),
           "check_peer_expire": _on(settings["sslproxycheckpeerexpire"]["value"]),
           "protocols": protocols_of(settings["sslproxyprotocol"]["value"])}
    try:
        tls["verify_depth"] = int(settings["sslproxyverifydepth"]["value"])
    except ValueError:
        notes.append("SSLProxyVerifyDepth %r is not a number" % settings["sslproxyverifydepth"]["value"])
        tls["verify_depth"] = 1
    for key, name in _PATHS.items():
        if key in settings and settings[key]["args"]:
            path = settings[key]["args"][0]
            tls[name] = path if os.path.isabs(path) else os.path.join(server_root, path)
    if "sslproxycarevocationcheck" in settings and settings["sslproxycarevocationcheck"]["args"]:
        tls["crl_check"] = settings["sslproxycarevocationcheck"]["args"][0].lower()
    if "sslproxyciphersuite" in settings:
        args = settings["sslproxyciphersuite"]["args"]
        if len(args) == 1:
            tls["ciphers"] = args[0]
        elif args:
            notes.append("SSLProxyCipherSuite %s: a protocol-specific cipher list is not checked" % " ".join(args))
    if "sslproxymachinecertificatepath" in settings:
        notes.append("SSLProxyMachineCertificatePath is not read by the audit: give the client certificate as a "
                     "file (SSLProxyMachineCertificateFile) to have it checked")
    if "sslproxycheckpeercn" in settings:
        notes.append("SSLProxyCheckPeerCN is set; the audit follows SSLProxyCheckPeerName (mod_ssl prefers it)")
    return tls, notes


def vhost_label(vhost):
    name = vhost.get("server_name", {}).get("args", ["(no ServerName)"])[0] if vhost["kind"] == "vhost" \
        else "(server config)"
    if vhost["kind"] != "vhost":
        return name
    return "%s %s (%s:%s)" % (name, " ".join(vhost["addresses"]), vhost["file"], vhost["line"])


def _concrete(url):
    """The URL a check can connect to: a target whose path depends on the request ($1, %{...}) loses its path."""
    if "$" in url or "%{" in url:
        scheme, rest = url.split("://", 1)
        return "%s://%s/" % (scheme, rest.split("/", 1)[0])
    return url


def server_name(value):
    """ServerName's host: Apache allows [scheme://]fully-qualified-domain-name[:port]."""
    host = value.split("://", 1)[-1]
    if host.startswith("["):
        return host[1:host.index("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _names(vhost):
    out = []
    if vhost.get("server_name"):
        out.append(server_name(vhost["server_name"]["args"][0]))
    out.extend(vhost["names"])
    return out


def _item(vhost, route, url, server, member=None, balancer=None, server_root="/"):
    scopes = [server] if vhost is server else [server, vhost]
    sections = sections_for(url if balancer is None else balancer, scopes, balancer)
    layers = [("server", server["settings"])]
    if vhost is not server:
        layers.append(("vhost", vhost["settings"]))
    layers.extend(("<Proxy %s> (%s:%s)" % (s["match"], s["file"], s["line"]), s["settings"]) for s in sections)
    settings = effective(layers)
    host_layers = layers[:2] + [("<Location %s>" % route["path"], route.get("location_settings") or {})]
    preserve = effective(host_layers)["proxypreservehost"]
    settings["proxypreservehost"] = preserve
    tls, notes = tls_of(settings, server_root)
    names = _names(vhost)
    hosts = [None]
    if _on(preserve["value"]):
        hosts = [n for n in names if "*" not in n and "?" not in n]
        if len(hosts) < len(names):
            notes.append("wildcard names (%s) are not checked: with ProxyPreserveHost On each name a client sends "
                         "is checked against the backend certificate" % ", ".join(n for n in names if n not in hosts))
        if not hosts:
            notes.append("ProxyPreserveHost On and no ServerName: the name checked is whatever Host a client sends")
    return {"vhost": vhost_label(vhost), "vhost_file": vhost["file"], "vhost_line": vhost["line"],
            "managed": vhost["managed"], "addresses": vhost["addresses"], "names": names, "route": route,
            "url": _concrete(url), "target": url, "member": member, "balancer": balancer,
            "preserve_host": _on(preserve["value"]), "hosts": hosts, "settings": settings, "tls": tls,
            "engine": _on(settings["sslproxyengine"]["value"]), "notes": notes}


def _members(balancer, scopes):
    for scope in reversed(scopes):
        for section in scope["proxies"]:
            if section["match"].rstrip("/").lower() == balancer.rstrip("/").lower() and section["members"]:
                return section["members"]
    return []


def backends_of(tree, server_root, problems=None):
    """One item per (vhost, route, TLS backend URL) of the tree, hand-written and managed alike (item['managed']).
    Routes whose backend host depends on the request are added to `problems` (a list) instead."""
    server = tree["server"]
    items = []
    scopes = [server] + list(tree["vhosts"])
    for vhost in scopes:
        for route in vhost["routes"]:
            target = route["target"]
            if dynamic_target(target):
                if problems is not None:
                    problems.append(problem(route["file"], route["line"], "dynamic_target",
                                            "%s %s %s: the backend depends on the request: not checked"
                                            % (route["kind"], route["path"], target)))
                continue
            scheme = target.split("://", 1)[0].lower()
            if scheme == "balancer":
                name = "balancer://" + target.split("://", 1)[1].split("/", 1)[0]
                members = _members(name, [server] if vhost is server else [server, vhost])
                if not members and problems is not None:
                    problems.append(problem(route["file"], route["line"], "unknown_balancer",
                                            "%s %s: no BalancerMember found for %s" % (route["kind"], target, name)))
                for m in members:
                    if m["url"].split("://", 1)[0].lower() in _TLS_SCHEMES:
                        items.append(_item(vhost, route, m["url"], server, m, name, server_root))
            elif scheme in _TLS_SCHEMES:
                items.append(_item(vhost, route, target, server, server_root=server_root))
    return items


def checker_entries(item):
    """The checker's backends[] entries of one item: one per name checked (ProxyPreserveHost On), else one."""
    base = dict(item["tls"], url=item["url"].replace("h2://", "https://", 1))
    if not item["preserve_host"]:
        return [base]
    return [dict(base, preserve_host=True, host=h) for h in item["hosts"]]


def directives(item):
    """The settings that decide the item's TLS, as 'Directive value (file:line)' or '(mod_ssl default)'."""
    out = []
    for key in ("sslproxyengine", "sslproxyverify", "sslproxyverifydepth", "sslproxycacertificatefile",
                "sslproxycacertificatepath", "sslproxycheckpeername", "sslproxycheckpeerexpire",
                "sslproxymachinecertificatefile", "sslproxyprotocol", "sslproxyciphersuite", "proxypreservehost"):
        s = item["settings"].get(key)
        if s is None:
            continue
        out.append({"directive": DISPLAY[key], "value": s["value"], "file": s["file"], "line": s["line"],
                    "origin": s["origin"], "backend_tls": key != "proxypreservehost"})
    return out
