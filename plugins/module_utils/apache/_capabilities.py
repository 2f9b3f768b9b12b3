# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""Apache's capability profile (APACHE): the rules the model asks Apache for while it normalises a site.

Every rule here comes from how Apache 2.4 (mod_proxy, mod_proxy_balancer, mod_proxy_hcheck, mod_ssl, mod_headers,
the vhost selection of server/vhost.c) behaves, and every message names what Apache would do, so that a refusal
reads as the reason it is refused. The model (model/_sites.py and its helpers) stays neutral and calls these hooks
through model/_server.ServerProfile; the extra_directives allow-list is apache/_directives.py and the vhost rules are
apache/_vhosts.py, both reached through this profile. Pure (no I/O).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import ssl

from ansible_collections.revproxy.tls.plugins.module_utils.model import _grammar as grammar
from ansible_collections.revproxy.tls.plugins.module_utils.model._grammar import ConfigError
from ansible_collections.revproxy.tls.plugins.module_utils.model._pools import location_is_tls, location_urls
from ansible_collections.revproxy.tls.plugins.module_utils.model._server import ServerProfile
from ansible_collections.revproxy.tls.plugins.module_utils.apache import _directives
from ansible_collections.revproxy.tls.plugins.module_utils.apache import _vhosts
from ansible_collections.revproxy.tls.plugins.module_utils.tls import _mod_ssl
from ansible_collections.revproxy.tls.plugins.module_utils.tls._mod_ssl import (
    MOD_SSL_CIPHER_SUFFIX,
    mod_ssl_cipher_string,
)

_DAY = 86400
# ProxyPass worker parameters the role accepts (mod_proxy.c set_worker_param), with their value kinds and, for
# integers, the range Apache takes (its own checks, and a bound where atoi() would overflow). The names are the
# model's connection options (model/_sites.CONNECTION_OPTIONS); the ranges are Apache's.
WORKER_PARAMS = {
    "timeout": ("int", 1, _DAY, ()),
    "connectiontimeout": ("int", 1, _DAY, ()),
    "retry": ("int", 0, _DAY, ()),
    "keepalive": ("bool",),
    "disablereuse": ("bool",),
    "enablereuse": ("bool",),
    "ttl": ("int", 1, _DAY, ()),
    "min": ("int", 0, 100000, ()),
    "max": ("int", 0, 100000, ()),
    "smax": ("int", 0, 100000, ()),
    "acquire": ("int", 1, 3600 * 1000, ()),
    "ping": ("int", 1, 3600, ()),
    "flushpackets": ("onoffauto",),
    "flushwait": ("int", 0, 1000, ()),
    "iobuffersize": ("int", 512, 1 << 24, (0,)),
    "receivebuffersize": ("int", 512, 1 << 24, (0,)),
    "responsefieldsize": ("int", 1, 1 << 20, (0,)),
    "upgrade": ("token",),
}

# mod_headers format specifiers the role lets through: %% (a literal %), %t, %D, %{NAME}e (environment) and
# %{NAME}s (SSL variable). Anything else after a '%' is refused before Apache sees it.
_FORMAT_RE = re.compile(r"%(?:%|t|D|\{[A-Za-z0-9_:-]{1,64}\}[es])")


def _worker_value(kind, value, field):
    if kind[0] == "int":
        return str(grammar.integer(value, field, kind[1], kind[2], kind[3]))
    if kind[0] == "bool":
        return "On" if grammar.boolean(value, field) else "Off"
    if kind[0] == "onoffauto":
        return grammar.choice(value, field, ("on", "off", "auto"))
    return grammar.token(value, field, 15)  # mod_proxy keeps the upgrade protocol in 16 bytes


