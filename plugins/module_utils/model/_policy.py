# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""The operator's policy: what the sites of one run may do, set at role (play) level, never per site.

A site is what an inventory author or an AWX survey user writes; the policy is what the operator allows them:
- ``allow_raw_directives``: extra_directives outside the server's allow-list are accepted, raw.
- ``served_roots``: the directories under which a site may name files the server serves or reads for it
  (acme_challenge_dir, error_pages). System directories are never a root.

Modules take both as options (POLICY_OPTIONS); the role passes apache_proxy_allow_raw_directives and
apache_proxy_served_roots. Pure (no I/O): the host-side resolution of symlinks is module_utils/_files.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import posixpath

from ansible_collections.revproxy.tls.plugins.module_utils.model import _grammar as grammar
from ansible_collections.revproxy.tls.plugins.module_utils.model._grammar import ConfigError

DEFAULT_SERVED_ROOTS = ["/var/www", "/srv", "/var/lib/revproxy-tls"]
DEFAULT_POLICY = {"allow_raw_directives": False, "served_roots": DEFAULT_SERVED_ROOTS}

# Module options, shared by every module that validates sites (so that all of them accept what the role accepts).
POLICY_OPTIONS = {
    "allow_raw_directives": {"type": "bool", "default": False},
    "served_roots": {"type": "list", "elements": "path", "default": list(DEFAULT_SERVED_ROOTS)},
}

# Directories whose files must never be served or read for a site, whatever the operator lists: the system's
# configuration, kernel and device views, credentials, programs, logs and runtime state.
SYSTEM_DIRS = ("/etc", "/proc", "/sys", "/dev", "/root", "/boot", "/run", "/usr", "/bin", "/sbin", "/lib", "/lib32",
               "/lib64", "/libx32", "/var/log", "/var/run", "/var/lock", "/var/spool", "/var/mail", "/var/backups",
               "/var/cache", "/var/tmp", "/tmp", "/home", "/snap", "/opt")
# Parents of roots: a root may be below them, never one of them.
_NOT_A_ROOT = ("/", "/var", "/var/lib", "/mnt", "/media")


def normal_path(value, field):
    """An absolute path in normal form: no '.', '..' or empty components (what it says is what the server opens)."""
    grammar.abs_path(value, field)
    trimmed = value.rstrip("/") or "/"
    if trimmed != "/" and (posixpath.normpath(trimmed) != trimmed or "//" in trimmed
                           or any(p in (".", "..") for p in trimmed.split("/"))):
        raise ConfigError("%s: %r is not a normalised path (no '.', '..' or '//' components): write %r"
                          % (field, value, posixpath.normpath(trimmed)))
    return trimmed


def _under(path, root):
    return path == root or path.startswith(root.rstrip("/") + "/")


def is_system_path(path):
    return path in _NOT_A_ROOT or any(_under(path, d) for d in SYSTEM_DIRS)


def check_policy(policy):
    """The effective policy (defaults filled in), validated."""
    policy = dict(DEFAULT_POLICY, **dict((k, v) for k, v in (policy or {}).items() if v is not None))
    unknown = sorted(set(policy) - set(DEFAULT_POLICY))
    if unknown:
        raise ConfigError("policy: unknown key(s) %s" % ", ".join(unknown))
    raw = grammar.boolean(policy["allow_raw_directives"], "allow_raw_directives")
    roots = policy["served_roots"]
    if not isinstance(roots, list) or len(roots) > 50:
        raise ConfigError("served_roots: must be a list of at most 50 directories")
    out = []
    for i, root in enumerate(roots):
        field = "served_roots[%d]" % i
        root = normal_path(root, field)
        if is_system_path(root):
            raise ConfigError("%s: %r is a system directory (or contains one); files there are never served "
                              "for a site. Name a directory for web content, such as /var/www or /srv/<site>"
                              % (field, root))
        out.append(root)
    return {"allow_raw_directives": raw, "served_roots": out}


def served_path(value, field, policy, kind, server_name=None):
    """A path the server serves or reads for a site (kind 'dir' or 'file'): normalised, under a served root, never a
    system directory. The host side (module_utils/_files.resolve_served_path) then resolves symlinks. `server_name`
    names the server in the refusals ("the server" without one)."""
    who = server_name or "the server"
    path = normal_path(value, field)
    roots = policy["served_roots"]
    if is_system_path(path) or not any(_under(path, r) for r in roots):
        what = "directory" if kind == "dir" else "file"
        raise ConfigError("%s: %r is not under a served root (%s); %s would serve or read it for anyone. Put the %s "
                          "under one of them, or have the operator add a directory to apache_proxy_served_roots"
                          % (field, path, ", ".join(roots) or "none set", who, what))
    if kind == "file" and value.endswith("/"):
        raise ConfigError("%s: must be a file, not a directory" % field)
    if kind == "dir" and path in roots:
        raise ConfigError("%s: %r is a served root itself; %s would serve everything under it (other sites' "
                          "content among it). Use a directory of its own below it, such as %s/acme"
                          % (field, path, who, path.rstrip("/")))
    return path


def policy_options():
    """POLICY_OPTIONS as a fresh dict (AnsibleModule may fill defaults into a spec in place)."""
    return dict((k, dict(v, default=list(v["default"]) if isinstance(v["default"], list) else v["default"]))
                for k, v in POLICY_OPTIONS.items())


def policy_of(params):
    """The policy given to a module as its options allow_raw_directives and served_roots."""
    return {"allow_raw_directives": params.get("allow_raw_directives"), "served_roots": params.get("served_roots")}
