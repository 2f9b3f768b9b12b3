"""_context: mod_ssl's cipher list as the context uses it, the loading of the client certificate, CA and CRL files
(every failure is a message naming the field), and OpenSSL's security level (moved from test_tls_probe with the
code)."""
import os

import pytest
from OpenSSL import SSL

from ansible_collections.revproxy.tls.plugins.module_utils.tls import _context as ctx
from ansible_collections.revproxy.tls.plugins.module_utils.tls import _mod_ssl as m
from ansible_collections.revproxy.tls.plugins.module_utils.model._backend_tls import BACKEND_TLS_DEFAULTS

from support.pki import PKI

# --- mod_ssl's cipher list ------------------------------------------------------------------------------------------


def test_cipher_list_is_mod_ssls():
    assert m.mod_ssl_cipher_string(None) is None
    assert m.mod_ssl_cipher_string("HIGH") == "HIGH:!aNULL:!eNULL:!EXP"
    assert m.MOD_SSL.cipher_list(None) == m.DEFAULT_CIPHERS == b"DEFAULT:!aNULL:!eNULL:!EXP"
    assert m.MOD_SSL.cipher_list("ECDHE+AESGCM") == b"ECDHE+AESGCM:!aNULL:!eNULL:!EXP"


@pytest.mark.parametrize("ciphers, matches", [
    ("HIGH", True), ("ECDHE+AESGCM", True), ("ALL:eNULL:@SECLEVEL=0", True),
    ("eNULL:@SECLEVEL=0", False), ("eNULL", False), ("aNULL", False), ("NOSUCHCIPHER", False),
    ("EXP", False), ("NULL-SHA256:@SECLEVEL=0", False),
])
def test_cipher_match_error(ciphers, matches):
    error = ctx.cipher_match_error(ciphers, m.MOD_SSL)
    assert (error is None) is matches, error
    if not matches:
        assert "no cipher match" in error


def tls(**kw):
    return dict(BACKEND_TLS_DEFAULTS, verify="none", **kw)


def test_context_never_offers_null_ciphers_although_the_list_names_them():
    names = SSL.Connection(ctx.TLSContext(tls(ciphers="ALL:eNULL:@SECLEVEL=0"), m.MOD_SSL).ctx, None).get_cipher_list()
    assert names and not [n for n in names if "NULL" in n]
    raw = SSL.Context(SSL.TLS_METHOD)
    raw.set_cipher_list(b"ALL:eNULL:@SECLEVEL=0")
    assert "ECDHE-ECDSA-NULL-SHA" in SSL.Connection(raw, None).get_cipher_list()  # what the checker used to offer


@pytest.mark.parametrize("ciphers", ["eNULL:@SECLEVEL=0", "NOSUCHCIPHER"])
def test_context_no_cipher_match(ciphers):
    with pytest.raises(ctx.ProbeConfigError) as info:
        ctx.TLSContext(tls(ciphers=ciphers), m.MOD_SSL)
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
    certs, error = ctx.load_client_certs(tls(client_cert_file=pki["client"].bundle_path), m.MOD_SSL)
    assert error is None and [c["subject"] for c in certs] == ["CN=client"]
    certs, error = ctx.load_client_certs(tls(client_cert_file=pki["client"].cert_path,
                                             client_key_file=pki["client"].key_path), m.MOD_SSL)
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
        "huge": lambda: tls(client_cert_file=write(tmp_path, "c.pem", b"-" * (ctx.MAX_CLIENT_FILE + 1))),
        "junk_chain": lambda: tls(client_cert_file=c.bundle_path,
                                  client_chain_file=write(tmp_path, "ch.pem", JUNK_CERT)),
        "chain_dir": lambda: tls(client_cert_file=c.bundle_path, client_chain_file=str(tmp_path)),
    }[case]()
    certs, error = ctx.load_client_certs(settings, m.MOD_SSL)
    assert certs == [] and error.startswith(expected), error
    if case == "mismatch":
        assert "does not match the client certificate CN=client (AH02326)" in error
    if case == "huge":
        assert "is larger than" in error
    if "chain" in case:  # OpenSSL refuses the chain file as a trust store too: the backend gets invalid_input
        with pytest.raises(ctx.ProbeConfigError, match="^client_chain_file: cannot (load|read) "):
            ctx.TLSContext(settings, m.MOD_SSL)
    else:  # the context still builds; the backend's result says client_cert_invalid
        assert ctx.TLSContext(settings, m.MOD_SSL).client_cert_error == error


