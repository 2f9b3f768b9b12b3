# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""Render the public side of an effective site (model/_frontend.py): the frontend TLS policy and HSTS, forwarded and
custom headers, per-location headers, and the HTTP->HTTPS redirect vhost. Pure; every line through _grammar."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import posixpath

from ansible_collections.revproxy.tls.plugins.module_utils.model._frontend import (
    ACME_PATH,
    ERROR_PAGE_PREFIX,
    forwarded_unset_names,
)
from ansible_collections.revproxy.tls.plugins.module_utils.apache import _render_acme as acme
from ansible_collections.revproxy.tls.plugins.module_utils.apache._directives import modules as directive_modules
from ansible_collections.revproxy.tls.plugins.module_utils.apache._emit import BARE_RE, Bare, directive, section, tokenize

_IN = "    "
_PROTO_ORDER = ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")


def _d(name, *args, **kwargs):
    return directive(name, *args, indent=kwargs.get("indent", _IN))


def _front(site):
    return site.get("frontend") or {}


def tls_policy_lines(site):
    """Lines after the SSLCertificate* lines of a TLS site: protocols, ciphers, tickets, HTTP/2, HSTS."""
    front = _front(site)
    if not site.get("tls") or not front.get("tls_protocols"):
        return []
    lines = ["    # Frontend TLS policy: Mozilla %r profile (tls_profile)." % front["tls_profile"]]
    if front.get("insecure"):
        lines.append("    # WARNING: INSECURE frontend TLS, accepted with allow_insecure_frontend_tls: true:")
        for item in front["insecure"]:
            lines.append("    #   %s" % item)
    lines.append(_d("SSLProtocol", Bare("-all"), *[Bare("+" + p) for p in _PROTO_ORDER if p in front["tls_protocols"]]))
    if front["tls_ciphers"]:
        lines.append(_d("SSLCipherSuite", Bare(front["tls_ciphers"])))
    lines.append(_d("SSLHonorCipherOrder", Bare("off")))
    lines.append(_d("SSLSessionTickets", Bare("on" if front["session_tickets"] else "off")))
    protocols = acme.protocols(site, front.get("http2"))
    if protocols:
        lines.append(_d("Protocols", *[Bare(p) for p in protocols]))
    if front.get("ocsp_stapling"):
        lines.append("    # OCSP stapling (ocsp_stapling); the cache is global, in the managed Listen file.")
        lines.append(_d("SSLUseStapling", Bare("on")))
        lines.append(_d("SSLStaplingResponderTimeout", Bare("5")))
        lines.append(_d("SSLStaplingReturnResponderErrors", Bare("off")))
    if front.get("hsts"):
        lines.append("    # HSTS: browsers use https:// only for this name from now on (hsts, hsts_max_age).")
        lines.append(_d("Header", Bare("always"), Bare("set"), Bare("Strict-Transport-Security"), front["hsts"]))
    return lines


def _header_lines(kind, entries, indent):
    out = []
    for action, name, value in entries:
        args = [Bare(action), name] + ([] if value is None else [value])
        out.append(_d(kind, *args, indent=indent))
    return out


_UNSET_LINES = []


def _forwarded_unset_lines():
    """The same ~120 lines in every vhost: emitted (and read back) once per process, not once per site."""
    if not _UNSET_LINES:
        _UNSET_LINES.extend(_d("RequestHeader", Bare("unset"), Bare(name)) for name in forwarded_unset_names())
    return _UNSET_LINES


