"""Hardening round two (issue 21), the model's half: what an accepted value can make Apache do. Table-driven: each
row is a site change and the refusal (site and field named) or the accepted effective value. The live proofs on a
real Apache are tests/integration/test_semantic_hostile.py."""
import pytest

from ansible_collections.revproxy.tls.plugins.module_utils.apache import _directives
from ansible_collections.revproxy.tls.plugins.module_utils.model import _policy
from ansible_collections.revproxy.tls.plugins.module_utils.model._backend_tls import (
    ConfigError,
    cipher_security_level,
    insecure_settings,
    merge_backend_tls,
    system_security_level,
)
from ansible_collections.revproxy.tls.plugins.module_utils.model._frontend import forwarded_unset_names, spellings
from ansible_collections.revproxy.tls.plugins.module_utils.apache._capabilities import APACHE
from support.apache_model import normalize_sites

TLS = {"certificate_file": "/etc/ssl/front.pem", "key_file": "/etc/ssl/front.key"}
CA = {"ca_file": "/etc/ssl/ca.pem"}


def site(name="shop", **over):
    base = {"name": name, "server_name": "%s.example.com" % name, "tls": dict(TLS),
            "locations": [{"path": "/", "backend": "http://app.internal:8080/"}]}
    base.update(over)
    return base


def refused(sites, message, policy=None):
    with pytest.raises(ConfigError) as err:
        normalize_sites(sites, policy=policy)
    assert message in str(err.value), str(err.value)
    return str(err.value)


# -- 1-4: extra_directives: the allow-list, typed arguments, the raw switch ------------------------------------------

EXTRA_REFUSED = [
    ("CustomLog writes a file as root", 'CustomLog /etc/cron.d/x "* * * * * root id"', "CustomLog is not on the"),
    ("ErrorLog", "ErrorLog /etc/cron.d/x", "ErrorLog is not on the"),
    ("TransferLog", "TransferLog /root/x", "TransferLog is not on the"),
    ("GlobalLog", "GlobalLog /root/x common", "GlobalLog is not on the"),
    ("Header expr=file() oracle", "Header always set X-Bit yes \"expr=file('/etc/shadow') =~ /^a/\"",
     "Header is not on the"),
    ("RequestHeader", "RequestHeader set X-A b", "RequestHeader is not on the"),
    ("SSLProtocol downgrade", "SSLProtocol -all +TLSv1 +TLSv1.1 +TLSv1.2", "SSLProtocol is not on the"),
    ("SSLCipherSuite seclevel 0", "SSLCipherSuite DEFAULT:@SECLEVEL=0", "SSLCipherSuite is not on the"),
    ("insecure renegotiation", "SSLInsecureRenegotiation on", "SSLInsecureRenegotiation is not on the"),
    ("LogLevel trace8 dumps TLS data", "LogLevel ssl:trace8", "LogLevel is not on the"),
    ("Require opens access", "Require all granted", "Require is not on the"),
    ("SetHandler server-status", "SetHandler server-status", "SetHandler is not on the"),
    ("Alias serves a path", "Alias /x /etc", "Alias is not on the"),
    ("ErrorDocument", "ErrorDocument 404 /etc/passwd", "ErrorDocument is not on the"),
    ("RewriteRule", "RewriteRule ^ /etc/passwd", "RewriteRule is not on the"),
    ("SetEnvIf", "SetEnvIf Host x proxy-nokeepalive", "SetEnvIf is not on the"),
    ("TraceEnable on", "TraceEnable On", "TraceEnable argument 1: must be one of Off"),
    ("AllowEncodedSlashes On", "AllowEncodedSlashes On", "AllowEncodedSlashes argument 1: must be one of Off,"),
    ("AllowEncodedSlashes NoDecode forwards %2F", "AllowEncodedSlashes NoDecode", "must be one of Off,"),
    ("SetEnv of another variable", "SetEnv LD_PRELOAD /tmp/x.so", "is not one of the proxy environment variables"),
    ("SetEnv value", "SetEnv proxy-nokeepalive yes", "these variables are switches: write 1"),
    ("filter other than DEFLATE", "AddOutputFilterByType INCLUDES text/html", "must be one of DEFLATE"),
    ("filter MIME junk", "AddOutputFilterByType DEFLATE text", "is not a MIME type"),
    ("number out of range", "Timeout 0", "Timeout argument 1: must be an integer from 1"),
    ("number with a unit", "LimitRequestBody 10M", "is not a whole number"),
    ("too many arguments", "KeepAlive On Off", "KeepAlive takes <On|Off>"),
    ("too few arguments", "ProxyTimeout", "ProxyTimeout takes"),
    ("vhost-only directive in a location", None, "Timeout is valid in a site's extra_directives only"),
]


