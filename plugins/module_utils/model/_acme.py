# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""Certificates from an ACME certificate authority for the public side of a site (issue 25).

Two halves, on purpose at two levels:
- a site's ``tls.acme`` (normalize_site_acme): that the site's names get their certificate from ACME, and the
  certificate's own properties (key type, renewal window, must-staple, the challenge types, the account contact);
- the operator's settings (check_settings): which CA is called (the directory URL, https only, no credentials, no
  query), what it is trusted by, the agreement, the external account binding, the local status port. A site never
  names a URL: a survey user could otherwise make the proxy call any address.

Pure (no I/O); every value goes through a grammar kind; every error names its field.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.revproxy.tls.plugins.module_utils.model import _grammar as grammar
from ansible_collections.revproxy.tls.plugins.module_utils.model import _pem
from ansible_collections.revproxy.tls.plugins.module_utils.model import _policy
from ansible_collections.revproxy.tls.plugins.module_utils.model._grammar import ConfigError

LETS_ENCRYPT = "https://acme-v02.api.letsencrypt.org/directory"
LETS_ENCRYPT_STAGING = "https://acme-staging-v02.api.letsencrypt.org/directory"
KEY_TYPES = ("rsa2048", "rsa3072", "rsa4096", "secp256r1", "secp384r1")
CHALLENGES = ("http-01", "tls-alpn-01")
DEFAULT_STATUS_PORT = 8409
DEFAULT_RENEW_WINDOW = "33%"
# A site's own renewal window: a share of the lifetime, never more than half of it. A fixed time longer than the CA's
# lifetime (3650d against 90-day certificates, 1d against a 24-hour CA) makes mod_md order again after every graceful
# restart, and the renewal job restart the whole server on every run: a fixed time is the operator's setting only.
SITE_RENEW_PERCENT = (1, 50)

SITE_ACME_SPEC = {
    "contact": {"type": "str"},
    "key_type": {"type": "str", "default": "rsa2048", "choices": list(KEY_TYPES)},
    "renew_window": {"type": "str"},
    "must_staple": {"type": "bool", "default": False},
    "challenges": {"type": "list", "elements": "str", "default": list(CHALLENGES), "choices": list(CHALLENGES)},
}

# The operator's settings (a module option, the role's apache_proxy_acme_* variables).
SETTINGS_SPEC = {
    "directory_url": {"type": "str", "default": LETS_ENCRYPT},
    "ca_file": {"type": "path"},
    "ca_content": {"type": "str"},
    "agreement": {"type": "bool", "default": False},
    "contact": {"type": "str"},
    "eab_kid": {"type": "str"},
    "eab_hmac": {"type": "str", "no_log": True},
    "status_port": {"type": "int", "default": DEFAULT_STATUS_PORT},
    "renew_window": {"type": "str", "default": DEFAULT_RENEW_WINDOW},
    "http_port": {"type": "int"},
    "https_port": {"type": "int"},
}

# RFC 5321 local part, the dot-atom subset the CAs accept (no quoted strings, no comments).
_LOCAL_PART_RE = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_RENEW_RE = re.compile(r"^([0-9]{1,9})(d|h|s|%)$")
_RENEW_LIMITS = {"d": (1, 3650, "days"), "h": (1, 87600, "hours"), "s": (1, 315360000, "seconds"),
                 "%": (1, 99, "percent of the lifetime")}
_URL_RE = re.compile(r"^https://([^/?#]+)(/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*)?$")
_EAB_KID_RE = re.compile(r"^[A-Za-z0-9_.-]{1,256}$")
_EAB_HMAC_RE = re.compile(r"^[A-Za-z0-9_-]{16,512}={0,2}$")


def contact(value, field):
    """An e-mail address the CA may write to about the account (expiry, policy changes): local@domain, no
    display name, no 'mailto:' (the server adds it)."""
    grammar.safe_text(value, field, 254)
    if value.lower().startswith("mailto:"):
        raise ConfigError("%s: write the address without 'mailto:', got %r" % (field, value))
    local, sep, domain = value.rpartition("@")
    if not sep or not local or len(local) > 64 or not _LOCAL_PART_RE.match(local):
        raise ConfigError("%s: %r is not an e-mail address (local@domain, no spaces, quotes or display name)"
                          % (field, value))
    grammar.hostname(domain, field + " (domain)", ipv4=False, ipv6=False)
    if "." not in domain.strip("."):
        raise ConfigError("%s: %r: the domain of an e-mail address needs a dot" % (field, value))
    return value


