"""redhat_layout: the role with its RedHat vars on a container laid out as RHEL 9 (see molecule.yml)."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "resources"))
import testlib  # noqa: E402  pylint: disable=wrong-import-position

ROOT_CA = "/etc/revproxy-test/root.pem"
MARKER = "# Managed by revproxy.tls (apache_proxy role)"


@pytest.fixture(scope="module")
def proxy():
    return testlib.host("rhel-proxy")


def test_httpd_runs_as_the_httpd_unit(proxy):
    assert proxy.service("httpd").is_running
    assert proxy.service("httpd").is_enabled
    main_pid = proxy.run("systemctl show -p MainPID --value httpd").stdout.strip()
    assert int(main_pid) > 0
    assert proxy.run("ps -p %s -o comm=" % main_pid).stdout.strip() == "httpd"
    assert proxy.run("apachectl configtest").rc == 0


def test_sites_are_conf_d_files_without_enable_links(proxy):
    for site in ("store", "api"):
        conf = proxy.file("/etc/httpd/conf.d/%s.conf" % site)
        assert conf.is_file and not conf.is_symlink
        assert conf.content_string.splitlines()[0] == MARKER
    assert not proxy.file("/etc/httpd/sites-enabled").exists
    assert not proxy.file("/etc/apache2/sites-available/store.conf").exists
    # The packages' files are untouched.
    assert proxy.file("/etc/httpd/conf.d/ssl.conf").content_string.startswith("# /etc/httpd/conf.d/ssl.conf")


def test_listen_file_adds_only_what_httpd_conf_and_ssl_conf_lack(proxy):
    text = proxy.file("/etc/httpd/conf.d/revproxy-tls-listen.conf").content_string
    listens = [line for line in text.splitlines() if line.startswith("Listen")]
    assert listens == ["Listen 8081"]  # 80 is httpd.conf's, 443 mod_ssl's ssl.conf's
    assert proxy.socket("tcp://0.0.0.0:8081").is_listening
    assert proxy.socket("tcp://0.0.0.0:443").is_listening


def test_modules_file_guards_what_the_packages_load(proxy):
    text = proxy.file("/etc/httpd/conf.modules.d/revproxy-tls-modules.conf").content_string
    assert text.splitlines()[0] == MARKER
    for mod in ("proxy", "proxy_http", "headers", "ssl", "socache_shmcb"):
        assert "<IfModule !%s_module>" % mod in text
        assert "LoadModule %s_module modules/mod_%s.so" % (mod, mod) in text


def test_tls_dir_is_under_etc_httpd(proxy):
    assert proxy.file("/etc/httpd/revproxy-tls").is_directory
    assert not proxy.file("/etc/apache2/revproxy-tls").exists


def test_requests_through_the_proxy(proxy):
    status, body = testlib.http_get(proxy, "https://shop.example.test/", resolve="shop.example.test:443:127.0.0.1",
                                    cacert=ROOT_CA)
    assert (status, body.splitlines()[0]) == (200, "page-from-good-backend")
    status, body = testlib.http_get(proxy, "http://127.0.0.1:8081/", host_header="api.example.test")
    assert (status, body.splitlines()[0]) == (200, "page-from-good-backend")


def test_probe_read_httpds_error_log(proxy):
    log = proxy.file("/var/log/httpd/error_log")
    assert log.exists and "resuming normal operations" in log.content_string


def test_backend_handshake_ok(proxy):
    sites = proxy.ansible.get_variables()["mol_sites"]
    res = testlib.handshake(proxy, sites=sites, backend_tls_defaults={"ca_file": ROOT_CA},
                            tls_dir="/etc/httpd/revproxy-tls")
    assert res.get("failed_backends") == [], res
    assert {b["reason"] for b in res["backends"]} == {"ok"}
