# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""What the managed Apache files should be, and what it takes to get there from the disk.

desired_state() puts the layout's places (apache/_layout) and the renderer's texts (apache/_render) together: one
Entry per file or link. plan() compares the entries with the disk and returns the actions the deploy engine
(deploy/_transaction) carries out; diff() shows them. A file is the collection's when it starts with the managed
header: plan() never overwrites or prunes any other.

The plan also validates the sites once for the whole run: keep_validated() hands what the later read-only calls need
to them through the deploy engine's handoff (deploy/_handoff), and validated_sites() is how such a call reads it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import json
import os

from ansible_collections.revproxy.tls.plugins.module_utils._files import FileReadError, read_regular_file
from ansible_collections.revproxy.tls.plugins.module_utils.model._backend_tls import ConfigError
from ansible_collections.revproxy.tls.plugins.module_utils.model._grammar import SITE_NAME_RE
from ansible_collections.revproxy.tls.plugins.module_utils.model._pem import check_client_pair
from ansible_collections.revproxy.tls.plugins.module_utils.model._sites import site_backend_checks
from ansible_collections.revproxy.tls.plugins.module_utils.apache import _adopt
from ansible_collections.revproxy.tls.plugins.module_utils.apache._emit import Bare, directive, section
from ansible_collections.revproxy.tls.plugins.module_utils.apache._capabilities import APACHE
from ansible_collections.revproxy.tls.plugins.module_utils.apache._render_acme import site_acme as acme_site
from ansible_collections.revproxy.tls.plugins.module_utils.apache._render import (
    MANAGED_MARKER,
    needed_modules,
    parse_listens,
    render_listen_conf,
    render_site,
)
from ansible_collections.revproxy.tls.plugins.module_utils.deploy import _handoff
from ansible_collections.revproxy.tls.plugins.module_utils.deploy._files import read_nofollow


class Entry:
    """One desired file or symlink."""

    def __init__(self, path, content=None, link_to=None, mode=0o644, secret=False, site=None, disable=None):
        self.path = path
        self.content = content
        self.link_to = link_to
        self.mode = mode
        self.secret = secret
        self.site = site
        self.disable = disable  # apache/_adopt's action that disables a replaced hand-written file


def _read(path):
    try:
        with open(path, "rb") as handle:
            return handle.read().decode("utf-8", "replace")
    except IOError as exc:
        if exc.errno == errno.ENOENT:
            return None
        raise


# A client certificate or key file the role combines (PEM: a few KiB; a chain at most a few hundred).
INPUT_LIMIT = 1 << 20


def _read_user_file(path):
    """A file a site names: a regular file of at most INPUT_LIMIT bytes (a FIFO would block, /dev/zero fill
    memory). FileReadError otherwise."""
    return read_regular_file(path, INPUT_LIMIT, path).decode("utf-8", "replace")


def _read_input(read_file, path, site, field):
    if read_file is _read:
        read_file = _read_user_file
    try:
        text = read_file(path)
    except FileReadError as exc:
        if exc.reason != "missing":
            raise ConfigError("site %r: backend_tls.%s: cannot read %s on the proxy (%s)"
                              % (site, field, path, exc.detail))
        text = None
    except (IOError, OSError) as exc:
        raise ConfigError("site %r: backend_tls.%s: cannot read %s on the proxy (%s)"
                          % (site, field, path, exc.strerror or exc))
    if text is None:
        raise ConfigError("site %r: backend_tls.%s: %s does not exist on the proxy" % (site, field, path))
    return text


def is_managed(path):
    text = _read(path)
    return text is not None and text.startswith(MANAGED_MARKER)


def existing_listens(layout, read_file=_read):
    """(address or None, port) of the Listen directives in the unmanaged files the layout names (ports.conf; on RHEL
    httpd.conf and conf.d's package files)."""
    found = set()
    for source in layout.listen_sources():
        text = read_file(source) or ""
        if not text.startswith(MANAGED_MARKER):
            found.update(parse_listens(text))
    return found


def render_modules_conf(modules):
    """LoadModule lines (RHEL's modules/mod_<name>.so) for the modules, each guarded so a module the packages already
    load is not loaded twice."""
    lines = [MANAGED_MARKER, "# Modules the managed sites need; each is loaded here only if nothing loaded it before."]
    for mod in modules:
        lines.append(section("IfModule", Bare("!%s_module" % mod)))
        lines.append(directive("LoadModule", Bare("%s_module" % mod), Bare("modules/mod_%s.so" % mod), indent="    "))
        lines.append("</IfModule>")
    return "\n".join(lines) + "\n"


