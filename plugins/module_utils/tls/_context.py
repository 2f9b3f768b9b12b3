# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""The TLS context of a backend check: one pyOpenSSL context per distinct set of backend TLS settings, configured as
the server configures its proxy context (protocol range, cipher list, trust files, CRL flags, the verify and
client-certificate callbacks), and the client certificates loaded as the server loads them.

What is server-specific (the protocol range, the cipher list handed to OpenSSL, what is verified, which client
certificate is sent, the words of a startup failure) is asked of the semantics object the caller passes in
(_semantics.Semantics); this file never names a server.

The standard library's ssl module is not enough here: it has no per-certificate verify callback (needed for a
server's depth rule and optional verification) and does not expose the backend's acceptable client-CA list (needed
to choose the client certificate as the server does).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import ssl
import tempfile

from ansible_collections.revproxy.tls.plugins.module_utils._files import FileReadError, check_regular_file, read_regular_file
from ansible_collections.revproxy.tls.plugins.module_utils.model._backend_tls import ssl_module_security_level
from ansible_collections.revproxy.tls.plugins.module_utils.tls._pyopenssl_compat import (
    HAS_PYOPENSSL,
    SSL,
    client_ca_names,
    crypto as _crypto,
    install_cert_callback,
    use_client_cert,
    verify_cert,
)

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
except ImportError:  # pragma: no cover - depends on the host; _tls_probe reports it (HAS_CRYPTOGRAPHY)
    pass

_PROTO_CONST = {}
if HAS_PYOPENSSL:
    _PROTO_CONST = {"TLSv1": SSL.TLS1_VERSION, "TLSv1.1": SSL.TLS1_1_VERSION, "TLSv1.2": SSL.TLS1_2_VERSION,
                    "TLSv1.3": SSL.TLS1_3_VERSION}

# A client certificate file or chain file larger than this is refused (a certificate with its key is a few KiB).
MAX_CLIENT_FILE = 1 << 20


class ProbeConfigError(Exception):
    """A backend's TLS settings cannot be used. ``field`` names the setting, ``reason`` is the reason code of the
    backend's result (invalid_input, no_cipher_match), ``detail`` says why (without the field)."""

    def __init__(self, field, detail, reason="invalid_input"):
        Exception.__init__(self, "%s: %s" % (field, detail))
        self.field = field
        self.detail = detail
        self.reason = reason


def _ssl_error_text(exc):
    """OpenSSL's error reasons of a pyOpenSSL exception, as one line."""
    parts = []
    try:
        for item in exc.args[0]:
            if isinstance(item, tuple) and len(item) >= 3:
                parts.append(str(item[2]))
            else:
                parts.append(str(item))
    except (IndexError, TypeError):
        parts.append(str(exc))
    return "; ".join(p for p in parts if p) or exc.__class__.__name__


class _State:
    """What the callbacks of one connection saw (the handshake stage copies it into the facts)."""

    def __init__(self):
        self.verify_event = None
        self.cert_requested = False
        self.ca_list = []
        self.choice_code = None
        self.client_cert_sent = None
        self.internal_error = None


def _read(path, field, limit=MAX_CLIENT_FILE):
    """A (small) PEM file's bytes; ClientFileError naming the field when it cannot be read, is not a regular file
    (a directory, a FIFO, /dev/zero: never opened, so never blocks) or is too large."""
    try:
        return read_regular_file(path, limit, field)
    except FileReadError as exc:
        if exc.reason == "size":
            raise ClientFileError("%s: %s is larger than %d bytes (not a certificate file)" % (field, path, limit))
        raise ClientFileError("%s: cannot read %s: %s" % (field, path, exc.detail))


# A CA or CRL bundle (the system bundle is about 200 KiB; CRLs of large CAs run to a few MiB).
CA_FILE_LIMIT = 64 << 20


class ClientFileError(Exception):
    """Client certificate content the server cannot use (the message names the field)."""


