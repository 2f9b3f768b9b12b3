"""apache/_audit: effective SSLProxy* settings (server -> vhost -> <Proxy> -> mod_ssl defaults) in the checker's
words, the <Proxy> sections that apply to a backend, ProxyPreserveHost's names; apache/_audit_secure's chain facts."""
import pytest

from ansible_collections.revproxy.tls.plugins.module_utils.apache import _audit, _audit_parse, _audit_secure


@pytest.mark.parametrize("value,expected", [
    ("all -SSLv3", ["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"]),
    ("-all +TLSv1.2", ["TLSv1.2"]),
    ("TLSv1.2 +TLSv1.3", ["TLSv1.2", "TLSv1.3"]),
    ("all -TLSv1 -TLSv1.1", ["TLSv1.2", "TLSv1.3"]),
    ("+tlsv1.3", ["TLSv1.3"]),
    ("SSLv3", []),
])
def test_protocols_of(value, expected):
    assert _audit.protocols_of(value) == expected


def _tree(tmp_path, text):
    (tmp_path / "main.conf").write_text(text)
    return _audit_parse.read_tree(str(tmp_path / "main.conf"), modules=("mod_ssl.c",))


# (configuration, expected checker settings (a subset), expected origin of SSLProxyVerify)
EFFECTIVE = [
    ("<VirtualHost *:80>\nSSLProxyEngine on\nProxyPass / https://b.test/\n</VirtualHost>\n",
     {"verify": "none", "verify_depth": 1, "check_peer_name": True, "check_peer_expire": True}, "default"),
    ("SSLProxyVerify require\nSSLProxyCACertificateFile ca.pem\n<VirtualHost *:80>\nSSLProxyVerifyDepth 3\n"
     "ProxyPass / https://b.test/\n</VirtualHost>\n",
     {"verify": "require", "verify_depth": 3, "ca_file": "%(root)s/ca.pem"}, "server"),
    ("SSLProxyVerify require\n<VirtualHost *:80>\nSSLProxyVerify none\nSSLProxyCheckPeerName off\n"
     "SSLProxyCheckPeerExpire off\nProxyPass / https://b.test/\n</VirtualHost>\n",
     {"verify": "none", "check_peer_name": False, "check_peer_expire": False}, "vhost"),
    ("<VirtualHost *:80>\nSSLProxyVerify none\n<Proxy https://b.test/>\nSSLProxyVerify require\n</Proxy>\n"
     "ProxyPass / https://b.test/app/\n</VirtualHost>\n", {"verify": "require"}, "<Proxy https://b.test/>"),
    ("<VirtualHost *:80>\n<Proxy https://other.test/>\nSSLProxyVerify require\n</Proxy>\n"
     "ProxyPass / https://b.test/\n</VirtualHost>\n", {"verify": "none"}, "default"),
    ("<VirtualHost *:80>\n<ProxyMatch ^https://b\\.>\nSSLProxyVerifyDepth 7\n</ProxyMatch>\n"
     "ProxyPass / https://b.test/\n</VirtualHost>\n", {"verify_depth": 7}, "default"),
    ("<VirtualHost *:80>\nSSLProxyProtocol -all +TLSv1.3\nSSLProxyCipherSuite HIGH:!aNULL\n"
     "SSLProxyMachineCertificateFile /c.pem\nProxyPass / https://b.test/\n</VirtualHost>\n",
     {"protocols": ["TLSv1.3"], "ciphers": "HIGH:!aNULL", "client_cert_file": "/c.pem"}, "default"),
]


@pytest.mark.parametrize("text,expected,origin", EFFECTIVE)
def test_effective_settings(tmp_path, text, expected, origin):
    tree = _tree(tmp_path, text)
    items = _audit.backends_of(tree, str(tmp_path))
    assert len(items) == 1
    tls = items[0]["tls"]
    for key, value in expected.items():
        value = value % {"root": str(tmp_path)} if isinstance(value, str) else value
        assert tls[key] == value, (key, tls)
    assert items[0]["settings"]["sslproxyverify"]["origin"].startswith(origin)


