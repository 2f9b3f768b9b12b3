#!/usr/bin/env python
"""Real TLS backends and hostile servers on 127.0.0.1 for tests, benchmarks and the demo.

Every backend listens as soon as it is constructed (port chosen by the OS unless given), serves from a background
thread, exposes ``.port`` and ``.stop()`` and is a context manager::

    with TLSBackend(leaf.chain_path, leaf.key_path, sni_names={"backend.test"}) as be:
        ...  # https://backend.test:<be.port>/ ; be.seen == [(sni, host), ...]

TLS servers use the stdlib ``ssl`` module on an asyncio event loop (one loop per backend object; MultiTLSBackend serves
many ports from one loop). Hostile backends: PlainHTTPBackend, SilentBackend, GarbageBackend, CloseMidHandshakeBackend,
BlackholeBackend, HugeChainBackend, SlowlorisHandshakeBackend, and after a good TLS handshake (or over plain TCP with
``tls=False``): SilentAfterHandshakeBackend, SlowlorisResponseBackend, EndlessBodyBackend, HugeLineBackend. The
streaming ones never hold more than one chunk in memory and count what they sent in ``.sent``.

CLI (used by ``make demo``; runs in the foreground, SIGTERM/SIGINT stop it cleanly)::

    python tests/support/backends.py serve --chain F --key F --port 8443 --sni backend.demo.test --pidfile F --logfile F
"""
import argparse
import asyncio
import ctypes
import ctypes.util
import http
import json
import logging
import os
import resource
import signal
import socket
import ssl
import sys
import threading

__all__ = [
    "TLSBackend", "MultiTLSBackend", "PlainHTTPBackend", "SilentBackend", "GarbageBackend", "CloseMidHandshakeBackend",
    "BlackholeBackend", "HugeChainBackend", "SlowlorisHandshakeBackend", "SilentAfterHandshakeBackend",
    "SlowlorisResponseBackend", "EndlessBodyBackend", "HugeLineBackend", "free_port", "main",
]

LOG = logging.getLogger("support.backends")
LOCALHOST = "127.0.0.1"
_SNI_ATTR = "_support_seen_sni"


def free_port(host=LOCALHOST):
    """A TCP port that was free a moment ago (racy by nature; prefer port=0 where the API allows it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _raise_nofile(wanted):
    """Raise the soft RLIMIT_NOFILE towards ``wanted`` (many listeners/connections in benchmarks)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        new = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))


def _listen_socket(host, port, backlog=1024):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    sock.setblocking(False)
    return sock


