"""_tls_probe: the request builder (no CR/LF/NUL ever), the capped response-head reader, mod_ssl's cipher list, the
loading of the client certificate, CA and CRL files (every failure is a message naming the field), and the network
stages (DNS -> connect -> TLS -> HTTP) with their helpers."""
import errno
import os
import socket
import threading
import time

import pytest
from OpenSSL import SSL

from ansible_collections.revproxy.tls.plugins.module_utils.tls import _tls_probe as tp
from ansible_collections.revproxy.tls.plugins.module_utils.model._backend_tls import BACKEND_TLS_DEFAULTS, parse_backend_url

from support.backends import free_port  # a port nothing listens on (it was free a moment ago)
from support.pki import PKI

# --- the request --------------------------------------------------------------------------------------------------


def spec(host="backend.test", path="/app/"):
    return {"request_host": host, "path": path}


def test_request_bytes():
    assert tp.request_bytes(spec()) == (b"GET /app/ HTTP/1.1\r\nHost: backend.test\r\nUser-Agent: "
                                        b"revproxy.tls.backend_handshake\r\nAccept: */*\r\nConnection: close\r\n\r\n")
    assert tp._request_bytes(spec("[::1]:8443", "/")).startswith(b"GET / HTTP/1.1\r\nHost: [::1]:8443\r\n")


@pytest.mark.parametrize("host, path", [
    ("a.test\r\nX-Injected: 1", "/"), ("a.test\n", "/"), ("a.test\r", "/"), ("a.test\x00.evil", "/"),
    ("a.test\r\n\r\nGET /admin HTTP/1.1\r\nHost: internal", "/"),
    ("a.test", "/\r\nX: y"), ("a.test", "/a\nb"), ("a.test", "/\x00"), ("a.test", "/a b"), ("a.test", "/a\tb"),
    ("", "/"), (None, "/"), ("a.test", ""), ("a.test", None), (b"a.test", "/"),
    ("\u0101.test", "/"),  # not latin-1
])
def test_request_bytes_refuses_what_would_split_the_request(host, path):
    with pytest.raises(tp.UnsafeRequest):
        tp.request_bytes(spec(host, path))


def test_sni_bytes():
    assert tp.sni_bytes(None) is None
    assert tp.sni_bytes("backend.test") == b"backend.test"
    for bad in ("a" * 64 + ".test", "a..test", "a.test\x00", "a\r\n", "", 5):
        with pytest.raises(tp.UnsafeRequest):
            tp.sni_bytes(bad)


# --- the response head ----------------------------------------------------------------------------------------------


def feed(head, data, step=None):
    step = step or len(data) or 1
    for i in range(0, max(len(data), 1), step):
        if head.feed(data[i:i + step]):
            return True
    return False


def parsed(data, step=None, **kw):
    head = tp._Head(**kw)
    done = feed(head, data, step)
    return done, head.result({"status": None}), head


@pytest.mark.parametrize("step", [None, 1, 7])
def test_head_complete(step):
    done, resp, _head = parsed(b"HTTP/1.1 200 OK\r\nA: b\r\nC: d\r\n\r\nbody", step)
    assert done and resp["status"] == 200 and resp["head_complete"] and not resp.get("too_long")
    assert resp["status_line"] == "HTTP/1.1 200 OK"


def test_head_waits_for_more():
    done, resp, _head = parsed(b"HTTP/1.1 200 OK\r\nA: b\r\n")
    assert not done and resp["status"] == 200 and resp["head_complete"] is False


def test_head_one_stray_crlf_before_the_status_line():
    assert parsed(b"\r\nHTTP/1.1 204 No Content\r\n\r\n")[1]["status"] == 204


def test_head_not_http():
    done, resp, _head = parsed(b"SSH-2.0-OpenSSH_9.2\r\n")
    assert done and resp["status"] is None and resp["status_line"] == "SSH-2.0-OpenSSH_9.2"


@pytest.mark.parametrize("length, too_long", [(8190, False), (8191, True), (8192, True)])
def test_status_line_limit_is_mod_proxy_https(length, too_long):
    line = b"HTTP/1.1 200 " + b"O" * (length - 13)
    assert len(line) == length
    done, resp, _head = parsed(line + b"\r\n\r\n")
    assert done and resp.get("too_long") == ("status" if too_long else None)


