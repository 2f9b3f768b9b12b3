"""The deploy engine on a scratch Debian-style tree: atomic apply, staged and durable writes, exact restore."""
import os

import pytest

from ansible_collections.revproxy.tls.plugins.module_utils.apache._plan import desired_state, plan
from ansible_collections.revproxy.tls.plugins.module_utils.deploy import _files
from ansible_collections.revproxy.tls.plugins.module_utils.deploy._transaction import (
    BACKUP_SUFFIX,
    apply,
    cleanup_backups,
    restore,
)
from support.apache_model import normalize_sites

from support.debian_tree import converge, debian_layout, sites
from support.pemdata import CERT, KEY  # noqa: E402  real PEM: contents are parsed


@pytest.fixture()
def layout(tmp_path):
    return debian_layout(tmp_path)


def test_secret_file_mode_and_restore(layout):
    eff = normalize_sites([{"name": "m", "server_name": "m.example.com",
                            "locations": [{"path": "/", "backend": "https://m.internal/"}],
                            "backend_tls": {"ca_content": CERT, "client_cert_content": CERT,
                                            "client_key_content": KEY}}], tls_dir=layout.tls_dir)
    actions = plan(desired_state(eff, layout, "warn"), layout)
    backups = apply(actions)
    key_path = os.path.join(layout.tls_dir, "m", "proxy-client.pem")
    assert os.stat(key_path).st_mode & 0o777 == 0o600
    assert os.stat(os.path.join(layout.tls_dir, "m", "backend-ca.pem")).st_mode & 0o777 == 0o644
    restore(backups)
    assert not os.path.exists(key_path)
    assert not os.path.exists(os.path.join(layout.d("sites-available"), "m.conf"))


def test_changed_file_restored_from_backup(layout):
    converge(layout, sites("a"))
    path = os.path.join(layout.d("sites-available"), "a.conf")
    before = open(path).read()
    backups = apply(plan(desired_state(sites("a", verify_depth=7), layout, "warn"), layout))
    assert "SSLProxyVerifyDepth 7" in open(path).read()
    assert os.path.exists(path + BACKUP_SUFFIX)
    restore(backups)
    assert open(path).read() == before
    assert not os.path.exists(path + BACKUP_SUFFIX)


def _leftovers(root):
    return sorted(os.path.join(d, f) for d, _dirs, files in os.walk(root) for f in files if f.startswith(".revproxy-"))


@pytest.mark.parametrize("syncfs", [True, False], ids=["one syncfs", "no syncfs: fsync each staged file"])
def test_writes_are_staged_and_made_durable_before_any_rename(layout, monkeypatch, syncfs):
    """The new contents are staged next to their paths and synced (one syncfs per filesystem, or an fsync per file
    where syncfs fails) before the first rename puts any of them in place."""
    converge(layout, sites("a"))
    events = []
    real_syncfs, real_fsync, real_rename = _files.syncfs, os.fsync, os.rename
    monkeypatch.setattr(_files, "syncfs", lambda fd: events.append("syncfs") or (syncfs and real_syncfs(fd)))
    monkeypatch.setattr(_files.os, "fsync", lambda fd: events.append("fsync") or real_fsync(fd))
    monkeypatch.setattr(_files.os, "rename", lambda a, b: events.append("rename") or real_rename(a, b))
    backups = apply(plan(desired_state(sites("a", "b", "c", verify_depth=7), layout, "warn"), layout))
    renames = [i for i, e in enumerate(events) if e == "rename"]
    syncs = [i for i, e in enumerate(events) if e in ("syncfs", "fsync")]
    assert len(renames) == 5 and max(syncs) < min(renames)  # three vhosts written (a changed, b and c new), two links
    assert events.count("syncfs") == 1 and events.count("fsync") == (0 if syncfs else 3)
    assert "SSLProxyVerifyDepth 7" in open(os.path.join(layout.d("sites-available"), "c.conf")).read()
    assert _leftovers(layout.config_root) == []
    cleanup_backups(backups)


