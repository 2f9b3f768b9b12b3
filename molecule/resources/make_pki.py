#!/usr/bin/env python
"""Certificates for the molecule scenarios, made anew on the controller with tests/support/pki.py on every prepare.

    python molecule/resources/make_pki.py DIR

Writes into DIR (every file is <stem>.pem, <stem>.key, <stem>-chain.pem):
  root / intermediate    the private CA hierarchy the proxy trusts (root.pem goes into SSLProxyCACertificateFile)
  client-root            a separate CA that the mTLS backend trusts for client certificates
  sni, mtls, good        backend leaves (leaf + intermediate in -chain.pem) for sni/mtls/good.backend.test
  wrongname              a valid leaf for other.backend.test (served under bad.backend.test: wrong name)
  expired                a leaf for bad.backend.test that expired yesterday
  rogue-root, untrusted  a leaf (+ its intermediate) for bad.backend.test from a hierarchy the proxy does not trust
  bad                    a valid leaf for bad.backend.test (with ProxyPreserveHost the client's Host is checked)
  pool                   one leaf for pool1/pool2/pool3.backend.test (the pool members of the pools scenario)
  proxy-client           the proxy's client certificate (clientAuth), issued by client-root
  frontend               the proxy's own certificate for *.example.test
"""
import datetime
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests"))

from support.pki import PKI  # noqa: E402  pylint: disable=wrong-import-position


def main(directory):
    os.makedirs(directory, exist_ok=True)
    pki = PKI(directory)
    root = pki.ca("revproxy.tls Molecule Root CA", stem="root")
    inter = pki.ca("revproxy.tls Molecule Intermediate CA", issuer=root, stem="intermediate")
    for name in ("sni", "mtls", "good", "bad"):
        pki.leaf(name, dns=["%s.backend.test" % name], issuer=inter)
    pki.leaf("wrongname", dns=["other.backend.test"], issuer=inter)
    pki.leaf("pool", dns=["pool%d.backend.test" % n for n in (1, 2, 3)], issuer=inter)
    day = datetime.timedelta(days=1)
    pki.leaf("expired", dns=["bad.backend.test"], issuer=inter, not_before=-30 * day, not_after=-day)
    rogue = pki.ca("Rogue Root CA", stem="rogue-root")
    rogue_inter = pki.ca("Rogue Intermediate CA", issuer=rogue, stem="rogue-intermediate")
    pki.leaf("untrusted", dns=["bad.backend.test"], issuer=rogue_inter)
    client_root = pki.ca("revproxy.tls Molecule Client CA", stem="client-root")
    pki.leaf("proxy-client", cn="revproxy-proxy", issuer=client_root, client=True)
    pki.leaf("frontend", dns=["example.test", "*.example.test"], issuer=inter)
    print("created")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
