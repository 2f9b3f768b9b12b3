"""Pebble, the ACME test CA (Debian's /usr/bin/pebble), on loopback for tests: a real ACME server that validates.

Example::

    with Pebble(tmp_path / "pebble", http_port=httpd_port, tls_port=tls_port) as ca:
        ...  # MDCertificateAuthority ca.directory_url ; MDCACertificateFile ca.tls_root_path
        root_pem = ca.issuing_root_pem()  # the root its certificates chain to (fetched from its management API)

What it runs:

- **pebble-challtestsrv** as the DNS server pebble's validation authority asks (``pebble -dnsserver``): every A query
  is answered ``dns_default_ipv4`` (127.0.0.1 unless given), AAAA queries get no answer (so the challenge goes to the
  IPv4 address), and ``add_a(name, address)`` makes one name resolve elsewhere (a failed challenge). Its HTTP-01,
  HTTPS and TLS-ALPN-01 responders are switched off: the server under test answers the challenges itself.
- **pebble** with its own TLS root made by support/pki.py (``tls_root_path``: the file an ACME client trusts for the
  directory, mod_md's ``MDCACertificateFile``), the directory at ``https://127.0.0.1:<port>/dir`` and the management
  API on a second port. ``http_port``/``tls_port`` are the ports its validation authority connects to for HTTP-01 and
  TLS-ALPN-01 (pebble's ``httpPort``/``tlsPort``): the test server's listeners.

Validation is real: ``PEBBLE_VA_ALWAYS_VALID`` is never set. The environment makes runs deterministic and fast:
``PEBBLE_VA_NOSLEEP=1`` (no random 0-15 s pause before each validation), ``PEBBLE_WFE_NONCEREJECT=0`` (no random
badNonce rejections), ``PEBBLE_AUTHZREUSE=0`` (every order is validated again, never served from an earlier valid
authorization), and ``PEBBLE_CHAIN_LENGTH`` (1, the default: root -> one intermediate -> leaf, as Let's Encrypt serves). ``env`` adds or overrides.

Every port is a free loopback port chosen here and held (support.apache.PortReservation) until pebble binds it; both
processes log to files in ``workdir`` (``log_text()``), and ``stop()`` ends them (SIGTERM, then SIGKILL) also when the
start failed.
"""
import datetime
import json
import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.request

from support import pki as pki_mod
from support.apache import reserve_port

__all__ = ["Pebble", "PebbleError", "PEBBLE", "CHALLTESTSRV"]

PEBBLE = os.environ.get("SUPPORT_PEBBLE", "/usr/bin/pebble")
CHALLTESTSRV = os.environ.get("SUPPORT_CHALLTESTSRV", "/usr/bin/pebble-challtestsrv")
LOOPBACK = "127.0.0.1"


class PebbleError(RuntimeError):
    """Pebble or its DNS server failed to start or answer; the message carries their logs."""


