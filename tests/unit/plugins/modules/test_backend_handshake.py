"""backend_handshake: argument spec vs docs, input validation (exact messages), main() end to end in-process."""
import json
import socket

import pytest
import yaml

from ansible.module_utils.testing import patch_module_args

from ansible_collections.revproxy.tls.plugins.module_utils._backend_tls import BACKEND_TLS_DEFAULTS, BACKEND_TLS_SPEC
from ansible_collections.revproxy.tls.plugins.modules import backend_handshake as mod


def run_main(capsys, args):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            mod.main()
    return json.loads(capsys.readouterr().out)


def test_backend_options_come_from_the_shared_spec():
    for key, spec in BACKEND_TLS_SPEC.items():
        assert mod.ARGUMENT_SPEC["backends"]["options"][key] == spec
        assert spec.get("default") == BACKEND_TLS_DEFAULTS[key]


def test_docs_match_argspec():
    yaml.safe_load(mod.EXAMPLES)
    assert "backends" in yaml.safe_load(mod.RETURN)
    doc = yaml.safe_load(mod.DOCUMENTATION)["options"]

    def compare(docs, spec, where):
        assert set(docs) == set(spec), where
        for name, s in spec.items():
            d = docs[name]
            assert d["type"] == s["type"], (where, name)
            assert d.get("default") == s.get("default"), (where, name)
            assert d.get("choices") == s.get("choices"), (where, name)
            assert d.get("elements") == s.get("elements"), (where, name)
            assert bool(d.get("required")) == bool(s.get("required")), (where, name)
            if "options" in s:
                compare(d["suboptions"], s["options"], name)
    compare(doc, mod.ARGUMENT_SPEC, "top")


@pytest.fixture
def ca(tmp_path):
    path = tmp_path / "ca.pem"
    path.write_text("-----BEGIN CERTIFICATE-----\n")
    return str(path)


@pytest.mark.parametrize("backend, message", [
    ({"url": "https://x/", "ca_file": "/nope"}, "backends[0] (https://x/): ca_file: /nope does not exist"),
    ({"url": "ftp://x/"}, "backends[0] (ftp://x/): url: URL scheme must be one of http, https, ws, wss, got 'ftp' "
                          "in 'ftp://x/'"),
    ({"url": "https://x/", "preserve_host": True, "verify": "none"},
     "backends[0] (https://x/): host: required when preserve_host is true (it is the name Apache sends as SNI)"),
    ({"url": "https://x/", "verify": "none", "verify_depth": 101},
     "backends[0] (https://x/): verify_depth: must be an integer from 0 to 100, got 101"),
    ({"url": "https://x/", "verify": "none", "client_key_file": "/k"},
     "backends[0] (https://x/): client_key_file: needs client_cert_file"),
    ({"url": "https://x/", "verify": "none", "ca_path": "/etc/hostname"},
     "backends[0] (https://x/): ca_path: /etc/hostname is not a directory"),
])
def test_bad_input(capsys, backend, message):
    out = run_main(capsys, {"backends": [backend]})
    assert out["failed"] and out["msg"] == message


def test_bad_input_names_the_index(capsys):
    out = run_main(capsys, {"backends": [{"url": "https://a/", "verify": "none"},
                                         {"url": "https://b/", "verify": "none"},
                                         {"url": "https://x/", "ca_file": "/nope"}]})
    assert out["msg"] == "backends[2] (https://x/): ca_file: /nope does not exist"


def test_unknown_key(capsys):
    out = run_main(capsys, {"backends": [{"url": "https://a/", "bogus": 1}]})
    assert out["failed"] and "bogus" in out["msg"]


def test_backends_and_sites_exclusive(capsys):
    out = run_main(capsys, {"backends": [{"url": "https://a/"}], "sites": []})
    assert out["failed"] and "mutually exclusive" in out["msg"]
    out = run_main(capsys, {})
    assert out["failed"] and "one of the following is required" in out["msg"]


def test_bad_sites_input(capsys):
    out = run_main(capsys, {"sites": [{"name": "shop", "server_name": "shop.example", "locations": [
        {"path": "/", "backend": "https://b.test/"}], "backend_tls": {"ca_file": "/nope"}}]})
    assert out["failed"]
    assert out["msg"] == "sites: site 'shop': locations path /: backend_tls: ca_file: /nope does not exist"


def _refused_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_main_reports_and_fails_after_all(capsys):
    port = _refused_port()
    args = {"backends": [{"url": "https://127.0.0.1:%d/" % port, "verify": "none"},
                         {"url": "https://localhost:%d/app/" % port, "verify": "none"}], "timeout": 1}
    out = run_main(capsys, args)
    assert out["failed"] is True and out["changed"] is False
    assert [b["reason"] for b in out["backends"]] == ["connect_refused", "connect_refused"]
    assert out["summary"] == {"connect_refused": 2}
    assert out["msg"].startswith("2 backends checked: 0 ok, 2 failed (backends[0] (https://127.0.0.1:%d/): "
                                 "connect_refused" % port)
    assert out["backends"][1]["http_status"] == 503
    assert out["backends"][1]["host_header"] == "localhost:%d" % port
    assert out["backends"][1]["path"] == "/app/"
    assert out["openssl_version"].startswith("OpenSSL")
    out = run_main(capsys, dict(args, fail_on="never", _ansible_check_mode=True))
    assert not out.get("failed") and out["changed"] is False
    assert len(out["failed_backends"]) == 2


def test_sites_content_keys_are_checked_and_secrets_masked(capsys, tmp_path):
    from support.pki import PKI
    p = PKI(tmp_path)
    root = p.ca("Unit Root")
    client = p.leaf("client", cn="client", issuer=root, client=True)
    port = _refused_port()
    sites = [{"name": "shop", "server_name": "shop.example", "server_aliases": ["www.shop.example"],
              "preserve_host": True, "locations": [{"path": "/", "backend": "https://localhost:%d/" % port}],
              "backend_tls": {"ca_content": root.pem, "client_cert_content": client.pem,
                              "client_key_content": client.key_pem}}]
    out = run_main(capsys, {"sites": sites, "timeout": 1, "fail_on": "never"})
    assert [(b["site"], b["host"], b["sni"]) for b in out["backends"]] == [
        ("shop", "shop.example", "shop.example"), ("shop", "www.shop.example", "www.shop.example")]
    assert all(b["reason"] == "connect_refused" for b in out["backends"])
    assert "PRIVATE KEY" not in json.dumps(out)