def header_lines(site):
    """Vhost-level request/response header lines (before ProxyRequests)."""
    front = _front(site)
    if not front:
        return []
    lines = []
    if front.get("forwarded"):
        scheme = "https" if site.get("tls") else "http"
        lines.append("")
        lines.append("    # Forwarded headers from the real request: every client-sent value of a forwarding header, in")
        lines.append("    # each '-'/'_' spelling, is dropped; mod_proxy adds its own X-Forwarded-For/-Host/-Server")
        lines.append("    # (ProxyAddHeaders On). A backend should trust only these and X-Forwarded-Proto/-Port.")
        lines.extend(_forwarded_unset_lines())
        lines.append(_d("RequestHeader", Bare("set"), Bare("X-Forwarded-Proto"), Bare(scheme)))
        lines.append(_d("RequestHeader", Bare("set"), Bare("X-Forwarded-Port"), Bare(str(site["listen"]["port"]))))
        lines.append(_d("ProxyAddHeaders", Bare("On")))
    if front.get("request_headers") or front.get("response_headers"):
        lines.append("")
        lines.extend(_header_lines("RequestHeader", front.get("request_headers") or [], _IN))
        lines.extend(_header_lines("Header", front.get("response_headers") or [], _IN))
    return lines


def exclusion_lines(site):
    """ProxyPass <path> ! for each excluded path, before every other ProxyPass (mod_proxy uses the first match);
    the local error pages (error_pages) with ProxyErrorOverride."""
    paths = _front(site).get("exclusions") or []
    lines = []
    if paths:
        lines.append("    # Not proxied (proxy_exclusions); served by this vhost itself.")
    for path in sorted(paths, key=lambda p: (-len(p), p)):
        lines.append(_d("ProxyPass", path, Bare("!")))
    pages = _front(site).get("error_pages") or []
    if pages:
        lines.append("    # Local error pages (error_pages): Apache's own errors and the backend's for these statuses.")
        lines.append(_d("ProxyPass", ERROR_PAGE_PREFIX, Bare("!")))
        lines.append(_d("ProxyErrorOverride", Bare("On"), *[Bare(str(status)) for status, _f in sorted(pages)]))
        for status, path in sorted(pages):
            url = "%s%d.html" % (ERROR_PAGE_PREFIX, status)
            lines.append(_d("Alias", url, path))
            lines.append(_d("ErrorDocument", Bare(str(status)), url))
        lines.append(section("Location", ERROR_PAGE_PREFIX, indent=_IN))
        lines.append(_d("Require", Bare("all"), Bare("granted"), indent=_IN * 2))
        lines.append(_IN + "</Location>")
        # No symbolic links in the error pages' directories: a link placed there later cannot serve another file.
        for parent in sorted(set(posixpath.dirname(path) for _status, path in pages)):
            lines.append(section("Directory", parent, indent=_IN))
            lines.append(_d("Options", Bare("None"), indent=_IN * 2))
            lines.append(_IN + "</Directory>")
    return lines


def proxypass_flags(loc):
    """Keywords after a location's ProxyPass parameters."""
    return [Bare("nocanon")] if (loc.get("frontend") or {}).get("nocanon") else []


def extra_lines(entries, indent):
    """extra_directives, each re-emitted through directive(): the same words as Apache reads them, keywords bare and
    anything else quoted."""
    out = []
    for entry in entries:
        if entry["raw"] is None:
            out.append(_d(entry["name"], *[Bare(a) for a in entry["args"]], indent=indent))
            continue
        out.append(indent + "# RAW (apache_proxy_allow_raw_directives): not checked beyond its syntax.")
        args = [Bare(w) if BARE_RE.match(w) else w for w in tokenize(entry["raw"])[1:]]
        out.append(_d(entry["name"], *args, indent=indent))
    return out


