"""apache/_host_checks.py: a backend that is this Apache itself, and listen addresses this host does not have
(moved from model/test_round_two.py with the file it tests; assertions unchanged)."""
import pytest

from ansible_collections.revproxy.tls.plugins.module_utils.model._backend_tls import ConfigError

TLS = {"certificate_file": "/etc/ssl/front.pem", "key_file": "/etc/ssl/front.key"}


def site(name="shop", **over):
    base = {"name": name, "server_name": "%s.example.com" % name, "tls": dict(TLS),
            "locations": [{"path": "/", "backend": "http://app.internal:8080/"}]}
    base.update(over)
    return base


def test_backend_on_apaches_own_port_at_a_local_address_is_refused():
    from ansible_collections.revproxy.tls.plugins.module_utils.apache import _host_checks

    def lookup(host, *_args):
        table = {"localhost": "127.0.0.1", "127.0.0.1": "127.0.0.1", "me.internal": "127.0.1.1",
                 "app.internal": "192.0.2.10"}
        return [(None, None, None, None, (table[host], 0))] if host in table else []
    for backend in ("http://localhost:80/server-status", "http://127.0.0.1:8080/revproxy-balancer-manager",
                    "http://me.internal:80/x"):
        with pytest.raises(ConfigError) as err:
            _host_checks.effective_sites([site(tls=None, listen={"port": 8080}, locations=[
                {"path": "/x", "backend": backend}])], None, "/etc/apache2/revproxy-tls", None, listen_ports=[80],
                lookup=lookup)
        assert "is this Apache itself" in str(err.value), backend
    # An application on another port of this host, or elsewhere: fine.
    for backend in ("http://127.0.0.1:9000/", "http://app.internal:80/"):
        _host_checks.effective_sites([site(tls=None, listen={"port": 8080}, locations=[
            {"path": "/", "backend": backend}])], None, "/etc/apache2/revproxy-tls", None, listen_ports=[80],
            lookup=lookup)


def test_listen_address_this_host_does_not_have_is_refused():
    from ansible_collections.revproxy.tls.plugins.module_utils.apache import _host_checks
    assert _host_checks.is_local_address("127.0.0.1") and _host_checks.is_local_address("::1")
    assert not _host_checks.is_local_address("198.51.100.7")
    with pytest.raises(ConfigError) as err:
        _host_checks.effective_sites([site(listen={"port": 8443, "address": "198.51.100.7"})], None,
                                     "/etc/apache2/revproxy-tls", None)
    assert "is not an address of this host" in str(err.value)
    _host_checks.effective_sites([site(listen={"port": 8443, "address": "127.0.0.1"}, redirect_http_port=18080)],
                                 None, "/etc/apache2/revproxy-tls", None)