def test_header_line_limit():
    done, resp, _head = parsed(b"HTTP/1.1 200 OK\r\nX: " + b"a" * 9000 + b"\r\n\r\n", 1000)
    assert done and resp["too_long"] == "header" and resp["status"] == 200


def test_a_100_mib_status_line_is_never_buffered():
    head = tp._Head()
    chunk = b"A" * 65536
    assert not head.feed(b"HTTP/1.1 200 ")
    fed = 13
    while not head.feed(chunk):
        fed += len(chunk)
        assert fed < 100 << 20
    assert fed < 65536 + 13  # stopped within the first chunk
    assert len(head.buf) <= tp.MAX_RESPONSE_HEAD + tp.RESPONSE_FIELD_SIZE
    resp = head.result({"status": None})
    assert resp["too_long"] == "status" and resp["status"] is None
    assert resp["status_line"].startswith("HTTP/1.1 200 AAA") and len(resp["status_line"]) <= 200
    assert head.feed(chunk)  # done stays done, nothing more is kept
    assert len(head.buf) <= tp.MAX_RESPONSE_HEAD + tp.RESPONSE_FIELD_SIZE


def test_a_huge_line_without_its_prefix_in_one_chunk():
    done, resp, head = parsed(b"X" * (1 << 20))
    assert done and resp["too_long"] == "status" and len(head.buf) <= tp.MAX_RESPONSE_HEAD + tp.RESPONSE_FIELD_SIZE


def test_many_short_headers_stop_at_the_cap():
    data = b"HTTP/1.1 200 OK\r\n" + b"X-A: b\r\n" * 100000
    done, resp, head = parsed(data, 4096)
    assert done and resp["status"] == 200 and not resp.get("too_long") and resp["head_complete"] is False
    assert len(head.buf) <= tp.MAX_RESPONSE_HEAD + tp.RESPONSE_FIELD_SIZE


# --- mod_ssl's cipher list ------------------------------------------------------------------------------------------


def test_cipher_list_is_mod_ssls():
    assert tp.mod_ssl_cipher_string(None) is None
    assert tp.mod_ssl_cipher_string("HIGH") == "HIGH:!aNULL:!eNULL:!EXP"
    assert tp.cipher_list(None) == tp.DEFAULT_CIPHERS == b"DEFAULT:!aNULL:!eNULL:!EXP"
    assert tp.cipher_list("ECDHE+AESGCM") == b"ECDHE+AESGCM:!aNULL:!eNULL:!EXP"


@pytest.mark.parametrize("ciphers, matches", [
    ("HIGH", True), ("ECDHE+AESGCM", True), ("ALL:eNULL:@SECLEVEL=0", True),
    ("eNULL:@SECLEVEL=0", False), ("eNULL", False), ("aNULL", False), ("NOSUCHCIPHER", False),
    ("EXP", False), ("NULL-SHA256:@SECLEVEL=0", False),
])
def test_cipher_match_error(ciphers, matches):
    error = tp.cipher_match_error(ciphers)
    assert (error is None) is matches, error
    if not matches:
        assert "no cipher match" in error


def tls(**kw):
    return dict(BACKEND_TLS_DEFAULTS, verify="none", **kw)


def test_context_never_offers_null_ciphers_although_the_list_names_them():
    names = SSL.Connection(tp.TLSContext(tls(ciphers="ALL:eNULL:@SECLEVEL=0")).ctx, None).get_cipher_list()
    assert names and not [n for n in names if "NULL" in n]
    raw = SSL.Context(SSL.TLS_METHOD)
    raw.set_cipher_list(b"ALL:eNULL:@SECLEVEL=0")
    assert "ECDHE-ECDSA-NULL-SHA" in SSL.Connection(raw, None).get_cipher_list()  # what the checker used to offer


@pytest.mark.parametrize("ciphers", ["eNULL:@SECLEVEL=0", "NOSUCHCIPHER"])
def test_context_no_cipher_match(ciphers):
    with pytest.raises(tp.ProbeConfigError) as info:
        tp.TLSContext(tls(ciphers=ciphers))
    assert (info.value.field, info.value.reason) == ("ciphers", "no_cipher_match")
    assert "no cipher match" in info.value.detail