def _pem_blocks(data, kind):
    out = []
    begin = b"-----BEGIN " + kind
    pos = 0
    while True:
        start = data.find(begin, pos)
        if start < 0:
            return out
        end = data.find(b"-----END ", start)
        stop = data.find(b"-----", end + 9)
        if end < 0 or stop < 0:
            return out
        out.append(data[start:stop + 5] + b"\n")
        pos = stop + 5


def load_client_certs(tls, semantics):
    """Load the client certificate file (+ a separate key, + the chain file) as the server would.

    Returns (list of {x509, pkey, issuer, chain_issuers, subject}, error message or None). An error means the server
    refuses to start (semantics.client_file_note ends the message with the server's words); the message starts with
    the field it is about."""
    try:
        return _load_client_certs(tls, semantics), None
    except ClientFileError as exc:
        return [], str(exc)


def _load_certificates(data, field, path):
    certs = []
    for block in _pem_blocks(data, b"CERTIFICATE"):
        try:
            certs.append(x509.load_pem_x509_certificate(block))
        except Exception as exc:  # ValueError, and whatever a hostile DER makes the parser raise
            raise ClientFileError("%s: cannot parse a certificate in %s: %s" % (field, path, exc))
    return certs


def _load_client_certs(tls, semantics):
    note = semantics.client_file_note
    cert_file = tls.get("client_cert_file")
    if not cert_file:
        return []
    data = _read(cert_file, "client_cert_file")
    key_file = tls.get("client_key_file")
    if key_file and key_file != cert_file:
        key_field, key_path, key_data = "client_key_file", key_file, _read(key_file, "client_key_file")
    else:
        key_field, key_path, key_data = "client_cert_file", cert_file, data
    certs = _load_certificates(data, "client_cert_file", cert_file)
    keys = []
    for marker in (b"PRIVATE KEY", b"RSA PRIVATE KEY", b"EC PRIVATE KEY", b"DSA PRIVATE KEY",
                   b"ENCRYPTED PRIVATE KEY"):
        for block in _pem_blocks(key_data, marker):
            if b"ENCRYPTED" in block.split(b"\n", 1)[0] or b"Proc-Type: 4,ENCRYPTED" in block:
                raise ClientFileError("%s: the private key in %s is encrypted (%s)"
                                      % (key_field, key_path, note("encrypted_key")))
            try:
                keys.append(serialization.load_pem_private_key(block, password=None))
            except Exception as exc:  # ValueError, TypeError, UnsupportedAlgorithm
                raise ClientFileError("%s: cannot load the private key in %s: %s" % (key_field, key_path, exc))
    if not certs:
        raise ClientFileError("client_cert_file: no PEM certificate in %s (%s)" % (cert_file, note("no_certificate")))
    leaves = [c for c in certs if not _is_ca(c)]
    if not leaves:
        raise ClientFileError("client_cert_file: no client certificate in %s (%s)" % (cert_file, note("only_ca")))
    if not keys:
        raise ClientFileError("%s: no private key for the client certificate in %s (%s)"
                              % (key_field, key_path, note("no_key")))
    pool = [c for c in certs if _is_ca(c)]
    if tls.get("client_chain_file"):
        chain_path = tls["client_chain_file"]
        pool.extend(_load_certificates(_read(chain_path, "client_chain_file"), "client_chain_file", chain_path))
    out = []
    for cert in leaves:
        pub = cert.public_key().public_bytes(serialization.Encoding.DER,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)
        key = None
        for k in keys:
            if k.public_key().public_bytes(serialization.Encoding.DER,
                                           serialization.PublicFormat.SubjectPublicKeyInfo) == pub:
                key = k
        if key is None:
            raise ClientFileError("%s: the private key in %s does not match the client certificate %s (%s)"
                                  % (key_field, key_path, cert.subject.rfc4514_string(), note("key_mismatch")))
        out.append({"x509": cert, "pkey": key, "issuer": cert.issuer, "subject": cert.subject.rfc4514_string(),
                    "chain_issuers": semantics.build_chain_issuers(cert, pool),
                    "file_chain": [c for c in certs if _is_ca(c)]})
    return out


