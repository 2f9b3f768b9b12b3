# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""The I/O of the backend check: resolve, connect, TLS handshake as mod_ssl does it, one HTTP request.

Everything runs against one deadline per backend (DNS included: the lookup runs in a daemon thread that is abandoned
when the deadline passes). Sockets are non-blocking; TLS runs over memory BIOs (pyOpenSSL), so the probe sees the raw
bytes the backend sends and never waits beyond its deadline. The standard library's ssl module is not enough here: it
has no per-certificate verify callback (needed for mod_ssl's depth rule and optional_no_ca) and does not expose the
server's acceptable client-CA list (needed to choose the client certificate as ssl_callback_proxy_cert does).

probe() gathers facts; _mod_ssl.classify() turns them into a reason.

One implementation, two drivers. The probe is written as generators (probe_steps() and the stage_*_steps() it calls
with `yield from`) that yield what they wait for, a wait (what, events, deadline):
  (socket, POLLIN or POLLOUT, deadline)  resumed with the ready events, as poll() reports them;
  (lookup, 0, deadline)                  a _Lookup: resumed when its getaddrinfo thread has the answer;
  (None, 0, deadline)                    nothing: only the deadline ends it.
When the deadline passes first, the driver throws _Deadline() into the generator at that yield, so each stage's
try/except says "timeout" exactly where the blocking code did. run_blocking() drives one generator in the calling
thread with poll() (probe(), stage_dns() and the other blocking names are that); run_loop() drives many from one
selectors loop in one thread: at most `concurrency` in flight, at most `per_address` per backend address.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import binascii
import datetime
import errno
import os
import heapq
import select
import selectors
import socket
import ssl
import tempfile
import threading
import time
import types
from collections import deque

from ansible_collections.revproxy.tls.plugins.module_utils._files import FileReadError, check_regular_file, read_regular_file
# Every private-API use and version shim of pyOpenSSL lives in _pyopenssl_compat, checked at import: when a symbol
# the checker needs is missing, HAS_PYOPENSSL is False and PYOPENSSL_IMPORT_ERROR (and CAPABILITY_ERROR) name the
# versions found and the symbol. Re-exported here for backend_handshake:
# pylint: disable=unused-import
from ansible_collections.revproxy.tls.plugins.module_utils.tls._pyopenssl_compat import (  # noqa: F401
    CAPABILITY_ERROR,
    PYOPENSSL_IMPORT_ERROR,
    openssl_version,
)
# pylint: enable=unused-import
from ansible_collections.revproxy.tls.plugins.module_utils.tls._pyopenssl_compat import (
    HAS_PYOPENSSL,
    SSL,
    client_ca_names,
    crypto as _crypto,
    install_cert_callback,
    peer_cert_chain,
    peer_certificate,
    use_client_cert,
    verify_cert,
)

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - depends on the host
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = exc

# mod_ssl_cipher_string: the one definition of the list mod_ssl hands to OpenSSL (SSLProxyCipherSuite followed by
# ":!aNULL:!eNULL:!EXP"); the checker's context uses exactly that list.
from ansible_collections.revproxy.tls.plugins.module_utils.model._backend_tls import (
    mod_ssl_cipher_string,
    ssl_module_security_level,
)
from ansible_collections.revproxy.tls.plugins.module_utils.tls._mod_ssl import (
    build_chain_issuers,
    cert_not_after,
    cert_not_before,
    choose_client_cert,
    parse_status_line,
    protocol_range,
    verify_decision,
)

_PROTO_CONST = {}
if HAS_PYOPENSSL:
    _PROTO_CONST = {"TLSv1": SSL.TLS1_VERSION, "TLSv1.1": SSL.TLS1_1_VERSION, "TLSv1.2": SSL.TLS1_2_VERSION,
                    "TLSv1.3": SSL.TLS1_3_VERSION}

# mod_ssl's default SSLProxyCipherSuite: OpenSSL's default list minus aNULL, eNULL, EXP (ssl_engine_init.c,
# ssl_init_ctx_cipher_suite: SSL_DEFAULT_CIPHER_LIST ":!aNULL:!eNULL:!EXP"). A configured SSLProxyCipherSuite gets
# the same suffix appended (ssl_engine_config.c, ssl_cmd_SSLProxyCipherSuite): see mod_ssl_cipher_string().
DEFAULT_CIPHERS = b"DEFAULT:!aNULL:!eNULL:!EXP"

# mod_proxy_http's default ResponseFieldSize (HUGE_STRING_LEN): a status line or header line of size - 1 bytes or
# more makes Apache answer 502. The checker reads at most MAX_RESPONSE_HEAD bytes of a response head (the headers
# beyond are not examined) and never the body, so a hostile backend cannot make it buffer more.
RESPONSE_FIELD_SIZE = 8192
MAX_RESPONSE_HEAD = 65536

# SSLProxyMachineCertificateFile/ChainFile larger than this are refused (a certificate with its key is a few KiB).
MAX_CLIENT_FILE = 1 << 20

# TLS alert descriptions as OpenSSL names them in its error reasons.
_ALERTS = (
    ("certificate required", 116), ("protocol version", 70), ("handshake failure", 40), ("bad certificate", 42),
    ("unsupported certificate", 43), ("certificate revoked", 44), ("certificate expired", 45),
    ("certificate unknown", 46), ("illegal parameter", 47), ("unknown ca", 48), ("access denied", 49),
    ("decode error", 50), ("decrypt error", 51), ("internal error", 80), ("unrecognized name", 112),
    ("insufficient security", 71), ("no application protocol", 120),
)


class ProbeConfigError(Exception):
    """A backend's TLS settings cannot be used. ``field`` names the setting, ``reason`` is the reason code of the
    backend's result (invalid_input, no_cipher_match), ``detail`` says why (without the field)."""

    def __init__(self, field, detail, reason="invalid_input"):
        Exception.__init__(self, "%s: %s" % (field, detail))
        self.field = field
        self.detail = detail
        self.reason = reason


class UnsafeRequest(ValueError):
    """A value that would change the HTTP request the checker sends (CR, LF or NUL in a header value or the path)."""


_UNSAFE_REQUEST_CHARS = ("\r", "\n", "\x00")


def request_bytes(spec):
    """The request Apache's mod_proxy_http would send (GET, the Host it sends), as bytes. Raises UnsafeRequest when
    a value could split the request: no CR, LF or NUL ever reaches the wire, whatever validation ran before."""
    path = spec["path"]
    headers = (("Host", spec["request_host"]), ("User-Agent", "revproxy.tls.backend_handshake"), ("Accept", "*/*"),
               ("Connection", "close"))
    for name, value in (("path", path),) + headers:
        if not isinstance(value, str) or not value:
            raise UnsafeRequest("%s: must be a non-empty string, got %r" % (name, value))
        if any(c in value for c in _UNSAFE_REQUEST_CHARS):
            raise UnsafeRequest("%s: %r contains CR, LF or NUL (it would inject into the HTTP request)" % (name, value))
    if any(c.isspace() for c in path):
        raise UnsafeRequest("path: %r contains whitespace" % (path,))
    lines = ["GET %s HTTP/1.1" % path] + ["%s: %s" % item for item in headers]
    try:
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    except UnicodeEncodeError:
        raise UnsafeRequest("Host: %r is not a latin-1 string" % (spec["request_host"],))


def sni_bytes(sni):
    """The SNI host name as bytes (None: no SNI). Raises UnsafeRequest for a name OpenSSL must not be given."""
    if sni is None:
        return None
    if not isinstance(sni, str) or not sni or any(c in sni for c in _UNSAFE_REQUEST_CHARS):
        raise UnsafeRequest("SNI: %r is not a host name" % (sni,))
    try:
        return sni.encode("idna")
    except UnicodeError as exc:
        raise UnsafeRequest("SNI: %r is not a valid host name (%s)" % (sni, exc))


# ---------------------------------------------------------------------------------------------------------------------
# Context (one per distinct set of TLS settings; shared by the backends that use it)


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
    """SSLProxyMachineCertificate* content mod_ssl cannot use (the message names the field)."""


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


def load_client_certs(tls):
    """Load SSLProxyMachineCertificateFile (+ a separate key, + the chain file) as mod_ssl would.

    Returns (list of {x509, pkey, issuer, chain_issuers, subject}, error message or None). An error means httpd
    refuses to start (AH02252 / AH02326); the message starts with the field it is about."""
    try:
        return _load_client_certs(tls), None
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


def _load_client_certs(tls):
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
                raise ClientFileError("%s: the private key in %s is encrypted (mod_ssl cannot use encrypted keys)"
                                      % (key_field, key_path))
            try:
                keys.append(serialization.load_pem_private_key(block, password=None))
            except Exception as exc:  # ValueError, TypeError, UnsupportedAlgorithm
                raise ClientFileError("%s: cannot load the private key in %s: %s" % (key_field, key_path, exc))
    if not certs:
        raise ClientFileError("client_cert_file: no PEM certificate in %s (AH02252)" % cert_file)
    leaves = [c for c in certs if not _is_ca(c)]
    if not leaves:
        raise ClientFileError("client_cert_file: no client certificate in %s (only CA certificates: AH02206)"
                              % cert_file)
    if not keys:
        raise ClientFileError("%s: no private key for the client certificate in %s (AH02252)" % (key_field, key_path))
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
            raise ClientFileError("%s: the private key in %s does not match the client certificate %s (AH02326)"
                                  % (key_field, key_path, cert.subject.rfc4514_string()))
        out.append({"x509": cert, "pkey": key, "issuer": cert.issuer, "subject": cert.subject.rfc4514_string(),
                    "chain_issuers": build_chain_issuers(cert, pool)})
    return out


def _is_ca(cert):
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def cipher_list(ciphers):
    """The cipher list OpenSSL gets from mod_ssl for SSLProxyCipherSuite `ciphers` (None: not configured), as bytes."""
    built = mod_ssl_cipher_string(ciphers)
    return built.encode("ascii") if built is not None else DEFAULT_CIPHERS


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
    """The default OpenSSL security level of this host's system library, as Apache's SSL_CTX gets it (Debian's
    openssl.cnf sets 2; RHEL's crypto policy sets its own), read through Python's ssl module, which links the system
    library. None when it cannot be told. pyOpenSSL may run on another OpenSSL (a cryptography wheel bundles its own,
    which does not read the system configuration: OpenSSL 3.0's built-in default is 1), so the checker sets the
    system level on its context explicitly: otherwise an RSA 1024 or SHA-1 chain that Apache refuses would pass."""
    if not _SECURITY_LEVEL:
        _SECURITY_LEVEL.append(_probe_security_level())
    return _SECURITY_LEVEL[0]


def with_security_level(cipher_bytes, level=None):
    """The cipher list with `:@SECLEVEL=<system level>` appended, unless it sets a level itself (as Apache's would:
    the SSLProxyCipherSuite string decides, else the library's configured default)."""
    level = system_security_level() if level is None else level
    if level is None or b"@SECLEVEL=" in cipher_bytes.upper():
        return cipher_bytes
    return cipher_bytes + b":@SECLEVEL=%d" % level


def cipher_match_error(ciphers):
    """None when OpenSSL selects at least one (TLS 1.2 and below) cipher from the list mod_ssl builds for
    SSLProxyCipherSuite `ciphers`; else OpenSSL's error text: httpd then refuses to start with AH01898."""
    try:
        SSL.Context(SSL.TLS_METHOD).set_cipher_list(with_security_level(cipher_list(ciphers)))
    except SSL.Error as exc:
        return "OpenSSL: %s" % _ssl_error_text(exc)
    return None


class TLSContext:
    """A pyOpenSSL context configured as mod_ssl configures its proxy SSL_CTX."""

    def __init__(self, tls):
        self.tls = tls
        self.client_certs, self.client_cert_error = load_client_certs(tls)
        low, high = protocol_range(tls["protocols"])
        ctx = SSL.Context(SSL.TLS_METHOD)
        ctx.set_min_proto_version(_PROTO_CONST[low])
        ctx.set_max_proto_version(_PROTO_CONST[high])
        try:
            self.cipher_string = cipher_list(tls.get("ciphers"))
        except (AttributeError, UnicodeError) as exc:
            raise ProbeConfigError("ciphers", "%r is not an OpenSSL cipher string (%s)" % (tls.get("ciphers"), exc))
        try:
            ctx.set_cipher_list(with_security_level(self.cipher_string))
        except SSL.Error as exc:
            raise ProbeConfigError("ciphers", "OpenSSL: %s" % _ssl_error_text(exc), reason="no_cipher_match")
        # Trust: only SSLProxyCACertificateFile/Path (never the system store), plus the certificates of
        # SSLProxyMachineCertificateChainFile (the manual warns they are trusted too). Default OpenSSL flags.
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
        # ssl_callback_proxy_cert is installed for every proxy context; SSL_CTX_set_cert_cb runs at the same point
        # of the handshake (when the server sends CertificateRequest).
        self._cert_cb = install_cert_callback(ctx, self._cert_callback)
        self.ctx = ctx

    @staticmethod
    def _load_locations(ctx, field, cafile, capath):
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
            raise ProbeConfigError(field, "cannot load %s: %s (httpd would not start)"
                                   % (cafile or capath, _ssl_error_text(exc)))
        except (TypeError, ValueError, UnicodeError) as exc:
            raise ProbeConfigError(field, "cannot load %r: %s" % (cafile or capath, exc))

    def _verify_cb(self, conn, cert, errnum, errdepth, ok):
        state = conn.get_app_data()
        try:
            crt = verify_cert(cert)
            result, event = verify_decision(self.tls["verify"], self.tls["verify_depth"], errnum, errdepth, ok)
            if event is not None and state.verify_event is None:
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
            index, code = choose_client_cert([der for der, _text in names], certs)
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


# ---------------------------------------------------------------------------------------------------------------------
# Probe


class _State:
    def __init__(self):
        self.verify_event = None
        self.cert_requested = False
        self.ca_list = []
        self.choice_code = None
        self.client_cert_sent = None
        self.internal_error = None


class _Deadline(Exception):
    pass


class _EOF(Exception):
    pass


def _ssl_error_text(exc):
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


def _alert_of(text):
    low = (text or "").lower()
    if "alert" not in low:
        return None
    for name, number in _ALERTS:
        if name in low:
            return number
    return None


def _resolve_steps(host, port, deadline):
    """getaddrinfo bounded by the deadline (daemon thread, abandoned on timeout)."""
    return (yield from _Lookup(host, port).steps(deadline))


class Resolver(object):
    """getaddrinfo once per host name for one run of checks, as Apache resolves each worker's host once: checks of
    the same host (other ports, paths, SNI) share one lookup, concurrent ones included. Each caller still waits only
    until its own deadline, and an error is shared like an answer. Without it (Resolver=None), each check looks up
    its own host."""

    def __init__(self):
        self._lock = threading.Lock()
        self._lookups = {}

    def resolve_steps(self, host, port, deadline):
        with self._lock:
            lookup = self._lookups.get(host)
            if lookup is None:
                lookup = self._lookups[host] = _Lookup(host, 0)
        addrs = yield from lookup.steps(deadline)
        return [(family, kind, proto, canon, sockaddr[:1] + (port,) + sockaddr[2:])
                for family, kind, proto, canon, sockaddr in addrs]


class _Lookup(object):
    """One getaddrinfo in a daemon thread (abandoned by callers whose deadline passes first). A waiter yields it
    (steps): run_blocking waits on it (wait_done), run_loop registers a callback (on_done, called from the lookup
    thread)."""

    def __init__(self, host, port):
        self._box = {}
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._callbacks = []
        thread = threading.Thread(target=self._work, args=(host, port), name="dns-%s" % host)
        thread.daemon = True
        thread.start()

    def _work(self, host, port):
        try:
            self._box["addrs"] = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
        except Exception as exc:  # socket.gaierror, UnicodeError
            self._box["error"] = exc
        finally:
            with self._lock:
                self._done.set()
                callbacks, self._callbacks = self._callbacks, None
            for callback in callbacks:
                callback()

    def on_done(self, callback):
        """Call callback() once the answer is in: from the lookup thread, or at once if it is in already."""
        with self._lock:
            if self._callbacks is not None:
                self._callbacks.append(callback)
                return
        callback()

    def wait_done(self, timeout):
        return self._done.wait(timeout)

    def steps(self, deadline):
        if not self._done.is_set():
            yield (self, 0, deadline)
        if "error" in self._box:
            raise self._box["error"]
        return self._box["addrs"]


def _wait(sock, events, deadline):
    """Block until `sock` is ready for `events` (poll bits); _Deadline when the deadline passes first."""
    poller = select.poll()
    poller.register(sock.fileno(), events)
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _Deadline()
        try:
            ready = poller.poll(max(1, int(remaining * 1000)))
        except InterruptedError:  # pragma: no cover
            continue
        if ready:
            return ready[0][1]


def _connect(family, sockaddr, deadline):
    """Generator: a connected non-blocking TCP socket (OSError when the connection fails)."""
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        err = sock.connect_ex(sockaddr)
        if err not in (0, errno.EINPROGRESS, errno.EALREADY, errno.EWOULDBLOCK):
            raise OSError(err, os.strerror(err))
        if err != 0:
            yield (sock, select.POLLOUT, deadline)
            err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                raise OSError(err, os.strerror(err))
        return sock
    except BaseException:  # GeneratorExit included: a check abandoned by its driver closes its socket
        sock.close()
        raise


class _Pipe:
    """Memory-BIO TLS over a non-blocking socket with a deadline. flush, fill and run are generators."""

    def __init__(self, sock, conn, deadline):
        self.sock = sock
        self.conn = conn
        self.deadline = deadline
        self.rx_head = b""
        self.rx_total = 0
        self.eof = False

    def flush(self):
        while True:
            try:
                data = self.conn.bio_read(65536)
            except SSL.WantReadError:
                return
            view = memoryview(data)
            while view:
                try:
                    sent = self.sock.send(view)
                    view = view[sent:]
                except (BlockingIOError, InterruptedError):
                    yield (self.sock, select.POLLOUT, self.deadline)
                except OSError:
                    return  # peer gone: the read side reports it

    def fill(self):
        yield (self.sock, select.POLLIN, self.deadline)
        try:
            data = self.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""  # connection reset: same as EOF for the handshake
        if not data:
            self.eof = True
            self.conn.bio_shutdown()
            raise _EOF()
        if len(self.rx_head) < 64:
            self.rx_head += data[:64 - len(self.rx_head)]
        self.rx_total += len(data)
        self.conn.bio_write(data)

    def run(self, op, flush=True):
        """op() (a pyOpenSSL call) until it stops wanting to read; its result. flush=False leaves what op() wrote
        last in the BIO, for the next flush to send with what follows."""
        while True:
            try:
                result = op()
                if flush:
                    yield from self.flush()
                return result
            except SSL.WantReadError:
                yield from self.flush()
                yield from self.fill()


def _name(n):
    return n.rfc4514_string()


def cert_summary(cert, now, return_pem=False):
    sans = []
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        sans.extend("DNS:%s" % v for v in san.get_values_for_type(x509.DNSName))
        sans.extend("IP:%s" % v for v in san.get_values_for_type(x509.IPAddress))
    except (x509.ExtensionNotFound, ValueError):
        pass
    nb = cert_not_before(cert)
    na = cert_not_after(cert)
    out = {
        "subject": _name(cert.subject),
        "issuer": _name(cert.issuer),
        "sans": sans,
        "not_before": nb.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "not_after": na.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "days_left": int((na - now).total_seconds() // 86400),
        "fingerprint_sha256": binascii.hexlify(cert.fingerprint(hashes.SHA256())).decode("ascii").upper(),
    }
    if return_pem:
        out["pem"] = cert.public_bytes(serialization.Encoding.PEM).decode("ascii")
    return out


def probe(spec, context, timeout, http_request=True, resolver=None):
    """probe_steps() run to its end in the calling thread."""
    return run_blocking(probe_steps(spec, context, timeout, http_request, resolver))


def probe_steps(spec, context, timeout, http_request=True, resolver=None):
    """Run one backend check (a generator, see the module's doc). `spec`: dict with url (BackendURL), sni,
    request_host (Host header), path, tls. Returns the facts dict that _mod_ssl.classify() consumes. The stages, each
    a function below, run in Apache's order against one deadline, which starts when the generator does: DNS ->
    connect -> TLS handshake -> HTTP request; facts["stage"] names the last one started, and a stage that fails
    records why in facts and ends the check."""
    start = time.monotonic()
    deadline = start + timeout
    url = spec["url"]
    facts = {"stage": "dns", "address": None, "tls": url.is_tls}
    sock = None
    try:
        addrs = yield from stage_dns_steps(url, deadline, timeout, facts, resolver)
        if addrs is None:
            return facts
        facts["stage"] = "connect"
        sock = yield from stage_connect_steps(addrs, deadline, timeout, facts)
        if sock is None:
            return facts
        if not url.is_tls:
            facts["stage"] = "request"
            facts["response"] = yield from _plain_request_steps(sock, spec, deadline)
            return facts
        facts["stage"] = "handshake"
        pipe, conn = yield from stage_tls_steps(sock, spec, context, deadline, facts, keep_last_flight=http_request)
        if not facts["handshake"]["ok"]:
            return facts
        if not http_request:
            facts["stage"] = "done"
            return facts
        facts["stage"] = "request"
        facts["response"] = yield from _tls_request_steps(pipe, conn, spec)
        facts["stage"] = "done"
        return facts
    finally:
        facts["elapsed_ms"] = int((time.monotonic() - start) * 1000)
        if sock is not None:
            try:
                sock.close()
            except OSError:  # pragma: no cover
                pass


def stage_dns(url, deadline, timeout, facts, resolver=None):
    return run_blocking(stage_dns_steps(url, deadline, timeout, facts, resolver))


def stage_dns_steps(url, deadline, timeout, facts, resolver=None):
    """DNS: the getaddrinfo-style addresses of the URL's host (an IP literal without a lookup), or None with
    facts["dns_error"] set (no answer before the deadline, or the resolver's error)."""
    if url.is_ip:
        host = url.host.strip("[]")
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        return [(fam, socket.SOCK_STREAM, 0, "", (host, url.port))]
    try:
        if resolver is not None:
            return (yield from resolver.resolve_steps(url.host, url.port, deadline))
        return (yield from _resolve_steps(url.host, url.port, deadline))
    except _Deadline:
        facts["dns_error"] = "no answer within %s s" % timeout
    except socket.gaierror as exc:
        facts["dns_error"] = "(EAI %d)%s" % (abs(exc.errno or 0), exc.strerror or exc)
    except Exception as exc:  # UnicodeError and the like
        facts["dns_error"] = str(exc)
    return None


def _address_text(family, sockaddr):
    return "[%s]:%d" % sockaddr[:2] if family == socket.AF_INET6 else "%s:%d" % sockaddr[:2]


def stage_connect(addrs, deadline, timeout, facts):
    return run_blocking(stage_connect_steps(addrs, deadline, timeout, facts))


def stage_connect_steps(addrs, deadline, timeout, facts):
    """TCP: each address in order, as ap_proxy_connect_backend does; the connected non-blocking socket, or None with
    facts["connect_error"] = (kind, detail), kind "refused", "timeout" (the deadline ends the loop) or "other".
    facts["address"] is the address tried last."""
    last = None
    for fam, _type, _proto, _cn, sockaddr in addrs:
        facts["address"] = _address_text(fam, sockaddr)
        try:
            return (yield from _connect(fam, sockaddr, deadline))
        except _Deadline:
            last = ("timeout", "no answer within %s s" % timeout)
            break
        except OSError as exc:
            kind = "refused" if exc.errno == errno.ECONNREFUSED else "other"
            last = (kind, "(%s)%s" % (exc.errno, exc.strerror or errno.errorcode.get(exc.errno, "")))
    facts["connect_error"] = last
    return None


def stage_tls_steps(sock, spec, context, deadline, facts, keep_last_flight=False):
    """The TLS handshake as mod_ssl's proxy connection makes it (SNI, verify and client-certificate callbacks of
    `context`). Fills facts["handshake"] (ok, timeout/eof/ssl_error, alert, what the callbacks saw), the served
    chain and leaf, and on success the protocol and cipher. Returns (pipe, connection) for the HTTP stage.
    keep_last_flight: a request follows, so the client's last flight of a successful handshake (TLS 1.3: its
    Finished, and its certificate when one was asked for) stays in the BIO and leaves with the request, in one
    segment instead of two (the bytes the backend receives are the same)."""
    state = _State()
    conn = SSL.Connection(context.ctx, None)
    conn.set_app_data(state)
    conn.set_connect_state()
    if spec.get("sni"):
        conn.set_tlsext_host_name(sni_bytes(spec["sni"]))
    pipe = _Pipe(sock, conn, deadline)
    hs = {}
    facts["handshake"] = hs
    try:
        yield from pipe.run(conn.do_handshake, flush=not keep_last_flight)
        hs["ok"] = True
    except _Deadline:
        hs["ok"] = False
        hs["timeout"] = True
    except _EOF:
        hs["ok"] = False
        hs["eof"] = True
    except SSL.Error as exc:
        hs["ok"] = False
        hs["ssl_error"] = _ssl_error_text(exc)
        hs["eof"] = pipe.eof
    hs["alert"] = _alert_of(hs.get("ssl_error"))
    hs["rx_head"] = pipe.rx_head
    hs["rx_total"] = pipe.rx_total
    hs["verify_event"] = state.verify_event
    hs["cert_requested"] = state.cert_requested
    hs["ca_list"] = state.ca_list
    hs["choice_code"] = state.choice_code
    hs["client_cert_sent"] = state.client_cert_sent
    hs["internal_error"] = state.internal_error
    try:
        chain = peer_cert_chain(conn)
    except Exception:  # pragma: no cover
        chain = []
    facts["served_chain"] = chain
    facts["leaf"] = chain[0] if chain else None
    if hs["ok"]:
        facts["tls_version"] = conn.get_protocol_version_name()
        facts["cipher"] = conn.get_cipher_name()
        leaf = peer_certificate(conn)
        if leaf is not None:
            facts["leaf"] = leaf
    return pipe, conn


def _request_bytes(spec):
    return request_bytes(spec)


class _Head:
    """The head of an HTTP response (status line and header lines), read the way mod_proxy_http reads it, with caps:
    a line of RESPONSE_FIELD_SIZE - 1 bytes or more is "too long" (Apache answers 502) and at most MAX_RESPONSE_HEAD
    bytes are kept. feed() returns True when the checker has read enough."""

    def __init__(self, field_size=RESPONSE_FIELD_SIZE, max_head=MAX_RESPONSE_HEAD):
        self.field_size = field_size
        self.max_head = max_head
        self.buf = b""
        self.pos = 0
        self.status_line = None
        self.too_long = None  # "status" or "header"
        self.line_length = 0
        self.line_end = True
        self.complete = False
        self.done = False
        self.headers = 0

    def feed(self, data):
        if self.done:
            return True
        room = self.max_head + self.field_size - len(self.buf)
        self.buf += data[:max(0, room)]
        while not self.done:
            newline = self.buf.find(b"\n", self.pos)
            if newline < 0:
                pending = self.buf[self.pos:]
                if pending.endswith(b"\r"):
                    pending = pending[:-1]
                if len(pending) >= self.field_size - 1:
                    self._too_long(len(pending), line_end=False)
                elif len(self.buf) >= self.max_head:
                    self.done = True
                return self.done
            line = self.buf[self.pos:newline]
            if line.endswith(b"\r"):
                line = line[:-1]
            self.pos = newline + 1
            if len(line) >= self.field_size - 1:
                self._too_long(len(line))
            elif self.status_line is None:
                if line == b"" and self.pos <= 2:
                    continue  # mod_proxy_http skips one stray CRLF before the status line
                self.status_line = line
                if not line.startswith(b"HTTP/"):
                    self.done = True  # not HTTP/1.x: nothing more to read
            elif line == b"":
                self.complete = True
                self.done = True
            else:
                self.headers += 1
        return True

    def _too_long(self, length, line_end=True):
        self.too_long = "status" if self.status_line is None else "header"
        self.line_length = length
        self.line_end = line_end
        self.done = True

    def result(self, resp):
        """Fill the response fields classify() reads."""
        if self.status_line is not None:
            resp["status"], resp["status_line"] = parse_status_line(self.status_line)
        elif self.too_long:
            resp["status_line"] = parse_status_line(self.buf[:200])[1]
        if self.too_long:
            resp["too_long"] = self.too_long
            resp["line_length"] = self.line_length
            resp["line_end"] = self.line_end
        if self.buf:
            resp["head"] = self.buf[:2048].decode("latin-1", "replace")
        resp["head_complete"] = self.complete
        resp["head_bytes"] = len(self.buf)
        return resp


def _tls_request_steps(pipe, conn, spec):
    resp = {"status": None}
    head = _Head()
    request = request_bytes(spec)
    try:
        yield from pipe.run(lambda: conn.sendall(request))
        while not head.feed((yield from pipe.run(lambda: conn.recv(16384)))):
            pass
    except _Deadline:
        resp["timeout"] = True
    except (_EOF, SSL.ZeroReturnError):
        resp["eof"] = True
    except SSL.SysCallError as exc:
        resp["eof"] = True
        resp["ssl_error"] = _ssl_error_text(exc)
    except SSL.Error as exc:
        resp["ssl_error"] = _ssl_error_text(exc)
        resp["alert"] = _alert_of(resp["ssl_error"])
    return head.result(resp)


def _plain_request(sock, spec, deadline):
    return run_blocking(_plain_request_steps(sock, spec, deadline))


def _plain_request_steps(sock, spec, deadline):
    resp = {"status": None}
    head = _Head()
    data = request_bytes(spec)
    rx_head = b""
    try:
        view = memoryview(data)
        while view:
            try:
                view = view[sock.send(view):]
            except (BlockingIOError, InterruptedError):
                yield (sock, select.POLLOUT, deadline)
        while True:
            yield (sock, select.POLLIN, deadline)
            try:
                chunk = sock.recv(16384)
            except (BlockingIOError, InterruptedError):
                continue
            if not chunk:
                resp["eof"] = True
                break
            if len(rx_head) < 64:
                rx_head += chunk[:64 - len(rx_head)]
            if head.feed(chunk):
                break
    except _Deadline:
        resp["timeout"] = True
    except OSError as exc:
        resp["eof"] = True
        resp["ssl_error"] = str(exc)
    resp["rx_head"] = rx_head
    return head.result(resp)


# ---------------------------------------------------------------------------------------------------------------------
# Drivers: one generator in the calling thread (run_blocking), or many from one event loop (run_loop)


def run_blocking(steps):
    """Drive a probe generator to its end in the calling thread (poll() on its socket, a wait on its lookup); its
    return value. A wait whose deadline passes first is resumed with _Deadline, as run_loop does."""
    value = error = None
    while True:
        try:
            wait = steps.send(value) if error is None else steps.throw(error)
        except StopIteration as stop:
            return stop.value
        value = error = None
        what, events, deadline = wait
        try:
            if events:
                value = _wait(what, events, deadline)
                continue
            remaining = deadline - time.monotonic()
            if what is None:
                if remaining > 0:
                    time.sleep(remaining)
            elif what.wait_done(max(0.0, remaining)):
                continue
            raise _Deadline()
        except _Deadline as exc:
            error = exc


_SELECTOR_EVENTS = {select.POLLIN: selectors.EVENT_READ, select.POLLOUT: selectors.EVENT_WRITE}


# How a task in run_loop waits: not at all (it runs, or it has ended), on a socket, on a lookup, on its deadline only.
_RUNNING, _ON_SOCKET, _ON_LOOKUP, _ON_DEADLINE = range(4)


class _Task(object):
    """One generator in run_loop: its position, how and on what it waits, the deadline of its live timer entry,
    and a token that tells a lookup's late wake-up from the current wait."""

    __slots__ = ("pos", "gen", "kind", "what", "timer", "token")

    def __init__(self, pos, gen):
        self.pos = pos
        self.gen = gen
        self.kind = _RUNNING
        self.what = None
        self.timer = None
        self.token = 0


class _Waker(object):
    """The loop's self-pipe: a lookup thread queues (task, token) and writes a byte, which wakes select()."""

    def __init__(self):
        self.rsock, self.wsock = socket.socketpair()
        self.rsock.setblocking(False)
        self.wsock.setblocking(False)
        self.woken = deque()
        self._lock = threading.Lock()
        self._closed = False

    def wake(self, item):
        with self._lock:
            if self._closed:
                return  # a lookup that ends after the run: nobody waits for it any more
            self.woken.append(item)
            try:
                self.wsock.send(b"\0")
            except OSError:  # BlockingIOError: the buffer is full of wake-ups already
                pass

    def drain(self):
        try:
            while self.rsock.recv(4096):
                pass
        except OSError:  # BlockingIOError: drained
            pass
        while self.woken:
            yield self.woken.popleft()

    def close(self):
        with self._lock:
            self._closed = True
            self.rsock.close()
            self.wsock.close()


def run_loop(tasks, concurrency, address_of=None, per_address=None):
    """Run every task from one selectors loop in the calling thread; their results in input order.

    Each task is a callable taking no argument that returns a probe generator (see the module's doc), or directly a
    result (a check that needs no I/O). Tasks start in input order, at most `concurrency` at a time and at most
    `per_address` at a time per address_of(position) (a task whose address is busy lets the next ones start); a
    generator's deadline starts when the loop starts it. The work between two waits (handshake steps, classify, the
    certificate summary) runs in this thread. An exception in one task does not stop the others: once all have
    ended, the first one (in input order) is raised, as a thread pool's results would raise it."""
    return _Loop(tasks, concurrency, address_of, per_address).run()


def _no_address(_pos):
    return None


class _Loop(object):
    """run_loop's state: the tasks waiting to start per address, the parked generators, the timers."""

    def __init__(self, tasks, concurrency, address_of, per_address):
        self.tasks = tasks
        self.concurrency = max(1, concurrency)
        if address_of is None or per_address is None:
            address_of, per_address = _no_address, len(tasks) or 1
        self.per_address = per_address
        self.results = [None] * len(tasks)
        self.errors = {}
        self.address = [address_of(pos) for pos in range(len(tasks))]
        self.queues = {}
        for pos, key in enumerate(self.address):
            self.queues.setdefault(key, deque()).append(pos)
        self.active = dict.fromkeys(self.queues, 0)
        self.ready = [(queue[0], key) for key, queue in self.queues.items()]  # addresses with room, in task order
        heapq.heapify(self.ready)
        self.running = 0
        self.timers = []  # (deadline, sequence, task): at most one live entry per task (task.timer)
        self.sequence = 0
        self.parked = set()
        self.selector = None
        self.waker = None

    def run(self):
        if not self.tasks:
            return []
        self.selector = selectors.DefaultSelector()
        self.waker = _Waker()
        try:
            self.selector.register(self.waker.rsock, selectors.EVENT_READ, None)
            self._loop()
        finally:
            for task in list(self.parked):  # only when the loop itself fails (KeyboardInterrupt)
                self._unpark(task)
                task.gen.close()
            self.selector.close()
            self.waker.close()
        if self.errors:
            raise self.errors[min(self.errors)]
        return self.results

    def _loop(self):
        selector, timers = self.selector, self.timers
        while True:
            while self.running < self.concurrency and self.ready:
                self._start(heapq.heappop(self.ready)[1])
            if not self.running:
                return
            timeout = max(0.0, timers[0][0] - time.monotonic()) if timers else None
            for key, mask in selector.select(timeout):
                task = key.data
                if task is None:
                    for task, token in self.waker.drain():
                        if task.token == token and task.kind == _ON_LOOKUP:
                            self._resume(task, None)
                    continue
                self._resume(task, (select.POLLIN if mask & selectors.EVENT_READ else 0)
                             | (select.POLLOUT if mask & selectors.EVENT_WRITE else 0))
            now = time.monotonic()
            while timers and timers[0][0] <= now:
                deadline, _seq, task = heapq.heappop(timers)
                if task.timer != deadline:
                    continue  # stale: the task waits with another deadline, which has its own entry
                task.timer = None
                if task.kind != _RUNNING:
                    self._resume(task, None, _Deadline())

    def _start(self, key):
        pos = self.queues[key].popleft()
        self.running += 1
        self.active[key] += 1
        if self.active[key] < self.per_address and self.queues[key]:
            heapq.heappush(self.ready, (self.queues[key][0], key))
        try:
            gen = self.tasks[pos]()
        except Exception as exc:  # pylint: disable=broad-except
            self._end(pos, error=exc)
            return
        if isinstance(gen, types.GeneratorType):
            self._advance(_Task(pos, gen), None, None)
        else:
            self._end(pos, gen)

    def _end(self, pos, result=None, error=None):
        if error is not None:
            self.errors[pos] = error
        else:
            self.results[pos] = result
        self.running -= 1
        key = self.address[pos]
        self.active[key] -= 1
        if self.active[key] == self.per_address - 1 and self.queues[key]:
            heapq.heappush(self.ready, (self.queues[key][0], key))

    def _unpark(self, task):
        if task.kind == _ON_SOCKET:
            self.selector.unregister(task.what)
        task.kind = _RUNNING
        task.what = None
        self.parked.discard(task)

    def _resume(self, task, value, error=None):
        self._unpark(task)
        self._advance(task, value, error)

    def _advance(self, task, value, error):
        """Resume the task's generator until it waits again or ends."""
        gen = task.gen
        while True:
            try:
                wait = gen.send(value) if error is None else gen.throw(error)
            except StopIteration as stop:
                self._end(task.pos, stop.value)
                return
            except Exception as exc:  # pylint: disable=broad-except
                self._end(task.pos, error=exc)
                return
            what, events, deadline = wait
            if deadline <= time.monotonic():  # as _wait: a wait that starts after the deadline is a timeout
                value, error = None, _Deadline()
                continue
            break
        task.what = what
        task.token += 1
        self.parked.add(task)
        if events:
            task.kind = _ON_SOCKET
            self.selector.register(what, _SELECTOR_EVENTS[events], task)
        elif what is not None:
            task.kind = _ON_LOOKUP
            waker, token = self.waker, task.token
            what.on_done(lambda: waker.wake((task, token)))
        else:
            task.kind = _ON_DEADLINE
        if task.timer != deadline:
            self.sequence += 1
            heapq.heappush(self.timers, (deadline, self.sequence, task))
            task.timer = deadline
