"""Transactions restore exactly what was there: for every transition between site sets (add, change, remove; with and
without deployed content files; prune), apply it as a transaction, roll it back, and demand a tree byte-identical to
the one before (contents, modes, symlink targets, no leftovers) on which `apache2 -t` passes.

Runs on copies of the system's /etc/apache2 (the real Debian layout and main config), never on the live one; the copy
is taken under the system-Apache lock (conftest.LOCK_PATH), so that no other test or bench converges it meanwhile.

The rollback, commit, failed-apply and crash-recovery checks also run on a live Apache: an httpd started from the
copy (its envvars point the pid file, runtime and log directories at a private 0755 directory under /srv, its
ports.conf at a reserved port instead of 80/443), serving real backends (plain HTTP, TLS verified against the site's
CA, TLS with a client certificate). Before and after each transition it is reloaded (gracefully, after a config test,
as the role does) and every site's port is asked what it serves: the backend's answer, a 502 (the changed CA does not
verify the backend) or a refused connection (no such site). The `restore` variant and the `apache2 -t` checks stay on
per-transition copies.
"""
import errno
import fcntl
import http.client
import itertools
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile

import pytest

from ansible_collections.revproxy.tls.plugins.module_utils.apache._layout import Layout
from ansible_collections.revproxy.tls.plugins.module_utils.apache._plan import desired_state, is_managed, plan
from ansible_collections.revproxy.tls.plugins.module_utils.deploy._transaction import (
    apply,
    begin_transaction,
    cleanup_backups,
    commit,
    pending_transaction,
    restore,
    rollback,
)
from support.apache_model import normalize_sites
from conftest import LOCK_PATH, ROOT
from support.apache import TreeApache, reserve_port
from support.backends import PlainHTTPBackend, TLSBackend
from support.pki import PKI

pytestmark = pytest.mark.apache

