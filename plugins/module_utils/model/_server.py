# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""The server a site is for, as the model sees it: a capability profile.

The model describes a site as intent (names, listen, locations, pools with typed members, backend TLS intent, the
public side) in neutral words. What one server can express, and the rules that come from how that server works
(its connection parameters and their ranges, how it maps a location to a backend URL, which name it checks on a TLS
backend, how it selects the virtual host that answers a name, which extra lines of its own configuration a site may
add...), live in that server's profile, a ServerProfile subclass in the server's own directory. normalize_site(s)
take the profile as `server=` (no default: which server a site is checked for is always said) and ask it at each
point where a rule is the server's; the profile refuses what it cannot express with refuse(), naming itself.

Why a class with hooks rather than tables: most server rules are not data (a prefix-matching section, a vhost
selection order, a cipher list the server extends before OpenSSL reads it), and each refusal message is the server's
own (it names the server's directives and the error its log would show), which only the server's file can word.

A hook the base class implements is neutral (a server that has nothing to add keeps it); a hook that raises
NotImplementedError is one every server must answer. A second server adds its own profile beside its renderer
(<server>/_capabilities.py, a subclass of ServerProfile) and its modules pass it as server=; model/ stays as it is
(tests/unit/plugins/module_utils/model/test_server.py normalises one site for two servers, one of them a toy).
Pure (no I/O).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.revproxy.tls.plugins.module_utils.model._grammar import ConfigError


def require_server(server, caller):
    """The profile a normalisation was given; a missing one is a programming error, said as such."""
    if not isinstance(server, ServerProfile):
        raise TypeError("%s: server= must be a model/_server.ServerProfile (the capability profile of the server the "
                        "sites are for), got %r" % (caller, server))
    return server


class ServerProfile(object):
    """A server's capabilities and rules, asked by the model during normalisation. `name` names the server in
    refusals ("<field>: <name> cannot express this: ...")."""

    name = None

    def refuse(self, field, why):
        """Refuse an option this server cannot express (raises ConfigError naming the field and the server)."""
        raise ConfigError("%s: %s cannot express this: %s" % (field, self.name, why))

    # -- a location and its backend ----------------------------------------------------------------------------------

    def connection_params(self, loc, field):
        """The location's connection options (timeout, retry, keepalive... see model/_sites.CONNECTION_OPTIONS),
        validated against the server's ranges: [(name, value as the server writes it)], in a stable order."""
        raise NotImplementedError

    def check_backend(self, url, path, field):
        """How the server maps a location `path` to a single backend URL (a parsed BackendURL): refuse a pair it
        would map wrongly."""
        raise NotImplementedError

    def check_member(self, url, path, field):
        """check_backend() for one member of a pool."""
        raise NotImplementedError

    def check_pool_members(self, members, field):
        """A pool's normalised members, before the rest of the pool: refuse members the server would merge."""

    def check_pool(self, pool, field):
        """A normalised pool (members, lbmethod, sticky, min_ok, health_check): refuse what the server cannot run
        (with refuse(): an lbmethod it has no equivalent of, for example)."""

    def pool_backend(self, pool, path):
        """The backend a location with a pool proxies to, as the server names it (the renderer writes it)."""
        raise NotImplementedError

    def section_key(self, loc):
        """The key the server applies a location's own backend TLS settings by (None: settings are per location
        and cannot leak to a sibling)."""
        return None

    # -- backend TLS -------------------------------------------------------------------------------------------------

    def cipher_string(self, ciphers):
        """The cipher list the server hands to OpenSSL for a configured one (None: not configured)."""
        return ciphers

    def check_ciphers(self, ciphers, field):
        """A configured backend cipher string whose syntax passed: refuse one the server could not start with."""

    def consequence(self, key):
        """What the server does with a setting the model refuses anyway, appended to the model's message (each text
        starts with its own separator; "" says nothing more). Keys: no_ca (verify without a CA), no_crl (CRL checking
        without CRLs), one_cert (a client certificate file with more than one certificate), encrypted (an encrypted
        client key), mismatch (a client key of another certificate)."""
        return ""

    def check_location_client_key(self, own, field):
        """A location's own backend TLS keys (`own`, set ones only): refuse a client key layout the server cannot
        read per location."""

    def tls_names(self, url, preserve_host=False, host=None):
        """(sni, checked_name) the server uses toward a TLS backend (SNI None when none is sent)."""
        raise NotImplementedError

    def check_backend_names(self, loc, index, tls, preserve_host, own_settings):
        """A TLS location's backends against the server's name rule (IP literals, SNI). `own_settings`: the
        location has a pool or backend TLS settings of its own."""

    def preserve_host_warnings(self, public_names):
        """Warnings for a TLS site that forwards the client's Host (the name the backend certificate must cover)."""
        return []

    def check_location_tls(self, loc, index):
        """A location whose backend TLS settings are its own (loc['tls_section']): refuse what the server would
        not apply (for example to its health checks)."""

    def health_check_request(self, check, url, pool):
        """The check of a pool member as the server's own health check sends it (None: the server runs none)."""
        return None

    def check_sections(self, locs, site_tls):
        """One effective TLS setting per backend: refuse locations whose own settings the server would also apply
        to a sibling (section_key() prefixes)."""

    def check_site(self, eff):
        """The whole effective site, last: refuse a site-level option the server cannot express (with refuse())."""

    # -- the public side ---------------------------------------------------------------------------------------------

    def check_header_value(self, value, field):
        """A header value that passed the neutral checks: refuse what the server would interpret (expressions,
        format specifiers it does not let through)."""

    def extra_directives(self, value, field, context, allow_raw):
        """A site's (context 'vhost') or location's ('location') extra lines of the server's own configuration,
        validated: a list of entries {name, args, raw, modules}. A server that takes none refuses a non-empty list."""
        if value:
            self.refuse(field, "it takes no extra configuration lines")
        return []

    def gate_directives(self, entries, field, allow_insecure):
        """The opt-ins of validated extra lines; returns warnings."""
        return []

    # -- listen, names and vhosts ------------------------------------------------------------------------------------

    def check_listen_address(self, address, ip):
        """A listen address (ip: its ipaddress object): refuse one the server would treat specially."""

    def duplicate_name(self, eff, field, host, other, listen):
        """The refusal of a name a second site declares on the same address and port as `other` (a site name)."""
        raise ConfigError("site %r: %s: %r is already served by site %r on %s:%d"
                          % (eff["name"], field, host, other, listen[0] or "*", listen[1]))

    def managed_vhosts(self, eff):
        """The virtual servers an effective site becomes: dicts with site, address, port, names, what."""
        raise NotImplementedError

    def check_ownership(self, sites, live=(), managed_dir=None):
        """Refuse a site that would take a name or an address another serves (between `sites`, and against the
        hand-written `live` virtual servers of the running configuration). Returns warnings."""
        raise NotImplementedError
