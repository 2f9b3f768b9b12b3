"""backend_handshake: argument spec vs docs, input validation (exact messages), main() end to end in-process."""
import json
import os
import socket

import pytest
import yaml

from ansible.module_utils.testing import patch_module_args

from ansible_collections.revproxy.tls.plugins.module_utils.model._backend_tls import BACKEND_TLS_DEFAULTS, BACKEND_TLS_SPEC
from ansible_collections.revproxy.tls.plugins.modules import backend_handshake as mod

from support.docs import module_documentation


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
    doc = module_documentation(mod.__file__)["options"]  # as ansible-doc shows it: with the doc fragments

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


def _held_closed_port():
    """A port nothing can listen on while these tests run: bound (on 127.0.0.1 and, where there is one, ::1) but never
    listening, so a connection is refused (not a port that was merely free at import time and taken later)."""
    held = []
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    held.append(sock)
    port = sock.getsockname()[1]
    try:
        six = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        six.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        six.bind(("::1", port))
        held.append(six)
    except OSError:
        pass
    return port, held


PORT, _HELD = _held_closed_port()
GOOD = {"url": "https://localhost:%d/" % PORT, "verify": "none"}


def run_backends(entries, **params):
    args = dict(backends=entries, sites=None, backend_tls_defaults=None, timeout=2, concurrency=8,
                http_request=True, return_pem=False)
    args.update(params)
    _checks, results = mod.run(args)
    return results


def assert_refused(result, field, text=None, reason="invalid_input"):
    assert result["ok"] is False and result["reason"] == reason, result
    prefix = "invalid input, not checked: " if reason == "invalid_input" else ""
    assert result["message"].startswith(prefix + field + ":") or "(%s:" % field in result["message"], result
    if text is not None:
        assert text in result["message"], result["message"]
    assert result["apache_log"] == [] or reason != "invalid_input"
    assert result["http_status"] is None and result["elapsed_ms"] == 0 and result["address"] is None
    if reason == "invalid_input":
        assert field in result["fix"]


@pytest.mark.parametrize("backend, message", [
    ({"url": "https://x/", "ca_file": "/nope"}, "backends[0].ca_file: /nope does not exist"),
    ({"url": "ftp://x/"}, "backends[0].url: URL scheme must be one of http, https, ws, wss, got 'ftp' in 'ftp://x/'"),
    ({"url": "https://x/", "preserve_host": True, "verify": "none"},
     "backends[0].host: required when preserve_host is true (it is the name Apache sends as SNI)"),
    ({"url": "https://x/", "verify": "none", "verify_depth": 101},
     "backends[0].verify_depth: must be an integer from 0 to 100, got 101"),
    ({"url": "https://x/", "verify": "none", "client_key_file": "/k"},
     "backends[0].client_key_file: needs client_cert_file"),
    ({"url": "https://x/", "verify": "none", "ca_path": "/etc/hostname"},
     "backends[0].ca_path: /etc/hostname is not a directory"),
])
def test_bad_input_is_that_backends_result(capsys, backend, message):
    out = run_main(capsys, {"backends": [backend]})
    res = out["backends"][0]
    assert out["failed"] and out["changed"] is False
    assert (res["ok"], res["reason"], res["message"]) == (False, "invalid_input", "invalid input, not checked: " + message)
    assert res["http_status"] is None and res["apache_log"] == [] and res["catalogue"] == []
    assert out["msg"] == ("backends[0] (%s): invalid_input: invalid input, not checked: %s. Fix: Correct the field "
                          "named in the message (%s); the other backends were checked. | 1 backend checked: 0 ok, "
                          "1 failed" % (backend["url"], message, message.split(":")[0]))
    assert out["failed_backends"] == ["backends[0] (%s): invalid_input (%s)" % (backend["url"], message)]
    assert out["summary"] == {"invalid_input": 1}


def test_bad_input_names_the_index_and_the_others_are_checked(capsys):
    out = run_main(capsys, {"backends": [GOOD, dict(GOOD, url="https://localhost:%d/app/" % PORT),
                                         {"url": "https://x/", "ca_file": "/nope"}], "timeout": 2})
    assert [b["reason"] for b in out["backends"]] == ["connect_refused", "connect_refused", "invalid_input"]
    assert out["backends"][2]["message"] == "invalid input, not checked: backends[2].ca_file: /nope does not exist"
    assert out["backends"][2]["url"] == "https://x/"
    assert out["summary"] == {"connect_refused": 2, "invalid_input": 1}


