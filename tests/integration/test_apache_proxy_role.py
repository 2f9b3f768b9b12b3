"""The apache_proxy role against the real system Apache and real HTTPS backends from a private CA.

Each test holds the system Apache (fixture system_apache): it converges /etc/apache2 with the role through
ansible-playbook, then requests through the proxy on 127.0.0.1.
"""
import os
import subprocess

import pytest

from conftest import CONFIG_ROOT, PROXY_PORT, apply_role, get, snapshot
from support.backends import TLSBackend
from support.pki import PKI

pytestmark = pytest.mark.skipif(not os.path.exists("/usr/sbin/apache2"), reason="needs Apache httpd")


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    pki = PKI(str(tmp_path_factory.mktemp("pki")))
    root = pki.ca("Role Test Root CA")
    inter = pki.ca("Role Test Intermediate CA", issuer=root)
    pki.leaf("backend", dns=["localhost"], issuer=inter)
    pki.leaf("client", cn="revproxy-client", issuer=inter, client=True)
    return pki, root, inter


@pytest.fixture(scope="module")
def backend(pki):
    """A virtual-hosted HTTPS backend: a handshake without SNI 'localhost' is rejected."""
    pki_, _root, inter = pki
    leaf = pki_.leaf("backend", dns=["localhost"], issuer=inter)
    with TLSBackend(leaf.chain_path, leaf.key_path, sni_names={"localhost"}, body=b"hello from the backend") as be:
        yield be


def site(backend, pki, **over):
    _pki, root, _inter = pki
    value = {
        "name": "roletest",
        "server_name": "front.test",
        "listen": {"port": PROXY_PORT, "address": "127.0.0.1"},
        "locations": [{"path": "/", "backend": "https://localhost:%d/" % backend.port, "retry": 0}],
        "backend_tls": {"ca_file": root.cert_path},
    }
    value.update(over)
    return value


def test_proxy_verifies_backend_and_sends_its_sni(system_apache, backend, pki):
    res = apply_role([site(backend, pki)])
    assert res.rc == 0 and res.changed >= 1, res
    status, body = get()
    assert status == 200, body
    assert "hello from the backend" in body
    assert "SNI=localhost" in body
    conf = open(os.path.join(CONFIG_ROOT, "sites-available", "roletest.conf")).read()
    for line in ("SSLProxyVerify require", "SSLProxyVerifyDepth 4", "SSLProxyCheckPeerName on",
                 "SSLProxyCheckPeerExpire on", "SSLProxyProtocol -all +TLSv1.2 +TLSv1.3", "ProxyPreserveHost Off"):
        assert "    " + line + "\n" in conf
    assert "SSLProxyCheckPeerCN" not in conf
    assert os.readlink(os.path.join(CONFIG_ROOT, "sites-enabled", "roletest.conf")) == "../sites-available/roletest.conf"


def test_four_step_check_apply_check_apply(system_apache, backend, pki):
    sites = [site(backend, pki)]
    first_check = apply_role(sites, check=True, diff=True)
    assert first_check.rc == 0 and first_check.changed >= 1, first_check
    assert "+    SSLProxyVerify require" in first_check.stdout
    assert not os.path.exists(os.path.join(CONFIG_ROOT, "sites-available", "roletest.conf"))
    first = apply_role(sites)
    assert first.rc == 0 and first.changed >= 1, first
    second_check = apply_role(sites, check=True)
    assert second_check.rc == 0 and second_check.changed == 0, second_check
    second = apply_role(sites)
    assert second.rc == 0 and second.changed == 0, second
    assert "RUNNING HANDLER" not in second.stdout  # no reload when nothing changed
    assert get()[0] == 200


def test_preserve_host_sends_public_name_as_sni(system_apache, backend, pki):
    """With preserve_host the public name becomes the SNI and the checked name. The backend only accepts SNI
    'localhost': the preflight refuses the site and says why; forced through (preflight and probe off), Apache
    fails exactly as predicted for the public name and works for a client that sends Host: localhost (an alias: a
    vhost answers its own names only)."""
    refused = apply_role([site(backend, pki, preserve_host=True, server_aliases=["localhost"])])
    assert refused.rc != 0, refused
    assert "preserve_host is true: Apache sends the client's Host (front.test, localhost) as SNI" in refused.output
    assert "roletest: refused by preflight" in refused.stdout
    assert "(as front.test)" in refused.stdout
    forced = apply_role([site(backend, pki, preserve_host=True, server_aliases=["localhost"])],
                        apache_proxy_preflight="off", apache_proxy_probe=False)
    assert forced.rc == 0, forced
    status, _body = get()
    assert status == 500
    status, body = get(host="localhost")
    assert status == 200 and "SNI=localhost" in body


def test_client_certificate_deployed_0600_and_used(system_apache, pki):
    pki_, root, inter = pki
    leaf = pki_.leaf("mtls-backend", dns=["localhost"], issuer=inter)
    client = pki_.leaf("client", cn="revproxy-client", issuer=inter, client=True)
    with TLSBackend(leaf.chain_path, leaf.key_path, client_ca_path=root.cert_path, body=b"mtls ok") as be:
        value = site(be, pki, backend_tls={
            "ca_content": open(root.cert_path).read(),
            "client_cert_content": open(client.cert_path).read(),
            "client_key_content": open(client.key_path).read(),
            # The backend trusts the root: mod_ssl must send the intermediate too (SSLProxyMachineCertificateChainFile).
            "client_chain_content": open(inter.cert_path).read(),
        })
        res = apply_role([value])
        assert res.rc == 0, res
        assert "PRIVATE KEY" not in res.stdout
        key_file = "/etc/apache2/revproxy-tls/roletest/proxy-client.pem"
        assert os.stat(key_file).st_mode & 0o777 == 0o600
        status, body = get()
        assert status == 200 and "mtls ok" in body


