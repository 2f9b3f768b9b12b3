"""The public side of a site (model/_frontend.py): defaults, every field's kind, every refusal (table-driven)."""
import pytest

from ansible_collections.revproxy.tls.plugins.module_utils.model._backend_tls import ConfigError
from ansible_collections.revproxy.tls.plugins.module_utils.model._frontend import (
    HSTS_DEFAULT_MAX_AGE,
    TLS_PROFILES,
    header_name,
    header_value,
)
from ansible_collections.revproxy.tls.plugins.module_utils.apache._capabilities import APACHE
from support.apache_model import normalize_site, normalize_sites

TLS = {"certificate_file": "/etc/ssl/front.pem", "key_file": "/etc/ssl/front.key"}


def site(**over):
    base = {
        "name": "shop",
        "server_name": "shop.example.com",
        "tls": dict(TLS),
        "locations": [{"path": "/", "backend": "http://app.internal:8080/"}],
    }
    base.update(over)
    return base


def front(**over):
    return normalize_site(site(**over))["frontend"]


def test_tls_site_defaults():
    eff = front()
    assert eff["redirect"] == {"port": 80, "status": 301, "acme_challenge_dir": None}
    assert eff["forwarded"] is True
    assert eff["hsts"] == "max-age=%d" % HSTS_DEFAULT_MAX_AGE
    assert eff["tls_profile"] == "intermediate"
    assert eff["tls_protocols"] == ["TLSv1.2", "TLSv1.3"]
    assert eff["tls_ciphers"] == TLS_PROFILES["intermediate"]["ciphers"]
    assert eff["session_tickets"] is False and eff["http2"] is False and eff["insecure"] == []
    assert eff["request_headers"] == [] and eff["response_headers"] == []


def test_plain_site_has_forwarded_headers_and_no_tls_side():
    eff = front(tls=None)
    assert eff["redirect"] is None and eff["hsts"] is None and eff["tls_protocols"] is None
    assert eff["forwarded"] is True


ACCEPTED = [
    ("opt out of redirect", {"redirect_http": False}, "redirect", None),
    ("redirect port", {"redirect_http_port": 8080}, "redirect", {"port": 8080, "status": 301, "acme_challenge_dir": None}),
    ("redirect 308", {"redirect_status": 308}, "redirect", {"port": 80, "status": 308, "acme_challenge_dir": None}),
    ("acme dir trailing slash", {"acme_challenge_dir": "/var/www/acme/"}, "redirect",
     {"port": 80, "status": 301, "acme_challenge_dir": "/var/www/acme"}),
    ("no forwarded headers", {"forwarded_headers": False}, "forwarded", False),
    ("hsts off with opt-in", {"hsts": False, "allow_insecure_frontend_tls": True}, "hsts", None),
    ("hsts max age with opt-in", {"hsts_max_age": 300, "allow_insecure_frontend_tls": True}, "hsts", "max-age=300"),
    ("hsts max age one year", {"hsts_max_age": 31536000}, "hsts", "max-age=31536000"),
    ("hsts subdomains", {"hsts_include_subdomains": True}, "hsts", "max-age=63072000; includeSubDomains"),
    ("hsts preload", {"hsts_include_subdomains": True, "hsts_preload": True}, "hsts",
     "max-age=63072000; includeSubDomains; preload"),
    ("hsts max age 0 forgets with opt-in", {"hsts_max_age": 0, "allow_insecure_frontend_tls": True}, "hsts",
     "max-age=0"),
    ("modern", {"tls_profile": "modern"}, "tls_protocols", ["TLSv1.3"]),
    ("modern no cipher list", {"tls_profile": "modern"}, "tls_ciphers", None),
    ("old with opt-in", {"tls_profile": "old", "allow_insecure_frontend_tls": True}, "tls_protocols",
     ["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"]),
    ("tickets with opt-in", {"tls_session_tickets": True, "allow_insecure_frontend_tls": True}, "session_tickets", True),
    ("http2", {"http2": True}, "http2", True),
    ("ocsp stapling", {"ocsp_stapling": True}, "ocsp_stapling", True),
    ("request header set", {"request_headers": [{"name": "X-App", "value": "shop"}]}, "request_headers",
     [("set", "X-App", "shop")]),
    ("request header unset", {"request_headers": [{"action": "unset", "name": "Cookie2"}]}, "request_headers",
     [("unset", "Cookie2", None)]),
    ("response header actions", {"response_headers": [
        {"action": a, "name": "X-A", "value": "v"} for a in ("set", "append", "add", "merge")]}, "response_headers",
     [(a, "X-A", "v") for a in ("set", "append", "add", "merge")]),
    ("value with format specifiers", {"request_headers": [{"name": "X-Client-DN", "value": "%{SSL_CLIENT_S_DN}s %t"}]},
     "request_headers", [("set", "X-Client-DN", "%{SSL_CLIENT_S_DN}s %t")]),
    ("value with literal percent", {"response_headers": [{"name": "X-P", "value": "100%% sure"}]},
     "response_headers", [("set", "X-P", "100%% sure")]),
    ("value with quotes", {"response_headers": [{"name": "Content-Security-Policy", "value": "default-src 'self'"}]},
     "response_headers", [("set", "Content-Security-Policy", "default-src 'self'")]),
]


