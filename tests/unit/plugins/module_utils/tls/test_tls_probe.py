"""_tls_probe: the network stages (DNS -> connect -> TLS -> HTTP) with their helpers (the request and head tests are
in test_http, the context's in test_context)."""
import errno
import socket
import threading
import time

import pytest

from ansible_collections.revproxy.tls.plugins.module_utils.tls import _http as http
from ansible_collections.revproxy.tls.plugins.module_utils.tls import _loop as loop
from ansible_collections.revproxy.tls.plugins.module_utils.tls import _tls_probe as tp
from ansible_collections.revproxy.tls.plugins.module_utils.model._backend_tls import parse_backend_url

from support.apache import reserve_port  # a port held bound and never listening: connections to it are refused


def spec(host="backend.test", path="/app/"):
    return {"request_host": host, "path": path}


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
    resolver = loop.Resolver()
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
    resolver = loop.Resolver()
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
    held = reserve_port("127.0.0.1")
    refused = held.port
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
        held.release()


def test_stage_connect_refused():
    with reserve_port("127.0.0.1") as held:
        port = held.port
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
        raise loop._Deadline()
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
        with pytest.raises(loop._Deadline):
            loop._wait(a, tp.select.POLLIN, later(0.05))
        b.sendall(b"x")
        assert loop._wait(a, tp.select.POLLIN, later()) & tp.select.POLLIN
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
        assert b.recv(65536) == http.request_bytes(spec())
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
    with reserve_port("127.0.0.1") as held:
        facts = tp.probe({"url": parse_backend_url("https://127.0.0.1:%d/" % held.port), "request_host": "b.test",
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
