"""Pebble's own TLS certificate for the acme scenario (the directory and management API on pebble.test), made on the
controller with tests/support/pki.py:  python pebble_pki.py <tests dir> <output dir>

Writes pebble-tls-root.pem (what the proxy and the client trust for pebble's API only), pebble-tls-chain.pem and
pebble-tls.key (pebble's server certificate and key, readable by the container's pebble)."""
import datetime
import os
import shutil
import sys


def main(tests_dir, out):
    sys.path.insert(0, tests_dir)
    from support.pki import PKI  # pylint: disable=import-outside-toplevel
    pki = PKI(os.path.join(out, "pebble-work"))
    root = pki.ca("Pebble Scenario TLS Root", stem="pebble-tls-root", not_after=datetime.timedelta(days=7))
    leaf = pki.leaf("pebble-tls", dns=["pebble.test"], issuer=root, not_after=datetime.timedelta(days=7))
    shutil.copy(root.cert_path, os.path.join(out, "pebble-tls-root.pem"))
    shutil.copy(leaf.chain_path, os.path.join(out, "pebble-tls-chain.pem"))
    shutil.copy(leaf.key_path, os.path.join(out, "pebble-tls.key"))
    os.chmod(os.path.join(out, "pebble-tls.key"), 0o644)  # a test key, read by pebble in its container
    shutil.rmtree(os.path.join(out, "pebble-work"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
