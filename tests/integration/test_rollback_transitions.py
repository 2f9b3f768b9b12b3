"""Transactions restore exactly what was there: for every transition between site sets (add, change, remove; with and
without deployed content files; prune), apply it as a transaction, roll it back, and demand a tree byte-identical to
the one before (contents, modes, symlink targets, no leftovers) on which `apache2 -t` passes.

Runs on a copy of the system's /etc/apache2 (the real Debian layout and main config), never on the live one; the copy
is taken under the system-Apache lock (conftest.LOCK_PATH), so that no other test or bench converges it meanwhile.
"""
import fcntl
import itertools
import os
import shutil
import stat
import subprocess

import pytest

from ansible_collections.revproxy.tls.plugins.module_utils.apache._apply import (
    Layout,
    apply,
    begin_transaction,
    cleanup_backups,
    desired_state,
    is_managed,
    plan,
    restore,
    rollback,
)
from ansible_collections.revproxy.tls.plugins.module_utils.model._sites import normalize_sites
from conftest import LOCK_PATH
from support.pki import PKI

pytestmark = pytest.mark.apache

LOG_LEVEL = "warn ssl:info"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    base = tmp_path_factory.mktemp("rollback-inputs")
    pki = PKI(str(base / "pki"))
    root = pki.ca("Rollback Root CA")
    other = pki.ca("Rollback Other CA")
    client = pki.leaf("rollback-client", dns=["client.test"], issuer=root, client=True)
    files = base / "files"
    files.mkdir()
    (files / "client.pem").write_text(client.pem)
    (files / "client.key").write_text(client.key_pem)
    return {"root": root.pem, "other": other.pem, "client": client.pem, "key": client.key_pem,
            "cert_file": str(files / "client.pem"), "key_file": str(files / "client.key")}


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


def _site(name, port, backend="https://backend.test:8443/", backend_tls=None):
    site = {"name": name, "server_name": "%s.test" % name, "listen": {"port": port},
            "locations": [{"path": "/", "backend": backend}]}
    if backend_tls is not None:
        site["backend_tls"] = backend_tls
    return site


def _states(inp):
    plain = _site("plain", 18601, backend="http://backend.test:8080/")
    cas = _site("cas", 18602, backend_tls={"ca_content": inp["root"]})
    cas_changed = _site("cas", 18602, backend_tls={"ca_content": inp["other"]})
    keep = _site("keep", 18603, backend="http://backend.test:8080/")
    mtls = _site("mtls", 18604, backend_tls={"ca_content": inp["root"], "client_cert_content": inp["client"],
                                             "client_key_content": inp["key"], "client_chain_content": inp["root"]})
    files = _site("files", 18605, backend_tls={"ca_content": inp["root"], "client_cert_file": inp["cert_file"],
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


@pytest.mark.parametrize("how", ["rollback", "restore"])
def test_rollback_restores_exactly(how, inputs, pristine, tmp_path):
    states = _states(inputs)
    checked = 0
    for before, after in TRANSITIONS:
        if how == "restore" and before not in ("cas+keep", "mtls", "empty"):
            continue  # restore() is rollback()'s engine: a subset suffices
        root = str(tmp_path / ("%s-%s" % (before, after)).replace("+", "_"))
        shutil.copytree(pristine, root, symlinks=True)
        layout = _layout(root)
        cleanup_backups(apply(_plan(states[before], layout)))
        want = snapshot(root)
        ok, output = config_test(root)
        assert ok, "%s: before state fails apache2 -t: %s" % (before, output)
        actions = _plan(states[after], layout)
        assert actions, "%s -> %s changes nothing" % (before, after)
        backups = apply(actions)
        if how == "rollback":
            begin_transaction(layout, backups)
            rollback(layout)
        else:
            restore(backups)
        got = snapshot(root)
        diff = sorted(set(want.items()) ^ set(got.items()))
        assert got == want, "%s -> %s -> rollback: tree differs: %r" % (before, after, [d[0] for d in diff][:10])
        ok, output = config_test(root)
        assert ok, "%s -> %s -> rollback: apache2 -t fails: %s" % (before, after, output)
        shutil.rmtree(root)
        checked += 1
    assert checked >= 20


def test_commit_keeps_the_new_tree_and_no_backup(inputs, pristine, tmp_path):
    states = _states(inputs)
    root = str(tmp_path / "commit")
    shutil.copytree(pristine, root, symlinks=True)
    layout = _layout(root)
    cleanup_backups(apply(_plan(states["cas+keep"], layout)))
    backups = apply(_plan(states["keep"], layout))
    begin_transaction(layout, backups)
    from ansible_collections.revproxy.tls.plugins.module_utils.apache._apply import commit  # pylint: disable=import-outside-toplevel
    commit(layout)
    leftovers = [p for p in snapshot(root) if "revproxy-prev" in p or "revproxy-transaction" in p]
    assert leftovers == []
    assert not os.path.exists(os.path.join(root, "revproxy-tls", "cas"))
    assert config_test(root)[0]
