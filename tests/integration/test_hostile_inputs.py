"""Hostile site inputs (issue: hostile review): every field that reaches a file, fed hostile values.

Each case is either refused, with an error naming the site and the field, or accepted and proven harmless: rendered,
every line read back with Apache's tokenizer into a known directive with the expected number of arguments (the
hostile value, if present, inside exactly one argument), and `apache2 -t` on a private instance says Syntax OK.
A case accepted but not harmless counts as dangerous; the test demands zero. The counts are printed (pytest -s) and
written to tests/output/hostile-inputs.json.
"""
import copy
import json
import os
import re

import pytest

from ansible_collections.revproxy.tls.plugins.module_utils.apache import _emit as g
from ansible_collections.revproxy.tls.plugins.module_utils.model._backend_tls import ConfigError
from ansible_collections.revproxy.tls.plugins.module_utils.apache._render import render_listen_conf
from support.apache_model import render_site
from ansible_collections.revproxy.tls.plugins.module_utils.apache._capabilities import WORKER_PARAMS
from support.apache_model import normalize_sites
from support.apache import DEFAULT_MODULES, PrivateApache
from support.pemdata import CA, CERT, KEY, OTHER_KEY

pytestmark = pytest.mark.apache

HERE = os.path.dirname(os.path.abspath(__file__))
OUTPUT = os.path.join(os.path.dirname(HERE), "output", "hostile-inputs.json")

# Strings a hostile inventory author or survey user might try, in any string field.
HOSTILE = [
    "fe80::1%x *", "a.example victim.example", "a.example\nServerAlias victim.example", "a\rb", "a\x00b", "${HOME}",
    'a"b', "a'b", "a<b", "a>b", "a\\b", "a`b", "#comment", "</VirtualHost>", "<Location />", "Include /etc/passwd",
    "", " ", "b\u00fccher.example", "x" * 300, "a%0Ab", "::1%lo]:18083 127.0.0.1:18084 [::1", "../../etc/passwd",
    "a\tb", "a\u2028b", "\ufeffa.example",
]


# Where each hostile string is put: (field label as errors name it, function(site, value)).
def _set(path):
    def setter(site, value):
        node = site
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return setter


def _backend_host(site, value):
    site["locations"][0]["backend"] = "https://%s:8443/" % value


def _backend_path(site, value):
    site["locations"][0]["path"] = "/" + value
    site["locations"][0]["backend"] = "https://backend.example:8443/" + value


FIELDS = [
    ("name", _set(["name"])),
    ("server_name", _set(["server_name"])),
    ("server_aliases[0]", _set(["server_aliases", 0])),
    ("listen.address", _set(["listen", "address"])),
    ("locations[0].path", _set(["locations", 0, "path"])),
    ("locations[0].backend", _backend_host),
    ("locations[0]", _backend_path),
    ("backend_tls.ca_file", _set(["backend_tls", "ca_file"])),
    ("backend_tls.ciphers", _set(["backend_tls", "ciphers"])),
    ("locations[0].upgrade", _set(["locations", 0, "upgrade"])),
    ("tls.certificate_file", _set(["tls", "certificate_file"])),
    # The public side (issue 13).
    ("acme_challenge_dir", _set(["acme_challenge_dir"])),
    ("request_headers[0].name", _set(["request_headers", 0, "name"])),
    ("request_headers[0].value", _set(["request_headers", 0, "value"])),
    ("response_headers[0].name", _set(["response_headers", 0, "name"])),
    ("response_headers[0].value", _set(["response_headers", 0, "value"])),
    ("locations[0].request_headers[0].value", _set(["locations", 0, "request_headers", 0, "value"])),
    ("locations[0].response_headers[0].name", _set(["locations", 0, "response_headers", 0, "name"])),
    ("proxy_exclusions[0]", _set(["proxy_exclusions", 0])),
    ("locations[0].reverse_cookie_domain", _set(["locations", 0, "reverse_cookie_domain"])),
] + [
    # Pools and per-location backend_tls (issue 12).
    ("locations[0].backends[1].url", lambda s, v: _pool(s)["backends"][1].update(url="https://%s:8443/" % v)),
    ("locations[0].backends[1].route", lambda s, v: _pool(s)["backends"][1].update(route=v)),
    ("locations[0].sticky", lambda s, v: _pool(s).update(sticky=v)),
    ("locations[0].lbmethod", lambda s, v: _pool(s).update(lbmethod=v)),
    ("locations[0].health_check.uri", lambda s, v: _pool(s).update(health_check={"uri": v})),
    ("locations[0].health_check.method", lambda s, v: _pool(s).update(health_check={"method": v})),
    ("locations[0].backend_tls.ca_file", lambda s, v: s["locations"][0].update(backend_tls={"ca_file": v})),
    ("locations[0].backend_tls.ciphers", lambda s, v: s["locations"][0].update(backend_tls={"ciphers": v})),
    ("locations[0].backend_tls.client_cert_file",
     lambda s, v: _pool(s).update(backend_tls={"client_cert_file": v})),
] + [
    # ACME certificates (issue 25): the site's tls.acme fields, on a site whose certificate comes from the CA.
    ("tls.acme.contact", lambda s, v: _acme(s).update(contact=v)),
    ("tls.acme.renew_window", lambda s, v: _acme(s).update(renew_window=v)),
    ("tls.acme.key_type", lambda s, v: _acme(s).update(key_type=v)),
    ("tls.acme.challenges[0]", lambda s, v: _acme(s).update(challenges=[v])),
]


