# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""Render effective sites (model/_sites.normalize_site with server=NGINX) as nginx configuration. Pure, no I/O.

A site becomes one file: an `upstream {}` block per pool, the site's `server {}` block, and the HTTP redirect's
`server {}` block. Every line is built by _emit.directive()/block(), so every value is one nginx token.

nginx's defaults toward an HTTPS backend are unsafe (nothing verified, no SNI, TLS 1.0 and 1.1 allowed, TLS sessions
shared between locations): every location that proxies to TLS writes its complete settings itself (nginx inherits
proxy_ssl_* from the server block only where a location sets none, so a location never mixes two levels):
  proxy_ssl_verify on, proxy_ssl_trusted_certificate (one file), proxy_ssl_verify_depth, proxy_ssl_server_name on,
  proxy_ssl_name = the backend's own host (for a pool the members' one host; never the upstream group's name, which
  nginx would check otherwise), proxy_ssl_protocols, proxy_ssl_session_reuse off.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.revproxy.tls.plugins.module_utils.model import _frontend
from ansible_collections.revproxy.tls.plugins.module_utils.model._pools import location_urls
from ansible_collections.revproxy.tls.plugins.module_utils.nginx._capabilities import upstream_name
from ansible_collections.revproxy.tls.plugins.module_utils.nginx._emit import (
    Bare,
    Regex,
    Script,
    block,
    comment,
    directive,
)

MANAGED_MARKER = "# Managed by revproxy.tls (nginx_proxy role)"
_IN = "    "
_PROTO_ORDER = ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
UPSTREAM_KEEPALIVE = 16


def _d(level, name, *args):
    return directive(name, *args, indent=_IN * level)


def _onoff(value):
    return Bare("on" if value else "off")


def _listen_address(address, port):
    if address is None:
        return "%d" % port
    address = address.strip("[]")
    return "%s:%d" % ("[%s]" % address if ":" in address else address, port)


def host_regex(names):
    """A PCRE that matches exactly the Host names a server block serves (case-insensitive with ~*: '*' any
    characters, an optional trailing dot)."""
    parts = []
    for name in names:
        name = name.lower().rstrip(".")
        parts.append(".+".join(piece.replace(".", "\\.") for piece in name.split("*")))
    return "^(?:%s)\\.?$" % "|".join(parts)


def own_names_only(site, level=1):
    """A server block answers its own names only: nginx hands a request whose Host matches no server_name of its
    address:port to the default server there (the first one), so a site alone on its port would answer every name
    and receive cookies meant for another (browsers do not scope cookies by port)."""
    names = [site["server_name"]] + site["server_aliases"]
    return [
        comment("Only its own names: a request for any other Host is refused (421), never answered here.", _IN * level),
        block("if", Bare("("), Script("$host"), Bare("!~*"), Regex(host_regex(names)), Bare(")"), indent=_IN * level),
        _d(level + 1, "return", Bare("421")),
        _IN * level + "}",
    ]


def _authority(url):
    """The Host header nginx would send without proxy_set_header: host[:port] (port only when not the default)."""
    host = "[%s]" % url.host if ":" in url.host else url.host
    default = 443 if url.is_tls else 80
    return host if url.port == default else "%s:%d" % (host, url.port)


def _proxy_pass_url(site, loc):
    """proxy_pass takes http and https only: ws and wss are http and https with the upgrade headers."""
    if loc.get("pool"):
        first = loc["pool"]["members"][0]["url"]
        return "%s://%s%s" % ("https" if first.is_tls else "http", upstream_name(site["name"], loc["pool"]["name"]),
                              first.path)
    url = loc["url"]
    scheme = {"ws": "http", "wss": "https"}.get(url.scheme, url.scheme)
    return scheme + loc["backend"][len(url.scheme):]


