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


def effective_sites(sites, defaults, tls_dir, policy, live=None, is_managed=None, managed_dir=None,
                    resolve=resolve_served_path):
    """What apache_proxy_sites validates before it plans, in its order: the policy, every site (model), the paths
    each site serves (resolved on this host), and, when `live` (the running configuration's vhosts, parsed by
    apache/_live_vhosts) is given, the names and addresses the hand-written ones already serve (`is_managed(file)`
    tells the managed files apart). Returns (policy, effective sites, warnings); raises ConfigError."""
    # Imported here: _sites imports nothing from this file, and this keeps the module's import list short.
    from ansible_collections.revproxy.tls.plugins.module_utils.model._sites import normalize_sites
    policy = _policy.check_policy(policy)
    effective = normalize_sites(sites, defaults, tls_dir, policy)
    check_served_paths(effective, policy, resolve)
    warnings = []
    if live is not None:
        hand = [v for v in live if not (is_managed and v.get("file") and is_managed(v["file"]))]
        warnings = _vhosts.check_ownership(effective, hand, managed_dir)
    return policy, effective, warnings