H = "backends[1].host"
U = "backends[1].url"

# (entry overrides for backends[1], field named in the message, text the message contains). The entry sits between
# two good backends, which must still be checked.
HOSTILE = [
    # host: the client's Host header with preserve_host (it becomes SNI, the name checked and the Host sent)
    ({"host": "a.test\r\nX-Injected: 1", "preserve_host": True}, H, "control characters"),
    ({"host": "a.test\r\n\r\nGET /admin HTTP/1.1\r\nHost: internal", "preserve_host": True}, H, "CR, LF, NUL"),
    ({"host": "a.test\n", "preserve_host": True}, H, "control characters"),
    ({"host": "a.test\r", "preserve_host": True}, H, "control characters"),
    ({"host": "a.test\x00.evil.test", "preserve_host": True}, H, "control characters"),
    ({"host": "a.test\t", "preserve_host": True}, H, "control characters"),
    ({"host": "a.test\x7f", "preserve_host": True}, H, "control characters"),
    ({"host": "b\u00fccher.test", "preserve_host": True}, H, "must be ASCII"),
    ({"host": "\u0430pple.test", "preserve_host": True}, H, "must be ASCII"),  # Cyrillic a
    ({"host": "a.test\u2028", "preserve_host": True}, H, "must be ASCII"),
    ({"host": "a" * 64 + ".test", "preserve_host": True}, H, "not a valid host name"),
    ({"host": ("a" * 60 + ".") * 5 + "test", "preserve_host": True}, H, None),
    ({"host": "", "preserve_host": True}, H, "must not be empty"),
    ({"host": "a b.test", "preserve_host": True}, H, None),
    ({"host": "a..test", "preserve_host": True}, H, "not a valid host name"),
    ({"host": "-a.test", "preserve_host": True}, H, "not a valid host name"),
    ({"host": "a.test/x", "preserve_host": True}, H, "not a valid host name"),
    ({"host": "a.test@b.test", "preserve_host": True}, H, "not a valid host name"),
    ({"host": "*.a.test", "preserve_host": True}, H, "not a valid host name"),
    ({"host": 'a"b.test', "preserve_host": True}, H, None),
    ({"host": "a.test:", "preserve_host": True}, H, "port"),
    ({"host": "a.test:0", "preserve_host": True}, H, "port"),
    ({"host": "a.test:65536", "preserve_host": True}, H, "port"),
    ({"host": "a.test:99999999999", "preserve_host": True}, H, "port"),
    ({"host": "a.test:0x50", "preserve_host": True}, H, "port"),
    ({"host": "a.test:443:1", "preserve_host": True}, H, "brackets"),
    ({"host": "a.test:\u0664\u0664\u0663", "preserve_host": True}, H, "ASCII"),  # Arabic-Indic digits
    ({"host": "::1", "preserve_host": True}, H, "in brackets"),
    ({"host": "[::1", "preserve_host": True}, H, "closing"),
    ({"host": "[127.0.0.1]", "preserve_host": True}, H, "only IPv6"),
    ({"host": "[a.test]:443", "preserve_host": True}, H, "only IPv6"),
    ({"host": "[::1]x", "preserve_host": True}, H, "port"),
    ({"host": "[::1]:0", "preserve_host": True}, H, "port"),
    ({"host": "[fe80::1%eth0]", "preserve_host": True}, H, "zone ids"),
    ({"host": "[fe80::1%x *]:443", "preserve_host": True}, H, "zone ids"),
    ({"host": "[fe80::1%25eth0]:443", "preserve_host": True}, H, "zone ids"),
    ({"host": "fe80::1%x *", "preserve_host": True}, H, None),
    ({"host": 443, "preserve_host": True}, H, "must be a string"),
    ({"host": ["a.test"], "preserve_host": True}, H, "must be a string"),
    ({"host": "a.test\r\nX: y"}, H, "control characters"),  # validated even without preserve_host
    ({"preserve_host": "yes", "host": "a.test"}, "backends[1].preserve_host", "boolean"),
    # url
    ({"url": "https://a.test/\r\nX: y"}, U, "control characters"),
    ({"url": "https://a.test/%0d%0a x"}, U, "whitespace"),
    ({"url": "https://a.test\x00.evil/"}, U, "control characters"),
    ({"url": "https://b\u00fccher.test/"}, U, None),
    ({"url": "https://" + "a" * 64 + ".test/"}, "backends[1].url host", "not a valid host name"),
    ({"url": "https://[fe80::1%25eth0]/"}, U, None),
    ({"url": "https://user:pw@a.test/"}, U, "user information"),
    ({"url": "https://a.test/?q=1"}, U, "query"),
    ({"url": "https://a.test/#x"}, U, "fragment"),
    ({"url": "https://a.test:0/"}, U, "port"),
    ({"url": "https://a.test:99999/"}, U, "ort"),
    ({"url": "gopher://a.test/"}, U, "scheme"),
    ({"url": "https:///x"}, U, "no host"),
    ({"url": "https://a.test/a\"b"}, U, None),
    ({"url": "https://a.test/<script>"}, U, None),
    ({"url": ""}, U, "empty"),
    ({"url": None}, U, "must be a string"),
    ({"url": 42}, U, "must be a string"),
    # TLS settings
    ({"verify": "maybe"}, "backends[1].verify", "must be one of"),
    ({"verify_depth": -1}, "backends[1].verify_depth", "integer"),
    ({"verify_depth": "4"}, "backends[1].verify_depth", "integer"),
    ({"verify_depth": True}, "backends[1].verify_depth", "integer"),
    ({"crl_check": "all"}, "backends[1].crl_check", "must be one of"),
    ({"check_peer_name": "yes"}, "backends[1].check_peer_name", "boolean"),
    ({"check_peer_expire": 0}, "backends[1].check_peer_expire", "boolean"),
    ({"protocols": []}, "backends[1].protocols", "non-empty"),
    ({"protocols": ["SSLv3"]}, "backends[1].protocols", "SSLv3"),
    ({"protocols": "TLSv1.2"}, "backends[1].protocols", None),
    ({"ciphers": "HIGH MEDIUM"}, "backends[1].ciphers", None),
    ({"ciphers": "HIGH\r\nSSLProxyEngine off"}, "backends[1].ciphers", None),
    ({"ciphers": "'HIGH'"}, "backends[1].ciphers", None),
    ({"ciphers": 128}, "backends[1].ciphers", None),
    ({"ca_file": "relative.pem"}, "backends[1].ca_file", "absolute"),
    ({"ca_file": "/etc/../etc/passwd"}, "backends[1].ca_file", ".."),
    ({"ca_file": "/nope/ca.pem"}, "backends[1].ca_file", "does not exist"),
    ({"ca_file": "/tmp"}, "backends[1].ca_file", "is not a file"),
    ({"ca_file": "/tmp/a\nb"}, "backends[1].ca_file", "control characters"),
    ({"ca_path": "/etc/hostname"}, "backends[1].ca_path", "not a directory"),
    ({"crl_file": "/nope.pem", "crl_check": "leaf"}, "backends[1].crl_file", "does not exist"),
    ({"client_cert_file": "/tmp"}, "backends[1].client_cert_file", "is not a file"),
    ({"client_cert_file": "/etc/hostname", "client_key_file": "/tmp"}, "backends[1].client_key_file",
     "is not a file"),
    ({"client_chain_file": "/etc/hostname"}, "backends[1].client_chain_file", "needs client_cert_file"),
    ({"bogus": 1}, "backends[1]", "unknown key(s) bogus"),
    ({"client_key_content": "-----BEGIN PRIVATE KEY-----"}, "backends[1]", "unknown key(s) client_key_content"),
]


