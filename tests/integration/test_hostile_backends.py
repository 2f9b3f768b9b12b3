"""backend_handshake against hostile backends and hostile input, in its own process as Ansible runs it.

Every hostile backend of tests/support/backends.py is checked in ONE module run (a child process started the way
Ansible starts a module: the module file with an args file), next to a good backend. Each backend must get its
reason within the module timeout (+ slack), the run as a whole must not take longer than the slowest backend, and
the child's peak RSS (os.wait4, so it is that process's own figure) must stay flat: about the same as a run against
one good backend, although two backends offer 100 MiB lines and two others endless bodies.

A real ansible-playbook run (-vvv) then checks CRLF and friends in backends[].host (the backend never sees a second
request) and that a private key given in backend_tls_defaults is refused and never printed.
"""
import json
import os
import subprocess
import sys
import threading
import time

import pytest

from support import backends, pki

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
COLLECTIONS = os.path.join(ROOT, ".build", "collections")
MODULE = os.path.join(ROOT, "plugins", "modules", "backend_handshake.py")
BIN = os.path.dirname(sys.executable)

TIMEOUT = 1.5           # the module's timeout per backend
SLACK_MS = 500          # a backend's elapsed_ms may exceed the timeout by this much
HUGE = 100 << 20        # 100 MiB status line / header line
RSS_LIMIT = 200 << 20   # absolute bound of the module process's peak RSS
RSS_FLAT = 64 << 20     # ... and at most this much above a run against one good backend


def run_module_process(args, tmp_path, timeout=60):
    """Run the module file in a child process with an Ansible args file. Returns (result, wall seconds, peak RSS in
    bytes of that child alone)."""
    args_path = tmp_path / ("args-%d.json" % time.monotonic_ns())
    args_path.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
    out_path, err_path = tmp_path / "stdout", tmp_path / "stderr"
    env = dict(os.environ, PYTHONPATH=COLLECTIONS)
    start = time.monotonic()
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen([sys.executable, MODULE, str(args_path)], stdout=out, stderr=err, env=env)
    killer = threading.Timer(timeout, proc.kill)
    killer.start()
    try:
        _pid, status, usage = os.wait4(proc.pid, 0)  # reaps the child: its own rusage, not all children's
    finally:
        killer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - start
    stdout, stderr = out_path.read_text(), err_path.read_text()
    assert "Traceback" not in stdout + stderr, stdout + stderr
    assert proc.returncode == 0, (proc.returncode, stdout[-3000:], stderr[-3000:])
    return json.loads(stdout), wall, usage.ru_maxrss * 1024  # ru_maxrss is in KiB on Linux


class Farm:
    def __init__(self):
        self.entries = []
        self.expect = {}
        self.servers = []

    def add(self, name, server, entry, reason, slow=False, text=None):
        if server is not None:
            self.servers.append(server)
        self.expect[name] = {"index": len(self.entries), "reason": reason, "slow": slow, "text": text,
                             "server": server}
        self.entries.append(entry)