def _tls_version(value):
    if value is None or isinstance(value, ssl.TLSVersion):
        return value
    text = str(value).replace("v", "").replace("TLS", "").replace("_", ".").strip()
    return {"1": ssl.TLSVersion.TLSv1, "1.0": ssl.TLSVersion.TLSv1, "1.1": ssl.TLSVersion.TLSv1_1,
            "1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}[text]


def _set_client_ca_names(context, path):
    """Set the acceptable-CA list sent in CertificateRequest (stdlib ssl has no API for it; OpenSSL's is used via ctypes).

    Relies on CPython's PySSLContext layout (PyObject_HEAD followed by the ``SSL_CTX *``), stable since 3.x.
    """
    libname = ctypes.util.find_library("ssl") or "libssl.so.3"
    libssl = ctypes.CDLL(libname)
    libssl.SSL_load_client_CA_file.restype = ctypes.c_void_p
    libssl.SSL_load_client_CA_file.argtypes = [ctypes.c_char_p]
    libssl.SSL_CTX_set_client_CA_list.restype = None
    libssl.SSL_CTX_set_client_CA_list.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    names = libssl.SSL_load_client_CA_file(os.fsencode(path))
    if not names:
        raise ValueError("no CA names could be loaded from %s" % path)
    ctx_ptr = ctypes.c_void_p.from_address(id(context) + 2 * ctypes.sizeof(ctypes.c_void_p)).value
    libssl.SSL_CTX_set_client_CA_list(ctx_ptr, names)


class _Backend:
    """Base: an asyncio event loop in a daemon thread plus the servers and connections it owns."""

    def __init__(self, host=LOCALHOST, name=None):
        self.host = host
        self.errors = []
        self._servers = []
        self._writers = set()
        self._tasks = set()
        self._stopped = False
        self.loop = asyncio.new_event_loop()
        self.loop.set_exception_handler(self._on_loop_error)
        self._thread = threading.Thread(target=self._run, name=name or type(self).__name__, daemon=True)
        self._thread.start()

    def _run(self):
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def _on_loop_error(self, _loop, context):
        # Failed handshakes (wanted, in most tests) end up here; keep them for inspection instead of printing.
        self.errors.append(context.get("message") or repr(context.get("exception")))

    def _call(self, coro, timeout=30):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def _listen(self, port):
        """Start one (plain TCP) listener; returns the bound port. TLS, where wanted, is layered by the handler."""
        sock = _listen_socket(self.host, port)

        async def start():
            server = await asyncio.start_server(self._accepted, sock=sock, limit=1 << 20)
            self._servers.append(server)
        self._call(start())
        return sock.getsockname()[1]

    async def _accepted(self, reader, writer):
        task = asyncio.current_task()
        self._tasks.add(task)
        self._writers.add(writer)
        try:
            await self.handle(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ssl.SSLError, OSError):
            pass
        finally:
            self._writers.discard(writer)
            self._tasks.discard(task)
            writer.close()

    async def handle(self, reader, writer):
        """Serve one accepted connection (override)."""
        raise NotImplementedError

    async def _shutdown(self):
        for server in self._servers:
            server.close()
        for task in list(self._tasks):
            task.cancel()
        for writer in list(self._writers):
            writer.close()
        await asyncio.sleep(0)

    def stop(self):
        """Close listeners and connections and end the loop thread. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        try:
            self._call(self._shutdown(), timeout=10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            if not self._thread.is_alive():
                self.loop.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def __del__(self):
        if not getattr(self, "_stopped", True) and getattr(self, "loop", None) is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.loop.stop)


class _HTTPMixin:
    """A minimal HTTP/1.1 responder with keep-alive that echoes what it saw (SNI, Host)."""

    status = 200
    body = b"backend ok"
    extra_headers = ()
    delay = 0.0
    # A request for exactly this path (query ignored) is answered with JSON of what the backend received: method,
    # target, SNI and every header line in order as sent ({"headers": [[name, value], ...]}). None: no echo path.
    echo_path = None

    def _init_http(self, status, body, headers, delay):
        self.status = int(status)
        self.body = body.encode() if isinstance(body, str) else bytes(body)
        self.extra_headers = list((headers or {}).items())
        self.delay = delay
        self.seen = []
        self.requests = []

    async def _read_body(self, reader, headers):
        if headers.get("transfer-encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
                if size == 0:
                    while (await reader.readuntil(b"\r\n")) != b"\r\n":
                        pass
                    return data
                data += await reader.readexactly(size)
                await reader.readuntil(b"\r\n")
        length = int(headers.get("content-length", "0") or 0)
        return await reader.readexactly(length) if length else b""

    async def serve_http(self, reader, writer, sni=None, peercert=None, prefix=b""):
        """Answer every request on the connection until the peer or a ``Connection: close`` ends it."""
        while True:
            try:
                head = prefix + await reader.readuntil(b"\r\n\r\n")
                prefix = b""
            except asyncio.IncompleteReadError:
                return
            lines = head.decode("latin-1").split("\r\n")
            try:
                method, target, version = lines[0].split(" ", 2)
            except ValueError:
                writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                await writer.drain()
                return
            headers = {}
            header_lines = []
            for line in lines[1:]:
                if ":" in line:
                    key, value = line.split(":", 1)
                    headers[key.strip().lower()] = value.strip()
                    header_lines.append([key.strip(), value.strip()])
            req_body = await self._read_body(reader, headers)
            host = headers.get("host")
            self.seen.append((sni, host))
            self.requests.append({"method": method, "path": target, "version": version, "headers": headers, "body": req_body,
                                  "sni": sni, "peercert": peercert})
            LOG.info("%s %s SNI=%s Host=%s -> %d", method, target, sni, host, self.status)
            if self.delay:
                await asyncio.sleep(self.delay)
            close = headers.get("connection", "").lower() == "close" or version == "HTTP/1.0"
            body = self.body + ("\nSNI=%s\nHost=%s\n" % (sni, host)).encode("latin-1", "replace")
            echo = self.echo_path is not None and target.split("?", 1)[0] == self.echo_path
            if echo:
                body = json.dumps({"method": method, "target": target, "sni": sni, "headers": header_lines},
                                  sort_keys=True).encode("utf-8") + b"\n"
            reason = http.HTTPStatus(self.status).phrase if self.status in http.HTTPStatus._value2member_map_ else "Status"
            out = ["HTTP/1.1 %d %s" % (self.status, reason),
                   "Content-Type: %s" % ("application/json" if echo else "text/plain"),
                   "Content-Length: %d" % (0 if method == "HEAD" else len(body)),
                   "X-Seen-SNI: %s" % (sni or "-"),
                   "X-Seen-Host: %s" % (host or "-"),
                   "Connection: %s" % ("close" if close else "keep-alive")]
            out += ["%s: %s" % item for item in self.extra_headers]
            writer.write(("\r\n".join(out) + "\r\n\r\n").encode("latin-1") + (b"" if method == "HEAD" else body))
            await writer.drain()
            if close:
                return


class _TLSConnection:
    """Server-side TLS over an asyncio stream with ssl.SSLObject + MemoryBIO.

    asyncio's built-in TLS transport drops the pending alert when a handshake fails (the client only sees EOF); doing
    the handshake by hand lets us flush the alert (unrecognized_name, certificate_required, protocol_version...) first.
    Offers the small reader/writer surface the HTTP code uses: ``reader`` (a StreamReader), ``write()``, ``drain()``.
    """

    def __init__(self, context, raw_reader, raw_writer):
        self._in = ssl.MemoryBIO()
        self._out = ssl.MemoryBIO()
        self.sslobj = context.wrap_bio(self._in, self._out, server_side=True)
        self._raw_reader = raw_reader
        self._raw_writer = raw_writer
        self.reader = asyncio.StreamReader(limit=1 << 20)

    async def _flush(self):
        data = self._out.read()
        if data:
            self._raw_writer.write(data)
            await self._raw_writer.drain()

    async def handshake(self):
        """Complete the handshake; on failure send the alert OpenSSL produced, then re-raise."""
        while True:
            try:
                self.sslobj.do_handshake()
                await self._flush()
                return
            except ssl.SSLWantReadError:
                await self._flush()
                data = await self._raw_reader.read(65536)
                if not data:
                    raise ConnectionResetError("peer closed during the TLS handshake") from None
                self._in.write(data)
            except ssl.SSLError:
                try:
                    await self._flush()
                except OSError:
                    pass
                raise

    async def pump(self):
        """Decrypt incoming records into ``reader`` until EOF or close_notify."""
        try:
            while True:
                # Records that arrived together with the end of the handshake are already in the BIO: decrypt first.
                while True:
                    try:
                        chunk = self.sslobj.read(65536)
                    except ssl.SSLWantReadError:
                        break
                    except ssl.SSLZeroReturnError:
                        return
                    if not chunk:
                        return
                    self.reader.feed_data(chunk)
                await self._flush()
                data = await self._raw_reader.read(65536)
                if not data:
                    return
                self._in.write(data)
        except (ssl.SSLError, OSError) as exc:
            self.reader.set_exception(ConnectionResetError(str(exc)))
        finally:
            if self.reader.exception() is None:
                self.reader.feed_eof()

    def write(self, data):
        """Encrypt ``data`` (sent by the next drain())."""
        self.sslobj.write(data)

    async def drain(self):
        """Send what write() encrypted."""
        await self._flush()

    async def close(self):
        """Send close_notify (best effort)."""
        try:
            self.sslobj.unwrap()
        except (ssl.SSLError, ValueError):
            pass
        try:
            await self._flush()
        except OSError:
            pass


class TLSBackend(_Backend, _HTTPMixin):
    """An HTTPS server (stdlib ssl + asyncio) that answers every request with ``status`` and ``body``.

    ``sni_names``: reject handshakes whose SNI is missing or not in the set with an unrecognized_name alert.
    ``client_ca_path``: require a client certificate that verifies against it (CERT_REQUIRED).
    ``client_ca_names_path``: CA certificates whose subjects are sent as the acceptable-CA list (default: none sent).
    ``min_version``/``max_version``: ssl.TLSVersion or "1.2"/"TLSv1.3"...
    ``echo_path``: a request for this path gets JSON of the request line, SNI and header lines received. Attributes: ``port``, ``ports``, ``seen``
    ([(sni, host)] per request), ``handshakes`` (SNI of every ClientHello, accepted or not), ``requests``.
    """

    def __init__(self, chain_path, key_path, *, sni_names=None, client_ca_path=None, client_ca_names_path=None,
                 min_version=None, max_version=None, status=200, body=b"backend ok", headers=None, delay=0.0,
                 host=LOCALHOST, port=0, key_password=None, alpn=None, count=1, ports=None, handshake_timeout=15.0,
                 echo_path=None):
        _Backend.__init__(self, host)
        self.handshake_timeout = handshake_timeout
        self._init_http(status, body, headers, delay)
        self.echo_path = echo_path
        self.chain_path = chain_path
        self.key_path = key_path
        self.sni_names = set(sni_names) if sni_names else None
        self.handshakes = []
        self.context = self._make_context(chain_path, key_path, client_ca_path, client_ca_names_path, min_version,
                                          max_version, key_password, alpn)
        wanted = list(ports) if ports else [port] + [0] * (count - 1)
        _raise_nofile(4 * len(wanted) + 1024)
        try:
            self.ports = [self._listen(p) for p in wanted]
        except BaseException:
            self.stop()
            raise
        self.port = self.ports[0]

    def _make_context(self, chain_path, key_path, client_ca_path, client_ca_names_path, min_version, max_version,
                      key_password, alpn):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(chain_path, key_path, password=key_password)
        if min_version is not None:
            ctx.minimum_version = _tls_version(min_version)
        if max_version is not None:
            ctx.maximum_version = _tls_version(max_version)
        if client_ca_path:
            ctx.load_verify_locations(cafile=client_ca_path)
            ctx.verify_mode = ssl.CERT_REQUIRED
        if client_ca_names_path:
            _set_client_ca_names(ctx, client_ca_names_path)
        if alpn:
            ctx.set_alpn_protocols(list(alpn))
        ctx.sni_callback = self._sni_callback
        return ctx

    def _sni_callback(self, sslobj, server_name, _ctx):
        self.handshakes.append(server_name)
        try:
            setattr(sslobj, _SNI_ATTR, server_name)
        except AttributeError:
            pass
        if self.sni_names is not None and server_name not in self.sni_names:
            LOG.info("rejecting handshake with SNI %r (unrecognized_name)", server_name)
            return ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME
        return None

    @property
    def url_port(self):
        """``:port`` suffix convenience for building URLs."""
        return ":%d" % self.port

    async def handle(self, reader, writer):
        conn = _TLSConnection(self.context, reader, writer)
        await asyncio.wait_for(conn.handshake(), self.handshake_timeout)
        pump = asyncio.ensure_future(conn.pump())
        try:
            sni = getattr(conn.sslobj, _SNI_ATTR, None)
            await self.serve_http(conn.reader, conn, sni=sni, peercert=conn.sslobj.getpeercert())
            await conn.close()
        finally:
            pump.cancel()


class MultiTLSBackend(TLSBackend):
    """``n`` HTTPS listeners served from ONE asyncio loop/thread (benchmarks with hundreds of backends). See ``.ports``."""

    def __init__(self, n, chain_path, key_path, **kwargs):
        super().__init__(chain_path, key_path, count=n, **kwargs)


class PlainHTTPBackend(_Backend, _HTTPMixin):
    """Plain HTTP (no TLS): what an ``https://`` URL pointed at an HTTP port meets."""

    def __init__(self, status=200, body=b"plain backend ok", *, headers=None, host=LOCALHOST, port=0):
        _Backend.__init__(self, host)
        self._init_http(status, body, headers, 0.0)
        self.tls_attempts = 0
        self.port = self._listen(port)

    async def handle(self, reader, writer):
        first = await reader.readexactly(1)
        if first == b"\x16":
            # A TLS ClientHello: answer like a real HTTP server (Apache, nginx) would, with a plain-text 400.
            self.tls_attempts += 1
            body = b"This is a plain HTTP port.\n"
            writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
                         % (len(body), body))
            await writer.drain()
            return
        await self.serve_http(reader, writer, prefix=first)


