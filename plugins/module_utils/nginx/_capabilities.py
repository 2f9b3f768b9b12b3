# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""nginx's capability profile (NGINX): the rules the model asks nginx (open source, 1.22 and later) for.

Every refusal names nginx and what nginx does instead, so that it reads as the reason. What nginx cannot express:
an lbmethod by traffic, sticky sessions and routes (NGINX Plus), active health checks (open source has passive
checks only: max_fails/fail_timeout), a balancer manager page, extra configuration lines, a certificate chain in a
file of its own (nginx reads the chain after the certificate in one file), a CA directory or a CRL directory (one
file each), CRL checking of the leaf only (proxy_ssl_crl checks the whole chain), verification that is optional,
a name or expiry check switched off while the chain is verified, and a pool whose members have different host
names (proxy_ssl_name and the Host header are one per location). Pure (no I/O).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ssl

from ansible_collections.revproxy.tls.plugins.module_utils.model import _grammar as grammar
from ansible_collections.revproxy.tls.plugins.module_utils.model._grammar import ConfigError
from ansible_collections.revproxy.tls.plugins.module_utils.model._pools import location_urls
from ansible_collections.revproxy.tls.plugins.module_utils.model._server import ServerProfile

_DAY = 86400
# The model's connection options nginx has a directive for (the others are refused, named): the value kind and range.
CONNECTION_DIRECTIVES = {
    "timeout": ("int", 1, _DAY),  # proxy_read_timeout and proxy_send_timeout
    "connectiontimeout": ("int", 1, 75),  # proxy_connect_timeout: nginx's docs: "usually cannot exceed 75 seconds"
    "keepalive": ("bool",),  # proxy_socket_keepalive (TCP keepalive)
    "flushpackets": ("onoff",),  # on: proxy_buffering off
}
UPSTREAM_PREFIX = "revproxy_"

_CONSEQUENCES = {
    "no_ca": ": nginx would verify against no trusted certificate and fail every backend with "
             "'upstream SSL certificate verify error: (20:unable to get local issuer certificate)'",
    "no_crl": ": nginx takes the CRLs from proxy_ssl_crl only",
    "one_cert": " (nginx takes the first certificate of proxy_ssl_certificate as the client certificate and the "
                "rest as its chain)",
    "encrypted": " (nginx would ask for the key's passphrase at startup and fail: proxy_ssl_password_file is not "
                 "rendered)",
    "mismatch": " (nginx fails its config test: SSL_CTX_use_PrivateKey ... key values mismatch)",
    "session_tickets": " until nginx restarts",
}


def upstream_name(site_name, pool_name):
    """The name of a pool's upstream block: unique over the sites of one host (site names are), never a host name a
    backend URL may use (check_backend refuses the prefix)."""
    return "%s%s_%s" % (UPSTREAM_PREFIX, site_name, pool_name)


