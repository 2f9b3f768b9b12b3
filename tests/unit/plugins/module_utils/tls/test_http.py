"""_http: the request builder (no CR/LF/NUL ever) and the capped response-head reader (moved from
test_tls_probe with the code)."""
import pytest

from ansible_collections.revproxy.tls.plugins.module_utils.tls import _http as http
from ansible_collections.revproxy.tls.plugins.module_utils.tls import _tls_probe as tp

# --- the request --------------------------------------------------------------------------------------------------


def spec(host="backend.test", path="/app/"):
    return {"request_host": host, "path": path}


def test_request_bytes():
    assert http.request_bytes(spec()) == (b"GET /app/ HTTP/1.1\r\nHost: backend.test\r\nUser-Agent: "
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
    with pytest.raises(http.UnsafeRequest):
        http.request_bytes(spec(host, path))


def test_sni_bytes():
    assert http.sni_bytes(None) is None
    assert http.sni_bytes("backend.test") == b"backend.test"
    for bad in ("a" * 64 + ".test", "a..test", "a.test\x00", "a\r\n", "", 5):
        with pytest.raises(http.UnsafeRequest):
            http.sni_bytes(bad)


# --- the response head ----------------------------------------------------------------------------------------------


def feed(head, data, step=None):
    step = step or len(data) or 1
    for i in range(0, max(len(data), 1), step):
        if head.feed(data[i:i + step]):
            return True
    return False


def parsed(data, step=None, **kw):
    head = http._Head(**kw)
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
    head = http._Head()
    chunk = b"A" * 65536
    assert not head.feed(b"HTTP/1.1 200 ")
    fed = 13
    while not head.feed(chunk):
        fed += len(chunk)
        assert fed < 100 << 20
    assert fed < 65536 + 13  # stopped within the first chunk
    assert len(head.buf) <= http.MAX_RESPONSE_HEAD + http.RESPONSE_FIELD_SIZE
    resp = head.result({"status": None})
    assert resp["too_long"] == "status" and resp["status"] is None
    assert resp["status_line"].startswith("HTTP/1.1 200 AAA") and len(resp["status_line"]) <= 200
    assert head.feed(chunk)  # done stays done, nothing more is kept
    assert len(head.buf) <= http.MAX_RESPONSE_HEAD + http.RESPONSE_FIELD_SIZE


def test_a_huge_line_without_its_prefix_in_one_chunk():
    done, resp, head = parsed(b"X" * (1 << 20))
    assert done and resp["too_long"] == "status" and len(head.buf) <= http.MAX_RESPONSE_HEAD + http.RESPONSE_FIELD_SIZE


def test_many_short_headers_stop_at_the_cap():
    data = b"HTTP/1.1 200 OK\r\n" + b"X-A: b\r\n" * 100000
    done, resp, head = parsed(data, 4096)
    assert done and resp["status"] == 200 and not resp.get("too_long") and resp["head_complete"] is False
    assert len(head.buf) <= http.MAX_RESPONSE_HEAD + http.RESPONSE_FIELD_SIZE


@pytest.mark.parametrize("line, status, text", [
    (b"HTTP/1.1 200 OK", 200, "HTTP/1.1 200 OK"),
    (b"HTTP/1.0 502 Bad Gateway", 502, "HTTP/1.0 502 Bad Gateway"),
    (b"HTTP/1.1 204", 204, "HTTP/1.1 204"),
    (b"HTTP/1.1 2000 Big", None, "HTTP/1.1 2000 Big"),
    (b"HTTP/1.1 OK 200", None, "HTTP/1.1 OK 200"),
    (b"SSH-2.0-OpenSSH_9.2", None, "SSH-2.0-OpenSSH_9.2"),
    (b"", None, ""),
    (b"HTTP/1.1 \xb2\xb2\xb2 x", None, "HTTP/1.1 \xb2\xb2\xb2 x"),  # latin-1 superscript digits are no digits
    (b"HTTP/1.1 200 " + b"x" * 300, 200, "HTTP/1.1 200 " + "x" * 187),
])
def test_parse_status_line(line, status, text):
    assert http.parse_status_line(line) == (status, text)
