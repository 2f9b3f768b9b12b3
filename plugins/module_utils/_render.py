# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""Render effective sites (from _sites.normalize_site) as Apache vhost files. Pure functions, no I/O.

Every value that reaches a directive has been validated by _sites/_backend_tls; the renderer still quotes paths and
URLs, and asserts that no line it emits contains a control character, as a last line of defence.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.revproxy.tls.plugins.module_utils._backend_tls import ConfigError

MANAGED_MARKER = "# Managed by revproxy.tls (apache_proxy role)"
LOG_LEVEL_RE = re.compile(r"^(?:[a-z_0-9]+:)?(?:emerg|alert|crit|error|warn|notice|info|debug|trace[1-8])$")

_PROTO_ORDER = ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")


def check_log_level(value, field="log_level"):
    tokens = value.split() if isinstance(value, str) else []
    if not tokens or not all(LOG_LEVEL_RE.match(t) for t in tokens):
        raise ConfigError("%s: %r is not an Apache LogLevel (for example 'warn ssl:info')" % (field, value))
    return " ".join(tokens)


def _q(value):
    return '"%s"' % value


def _onoff(value):
    return "on" if value else "off"


def ssl_proxy_protocol(protocols):
    return "-all " + " ".join("+" + p for p in _PROTO_ORDER if p in protocols)


def _render_backend_tls(site):
    tls = site["backend_tls"]
    lines = ["", "    # Backend TLS (mod_ssl as a client). Secure defaults of revproxy.tls; see",
             "    # docs/troubleshooting-ah00898.md for what each failure looks like."]
    if site["insecure"]:
        lines.append("    # WARNING: INSECURE backend TLS, accepted with allow_insecure_backend_tls: true:")
        for item in site["insecure"]:
            lines.append("    #   %s" % item)
    lines.append("    SSLProxyEngine on")
    lines.append("    # require: the backend chain must lead to a CA below (mod_ssl never uses the system store).")
    lines.append("    SSLProxyVerify %s" % tls["verify"])
    lines.append("    # mod_ssl counts the root's depth (leaf=0): 1 would refuse leaf -> intermediate -> root.")
    lines.append("    SSLProxyVerifyDepth %d" % tls["verify_depth"])
    if tls["ca_file"]:
        lines.append("    SSLProxyCACertificateFile %s" % _q(tls["ca_file"]))
    if tls["ca_path"]:
        lines.append("    SSLProxyCACertificatePath %s" % _q(tls["ca_path"]))
    if tls["crl_file"]:
        lines.append("    SSLProxyCARevocationFile %s" % _q(tls["crl_file"]))
    if tls["crl_path"]:
        lines.append("    SSLProxyCARevocationPath %s" % _q(tls["crl_path"]))
    if tls["crl_check"] != "none":
        lines.append("    SSLProxyCARevocationCheck %s" % tls["crl_check"])
    lines.append("    # The name checked is the SNI sent: the ProxyPass host, or the client's Host with ProxyPreserveHost On.")
    lines.append("    SSLProxyCheckPeerName %s" % _onoff(tls["check_peer_name"]))
    lines.append("    SSLProxyCheckPeerExpire %s" % _onoff(tls["check_peer_expire"]))
    lines.append("    SSLProxyProtocol %s" % ssl_proxy_protocol(tls["protocols"]))
    if tls["ciphers"]:
        lines.append("    SSLProxyCipherSuite %s" % tls["ciphers"])
    client = site.get("client_cert_render")
    if client:
        lines.append("    # Client certificate and unencrypted key for backends that require one (file mode 0600).")
        lines.append("    SSLProxyMachineCertificateFile %s" % _q(client))
    if tls["client_chain_file"]:
        lines.append("    # NB: mod_ssl also trusts every certificate in this file as a CA for backend verification.")
        lines.append("    SSLProxyMachineCertificateChainFile %s" % _q(tls["client_chain_file"]))
    return lines


