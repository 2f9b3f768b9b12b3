# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""Adopt: a managed site takes over the hand-written vhost file it names (`replaces`), in the same transaction.

Which files may be replaced is Apache's layout's business (Layout.replaceable_dirs(): the sites directories on
Debian, conf.d on RHEL): a file directly in one of them, named *.conf, a regular file (or, where Apache includes
it, a symbolic link to one in those directories), not a file revproxy.tls manages, holding no Listen directive (it
would take a listener with it) and nothing outside its <VirtualHost> sections (server config that every other vhost
inherits, e.g. a server-wide SSLProxyVerify require: disabling it would weaken the other sites), UTF-8 text of at
most 1 MiB. Everything else is refused with the reason, before
anything is planned: /etc/passwd, '..', the main config, ports.conf, a symbolic link out of the directories, a
directory, a FIFO, a file that does not exist.

How it is disabled (disable_actions(): plain deploy-engine actions, undone byte-identically by
deploy/_transaction.restore, which renames the previous version back):
  - a file in Debian's sites-available, or a link to it where Apache includes it: every link in sites-enabled (conf.d)
    that resolves to that file is removed (a2dissite);
  - a regular file where Apache includes it (conf.d on RHEL, a file in sites-enabled): it is removed and the same
    bytes (and mode) are written to <file>.disabled beside it, which Apache does not read (*.conf only).
A file already disabled so (no enabling link, or only <file>.disabled left) needs nothing: a second run changes
nothing.

check_live() compares, before anything is written, the file's vhosts as the running Apache reads them
(apache/_live_vhosts) with the vhosts the site renders: every one of them must have the same listen address, port
and names as one of the site's, so that exactly the requests the hand-written vhost answered reach the managed one.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import stat

from ansible_collections.revproxy.tls.plugins.module_utils._files import FileReadError, kind_name, read_regular_file
from ansible_collections.revproxy.tls.plugins.module_utils.model._grammar import ConfigError
from ansible_collections.revproxy.tls.plugins.module_utils.apache import _vhosts
from ansible_collections.revproxy.tls.plugins.module_utils.apache._render import MANAGED_MARKER, parse_listens

DISABLED_SUFFIX = ".disabled"
READ_LIMIT = 1 << 20


def _refuse(site, path, why):
    raise ConfigError("site %r: replaces.file: %s %s" % (site, path, why))


def _include_dir(layout):
    """The directory Apache includes *.conf from, among the replaceable ones (sites-enabled; RHEL's conf.d)."""
    return os.path.normpath(layout.managed_dir())


def _check_place(name, path, layout):
    dirs = [os.path.normpath(d) for d in layout.replaceable_dirs()]
    if os.path.normpath(path) != path or os.path.dirname(path) not in dirs:
        _refuse(name, path, "is not a file directly in %s: only a hand-written site file there may be replaced "
                            "(never the main configuration, ports.conf or another directory)" % " or ".join(dirs))
    base = os.path.basename(path)
    if not base.endswith(".conf") or base.startswith("."):
        _refuse(name, path, "is not a *.conf file: Apache reads only *.conf files there")
    if base == layout.listen_conf_name:
        _refuse(name, path, "is the Listen file revproxy.tls manages for every site")
    return dirs


def _check_content(name, path, real):
    """The replaced file's text (bounded read: never blocks on a FIFO, never reads a device)."""
    try:
        st = os.lstat(real)
    except OSError as exc:
        _refuse(name, path, "cannot be read: %s" % (exc.strerror or exc))
    if not stat.S_ISREG(st.st_mode):
        _refuse(name, path, "is %s, not a hand-written vhost file" % kind_name(st.st_mode))
    try:
        data = read_regular_file(real, READ_LIMIT, "replaces.file")
    except FileReadError as exc:
        _refuse(name, path, "cannot be read (%s)" % exc.detail)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        _refuse(name, path, "is not UTF-8 text")
    if text.startswith(MANAGED_MARKER):
        _refuse(name, path, "is a file revproxy.tls manages (a site's own), not a hand-written one")
    if parse_listens(text):
        _refuse(name, path, "holds a Listen directive: disabling it would also stop Apache listening there; move "
                            "the Listen line to ports.conf first")
    outside = outside_vhosts(text)
    if outside:
        _refuse(name, path, "holds %s at line %d, outside its <VirtualHost> sections: it applies to the whole server "
                            "(every other vhost inherits it), so disabling the file would change other sites too; "
                            "move it to its own file first" % outside[::-1])
    return text, stat.S_IMODE(st.st_mode)


