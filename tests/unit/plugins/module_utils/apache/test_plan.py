"""Plan/apply engine on a scratch Debian-style tree: plan, prune, refusals, atomic apply and restore."""
import os

import pytest

from ansible_collections.revproxy.tls.plugins.module_utils.apache import _apply
from ansible_collections.revproxy.tls.plugins.module_utils.apache._apply import (
    BACKUP_SUFFIX,
    Layout,
    _point_at_staged,
    apply,
    candidate_config_test,
    cleanup_backups,
    desired_state,
    live_config_test,
    plan,
    restore,
)
from ansible_collections.revproxy.tls.plugins.module_utils.model._backend_tls import ConfigError
from ansible_collections.revproxy.tls.plugins.module_utils.model._sites import normalize_sites

from support.pemdata import CERT, KEY, OTHER_KEY  # noqa: E402  real PEM: contents are parsed


@pytest.fixture()
def layout(tmp_path):
    root = tmp_path / "apache2"
    for sub in ("sites-available", "sites-enabled", "conf-available", "conf-enabled", "mods-available", "mods-enabled"):
        (root / sub).mkdir(parents=True)
    for mod in ("ssl", "proxy", "proxy_http", "headers", "socache_shmcb"):
        (root / "mods-available" / (mod + ".load")).write_text("LoadModule %s_module x.so\n" % mod)
    (root / "mods-available" / "ssl.conf").write_text("# ssl\n")
    (root / "ports.conf").write_text("Listen 80\n")
    (root / "apache2.conf").write_text("IncludeOptional mods-enabled/*.load\nInclude ports.conf\n"
                                       "IncludeOptional conf-enabled/*.conf\nIncludeOptional sites-enabled/*.conf\n")
    (root / "sites-available" / "000-default.conf").write_text("<VirtualHost *:80>\n</VirtualHost>\n")
    os.symlink("../sites-available/000-default.conf", str(root / "sites-enabled" / "000-default.conf"))
    return Layout(config_root=str(root), tls_dir=str(tmp_path / "tls"))


def sites(*names, **tls):
    return normalize_sites([{
        "name": name, "server_name": name + ".example.com",
        "locations": [{"path": "/", "backend": "https://%s.internal/" % name}],
        "backend_tls": dict({"ca_file": "/ca.pem"}, **tls),
    } for name in names], tls_dir="/unused")


def converge(layout, effective, prune=True):
    actions = plan(desired_state(effective, layout, "warn"), layout, prune=prune)
    cleanup_backups(apply(actions))
    return actions


def test_first_apply_then_nothing(layout):
    actions = converge(layout, sites("a", "b"))
    assert {a["action"] for a in actions} == {"write", "link"}
    assert os.readlink(os.path.join(layout.d("sites-enabled"), "a.conf")) == "../sites-available/a.conf"
    assert os.path.islink(os.path.join(layout.d("mods-enabled"), "ssl.load"))
    assert plan(desired_state(sites("a", "b"), layout, "warn"), layout) == []


def test_prune_removes_only_managed(layout):
    converge(layout, sites("a", "b"))
    actions = converge(layout, sites("a"))
    assert sorted((a["action"], os.path.basename(a["entry"].path)) for a in actions) == [
        ("remove", "b.conf"), ("remove", "b.conf")]
    assert os.path.exists(os.path.join(layout.d("sites-available"), "000-default.conf"))
    assert not os.path.exists(os.path.join(layout.d("sites-available"), "b.conf"))


def test_prune_off_keeps_unlisted(layout):
    converge(layout, sites("a", "b"))
    assert converge(layout, sites("a"), prune=False) == []


def test_refuses_to_overwrite_unmanaged(layout):
    with pytest.raises(ConfigError) as exc:
        plan(desired_state(sites("000-default"), layout, "warn"), layout)
    assert str(exc.value) == ("%s/000-default.conf exists and is not managed by revproxy.tls (no managed header); "
                              "refusing to overwrite it. Rename the site or remove the file" % layout.d("sites-available"))


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
    real_syncfs, real_fsync, real_rename = _apply._syncfs, os.fsync, os.rename
    monkeypatch.setattr(_apply, "_syncfs", lambda fd: events.append("syncfs") or (syncfs and real_syncfs(fd)))
    monkeypatch.setattr(_apply.os, "fsync", lambda fd: events.append("fsync") or real_fsync(fd))
    monkeypatch.setattr(_apply.os, "rename", lambda a, b: events.append("rename") or real_rename(a, b))
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
    monkeypatch.setattr(_apply.os, "rename", failing_rename)
    with pytest.raises(OSError):
        apply(plan(desired_state(sites("a", "b", "c", verify_depth=7), layout, "warn"), layout))
    assert open(os.path.join(layout.d("sites-available"), "a.conf")).read() == before
    assert sorted(os.listdir(layout.d("sites-enabled"))) == ["000-default.conf", "a.conf"]
    assert not os.path.exists(os.path.join(layout.d("sites-available"), "b.conf"))
    assert _leftovers(layout.config_root) == []


