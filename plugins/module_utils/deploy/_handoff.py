# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""Hand a validated set from the plan to the later calls of the same run, on the host, without a second validation.

The plan validates the inputs once, keeps what the later calls need in a root-only file (keep()) under a key that is
the digest of the exact inputs (digest()), and returns only that key; a later call passes the key, never the data,
and load() gives the set back only when the file is the engine's own (a regular file, not a link, owned by this user,
mode 0600, in a directory nobody else may write) and holds that very key. A caller cannot hand in a set of its own:
the option takes a key, and the only writer of the file is the plan, after validating. A file that is missing, stale
(another key) or not trustworthy reads as None, and the caller validates its inputs as it would without a handoff.

The file outlives a run that stops between the plan and its commit or rollback (which discard() it), so the caller
keeps nothing secret in it (apache/_plan.handoff_view keeps no file contents at all), and keeps it outside the tree
it deploys (a runtime directory: apache/_layout.RUN_DIR), so such a run leaves that tree exactly as it found it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import hashlib
import json
import os
import stat
import time

# A kept set older than this is an abandoned run's (a refused preflight, a tree that is gone): keep() removes it.
STALE_SECONDS = 24 * 3600

from ansible_collections.revproxy.tls.plugins.module_utils.deploy import _files


def digest(value):
    """The key of a set of inputs: SHA-256 of their canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _private_dir(directory):
    """Whether only this user (or root) can add or replace a file in directory."""
    try:
        info = os.stat(directory)
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid in (0, os.geteuid()) and not info.st_mode & 0o022


def _make_private_dir(directory):
    """The handoff's directory, made (mode 0700) when missing; its parent must exist (/run). Quiet on failure: the
    caller then hands nothing on."""
    try:
        os.mkdir(directory, 0o700)
    except OSError as exc:
        if exc.errno != errno.EEXIST:
            return False
    return _private_dir(directory)


def _sweep(directory, now):
    """Remove the regular files of the handoff's own directory that are older than STALE_SECONDS."""
    for name in os.listdir(directory):
        other = os.path.join(directory, name)
        try:
            info = os.lstat(other)
        except OSError:
            continue
        if stat.S_ISREG(info.st_mode) and now - info.st_mtime > STALE_SECONDS:
            _files.unlink(other)


def keep(path, key, payload):
    """Write {key, payload} to path (mode 0600, atomically), in a directory only this user may write (made when
    missing); abandoned sets beside it are removed. Returns whether it was kept."""
    directory = os.path.dirname(path)
    if not _make_private_dir(directory):
        return False
    _sweep(directory, time.time())
    _files.atomic_write(path, json.dumps({"key": key, "payload": payload}, separators=(",", ":")), 0o600,
                        sync=False)  # a torn file after a crash fails to parse: the caller validates again
    return True


def load(path, key):
    """The payload kept under key at path, or None (no file, another key, or a file that is not the engine's)."""
    if not key or not _private_dir(os.path.dirname(path)):
        return None
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        # Missing, a link (ELOOP), not a directory on the way, or not this user's to read (EACCES): no set here.
        return None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o077:
        os.close(fd)  # a directory, FIFO or device, or a file that is not the engine's: never read
        return None
    with os.fdopen(fd, "rb") as handle:
        try:
            data = json.loads(handle.read().decode("utf-8"))
        except (ValueError, OSError):
            return None
    if not isinstance(data, dict) or data.get("key") != key:
        return None
    return data.get("payload")


def discard(path):
    _files.unlink(path)
