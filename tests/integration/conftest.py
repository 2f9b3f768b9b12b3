"""Fixtures for integration tests that run the collection through ansible-playbook against this machine.

`system_apache` gives a test exclusive use of the system Apache (/etc/apache2, the service the role manages): an
flock serialises tests and benchmarks that converge it, and afterwards every managed site is pruned again so the
next test starts from a clean slate. `run_playbook` runs a playbook text on localhost with the venv's Python.
"""
import contextlib
import fcntl
import hashlib
import http.client
import json
import os
import re
import subprocess
import sys
import tempfile
import time

import pytest

from support.apache import reserve_port

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
VENV_BIN = os.path.dirname(sys.executable)
LOCK_PATH = "/run/lock/revproxy-tls-system-apache.lock"
CONFIG_ROOT = "/etc/apache2"
PROXY_PORT = 18481
# The managed node's Python for the modules: this venv's, or another one (the matrix stage of scripts/test.sh).
MODULE_PYTHON = os.environ.get("REVPROXY_TEST_MODULE_PYTHON") or sys.executable


def get(path="/", host="front.test", port=PROXY_PORT, wait=10.0):
    """GET through the proxy on 127.0.0.1 with a Host header: (status, body). A graceful reload reopens a newly
    added listener a moment after `service reload` returns (a run with the probe off does not wait for it), so a
    refused connection is retried for up to `wait` seconds; any answer is returned as it is."""
    deadline = time.monotonic() + wait
    while True:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
        try:
            conn.request("GET", path, headers={"Host": host})
            resp = conn.getresponse()
            return resp.status, resp.read().decode("utf-8", "replace")
        except ConnectionRefusedError:
            if time.monotonic() >= deadline:
                raise
        finally:
            conn.close()
        time.sleep(0.2)


def snapshot():
    """Hash of every file and link under the Apache config (which holds the deployed TLS dir)."""
    digest = hashlib.sha256()
    for dirpath, dirnames, filenames in sorted(os.walk(CONFIG_ROOT)):
        dirnames.sort()
        for name in sorted(filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]):
            path = os.path.join(dirpath, name)
            digest.update(path.encode())
            if os.path.islink(path):
                digest.update(os.readlink(path).encode())
            elif os.path.isfile(path):
                with open(path, "rb") as handle:
                    digest.update(handle.read())
    return digest.hexdigest()


class PlaybookResult:
    """rc, output and the per-host recap counters of one ansible-playbook run. Reading a counter (ok, changed,
    unreachable, failed) of a run whose output has no PLAY RECAP line for localhost fails the test: a missing recap
    must not read as changed=0."""

    def __init__(self, proc):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.output = proc.stdout + proc.stderr
        match = re.search(r"localhost\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", proc.stdout)
        self.recap = tuple(int(g) for g in match.groups()) if match else None

    def _counter(self, index):
        assert self.recap is not None, "no PLAY RECAP for localhost in the output:\n%s" % self
        return self.recap[index]

    ok = property(lambda self: self._counter(0))
    changed = property(lambda self: self._counter(1))
    unreachable = property(lambda self: self._counter(2))
    failed = property(lambda self: self._counter(3))

    def __repr__(self):
        counters = "changed=%s, failed=%s" % self.recap[1::2] if self.recap else "no recap"
        head = "PlaybookResult(rc=%s, %s)" % (self.rc, counters)
        return "%s\n%s\n%s" % (head, self.stdout[-6000:], self.stderr[-3000:])


def run_playbook(text, extra_vars=None, check=False, diff=False, timeout=600, env=None):
    """Run a playbook given as YAML text on localhost; returns a PlaybookResult."""
    with tempfile.TemporaryDirectory(prefix="revproxy-play-") as tmp:
        play = os.path.join(tmp, "play.yml")
        with open(play, "w") as handle:
            handle.write(text)
        cmd = [os.path.join(VENV_BIN, "ansible-playbook"), "-i", "localhost,", "-c", "local",
               "-e", "ansible_python_interpreter=%s" % MODULE_PYTHON, play]
        if extra_vars:
            path = os.path.join(tmp, "extra.json")
            with open(path, "w") as handle:
                json.dump(extra_vars, handle)
            cmd += ["-e", "@" + path]
        if check:
            cmd.append("--check")
        if diff:
            cmd.append("--diff")
        full_env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".build", "collections"),
                        ANSIBLE_CONFIG=os.path.join(ROOT, "tests", "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                        ANSIBLE_FORCE_COLOR="0", PATH=VENV_BIN + os.pathsep + os.environ.get("PATH", ""))
        full_env.update(env or {})
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=full_env, check=False)
        return PlaybookResult(proc)


ROLE_PLAY = """
- name: Apply apache_proxy
  hosts: localhost
  gather_facts: false
  roles:
    - role: revproxy.tls.apache_proxy
"""


def apply_role(sites, check=False, diff=False, **role_vars):
    """Apply the apache_proxy role to this machine with the given sites (and other role variables)."""
    extra = dict(role_vars, apache_proxy_sites=sites)
    return run_playbook(ROLE_PLAY, extra, check=check, diff=diff)


def already_pruned():
    """True when the role with no sites would change nothing here and Apache runs: the previous test's teardown left
    it so. The planner itself says so (the role's own plan, in this process), so a left-over managed site, module,
    Listen file or unfinished change makes it False."""
    from ansible_collections.revproxy.tls.plugins.module_utils.apache._layout import Layout
    from ansible_collections.revproxy.tls.plugins.module_utils.apache._plan import desired_state, plan
    from ansible_collections.revproxy.tls.plugins.module_utils.deploy._transaction import pending_transaction
    from ansible_collections.revproxy.tls.plugins.module_utils.model import _grammar
    layout = Layout.debian()
    if pending_transaction(layout) is not None:
        return False
    if plan(desired_state([], layout, _grammar.log_level("warn ssl:info")), layout, prune=True):
        return False
    try:
        with open("/var/run/apache2/apache2.pid") as handle:
            os.kill(int(handle.read().strip()), 0)
    except (OSError, ValueError):
        return False
    return True


@contextlib.contextmanager
def _ports_held():
    """take(host="0.0.0.0") -> a reserved port; every port taken is released when the block ends."""
    held = []

    def take(host="0.0.0.0"):
        reservation = reserve_port(host)
        held.append(reservation)
        return reservation.port
    try:
        yield take
    finally:
        for reservation in held:
            reservation.release()


@pytest.fixture()
def reserved_port():
    """reserved_port(host="0.0.0.0") -> a port held until the test ends (support.apache.PortReservation): for a port
    a server binds later (Apache, through the role or not; a subprocess; a backend restarted on the same port), and
    for a port that must refuse connections (bound, never listening). free_port() would release it at once."""
    with _ports_held() as take:
        yield take


@pytest.fixture(scope="module")
def module_port():
    """reserved_port for a module's fixtures: the ports are held until the module's tests are done."""
    with _ports_held() as take:
        yield take


@pytest.fixture()
def system_apache():
    """Exclusive use of the system Apache for one test; managed sites are pruned before (unless the planner says
    there is nothing to prune and Apache runs) and after."""
    os.makedirs(os.path.dirname(LOCK_PATH), exist_ok=True)
    with open(LOCK_PATH, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        # Apache is installed by then (make setup, or the test before): pruning skips the package task.
        if not already_pruned():
            res = apply_role([], apache_proxy_install=False)
            assert res.rc == 0, res
        try:
            yield
        finally:
            res = apply_role([], apache_proxy_install=False)
            assert res.rc == 0, res
