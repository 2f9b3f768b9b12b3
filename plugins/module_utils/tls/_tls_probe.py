# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""The I/O of the backend check: resolve, connect, TLS handshake as the server makes it, one HTTP request.

Everything runs against one deadline per backend (DNS included: the lookup runs in a daemon thread that is abandoned
when the deadline passes). Sockets are non-blocking; TLS runs over memory BIOs (pyOpenSSL), so the probe sees the raw
bytes the backend sends and never waits beyond its deadline.

probe() gathers facts; the semantics' classify() turns them into a reason. The stages are generators of waits
(_loop's module doc): run_blocking() drives one in the calling thread (probe(), stage_dns() and the other blocking
names are that), run_loop() many from one selectors loop. The TLS context is _context's, built with the server's
semantics; the request and the response head are _http's.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import binascii
import errno
import os
import select
import socket
import time

# Every private-API use and version shim of pyOpenSSL lives in _pyopenssl_compat, checked at import: when a symbol
# the checker needs is missing, HAS_PYOPENSSL is False and PYOPENSSL_IMPORT_ERROR (and CAPABILITY_ERROR) name the
# versions found and the symbol. Re-exported here for backend_handshake:
# pylint: disable=unused-import
from ansible_collections.revproxy.tls.plugins.module_utils.tls._pyopenssl_compat import (  # noqa: F401
    CAPABILITY_ERROR,
    HAS_PYOPENSSL,
    PYOPENSSL_IMPORT_ERROR,
    openssl_version,
)
# pylint: enable=unused-import
from ansible_collections.revproxy.tls.plugins.module_utils.tls._pyopenssl_compat import (
    SSL,
    cert_not_after,
    cert_not_before,
    peer_cert_chain,
    peer_certificate,
)
from ansible_collections.revproxy.tls.plugins.module_utils.tls._context import _State, _ssl_error_text
from ansible_collections.revproxy.tls.plugins.module_utils.tls._http import _Head, request_bytes, sni_bytes
from ansible_collections.revproxy.tls.plugins.module_utils.tls._loop import (
    _Deadline,
    _resolve_steps,
    run_blocking,
)

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - depends on the host
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = exc

# TLS alert descriptions as OpenSSL names them in its error reasons.
_ALERTS = (
    ("certificate required", 116), ("protocol version", 70), ("handshake failure", 40), ("bad certificate", 42),
    ("unsupported certificate", 43), ("certificate revoked", 44), ("certificate expired", 45),
    ("certificate unknown", 46), ("illegal parameter", 47), ("unknown ca", 48), ("access denied", 49),
    ("decode error", 50), ("decrypt error", 51), ("internal error", 80), ("unrecognized name", 112),
    ("insufficient security", 71), ("no application protocol", 120),
)


class _EOF(Exception):
    pass


def _alert_of(text):
    low = (text or "").lower()
    if "alert" not in low:
        return None
    for name, number in _ALERTS:
        if name in low:
            return number
    return None


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
    request_host (Host header), path, tls. Returns the facts dict that the semantics' classify() consumes. The
    stages, each a function below, run in a proxy's order against one deadline, which starts when the generator does: DNS ->
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
    """The TLS handshake as the server's proxy connection makes it (SNI, verify and client-certificate callbacks of
    `context`, a _context.TLSContext built with the server's semantics). Fills facts["handshake"] (ok,
    timeout/eof/ssl_error, alert, what the callbacks saw), the served chain and leaf, and on success the protocol
    and cipher. Returns (pipe, connection) for the HTTP stage.
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


def _request_bytes(spec):  # the name the stages used before _http held the request
    return request_bytes(spec)


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