def renew_window(value, field):
    """When before expiry a certificate is renewed: N% of its lifetime left, or Nd days / Nh hours / Ns seconds
    left."""
    grammar.safe_text(value, field, 16)
    match = _RENEW_RE.match(value)
    if not match:
        raise ConfigError("%s: %r must be a number followed by d (days), h (hours), s (seconds) or %% (of the "
                          "certificate's lifetime left), such as 33%% or 30d" % (field, value))
    low, high, unit = _RENEW_LIMITS[match.group(2)]
    if not low <= int(match.group(1)) <= high:
        raise ConfigError("%s: %r must be between %d and %d %s" % (field, value, low, high, unit))
    return value


def site_renew_window(value, field):
    """A site's renewal window: N% of the lifetime left, 1 to 50 (a fixed time is the operator's renew_window)."""
    renew_window(value, field)
    low, high = SITE_RENEW_PERCENT
    if not value.endswith("%") or not low <= int(value[:-1]) <= high:
        raise ConfigError("%s: %r: a site's renewal window is a share of the certificate's lifetime, %d%% to %d%% "
                          "(such as 33%%). A fixed time can be longer than the CA's lifetime, and mod_md would then "
                          "order again after every restart; it is the operator's setting (the role's "
                          "apache_proxy_acme_renew_window, the modules' acme.renew_window)" % (field, value, low, high))
    return value


def _names(server_name, aliases, field):
    """The names of the certificate: the site's server_name and aliases, DNS names only, no wildcard (a wildcard
    needs the DNS challenge, which is not implemented)."""
    out = []
    for i, name in enumerate([server_name] + list(aliases)):
        where = "server_name" if i == 0 else "server_aliases[%d]" % (i - 1)
        if name.startswith("*."):
            raise ConfigError("%s: %s %r is a wildcard; an ACME CA issues wildcards only through the DNS-01 "
                              "challenge, which this collection does not implement. List the names, or use "
                              "certificate files" % (field, where, name))
        if grammar.is_ip_literal(name):
            raise ConfigError("%s: %s %r is an IP address; ACME certificates here are for DNS names"
                              % (field, where, name))
        if "_" in name:
            raise ConfigError("%s: %s %r has an underscore, which a CA does not issue for" % (field, where, name))
        if name.endswith("."):
            # mod_md gives the certificate to the virtual hosts whose names are its names as written:
            # "shop.example.com." is none of them, that host gets no certificate and the graceful reload stops the
            # whole server (a failure the server's config test does not see; review 25).
            raise ConfigError("%s: %s %r ends with a trailing dot; write the name without it (the ACME certificate "
                              "is matched to the site's names as written)" % (field, where, name))
        bare = name.rstrip(".").lower()
        if "." not in bare:
            raise ConfigError("%s: %s %r is not a fully qualified name; a public CA issues for names with a dot"
                              % (field, where, name))
        if bare not in out:
            out.append(bare)
    return out


def normalize_site_acme(value, server_name, aliases, field="tls.acme"):
    """The effective ACME request of a site: names, contact (None: the operator's default), key type, renewal
    window, must-staple, challenge types."""
    if value is None:
        value = {}
    grammar.mapping(value, SITE_ACME_SPEC, field)
    got = dict((k, spec.get("default") if value.get(k) is None else value[k]) for k, spec in SITE_ACME_SPEC.items())
    challenges = got["challenges"]
    if not isinstance(challenges, list) or not challenges or len(challenges) > len(CHALLENGES):
        raise ConfigError("%s.challenges: must be a non-empty list of %s" % (field, ", ".join(CHALLENGES)))
    challenges = [grammar.choice(c, "%s.challenges[%d]" % (field, i), CHALLENGES) for i, c in enumerate(challenges)]
    if len(set(challenges)) != len(challenges):
        raise ConfigError("%s.challenges: lists a challenge twice" % field)
    return {
        "names": _names(server_name, aliases, field),
        "contact": None if got["contact"] is None else contact(got["contact"], field + ".contact"),
        "key_type": grammar.choice(got["key_type"], field + ".key_type", KEY_TYPES),
        "renew_window": (None if got["renew_window"] is None
                         else site_renew_window(got["renew_window"], field + ".renew_window")),
        "must_staple": grammar.boolean(got["must_staple"], field + ".must_staple"),
        "challenges": [c for c in CHALLENGES if c in challenges],
    }


