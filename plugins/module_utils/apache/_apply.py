# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""Plan, config-test in context, then apply the managed Apache files of revproxy.tls (Debian and RHEL layouts).

Plan first, apply once: desired_state() says what the files and links should be, plan() compares that with the disk,
candidate_config_test() runs `apache2 -t` on a copy of the main config whose sites/conf/mods includes point at the
candidate set, and apply() writes each file atomically (temp file + rename) keeping the previous version until the
caller calls cleanup_backups().
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import json
import os
import re
import shutil
import tempfile

from ansible_collections.revproxy.tls.plugins.module_utils._files import FileReadError, read_regular_file
from ansible_collections.revproxy.tls.plugins.module_utils.model._backend_tls import ConfigError
from ansible_collections.revproxy.tls.plugins.module_utils.model._grammar import SITE_NAME_RE
from ansible_collections.revproxy.tls.plugins.module_utils.apache._emit import Bare, directive, section
from ansible_collections.revproxy.tls.plugins.module_utils.model._pem import check_client_pair
from ansible_collections.revproxy.tls.plugins.module_utils.apache._render import (
    MANAGED_MARKER,
    needed_modules,
    parse_listens,
    render_listen_conf,
    render_site,
)

LISTEN_CONF_NAME = "revproxy-tls-listen.conf"
BACKUP_SUFFIX = ".revproxy-prev"
TRANSACTION_FILE = ".revproxy-transaction.json"


class Layout:
    """Where an Apache family keeps things: every path, file name, binary and the enable mechanism the engine uses.
    Layout.debian() is the Debian family (sites/conf/mods each as *-available + *-enabled symlinks); the engine
    (desired_state, plan, the candidate config test, prune) asks this object and writes no path of its own."""

    # The directories Apache includes that hold the managed symlinks, as (kind, available dir, enabled dir).
    KINDS = (("mods", "mods-available", "mods-enabled"), ("conf", "conf-available", "conf-enabled"),
             ("sites", "sites-available", "sites-enabled"))

    def __init__(self, config_root="/etc/apache2", main_config="apache2.conf", ports_config="ports.conf",
                 envvars="/etc/apache2/envvars", binary="apache2", tls_dir="/etc/apache2/revproxy-tls"):
        self.config_root = config_root.rstrip("/")
        self.main_config = os.path.join(self.config_root, main_config)
        self.ports_config = os.path.join(self.config_root, ports_config)
        self.envvars = envvars
        self.binary = binary
        self.tls_dir = tls_dir.rstrip("/")
        self.listen_conf_name = LISTEN_CONF_NAME

    family = "debian"
    error_log = "/var/log/apache2/error.log"
    service = "apache2"

    @classmethod
    def debian(cls, **overrides):
        return cls(**overrides)

    @classmethod
    def redhat(cls, **overrides):
        """The RHEL family (RHEL, Rocky, Alma, CentOS Stream, Fedora): see RedHatLayout."""
        return RedHatLayout(**overrides)

    @classmethod
    def named(cls, family, **overrides):
        """The layout of a family by name ('debian' or 'redhat'); None overrides keep the family's defaults."""
        overrides = dict((k, v) for k, v in overrides.items() if v is not None)
        return {"debian": cls.debian, "redhat": cls.redhat}[family](**overrides)

    def d(self, name):
        return os.path.join(self.config_root, name)

    def _dirs(self, kind):
        for name, available, enabled in self.KINDS:
            if name == kind:
                return self.d(available), self.d(enabled), available
        raise KeyError(kind)

    def available(self, kind, fname):
        return os.path.join(self._dirs(kind)[0], fname)

    def enabled(self, kind, fname):
        return os.path.join(self._dirs(kind)[1], fname)

    def enable_link(self, kind, fname):
        """The symlink target (relative, as a2ensite writes it) that enables an available file."""
        return "../%s/%s" % (self._dirs(kind)[2], fname)

    def enabled_dirs(self):
        """The directories the main config includes with enabled files, by kind."""
        return [(name, self.d(enabled)) for name, _available, enabled in self.KINDS]

    def site_conf(self, name):
        return self.available("sites", name + ".conf")

    def site_link(self, name):
        return self.enabled("sites", name + ".conf")

    def site_names(self):
        """Names of the *.conf files in the sites directory."""
        avail = self._dirs("sites")[0]
        return sorted(f[:-len(".conf")] for f in os.listdir(avail) if f.endswith(".conf")) if os.path.isdir(avail) \
            else []

    def site_tls_dir(self, name):
        return os.path.join(self.tls_dir, name)

    def listen_sources(self):
        """The unmanaged files whose Listen directives the managed Listen file must not repeat."""
        return [self.ports_config]

    def listen_entries(self, content):
        """The managed Listen file, and the link that enables it."""
        name = self.listen_conf_name
        return [Entry(self.available("conf", name), content),
                Entry(self.enabled("conf", name), link_to=self.enable_link("conf", name))]

    def module_entries(self, modules):
        """What enables the modules the sites need: a link per .load/.conf file in mods-enabled."""
        return [Entry(enabled, link_to=target) for mod in modules for _src, enabled, target in self.module_files(mod)]

    def module_files(self, module):
        """(available path, enabled path, link target) of each file that enables an Apache module."""
        out = []
        for ext in ("load", "conf"):
            fname = "%s.%s" % (module, ext)
            src = self.available("mods", fname)
            if ext == "load" or os.path.exists(src):
                out.append((src, self.enabled("mods", fname), self.enable_link("mods", fname)))
        return out

    def is_module_link(self, path):
        return os.path.dirname(path) == self._dirs("mods")[1]

    def config_test_command(self, main_config, extra=()):
        """The argv of a config test of main_config with the family's environment; `extra` arguments go to httpd
        after it (-D DUMP_VHOSTS, -c directives: apache/_live_vhosts)."""
        return [
            "/bin/sh", "-c",
            # Debian's envvars names the runtime dir the config refers to; apache2ctl creates it the same way.
            '[ -r "$1" ] && . "$1"; [ -z "${APACHE_RUN_DIR:-}" ] || mkdir -p "$APACHE_RUN_DIR"; '
            'b=$2; f=$3; shift 3; exec "$b" -t -f "$f" "$@"',
            "sh", self.envvars, self.binary, main_config,
        ] + list(extra)