def client_cert_render_path(site, tls_dir):
    """The file SSLProxyMachineCertificateFile points at: the deployed combined cert+key when the role builds it."""
    tls = site["backend_tls"]
    if site["combined_client_cert"]:
        return "%s/%s/proxy-client.pem" % (tls_dir.rstrip("/"), site["name"])
    return tls["client_cert_file"]


def render_site(site, log_level="warn ssl:info", tls_dir="/etc/apache2/revproxy-tls"):
    """One effective site as the text of its vhost file."""
    site = dict(site, client_cert_render=client_cert_render_path(site, tls_dir))
    listen = site["listen"]
    addr = listen["address"] or "*"
    if ":" in addr:
        addr = "[%s]" % addr
    lines = [
        MANAGED_MARKER,
        "# Site: %s. Do not edit: changes are overwritten on the next run." % site["name"],
        "<VirtualHost %s:%d>" % (addr, listen["port"]),
        "    ServerName %s" % site["server_name"],
    ]
    for alias in site["server_aliases"]:
        lines.append("    ServerAlias %s" % alias)
    lines.append("    # warn ssl:info puts the real cause of AH00898 (AH02411, AH02004, AH02003...) in the error log.")
    lines.append("    LogLevel %s" % log_level)
    front = site["tls"]
    if front:
        lines.append("")
        lines.append("    SSLEngine on")
        lines.append("    SSLCertificateFile %s" % _q(front["certificate_file"]))
        lines.append("    SSLCertificateKeyFile %s" % _q(front["key_file"]))
        if front.get("chain_file"):
            lines.append("    SSLCertificateChainFile %s" % _q(front["chain_file"]))
    if site["uses_tls"]:
        lines.extend(_render_backend_tls(site))
    lines.append("")
    lines.append("    ProxyRequests Off")
    if site["preserve_host"]:
        lines.append("    # The client's Host is sent to the backend, and as SNI and the checked name to TLS backends.")
    lines.append("    ProxyPreserveHost %s" % ("On" if site["preserve_host"] else "Off"))
    # mod_proxy uses the first matching ProxyPass: the longest paths go first.
    for loc in sorted(site["locations"], key=lambda item: (-len(item["path"]), item["path"])):
        params = "".join(" %s=%s" % (k, v) for k, v in loc["params"])
        lines.append("    ProxyPass %s %s%s" % (_q(loc["path"]), _q(loc["backend"]), params))
        lines.append("    ProxyPassReverse %s %s" % (_q(loc["path"]), _q(loc["backend"])))
    lines.append("</VirtualHost>")
    text = "\n".join(lines) + "\n"
    for line in lines:
        if any(ord(c) < 32 for c in line):  # pragma: no cover - validation makes this unreachable
            raise AssertionError("control character in rendered line %r" % line)
    return text


def needed_modules(sites):
    """Apache modules the rendered sites need (Debian names)."""
    mods = {"proxy", "proxy_http", "headers"}
    if any(s["uses_tls"] or s["tls"] for s in sites):
        mods.update(("ssl", "socache_shmcb"))
    if any(s["uses_ws"] for s in sites):
        mods.add("proxy_wstunnel")
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


def render_listen_conf(sites, existing):
    """The managed Listen file: a Listen for each port the sites use that the main config does not listen on."""
    wanted = {}
    for site in sites:
        wanted.setdefault(site["listen"]["port"], set()).add(site["listen"]["address"])
    lines = [MANAGED_MARKER, "# Listen directives for the ports of managed sites not already in ports.conf."]
    existing_ports_any = set(p for h, p in existing if h is None)
    for port in sorted(wanted):
        if port in existing_ports_any:
            continue
        addrs = wanted[port]
        if None in addrs or "*" in addrs:
            lines.append("Listen %d" % port)
            continue
        for addr in sorted(addrs):
            if (addr, port) in existing:
                continue
            lines.append("Listen %s:%d" % ("[%s]" % addr if ":" in addr else addr, port))
    return "\n".join(lines) + "\n"
