# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""What the managed nginx files should be, and what it takes to get there from the disk.

desired_state() puts the layout's places (nginx/_layout) and the renderer's texts (nginx/_render) together: one Entry
per file (a site's conf.d file, the CA and client certificate files it deploys from *_content keys). plan() compares
them with the disk and returns the actions the deploy engine (deploy/_transaction) carries out; diff() shows them. A
site file is the collection's when it starts with the managed header: plan() never overwrites or prunes any other.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.revproxy.tls.plugins.module_utils.deploy._files import read_nofollow
from ansible_collections.revproxy.tls.plugins.module_utils.model._grammar import ConfigError, SITE_NAME_RE
from ansible_collections.revproxy.tls.plugins.module_utils.nginx._render import MANAGED_MARKER, render_site


class Entry:
    """One desired file."""

    link_to = None

    def __init__(self, path, content=None, mode=0o644, secret=False, site=None):
        self.path = path
        self.content = content
        self.mode = mode
        self.secret = secret
        self.site = site


def is_managed(path):
    text = read_nofollow(path)
    return text is not None and text.startswith(MANAGED_MARKER)


def desired_state(sites, layout):
    """Every managed file of the effective sites (normalised for NGINX with the layout's tls_dir)."""
    entries = []
    for site in sites:
        name = site["name"]
        entries.append(Entry(layout.site_conf(name), render_site(site), site=name))
        for key, content in sorted(site["contents"].items()):
            secret = key == "client_cert_file"  # the certificate and its key, combined (0600)
            entries.append(Entry(site["backend_tls"][key], content, mode=0o600 if secret else 0o644, secret=secret,
                                 site=name))
    return entries


def _plan_write(entry):
    if os.path.islink(entry.path) or os.path.islink(os.path.dirname(entry.path)):
        raise ConfigError("%s (or its directory) is a symlink; refusing to write through or replace it" % entry.path)
    before = read_nofollow(entry.path)
    if entry.path.endswith(".conf") and before is not None and not before.startswith(MANAGED_MARKER):
        raise ConfigError("%s exists and is not managed by revproxy.tls (no managed header); refusing to overwrite "
                          "it. Rename the site or remove the file" % entry.path)
    mode_ok = before is None or (os.stat(entry.path).st_mode & 0o7777) == entry.mode
    if before == entry.content and mode_ok:
        return None
    return {"action": "write", "entry": entry, "before": before}


def _prune(layout, wanted):
    actions = []
    for name in layout.site_names():
        path = layout.site_conf(name)
        if path in wanted or not SITE_NAME_RE.match(name) or os.path.islink(path) or not os.path.isfile(path) \
                or not is_managed(path):
            continue
        actions.append({"action": "remove", "entry": Entry(path, site=name), "before": read_nofollow(path)})
        site_dir = layout.site_tls_dir(name)
        if os.path.isdir(site_dir) and not os.path.islink(site_dir):
            actions.append({"action": "remove_dir", "entry": Entry(site_dir, site=name), "before": None})
    return actions


def plan(entries, layout, prune=True):
    """The actions from the disk to the entries (ConfigError when a path holds a file this collection does not
    manage)."""
    actions = [act for act in (_plan_write(entry) for entry in entries) if act is not None]
    if prune:
        actions.extend(_prune(layout, set(e.path for e in entries)))
    return actions


def diff(actions):
    out = []
    for act in actions:
        entry = act["entry"]
        if act["action"] == "write":
            before, after = act["before"] or "", entry.content
            if entry.secret:
                before = "(content hidden: private key)\n" if act["before"] else ""
                after = "(content hidden: private key)\n"
        elif act["action"] == "remove_dir":
            before, after = "directory\n", ""
        else:
            before, after = act["before"] or "", ""
        out.append({"before_header": entry.path, "after_header": entry.path, "before": before, "after": after})
    return out