def test_preserve_host_checks_each_name_and_location_overrides(tmp_path):
    tree = _tree(tmp_path, "<VirtualHost *:80>\nServerName a.test\nServerAlias b.test *.c.test\n"
                           "ProxyPreserveHost On\nProxyPass / https://be.test/\n<Location /x/>\n"
                           "ProxyPreserveHost Off\nProxyPass https://be.test/x/\n</Location>\n</VirtualHost>\n")
    items = _audit.backends_of(tree, str(tmp_path))
    whole, located = items
    assert [e["host"] for e in _audit.checker_entries(whole)] == ["a.test", "b.test"]
    assert any("*.c.test" in n for n in whole["notes"])
    assert _audit.checker_entries(located) == [dict(located["tls"], url="https://be.test/x/")]


def test_balancer_members_take_the_balancers_section(tmp_path):
    tree = _tree(tmp_path, "<VirtualHost *:80>\n<Proxy balancer://p>\nBalancerMember https://m1.test\n"
                           "BalancerMember http://plain.test\nSSLProxyVerifyDepth 2\n</Proxy>\n"
                           "ProxyPass / balancer://p/\n</VirtualHost>\n")
    items = _audit.backends_of(tree, str(tmp_path))
    assert [(i["url"], i["tls"]["verify_depth"], i["balancer"]) for i in items] == [
        ("https://m1.test", 2, "balancer://p")]


def test_request_dependent_targets_are_problems_not_checks(tmp_path):
    tree = _tree(tmp_path, "<VirtualHost *:80>\nRewriteRule ^/(.*)$ https://%{HTTP_HOST}/$1 [P]\n"
                           "ProxyPassMatch ^/u/(.*)$ https://users.test/$1\n</VirtualHost>\n")
    problems = []
    items = _audit.backends_of(tree, str(tmp_path), problems)
    assert [i["url"] for i in items] == ["https://users.test/"]
    assert [p["kind"] for p in problems] == ["dynamic_target"] and problems[0]["line"] == 2


class _Cert:
    def __init__(self, subject, issuer):
        self.subject, self.issuer = _Name(subject), _Name(issuer)
        self.extensions = None


class _Name(str):
    def rfc4514_string(self):
        return str(self)


@pytest.mark.parametrize("chain,depth,self_signed", [
    ([("CN=leaf", "CN=int"), ("CN=int", "CN=root")], 2, False),   # root not sent: it sits at depth 2
    ([("CN=leaf", "CN=root")], 1, False),
    ([("CN=leaf", "CN=int"), ("CN=int", "CN=root"), ("CN=root", "CN=root")], 2, True),
    ([("CN=self", "CN=self")], 0, True),
])
def test_chain_facts_depth(monkeypatch, chain, depth, self_signed):
    monkeypatch.setattr(_audit_secure, "authority_key_id", lambda cert: "AA:BB")
    monkeypatch.setattr(_audit_secure, "_key_id", lambda cert, name: "CC:DD")
    facts = _audit_secure.chain_facts([_Cert(s, i) for s, i in chain])
    assert facts["depth_needed"] == depth and facts["top_self_signed"] is self_signed


@pytest.mark.parametrize("address,listen", [
    ("*:443", {"port": 443}),
    ("127.0.0.1:8443", {"address": "127.0.0.1", "port": 8443}),
    ("[::1]:443", {"address": "::1", "port": 443}),
    ("_default_:80", {"port": 80}),
])
def test_listen_of_a_vhost_address(address, listen):
    assert _audit_secure._listen(address) == listen  # pylint: disable=protected-access


@pytest.mark.parametrize("name", ['evil".test', "a.test\\nInclude /etc/shadow", "a b.test", "-x.test", "\u0430.test"])
def test_a_hostile_name_from_a_hand_written_file_never_makes_a_valid_proposal(name):
    """Values read from the files reach a proposal only through the role's model, which refuses them."""
    from ansible_collections.revproxy.tls.plugins.module_utils.apache._capabilities import APACHE
    vhost = {"names": [name], "file": "/etc/apache2/sites-enabled/x.conf", "addresses": ["*:80"], "settings": {}}
    result = {"route": {"kind": "ProxyPass", "path": "/", "file": "x", "line": 1, "regex": False},
              "url": "https://b.test/", "balancer": None, "preserve_host": False,
              "secure_tls": {"verify": "require", "verify_depth": 4, "ca_file": "/ca.pem", "check_peer_name": True,
                             "check_peer_expire": True, "protocols": ["TLSv1.2", "TLSv1.3"]}}
    proposal = _audit_secure.propose_site(vhost, [result], "/etc/apache2/revproxy-tls", APACHE)
    assert not proposal["valid"] and "server_name" in proposal["error"]