class NginxProfile(ServerProfile):
    """nginx open source (1.22, Debian 12's and EPEL's packages) with the http proxy and ssl modules."""

    name = "nginx"

    # -- a location and its backend ----------------------------------------------------------------------------------

    def connection_params(self, loc, field):
        from ansible_collections.revproxy.tls.plugins.module_utils.model._sites import CONNECTION_OPTIONS
        out = []
        for key in CONNECTION_OPTIONS:
            value = loc.get(key)
            if value is None:
                continue
            kind = CONNECTION_DIRECTIVES.get(key)
            where = "%s.%s" % (field, key)
            if kind is None:
                self.refuse(where, "it has no per-location equivalent of mod_proxy's %r (the options it takes: %s)"
                            % (key, ", ".join(sorted(CONNECTION_DIRECTIVES))))
            if kind[0] == "int":
                out.append((key, str(grammar.integer(value, where, kind[1], kind[2]))))
            elif kind[0] == "bool":
                out.append((key, "on" if grammar.boolean(value, where) else "off"))
            else:
                value = grammar.choice(value, where, ("on", "off", "auto"))
                if value == "auto":
                    self.refuse(where, "it buffers a response or not (proxy_buffering); give on or off")
                out.append((key, value))
        return out

    def _check_url(self, url, path, field):
        if "$" in url.url:
            self.refuse(field, "%r holds '$', which proxy_pass reads as a variable (and then stops mapping the "
                        "location's path)" % url.url)
        if url.host.startswith(UPSTREAM_PREFIX):
            self.refuse(field, "%r: host names starting with %r are the names of the role's upstream blocks, and "
                        "proxy_pass would send to that group instead" % (url.url, UPSTREAM_PREFIX))
        if "$" in path:
            self.refuse("location path", "%r holds '$' (the role writes no value nginx could read as a variable)"
                        % path)
        if path.endswith("/") != url.path.endswith("/"):
            raise ConfigError("%s: path %r and backend %r must both end with '/' or both not (nginx replaces the "
                              "location's prefix with the URL's path textually)" % (field, path, url.url))

    def check_backend(self, url, path, field):
        self._check_url(url, path, field + ".backend")

    def check_member(self, url, path, field):
        self._check_url(url, path, field + ".url")

    def check_pool_members(self, members, field):
        seen = {}
        hosts = set()
        for i, member in enumerate(members):
            key = (member["url"].host, member["url"].port)
            if key in seen:
                raise ConfigError("%s.backends[%d].url: %r is the same server as backends[%d] (nginx would list it "
                                  "twice in the upstream block)" % (field, i, member["backend"], seen[key]))
            seen[key] = i
            hosts.add(member["url"].host)
            if member["url"].path != members[0]["url"].path:
                self.refuse("%s.backends[%d].url" % (field, i), "an upstream block's servers share the one path of "
                            "proxy_pass; give every member the path %r" % members[0]["url"].path)
        if len(hosts) > 1:
            self.refuse(field + ".backends", "proxy_ssl_name and the Host header are one per location, so every "
                        "member of a pool must have the same host name (ports may differ); got %s"
                        % ", ".join(sorted(hosts)))

    def check_pool(self, pool, field):
        if pool["lbmethod"] == "bytraffic":
            self.refuse(field + ".lbmethod", "it balances by requests (round robin) or by connections (least_conn), "
                        "not by traffic")
        if pool["sticky"]:
            self.refuse(field + ".sticky", "sticky sessions by cookie are NGINX Plus's (sticky); nginx open source "
                        "has none")
        for i, member in enumerate(pool["members"]):
            if member["route"] is not None:
                self.refuse("%s.backends[%d].route" % (field, i), "routes belong to sticky sessions, which nginx open "
                            "source does not have")
        if pool["health_check"]:
            self.refuse(field + ".health_check", "nginx open source has passive checks only (a member that fails "
                        "max_fails times is skipped for fail_timeout); active health checks are NGINX Plus's")

    def pool_backend(self, pool, path):
        """The proxy_pass URL of a pool location: the upstream block's name (the renderer writes the block under the
        site's name: upstream_name()), with the members' shared path."""
        member = pool["members"][0]["url"]
        return "%s://%s%s%s" % ("https" if member.is_tls else "http", UPSTREAM_PREFIX, pool["name"], member.path)

    def section_key(self, loc):
        return None  # every location carries its own complete proxy_ssl_* settings

    # -- backend TLS -------------------------------------------------------------------------------------------------

    def cipher_string(self, ciphers):
        return ciphers  # proxy_ssl_ciphers goes to OpenSSL as it is

    def check_ciphers(self, ciphers, field):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        try:
            context.set_ciphers(ciphers)
        except ssl.SSLError:
            raise ConfigError("%s: %r selects no cipher; nginx would fail its config test with "
                              "'SSL_CTX_set_cipher_list(...) failed (SSL: ... no cipher match)'" % (field, ciphers))

    def consequence(self, key):
        return _CONSEQUENCES[key]

    def tls_names(self, url, preserve_host=False, host=None):
        """nginx sends the backend's own host as SNI and checks the certificate against it (proxy_ssl_name is the
        URL's host, never an upstream group's name nor the client's Host). An IP literal gets no SNI."""
        if url.is_ip:
            return None, url.host
        return url.host, url.host

    def check_backend_names(self, loc, index, tls, preserve_host, own_settings):
        """OpenSSL's X509_check_host, as nginx calls it, never matches an IP literal given as the name."""
        if tls["verify"] == "none":
            return
        for i, url in enumerate(location_urls(loc)):
            if url.is_tls and url.is_ip:
                where = ("locations[%d].backends[%d].url" % (index, i)) if loc.get("pool") \
                    else "locations[%d].backend" % index
                raise ConfigError("%s: %r uses the IP literal %s; nginx checks the certificate against the name %r "
                                  "and never matches it (not even an iPAddress SAN), so every request would fail "
                                  "with 502. Use a DNS name that is in the certificate's subjectAltName"
                                  % (where, url.url, url.host, url.host))

    def check_location_tls(self, loc, index):
        self._check_tls(loc["backend_tls"], "locations[%d].backend_tls" % index)

    def _check_tls(self, tls, field):
        if tls["verify"] in ("optional", "optional_no_ca"):
            self.refuse(field + ".verify", "proxy_ssl_verify is on or off; %r has no nginx equivalent"
                        % tls["verify"])
        if tls["verify"] != "none":
            if not tls["check_peer_name"]:
                self.refuse(field + ".check_peer_name", "proxy_ssl_verify on always checks the name; it cannot "
                            "verify the chain without it")
            if not tls["check_peer_expire"]:
                self.refuse(field + ".check_peer_expire", "proxy_ssl_verify on always checks the validity dates")
        if tls["ca_path"]:
            self.refuse(field + ".ca_path", "proxy_ssl_trusted_certificate is one file; give ca_file or ca_content")
        if tls["crl_path"]:
            self.refuse(field + ".crl_path", "proxy_ssl_crl is one file; give crl_file")
        if tls["crl_check"] == "leaf":
            self.refuse(field + ".crl_check", "proxy_ssl_crl checks every certificate of the chain (each CA's CRL "
                        "must be in crl_file); write crl_check: chain")
        if tls["crl_file"] and tls["crl_check"] == "none":
            self.refuse(field + ".crl_file", "nginx checks a CRL whenever proxy_ssl_crl is set; write "
                        "crl_check: chain")
        if tls["client_chain_file"]:
            self.refuse(field + ".client_chain_file", "proxy_ssl_certificate reads the client certificate's chain "
                        "after it in the same file; append the chain to client_cert_file (or "
                        "client_cert_content)")

    def check_location_client_key(self, own, field):
        """nginx reads the client certificate and its key from two files (proxy_ssl_certificate and
        proxy_ssl_certificate_key): any layout works per location."""

    def check_site(self, eff):
        uses_tls = eff["uses_tls"]
        if uses_tls:
            self._check_tls(eff["backend_tls"], "backend_tls")
        if eff["balancer_manager"]:
            self.refuse("balancer_manager", "it has no balancer manager page (the upstream API is NGINX Plus's)")
        front = eff["frontend"]
        if eff["tls"] and eff["tls"].get("acme"):
            self.refuse("tls.acme", "nginx open source has no ACME client; obtain the certificate "
                        "with an ACME client of your own and give certificate_file and key_file")
        if eff["tls"] and eff["tls"].get("chain_file"):
            self.refuse("tls.chain_file", "ssl_certificate reads the chain after the certificate in one file; "
                        "append the chain to certificate_file")
        if front["exclusions"]:
            raise ConfigError("proxy_exclusions: not rendered by the nginx role yet; leave it empty")
        for i, loc in enumerate(eff["locations"]):
            if loc["frontend"]["nocanon"]:
                self.refuse("locations[%d].nocanon" % i, "proxy_pass with a path always sends the normalised URI")
            for kind in ("request_headers", "response_headers"):
                for j, (action, name, _value) in enumerate(loc["frontend"][kind]):
                    self._check_header_action(kind, action, name, "locations[%d].%s[%d]" % (i, kind, j))
        for kind in ("request_headers", "response_headers"):
            for j, (action, name, _value) in enumerate(front[kind]):
                self._check_header_action(kind, action, name, "%s[%d]" % (kind, j))

    def _check_header_action(self, kind, action, name, field):
        if "$" in name:
            raise ConfigError("%s.name: %r: the role writes no '$' into nginx's configuration (nginx reads it as a "
                              "variable in most values)" % (field, name))
        if kind == "request_headers" and action in ("append", "add", "merge"):
            self.refuse(field + ".action", "proxy_set_header replaces a request header or drops it (set, unset); "
                        "it cannot %s to the client's value" % action)
        if kind == "response_headers" and action in ("append", "merge"):
            self.refuse(field + ".action", "add_header adds a header line; it cannot %s into the backend's value "
                        "(use add, set or unset)" % action)

    # -- the public side ---------------------------------------------------------------------------------------------

    def check_header_value(self, value, field):
        if "$" in value:
            raise ConfigError("%s: %r: nginx reads '$' in a header value as a variable (it could send the client's "
                              "own headers or cookies on); headers take literal values here" % (field, value))

    # -- listen, names and server blocks -----------------------------------------------------------------------------

    def check_listen_address(self, address, ip):
        if ip.is_unspecified:
            raise ConfigError("listen.address: %r: write '*' or leave it unset for every address" % address)

    def duplicate_name(self, eff, field, host, other, listen):
        raise ConfigError("site %r: %s: %r is already served by site %r on %s:%d; nginx would warn 'conflicting "
                          "server name' and answer only with the first"
                          % (eff["name"], field, host, other, listen[0] or "*", listen[1]))

    def managed_vhosts(self, eff):
        out = [{"site": eff["name"], "address": eff["listen"]["address"], "port": eff["listen"]["port"],
                "names": [eff["server_name"]] + eff["server_aliases"], "what": "server block"}]
        redirect = eff["frontend"]["redirect"]
        if redirect:
            out.append({"site": eff["name"], "address": eff["listen"]["address"], "port": redirect["port"],
                        "names": [eff["server_name"]] + eff["server_aliases"], "what": "redirect server block"})
        return out

    def check_ownership(self, sites, live=(), managed_dir=None):
        """Between managed sites: a plain and a TLS server block on one port (nginx would make the port TLS for
        both: the 'ssl' flag of listen is per address:port), and the names and addresses of _check_names."""
        _check_names(list(live or ()) + [v for eff in sites for v in self.managed_vhosts(eff)])
        ports = {}
        for v in live or ():  # a hand-written block's port stays what it is (a TLS site there makes it TLS)
            ports.setdefault(v["port"], (v.get("tls", False), _who(v)))
        for eff in sites:
            blocks = [(eff["listen"]["port"], bool(eff["tls"]))]
            if eff["frontend"]["redirect"]:
                blocks.append((eff["frontend"]["redirect"]["port"], False))
            for port, is_tls in blocks:
                other = ports.setdefault(port, (is_tls, "site %r" % eff["name"]))
                if other[0] != is_tls:
                    raise ConfigError("site %r: listen.port: %d is a %s port of %s; nginx's 'ssl' flag belongs "
                                      "to the port, so one port is TLS or plain for every site on it"
                                      % (eff["name"], port, "TLS" if other[0] else "plain HTTP", other[1]))
        return []


