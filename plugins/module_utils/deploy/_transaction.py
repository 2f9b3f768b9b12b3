# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""Apply a planned change and undo it exactly, for any server: the deploy engine's transaction.

Input is the plan's list of actions, dicts {"action": "write"|"link"|"remove"|"remove_dir", "entry": e} where e has
.path, .content, .mode and .link_to (apache/_plan.Entry). apply() carries them out and keeps every previous version
next to its path (BACKUP_SUFFIX) until cleanup_backups() drops them or restore() puts them back.

A transaction spans calls (write, then the server reloads and is probed, then commit or rollback): the backup records
live in a file the caller names. The caller is a *target*, any object with
  transaction_file  the absolute path of that record (its directory is the engine's state area: root-only, created
                    when missing, and removed again by rollback when the change created it);
  handoff_file      the absolute path of a set handed from the plan to later calls of the same run (deploy/_handoff),
                    dropped by commit and rollback; None when the target hands nothing on.
apache/_layout.Layout is one. Where those files live, which paths are the server's, and how the server is tested and
reloaded are the target's business: this file only writes, records the undo, and restores.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import json
import os

from ansible_collections.revproxy.tls.plugins.module_utils.deploy import _files
from ansible_collections.revproxy.tls.plugins.module_utils.deploy import _handoff

BACKUP_SUFFIX = ".revproxy-prev"


# Backup records: [path, backup, kind]. kind "file": a file or symlink that existed (backup: its previous version,
# a hard link or the renamed original, so content, mode and owner are exactly kept and nothing is copied); "new": a
# file or link that did not exist (backup None); "dir": a removed directory, renamed to its backup; "mkdir": a
# directory the change created.

def apply(actions):
    """Carry the actions out. Every replaced or removed file and directory keeps its previous version next to it
    (BACKUP_SUFFIX) until cleanup_backups(); returns the backup records for restore()."""
    backups = []
    staged = _files.stage_writes(actions)
    try:
        for act in actions:
            _apply_one(act, backups, staged)
    except Exception:
        restore(backups)
        raise
    finally:
        for tmp in staged.values():  # what an error left unused (the others were renamed into place)
            _files.unlink(tmp)
    return backups


def _keep_previous(path, kind, backups):
    """Record the undo of a write, link or removal at path: the previous version kept beside it, or "new"."""
    existed = os.path.lexists(path) and not (os.path.isdir(path) and not os.path.islink(path))
    if existed and kind in ("write", "remove", "link"):
        backup = path + BACKUP_SUFFIX
        _files.clear(backup)
        if kind == "remove":
            os.rename(path, backup)
        else:
            os.link(path, backup, follow_symlinks=False)
        backups.append([path, backup, "file"])
    elif kind in ("write", "link"):
        backups.append([path, None, "new"])


def _apply_one(act, backups, staged):
    entry = act["entry"]
    path = entry.path
    kind = act["action"]
    if kind == "remove_dir":
        if os.path.isdir(path) and not os.path.islink(path):
            backup = path + BACKUP_SUFFIX
            _files.clear(backup)
            os.rename(path, backup)
            backups.append([path, backup, "dir"])
        return
    _keep_previous(path, kind, backups)
    # The directories a write or link needs are made and recorded before anything else can fail, so that a failed
    # write takes them away again; they are undone after the files in them (restore walks the records backwards).
    created = _files.makedirs(os.path.dirname(path)) if kind in ("write", "link") else []
    if created:
        record = backups.pop()
        backups.extend([d, None, "mkdir"] for d in created)
        backups.append(record)
    if kind == "write" and path in staged:  # staged and synced by apply()
        os.rename(staged[path], path)
        del staged[path]  # only once it is in place: a failed rename leaves it for apply() to remove
    elif kind == "write":
        _files.atomic_write(path, entry.content, entry.mode)
    elif kind == "link":
        _files.atomic_symlink(path, entry.link_to)


def restore(backups):
    """Undo apply(): put every previous file and directory back, remove what did not exist before. Every record is
    undone even when one fails (the first error is raised at the end): one undo that cannot be made never leaves
    the others unmade."""
    first_error = None
    for record in reversed(backups):
        try:
            _undo(record)
        except OSError as exc:
            first_error = first_error or exc
    if first_error is not None:
        raise first_error


def _undo(record):
    path, backup = record[0], record[1]
    kind = record[2] if len(record) > 2 else ("file" if backup else "new")
    if kind == "new":
        if not (os.path.isdir(path) and not os.path.islink(path)):  # a directory there was never the change's
            _files.unlink(path)
    elif kind == "mkdir":
        try:
            os.rmdir(path)
        except OSError:
            pass
    elif kind == "dir":
        if os.path.lexists(path):
            _files.clear(path)
        os.rename(backup, path)
    else:
        os.rename(backup, path)


def cleanup_backups(backups):
    """Make an applied change final: drop the previous versions."""
    for record in backups:
        backup = record[1]
        if backup:
            _files.clear(backup)


def changed_paths(backups):
    """The files, links and directories a change wrote or removed (not the directories it created on the way)."""
    return [record[0] for record in backups if len(record) < 3 or record[2] != "mkdir"]


# A transaction spans tasks: apply() keeps the previous versions, the caller reloads and probes, then commit() drops
# them or rollback() puts them back. The list of backup records lives in target.transaction_file.

def pending_transaction(target):
    """The backup records of an applied but not yet committed change, or None."""
    try:
        with open(target.transaction_file) as handle:
            return [list(record) for record in json.load(handle)["backups"]]
    except IOError as exc:
        if exc.errno == errno.ENOENT:
            return None
        raise


def begin_transaction(target, backups):
    """Record an applied change (its backup records) as pending until commit() or rollback()."""
    path = target.transaction_file
    created = _files.atomic_write(path, json.dumps({"backups": backups}), 0o600)
    if created:
        # The state directory did not exist before this change: rollback removes it again.
        _files.atomic_write(path, json.dumps({"backups": [[d, None, "mkdir"] for d in created] + backups}), 0o600)


def _drop_handoff(target):
    handoff = getattr(target, "handoff_file", None)
    if handoff:
        _handoff.discard(handoff)


def commit(target, drop_handoff=True):
    """Make the applied change final: drop the previous versions (and, unless drop_handoff is False, the run's
    handed-on set: an earlier run's change made final by this run keeps this run's). Returns the number of backups
    dropped."""
    if drop_handoff:
        _drop_handoff(target)
    backups = pending_transaction(target)
    if backups is None:
        return 0
    cleanup_backups(backups)
    _files.unlink(target.transaction_file)
    return len(backups)


def rollback(target):
    """Restore the previous versions of everything the pending change wrote (and drop the run's handed-on set).
    Returns the restored paths."""
    _drop_handoff(target)
    backups = pending_transaction(target)
    if backups is None:
        return []
    restore(backups)
    _files.unlink(target.transaction_file)
    # Directories the change created that still held the transaction record (the state directory itself).
    for record in reversed(backups):
        if len(record) > 2 and record[2] == "mkdir" and os.path.isdir(record[0]):
            try:
                os.rmdir(record[0])
            except OSError:
                pass
    return changed_paths(backups)