# Sections that only decide whether what they hold is read: a vhost inside them is still only a vhost.
_CONDITIONAL = ("ifmodule", "ifdefine", "ifversion", "ifdirective", "iffile", "ifsection")


def outside_vhosts(text):
    """(line, directive) of the first directive outside every <VirtualHost> section (the conditional sections
    around them aside), or None. Lines are joined as Apache joins them (a trailing backslash continues the line)."""
    depth, number, pending, start = 0, 0, "", 0
    for raw in text.splitlines():
        number += 1
        if not pending:
            start = number
        if raw.endswith("\\"):
            pending += raw[:-1]
            continue
        line, pending = (pending + raw).strip(), ""
        if not line or line.startswith("#"):
            continue
        word = line.split(None, 1)[0].rstrip(">").lower()
        if word == "<virtualhost":
            depth += 1
        elif word == "</virtualhost":
            depth -= 1
        elif depth == 0 and word.lstrip("</") not in _CONDITIONAL:
            return start, line.split(None, 1)[0]
    return (start, pending.split(None, 1)[0]) if pending.strip() and depth == 0 else None


def _in_dirs(real, dirs):
    real_dirs = set(os.path.realpath(d) for d in dirs)
    return os.path.dirname(real) in real_dirs


def inspect(site, layout):
    """What disabling the site's replaced file takes: {"file", "included": the paths Apache includes it from,
    "remove": paths to remove, "rename": (path, text, mode) or None}, or None for a site without replaces. Raises
    ConfigError naming the site and replaces.file."""
    replaces = site.get("replaces")
    if not replaces:
        return None
    name, path = site["name"], replaces["file"]
    dirs = _check_place(name, path, layout)
    if path in (layout.site_conf(name), layout.site_link(name)):
        _refuse(name, path, "is where the site's own file goes; give the site another name than the file it "
                            "replaces")
    include_dir = _include_dir(layout)
    out = {"file": path, "included": [], "remove": [], "rename": None}
    if not os.path.lexists(path):
        # Disabled by an earlier run: renamed, or (a link where Apache includes it) its link removed (a2dissite).
        others = [os.path.join(d, os.path.basename(path)) for d in dirs if d != include_dir]
        if os.path.dirname(path) == include_dir and (os.path.lexists(path + DISABLED_SUFFIX)
                                                     or any(os.path.isfile(p) for p in others)):
            return out
        _refuse(name, path, "does not exist")
    real = os.path.realpath(path)
    if os.path.islink(path):
        if not _in_dirs(real, dirs):
            _refuse(name, path, "is a symbolic link out of the site directories (to %s)" % real)
        if os.path.dirname(path) != include_dir:
            _refuse(name, path, "is a symbolic link; name the file it points to (%s)" % real)
        if os.path.dirname(real) == include_dir:
            _refuse(name, path, "is a symbolic link to %s, which Apache includes as well; name that file" % real)
    text, mode = _check_content(name, path, real)
    if os.path.dirname(path) == include_dir and not os.path.islink(path):
        if os.path.lexists(path + DISABLED_SUFFIX):
            _refuse(name, path, "cannot be disabled: %s%s already exists" % (path, DISABLED_SUFFIX))
        out.update(included=[path], remove=[path], rename=(path + DISABLED_SUFFIX, text, mode))
        return out
    # A file in sites-available, or a link to one: every link in sites-enabled that resolves to it (a2dissite).
    links = sorted(os.path.join(include_dir, f) for f in (os.listdir(include_dir) if os.path.isdir(include_dir)
                                                          else ()))
    links = [p for p in links if p.endswith(".conf") and os.path.islink(p) and os.path.realpath(p) == real]
    out["included"] = links
    out["remove"] = links
    return out