def site_tls(tls_front, site, server_name, aliases):
    """A site's tls with acme: the request alone (the certificate files are the CA's, kept by the server)."""
    files = sorted(k for k in ("certificate_file", "key_file", "chain_file") if tls_front.get(k) is not None)
    if files:
        raise ConfigError("tls.acme: the certificate comes from the ACME CA; remove tls.%s (or remove tls.acme to "
                          "use your own files)" % files[0])
    if site.get("acme_challenge_dir") is not None:
        raise ConfigError("acme_challenge_dir: tls.acme answers the ACME challenges itself; the directory of "
                          "another ACME client would answer the same path. Remove one of them")
    return {"acme": normalize_site_acme(tls_front.get("acme"), server_name, aliases)}


def directory_url(value, field="directory_url"):
    """The CA's ACME directory: https only, no user name or password, no query or fragment, a valid host."""
    grammar.safe_text(value, field, 2048)
    if any(c.isspace() or c in "\"'\\<>`{}|^" for c in value):
        raise ConfigError("%s: %r must not contain spaces, quotes, backslashes or <>{}|^`" % (field, value))
    match = _URL_RE.match(value)
    if not match:
        if not value.lower().startswith("https://"):
            raise ConfigError("%s: %r must be an https:// URL (the account key and the orders travel over it)"
                              % (field, value))
        raise ConfigError("%s: %r must be https://host[:port]/path, without a query or fragment" % (field, value))
    authority = match.group(1)
    if "@" in authority:
        raise ConfigError("%s: %r holds a user name or password; an ACME directory needs none (an external "
                          "account binding is its own setting: eab_kid and eab_hmac)" % (field, value))
    host, port = authority, None
    if authority.startswith("["):
        host, sep, rest = authority[1:].partition("]")
        if not sep:
            raise ConfigError("%s: %r has an unclosed '[' in its address" % (field, value))
        if rest:
            if not rest.startswith(":"):
                raise ConfigError("%s: %r has an invalid address" % (field, value))
            port = rest[1:]
        grammar.ip_literal(host, field + " (host)")
    else:
        if ":" in authority:
            host, port = authority.rsplit(":", 1)
        grammar.hostname(host, field + " (host)", ipv6=False)
    if port is not None:
        if not port.isdigit():
            raise ConfigError("%s: %r has an invalid port" % (field, value))
        grammar.port(int(port), field + " (port)")
    return value


def _eab(settings):
    kid, hmac = settings.get("eab_kid"), settings.get("eab_hmac")
    if (kid is None) != (hmac is None):
        raise ConfigError("eab_kid, eab_hmac: an external account binding needs both (the key id and its HMAC key "
                          "from the CA)")
    if kid is None:
        return None
    grammar.safe_text(kid, "eab_kid", 256)
    if not _EAB_KID_RE.match(kid):
        raise ConfigError("eab_kid: must be a key id of letters, digits, '_', '.', '-'")
    grammar.safe_text(hmac, "eab_hmac", 600)
    if not _EAB_HMAC_RE.match(hmac):
        # The value is secret: never in the message.
        raise ConfigError("eab_hmac: must be the CA's base64url HMAC key (16 to 512 characters of A-Z a-z 0-9 - _)")
    return {"kid": kid, "hmac": hmac}


def _ports(settings):
    out = {}
    for key in ("status_port", "http_port", "https_port"):
        value = settings.get(key)
        if key == "status_port" and value is None:
            value = DEFAULT_STATUS_PORT
        out[key] = None if value is None else grammar.port(value, key)
    return out


