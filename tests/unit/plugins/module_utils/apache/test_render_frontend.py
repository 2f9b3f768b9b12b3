"""Rendering of the public side (apache/_render_frontend.py) through render_site (table-driven)."""
import pytest

from ansible_collections.revproxy.tls.plugins.module_utils.apache._render import (
    needed_modules,
    render_listen_conf,
)
from support.apache_model import render_site
from support.apache_model import normalize_site

TLS = {"certificate_file": "/c.pem", "key_file": "/k.pem"}
INTERMEDIATE = ("ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
                "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
                "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305")


def eff(**over):
    site = {"name": "shop", "server_name": "shop.example.com", "server_aliases": ["www.example.com"], "tls": dict(TLS),
            "locations": [{"path": "/", "backend": "http://app.internal:8080/"}]}
    site.update(over)
    return normalize_site(site)


def rendered(**over):
    return render_site(eff(**over)).splitlines()


def vhosts(**over):
    """The lines of each <VirtualHost> of the rendered file."""
    out, cur = [], None
    for line in rendered(**over):
        if line.startswith("<VirtualHost"):
            cur = [line]
        elif cur is not None:
            cur.append(line)
            if line == "</VirtualHost>":
                out.append(cur)
                cur = None
    return out


CONTAINS = [
    ("protocol intermediate", {}, "    SSLProtocol -all +TLSv1.2 +TLSv1.3"),
    ("ciphers intermediate", {}, "    SSLCipherSuite " + INTERMEDIATE),
    ("honor order off", {}, "    SSLHonorCipherOrder off"),
    ("tickets off", {}, "    SSLSessionTickets off"),
    ("protocol modern", {"tls_profile": "modern"}, "    SSLProtocol -all +TLSv1.3"),
    ("protocol old", {"tls_profile": "old", "allow_insecure_frontend_tls": True},
     "    SSLProtocol -all +TLSv1 +TLSv1.1 +TLSv1.2 +TLSv1.3"),
    ("old is announced", {"tls_profile": "old", "allow_insecure_frontend_tls": True},
     "    # WARNING: INSECURE frontend TLS, accepted with allow_insecure_frontend_tls: true:"),
    ("tickets on", {"tls_session_tickets": True, "allow_insecure_frontend_tls": True}, "    SSLSessionTickets on"),
    ("http2", {"http2": True}, "    Protocols h2 http/1.1"),
    ("stapling", {"ocsp_stapling": True}, "    SSLUseStapling on"),
    ("stapling timeout", {"ocsp_stapling": True}, "    SSLStaplingResponderTimeout 5"),
    ("stapling errors", {"ocsp_stapling": True}, "    SSLStaplingReturnResponderErrors off"),
    ("hsts", {}, '    Header always set Strict-Transport-Security "max-age=63072000"'),
    ("hsts preload", {"hsts_include_subdomains": True, "hsts_preload": True},
     '    Header always set Strict-Transport-Security "max-age=63072000; includeSubDomains; preload"'),
    ("forwarded proto", {}, "    RequestHeader set X-Forwarded-Proto https"),
    ("forwarded port", {}, "    RequestHeader set X-Forwarded-Port 443"),
    ("forwarded port custom", {"listen": {"port": 8443}}, "    RequestHeader set X-Forwarded-Port 8443"),
    ("forwarded proto plain", {"tls": None}, "    RequestHeader set X-Forwarded-Proto http"),
    ("spoofed for dropped", {}, "    RequestHeader unset X-Forwarded-For"),
    ("spoofed host dropped", {}, "    RequestHeader unset X-Forwarded-Host"),
    ("spoofed server dropped", {}, "    RequestHeader unset X-Forwarded-Server"),
    ("proxy add headers", {}, "    ProxyAddHeaders On"),
    ("request header", {"request_headers": [{"name": "X-App", "value": "shop 1"}]},
     '    RequestHeader set "X-App" "shop 1"'),
    ("request header unset", {"request_headers": [{"action": "unset", "name": "Cookie2"}]},
     '    RequestHeader unset "Cookie2"'),
    ("response header merge", {"response_headers": [{"action": "merge", "name": "Vary", "value": "Origin"}]},
     '    Header merge "Vary" "Origin"'),
    ("response header quotes", {"response_headers": [{"name": "Content-Security-Policy",
                                                      "value": "default-src 'self' \"x\""}]},
     '    Header set "Content-Security-Policy" "default-src \'self\' \\"x\\""'),
    ("redirect", {}, '    Redirect 301 "/" "https://shop.example.com/"'),
    ("redirect keeps port", {"listen": {"port": 8443}}, '    Redirect 301 "/" "https://shop.example.com:8443/"'),
    ("redirect status", {"redirect_status": 308}, '    Redirect 308 "/" "https://shop.example.com/"'),
    ("redirect vhost", {}, "<VirtualHost *:80>"),
    ("redirect vhost address", {"listen": {"port": 443, "address": "::1"}, "redirect_http_port": 8080},
     "<VirtualHost [::1]:8080>"),
    ("acme alias", {"acme_challenge_dir": "/var/www/acme"},
     '    Alias "/.well-known/acme-challenge/" "/var/www/acme/"'),
    ("acme directory", {"acme_challenge_dir": "/var/www/acme"}, '    <Directory "/var/www/acme">'),
    ("acme granted", {"acme_challenge_dir": "/var/www/acme"}, "        Require all granted"),
    ("acme redirect", {"acme_challenge_dir": "/var/www/acme"},
     '    RedirectMatch 301 "^/(?![.]well-known/acme-challenge/)(.*)$" "https://shop.example.com/$1"'),
]