def inspect_all(sites, layout):
    """inspect() of every site that replaces a file: {site name: inspection}."""
    return dict((s["name"], inspect(s, layout)) for s in sites if s.get("replaces"))


def disable_actions(sites, layout, entry_class):
    """The deploy-engine actions that disable the replaced files (entry_class: apache/_plan.Entry)."""
    actions = []
    for name, found in sorted(inspect_all(sites, layout).items()):
        for path in found["remove"]:
            before = os.readlink(path) if os.path.islink(path) else found["rename"][1]
            actions.append({"action": "remove", "entry": entry_class(path, site=name), "before": before})
        if found["rename"]:
            target, text, mode = found["rename"]
            actions.append({"action": "write", "entry": entry_class(target, text, mode=mode, site=name),
                            "before": None})
    return actions


def _addr(address):
    if address in (None, "*", "_default_", "0.0.0.0", "::", "[::]"):
        return None
    return address.strip("[]").lower()


def _key(address, port, names):
    return (_addr(address), port, frozenset(n.lower().rstrip(".") for n in names))


def _show(address, port, names):
    return "%s:%s with the names %s" % (_addr(address) or "*", port, ", ".join(names))


def check_live(sites, live, layout):
    """Refuse a site whose replaced file's vhosts (as the running Apache reads them: `live`, from
    apache/_live_vhosts; None when it could not be read) disagree with the site's on listen address, port or names.
    Returns the real paths of the files being replaced (their vhosts go away in the same change)."""
    replaced = set()
    for eff in sites:
        found = inspect(eff, layout)
        if not found or not found["included"]:
            continue
        name, path = eff["name"], found["file"]
        if live is None:
            _refuse(name, path, "cannot be compared with the running configuration (its vhosts could not be read), "
                                "so it is not replaced")
        reals = set(os.path.realpath(p) for p in found["included"])
        mine = [v for v in live if v.get("file") and os.path.realpath(v["file"]) in reals]
        if not mine:
            _refuse(name, path, "holds no virtual host the running Apache serves; nothing to replace")
        selector = eff["replaces"].get("vhost")
        if selector and selector not in [v["names"][0].lower().rstrip(".") for v in mine]:
            _refuse(name, path, "has no vhost %s (it has: %s)" % (selector, ", ".join(v["names"][0] for v in mine)))
        managed = _vhosts.managed_vhosts(eff)
        keys = set(_key(m["address"], m["port"], m["names"]) for m in managed)
        for vhost in mine:
            if _key(vhost["address"], vhost["port"], vhost["names"]) not in keys:
                _refuse(name, path, "and the site disagree: its vhost at line %s listens on %s; the site on %s. "
                                    "Listen address, port and names must be the same, so that the managed site "
                                    "answers exactly what the hand-written one did"
                        % (vhost.get("line"), _show(vhost["address"], vhost["port"], vhost["names"]),
                           " and ".join(_show(m["address"], m["port"], m["names"]) for m in managed)))
        _check_default(name, path, mine, live, reals)
        replaced |= reals
    return replaced


def _check_default(name, path, mine, live, reals):
    """A vhost that is the default server of its address:port answers every request there whose Host no other vhost
    names (an IP address, no Host): disabled, the next vhost would answer those, so it is refused while another
    vhost that stays shares its address:port."""
    for vhost in mine:
        if not vhost.get("default"):
            continue
        others = [v for v in live if (v["address"], v["port"]) == (vhost["address"], vhost["port"])
                  and not (v.get("file") and os.path.realpath(v["file"]) in reals)]
        if others:
            _refuse(name, path, "holds the default server of %s:%s (line %s): it answers every request there whose "
                                "Host no other vhost names; disabled, %s (%s:%s) would answer those instead. Give "
                                "that address and port a default vhost of its own first"
                    % (_addr(vhost["address"]) or "*", vhost["port"], vhost.get("line"), others[0]["names"][0],
                       others[0].get("file"), others[0].get("line")))