# The module file RedHatLayout manages: each module the sites need, loaded only when nothing loaded it before (the
# httpd and mod_ssl packages load all of them by default from 00-base/00-proxy/00-ssl.conf; this file keeps a trimmed
# conf.modules.d working). Named so that it sorts after the packages' 00-*.conf files.
REDHAT_MODULES_CONF = "revproxy-tls-modules.conf"


class RedHatLayout(Layout):
    """The RHEL family's httpd layout: /etc/httpd/conf/httpd.conf includes conf.modules.d/*.conf and conf.d/*.conf;
    there is no enable mechanism, so a site is enabled by its file conf.d/<name>.conf and disabled by its absence; the
    Listen file is conf.d/revproxy-tls-listen.conf; modules come from conf.modules.d (a managed file loads what the
    packages did not); the config test is `httpd -t` (no envvars file: the httpd unit's EnvironmentFile,
    /etc/sysconfig/httpd, sets nothing the config refers to)."""

    family = "redhat"
    error_log = "/var/log/httpd/error_log"
    service = "httpd"
    KINDS = ()

    def __init__(self, config_root="/etc/httpd", main_config="conf/httpd.conf", binary="httpd",
                 tls_dir="/etc/httpd/revproxy-tls", envvars=None, ports_config=None):
        Layout.__init__(self, config_root=config_root, main_config=main_config,
                        ports_config=ports_config or main_config, envvars=envvars, binary=binary, tls_dir=tls_dir)
        self.sites_dir = self.d("conf.d")
        self.modules_dir = self.d("conf.modules.d")

    def available(self, kind, fname):
        return os.path.join(self.modules_dir if kind == "mods" else self.sites_dir, fname)

    enabled = available

    def enable_link(self, kind, fname):
        return None

    def enabled_dirs(self):
        return [("mods", self.modules_dir), ("conf", self.sites_dir)]

    def site_conf(self, name):
        return os.path.join(self.sites_dir, name + ".conf")

    def site_link(self, name):
        return None

    def site_names(self):
        """Names of the *.conf files in conf.d, except the managed Listen file (conf.d is shared with it)."""
        if not os.path.isdir(self.sites_dir):
            return []
        return sorted(f[:-len(".conf")] for f in os.listdir(self.sites_dir)
                      if f.endswith(".conf") and f != self.listen_conf_name)

    def listen_sources(self):
        """httpd.conf (Listen 80) and every unmanaged conf.d file (mod_ssl's ssl.conf: Listen 443 https)."""
        sources = [self.ports_config]
        if os.path.isdir(self.sites_dir):
            for fname in sorted(os.listdir(self.sites_dir)):
                path = os.path.join(self.sites_dir, fname)
                if fname.endswith(".conf") and not os.path.islink(path) and os.path.isfile(path) \
                        and not is_managed(path):
                    sources.append(path)
        return sources

    def listen_entries(self, content):
        return [Entry(os.path.join(self.sites_dir, self.listen_conf_name), content)]

    def module_files(self, module):
        return []

    def is_module_link(self, path):
        return False

    def module_entries(self, modules):
        if not modules:
            return []
        return [Entry(os.path.join(self.modules_dir, REDHAT_MODULES_CONF), render_modules_conf(modules))]

    def config_test_command(self, main_config, extra=()):
        if self.envvars:
            return Layout.config_test_command(self, main_config, extra)
        return [self.binary, "-t", "-f", main_config] + list(extra)