class SilentBackend(_Backend):
    """Accepts TCP connections and never sends a byte (reads and discards what the client sends)."""

    def __init__(self, *, host=LOCALHOST, port=0):
        super().__init__(host)
        self.connections = 0
        self.port = self._listen(port)

    async def handle(self, reader, writer):
        self.connections += 1
        while await reader.read(65536):
            pass


class GarbageBackend(_Backend):
    """Accepts, reads what arrives within ``read_timeout`` (the ClientHello), answers with random non-TLS bytes, closes."""

    def __init__(self, *, size=512, read_timeout=0.5, host=LOCALHOST, port=0):
        super().__init__(host)
        self.size = size
        self.read_timeout = read_timeout
        self.connections = 0
        self.port = self._listen(port)

    async def handle(self, reader, writer):
        self.connections += 1
        try:
            await asyncio.wait_for(reader.read(65536), self.read_timeout)
        except asyncio.TimeoutError:
            pass
        # First byte 'G' (0x47) is not a TLS record type, so clients fail fast instead of waiting for more data.
        writer.write(b"G" + os.urandom(self.size - 1))
        await writer.drain()


class CloseMidHandshakeBackend(_Backend):
    """Reads one complete TLS record (the ClientHello), then closes the connection without answering."""

    def __init__(self, *, host=LOCALHOST, port=0):
        super().__init__(host)
        self.hellos = 0
        self.port = self._listen(port)

    async def handle(self, reader, writer):
        header = await reader.readexactly(5)
        await reader.readexactly(int.from_bytes(header[3:5], "big"))
        self.hellos += 1


