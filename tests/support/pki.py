#!/usr/bin/env python
"""Certificate factory for tests and the demo, built on ``cryptography``.

Example::

    p = PKI(tmp_path)
    root = p.ca("Test Root CA")
    inter = p.ca("Test Intermediate CA", issuer=root)
    leaf = p.leaf("backend", dns=["backend.test"], issuer=inter)
    leaf.chain_path   # leaf + intermediate (what a server sends)
    root.cert_path    # what goes into SSLProxyCACertificateFile

Files are named after a stem under the PKI directory (``<stem>.pem``, ``<stem>.key``, ``<stem>-chain.pem``,
``<stem>-bundle.pem``); creating the same stem again overwrites them.

CLI (used by ``make demo``)::

    python tests/support/pki.py demo DIR --name backend.demo.test

writes DIR/ca.pem (root), DIR/backend-chain.pem (leaf + intermediate) and DIR/backend.key; it does nothing and prints
"unchanged" when those files exist and the leaf is valid for more than 30 more days.
"""
import argparse
import datetime
import ipaddress
import os
import re
import subprocess
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["PKI", "Cert", "load_cert", "utcnow", "main"]

DEFAULT_VALIDITY = datetime.timedelta(days=365)
DEFAULT_BACKDATE = datetime.timedelta(days=1)

# Legacy signatures (``digest="sha1"``/``"md5"``): cryptography >= 39 refuses to sign certificates with them, so the
# certificate is built with sha256WithRSAEncryption and re-signed here. The three OIDs have the same DER length, so
# the TBSCertificate changes in one byte (the signature AlgorithmIdentifier) and is then signed with the weak digest.
_RSA_SIG_OID = {"sha256": b"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0b",
                "sha1": b"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x05",
                "md5": b"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x04"}


def _der(tag, body):
    """One DER TLV."""
    n = len(body)
    if n < 0x80:
        length = bytes([n])
    else:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + length + body


def _resign(cert, signing_key, digest):
    """``cert`` (signed sha256WithRSAEncryption by ``signing_key``) re-signed with the legacy ``digest``."""
    if not isinstance(signing_key, rsa.RSAPrivateKey):
        raise ValueError("digest=%r needs an RSA signing key (key_type='rsa...')" % (digest,))
    tbs = cert.tbs_certificate_bytes
    if _RSA_SIG_OID["sha256"] not in tbs:  # pragma: no cover
        raise ValueError("certificate is not signed with sha256WithRSAEncryption")
    tbs = tbs.replace(_RSA_SIG_OID["sha256"], _RSA_SIG_OID[digest], 1)
    algorithm = {"sha1": hashes.SHA1(), "md5": hashes.MD5()}[digest]
    signature = signing_key.sign(tbs, padding.PKCS1v15(), algorithm)
    alg_id = _der(0x30, _RSA_SIG_OID[digest] + b"\x05\x00")
    return x509.load_der_x509_certificate(_der(0x30, tbs + alg_id + _der(0x03, b"\x00" + signature)))


def utcnow():
    """Timezone-aware current UTC time."""
    return datetime.datetime.now(datetime.timezone.utc)


def _when(value, default):
    """Accept None (-> default), a datetime (naive means UTC) or a timedelta relative to now."""
    if value is None:
        value = default
    if isinstance(value, datetime.timedelta):
        return utcnow() + value
    if value.tzinfo is None:
        return value.replace(tzinfo=datetime.timezone.utc)
    return value


def _slug(name):
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-").lower() or "cert"


def _write(path, data, mode=0o644):
    """Write bytes atomically enough for tests, forcing the file mode even if the file already existed."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(path, mode)
    return path


def load_cert(path):
    """Load the first certificate of a PEM file."""
    with open(path, "rb") as handle:
        return x509.load_pem_x509_certificate(handle.read())


class Cert:
    """A certificate with its key and files. CAs (``is_ca``) can sign further certificates through :class:`PKI`."""

    def __init__(self, stem, cert, key, issuer, directory, is_ca=False, key_password=None):
        self.stem = stem
        self.cert = cert
        self.key = key
        self.issuer = issuer
        self.is_ca = is_ca
        self.key_password = key_password
        self.cert_path = os.path.join(directory, stem + ".pem")
        self.key_path = os.path.join(directory, stem + ".key")
        self.chain_path = os.path.join(directory, stem + "-chain.pem")
        self.bundle_path = os.path.join(directory, stem + "-bundle.pem")
        self._write_files()

    @property
    def pem(self):
        """The certificate alone, PEM text."""
        return self.cert.public_bytes(serialization.Encoding.PEM).decode("ascii")

    @property
    def key_pem(self):
        """The key as written to ``key_path`` (traditional format; encrypted when ``key_password`` was given)."""
        if self.key_password:
            encryption = serialization.BestAvailableEncryption(self.key_password.encode())
        else:
            encryption = serialization.NoEncryption()
        return self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, encryption).decode("ascii")

    @property
    def subject_cn(self):
        """The subject commonName, or None for a certificate without one."""
        attrs = self.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        return attrs[0].value if attrs else None

    @property
    def is_self_signed(self):
        """True for roots and self-signed leaves."""
        return self.issuer is None or self.issuer is self

    @property
    def intermediates(self):
        """The issuing CAs above this certificate, excluding the self-signed root (what a server sends after its leaf)."""
        out = []
        node = None if self.is_self_signed else self.issuer
        while node is not None and not node.is_self_signed:
            out.append(node)
            node = node.issuer
        return out

    @property
    def root(self):
        """The self-signed anchor at the top of this certificate's chain."""
        node = self
        while not node.is_self_signed:
            node = node.issuer
        return node

    @property
    def chain_pem(self):
        """This certificate followed by its intermediates (never the root unless this is the root)."""
        return self.pem + "".join(c.pem for c in self.intermediates)

    @property
    def not_after(self):
        """Expiry, timezone-aware UTC."""
        return self.cert.not_valid_after_utc

    def _write_files(self):
        _write(self.cert_path, self.pem.encode())
        _write(self.key_path, self.key_pem.encode(), 0o600)
        _write(self.chain_path, self.chain_pem.encode())
        _write(self.bundle_path, (self.pem + self.key_pem).encode(), 0o600)

    def __repr__(self):
        return "<Cert %s CN=%s%s>" % (self.stem, self.subject_cn, " CA" if self.is_ca else "")


