"""_probe.request against a local plain-HTTP listener: the status line parsed with _mod_ssl.parse_status_line."""
import socket
import threading

import pytest

from ansible_collections.revproxy.tls.plugins.module_utils.apache import _probe
from ansible_collections.revproxy.tls.plugins.module_utils.apache._probe import location_ok, probe_sites, wait_for_reload


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


# Moved from test_safe_apply_units.py (assertions unchanged).
@pytest.mark.parametrize("probe_status,status,ok", [
    (None, 200, True), (None, 404, True), (None, 500, False), (None, 503, False), (None, None, False),
    ([200], 404, False), ([200, 401], 401, True),
])
def test_location_ok(probe_status, status, ok):
    assert location_ok({"probe_status": probe_status}, status) is ok


class Clock:
    def __init__(self):
        self.now = 0.0

    def time(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


@pytest.mark.parametrize("text,state", [
    ("AH00493: SIGUSR1 received\nAH00489: Apache configured -- resuming normal operations\n", "ready"),
    ("AH02312: Fatal error initialising mod_ssl, exiting.\nAH00020: Configuration Failed, exiting\n", "died"),
    ("AH00493: SIGUSR1 received\n", "unknown"),
])
def test_wait_for_reload(tmp_path, text, state):
    log = tmp_path / "error.log"
    log.write_text("before\n" + text)
    clock = Clock()
    got, lines = wait_for_reload(str(log), len("before\n"), 5, sleep=clock.sleep, clock=clock.time)
    assert got == state
    assert "before" not in lines


def test_probe_retries_a_failing_location_until_settled():
    answers = iter([(503, None), (503, None), (200, None)])
    clock = Clock()
    site = {"name": "a", "locations": [{"path": "/", "backend": "https://b/", "probe_status": None}]}
    out = probe_sites([site], settle=3, sleep=clock.sleep, clock=clock.time, do_request=lambda *a: next(answers))
    assert out == [{"name": "a", "ok": True, "locations": [
        {"path": "/", "backend": "https://b/", "status": 200, "ok": True, "error": None,
         "expected": "any status below 500"}]}]


LOCS = [{"path": "/", "backend": "https://root/"}, {"path": "/api", "backend": "https://api/"},
        {"path": "/api/v2/", "backend": "https://v2/"}]


@pytest.mark.parametrize("path, backend", [
    ("/", "https://root/"),
    ("/index.html", "https://root/"),
    ("/api", "https://api/"),
    ("/api/users", "https://api/"),
    ("/apix", "https://root/"),          # a prefix match is by path segment, as ProxyPass's is
    ("/api/v2/x", "https://v2/"),        # the longest prefix wins
    ("/api/v2", "https://api/"),         # "/api/v2/" does not match "/api/v2" (ProxyPass compares the trailing slash)
])
def test_location_for_names_the_longest_prefix(path, backend):
    target = _probe.location_for({"locations": LOCS}, path)
    assert target["path"] == path and target["backend"] == backend


def test_location_for_without_match_has_no_backend():
    assert _probe.location_for({"locations": [{"path": "/api", "backend": "https://api/"}]}, "/other") == {
        "backend": None, "path": "/other"}


def test_targeted_overrides_path_and_host_without_touching_the_input():
    sites = [dict(site(1), name="a", locations=list(LOCS))]
    out = _probe.targeted(sites, path="/api/x", host="alias.test")
    assert out[0]["server_name"] == "alias.test"
    assert out[0]["locations"] == [{"path": "/api/x", "backend": "https://api/"}]
    assert sites[0]["server_name"] == "front.test" and len(sites[0]["locations"]) == 3
    assert _probe.targeted(sites) == sites