LOG_LEVEL = "warn ssl:info"
SITES = ("plain", "cas", "keep", "mtls", "files")
PLAIN_BODY = b"plain backend: served through the proxy"
TLS_BODY = b"tls backend: verified with the site's CA"
MTLS_BODY = b"mtls backend: the proxy's client certificate was accepted"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    base = tmp_path_factory.mktemp("rollback-inputs")
    pki = PKI(str(base / "pki"))
    root = pki.ca("Rollback Root CA")
    other = pki.ca("Rollback Other CA")
    client = pki.leaf("rollback-client", dns=["client.test"], issuer=root, client=True)
    server = pki.leaf("rollback-backend", dns=["localhost"], issuer=root)
    files = base / "files"
    files.mkdir()
    (files / "client.pem").write_text(client.pem)
    (files / "client.key").write_text(client.key_pem)
    plain = PlainHTTPBackend(body=PLAIN_BODY)
    tls = TLSBackend(server.chain_path, server.key_path, body=TLS_BODY)
    mtls = TLSBackend(server.chain_path, server.key_path, body=MTLS_BODY, client_ca_path=root.cert_path)
    # The site ports, reserved for the module (the live Apache binds them as transitions add their Listen lines).
    ports = dict((name, reserve_port()) for name in SITES)
    try:
        yield {"root": root.pem, "other": other.pem, "client": client.pem, "key": client.key_pem,
               "cert_file": str(files / "client.pem"), "key_file": str(files / "client.key"),
               "plain_url": "http://localhost:%d/" % plain.port, "tls_url": "https://localhost:%d/" % tls.port,
               "mtls_url": "https://localhost:%d/" % mtls.port,
               "ports": dict((name, r.port) for name, r in ports.items())}
    finally:
        for server_ in (plain, tls, mtls):
            server_.stop()
        for reservation in ports.values():
            reservation.release()


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """A copy of /etc/apache2 without any site this collection manages."""
    dest = tmp_path_factory.mktemp("rollback-pristine") / "apache2"
    os.makedirs(os.path.dirname(LOCK_PATH), exist_ok=True)
    with open(LOCK_PATH, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        shutil.copytree("/etc/apache2", str(dest), symlinks=True)
    shutil.rmtree(str(dest / "revproxy-tls"), ignore_errors=True)
    for sub in ("sites-available", "sites-enabled", "conf-available", "conf-enabled"):
        for name in os.listdir(str(dest / sub)):
            path = str(dest / sub / name)
            if os.path.islink(path) and not os.path.exists(path):
                os.unlink(path)
            elif not os.path.islink(path) and is_managed(path):
                os.unlink(path)
    return str(dest)


@pytest.fixture(scope="module")
def live(pristine):
    """The pristine copy made servable, and an Apache running from it (started on the copy as it is, reloaded by
    each test): returns (the tree to copy before each transition, the TreeApache, its config root).

    Only what a second Apache beside the system's needs changes: envvars (pid file, runtime, lock and log
    directories under a private 0755 directory in /srv: children running as www-data cannot enter pytest's 0700
    tmp) and ports.conf (one reserved port on 127.0.0.1 instead of the system's 80 and 443)."""
    base = tempfile.mkdtemp(prefix="revproxy-rollback-", dir="/srv")
    os.chmod(base, 0o755)
    listen = reserve_port()
    template = os.path.join(base, "pristine")
    shutil.copytree(pristine, template, symlinks=True)
    with open(os.path.join(template, "envvars"), "a") as handle:
        handle.write("\n# test_rollback_transitions: a private instance\nexport APACHE_PID_FILE={b}/run/apache2.pid\n"
                     "export APACHE_RUN_DIR={b}/run\nexport APACHE_LOCK_DIR={b}/lock\nexport APACHE_LOG_DIR={b}/logs\n"
                     .format(b=base))
    with open(os.path.join(template, "ports.conf"), "w") as handle:
        handle.write("Listen 127.0.0.1:%d\n" % listen.port)
    root = os.path.join(base, "apache2")
    shutil.copytree(template, root, symlinks=True)
    httpd = TreeApache(root, listen.port, os.path.join(base, "logs", "error.log"))
    try:
        httpd.start()
        yield template, httpd, root
    finally:
        httpd.stop()
        listen.release()
        shutil.rmtree(base, ignore_errors=True)


def _site(name, port, backend, backend_tls=None):
    site = {"name": name, "server_name": "%s.test" % name, "listen": {"port": port},
            "locations": [{"path": "/", "backend": backend}]}
    if backend_tls is not None:
        site["backend_tls"] = backend_tls
    return site


def _states(inp):
    ports = inp["ports"]
    plain = _site("plain", ports["plain"], inp["plain_url"])
    cas = _site("cas", ports["cas"], inp["tls_url"], backend_tls={"ca_content": inp["root"]})
    cas_changed = _site("cas", ports["cas"], inp["tls_url"], backend_tls={"ca_content": inp["other"]})
    keep = _site("keep", ports["keep"], inp["plain_url"])
    mtls = _site("mtls", ports["mtls"], inp["mtls_url"],
                 backend_tls={"ca_content": inp["root"], "client_cert_content": inp["client"],
                              "client_key_content": inp["key"], "client_chain_content": inp["root"]})
    files = _site("files", ports["files"], inp["mtls_url"],
                  backend_tls={"ca_content": inp["root"], "client_cert_file": inp["cert_file"],
                               "client_key_file": inp["key_file"]})
    return {
        "empty": [],
        "plain": [plain],
        "cas": [cas],
        "cas+keep": [cas, keep],
        "cas-changed+keep": [cas_changed, keep],
        "keep": [keep],
        "mtls": [mtls],
        "files+plain": [files, plain],
    }


# What each site's port answers in each state: (status, first body line) from the backend; 500 where the proxy
# refuses the backend's certificate (the changed CA: mod_proxy answers a failed backend handshake with 500);
# "refused" where the state has no such site (no Listen for its port).
SERVED = {"plain": (200, PLAIN_BODY), "cas": (200, TLS_BODY), "keep": (200, PLAIN_BODY), "mtls": (200, MTLS_BODY),
          "files": (200, MTLS_BODY)}


def expected(state):
    want = dict((name, "refused") for name in SITES)
    for name in state.split("+"):
        if name == "cas-changed":
            want["cas"] = 500
        elif name != "empty":
            want[name] = SERVED[name]
    return want


def served(inp):
    """What every site port answers now (see SERVED; an error as its status alone)."""
    got = {}
    for name in SITES:
        conn = http.client.HTTPConnection("127.0.0.1", inp["ports"][name], timeout=15)
        try:
            conn.request("GET", "/", headers={"Host": "%s.test" % name})
            resp = conn.getresponse()
            body = resp.read()
            # The backends append the SNI and Host they saw: the first line says which backend answered.
            got[name] = (resp.status, body.split(b"\n", 1)[0]) if resp.status == 200 else resp.status
        except ConnectionRefusedError:
            got[name] = "refused"
        finally:
            conn.close()
    return got


def assert_serves(httpd, inp, state, when):
    """Reload the live Apache (as the role does after a change) and demand what ``state`` serves."""
    httpd.reload()
    got = served(inp)
    assert got == expected(state), "%s: the live Apache serves %r, not what %s serves" % (when, got, state)


def _layout(root):
    return Layout(config_root=root, envvars=os.path.join(root, "envvars"), binary="apache2",
                  tls_dir=os.path.join(root, "revproxy-tls"))


def _plan(sites, layout):
    return plan(desired_state(normalize_sites(sites, tls_dir=layout.tls_dir), layout, LOG_LEVEL), layout, prune=True)


def snapshot(root):
    """Every file, directory and link under root: (kind, mode, content or target)."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            rel = os.path.relpath(path, root)
            if stat.S_ISLNK(st.st_mode):
                found[rel] = ("link", os.readlink(path))
            elif stat.S_ISDIR(st.st_mode):
                found[rel] = ("dir", stat.S_IMODE(st.st_mode))
            else:
                with open(path, "rb") as handle:
                    found[rel] = ("file", stat.S_IMODE(st.st_mode), handle.read())
    return found


def config_test(root):
    cmd = ["/bin/sh", "-c", '. "$1/envvars"; mkdir -p "$APACHE_RUN_DIR"; exec apache2 -d "$1" -f "$1/apache2.conf" -t',
           "sh", root]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    return res.returncode == 0, (res.stdout + res.stderr).strip()


TRANSITIONS = list(itertools.permutations(["empty", "plain", "cas", "cas+keep", "cas-changed+keep", "keep", "mtls",
                                           "files+plain"], 2))


def _fresh(source, root, states, before):
    """``root`` as a fresh copy of ``source`` with the state ``before`` applied (and committed)."""
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(source, root, symlinks=True)
    layout = _layout(root)
    cleanup_backups(apply(_plan(states[before], layout)))
    return layout


@pytest.mark.parametrize("how", ["rollback", "restore"])
def test_rollback_restores_exactly(how, inputs, pristine, live, tmp_path):
    """Rollback: on the live Apache, every transition (TRANSITIONS is grouped by its first state: a group starts from
    a fresh copy, and each rollback must leave the tree as the group's start, which the next transition starts from).
    Restore: a subset, each on its own copy, config test only."""
    states = _states(inputs)
    template, httpd, live_root = live
    checked = 0
    current = None
    for before, after in TRANSITIONS:
        if how == "restore" and before not in ("cas+keep", "mtls", "empty"):
            continue  # restore() is rollback()'s engine: a subset suffices
        if how == "rollback":
            root = live_root
            if before != current:
                layout = _fresh(template, root, states, before)
                current = before
                assert_serves(httpd, inputs, before, "%s (applied on a fresh copy)" % before)
        else:
            root = str(tmp_path / ("%s-%s" % (before, after)).replace("+", "_"))
            layout = _fresh(pristine, root, states, before)
        want = snapshot(root)
        ok, output = config_test(root)
        assert ok, "%s: before state fails apache2 -t: %s" % (before, output)
        actions = _plan(states[after], layout)
        assert actions, "%s -> %s changes nothing" % (before, after)
        backups = apply(actions)
        if how == "rollback":
            begin_transaction(layout, backups)
            assert_serves(httpd, inputs, after, "%s -> %s (applied, not committed)" % (before, after))
            rollback(layout)
        else:
            restore(backups)
        got = snapshot(root)
        diff = sorted(set(want.items()) ^ set(got.items()))
        assert got == want, "%s -> %s -> rollback: tree differs: %r" % (before, after, [d[0] for d in diff][:10])
        ok, output = config_test(root)
        assert ok, "%s -> %s -> rollback: apache2 -t fails: %s" % (before, after, output)
        if how == "rollback":
            assert_serves(httpd, inputs, before, "%s -> %s -> rollback" % (before, after))
        else:
            shutil.rmtree(root)
        checked += 1
    assert checked >= 20


def test_commit_keeps_the_new_tree_and_no_backup(inputs, live):
    states = _states(inputs)
    template, httpd, root = live
    layout = _fresh(template, root, states, "cas+keep")
    assert_serves(httpd, inputs, "cas+keep", "before the change")
    backups = apply(_plan(states["keep"], layout))
    begin_transaction(layout, backups)
    assert_serves(httpd, inputs, "keep", "applied, not committed")
    want = snapshot(root)
    commit(layout)
    leftovers = [p for p in snapshot(root) if "revproxy-prev" in p or "revproxy-transaction" in p]
    assert leftovers == []
    assert not os.path.exists(os.path.join(root, "revproxy-tls", "cas"))
    assert config_test(root)[0]
    # The committed tree is the applied one without its backups and journal, and serves the same.
    assert dict((k, v) for k, v in want.items() if "revproxy-prev" not in k and "revproxy-transaction" not in k) \
        == snapshot(root)
    assert_serves(httpd, inputs, "keep", "committed")


def test_failed_apply_restores_the_tree_and_what_is_served(inputs, live, monkeypatch):
    """apply() fails part-way (an I/O error on putting its last new file in place, after the other files of the change
    are in place): it restores what it had done already, re-raises, and Apache serves what it served before."""
    states = _states(inputs)
    template, httpd, root = live
    layout = _fresh(template, root, states, "cas+keep")
    assert_serves(httpd, inputs, "cas+keep", "before the change")
    want = snapshot(root)
    actions = _plan(states["files+plain"], layout)
    new_writes = [i for i, act in enumerate(actions)
                  if act["action"] == "write" and not os.path.lexists(act["entry"].path)]
    assert new_writes and new_writes[-1] > 0, [act["action"] for act in actions]
    failing = actions[new_writes[-1]]["entry"].path
    real_rename = os.rename

    def rename(src, dst, *args, **kwargs):
        if dst == failing:
            raise OSError(errno.EIO, "injected: I/O error", dst)
        return real_rename(src, dst, *args, **kwargs)
    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(OSError, match="injected"):
        apply(actions)
    monkeypatch.undo()
    got = snapshot(root)
    diff = sorted(set(want.items()) ^ set(got.items()))
    assert got == want, "failed apply: tree differs: %r" % [d[0] for d in diff][:10]
    assert pending_transaction(layout) is None
    assert config_test(root)[0]
    assert_serves(httpd, inputs, "cas+keep", "after the failed apply")


CRASH = """
import json, os, signal, sys
sys.path[:0] = sys.argv[1].split(os.pathsep)  # the collection, and tests/ for support
from ansible_collections.revproxy.tls.plugins.module_utils.apache._layout import Layout
from ansible_collections.revproxy.tls.plugins.module_utils.apache._plan import desired_state, plan
from ansible_collections.revproxy.tls.plugins.module_utils.deploy._transaction import apply, begin_transaction
from support.apache_model import normalize_sites
root, sites, log_level = json.loads(sys.argv[2])
layout = Layout(config_root=root, envvars=os.path.join(root, "envvars"), binary="apache2",
                tls_dir=os.path.join(root, "revproxy-tls"))
entries = desired_state(normalize_sites(sites, tls_dir=layout.tls_dir), layout, log_level)
begin_transaction(layout, apply(plan(entries, layout, prune=True)))
os.kill(os.getpid(), signal.SIGKILL)  # the run dies between apply and commit/rollback
"""


def test_crash_between_apply_and_commit_is_rolled_back_by_the_next_run(inputs, live):
    """A process applies a change as a transaction and is killed before commit or rollback (after the reload: Apache
    serves the change). The next run finds the journal and rolls back (as apache_proxy_sites does before anything
    else): the tree is the one before, and so is what Apache serves once reloaded."""
    states = _states(inputs)
    template, httpd, root = live
    layout = _fresh(template, root, states, "mtls")
    assert_serves(httpd, inputs, "mtls", "before the change")
    want = snapshot(root)
    paths = os.pathsep.join([os.path.join(ROOT, ".build", "collections"), os.path.join(ROOT, "tests")])
    proc = subprocess.run([sys.executable, "-c", CRASH, paths,
                           json.dumps([root, states["cas-changed+keep"], LOG_LEVEL])],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert pending_transaction(layout) is not None
    assert_serves(httpd, inputs, "cas-changed+keep", "after the crash (the change was reloaded)")
    assert rollback(_layout(root))
    assert pending_transaction(layout) is None
    got = snapshot(root)
    diff = sorted(set(want.items()) ^ set(got.items()))
    assert got == want, "crash recovery: tree differs: %r" % [d[0] for d in diff][:10]
    assert config_test(root)[0]
    assert_serves(httpd, inputs, "mtls", "after the recovery")