class PKI:
    """A directory of test certificates. ``key_type`` is ``"ec"`` (P-256, default, fast) or ``"rsa"`` (2048 bits);
    ``"rsa<bits>"`` (e.g. ``"rsa1024"``, ``"rsa512"``) makes a legacy-size RSA key: the openssl CLI generates the
    sizes below 1024 bits that cryptography refuses. ``digest="sha1"``/``"md5"`` on ``ca()``/``leaf()`` signs the
    certificate with that legacy digest (RSA issuers only)."""

    def __init__(self, directory, key_type="ec"):
        self.directory = os.path.abspath(str(directory))
        os.makedirs(self.directory, exist_ok=True)
        self.key_type = key_type

    def path(self, name):
        """Absolute path of a file in the PKI directory."""
        return os.path.join(self.directory, name)

    def new_key(self, key_type=None):
        """A fresh private key."""
        key_type = key_type or self.key_type
        if key_type == "rsa":
            return rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if key_type == "ec":
            return ec.generate_private_key(ec.SECP256R1())
        match = re.match(r"rsa(\d+)$", key_type)
        if match:
            bits = int(match.group(1))
            if bits >= 1024:
                return rsa.generate_private_key(public_exponent=65537, key_size=bits)
            pem = subprocess.run(["openssl", "genrsa", str(bits)], check=True, capture_output=True).stdout
            return serialization.load_pem_private_key(pem, None)
        raise ValueError("unknown key_type %r" % (key_type,))

    @staticmethod
    def _sign(builder, signing_key, digest=None):
        cert = builder.sign(signing_key, hashes.SHA256())
        if digest in (None, "sha256"):
            return cert
        return _resign(cert, signing_key, digest)

    def _builder(self, subject, issuer, key, not_before, not_after):
        issuer_name = subject if issuer is None else issuer.cert.subject
        builder = (x509.CertificateBuilder()
                   .subject_name(subject)
                   .issuer_name(issuer_name)
                   .public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(_when(not_before, -DEFAULT_BACKDATE))
                   .not_valid_after(_when(not_after, DEFAULT_VALIDITY)))
        builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        signer_pub = key.public_key() if issuer is None else issuer.key.public_key()
        builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signer_pub), critical=False)
        return builder

    def ca(self, name, issuer=None, not_before=None, not_after=None, key_usage=True, *, stem=None, key_type=None, path_length=None,
           digest=None):
        """A CA: self-signed root when ``issuer`` is None, else an intermediate signed by ``issuer``.

        ``key_usage=False`` omits the keyUsage extension. ``not_before``/``not_after``: datetime or timedelta from now.
        """
        key = self.new_key(key_type)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        builder = self._builder(subject, issuer, key, not_before, not_after)
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        if key_usage:
            builder = builder.add_extension(x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        cert = self._sign(builder, key if issuer is None else issuer.key, digest)
        return Cert(stem or _slug(name), cert, key, issuer, self.directory, is_ca=True)

    def leaf(self, name_or_stem, dns=None, ips=None, cn=None, issuer=None, not_before=None, not_after=None, client=False, *,
             encrypted_key_password=None, key_type=None, self_signed=False, digest=None):
        """An end-entity certificate (serverAuth, or clientAuth when ``client``), files named after ``name_or_stem``.

        The subject CN is ``cn``, else the first DNS name, else ``name_or_stem``. A subjectAltName is added only when
        ``dns`` or ``ips`` are given, so CN-only certificates are possible. ``issuer`` is required unless self-signed.
        ``encrypted_key_password`` writes ``key_path`` (and the bundle) encrypted with that pass phrase.
        """
        dns = list(dns or [])
        ips = list(ips or [])
        if issuer is None and not self_signed:
            raise ValueError("leaf() needs issuer=<CA> (or use self_signed())")
        key = self.new_key(key_type)
        common_name = cn if cn is not None else (dns[0] if dns else name_or_stem)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)] if common_name else [])
        builder = self._builder(subject, None if self_signed else issuer, key, not_before, not_after)
        builder = builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        is_rsa = isinstance(key, rsa.RSAPrivateKey)
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=is_rsa, data_encipherment=False,
            key_agreement=False, key_cert_sign=self_signed, crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        eku = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
        builder = builder.add_extension(x509.ExtendedKeyUsage([eku]), critical=False)
        if dns or ips:
            names = [x509.DNSName(d) for d in dns] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        cert = self._sign(builder, key if self_signed else issuer.key, digest)
        obj = Cert(_slug(name_or_stem), cert, key, None if self_signed else issuer, self.directory, key_password=encrypted_key_password)
        return obj

    def self_signed(self, name_or_stem, dns=None, ips=None, cn=None, not_before=None, not_after=None, client=False, **kwargs):
        """A self-signed end-entity certificate (usable as its own trust anchor, i.e. pinned)."""
        return self.leaf(name_or_stem, dns=dns, ips=ips, cn=cn, not_before=not_before, not_after=not_after, client=client,
                         self_signed=True, **kwargs)

    def chain(self, depth, stem="chain", root_name="Test Root CA"):
        """A root plus ``depth`` intermediates; returns the list [root, int1, ..., intN]."""
        cas = [self.ca(root_name, stem=stem + "-root")]
        for i in range(depth):
            cas.append(self.ca("%s Intermediate %d" % (root_name, i + 1), issuer=cas[-1], stem="%s-int%d" % (stem, i + 1)))
        return cas

    def crl(self, ca, revoked=(), *, stem=None, next_update=None, last_update=None):
        """Write a PEM CRL issued by ``ca`` revoking ``revoked`` (Cert objects or serial numbers); returns its path."""
        builder = (x509.CertificateRevocationListBuilder()
                   .issuer_name(ca.cert.subject)
                   .last_update(_when(last_update, -datetime.timedelta(hours=1)))
                   .next_update(_when(next_update, datetime.timedelta(days=7))))
        for item in revoked:
            serial = item if isinstance(item, int) else item.cert.serial_number
            entry = (x509.RevokedCertificateBuilder().serial_number(serial)
                     .revocation_date(utcnow() - datetime.timedelta(minutes=5)).build())
            builder = builder.add_revoked_certificate(entry)
        builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False)
        builder = builder.add_extension(x509.CRLNumber(1), critical=False)
        crl = builder.sign(ca.key, hashes.SHA256())
        path = self.path((stem or ca.stem + "-crl") + ".pem")
        return _write(path, crl.public_bytes(serialization.Encoding.PEM))

    def concat(self, name, *items):
        """Write the PEMs of several Cert objects (or file paths) into one file, e.g. a CA bundle; returns its path."""
        parts = []
        for item in items:
            if isinstance(item, Cert):
                parts.append(item.pem)
            else:
                with open(item, "r", encoding="ascii") as handle:
                    parts.append(handle.read())
        return _write(self.path(name), "".join(parts).encode())


