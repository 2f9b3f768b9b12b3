"""Adopt (apache/_adopt, model/_replaces): which hand-written files a site may replace, how each is disabled inside the
deploy engine's transaction (and restored byte-identical), and the comparison with the running vhosts.

Scratch Debian and RHEL trees in tmp_path; hostile paths are real files, links, a FIFO and a directory there. Every
refusal leaves the tree as it was (the plan reads only)."""
import hashlib
import os
import signal

import pytest

from ansible_collections.revproxy.tls.plugins.module_utils.apache import _adopt
from ansible_collections.revproxy.tls.plugins.module_utils.apache._layout import Layout
from ansible_collections.revproxy.tls.plugins.module_utils.apache._plan import desired_state, plan
from ansible_collections.revproxy.tls.plugins.module_utils.apache._render import MANAGED_MARKER
from ansible_collections.revproxy.tls.plugins.module_utils.deploy._transaction import apply, cleanup_backups, restore
from ansible_collections.revproxy.tls.plugins.module_utils.model._backend_tls import ConfigError
from ansible_collections.revproxy.tls.plugins.module_utils.model import _replaces
from support.apache_model import normalize_sites
from support.debian_tree import debian_layout

HAND = "<VirtualHost *:80>\n    ServerName shop.example.com\n    ServerAlias www.shop.example.com\n" \
       "    Redirect 307 / http://hand.invalid/\n</VirtualHost>\n"


@pytest.fixture(autouse=True)
def watchdog():
    """Opening a FIFO must never block: the test fails after 5 s instead of hanging."""
    def timeout(_signum, _frame):
        raise AssertionError("blocked")
    old = signal.signal(signal.SIGALRM, timeout)
    signal.alarm(5)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


def site(replaces, name="shop", port=80, aliases=("www.shop.example.com",), tls=None, address=None):
    raw = {"name": name, "server_name": "shop.example.com", "server_aliases": list(aliases),
           "listen": dict({"port": port}, **({"address": address} if address else {})),
           "locations": [{"path": "/", "backend": "http://127.0.0.1:8080/"}], "replaces": replaces}
    if tls:
        raw["tls"] = tls
    return normalize_sites([raw], tls_dir="/unused")[0]


def tree_digest(root):
    digest = hashlib.sha256()
    for dirpath, dirnames, filenames in sorted(os.walk(root)):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            digest.update(("%s %o\n" % (os.path.relpath(path, root), st.st_mode)).encode())
            if os.path.islink(path):
                digest.update(os.readlink(path).encode())
            elif os.path.isfile(path):
                with open(path, "rb") as handle:
                    digest.update(handle.read())
    return digest.hexdigest()


@pytest.fixture()
def debian(tmp_path):
    layout = debian_layout(tmp_path)
    avail = layout.d("sites-available")
    with open(os.path.join(avail, "hand.conf"), "w") as handle:
        handle.write(HAND)
    os.chmod(os.path.join(avail, "hand.conf"), 0o640)
    os.symlink("../sites-available/hand.conf", layout.d("sites-enabled/hand.conf"))
    return layout


@pytest.fixture()
def redhat(tmp_path):
    root = tmp_path / "httpd"
    (root / "conf.d").mkdir(parents=True)
    (root / "conf").mkdir()
    (root / "conf" / "httpd.conf").write_text("Listen 80\nIncludeOptional conf.d/*.conf\n")
    (root / "conf.d" / "hand.conf").write_text(HAND)
    return Layout.redhat(config_root=str(root), tls_dir=str(tmp_path / "tls"))


# -- the model: the field itself -------------------------------------------------------------------------------------

@pytest.mark.parametrize("value, message", [
    ({"file": "relative/x.conf"}, "replaces.file: must be an absolute path"),
    ({"file": "/etc/apache2/sites-available/../apache2.conf"}, "replaces.file: must not contain '..'"),
    ({"file": "/etc/apache2/sites-available/./x.conf"}, "must be a plain absolute file path"),
    ({"file": "/etc/apache2//sites-available/x.conf"}, "must be a plain absolute file path"),
    ({"file": "/etc/apache2/sites-available/"}, "must be a plain absolute file path"),
    ({"file": "/etc/apache2/sites-available/x.conf\nListen 1"}, "must not contain newlines"),
    ({"file": "/etc/apache2/sites-available/a b.conf"}, "must not contain whitespace"),
    ({"file": '/etc/apache2/sites-available/a".conf'}, "must not contain '\"'"),
    ({"file": "/etc/${APACHE_LOG_DIR}/x.conf"}, "must not contain '${'"),
    ({"file": "/x.conf", "vhost": "a b"}, "replaces.vhost"),
    ({"file": "/x.conf", "vhost": "*.a.example"}, "replaces.vhost"),
    ({"file": "/x.conf", "other": 1}, "replaces: unknown key(s) other"),
    ({"vhost": "a.example"}, "replaces.file: is required"),
    ("/x.conf", "replaces: must be a mapping"),
])
def test_the_field_is_refused(value, message):
    with pytest.raises(ConfigError, match="^site 'shop': .*%s" % __import__("re").escape(message)):
        site(value)