@pytest.mark.parametrize("case,line,message", EXTRA_REFUSED, ids=[e[0] for e in EXTRA_REFUSED])
def test_extra_directive_refused(case, line, message):
    if line is None:
        s = site(locations=[{"path": "/", "backend": "http://a.internal/", "extra_directives": ["Timeout 5"]}])
        text = refused([s], message)
        assert text.startswith("site 'shop': locations[0].extra_directives[0]: ")
        return
    text = refused([site(extra_directives=[line])], message)
    assert text.startswith("site 'shop': extra_directives[0]: ")


def test_every_allow_listed_directive_takes_its_documented_arguments():
    samples = {"Timeout": "30", "KeepAlive": "On", "KeepAliveTimeout": "5", "MaxKeepAliveRequests": "100",
               "LimitRequestBody": "1048576", "LimitRequestFields": "50", "LimitRequestFieldSize": "8190",
               "LimitRequestLine": "8190", "LimitXMLRequestBody": "1000", "ProxyTimeout": "60",
               "ProxyIOBufferSize": "65536", "ProxyReceiveBufferSize": "4096", "ProxyBadHeader": "Ignore",
               "ProxyVia": "Off", "ProxyMaxForwards": "10", "TraceEnable": "Off", "ServerSignature": "Off",
               "AllowEncodedSlashes": "Off", "AddDefaultCharset": "utf-8", "SetEnv": "proxy-sendchunked 1",
               "AddOutputFilterByType": "DEFLATE text/html text/css"}
    assert set(samples) == set(_directives.ALLOWED)
    for name, args in samples.items():
        eff = normalize_sites([site(extra_directives=["%s %s" % (name, args)])])[0]
        entry = eff["frontend"]["extra_directives"][0]
        assert entry["name"] == name and entry["raw"] is None and entry["args"] == args.split()
        assert not [w for w in eff["warnings"] if "RAW" in w]


def test_raw_switch_is_the_operators_and_warns():
    line = 'CustomLog "/var/log/apache2/shop-extra.log" combined'
    refused([site(extra_directives=[line])], "apache_proxy_allow_raw_directives: true")
    eff = normalize_sites([site(extra_directives=[line])], policy={"allow_raw_directives": True})[0]
    assert eff["frontend"]["extra_directives"][0]["raw"] == line
    assert any(w.startswith("RAW directive(s) in extra_directives") for w in eff["warnings"])
    # Raw lines keep the syntax rules and the backend-TLS gate.
    refused([site(extra_directives=["Include /etc/passwd"])], "Include is not accepted",
            policy={"allow_raw_directives": True})
    refused([site(extra_directives=['CustomLog "|/bin/sh" common'])], "piped arguments",
            policy={"allow_raw_directives": True})
    refused([site(extra_directives=["SSLProxyVerify none"])], "SSLProxy*, SSLEngine and Proxy* directives",
            policy={"allow_raw_directives": True})
    # A site cannot switch it on for itself: it is not a site field.
    refused([site(allow_raw_directives=True)], "unknown key(s) allow_raw_directives")


# -- 5-6: served paths ------------------------------------------------------------------------------------------------