def upstream_lines(site, loc):
    """The upstream block of a pool: weights, backup (standby), down (disabled), least_conn for bybusyness, and
    keepalive connections. nginx open source checks members passively only (max_fails=1 fail_timeout=10s, its
    defaults): a member that fails is skipped for fail_timeout and the request goes to the next one."""
    pool = loc["pool"]
    lines = [block("upstream", Bare(upstream_name(site["name"], pool["name"])))]
    if pool["lbmethod"] == "bybusyness":
        lines.append(_d(1, "least_conn"))
    for member in pool["members"]:
        url = member["url"]
        host = "[%s]" % url.host if ":" in url.host else url.host
        args = ["%s:%d" % (host, url.port), Bare("weight=%d" % member["weight"])]
        if member["standby"]:
            args.append(Bare("backup"))
        if not member["enabled"]:
            args.append(Bare("down"))
        lines.append(_d(1, "server", *args))
    lines.append(_d(1, "keepalive", Bare(str(UPSTREAM_KEEPALIVE))))
    lines.append("}")
    return lines


def backend_tls_lines(tls, url, insecure, level=2):
    """The complete proxy_ssl_* settings of one location (see the module's docstring)."""
    lines = [comment("Backend TLS (nginx as a client): revproxy.tls's secure defaults, none of nginx's own.",
                     _IN * level)]
    for item in insecure:
        lines.append(comment("WARNING: INSECURE, accepted with allow_insecure_backend_tls: %s" % item, _IN * level))
    verify = tls["verify"] != "none"
    lines.append(_d(level, "proxy_ssl_verify", _onoff(verify)))
    if tls["ca_file"]:
        lines.append(_d(level, "proxy_ssl_trusted_certificate", tls["ca_file"]))
    lines.append(comment("OpenSSL counts intermediates: %d accepts leaf + %d intermediate(s) + a trusted CA (the "
                         "checker counts the same way for nginx)." % (tls["verify_depth"], tls["verify_depth"]),
                         _IN * level))
    lines.append(_d(level, "proxy_ssl_verify_depth", Bare(str(tls["verify_depth"]))))
    if tls["crl_file"]:
        lines.append(_d(level, "proxy_ssl_crl", tls["crl_file"]))
    lines.append(comment("SNI and the checked name: the backend's own host, never an upstream group's name.",
                         _IN * level))
    lines.append(_d(level, "proxy_ssl_server_name", Bare("on")))
    lines.append(_d(level, "proxy_ssl_name", url.host))
    lines.append(_d(level, "proxy_ssl_protocols", *[Bare(p) for p in _PROTO_ORDER if p in tls["protocols"]]))
    if tls["ciphers"]:
        lines.append(_d(level, "proxy_ssl_ciphers", tls["ciphers"]))
    if tls["client_cert_file"]:
        lines.append(_d(level, "proxy_ssl_certificate", tls["client_cert_file"]))
        lines.append(_d(level, "proxy_ssl_certificate_key", tls["client_key_file"] or tls["client_cert_file"]))
    lines.append(comment("No TLS session is resumed: nginx keys sessions by upstream server, shared by every "
                         "location (of every site) that proxies to it, so a resumed session would skip this "
                         "location's own verification.", _IN * level))
    lines.append(_d(level, "proxy_ssl_session_reuse", Bare("off")))
    return lines


def _request_headers(site, loc, url):
    """The request headers of a location, in order, each name once (a location's entry replaces the site's)."""
    headers = []
    if site["preserve_host"]:
        headers.append(("Host", Script("$host")))
    elif loc.get("pool") and len(set(m["url"].port for m in loc["pool"]["members"])) > 1:
        headers.append(("Host", url.host))  # one Host for members on different ports: their one host name
    else:
        headers.append(("Host", _authority(url)))
    if url.scheme in ("ws", "wss"):
        headers.append(("Upgrade", Script("$http_upgrade")))
        headers.append(("Connection", "upgrade"))
    else:
        headers.append(("Connection", ""))
    front = site["frontend"]
    if front["forwarded"]:
        for name in _frontend.forwarded_unset_names():
            headers.append((name, ""))
        headers.extend([("X-Forwarded-For", Script("$remote_addr")), ("X-Forwarded-Host", Script("$host")),
                        ("X-Forwarded-Server", site["server_name"]), ("X-Forwarded-Proto", Script("$scheme")),
                        ("X-Forwarded-Port", Script("$server_port"))])
    for action, name, value in front["request_headers"] + loc["frontend"]["request_headers"]:
        headers.append((name, "" if action == "unset" else value))
    final = {}
    for name, value in headers:
        final[name.lower()] = (name, value)
    out, seen = [], set()
    for name, _value in headers:
        key = name.lower()
        if key not in seen:
            seen.add(key)
            out.append(final[key])
    return out


