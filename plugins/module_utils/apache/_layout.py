# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""Where an Apache family keeps things: the one place that names Apache's paths (Debian and RHEL layouts).

A Layout answers every *where* question of the engine: each path and file name, the binary and the enable mechanism,
which unmanaged files may hold Listen, the config-test command, and where the deploy engine keeps its records (the
transaction and the plan's handoff: it is the engine's target, deploy/_transaction). It renders nothing and reads no
managed file: apache/_plan puts the layout's places and the renderer's texts together. A new family is a subclass
(RedHatLayout) plus its name in Layout.named().
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import os

LISTEN_CONF_NAME = "revproxy-tls-listen.conf"
TRANSACTION_FILE = ".revproxy-transaction.json"
# The plan's handoff lives in a runtime directory (tmpfs: never on disk, gone at reboot), outside the configuration
# tree: a run that stops before its commit or rollback (a refused preflight) leaves the tree exactly as it was.
RUN_DIR = "/run/revproxy-tls"
# The module file RedHatLayout manages: each module the sites need, loaded only when nothing loaded it before (the
# httpd and mod_ssl packages load all of them by default from 00-base/00-proxy/00-ssl.conf; this file keeps a trimmed
# conf.modules.d working). Named so that it sorts after the packages' 00-*.conf files.
REDHAT_MODULES_CONF = "revproxy-tls-modules.conf"


def handoff_file(tls_dir, run_dir=RUN_DIR):
    """Where the plan keeps the validated set of a run for the tree at tls_dir (one per tree: two layouts on one host
    never share it). A function as well as a layout property: backend_handshake knows only tls_dir."""
    tree = hashlib.sha256(tls_dir.rstrip("/").encode("utf-8")).hexdigest()[:16]
    return os.path.join(run_dir.rstrip("/"), "validated-%s.json" % tree)


class Layout:
    """Where an Apache family keeps things: every path, file name, binary and the enable mechanism the engine uses.
    Layout.debian() is the Debian family (sites/conf/mods each as *-available + *-enabled symlinks); the engine
    (desired_state, plan, the candidate config test, prune) asks this object and writes no path of its own."""

    # The directories Apache includes that hold the managed symlinks, as (kind, available dir, enabled dir).
    KINDS = (("mods", "mods-available", "mods-enabled"), ("conf", "conf-available", "conf-enabled"),
             ("sites", "sites-available", "sites-enabled"))

    def __init__(self, config_root="/etc/apache2", main_config="apache2.conf", ports_config="ports.conf",
                 envvars="/etc/apache2/envvars", binary="apache2", tls_dir="/etc/apache2/revproxy-tls",
                 run_dir=RUN_DIR):
        self.config_root = config_root.rstrip("/")
        self.main_config = os.path.join(self.config_root, main_config)
        self.ports_config = os.path.join(self.config_root, ports_config)
        self.envvars = envvars
        self.binary = binary
        self.tls_dir = tls_dir.rstrip("/")
        self.run_dir = run_dir.rstrip("/")
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

    # The deploy engine's target (deploy/_transaction): the transaction record lives in the TLS directory (root's
    # alone), the plan's handoff in the runtime directory, one per TLS directory (trees side by side never share one).
    @property
    def transaction_file(self):
        return os.path.join(self.tls_dir, TRANSACTION_FILE)

    @property
    def handoff_file(self):
        return handoff_file(self.tls_dir, self.run_dir)

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

    def managed_dir(self):
        """The directory Apache reads the managed sites from: the enabled links (Debian) or conf.d itself (RHEL)."""
        return os.path.dirname(self.site_link("x") or self.site_conf("x"))

    def site_names(self):
        """Names of the *.conf files in the sites directory."""
        avail = self._dirs("sites")[0]
        return sorted(f[:-len(".conf")] for f in os.listdir(avail) if f.endswith(".conf")) if os.path.isdir(avail) \
            else []

    def site_tls_dir(self, name):
        return os.path.join(self.tls_dir, name)

    def replaceable_dirs(self):
        """The directories whose hand-written vhost files a site may replace (apache/_adopt): the sites
        directories, nothing else (never the main config, ports.conf, conf-*, mods-*)."""
        return [self.d("sites-available"), self.d("sites-enabled")]

    def listen_sources(self):
        """The unmanaged files whose Listen directives the managed Listen file must not repeat (apache/_plan skips
        any of them that carries the managed header)."""
        return [self.ports_config]

    def listen_conf(self):
        """The managed Listen file, and the (link, link target) that enables it (None where a file in an included
        directory is enabled by being there)."""
        name = self.listen_conf_name
        return self.available("conf", name), (self.enabled("conf", name), self.enable_link("conf", name))

    # Where the LoadModule lines of the modules the sites need go: one managed file (its path), or None where the
    # family enables each module by links to its own files (module_files()).
    modules_conf = None

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
                 tls_dir="/etc/httpd/revproxy-tls", envvars=None, ports_config=None, run_dir=RUN_DIR):
        Layout.__init__(self, config_root=config_root, main_config=main_config,
                        ports_config=ports_config or main_config, envvars=envvars, binary=binary, tls_dir=tls_dir,
                        run_dir=run_dir)
        self.sites_dir = self.d("conf.d")
        self.modules_dir = self.d("conf.modules.d")
        self.modules_conf = os.path.join(self.modules_dir, REDHAT_MODULES_CONF)

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

    def replaceable_dirs(self):
        """conf.d, where the sites are (a replaced file is disabled by a rename: apache/_adopt)."""
        return [self.sites_dir]

    def site_names(self):
        """Names of the *.conf files in conf.d, except the managed Listen file (conf.d is shared with it)."""
        if not os.path.isdir(self.sites_dir):
            return []
        return sorted(f[:-len(".conf")] for f in os.listdir(self.sites_dir)
                      if f.endswith(".conf") and f != self.listen_conf_name)

    def listen_sources(self):
        """httpd.conf (Listen 80) and every regular conf.d file (mod_ssl's ssl.conf: Listen 443 https); apache/_plan
        skips the managed ones."""
        sources = [self.ports_config]
        if os.path.isdir(self.sites_dir):
            for fname in sorted(os.listdir(self.sites_dir)):
                path = os.path.join(self.sites_dir, fname)
                if fname.endswith(".conf") and not os.path.islink(path) and os.path.isfile(path):
                    sources.append(path)
        return sources

    def listen_conf(self):
        return os.path.join(self.sites_dir, self.listen_conf_name), None

    def module_files(self, module):
        return []

    def is_module_link(self, path):
        return False

    def config_test_command(self, main_config, extra=()):
        if self.envvars:
            return Layout.config_test_command(self, main_config, extra)
        return [self.binary, "-t", "-f", main_config] + list(extra)