class BlackholeBackend:
    """A port where ``connect()`` gets no answer (the SYN is silently dropped), to exercise connect timeouts.

    Trick: a listening socket with backlog 0 that is never ``accept()``-ed. Linux admits one connection into the accept
    queue (full means ``queued > backlog``); we fill it ourselves, after which the kernel drops further SYNs (even with
    syncookies on) instead of answering with SYN-ACK or RST, so clients time out. Verified at construction: a connect
    with ``probe_timeout`` must time out, else RuntimeError.
    """

    def __init__(self, *, host=LOCALHOST, port=0, probe_timeout=0.3, max_fill=16):
        self.host = host
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind((host, port))
        self._listener.listen(0)
        self.port = self._listener.getsockname()[1]
        self._fillers = []
        for _attempt in range(max_fill):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.settimeout(probe_timeout)
            try:
                sock.connect((host, self.port))
            except (socket.timeout, TimeoutError):
                sock.close()
                return
            self._fillers.append(sock)
        self.stop()
        raise RuntimeError("BlackholeBackend: the accept queue never filled up; SYNs are not being dropped on this kernel")

    def stop(self):
        """Close the filler connections and the listener."""
        for sock in self._fillers:
            sock.close()
        self._fillers = []
        self._listener.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class HugeChainBackend(TLSBackend):
    """Serves a leaf for ``name`` with a chain of ``length`` intermediates (made with ``pki``, a support.pki.PKI).

    Attributes: ``root`` (trust anchor Cert; ``ca_path`` is its file), ``leaf``, ``cas`` ([root, int1, ...]).
    """

    def __init__(self, pki, length=50, name="huge.test", **kwargs):
        self.cas = pki.chain(length, stem="huge", root_name="Huge Chain Root CA")
        self.root = self.cas[0]
        self.ca_path = self.root.cert_path
        self.leaf = pki.leaf("huge-leaf", dns=[name], issuer=self.cas[-1])
        super().__init__(self.leaf.chain_path, self.leaf.key_path, **kwargs)