CONTAINS += [
    ("exclusion", {"proxy_exclusions": ["/static/"]}, '    ProxyPass "/static/" !'),
    ("nocanon", {"allow_insecure_frontend_tls": True,
                 "locations": [{"path": "/", "backend": "http://a.internal/", "nocanon": True}]},
     '    ProxyPass "/" "http://a.internal/" nocanon'),
    ("nocanon after parameters", {"allow_insecure_frontend_tls": True,
                                  "locations": [{"path": "/", "backend": "http://a.internal/", "nocanon": True,
                                                 "timeout": 5}]},
     '    ProxyPass "/" "http://a.internal/" timeout=5 nocanon'),
    ("cookie domain", {"locations": [{"path": "/", "backend": "http://a.internal/",
                                      "reverse_cookie_domain": "shop.example.com"}]},
     '    ProxyPassReverseCookieDomain "a.internal" "shop.example.com"'),
    ("cookie path", {"locations": [{"path": "/app/", "backend": "http://a.internal/v1/", "reverse_cookie_path": True}]},
     '    ProxyPassReverseCookiePath "/v1/" "/app/"'),
]


CONTAINS += [
    ("site extra", {"extra_directives": ["LimitRequestBody 1048576"]}, "    LimitRequestBody 1048576"),
    ("site extra keyword canonical", {"extra_directives": ["keepalive 'off'"]}, "    KeepAlive Off"),
    ("location extra in its section", {"locations": [{"path": "/a/", "backend": "http://a.internal/",
                                                      "extra_directives": ["LimitRequestBody 10"]}]},
     "        LimitRequestBody 10"),
    ("spoofed forwarded dropped", {}, "    RequestHeader unset Forwarded"),
    ("spoofed real ip dropped", {}, "    RequestHeader unset X-Real-IP"),
    ("spoofed underscore spelling dropped", {}, "    RequestHeader unset X_Forwarded_For"),
    ("spoofed mixed spelling dropped", {}, "    RequestHeader unset X-Forwarded_For"),
    ("spoofed ssl dropped", {}, "    RequestHeader unset X-Forwarded-Ssl"),
    ("spoofed prefix dropped", {}, "    RequestHeader unset X-Forwarded-Prefix"),
    ("spoofed client ip dropped", {}, "    RequestHeader unset Client_IP"),
]


@pytest.mark.parametrize("case,over,line", CONTAINS, ids=[c[0] for c in CONTAINS])
def test_renders(case, over, line):
    assert line in rendered(**over)


ABSENT = [
    ("no redirect when opted out", {"redirect_http": False}, "Redirect"),
    ("no redirect for plain http", {"tls": None}, "Redirect"),
    ("no hsts when opted out", {"hsts": False, "allow_insecure_frontend_tls": True}, "Strict-Transport-Security"),
    ("no hsts for plain http", {"tls": None}, "Strict-Transport-Security"),
    ("no tls policy for plain http", {"tls": None}, "SSLProtocol"),
    ("no cipher list for modern", {"tls_profile": "modern"}, "SSLCipherSuite"),
    ("no forwarded headers when opted out", {"forwarded_headers": False}, "X-Forwarded"),
    ("no ProxyAddHeaders line when opted out", {"forwarded_headers": False}, "ProxyAddHeaders"),
    ("no h2 by default", {}, "Protocols"),
    ("no Location without location headers", {}, "<Location"),
]


@pytest.mark.parametrize("case,over,word", ABSENT, ids=[a[0] for a in ABSENT])
def test_absent(case, over, word):
    assert not any(word in line for line in rendered(**over))


def test_redirect_vhost_serves_every_name_and_nothing_else():
    tls_vhost, redirect = vhosts()
    assert redirect == ["<VirtualHost *:80>", "    ServerName shop.example.com", "    ServerAlias www.example.com",
                        '    Redirect 301 "/" "https://shop.example.com/"', "</VirtualHost>"]
    assert tls_vhost[0] == "<VirtualHost *:443>"


def test_location_headers_in_a_location_section_longest_first():
    lines = rendered(locations=[
        {"path": "/", "backend": "http://a.internal/", "response_headers": [{"name": "X-Root", "value": "1"}]},
        {"path": "/api/", "backend": "http://b.internal/", "request_headers": [{"name": "X-Api", "value": "2"}]}])
    start = lines.index('    <Location "/api/">')
    assert lines[start:start + 6] == ['    <Location "/api/">', '        RequestHeader set "X-Api" "2"', "    </Location>",
                                      '    <Location "/">', '        Header set "X-Root" "1"', "    </Location>"]
    assert start > max(i for i, line in enumerate(lines) if line.startswith("    ProxyPass "))


