# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""Render ACME certificates (model/_acme.py) for Apache's mod_md. Pure; every value through _emit.directive().

- per site: an <MDomain> section (server level, before the site's vhost) with the site's names and its own
  settings (MDPrivateKeys, MDRenewWindow, MDMustStaple, MDCAChallenges, MDContactEmail); the vhost has SSLEngine on
  and no SSLCertificate* lines: mod_md hands mod_ssl the certificate (a temporary one until the CA issued it);
- once for all sites (in the managed Listen file): the CA (MDCertificateAuthority, MDCACertificateFile), the
  agreement, the default contact, the external account binding, MDPortMap, and the md-status handler in a vhost
  on 127.0.0.1:<status_port> only (Listen on loopback, Require ip of the loopback addresses, and no forwarding
  header: a request a site proxied to this port comes from 127.0.0.1 too).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.revproxy.tls.plugins.module_utils.apache._emit import Bare, directive, section

_IN = "    "
STATUS_PATH = "/md-status"
CA_FILE_NAME = "_acme/ca.pem"  # under the TLS directory: '_' starts no site name, so no site's directory is it
_KEYS = {
    "rsa2048": ("RSA", "2048"),
    "rsa3072": ("RSA", "3072"),
    "rsa4096": ("RSA", "4096"),
    "secp256r1": ("secp256r1",),
    "secp384r1": ("secp384r1",),
}


def site_acme(site):
    """The site's ACME request, or None."""
    return (site.get("tls") or {}).get("acme")


def mdomain_lines(site):
    """<MDomain names...> with the site's own settings, before its <VirtualHost>."""
    acme = site_acme(site)
    if not acme:
        return []
    lines = ["# Certificate from the ACME CA (tls.acme): mod_md orders and renews it for these names.",
             section("MDomain", *[Bare(n) for n in acme["names"]])]
    lines.append(directive("MDPrivateKeys", *[Bare(w) for w in _KEYS[acme["key_type"]]], indent=_IN))
    if acme["renew_window"]:
        lines.append(directive("MDRenewWindow", Bare(acme["renew_window"]), indent=_IN))
    lines.append(directive("MDMustStaple", Bare("on" if acme["must_staple"] else "off"), indent=_IN))
    lines.append(directive("MDCAChallenges", *[Bare(c) for c in acme["challenges"]], indent=_IN))
    if acme["contact"]:
        lines.append(directive("MDContactEmail", acme["contact"], indent=_IN))
    lines.append("</MDomain>")
    lines.append("")
    return lines


def certificate_lines(site):
    """What stands in the vhost where the SSLCertificate* lines of a site with files are."""
    if not site_acme(site):
        return []
    return ["    # No SSLCertificateFile: mod_md provides the certificate of the MDomain above (tls.acme)."]


def protocols(site, http2):
    """The Protocols of a TLS vhost: acme-tls/1 too when the site allows the tls-alpn-01 challenge. None: no line."""
    acme = site_acme(site)
    alpn = bool(acme) and "tls-alpn-01" in acme["challenges"]
    if not (http2 or alpn):
        return None
    return (["h2"] if http2 else []) + ["http/1.1"] + (["acme-tls/1"] if alpn else [])


def acme_modules(sites):
    return {"md", "authz_host"} if any(site_acme(s) for s in sites) else set()


def ca_path(tls_dir):
    return "%s/%s" % (tls_dir.rstrip("/"), CA_FILE_NAME)


def global_lines(sites, settings):
    """The server-level mod_md lines and the loopback md-status vhost (nothing without an ACME site)."""
    if not settings or not any(site_acme(s) for s in sites):
        return []
    lines = ["", "# ACME (mod_md): the operator's settings (apache_proxy_acme_*), for every site with tls.acme.",
             directive("MDCertificateAuthority", settings["directory_url"])]
    if settings["ca_file"]:
        lines.append(directive("MDCACertificateFile", settings["ca_file"]))
    lines.append(directive("MDCertificateAgreement", Bare("accepted")))
    lines.append(directive("MDRenewWindow", Bare(settings["renew_window"])))
    if settings["contact"]:
        lines.append(directive("MDContactEmail", settings["contact"]))
    if settings["eab"]:
        lines.append(directive("MDExternalAccountBinding", settings["eab"]["kid"], settings["eab"]["hmac"]))
    ports = []
    if settings["http_port"]:
        ports.append(Bare("http:%d" % settings["http_port"]))
    if settings["https_port"]:
        ports.append(Bare("https:%d" % settings["https_port"]))
    if ports:
        lines.append(directive("MDPortMap", *ports))
    port = settings["status_port"]
    lines.extend([
        "# mod_md's status (md-status) for the role's wait and check: on the loopback address only.",
        directive("Listen", Bare("127.0.0.1:%d" % port)),
        section("VirtualHost", Bare("127.0.0.1:%d" % port)),
        directive("ServerName", Bare("localhost"), indent=_IN),
        section("Location", STATUS_PATH, indent=_IN),
        directive("SetHandler", Bare("md-status"), indent=_IN * 2),
    ] + _loopback_only(_IN * 2) + [
        _IN + "</Location>",
        section("Location", "/", indent=_IN),
    ] + _loopback_only(_IN * 2) + [
        _IN + "</Location>",
        "</VirtualHost>",
    ])
    return lines


def _loopback_only(indent):
    """A loopback client that is not a proxy: a site whose backend is this port reaches it from 127.0.0.1 too
    (mod_proxy connects from this host and always adds X-Forwarded-For), and would publish every domain's status.
    The same rule as the balancer-manager's (apache/_render_pools.py)."""
    return [
        section("RequireAll", indent=indent),
        directive("Require", Bare("ip"), Bare("127.0.0.1"), Bare("::1"), indent=indent + _IN),
        directive("Require", Bare("expr"), "-z req('X-Forwarded-For') && -z req('Forwarded')", indent=indent + _IN),
        indent + "</RequireAll>",
    ]
