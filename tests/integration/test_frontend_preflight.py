"""The public side through the role on the system Apache (issue 13): the preflight refuses each kind of bad frontend
certificate before any live file changes, naming the site, the problem and the fix; a good certificate goes live
with the HTTP->HTTPS redirect, HSTS and the forwarded headers, and a second run changes nothing."""
import datetime
import http.client
import os
import socket
import ssl
import time

import pytest

from conftest import PROXY_PORT, apply_role, snapshot
from support.backends import PlainHTTPBackend
from support.pki import PKI

pytestmark = pytest.mark.skipif(not os.path.exists("/usr/sbin/apache2"), reason="needs Apache httpd")

NAME, ALIAS = "front.test", "www.front.test"
DAY = datetime.timedelta(days=1)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    pki = PKI(str(tmp_path_factory.mktemp("front-preflight")))
    root = pki.ca("Frontend Root CA")
    inter = pki.ca("Frontend Intermediate CA", issuer=root)
    names = [NAME, ALIAS]
    return {
        "root": root, "inter": inter,
        "good": pki.leaf("good-front", dns=names, issuer=inter),
        "stranger": pki.leaf("stranger-front", dns=names, issuer=inter),
        "one_name": pki.leaf("one-name-front", dns=[NAME], issuer=inter),
        "expired": pki.leaf("expired-front", dns=names, issuer=inter, not_before=-30 * DAY, not_after=-DAY),
        "expiring": pki.leaf("expiring-front", dns=names, issuer=inter, not_after=5 * DAY),
    }


@pytest.fixture(scope="module")
def backend(module_port):
    with PlainHTTPBackend(body=b"front backend") as be:
        # the site's redirect port, held for this module's tests (the system Apache binds it when a test applies
        # the site)
        be.redirect_port = module_port()
        yield be


def site(pki, backend, leaf="good", key=None, chain=True):
    tls = {"certificate_file": pki[leaf].cert_path, "key_file": key or pki[leaf].key_path}
    if chain:
        tls["chain_file"] = pki["inter"].cert_path
    return {
        "name": "front", "server_name": NAME, "server_aliases": [ALIAS],
        "listen": {"port": PROXY_PORT, "address": "127.0.0.1"},
        "tls": tls,
        "redirect_http_port": backend.redirect_port,
        "response_headers": [{"name": "X-Frame-Options", "value": "DENY"}],
        "locations": [{"path": "/", "backend": "http://127.0.0.1:%d/" % backend.port, "retry": 0}],
    }


def role_vars(pki):
    return {"apache_proxy_frontend_trust_file": pki["root"].cert_path}


def https_get(pki, path="/", headers=None, wait=10.0):
    ctx = ssl.create_default_context(cafile=pki["root"].cert_path)
    deadline = time.monotonic() + wait
    while True:
        try:
            raw = socket.create_connection(("127.0.0.1", PROXY_PORT), timeout=15)
            break
        except ConnectionRefusedError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.2)
    conn = http.client.HTTPConnection(NAME, PROXY_PORT, timeout=15)
    conn.sock = ctx.wrap_socket(raw, server_hostname=NAME)
    try:
        conn.request("GET", path, headers=dict({"Host": NAME}, **(headers or {})))
        resp = conn.getresponse()
        return resp.status, dict((k.lower(), v) for k, v in resp.getheaders()), resp.read()
    finally:
        conn.close()


BAD = [
    ("key of another certificate", {"key": "stranger"},
     "tls.key_file (%(key)s) is not the key of tls.certificate_file", "point tls.key_file at the private key"),
    ("incomplete chain", {"chain": False}, "the chain of %(cert)s stops at", "add the missing intermediate"),
    ("alias not covered", {"leaf": "one_name"},
     "server_aliases[0] 'www.front.test' is not covered by the certificate", "get a certificate whose subjectAltName"),
    ("expired", {"leaf": "expired"}, "the certificate %(cert)s expired on", "renew the certificate and deploy"),
    ("expiring within the window", {"leaf": "expiring"}, "the certificate %(cert)s expires on",
     "renew the certificate now"),
]


def test_preflight_refuses_each_bad_frontend_certificate(system_apache, pki, backend):
    before = snapshot()
    for case, over, problem, fix in BAD:
        over = dict(over)
        if "key" in over:
            over["key"] = pki[over["key"]].key_path
        bad = site(pki, backend, **over)
        res = apply_role([bad], **role_vars(pki))
        assert res.rc != 0, (case, res)
        expected = problem % {"key": bad["tls"]["key_file"], "cert": bad["tls"]["certificate_file"]}
        assert "Frontend certificate refused: site 'front': " + expected in res.stdout, (case, res)
        assert "Fix: " + fix in res.stdout, (case, res)
        assert "No live file was changed" in res.stdout, (case, res)
        assert snapshot() == before, case


def test_good_certificate_goes_live_with_the_public_side(system_apache, pki, backend):
    good = site(pki, backend)
    res = apply_role([good], **role_vars(pki))
    assert res.rc == 0, res
    spoofed = {"X-Forwarded-Proto": "http", "X-Forwarded-For": "6.6.6.6"}
    status, headers, body = https_get(pki, "/x?y=1", headers=spoofed)
    assert status == 200 and body.startswith(b"front backend"), (status, body)
    assert headers["strict-transport-security"] == "max-age=63072000"
    assert headers["x-frame-options"] == "DENY"
    seen = backend.requests[-1]["headers"]
    assert seen["x-forwarded-proto"] == "https" and seen["x-forwarded-port"] == str(PROXY_PORT)
    assert seen["x-forwarded-for"] == "127.0.0.1"
    conn = http.client.HTTPConnection("127.0.0.1", backend.redirect_port, timeout=15)
    try:
        conn.request("GET", "/x?y=1", headers={"Host": ALIAS})
        resp = conn.getresponse()
        assert resp.status == 301
        assert resp.getheader("Location") == "https://%s:%d/x?y=1" % (NAME, PROXY_PORT)
    finally:
        conn.close()
    again = apply_role([good], **role_vars(pki))
    assert again.rc == 0 and again.changed == 0, again  # an unchanged site renders byte-identical
    # Only the files decide what changes: the frontend check passes quietly when nothing changes.
    expiring = site(pki, backend, leaf="expiring")
    res = apply_role([expiring], apache_proxy_frontend_expiry_days=3, **role_vars(pki))
    assert res.rc == 0, res