SERVED = [
    ("acme /etc", {"acme_challenge_dir": "/etc"}, "acme_challenge_dir: '/etc' is not under a served root"),
    ("acme /.", {"acme_challenge_dir": "/."}, "acme_challenge_dir: '/.' is not a normalised path"),
    ("acme /proc", {"acme_challenge_dir": "/proc"}, "is not under a served root"),
    ("acme /", {"acme_challenge_dir": "/"}, "is not under a served root"),
    ("acme dot component", {"acme_challenge_dir": "/var/www/./x"}, "is not a normalised path"),
    ("acme double slash", {"acme_challenge_dir": "/var//www/acme"}, "is not a normalised path"),
    ("acme dotdot", {"acme_challenge_dir": "/var/www/../../etc"}, "must not contain '..'"),
    ("acme prefix trick", {"acme_challenge_dir": "/var/www-evil"}, "is not under a served root"),
    ("acme /srv/../etc", {"acme_challenge_dir": "/srv/../etc"}, "must not contain '..'"),
    ("error page /etc/passwd", {"error_pages": [{"status": 502, "file": "/etc/passwd"}]},
     "error_pages[0].file: '/etc/passwd' is not under a served root"),
    ("error page /root", {"error_pages": [{"status": 502, "file": "/root/.ssh/id_rsa"}]}, "is not under a served root"),
    ("error page /proc", {"error_pages": [{"status": 502, "file": "/proc/self/environ"}]}, "is not under a served root"),
    ("error page dot", {"error_pages": [{"status": 502, "file": "/var/www/./p.html"}]}, "is not a normalised path"),
]


@pytest.mark.parametrize("case,over,message", SERVED, ids=[s[0] for s in SERVED])
def test_served_paths_refused(case, over, message):
    assert refused([site(**over)], message).startswith("site 'shop': ")


def test_served_paths_under_a_root_are_accepted():
    eff = normalize_sites([site(acme_challenge_dir="/var/www/acme/", error_pages=[
        {"status": 502, "file": "/srv/pages/502.html"}])])[0]
    assert eff["frontend"]["redirect"]["acme_challenge_dir"] == "/var/www/acme"
    assert eff["frontend"]["error_pages"] == [(502, "/srv/pages/502.html")]


@pytest.mark.parametrize("roots,message", [
    (["/"], "is a system directory"), (["/etc"], "is a system directory"), (["/etc/apache2"], "system directory"),
    (["/var"], "system directory"), (["/var/lib"], "system directory"), (["/tmp/x"], "system directory"),
    (["/var/log/apache2"], "system directory"), (["/home/u"], "system directory"), (["srv"], "absolute path"),
    (["/srv/../etc"], "'..'"), (["/srv/./x"], "normalised"),
])
def test_policy_roots_refuse_system_directories(roots, message):
    with pytest.raises(ConfigError) as err:
        _policy.check_policy({"served_roots": roots})
    assert message in str(err.value)


def test_policy_defaults():
    assert _policy.check_policy(None) == {"allow_raw_directives": False,
                                          "served_roots": ["/var/www", "/srv", "/var/lib/revproxy-tls"]}


# -- 7-8: names and addresses -----------------------------------------------------------------------------------------

def test_specific_address_beside_wildcard_on_one_port_is_refused():
    victim = site("victim", listen={"port": 443})
    other = site("other", listen={"port": 443, "address": "127.0.0.1"}, redirect_http=False)
    text = refused([victim, other], "listens on 127.0.0.1:443 while site 'victim' listens on *:443")
    assert "site 'other'" in text
    # The redirect vhosts count too: a plain site on 127.0.0.1:80 beside a TLS site's redirect on *:80.
    plain = site("plain", tls=None, listen={"port": 80, "address": "127.0.0.1"})
    refused([victim, plain], "listens on 127.0.0.1:80 while site 'victim' (its HTTP redirect) listens on *:80")
    # Different ports, or the same address for both: fine.
    normalize_sites([victim, site("other", listen={"port": 8443, "address": "127.0.0.1"}, redirect_http=False)])
    normalize_sites([site("a", listen={"port": 443, "address": "127.0.0.1"}),
                     site("b", listen={"port": 443, "address": "127.0.0.1"})])


@pytest.mark.parametrize("address", ["0.0.0.0", "::", "[::]"])
def test_unspecified_addresses_are_refused(address):
    refused([site(listen={"port": 443, "address": address})], "write '*' or leave it unset")


@pytest.mark.parametrize("alias,message", [
    ("*.com", "a wildcard needs at least two labels after '*.'"),
    ("*.example", "a wildcard needs at least two labels"),
    ("*.example.com", "server_aliases: '*.example.com' also matches 'victim.example.com'"),
    ("*.com.", "a wildcard needs at least two labels"),
])
def test_wildcard_alias_capturing_another_site_is_refused(alias, message):
    refused([site("victim", server_name="victim.example.com"), site("other", server_aliases=[alias])], message)


