"""The public side of a site (issue 13) against a private Apache and a real backend that echoes what it receives.

One TLS site is rendered by the collection's own code (normalize_sites -> render_site/render_listen_conf) with every
public-side feature on: the HTTP->HTTPS redirect with the ACME passthrough, forwarded headers, custom request and
response headers at site and location level, HSTS and the Mozilla intermediate TLS policy. A client then sees the
redirect, HSTS and the custom headers; the backend sees the forwarded headers (spoofed incoming values replaced).
sslyze (its own venv .build/sslyze-venv, requirements/sslyze.txt, installed by `make setup`) scans the frontend independently.
"""
import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile

import pytest

from ansible_collections.revproxy.tls.plugins.module_utils.apache._render import (
    needed_modules,
    render_listen_conf,
)
from support.apache_model import render_site
from support.apache_model import normalize_sites
from support.apache import DEFAULT_MODULES, PrivateApache
from support.backends import PlainHTTPBackend
from support.pki import PKI

pytestmark = pytest.mark.apache

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SSLYZE = os.path.join(ROOT, ".build", "sslyze-venv", "bin", "sslyze")
NAME = "front.test"
ALIAS = "www.front.test"
ACME_TOKEN = "token-Abc_123"
# The fixture keeps the raw escape hatch under test (the operator's switch), and serves its ACME and error-page
# directories from /srv, one of the default served roots (pytest's tmp tree is under /tmp, never a served root).
SERVED_ROOT = "/srv"
POLICY = {"allow_raw_directives": True, "served_roots": [SERVED_ROOT]}


def _modules(sites):
    return tuple(DEFAULT_MODULES) + tuple(m for m in needed_modules(sites) if m not in DEFAULT_MODULES)


@pytest.fixture(scope="module")
def proxy(tmp_path_factory, module_port):
    work = tmp_path_factory.mktemp("public-side")
    pki = PKI(str(work / "pki"))
    root = pki.ca("Public Root CA")
    inter = pki.ca("Public Intermediate CA", issuer=root)
    leaf = pki.leaf("front", dns=[NAME, ALIAS], issuer=inter)
    # Apache's workers (www-data) read the challenge: a directory outside pytest's private (0700) tmp tree.
    os.makedirs(SERVED_ROOT, exist_ok=True)
    acme = tempfile.mkdtemp(prefix="revproxy-acme-", dir=SERVED_ROOT)
    os.chmod(acme, 0o755)
    with open(os.path.join(acme, ACME_TOKEN), "w") as handle:
        handle.write("acme-proof\n")
    errors = tempfile.mkdtemp(prefix="revproxy-errors-", dir=SERVED_ROOT)
    os.chmod(errors, 0o755)
    with open(os.path.join(errors, "503.html"), "w") as handle:
        handle.write("<p>back soon</p>\n")
    backend = PlainHTTPBackend(body=b"echo backend")
    cookies = PlainHTTPBackend(body=b"cookie backend", headers={
        "Set-Cookie": "sid=abc; Domain=127.0.0.1; Path=/v1/; Secure; HttpOnly"})
    tls_port, http_port = module_port(), module_port()
    site = {
        "name": "public",
        "server_name": NAME,
        "server_aliases": [ALIAS],
        "listen": {"port": tls_port, "address": "127.0.0.1"},
        "tls": {"certificate_file": leaf.cert_path, "key_file": leaf.key_path, "chain_file": inter.cert_path},
        "redirect_http_port": http_port,
        "acme_challenge_dir": acme,
        "request_headers": [{"name": "X-Site", "value": "public"}],
        "response_headers": [{"name": "X-Frame-Options", "value": "DENY"},
                             {"action": "unset", "name": "X-Seen-Host"}],
        "locations": [
            {"path": "/", "backend": "http://127.0.0.1:%d/" % backend.port, "retry": 0,
             "request_headers": [{"name": "X-Location", "value": "root"}]},
            {"path": "/api/", "backend": "http://127.0.0.1:%d/api/" % backend.port, "retry": 0,
             "response_headers": [{"name": "X-Api", "value": "yes"}, {"action": "unset", "name": "X-Seen-SNI"}],
             "extra_directives": ["Header set X-Hatch-Location api"]},
            {"path": "/down/", "backend": "http://127.0.0.1:%d/" % module_port("127.0.0.1"), "retry": 0},  # refuses
            {"path": "/shop/", "backend": "http://127.0.0.1:%d/v1/" % cookies.port, "retry": 0,
             "reverse_cookie_domain": NAME, "reverse_cookie_path": True},
        ],
        "proxy_exclusions": ["/static/"],
        "error_pages": [{"status": 503, "file": os.path.join(errors, "503.html")}],
        "extra_directives": ['Header always set X-Hatch "from the hatch"', 'ErrorDocument 403 "not proxied"',
                             'ErrorDocument 404 "not proxied"'],
    }
    sites = normalize_sites([site], policy=POLICY)
    instance = PrivateApache(str(work / "apache"), modules=_modules(sites))
    instance.set_vhosts(render_listen_conf(sites, set()) + render_site(sites[0]))
    instance.start()
    try:
        yield {"apache": instance, "backend": backend, "tls_port": tls_port, "http_port": http_port,
               "root": root, "leaf": leaf, "site": site, "eff": sites[0]}
    finally:
        instance.stop()
        instance.cleanup()
        backend.stop()
        cookies.stop()
        shutil.rmtree(acme, ignore_errors=True)
        shutil.rmtree(errors, ignore_errors=True)


