"""many_sites: a few hundred sites on a real Apache, converged and re-converged (idempotence) by the role."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "resources"))
import testlib  # noqa: E402  pylint: disable=wrong-import-position


@pytest.fixture(scope="module")
def proxy():
    return testlib.host("ms-proxy")


@pytest.fixture(scope="module")
def count(proxy):
    return int(proxy.ansible.get_variables()["mol_site_count"])


def test_every_site_is_rendered_and_enabled(proxy, count):
    available = proxy.run("ls /etc/apache2/sites-available | grep -c '^site[0-9]*\\.conf$'").stdout.strip()
    enabled = proxy.run("ls /etc/apache2/sites-enabled | grep -c '^site[0-9]*\\.conf$'").stdout.strip()
    assert int(available) == count
    assert int(enabled) == count


def test_apache_runs_the_whole_configuration(proxy, count):
    assert proxy.run("apache2ctl -t").rc == 0
    assert proxy.service("apache2").is_running
    vhosts = proxy.run("apache2ctl -S 2>/dev/null | grep -c 'namevhost site[0-9]*.example.test'").stdout.strip()
    assert int(vhosts) == count


@pytest.mark.parametrize("index", [0, 150, -1])
def test_requests_reach_the_backend(proxy, count, index):
    name = "site%03d.example.test" % (index % count)
    status, body = testlib.http_get(proxy, "http://127.0.0.1/", host_header=name)
    assert status == 200, (name, body)
    assert body.startswith("page-from-good")


def test_backend_handshake_checks_every_site(proxy, count):
    sites = [{"name": "site%03d" % i, "server_name": "site%03d.example.test" % i, "listen": {"port": 80},
              "locations": [{"path": "/", "backend": "https://good.backend.test:8443/", "retry": 0}]}
             for i in range(count)]
    result = testlib.handshake(proxy, sites=sites, backend_tls_defaults={"ca_file": "/etc/revproxy-test/root.pem"},
                               concurrency=32)
    assert result["summary"] == {"ok": count}, result["msg"]
