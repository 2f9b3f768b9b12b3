"""_tls_probe: the request builder (no CR/LF/NUL ever), the capped response-head reader, mod_ssl's cipher list, and
the loading of the client certificate, CA and CRL files (every failure is a message naming the field)."""
import os

import pytest
from OpenSSL import SSL

from ansible_collections.revproxy.tls.plugins.module_utils import _tls_probe as tp
from ansible_collections.revproxy.tls.plugins.module_utils._backend_tls import BACKEND_TLS_DEFAULTS

from support.pki import PKI

# --- the request --------------------------------------------------------------------------------------------------


def spec(host="backend.test", path="/app/"):
    return {"request_host": host, "path": path}


def test_request_bytes():
    assert tp.request_bytes(spec()) == (b"GET /app/ HTTP/1.1\r\nHost: backend.test\r\nUser-Agent: "
                                        b"revproxy.tls.backend_handshake\r\nAccept: */*\r\nConnection: close\r\n\r\n")
    assert tp._request_bytes(spec("[::1]:8443", "/")).startswith(b"GET / HTTP/1.1\r\nHost: [::1]:8443\r\n")


@pytest.mark.parametrize("host, path", [
    ("a.test\r\nX-Injected: 1", "/"), ("a.test\n", "/"), ("a.test\r", "/"), ("a.test\x00.evil", "/"),
    ("a.test\r\n\r\nGET /admin HTTP/1.1\r\nHost: internal", "/"),
    ("a.test", "/\r\nX: y"), ("a.test", "/a\nb"), ("a.test", "/\x00"), ("a.test", "/a b"), ("a.test", "/a\tb"),
    ("", "/"), (None, "/"), ("a.test", ""), ("a.test", None), (b"a.test", "/"),
    ("\u0101.test", "/"),  # not latin-1
])
def test_request_bytes_refuses_what_would_split_the_request(host, path):
    with pytest.raises(tp.UnsafeRequest):
        tp.request_bytes(spec(host, path))


def test_sni_bytes():
    assert tp.sni_bytes(None) is None
    assert tp.sni_bytes("backend.test") == b"backend.test"
    for bad in ("a" * 64 + ".test", "a..test", "a.test\x00", "a\r\n", "", 5):
        with pytest.raises(tp.UnsafeRequest):
            tp.sni_bytes(bad)


# --- the response head ----------------------------------------------------------------------------------------------


def feed(head, data, step=None):
    step = step or len(data) or 1
    for i in range(0, max(len(data), 1), step):
        if head.feed(data[i:i + step]):
            return True
    return False


def parsed(data, step=None, **kw):
    head = tp._Head(**kw)
    done = feed(head, data, step)
    return done, head.result({"status": None}), head


@pytest.mark.parametrize("step", [None, 1, 7])
def test_head_complete(step):
    done, resp, _head = parsed(b"HTTP/1.1 200 OK\r\nA: b\r\nC: d\r\n\r\nbody", step)
    assert done and resp["status"] == 200 and resp["head_complete"] and not resp.get("too_long")
    assert resp["status_line"] == "HTTP/1.1 200 OK"


def test_head_waits_for_more():
    done, resp, _head = parsed(b"HTTP/1.1 200 OK\r\nA: b\r\n")
    assert not done and resp["status"] == 200 and resp["head_complete"] is False


def test_head_one_stray_crlf_before_the_status_line():
    assert parsed(b"\r\nHTTP/1.1 204 No Content\r\n\r\n")[1]["status"] == 204


def test_head_not_http():
    done, resp, _head = parsed(b"SSH-2.0-OpenSSH_9.2\r\n")
    assert done and resp["status"] is None and resp["status_line"] == "SSH-2.0-OpenSSH_9.2"


@pytest.mark.parametrize("length, too_long", [(8190, False), (8191, True), (8192, True)])
def test_status_line_limit_is_mod_proxy_https(length, too_long):
    line = b"HTTP/1.1 200 " + b"O" * (length - 13)
    assert len(line) == length
    done, resp, _head = parsed(line + b"\r\n\r\n")
    assert done and resp.get("too_long") == ("status" if too_long else None)


def test_header_line_limit():
    done, resp, _head = parsed(b"HTTP/1.1 200 OK\r\nX: " + b"a" * 9000 + b"\r\n\r\n", 1000)
    assert done and resp["too_long"] == "header" and resp["status"] == 200