def test_the_field_normalized():
    assert site({"file": "/etc/apache2/sites-available/hand.conf", "vhost": "Shop.Example.com."})["replaces"] == {
        "file": "/etc/apache2/sites-available/hand.conf", "vhost": "shop.example.com"}
    assert site(None)["replaces"] is None


def test_two_sites_never_replace_one_file():
    raw = [{"name": n, "server_name": "%s.example.com" % n, "locations": [{"path": "/", "backend": "http://b/"}],
            "replaces": {"file": "/etc/apache2/sites-available/hand.conf"}} for n in ("a", "b")]
    with pytest.raises(ConfigError, match="already replaced by site 'a'"):
        normalize_sites(raw, tls_dir="/unused")


def test_a_server_that_cannot_adopt_refuses_it():
    from ansible_collections.revproxy.tls.plugins.module_utils.model._server import ServerProfile

    class Other(ServerProfile):
        name = "Other"
    with pytest.raises(ConfigError, match="replaces: Other cannot express this"):
        _replaces.normalize({"file": "/x.conf"}, Other())


# -- the server: which files ---------------------------------------------------------------------------------------

def _fifo(layout):
    path = layout.d("sites-available/fifo.conf")
    os.mkfifo(path)
    return path


def _dir(layout):
    path = layout.d("sites-available/dir.conf")
    os.mkdir(path)
    return path


def _write(layout, rel, text, binary=False):
    path = layout.d(rel)
    with open(path, "wb" if binary else "w") as handle:
        handle.write(text)
    return path


def _link(layout, rel, target):
    path = layout.d(rel)
    os.symlink(target, path)
    return path


REFUSED = [
    ("/etc/passwd", lambda l: "/etc/passwd", "is not a file directly in"),
    ("main config", lambda l: l.main_config, "is not a file directly in"),
    ("ports.conf", lambda l: l.ports_config, "is not a file directly in"),
    ("conf-available", lambda l: _write(l, "conf-available/x.conf", HAND), "is not a file directly in"),
    ("subdirectory", lambda l: (os.mkdir(l.d("sites-available/sub")), _write(l, "sites-available/sub/x.conf", HAND))[1],
     "is not a file directly in"),
    ("not .conf", lambda l: _write(l, "sites-available/hand.txt", HAND), "is not a *.conf file"),
    ("hidden", lambda l: _write(l, "sites-available/.hidden.conf", HAND), "is not a *.conf file"),
    ("missing", lambda l: l.d("sites-available/missing.conf"), "does not exist"),
    ("directory", _dir, "is a directory"),
    ("FIFO", _fifo, "is a FIFO"),
    ("link out", lambda l: _link(l, "sites-enabled/evil.conf", "/etc/passwd"), "symbolic link out of the site"),
    ("link out to /etc", lambda l: _link(l, "sites-enabled/evil.conf", "../../../../../../etc/hostname"),
     "symbolic link out of the site"),
    ("link in available", lambda l: _link(l, "sites-available/alias.conf", "hand.conf"), "name the file it points to"),
    ("link to an included file", lambda l: (_write(l, "sites-enabled/plain.conf", HAND),
                                            _link(l, "sites-enabled/twice.conf", "plain.conf"))[1],
     "which Apache includes as well"),
    ("managed", lambda l: _write(l, "sites-available/managed.conf", MANAGED_MARKER + "\n<VirtualHost *:80>\n"),
     "a file revproxy.tls manages"),
    ("Listen", lambda l: _write(l, "sites-available/listen.conf", "Listen 8080\n" + HAND), "holds a Listen"),
    ("not UTF-8", lambda l: _write(l, "sites-available/latin1.conf", b"# caf\xe9\n" + HAND.encode(), True),
     "is not UTF-8"),
    ("huge", lambda l: _write(l, "sites-available/huge.conf", "#" * (1 << 20) + "\n"), "over the limit"),
    ("the site's own file", lambda l: _write(l, "sites-available/shop.conf", HAND), "is where the site's own file"),
]


