# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""The deploy engine's file primitives, for any server: atomic writes and symlinks, staged writes made durable at once
(one syncfs per filesystem), and removal that never follows a link.

Nothing here knows which server the files are for or where they go: the caller hands over paths and contents (the
server's own side, apache/ today, decides both). A write is a new file next to its path (mkstemp: created exclusively,
its mode set before any content) renamed over the path, so a reader sees the old file or the new one, never half.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import shutil
import tempfile


def unlink(path):
    """os.unlink, quiet when there is nothing at path."""
    try:
        os.unlink(path)
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            raise


def makedirs(directory):
    """os.makedirs, returning the directories it created (outermost first)."""
    created = []
    probe = directory
    while probe and not os.path.isdir(probe):
        created.insert(0, probe)
        probe = os.path.dirname(probe)
    for path in created:
        os.mkdir(path, 0o755)
    return created


def new_file(directory, content, mode, sync=True):
    """A new file in directory (mkstemp: O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600) holding content, its mode set before any
    content is written; fsync'ed unless sync is False. Returns its path."""
    fd, tmp = tempfile.mkstemp(prefix=".revproxy-", dir=directory)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(content.encode("utf-8"))
            if sync:
                handle.flush()
                os.fsync(handle.fileno())
    except Exception:
        unlink(tmp)
        raise
    return tmp


def atomic_write(path, content, mode, sync=True):
    """Write a new file next to path (new_file), then rename it over path. Returns the directories it had to
    create. sync=False only for scratch files that are thrown away (a candidate tree for a config test)."""
    directory = os.path.dirname(path)
    created = makedirs(directory)
    tmp = new_file(directory, content, mode, sync)
    try:
        os.rename(tmp, path)
    except Exception:
        unlink(tmp)
        raise
    return created


def atomic_symlink(path, target):
    """A symlink at path pointing at target, made beside it and renamed into place. Returns the created
    directories."""
    directory = os.path.dirname(path)
    created = makedirs(directory)
    tmp = os.path.join(directory, ".revproxy-link-%s" % os.path.basename(path))
    unlink(tmp)
    os.symlink(target, tmp)
    os.rename(tmp, path)
    return created


def clear(path):
    """Remove whatever lies at path (a stale backup, or something planted there) without following it."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    else:
        unlink(path)


def read_nofollow(path):
    """The text of a file, never through a symlink (ELOOP is raised for one); None when there is none."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return None
        raise
    with os.fdopen(fd, "rb") as handle:
        return handle.read().decode("utf-8", "replace")


def syncfs(fd):
    """syncfs(2) on the filesystem of fd; False where it is not available (then the caller fsyncs each file)."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.syncfs(fd) == 0
    except (AttributeError, OSError, TypeError, ValueError):
        return False


def _make_durable(files):
    """Flush the staged files of one filesystem: one syncfs, or an fsync of each where syncfs is missing."""
    fd = os.open(os.path.dirname(files[0]), os.O_RDONLY)
    try:
        synced = syncfs(fd)
    finally:
        os.close(fd)
    if not synced:
        for tmp in files:
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


def stage_writes(actions):
    """The new contents of the files being written, each in a new file next to its path, all made durable at once
    (one syncfs per filesystem instead of one fsync per file: thousands of fsyncs cost seconds). Files whose directory
    does not exist yet are left to atomic_write. Returns {path: staged file}."""
    staged = {}
    try:
        for act in actions:
            entry = act["entry"]
            directory = os.path.dirname(entry.path)
            if act["action"] == "write" and os.path.isdir(directory) and not os.path.islink(directory):
                staged[entry.path] = new_file(directory, entry.content, entry.mode, sync=False)
        by_device = {}
        for tmp in staged.values():
            by_device.setdefault(os.stat(tmp).st_dev, []).append(tmp)
        for files in by_device.values():
            _make_durable(files)
    except Exception:
        for tmp in staged.values():
            unlink(tmp)
        raise
    return staged