def test_a_100_mib_status_line_is_never_buffered():
    head = tp._Head()
    chunk = b"A" * 65536
    assert not head.feed(b"HTTP/1.1 200 ")
    fed = 13
    while not head.feed(chunk):
        fed += len(chunk)
        assert fed < 100 << 20
    assert fed < 65536 + 13  # stopped within the first chunk
    assert len(head.buf) <= tp.MAX_RESPONSE_HEAD + tp.RESPONSE_FIELD_SIZE
    resp = head.result({"status": None})
    assert resp["too_long"] == "status" and resp["status"] is None
    assert resp["status_line"].startswith("HTTP/1.1 200 AAA") and len(resp["status_line"]) <= 200
    assert head.feed(chunk)  # done stays done, nothing more is kept
    assert len(head.buf) <= tp.MAX_RESPONSE_HEAD + tp.RESPONSE_FIELD_SIZE


def test_a_huge_line_without_its_prefix_in_one_chunk():
    done, resp, head = parsed(b"X" * (1 << 20))
    assert done and resp["too_long"] == "status" and len(head.buf) <= tp.MAX_RESPONSE_HEAD + tp.RESPONSE_FIELD_SIZE


def test_many_short_headers_stop_at_the_cap():
    data = b"HTTP/1.1 200 OK\r\n" + b"X-A: b\r\n" * 100000
    done, resp, head = parsed(data, 4096)
    assert done and resp["status"] == 200 and not resp.get("too_long") and resp["head_complete"] is False
    assert len(head.buf) <= tp.MAX_RESPONSE_HEAD + tp.RESPONSE_FIELD_SIZE


# --- mod_ssl's cipher list ------------------------------------------------------------------------------------------


def test_cipher_list_is_mod_ssls():
    assert tp.mod_ssl_cipher_string(None) is None
    assert tp.mod_ssl_cipher_string("HIGH") == "HIGH:!aNULL:!eNULL:!EXP"
    assert tp.cipher_list(None) == tp.DEFAULT_CIPHERS == b"DEFAULT:!aNULL:!eNULL:!EXP"
    assert tp.cipher_list("ECDHE+AESGCM") == b"ECDHE+AESGCM:!aNULL:!eNULL:!EXP"


@pytest.mark.parametrize("ciphers, matches", [
    ("HIGH", True), ("ECDHE+AESGCM", True), ("ALL:eNULL:@SECLEVEL=0", True),
    ("eNULL:@SECLEVEL=0", False), ("eNULL", False), ("aNULL", False), ("NOSUCHCIPHER", False),
    ("EXP", False), ("NULL-SHA256:@SECLEVEL=0", False),
])
def test_cipher_match_error(ciphers, matches):
    error = tp.cipher_match_error(ciphers)
    assert (error is None) is matches, error
    if not matches:
        assert "no cipher match" in error


def tls(**kw):
    return dict(BACKEND_TLS_DEFAULTS, verify="none", **kw)


def test_context_never_offers_null_ciphers_although_the_list_names_them():
    names = SSL.Connection(tp.TLSContext(tls(ciphers="ALL:eNULL:@SECLEVEL=0")).ctx, None).get_cipher_list()
    assert names and not [n for n in names if "NULL" in n]
    raw = SSL.Context(SSL.TLS_METHOD)
    raw.set_cipher_list(b"ALL:eNULL:@SECLEVEL=0")
    assert "ECDHE-ECDSA-NULL-SHA" in SSL.Connection(raw, None).get_cipher_list()  # what the checker used to offer


@pytest.mark.parametrize("ciphers", ["eNULL:@SECLEVEL=0", "NOSUCHCIPHER"])
def test_context_no_cipher_match(ciphers):
    with pytest.raises(tp.ProbeConfigError) as info:
        tp.TLSContext(tls(ciphers=ciphers))
    assert (info.value.field, info.value.reason) == ("ciphers", "no_cipher_match")
    assert "no cipher match" in info.value.detail


# --- files ----------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    p = PKI(tmp_path_factory.mktemp("pki"))
    root = p.ca("Probe Root")
    return {"pki": p, "root": root, "client": p.leaf("client", cn="client", issuer=root, client=True),
            "other": p.leaf("other", cn="other", issuer=root, client=True),
            "enc": p.leaf("enc", cn="enc", issuer=root, client=True, encrypted_key_password="pw"),
            "dir": p.directory}


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return str(path)


JUNK_CERT = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"
JUNK_KEY = "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n"


def test_client_certificate_ok(pki):
    certs, error = tp.load_client_certs(tls(client_cert_file=pki["client"].bundle_path))
    assert error is None and [c["subject"] for c in certs] == ["CN=client"]
    certs, error = tp.load_client_certs(tls(client_cert_file=pki["client"].cert_path,
                                            client_key_file=pki["client"].key_path))
    assert error is None and len(certs) == 1