@pytest.mark.parametrize("make, message", [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED])
def test_a_file_that_may_not_be_replaced_is_refused_and_nothing_changes(debian, make, message):
    path = make(debian)
    before = tree_digest(debian.config_root)
    with pytest.raises(ConfigError, match=r"^site 'shop': replaces\.file: .*%s" % __import__("re").escape(message)):
        _adopt.disable_actions([site({"file": path})], debian, _Entry)
    assert tree_digest(debian.config_root) == before


def test_redhat_refuses_the_managed_listen_file_and_an_existing_disabled_copy(redhat):
    listen = os.path.join(redhat.sites_dir, redhat.listen_conf_name)
    with open(listen, "w") as handle:
        handle.write("# hand\n")
    with pytest.raises(ConfigError, match="is the Listen file revproxy.tls manages"):
        _adopt.inspect(site({"file": listen}), redhat)
    hand = os.path.join(redhat.sites_dir, "hand.conf")
    with open(hand + ".disabled", "w") as handle:
        handle.write("older\n")
    with pytest.raises(ConfigError, match=r"hand\.conf\.disabled already exists"):
        _adopt.inspect(site({"file": hand}), redhat)
    with pytest.raises(ConfigError, match="is not a file directly in"):
        _adopt.inspect(site({"file": redhat.main_config}), redhat)


class _Entry:
    def __init__(self, path, content=None, link_to=None, mode=0o644, secret=False, site=None):
        self.path, self.content, self.link_to = path, content, link_to
        self.mode, self.secret, self.site = mode, secret, site


# -- the server: how a file is disabled, and restored --------------------------------------------------------------

def _converge_and_restore(layout, eff):
    before = tree_digest(layout.config_root)
    actions = plan(desired_state([eff], layout, "warn"), layout)
    backups = apply(actions)
    after = tree_digest(layout.config_root)
    restore(backups)
    assert tree_digest(layout.config_root) == before  # byte-identical: contents, modes, link targets, no leftovers
    return actions, after


def test_debian_available_file_is_disabled_like_a2dissite(debian):
    hand = debian.d("sites-available/hand.conf")
    eff = site({"file": hand})
    actions, _after = _converge_and_restore(debian, eff)
    mine = [(a["action"], a["entry"].path) for a in actions if a["entry"].path.endswith("hand.conf")]
    assert mine == [("remove", debian.d("sites-enabled/hand.conf"))]
    # Applied and made final: the link is gone, the file is untouched; a second plan has nothing to do for it.
    cleanup_backups(apply(plan(desired_state([eff], debian, "warn"), debian)))
    assert not os.path.lexists(debian.d("sites-enabled/hand.conf"))
    with open(hand) as handle:
        assert handle.read() == HAND
    assert plan(desired_state([eff], debian, "warn"), debian) == []


def test_debian_several_links_to_the_file_are_all_removed(debian):
    os.symlink(debian.d("sites-available/hand.conf"), debian.d("sites-enabled/hand-abs.conf"))
    found = _adopt.inspect(site({"file": debian.d("sites-available/hand.conf")}), debian)
    assert found["remove"] == [debian.d("sites-enabled/hand-abs.conf"), debian.d("sites-enabled/hand.conf")]


def test_a_link_where_apache_includes_it_is_removed_with_every_other_link_to_its_file(debian):
    os.symlink("hand.conf", debian.d("sites-enabled/twice.conf"))
    eff = site({"file": debian.d("sites-enabled/hand.conf")})
    links = [debian.d("sites-enabled/hand.conf"), debian.d("sites-enabled/twice.conf")]
    assert _adopt.inspect(eff, debian) == {"file": debian.d("sites-enabled/hand.conf"), "included": links,
                                           "remove": links, "rename": None}
    _converge_and_restore(debian, eff)
    cleanup_backups(apply(plan(desired_state([eff], debian, "warn"), debian)))
    assert not any(os.path.lexists(p) for p in links)
    # Second run: the link is gone and its file is in sites-available: disabled already, nothing to do.
    assert _adopt.inspect(eff, debian)["remove"] == []


