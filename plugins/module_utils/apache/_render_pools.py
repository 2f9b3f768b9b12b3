# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""Render pools and per-backend TLS sections (called from _render.render_site). Pure functions, no I/O.

A location whose effective backend_tls differs from the site's gets its SSLProxy* lines in a
``<Proxy "backend URL">`` section (mod_ssl merges them into the per-directory config of requests proxied to that
URL); a pool is a ``<Proxy "balancer://name">`` section holding its BalancerMember lines, its ProxySet and, when they
differ from the site's, its SSLProxy* lines (the only place Apache 2.4.71 reads them for balanced requests).
A site without pools or overrides renders no line from here (byte-identical to before).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.revproxy.tls.plugins.module_utils.apache._balancer_manager import MANAGER_PATH
from ansible_collections.revproxy.tls.plugins.module_utils.apache._emit import Bare, directive, section

_IN = "    "
_IN2 = "        "


def _d2(name, *args):
    return directive(name, *args, indent=_IN2)


def hc_expr_name(pool):
    return "%s_ok" % pool["name"].replace("-", "_")


def hc_expr(classes):
    """The ap_expr of a health check's expected status classes: ['2xx', '3xx'] -> %{REQUEST_STATUS} =~ /^[23]/
    (one quoted argument: ProxyHCExpr reads quotes, or braces, around the expression)."""
    return "%%{REQUEST_STATUS} =~ /^[%s]/" % "".join(c[0] for c in classes)


def member_url(member):
    """The BalancerMember URL: the balancer appends the rest of the path, which starts with '/', to it, so a
    member given as https://h:8443/ is written https://h:8443 (else the backend would get //path)."""
    url = member["backend"]
    return url[:-1] if url.endswith("/") else url


def member_params(loc, member):
    """BalancerMember parameters: the pool-level worker parameters, then the member's own."""
    params = ["%s=%s" % (k, v) for k, v in loc["params"]]
    params.append("loadfactor=%d" % member["weight"])
    if member["route"] is not None:
        params.append("route=%s" % member["route"])
    if not member["enabled"]:
        params.append("status=+D")
    elif member["standby"]:
        params.append("status=+H")
    hc = loc["pool"]["health_check"]
    if hc:
        params.extend(["hcmethod=%s" % hc["method"], "hcuri=%s" % hc["uri"], "hcinterval=%d" % hc["interval"],
                       "hcpasses=%d" % hc["passes"], "hcfails=%d" % hc["fails"],
                       "hcexpr=%s" % hc_expr_name(loc["pool"])])
    return [Bare(p) for p in params]


def _tls_lines(site, loc, tls_dir, render_backend_tls, client_cert_render_path):
    """The SSLProxy* lines of a location's effective settings, as the vhost block writes them (indented once more,
    without SSLProxyEngine, which the vhost sets)."""
    if loc["client_cert_inherited"]:
        client = client_cert_render_path(site, tls_dir)
    else:
        client = loc["backend_tls"]["client_cert_file"]
    lines = render_backend_tls({"backend_tls": loc["backend_tls"], "insecure": [], "client_cert_render": client})
    out = []
    for line in lines:
        if not line or line.strip().startswith("#") or line.strip().startswith("SSLProxyEngine "):
            continue
        out.append(_IN + line)
    return out


def _ordered(site):
    return sorted(site["locations"], key=lambda item: (len(item["backend"]), item["backend"]))