class SlowlorisHandshakeBackend(_Backend):
    """Reads the ClientHello, then starts a TLS handshake record of 16 KiB and drips it one byte every ``interval``
    seconds, forever (a client without an overall deadline waits for hours)."""

    def __init__(self, *, interval=0.05, host=LOCALHOST, port=0):
        super().__init__(host)
        self.interval = interval
        self.sent = 0
        self.port = self._listen(port)

    async def handle(self, reader, writer):
        header = await reader.readexactly(5)
        await reader.readexactly(int.from_bytes(header[3:5], "big"))
        writer.write(b"\x16\x03\x03\x40\x00")  # handshake record, TLS 1.2, 16384 bytes follow... slowly
        await writer.drain()
        while True:
            writer.write(b"\x02")
            await writer.drain()
            self.sent += 1
            await asyncio.sleep(self.interval)


class _AfterHandshakeBackend(TLSBackend):
    """A TLS server that completes the handshake, reads the request head, then runs ``respond(stream)``; with
    ``tls=False`` the same over plain TCP. ``stream`` has write() and drain(); ``.requests`` counts request heads."""

    def __init__(self, chain_path=None, key_path=None, *, tls=True, **kwargs):
        self.tls = tls
        self.sent = 0
        self.request_heads = []
        if tls:
            super().__init__(chain_path, key_path, **kwargs)
        else:
            _Backend.__init__(self, kwargs.get("host", LOCALHOST))
            self._init_http(200, b"", None, 0.0)
            self.port = self._listen(kwargs.get("port", 0))
            self.ports = [self.port]

    async def handle(self, reader, writer):
        if not self.tls:
            await self._after(reader, writer)
            return
        conn = _TLSConnection(self.context, reader, writer)
        await asyncio.wait_for(conn.handshake(), self.handshake_timeout)
        pump = asyncio.ensure_future(conn.pump())
        try:
            await self._after(conn.reader, conn)
        finally:
            pump.cancel()

    async def _after(self, reader, stream):
        head = await reader.readuntil(b"\r\n\r\n")
        self.request_heads.append(head)
        await self.respond(stream)

    async def send(self, stream, data):
        stream.write(data)
        await stream.drain()
        self.sent += len(data)

    async def respond(self, stream):
        """Answer (override)."""
        raise NotImplementedError