def test_a_regular_file_where_apache_includes_it_is_renamed_and_restored(redhat):
    hand = os.path.join(redhat.sites_dir, "hand.conf")
    os.chmod(hand, 0o600)
    eff = site({"file": hand})
    actions, _after = _converge_and_restore(redhat, eff)
    mine = [(a["action"], a["entry"].path) for a in actions if "hand.conf" in a["entry"].path]
    assert mine == [("remove", hand), ("write", hand + ".disabled")]
    cleanup_backups(apply(plan(desired_state([eff], redhat, "warn"), redhat)))
    assert not os.path.exists(hand)
    with open(hand + ".disabled") as handle:
        assert handle.read() == HAND
    assert os.stat(hand + ".disabled").st_mode & 0o7777 == 0o600
    # Second run: nothing to do for the disabled file.
    assert [a for a in plan(desired_state([eff], redhat, "warn"), redhat) if "hand" in a["entry"].path] == []


def test_a_file_already_disabled_needs_nothing(debian):
    os.unlink(debian.d("sites-enabled/hand.conf"))
    found = _adopt.inspect(site({"file": debian.d("sites-available/hand.conf")}), debian)
    assert found["included"] == [] and found["remove"] == []


# -- the running vhosts --------------------------------------------------------------------------------------------

def _live(layout, *vhosts):
    return [dict({"file": layout.d("sites-enabled/hand.conf"), "line": 1, "default": False}, **v) for v in vhosts]


V80 = {"address": None, "port": 80, "names": ["shop.example.com", "www.shop.example.com"]}


def test_matching_vhost_is_taken_over(debian):
    replaced = _adopt.check_live([site({"file": debian.d("sites-available/hand.conf")})], _live(debian, V80), debian)
    assert replaced == {debian.d("sites-available/hand.conf")}


def test_names_compare_without_case_order_or_trailing_dot(debian):
    live = _live(debian, dict(V80, names=["WWW.shop.example.com.", "Shop.Example.com"]))
    assert _adopt.check_live([site({"file": debian.d("sites-available/hand.conf")})], live, debian)


def test_tls_site_and_its_redirect_match_both_vhosts_of_the_file(debian, tmp_path):
    cert = tmp_path / "c.pem"
    cert.write_text("x")
    eff = site({"file": debian.d("sites-available/hand.conf")}, port=443,
               tls={"certificate_file": str(cert), "key_file": str(cert)})
    live = _live(debian, dict(V80, port=443), V80)
    assert _adopt.check_live([eff], live, debian) == {debian.d("sites-available/hand.conf")}


@pytest.mark.parametrize("live, kwargs, message", [
    ([dict(V80, port=8080)], {}, r"line 1 listens on \*:8080 with the names shop.example.com, www.shop.example.com; "
                                 r"the site on \*:80"),
    ([dict(V80, names=["shop.example.com"])], {}, "and the site disagree"),
    ([dict(V80, names=V80["names"] + ["extra.example.com"])], {}, "and the site disagree"),
    ([dict(V80, address="10.1.2.3")], {}, r"listens on 10.1.2.3:80"),
    ([V80], {"address": "127.0.0.1"}, r"the site on 127.0.0.1:80"),
    ([V80, dict(V80, port=443)], {}, r"listens on \*:443"),
    ([], {}, "holds no virtual host the running Apache serves"),
    (None, {}, "cannot be compared with the running configuration"),
])
def test_a_disagreement_is_refused(debian, live, kwargs, message):
    eff = site({"file": debian.d("sites-available/hand.conf")}, **kwargs)
    with pytest.raises(ConfigError, match="^site 'shop': replaces.file: .*%s" % message):
        _adopt.check_live([eff], None if live is None else _live(debian, *live), debian)


def test_the_named_vhost_must_be_in_the_file(debian):
    assert _adopt.check_live([site({"file": debian.d("sites-available/hand.conf"), "vhost": "shop.example.com"})],
                             _live(debian, V80), debian)
    with pytest.raises(ConfigError, match="has no vhost other.example.com"):
        _adopt.check_live([site({"file": debian.d("sites-available/hand.conf"), "vhost": "other.example.com"})],
                          _live(debian, V80), debian)


def test_vhosts_of_other_files_do_not_count(debian):
    other = dict(V80, port=8080, file=debian.d("sites-enabled/000-default.conf"))
    assert _adopt.check_live([site({"file": debian.d("sites-available/hand.conf")})],
                             _live(debian, V80) + [other], debian)


def test_an_already_disabled_file_is_not_compared(debian):
    os.unlink(debian.d("sites-enabled/hand.conf"))
    assert _adopt.check_live([site({"file": debian.d("sites-available/hand.conf")})], None, debian) == set()