def _acme(site):
    """The site with tls.acme instead of certificate files (and no other ACME client's directory); returns tls.acme."""
    site.pop("acme_challenge_dir", None)
    site["tls"] = {"acme": site["tls"].get("acme", {"contact": "ops@h.example"})}
    return site["tls"]["acme"]


def _typed(field, value):
    return lambda site: _set(field)(site, value)


def _pool(site):
    """Location 0 as a pool of two members; returns the location."""
    loc = site["locations"][0]
    if "backends" not in loc:
        loc.pop("backend", None)
        loc["backends"] = [{"url": "https://m1.example:8443/"}, {"url": "https://m2.example:8443/"}]
    return loc


def _pool_with(**over):
    return lambda site: _pool(site).update(over)


def _member_with(**over):
    return lambda site: _pool(site)["backends"][1].update(over)


# Specific cases from the review and the grammar's edges: (id, mutation, field named by a refusal).
SPECIFIC = [
    ("timeout 0", _typed(["locations", 0, "timeout"], 0), "locations[0].timeout"),
    ("timeout 10**30", _typed(["locations", 0, "timeout"], 10 ** 30), "locations[0].timeout"),
    ("timeout float", _typed(["locations", 0, "timeout"], 1.5), "locations[0].timeout"),
    ("timeout nan string", _typed(["locations", 0, "timeout"], "nan"), "locations[0].timeout"),
    ("timeout bool", _typed(["locations", 0, "timeout"], True), "locations[0].timeout"),
    ("ttl 0", _typed(["locations", 0, "ttl"], 0), "locations[0].ttl"),
    ("ping 0", _typed(["locations", 0, "ping"], 0), "locations[0].ping"),
    ("acquire 0", _typed(["locations", 0, "acquire"], 0), "locations[0].acquire"),
    ("flushwait 1001", _typed(["locations", 0, "flushwait"], 1001), "locations[0].flushwait"),
    ("iobuffersize 100", _typed(["locations", 0, "iobuffersize"], 100), "locations[0].iobuffersize"),
    ("connectiontimeout 0", _typed(["locations", 0, "connectiontimeout"], 0), "locations[0].connectiontimeout"),
    ("max huge", _typed(["locations", 0, "max"], 2 ** 40), "locations[0].max"),
    ("retry 0 (accepted)", _typed(["locations", 0, "retry"], 0), None),
    ("keepalive string", _typed(["locations", 0, "keepalive"], "on"), "locations[0].keepalive"),
    ("flushpackets junk", _typed(["locations", 0, "flushpackets"], "always"), "locations[0].flushpackets"),
    ("upgrade too long", _typed(["locations", 0, "upgrade"], "x" * 16), "locations[0].upgrade"),
    ("server_name [::1]", _typed(["server_name"], "[::1]"), "server_name"),
    ("server_name ::1", _typed(["server_name"], "::1"), "server_name"),
    ("server_name int", _typed(["server_name"], 5), "server_name"),
    ("server_name trailing dot (accepted)", _typed(["server_name"], "h.example."), None),
    ("server_name ipv4 (accepted)", _typed(["server_name"], "192.0.2.10"), None),
    ("alias wildcard (accepted)", _typed(["server_aliases"], ["*.h.example"]), None),
    ("alias not a list", _typed(["server_aliases"], "a.example"), "server_aliases"),
    ("listen [::1] (accepted)", _typed(["listen", "address"], "[::1]"), None),
    ("listen ::1 (accepted)", _typed(["listen", "address"], "::1"), None),
    ("listen * (accepted)", _typed(["listen", "address"], "*"), None),
    ("listen name", _typed(["listen", "address"], "localhost"), "listen.address"),
    ("listen [127.0.0.1]", _typed(["listen", "address"], "[127.0.0.1]"), "listen.address"),
    ("listen port 0", _typed(["listen", "port"], 0), "listen.port"),
    ("listen port bool", _typed(["listen", "port"], True), "listen.port"),
    ("listen port string", _typed(["listen", "port"], "443"), "listen.port"),
    ("backend zone id url", lambda s: s["locations"][0].update(backend="https://[fe80::1%25lo]:8443/"),
     "locations[0].backend"),
    ("backend userinfo", lambda s: s["locations"][0].update(backend="https://u:p@backend.example/"),
     "locations[0].backend"),
    ("backend query", lambda s: s["locations"][0].update(backend="https://backend.example/?a=b"),
     "locations[0].backend"),
    ("backend scheme file", lambda s: s["locations"][0].update(backend="file:///etc/passwd"),
     "locations[0].backend"),
    ("backend port 0", lambda s: s["locations"][0].update(backend="https://backend.example:0/"),
     "locations[0].backend"),
    ("backend port huge", lambda s: s["locations"][0].update(backend="https://backend.example:99999/"),
     "locations[0].backend"),
    ("backend no host", lambda s: s["locations"][0].update(backend="https:///x/"), "locations[0].backend"),
    ("backend non-ascii path", lambda s: s["locations"][0].update(backend="https://backend.example/\u00e9/"),
     "locations[0].backend"),
    ("path with quote-safe chars (accepted)", lambda s: s["locations"][0].update(
        path="/a'b$c(d)*e%20f/", backend="https://backend.example:8443/a'b$c(d)*e%20f/"), None),
    ("path relative", _typed(["locations", 0, "path"], "api/"), "locations[0].path"),
    ("path dotdot", _typed(["locations", 0, "path"], "/a/../"), "locations[0].path"),
    ("path list", _typed(["locations", 0, "path"], ["/"]), "locations[0].path"),
    ("probe_status junk", _typed(["locations", 0, "probe_status"], [99]), "locations[0].probe_status"),
    ("ciphers eNULL SECLEVEL=0", _typed(["backend_tls", "ciphers"], "eNULL:@SECLEVEL=0"), "backend_tls.ciphers"),
    ("ciphers NOSUCHCIPHER", _typed(["backend_tls", "ciphers"], "NOSUCHCIPHER"), "backend_tls.ciphers"),
    ("ciphers NULL suite name", _typed(["backend_tls", "ciphers"], "ECDHE-ECDSA-NULL-SHA:HIGH"), "backend_tls"),
    ("ciphers RC4", _typed(["backend_tls", "ciphers"], "RC4:HIGH"), "backend_tls"),
    ("ciphers 3DES", _typed(["backend_tls", "ciphers"], "HIGH:3DES"), "backend_tls"),
    ("ciphers aNULL", _typed(["backend_tls", "ciphers"], "aNULL:HIGH"), "backend_tls"),
    ("ciphers EXPORT", _typed(["backend_tls", "ciphers"], "EXPORT:HIGH"), "backend_tls"),
    ("ciphers MD5", _typed(["backend_tls", "ciphers"], "HIGH:MD5"), "backend_tls"),
    ("ciphers LOW", _typed(["backend_tls", "ciphers"], "LOW:HIGH"), "backend_tls"),
    ("ciphers negated weak (accepted)", _typed(["backend_tls", "ciphers"], "HIGH:!aNULL:!MD5:!RC4"), None),
    ("ciphers ECDHE+AESGCM (accepted)", _typed(["backend_tls", "ciphers"], "ECDHE+AESGCM"), None),
    ("verify none without opt-in", _typed(["backend_tls", "verify"], "none"), "backend_tls"),
    ("verify junk", _typed(["backend_tls", "verify"], "maybe"), "backend_tls.verify"),
    ("protocols TLSv1 without opt-in", _typed(["backend_tls", "protocols"], ["TLSv1"]), "backend_tls"),
    ("protocols junk", _typed(["backend_tls", "protocols"], ["SSLv3"]), "backend_tls.protocols"),
    ("protocols empty", _typed(["backend_tls", "protocols"], []), "backend_tls.protocols"),
    ("verify_depth 1000", _typed(["backend_tls", "verify_depth"], 1000), "backend_tls.verify_depth"),
    ("check_peer_name false", _typed(["backend_tls", "check_peer_name"], False), "backend_tls"),
    ("check_peer_name string", _typed(["backend_tls", "check_peer_name"], "false"), "backend_tls.check_peer_name"),
    ("ca_content private key", lambda s: s["backend_tls"].update(ca_file=None, ca_content=KEY),
     "backend_tls.ca_content"),
    ("ca_content cert+key", lambda s: s["backend_tls"].update(ca_file=None, ca_content=CA + KEY),
     "backend_tls.ca_content"),
    ("ca_content 50 MB", lambda s: s["backend_tls"].update(ca_file=None, ca_content=CA * 80000),
     "backend_tls.ca_content"),
    ("ca_content junk base64", lambda s: s["backend_tls"].update(
        ca_file=None, ca_content="-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n"),
     "backend_tls.ca_content"),
    ("ca_content not a certificate", lambda s: s["backend_tls"].update(
        ca_file=None, ca_content="-----BEGIN CERTIFICATE-----\nMAMCAQA=\n-----END CERTIFICATE-----\n"),
     "backend_tls.ca_content"),
    ("ca_content trailing text", lambda s: s["backend_tls"].update(ca_file=None, ca_content=CA + "SSLProxyVerify none"),
     "backend_tls.ca_content"),
    ("ca_content (accepted)", lambda s: s["backend_tls"].update(ca_file=None, ca_content=CA), None),
    ("client_chain_content private key", lambda s: s["backend_tls"].update(
        client_cert_content=CERT, client_key_content=KEY, client_chain_content=KEY), "backend_tls.client_chain_content"),
    ("client key junk", lambda s: s["backend_tls"].update(
        client_cert_content=CERT, client_key_content="-----BEGIN PRIVATE KEY-----\nMAMCAQA=\n-----END PRIVATE KEY-----\n"),
     "backend_tls.client_key_content"),
    ("client key mismatch", lambda s: s["backend_tls"].update(client_cert_content=CERT, client_key_content=OTHER_KEY),
     "backend_tls.client_key_content"),
    ("client key is a cert", lambda s: s["backend_tls"].update(client_cert_content=CERT, client_key_content=CERT),
     "backend_tls.client_key_content"),
    ("client cert is a key", lambda s: s["backend_tls"].update(client_cert_content=KEY, client_key_content=KEY),
     "backend_tls.client_cert_content"),
    ("client pair (accepted)", lambda s: s["backend_tls"].update(client_cert_content=CERT, client_key_content=KEY),
     None),
    ("unknown site key", lambda s: s.update(Include="/etc/passwd"), "site"),
    ("unknown location key", lambda s: s["locations"][0].update(extra="x"), "locations[0]"),
    ("unknown tls key", lambda s: s["backend_tls"].update(SSLProxyVerify="none"), "backend_tls"),
    ("locations not a list", _typed(["locations"], {"path": "/"}), "locations"),
    ("duplicate location", lambda s: s["locations"].append(dict(s["locations"][0])), "locations[1].path"),
    ("tls without key", _typed(["tls"], {"certificate_file": "/etc/ssl/c.pem"}), "tls.key_file"),
    ("backend ip literal", lambda s: s["locations"][0].update(backend="https://192.0.2.1:8443/"),
     "locations[0].backend"),
    ("preserve_host string", _typed(["preserve_host"], "yes"), "preserve_host"),
    # The public side (issue 13).
    ("redirect_http string", _typed(["redirect_http"], "no"), "redirect_http"),
    ("redirect_http false (accepted)", lambda s: s.update(redirect_http=False, acme_challenge_dir=None), None),
    ("redirect_http_port 0", _typed(["redirect_http_port"], 0), "redirect_http_port"),
    ("redirect_http_port string", _typed(["redirect_http_port"], "80 443"), "redirect_http_port"),
    ("redirect_http_port = https port", _typed(["redirect_http_port"], 18443), "redirect_http_port"),
    ("redirect_status 200", _typed(["redirect_status"], 200), "redirect_status"),
    ("redirect_status string", _typed(["redirect_status"], "301 /"), "redirect_status"),
    ("redirect_status 308 (accepted)", _typed(["redirect_status"], 308), None),
    ("acme_challenge_dir /", _typed(["acme_challenge_dir"], "/"), "acme_challenge_dir"),
    ("forwarded_headers string", _typed(["forwarded_headers"], "on"), "forwarded_headers"),
    ("forwarded_headers false (accepted)", _typed(["forwarded_headers"], False), None),
    ("header action edit", lambda s: s["request_headers"][0].update(action="edit"), "request_headers[0].action"),
    ("header unset with value", lambda s: s["request_headers"][0].update(action="unset"), "request_headers[0].value"),
    ("header unset (accepted)", lambda s: s["response_headers"].append({"action": "unset", "name": "Server"}), None),
    ("header value env format (accepted)", lambda s: s["request_headers"][0].update(value="%{REMOTE_ADDR}e %t"), None),
    ("header value bad format", lambda s: s["request_headers"][0].update(value="%{X}i"), "request_headers[0].value"),
    ("header value env= condition (one argument)", lambda s: s["request_headers"][0].update(value="v env=HOME"), None),
    ("header value expr", lambda s: s["request_headers"][0].update(value="expr=%{HTTP_HOST}"),
     "request_headers[0].value"),
    ("header value expr file()", lambda s: s["response_headers"][0].update(value="expr=file('/etc/passwd')"),
     "response_headers[0].value"),
    ("headers not a list", _typed(["response_headers"], {"name": "X"}), "response_headers"),
    ("hsts string", _typed(["hsts"], "true"), "hsts"),
    ("hsts_max_age negative", _typed(["hsts_max_age"], -1), "hsts_max_age"),
    ("hsts_max_age string", _typed(["hsts_max_age"], "1; preload"), "hsts_max_age"),
    ("hsts_preload without subdomains", _typed(["hsts_preload"], True), "hsts_preload"),
    ("hsts preload (accepted)", lambda s: s.update(hsts_include_subdomains=True, hsts_preload=True), None),
    ("hsts_include_subdomains string", _typed(["hsts_include_subdomains"], "yes"), "hsts_include_subdomains"),
    ("tls_profile junk", _typed(["tls_profile"], "HIGH:!aNULL"), "tls_profile"),
    ("tls_profile old without opt-in", _typed(["tls_profile"], "old"), "tls_profile old"),
    ("tls_profile old with opt-in (accepted)", lambda s: s.update(tls_profile="old", allow_insecure_frontend_tls=True),
     None),
    ("tls_profile modern (accepted)", _typed(["tls_profile"], "modern"), None),
    ("tls_session_tickets without opt-in", _typed(["tls_session_tickets"], True), "tls_session_tickets"),
    ("tls_session_tickets string", _typed(["tls_session_tickets"], "on"), "tls_session_tickets"),
    ("http2 (accepted)", _typed(["http2"], True), None),
    ("ocsp_stapling (accepted)", _typed(["ocsp_stapling"], True), None),
    ("ocsp_stapling string", _typed(["ocsp_stapling"], "on"), "ocsp_stapling"),
    ("http2 string", _typed(["http2"], "h2 h2c"), "http2"),
    ("allow_insecure_frontend_tls string", _typed(["allow_insecure_frontend_tls"], "yes"),
     "allow_insecure_frontend_tls"),
    ("exclusion is a location", _typed(["proxy_exclusions"], ["/"]), "proxy_exclusions[0]"),
    ("exclusions not a list", _typed(["proxy_exclusions"], "/static/ /x/"), "proxy_exclusions"),
    ("nocanon without opt-in", lambda s: s["locations"][0].update(nocanon=True), "locations[0].nocanon"),
    ("nocanon with opt-in (accepted)", lambda s: (s["locations"][0].update(nocanon=True),
                                                  s.update(allow_insecure_frontend_tls=True)), None),
    ("nocanon string", lambda s: s["locations"][0].update(nocanon="nocanon"), "locations[0].nocanon"),
    ("cookie domain leading dot (accepted)", lambda s: s["locations"][0].update(reverse_cookie_domain=".h.example"),
     None),
    # extra_directives (the escape hatch): one directive line each, or refused naming the entry. Unknown directive
    # names are accepted by the model and stopped by the candidate config test, so the rows use real directives.
    ("hatch one directive (accepted)", _typed(["extra_directives"], ["LimitRequestBody 1048576"]), None),
    # Round two: only allow-listed directives, each argument typed (raw lines need the operator's switch).
    ("hatch Header not allow-listed", _typed(["extra_directives"], ['Header set X-Hatch "a victim.example"']),
     "extra_directives[0]"),
    ("hatch escaped quote not allow-listed", _typed(["extra_directives"], ['Header set X-Hatch "a \\"b\\""']),
     "extra_directives[0]"),
    ("hatch ErrorDocument not allow-listed", _typed(["extra_directives"], ["ErrorDocument 503 '/maint page.html'"]),
     "extra_directives[0]"),
    ("hatch quoted number (accepted)", _typed(["extra_directives"], ['Timeout "30"']), None),
    ("hatch keyword (accepted)", _typed(["extra_directives"], ["KeepAlive Off"]), None),
    ("hatch number with junk", _typed(["extra_directives"], ["Timeout 30s"]), "extra_directives[0]"),
    ("hatch two numbers", _typed(["extra_directives"], ["Timeout 30 40"]), "extra_directives[0]"),
    ("hatch vhost-only in location", lambda s: s["locations"][0].update(extra_directives=["Timeout 5"]),
     "locations[0].extra_directives[0]"),
    ("hatch in a location (accepted)", lambda s: s["locations"][0].update(extra_directives=["LimitRequestBody 10"]),
     None),
    ("hatch newline", _typed(["extra_directives"], ["LimitRequestBody 1\nInclude /etc/passwd"]), "extra_directives[0]"),
    ("hatch CR", _typed(["extra_directives"], ["LimitRequestBody 1\rInclude /etc/passwd"]), "extra_directives[0]"),
    ("hatch variable", _typed(["extra_directives"], ["Header set X ${HOME}"]), "extra_directives[0]"),
    ("hatch section close", _typed(["extra_directives"], ['Header set X "</VirtualHost>"']), "extra_directives[0]"),
    ("hatch section open", _typed(["extra_directives"], ["<Location />"]), "extra_directives[0]"),
    ("hatch unbalanced quote", _typed(["extra_directives"], ['Header set X "a']), "extra_directives[0]"),
    ("hatch glued quote", _typed(["extra_directives"], ['Header set X "a"b']), "extra_directives[0]"),
    ("hatch continuation", _typed(["extra_directives"], ["Header set X a \\"]), "extra_directives[0]"),
    ("hatch Include", _typed(["extra_directives"], ["Include /etc/passwd"]), "extra_directives[0]"),
    ("hatch LoadModule", _typed(["extra_directives"], ["LoadModule x_module /tmp/x.so"]), "extra_directives[0]"),
    ("hatch piped log", _typed(["extra_directives"], ['CustomLog "|/bin/sh" common']), "extra_directives[0]"),
    ("hatch RewriteMap prg", _typed(["extra_directives"], ["RewriteMap m prg:/bin/sh"]), "extra_directives[0]"),
    ("hatch ServerAlias", _typed(["extra_directives"], ["ServerAlias victim.example"]), "extra_directives[0]"),
    ("hatch SSLProxyVerify", _typed(["extra_directives"], ["SSLProxyVerify none"]), "extra_directives"),
    ("hatch ProxyPass", _typed(["extra_directives"], ["ProxyPass /x http://evil.example/"]), "extra_directives"),
    ("hatch location SSLEngine", lambda s: s["locations"][0].update(extra_directives=["SSLEngine off"]),
     "locations[0].extra_directives"),
    ("hatch ProxyTimeout with opt-in (accepted)", lambda s: s.update(extra_directives=["ProxyTimeout 5"],
                                                                     allow_insecure_backend_tls=True), None),
    ("error page (accepted)", _typed(["error_pages"], [{"status": 503, "file": "/var/www/errors/503.html"}]), None),
    ("error page status 200", _typed(["error_pages"], [{"status": 200, "file": "/e.html"}]), "error_pages[0].status"),
    ("error page status string", _typed(["error_pages"], [{"status": "503 /x", "file": "/e.html"}]),
     "error_pages[0].status"),
    ("error page file quote", _typed(["error_pages"], [{"status": 503, "file": '/e".html'}]), "error_pages[0].file"),
    ("error page file space", _typed(["error_pages"], [{"status": 503, "file": "/e .html"}]), "error_pages[0].file"),
    ("error page file variable", _typed(["error_pages"], [{"status": 503, "file": "/${HOME}"}]), "error_pages[0].file"),
    ("hatch not a list", _typed(["extra_directives"], "LimitRequestBody 1"), "extra_directives"),
    ("cookie path and domain (accepted)",
     lambda s: s["locations"][0].update(reverse_cookie_path=True, reverse_cookie_domain="h.example"), None),
    ("cookie path string", lambda s: s["locations"][0].update(reverse_cookie_path="/x"),
     "locations[0].reverse_cookie_path"),
    # Pools and per-location backend_tls (issue 12).
    ("pool (accepted)", _pool_with(), None),
    ("pool full (accepted)", _pool_with(lbmethod="bybusyness", sticky="ROUTEID", min_ok=1, timeout=5,
                                        health_check={"uri": "/health", "expect": ["2xx"]},
                                        backend_tls={"verify_depth": 2}), None),
    ("member weight 0", _member_with(weight=0), "locations[0].backends[1].weight"),
    ("member weight 101", _member_with(weight=101), "locations[0].backends[1].weight"),
    ("member weight string", _member_with(weight="3"), "locations[0].backends[1].weight"),
    ("member standby string", _member_with(standby="yes"), "locations[0].backends[1].standby"),
    ("member enabled int", _member_with(enabled=0), "locations[0].backends[1].enabled"),
    ("member unknown key", _member_with(status="+D"), "locations[0].backends[1]"),
    ("member scheme file", _member_with(url="file:///etc/passwd"), "locations[0].backends[1].url"),
    ("member ip literal", _member_with(url="https://192.0.2.1:8443/"), "locations[0].backends[1].url"),
    ("member duplicate", _member_with(url="https://m1.example:8443/"), "locations[0].backends[1].url"),
    ("member disabled and standby (accepted)", _member_with(enabled=False, standby=True), None),
    ("members not a list", _pool_with(backends={"url": "https://m.example/"}), "locations[0].backends"),
    ("members 101", _pool_with(backends=[{"url": "https://m%d.example/" % i} for i in range(101)]),
     "locations[0].backends"),
    ("backend and backends", lambda s: _pool(s).update(backend="https://a.example/"), "locations[0]"),
    ("min_ok 0", _pool_with(min_ok=0), "locations[0].min_ok"),
    ("min_ok 3 of 2", _pool_with(min_ok=3), "locations[0].min_ok"),
    ("min_ok bool", _pool_with(min_ok=True), "locations[0].min_ok"),
    ("min_ok without pool", _typed(["locations", 0, "min_ok"], 1), "locations[0].min_ok"),
    ("sticky off (accepted)", _pool_with(sticky="off"), None),
    ("hc interval 0", _pool_with(health_check={"interval": 0}), "locations[0].health_check.interval"),
    ("hc fails 101", _pool_with(health_check={"fails": 101}), "locations[0].health_check.fails"),
    ("hc passes string", _pool_with(health_check={"passes": "1"}), "locations[0].health_check.passes"),
    ("hc expect 5xx", _pool_with(health_check={"expect": ["5xx"]}), "locations[0].health_check.expect[0]"),
    ("hc expect string", _pool_with(health_check={"expect": "2xx"}), "locations[0].health_check.expect"),
    ("hc unknown key", _pool_with(health_check={"expr": "true"}), "locations[0].health_check"),
    ("balancer_manager (accepted)", lambda s: (_pool(s), s.update(balancer_manager=True)), None),
    ("balancer_manager string", lambda s: (_pool(s), s.update(balancer_manager="yes")), "balancer_manager"),
    ("balancer_manager without pool", _typed(["balancer_manager"], True), "balancer_manager"),
    ("location tls content", lambda s: s["locations"][0].update(backend_tls={"ca_content": CA}),
     "locations[0].backend_tls.ca_content"),
    ("location tls verify none", lambda s: s["locations"][0].update(backend_tls={"verify": "none"}),
     "locations[0].backend_tls"),
    ("location tls unknown key", lambda s: s["locations"][0].update(backend_tls={"SSLProxyVerify": "none"}),
     "locations[0].backend_tls"),
    ("location tls separate key", lambda s: s["locations"][0].update(backend_tls={
        "client_cert_file": "/etc/ssl/c.pem", "client_key_file": "/etc/ssl/k.pem"}),
     "locations[0].backend_tls.client_key_file"),
    # ACME (issue 25): an accepted request renders an <MDomain> Apache reads; what it may not combine with.
    ("tls.acme accepted", lambda s: _acme(s).update(key_type="secp384r1", renew_window="10%", must_staple=True),
     None),
    ("tls.acme with a certificate file", lambda s: (_acme(s), s["tls"].update(certificate_file="/srv/c.pem")),
     "tls.acme"),
    ("tls.acme wildcard alias", lambda s: (_acme(s), s.update(server_aliases=["*.h.example"])), "server_aliases[0]"),
    ("tls.acme and acme_challenge_dir", lambda s: (_acme(s), s.update(acme_challenge_dir="/var/www/x")),
     "acme_challenge_dir"),
    ("tls.acme unknown key (a per-site CA)", lambda s: _acme(s).update(directory_url="https://evil.example/"),
     "tls.acme"),
]