@pytest.mark.parametrize("case,over,key,expected", ACCEPTED, ids=[a[0] for a in ACCEPTED])
def test_accepted(case, over, key, expected):
    assert front(**over)[key] == expected


def test_insecure_frontend_opt_in_warns_and_names_it():
    eff = normalize_site(site(tls_profile="old", tls_session_tickets=True, allow_insecure_frontend_tls=True))
    assert eff["frontend"]["insecure"] == [
        "tls_profile old (TLS 1.0/1.1 and CBC/3DES ciphers for clients)",
        "tls_session_tickets true (ticket keys undo forward secrecy until Apache restarts)"]
    assert any(w.startswith("INSECURE frontend TLS allowed by allow_insecure_frontend_tls") for w in eff["warnings"])


def test_location_headers():
    loc = {"path": "/api/", "backend": "http://app.internal/", "request_headers": [{"name": "X-Api", "value": "1"}],
           "response_headers": [{"action": "unset", "name": "Server"}]}
    eff = normalize_site(site(locations=[loc]))
    assert eff["locations"][0]["frontend"] == {"request_headers": [("set", "X-Api", "1")],
                                               "response_headers": [("unset", "Server", None)],
                                               "nocanon": False, "cookie_domain": None, "cookie_path": None,
                                               "extra_directives": []}


LOCATION_ACCEPTED = [
    ("nocanon", {"nocanon": True}, "nocanon", True),
    ("cookie domain from the backend host", {"reverse_cookie_domain": "shop.example.com"}, "cookie_domain",
     ("app.internal", "shop.example.com")),
    ("cookie domain with a leading dot", {"reverse_cookie_domain": ".example.com"}, "cookie_domain",
     ("app.internal", ".example.com")),
    ("cookie path from the backend path", {"reverse_cookie_path": True}, "cookie_path", ("/v1/", "/api/")),
]


@pytest.mark.parametrize("case,over,key,expected", LOCATION_ACCEPTED, ids=[a[0] for a in LOCATION_ACCEPTED])
def test_location_accepted(case, over, key, expected):
    loc = dict({"path": "/api/", "backend": "http://app.internal:8080/v1/"}, **over)
    optin = {"allow_insecure_frontend_tls": True} if over.get("nocanon") else {}
    assert normalize_site(site(locations=[loc], **optin))["locations"][0]["frontend"][key] == expected


def _allowed(name, *args, **kw):
    return {"name": name, "args": list(args), "raw": None, "modules": kw.get("modules", [])}


