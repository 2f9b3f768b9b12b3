"""The plan on a scratch /etc/httpd-shaped tree (RHEL layout; no links: a site is conf.d/<name>.conf, a disabled site
an absent file; the Listen file in conf.d; modules in conf.modules.d), and the candidate tree of that layout."""
import os

import pytest

from ansible_collections.revproxy.tls.plugins.module_utils.apache._config_test import _build_candidate_tree
from ansible_collections.revproxy.tls.plugins.module_utils.apache._layout import Layout
from ansible_collections.revproxy.tls.plugins.module_utils.apache._plan import desired_state, plan, render_modules_conf
from ansible_collections.revproxy.tls.plugins.module_utils.apache._render import MANAGED_MARKER
from ansible_collections.revproxy.tls.plugins.module_utils.deploy._transaction import apply, cleanup_backups
from ansible_collections.revproxy.tls.plugins.module_utils.model._backend_tls import ConfigError
from support.apache_model import normalize_sites


def test_modules_conf_guards_each_module():
    text = render_modules_conf(["proxy", "ssl"])
    assert text.splitlines() == [
        MANAGED_MARKER,
        "# Modules the managed sites need; each is loaded here only if nothing loaded it before.",
        "<IfModule !proxy_module>", "    LoadModule proxy_module modules/mod_proxy.so", "</IfModule>",
        "<IfModule !ssl_module>", "    LoadModule ssl_module modules/mod_ssl.so", "</IfModule>",
    ]


@pytest.fixture()
def layout(tmp_path):
    root = tmp_path / "httpd"
    for sub in ("conf", "conf.d", "conf.modules.d"):
        (root / sub).mkdir(parents=True)
    (root / "conf" / "httpd.conf").write_text(
        'ServerRoot "%s"\nListen 80\nInclude conf.modules.d/*.conf\nIncludeOptional conf.d/*.conf\n' % root)
    (root / "conf.modules.d" / "00-proxy.conf").write_text("LoadModule proxy_module modules/mod_proxy.so\n")
    (root / "conf.d" / "ssl.conf").write_text("Listen 443 https\n<VirtualHost _default_:443>\n</VirtualHost>\n")
    (root / "conf.d" / "welcome.conf").write_text("# unmanaged\n")
    return Layout.redhat(config_root=str(root), tls_dir=str(tmp_path / "tls"))


def sites(*specs):
    return normalize_sites([{
        "name": name, "server_name": name + ".example.com", "listen": {"port": port},
        "locations": [{"path": "/", "backend": "https://%s.internal/" % name}],
        "backend_tls": {"ca_file": "/ca.pem"},
    } for name, port in specs], tls_dir="/unused")


def converge(layout, effective, prune=True):
    actions = plan(desired_state(effective, layout, "warn"), layout, prune=prune)
    cleanup_backups(apply(actions))
    return actions


def test_first_apply_writes_files_only(layout):
    actions = converge(layout, sites(("a", 443), ("b", 8443)))
    assert {a["action"] for a in actions} == {"write"}
    assert sorted(a["entry"].path for a in actions) == sorted([
        layout.d("conf.d/a.conf"), layout.d("conf.d/b.conf"), layout.d("conf.d/revproxy-tls-listen.conf"),
        layout.d("conf.modules.d/revproxy-tls-modules.conf")])
    listen = open(layout.d("conf.d/revproxy-tls-listen.conf")).read()
    # 443 is ssl.conf's (Listen 443 https), 80 httpd.conf's: only 8443 is added.
    assert [l for l in listen.splitlines() if l.startswith("Listen")] == ["Listen 8443"]
    assert plan(desired_state(sites(("a", 443), ("b", 8443)), layout, "warn"), layout) == []


def test_prune_removes_the_absent_site_and_never_the_listen_file(layout):
    converge(layout, sites(("a", 443), ("b", 8443)))
    actions = converge(layout, sites(("a", 443)))
    removed = [a["entry"].path for a in actions if a["action"] == "remove"]
    assert removed == [layout.d("conf.d/b.conf")]
    assert os.path.exists(layout.d("conf.d/revproxy-tls-listen.conf"))
    assert sorted(os.listdir(layout.d("conf.d"))) == ["a.conf", "revproxy-tls-listen.conf", "ssl.conf",
                                                      "welcome.conf"]
    assert plan(desired_state(sites(("a", 443)), layout, "warn"), layout) == []


def test_unmanaged_conf_d_file_is_refused_and_kept(layout):
    with pytest.raises(ConfigError, match="not managed"):
        plan(desired_state(sites(("ssl", 443)), layout, "warn"), layout)
    assert open(layout.d("conf.d/ssl.conf")).read().startswith("Listen 443")


def test_site_named_like_the_listen_file_is_refused(layout):
    with pytest.raises(ConfigError, match="'revproxy-tls-listen'.*rename the site"):
        desired_state(sites(("revproxy-tls-listen", 443)), layout, "warn")


def test_candidate_tree_points_conf_d_at_the_candidates(layout, tmp_path):
    converge(layout, sites(("a", 443)))
    actions = plan(desired_state(sites(("b", 8443)), layout, "warn"), layout)
    work = tmp_path / "cand"
    work.mkdir()
    main = _build_candidate_tree(actions, layout, str(work))
    text = open(main).read()
    assert "Include %s/conf.modules.d/*.conf" % work in text and "IncludeOptional %s/conf.d/*.conf" % work in text
    cand = sorted(os.listdir(str(work / "conf.d")))
    # a.conf is pruned, b.conf new, the unmanaged files stay.
    assert cand == ["b.conf", "revproxy-tls-listen.conf", "ssl.conf", "welcome.conf"]
    assert "Listen 8443" in open(str(work / "conf.d" / "revproxy-tls-listen.conf")).read()
    assert os.path.realpath(str(work / "conf.d" / "ssl.conf")) == layout.d("conf.d/ssl.conf")