@pytest.mark.parametrize("override, field, text", HOSTILE, ids=[repr(h[0])[:60] for h in HOSTILE])
def test_hostile_entry_is_refused_alone(override, field, text):
    bad = dict({"url": "https://localhost:%d/" % PORT, "verify": "none"}, **override)
    results = run_backends([GOOD, bad, GOOD])
    assert [r["reason"] for r in (results[0], results[2])] == ["connect_refused", "connect_refused"]
    assert_refused(results[1], field, text)


def test_hostile_entries_that_are_not_dicts():
    results = run_backends([GOOD, "https://x/", None, GOOD])
    assert_refused(results[1], "backends[1]", "must be a dict")
    assert_refused(results[2], "backends[2]", "must be a dict")
    assert results[3]["reason"] == "connect_refused"


@pytest.mark.parametrize("host, checked", [
    ("a.test", "a.test"), ("A.Test", "a.test"), ("a.test:8443", "a.test"), ("a_b.test", "a_b.test"),
    ("xn--bcher-kva.test", "xn--bcher-kva.test"), ("127.0.0.1", "127.0.0.1"), ("127.0.0.1:8443", "127.0.0.1"),
    ("[::1]", "::1"), ("[::1]:8443", "::1"), ("a" * 63 + ".test", "a" * 63 + ".test")])
