# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""Apache's config test of a planned change before it goes live, and of the live configuration after it.

candidate_config_test() runs `apache2 -t` (the layout's command) on a copy of the main config whose *-enabled
includes point at a candidate tree: the live links minus the removed ones plus the new ones, with the candidate
contents of the files being written, and the certificate files being deployed staged beside them. Nothing outside a
temporary directory is written (check mode included). live_config_test() tests the live files the same way.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import re
import shutil
import tempfile

from ansible_collections.revproxy.tls.plugins.module_utils.deploy._files import atomic_write

# One double-quoted argument as the emitter writes it (backslash escapes, never across a line), so that an argument
# holding backslashes (a Host regex) does not shift the pairing of the quotes after it.
_QUOTED_ARG = re.compile(r'"((?:[^"\\\n]|\\.)*)"')


def _point_at_staged(text, staged):
    """Every quoted argument naming a file being deployed ("<live path>"), as "<its staged copy>". One pass with a
    dict lookup: replacing each staged path in turn costs sites x files when thousands of sites each deploy a CA."""
    if not staged:
        return text
    return _QUOTED_ARG.sub(lambda m: '"%s"' % staged[m.group(1)] if m.group(1) in staged else m.group(0), text)


def _stage_contents(written, workdir):
    """The CA and client certificate files being deployed, staged in the work dir: {live path: staged copy}. The
    candidate vhosts point at the staged copies, so the test sees the new contents and the live paths are not
    touched."""
    cand_files = os.path.join(workdir, "files")
    os.makedirs(cand_files)
    staged = {}
    for index, (path, entry) in enumerate(sorted(written.items())):
        if not path.endswith(".conf"):
            staged[path] = os.path.join(cand_files, "content-%d.pem" % index)
            atomic_write(staged[path], entry.content, entry.mode, sync=False)  # scratch: thrown away after the test
    return staged


def _fill_candidate_dir(live, cand, written, linked, removed, staged):
    """One candidate include directory: what `live` would hold after the change, as links to the live targets or
    as the candidate content itself."""
    names = set(os.listdir(live)) if os.path.isdir(live) else set()
    names.update(os.path.basename(p) for p in linked if os.path.dirname(p) == live)
    # Layouts without links (RHEL's conf.d) write the included files themselves.
    names.update(os.path.basename(p) for p in written if os.path.dirname(p) == live)
    for fname in sorted(names):
        path = os.path.join(live, fname)
        if path in removed:
            continue
        if path in written:
            target = path
        elif path in linked:
            target = os.path.normpath(os.path.join(live, linked[path].link_to))
        else:
            target = os.path.realpath(path)
        if target in written:
            # The candidate content itself, in the candidate directory (one file, not a file and a link to it).
            with open(os.path.join(cand, fname), "w") as handle:
                handle.write(_point_at_staged(written[target].content, staged))
            continue
        os.symlink(target, os.path.join(cand, fname))


def _build_candidate_tree(actions, layout, workdir):
    """A copy of the main config whose *-enabled includes point at candidate dirs: the live links minus removed ones,
    plus the new ones, with candidate contents for files being written."""
    written = dict((a["entry"].path, a["entry"]) for a in actions if a["action"] == "write")
    linked = dict((a["entry"].path, a["entry"]) for a in actions if a["action"] == "link")
    removed = set(a["entry"].path for a in actions if a["action"] == "remove")
    staged = _stage_contents(written, workdir)
    for _kind, live in layout.enabled_dirs():
        cand = os.path.join(workdir, os.path.basename(live))
        os.makedirs(cand)
        _fill_candidate_dir(live, cand, written, linked, removed, staged)
    return _main_config_copy(layout, lambda live: os.path.join(workdir, os.path.basename(live)), workdir)


def _main_config_copy(layout, directory_for, workdir):
    """The main config, written into workdir, with the Include line of each *-enabled directory pointing at
    directory_for(that live directory). Relative (Debian's default) and absolute Include paths alike are rewritten,
    so the test resolves them the same way for the live tree and for a candidate tree."""
    try:
        with open(layout.main_config, "rb") as handle:
            main = handle.read().decode("utf-8", "replace")
    except IOError as exc:
        if exc.errno != errno.ENOENT:
            raise
        main = ""
    for _kind, live in layout.enabled_dirs():
        pattern = r"(?mi)^(\s*Include(?:Optional)?\s+[\"']?)(?:%s/)?%s/" % (
            re.escape(layout.config_root), re.escape(os.path.basename(live)))
        main = re.sub(pattern, lambda m, d=directory_for(live): m.group(1) + d + "/", main)
    copy = os.path.join(workdir, "apache2.conf")
    with open(copy, "w") as handle:
        handle.write(main)
    return copy


def _config_test(layout, run_command, prefix, write_main):
    """Config-test the main config that write_main(workdir) writes into a temp dir (removed afterwards).
    Returns (ok, output)."""
    workdir = tempfile.mkdtemp(prefix=prefix)
    try:
        rc, out, err = run_command(layout.config_test_command(write_main(workdir)))
        return rc == 0, (out + err).strip()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def candidate_config_test(actions, layout, run_command):
    """Config-test the candidate set inside the real server config, writing nothing outside a temp dir.
    Returns (ok, output)."""
    return _config_test(layout, run_command, "revproxy-tls-candidate-",
                        lambda workdir: _build_candidate_tree(actions, layout, workdir))


def live_config_test(layout, run_command):
    """Config-test the live configuration as candidate_config_test() tests a candidate (the same main config copy,
    its includes pointing at the live *-enabled directories), without building a tree of links. Returns (ok, output)."""
    return _config_test(layout, run_command, "revproxy-tls-live-",
                        lambda workdir: _main_config_copy(layout, lambda live: live, workdir))