class Pebble:
    """Pebble plus pebble-challtestsrv in ``workdir``; see the module documentation."""

    def __init__(self, workdir, *, http_port, tls_port, dns_default_ipv4=LOOPBACK, env=None, eab_keys=None,
                 chain_length=1, validity=None):
        self.workdir = os.path.abspath(str(workdir))
        os.makedirs(self.workdir, exist_ok=True)
        self.http_port = int(http_port)
        self.tls_port = int(tls_port)
        self.dns_default_ipv4 = dns_default_ipv4
        self.eab_keys = dict(eab_keys or {})
        self.validity = None if validity is None else int(validity)
        self.env = {"PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0", "PEBBLE_AUTHZREUSE": "0",
                    "PEBBLE_CHAIN_LENGTH": str(chain_length)}
        self.env.update(env or {})
        if self.env.get("PEBBLE_VA_ALWAYS_VALID"):
            raise ValueError("PEBBLE_VA_ALWAYS_VALID switches validation off: not in these tests")
        self._reservations = {name: reserve_port(LOOPBACK) for name in ("acme", "management", "dns", "dns_api")}
        self.port = self._reservations["acme"].port
        self.management_port = self._reservations["management"].port
        self.dns_port = self._reservations["dns"].port
        self.dns_api_port = self._reservations["dns_api"].port
        self.pebble_log = os.path.join(self.workdir, "pebble.log")
        self.dns_log = os.path.join(self.workdir, "challtestsrv.log")
        self.config_path = os.path.join(self.workdir, "pebble-config.json")
        pki = pki_mod.PKI(os.path.join(self.workdir, "tls"))
        self.tls_root = pki.ca("Pebble Test TLS Root", stem="tls-root",
                               not_after=datetime.timedelta(days=30))
        self.tls_leaf = pki.leaf("pebble-tls", dns=["localhost", "pebble"], ips=[LOOPBACK], issuer=self.tls_root,
                                 not_after=datetime.timedelta(days=30))
        self.tls_root_path = self.tls_root.cert_path
        self.issuing_root_path = os.path.join(self.workdir, "issuing-root.pem")
        self._procs = []
        self._logs = []

    # -- addresses -------------------------------------------------------------------------------------------------

    @property
    def directory_url(self):
        """The ACME directory URL (https, on loopback)."""
        return "https://%s:%d/dir" % (LOOPBACK, self.port)

    @property
    def management_url(self):
        """The base URL of pebble's management API (https, same TLS certificate)."""
        return "https://%s:%d" % (LOOPBACK, self.management_port)

    def _context(self):
        return ssl.create_default_context(cafile=self.tls_root_path)

    # -- lifecycle -------------------------------------------------------------------------------------------------

    def _write_config(self):
        config = {"pebble": {
            "listenAddress": "%s:%d" % (LOOPBACK, self.port),
            "managementListenAddress": "%s:%d" % (LOOPBACK, self.management_port),
            "certificate": self.tls_leaf.chain_path, "privateKey": self.tls_leaf.key_path,
            "httpPort": self.http_port, "tlsPort": self.tls_port, "ocspResponderURL": "",
            "externalAccountBindingRequired": bool(self.eab_keys),
        }}
        if self.validity is not None:
            config["pebble"]["certificateValidityPeriod"] = self.validity
        if self.eab_keys:
            config["pebble"]["externalAccountMACKeys"] = self.eab_keys
        with open(self.config_path, "w", encoding="utf-8") as handle:
            json.dump(config, handle, indent=2)

    def _spawn(self, argv, log_path, env=None):
        log = open(log_path, "ab")  # pylint: disable=consider-using-with
        self._logs.append(log)
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,  # pylint: disable=consider-using-with
                                cwd=self.workdir, env=env, start_new_session=True)
        self._procs.append(proc)
        return proc

    def start(self, timeout=20.0):
        """Start the DNS server and pebble, wait until the directory answers over TLS; PebbleError with the logs."""
        try:
            self._start(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self, timeout):
        self._write_config()
        self._reservations["dns"].release()
        self._reservations["dns_api"].release()
        self._spawn([CHALLTESTSRV, "-defaultIPv4", self.dns_default_ipv4, "-defaultIPv6", "",
                     "-dns01", "%s:%d" % (LOOPBACK, self.dns_port), "-http01", "", "-https01", "", "-tlsalpn01", "",
                     "-management", "%s:%d" % (LOOPBACK, self.dns_api_port)], self.dns_log)
        self._wait(lambda: self._tcp_open(self.dns_api_port), timeout, "pebble-challtestsrv did not listen")
        env = dict(os.environ)
        env.update(self.env)
        self._spawn([PEBBLE, "-config", self.config_path, "-dnsserver", "%s:%d" % (LOOPBACK, self.dns_port)],
                    self.pebble_log, env=env)
        self._wait(self._directory_answers, timeout, "pebble's directory did not answer")
        for reservation in self._reservations.values():
            reservation.release()
        with open(self.issuing_root_path, "w", encoding="ascii") as handle:
            handle.write(self.issuing_root_pem())

    def _wait(self, ready, timeout, what):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for proc in self._procs:
                if proc.poll() is not None:
                    raise PebbleError("%s: %s exited with %s\n%s"
                                      % (what, proc.args[0], proc.returncode, self.log_text()[-4000:]))
            if ready():
                return
            time.sleep(0.05)
        raise PebbleError("%s in %.0fs\n%s" % (what, timeout, self.log_text()[-4000:]))

    @staticmethod
    def _tcp_open(port):
        try:
            with socket.create_connection((LOOPBACK, port), timeout=0.5):
                return True
        except OSError:
            return False

    def _directory_answers(self):
        try:
            return "newOrder" in self.get(self.directory_url)
        except OSError:
            return False

    def stop(self, timeout=10.0):
        """Stop both processes (SIGTERM, then SIGKILL of their session) and give the ports back. Idempotent."""
        for proc in reversed(self._procs):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(5)
                except ProcessLookupError:
                    pass
        self._procs = []
        for log in self._logs:
            log.close()
        self._logs = []
        for reservation in self._reservations.values():
            reservation.release()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- API -------------------------------------------------------------------------------------------------------

    def get(self, url, timeout=5.0):
        """GET over TLS trusting only pebble's TLS root; the body as text."""
        with urllib.request.urlopen(url, timeout=timeout, context=self._context()) as resp:  # nosec B310 (https only)
            return resp.read().decode("ascii")

    def issuing_root_pem(self, index=0):
        """The root pebble's certificates chain to (management ``/roots/<index>``): the only anchor a client of
        the served chain should trust. Pebble makes a new one at each start."""
        return self.get("%s/roots/%d" % (self.management_url, index))

    def intermediate_pem(self, index=0):
        """Pebble's current issuing intermediate (management ``/intermediates/<index>``)."""
        return self.get("%s/intermediates/%d" % (self.management_url, index))

    def _dns_api(self, path, payload):
        req = urllib.request.Request("http://%s:%d/%s" % (LOOPBACK, self.dns_api_port, path),
                                     data=json.dumps(payload).encode(), method="POST")
        with urllib.request.urlopen(req, timeout=5.0) as resp:  # nosec B310 (our loopback DNS server)
            resp.read()

    def add_a(self, name, *addresses):
        """Make ``name`` resolve to ``addresses`` (IPv4) for pebble's validation, instead of the default."""
        self._dns_api("add-a", {"host": name, "addresses": list(addresses)})

    def clear_a(self, name):
        """Back to the default answer for ``name``."""
        self._dns_api("clear-a", {"host": name})

    def log_text(self):
        """Both logs, pebble's last (pebble's names the validation it tried and why it failed)."""
        out = []
        for path in (self.dns_log, self.pebble_log):
            try:
                with open(path, "r", encoding="utf-8", errors="replace") as handle:
                    out.append("==> %s <==\n%s" % (os.path.basename(path), handle.read()))
            except OSError:
                pass
        return "\n".join(out)