def proxy_sections(site, tls_dir, render_backend_tls, client_cert_render_path):
    """Lines for every pool and every location with its own TLS settings; [] when there are none."""
    lines = []
    for loc in _ordered(site):
        pool = loc.get("pool")
        if not pool and not loc.get("tls_section"):
            continue
        lines.append("")
        if pool and pool["health_check"]:
            # Defined before the members that name it (Apache resolves hcexpr= when it reads BalancerMember).
            lines.append(directive("ProxyHCExpr", Bare(hc_expr_name(pool)), hc_expr(pool["health_check"]["expect"]),
                                   indent=_IN))
        if pool:
            lines.append("    # Pool for %s (%s); its members take the TLS settings written here." % (
                loc["path"], pool["lbmethod"]))
            lines.append(section("Proxy", "balancer://%s" % pool["name"], indent=_IN))
            for member in pool["members"]:
                lines.append(_d2("BalancerMember", member_url(member), *member_params(loc, member)))
            proxyset = [Bare("lbmethod=%s" % pool["lbmethod"])]
            if pool["sticky"]:
                proxyset.append(Bare("stickysession=%s" % pool["sticky"]))
            lines.append(_d2("ProxySet", *proxyset))
        else:
            lines.append("    # Backend TLS settings of %s (differ from the site's)." % loc["path"])
            lines.append(section("Proxy", loc["backend"], indent=_IN))
        if loc.get("tls_section"):
            lines.extend(_tls_lines(site, loc, tls_dir, render_backend_tls, client_cert_render_path))
        lines.append("    </Proxy>")
        if pool and pool["sticky"]:
            lines.append("    # The route cookie for sticky sessions, set when the balancer picks a member.")
            lines.append(directive(
                "Header", Bare("add"), Bare("Set-Cookie"),
                "%s=.%%{BALANCER_WORKER_ROUTE}e; path=/" % pool["sticky"],
                "expr=-n reqenv('BALANCER_ROUTE_CHANGED') && reqenv('BALANCER_NAME') == 'balancer://%s'"
                % pool["name"], indent=_IN))
    return lines + manager_exclusion_lines(site)


def manager_exclusion_lines(site):
    """The balancer-manager's path, never proxied: before every ProxyPass (mod_proxy uses the first match)."""
    if not site.get("balancer_manager"):
        return []
    return [
        "",
        "    # balancer-manager for the drain playbook: loopback clients only, never proxied (its <Location> is the",
        "    # last section of the vhost, so that no location's section can override its Require).",
        directive("ProxyPass", MANAGER_PATH, Bare("!"), indent=_IN),
    ]


def manager_lines(site):
    """The balancer-manager of the site's pools, for loopback clients only. Written last in the vhost
    (render_site): Apache merges <Location> sections in the order they appear, so no location's section can come
    after it and override its Require. Not 'Require local', which also admits a client whose address is the
    server's (any process on this host, any address)."""
    if not site.get("balancer_manager"):
        return []
    return [
        "",
        section("Location", MANAGER_PATH, indent=_IN),
        _d2("SetHandler", Bare("balancer-manager")),
        "        # A loopback client that is not a proxy: a request another vhost proxied here (mod_proxy always adds",
        "        # X-Forwarded-For) comes from this host too, and would publish the manager.",
        section("RequireAll", indent=_IN2),
        directive("Require", Bare("ip"), Bare("127.0.0.0/8"), Bare("::1"), indent=_IN2 + _IN),
        directive("Require", Bare("expr"), "-z req('X-Forwarded-For') && -z req('Forwarded')", indent=_IN2 + _IN),
        _IN2 + "</RequireAll>",
        "    </Location>",
    ]


def proxypass_params(loc):
    """ProxyPass parameters: a pool's worker parameters are on its members."""
    if loc.get("pool"):
        return []
    return [Bare("%s=%s" % (k, v)) for k, v in loc["params"]]


def pool_modules(sites):
    """Apache modules pools need (Debian names; mod_watchdog, which proxy_hcheck uses, is built into Debian's
    apache2)."""
    mods = set()
    for site in sites:
        for loc in site.get("locations", []):
            pool = loc.get("pool")
            if not pool:
                continue
            mods.update(("proxy_balancer", "slotmem_shm", "lbmethod_" + pool["lbmethod"]))
            if pool["health_check"]:
                mods.add("proxy_hcheck")
        if site.get("balancer_manager"):
            mods.add("authz_host")  # Require ip
    return mods
