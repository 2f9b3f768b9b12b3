# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""The checks of effective sites that need the proxy host itself (the model is pure): where the paths a site serves
really lead, and which names and addresses the hand-written vhosts of the running configuration already serve.

apache_proxy_sites runs both before it plans anything, so a refused site changes nothing.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.revproxy.tls.plugins.module_utils._files import FileReadError, resolve_served_path
from ansible_collections.revproxy.tls.plugins.module_utils.model import _frontend
from ansible_collections.revproxy.tls.plugins.module_utils.model import _policy
from ansible_collections.revproxy.tls.plugins.module_utils.model import _vhosts
from ansible_collections.revproxy.tls.plugins.module_utils.model._grammar import ConfigError


def check_served_paths(sites, policy, resolve=resolve_served_path):
    """Every path a site serves, resolved on this host: it must stay under a (resolved) served root, never reach a
    system directory through a symbolic link, and be a directory or a regular file as the field says."""
    for site in sites:
        for field, path, kind in _frontend.served_paths(site):
            what = "site %r: %s" % (site["name"], field)
            try:
                real = resolve(path, policy["served_roots"], kind, what)
            except FileReadError as exc:
                raise ConfigError("%s. Apache would serve it to anyone who asks" % exc)
            if _policy.is_system_path(real):
                raise ConfigError("%s: %s resolves to %s, a system directory: never served for a site"
                                  % (what, path, real))


def check_live_ownership(sites, live, managed_paths, managed_dir):
    """model/_vhosts.check_ownership against the hand-written vhosts of the running configuration: `live` as
    apache/_live_vhosts parses it; the vhosts read from `managed_paths` (the managed sites' own files, real paths)
    are not hand-written and are left out. Returns warnings."""
    hand = [v for v in live if v.get("file") not in managed_paths]
    return _vhosts.check_ownership(sites, hand, managed_dir)
