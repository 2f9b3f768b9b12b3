# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""Where an nginx family keeps things: the one place that names nginx's paths (Debian and RHEL).

Both families' packaged nginx.conf include <config_root>/conf.d/*.conf in the http block, and that is where the
managed sites go, one file per site (<name>.conf), on Debian too. Why not Debian's sites-available/sites-enabled:
Debian's nginx.conf includes sites-enabled/* (every file, not only *.conf), and the deploy engine keeps the previous
version of a changed or removed file beside it (<path>.revproxy-prev) until the probe decides: nginx would read those
backups as sites (a removed site would be served again, or its dangling link would fail the reload). conf.d/*.conf
never reads them.

A layout is the deploy engine's target (deploy/_transaction): transaction_file (in the TLS directory, root's alone)
and handoff_file (a runtime directory, one per TLS directory). It renders nothing and reads no managed file.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import os

TRANSACTION_FILE = ".revproxy-transaction.json"
RUN_DIR = "/run/revproxy-tls"

FAMILIES = {
    "debian": {"config_root": "/etc/nginx", "error_log": "/var/log/nginx/error.log", "pid_file": "/run/nginx.pid"},
    "redhat": {"config_root": "/etc/nginx", "error_log": "/var/log/nginx/error.log", "pid_file": "/run/nginx.pid"},
}


class NginxLayout:
    """The paths of one nginx installation: config_root/nginx.conf, config_root/conf.d (the managed sites), the TLS
    directory for deployed CA and client certificate files, the binary, the pid file."""

    service = "nginx"
    sites_subdir = "conf.d"

    def __init__(self, family="debian", config_root=None, main_config="nginx.conf", binary="nginx", tls_dir=None,
                 run_dir=RUN_DIR, pid_file=None, error_log=None, prefix=None):
        defaults = FAMILIES[family]
        self.family = family
        self.config_root = (config_root or defaults["config_root"]).rstrip("/")
        self.main_config = os.path.join(self.config_root, main_config)
        self.binary = binary
        self.tls_dir = (tls_dir or os.path.join(self.config_root, "revproxy-tls")).rstrip("/")
        self.run_dir = run_dir.rstrip("/")
        self.pid_file = pid_file or defaults["pid_file"]
        self.error_log = error_log or defaults["error_log"]
        # nginx's -p (prefix): where relative paths of the main config resolve; None: the binary's own.
        self.prefix = prefix

    @classmethod
    def named(cls, family, **overrides):
        return cls(family, **dict((k, v) for k, v in overrides.items() if v is not None))

    @property
    def transaction_file(self):
        return os.path.join(self.tls_dir, TRANSACTION_FILE)

    @property
    def handoff_file(self):
        tree = hashlib.sha256(self.tls_dir.encode("utf-8")).hexdigest()[:16]
        return os.path.join(self.run_dir, "validated-nginx-%s.json" % tree)

    @property
    def sites_dir(self):
        return os.path.join(self.config_root, self.sites_subdir)

    def site_conf(self, name):
        return os.path.join(self.sites_dir, name + ".conf")

    def site_tls_dir(self, name):
        return os.path.join(self.tls_dir, name)

    def site_names(self):
        """Names of the *.conf files in conf.d (the managed ones are told by their header: nginx/_plan)."""
        if not os.path.isdir(self.sites_dir):
            return []
        return sorted(f[:-len(".conf")] for f in os.listdir(self.sites_dir) if f.endswith(".conf"))

    def _base(self):
        return [self.binary] + (["-p", self.prefix] if self.prefix else [])

    def config_test_command(self, main_config):
        """nginx -t of a main config (nginx also reads every certificate and key, and resolves backend names)."""
        return self._base() + ["-t", "-q", "-c", main_config]

    def reload_command(self):
        """nginx -s reload: the master re-reads the configuration and starts new workers; the old ones finish their
        requests (graceful). Signals the master of the pid file the main config names."""
        return self._base() + ["-c", self.main_config, "-s", "reload"]
