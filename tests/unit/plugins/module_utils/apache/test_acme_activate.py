"""The role's cron job that activates renewed ACME certificates (roles/apache_proxy/files/revproxy-tls-acme-activate):
it restarts gracefully only when mod_md holds a renewed certificate, against a real HTTP status server on loopback."""
import http.server
import importlib.machinery
import importlib.util
import json
import os
import threading

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "..", "..", "..", "..", "..", "roles", "apache_proxy", "files", "revproxy-tls-acme-activate")


def _load():
    loader = importlib.machinery.SourceFileLoader("revproxy_tls_acme_activate", SCRIPT)
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


activate = _load()
STAGED = {"name": "a.test", "renewal": {"finished": True, "last": {"status": 0}}}
FAILED = {"name": "b.test", "renewal": {"finished": False, "last": {"status": 22}}}
ACTIVE = {"name": "c.test", "state": 2}


@pytest.mark.parametrize("mds, names", [
    ([], []), ([ACTIVE], []), ([FAILED], []), ([STAGED], ["a.test"]), ([ACTIVE, STAGED, FAILED], ["a.test"]),
    (["junk", None, {"renewal": None}], []),
])
def test_staged(mds, names):
    assert activate.staged(mds) == names


@pytest.fixture()
def status_server():
    answer = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            body = json.dumps(answer).encode()
            self.send_response(200 if self.path == "/md-status" else 404)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], answer
    finally:
        server.shutdown()
        server.server_close()


def test_restarts_only_when_a_certificate_waits(status_server, tmp_path):
    port, answer = status_server
    flag = tmp_path / "restarted"
    cmd = ["/bin/sh", "-c", 'echo once >> "$0"', str(flag)]
    answer["managed-domains"] = [ACTIVE, FAILED]
    assert activate.main(["x", str(port)] + cmd) == 0 and not flag.exists()
    answer["managed-domains"] = [ACTIVE, STAGED]
    assert activate.main(["x", str(port)] + cmd) == 0 and flag.read_text() == "once\n"
    assert activate.main(["x", str(port), "/bin/false"]) == 1


def test_unreadable_status_and_bad_usage(status_server):
    port, _answer = status_server
    assert activate.main(["x", "1", "true"]) == 2  # nothing listens on port 1
    assert activate.main(["x", "port", "true"]) == 2
    assert activate.main(["x", str(port)]) == 2