EXTRA_ACCEPTED = [
    ("plain", "LimitRequestBody 1048576", [_allowed("LimitRequestBody", "1048576")]),
    ("quoted number", 'Timeout "30"', [_allowed("Timeout", "30")]),
    ("keyword case", "keepalive off", [_allowed("KeepAlive", "Off")]),
    ("outer spaces trimmed", "  ProxyTimeout 60 ", [_allowed("ProxyTimeout", "60")]),
    ("env switch", "SetEnv proxy-nokeepalive 1", [_allowed("SetEnv", "proxy-nokeepalive", "1", modules=["env"])]),
    ("deflate types", "AddOutputFilterByType DEFLATE text/html application/json",
     [_allowed("AddOutputFilterByType", "DEFLATE", "text/html", "application/json", modules=["filter", "deflate"])]),
    ("encoded slashes off", "AllowEncodedSlashes Off", [_allowed("AllowEncodedSlashes", "Off")]),
]


@pytest.mark.parametrize("case,line,expected", EXTRA_ACCEPTED, ids=[e[0] for e in EXTRA_ACCEPTED])
def test_extra_directives_accepted(case, line, expected):
    assert front(extra_directives=[line])["extra_directives"] == expected


RAW = {"allow_raw_directives": True, "served_roots": ["/var/www"]}


def test_extra_directives_model_directives_raw_with_opt_in_warn():
    eff = normalize_site(site(allow_insecure_backend_tls=True, extra_directives=["ProxyPassMatch ^/x !"],
                              locations=[{"path": "/", "backend": "http://a.internal/",
                                          "extra_directives": ["SSLProxyCheckPeerCN off"]}]), policy=RAW)
    assert "INSECURE extra directive allowed by allow_insecure_backend_tls: extra_directives ProxyPassMatch" in eff[
        "warnings"]
    assert ("INSECURE extra directive allowed by allow_insecure_backend_tls: locations[0].extra_directives "
            "SSLProxyCheckPeerCN") in eff["warnings"]
    assert any(w.startswith("RAW directive(s) in extra_directives allowed by apache_proxy_allow_raw_directives")
               for w in eff["warnings"])


def test_allow_listed_proxy_directive_needs_no_opt_in():
    eff = normalize_site(site(extra_directives=["ProxyTimeout 5"]))
    assert eff["frontend"]["extra_directives"] == [_allowed("ProxyTimeout", "5")]
    assert not [w for w in eff["warnings"] if "INSECURE" in w or "RAW" in w]


def test_error_pages():
    assert front(error_pages=[{"status": 503, "file": "/var/www/e/503.html"}])["error_pages"] == [
        (503, "/var/www/e/503.html")]


def test_exclusions():
    eff = front(proxy_exclusions=["/static/", "/robots.txt"])
    assert eff["exclusions"] == ["/static/", "/robots.txt"]


