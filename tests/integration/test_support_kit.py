"""Self-tests for the test kit in tests/support (pki, backends, apache): real certificates, sockets and Apache."""
import os
import signal
import socket
import ssl
import stat
import subprocess
import sys
import time

import pytest
from cryptography import x509

from support import apache, backends, pki

HERE = os.path.dirname(os.path.abspath(__file__))
SUPPORT = os.path.join(os.path.dirname(HERE), "support")
HAVE_APACHE = os.path.exists(apache.HTTPD) and os.path.isdir(apache.MODULES_DIR)


@pytest.fixture(scope="module", name="ca")
def ca_fixture(tmp_path_factory):
    """root -> intermediate -> leaves for localhost."""
    factory = pki.PKI(tmp_path_factory.mktemp("pki"))
    root = factory.ca("Kit Root CA")
    inter = factory.ca("Kit Intermediate CA", issuer=root)
    server = factory.leaf("server", dns=["localhost", "backend.test"], issuer=inter)
    client = factory.leaf("client", cn="client1", issuer=inter, client=True)
    return {"pki": factory, "root": root, "inter": inter, "server": server, "client": client}


def https_get(port, server_hostname, cafile, cert=None, timeout=5):
    """One HTTPS GET with the stdlib client; returns the raw response bytes."""
    ctx = ssl.create_default_context(cafile=cafile)
    if server_hostname is None:
        ctx.check_hostname = False
    if cert is not None:
        ctx.load_cert_chain(cert.chain_path, cert.key_path)
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as raw:
        with ctx.wrap_socket(raw, server_hostname=server_hostname) as tls:
            tls.sendall(b"GET /x HTTP/1.1\r\nHost: front.test\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                chunk = tls.recv(65536)
                if not chunk:
                    return data
                data += chunk


def test_pki_files(ca, tmp_path):
    """Chain/key files, CN-only and encrypted-key leaves, CRL, and the idempotent demo CLI."""
    server, root = ca["server"], ca["root"]
    with open(server.chain_path, encoding="ascii") as handle:
        assert handle.read().count("BEGIN CERTIFICATE") == 2
    assert stat.S_IMODE(os.stat(server.key_path).st_mode) == 0o600
    with open(server.key_path, encoding="ascii") as handle:
        assert handle.readline().strip() == "-----BEGIN EC PRIVATE KEY-----"
    assert server.subject_cn == "localhost" and server.root is root and server.intermediates == [ca["inter"]]
    cn_only = ca["pki"].leaf("cn-only", cn="cn.test", issuer=ca["inter"])
    with pytest.raises(x509.ExtensionNotFound):
        cn_only.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    enc = ca["pki"].leaf("enc", dns=["e.test"], issuer=ca["inter"], encrypted_key_password="pw")
    with open(enc.key_path, encoding="ascii") as handle:
        assert "ENCRYPTED" in handle.read()
    crl_path = ca["pki"].crl(ca["inter"], revoked=[cn_only])
    res = subprocess.run(["openssl", "verify", "-crl_check", "-CRLfile", crl_path, "-CAfile", root.cert_path,
                          "-untrusted", ca["inter"].cert_path, cn_only.cert_path], capture_output=True, text=True, check=False)
    assert "certificate revoked" in res.stderr
    cli = [sys.executable, os.path.join(SUPPORT, "pki.py"), "demo", str(tmp_path / "demo"), "--name", "backend.demo.test"]
    assert subprocess.run(cli, capture_output=True, text=True, check=True).stdout.strip() == "created"
    assert subprocess.run(cli, capture_output=True, text=True, check=True).stdout.strip() == "unchanged"
    for name in ("ca.pem", "backend-chain.pem", "backend.key"):
        assert (tmp_path / "demo" / name).exists()


def test_tls_backend_enforces_sni(ca):
    """Missing or unknown SNI gets an unrecognized_name alert; the right one is served and recorded."""
    with backends.TLSBackend(ca["server"].chain_path, ca["server"].key_path, sni_names={"backend.test"}) as be:
        body = https_get(be.port, "backend.test", ca["root"].cert_path)
        assert body.startswith(b"HTTP/1.1 200 ") and b"X-Seen-SNI: backend.test" in body and b"backend ok" in body
        for sni in (None, "localhost"):
            with pytest.raises(ssl.SSLError, match="UNRECOGNIZED_NAME"):
                https_get(be.port, sni, ca["root"].cert_path)
        assert be.seen == [("backend.test", "front.test")]
        assert be.handshakes == ["backend.test", None, "localhost"]


def test_tls_backend_requires_client_cert(ca):
    """client_ca_path makes the client certificate mandatory (TLS 1.3: certificate_required alert)."""
    with backends.TLSBackend(ca["server"].chain_path, ca["server"].key_path, client_ca_path=ca["root"].cert_path,
                             client_ca_names_path=ca["root"].cert_path) as be:
        assert b"backend ok" in https_get(be.port, "localhost", ca["root"].cert_path, cert=ca["client"])
        with pytest.raises(ssl.SSLError, match="CERTIFICATE_REQUIRED"):
            https_get(be.port, "localhost", ca["root"].cert_path)
        assert be.requests[0]["peercert"]["subject"] == ((("commonName", "client1"),),)


def test_blackhole_times_out():
    """connect() to the blackhole port times out instead of being refused."""
    with backends.BlackholeBackend() as hole:
        start = time.monotonic()
        with pytest.raises((TimeoutError, socket.timeout)):
            socket.create_connection(("127.0.0.1", hole.port), timeout=1).close()
        assert 0.9 < time.monotonic() - start < 2


def test_hostile_and_multi_backends(ca):
    """Each hostile backend fails a TLS client the expected way; huge chains and multi-port backends serve."""
    root = ca["root"].cert_path
    with backends.GarbageBackend() as be, pytest.raises(ssl.SSLError, match="WRONG_VERSION_NUMBER"):
        https_get(be.port, "localhost", root)
    with backends.CloseMidHandshakeBackend() as be, pytest.raises((ssl.SSLError, ConnectionError)):
        https_get(be.port, "localhost", root)
    with backends.PlainHTTPBackend() as be, pytest.raises(ssl.SSLError, match="WRONG_VERSION_NUMBER"):
        https_get(be.port, "localhost", root)
    with backends.SilentBackend() as be, pytest.raises((TimeoutError, socket.timeout)):
        https_get(be.port, "localhost", root, timeout=0.5)
    with backends.HugeChainBackend(ca["pki"], length=20) as be:
        assert b"backend ok" in https_get(be.port, "huge.test", be.ca_path)
    with backends.MultiTLSBackend(50, ca["server"].chain_path, ca["server"].key_path) as multi:
        assert len(set(multi.ports)) == 50
        assert b"backend ok" in https_get(multi.ports[-1], "localhost", root)


def test_serve_cli(ca, tmp_path, reserved_port):
    """The foreground serve CLI writes its pidfile, serves, logs, and exits cleanly on SIGTERM."""
    pidfile, logfile = tmp_path / "be.pid", tmp_path / "be.log"
    port = reserved_port()  # held while the CLI binds it (with SO_REUSEADDR, beside the reservation)
    cmd = [sys.executable, os.path.join(SUPPORT, "backends.py"), "serve", "--chain", ca["server"].chain_path, "--key",
           ca["server"].key_path, "--port", str(port), "--sni", "localhost", "--pidfile", str(pidfile), "--logfile", str(logfile)]
    with subprocess.Popen(cmd) as proc:
        try:
            deadline = time.monotonic() + 10
            while not (pidfile.exists() and pidfile.read_text().strip()) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert pidfile.read_text().strip() == str(proc.pid)
            assert b"SNI=localhost" in https_get(port, "localhost", ca["root"].cert_path)
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(10) == 0
    assert not pidfile.exists()
    assert "SNI=localhost" in logfile.read_text()


@pytest.mark.apache
@pytest.mark.skipif(not HAVE_APACHE, reason="Apache httpd not installed")
def test_private_apache_proxies_with_verification(ca, tmp_path):
    """Apache verifies the backend chain with depth 4 (200) and fails with depth 1 (500, AH02040)."""
    with backends.TLSBackend(ca["server"].chain_path, ca["server"].key_path, sni_names={"localhost"}) as be, \
            apache.PrivateApache(tmp_path / "httpd") as httpd:

        def vhost(depth):
            httpd.set_vhosts(f"""
                <VirtualHost 127.0.0.1:{httpd.port}>
                    ServerName front.test
                    SSLProxyEngine on
                    SSLProxyVerify require
                    SSLProxyCACertificateFile {ca["root"].cert_path}
                    SSLProxyVerifyDepth {depth}
                    ProxyPass / https://localhost:{be.port}/ retry=0
                </VirtualHost>""")
        vhost(4)
        ok, out = httpd.configtest()
        assert ok, out
        httpd.start()
        status, headers, body = httpd.request("/", host="front.test")
        assert status == 200 and b"backend ok" in body
        assert headers["x-seen-sni"] == "localhost"
        vhost(1)
        mark = httpd.error_log_mark()
        httpd.reload()
        status, _headers, _body = httpd.request("/", host="front.test")
        assert status == 500
        assert "AH02040" in httpd.error_log_since(mark)