@pytest.fixture(scope="module")
def farm(tmp_path_factory):
    f = pki.PKI(tmp_path_factory.mktemp("hostile-pki"))
    root = f.ca("Hostile Root CA")
    good = f.leaf("good", dns=["localhost"], issuer=root)
    nul_san = f.leaf("nulsan", dns=["localhost\x00.evil.test"], cn="nul-san", issuer=root)
    nul_cn = f.leaf("nulcn", cn="localhost\x00.evil.test", issuer=root)
    tls = {"ca_file": root.cert_path}
    farm = Farm()

    def https(server, **extra):
        return dict(tls, url="https://localhost:%d/" % server.port, **extra)

    def http(server):
        return {"url": "http://localhost:%d/" % server.port}

    try:
        b = backends.TLSBackend(good.chain_path, good.key_path)
        farm.add("control", b, https(b), "ok")
        farm.recorder = b
        b = backends.SilentBackend()
        farm.add("silent", b, https(b), "timeout", slow=True)
        b = backends.GarbageBackend(read_timeout=0.2)
        farm.add("garbage", b, https(b), "not_tls")
        b = backends.CloseMidHandshakeBackend()
        farm.add("close_mid_handshake", b, https(b), "connection_closed")
        b = backends.BlackholeBackend()
        farm.add("blackhole", b, dict(tls, url="https://127.0.0.1:%d/" % b.port), "connect_timeout", slow=True)
        b = backends.HugeChainBackend(f, length=59, name="localhost")  # leaf + 59 intermediates: 60 certificates
        farm.add("chain_60", b, dict(url="https://localhost:%d/" % b.port, ca_file=b.ca_path), "chain_too_long")
        b = backends.SlowlorisHandshakeBackend(interval=0.05)
        farm.add("slowloris_handshake", b, https(b), "timeout", slow=True)
        b = backends.SlowlorisResponseBackend(good.chain_path, good.key_path, interval=0.05)
        farm.add("slowloris_response", b, https(b), "response_timeout", slow=True)
        b = backends.SilentAfterHandshakeBackend(good.chain_path, good.key_path)
        farm.add("silent_after_tls", b, https(b), "response_timeout", slow=True)
        b = backends.EndlessBodyBackend(good.chain_path, good.key_path)
        farm.add("endless_body", b, https(b), "ok")
        b = backends.HugeLineBackend(good.chain_path, good.key_path, where="status", size=HUGE)
        farm.add("huge_status_line", b, https(b), "response_head_too_long", text="status line too long")
        b = backends.HugeLineBackend(good.chain_path, good.key_path, where="header", size=HUGE)
        farm.add("huge_header_line", b, https(b), "response_head_too_long", text="header line too long")
        b = backends.HugeLineBackend(where="status", size=HUGE, tls=False)
        farm.add("huge_status_line_http", b, http(b), "response_head_too_long", text="status line too long")
        b = backends.EndlessBodyBackend(tls=False)
        farm.add("endless_body_http", b, http(b), "ok")
        b = backends.TLSBackend(nul_san.chain_path, nul_san.key_path)
        farm.add("nul_in_san", b, https(b), "name_mismatch", text="localhost\\00.evil.test")
        b = backends.TLSBackend(nul_cn.chain_path, nul_cn.key_path)
        farm.add("nul_in_cn", b, https(b), "name_mismatch", text="localhost\\00.evil.test")
        farm.add("crlf_in_host", None, https(farm.recorder, preserve_host=True,
                                             host="localhost\r\nX-Injected: 1\r\n\r\nGET /admin HTTP/1.1\r\nHost: x"),
                 "invalid_input", text="backends[%d].host: must not contain CR, LF, NUL" % len(farm.entries))
        yield farm
    finally:
        for server in farm.servers:
            server.stop()


