# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""The HTTP side of the backend check: the request the checker sends (request_bytes, sni_bytes: no CR, LF or NUL ever
reaches the wire) and the head of the response, read with caps (_Head, parse_status_line). Pure: no sockets.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# A proxy's default response field size (HUGE_STRING_LEN, 8192): a status line or header line of size - 1 bytes or
# more makes it answer 502. The checker reads at most MAX_RESPONSE_HEAD bytes of a response head (the headers beyond
# are not examined) and never the body, so a hostile backend cannot make it buffer more.
RESPONSE_FIELD_SIZE = 8192
MAX_RESPONSE_HEAD = 65536


class UnsafeRequest(ValueError):
    """A value that would change the HTTP request the checker sends (CR, LF or NUL in a header value or the path)."""


_UNSAFE_REQUEST_CHARS = ("\r", "\n", "\x00")


def request_bytes(spec):
    """The request a proxy sends (GET, the Host it sends), as bytes. Raises UnsafeRequest when
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


def parse_status_line(line):
    """(status or None, the line as text, at most 200 characters) of an HTTP response's first line (bytes, without
    its line end): the status is the 3-digit code after an HTTP/ version, None when the line is no status line."""
    parts = line.split(None, 2)
    text = line[:200].decode("latin-1", "replace")
    if len(parts) >= 2 and parts[0].startswith(b"HTTP/") and parts[1].isdigit() and len(parts[1]) == 3:
        return int(parts[1]), text
    return None, text


class _Head:
    """The head of an HTTP response (status line and header lines), read the way a proxy reads it, with caps:
    a line of RESPONSE_FIELD_SIZE - 1 bytes or more is "too long" (a proxy answers 502) and at most MAX_RESPONSE_HEAD
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
                    continue  # one stray CRLF before the status line is skipped (as proxies read it)
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