@pytest.mark.parametrize("case, expected", [
    ("junk_cert", "client_cert_file: cannot parse a certificate in "),
    ("text", "client_cert_file: no PEM certificate in "),
    ("empty", "client_cert_file: no PEM certificate in "),
    ("binary", "client_cert_file: no PEM certificate in "),
    ("ca_only", "client_cert_file: no client certificate in "),
    ("no_key", "client_cert_file: no private key for the client certificate in "),
    ("junk_key", "client_key_file: cannot load the private key in "),
    ("mismatch", "client_key_file: the private key in "),
    ("encrypted", "client_key_file: the private key in "),
    ("key_dir", "client_key_file: cannot read "),
    ("cert_dir", "client_cert_file: cannot read "),
    ("huge", "client_cert_file: "),
    ("junk_chain", "client_chain_file: cannot parse a certificate in "),
    ("chain_dir", "client_chain_file: cannot read "),
])
def test_client_certificate_problems_name_the_field(tmp_path, pki, case, expected):
    c = pki["client"]
    settings = {
        "junk_cert": lambda: tls(client_cert_file=write(tmp_path, "c.pem", JUNK_CERT + c.key_pem)),
        "text": lambda: tls(client_cert_file=write(tmp_path, "c.pem", "hello\n")),
        "empty": lambda: tls(client_cert_file=write(tmp_path, "c.pem", "")),
        "binary": lambda: tls(client_cert_file=write(tmp_path, "c.pem", os.urandom(4096))),
        "ca_only": lambda: tls(client_cert_file=write(tmp_path, "c.pem", pki["root"].pem + pki["root"].key_pem)),
        "no_key": lambda: tls(client_cert_file=c.cert_path),
        "junk_key": lambda: tls(client_cert_file=c.cert_path, client_key_file=write(tmp_path, "k.pem", JUNK_KEY)),
        "mismatch": lambda: tls(client_cert_file=c.cert_path, client_key_file=pki["other"].key_path),
        "encrypted": lambda: tls(client_cert_file=pki["enc"].cert_path, client_key_file=pki["enc"].key_path),
        "key_dir": lambda: tls(client_cert_file=c.cert_path, client_key_file=str(tmp_path)),
        "cert_dir": lambda: tls(client_cert_file=str(tmp_path)),
        "huge": lambda: tls(client_cert_file=write(tmp_path, "c.pem", b"-" * (tp.MAX_CLIENT_FILE + 1))),
        "junk_chain": lambda: tls(client_cert_file=c.bundle_path,
                                  client_chain_file=write(tmp_path, "ch.pem", JUNK_CERT)),
        "chain_dir": lambda: tls(client_cert_file=c.bundle_path, client_chain_file=str(tmp_path)),
    }[case]()
    certs, error = tp.load_client_certs(settings)
    assert certs == [] and error.startswith(expected), error
    if case == "mismatch":
        assert "does not match the client certificate CN=client (AH02326)" in error
    if case == "huge":
        assert "is larger than" in error
    if "chain" in case:  # OpenSSL refuses the chain file as a trust store too: the backend gets invalid_input
        with pytest.raises(tp.ProbeConfigError, match="^client_chain_file: cannot load "):
            tp.TLSContext(settings)
    else:  # the context still builds; the backend's result says client_cert_invalid
        assert tp.TLSContext(settings).client_cert_error == error


@pytest.mark.parametrize("field, data", [
    ("ca_file", JUNK_CERT), ("ca_file", ""), ("ca_file", "hello"), ("crl_file", "-----BEGIN X509 CRL-----\nx\n"),
    ("client_chain_file", "hello"),
])
def test_trust_files_that_cannot_be_loaded(tmp_path, pki, field, data):
    settings = tls(crl_check="leaf", **{field: write(tmp_path, "f.pem", data)})
    if field == "client_chain_file":
        settings["client_cert_file"] = pki["client"].bundle_path
    with pytest.raises(tp.ProbeConfigError) as info:
        tp.TLSContext(settings)
    assert (info.value.field, info.value.reason) == (field, "invalid_input")
    assert info.value.detail.startswith("cannot load %s" % settings[field])


def test_ca_directory_given_as_ca_file(tmp_path):
    with pytest.raises(tp.ProbeConfigError) as info:
        tp.TLSContext(tls(ca_file=str(tmp_path)))
    assert info.value.field == "ca_file"