def test_legitimate_hosts_are_checked(host, checked):
    result = run_backends([dict(GOOD, preserve_host=True, host=host)])[0]
    assert result["reason"] == "connect_refused", result
    assert (result["host_header"], result["checked_name"]) == (host, checked)


def test_crlf_never_reaches_the_request_even_past_validation():
    # A check built by hand (as if validation had a hole): check_one refuses it before any connection.
    check = mod.build_checks_from_backends([dict(GOOD, preserve_host=True, host="a.test")])[0]
    check["host"] = "a.test\r\nX-Injected: 1"
    check["sni"] = check["checked_name"] = "a.test"
    res = mod.check_one(check, None, 1, True, False)
    assert_refused(res, "backends[0].host", "CR, LF or NUL")
    check = mod.build_checks_from_backends([dict(GOOD)])[0]
    check["request_path"] = "/\r\nX: y"
    assert_refused(mod.check_one(check, None, 1, True, False), "backends[0].url", "CR, LF or NUL")


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", 1e300, 0, -1, 3600.001, "1e30"])
def test_timeout_is_bounded(capsys, value):
    out = run_main(capsys, {"backends": [GOOD], "timeout": value})
    assert out["failed"] and out["msg"].startswith("timeout: must be a finite number of seconds greater than 0 and "
                                                   "at most 3600, got "), out
    assert "backends" not in out and "dns_failure" not in json.dumps(out)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 0, -0.5, True, "5", None])
def test_timeout_is_bounded_in_run(value):
    with pytest.raises(mod.ConfigError, match=r"^timeout: must be a finite number"):
        run_backends([GOOD], timeout=value)


@pytest.mark.parametrize("value", [0, -1, 1025, 10 ** 9])
def test_concurrency_is_bounded(capsys, value):
    out = run_main(capsys, {"backends": [GOOD], "concurrency": value})
    assert out["failed"] and out["msg"] == "concurrency: must be an integer from 1 to 1024, got %d" % value


def test_bounds_themselves_are_accepted():
    assert run_backends([GOOD], timeout=3600, concurrency=1024)[0]["reason"] == "connect_refused"
    # 1 ms is accepted (not invalid_input); it may run out in any stage, name resolution included.
    assert run_backends([GOOD], timeout=0.001, concurrency=1)[0]["reason"] in ("connect_refused", "connect_timeout",
                                                                               "dns_failure")


@pytest.mark.parametrize("key", ["ca_content", "client_cert_content", "client_key_content", "client_chain_content"])
@pytest.mark.parametrize("with_sites", [False, True])
def test_defaults_refuse_content_keys_and_never_print_a_key(capsys, tmp_path, key, with_sites):
    from support.pki import PKI
    client = PKI(tmp_path).self_signed("client", cn="client", client=True)
    secret = client.key_pem
    value = secret if key == "client_key_content" else client.pem
    args = {"backend_tls_defaults": {key: value}, "timeout": 1, "_ansible_verbosity": 4, "_ansible_debug": True,
            "_ansible_inject_invocation": True}
    if with_sites:
        args["sites"] = [{"name": "shop", "server_name": "shop.example",
                          "locations": [{"path": "/", "backend": "https://localhost:%d/" % PORT}],
                          "backend_tls": {"verify": "none", "client_key_content": secret,
                                          "client_cert_content": client.pem}}]
    else:
        args["backends"] = [GOOD]
    out = run_main(capsys, args)
    assert out["failed"]
    assert out["msg"].startswith("backend_tls_defaults.%s: is not accepted in the defaults" % key)
    text = json.dumps(out)
    assert "PRIVATE KEY" not in text and secret.splitlines()[1] not in text
    assert value.splitlines()[1] not in out["msg"]  # the message names the key, never the value
    if key == "client_key_content":
        assert out["invocation"]["module_args"]["backend_tls_defaults"][key] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"


