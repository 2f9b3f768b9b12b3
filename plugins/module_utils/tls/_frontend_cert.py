# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""Checks of a site's frontend certificate before it goes live (the role's preflight).

check_frontend() takes the texts of the files a site's ``tls`` names and answers, for each problem, a reason, a
message naming the file and a fix: the key must match the certificate, the chain must be complete up to a root (in the
files, or in the trust bundle clients are assumed to have), the certificate must cover server_name and every alias,
and it must be valid now and for at least ``expiry_days`` more days. Pure apart from the caller's reads.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import ipaddress

from ansible_collections.revproxy.tls.plugins.module_utils.model._grammar import ConfigError
from ansible_collections.revproxy.tls.plugins.module_utils.model import _pem

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from cryptography.x509.oid import ExtensionOID
    HAS_CRYPTOGRAPHY = True
except ImportError:  # pragma: no cover - the module reports it
    HAS_CRYPTOGRAPHY = False

SYSTEM_BUNDLES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt")

FIXES = {
    "unreadable": "check the path and that the file is readable by root on the proxy",
    "not_pem": "give a PEM file: certificates (BEGIN CERTIFICATE) in certificate_file/chain_file, an unencrypted "
               "private key in key_file",
    "key_mismatch": "point tls.key_file at the private key of this certificate (or the certificate at the one the "
                    "key belongs to); the server would refuse to start",
    "chain_incomplete": "add the missing intermediate certificate(s) to tls.chain_file (or append them to "
                        "tls.certificate_file, leaf first); clients other than browsers that cache intermediates "
                        "fail otherwise",
    "name_mismatch": "get a certificate whose subjectAltName lists every name of the site, or remove the name from "
                     "server_name/server_aliases",
    "expired": "renew the certificate and deploy the new one",
    "not_yet_valid": "check the proxy's clock, or wait until the certificate's notBefore",
    "expiring": "renew the certificate now (or lower apache_proxy_frontend_expiry_days to accept it)",
}


def _utc(cert, attr):
    value = getattr(cert, attr + "_utc", None)
    if value is None:
        value = getattr(cert, attr).replace(tzinfo=datetime.timezone.utc)
    return value


def _public_bytes(key):
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _signed_by(cert, issuer):
    """True when issuer's key verifies cert's signature (and the names chain)."""
    if cert.issuer != issuer.subject:
        return False
    key = issuer.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), cert.signature_hash_algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm))
        else:
            key.verify(cert.signature, cert.tbs_certificate_bytes)
    except (InvalidSignature, TypeError, ValueError):
        return False
    return True


def _san(cert):
    try:
        ext = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
    except x509.ExtensionNotFound:
        return [], []
    return ext.get_values_for_type(x509.DNSName), [str(ip) for ip in ext.get_values_for_type(x509.IPAddress)]


def name_covered(name, dns_names, ip_names):
    """Whether a certificate with these SANs covers a host name (RFC 6125: a wildcard matches one left-most label;
    IP addresses only as iPAddress SANs)."""
    name = name.lower().rstrip(".")
    try:
        return str(ipaddress.ip_address(name)) in ip_names
    except ValueError:
        pass
    for pattern in dns_names:
        pattern = pattern.lower().rstrip(".")
        if pattern == name:
            return True
        if pattern.startswith("*.") and not name.startswith("*."):
            head, _sep, rest = name.partition(".")
            if head and rest == pattern[2:]:
                return True
    return False


def _problem(reason, message):
    return {"reason": reason, "message": message, "fix": FIXES[reason]}


def _load(text, field, kinds):
    blocks = _pem.pem_blocks(text, field, kinds)
    certs = [x509.load_der_x509_certificate(der) for label, der in blocks if label == "CERTIFICATE"]
    keys = [der for label, der in blocks if label != "CERTIFICATE"]
    return certs, keys


def check_frontend(site, read, now=None, expiry_days=14, trust_text=None, fixes=None):
    """Problems of one effective site's frontend certificate. read(path) returns the file's text or None.
    trust_text: PEM roots clients trust (default: the system bundle, read with read()). fixes: the server's wording of
    some fixes (reason -> text, e.g. apache/_catalogue.FRONTEND_FIXES), over the neutral FIXES. Returns a result
    dict."""
    tls = site["tls"]
    now = now or datetime.datetime.now(datetime.timezone.utc)
    result = {"site": site["name"], "certificate_file": tls["certificate_file"], "subject": None, "names": [],
              "not_after": None, "days_left": None, "problems": []}
    problems = result["problems"]
    loaded = _load_files(tls, read, problems)
    if loaded is not None:
        leaf, served, key = loaded
        if key is not None and _public_bytes(key.public_key()) != _public_bytes(leaf.public_key()):
            problems.append(_problem("key_mismatch", "tls.key_file (%s) is not the key of tls.certificate_file (%s)"
                                     % (tls["key_file"], tls["certificate_file"])))
        result["subject"] = leaf.subject.rfc4514_string()
        dns_names, ip_names = _san(leaf)
        result["names"] = dns_names + ip_names
        problems.extend(_chain_problems(leaf, served, _trusted(read, trust_text), tls["certificate_file"]))
        for i, name in enumerate([site["server_name"]] + site["server_aliases"]):
            if not name_covered(name, dns_names, ip_names):
                field = "server_name" if i == 0 else "server_aliases[%d]" % (i - 1)
                problems.append(_problem("name_mismatch", "%s %r is not covered by the certificate (subjectAltName: "
                                         "%s)" % (field, name, ", ".join(result["names"]) or "none")))
        problems.extend(_validity_problems(leaf, now, expiry_days, tls["certificate_file"], result))
    for problem in problems:
        if fixes and problem["reason"] in fixes:
            problem["fix"] = fixes[problem["reason"]]
    return result