# --- files ----------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    p = PKI(tmp_path_factory.mktemp("pki"))
    root = p.ca("Probe Root")
    return {"pki": p, "root": root, "client": p.leaf("client", cn="client", issuer=root, client=True),
            "other": p.leaf("other", cn="other", issuer=root, client=True),
            "enc": p.leaf("enc", cn="enc", issuer=root, client=True, encrypted_key_password="pw"),
            "dir": p.directory}


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return str(path)


JUNK_CERT = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"
JUNK_KEY = "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n"


def test_client_certificate_ok(pki):
    certs, error = tp.load_client_certs(tls(client_cert_file=pki["client"].bundle_path))
    assert error is None and [c["subject"] for c in certs] == ["CN=client"]
    certs, error = tp.load_client_certs(tls(client_cert_file=pki["client"].cert_path,
                                            client_key_file=pki["client"].key_path))
    assert error is None and len(certs) == 1


@pytest.mark.parametrize("case, expected", [
    ("junk_cert", "client_cert_file: cannot parse a certificate in "),
    ("text", "client_cert_file: no PEM certificate in "),
    ("empty", "client_cert_file: no PEM certificate in "),
    ("binary", "client_cert_file: no PEM certificate in "),
    ("ca_only", "client_cert_file: no client certificate in "),
    ("no_key", "client_cert_file: no private key for the client certificate in "),
    ("junk_key", "client_key_file: cannot load the private key in "),
    ("mismatch", "client_key_file: the private key in "),
    ("encrypted", "client_key_file: the private key in "),
    ("key_dir", "client_key_file: cannot read "),
    ("cert_dir", "client_cert_file: cannot read "),
    ("huge", "client_cert_file: "),
    ("junk_chain", "client_chain_file: cannot parse a certificate in "),
    ("chain_dir", "client_chain_file: cannot read "),
])
def test_client_certificate_problems_name_the_field(tmp_path, pki, case, expected):
    c = pki["client"]
    settings = {
        "junk_cert": lambda: tls(client_cert_file=write(tmp_path, "c.pem", JUNK_CERT + c.key_pem)),
        "text": lambda: tls(client_cert_file=write(tmp_path, "c.pem", "hello\n")),
        "empty": lambda: tls(client_cert_file=write(tmp_path, "c.pem", "")),
        "binary": lambda: tls(client_cert_file=write(tmp_path, "c.pem", os.urandom(4096))),
        "ca_only": lambda: tls(client_cert_file=write(tmp_path, "c.pem", pki["root"].pem + pki["root"].key_pem)),
        "no_key": lambda: tls(client_cert_file=c.cert_path),
        "junk_key": lambda: tls(client_cert_file=c.cert_path, client_key_file=write(tmp_path, "k.pem", JUNK_KEY)),
        "mismatch": lambda: tls(client_cert_file=c.cert_path, client_key_file=pki["other"].key_path),
        "encrypted": lambda: tls(client_cert_file=pki["enc"].cert_path, client_key_file=pki["enc"].key_path),
        "key_dir": lambda: tls(client_cert_file=c.cert_path, client_key_file=str(tmp_path)),
        "cert_dir": lambda: tls(client_cert_file=str(tmp_path)),
        "huge": lambda: tls(client_cert_file=write(tmp_path, "c.pem", b"-" * (tp.MAX_CLIENT_FILE + 1))),
        "junk_chain": lambda: tls(client_cert_file=c.bundle_path,
                                  client_chain_file=write(tmp_path, "ch.pem", JUNK_CERT)),
        "chain_dir": lambda: tls(client_cert_file=c.bundle_path, client_chain_file=str(tmp_path)),
    }[case]()
    certs, error = tp.load_client_certs(settings)
    assert certs == [] and error.startswith(expected), error
    if case == "mismatch":
        assert "does not match the client certificate CN=client (AH02326)" in error
    if case == "huge":
        assert "is larger than" in error
    if "chain" in case:  # OpenSSL refuses the chain file as a trust store too: the backend gets invalid_input
        with pytest.raises(tp.ProbeConfigError, match="^client_chain_file: cannot (load|read) "):
            tp.TLSContext(settings)
    else:  # the context still builds; the backend's result says client_cert_invalid
        assert tp.TLSContext(settings).client_cert_error == error