def http_get(port, path, host=NAME, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        conn.request("GET", path, headers=dict({"Host": host}, **(headers or {})))
        resp = conn.getresponse()
        return resp.status, dict((k.lower(), v) for k, v in resp.getheaders()), resp.read()
    finally:
        conn.close()


def https_get(proxy, path, host=NAME, headers=None, max_version=None):
    """GET over TLS to the local listener with the public name as SNI, certificate name and Host."""
    ctx = ssl.create_default_context(cafile=proxy["root"].cert_path)
    if max_version is not None:
        ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        ctx.maximum_version = max_version
        ctx.set_ciphers("ALL:@SECLEVEL=0")
    raw = socket.create_connection(("127.0.0.1", proxy["tls_port"]), timeout=15)
    try:
        sock = ctx.wrap_socket(raw, server_hostname=host)
    except Exception:
        raw.close()
        raise
    conn = http.client.HTTPConnection(host, proxy["tls_port"], timeout=15)
    conn.sock = sock
    try:
        conn.request("GET", path, headers=dict({"Host": host}, **(headers or {})))
        resp = conn.getresponse()
        return resp.status, dict((k.lower(), v) for k, v in resp.getheaders()), resp.read()
    finally:
        conn.close()


def test_http_redirects_to_https_keeping_path_and_query(proxy):
    for host in (NAME, ALIAS):
        status, headers, _body = http_get(proxy["http_port"], "/a/b?x=1&y=2", host=host)
        assert status == 301, (status, headers)
        assert headers["location"] == "https://%s:%d/a/b?x=1&y=2" % (NAME, proxy["tls_port"])
    assert proxy["backend"].requests == [] or all(r["path"] != "/a/b?x=1&y=2" for r in proxy["backend"].requests)


def test_acme_challenge_is_served_not_redirected(proxy):
    status, _headers, body = http_get(proxy["http_port"], "/.well-known/acme-challenge/" + ACME_TOKEN)
    assert (status, body) == (200, b"acme-proof\n")
    status, headers, _body = http_get(proxy["http_port"], "/.well-known/other")
    assert status == 301 and headers["location"].endswith("/.well-known/other")


def test_backend_sees_real_forwarded_headers_not_spoofed_ones(proxy):
    spoof = {"X-Forwarded-Proto": "http", "X-Forwarded-Port": "1", "X-Forwarded-For": "6.6.6.6",
             "X-Forwarded-Host": "evil.example", "X-Forwarded-Server": "evil.example"}
    before = len(proxy["backend"].requests)
    status, _headers, body = https_get(proxy, "/page", headers=spoof)
    assert status == 200 and body.startswith(b"echo backend"), body
    seen = proxy["backend"].requests[before]["headers"]
    assert seen["x-forwarded-proto"] == "https"
    assert seen["x-forwarded-port"] == str(proxy["tls_port"])
    assert seen["x-forwarded-for"] == "127.0.0.1"
    assert seen["x-forwarded-host"] == NAME
    assert seen["x-forwarded-server"] == NAME
    assert seen["x-site"] == "public" and seen["x-location"] == "root"


def test_client_sees_hsts_and_custom_headers(proxy):
    status, headers, _body = https_get(proxy, "/")
    assert status == 200
    assert headers["strict-transport-security"] == "max-age=63072000"
    assert headers["x-frame-options"] == "DENY"
    assert "x-seen-host" not in headers  # unset at the site level
    assert headers["x-seen-sni"] == "-"  # a plain backend: kept outside /api/
    status, headers, _body = https_get(proxy, "/api/x")
    assert status == 200 and headers["x-api"] == "yes" and "x-seen-sni" not in headers
    status, headers, _body = http_get(proxy["http_port"], "/")
    assert "strict-transport-security" not in headers  # never over plain HTTP


def test_excluded_path_is_not_proxied(proxy):
    before = len(proxy["backend"].requests)
    # Answered by the vhost itself (its DocumentRoot, private to the test user here: 403), never by the backend.
    status, _headers, body = https_get(proxy, "/static/hello.txt")
    assert status in (403, 404) and b"echo backend" not in body, (status, body)
    assert len(proxy["backend"].requests) == before
    status, _headers, body = https_get(proxy, "/statics")  # only the excluded path itself, not a longer name
    assert status == 200 and body.startswith(b"echo backend")


def test_cookies_are_rewritten_to_the_public_name_and_path(proxy):
    status, headers, body = https_get(proxy, "/shop/cart")
    assert status == 200 and body.startswith(b"cookie backend"), body
    assert headers["set-cookie"] == "sid=abc; Domain=%s; Path=/shop/; Secure; HttpOnly" % NAME


def test_escape_hatch_lines_take_effect(proxy):
    status, headers, _body = https_get(proxy, "/api/x")
    assert status == 200 and headers["x-hatch"] == "from the hatch" and headers["x-hatch-location"] == "api"
    status, headers, _body = https_get(proxy, "/")
    assert "x-hatch-location" not in headers
    # ErrorDocument from the site's extra_directives answers for a path the vhost serves itself.
    status, _headers, body = https_get(proxy, "/static/missing.txt")
    assert status in (403, 404) and body == b"not proxied", (status, body)


def test_local_error_page_when_the_backend_is_down(proxy):
    status, _headers, body = https_get(proxy, "/down/x")
    assert (status, body) == (503, b"<p>back soon</p>\n")


def test_tls_below_1_2_is_refused(proxy):
    with pytest.raises(ssl.SSLError):
        https_get(proxy, "/", max_version=ssl.TLSVersion.TLSv1_1)
    status, _h, _b = https_get(proxy, "/", max_version=ssl.TLSVersion.TLSv1_2)
    assert status == 200


def test_rerender_is_byte_identical(proxy):
    again = normalize_sites([proxy["site"]], policy=POLICY)[0]
    assert render_site(again) == render_site(proxy["eff"])


@pytest.mark.parametrize("over", [
    {"tls_profile": "modern", "http2": True, "ocsp_stapling": True},
    {"tls_profile": "old", "tls_session_tickets": True, "allow_insecure_frontend_tls": True},
    {"redirect_http": False, "acme_challenge_dir": None, "forwarded_headers": False, "hsts": False,
     "allow_insecure_frontend_tls": True},
    {"redirect_status": 308, "hsts_include_subdomains": True, "hsts_preload": True},
], ids=["modern-h2", "old-opt-in", "all-off", "308-preload"])
def test_variants_pass_apache_config_test(proxy, tmp_path, over):
    sites = normalize_sites([dict(proxy["site"], **over)], policy=POLICY)
    instance = PrivateApache(str(tmp_path), modules=_modules(sites))
    instance.set_vhosts(render_listen_conf(sites, set()) + render_site(sites[0]))
    ok, output = instance.configtest()
    assert ok, output


def _sslyze(proxy, tmp_path):
    if not os.path.exists(SSLYZE):
        pytest.fail("sslyze is not installed in .build/sslyze-venv: run `make setup`")
    out = tmp_path / "sslyze.json"
    cmd = [SSLYZE, "--json_out", str(out), "--mozilla_config", "disable", "--sslv2", "--sslv3", "--tlsv1", "--tlsv1_1",
           "--tlsv1_2", "--tlsv1_3", "--certinfo", "--certinfo_ca_file", proxy["root"].cert_path, "--http_headers",
           "--sni", NAME, "%s:%d{127.0.0.1}" % (NAME, proxy["tls_port"])]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert out.exists(), res.stdout[-3000:] + res.stderr[-3000:]
    with open(str(out)) as handle:
        return json.load(handle)


WEAK = ("NULL", "EXPORT", "RC4", "DES", "MD5", "anon", "ADH", "AECDH", "CBC3", "3DES", "SEED", "IDEA")


def test_sslyze_scan(proxy, tmp_path):
    report = _sslyze(proxy, tmp_path)
    result = report["server_scan_results"][0]
    assert result["scan_status"] == "COMPLETED", result
    scan = result["scan_result"]
    accepted = {}
    for key in ("ssl_2_0_cipher_suites", "ssl_3_0_cipher_suites", "tls_1_0_cipher_suites", "tls_1_1_cipher_suites",
                "tls_1_2_cipher_suites", "tls_1_3_cipher_suites"):
        assert scan[key]["status"] == "COMPLETED", scan[key]
        accepted[key] = [c["cipher_suite"]["name"] for c in scan[key]["result"]["accepted_cipher_suites"]]
    for key in ("ssl_2_0_cipher_suites", "ssl_3_0_cipher_suites", "tls_1_0_cipher_suites", "tls_1_1_cipher_suites"):
        assert accepted[key] == [], (key, accepted[key])
    assert accepted["tls_1_2_cipher_suites"] and accepted["tls_1_3_cipher_suites"]
    for name in accepted["tls_1_2_cipher_suites"] + accepted["tls_1_3_cipher_suites"]:
        assert not any(w in name for w in WEAK), name
        assert "GCM" in name or "CHACHA20" in name, name  # AEAD only
    deployment = scan["certificate_info"]["result"]["certificate_deployments"][0]
    assert len(deployment["received_certificate_chain"]) == 2  # leaf + intermediate: complete
    assert deployment["received_chain_has_valid_order"] is True
    custom = [v for v in deployment["path_validation_results"] if v["trust_store"]["path"] == proxy["root"].cert_path]
    assert custom and custom[0]["was_validation_successful"] is True, deployment["path_validation_results"]
    assert len(deployment["verified_certificate_chain"]) == 3  # leaf -> intermediate -> root
    assert deployment["received_chain_contains_anchor_certificate"] is False
    hsts = scan["http_headers"]["result"]["strict_transport_security_header"]
    assert hsts is not None and hsts["max_age"] == 63072000