class SilentAfterHandshakeBackend(_AfterHandshakeBackend):
    """Completes the TLS handshake, reads the request, never answers (the connection stays open)."""

    async def respond(self, stream):
        await asyncio.sleep(3600)


class SlowlorisResponseBackend(_AfterHandshakeBackend):
    """Answers the request with a status line dripped one byte every ``interval`` seconds, forever (no line end)."""

    def __init__(self, chain_path=None, key_path=None, *, interval=0.05, **kwargs):
        self.interval = interval
        super().__init__(chain_path, key_path, **kwargs)

    async def respond(self, stream):
        await self.send(stream, b"HTTP/1.1 200 ")
        while True:
            await asyncio.sleep(self.interval)
            await self.send(stream, b"O")


class EndlessBodyBackend(_AfterHandshakeBackend):
    """Answers 200 with a well-formed head and then a body that never ends (64 KiB chunks until the peer leaves)."""

    CHUNK = b"x" * 65536

    async def respond(self, stream):
        await self.send(stream, b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                                b"Connection: close\r\n\r\n")
        while True:
            await self.send(stream, self.CHUNK)


class HugeLineBackend(_AfterHandshakeBackend):
    """Answers with a status line (``where="status"``) or one header line (``where="header"``) of ``size`` bytes,
    streamed in 64 KiB chunks (default 100 MiB; never held in memory at once), then ends the head."""

    CHUNK = b"A" * 65536

    def __init__(self, chain_path=None, key_path=None, *, where="status", size=100 << 20, **kwargs):
        if where not in ("status", "header"):
            raise ValueError("where: status or header")
        self.where = where
        self.size = size
        super().__init__(chain_path, key_path, **kwargs)

    async def respond(self, stream):
        await self.send(stream, b"HTTP/1.1 200 " if self.where == "status" else b"HTTP/1.1 200 OK\r\nX-Huge: ")
        left = self.size
        while left > 0:
            chunk = self.CHUNK[:left]
            await self.send(stream, chunk)
            left -= len(chunk)
        await self.send(stream, b"\r\nContent-Length: 0\r\n\r\n")