@pytest.mark.parametrize("field, data", [
    ("ca_file", JUNK_CERT), ("ca_file", ""), ("ca_file", "hello"), ("crl_file", "-----BEGIN X509 CRL-----\nx\n"),
    ("client_chain_file", "hello"),
])
def test_trust_files_that_cannot_be_loaded(tmp_path, pki, field, data):
    settings = tls(crl_check="leaf", **{field: write(tmp_path, "f.pem", data)})
    if field == "client_chain_file":
        settings["client_cert_file"] = pki["client"].bundle_path
    with pytest.raises(tp.ProbeConfigError) as info:
        tp.TLSContext(settings)
    assert (info.value.field, info.value.reason) == (field, "invalid_input")
    assert info.value.detail.startswith("cannot load %s" % settings[field])


def test_ca_directory_given_as_ca_file(tmp_path):
    with pytest.raises(tp.ProbeConfigError) as info:
        tp.TLSContext(tls(ca_file=str(tmp_path)))
    assert info.value.field == "ca_file"


# --- the network stages: DNS -> connect -> TLS -> HTTP ----------------------------------------------------------------


def http_server(answer):
    """A one-connection plain-HTTP listener answering `answer` to whatever it reads."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)

    def run():
        conn, _addr = listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(answer)
        listener.close()

    threading.Thread(target=run, daemon=True).start()
    return listener.getsockname()[1]


def later(seconds=5.0):
    return time.monotonic() + seconds


@pytest.mark.parametrize("url, family, address", [
    ("https://127.0.0.1:8443/", socket.AF_INET, ("127.0.0.1", 8443)),
    ("https://[::1]:8443/", socket.AF_INET6, ("::1", 8443)),
])
def test_stage_dns_ip_literal_needs_no_lookup(monkeypatch, url, family, address):
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a: pytest.fail("looked up an IP literal"))
    facts = {}
    assert tp.stage_dns(parse_backend_url(url), later(), 5, facts) == [(family, socket.SOCK_STREAM, 0, "", address)]
    assert facts == {}


def test_stage_dns_resolves(monkeypatch):
    addrs = [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("192.0.2.7", 443))]
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, port, *a: addrs if (host, port) == ("b.test", 443) else [])
    assert tp.stage_dns(parse_backend_url("https://b.test/"), later(), 5, {}) == addrs


@pytest.mark.parametrize("error, text", [
    (socket.gaierror(socket.EAI_NONAME, "Name or service not known"), "(EAI %d)Name or service not known"
     % abs(socket.EAI_NONAME)),
    (UnicodeError("label too long"), "label too long"),
])
def test_stage_dns_errors(monkeypatch, error, text):
    def fail(*_args):
        raise error
    monkeypatch.setattr(socket, "getaddrinfo", fail)
    facts = {}
    assert tp.stage_dns(parse_backend_url("https://b.test/"), later(), 5, facts) is None
    assert facts == {"dns_error": text}


def test_stage_dns_deadline_abandons_a_slow_resolver(monkeypatch):
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a: time.sleep(2) or [])
    facts = {}
    start = time.monotonic()
    assert tp.stage_dns(parse_backend_url("https://slow.test/"), later(0.1), 0.1, facts) is None
    assert time.monotonic() - start < 1
    assert facts == {"dns_error": "no answer within 0.1 s"}


def test_resolver_looks_each_host_up_once_for_every_port_and_caller(monkeypatch):
    calls = []
    lock = threading.Lock()

    def lookup(host, port, *_args):
        with lock:
            calls.append((host, port))
        time.sleep(0.05)  # concurrent callers arrive while the lookup is in flight
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("192.0.2.7", port)),
                (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("2001:db8::7", port, 0, 0))]
    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    resolver = tp.Resolver()
    out = {}

    def check(port):
        out[port] = tp.stage_dns(parse_backend_url("https://b.test:%d/" % port), later(), 5, {}, resolver)
    threads = [threading.Thread(target=check, args=(8000 + i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert calls == [("b.test", 0)]
    assert out[8007] == [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("192.0.2.7", 8007)),
                         (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("2001:db8::7", 8007, 0, 0))]
    assert tp.stage_dns(parse_backend_url("https://other.test/"), later(), 5, {}, resolver)[0][4] == ("192.0.2.7", 443)
    assert calls == [("b.test", 0), ("other.test", 0)]


def test_resolver_shares_an_error_and_each_caller_keeps_its_deadline(monkeypatch):
    def fail(*_args):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    monkeypatch.setattr(socket, "getaddrinfo", fail)
    resolver = tp.Resolver()
    for port in (443, 8443):
        facts = {}
        assert tp.stage_dns(parse_backend_url("https://gone.test:%d/" % port), later(), 5, facts, resolver) is None
        assert facts == {"dns_error": "(EAI %d)Name or service not known" % abs(socket.EAI_NONAME)}
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a: time.sleep(2) or [])
    facts = {}
    start = time.monotonic()
    assert tp.stage_dns(parse_backend_url("https://slow.test/"), later(0.1), 0.1, facts, resolver) is None
    assert time.monotonic() - start < 1
    assert facts == {"dns_error": "no answer within 0.1 s"}


def test_stage_connect_tries_each_address_in_order():
    refused = free_port()
    port = http_server(b"")
    addrs = [(socket.AF_INET, socket.SOCK_STREAM, 0, "", ("127.0.0.1", refused)),
             (socket.AF_INET, socket.SOCK_STREAM, 0, "", ("127.0.0.1", port))]
    facts = {}
    sock = tp.stage_connect(addrs, later(), 5, facts)
    try:
        assert sock is not None and sock.getpeername()[1] == port
        assert facts == {"address": "127.0.0.1:%d" % port}
    finally:
        sock.close()


def test_stage_connect_refused():
    port = free_port()
    facts = {}
    assert tp.stage_connect([(socket.AF_INET, socket.SOCK_STREAM, 0, "", ("127.0.0.1", port))], later(), 5,
                            facts) is None
    assert facts["address"] == "127.0.0.1:%d" % port
    assert facts["connect_error"][0] == "refused"
    assert facts["connect_error"][1].startswith("(%d)" % errno.ECONNREFUSED)


def test_stage_connect_deadline_stops_the_loop(monkeypatch):
    tried = []

    def connect(family, sockaddr, deadline):
        tried.append(sockaddr)
        raise tp._Deadline()
    monkeypatch.setattr(tp, "_connect", connect)
    addrs = [(socket.AF_INET6, socket.SOCK_STREAM, 0, "", ("2001:db8::1", 443, 0, 0)),
             (socket.AF_INET, socket.SOCK_STREAM, 0, "", ("192.0.2.1", 443))]
    facts = {}
    assert tp.stage_connect(addrs, later(), 3, facts) is None
    assert tried == [("2001:db8::1", 443, 0, 0)]
    assert facts == {"address": "[2001:db8::1]:443", "connect_error": ("timeout", "no answer within 3 s")}


def test_wait_raises_at_the_deadline():
    a, b = socket.socketpair()
    try:
        with pytest.raises(tp._Deadline):
            tp._wait(a, tp.select.POLLIN, later(0.05))
        b.sendall(b"x")
        assert tp._wait(a, tp.select.POLLIN, later()) & tp.select.POLLIN
    finally:
        a.close()
        b.close()


@pytest.mark.parametrize("answer, status, extra", [
    (b"HTTP/1.1 200 OK\r\nA: b\r\n\r\nbody", 200, {"head_complete": True}),
    (b"HTTP/1.1 503 Busy\r\n", 503, {"head_complete": False, "eof": True}),
    (b"\x16\x03\x01\x00\x02", None, {"rx_head": b"\x16\x03\x01\x00\x02", "eof": True}),
])
def test_plain_request(answer, status, extra):
    a, b = socket.socketpair()
    a.setblocking(False)
    try:
        b.sendall(answer)
        b.shutdown(socket.SHUT_WR)
        resp = tp._plain_request(a, spec(), later())
        assert b.recv(65536) == tp.request_bytes(spec())
    finally:
        a.close()
        b.close()
    assert resp["status"] == status
    for key, value in extra.items():
        assert resp[key] == value, key


def test_plain_request_timeout():
    a, b = socket.socketpair()
    a.setblocking(False)
    try:
        resp = tp._plain_request(a, spec(), later(0.05))
    finally:
        a.close()
        b.close()
    assert resp["timeout"] is True and resp["status"] is None


def test_probe_plain_http_end_to_end():
    port = http_server(b"HTTP/1.1 204 No Content\r\n\r\n")
    facts = tp.probe({"url": parse_backend_url("http://127.0.0.1:%d/" % port), "request_host": "b.test",
                      "path": "/"}, None, 5)
    assert (facts["stage"], facts["address"], facts["tls"]) == ("request", "127.0.0.1:%d" % port, False)
    assert facts["response"]["status"] == 204 and facts["elapsed_ms"] >= 0


def test_probe_stops_at_the_failing_stage():
    port = free_port()
    facts = tp.probe({"url": parse_backend_url("https://127.0.0.1:%d/" % port), "request_host": "b.test",
                      "path": "/"}, None, 5)
    assert facts["stage"] == "connect" and facts["connect_error"][0] == "refused" and "handshake" not in facts


@pytest.mark.parametrize("text, alert", [
    ("error:0A000418:SSL routines::tlsv1 alert unknown ca", 48),
    ("sslv3 alert handshake failure", 40),
    ("tlsv13 alert certificate required", 116),
    ("wrong version number", None),
    (None, None),
])
def test_alert_of(text, alert):
    assert tp._alert_of(text) == alert


def test_ssl_error_text():
    assert tp._ssl_error_text(SSL.Error([("SSL routines", "", "wrong version number")])) == "wrong version number"
    assert tp._ssl_error_text(SSL.Error([])) == "Error"
    assert tp._ssl_error_text(SSL.SysCallError(-1, "Unexpected EOF")) == "(-1, 'Unexpected EOF')"


@pytest.mark.parametrize("ciphers, level, expected", [
    (b"DEFAULT:!aNULL:!eNULL:!EXP", 2, b"DEFAULT:!aNULL:!eNULL:!EXP:@SECLEVEL=2"),
    (b"HIGH:!aNULL:!eNULL:!EXP", 1, b"HIGH:!aNULL:!eNULL:!EXP:@SECLEVEL=1"),
    (b"DEFAULT:@SECLEVEL=1:!aNULL:!eNULL:!EXP", 2, b"DEFAULT:@SECLEVEL=1:!aNULL:!eNULL:!EXP"),  # the site decides
    (b"DEFAULT:@seclevel=0", 2, b"DEFAULT:@seclevel=0"),
])
def test_with_security_level(ciphers, level, expected):
    assert tp.with_security_level(ciphers, level) == expected


def test_with_security_level_unknown_leaves_the_list(monkeypatch):
    monkeypatch.setattr(tp, "_SECURITY_LEVEL", [None])
    assert tp.with_security_level(b"DEFAULT") == b"DEFAULT"


def test_system_security_level_is_the_system_librarys():
    """Python's ssl links the system OpenSSL with its configuration (Debian 12's openssl.cnf: level 2), as Apache."""
    import ssl
    assert tp.system_security_level() == ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).security_level


def test_security_level_probe_without_the_attribute_agrees(monkeypatch):
    """Python 3.9 has no SSLContext.security_level: the level is told by which own keys the library refuses."""
    import ssl
    import types
    expected = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).security_level

    class NoLevel(object):  # the real context, without the attribute (as on Python 3.9)
        def __init__(self, protocol):
            self._ctx = ssl.SSLContext(protocol)

        def load_cert_chain(self, *args):
            return self._ctx.load_cert_chain(*args)

    fake = types.SimpleNamespace(SSLContext=NoLevel, PROTOCOL_TLS_CLIENT=ssl.PROTOCOL_TLS_CLIENT, SSLError=ssl.SSLError)
    monkeypatch.setattr(tp, "ssl", fake)
    assert tp._refuses_own_key(1024) is (expected >= 2)
    assert tp._probe_security_level() == min(max(expected, 1), 3)


@pytest.mark.parametrize("field", ["ca_file", "crl_file", "client_chain_file"])
def test_trust_files_that_are_not_regular_files_never_block(tmp_path, pki, field):
    """OpenSSL opens these paths itself: a FIFO would block it forever, /dev/zero fill memory."""
    fifo = str(tmp_path / "fifo")
    os.mkfifo(fifo)
    for path in (fifo, "/dev/zero"):
        settings = tls(crl_check="leaf", **{field: path})
        if field == "client_chain_file":
            settings["client_cert_file"] = pki["client"].bundle_path
        with pytest.raises(tp.ProbeConfigError, match="^%s: cannot read %s: " % (field, path)):
            tp.TLSContext(settings)
