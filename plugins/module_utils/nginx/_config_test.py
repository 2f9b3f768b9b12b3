# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""nginx's config test of a planned change before it goes live, and of the live configuration after it.

candidate_config_test() runs `nginx -t` on a copy of the real main config (nginx.conf) written into a temporary
directory, whose include of conf.d/*.conf points at a candidate directory: the live conf.d files minus the removed
ones plus the written ones, and the CA and client certificate files being deployed staged beside them (the candidate
site files name the staged copies). Relative include paths of the copy are made absolute against the config root
(nginx resolves them against the directory of the file given with -c). Nothing outside the temporary directory is
written. live_config_test() tests the live main config itself.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import shutil
import tempfile

from ansible_collections.revproxy.tls.plugins.module_utils.deploy._files import atomic_write
from ansible_collections.revproxy.tls.plugins.module_utils.nginx._emit import quoted

_INCLUDE_RE = re.compile(r"(?m)^(\s*include\s+)([\"']?)([^;\"'\s]+)\2(\s*;)")


def _stage_contents(written, workdir):
    """{live path: staged copy} of the non-.conf files being written (CA, client certificates)."""
    files = os.path.join(workdir, "files")
    os.makedirs(files)
    staged = {}
    for index, (path, entry) in enumerate(sorted(written.items())):
        if not path.endswith(".conf"):
            staged[path] = os.path.join(files, "content-%d.pem" % index)
            atomic_write(staged[path], entry.content, entry.mode, sync=False)
    return staged


def _point_at_staged(text, staged):
    for live, copy in staged.items():
        text = text.replace(quoted(live), quoted(copy))
    return text


def _main_copy(layout, sites_dir, workdir):
    """The main config with its conf.d include pointing at sites_dir and every relative include made absolute."""
    with open(layout.main_config, "rb") as handle:
        main = handle.read().decode("utf-8", "replace")
    live_glob = os.path.join(layout.sites_dir, "*.conf")

    def include(match):
        path = match.group(3)
        absolute = path if path.startswith("/") else os.path.join(layout.config_root, path)
        if os.path.normpath(absolute) == os.path.normpath(live_glob):
            absolute = os.path.join(sites_dir, "*.conf")
        return "%s%s%s" % (match.group(1), quoted(absolute), match.group(4))
    main = _INCLUDE_RE.sub(include, main)
    copy = os.path.join(workdir, "nginx.conf")
    with open(copy, "w") as handle:
        handle.write(main)
    return copy


def _candidate(actions, layout, workdir):
    written = dict((a["entry"].path, a["entry"]) for a in actions if a["action"] == "write")
    removed = set(a["entry"].path for a in actions if a["action"] == "remove")
    staged = _stage_contents(written, workdir)
    cand = os.path.join(workdir, "conf.d")
    os.makedirs(cand)
    names = set(os.listdir(layout.sites_dir)) if os.path.isdir(layout.sites_dir) else set()
    names.update(os.path.basename(p) for p in written if os.path.dirname(p) == layout.sites_dir)
    for fname in sorted(n for n in names if n.endswith(".conf")):
        path = os.path.join(layout.sites_dir, fname)
        if path in removed:
            continue
        if path in written:
            with open(os.path.join(cand, fname), "w") as handle:
                handle.write(_point_at_staged(written[path].content, staged))
        else:
            os.symlink(os.path.realpath(path), os.path.join(cand, fname))
    return _main_copy(layout, cand, workdir)


def _run(layout, run_command, main_config):
    rc, out, err = run_command(layout.config_test_command(main_config))
    return rc == 0, (out + err).strip()


def candidate_config_test(actions, layout, run_command):
    """nginx -t of the candidate set inside the real main config; writes nothing outside a temp dir. (ok, output)"""
    workdir = tempfile.mkdtemp(prefix="revproxy-tls-nginx-")
    try:
        return _run(layout, run_command, _candidate(actions, layout, workdir))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def live_config_test(layout, run_command):
    """nginx -t of the live configuration. (ok, output)"""
    return _run(layout, run_command, layout.main_config)