@pytest.fixture(scope="module")
def runs(farm, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile-run")
    base = {"fail_on": "never", "timeout": TIMEOUT, "concurrency": 64}
    baseline = run_module_process(dict(base, backends=[farm.entries[0]]), tmp)
    before = len(farm.recorder.requests)
    hostile = run_module_process(dict(base, backends=farm.entries), tmp)
    return {"baseline": baseline, "hostile": hostile, "recorder_requests": farm.recorder.requests[before:]}


CASES = ["control", "silent", "garbage", "close_mid_handshake", "blackhole", "chain_60", "slowloris_handshake",
         "slowloris_response", "silent_after_tls", "endless_body", "huge_status_line", "huge_header_line",
         "huge_status_line_http", "endless_body_http", "nul_in_san", "nul_in_cn", "crlf_in_host"]


def test_every_case_is_listed(farm):
    assert sorted(farm.expect) == sorted(CASES)


@pytest.mark.parametrize("name", CASES)
def test_hostile_backend(farm, runs, name):
    expect = farm.expect[name]
    result, _wall, _rss = runs["hostile"]
    res = result["backends"][expect["index"]]
    detail = "%s: %s %s" % (name, res["reason"], res["message"])
    assert res["reason"] == expect["reason"], detail
    assert res["ok"] is (expect["reason"] == "ok"), detail
    if expect["text"]:
        assert expect["text"] in res["message"], detail
    # within its timeout, plus slack; the ones that do not wait for the timeout are well under it
    assert res["elapsed_ms"] <= TIMEOUT * 1000 + SLACK_MS, detail
    if expect["slow"]:
        assert res["elapsed_ms"] >= TIMEOUT * 1000 - 100, detail
    else:
        assert res["elapsed_ms"] < TIMEOUT * 1000, detail
    if name.startswith("huge"):
        assert res["http_status"] == 502 and expect["server"].sent < HUGE, detail  # not read to the end
    if name.startswith("endless"):
        assert res["http_status"] == 200 and res["message"].endswith("backend answered 200"), detail


def test_whole_run_is_bounded_by_one_timeout(runs):
    _result, wall, _rss = runs["hostile"]
    _b, baseline_wall, _brss = runs["baseline"]
    # the backends run concurrently: the slowest one's timeout, not the sum (process start-up included)
    assert wall < baseline_wall + TIMEOUT + 1.5, (wall, baseline_wall)


def test_memory_stays_flat(runs):
    _result, _wall, rss = runs["hostile"]
    _b, _bw, baseline_rss = runs["baseline"]
    assert rss < RSS_LIMIT, rss
    assert rss < baseline_rss + RSS_FLAT, (rss, baseline_rss)


def test_crlf_host_sent_nothing_to_the_backend(farm, runs):
    # the control backend got exactly the control check's request; the CRLF entry never connected to it
    requests = runs["recorder_requests"]
    assert len(requests) == 1, requests
    assert requests[0]["headers"]["host"] == "localhost:%d" % farm.recorder.port
    assert all("x-injected" not in r["headers"] and r["path"] == "/" for r in requests)


PLAYBOOK = """\
- name: Hostile input through Ansible
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Check backends, some with hostile host values
      revproxy.tls.backend_handshake:
        backends: "{{ hostile_backends }}"
        fail_on: never
        timeout: 2
      register: hostile

    - name: A private key in backend_tls_defaults is refused
      revproxy.tls.backend_handshake:
        sites: "{{ hostile_sites }}"
        backend_tls_defaults:
          verify: none
          client_key_content: "{{ hostile_key }}"
        timeout: 2
      register: defaults_key
      ignore_errors: true

    - name: Save the results
      ansible.builtin.copy:
        content: "{{ {'hostile': hostile, 'defaults_key': defaults_key} | to_json }}"
        dest: "{{ out }}"
        mode: "0600"
"""


def test_hostile_host_and_secret_defaults_through_ansible(farm, tmp_path):
    recorder = farm.recorder
    url = "https://localhost:%d/" % recorder.port
    good = {"url": url, "ca_file": farm.entries[0]["ca_file"]}
    hosts = ["localhost\r\nX-Injected: 1", "localhost\nX-Injected: 1", "localhost\x00.evil.test",
             "a" * 64 + ".test", "b\u00fccher.test", "[fe80::1%eth0]:443", "localhost:99999"]
    # The last one differs from the first by its path: identical checks run once (one check per distinct backend),
    # and this test counts the requests that reached the backend.
    hostile_backends = [good] + [dict(good, preserve_host=True, host=h) for h in hosts] + [dict(good, url=url + "2")]
    key = pki.PKI(tmp_path / "pki").self_signed("client", cn="client", client=True)
    sites = [{"name": "shop", "server_name": "shop.example",
              "locations": [{"path": "/", "backend": url}], "backend_tls": {"verify": "none"}}]
    play = tmp_path / "play.yml"
    play.write_text(PLAYBOOK)
    out = tmp_path / "out.json"
    extra = {"hostile_backends": hostile_backends, "hostile_sites": sites, "hostile_key": key.key_pem,
             "out": str(out), "ansible_python_interpreter": sys.executable}
    extra_path = tmp_path / "extra.json"
    extra_path.write_text(json.dumps(extra))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_NOCOLOR="1", ANSIBLE_INJECT_INVOCATION="1",
               ANSIBLE_CONFIG=os.path.join(ROOT, "tests", "ansible.cfg"))
    before = len(recorder.requests)
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-vvv", "-i", "localhost,", "-c", "local",
                           str(play), "-e", "@%s" % extra_path], env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-6000:]
    assert "Traceback" not in output
    results = json.loads(out.read_text())
    hostile = results["hostile"]
    reasons = [b["reason"] for b in hostile["backends"]]
    assert reasons == ["ok"] + ["invalid_input"] * len(hosts) + ["ok"], hostile["msg"]
    for index in range(1, len(hosts) + 1):
        assert hostile["backends"][index]["message"].startswith(
            "invalid input, not checked: backends[%d].host: " % index), hostile["backends"][index]
    seen = recorder.requests[before:]
    assert len(seen) == 2 and all(r["headers"]["host"] == "localhost:%d" % recorder.port for r in seen), seen
    assert not any("x-injected" in r["headers"] for r in seen)
    refused = results["defaults_key"]
    assert refused["failed"] and refused["msg"].startswith(
        "backend_tls_defaults.client_key_content: is not accepted in the defaults"), refused
    masked = refused["invocation"]["module_args"]["backend_tls_defaults"]["client_key_content"]
    assert masked == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    # the key is never printed: not with -vvv, not in the registered result
    for line in key.key_pem.splitlines()[1:-1]:
        assert line not in output and line not in out.read_text()
