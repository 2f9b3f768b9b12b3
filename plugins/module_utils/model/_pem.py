# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""PEM inputs (the *_content options and the client certificate/key files the role combines): parsed, exactly the
expected block types, size-limited. The structure is checked with the standard library everywhere; where
`cryptography` is importable (the role installs it on the proxy for the preflight) every certificate and key is also
loaded, and a client key must belong to its certificate.

Error messages never quote the content (it may be a private key).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii
import re

from ansible_collections.revproxy.tls.plugins.module_utils.model._grammar import ConfigError

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    HAS_CRYPTOGRAPHY = True
except ImportError:  # pragma: no cover - exercised on hosts without cryptography
    HAS_CRYPTOGRAPHY = False

MAX_PEM_BYTES = 1024 * 1024  # a full public CA bundle is about 220 KiB

CERTIFICATE = ("CERTIFICATE",)
PRIVATE_KEY = ("PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY")

_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END ([A-Z0-9 ]+)-----", re.S)
_B64_LINE = re.compile(r"^[A-Za-z0-9+/=]*$")


def pem_blocks(value, field, kinds, max_blocks=1000, max_bytes=MAX_PEM_BYTES):
    """Parse PEM text made only of blocks of the given types (whitespace between them). Returns [(type, der)]."""
    if not isinstance(value, str):
        raise ConfigError("%s: must be a string of PEM text" % field)
    if len(value.encode("utf-8")) > max_bytes:
        raise ConfigError("%s: is larger than %d bytes" % (field, max_bytes))
    blocks = []
    pos = 0
    for match in _BLOCK.finditer(value):
        between = value[pos:match.start()]
        if between.strip():
            raise ConfigError("%s: holds text outside PEM blocks (only %s blocks are accepted)"
                              % (field, " / ".join(kinds)))
        pos = match.end()
        label, body, end_label = match.group(1), match.group(2), match.group(3)
        if label != end_label:
            raise ConfigError("%s: a PEM block begins as %s and ends as %s" % (field, label, end_label))
        if label not in kinds:
            hint = " (a private key never belongs here)" if "PRIVATE KEY" in label else ""
            raise ConfigError("%s: holds a %s block; only %s accepted%s" % (field, label, " / ".join(kinds), hint))
        lines = [line.strip() for line in body.splitlines()]
        if any(":" in line for line in lines):
            raise ConfigError("%s: PEM headers (encrypted or legacy PEM) are not accepted; use unencrypted PKCS#8 "
                              "or PKCS#1/SEC1 PEM" % field)
        if not all(_B64_LINE.match(line) for line in lines):
            raise ConfigError("%s: a %s block is not valid base64" % (field, label))
        try:
            der = base64.b64decode("".join(lines).encode("ascii"), validate=True)
        except (binascii.Error, ValueError):
            raise ConfigError("%s: a %s block is not valid base64" % (field, label))
        if len(der) < 2 or der[0] != 0x30:
            raise ConfigError("%s: a %s block does not hold DER data" % (field, label))
        blocks.append((label, der))
        if len(blocks) > max_blocks:
            raise ConfigError("%s: holds more than %d PEM blocks" % (field, max_blocks))
    if value[pos:].strip():
        raise ConfigError("%s: holds text outside PEM blocks (only %s blocks are accepted)"
                          % (field, " / ".join(kinds)))
    if not blocks:
        raise ConfigError("%s: holds no PEM %s block" % (field, " / ".join(kinds)))
    return blocks


def _load_certs(blocks, field):
    certs = []
    for _label, der in blocks:
        try:
            certs.append(x509.load_der_x509_certificate(der))
        except ValueError:
            raise ConfigError("%s: a CERTIFICATE block is not a valid X.509 certificate" % field)
    return certs


def _load_key(der, field):
    try:
        return serialization.load_der_private_key(der, password=None)
    except (ValueError, TypeError):
        raise ConfigError("%s: is not a usable unencrypted private key" % field)
    except Exception:  # pylint: disable=broad-except  # unsupported algorithms raise their own types
        raise ConfigError("%s: is not a usable private key" % field)


def check_certificates(value, field, max_blocks=1000):
    """PEM text of one or more certificates (a CA bundle, a chain). Returns the number of certificates."""
    blocks = pem_blocks(value, field, CERTIFICATE, max_blocks=max_blocks)
    if HAS_CRYPTOGRAPHY:
        _load_certs(blocks, field)
    return len(blocks)


def _public_bytes(public_key):
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def check_client_pair(cert_text, key_text, cert_field, key_field, server=None):
    """A client certificate (exactly one) and its unencrypted private key: parsed, and matching when cryptography is
    there. `server` (model/_server.py) words what the server would do with each refused file (its consequence())."""
    def why(key):
        return server.consequence(key) if server is not None else ""
    cert_blocks = pem_blocks(cert_text, cert_field, CERTIFICATE)
    if len(cert_blocks) != 1:
        raise ConfigError("%s: must hold only the client certificate; put its intermediates in client_chain_content "
                          "or client_chain_file%s" % (cert_field, why("one_cert")))
    if "ENCRYPTED" in key_text:
        raise ConfigError("%s: must be an unencrypted PEM private key%s" % (key_field, why("encrypted")))
    key_blocks = pem_blocks(key_text, key_field, PRIVATE_KEY)
    if len(key_blocks) != 1:
        raise ConfigError("%s: must hold exactly one private key" % key_field)
    if HAS_CRYPTOGRAPHY:
        cert = _load_certs(cert_blocks, cert_field)[0]
        key = _load_key(key_blocks[0][1], key_field)
        if _public_bytes(key.public_key()) != _public_bytes(cert.public_key()):
            raise ConfigError("%s: does not belong to the certificate of %s%s" % (key_field, cert_field,
                                                                                  why("mismatch")))