def test_no_main_configuration_is_a_clear_error_before_anything_runs(tmp_path):
    from ansible_collections.revproxy.tls.plugins.module_utils.apache import _audit_run
    from ansible_collections.revproxy.tls.plugins.module_utils.apache._layout import Layout
    ran = []
    with pytest.raises(_audit_run.AuditError, match="config_root: no main configuration .*apache2.conf"):
        _audit_run.audit({"timeout": 1, "concurrency": 1}, Layout(config_root=str(tmp_path / "none")), ran.append)
    assert ran == []


@pytest.mark.parametrize("value,message", [("relative.pem", "not an absolute path"), ("/dev/zero", "character device"),
                                           ("/etc", "a directory"), ("/nonexistent.pem", "No such file")])
def test_system_ca_file_is_refused_naming_the_option(tmp_path, value, message):
    from ansible_collections.revproxy.tls.plugins.module_utils.apache import _audit_run
    from ansible_collections.revproxy.tls.plugins.module_utils.apache._layout import Layout
    (tmp_path / "apache2.conf").write_text("")
    ran = []
    with pytest.raises(_audit_run.AuditError, match="system_ca_file: .*" + message):
        _audit_run.audit({"timeout": 1, "concurrency": 1, "system_ca_file": value},
                         Layout(config_root=str(tmp_path)), ran.append)
    assert ran == []


@pytest.mark.parametrize("value,host", [("a.test", "a.test"), ("a.test:443", "a.test"),
                                        ("https://a.test:8443", "a.test"), ("[::1]:443", "::1")])
def test_server_name_host(value, host):
    assert _audit.server_name(value) == host


def test_a_tls_vhost_is_proposed_with_its_certificate_and_no_extra_redirect(tmp_path):
    from ansible_collections.revproxy.tls.plugins.module_utils.apache._capabilities import APACHE
    tree = _tree(tmp_path, "<VirtualHost *:443>\nServerName a.test\nSSLEngine on\nSSLCertificateFile /c.pem\n"
                           "SSLCertificateKeyFile /k.pem\nSSLProxyEngine on\nProxyPass / https://b.test/\n"
                           "</VirtualHost>\n")
    vhost = dict(tree["vhosts"][0], names=["a.test"])
    item = _audit.backends_of(tree, str(tmp_path))[0]
    secure = {"verify": "require", "verify_depth": 4, "ca_file": "/ca.pem"}
    proposal = _audit_secure.propose_site(vhost, [dict(item, route=item["route"], secure_tls=secure)],
                                          "/etc/apache2/revproxy-tls", APACHE)
    assert proposal["valid"], proposal
    assert proposal["site"]["tls"] == {"certificate_file": "/c.pem", "key_file": "/k.pem"}
    assert proposal["site"]["listen"] == {"port": 443} and proposal["site"]["redirect_http"] is False
    wanted = {"file": str(tmp_path / "main.conf"), "vhost": "a.test"}
    assert proposal["replaces"] == proposal["site"]["replaces"] == wanted
    two = _audit_secure.propose_site(vhost, [dict(item, route=item["route"], secure_tls=secure)],
                                     "/etc/apache2/revproxy-tls", APACHE, in_file=2)
    assert "replaces" not in two["site"] and not two["valid"] and "holds 2 vhosts" in two["not_carried"][0]


FACTS = {"top_self_signed": False, "served": 2, "top_subject": "CN=leaf", "top_issuer": "CN=Private Root",
         "issuer_key_id": "AB:CD"}


@pytest.mark.parametrize("trust, tls, facts, words", [
    ("configured", {"ca_file": "/etc/ssl/ca.pem"}, FACTS, "the CA already configured (/etc/ssl/ca.pem)"),
    ("system_bundle", {"ca_file": "/etc/ssl/certs/ca-certificates.crt"}, FACTS, "ends in a public root"),
    # the bundle's check failed for another reason first (review 24): nothing claims a public root
    ("unproven", {"ca_file": "/etc/ssl/certs/ca-certificates.crt"}, FACTS, "which CA to trust is not shown"),
    ("private", {}, FACTS, "trust the private CA that issued CN=leaf: its root is CN=Private Root (key id AB:CD)"),
    ("private", {}, None, "no certificate was received"),
])
def test_trust_text(trust, tls, facts, words):
    text = _audit_secure.trust_text(trust, tls, facts)
    assert words in text
    assert trust == "system_bundle" or "public root" not in text