def _response_headers(site, loc):
    """(hidden names, add_header entries) of a location: the HSTS header and the site's and location's own."""
    hide, add = [], []
    front = site["frontend"]
    for action, name, value in front["response_headers"] + loc["frontend"]["response_headers"]:
        if action in ("set", "unset"):
            hide.append(name)
            add = [(n, v) for n, v in add if n.lower() != name.lower()]
        if action != "unset":
            add.append((name, value))
    if front["hsts"]:
        hide.append("Strict-Transport-Security")
        add.append(("Strict-Transport-Security", front["hsts"]))
    return hide, add


def _param_lines(loc):
    lines = []
    for key, value in loc["params"]:
        if key == "timeout":
            lines.append(_d(2, "proxy_read_timeout", Bare(value + "s")))
            lines.append(_d(2, "proxy_send_timeout", Bare(value + "s")))
        elif key == "connectiontimeout":
            lines.append(_d(2, "proxy_connect_timeout", Bare(value + "s")))
        elif key == "keepalive":
            lines.append(_d(2, "proxy_socket_keepalive", Bare(value)))
        elif key == "flushpackets":
            lines.append(_d(2, "proxy_buffering", Bare("off" if value == "on" else "on")))
    return lines


def error_page_lines(site):
    """error_pages: nginx's own errors and the backend's for these statuses (proxy_intercept_errors in each location)
    answered with a local file, each at an internal URI of its own; no symbolic link followed below its directory."""
    lines = []
    for status, path in sorted(site["frontend"]["error_pages"]):
        uri = "%s%d.html" % (_frontend.ERROR_PAGE_PREFIX, status)
        lines.extend([_d(1, "error_page", Bare(str(status)), uri),
                      block("location", Bare("="), uri, indent=_IN),
                      _d(2, "internal"),
                      _d(2, "alias", path),
                      _d(2, "disable_symlinks", Bare("on"), "from=" + path.rsplit("/", 1)[0]),
                      _IN + "}"])
    if lines:
        lines.insert(0, comment("Local error pages (error_pages): nginx's own errors and the backend's for these "
                                "statuses.", _IN))
        lines.insert(0, "")
    return lines


def location_lines(site, loc):
    url = location_urls(loc)[0]
    lines = ["", block("location", loc["path"], indent=_IN),
             _d(2, "proxy_pass", _proxy_pass_url(site, loc)),
             _d(2, "proxy_http_version", Bare("1.1"))]
    for name, value in _request_headers(site, loc, url):
        lines.append(_d(2, "proxy_set_header", name, value))
    hide, add = _response_headers(site, loc)
    for name in hide:
        lines.append(_d(2, "proxy_hide_header", name))
    for name, value in add:
        lines.append(_d(2, "add_header", name, value, Bare("always")))
    cookie_domain = loc["frontend"]["cookie_domain"]
    if cookie_domain:
        lines.append(_d(2, "proxy_cookie_domain", cookie_domain[0], cookie_domain[1]))
    cookie_path = loc["frontend"]["cookie_path"]
    if cookie_path:
        lines.append(_d(2, "proxy_cookie_path", cookie_path[0], cookie_path[1]))
    lines.extend(_param_lines(loc))
    if site["frontend"]["error_pages"]:
        lines.append(_d(2, "proxy_intercept_errors", Bare("on")))
    if url.is_tls:
        tls = loc["backend_tls"]
        insecure = site["insecure"] if tls is site["backend_tls"] else []
        lines.extend(backend_tls_lines(tls, url, insecure))
    lines.append(_IN + "}")
    return lines