def _load_files(tls, read, problems):
    """(leaf, the other certificates served, the private key or None) of the site's tls files; None, with the
    problems appended, when a file cannot be read or parsed."""
    texts = {}
    for key in ("certificate_file", "key_file", "chain_file"):
        if tls.get(key):
            texts[key] = read(tls[key])
            if texts[key] is None:
                problems.append(_problem("unreadable", "tls.%s: %s cannot be read" % (key, tls[key])))
    if problems:
        return None
    try:
        certs, _cert_file_keys = _load(texts["certificate_file"],
                                       "tls.certificate_file (%s)" % tls["certificate_file"],
                                       _pem.CERTIFICATE + _pem.PRIVATE_KEY)
        if not certs:
            raise ConfigError("tls.certificate_file (%s): holds no certificate" % tls["certificate_file"])
        _unused, keys = _load(texts["key_file"], "tls.key_file (%s)" % tls["key_file"], _pem.PRIVATE_KEY)
        chain = []
        if "chain_file" in texts:
            chain, _unused = _load(texts["chain_file"], "tls.chain_file (%s)" % tls["chain_file"], _pem.CERTIFICATE)
    except ConfigError as exc:
        problems.append(_problem("not_pem", str(exc)))
        return None
    except ValueError as exc:
        problems.append(_problem("not_pem", "a certificate is not valid X.509: %s" % exc))
        return None
    try:
        key = serialization.load_der_private_key(keys[0], password=None)
    except (TypeError, ValueError) as exc:
        problems.append(_problem("not_pem", "tls.key_file (%s): not a usable unencrypted private key (%s)"
                                 % (tls["key_file"], exc)))
        key = None
    return certs[0], certs[1:] + chain, key


def _trusted(read, trust_text):
    """The certificates clients are assumed to trust: trust_text, else the first system bundle read() returns."""
    if trust_text is None:
        for path in SYSTEM_BUNDLES:
            trust_text = read(path)
            if trust_text is not None:
                break
    if not trust_text:
        return []
    try:
        return _load(trust_text, "trust bundle", _pem.CERTIFICATE)[0]
    except (ConfigError, ValueError):
        return []


def _chain_problems(leaf, served, trusted, certificate_file):
    """The chain: from the leaf, through what the files serve, to a self-signed root served or trusted."""
    current, seen = leaf, 0
    while True:
        if _signed_by(current, current):
            return []  # a root (self-signed) reached
        issuer = next((c for c in served if _signed_by(current, c)), None)
        if issuer is None:
            if next((c for c in trusted if _signed_by(current, c)), None) is not None:
                return []
            return [_problem(
                "chain_incomplete", "the chain of %s stops at %r: no certificate for its issuer %r is served (tls."
                "certificate_file, tls.chain_file) or trusted"
                % (certificate_file, current.subject.rfc4514_string(), current.issuer.rfc4514_string()))]
        current, seen = issuer, seen + 1
        if seen > 10:
            return [_problem("chain_incomplete", "the chain of %s is longer than 10 certificates or loops"
                             % certificate_file)]


def _validity_problems(leaf, now, expiry_days, certificate_file, result):
    """Expired, not yet valid, or expiring within expiry_days; fills result's not_after and days_left."""
    not_before, not_after = _utc(leaf, "not_valid_before"), _utc(leaf, "not_valid_after")
    result["not_after"] = not_after.strftime("%Y-%m-%dT%H:%M:%SZ")
    result["days_left"] = int((not_after - now).total_seconds() // 86400)
    if not_after <= now:
        return [_problem("expired", "the certificate %s expired on %s" % (certificate_file, result["not_after"]))]
    if not_before > now:
        return [_problem("not_yet_valid", "the certificate %s is valid only from %s"
                         % (certificate_file, not_before.strftime("%Y-%m-%dT%H:%M:%SZ")))]
    if expiry_days and not_after - now < datetime.timedelta(days=expiry_days):
        return [_problem("expiring", "the certificate %s expires on %s, in less than %d days"
                         % (certificate_file, result["not_after"], expiry_days))]
    return []


def summary(result):
    """One line per problem: 'site 'x': message. Fix: ...'."""
    return ["site %r: %s. Fix: %s" % (result["site"], p["message"], p["fix"]) for p in result["problems"]]
