# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""Readings of what the probe observed that every server's semantics share: OpenSSL's X509 verify error texts, a
certificate's fields for the messages (subject, issuer, validity, key, signature digest, authority key id), and
whether the first bytes a backend sent are a TLS record or plain HTTP. No server's rule is here."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.revproxy.tls.plugins.module_utils.tls._pyopenssl_compat import cert_not_after, cert_not_before

# X509_verify_cert_error_string() texts as OpenSSL 3.x prints them (what the servers on Debian 12 log).
X509_ERROR_STRINGS = {
    2: "unable to get issuer certificate",
    3: "unable to get certificate CRL",
    4: "unable to decrypt certificate's signature",
    7: "certificate signature failure",
    8: "CRL signature failure",
    9: "certificate is not yet valid",
    10: "certificate has expired",
    11: "CRL is not yet valid",
    12: "CRL has expired",
    18: "self-signed certificate",
    19: "self-signed certificate in certificate chain",
    20: "unable to get local issuer certificate",
    21: "unable to verify the first certificate",
    22: "certificate chain too long",
    23: "certificate revoked",
    24: "invalid CA certificate",
    26: "unsupported certificate purpose",
    27: "certificate not trusted",
    28: "certificate rejected",
    66: "EE certificate key too weak",
    67: "CA certificate key too weak",
    68: "CA signature digest algorithm too weak",
}


def x509_error_string(errnum, fallback=None):
    return X509_ERROR_STRINGS.get(errnum) or fallback or ("X509 verify error %d" % errnum)


def looks_like_http(head):
    head = head or b""
    return head[:5] in (b"HTTP/", b"http/") or b"<html" in head.lower() or b"<!doctype" in head.lower()


def is_tls_record(head):
    return bool(head) and head[0:1] in (b"\x14", b"\x15", b"\x16", b"\x17") and head[1:2] == b"\x03"


def cert_fields(cert, prefix):
    return {
        prefix + "subject": cert.subject.rfc4514_string(),
        prefix + "issuer": cert.issuer.rfc4514_string(),
        prefix + "not_before": cert_not_before(cert).strftime("%Y-%m-%dT%H:%M:%SZ"),
        prefix + "not_after": cert_not_after(cert).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def hex_id(value):
    return ":".join("%02X" % b for b in bytearray(value))


def key_description(cert):
    """'RSA 1024-bit', 'EC secp256r1 (256-bit)', ... of a certificate's public key (cryptography)."""
    try:
        key = cert.public_key()
    except Exception:  # pragma: no cover - an unsupported key type
        return "unsupported key"
    name = type(key).__name__.replace("PublicKey", "").lstrip("_")
    curve = getattr(key, "curve", None)
    size = getattr(key, "key_size", None)
    if curve is not None:
        return "EC %s (%d-bit)" % (curve.name, curve.key_size)
    if size:
        return "%s %d-bit" % (name or "key", size)
    return name or "key"


def signature_digest(cert):
    """The digest of a certificate's signature ('sha1', 'md5', ...), or its OID when cryptography does not name it."""
    try:
        algorithm = cert.signature_hash_algorithm
        if algorithm is not None:
            return algorithm.name.upper().replace("SHA", "SHA-")
    except Exception:  # cryptography.exceptions.UnsupportedAlgorithm (e.g. MD5 in newer releases)
        pass
    oid = cert.signature_algorithm_oid
    return {"1.2.840.113549.1.1.4": "MD5", "1.2.840.113549.1.1.5": "SHA-1",
            "1.2.840.10045.4.1": "SHA-1"}.get(oid.dotted_string, getattr(oid, "_name", None) or oid.dotted_string)


def authority_key_id(cert):
    """The authorityKeyIdentifier's keyIdentifier as colon-separated hex, or None."""
    from cryptography import x509

    try:
        value = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    except (x509.ExtensionNotFound, ValueError):
        return None
    return hex_id(value) if value else None