def _frontend_tls_lines(site):
    front, tls = site["frontend"], site["tls"]
    lines = ["", _d(1, "ssl_certificate", tls["certificate_file"]), _d(1, "ssl_certificate_key", tls["key_file"]),
             comment("Mozilla's %s profile." % front["tls_profile"], _IN),
             _d(1, "ssl_protocols", *[Bare(p) for p in _PROTO_ORDER if p in front["tls_protocols"]])]
    if front["tls_ciphers"]:
        lines.append(_d(1, "ssl_ciphers", front["tls_ciphers"]))
    lines.append(_d(1, "ssl_prefer_server_ciphers", Bare("off")))
    lines.append(_d(1, "ssl_session_tickets", _onoff(front["session_tickets"])))
    if front["ocsp_stapling"]:
        lines.append(_d(1, "ssl_stapling", Bare("on")))
        lines.append(_d(1, "ssl_stapling_verify", Bare("on")))
    if front["hsts"]:
        lines.append(_d(1, "add_header", "Strict-Transport-Security", front["hsts"], Bare("always")))
    return lines


def _redirect_lines(site):
    redirect = site["frontend"]["redirect"]
    port = site["listen"]["port"]
    target = "https://$host%s$request_uri" % ("" if port == 443 else ":%d" % port)
    lines = ["", block("server"),
             _d(1, "listen", Bare(_listen_address(site["listen"]["address"], redirect["port"]))),
             _d(1, "server_name", *[Bare(n) for n in [site["server_name"]] + site["server_aliases"]])]
    lines.extend(own_names_only(site))
    if redirect["acme_challenge_dir"]:
        acme = redirect["acme_challenge_dir"].rstrip("/")
        lines.append(block("location", Bare("^~"), _frontend.ACME_PATH, indent=_IN))
        lines.append(_d(2, "alias", acme + "/"))
        lines.append(comment("No symbolic link below the directory is followed (checked when nginx opens a file).",
                             _IN * 2))
        lines.append(_d(2, "disable_symlinks", Bare("on"), "from=" + acme))
        lines.append(_IN + "}")
    lines.append(block("location", "/", indent=_IN))
    lines.append(_d(2, "return", Bare(str(redirect["status"])), Script(target)))
    lines.append(_IN + "}")
    lines.append("}")
    return lines


def render_site(site):
    """One effective site (normalised for NGINX) as the text of its configuration file."""
    lines = [MANAGED_MARKER, comment("Site: %s. Do not edit: changes are overwritten on the next run." % site["name"])]
    for loc in site["locations"]:
        if loc.get("pool"):
            lines.extend(upstream_lines(site, loc))
    listen = [Bare(_listen_address(site["listen"]["address"], site["listen"]["port"]))]
    if site["tls"]:
        listen.append(Bare("ssl"))
        if site["frontend"]["http2"]:
            listen.append(Bare("http2"))
    lines.extend([block("server"), _d(1, "listen", *listen),
                  _d(1, "server_name", *[Bare(n) for n in [site["server_name"]] + site["server_aliases"]])])
    lines.extend(own_names_only(site))
    lines.append(comment("Room for the forwarded headers each location drops (nginx warns below these sizes).", _IN))
    lines.append(_d(1, "proxy_headers_hash_max_size", Bare("1024")))
    lines.append(_d(1, "proxy_headers_hash_bucket_size", Bare("128")))
    if site["tls"]:
        lines.extend(_frontend_tls_lines(site))
    lines.extend(error_page_lines(site))
    # nginx picks the longest matching prefix whatever the order: longest first is easier to read.
    for loc in sorted(site["locations"], key=lambda item: (-len(item["path"]), item["path"])):
        lines.extend(location_lines(site, loc))
    if "/" not in [loc["path"] for loc in site["locations"]]:
        lines.extend(["", comment("Nothing else is served: nginx would serve files from its default root here.", _IN),
                      block("location", "/", indent=_IN), _d(2, "return", Bare("404")), _IN + "}"])
    lines.append("}")
    if site["frontend"]["redirect"]:
        lines.extend(_redirect_lines(site))
    return "\n".join(lines) + "\n"