def demo(directory, name, min_days=30, key_type="ec"):
    """Create root -> intermediate -> leaf for the demo unless a still-valid set exists. Returns "created" or "unchanged"."""
    ca_path = os.path.join(directory, "ca.pem")
    chain_path = os.path.join(directory, "backend-chain.pem")
    key_path = os.path.join(directory, "backend.key")
    if all(os.path.exists(p) for p in (ca_path, chain_path, key_path)):
        try:
            leaf = load_cert(chain_path)
            sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
            if leaf.not_valid_after_utc - utcnow() > datetime.timedelta(days=min_days) and name in sans:
                return "unchanged"
        except (ValueError, x509.ExtensionNotFound):
            pass
    pki = PKI(directory, key_type=key_type)
    root = pki.ca("revproxy.tls Demo Root CA", stem="ca", not_after=datetime.timedelta(days=3650))
    inter = pki.ca("revproxy.tls Demo Intermediate CA", issuer=root, stem="intermediate", not_after=datetime.timedelta(days=1825))
    pki.leaf("backend", dns=[name], issuer=inter, not_after=datetime.timedelta(days=397))
    return "created"


def main(argv=None):
    """CLI entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_demo = sub.add_parser("demo", help="root -> intermediate -> leaf for the demo backend (idempotent)")
    p_demo.add_argument("directory")
    p_demo.add_argument("--name", default="backend.demo.test", help="DNS name of the backend (SAN and CN)")
    p_demo.add_argument("--min-days", type=int, default=30, help="regenerate when the leaf expires sooner than this")
    p_demo.add_argument("--key-type", choices=("ec", "rsa"), default="ec")
    args = parser.parse_args(argv)
    if args.command == "demo":
        print(demo(args.directory, args.name, args.min_days, args.key_type))
    return 0


if __name__ == "__main__":
    sys.exit(main())