def test_wildcard_alias_of_its_own_names_is_fine():
    normalize_sites([site("shop", server_name="shop.example.com", server_aliases=["*.shop.example.com"]),
                     site("blog", server_name="blog.example.org")])


# -- 9: one TLS setting per <Proxy> prefix ----------------------------------------------------------------------------

def _tls_site(locations, **over):
    return site(**dict({"backend_tls": dict(CA), "locations": locations}, **over))


def test_proxy_section_prefix_with_other_settings_is_refused():
    text = refused([_tls_site([
        {"path": "/", "backend": "https://b.internal:8443/", "backend_tls": {"verify": "none"}},
        {"path": "/admin/", "backend": "https://b.internal:8443/admin/"}], allow_insecure_backend_tls=True)],
        "Apache applies its <Proxy \"https://b.internal:8443/\"> section by URL prefix")
    assert "/admin/" in text
    # A per-location CA leaks the same way, without any opt-in.
    refused([_tls_site([{"path": "/", "backend": "https://b.internal:8443/"},
                        {"path": "/x/", "backend": "https://b.internal:8443/x/",
                         "backend_tls": {"ca_file": "/etc/ssl/other.pem"}}])], "section by URL prefix")
    # Disjoint URLs, or the same settings: fine.
    normalize_sites([_tls_site([{"path": "/a/", "backend": "https://b.internal:8443/a/",
                                 "backend_tls": {"ca_file": "/etc/ssl/other.pem"}},
                                {"path": "/b/", "backend": "https://b.internal:8443/b/"}])])


def test_pool_names_that_prefix_each_other_with_other_settings_are_refused():
    refused([_tls_site([
        {"path": "/api/", "backends": [{"url": "https://m1.internal:8443/"}],
         "backend_tls": {"ca_file": "/etc/ssl/other.pem"}},
        {"path": "/api/v1/", "backends": [{"url": "https://m2.internal:8443/"}]}])],
        "balancer://api")


# -- 10: forwarded headers --------------------------------------------------------------------------------------------

def test_every_spelling_of_the_forwarding_headers_is_dropped():
    assert spellings("X-Real-IP") == ["X-Real-IP", "X-Real_IP", "X_Real-IP", "X_Real_IP"]
    names = forwarded_unset_names()
    for must in ("Forwarded", "X-Real-IP", "X_Forwarded_For", "X-Forwarded_For", "X-Forwarded-Ssl",
                 "X-Forwarded-Prefix", "Client-IP", "Client_IP", "X_Forwarded_Proto"):
        assert must in names
    assert len(names) == len(set(names))


@pytest.mark.parametrize("kind,name,message", [
    ("request_headers", "X-Forwarded-For", "X-Forwarded-For is set by the proxy"),
    ("request_headers", "x_real_ip", "is set by the proxy"),
    ("request_headers", "Forwarded", "is set by the proxy"),
    ("response_headers", "Strict-Transport-Security", "Strict-Transport-Security is set by the hsts fields"),
    ("response_headers", "strict_transport_security", "is set by the hsts fields"),
])
def test_typed_headers_cannot_undo_a_typed_field(kind, name, message):
    refused([site(**{kind: [{"name": name, "value": "max-age=0"}]})], message)
    refused([site(locations=[{"path": "/", "backend": "http://a.internal/",
                              kind: [{"name": name, "value": "1"}]}])], message)


def test_forwarded_names_are_the_users_without_forwarded_headers():
    normalize_sites([site(forwarded_headers=False, request_headers=[{"name": "X-Real-IP", "value": "1"}])])


# -- 12: the TLS gate by security level -------------------------------------------------------------------------------

def test_security_level_below_the_systems_is_insecure():
    assert system_security_level() >= 1
    assert cipher_security_level("HIGH:@SECLEVEL=1") == 1 and cipher_security_level("HIGH") is None
    below = "HIGH:@SECLEVEL=%d" % (system_security_level() - 1)
    assert any("@SECLEVEL" in item for item in insecure_settings(merge_backend_tls(dict(CA, ciphers=below)), APACHE))
    assert not insecure_settings(merge_backend_tls(dict(CA, ciphers="HIGH:@SECLEVEL=%d" % system_security_level())),
                                 APACHE)
    refused([_tls_site([{"path": "/", "backend": "https://b.internal/"}], backend_tls=dict(CA, ciphers=below))],
            "insecure setting(s) refused: ciphers: @SECLEVEL")