REFUSED = [
    ("redirect_http string", {"redirect_http": "yes"}, "site 'shop': redirect_http: must be a boolean"),
    ("redirect port 0", {"redirect_http_port": 0}, "site 'shop': redirect_http_port: must be a port number"),
    ("redirect port string", {"redirect_http_port": "80"}, "site 'shop': redirect_http_port: must be a port number"),
    ("redirect port is the https port", {"redirect_http_port": 443},
     "site 'shop': redirect_http_port: 443 is the port the HTTPS vhost listens on"),
    ("redirect status 200", {"redirect_status": 200}, "site 'shop': redirect_status: must be one of 301, 302"),
    ("redirect status bool", {"redirect_status": True}, "site 'shop': redirect_status: must be one of"),
    ("acme relative", {"acme_challenge_dir": "var/www"}, "site 'shop': acme_challenge_dir: must be an absolute path"),
    ("acme root", {"acme_challenge_dir": "/"}, "site 'shop': acme_challenge_dir: '/' is not under a served root"),
    ("acme dotdot", {"acme_challenge_dir": "/var/../etc"}, "site 'shop': acme_challenge_dir: must not contain '..'"),
    ("acme quote", {"acme_challenge_dir": '/var/"www'}, "site 'shop': acme_challenge_dir: must not contain"),
    ("acme without redirect", {"redirect_http": False, "acme_challenge_dir": "/var/www/acme"},
     "site 'shop': acme_challenge_dir: is served by the HTTP redirect vhost"),
    ("acme without tls", {"tls": None, "acme_challenge_dir": "/var/www/acme"},
     "site 'shop': acme_challenge_dir: is served by the HTTP redirect vhost"),
    ("forwarded string", {"forwarded_headers": "true"}, "site 'shop': forwarded_headers: must be a boolean"),
    ("hsts string", {"hsts": "on"}, "site 'shop': hsts: must be a boolean"),
    ("hsts negative", {"hsts_max_age": -1}, "site 'shop': hsts_max_age: must be an integer from 0 to 315360000"),
    ("hsts huge", {"hsts_max_age": 10 ** 12}, "site 'shop': hsts_max_age: must be an integer"),
    ("hsts float", {"hsts_max_age": 1.5}, "site 'shop': hsts_max_age: must be an integer"),
    ("hsts subdomains string", {"hsts_include_subdomains": "yes"},
     "site 'shop': hsts_include_subdomains: must be a boolean"),
    ("preload without subdomains", {"hsts_preload": True}, "site 'shop': hsts_preload: the preload list requires"),
    ("preload short age", {"hsts_preload": True, "hsts_include_subdomains": True, "hsts_max_age": 3600},
     "site 'shop': hsts_preload: the preload list requires"),
    ("profile junk", {"tls_profile": "strong"}, "site 'shop': tls_profile: must be one of intermediate, modern, old"),
    ("old without opt-in", {"tls_profile": "old"},
     "site 'shop': insecure public-side setting(s) refused: tls_profile old"),
    ("tickets without opt-in", {"tls_session_tickets": True},
     "site 'shop': insecure public-side setting(s) refused: tls_session_tickets true"),
    ("tickets string", {"tls_session_tickets": "off"}, "site 'shop': tls_session_tickets: must be a boolean"),
    ("http2 without tls", {"tls": None, "http2": True}, "site 'shop': http2: needs tls"),
    ("http2 string", {"http2": "h2"}, "site 'shop': http2: must be a boolean"),
    ("stapling without tls", {"tls": None, "ocsp_stapling": True}, "site 'shop': ocsp_stapling: needs tls"),
    ("stapling string", {"ocsp_stapling": "on"}, "site 'shop': ocsp_stapling: must be a boolean"),
    ("opt-in string", {"allow_insecure_frontend_tls": "yes"},
     "site 'shop': allow_insecure_frontend_tls: must be a boolean"),
    ("headers not a list", {"request_headers": {"name": "X"}}, "site 'shop': request_headers: must be a list"),
    ("too many headers", {"request_headers": [{"name": "X", "value": "v"}] * 101},
     "site 'shop': request_headers: must be a list of at most 100"),
    ("header entry not a mapping", {"request_headers": ["X: v"]}, "site 'shop': request_headers[0]: must be a mapping"),
    ("header unknown key", {"request_headers": [{"name": "X", "value": "v", "early": True}]},
     "site 'shop': request_headers[0]: unknown key(s) early"),
    ("header action junk", {"request_headers": [{"action": "edit", "name": "X", "value": "v"}]},
     "site 'shop': request_headers[0].action: must be one of set, unset, append, add, merge"),
    ("header without name", {"request_headers": [{"value": "v"}]}, "site 'shop': request_headers[0].name: is required"),
    ("header name with space", {"request_headers": [{"name": "X A", "value": "v"}]},
     "site 'shop': request_headers[0].name: 'X A' is not an HTTP header name"),
    ("header name with colon", {"response_headers": [{"name": "X:", "value": "v"}]},
     "site 'shop': response_headers[0].name: 'X:' is not an HTTP header name"),
    ("header name newline", {"response_headers": [{"name": "X\nHeader set Y", "value": "v"}]},
     "site 'shop': response_headers[0].name: must not contain newlines"),
    ("header name quote", {"response_headers": [{"name": 'X"', "value": "v"}]},
     "site 'shop': response_headers[0].name: must not contain"),
    ("header set without value", {"response_headers": [{"name": "X"}]},
     "site 'shop': response_headers[0].value: is required for action set"),
    ("header unset with value", {"response_headers": [{"action": "unset", "name": "X", "value": "v"}]},
     "site 'shop': response_headers[0].value: an unset entry takes no value"),
    ("header value newline", {"response_headers": [{"name": "X", "value": "a\r\nSet-Cookie: x"}]},
     "site 'shop': response_headers[0].value: must not contain newlines"),
    ("header value variable", {"response_headers": [{"name": "X", "value": "${HOME}"}]},
     "site 'shop': response_headers[0].value: must not contain '${'"),
    ("header value env format", {"response_headers": [{"name": "X", "value": "%{HOME}x"}]},
     "site 'shop': response_headers[0].value: '%{HOME}x': a '%' must start one of"),
    ("header value bare percent", {"response_headers": [{"name": "X", "value": "100%"}]},
     "site 'shop': response_headers[0].value: '100%': a '%' must start one of"),
    ("header value expression", {"response_headers": [{"name": "X", "value": "EXPR=file('/etc/shadow')"}]},
     "site 'shop': response_headers[0].value: \"EXPR=file('/etc/shadow')\": a value starting with 'expr=' is"),
    ("header value non-ascii", {"response_headers": [{"name": "X", "value": "a\u2028b"}]},
     "site 'shop': response_headers[0].value: must be printable ASCII"),
    ("header value backslash end", {"response_headers": [{"name": "X", "value": "a\\"}]},
     "site 'shop': response_headers[0].value: must not end with a backslash"),
    ("header value not a string", {"response_headers": [{"name": "X", "value": 5}]},
     "site 'shop': response_headers[0].value: must be a string"),
    ("exclusions not a list", {"proxy_exclusions": "/static/"}, "site 'shop': proxy_exclusions: must be a list"),
    ("exclusion relative", {"proxy_exclusions": ["static/"]}, "site 'shop': proxy_exclusions[0]: 'static/' must be"),
    ("exclusion with a space", {"proxy_exclusions": ["/a b/"]}, "site 'shop': proxy_exclusions[0]: '/a b/' must be"),
    ("exclusion is a location", {"proxy_exclusions": ["/"]},
     "site 'shop': proxy_exclusions[0]: '/' is also a location's path"),
    ("exclusion twice", {"proxy_exclusions": ["/s/", "/s/"]}, "site 'shop': proxy_exclusions[1]: '/s/' is listed twice"),
    ("nocanon string", {"locations": [{"path": "/", "backend": "http://a.internal/", "nocanon": "yes"}]},
     "site 'shop': locations[0].nocanon: must be a boolean"),
    ("cookie domain junk", {"locations": [{"path": "/", "backend": "http://a.internal/",
                                           "reverse_cookie_domain": "a.example b.example"}]},
     "site 'shop': locations[0].reverse_cookie_domain: 'a.example b.example' is not a valid host name"),
    ("exclusion hides a location", {"proxy_exclusions": ["/ap"], "locations": [
        {"path": "/", "backend": "http://a.internal/"}, {"path": "/api/", "backend": "http://b.internal/"}]},
     "site 'shop': proxy_exclusions[0]: '/ap' would hide the location '/api/'"),
    ("cookie domain not a string", {"locations": [{"path": "/", "backend": "http://a.internal/",
                                                   "reverse_cookie_domain": 5}]},
     "site 'shop': locations[0].reverse_cookie_domain: must be a string"),
    ("cookie path string", {"locations": [{"path": "/", "backend": "http://a.internal/",
                                           "reverse_cookie_path": "on"}]},
     "site 'shop': locations[0].reverse_cookie_path: must be a boolean"),
    ("extra not a list", {"extra_directives": "Foo bar"}, "site 'shop': extra_directives: must be a list"),
    ("extra too many", {"extra_directives": ["A b"] * 101}, "site 'shop': extra_directives: must be a list of at most"),
    ("extra not a string", {"extra_directives": [5]}, "site 'shop': extra_directives[0]: must be a string"),
    ("extra empty", {"extra_directives": ["  "]}, "site 'shop': extra_directives[0]: must not be empty"),
    ("extra newline", {"extra_directives": ["A b\nProxyPass / http://evil/"]},
     "site 'shop': extra_directives[0]: must not contain newlines"),
    ("extra variable", {"extra_directives": ["Header set X ${HOME}"]}, "site 'shop': extra_directives[0]: must not contain '${'"),
    ("extra section", {"extra_directives": ['<Location "/">']}, "site 'shop': extra_directives[0]: section tags"),
    ("extra section close", {"extra_directives": ["Foo </VirtualHost>"]}, "site 'shop': extra_directives[0]: section tags"),
    ("extra comment", {"extra_directives": ["# hi"]}, "site 'shop': extra_directives[0]: a comment is not a directive"),
    ("extra continuation", {"extra_directives": ["Header set X a \\"]},
     "site 'shop': extra_directives[0]: must not end with a continuation backslash"),
    ("extra unbalanced", {"extra_directives": ['Header set X "a']}, "site 'shop': extra_directives[0]: unbalanced \" quote"),
    ("extra unbalanced single", {"extra_directives": ["Header set X 'a"]},
     "site 'shop': extra_directives[0]: unbalanced ' quote"),
    ("extra glued quote", {"extra_directives": ['Header set X "a"b']},
     "site 'shop': extra_directives[0]: a quoted argument must be followed by a space"),
    ("extra empty argument", {"extra_directives": ['Header set X ""']},
     "site 'shop': extra_directives[0]: empty quoted arguments are not accepted"),
    ("extra bad name", {"extra_directives": ["1Foo bar"]}, "site 'shop': extra_directives[0]: '1Foo' is not a directive"),
    ("extra Include", {"extra_directives": ["Include /etc/passwd"]},
     "site 'shop': extra_directives[0]: Include is not accepted"),
    ("extra IncludeOptional", {"extra_directives": ["includeoptional /x/*.conf"]},
     "site 'shop': extra_directives[0]: includeoptional is not accepted"),
    ("extra LoadModule", {"extra_directives": ["LoadModule x_module /tmp/x.so"]},
     "site 'shop': extra_directives[0]: LoadModule is not accepted"),
    ("extra RewriteMap", {"extra_directives": ["RewriteMap m prg:/bin/sh"]},
     "site 'shop': extra_directives[0]: RewriteMap is not accepted"),
    ("extra piped log", {"extra_directives": ['CustomLog "|/bin/sh -c id" common']},
     "site 'shop': extra_directives[0]: piped arguments"),
    ("extra ServerAlias", {"extra_directives": ["ServerAlias victim.example"]},
     "site 'shop': extra_directives[0]: ServerAlias is not accepted"),
    ("extra SSLProxy without opt-in", {"extra_directives": ["SSLProxyVerify none"]},
     "site 'shop': extra_directives[0]: SSLProxyVerify is not on the extra_directives allow-list"),
    ("extra SSLEngine without opt-in", {"extra_directives": ["SSLEngine off"]},
     "site 'shop': extra_directives[0]: SSLEngine is not on the extra_directives allow-list"),
    ("extra Proxy without opt-in", {"extra_directives": ["ProxyPass /x http://evil.example/"]},
     "site 'shop': extra_directives[0]: ProxyPass is not on the extra_directives allow-list"),
    ("location extra Proxy without opt-in", {"locations": [{"path": "/", "backend": "http://a.internal/",
                                                            "extra_directives": ["ProxyPassReverse http://x/"]}]},
     "site 'shop': locations[0].extra_directives[0]: ProxyPassReverse is not on the extra_directives allow-list"),
    ("location extra section", {"locations": [{"path": "/", "backend": "http://a.internal/",
                                               "extra_directives": ["<If true>"]}]},
     "site 'shop': locations[0].extra_directives[0]: section tags"),
    ("error pages not a list", {"error_pages": {"503": "/x.html"}}, "site 'shop': error_pages: must be a list"),
    ("error page status 200", {"error_pages": [{"status": 200, "file": "/e/200.html"}]},
     "site 'shop': error_pages[0].status: must be an integer from 400 to 599"),
    ("error page status string", {"error_pages": [{"status": "503", "file": "/e/503.html"}]},
     "site 'shop': error_pages[0].status: must be an integer"),
    ("error page twice", {"error_pages": [{"status": 503, "file": "/var/www/a.html"},
                                          {"status": 503, "file": "/var/www/b.html"}]},
     "site 'shop': error_pages[1].status: 503 is listed twice"),
    ("error page relative", {"error_pages": [{"status": 503, "file": "e/503.html"}]},
     "site 'shop': error_pages[0].file: must be an absolute path"),
    ("error page directory", {"error_pages": [{"status": 503, "file": "/var/www/e/"}]},
     "site 'shop': error_pages[0].file: must be a file"),
    ("error page without file", {"error_pages": [{"status": 503}]}, "site 'shop': error_pages[0].file: is required"),
    ("error page unknown key", {"error_pages": [{"status": 503, "file": "/e", "code": 1}]},
     "site 'shop': error_pages[0]: unknown key(s) code"),
    ("location header junk", {"locations": [{"path": "/", "backend": "http://a.internal/",
                                             "request_headers": [{"name": "X Y", "value": "v"}]}]},
     "site 'shop': locations[0].request_headers[0].name: 'X Y' is not an HTTP header name"),
]


