# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""A site's `replaces`: the hand-written virtual server the managed site takes over (issue 24, adopt).

The model only says what the operator named, in neutral words: a configuration file (an absolute path, no '..',
no whitespace, no quotes) and, optionally, the name of the virtual server in it that the site stands for. Which
files may be replaced (only the server's own site directories, never a managed file, never the main configuration)
and how a file is disabled are the server's: its room checks them on the host (apache/_adopt.py), and compares the
file's virtual servers, as the running server reads them, with the site's listener and names.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.revproxy.tls.plugins.module_utils.model import _grammar as grammar
from ansible_collections.revproxy.tls.plugins.module_utils.model._grammar import ConfigError

SPEC = {"type": "dict", "options": {"file": {"type": "path", "required": True}, "vhost": {"type": "str"}}}


def normalize(value, server, field="replaces"):
    """None, or {"file": absolute path, "vhost": host name or None}. ConfigError naming the field; refused (with
    server.refuse) on a server whose room cannot take a hand-written file over (its profile has no
    `adopts_hand_written`)."""
    if value is None:
        return None
    if not getattr(server, "adopts_hand_written", False):
        server.refuse(field, "it cannot take over hand-written configuration")
    grammar.mapping(value, SPEC["options"], field)
    if value.get("file") is None:
        raise ConfigError("%s.file: is required (the hand-written configuration file the site replaces)" % field)
    path = grammar.abs_path(value["file"], field + ".file")
    if "//" in path or path.endswith("/") or any(part == "." for part in path.split("/")):
        raise ConfigError("%s.file: %r must be a plain absolute file path (no '//', '.' or trailing '/')"
                          % (field, path))
    vhost = value.get("vhost")
    if vhost is not None:
        vhost = grammar.hostname(vhost, field + ".vhost", wildcard=False, ipv6=False).lower().rstrip(".")
    return {"file": path, "vhost": vhost}


def check_distinct(sites):
    """Two sites never replace the same file."""
    seen = {}
    for site in sites:
        replaces = site.get("replaces")
        if not replaces:
            continue
        if replaces["file"] in seen:
            raise ConfigError("site %r: replaces.file: %s is already replaced by site %r; one file is taken over by "
                              "one site" % (site["name"], replaces["file"], seen[replaces["file"]]))
        seen[replaces["file"]] = site["name"]
