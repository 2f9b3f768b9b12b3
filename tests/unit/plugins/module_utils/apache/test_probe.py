"""_probe.request against a local plain-HTTP listener: the status line parsed with _mod_ssl.parse_status_line."""
import socket
import threading

import pytest

from ansible_collections.revproxy.tls.plugins.module_utils.apache import _probe


def serve_once(answer):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    seen = {}

    def run():
        conn, _addr = listener.accept()
        with conn:
            seen["request"] = conn.recv(65536)
            conn.sendall(answer)
        listener.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return listener.getsockname()[1], thread, seen


def site(port):
    return {"listen": {"address": "*", "port": port}, "server_name": "front.test", "tls": False}


@pytest.mark.parametrize("answer, result", [
    (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", (200, None)),
    (b"HTTP/1.1 502 Proxy Error\r\n\r\n", (502, None)),
    (b"SSH-2.0-OpenSSH\r\n", (None, "no HTTP response (got 'SSH-2.0-OpenSSH')")),
    (b"HTTP/1.1 20 short\r\n", (None, "no HTTP response (got 'HTTP/1.1 20 short')")),
])
def test_request_status(answer, result):
    port, thread, seen = serve_once(answer)
    assert _probe.request(site(port), "/x", 5) == result
    thread.join(5)
    assert seen["request"].startswith(b"GET /x HTTP/1.1\r\nHost: front.test:%d\r\n" % port)


def test_request_connect_failure():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    status, error = _probe.request(site(port), "/", 2)
    assert status is None and error.startswith("connect to 127.0.0.1:%d failed" % port)