def _wild_owners(pattern, by_suffix):
    """The names of other server blocks a wildcard ('*.' in front: one label or more) answers."""
    return [name for name in by_suffix.get(pattern[1:], []) if name != pattern] if pattern.startswith("*.") else []


def _who(v):
    return v["site"] if v.get("live") else "site %r" % v["site"]


def _check_names(blocks):
    """nginx gives a connection to a specific address only to the server blocks listening on that address:port, so
    a site on 127.0.0.1:443 answers there for the names of every site on *:443 (measured on nginx 1.22); and a name
    belongs to one site on every port, whatever the server: on another port it still gets that site's cookies
    (browsers do not scope cookies by port). `blocks`: the hand-written server blocks (nginx/_live_servers, marked
    live: between themselves they are the operator's business), then managed_vhosts() of every site."""
    wildcard = {}
    for v in blocks:
        if not v["address"]:
            wildcard.setdefault(v["port"], v)
    owner, by_suffix = {}, {}
    for v in blocks:
        other = wildcard.get(v["port"])
        if v["address"] and other and other["site"] != v["site"] and not v.get("live"):
            raise ConfigError("site %r: listen.address: %s on port %d while %s listens on every address there: "
                              "nginx hands every connection to %s:%d to the server blocks listening on it, so this "
                              "site would answer there for the names of %s. Give both the same listen.address (or "
                              "leave both unset)" % (v["site"], v["address"], v["port"], _who(other), v["address"],
                                                     v["port"], _who(other)))
        for name in set(n.lower().rstrip(".") for n in v["names"]):
            first = owner.setdefault(name, v)
            if first["site"] != v["site"] and not v.get("live"):
                raise ConfigError("site %r: %r is also served by %s (%s:%d); a name belongs to one site (on "
                                  "another port it still gets that site's cookies, which browsers do not scope by "
                                  "port). Use another name" % (v["site"], name, _who(first), first["address"] or "*",
                                                               first["port"]))
            probe = name.replace("*", "x")
            for i, char in enumerate(probe):
                if char == ".":
                    by_suffix.setdefault(probe[i:], []).append(name)
    for pattern, v in owner.items():
        for name in _wild_owners(pattern, by_suffix):
            other = owner[name]
            if other["site"] == v["site"] or v.get("live") and other.get("live"):
                continue
            if v.get("live"):
                raise ConfigError("site %r: %r is one of the names %s serves (%r): nginx answers an exact name "
                                  "before a wildcard, so the site would take it; a name belongs to one site. Use "
                                  "another name" % (other["site"], name, _who(v), pattern))
            raise ConfigError("site %r: server_aliases: %r also matches %r, which %s serves; a name belongs "
                              "to one site (on another port it still gets that site's cookies). Use names that "
                              "do not overlap" % (v["site"], pattern, name, _who(other)))


NGINX = NginxProfile()