def test_failed_apply_leaves_no_staged_file_and_restores(layout, monkeypatch):
    converge(layout, sites("a"))
    before = open(os.path.join(layout.d("sites-available"), "a.conf")).read()
    real_rename = os.rename

    def failing_rename(src, dst):  # the second of three staged vhosts cannot be put in place
        if dst.endswith("sites-available/b.conf"):
            raise OSError(5, "Input/output error")
        return real_rename(src, dst)
    monkeypatch.setattr(_files.os, "rename", failing_rename)
    with pytest.raises(OSError):
        apply(plan(desired_state(sites("a", "b", "c", verify_depth=7), layout, "warn"), layout))
    assert open(os.path.join(layout.d("sites-available"), "a.conf")).read() == before
    assert sorted(os.listdir(layout.d("sites-enabled"))) == ["000-default.conf", "a.conf"]
    assert not os.path.exists(os.path.join(layout.d("sites-available"), "b.conf"))
    assert _leftovers(layout.config_root) == []


def test_backup_never_follows_a_planted_symlink(layout, tmp_path):
    eff = normalize_sites([{"name": "m", "server_name": "m.example.com",
                            "locations": [{"path": "/", "backend": "https://m.internal/"}],
                            "backend_tls": {"ca_content": CERT, "client_cert_content": CERT,
                                            "client_key_content": KEY}}], tls_dir=layout.tls_dir)
    converge(layout, eff)
    key_path = os.path.join(layout.tls_dir, "m", "proxy-client.pem")
    victim = tmp_path / "victim"
    victim.write_text("victim\n")
    os.symlink(str(victim), key_path + BACKUP_SUFFIX)
    eff[0]["contents"]["client_cert_file"] = CERT + KEY + "\n"
    backups = apply(plan(desired_state(eff, layout, "warn"), layout))
    assert victim.read_text() == "victim\n"
    assert not os.path.islink(key_path + BACKUP_SUFFIX)
    assert os.stat(key_path + BACKUP_SUFFIX).st_mode & 0o777 == 0o600
    assert os.stat(key_path).st_mode & 0o777 == 0o600
    cleanup_backups(backups)


class _Entry:
    def __init__(self, path, content="x\n", mode=0o644, link_to=None):
        self.path, self.content, self.mode, self.link_to = path, content, mode, link_to


def _tree(root):
    out = {}
    for base, dirs, files in os.walk(str(root)):
        for name in dirs + files:
            path = os.path.join(base, name)
            out[os.path.relpath(path, str(root))] = (os.path.isdir(path), None if os.path.isdir(path) else
                                                     open(path, "rb").read())
    return out


def test_a_directory_where_a_file_goes_fails_the_apply_and_every_other_undo_is_made(tmp_path):
    """A directory standing where the plan writes a file makes the write fail; restore must still undo the writes
    before it (and leave that directory alone: it was never the change's)."""
    (tmp_path / "a.conf").write_text("old\n")
    (tmp_path / "b.conf").mkdir()
    before = _tree(tmp_path)
    actions = [{"action": "write", "entry": _Entry(str(tmp_path / "a.conf"), "new\n")},
               {"action": "write", "entry": _Entry(str(tmp_path / "new" / "dir" / "c.conf"))},
               {"action": "write", "entry": _Entry(str(tmp_path / "b.conf"))}]
    with pytest.raises(OSError):
        apply(actions)
    assert _tree(tmp_path) == before


def test_directories_made_for_a_write_that_fails_are_taken_away(tmp_path, monkeypatch):
    """The directories a write needs are recorded before the write: when it fails, restore removes them."""
    before = _tree(tmp_path)

    def failing(directory, content, mode, sync=True):
        raise OSError(5, "injected I/O error")  # the new file cannot be made (ENOSPC, EIO) once its directory is
    monkeypatch.setattr(_files, "new_file", failing)
    with pytest.raises(OSError, match="injected"):
        apply([{"action": "write", "entry": _Entry(str(tmp_path / "x" / "y" / "z.conf"))}])
    assert _tree(tmp_path) == before