def _serve(args):
    handlers = [logging.FileHandler(args.logfile)] if args.logfile else [logging.StreamHandler()]
    logging.basicConfig(level=logging.INFO, handlers=handlers, format="%(asctime)s %(levelname)s %(message)s")
    done = threading.Event()

    def on_signal(signum, _frame):
        LOG.info("signal %d received, stopping", signum)
        done.set()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    backend = TLSBackend(args.chain, args.key, sni_names=args.sni or None, client_ca_path=args.client_ca,
                         host=args.host, port=args.port, body=args.body.encode(), echo_path=args.echo_path)
    if args.pidfile:
        with open(args.pidfile, "w", encoding="ascii") as handle:
            handle.write("%d\n" % os.getpid())
    LOG.info("serving https on %s:%d (SNI %s)", args.host, backend.port, ",".join(args.sni or []) or "any")
    try:
        while not done.wait(1.0):
            pass
    finally:
        backend.stop()
        if args.pidfile:
            try:
                os.unlink(args.pidfile)
            except FileNotFoundError:
                pass
        LOG.info("stopped")
    return 0


def main(argv=None):
    """CLI entry point."""
    parser = argparse.ArgumentParser(description="test TLS backends")
    sub = parser.add_subparsers(dest="command", required=True)
    p_serve = sub.add_parser("serve", help="run a TLSBackend in the foreground until SIGTERM")
    p_serve.add_argument("--chain", required=True, help="PEM: leaf followed by intermediates")
    p_serve.add_argument("--key", required=True)
    p_serve.add_argument("--host", default=LOCALHOST)
    p_serve.add_argument("--port", type=int, default=8443)
    p_serve.add_argument("--sni", action="append", help="accepted SNI name (repeatable); others get unrecognized_name")
    p_serve.add_argument("--client-ca", help="require client certificates issued by this CA")
    p_serve.add_argument("--body", default="backend ok")
    p_serve.add_argument("--echo-path", help="answer requests for this path with JSON of the headers received")
    p_serve.add_argument("--pidfile")
    p_serve.add_argument("--logfile")
    args = parser.parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
