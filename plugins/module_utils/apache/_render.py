# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""Render effective sites (from _sites.normalize_site) as Apache vhost files. Pure functions, no I/O.

Every value that reaches a directive has been validated by its grammar kind (model/_grammar), and every directive
line is built by _emit.directive()/section(): each value becomes exactly one Apache argument (quoted paths and URLs,
bare keywords), and the line is tokenized back before it is used, so even a validation miss cannot add an argument or
a directive.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.revproxy.tls.plugins.module_utils.apache._emit import Bare, directive, section
from ansible_collections.revproxy.tls.plugins.module_utils.apache import _render_acme as acme
from ansible_collections.revproxy.tls.plugins.module_utils.apache import _render_frontend as frontend
from ansible_collections.revproxy.tls.plugins.module_utils.apache import _render_pools as pools

MANAGED_MARKER = "# Managed by revproxy.tls (apache_proxy role)"

_PROTO_ORDER = ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")


_IN = "    "


def _d(name, *args):
    """An indented directive line inside the vhost (see _emit.directive)."""
    return directive(name, *args, indent=_IN)


def _onoff(value):
    return "on" if value else "off"


def ssl_proxy_protocol_args(protocols):
    return [Bare("-all")] + [Bare("+" + p) for p in _PROTO_ORDER if p in protocols]


def ssl_proxy_protocol(protocols):
    return " ".join(ssl_proxy_protocol_args(protocols))


def _render_backend_tls(site):
    tls = site["backend_tls"]
    lines = ["", "    # Backend TLS (mod_ssl as a client). Secure defaults of revproxy.tls; see",
             "    # docs/troubleshooting-ah00898.md for what each failure looks like."]
    if site["insecure"]:
        lines.append("    # WARNING: INSECURE backend TLS, accepted with allow_insecure_backend_tls: true:")
        for item in site["insecure"]:
            lines.append("    #   %s" % item)
    lines.append(_d("SSLProxyEngine", Bare("on")))
    lines.append("    # require: the backend chain must lead to a CA below (mod_ssl never uses the system store).")
    lines.append(_d("SSLProxyVerify", Bare(tls["verify"])))
    lines.append("    # mod_ssl counts the root's depth (leaf=0): 1 would refuse leaf -> intermediate -> root.")
    lines.append(_d("SSLProxyVerifyDepth", Bare(str(tls["verify_depth"]))))
    for key, name in (("ca_file", "SSLProxyCACertificateFile"), ("ca_path", "SSLProxyCACertificatePath"),
                      ("crl_file", "SSLProxyCARevocationFile"), ("crl_path", "SSLProxyCARevocationPath")):
        if tls[key]:
            lines.append(_d(name, tls[key]))
    if tls["crl_check"] != "none":
        lines.append(_d("SSLProxyCARevocationCheck", Bare(tls["crl_check"])))
    lines.append("    # The name checked is the SNI sent: the ProxyPass host, or the client's Host with ProxyPreserveHost On.")
    lines.append(_d("SSLProxyCheckPeerName", Bare(_onoff(tls["check_peer_name"]))))
    lines.append(_d("SSLProxyCheckPeerExpire", Bare(_onoff(tls["check_peer_expire"]))))
    lines.append(_d("SSLProxyProtocol", *ssl_proxy_protocol_args(tls["protocols"])))
    if tls["ciphers"]:
        lines.append(_d("SSLProxyCipherSuite", Bare(tls["ciphers"])))
    client = site.get("client_cert_render")
    if client:
        lines.append("    # Client certificate and unencrypted key for backends that require one (file mode 0600).")
        lines.append(_d("SSLProxyMachineCertificateFile", client))
    if tls["client_chain_file"]:
        lines.append("    # NB: mod_ssl also trusts every certificate in this file as a CA for backend verification.")
        lines.append(_d("SSLProxyMachineCertificateChainFile", tls["client_chain_file"]))
    return lines


def host_regex(names):
    """An ap_expr regex that matches exactly the Host names a vhost serves (ServerName/ServerAlias semantics: case
    insensitive, '*' any characters, an optional trailing dot)."""
    parts = []
    for name in names:
        name = name.lower().rstrip(".")
        # Host names hold letters, digits, '_', '-', '.' and a leading '*' (the grammar): only '.' needs escaping.
        parts.append(".+".join(piece.replace(".", "\\.") for piece in name.split("*")))
    return "m#^(?:%s)\\.?$#i" % "|".join(parts)


def own_names_only(site):
    """A vhost answers its own names only. Apache hands a request whose Host matches no vhost of its address:port to
    the first one there (for a site alone on its port: every name), so without this a second site on another port
    would answer for this one's name and receive its cookies, which browsers do not scope by port. <If> sections are
    merged last, so the refusal also covers every <Location> (the balancer-manager's included)."""
    names = [site["server_name"]] + site["server_aliases"]
    return [
        "    # Only its own names: a request for any other Host is refused (Apache would otherwise answer it here).",
        section("If", "%%{SERVER_NAME} !~ %s" % host_regex(names), indent=_IN),
        directive("Require", Bare("all"), Bare("denied"), indent=_IN * 2),
        _IN + "</If>",
    ]


def client_cert_render_path(site, tls_dir):
    """The file SSLProxyMachineCertificateFile points at: the deployed combined cert+key when the role builds it."""
    tls = site["backend_tls"]
    if site["combined_client_cert"]:
        return "%s/%s/proxy-client.pem" % (tls_dir.rstrip("/"), site["name"])
    return tls["client_cert_file"]