def test_error_pages_rendering():
    lines = rendered(error_pages=[{"status": 503, "file": "/var/www/e/503.html"},
                                  {"status": 502, "file": "/srv/e/502.html"}])
    start = lines.index('    ProxyPass "/.revproxy-error/" !')
    assert lines[start:start + 15] == [
        '    ProxyPass "/.revproxy-error/" !', "    ProxyErrorOverride On 502 503",
        '    Alias "/.revproxy-error/502.html" "/srv/e/502.html"', '    ErrorDocument 502 "/.revproxy-error/502.html"',
        '    Alias "/.revproxy-error/503.html" "/var/www/e/503.html"',
        '    ErrorDocument 503 "/.revproxy-error/503.html"',
        '    <Location "/.revproxy-error/">', "        Require all granted", "    </Location>",
        # no symbolic links followed in the pages' directories
        '    <Directory "/srv/e">', "        Options None", "    </Directory>",
        '    <Directory "/var/www/e">', "        Options None", "    </Directory>"]
    assert start < lines.index('    ProxyPass "/" "http://app.internal:8080/"')
    assert "alias" in needed_modules([eff(tls=None, error_pages=[{"status": 503, "file": "/var/www/503.html"}])])


def test_exclusions_come_before_every_proxied_path():
    lines = rendered(proxy_exclusions=["/static/", "/a/"], locations=[
        {"path": "/", "backend": "http://a.internal/"}, {"path": "/api/", "backend": "http://b.internal/api/"}])
    passes = [line for line in lines if line.startswith("    ProxyPass ")]
    assert passes == ['    ProxyPass "/static/" !', '    ProxyPass "/a/" !', '    ProxyPass "/api/" "http://b.internal/api/"',
                      '    ProxyPass "/" "http://a.internal/"']


def test_site_headers_come_after_forwarded_headers_and_before_proxy_lines():
    lines = rendered(request_headers=[{"name": "X-App", "value": "shop"}])
    ours = lines.index("    RequestHeader set X-Forwarded-Proto https")
    theirs = lines.index('    RequestHeader set "X-App" "shop"')
    assert ours < theirs < lines.index("    ProxyRequests Off")


def test_extra_directive_modules_are_enabled():
    assert {"filter", "deflate"} <= set(needed_modules([eff(extra_directives=[
        "AddOutputFilterByType DEFLATE text/html"])]))


def test_raw_directive_rendered_under_a_comment():
    site = {"name": "shop", "server_name": "shop.example.com", "tls": dict(TLS),
            "locations": [{"path": "/", "backend": "http://app.internal:8080/"}],
            "extra_directives": ["ErrorDocument 503 '/maint page.html'"]}
    text = render_site(normalize_site(site, policy={"allow_raw_directives": True, "served_roots": ["/var/www"]}))
    lines = text.splitlines()
    i = lines.index('    ErrorDocument 503 "/maint page.html"')
    assert lines[i - 1] == "    # RAW (apache_proxy_allow_raw_directives): not checked beyond its syntax."


def test_rendering_is_byte_identical_twice():
    over = {"acme_challenge_dir": "/var/www/acme", "request_headers": [{"name": "X", "value": "y"}], "http2": True}
    assert render_site(eff(**over)) == render_site(eff(**over))


def test_stapling_cache_in_the_managed_listen_file():
    assert 'SSLStaplingCache "shmcb:/var/run/revproxy-tls-ocsp-stapling(131072)"' in render_listen_conf(
        [eff(ocsp_stapling=True), eff(name="b", server_name="b.example", server_aliases=[])], set()).splitlines()
    assert "SSLStaplingCache" not in render_listen_conf([eff()], set())


@pytest.mark.parametrize("over,existing,expected", [
    ({}, {(None, 80), (None, 443)}, []),
    ({}, set(), ["Listen 80", "Listen 443"]),
    ({"redirect_http_port": 8080, "listen": {"port": 8443, "address": "127.0.0.1"}}, set(),
     ["Listen 127.0.0.1:8080", "Listen 127.0.0.1:8443"]),
    ({"redirect_http": False}, set(), ["Listen 443"]),
])
def test_listen_for_redirect_port(over, existing, expected):
    lines = render_listen_conf([eff(**over)], existing).splitlines()
    assert [line for line in lines if line.startswith("Listen")] == expected


@pytest.mark.parametrize("over,present,absent", [
    ({}, ["alias", "headers", "ssl"], ["http2"]),
    ({"redirect_http": False}, ["headers", "ssl"], ["alias", "http2"]),
    ({"http2": True}, ["http2", "alias"], []),
])
def test_needed_modules(over, present, absent):
    mods = needed_modules([eff(**over)])
    assert all(m in mods for m in present) and not any(m in mods for m in absent), mods