def _site_entries(site, layout, log_level, read_file):
    """The vhost file of a site, the link that enables it, and the CA and client certificate files it deploys."""
    name = site["name"]
    entries = [Entry(layout.site_conf(name), render_site(site, log_level, layout.tls_dir), site=name)]
    if layout.site_link(name) is not None:
        entries.append(Entry(layout.site_link(name), link_to=layout.enable_link("sites", name + ".conf"), site=name))
    for key, content in sorted(site["contents"].items()):
        path = site["backend_tls"][key]
        secret = key == "client_cert_file"
        entries.append(Entry(path, content, mode=0o600 if secret else 0o644, secret=secret, site=name))
    if site["combined_client_cert"]:
        cert_path, key_path = site["combined_client_cert"]
        parts = []
        for label, path in (("client_cert_file", cert_path), ("client_key_file", key_path)):
            parts.append(_read_input(read_file, path, name, label).rstrip("\n") + "\n")
        try:
            check_client_pair(parts[0], parts[1], "backend_tls.client_cert_file (%s)" % cert_path,
                              "backend_tls.client_key_file (%s)" % key_path, APACHE)
        except ConfigError as exc:
            raise ConfigError("site %r: %s" % (name, exc))
        entries.append(Entry(os.path.join(layout.site_tls_dir(name), "proxy-client.pem"), "".join(parts), mode=0o600,
                             secret=True, site=name))
    return entries


def _shared_entries(sites, layout, log_level, read_file, acme=None):
    """The files every site shares: the Listen file (and its link), and what loads the modules the sites need; with
    ACME sites, the ACME CA's trust anchor given as content. The Listen file holds the ACME external account
    binding's key when one is set: then it is root's alone (0600) and left out of diffs."""
    path, link = layout.listen_conf()
    secret = bool(acme and acme.get("eab") and any(acme_site(s) for s in sites))
    entries = [Entry(path, render_listen_conf(sites, existing_listens(layout, read_file), acme),
                     mode=0o600 if secret else 0o644, secret=secret)]
    if acme and acme.get("ca_content") and any(acme_site(s) for s in sites):
        entries.append(Entry(acme["ca_file"], acme["ca_content"]))
    if link is not None:
        entries.append(Entry(link[0], link_to=link[1]))
    modules = needed_modules(sites, log_level) if sites else []
    if layout.modules_conf is not None:
        if modules:
            entries.append(Entry(layout.modules_conf, render_modules_conf(modules)))
    else:
        entries.extend(Entry(enabled, link_to=target) for mod in modules
                       for _src, enabled, target in layout.module_files(mod))
    return entries


def desired_state(sites, layout, log_level, read_file=_read, acme=None):
    """All managed files and links for the effective sites (`acme`: the operator's ACME settings, model/_acme).
    Reads the client cert/key files that must be combined."""
    entries = []
    for site in sites:
        entries.extend(_site_entries(site, layout, log_level, read_file))
    entries.extend(_shared_entries(sites, layout, log_level, read_file, acme))
    # The hand-written files the sites replace, disabled in the same change (apache/_adopt; plan() takes its actions).
    entries.extend(Entry(a["entry"].path, site=a["entry"].site, disable=a) for a in _adopt.disable_actions(
        sites, layout, Entry))
    seen = {}
    for entry in entries:
        if entry.path in seen:
            # Only where sites share a directory with the managed files (RHEL's conf.d: a site named like the
            # Listen file).
            owner = seen[entry.path] or entry.site
            raise ConfigError("site %r: its file %s is also a file revproxy.tls manages for every site; rename the "
                              "site" % (owner, entry.path))
        seen[entry.path] = entry.site
    return entries


def _current_link(path):
    try:
        return os.readlink(path)
    except OSError:
        return None


def _plan_link(entry, layout):
    """The action that makes entry's symlink, or None when it is there (or the module is enabled some other way)."""
    if os.path.islink(entry.path) and _current_link(entry.path) == entry.link_to:
        return None
    if os.path.exists(entry.path) and not os.path.islink(entry.path):
        raise ConfigError("%s exists and is not a symlink managed by revproxy.tls; refusing to replace it"
                          % entry.path)
    if os.path.islink(entry.path) and layout.is_module_link(entry.path):
        return None  # a module already enabled some other way
    return {"action": "link", "entry": entry, "before": _current_link(entry.path)}


def _plan_write(entry):
    """The action that writes entry's file, or None when its content and mode are already on disk."""
    if os.path.islink(entry.path) or os.path.islink(os.path.dirname(entry.path)):
        raise ConfigError("%s (or its directory) is a symlink; refusing to write through or replace it (remove "
                          "it: revproxy.tls writes regular files there)" % entry.path)
    before = read_nofollow(entry.path)
    if entry.path.endswith(".conf") and before is not None and not before.startswith(MANAGED_MARKER):
        raise ConfigError("%s exists and is not managed by revproxy.tls (no managed header); refusing to "
                          "overwrite it. Rename the site or remove the file" % entry.path)
    mode_ok = before is None or (os.stat(entry.path).st_mode & 0o7777) == entry.mode
    if before == entry.content and mode_ok:
        return None
    return {"action": "write", "entry": entry, "before": before}