def render_site(site, log_level="warn ssl:info", tls_dir=None):
    """One effective site as the text of its vhost file. `tls_dir`: where the role deploys the sites' TLS files
    (the layout's; required, as for normalize_site)."""
    if not isinstance(tls_dir, str) or not tls_dir.startswith("/"):
        raise TypeError("render_site: tls_dir= must be the layout's absolute TLS directory, got %r" % (tls_dir,))
    site = dict(site, client_cert_render=client_cert_render_path(site, tls_dir))
    listen = site["listen"]
    addr = listen["address"] or "*"
    if ":" in addr:
        addr = "[%s]" % addr
    lines = [
        MANAGED_MARKER,
        "# Site: %s. Do not edit: changes are overwritten on the next run." % site["name"],
    ] + acme.mdomain_lines(site) + [
        section("VirtualHost", Bare("%s:%d" % (addr, listen["port"]))),
        _d("ServerName", Bare(site["server_name"])),
    ]
    for alias in site["server_aliases"]:
        lines.append(_d("ServerAlias", Bare(alias)))
    lines.extend(own_names_only(site))
    lines.append("    # warn ssl:info puts the real cause of AH00898 (AH02411, AH02004, AH02003...) in the error log.")
    lines.append(_d("LogLevel", *[Bare(t) for t in log_level.split()]))
    front = site["tls"]
    if front:
        lines.append("")
        lines.append(_d("SSLEngine", Bare("on")))
        lines.extend(acme.certificate_lines(site))
        if front.get("certificate_file"):
            lines.append(_d("SSLCertificateFile", front["certificate_file"]))
            lines.append(_d("SSLCertificateKeyFile", front["key_file"]))
        if front.get("chain_file"):
            lines.append(_d("SSLCertificateChainFile", front["chain_file"]))
        lines.extend(frontend.tls_policy_lines(site))
    if site["uses_tls"]:
        lines.extend(_render_backend_tls(site))
    lines.extend(pools.proxy_sections(site, tls_dir, _render_backend_tls, client_cert_render_path))
    lines.extend(frontend.header_lines(site))
    lines.append("")
    lines.append(_d("ProxyRequests", Bare("Off")))
    if site["preserve_host"]:
        lines.append("    # The client's Host is sent to the backend, and as SNI and the checked name to TLS backends.")
    lines.append(_d("ProxyPreserveHost", Bare("On" if site["preserve_host"] else "Off")))
    lines.extend(frontend.exclusion_lines(site))
    # mod_proxy uses the first matching ProxyPass: the longest paths go first.
    for loc in sorted(site["locations"], key=lambda item: (-len(item["path"]), item["path"])):
        params = pools.proxypass_params(loc)
        lines.append(_d("ProxyPass", loc["path"], loc["backend"], *(params + frontend.proxypass_flags(loc))))
        lines.append(_d("ProxyPassReverse", loc["path"], loc["backend"]))
    lines.extend(frontend.location_lines(site))
    lines.extend(pools.manager_lines(site))
    lines.append("</VirtualHost>")
    lines.extend(frontend.redirect_vhost_lines(site))
    return "\n".join(lines) + "\n"


def needed_modules(sites, log_level=""):
    """Apache modules the rendered sites need (Debian names). A per-module LogLevel (the default 'warn ssl:info')
    needs that module loaded even on a host whose sites are all plain HTTP."""
    mods = {"proxy", "proxy_http", "headers"}
    log_modules = set(t.split(":", 1)[0] for t in (log_level or "").split() if ":" in t)
    if any(s["uses_tls"] or s["tls"] for s in sites) or "ssl" in log_modules:
        mods.update(("ssl", "socache_shmcb"))
    if any(s["uses_ws"] for s in sites):
        mods.add("proxy_wstunnel")
    mods.update(frontend.frontend_modules(sites))
    mods.update(acme.acme_modules(sites))
    mods.update(pools.pool_modules(sites))
    return sorted(mods)


def parse_listens(text):
    """(address or None, port) pairs of the Listen directives in a config text."""
    found = set()
    for line in text.splitlines():
        match = re.match(r"^\s*Listen\s+(\S+)", line, re.IGNORECASE)
        if not match:
            continue
        token = match.group(1)
        host, _sep, port = token.rpartition(":")
        if not port.isdigit():
            continue
        host = host.strip("[]") or None
        if host in ("0.0.0.0", "*"):
            host = None
        found.add((host, int(port)))
    return found


def render_listen_conf(sites, existing, acme_settings=None):
    """The managed Listen file: a Listen for each port the sites use that the main config does not listen on; the
    server-level lines of the public side (OCSP stapling cache, ACME)."""
    wanted = {}
    for site in sites:
        wanted.setdefault(site["listen"]["port"], set()).add(site["listen"]["address"])
    for address, port in frontend.frontend_listens(sites):
        wanted.setdefault(port, set()).add(address)
    lines = [MANAGED_MARKER, "# Listen directives for the ports of managed sites not already in ports.conf."]
    existing_ports_any = set(p for h, p in existing if h is None)
    for port in sorted(wanted):
        if port in existing_ports_any:
            continue
        addrs = wanted[port]
        if None in addrs or "*" in addrs:
            lines.append(directive("Listen", Bare("%d" % port)))
            continue
        for addr in sorted(addrs):
            if (addr, port) in existing:
                continue
            lines.append(directive("Listen", Bare("%s:%d" % ("[%s]" % addr if ":" in addr else addr, port))))
    lines.extend(frontend.global_lines(sites))
    lines.extend(acme.global_lines(sites, acme_settings))
    return "\n".join(lines) + "\n"