def render_modules_conf(modules):
    """LoadModule lines (RHEL's modules/mod_<name>.so) for the modules, each guarded so a module the packages already
    load is not loaded twice."""
    lines = [MANAGED_MARKER, "# Modules the managed sites need; each is loaded here only if nothing loaded it before."]
    for mod in modules:
        lines.append(section("IfModule", Bare("!%s_module" % mod)))
        lines.append(directive("LoadModule", Bare("%s_module" % mod), Bare("modules/mod_%s.so" % mod), indent="    "))
        lines.append("</IfModule>")
    return "\n".join(lines) + "\n"


class Entry:
    """One desired file or symlink."""

    def __init__(self, path, content=None, link_to=None, mode=0o644, secret=False, site=None):
        self.path = path
        self.content = content
        self.link_to = link_to
        self.mode = mode
        self.secret = secret
        self.site = site


def _read(path):
    try:
        with open(path, "rb") as handle:
            return handle.read().decode("utf-8", "replace")
    except IOError as exc:
        if exc.errno == errno.ENOENT:
            return None
        raise


def _read_nofollow(path):
    """The content of a managed file, never through a symlink (ELOOP is raised for one)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return None
        raise
    with os.fdopen(fd, "rb") as handle:
        return handle.read().decode("utf-8", "replace")


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
        found.update(parse_listens(read_file(source) or ""))
    return found


def desired_state(sites, layout, log_level, read_file=_read):
    """All managed files and links for the effective sites. Reads the client cert/key files that must be combined."""
    entries = []
    for site in sites:
        name = site["name"]
        entries.append(Entry(layout.site_conf(name), render_site(site, log_level, layout.tls_dir), site=name))
        if layout.site_link(name) is not None:
            entries.append(Entry(layout.site_link(name), link_to=layout.enable_link("sites", name + ".conf"),
                                 site=name))
        site_dir = layout.site_tls_dir(name)
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
                                  "backend_tls.client_key_file (%s)" % key_path)
            except ConfigError as exc:
                raise ConfigError("site %r: %s" % (name, exc))
            entries.append(Entry(os.path.join(site_dir, "proxy-client.pem"), "".join(parts), mode=0o600, secret=True,
                                 site=name))
    entries.extend(layout.listen_entries(render_listen_conf(sites, existing_listens(layout, read_file))))
    entries.extend(layout.module_entries(needed_modules(sites, log_level) if sites else []))
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


def plan(entries, layout, prune=True):
    """Compare desired entries with the disk. Returns a list of actions (dicts) and raises ConfigError when a
    desired path holds a file this collection does not manage."""
    actions = []
    wanted = set(e.path for e in entries)
    for entry in entries:
        if entry.link_to is not None:
            if os.path.islink(entry.path) and _current_link(entry.path) == entry.link_to:
                continue
            if os.path.exists(entry.path) and not os.path.islink(entry.path):
                raise ConfigError("%s exists and is not a symlink managed by revproxy.tls; refusing to replace it"
                                  % entry.path)
            if os.path.islink(entry.path) and layout.is_module_link(entry.path):
                continue  # a module already enabled some other way
            actions.append({"action": "link", "entry": entry, "before": _current_link(entry.path)})
            continue
        if os.path.islink(entry.path) or os.path.islink(os.path.dirname(entry.path)):
            raise ConfigError("%s (or its directory) is a symlink; refusing to write through or replace it (remove "
                              "it: revproxy.tls writes regular files there)" % entry.path)
        before = _read_nofollow(entry.path)
        if entry.path.endswith(".conf") and before is not None and not before.startswith(MANAGED_MARKER):
            raise ConfigError("%s exists and is not managed by revproxy.tls (no managed header); refusing to "
                              "overwrite it. Rename the site or remove the file" % entry.path)
        mode_ok = before is None or (os.stat(entry.path).st_mode & 0o7777) == entry.mode
        if before == entry.content and mode_ok:
            continue
        actions.append({"action": "write", "entry": entry, "before": before})
    if prune:
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


# One double-quoted argument as the emitter writes it (backslash escapes, never across a line), so that an argument
# holding backslashes (a Host regex) does not shift the pairing of the quotes after it.
_QUOTED_ARG = re.compile(r'"((?:[^"\\\n]|\\.)*)"')


def _point_at_staged(text, staged):
    """Every quoted argument naming a file being deployed ("<live path>"), as "<its staged copy>". One pass with a
    dict lookup: replacing each staged path in turn costs sites x files when thousands of sites each deploy a CA."""
    if not staged:
        return text
    return _QUOTED_ARG.sub(lambda m: '"%s"' % staged[m.group(1)] if m.group(1) in staged else m.group(0), text)


def _build_candidate_tree(actions, layout, workdir):
    """A copy of the main config whose *-enabled includes point at candidate dirs: the live links minus removed ones,
    plus the new ones, with candidate contents for files being written."""
    written = dict((a["entry"].path, a["entry"]) for a in actions if a["action"] == "write")
    linked = dict((a["entry"].path, a["entry"]) for a in actions if a["action"] == "link")
    removed = set(a["entry"].path for a in actions if a["action"] == "remove")
    cand_files = os.path.join(workdir, "files")
    os.makedirs(cand_files)
    # CA and client certificate files being deployed are staged in the work dir, and the candidate vhosts point at
    # the staged copies: the test sees the new contents, the live paths are not touched (check mode included).
    staged = {}
    for index, (path, entry) in enumerate(sorted(written.items())):
        if not path.endswith(".conf"):
            staged[path] = os.path.join(cand_files, "content-%d.pem" % index)
            _atomic_write(staged[path], entry.content, entry.mode, sync=False)  # scratch: thrown away after the test
    for _kind, live in layout.enabled_dirs():
        sub = os.path.basename(live)
        cand = os.path.join(workdir, sub)
        os.makedirs(cand)
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
    return _main_config_copy(layout, lambda live: os.path.join(workdir, os.path.basename(live)), workdir)


def _main_config_copy(layout, directory_for, workdir):
    """The main config, written into workdir, with the Include line of each *-enabled directory pointing at
    directory_for(that live directory). Relative (Debian's default) and absolute Include paths alike are rewritten,
    so the test resolves them the same way for the live tree and for a candidate tree."""
    main = _read(layout.main_config) or ""
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


def _unlink(path):
    try:
        os.unlink(path)
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            raise


def _makedirs(directory):
    """os.makedirs, returning the directories it created (outermost first)."""
    created = []
    probe = directory
    while probe and not os.path.isdir(probe):
        created.insert(0, probe)
        probe = os.path.dirname(probe)
    for path in created:
        os.mkdir(path, 0o755)
    return created


def _new_file(directory, content, mode, sync=True):
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
        _unlink(tmp)
        raise
    return tmp


def _atomic_write(path, content, mode, sync=True):
    """Write a new file next to path (_new_file), then rename it over path. Returns the directories it had to
    create. sync=False only for scratch files that are thrown away (the candidate tree)."""
    directory = os.path.dirname(path)
    created = _makedirs(directory)
    tmp = _new_file(directory, content, mode, sync)
    try:
        os.rename(tmp, path)
    except Exception:
        _unlink(tmp)
        raise
    return created


def _syncfs(fd):
    """syncfs(2) on the filesystem of fd; False where it is not available (then the caller fsyncs each file)."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.syncfs(fd) == 0
    except (AttributeError, OSError, TypeError, ValueError):
        return False


def _stage_writes(actions):
    """The new contents of the files being written, each in a new file next to its path, all made durable at once
    (one syncfs per filesystem instead of one fsync per file: thousands of fsyncs cost seconds). Files whose directory
    does not exist yet are left to _atomic_write. Returns {path: staged file}."""
    staged = {}
    try:
        for act in actions:
            entry = act["entry"]
            directory = os.path.dirname(entry.path)
            if act["action"] == "write" and os.path.isdir(directory) and not os.path.islink(directory):
                staged[entry.path] = _new_file(directory, entry.content, entry.mode, sync=False)
        by_device = {}
        for tmp in staged.values():
            by_device.setdefault(os.stat(tmp).st_dev, []).append(tmp)
        for files in by_device.values():
            fd = os.open(os.path.dirname(files[0]), os.O_RDONLY)
            try:
                synced = _syncfs(fd)
            finally:
                os.close(fd)
            if not synced:
                for tmp in files:
                    fd = os.open(tmp, os.O_RDONLY)
                    try:
                        os.fsync(fd)
                    finally:
                        os.close(fd)
    except Exception:
        for tmp in staged.values():
            _unlink(tmp)
        raise
    return staged


def _atomic_symlink(path, target):
    directory = os.path.dirname(path)
    created = _makedirs(directory)
    tmp = os.path.join(directory, ".revproxy-link-%s" % os.path.basename(path))
    _unlink(tmp)
    os.symlink(target, tmp)
    os.rename(tmp, path)
    return created


def _clear(path):
    """Remove whatever lies at path (a stale backup, or something planted there) without following it."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    else:
        _unlink(path)


# Backup records: [path, backup, kind]. kind "file": a file or symlink that existed (backup: its previous version,
# a hard link or the renamed original, so content, mode and owner are exactly kept and nothing is copied); "new": a
# file or link that did not exist (backup None); "dir": a removed directory, renamed to its backup; "mkdir": a
# directory the change created.

def apply(actions):
    """Carry the actions out. Every replaced or removed file and directory keeps its previous version next to it
    (BACKUP_SUFFIX) until cleanup_backups(); returns the backup records for restore()."""
    backups = []
    staged = _stage_writes(actions)
    try:
        for act in actions:
            _apply_one(act, backups, staged)
    except Exception:
        restore(backups)
        raise
    finally:
        for tmp in staged.values():  # what an error left unused (the others were renamed into place)
            _unlink(tmp)
    return backups


def _apply_one(act, backups, staged):
    entry = act["entry"]
    path = entry.path
    kind = act["action"]
    if kind == "remove_dir":
        if os.path.isdir(path) and not os.path.islink(path):
            backup = path + BACKUP_SUFFIX
            _clear(backup)
            os.rename(path, backup)
            backups.append([path, backup, "dir"])
        return
    existed = os.path.lexists(path) and not (os.path.isdir(path) and not os.path.islink(path))
    if existed and kind in ("write", "remove", "link"):
        backup = path + BACKUP_SUFFIX
        _clear(backup)
        if kind == "remove":
            os.rename(path, backup)
        else:
            os.link(path, backup, follow_symlinks=False)
        backups.append([path, backup, "file"])
    elif kind in ("write", "link"):
        backups.append([path, None, "new"])
    if kind == "write" and path in staged:  # staged and synced by apply()
        os.rename(staged[path], path)
        del staged[path]  # only once it is in place: a failed rename leaves it for apply() to remove
        created = []
    elif kind == "write":
        created = _atomic_write(path, entry.content, entry.mode)
    elif kind == "link":
        created = _atomic_symlink(path, entry.link_to)
    else:
        created = []
    # Created directories are undone after the files in them (restore walks the records backwards).
    if created:
        record = backups.pop()
        backups.extend([d, None, "mkdir"] for d in created)
        backups.append(record)


def restore(backups):
    """Undo apply(): put every previous file and directory back, remove what did not exist before."""
    for record in reversed(backups):
        path, backup = record[0], record[1]
        kind = record[2] if len(record) > 2 else ("file" if backup else "new")
        if kind == "new":
            _unlink(path)
        elif kind == "mkdir":
            try:
                os.rmdir(path)
            except OSError:
                pass
        elif kind == "dir":
            if os.path.lexists(path):
                _clear(path)
            os.rename(backup, path)
        else:
            os.rename(backup, path)


def cleanup_backups(backups):
    for record in backups:
        backup = record[1]
        if backup:
            _clear(backup)


# A transaction spans tasks: apply() keeps the previous versions, the role reloads and probes, then commit() drops
# them or rollback() puts them back. The list of (path, backup) pairs lives in a file under tls_dir.

def _transaction_path(layout):
    return os.path.join(layout.tls_dir, TRANSACTION_FILE)


def pending_transaction(layout):
    """The backup records of an applied but not yet committed change, or None."""
    try:
        with open(_transaction_path(layout)) as handle:
            return [list(record) for record in json.load(handle)["backups"]]
    except IOError as exc:
        if exc.errno == errno.ENOENT:
            return None
        raise


def begin_transaction(layout, backups):
    created = _atomic_write(_transaction_path(layout), json.dumps({"backups": backups}), 0o600)
    if created:
        # The TLS directory did not exist before this change: rollback removes it again.
        _atomic_write(_transaction_path(layout), json.dumps({"backups": [[d, None, "mkdir"] for d in created]
                                                             + backups}), 0o600)


def commit(layout):
    """Make the applied change final: drop the previous versions. Returns the number of backups dropped."""
    backups = pending_transaction(layout)
    if backups is None:
        return 0
    cleanup_backups(backups)
    _unlink(_transaction_path(layout))
    return len(backups)


def rollback(layout):
    """Restore the previous versions of everything the pending change wrote. Returns the restored paths."""
    backups = pending_transaction(layout)
    if backups is None:
        return []
    restore(backups)
    _unlink(_transaction_path(layout))
    # Directories the change created that still held the transaction record (the TLS directory itself).
    for record in reversed(backups):
        if len(record) > 2 and record[2] == "mkdir" and os.path.isdir(record[0]):
            try:
                os.rmdir(record[0])
            except OSError:
                pass
    return changed_paths(backups)


def changed_paths(backups):
    """The files, links and directories a change wrote or removed (not the directories it created on the way)."""
    return [record[0] for record in backups if len(record) < 3 or record[2] != "mkdir"]