def test_defaults_unknown_key_in_run():
    with pytest.raises(mod.ConfigError, match=r"^backend_tls_defaults: unknown key\(s\) bogus \(allowed: "):
        run_backends([GOOD], backend_tls_defaults={"bogus": 1})
    with pytest.raises(mod.ConfigError, match=r"^backend_tls_defaults.client_key_content: is not accepted"):
        run_backends([GOOD], backend_tls_defaults={"client_key_content": "x"})
    assert run_backends([GOOD], backend_tls_defaults={"verify": "none", "client_key_content": None})[0]["reason"] \
        == "connect_refused"


def test_unknown_key(capsys):
    out = run_main(capsys, {"backends": [{"url": "https://a/", "bogus": 1}]})
    assert out["failed"] and "bogus" in out["msg"]


def test_backends_and_sites_exclusive(capsys):
    out = run_main(capsys, {"backends": [{"url": "https://a/"}], "sites": []})
    assert out["failed"] and "mutually exclusive" in out["msg"]
    out = run_main(capsys, {})
    assert out["failed"] and "one of the following is required" in out["msg"]


def test_unknown_name_is_named_as_the_names_option(capsys):
    out = run_main(capsys, {"names": ["shop", "nosuch"], "sites": [{
        "name": "shop", "server_name": "shop.example", "locations": [{"path": "/", "backend": "https://b.test/"}],
        "backend_tls": {"ca_file": "/etc/ssl/certs/ca-certificates.crt"}}]})
    assert out["failed"] and out["msg"] == "names: no such site(s): nosuch"


def test_bad_sites_input(capsys):
    out = run_main(capsys, {"sites": [{"name": "shop", "server_name": "shop.example", "locations": [
        {"path": "/", "backend": "https://b.test/"}], "backend_tls": {"ca_file": "/nope"}}]})
    assert out["failed"]
    assert out["msg"] == "sites: site 'shop': locations path /: backend_tls: ca_file: /nope does not exist"


def test_main_reports_and_fails_after_all(capsys):
    port = PORT  # held closed
    args = {"backends": [{"url": "https://127.0.0.1:%d/" % port, "verify": "none"},
                         {"url": "https://localhost:%d/app/" % port, "verify": "none"}], "timeout": 1}
    out = run_main(capsys, args)
    assert out["failed"] is True and out["changed"] is False
    assert [b["reason"] for b in out["backends"]] == ["connect_refused", "connect_refused"]
    assert out["summary"] == {"connect_refused": 2}
    assert out["msg"].startswith("backends[0] (https://127.0.0.1:%d/): connect_refused: 127.0.0.1:%d refused the "
                                 "TCP connection" % (port, port))
    assert out["msg"].endswith(" | 2 backends checked: 0 ok, 2 failed")
    assert "Fix: Start the backend or fix the port in ProxyPass." in out["msg"]
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
    port = PORT  # held closed
    sites = [{"name": "shop", "server_name": "shop.example", "server_aliases": ["www.shop.example"],
              "preserve_host": True, "locations": [{"path": "/", "backend": "https://localhost:%d/" % port}],
              "backend_tls": {"ca_content": root.pem, "client_cert_content": client.pem,
                              "client_key_content": client.key_pem}}]
    out = run_main(capsys, {"sites": sites, "timeout": 1, "fail_on": "never"})
    assert [(b["site"], b["host"], b["sni"]) for b in out["backends"]] == [
        ("shop", "shop.example", "shop.example"), ("shop", "www.shop.example", "www.shop.example")]
    assert all(b["reason"] == "connect_refused" for b in out["backends"])
    assert "PRIVATE KEY" not in json.dumps(out)