def cipher_selects_any(ciphers):
    """Whether OpenSSL (this host's, as Apache's) selects at least one cipher from mod_ssl's list (built once, by
    tls/_mod_ssl.mod_ssl_cipher_string, which the checker uses too; here through Python's ssl, so that the role's
    validation works on a host without pyOpenSSL)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        context.set_ciphers(mod_ssl_cipher_string(ciphers))
    except ssl.SSLError:
        return False
    return True


# What Apache does with a setting the model refuses (model/_server.ServerProfile.consequence).
_CONSEQUENCES = {
    "no_ca": ": mod_ssl never uses the system trust store for backends, so every backend would fail with AH02039 "
             "(error 20)",
    "no_crl": ": without CRLs mod_ssl fails every backend with 'unable to get certificate CRL'",
    "one_cert": " (mod_ssl pairs every certificate in SSLProxyMachineCertificateFile with the key and fails to start: "
                "AH02326)",
    "encrypted": " (mod_ssl cannot use an encrypted key for SSLProxyMachineCertificateFile: AH02252 at startup)",
    "mismatch": " (mod_ssl fails to start: AH02565 / key values mismatch)",
    "session_tickets": " until Apache restarts",
}


def _ip_literal_refusal(where, url, extra=""):
    return ConfigError(
        "%s: %r uses the IP literal %s; mod_ssl sends no SNI for it and checks the certificate against the string %r, "
        "never against iPAddress SANs, so every request fails with AH02411. Use a DNS name that is in the "
        "certificate's subjectAltName%s" % (where, url.url, url.host, url.host, extra))


class ApacheProfile(ServerProfile):
    """Apache 2.4 with mod_proxy, mod_proxy_balancer, mod_proxy_hcheck, mod_ssl and mod_headers."""

    name = "Apache"
    # A site may name the hand-written vhost it takes over (replaces): apache/_adopt checks and disables it.
    adopts_hand_written = True

    # -- a location and its backend ----------------------------------------------------------------------------------

    def connection_params(self, loc, field):
        return [(key, _worker_value(kind, loc[key], "%s.%s" % (field, key)))
                for key, kind in WORKER_PARAMS.items() if loc.get(key) is not None]

    def check_backend(self, url, path, field):
        if url.url.count("/") < 3:
            # mod_proxy appends the rest of the request path textually: to "https://h:8443", /0/x becomes
            # "https://h:84430/x", another port than the preflight checked.
            raise ConfigError("%s.backend: %r has no path; mod_proxy appends the rest of the request path to it as "
                              "text (a request for %s0 would go to port %d0), so write %r" % (
                                  field, url.url, path, url.port, url.url + "/"))
        if path.endswith("/") != url.path.endswith("/"):
            raise ConfigError("%s: path %r and backend %r must both end with '/' or both not (mod_proxy maps the "
                              "rest of the URL textually)" % (field, path, url.url))

    def check_member(self, url, path, field):
        if path.endswith("/") != url.path.endswith("/"):
            raise ConfigError("%s: path %r and member %r must both end with '/' or both not (mod_proxy maps the "
                              "rest of the URL textually)" % (field, path, url.url))

    def check_pool_members(self, members, field):
        """Two members with one scheme, host and port would be one worker of mod_proxy's."""
        seen = {}
        for i, member in enumerate(members):
            key = (member["url"].scheme, member["url"].host, member["url"].port)
            if key in seen:
                raise ConfigError("%s.backends[%d].url: %r is the same backend as backends[%d] (Apache would share "
                                  "one worker)" % (field, i, member["backend"], seen[key]))
            seen[key] = i

    def pool_backend(self, pool, path):
        return "balancer://%s%s" % (pool["name"], "/" if path.endswith("/") else "")

    def section_key(self, loc):
        """The URL prefix of a location's <Proxy> section (the renderer's): balancer://<name> for a pool (its
        members' requests are matched by that name), else the backend URL."""
        return ("balancer://%s" % loc["pool"]["name"]) if loc.get("pool") else loc["backend"]

    # -- backend TLS -------------------------------------------------------------------------------------------------

    def cipher_string(self, ciphers):
        return mod_ssl_cipher_string(ciphers)

    def check_ciphers(self, ciphers, field):
        if not cipher_selects_any(ciphers):
            raise ConfigError("%s: %r selects no cipher once mod_ssl appends %s; Apache would fail to start with "
                              "AH01898 'Unable to configure permitted SSL ciphers' (no cipher match)"
                              % (field, ciphers, MOD_SSL_CIPHER_SUFFIX))

    def consequence(self, key):
        return _CONSEQUENCES[key]

    def check_location_client_key(self, own, field):
        if own.get("client_key_file") and own.get("client_key_file") != own.get("client_cert_file"):
            raise ConfigError("%s.client_key_file: per location, give client_cert_file holding the certificate and "
                              "its key in one file (what SSLProxyMachineCertificateFile reads)" % field)

    def tls_names(self, url, preserve_host=False, host=None):
        """mod_ssl's name rule, as the checker's semantics have it (tls/_mod_ssl.tls_names)."""
        return _mod_ssl.tls_names(url, preserve_host, host)

    def check_backend_names(self, loc, index, tls, preserve_host, own_settings):
        """mod_ssl checks an IP literal backend against the literal string (never iPAddress SANs)."""
        if preserve_host or not tls["check_peer_name"]:
            return
        field = "locations[%d]" % index
        if not own_settings:
            if loc["url"].is_tls and loc["url"].is_ip:
                raise _ip_literal_refusal(field + ".backend", loc["url"],
                                          " (add it to DNS or /etc/hosts on the proxy)")
            return
        for i, url in enumerate(location_urls(loc)):
            if url.is_tls and url.is_ip:
                where = "%s.backends[%d].url" % (field, i) if loc.get("pool") else field + ".backend"
                raise _ip_literal_refusal(where, url)

    def preserve_host_warnings(self, public_names):
        return ["preserve_host is true: Apache sends the client's Host (%s) as SNI to the TLS backend and checks the "
                "backend certificate against it, so that certificate must cover every public name"
                % ", ".join(public_names)]

    def check_location_tls(self, loc, index):
        if loc.get("pool") and loc["pool"]["health_check"]:
            raise ConfigError(
                "locations[%d].health_check: mod_proxy_hcheck ignores the pool's own backend_tls (measured on Apache "
                "2.4.71: its checks use the vhost's SSLProxy* settings), so every health check would fail and take "
                "all members out. Put these settings in the site's backend_tls, or drop health_check" % index)

    def health_check_request(self, check, url, pool):
        """mod_proxy_hcheck's own request: no SNI, Host <member host:port>, the health check URI."""
        return dict(check, host=None, preserve_host=False, sni=None, checked_name=url.host, health_check=True,
                    request_path=pool["health_check"]["uri"])

    def check_sections(self, locs, site_tls):
        """One effective TLS setting per backend URL. Apache applies a <Proxy "url"> section to every request whose
        URL starts with "url" (proxy_walk: a prefix match, as for balancer names: balancer://api covers
        balancer://api-v1), so a location's own settings would also govern a sibling whose backend URL it prefixes,
        or that prefixes it, while the preflight checked the sibling with its own. Two TLS locations of a site whose
        section URLs are prefixes of one another must have the same effective settings."""
        tls_locs = [loc for loc in locs if location_is_tls(loc)]
        for a in tls_locs:
            if not a.get("tls_section"):
                continue
            key_a = self.section_key(a).lower()
            mine = (a["backend_tls"], a["client_cert_inherited"])
            for b in tls_locs:
                if b is a:
                    continue
                key_b = self.section_key(b).lower()
                if not (key_b.startswith(key_a) or key_a.startswith(key_b)):
                    continue
                theirs = (b["backend_tls"], b["client_cert_inherited"]) if b.get("tls_section") else (site_tls, True)
                if theirs != mine:
                    raise ConfigError(
                        "locations: %s (backend %s) has backend_tls of its own, and Apache applies its <Proxy \"%s\"> "
                        "section by URL prefix, so it would also govern %s (backend %s), which the preflight checks "
                        "with other settings. Give both the same backend_tls, or backends whose URLs are not "
                        "prefixes of one another" % (a["path"], self.section_key(a), self.section_key(a), b["path"],
                                                     self.section_key(b)))

    # -- the public side ---------------------------------------------------------------------------------------------

    def check_header_value(self, value, field):
        """mod_headers: not an 'expr=' expression; a '%' only as one of the format specifiers %%, %t, %D, %{NAME}e,
        %{NAME}s."""
        if value[:5].lower() == "expr=":
            raise ConfigError("%s: %r: a value starting with 'expr=' is an Apache expression (it can read files); "
                              "headers take literal values here" % (field, value))
        if "%" in _FORMAT_RE.sub("", value):
            raise ConfigError("%s: %r: a '%%' must start one of %%%%, %%t, %%D, %%{NAME}e or %%{NAME}s (write %%%% "
                              "for a literal %%)" % (field, value))

    def extra_directives(self, value, field, context, allow_raw):
        return _directives.extra_directives(value, field, context, allow_raw)

    def gate_directives(self, entries, field, allow_insecure):
        return _directives.gate(entries, field, allow_insecure)

    # -- listen, names and vhosts ------------------------------------------------------------------------------------

    def check_listen_address(self, address, ip):
        if ip.is_unspecified or getattr(ip, "ipv4_mapped", None) is not None and ip.ipv4_mapped.is_unspecified:
            raise ConfigError("listen.address: %r is declared as an address of its own, so Apache would send every "
                              "request on this port to this site instead of the '*' vhosts; write '*' or leave it "
                              "unset for every address" % address)

    def duplicate_name(self, eff, field, host, other, listen):
        """Apache serves a name on one address:port from the first vhost that has it: a second one never answers."""
        raise ConfigError("site %r: %s: %r is already served by site %r on %s:%d; Apache would answer only with the "
                          "first" % (eff["name"], field, host, other, listen[0] or "*", listen[1]))

    def managed_vhosts(self, eff):
        return _vhosts.managed_vhosts(eff)

    def check_ownership(self, sites, live=(), managed_dir=None):
        return _vhosts.check_ownership(sites, live, managed_dir)


APACHE = ApacheProfile()