def _prune(layout, wanted):
    """The removals of the managed sites that are not wanted: their link, their file, their TLS directory."""
    actions = []
    for name in layout.site_names():
        path = layout.site_conf(name)
        # Only files named like a site: a stray '.conf' must never make the TLS directory itself a site's.
        if path in wanted or not SITE_NAME_RE.match(name) or os.path.islink(path) or not is_managed(path):
            continue
        link = layout.site_link(name)
        if link is not None and os.path.islink(link):
            actions.append({"action": "remove", "entry": Entry(link, site=name), "before": _current_link(link)})
        actions.append({"action": "remove", "entry": Entry(path, site=name), "before": _read(path)})
        site_dir = layout.site_tls_dir(name)
        if os.path.isdir(site_dir) and not os.path.islink(site_dir):
            actions.append({"action": "remove_dir", "entry": Entry(site_dir, site=name), "before": None})
    return actions


def plan(entries, layout, prune=True):
    """Compare desired entries with the disk. Returns a list of actions (dicts) and raises ConfigError when a
    desired path holds a file this collection does not manage."""
    actions = []
    for entry in entries:
        if entry.disable is not None:
            actions.append(entry.disable)
            continue
        act = _plan_link(entry, layout) if entry.link_to is not None else _plan_write(entry)
        if act is not None:
            actions.append(act)
    if prune:
        actions.extend(_prune(layout, set(e.path for e in entries)))
    return actions


def diff(actions):
    out = []
    for act in actions:
        entry = act["entry"]
        if act["action"] == "link":
            before = "symlink -> %s\n" % act["before"] if act["before"] else ""
            after = "symlink -> %s\n" % entry.link_to
        elif act["action"] == "write":
            before, after = act["before"] or "", entry.content
            if entry.secret:
                before = "(content hidden: private key)\n" if act["before"] else ""
                after = "(content hidden: private key)\n"
        elif act["action"] == "remove_dir":
            before, after = "directory\n", ""
        else:
            before, after = act["before"] or "", ""
            if entry.path.startswith(os.sep) and os.path.islink(entry.path):
                before = "symlink -> %s\n" % act["before"]
        out.append({"before_header": entry.path, "after_header": entry.path, "before": before, "after": after})
    return out


# Validate once per run. The plan (apache_proxy_sites with keep_validated) keeps a view of the effective sites in the
# layout's handoff file (a runtime directory, outside the configuration tree) and returns its key; the read-only
# calls after it (apache_proxy_probe, frontend_certificate) take that key as `validated` instead of the sites. The
# view holds what those calls read and no file contents: nothing secret is kept if the run stops before its commit or
# rollback drops the file.

_VIEW_SITE_KEYS = ("name", "server_name", "server_aliases", "listen", "tls")
_VIEW_LOCATION_KEYS = ("path", "backend", "probe_status")


def handoff_view(sites):
    """What the read-only calls read of each effective site: its names, listener and frontend TLS files, each
    location's path, backend and expected statuses, its warnings, and the backend checks the checker runs for it
    (site_backend_checks: settings, names, CA/CRL/chain contents, all public) — None for a site whose client
    certificate comes from *_content, whose key no handed-on file may hold (plain JSON values)."""
    return [dict([(key, site[key]) for key in _VIEW_SITE_KEYS],
                 locations=[dict((key, loc[key]) for key in _VIEW_LOCATION_KEYS if key in loc)
                            for loc in site["locations"]],
                 warnings=site["warnings"],
                 backend_checks=None if holds_key(site) else _plain(site_backend_checks(site, APACHE)))
            for site in sites]


def _plain(checks):
    """The checks as the handed-on file gives them back (JSON: a tuple reads back as a list)."""
    return json.loads(json.dumps(checks))


def holds_key(site):
    """Whether a site's validated form holds a private key (the client certificate and key given as *_content,
    combined into one file's contents)."""
    return "client_cert_file" in site["contents"]


def handoff_key(params, layout, policy):
    """The key of the exact inputs of a validation: the sites, the defaults, the policy, and the layout."""
    return _handoff.digest([params["sites"], params["backend_tls_defaults"], policy, layout.family, layout.tls_dir])


def keep_validated(layout, key, sites):
    """Keep the view of the validated sites for the later calls of this run; returns the key to hand them, or ""
    when it could not be kept (no runtime directory: the later calls then validate the sites themselves)."""
    return key if _handoff.keep(layout.handoff_file, key, handoff_view(sites)) else ""


def drop_validated(layout):
    _handoff.discard(layout.handoff_file)


def validated_sites(params, layout, validate):
    """The sites of a read-only call: the plan's view when params['validated'] names the one kept on this host, else
    validate() (params['sites'], validated as without a handoff)."""
    if params.get("validated"):
        view = _handoff.load(layout.handoff_file, params["validated"])
        if view is not None:
            return view
        if params.get("sites") is None:
            raise ConfigError("validated: no validated set %s in %s on this host (the plan of this run keeps it until "
                              "its commit or rollback); pass sites instead"
                              % (params["validated"], layout.handoff_file))
    if params.get("sites") is None:
        raise ConfigError("one of sites and validated is required")
    return validate()
