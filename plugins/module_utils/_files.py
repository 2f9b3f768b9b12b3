# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""Bounded reads of files whose path comes from input, and the check of paths the server serves.

Every read of a path a user names (an error log, a certificate, a key, a CA bundle) goes through here, so that a FIFO
cannot hang the module, /dev/zero cannot eat its memory and a directory or a socket gives a clear message:
  read_regular_file(path, limit, what)  the whole file, a regular file of at most `limit` bytes;
  read_tail(path, limit, what, offset)  the last `limit` bytes after a byte offset (logs), and how many were skipped;
  check_regular_file(path, limit, what) the same checks without reading (for a path handed to another library);
  resolve_served_path(path, roots, kind) the real path of a directory or file the server serves, under one of `roots`.
Symlinks are followed (an operator's certificate is often a link into a store); the kind and size checks apply to
what the link points at. A path is stat()ed before it is opened (no device is ever opened: opening some has effects),
opened non-blocking, and the opened descriptor is checked again (a swap between the two is caught).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import stat

# (test, what it is called in a message) for the kinds of file that are refused.
_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)

_OPEN_FLAGS = (os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
               | getattr(os, "O_BINARY", 0))


class FileReadError(ValueError):
    """A file named by input cannot be read as asked. The message names `what` (the field) and the path.

    reason: 'missing' (does not exist), 'unreadable' (any other OS error), 'kind' (not a regular file, or for
    resolve_served_path not the kind asked for), 'size' (over the limit), 'outside' (not under a served root).
    detail: the part after the path, e.g. 'No such file or directory' or 'a FIFO (named pipe), not a regular file'."""

    def __init__(self, message, what=None, path=None, reason=None, detail=None):
        super(FileReadError, self).__init__(message)
        self.what = what
        self.path = path
        self.reason = reason
        self.detail = detail


def kind_name(mode):
    """'a directory', 'a FIFO (named pipe)', ... for a non-regular st_mode; 'a regular file'; 'a special file'."""
    if stat.S_ISREG(mode):
        return "a regular file"
    for test, name in _KINDS:
        if test(mode):
            return name
    return "a special file"


def _os_error(what, path, exc):
    reason = "missing" if exc.errno == errno.ENOENT else "unreadable"
    detail = exc.strerror or str(exc)
    return FileReadError("%s: cannot read %s: %s" % (what, path, detail), what, path, reason, detail)


def _not_regular(what, path, mode):
    detail = "%s, not a regular file" % kind_name(mode)
    return FileReadError("%s: %s is %s" % (what, path, detail), what, path, "kind", detail)


def _too_large(what, path, size, limit):
    detail = "is %d bytes, over the limit of %d bytes" % (size, limit)
    return FileReadError("%s: %s %s" % (what, path, detail), what, path, "size", detail)


def _open_regular(path, what):
    """(fd, fstat) of a regular file opened for reading; FileReadError otherwise. The caller closes fd."""
    try:
        before = os.stat(path)
    except (OSError, ValueError, TypeError) as exc:
        if isinstance(exc, OSError):
            raise _os_error(what, path, exc)
        raise FileReadError("%s: %r is not a path (%s)" % (what, path, exc), what, path, "unreadable", str(exc))
    if not stat.S_ISREG(before.st_mode):
        raise _not_regular(what, path, before.st_mode)
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        raise _os_error(what, path, exc)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _not_regular(what, path, st.st_mode)
    except BaseException:
        os.close(fd)
        raise
    return fd, st


def _read_at_most(fd, count):
    """Up to `count` bytes from fd (short reads retried until EOF)."""
    chunks, got = [], 0
    while got < count:
        chunk = os.read(fd, min(count - got, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def check_regular_file(path, limit, what):
    """Raise FileReadError unless path (symlinks followed) is a readable regular file of at most `limit` bytes.
    For a path given to a library that opens it itself (OpenSSL's CA file): it then cannot block or read forever."""
    fd, st = _open_regular(path, what)
    os.close(fd)
    if limit is not None and st.st_size > limit:
        raise _too_large(what, path, st.st_size, limit)


def read_regular_file(path, limit, what):
    """The bytes of a regular file of at most `limit` bytes. FileReadError (naming `what` and the path) when the file
    is missing or unreadable, not a regular file (directory, FIFO, device, socket) or larger than `limit`."""
    fd, st = _open_regular(path, what)
    try:
        if st.st_size > limit:
            raise _too_large(what, path, st.st_size, limit)
        data = _read_at_most(fd, limit + 1)
        if len(data) > limit:  # it grew since the fstat
            raise _too_large(what, path, max(os.fstat(fd).st_size, len(data)), limit)
    except OSError as exc:
        raise _os_error(what, path, exc)
    finally:
        os.close(fd)
    return data


def read_tail(path, limit, what, offset=None):
    """(data, skipped): the bytes of a regular file after byte `offset` (the whole file when offset is None, or when
    the file is now shorter than offset: it was rotated), at most the last `limit` of them; skipped is how many bytes
    after the offset were left out (0: nothing). FileReadError as read_regular_file (no size error: a long log is
    read from its tail). A missing file raises too (reason 'missing'); callers that wait for a log catch it."""
    fd, st = _open_regular(path, what)
    try:
        size = st.st_size
        start = offset if offset is not None and 0 <= offset <= size else 0
        skipped = max(0, size - limit - start)
        start += skipped
        os.lseek(fd, start, os.SEEK_SET)
        data = _read_at_most(fd, limit)
    except OSError as exc:
        raise _os_error(what, path, exc)
    finally:
        os.close(fd)
    return data, skipped


def _is_under(path, root):
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def resolve_served_path(path, roots, kind, what=None):
    """The real path (symlinks resolved) of a directory (kind 'dir') or file (kind 'file') that the server will serve.

    It must be equal to or below the real path of one of `roots`; when it exists it must be of that kind (a regular
    file for 'file'). A path that does not exist yet is checked by where it would resolve. FileReadError otherwise,
    naming the path, what it resolves to and the roots."""
    if kind not in ("dir", "file"):
        raise ValueError("kind: expected 'dir' or 'file', got %r" % (kind,))
    what = what or path
    label = "%s: " % what if what != path else ""
    real = os.path.realpath(path)
    resolved_roots = [os.path.realpath(root) for root in roots]
    shown = "%s%s" % (path, " (resolves to %s)" % real if real != path else "")
    if not any(_is_under(real, root) for root in resolved_roots):
        roots_text = ", ".join(root if root == real_root else "%s (%s)" % (root, real_root)
                               for root, real_root in zip(roots, resolved_roots)) or "(none)"
        detail = "is not under a served root (%s)" % roots_text
        raise FileReadError("%s%s %s" % (label, shown, detail), what, path, "outside", detail)
    try:
        st = os.stat(real)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return real
        detail = exc.strerror or str(exc)
        raise FileReadError("%s%s cannot be checked: %s" % (label, shown, detail), what, path, "unreadable", detail)
    wanted = stat.S_ISDIR if kind == "dir" else stat.S_ISREG
    if not wanted(st.st_mode):
        detail = "is %s, not %s" % (kind_name(st.st_mode), "a directory" if kind == "dir" else "a regular file")
        raise FileReadError("%s%s %s" % (label, shown, detail), what, path, "kind", detail)
    return real