@pytest.mark.parametrize("case,over,message", REFUSED, ids=[r[0] for r in REFUSED])
def test_refused(case, over, message):
    with pytest.raises(ConfigError) as err:
        normalize_site(site(**over))
    assert str(err.value).startswith(message), str(err.value)


def test_redirect_name_served_twice_on_port_80_is_refused():
    plain = {"name": "plain", "server_name": "shop.example.com", "listen": {"port": 80},
             "locations": [{"path": "/", "backend": "http://app.internal/"}]}
    with pytest.raises(ConfigError) as err:
        normalize_sites([plain, site()])
    assert str(err.value).startswith("site 'shop': redirect_http_port: 'shop.example.com' on *:80 is already served "
                                     "by site 'plain'")
    # Round two: without the redirect, the name is still the plain site's on port 80.
    with pytest.raises(ConfigError) as err:
        normalize_sites([plain, site(redirect_http=False)])
    assert "a name belongs to one site" in str(err.value)


@pytest.mark.parametrize("value,ok", [
    ("X-Forwarded-Proto", True), ("x_y.z~1", True), ("X Y", False), ("X:Y", False), ("", False), ("X\tY", False),
    ("X'", False), ("X(", False), ("X" * 257, False),
])
def test_header_name_kind(value, ok):
    if ok:
        assert header_name(value, "f") == value
    else:
        with pytest.raises(ConfigError):
            header_name(value, "f")


@pytest.mark.parametrize("value,ok", [
    ("plain", True), ("%%", True), ("%t %D", True), ("%{REMOTE_ADDR}e", True), ("%{SSL_PROTOCOL}s", True),
    ("%", False), ("%{}e", False), ("%{A B}e", False), ("%{A}i", False), ("%x", False), ("a\x00b", False),
])
def test_header_value_kind(value, ok):
    if ok:
        assert header_value(value, "f", APACHE) == value
    else:
        with pytest.raises(ConfigError):
            header_value(value, "f", APACHE)