@pytest.mark.parametrize("over,message", [
    ({"hsts": False}, "hsts false"),
    ({"hsts_max_age": 0}, "hsts_max_age 0"),
    ({"hsts_max_age": 86400}, "hsts_max_age 86400"),
    ({"locations": [{"path": "/", "backend": "http://a.internal/", "nocanon": True}]}, "locations[0].nocanon true"),
])
def test_public_side_weakening_needs_the_opt_in(over, message):
    refused([site(**over)], "insecure public-side setting(s) refused: " + message)
    eff = normalize_sites([site(allow_insecure_frontend_tls=True, **over)])[0]
    assert any(message in item for item in eff["frontend"]["insecure"])


# -- files of other sites: the role's TLS directory ------------------------------------------------------------------

@pytest.mark.parametrize("over,field", [
    ({"backend_tls": {"ca_file": "/etc/ssl/ca.pem",
                      "client_cert_file": "/etc/apache2/revproxy-tls/victim/proxy-client.pem"}},
     "backend_tls.client_cert_file"),
    ({"backend_tls": {"ca_file": "/etc/apache2/revproxy-tls/victim/backend-ca.pem"}}, "backend_tls.ca_file"),
    ({"backend_tls": {"ca_path": "/etc/apache2/revproxy-tls"}}, "backend_tls.ca_path"),
    ({"tls": {"certificate_file": "/etc/apache2/revproxy-tls/victim/proxy-client.pem", "key_file": "/k.pem"}},
     "tls.certificate_file"),
])
def test_another_sites_deployed_files_are_refused(over, field):
    s = site(locations=[{"path": "/", "backend": "https://b.internal/"}], **dict({"backend_tls": dict(CA)}, **over))
    text = refused([s], "is in the collection's TLS directory")
    assert field in text


def test_own_deployed_files_are_fine():
    s = site(locations=[{"path": "/", "backend": "https://b.internal/"}],
             backend_tls={"ca_file": "/etc/apache2/revproxy-tls/shop/backend-ca.pem"})
    normalize_sites([s])


@pytest.mark.parametrize("address", ["::0", "0::0", "0:0:0:0:0:0:0:0", "[::0]", "::ffff:0.0.0.0"])
def test_every_spelling_of_the_unspecified_address_is_refused(address):
    refused([site(listen={"port": 443, "address": address})], "write '*' or leave it unset")


def test_ipv4_mapped_listen_address_is_refused():
    refused([site(listen={"port": 443, "address": "::ffff:127.0.0.1"})], "IPv4-mapped")


@pytest.mark.parametrize("name", ["Host", "host", "Content-Length", "Transfer-Encoding", "Connection", "Upgrade",
                                  "TE", "Expect", "Max-Forwards"])
def test_request_headers_that_choose_the_vhost_or_frame_the_request_are_refused(name):
    refused([site(forwarded_headers=False, request_headers=[{"name": name, "value": "victim.test"}])],
            "is set by the proxy (it chooses the vhost")


def test_a_client_identity_belongs_to_one_site():
    tls = {"ca_file": "/etc/ssl/ca.pem", "client_cert_file": "/etc/ssl/victim-client.pem"}
    victim = site("victim", backend_tls=dict(tls), locations=[{"path": "/", "backend": "https://v.internal/"}])
    other = site("other", backend_tls=dict(tls), locations=[{"path": "/", "backend": "https://v.internal/"}])
    text = refused([victim, other], "is also the client identity of site 'victim'")
    assert text.startswith("site 'other': backend_tls.client_cert_file")
    other = site("other", backend_tls={"ca_file": "/etc/ssl/ca.pem"}, locations=[
        {"path": "/", "backend": "https://v.internal/", "backend_tls": {"client_cert_file": "/etc/ssl/victim-client.pem"}}])
    refused([victim, other], "locations[0].backend_tls.client_cert_file")


def test_backend_url_without_a_path_is_refused():
    text = refused([site(locations=[{"path": "/", "backend": "http://app.internal:4000"}])], "has no path")
    assert "port 40000" in text


def test_acme_directory_is_not_a_served_root_itself():
    refused([site(acme_challenge_dir="/srv")], "is a served root itself")