def test_insecure_opt_in_rendered_with_warning(system_apache, backend, pki):
    refused = apply_role([site(backend, pki, backend_tls={"verify": "none"})])
    assert refused.rc != 0
    assert "site 'roletest': backend_tls: insecure setting(s) refused: verify: none" in refused.stdout
    allowed = apply_role([site(backend, pki, allow_insecure_backend_tls=True, backend_tls={"verify": "none"})])
    assert allowed.rc == 0, allowed
    assert "site 'roletest': INSECURE backend TLS allowed by allow_insecure_backend_tls: verify: none" in allowed.output
    conf = open(os.path.join(CONFIG_ROOT, "sites-available", "roletest.conf")).read()
    assert "# WARNING: INSECURE backend TLS" in conf and "SSLProxyVerify none" in conf


def test_prune_keeps_unmanaged_sites(system_apache, backend, pki):
    other = dict(site(backend, pki), name="roletest-two", server_name="two.test")
    assert apply_role([site(backend, pki), other]).rc == 0
    res = apply_role([site(backend, pki)])
    assert res.rc == 0 and res.changed >= 1, res
    assert not os.path.exists(os.path.join(CONFIG_ROOT, "sites-available", "roletest-two.conf"))
    assert not os.path.lexists(os.path.join(CONFIG_ROOT, "sites-enabled", "roletest-two.conf"))
    assert os.path.exists(os.path.join(CONFIG_ROOT, "sites-available", "000-default.conf"))


def test_failing_config_test_changes_nothing(system_apache, backend, pki):
    assert apply_role([site(backend, pki)]).rc == 0
    before = snapshot()
    res = apply_role([site(backend, pki, backend_tls={"ca_file": "/nonexistent/ca.pem"})])
    assert res.rc != 0
    assert "fails Apache's config test; no live file was changed" in res.stdout
    assert "SSLProxyCACertificateFile" in res.stdout
    assert snapshot() == before
    assert get()[0] == 200


HOSTILE = [
    ("newline injection in server_name", {"server_name": "front.test\nProxyPass /x http://evil/"},
     "server_name: must not contain newlines or control characters"),
    ("closing tag in a value", {"server_aliases": ["</VirtualHost><VirtualHost *:80>"]},
     "server_aliases[0]: must not contain '<'"),
    ("traversal in name", {"name": "../../tmp/evil"}, "name: '../../tmp/evil' must match"),
    ("relative CA path", {"backend_tls": {"ca_file": "ca.pem"}}, "backend_tls.ca_file: must be an absolute path"),
    ("javascript URL", {"locations": [{"path": "/", "backend": "javascript:alert(1)"}]},
     "URL scheme must be one of http, https, ws, wss"),
    ("garbage URL", {"locations": [{"path": "/", "backend": "https://exa mple/"}]}, "URL must not contain whitespace"),
    ("newline in worker param", {"locations": [{"path": "/", "backend": "https://localhost/", "upgrade": "a\nb"}]},
     "locations[0].upgrade: must not contain newlines or control characters"),
    ("quote in path", {"locations": [{"path": '/a"b/', "backend": "https://localhost/"}]},
     "locations[0].path: must not contain '\"'"),
    ("ciphers injection", {"backend_tls": {"ca_file": "/etc/ssl/x.pem", "ciphers": "HIGH\nSSLProxyVerify none"}},
     "backend_tls.ciphers: must not contain newlines or control characters"),
]


def test_hostile_inputs_refused_and_nothing_written(system_apache, backend, pki):
    """Each hostile input from the table fails the play with a message naming the field; the live configuration
    is byte-for-byte unchanged and Apache keeps serving."""
    assert apply_role([site(backend, pki)]).rc == 0
    before = snapshot()
    for case, over, message in HOSTILE:
        value = site(backend, pki)
        value.update(over)
        res = apply_role([value])
        assert res.rc != 0, (case, res)
        assert message in res.stdout, (case, res)
        assert snapshot() == before, case
        assert get()[0] == 200, case
    assert subprocess.run(["apache2ctl", "-t"], capture_output=True, check=False).returncode == 0


def _task_states(res, name):
    """'ok'/'skipping'/'changed' lines that follow each TASK [... : name] header in the play output."""
    states = []
    lines = res.stdout.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("TASK [") and (": %s]" % name) in line:
            states.extend(next((ln.split(":")[0] for ln in lines[i + 1:i + 4] if ln.strip()), "").split())
    return states


def test_install_asks_the_package_database_before_the_package_manager(system_apache):
    """Everything is installed here: dpkg-query says so and the package task is skipped. When the database says
    anything else (here: the query fails), the package task runs (check mode: it finds nothing to do)."""
    install = "Install the missing packages in one transaction"
    res = apply_role([], check=True)
    assert res.rc == 0, res
    assert _task_states(res, "Ask the package database which of them are missing") == ["ok"], res
    assert _task_states(res, install) == ["skipping"], res
    res = apply_role([], check=True, __apache_proxy_package_query=["/bin/false"])
    assert res.rc == 0, res
    assert _task_states(res, install) == ["ok"], res
    res = apply_role([], check=True, __apache_proxy_package_query=["/bin/echo", "rc "])
    assert res.rc == 0, res
    assert _task_states(res, install) == ["ok"], res
