"""The plan on a scratch Debian-style tree: desired state, plan, prune, refusals, client certificate files."""
import os

import pytest

from ansible_collections.revproxy.tls.plugins.module_utils.apache._plan import desired_state, plan
from ansible_collections.revproxy.tls.plugins.module_utils.model._backend_tls import ConfigError
from support.apache_model import normalize_sites

from support.debian_tree import converge, debian_layout, sites
from support.pemdata import CERT, KEY, OTHER_KEY  # noqa: E402  real PEM: contents are parsed


@pytest.fixture()
def layout(tmp_path):
    return debian_layout(tmp_path)


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


def test_stray_dot_conf_never_prunes_the_tls_dir(layout):
    converge(layout, sites("a"))
    os.makedirs(os.path.join(layout.tls_dir, "a"), exist_ok=True)
    with open(os.path.join(layout.d("sites-available"), ".conf"), "w") as handle:
        handle.write(open(os.path.join(layout.d("sites-available"), "a.conf")).read())
    actions = plan(desired_state(sites("a"), layout, "warn"), layout)
    assert [a for a in actions if a["action"] == "remove_dir"] == []
    assert all(a["entry"].path != layout.tls_dir for a in actions)


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