def location_lines(site):
    """Cookie rewriting of the locations, then <Location> sections for the locations that set their own headers
    (after the ProxyPass lines)."""
    lines = []
    ordered = sorted(site["locations"], key=lambda item: (-len(item["path"]), item["path"]))
    for loc in ordered:
        front = loc.get("frontend") or {}
        if front.get("cookie_domain"):
            lines.append(_d("ProxyPassReverseCookieDomain", *front["cookie_domain"]))
        if front.get("cookie_path"):
            lines.append(_d("ProxyPassReverseCookiePath", *front["cookie_path"]))
    for loc in ordered:
        front = loc.get("frontend") or {}
        if not front.get("request_headers") and not front.get("response_headers") and not front.get("extra_directives"):
            continue
        lines.append(section("Location", loc["path"], indent=_IN))
        lines.extend(_header_lines("RequestHeader", front.get("request_headers") or [], _IN * 2))
        lines.extend(_header_lines("Header", front.get("response_headers") or [], _IN * 2))
        if front.get("extra_directives"):
            lines.append(_IN * 2 + "# extra_directives of this location (validated, outside the model).")
            lines.extend(extra_lines(front["extra_directives"], _IN * 2))
        lines.append(_IN + "</Location>")
    extra = _front(site).get("extra_directives")
    if extra:
        lines.append("    # extra_directives of the site (validated, outside the model).")
        lines.extend(extra_lines(extra, _IN))
    return lines


def _vhost_addr(address, port):
    addr = address or "*"
    if ":" in addr:
        addr = "[%s]" % addr
    return "%s:%d" % (addr, port)


def redirect_vhost_lines(site):
    """The port-80 vhost of a TLS site: a redirect to https://server_name, and the ACME challenge directory."""
    redirect = _front(site).get("redirect")
    if not redirect:
        return []
    port = site["listen"]["port"]
    target = "https://%s%s/" % (site["server_name"], "" if port == 443 else ":%d" % port)
    lines = [
        "",
        "# HTTP -> HTTPS redirect of site %s (redirect_http)." % site["name"],
        section("VirtualHost", Bare(_vhost_addr(site["listen"]["address"], redirect["port"]))),
        _d("ServerName", Bare(site["server_name"])),
    ]
    for alias in site["server_aliases"]:
        lines.append(_d("ServerAlias", Bare(alias)))
    acme = redirect["acme_challenge_dir"]
    if acme:
        lines.append("    # Certificate renewal: ACME HTTP-01 challenges are served from acme_challenge_dir.")
        lines.append(_d("Alias", ACME_PATH, acme + "/"))
        lines.append(section("Directory", acme, indent=_IN))
        lines.append(_d("Options", Bare("None"), indent=_IN * 2))
        lines.append(_d("Require", Bare("all"), Bare("granted"), indent=_IN * 2))
        lines.append(_IN + "</Directory>")
        lines.append(_d("RedirectMatch", Bare(str(redirect["status"])), "^/(?![.]well-known/acme-challenge/)(.*)$",
                        target + "$1"))
    else:
        lines.append(_d("Redirect", Bare(str(redirect["status"])), "/", target))
    lines.append("</VirtualHost>")
    return lines


def frontend_modules(sites):
    """Apache modules the public side of the sites needs (Debian names)."""
    mods = set()
    for site in sites:
        front = _front(site)
        if front.get("redirect"):
            mods.add("alias")
        if front.get("http2"):
            mods.add("http2")
        if front.get("error_pages"):
            mods.add("alias")
        mods.update(directive_modules(front.get("extra_directives") or []))
        for loc in site.get("locations") or []:
            mods.update(directive_modules((loc.get("frontend") or {}).get("extra_directives") or []))
    return mods


STAPLING_CACHE = "shmcb:/var/run/revproxy-tls-ocsp-stapling(131072)"


def global_lines(sites):
    """Server-level lines of the managed global conf file (the Listen file): the OCSP stapling cache when a site
    staples (SSLStaplingCache is valid only at server level)."""
    if not any(_front(site).get("ocsp_stapling") for site in sites):
        return []
    return ["# OCSP stapling cache for the sites with ocsp_stapling (server-wide, mod_ssl).",
            directive("SSLStaplingCache", STAPLING_CACHE)]


def frontend_listens(sites):
    """(address or None, port) of each redirect vhost, for the managed Listen file."""
    out = []
    for site in sites:
        redirect = _front(site).get("redirect")
        if redirect:
            out.append((site["listen"]["address"], redirect["port"]))
    return out
