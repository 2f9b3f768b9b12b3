"""Layout.debian() and Layout.redhat(): every path of each family, the config-test command, and the family by name."""
import pytest

from ansible_collections.revproxy.tls.plugins.module_utils.apache._layout import Layout, RedHatLayout


@pytest.mark.parametrize("attr, args, expected", [
    ("config_root", None, "/etc/httpd"),
    ("main_config", None, "/etc/httpd/conf/httpd.conf"),
    ("ports_config", None, "/etc/httpd/conf/httpd.conf"),
    ("binary", None, "httpd"),
    ("envvars", None, None),
    ("tls_dir", None, "/etc/httpd/revproxy-tls"),
    ("error_log", None, "/var/log/httpd/error_log"),
    ("service", None, "httpd"),
    ("family", None, "redhat"),
    ("site_conf", ("shop",), "/etc/httpd/conf.d/shop.conf"),
    ("site_link", ("shop",), None),
    ("site_tls_dir", ("shop",), "/etc/httpd/revproxy-tls/shop"),
    ("enabled_dirs", (), [("mods", "/etc/httpd/conf.modules.d"), ("conf", "/etc/httpd/conf.d")]),
    ("config_test_command", ("/tmp/c/httpd.conf",), ["httpd", "-t", "-f", "/tmp/c/httpd.conf"]),
    ("module_files", ("ssl",), []),
    ("is_module_link", ("/etc/httpd/conf.modules.d/00-ssl.conf",), False),
])
def test_redhat_paths(attr, args, expected):
    value = getattr(Layout.redhat(), attr)
    assert (value(*args) if args is not None else value) == expected


@pytest.mark.parametrize("attr, args, expected", [
    ("config_root", None, "/etc/apache2"),
    ("main_config", None, "/etc/apache2/apache2.conf"),
    ("ports_config", None, "/etc/apache2/ports.conf"),
    ("binary", None, "apache2"),
    ("envvars", None, "/etc/apache2/envvars"),
    ("tls_dir", None, "/etc/apache2/revproxy-tls"),
    ("error_log", None, "/var/log/apache2/error.log"),
    ("service", None, "apache2"),
    ("site_conf", ("shop",), "/etc/apache2/sites-available/shop.conf"),
    ("site_link", ("shop",), "/etc/apache2/sites-enabled/shop.conf"),
    ("listen_sources", (), ["/etc/apache2/ports.conf"]),
])
def test_debian_paths_unchanged(attr, args, expected):
    value = getattr(Layout.debian(), attr)
    assert (value(*args) if args is not None else value) == expected


@pytest.mark.parametrize("family, overrides, expected", [
    ("redhat", {"config_root": None, "binary": None}, ("/etc/httpd", "httpd")),
    ("redhat", {"config_root": "/srv/httpd", "binary": "/usr/sbin/httpd"}, ("/srv/httpd", "/usr/sbin/httpd")),
    ("debian", {"config_root": None, "binary": None}, ("/etc/apache2", "apache2")),
])
def test_named(family, overrides, expected):
    layout = Layout.named(family, **overrides)
    assert (layout.config_root, layout.binary) == expected


def test_redhat_with_envvars_uses_the_debian_wrapper():
    cmd = Layout.redhat(envvars="/etc/sysconfig/x").config_test_command("/m.conf")
    assert cmd[0] == "/bin/sh" and cmd[-3:] == ["/etc/sysconfig/x", "httpd", "/m.conf"]


def test_redhat_layout_is_a_layout():
    assert isinstance(Layout.redhat(), RedHatLayout) and isinstance(Layout.redhat(), Layout)