def test_client_and_trust_files_are_per_backend_results(tmp_path):
    from support.pki import PKI
    p = PKI(tmp_path / "pki")
    root = p.ca("Files Root")
    client = p.leaf("client", cn="client", issuer=root, client=True)
    other = p.leaf("other", cn="other", issuer=root, client=True)
    junk = tmp_path / "junk.pem"
    junk.write_text("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n")
    entries = [
        GOOD,
        dict(GOOD, client_cert_file=str(junk), client_key_file=client.key_path),
        dict(GOOD, client_cert_file=client.cert_path, client_key_file=other.key_path),
        dict(GOOD, client_cert_file=client.cert_path, client_key_file=str(tmp_path)),
        dict(GOOD, client_cert_file=client.cert_path, client_key_file=str(junk)),
        dict(GOOD, ca_file=str(junk), verify="require"),
        dict(GOOD, ca_file=str(tmp_path), verify="require"),
        dict(GOOD, client_cert_file=client.cert_path, client_key_file=client.key_path),
    ]
    results = run_backends(entries)
    assert [r["reason"] for r in results] == [
        "connect_refused", "client_cert_invalid", "client_cert_invalid", "invalid_input", "client_cert_invalid",
        "invalid_input", "invalid_input", "connect_refused"]
    messages = [r["message"] for r in results]
    assert messages[1].startswith("the client certificate cannot be used by mod_ssl: backends[1].client_cert_file: "
                                  "cannot parse a certificate in %s" % junk)
    assert messages[2].endswith("backends[2].client_key_file: the private key in %s does not match the client "
                                "certificate CN=client (AH02326)" % other.key_path)
    assert messages[3] == "invalid input, not checked: backends[3].client_key_file: %s is not a file" % tmp_path
    assert "backends[4].client_key_file: no private key for the client certificate in %s (AH02252)" % junk \
        in messages[4]
    assert messages[5].startswith("invalid input, not checked: backends[5].ca_file: cannot load %s: " % junk)
    assert messages[6] == "invalid input, not checked: backends[6].ca_file: %s is not a file" % tmp_path
    assert all(r["apache_log"][0]["level"] == "startup" for r in results if r["reason"] == "client_cert_invalid")


def test_unreadable_files_are_per_backend_results(monkeypatch, tmp_path):
    # As root every file is readable; os.access answers as the (non-root) user the module may run as.
    path = tmp_path / "ca.pem"
    path.write_text("x")
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if p == str(path) else real(p, mode, **kw))
    results = run_backends([GOOD, dict(GOOD, ca_file=str(path), verify="require")])
    assert results[0]["reason"] == "connect_refused"
    assert results[1]["message"] == "invalid input, not checked: backends[1].ca_file: %s is not readable" % path


def test_no_cipher_match_is_that_backends_result(capsys):
    out = run_main(capsys, {"backends": [GOOD, dict(GOOD, ciphers="eNULL:@SECLEVEL=0"), dict(GOOD, ciphers="NOSUCH")],
                            "fail_on": "never", "timeout": 2})
    assert [b["reason"] for b in out["backends"]] == ["connect_refused", "no_cipher_match", "no_cipher_match"]
    res = out["backends"][1]
    assert res["message"] == ("SSLProxyCipherSuite eNULL:@SECLEVEL=0 selects no cipher once mod_ssl appends "
                              ":!aNULL:!eNULL:!EXP, so httpd will not start (backends[1].ciphers: OpenSSL: no cipher "
                              "match)")
    assert [line["line"] for line in res["apache_log"]][:2] == [
        "[ssl:emerg] AH01898: Unable to configure permitted SSL ciphers",
        "[ssl:emerg] SSL Library Error: error:0A0000B9:SSL routines::no cipher match"]
    assert res["http_status"] is None and res["ok"] is False


def test_server_log_with_apache_log_its_deprecated_alias(capsys):
    """Every result carries the predicted log lines as server_log, and as apache_log (deprecated, the same lines)."""
    out = run_main(capsys, {"backends": [GOOD, {"url": "ftp://x/"}]})
    for res in out["backends"]:
        assert "server_log" in res and res["server_log"] == res["apache_log"]
    assert any("AH00957" in line["line"] for line in out["backends"][0]["server_log"])
    doc = yaml.safe_load(mod.RETURN)["backends"]["contains"]
    assert "deprecated" in " ".join(doc["apache_log"]["description"]).lower()
    assert "server_log" in doc