def test_combined_client_cert_reads_files(layout, tmp_path):
    (tmp_path / "c.pem").write_text(CERT)
    (tmp_path / "k.pem").write_text(KEY)
    eff = sites("a", client_cert_file=str(tmp_path / "c.pem"), client_key_file=str(tmp_path / "k.pem"))
    entries = desired_state(eff, layout, "warn")
    combined = [e for e in entries if e.path.endswith("proxy-client.pem")]
    assert combined[0].content == CERT + KEY and combined[0].mode == 0o600 and combined[0].secret


def test_missing_client_key_file_is_a_clear_error(layout, tmp_path):
    (tmp_path / "c.pem").write_text(CERT)
    eff = sites("a", client_cert_file=str(tmp_path / "c.pem"), client_key_file="/nonexistent/k.pem")
    with pytest.raises(ConfigError) as exc:
        desired_state(eff, layout, "warn")
    assert str(exc.value) == "site 'a': backend_tls.client_key_file: /nonexistent/k.pem does not exist on the proxy"


def test_candidate_tree_points_at_candidates_and_touches_nothing(layout):
    converge(layout, sites("a"))
    actions = plan(desired_state(sites("a", "b"), layout, "warn"), layout)
    snapshot = sorted(os.walk(layout.config_root))
    seen = {}

    def fake_run(cmd):
        main = cmd[-1]
        text = open(main).read()
        seen["main"] = text
        enabled = os.path.join(os.path.dirname(main), "sites-enabled")
        seen["sites"] = sorted(os.listdir(enabled))
        seen["b"] = open(os.path.join(enabled, "b.conf")).read()
        return 0, "Syntax OK", ""

    ok, output = candidate_config_test(actions, layout, fake_run)
    assert ok and output == "Syntax OK"
    assert "IncludeOptional %s/sites-enabled/*.conf" % layout.config_root not in seen["main"]
    assert seen["sites"] == ["000-default.conf", "a.conf", "b.conf"]
    assert "ServerName b.example.com" in seen["b"]
    assert sorted(os.walk(layout.config_root)) == snapshot


# The forms of the main config's Include of sites-enabled that the config tests rewrite (relative, absolute, quoted).
INCLUDE_FORMS = [
    "IncludeOptional sites-enabled/*.conf",
    "IncludeOptional {root}/sites-enabled/*.conf",
    'IncludeOptional "{root}/sites-enabled/*.conf"',
    "include {root}/sites-enabled/",
]


@pytest.mark.parametrize("include", INCLUDE_FORMS)
def test_candidate_test_follows_relative_and_absolute_includes(layout, include):
    with open(layout.main_config, "w") as handle:
        handle.write("Include ports.conf\n" + include.format(root=layout.config_root) + "\n")
    actions = plan(desired_state(sites("a"), layout, "warn"), layout)
    seen = {}

    def fake_run(cmd):
        seen["main"] = open(cmd[-1]).read()
        return 0, "Syntax OK", ""

    candidate_config_test(actions, layout, fake_run)
    assert "%s/sites-enabled" % layout.config_root not in seen["main"]
    assert "sites-enabled/" in seen["main"] and seen["main"].count("revproxy-tls-candidate-") == 1


@pytest.mark.parametrize("include", INCLUDE_FORMS)
def test_live_test_reads_the_live_enabled_dirs_without_a_tree_of_links(layout, include):
    """After the write, the live files are tested through the same main config copy as a candidate, its includes
    pointing at the live directories (no candidate tree: at 3000 sites that tree was 3000 links and copies)."""
    with open(layout.main_config, "w") as handle:
        handle.write("Include ports.conf\n" + include.format(root=layout.config_root) + "\n")
    converge(layout, sites("a"))
    snapshot = sorted(os.walk(layout.config_root))
    seen = {}

    def fake_run(cmd):
        seen["main"] = open(cmd[-1]).read()
        seen["workdir"] = sorted(os.listdir(os.path.dirname(cmd[-1])))
        return 1, "", "AH00526: Syntax error"

    ok, output = live_config_test(layout, fake_run)
    assert (ok, output) == (False, "AH00526: Syntax error")
    live = os.path.join(layout.config_root, "sites-enabled") + "/"
    assert live in seen["main"].splitlines()[1]
    assert seen["main"].count(live) == 1 and seen["workdir"] == ["apache2.conf"]
    assert sorted(os.walk(layout.config_root)) == snapshot


