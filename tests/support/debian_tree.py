"""A scratch Debian-style Apache tree for the unit tests of the plan, the config test and the deploy engine
(apache/_plan, apache/_config_test, deploy/_transaction): the layout, a few sites, and a converge step."""
import os

from ansible_collections.revproxy.tls.plugins.module_utils.apache._layout import Layout
from ansible_collections.revproxy.tls.plugins.module_utils.apache._plan import desired_state, plan
from ansible_collections.revproxy.tls.plugins.module_utils.deploy._transaction import apply, cleanup_backups
from support.apache_model import normalize_sites


def debian_layout(tmp_path):
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