@pytest.fixture(scope="module")
def apache(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("hostile-apache")
    files = workdir / "files"
    files.mkdir()
    (files / "ca.pem").write_text(CA)
    (files / "front.pem").write_text(CERT)
    (files / "front.key").write_text(KEY)
    extra = tuple(m for m in ("ssl", "socache_shmcb", "proxy_wstunnel", "alias", "http2", "proxy_balancer", "slotmem_shm",
                              "lbmethod_byrequests", "lbmethod_bytraffic", "lbmethod_bybusyness", "proxy_hcheck",
                              "authz_host", "md")
                  if m not in DEFAULT_MODULES)
    modules = tuple(DEFAULT_MODULES) + extra
    return PrivateApache(str(workdir), modules=modules), str(files)


def _base(files):
    return {
        "name": "h",
        "server_name": "h.example",
        "server_aliases": ["alias.h.example"],
        "listen": {"port": 18443, "address": "127.0.0.1"},
        "tls": {"certificate_file": files + "/front.pem", "key_file": files + "/front.key"},
        "locations": [{"path": "/", "backend": "https://backend.example:8443/",
                       "request_headers": [{"name": "X-Location", "value": "v"}],
                       "response_headers": [{"name": "X-Location", "value": "v"}]}],
        "backend_tls": {"ca_file": files + "/ca.pem"},
        "acme_challenge_dir": "/var/www/revproxy-hostile-acme",  # under a served root (the model checks the text)
        "proxy_exclusions": ["/static/"],
        "request_headers": [{"name": "X-Site", "value": "v"}],
        "response_headers": [{"name": "X-Site", "value": "v"}],
    }


ARITY = {
    "<VirtualHost": (1, 1), "ServerName": (1, 1), "ServerAlias": (1, 1), "LogLevel": (1, 4), "SSLEngine": (1, 1),
    "SSLCertificateFile": (1, 1), "SSLCertificateKeyFile": (1, 1), "SSLCertificateChainFile": (1, 1),
    "SSLProxyEngine": (1, 1), "SSLProxyVerify": (1, 1), "SSLProxyVerifyDepth": (1, 1),
    "SSLProxyCACertificateFile": (1, 1), "SSLProxyCACertificatePath": (1, 1), "SSLProxyCARevocationFile": (1, 1),
    "SSLProxyCARevocationPath": (1, 1), "SSLProxyCARevocationCheck": (1, 1), "SSLProxyCheckPeerName": (1, 1),
    "SSLProxyCheckPeerExpire": (1, 1), "SSLProxyProtocol": (2, 5), "SSLProxyCipherSuite": (1, 1),
    "SSLProxyMachineCertificateFile": (1, 1), "SSLProxyMachineCertificateChainFile": (1, 1),
    "ProxyRequests": (1, 1), "ProxyPreserveHost": (1, 1), "ProxyPass": (2, 2 + len(WORKER_PARAMS)),
    "ProxyPassReverse": (2, 2), "Listen": (1, 1),
}
# Pools (issue 12): a <Proxy> section per pool or per location with its own TLS settings.
for _name, _arity in (("<Proxy", (1, 1)), ("</Proxy", (0, 0)), ("BalancerMember", (1, 10 + len(WORKER_PARAMS))),
                      ("ProxySet", (1, 2)), ("ProxyHCExpr", (2, 2)), ("Header", (3, 4)), ("<Location", (1, 1)),
                      ("</Location", (0, 0)), ("SetHandler", (1, 1)), ("Require", (2, 2))):
    ARITY.setdefault(_name, _arity)
# The public side (issue 13): TLS policy, HSTS and custom headers, <Location> headers, the redirect vhost.
ARITY.update({
    "SSLProtocol": (2, 5), "SSLCipherSuite": (1, 1), "SSLHonorCipherOrder": (1, 1), "SSLSessionTickets": (1, 1),
    "Protocols": (2, 2), "Header": (2, 4), "RequestHeader": (2, 3), "ProxyAddHeaders": (1, 1), "<Location": (1, 1),
    "Redirect": (3, 3), "RedirectMatch": (3, 3), "Alias": (2, 2), "<Directory": (1, 1), "Require": (2, 2),
    "ProxyPassReverseCookieDomain": (2, 2), "ProxyPassReverseCookiePath": (2, 2),
    "LimitRequestBody": (1, 1), "ErrorDocument": (2, 2), "ProxyTimeout": (1, 1), "ProxyErrorOverride": (1, 101),
    "SSLUseStapling": (1, 1), "SSLStaplingResponderTimeout": (1, 1), "SSLStaplingReturnResponderErrors": (1, 1),
    "SSLStaplingCache": (1, 1),
    # Round two: symlinks off in served directories; the allow-listed extra directives.
    "Options": (1, 1), "Timeout": (1, 1), "KeepAlive": (1, 1),
    # The balancer-manager: loopback and not proxied (<RequireAll>, Require ip with two networks, Require expr).
    "<RequireAll": (0, 0), "</RequireAll": (0, 0),
})
ARITY["Require"] = (2, 3)
ARITY.update({"<If": (1, 1), "</If": (0, 0)})  # each vhost answers its own names only
# ACME (issue 25): the site's <MDomain> section (its names), and Protocols with acme-tls/1.
ARITY.update({"<MDomain": (1, 1001), "MDPrivateKeys": (1, 2), "MDRenewWindow": (1, 1), "MDMustStaple": (1, 1),
              "MDCAChallenges": (1, 2), "MDContactEmail": (1, 1), "Protocols": (2, 3)})
CLOSERS = ("</VirtualHost>", "</Location>", "</Directory>", "</RequireAll>", "</If>", "</MDomain>")


def harmless(text, eff):
    """Why the rendered text is not harmless, or None."""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or stripped in CLOSERS:
            continue
        try:
            words = g.tokenize_section(stripped) if stripped.startswith("<") else g.tokenize(stripped)
        except ConfigError as exc:
            return str(exc)
        low, high = ARITY.get(words[0], (None, None))
        if low is None:
            return "unexpected directive %r" % words[0]
        if not low <= len(words) - 1 <= high:
            return "%s has %d arguments" % (words[0], len(words) - 1)
        if words[0] == "ProxyPass" and not all((re.match(r"^[a-z]+=[A-Za-z0-9_.-]+$", w) or w == "nocanon") for w in words[3:]):
            return "ProxyPass parameters %r" % words[3:]
        if words[0] in ("BalancerMember", "ProxySet") and not all(
                re.match(r"^[a-z]+=[A-Za-z0-9_.+/~-]+$", w) for w in words[1 + (words[0] == "BalancerMember"):]):
            return "%s parameters %r" % (words[0], words)
    names = [w for line in text.splitlines() for w in [g.tokenize(line.strip()) if line.strip().startswith(
        ("ServerName", "ServerAlias")) else None] if w]
    # The HTTP->HTTPS redirect vhost serves the same names again.
    copies = 2 if (eff.get("frontend") or {}).get("redirect") else 1
    if [n[1] for n in names] != ([eff["server_name"]] + eff["server_aliases"]) * copies:
        return "server names read back as %r" % names
    return None


def _cases():
    cases = []
    for field, setter in FIELDS:
        for i, value in enumerate(HOSTILE):
            cases.append(("%s <- hostile[%d]" % (field, i), setter, value, field))
    for case_id, mutate, field in SPECIFIC:
        cases.append((case_id, lambda site, _v, m=mutate: m(site), None, field))
    return cases


CASES = _cases()


def test_hostile_site_inputs(apache):
    instance, files = apache
    counts = {"tried": 0, "refused": 0, "accepted_harmless": 0, "dangerous": 0}
    details = []
    for case_id, mutate, value, field in CASES:
        site = copy.deepcopy(_base(files))
        mutate(site, value)
        counts["tried"] += 1
        try:
            eff = normalize_sites([site])[0]
        except ConfigError as exc:
            msg = str(exc)
            named_site = msg.startswith("site 'h': ") or msg.startswith("site #0: ")
            if not named_site or (field and field not in msg):
                counts["dangerous"] += 1
                details.append({"case": case_id, "problem": "refusal does not name site and field", "msg": msg})
            else:
                counts["refused"] += 1
            if KEY.splitlines()[1] in msg or OTHER_KEY.splitlines()[1] in msg:
                counts["dangerous"] += 1
                details.append({"case": case_id, "problem": "key material in the error"})
            continue
        except Exception as exc:  # pylint: disable=broad-except
            counts["dangerous"] += 1
            details.append({"case": case_id, "problem": "uncaught %s: %s" % (type(exc).__name__, exc)})
            continue
        if value is not None:
            # A hostile string accepted: it must still be harmless (checked like the rest below).
            details.append({"case": case_id, "note": "accepted %r" % value})
        eff["contents"] = {}
        if eff["backend_tls"].get("ca_file", "").startswith("/etc/apache2/revproxy-tls"):
            eff["backend_tls"]["ca_file"] = files + "/ca.pem"
        if eff["combined_client_cert"] is None and eff["backend_tls"].get("client_cert_file"):
            eff["backend_tls"]["client_cert_file"] = files + "/pair.pem"
            with open(files + "/pair.pem", "w") as handle:
                handle.write(CERT + KEY)
        text = render_site(eff)
        listen = render_listen_conf([eff], set())
        problem = harmless(listen + text, eff)
        if problem is None:
            instance.set_vhosts(listen + text)
            ok, output = instance.configtest()
            if not ok:
                problem = "apache2 -t: %s" % output[-300:]
        if problem:
            counts["dangerous"] += 1
            details.append({"case": case_id, "problem": problem, "rendered": text})
        else:
            counts["accepted_harmless"] += 1
    os.makedirs(os.path.dirname(OUTPUT), exist_ok=True)
    with open(OUTPUT, "w") as handle:
        json.dump({"counts": counts, "details": details}, handle, indent=1)
    print("hostile site inputs: %(tried)d tried, %(refused)d refused, %(accepted_harmless)d accepted and harmless, "
          "%(dangerous)d dangerous" % counts)
    assert counts["tried"] == len(CASES) >= 900  # 944 cases when written, 1059 with tls.acme
    assert counts["dangerous"] == 0, json.dumps(details, indent=1)[:6000]
