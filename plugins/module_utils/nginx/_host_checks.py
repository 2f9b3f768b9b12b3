# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""What needs the host: the paths nginx would serve for a site, resolved on this host (symbolic links followed).

The model checks a served path's text (under a served root of the operator's policy, never a system directory);
here it is resolved where nginx will read it: it must stay under a resolved served root, never reach a system
directory through a symbolic link, and be a directory. The renderer adds nginx's own guard for the time after this
check (disable_symlinks on the served location).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.revproxy.tls.plugins.module_utils._files import FileReadError, resolve_served_path
from ansible_collections.revproxy.tls.plugins.module_utils.model import _frontend
from ansible_collections.revproxy.tls.plugins.module_utils.model import _policy
from ansible_collections.revproxy.tls.plugins.module_utils.model._grammar import ConfigError


def check_served_paths(sites, policy, resolve=resolve_served_path):
    for site in sites:
        for field, path, kind in _frontend.served_paths(site):
            what = "site %r: %s" % (site["name"], field)
            try:
                real = resolve(path, policy["served_roots"], kind, what)
            except FileReadError as exc:
                raise ConfigError("%s. nginx would serve it to anyone who asks" % exc)
            if _policy.is_system_path(real):
                raise ConfigError("%s: %s resolves to %s, a system directory: never served for a site"
                                  % (what, path, real))
