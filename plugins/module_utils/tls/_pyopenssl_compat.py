# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""Every use of pyOpenSSL's private API and every pyOpenSSL version difference the checker relies on, in one file.

The checker needs two things pyOpenSSL has no public API for: OpenSSL's SSL_CTX_set_cert_cb (to choose the client
certificate when the server asks for one, as a proxy's client-certificate callback does), reached through
``OpenSSL._util`` and ``Context._context``, and the Connection behind an ``SSL *`` (``Connection._reverse_mapping``).
At import this file checks that each of them (and the public names the checker uses) exists. When one is missing,
CAPABILITY_ERROR is a message naming the pyOpenSSL and cryptography versions found and the missing symbol, and
HAS_PYOPENSSL is False: the module fails with that message instead of a traceback in the middle of a handshake.

The version shims (pyOpenSSL 23.0 on Debian 12 has no ``as_cryptography=``, which arrived in 24.3; cryptography 38
has no ``not_valid_*_utc``) give cryptography objects, aware datetimes and DER-encoded DNs to the pure rules of a
server's semantics whatever the version.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

try:
    import OpenSSL
    from OpenSSL import SSL
    from OpenSSL import crypto
    HAS_PYOPENSSL = True
    PYOPENSSL_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - depends on the host
    OpenSSL = SSL = crypto = None
    HAS_PYOPENSSL = False
    PYOPENSSL_IMPORT_ERROR = exc

try:
    import cryptography
    CRYPTOGRAPHY_VERSION = cryptography.__version__
except ImportError:  # pragma: no cover - depends on the host
    CRYPTOGRAPHY_VERSION = None


class PyOpenSSLCompatError(ImportError):
    """The installed pyOpenSSL lacks something the checker needs (the message names the versions and the symbol)."""


def _private_util():
    from OpenSSL._util import ffi, lib  # the private API: see the module docstring
    return ffi, lib


def _context_pointer():
    return SSL.Context(SSL.TLS_METHOD)._context


# (symbol as the message names it, what the checker does with it, check returning a true value when present).
# Attribute errors and import errors count as "missing".
_NEEDS = (
    ("OpenSSL._util.ffi and OpenSSL._util.lib", "the client-certificate callback", _private_util),
    ("OpenSSL._util.lib.SSL_CTX_set_cert_cb", "the client-certificate callback",
     lambda: _private_util()[1].SSL_CTX_set_cert_cb),
    ("OpenSSL._util.ffi.callback", "the client-certificate callback", lambda: _private_util()[0].callback),
    ("OpenSSL.SSL.Context._context", "the client-certificate callback", _context_pointer),
    ("OpenSSL.SSL.Connection._reverse_mapping", "the client-certificate callback",
     lambda: hasattr(SSL.Connection, "_reverse_mapping") and SSL.Connection._reverse_mapping is not None),
    ("OpenSSL.SSL.Context.set_min_proto_version", "backend_tls.protocols", lambda: SSL.Context.set_min_proto_version),
    ("OpenSSL.SSL.TLS1_3_VERSION", "backend_tls.protocols", lambda: SSL.TLS1_3_VERSION),
    ("OpenSSL.SSL.Connection.bio_read", "the handshake over memory BIOs", lambda: SSL.Connection.bio_read),
    ("OpenSSL.SSL.Connection.get_client_ca_list", "the server's acceptable client-CA list",
     lambda: SSL.Connection.get_client_ca_list),
    ("OpenSSL.crypto.X509.to_cryptography", "the verify callback", lambda: crypto.X509.to_cryptography),
    ("OpenSSL.crypto.X509StoreFlags", "backend_tls.crl_check", lambda: crypto.X509StoreFlags.CRL_CHECK_ALL),
    ("OpenSSL.SSL.OpenSSL_version", "openssl_version", lambda: SSL.OpenSSL_version(SSL.OPENSSL_VERSION)),
)


def versions():
    """'pyOpenSSL X with cryptography Y' as found on this host."""
    pyopenssl = getattr(OpenSSL, "__version__", "(unknown version)")
    return "pyOpenSSL %s with cryptography %s" % (pyopenssl, CRYPTOGRAPHY_VERSION or "(not installed)")


# The oldest releases the checker supports (Debian 12's python3-openssl and python3-cryptography, which the compat
# stage of `make test` runs the server oracle cases on). The one place these numbers are written: the module's
# requirements, meta/ee-requirements.txt and docs/usage.md are checked against it by
# tests/unit/plugins/module_utils/tls/test_dependency_minimums.py.
MIN_VERSIONS = {"pyOpenSSL": "23.0", "cryptography": "38.0"}


