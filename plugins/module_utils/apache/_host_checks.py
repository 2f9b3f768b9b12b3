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

import ipaddress
import os
import socket

from ansible_collections.revproxy.tls.plugins.module_utils._files import FileReadError, resolve_served_path
from ansible_collections.revproxy.tls.plugins.module_utils.model import _frontend
from ansible_collections.revproxy.tls.plugins.module_utils.model import _policy
from ansible_collections.revproxy.tls.plugins.module_utils.apache import _adopt
from ansible_collections.revproxy.tls.plugins.module_utils.apache import _vhosts
from ansible_collections.revproxy.tls.plugins.module_utils.apache._capabilities import APACHE
from ansible_collections.revproxy.tls.plugins.module_utils.model._pools import location_urls
from ansible_collections.revproxy.tls.plugins.module_utils.model._sites import normalize_sites
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


def is_local_address(address):
    """Whether an IP address is this host's: loopback, unspecified, or one a socket can bind to."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if ip.is_loopback or ip.is_unspecified:
        return True
    family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.bind((str(ip), 0))
        return True
    except OSError:
        return False
    finally:
        sock.close()


def check_listen_addresses(sites, is_local=is_local_address):
    """A listen.address this host does not have passes `apache2 -t`, but on the reload Apache cannot bind it and the
    whole server exits (every site down until a restart): refused before anything is written."""
    for site in sites:
        address = site["listen"]["address"]
        if address and not is_local(address.strip("[]")):
            raise ConfigError("site %r: listen.address: %s is not an address of this host; Apache would fail to bind "
                              "it on the reload and exit, taking every site down. Use one of the host's addresses, "
                              "or '*'" % (site["name"], address))


def _addresses(host, lookup):
    try:
        return sorted(set(info[4][0] for info in lookup(host, None, 0, socket.SOCK_STREAM)))
    except (socket.error, UnicodeError):
        return []


def check_backends_not_apache(sites, apache_ports, lookup=socket.getaddrinfo, is_local=is_local_address):
    """A backend that is this Apache itself (a local address on a port Apache listens on) is refused: the proxied
    request arrives from 127.0.0.1 or the host's own address and passes every rule that trusts local clients (the
    balancer-manager of another site, mod_status's `Require local`), so a site could publish what the operator
    kept local. `apache_ports`: the ports of the running configuration's Listen directives and vhosts and of the
    managed sites."""
    for site in sites:
        for i, loc in enumerate(site["locations"]):
            for url in location_urls(loc):
                if url.port not in apache_ports:
                    continue
                local = [a for a in _addresses(url.host, lookup) if is_local(a)]
                if local:
                    raise ConfigError(
                        "site %r: locations[%d]: the backend %s is this Apache itself (%s is local, and Apache "
                        "listens on port %d): a request proxied there comes from this host and passes every rule "
                        "that trusts local clients (the balancer-manager, server-status), so the site would publish "
                        "them. Proxy to the application's own port" % (site["name"], i, url.url, local[0], url.port))


def effective_sites(sites, defaults, tls_dir, policy, live=None, is_managed=None, managed_dir=None,
                    resolve=resolve_served_path, listen_ports=(), lookup=socket.getaddrinfo,
                    is_local=is_local_address, layout=None):
    """What apache_proxy_sites validates before it plans, in its order: the policy, every site (model), the paths
    each site serves (resolved on this host), and, when `live` (the running configuration's vhosts, parsed by
    apache/_live_vhosts) is given, the names and addresses the hand-written ones already serve (`is_managed(file)`
    tells the managed files apart); and that no backend is this Apache itself (`listen_ports`: the ports of the
    running configuration's Listen directives; the vhosts' and the managed sites' are added). With `layout`, a site
    that replaces a hand-written file (replaces) must agree with that file's vhosts (apache/_adopt.check_live), whose
    names then do not count as taken. Returns (policy, effective sites, warnings); raises ConfigError."""
    policy = _policy.check_policy(policy)
    effective = normalize_sites(sites, defaults, tls_dir, policy, server=APACHE)
    check_served_paths(effective, policy, resolve)
    check_listen_addresses(effective, is_local)
    warnings = []
    replaced = _adopt.check_live(effective, live, layout) if layout is not None else set()
    if live is not None:
        hand = [v for v in live if not (is_managed and v.get("file") and is_managed(v["file"]))
                and not (v.get("file") and os.path.realpath(v["file"]) in replaced)]
        warnings = _vhosts.check_ownership(effective, hand, managed_dir)
    ports = set(listen_ports) | set(v["port"] for v in live or () if v.get("port"))
    ports |= set(v["port"] for eff in effective for v in _vhosts.managed_vhosts(eff))
    check_backends_not_apache(effective, ports, lookup, is_local)
    return policy, effective, warnings