def check_settings(settings, policy=None, ca_path=None):
    """The operator's ACME settings, effective (defaults filled in). `ca_path`: where the role deploys ca_content
    (the layout's). Refuses what would call another address, carry credentials in a URL, or read a file outside the
    policy's served roots."""
    policy = policy or _policy.DEFAULT_POLICY
    settings = dict((k, v) for k, v in (settings or {}).items() if v is not None)
    grammar.mapping(settings, SETTINGS_SPEC, "acme")
    ca_file, ca_content = settings.get("ca_file"), settings.get("ca_content")
    if ca_file is not None and ca_content is not None:
        raise ConfigError("ca_file, ca_content: give one (a file on the proxy, or PEM the role deploys)")
    if ca_file is not None:
        ca_file = _policy.served_path(ca_file, "ca_file", policy, "file")
    if ca_content is not None:
        _pem.check_certificates(ca_content, "ca_content", max_blocks=20)
        ca_content = ca_content.strip() + "\n"
        ca_file = ca_path
    agreement = grammar.boolean(settings.get("agreement", False), "agreement")
    default_contact = settings.get("contact")
    out = {
        "directory_url": directory_url(settings.get("directory_url", LETS_ENCRYPT)),
        "ca_file": ca_file,
        "ca_content": ca_content,
        "agreement": agreement,
        "contact": None if default_contact is None else contact(default_contact, "contact"),
        "eab": _eab(settings),
        "renew_window": renew_window(settings.get("renew_window", DEFAULT_RENEW_WINDOW), "renew_window"),
    }
    out.update(_ports(settings))
    if out["http_port"] is not None and out["http_port"] == out["status_port"]:
        raise ConfigError("status_port: %d is also http_port; the status port must be a loopback port of its own"
                          % out["status_port"])
    return out


def check_sites_against(settings, sites):
    """What the sites asking for ACME need of the operator's settings: the agreement accepted, a contact, their
    ports not the status port. Returns the ACME sites."""
    acme_sites = [s for s in sites if (s.get("tls") or {}).get("acme")]
    if acme_sites and not settings["agreement"]:
        raise ConfigError("site %r: tls.acme needs the operator to accept the CA's terms of service (the role's "
                          "apache_proxy_acme_agreement: true, the modules' acme.agreement); read them at the CA's "
                          "directory (%s) first" % (acme_sites[0]["name"], settings["directory_url"]))
    _one_account_contact(settings, acme_sites)
    for site in acme_sites:
        if not site["tls"]["acme"]["contact"] and not settings["contact"]:
            raise ConfigError("site %r: tls.acme.contact: an ACME account needs a contact address; set it here or the "
                              "operator's default (the role's apache_proxy_acme_contact, the modules' acme.contact)"
                              % site["name"])
    for site in sites if acme_sites else []:
        redirect = (site.get("frontend") or {}).get("redirect") or {}
        for field, port in (("listen.port", site["listen"]["port"]), ("redirect_http_port", redirect.get("port"))):
            if port == settings["status_port"]:
                raise ConfigError("site %r: %s: %d is the ACME status port (the operator's status_port, on "
                                  "127.0.0.1); choose another" % (site["name"], field, port))
    return acme_sites


def _one_account_contact(settings, acme_sites):
    """mod_md keeps one ACME account per CA for every managed domain, registered with the contact of the first
    domain it orders: a site's contact is the account's, so the sites' addresses must be the operator's (when set) or
    all the same. Otherwise whichever site is ordered first (a survey user's) gets the CA's mail about every site."""
    first = None
    for site in acme_sites:
        mine = site["tls"]["acme"]["contact"]
        if mine is None:
            continue
        if settings["contact"] is not None and mine.lower() != settings["contact"].lower():
            raise ConfigError("site %r: tls.acme.contact: %r is not the operator's contact; mod_md registers one "
                              "ACME account per CA for every site with the contact of the first site it orders, so "
                              "this address would get the CA's mail about every site. Leave it unset (the role's "
                              "apache_proxy_acme_contact, the modules' acme.contact)" % (site["name"], mine))
        if first is not None and mine.lower() != first[1].lower():
            raise ConfigError("site %r: tls.acme.contact: %r differs from site %r's %r; mod_md registers one ACME "
                              "account per CA for every site, with the contact of the first site it orders. Set one "
                              "address for all (the role's apache_proxy_acme_contact, the modules' acme.contact)"
                              % (site["name"], mine, first[0], first[1]))
        first = first or (site["name"], mine)