def check_capabilities():
    """None when every symbol the checker needs exists, else the message naming the versions and the first missing
    symbol."""
    if not HAS_PYOPENSSL:
        return None  # not installed: the module says so (missing_required_lib)
    for symbol, purpose, check in _NEEDS:
        try:
            present = check()
        except (AttributeError, ImportError, TypeError):
            present = False
        if not present:
            return ("%s lacks %s, which backend_handshake needs for %s: install a pyOpenSSL release that has it "
                    "(the collection supports pyOpenSSL >= %s with cryptography >= %s)"
                    % (versions(), symbol, purpose, MIN_VERSIONS["pyOpenSSL"], MIN_VERSIONS["cryptography"]))
    return None


CAPABILITY_ERROR = check_capabilities()
if CAPABILITY_ERROR is not None:
    HAS_PYOPENSSL = False
    PYOPENSSL_IMPORT_ERROR = PyOpenSSLCompatError(CAPABILITY_ERROR)


def openssl_version():
    if not HAS_PYOPENSSL:
        return None
    return SSL.OpenSSL_version(SSL.OPENSSL_VERSION).decode("ascii", "replace")


# ---------------------------------------------------------------------------------------------------------------------
# The private API


def install_cert_callback(ctx, callback):
    """SSL_CTX_set_cert_cb on a pyOpenSSL Context: callback(connection) runs when the server sends
    CertificateRequest, the point where a proxy's client-certificate callback runs. The handshake always continues
    (the callback answers 1, an exception included: none may escape into OpenSSL). Returns the cffi callback, which
    the caller must keep alive as long as the context."""
    ffi, lib = _private_util()

    def trampoline(ssl, _arg):
        try:
            callback(SSL.Connection._reverse_mapping[ssl])
        except Exception:  # pragma: no cover - the callback records its own errors
            pass
        return 1

    handle = ffi.callback("int (*)(SSL *, void *)", trampoline)
    lib.SSL_CTX_set_cert_cb(ctx._context, handle, ffi.NULL)
    return handle


# ---------------------------------------------------------------------------------------------------------------------
# Version shims: cryptography objects whatever the pyOpenSSL version


def peer_cert_chain(conn):
    """The chain the server sent, as cryptography certificates (leaf first; [] when none)."""
    try:
        return conn.get_peer_cert_chain(as_cryptography=True) or []
    except TypeError:
        return [cert.to_cryptography() for cert in conn.get_peer_cert_chain() or []]


def peer_certificate(conn):
    """The server's certificate as a cryptography certificate, or None."""
    try:
        return conn.get_peer_certificate(as_cryptography=True)
    except TypeError:
        cert = conn.get_peer_certificate()
        return cert.to_cryptography() if cert is not None else None


def verify_cert(cert):
    """The certificate the verify callback receives (always pyOpenSSL's X509), as a cryptography certificate."""
    return cert.to_cryptography()


def use_client_cert(conn, cert, key):
    """Install a cryptography certificate and key on the connection (pyOpenSSL < 24.3 wants its own types)."""
    try:
        conn.use_certificate(cert)
        conn.use_privatekey(key)
    except TypeError:
        conn.use_certificate(crypto.X509.from_cryptography(cert))
        conn.use_privatekey(crypto.PKey.from_cryptography_key(key))


def client_ca_names(conn):
    """The server's acceptable client-CA list as (DER, readable string) pairs."""
    try:
        names = conn.get_client_ca_list(as_cryptography=True) or []
        return [(name.public_bytes(), name.rfc4514_string()) for name in names]
    except TypeError:
        out = []
        for name in conn.get_client_ca_list() or []:
            text = ",".join("%s=%s" % (k.decode("ascii", "replace"), v.decode("utf-8", "replace"))
                            for k, v in reversed(name.get_components()))
            out.append((name.der(), text))
        return out


def _utc(value):
    return value if value.tzinfo is not None else value.replace(tzinfo=datetime.timezone.utc)


def cert_not_before(cert):
    """notBefore as an aware UTC datetime (cryptography >= 42 has *_utc; Debian 12 ships 38)."""
    return _utc(getattr(cert, "not_valid_before_utc", None) or cert.not_valid_before)


def cert_not_after(cert):
    """notAfter as an aware UTC datetime."""
    return _utc(getattr(cert, "not_valid_after_utc", None) or cert.not_valid_after)