def test_stray_dot_conf_never_prunes_the_tls_dir(layout):
    converge(layout, sites("a"))
    os.makedirs(os.path.join(layout.tls_dir, "a"), exist_ok=True)
    with open(os.path.join(layout.d("sites-available"), ".conf"), "w") as handle:
        handle.write(open(os.path.join(layout.d("sites-available"), "a.conf")).read())
    actions = plan(desired_state(sites("a"), layout, "warn"), layout)
    assert [a for a in actions if a["action"] == "remove_dir"] == []
    assert all(a["entry"].path != layout.tls_dir for a in actions)


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


def test_symlink_in_the_tls_dir_is_refused_and_not_read(layout, tmp_path):
    victim = tmp_path / "secret"
    victim.write_text("TOP SECRET\n")
    os.makedirs(os.path.join(layout.tls_dir, "m"))
    os.symlink(str(victim), os.path.join(layout.tls_dir, "m", "backend-ca.pem"))
    eff = normalize_sites([{"name": "m", "server_name": "m.example.com",
                            "locations": [{"path": "/", "backend": "https://m.internal/"}],
                            "backend_tls": {"ca_content": CERT}}], tls_dir=layout.tls_dir)
    with pytest.raises(ConfigError) as exc:
        plan(desired_state(eff, layout, "warn"), layout)
    assert "is a symlink; refusing" in str(exc.value) and "TOP SECRET" not in str(exc.value)
    assert victim.read_text() == "TOP SECRET\n"


@pytest.mark.parametrize("what", ["directory", "junk", "mismatch", "fifo", "dev_zero"])
def test_client_key_file_problems_are_clear_errors(layout, tmp_path, what):
    (tmp_path / "c.pem").write_text(CERT)
    if what in ("fifo", "dev_zero"):  # never opened: a FIFO would block the module, /dev/zero fill its memory
        key = tmp_path / "fifo"
        if what == "fifo":
            os.mkfifo(str(key))
        else:
            key = "/dev/zero"
        want = "cannot read"
    elif what == "directory":
        key = tmp_path / "keydir"
        key.mkdir()
        want = "cannot read"
    elif what == "junk":
        key = tmp_path / "k.pem"
        key.write_text("-----BEGIN PRIVATE KEY-----\nMAMCAQA=\n-----END PRIVATE KEY-----\n")
        want = "is not a usable"
    else:
        key = tmp_path / "k.pem"
        key.write_text(OTHER_KEY)
        want = "does not belong to the certificate"
    eff = sites("a", client_cert_file=str(tmp_path / "c.pem"), client_key_file=str(key))
    with pytest.raises(ConfigError) as exc:
        desired_state(eff, layout, "warn")
    assert str(exc.value).startswith("site 'a': backend_tls.client_key_file") and want in str(exc.value)


@pytest.mark.parametrize("text, expected", [
    ('SSLProxyCACertificateFile "/t/a/ca.pem"\n', 'SSLProxyCACertificateFile "/w/0.pem"\n'),
    ('X "/t/a/ca.pem" "/t/b/ca.pem"\n', 'X "/w/0.pem" "/w/1.pem"\n'),
    # only a whole argument: a longer path, a prefix or an unquoted mention stays
    ('X "/t/a/ca.pem.old" "/t/a" /t/a/ca.pem\n', 'X "/t/a/ca.pem.old" "/t/a" /t/a/ca.pem\n'),
    ('X "other"\n', 'X "other"\n'),
])
def test_candidate_confs_point_at_the_staged_files(text, expected):
    staged = {"/t/a/ca.pem": "/w/0.pem", "/t/b/ca.pem": "/w/1.pem"}
    assert _point_at_staged(text, staged) == expected
    assert _point_at_staged(text, {}) == text


def test_candidate_tree_stages_deployed_contents(layout):
    eff = normalize_sites([{"name": "a", "server_name": "a.example.com", "backend_tls": {"ca_content": CERT},
                            "locations": [{"path": "/", "backend": "https://b.internal/"}]}],
                          tls_dir=layout.tls_dir)
    actions = plan(desired_state(eff, layout, "warn"), layout)
    seen = {}

    def fake_run(cmd):
        enabled = os.path.join(os.path.dirname(cmd[-1]), "sites-enabled")
        seen["a"] = open(os.path.join(enabled, "a.conf")).read()
        return 0, "Syntax OK", ""

    candidate_config_test(actions, layout, fake_run)
    live_ca = [a["entry"].path for a in actions if a["entry"].path.endswith(".pem")][0]
    assert '"%s"' % live_ca not in seen["a"]
    staged = [line.split('"')[1] for line in seen["a"].splitlines() if "SSLProxyCACertificateFile" in line][0]
    assert "revproxy-tls-candidate-" in staged and staged.endswith(".pem")
    assert not os.path.exists(live_ca)
