# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""What verification on takes, derived from what each backend presents (apache_proxy_audit).

presented_chains() fetches the chain each backend sends (a handshake with verification off, with the SNI Apache would
send and the client certificate it is configured with). chain_facts() reads from it the issuer and its key
identifier, whether the top certificate is a root, and the depth mod_ssl needs (a certificate at depth N of the
built chain fails when N > SSLProxyVerifyDepth; the root is at depth len(chain) when the backend does not send it).
secure_candidates() gives the settings to try with verification on: the CA the configuration already names, then
the system bundle (a chain ending in a public root); the checker then says which works. propose_site() writes the
apache_proxy_sites entry of one vhost, validated by the model (normalize_site with Apache's profile), with what it
could not carry over.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

from ansible_collections.revproxy.tls.plugins.module_utils.model._backend_tls import weak_cipher_words
from ansible_collections.revproxy.tls.plugins.module_utils.model._grammar import ConfigError
from ansible_collections.revproxy.tls.plugins.module_utils.model._sites import normalize_site
from ansible_collections.revproxy.tls.plugins.module_utils.tls import _checker, _loop, _tls_probe
from ansible_collections.revproxy.tls.plugins.module_utils.tls._mod_ssl import authority_key_id

SYSTEM_BUNDLES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt")
SECURE_DEPTH = 4  # the collection's default SSLProxyVerifyDepth; a longer chain gets what it needs
_SLUG = re.compile(r"[^a-z0-9_.-]+")


def system_bundle(candidates=SYSTEM_BUNDLES):
    for path in candidates:
        if os.path.isfile(path):
            return path
    return None


def _key_id(cert, oid_name):
    from cryptography import x509
    try:
        ext = cert.extensions.get_extension_for_class(getattr(x509, oid_name)).value
    except Exception:  # ExtensionNotFound, a malformed extension
        return None
    value = getattr(ext, "key_identifier", None if oid_name == "AuthorityKeyIdentifier" else ext.digest)
    return ":".join("%02X" % b for b in bytearray(value)) if value else None


def chain_facts(chain):
    """What a served chain (leaf first, cryptography certificates) tells the secure proposal, or None."""
    if not chain:
        return None
    top = chain[-1]
    self_signed = top.issuer == top.subject
    depth = len(chain) - 1 if self_signed else len(chain)
    leaf = chain[0]
    return {"served": len(chain), "depth_needed": max(depth, 1 if len(chain) > 1 or not self_signed else 0),
            "top_subject": top.subject.rfc4514_string(), "top_issuer": top.issuer.rfc4514_string(),
            "top_self_signed": self_signed,
            "issuer_key_id": (_key_id(top, "SubjectKeyIdentifier") if self_signed
                              else authority_key_id(top) or _key_id(top, "AuthorityKeyIdentifier")),
            "leaf_subject": leaf.subject.rfc4514_string(), "leaf_issuer": leaf.issuer.rfc4514_string()}


def presented_chains(entries, semantics, timeout, concurrency=16):
    """The probe's facts for each backends[] entry ({} when none ran), verification off: facts['served_chain'] is
    the chain the backend sends, facts['handshake'] whether it asked for a client certificate and from which CAs."""
    probes = [dict(e, verify="none", check_peer_name=False, check_peer_expire=False) for e in entries]
    for p in probes:
        for key in ("ca_file", "ca_path", "crl_file", "crl_path", "crl_check"):
            p.pop(key, None)
    checks = _checker.build_checks_from_backends(probes, semantics)
    _checker._attach_contexts(checks)  # pylint: disable=protected-access

    def task(check):
        if check.get("refused") or check.get("context") is None:
            return None
        spec = {"url": check["url"], "sni": check["sni"], "path": check["request_path"],
                "request_host": check["url"].host}
        return _tls_probe.probe_steps(spec, check["context"], timeout, False)

    facts = _loop.run_loop([(lambda c=c: task(c)) for c in checks], concurrency)
    return [f if isinstance(f, dict) else {} for f in facts]


def client_request(facts, tls):
    """What the backend said about a client certificate during the handshake, in one line (None: it asked none)."""
    hs = (facts or {}).get("handshake") or {}
    if not hs.get("cert_requested"):
        return None
    names = "; ".join(hs.get("ca_list") or []) or "any issuer (no list sent)"
    if tls.get("client_cert_file"):
        return "the backend asks for a client certificate (acceptable issuers: %s); %s is configured for it" % (
            names, tls["client_cert_file"])
    return ("the backend asks for a client certificate (acceptable issuers: %s) and none is configured: give the "
            "proxy one issued by one of them (client_cert_file)" % names)


def secure_candidates(tls, facts, bundle, semantics):
    """[(trust, settings)] to try with verification on, in order: the CA already configured, the system bundle."""
    depth = max(SECURE_DEPTH, (facts or {}).get("depth_needed") or 0)
    base = dict(tls, verify="require", verify_depth=depth, check_peer_name=True, check_peer_expire=True,
                protocols=["TLSv1.2", "TLSv1.3"])
    if base.get("ciphers") and weak_cipher_words(base["ciphers"], semantics):
        base.pop("ciphers")
    out = []
    if tls.get("ca_file") or tls.get("ca_path"):
        out.append(("configured", base))
    if bundle and tls.get("ca_file") != bundle:
        cand = dict(base, ca_file=bundle)
        cand.pop("ca_path", None)
        out.append(("system_bundle", cand))
    if not out:
        out.append(("none", base))
    return out


def trust_text(trust, tls, facts):
    """One line: which CA the secure settings trust, or which one the operator must add."""
    if trust == "configured":
        return "the CA already configured (%s) holds the root of the backend's chain" % (
            tls.get("ca_file") or tls.get("ca_path"))
    if trust == "system_bundle":
        return "the chain ends in a public root: trust the system bundle %s (mod_ssl never reads it by itself)" % (
            tls.get("ca_file"))
    if trust == "unproven":
        return ("with the system bundle %s the check still fails for another reason first (the secure verdict): "
                "which CA to trust is not shown until that is fixed" % tls.get("ca_file"))
    if not facts:
        return "no certificate was received: the CA to trust cannot be told"
    if facts["top_self_signed"] and facts["served"] == 1:
        return ("the backend presents a self-signed certificate %s (key id %s): trust that certificate itself, or "
                "better, issue the backend a certificate from a private CA"
                % (facts["top_subject"], facts["issuer_key_id"]))
    return ("trust the private CA that issued %s: its root is %s (key id %s); put that root in a CA file for "
            "SSLProxyCACertificateFile" % (facts["top_subject"], facts["top_issuer"] if not facts["top_self_signed"]
                                           else facts["top_subject"], facts["issuer_key_id"] or "unknown"))


def slug(name):
    text = _SLUG.sub("-", (name or "site").lower()).strip("-.")
    return text or "site"


def _listen(address):
    host, _sep, port = address.rpartition(":")
    out = {}
    if port.isdigit():
        out["port"] = int(port)
    if host and host not in ("*", "_default_"):
        out["address"] = host.strip("[]")
    return out


def _frontend(settings):
    def arg(key):
        item = settings.get(key)
        return item["args"][0] if item and item["args"] else None
    if (arg("sslengine") or "").lower() != "on" or not arg("sslcertificatefile"):
        return None
    tls = {"certificate_file": arg("sslcertificatefile"),
           "key_file": arg("sslcertificatekeyfile") or arg("sslcertificatefile")}
    if arg("sslcertificatechainfile"):
        tls["chain_file"] = arg("sslcertificatechainfile")
    return tls


def propose_site(vhost, results, tls_dir, server, in_file=1):
    """The apache_proxy_sites entry that serves one vhost's proxying securely, validated by the model.
    results: the audit results of the vhost (each with route, url, balancer, preserve_host, secure settings);
    in_file: how many vhosts the vhost's file holds (the site's `replaces` takes the whole file over).
    Returns {site, valid, error, not_carried, replaces}."""
    not_carried = []
    names = vhost["names"]
    site = {"name": slug(names[0] if names else os.path.basename(vhost["file"] or "site"))}
    stem = os.path.basename(vhost["file"] or "")
    if stem.endswith(".conf") and site["name"] == stem[:-len(".conf")]:
        site["name"] += "-site"  # a site adopting the file must not have the file's name
    if not names:
        not_carried.append("the vhost has no ServerName: a site needs server_name")
    else:
        site["server_name"] = names[0]
        if names[1:]:
            site["server_aliases"] = names[1:]
    if vhost["addresses"]:
        site["listen"] = _listen(vhost["addresses"][0])
        if len(vhost["addresses"]) > 1:
            not_carried.append("only the first address (%s) is carried over" % vhost["addresses"][0])
    front = _frontend(vhost["settings"])
    if front:
        site["tls"] = front
        # The same behaviour: the hand-written vhost answers its own port only (the role would add a port-80
        # redirect vhost, which may be another hand-written file's; turn it on when that one is retired).
        site["redirect_http"] = False
    # What the site's `replaces` takes to adopt the file (the role disables it in the same change that writes the
    # site); a file with other vhosts too is taken over whole, so it is named but not put in the site.
    replaces = {"file": vhost["file"]}
    if names:
        replaces["vhost"] = names[0]
    if in_file == 1:
        site["replaces"] = replaces
    else:
        not_carried.append("%s holds %d vhosts: replaces takes the whole file over (one site for all of them, or "
                           "split the file first)" % (vhost["file"], in_file))
    locations = {}
    for res in results:
        route = res["route"]
        if route["regex"]:
            not_carried.append("%s %s (%s:%s): a regular expression; a site's location is a path prefix"
                               % (route["kind"], route["path"], route["file"], route["line"]))
            continue
        loc = locations.setdefault(route["path"], {"path": route["path"], "backend_tls": res["secure_tls"]})
        if res.get("balancer"):
            loc.setdefault("backends", []).append({"url": res["url"]})
        else:
            loc["backend"] = res["url"]
        if res["preserve_host"]:
            site["preserve_host"] = True
    site["locations"] = list(locations.values())
    if not site["locations"]:
        return {"site": site, "valid": False, "error": "no route can be carried over", "not_carried": not_carried}
    error = None
    try:
        normalize_site(_for_model(site), tls_dir=tls_dir, server=server)
    except (ConfigError, TypeError, ValueError) as exc:
        error = str(exc)
    return {"site": site, "valid": error is None and not not_carried, "error": error, "not_carried": not_carried,
            "replaces": replaces}


def _for_model(site):
    """The site as the role takes it: the secure settings' None keys dropped."""
    out = dict(site)
    out["locations"] = [dict(loc, backend_tls=dict((k, v) for k, v in loc["backend_tls"].items() if v is not None))
                        for loc in site["locations"]]
    return out