@pytest.mark.parametrize("field, data", [
    ("ca_file", JUNK_CERT), ("ca_file", ""), ("ca_file", "hello"), ("crl_file", "-----BEGIN X509 CRL-----\nx\n"),
    ("client_chain_file", "hello"),
])
def test_trust_files_that_cannot_be_loaded(tmp_path, pki, field, data):
    settings = tls(crl_check="leaf", **{field: write(tmp_path, "f.pem", data)})
    if field == "client_chain_file":
        settings["client_cert_file"] = pki["client"].bundle_path
    with pytest.raises(ctx.ProbeConfigError) as info:
        ctx.TLSContext(settings, m.MOD_SSL)
    assert (info.value.field, info.value.reason) == (field, "invalid_input")
    assert info.value.detail.startswith("cannot load %s" % settings[field])


def test_ca_directory_given_as_ca_file(tmp_path):
    with pytest.raises(ctx.ProbeConfigError) as info:
        ctx.TLSContext(tls(ca_file=str(tmp_path)), m.MOD_SSL)
    assert info.value.field == "ca_file"


def test_ssl_error_text():
    assert ctx._ssl_error_text(SSL.Error([("SSL routines", "", "wrong version number")])) == "wrong version number"
    assert ctx._ssl_error_text(SSL.Error([])) == "Error"
    assert ctx._ssl_error_text(SSL.SysCallError(-1, "Unexpected EOF")) == "(-1, 'Unexpected EOF')"


@pytest.mark.parametrize("ciphers, level, expected", [
    (b"DEFAULT:!aNULL:!eNULL:!EXP", 2, b"DEFAULT:!aNULL:!eNULL:!EXP:@SECLEVEL=2"),
    (b"HIGH:!aNULL:!eNULL:!EXP", 1, b"HIGH:!aNULL:!eNULL:!EXP:@SECLEVEL=1"),
    (b"DEFAULT:@SECLEVEL=1:!aNULL:!eNULL:!EXP", 2, b"DEFAULT:@SECLEVEL=1:!aNULL:!eNULL:!EXP"),  # the site decides
    (b"DEFAULT:@seclevel=0", 2, b"DEFAULT:@seclevel=0"),
])
def test_with_security_level(ciphers, level, expected):
    assert ctx.with_security_level(ciphers, level) == expected


def test_with_security_level_unknown_leaves_the_list(monkeypatch):
    monkeypatch.setattr(ctx, "_SECURITY_LEVEL", [None])
    assert ctx.with_security_level(b"DEFAULT") == b"DEFAULT"


def test_system_security_level_is_the_system_librarys():
    """Python's ssl links the system OpenSSL with its configuration (Debian 12's openssl.cnf: level 2), as Apache."""
    import ssl
    assert ctx.system_security_level() == ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).security_level


def test_security_level_probe_without_the_attribute_agrees(monkeypatch):
    """Python 3.9 has no SSLContext.security_level: the level is told by which own keys the library refuses."""
    import ssl
    import types
    expected = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).security_level

    class NoLevel(object):  # the real context, without the attribute (as on Python 3.9)
        def __init__(self, protocol):
            self._ctx = ssl.SSLContext(protocol)

        def load_cert_chain(self, *args):
            return self._ctx.load_cert_chain(*args)

    fake = types.SimpleNamespace(SSLContext=NoLevel, PROTOCOL_TLS_CLIENT=ssl.PROTOCOL_TLS_CLIENT, SSLError=ssl.SSLError)
    monkeypatch.setattr(ctx, "ssl", fake)
    assert ctx._refuses_own_key(1024) is (expected >= 2)
    assert ctx._probe_security_level() == min(max(expected, 1), 3)


@pytest.mark.parametrize("field", ["ca_file", "crl_file", "client_chain_file"])
def test_trust_files_that_are_not_regular_files_never_block(tmp_path, pki, field):
    """OpenSSL opens these paths itself: a FIFO would block it forever, /dev/zero fill memory."""
    fifo = str(tmp_path / "fifo")
    os.mkfifo(fifo)
    for path in (fifo, "/dev/zero"):
        settings = tls(crl_check="leaf", **{field: path})
        if field == "client_chain_file":
            settings["client_cert_file"] = pki["client"].bundle_path
        with pytest.raises(ctx.ProbeConfigError, match="^%s: cannot read %s: " % (field, path)):
            ctx.TLSContext(settings, m.MOD_SSL)
