"""_pyopenssl_compat: the import-time capability check (a pyOpenSSL without a private or newer symbol the checker
needs gives a message naming the versions and the symbol, never a traceback or "pyOpenSSL missing"), and the
version shims."""
import importlib.util
import sys

import cryptography
import OpenSSL
import OpenSSL._util
import pytest
from OpenSSL import SSL, crypto

from ansible_collections.revproxy.tls.plugins.module_utils.tls import _pyopenssl_compat as compat
from ansible_collections.revproxy.tls.plugins.module_utils.tls import _tls_probe

from support.pki import PKI

PREFIX = "ansible_collections.revproxy.tls.plugins.module_utils.tls."


def fresh(name, monkeypatch, alias):
    """A new copy of module_utils `name` (the imported one is left alone), registered as `alias` while the test runs."""
    spec = importlib.util.spec_from_file_location(alias, sys.modules[PREFIX + name].__file__)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, alias, module)
    spec.loader.exec_module(module)
    return module


class LibWithout:
    """OpenSSL._util.lib without one function."""

    def __init__(self, lib, missing):
        self._lib = lib
        self._missing = missing

    def __getattr__(self, name):
        if name == self._missing:
            raise AttributeError(name)
        return getattr(self._lib, name)


class ContextWithout(SSL.Context):
    """A Context whose OpenSSL pointer is not at ._context any more."""

    def __init__(self, method):
        super().__init__(method)
        self._renamed = self.__dict__.pop("_context")


def without_reverse_mapping(monkeypatch):
    monkeypatch.delattr(SSL.Connection, "_reverse_mapping")


def without_cert_cb(monkeypatch):
    monkeypatch.setattr(OpenSSL._util, "lib", LibWithout(OpenSSL._util.lib, "SSL_CTX_set_cert_cb"))


def without_util(monkeypatch):
    monkeypatch.setitem(sys.modules, "OpenSSL._util", None)  # "import OpenSSL._util" raises ImportError


def without_context_pointer(monkeypatch):
    monkeypatch.setattr(SSL, "Context", ContextWithout)


def without_to_cryptography(monkeypatch):
    monkeypatch.delattr(crypto.X509, "to_cryptography")


def without_min_proto(monkeypatch):
    monkeypatch.delattr(SSL.Context, "set_min_proto_version")


MISSING = [
    (without_reverse_mapping, "OpenSSL.SSL.Connection._reverse_mapping"),
    (without_cert_cb, "OpenSSL._util.lib.SSL_CTX_set_cert_cb"),
    (without_util, "OpenSSL._util.ffi and OpenSSL._util.lib"),
    (without_context_pointer, "OpenSSL.SSL.Context._context"),
    (without_to_cryptography, "OpenSSL.crypto.X509.to_cryptography"),
    (without_min_proto, "OpenSSL.SSL.Context.set_min_proto_version"),
]


def test_the_installed_pyopenssl_has_everything():
    assert compat.CAPABILITY_ERROR is None
    assert compat.HAS_PYOPENSSL and compat.PYOPENSSL_IMPORT_ERROR is None
    assert _tls_probe.HAS_PYOPENSSL and _tls_probe.CAPABILITY_ERROR is None
    assert _tls_probe.openssl_version().startswith("OpenSSL")


@pytest.mark.parametrize("remove, symbol", MISSING, ids=[m[1] for m in MISSING])
def test_a_missing_symbol_is_named_with_the_versions(monkeypatch, remove, symbol):
    remove(monkeypatch)
    broken = fresh("_pyopenssl_compat", monkeypatch, "revproxy_test_compat")
    message = broken.CAPABILITY_ERROR
    expected = "pyOpenSSL %s with cryptography %s lacks %s, which backend_handshake needs for " % (
        OpenSSL.__version__, cryptography.__version__, symbol)
    assert message.startswith(expected), message
    assert "missing" not in message.lower()
    assert broken.HAS_PYOPENSSL is False
    assert isinstance(broken.PYOPENSSL_IMPORT_ERROR, ImportError)
    assert str(broken.PYOPENSSL_IMPORT_ERROR) == message
    assert broken.openssl_version() is None


def test_tls_probe_exposes_the_message(monkeypatch):
    """What backend_handshake reads: HAS_PYOPENSSL False, and the message (not 'No module named OpenSSL')."""
    without_reverse_mapping(monkeypatch)
    broken = fresh("_pyopenssl_compat", monkeypatch, PREFIX + "_pyopenssl_compat")
    probe = fresh("_tls_probe", monkeypatch, "revproxy_test_tls_probe")
    assert probe.HAS_PYOPENSSL is False
    assert probe.CAPABILITY_ERROR == broken.CAPABILITY_ERROR
    assert "OpenSSL.SSL.Connection._reverse_mapping" in str(probe.PYOPENSSL_IMPORT_ERROR)
    assert "pyOpenSSL %s" % OpenSSL.__version__ in str(probe.PYOPENSSL_IMPORT_ERROR)


def test_the_imported_modules_are_untouched_by_the_simulations():
    assert compat.CAPABILITY_ERROR is None and _tls_probe.HAS_PYOPENSSL
    assert sys.modules[PREFIX + "_pyopenssl_compat"] is compat


# --- the shims, on both pyOpenSSL paths -----------------------------------------------------------------------------


class OldConnection:
    """pyOpenSSL < 24.3: no as_cryptography=, pyOpenSSL objects only."""

    def __init__(self, chain=None, names=None):
        self.chain = chain
        self.names = names
        self.used = []

    def get_peer_cert_chain(self):
        return self.chain

    def get_peer_certificate(self):
        return self.chain[0] if self.chain else None

    def get_client_ca_list(self):
        return self.names

    def use_certificate(self, cert):
        if not isinstance(cert, crypto.X509):
            raise TypeError("X509 wanted")
        self.used.append(cert)

    def use_privatekey(self, key):
        if not isinstance(key, crypto.PKey):
            raise TypeError("PKey wanted")
        self.used.append(key)


@pytest.fixture(scope="module")
def leaf(tmp_path_factory):
    pki = PKI(tmp_path_factory.mktemp("pki"))
    cert = pki.leaf("compat.test", issuer=pki.ca("Compat Root"))
    return cert.cert, cert.key


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the old pyOpenSSL objects, on purpose
def test_old_pyopenssl_paths_give_cryptography_objects(leaf):
    crt, key = leaf
    old = OldConnection(chain=[crypto.X509.from_cryptography(crt)],
                        names=[crypto.X509.from_cryptography(crt).get_subject()])
    assert compat.peer_cert_chain(old) == [crt]
    assert compat.peer_certificate(old) == crt
    assert compat.peer_certificate(OldConnection(chain=[])) is None
    assert compat.peer_cert_chain(OldConnection(chain=None)) == []
    assert compat.verify_cert(crypto.X509.from_cryptography(crt)) == crt
    [(der, text)] = compat.client_ca_names(old)
    assert der == crt.subject.public_bytes()
    assert text == crt.subject.rfc4514_string()
    compat.use_client_cert(old, crt, key)
    assert [type(o) for o in old.used] == [crypto.X509, crypto.PKey]