def _is_ca(cert):
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


_SECURITY_LEVEL = []  # system_security_level(), once per process


def _refuses_own_key(bits):
    """Whether the ssl module's OpenSSL refuses an RSA key of `bits` as a context's own certificate (its security
    level: 2 refuses 1024 bits, 3 refuses 2048)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, u"revproxy.tls security level probe")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    with tempfile.NamedTemporaryFile(suffix=".pem") as handle:
        handle.write(cert.public_bytes(serialization.Encoding.PEM))
        handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                       serialization.NoEncryption()))
        handle.flush()
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_cert_chain(handle.name)
        except ssl.SSLError:
            return True
    return False


def _probe_security_level():
    level = ssl_module_security_level()  # Python >= 3.10; the reading the model's insecure-settings gate uses
    if level is not None:
        return level
    try:
        if not _refuses_own_key(1024):
            return 1
        return 3 if _refuses_own_key(2048) else 2
    except Exception:  # pylint: disable=broad-except
        return None


def system_security_level():
    """The default OpenSSL security level of this host's system library, as the server's SSL_CTX gets it (Debian's
    openssl.cnf sets 2; RHEL's crypto policy sets its own), read through Python's ssl module, which links the system
    library. None when it cannot be told. pyOpenSSL may run on another OpenSSL (a cryptography wheel bundles its own,
    which does not read the system configuration: OpenSSL 3.0's built-in default is 1), so the checker sets the
    system level on its context explicitly: otherwise an RSA 1024 or SHA-1 chain that the server refuses would
    pass."""
    if not _SECURITY_LEVEL:
        _SECURITY_LEVEL.append(_probe_security_level())
    return _SECURITY_LEVEL[0]


def with_security_level(cipher_bytes, level=None):
    """The cipher list with `:@SECLEVEL=<system level>` appended, unless it sets a level itself (as the server's
    would: the configured cipher string decides, else the library's configured default)."""
    level = system_security_level() if level is None else level
    if level is None or b"@SECLEVEL=" in cipher_bytes.upper():
        return cipher_bytes
    return cipher_bytes + b":@SECLEVEL=%d" % level


def cipher_match_error(ciphers, semantics):
    """None when OpenSSL selects at least one (TLS 1.2 and below) cipher from the list the server builds for the
    configured `ciphers` (semantics.cipher_list); else OpenSSL's error text: the server then refuses to start."""
    try:
        SSL.Context(SSL.TLS_METHOD).set_cipher_list(with_security_level(semantics.cipher_list(ciphers)))
    except SSL.Error as exc:
        return "OpenSSL: %s" % _ssl_error_text(exc)
    return None


class TLSContext:
    """A pyOpenSSL context configured as the server (`semantics`) configures its proxy SSL_CTX."""

    def __init__(self, tls, semantics):
        self.tls = tls
        self.semantics = semantics
        self.client_certs, self.client_cert_error = load_client_certs(tls, semantics)
        low, high = semantics.protocol_range(tls["protocols"])
        ctx = SSL.Context(SSL.TLS_METHOD)
        ctx.set_min_proto_version(_PROTO_CONST[low])
        ctx.set_max_proto_version(_PROTO_CONST[high])
        try:
            self.cipher_string = semantics.cipher_list(tls.get("ciphers"))
        except (AttributeError, UnicodeError) as exc:
            raise ProbeConfigError("ciphers", "%r is not an OpenSSL cipher string (%s)" % (tls.get("ciphers"), exc))
        try:
            ctx.set_cipher_list(with_security_level(self.cipher_string))
        except SSL.Error as exc:
            raise ProbeConfigError("ciphers", "OpenSSL: %s" % _ssl_error_text(exc), reason="no_cipher_match")
        # Trust: only ca_file/ca_path (never the system store), plus the certificates of the client chain file
        # (a proxy trusts those too). Default OpenSSL flags.
        self._load_locations(ctx, "ca_file", tls.get("ca_file"), None)
        self._load_locations(ctx, "ca_path", None, tls.get("ca_path"))
        self._load_locations(ctx, "client_chain_file", tls.get("client_chain_file"), None)
        if tls.get("crl_check", "none") != "none":
            self._load_locations(ctx, "crl_file", tls.get("crl_file"), None)
            self._load_locations(ctx, "crl_path", None, tls.get("crl_path"))
            flags = _crypto.X509StoreFlags.CRL_CHECK
            if tls["crl_check"] == "chain":
                flags |= _crypto.X509StoreFlags.CRL_CHECK_ALL
            ctx.get_cert_store().set_flags(flags)
        ctx.set_verify(SSL.VERIFY_PEER, self._verify_cb)
        if semantics.sends_file_chain and self.client_certs:
            for extra in self.client_certs[0]["file_chain"]:
                try:
                    ctx.add_extra_chain_cert(extra)
                except TypeError:  # pyOpenSSL < 24.3 wants its own type
                    ctx.add_extra_chain_cert(_crypto.X509.from_cryptography(extra))
        depth_limit = semantics.verify_depth_limit(tls["verify_depth"])
        if depth_limit is not None:
            ctx.set_verify_depth(depth_limit)
        # A proxy's client-certificate callback runs when the backend sends CertificateRequest; so does
        # SSL_CTX_set_cert_cb.
        self._cert_cb = install_cert_callback(ctx, self._cert_callback)
        self.ctx = ctx

    def _load_locations(self, ctx, field, cafile, capath):
        if not (cafile or capath):
            return
        if cafile:
            # OpenSSL opens the path itself: a FIFO would block it, /dev/zero fill memory.
            try:
                check_regular_file(cafile, CA_FILE_LIMIT, field)
            except FileReadError as exc:
                raise ProbeConfigError(field, "cannot read %s: %s" % (cafile, exc.detail))
        try:
            ctx.load_verify_locations(cafile, capath)
        except SSL.Error as exc:
            raise ProbeConfigError(field, "cannot load %s: %s (%s)" % (
                cafile or capath, _ssl_error_text(exc), self.semantics.client_file_note("trust_file")))
        except (TypeError, ValueError, UnicodeError) as exc:
            raise ProbeConfigError(field, "cannot load %r: %s" % (cafile or capath, exc))

    def _verify_cb(self, conn, cert, errnum, errdepth, ok):
        state = conn.get_app_data()
        try:
            crt = verify_cert(cert)
            result, event = self.semantics.verify_decision(self.tls["verify"], self.tls["verify_depth"], errnum,
                                                           errdepth, ok)
            if event is not None and (state.verify_event is None or self.semantics.verify_after_handshake):
                event = dict(event)
                event["cert"] = crt
                state.verify_event = event
            return result
        except Exception as exc:  # pragma: no cover - never let an exception escape into OpenSSL
            state.internal_error = "verify callback: %s" % exc
            return False

    def _cert_callback(self, conn):
        state = None
        try:
            state = conn.get_app_data()
            state.cert_requested = True
            names = client_ca_names(conn)
            state.ca_list = [text for _der, text in names]
            # Compare DNs as DER, which works with every pyOpenSSL (X509Name) and cryptography (Name) alike.
            certs = [{"issuer": c["issuer"].public_bytes(),
                      "chain_issuers": [i.public_bytes() for i in c.get("chain_issuers") or ()]}
                     for c in self.client_certs]
            index, code = self.semantics.choose_client_cert([der for der, _text in names], certs)
            state.choice_code = code
            if index is not None:
                chosen = self.client_certs[index]
                use_client_cert(conn, chosen["x509"], chosen["pkey"])
                state.client_cert_sent = chosen["subject"]
            return 1
        except Exception as exc:  # pragma: no cover
            if state is not None:
                state.internal_error = "client certificate callback: %s" % exc
            return 1
