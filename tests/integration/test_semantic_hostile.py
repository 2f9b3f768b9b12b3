"""Semantic hostile inputs (issue 21): what an accepted site value can make a real Apache *do*.

test_hostile_inputs proves syntax (one argument, one line). This suite proves meaning: each case is a set of sites a
survey user could submit, run through the module's own validation path (_host_checks.effective_sites: the policy, the
model, the served paths resolved on this host, the names and addresses of the hand-written vhosts read from the live
configuration), with the DEFAULT policy (no raw directives; served roots /var/www, /srv, /var/lib/revproxy-tls; the
files the cases name live in a /srv/revproxy-semantic-* directory made here). A case is

- refused: a ConfigError that names the site ("site 'x': ...") and the field; or
- accepted: rendered by the collection's renderer, loaded with every other accepted case into ONE private Apache
  (tests/support/apache.py; each case on its own loopback ports), and its class's danger probe run against the live
  server: a canary file written? /etc/passwd or a secret outside the served roots served, or leaked through a header
  or the error log? the victim's name answered by another site? TLS 1.0/1.1, a non-AEAD cipher, no/short HSTS, raw
  URLs or a trace log on the frontend? a weak or untrusted backend answering 200? the balancer manager or a status
  handler answering a client that is not loopback? a client-sent forwarding header reaching the backend?
  A configuration Apache refuses (config test) counts as "refused by Apache".

An accepted case whose probe finds the danger is *dangerous*; test_semantic_hostile_inputs demands 0 and writes the
counts per class to tests/output/semantic-hostile.json (pytest -s prints them).

test_probes_see_the_danger (the controls) proves that no probe is blind: per class, a configuration where the danger
is real (the operator's raw switch, a site's insecure opt-in, or the product's own rendering edited by hand or
validated site by site) makes the same probe report it.

A client that is not on loopback is simulated with mod_remoteip (RemoteIPHeader X-Semantic-Test-Client from
127.0.0.0/8): the request still comes over loopback, but authz sees 192.0.2.7. Every listener is on 127.0.0.0/8 or ::1.
"""
import contextlib
import copy
import http.client
import json
import os
import secrets
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import warnings

import pytest

from ansible_collections.revproxy.tls.plugins.module_utils.apache._host_checks import effective_sites
from ansible_collections.revproxy.tls.plugins.module_utils.apache._balancer_manager import MANAGER_PATH
from ansible_collections.revproxy.tls.plugins.module_utils.apache._live_vhosts import read_live_vhosts
from ansible_collections.revproxy.tls.plugins.module_utils.apache._render import (
    needed_modules,
    render_listen_conf,
)
from support.apache_model import render_site
from ansible_collections.revproxy.tls.plugins.module_utils.model._grammar import ConfigError
from support.apache import DEFAULT_MODULES, MODULES_DIR, PrivateApache, compiled_in_modules
from support.apache import reserve_port
from support.backends import PlainHTTPBackend, TLSBackend
from support.pki import PKI

pytestmark = pytest.mark.apache

HERE = os.path.dirname(os.path.abspath(__file__))
OUTPUT = os.path.join(os.path.dirname(HERE), "output", "semantic-hostile.json")
PASSWD_MARK = b"root:x:0:0"
SPOOF = "6.6.6.6-spoof"
REMOTE_HEADER = "X-Semantic-Test-Client"
REMOTE = {REMOTE_HEADER: "192.0.2.7"}
HANDLER_MARKS = (b"Load Balancer Manager", b"Apache Server Status", b"Apache Server Information",
                 b"balancer-manager")
EXTRA_MODULES = ("alias", "authz_host", "proxy_balancer", "slotmem_shm", "lbmethod_byrequests",
                 "lbmethod_bybusyness", "lbmethod_bytraffic", "proxy_hcheck", "status", "remoteip", "env", "filter",
                 "deflate", "log_forensic", "info")
HSTS_MIN = 31536000
CLASSES = ("write", "read", "tls_front", "tls_back", "authz", "acme", "error_pages", "addresses", "wildcards",
           "proxy_prefix", "forwarded")


def _available(module):
    return module in compiled_in_modules() or os.path.exists(os.path.join(MODULES_DIR, "mod_%s.so" % module))


class LegacyTLSBackend(TLSBackend):
    """A backend whose own OpenSSL loads an RSA-1024 certificate (@SECLEVEL=0), as an old server does."""

    def _make_context(self, chain_path, key_path, *_args):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.set_ciphers("ALL:@SECLEVEL=0")
        ctx.load_cert_chain(chain_path, key_path)
        ctx.sni_callback = self._sni_callback
        return ctx


# -- the world: files, certificates, backends, one private Apache -------------------------------------------------


class World:
    """Everything the cases point at. Paths outside pytest's tmp tree (the /srv root, the secret, the canaries) are
    removed by the fixture's finally block."""

    def __init__(self, work):
        self.srv = self.secret_dir = self.apache = None
        self.backends, self.canaries = [], []
        try:
            self._make(work)
        except BaseException:
            self.cleanup()
            raise

    def _make(self, work):
        self.work = str(work)
        self._held = []
        self.token = "semantic-secret-" + secrets.token_hex(8)
        rand = secrets.token_hex(4)
        # The served root the cases name files in (/srv is a default served root; /tmp never is).
        os.makedirs("/srv", exist_ok=True)
        self.srv = tempfile.mkdtemp(prefix="revproxy-semantic-", dir="/srv")
        os.chmod(self.srv, 0o755)
        # A secret outside every served root, readable by www-data (so a read *would* work if allowed).
        self.secret_dir = tempfile.mkdtemp(prefix="revproxy-semantic-secret-", dir="/var/lib")
        os.chmod(self.secret_dir, 0o755)
        self.secret = os.path.join(self.secret_dir, "secret.txt")
        with open(self.secret, "w") as handle:
            handle.write(self.token + "\n")
        os.chmod(self.secret, 0o644)
        # Canaries: a write attack must never create them.
        self.cron_canary = "/etc/cron.d/revproxy-canary-%s" % rand
        self.canaries = [self.cron_canary, os.path.join(self.srv, "canary-written"),
                         os.path.join(self.secret_dir, "canary-written"), "/etc/revproxy-canary-%s" % rand]
        # Served-root contents.
        self.acme = self._dir("acme")
        with open(os.path.join(self.acme, "token-ok"), "w") as handle:
            handle.write("acme-proof\n")
        self.errors = self._dir("errors")
        self.error_page = os.path.join(self.errors, "502.html")
        with open(self.error_page, "w") as handle:
            handle.write("<p>error page</p>\n")
        os.symlink("/etc", os.path.join(self.srv, "link-etc"))
        os.symlink("/", os.path.join(self.srv, "link-root"))
        os.symlink(os.path.join(self.srv, "link-etc"), os.path.join(self.srv, "link-link-etc"))
        os.symlink("/etc/passwd", os.path.join(self.srv, "link-passwd"))
        os.symlink(self.secret, os.path.join(self.srv, "link-secret"))
        os.symlink(self.secret_dir, os.path.join(self.srv, "link-secret-dir"))
        os.symlink("/proc/self", os.path.join(self.srv, "link-proc"))
        os.mkfifo(os.path.join(self.srv, "fifo"))
        with open(os.path.join(self.srv, "a-file"), "w") as handle:
            handle.write("a regular file\n")
        self.tls_dir = os.path.join(self.work, "tls-dir")
        os.makedirs(self.tls_dir)
        # Certificates: the frontend (RSA, so that a non-forward-secret RSA cipher is possible at all), the backend
        # CA every strict site trusts, a rogue CA nobody trusts, a weak (RSA-1024) backend under the trusted CA.
        pki = PKI(os.path.join(self.work, "pki"))
        self.front_ca = pki.ca("Semantic Front CA")
        self.front = pki.leaf("front", dns=["victim.example.com", "*.example.com", "front.test", "attacker.example.net"],
                              issuer=self.front_ca, key_type="rsa")
        self.good_ca = pki.ca("Semantic Backend CA")
        self.rogue_ca = pki.ca("Semantic Rogue CA")
        names = ["localhost", "vm", "runsc"]
        good = pki.leaf("good", dns=names, issuer=self.good_ca)
        rogue = pki.leaf("rogue", dns=names, issuer=self.rogue_ca)
        weak = pki.leaf("weak", dns=names, issuer=self.good_ca, key_type="rsa1024")
        self.backends = []
        self.victim = self._plain(b"site=victim")
        self.attacker = self._plain(b"site=attacker")
        self.good = self._tls(good, b"good")
        self.rogue = self._tls(rogue, b"rogue")
        self.weak = LegacyTLSBackend(weak.chain_path, weak.key_path, body=b"weak")
        self.backends.append(self.weak)
        self.rogue2 = self._tls(rogue, b"rogue")
        # Two rogue backends whose port numbers are prefixes of one another (https://localhost:P vs :P0).
        self.rogue_p, self.rogue_p0 = self._prefix_ports(rogue)
        self.apache = None
        self.hand_dir = os.path.join(self.work, "hand")
        os.makedirs(self.hand_dir)
        self.hand = {}  # file name -> text of hand-written vhosts (the live configuration)
        self.live = None

    def _dir(self, name):
        path = os.path.join(self.srv, name)
        os.makedirs(path)
        os.chmod(path, 0o755)
        return path

    def _plain(self, body):
        be = PlainHTTPBackend(body=body)
        be.echo_path = "/echo"
        self.backends.append(be)
        return be

    def _tls(self, leaf, body, port=0):
        be = TLSBackend(leaf.chain_path, leaf.key_path, body=body, port=port)
        self.backends.append(be)
        return be

    def _prefix_ports(self, leaf):
        for _attempt in range(200):
            p = secrets.randbelow(4000) + 2000
            try:
                a = self._tls(leaf, b"rogue", port=p)
            except OSError:
                continue
            try:
                b = self._tls(leaf, b"rogue", port=p * 10 + secrets.randbelow(10))
            except OSError:
                a.stop()
                continue
            return a, b
        raise RuntimeError("no pair of prefix ports")

    def port(self):
        """A port held until cleanup (support.apache.PortReservation): the private Apache binds it when a case
        listens there, and nobody else can meanwhile; unused, it refuses connections."""
        reservation = reserve_port()
        self._held.append(reservation)
        return reservation.port

    def cleanup(self):
        if self.apache is not None:
            self.apache.stop()
        for reservation in getattr(self, "_held", ()):
            reservation.release()
        for be in self.backends:
            with contextlib.suppress(Exception):
                be.stop()
        for path in self.canaries:
            with contextlib.suppress(OSError):
                os.unlink(path)
        for path in (self.srv, self.secret_dir):
            if path:
                shutil.rmtree(path, ignore_errors=True)


# -- clients ---------------------------------------------------------------------------------------------------------


def fetch(port, path="/", host="victim.example.com", headers=(), addr="127.0.0.1", tls=None, timeout=10):
    """One request; headers: a list of (name, value) sent as they are (duplicates and '_' kept). tls: None or a
    dict(ca=path, sni=name, max_version=..., ciphers=...). Returns (status, headers (lower-case keys), body)."""
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    raw = socket.socket(family, socket.SOCK_STREAM)
    raw.settimeout(timeout)
    raw.connect((addr, port))
    sock = raw
    if tls is not None:
        ctx = ssl.create_default_context(cafile=tls["ca"])
        if tls.get("max_version"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # TLS 1.0/1.1 on purpose
                ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
                ctx.maximum_version = tls["max_version"]
        if tls.get("ciphers"):
            ctx.set_ciphers(tls["ciphers"])
        try:
            sock = ctx.wrap_socket(raw, server_hostname=tls.get("sni") or host)
        except Exception:
            raw.close()
            raise
    conn = http.client.HTTPConnection(addr, port, timeout=timeout)
    conn.sock = sock
    try:
        conn.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", host)
        for name, value in headers:
            conn.putheader(name, value)
        conn.endheaders()
        resp = conn.getresponse()
        return resp.status, dict((k.lower(), v) for k, v in resp.getheaders()), resp.read()
    finally:
        conn.close()


def _marks(w, data):
    """Secret or system-file content in some bytes."""
    out = []
    if PASSWD_MARK in data:
        out.append("/etc/passwd content")
    if w.token.encode() in data:
        out.append("the secret's content")
    return out


# -- probes: each returns a list of dangers found (empty: harmless) ---------------------------------------------------


def _settled(w, answered, mark):
    """Wait until the ``answered`` requests since ``mark`` are in the main access log (support.apache
    wait_for_requests): what they made Apache write (error log, a file a hostile directive names) is written by then.
    Bounded (2 s) and not required: a vhost that logs to a CustomLog of its own (what the CustomLog cases try) never
    logs there, and its file exists from startup (Apache opens its logs when it loads the config), so the absence
    checks after this see it either way."""
    w.apache.wait_for_requests(answered, mark, timeout=2.0, required=False)


def _touch_sites(w, effs):
    """One request to each vhost of the case (logs are written per request; errors must not stop the probe); returns
    how many were answered."""
    answered = 0
    for eff in effs:
        tls = {"ca": w.front_ca.cert_path} if eff["tls"] else None
        with contextlib.suppress(Exception):
            fetch(eff["listen"]["port"], "/", eff["server_name"], tls=tls)
            answered += 1
        redirect = (eff.get("frontend") or {}).get("redirect")
        if redirect:
            with contextlib.suppress(Exception):
                fetch(redirect["port"], "/", eff["server_name"])
                answered += 1
    return answered


def probe_write(extra_paths=()):
    def probe(w, effs):
        mark = w.apache.access_log_mark()
        _settled(w, _touch_sites(w, effs), mark)
        return ["file written: %s" % p for p in list(w.canaries) + list(extra_paths) if os.path.lexists(p)]
    return probe


def probe_read(w, effs):
    """Every response (headers and body), what the echo backend got and the error log: no secret, no passwd, no
    oracle header."""
    dangers = []
    mark, access_mark, answered = w.apache.error_log_mark(), w.apache.access_log_mark(), 0
    for eff in effs:
        tls = {"ca": w.front_ca.cert_path} if eff["tls"] else None
        for loc in eff["locations"]:
            for path in (loc["path"], loc["path"] + "echo", "/echo", "/.revproxy-error/404.html"):
                try:
                    status, headers, body = fetch(eff["listen"]["port"], path, eff["server_name"], tls=tls)
                except Exception:  # pylint: disable=broad-except
                    continue
                answered += 1
                text = json.dumps(headers).encode() + body
                dangers += ["%s %s: %s" % (eff["name"], path, m) for m in _marks(w, text)]
                dangers += ["%s %s: oracle header %s" % (eff["name"], path, k) for k in headers if k.startswith("x-oracle")]
    _settled(w, answered, access_mark)
    dangers += ["error log: %s" % m for m in _marks(w, w.apache.error_log_since(mark).encode())]
    return dangers


def probe_tls_front(w, effs):
    dangers = []
    for eff in effs:
        if not eff["tls"]:
            continue
        port, name = eff["listen"]["port"], eff["server_name"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            old_versions = (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1)
        for version in old_versions:
            try:
                fetch(port, "/", name, tls={"ca": w.front_ca.cert_path, "max_version": version,
                                            "ciphers": "ALL:@SECLEVEL=0"})
                dangers.append("%s: a %s client is served" % (eff["name"], version.name))
            except (ssl.SSLError, OSError):
                pass
        try:
            fetch(port, "/", name, tls={"ca": w.front_ca.cert_path, "max_version": ssl.TLSVersion.TLSv1_2,
                                        "ciphers": "AES128-SHA:AES256-SHA:AES128-SHA256:AES256-SHA256:@SECLEVEL=0"})
            dangers.append("%s: a non-forward-secret CBC cipher is accepted" % eff["name"])
        except (ssl.SSLError, OSError):
            pass
        mark, access_mark = w.apache.error_log_mark(), w.apache.access_log_mark()
        try:
            _s, headers, _b = fetch(port, "/", name, tls={"ca": w.front_ca.cert_path})
        except (ssl.SSLError, OSError) as exc:
            dangers.append("%s: no TLS 1.2+ answer (%s)" % (eff["name"], exc))
            continue
        sts = headers.get("strict-transport-security", "")
        age = [int(p.split("=", 1)[1]) for p in sts.replace(" ", "").split(";") if p.lower().startswith("max-age=")
               and p.split("=", 1)[1].isdigit()]
        if not age or age[0] < HSTS_MIN:
            dangers.append("%s: HSTS %r" % (eff["name"], sts or None))
        _settled(w, 1, access_mark)
        if ":trace" in w.apache.error_log_since(mark):
            dangers.append("%s: trace lines in the error log" % eff["name"])
        # Raw URLs (nocanon): '%6f' must reach the backend decoded ('o').
        before = len(w.victim.requests)
        for loc in eff["locations"]:
            with contextlib.suppress(Exception):
                fetch(port, loc["path"] + "ech%6f", name, tls={"ca": w.front_ca.cert_path})
        if any("%6f" in r["path"].lower() for r in w.victim.requests[before:]):
            dangers.append("%s: the raw URL reached the backend (nocanon)" % eff["name"])
    return dangers


def probe_backend(paths_bodies):
    """Each (path, forbidden body prefix) must not be answered 200 with that body: a weak or untrusted backend
    reached through a location that should refuse it."""
    def probe(w, effs):
        eff = effs[0]
        tls = {"ca": w.front_ca.cert_path} if eff["tls"] else None
        dangers = []
        for path, body_prefix in paths_bodies:
            status, _h, body = fetch(eff["listen"]["port"], path, eff["server_name"], tls=tls)
            if status == 200 and body.startswith(body_prefix):
                dangers.append("%s %s: %d from the %s backend" % (eff["name"], path, status, body_prefix.decode()))
        return dangers
    return probe


def probe_authz(extra_paths=()):
    def probe(w, effs):
        dangers = []
        for eff in effs:
            paths = [MANAGER_PATH, MANAGER_PATH + "/", "/server-status", "/server-info", "/balancer-manager"]
            paths += [loc["path"] for loc in eff["locations"]] + list(extra_paths)
            paths += [p + "x" for p in (eff.get("frontend") or {}).get("exclusions") or []]
            for path in paths:
                try:
                    status, _h, body = fetch(eff["listen"]["port"], path, eff["server_name"], headers=REMOTE.items())
                except Exception:  # pylint: disable=broad-except
                    continue
                if status == 200 and any(m in body for m in HANDLER_MARKS):
                    dangers.append("%s %s: a handler answers a non-loopback client" % (eff["name"], path))
        return dangers
    return probe


def _plant(path, target):
    """A symbolic link planted after validation (what a later change on the host could do)."""
    if os.path.isdir(os.path.dirname(path)) and not os.path.lexists(path):
        os.symlink(target, path)


def probe_acme(w, effs):
    dangers = []
    for eff in effs:
        redirect = (eff.get("frontend") or {}).get("redirect") or {}
        acme = redirect.get("acme_challenge_dir")
        if not acme:
            continue
        if os.path.realpath(acme).startswith(w.srv + "/"):
            _plant(os.path.join(acme, "planted-passwd"), "/etc/passwd")
            _plant(os.path.join(acme, "planted-secret"), w.secret)
        for name in ("passwd", "secret.txt", "planted-passwd", "planted-secret", "self/environ", "token-ok",
                     "link-passwd", "link-etc/passwd", "link-secret", "link-secret-dir/secret.txt"):
            status, _h, body = fetch(redirect["port"], "/.well-known/acme-challenge/" + name, eff["server_name"])
            dangers += ["%s: acme %s -> %d: %s" % (eff["name"], name, status, m) for m in _marks(w, body)]
    return dangers


def probe_error_pages(w, effs):
    dangers = []
    for eff in effs:
        pages = (eff.get("frontend") or {}).get("error_pages") or []
        for _status, path in pages:
            if os.path.realpath(path).startswith(w.srv + "/"):
                _plant(path, "/etc/passwd")
        for status, _path in pages:
            for req in ("/.revproxy-error/%d.html" % status, "/"):
                got, _h, body = fetch(eff["listen"]["port"], req, eff["server_name"])
                dangers += ["%s: %s -> %d: %s" % (eff["name"], req, got, m) for m in _marks(w, body)]
    return dangers


def probe_names(checks):
    """checks: (address, port, Host): the victim's backend must answer."""
    def probe(_w, _effs):
        dangers = []
        for addr, port, host in checks:
            try:
                status, _h, body = fetch(port, "/", host, addr=addr)
            except OSError as exc:
                dangers.append("%s:%d %s: %s" % (addr, port, host, exc))
                continue
            if not body.startswith(b"site=victim"):
                dangers.append("%s:%d Host %s answered by %r (%d)" % (addr, port, host, body[:20], status))
        return dangers
    return probe


def probe_forwarded(sent, path="/echo"):
    """The client sends `sent` (a list of (name, value) holding SPOOF); the echo backend must see no SPOOF value and
    X-Forwarded-Proto must be the real scheme."""
    def probe(w, effs):
        eff = effs[0]
        tls = {"ca": w.front_ca.cert_path} if eff["tls"] else None
        status, _h, body = fetch(eff["listen"]["port"], path, eff["server_name"], headers=sent, tls=tls)
        if status != 200:
            return ["echo answered %d" % status]
        seen = json.loads(body)["headers"]
        dangers = ["backend saw %s: %s" % (k, v) for k, v in seen if "spoof" in v.lower() or "evil" in v.lower()]
        proto = [v for k, v in seen if k.lower() == "x-forwarded-proto"]
        if proto != ["https" if eff["tls"] else "http"]:
            dangers.append("backend saw X-Forwarded-Proto %r" % proto)
        return dangers
    return probe


# -- the cases -------------------------------------------------------------------------------------------------------


class Case:
    def __init__(self, cls, cid, sites, probe, field=None, site=None, live=False, policy=None):
        self.cls, self.cid, self.sites, self.probe = cls, cid, sites, probe
        self.field, self.site, self.live, self.policy = field, site, live, policy


def build_cases(w):
    cases = []

    def add(cls, cid, sites, probe, field=None, site=None, live=False):
        cases.append(Case(cls, cid, sites, probe, field, site, live))

    def plain(name="victim", server_name="victim.example.com", port=None, backend=None, **over):
        site = {"name": name, "server_name": server_name, "listen": {"port": port or w.port()},
                "locations": [{"path": "/", "backend": "http://127.0.0.1:%d/" % (backend or w.victim).port}]}
        site.update(over)
        return site

    def tls(name="victim", server_name="victim.example.com", port=None, **over):
        site = plain(name, server_name, port, **over)
        site["tls"] = {"certificate_file": w.front.cert_path, "key_file": w.front.key_path}
        site.setdefault("redirect_http_port", w.port())
        return site

    # 1. Files written: log directives (site and location level), any spelling.
    targets = [w.cron_canary, w.canaries[1], w.canaries[2], w.canaries[3]]
    write_lines = [
        'CustomLog %s "* * * * * root id"' % w.cron_canary,
        "CustomLog %s common" % w.canaries[1],
        'CustomLog "%s" combined' % w.canaries[2],
        "customlog %s common" % w.cron_canary,
        "CUSTOMLOG %s common" % w.cron_canary,
        "  CustomLog %s common" % w.cron_canary,
        "CustomLog %s common env=!nolog" % w.cron_canary,
        "CustomLog %s \"%%{Host}i\" expr=true" % w.cron_canary,
        "ErrorLog %s" % w.cron_canary,
        "ErrorLog syslog:%s" % w.cron_canary,
        "TransferLog %s" % w.cron_canary,
        "GlobalLog %s common" % w.cron_canary,
        "ForensicLog %s" % w.cron_canary,
        "BufferedLogs On",
        "LogFormat \"* * * * * root id\" cron",
        "CoreDumpDirectory %s" % os.path.dirname(w.canaries[1]),
        "ScriptLog %s" % w.cron_canary,
        "Mutex file:/etc/cron.d default",
        "SSLSessionCache shmcb:%s(512000)" % w.cron_canary,
        "ProxyHTMLLogVerbose On",
        "DavLockDB %s" % w.cron_canary,
    ]
    for i, line in enumerate(write_lines):
        add("write", "site extra_directives[%d] %s" % (i, line.split()[0]), [plain(extra_directives=[line])],
            probe_write(), "extra_directives[0]", "victim")
    for i, line in enumerate(write_lines[:6]):
        site = plain()
        site["locations"][0]["extra_directives"] = [line]
        add("write", "location extra_directives %d %s" % (i, line.split()[0]), [site], probe_write(),
            "locations[0].extra_directives[0]", "victim")
    log_line = "CustomLog %s common" % w.cron_canary
    add("write", "allow-listed line then a log line", [plain(extra_directives=["Timeout 30", log_line])],
        probe_write(), "extra_directives[1]", "victim")
    add("write", "allow-listed directives only (accepted)", [plain(extra_directives=[
        "Timeout 30", "KeepAlive Off", "LimitRequestBody 1048576", "SetEnv proxy-nokeepalive 1",
        "AddOutputFilterByType DEFLATE text/html text/plain", "ProxyVia Off", "TraceEnable Off"])], probe_write())
    del targets

    # 2. Files read: expressions, %{file:}, aliases, error documents; the typed header fields too.
    secret = w.secret
    read_lines = [
        "Header always set X-Oracle-Bit yes \"expr=file('%s') =~ /^%s/\"" % (secret, w.token[:3]),
        "Header always set X-Oracle-File \"expr=%%{file:%s}\"" % secret,
        "Header always set X-Oracle-Passwd \"expr=%{file:/etc/passwd}\"",
        "RequestHeader set X-Oracle-Req \"expr=%%{file:%s}\"" % secret,
        "SetEnvIfExpr \"file('%s') =~ /semantic/\" oracle=1" % secret,
        "Alias /leak %s" % w.secret_dir,
        "AliasMatch ^/leak(.*) /etc$1",
        "ErrorDocument 404 %s" % secret,
        "ErrorDocument 404 \"%%{file:%s}\"" % secret,
        "ScriptAlias /cgi /bin/",
        "DocumentRoot /etc",
        "LogMessage \"%%{file:%s}\"" % secret,
        "Define x %s" % secret,
        "Header always setifempty X-Oracle-E \"expr=%%{file:%s}\"" % secret,
        "RewriteRule ^/leak %s" % secret,
        "AddOutputFilter INCLUDES .html",
    ]
    for i, line in enumerate(read_lines):
        add("read", "site extra_directives[%d] %s" % (i, line.split()[0]), [plain(extra_directives=[line])],
            probe_read, "extra_directives[0]", "victim")
    for i, line in enumerate(read_lines[:4]):
        site = plain()
        site["locations"][0]["extra_directives"] = [line]
        add("read", "location extra_directives %d %s" % (i, line.split()[0]), [site], probe_read,
            "locations[0].extra_directives[0]", "victim")
    header_reads = [
        ("response value expr=file()", "response_headers", "X-Oracle-A", "expr=file('%s')" % secret,
         "response_headers[0].value"),
        ("response value EXPR= upper case", "response_headers", "X-Oracle-B", "EXPR=%%{file:%s}" % secret,
         "response_headers[0].value"),
        ("response value %{file:}", "response_headers", "X-Oracle-C", "%%{file:%s}" % secret,
         "response_headers[0].value"),
        ("request value expr=", "request_headers", "X-Oracle-D", "expr=%%{file:%s}" % secret,
         "request_headers[0].value"),
        ("response value leading space expr (accepted, literal)", "response_headers", "X-Literal",
         " expr=file('%s')" % secret, None),
        ("response value with env= condition word (accepted, literal)", "response_headers", "X-Literal",
         "v env=HOME", None),
        ("response value %{SSL_SERVER_CERT}s (accepted)", "response_headers", "X-Literal", "%{HOME}e", None),
    ]
    for cid, kind, name, value, field in header_reads:
        add("read", cid, [plain(**{kind: [{"name": name, "value": value}]})], probe_read, field, "victim")
    add("read", "location response value expr=file()", [plain(locations=[{
        "path": "/", "backend": "http://127.0.0.1:%d/" % w.victim.port,
        "response_headers": [{"name": "X-Oracle-L", "value": "expr=file('%s')" % secret}]}])], probe_read,
        "locations[0].response_headers[0].value", "victim")

    # 3/12. Frontend TLS weakened without the opt-in.
    tls_lines = [
        "SSLProtocol -all +TLSv1 +TLSv1.1 +TLSv1.2", "SSLProtocol all", "SSLProtocol +TLSv1.1", "sslprotocol all",
        "SSLCipherSuite DEFAULT:@SECLEVEL=0", "SSLCipherSuite ALL", "SSLCipherSuite AES128-SHA",
        "SSLCipherSuite HIGH:@SECLEVEL=1", "SSLCipherSuite TLSv1.3 TLS_AES_128_CCM_8_SHA256",
        "SSLInsecureRenegotiation on", "SSLHonorCipherOrder on", "SSLCompression on", "SSLSessionTickets on",
        "SSLOpenSSLConfCmd MinProtocol TLSv1", "SSLOpenSSLConfCmd CipherString DEFAULT@SECLEVEL=0",
        "LogLevel ssl:trace8", "LogLevel trace8", "LogLevel debug", "SSLEngine off", "SSLVerifyClient none",
        "Header always set Strict-Transport-Security max-age=0", "Header always unset Strict-Transport-Security",
        "Protocols h2c http/1.1",
    ]
    for i, line in enumerate(tls_lines):
        add("tls_front", "extra_directives[%d] %s" % (i, line), [tls(extra_directives=[line])], probe_tls_front,
            "extra_directives", "victim")
    for cid, over, field in [
        ("hsts false", {"hsts": False}, "hsts false"),
        ("hsts_max_age 0", {"hsts_max_age": 0}, "hsts_max_age 0"),
        ("hsts_max_age 1", {"hsts_max_age": 1}, "hsts_max_age 1"),
        ("hsts_max_age one day", {"hsts_max_age": 86400}, "hsts_max_age 86400"),
        ("hsts_max_age a year minus one", {"hsts_max_age": HSTS_MIN - 1}, "hsts_max_age"),
        ("hsts_max_age a year (accepted)", {"hsts_max_age": HSTS_MIN}, None),
        ("tls_profile old", {"tls_profile": "old"}, "tls_profile old"),
        ("tls_profile modern (accepted)", {"tls_profile": "modern"}, None),
        ("tls_session_tickets", {"tls_session_tickets": True}, "tls_session_tickets"),
        ("response header Strict-Transport-Security max-age=0",
         {"response_headers": [{"name": "Strict-Transport-Security", "value": "max-age=0"}]},
         "response_headers[0].name"),
        ("response header strict-transport-security lower case",
         {"response_headers": [{"name": "strict-transport-security", "value": "max-age=0"}]},
         "response_headers[0].name"),
        ("response header Strict_Transport_Security",
         {"response_headers": [{"name": "Strict_Transport_Security", "value": "max-age=0"}]},
         "response_headers[0].name"),
        ("response header unset Strict-Transport-Security",
         {"response_headers": [{"action": "unset", "name": "Strict-Transport-Security"}]},
         "response_headers[0].name"),
        ("response header append STS", {"response_headers": [{"action": "append", "name":
                                                             "Strict-Transport-Security", "value": "max-age=0"}]},
         "response_headers[0].name"),
    ]:
        add("tls_front", cid, [tls(**over)], probe_tls_front, field, "victim")
    for cid, locs, field in [
        ("nocanon on /", [{"path": "/", "nocanon": True}], "locations[0].nocanon"),
        ("nocanon on a second location", [{"path": "/"}, {"path": "/raw/", "nocanon": True}], "locations[1].nocanon"),
        ("location response header STS max-age=0", [{"path": "/", "response_headers": [
            {"name": "Strict-Transport-Security", "value": "max-age=0"}]}],
         "locations[0].response_headers[0].name"),
        ("location response header unset STS", [{"path": "/", "response_headers": [
            {"action": "unset", "name": "Strict-Transport-Security"}]}], "locations[0].response_headers[0].name"),
    ]:
        for loc in locs:
            loc["backend"] = "http://127.0.0.1:%d/" % w.victim.port
        add("tls_front", cid, [tls(locations=locs)], probe_tls_front, field, "victim")

    # 12. Backend TLS below the system's level (or otherwise weakened) without the opt-in.
    def tls_backend_site(backend_tls=None, loc_tls=None, pool=False, be=None):
        be = be or w.weak
        site = plain(backend_tls=dict({"ca_file": w.good_ca.cert_path}, **(backend_tls or {})))
        if pool:
            site["locations"] = [{"path": "/", "backends": [{"url": "https://localhost:%d/" % be.port}]}]
        else:
            site["locations"] = [{"path": "/", "backend": "https://localhost:%d/" % be.port}]
        if loc_tls:
            site["locations"][0]["backend_tls"] = loc_tls
        return site

    weak_probe = probe_backend([("/", b"weak")])
    for cid, kw, field in [
        ("ciphers HIGH:@SECLEVEL=1", {"backend_tls": {"ciphers": "HIGH:@SECLEVEL=1"}}, "backend_tls"),
        ("ciphers DEFAULT:@SECLEVEL=1", {"backend_tls": {"ciphers": "DEFAULT:@SECLEVEL=1"}}, "backend_tls"),
        ("ciphers @SECLEVEL=1:HIGH", {"backend_tls": {"ciphers": "@SECLEVEL=1:HIGH"}}, "backend_tls"),
        ("ciphers @seclevel=1 lower case", {"backend_tls": {"ciphers": "HIGH:@seclevel=1"}}, "backend_tls"),
        ("ciphers last SECLEVEL=1 wins", {"backend_tls": {"ciphers": "HIGH:@SECLEVEL=2:@SECLEVEL=1"}}, "backend_tls"),
        ("ciphers SECLEVEL=0", {"backend_tls": {"ciphers": "HIGH:@SECLEVEL=0"}}, "backend_tls"),
        ("ciphers SECLEVEL=2 last (accepted)", {"backend_tls": {"ciphers": "HIGH:@SECLEVEL=1:@SECLEVEL=2"}}, None),
        ("location ciphers SECLEVEL=1", {"loc_tls": {"ciphers": "HIGH:@SECLEVEL=1"}}, "locations[0].backend_tls"),
        ("pool ciphers SECLEVEL=1", {"loc_tls": {"ciphers": "HIGH:@SECLEVEL=1"}, "pool": True},
         "locations[0].backend_tls"),
        ("protocols TLSv1.1", {"backend_tls": {"protocols": ["TLSv1.1", "TLSv1.2"], "ciphers": "DEFAULT:@SECLEVEL=1"}},
         "backend_tls"),
        ("verify optional_no_ca", {"backend_tls": {"verify": "optional_no_ca"}, "be": w.rogue}, "backend_tls"),
        ("verify none", {"backend_tls": {"verify": "none"}, "be": w.rogue}, "backend_tls"),
        ("location verify none", {"loc_tls": {"verify": "none"}, "be": w.rogue}, "locations[0].backend_tls"),
        ("location ca_file of the rogue CA (accepted: the user names whom to trust)",
         {"loc_tls": {"ca_file": w.rogue_ca.cert_path}, "be": w.weak}, None),
        ("defaults (accepted, strict)", {}, None),
    ]:
        be = kw.pop("be", None)
        probe = probe_backend([("/", b"weak"), ("/", b"rogue")]) if be is not None else weak_probe
        add("tls_back", cid, [tls_backend_site(be=be, **kw)], probe, field, "victim")

    # 4. Authz: Require/SetHandler in a location beside the balancer manager.
    def pool_site(loc_extra=None, site_extra=None, path="/", **over):
        # An excluded path: where a handler set in a section would answer instead of the proxy.
        site = plain(**dict({"balancer_manager": True, "proxy_exclusions": ["/static/"]}, **over))
        site["locations"] = [{"path": path, "backends": [{"url": "http://127.0.0.1:%d/" % w.victim.port},
                                                         {"url": "http://localhost:%d/" % w.victim.port}]}]
        if loc_extra:
            site["locations"][0]["extra_directives"] = loc_extra
        if site_extra:
            site["extra_directives"] = site_extra
        return site

    for i, line in enumerate(["Require all granted", "Require ip 0.0.0.0/0", "Require not ip 192.0.2.0/24",
                              "Require expr true", "SetHandler balancer-manager", "SetHandler server-status",
                              "SetHandler server-info", "AddHandler server-status .x", "AuthType None",
                              "Satisfy Any", "Allow from all", "AuthMerging Or"]):
        add("authz", "location extra_directives %d %s" % (i, line), [pool_site(loc_extra=[line])],
            probe_authz(), "locations[0].extra_directives[0]", "victim")
    for i, line in enumerate(["Require all granted", "SetHandler balancer-manager", "SetHandler server-status"]):
        add("authz", "site extra_directives %d %s" % (i, line), [pool_site(site_extra=[line])], probe_authz(),
            "extra_directives[0]", "victim")
    add("authz", "a location at the manager's path (accepted: the manager section comes last)",
        [pool_site(path=MANAGER_PATH + "/")], probe_authz(), None)
    site = pool_site(path=MANAGER_PATH)
    for member in site["locations"][0]["backends"]:
        member["url"] += "m"
    add("authz", "a pool at the manager's own path (accepted)", [site], probe_authz(), None)
    site = pool_site(path="/app/")
    site["locations"].append({"path": MANAGER_PATH, "backend": "http://127.0.0.1:%d/m" % w.victim.port,
                              "response_headers": [{"name": "X-A", "value": "b"}]})
    add("authz", "the manager's path also a plain location with headers (accepted)", [site], probe_authz(), None)
    add("authz", "exclusion of the manager path (accepted)", [pool_site(path="/app/", proxy_exclusions=[MANAGER_PATH])],
        probe_authz(), None)

    # 5. ACME challenge directory.
    def acme_site(path):
        return tls(acme_challenge_dir=path)

    srv = w.srv
    for cid, path, field in [
        ("/etc", "/etc", "acme_challenge_dir"), ("/.", "/.", "acme_challenge_dir"),
        ("/proc", "/proc", "acme_challenge_dir"), ("/proc/self", "/proc/self", "acme_challenge_dir"),
        ("/", "/", "acme_challenge_dir"), ("//etc", "//etc", "acme_challenge_dir"),
        ("/etc/", "/etc/", "acme_challenge_dir"), ("/root", "/root", "acme_challenge_dir"),
        ("/var/log", "/var/log", "acme_challenge_dir"), ("/var/lib", "/var/lib", "acme_challenge_dir"),
        ("/var", "/var", "acme_challenge_dir"), ("/tmp", "/tmp", "acme_challenge_dir"),
        ("/usr/share", "/usr/share", "acme_challenge_dir"), ("/home", "/home", "acme_challenge_dir"),
        ("/var/www/../../etc", "/var/www/../../etc", "acme_challenge_dir"),
        ("/srv/../etc", "/srv/../etc", "acme_challenge_dir"),
        ("srv dot component", srv + "/./acme", "acme_challenge_dir"),
        ("srv double slash", srv + "//acme", "acme_challenge_dir"),
        ("srv dotdot out", srv + "/acme/../../../etc", "acme_challenge_dir"),
        ("secret dir outside roots", w.secret_dir, "acme_challenge_dir"),
        ("symlink under /srv to /etc", srv + "/link-etc", "acme_challenge_dir"),
        ("symlink under /srv to /", srv + "/link-root", "acme_challenge_dir"),
        ("symlink to a symlink to /etc", srv + "/link-link-etc", "acme_challenge_dir"),
        ("symlink with trailing slash", srv + "/link-etc/", "acme_challenge_dir"),
        ("below a symlink to /etc", srv + "/link-etc/ssl", "acme_challenge_dir"),
        ("not yet existing below a symlink to /etc", srv + "/link-etc/new-dir", "acme_challenge_dir"),
        ("symlink to /proc/self", srv + "/link-proc", "acme_challenge_dir"),
        ("symlink to the secret dir", srv + "/link-secret-dir", "acme_challenge_dir"),
        ("a FIFO", srv + "/fifo", "acme_challenge_dir"),
        ("a regular file", srv + "/a-file", "acme_challenge_dir"),
        ("relative", "etc", "acme_challenge_dir"),
        ("real dir under /srv (accepted; a symlink planted later is not followed)", w.acme, None),
        ("not yet existing under /srv (accepted)", srv + "/acme-later", None),
    ]:
        add("acme", cid, [acme_site(path)], probe_acme, field, "victim")

    # 6. Error pages.
    def error_site(path, status=502):
        site = plain(error_pages=[{"status": status, "file": path}])
        site["locations"][0]["backend"] = "http://127.0.0.1:%d/" % w.port()  # nobody listens: 503
        return site

    for cid, path, field in [
        ("/etc/passwd", "/etc/passwd", "error_pages[0].file"), ("/etc/shadow", "/etc/shadow", "error_pages[0].file"),
        ("/proc/self/environ", "/proc/self/environ", "error_pages[0].file"),
        ("/dev/zero", "/dev/zero", "error_pages[0].file"),
        ("secret outside roots", w.secret, "error_pages[0].file"),
        ("/srv/../etc/passwd", "/srv/../etc/passwd", "error_pages[0].file"),
        ("srv dot component", srv + "/./errors/502.html", "error_pages[0].file"),
        ("symlink to /etc/passwd", srv + "/link-passwd", "error_pages[0].file"),
        ("symlink to the secret", srv + "/link-secret", "error_pages[0].file"),
        ("through a symlinked dir", srv + "/link-etc/passwd", "error_pages[0].file"),
        ("through a symlinked secret dir", srv + "/link-secret-dir/secret.txt", "error_pages[0].file"),
        ("a FIFO", srv + "/fifo", "error_pages[0].file"),
        ("a directory", w.errors, "error_pages[0].file"),
        ("a directory with a trailing slash", w.errors + "/", "error_pages[0].file"),
        ("real file under /srv (accepted)", w.error_page, None),
        ("not yet existing under /srv (accepted; a symlink planted there later is not followed)",
         w.errors + "/503.html", None),
    ]:
        add("error_pages", cid, [error_site(path, 503)], probe_error_pages, field, "victim")

    # 7. Addresses: a site bound to one address beside a victim on '*'.
    for cid, address, listen_addr in [
        ("127.0.0.1 beside *", "127.0.0.1", "127.0.0.1"), ("127.0.0.2 beside *", "127.0.0.2", "127.0.0.2"),
        ("0.0.0.0 beside *", "0.0.0.0", "127.0.0.1"), ("::", "::", "::1"), ("[::]", "[::]", "::1"),
        ("::1 beside *", "::1", "::1"), ("[::1] beside *", "[::1]", "::1"),
    ]:
        port = w.port()
        victim = plain(port=port)
        attacker = plain("attacker", "attacker.example.net", port=port, backend=w.attacker,
                         listen={"port": port, "address": address})
        add("addresses", cid, [victim, attacker],
            probe_names([("127.0.0.1", port, "victim.example.com"), (listen_addr, port, "victim.example.com")]),
            "listen", None)
    port = w.port()
    unspecified = {"port": port, "address": "0.0.0.0"}
    add("addresses", "0.0.0.0 alone", [plain("attacker", "attacker.example.net", listen=unspecified)],
        probe_names([]), "listen.address", "attacker")
    port = w.port()
    add("addresses", "victim on 127.0.0.1, attacker on * (refused: mixing)",
        [plain(listen={"port": port, "address": "127.0.0.1"}),
         plain("attacker", "attacker.example.net", port=port, backend=w.attacker)],
        probe_names([("127.0.0.1", port, "victim.example.com")]), "listen", None)
    # The attacker's HTTP redirect vhost, bound to 127.0.0.1, on the port where the victim listens on '*'.
    port = w.port()
    add("addresses", "redirect vhost on 127.0.0.1 on the victim's port",
        [plain(port=port), tls("attacker", "attacker.example.net", listen={"port": w.port(), "address": "127.0.0.1"},
                               redirect_http_port=port)],
        probe_names([("127.0.0.1", port, "victim.example.com")]), "listen", None)
    port, victim_redirect = w.port(), w.port()
    add("addresses", "127.0.0.1 site on the victim's redirect port",
        [tls(redirect_http_port=victim_redirect),
         plain("attacker", "attacker.example.net", backend=w.attacker,
               listen={"port": victim_redirect, "address": "127.0.0.1"})],
        probe_names([]), "listen", None)
    add("addresses", "same address on both (accepted)",
        [plain(listen={"port": port, "address": "127.0.0.1"}),
         plain("attacker", "attacker.example.net", backend=w.attacker, listen={"port": port, "address": "127.0.0.1"})],
        probe_names([("127.0.0.1", port, "victim.example.com")]))
    # Against hand-written vhosts of the live configuration.
    live_port = w.port()
    w.hand["victims.conf"] = w.hand.get("victims.conf", "") + (
        "<VirtualHost *:%d>\n    ServerName victim.example.com\n    ServerAlias www.victim.example.com\n"
        "    ProxyPass / http://127.0.0.1:%d/\n</VirtualHost>\n" % (live_port, w.victim.port))
    for cid, over, field in [
        ("live: 127.0.0.1 beside a hand-written *", {"listen": {"port": live_port, "address": "127.0.0.1"}},
         "listen"),
        ("live: 127.0.0.2 beside a hand-written *", {"listen": {"port": live_port, "address": "127.0.0.2"}},
         "listen"),
        ("live: [::1] beside a hand-written *", {"listen": {"port": live_port, "address": "::1"}}, "listen"),
        # (Named to sort after the hand-written file: the default-server rule would refuse them first.)
        ("live: the same name", {"server_name": "victim.example.com", "name": "zz-attacker"}, "victim.example.com"),
        ("live: its alias as ours", {"server_aliases": ["www.victim.example.com"], "name": "zz-attacker"},
         "www.victim.example.com"),
        ("live: another name, its file sorting before the default server's", {}, "sorts before"),
        ("live: another name (accepted)", {"name": "zz-other"}, None),
    ]:
        attacker = plain(over.pop("name", "attacker"), over.pop("server_name", "attacker.example.net"), port=live_port,
                         backend=w.attacker, **over)
        checks = [("127.0.0.1", live_port, "victim.example.com"), ("127.0.0.1", live_port, "www.victim.example.com")]
        address = (attacker.get("listen") or {}).get("address")
        if address:
            checks.append(("::1" if ":" in address else address, live_port, "victim.example.com"))
        add("addresses", cid, [attacker], probe_names(checks), field, attacker["name"], live=True)
    default_port = w.port()
    w.hand["000-default.conf"] = (
        "<VirtualHost *:%d>\n    ServerName default.example.org\n    ProxyPass / http://127.0.0.1:%d/\n"
        "</VirtualHost>\n" % (default_port, w.victim.port))
    add("addresses", "live: sorts before the hand-written default server",
        [plain("00", "attacker.example.net", port=default_port, backend=w.attacker)],
        probe_names([("127.0.0.1", default_port, "unknown.example.org")]), "sorts before", "00", live=True)

    # 8. Wildcard aliases answering another site's name.
    for cid, alias, field, same_port in [
        ("*.example.com", "*.example.com", "server_aliases", True), ("*.com", "*.com", "server_aliases", True),
        ("*", "*", "server_aliases", True), ("*.*", "*.*", "server_aliases", True),
        ("*example.com", "*example.com", "server_aliases", True), ("victim*", "victim*", "server_aliases", True),
        ("v?ctim.example.com", "v?ctim.example.com", "server_aliases", True),
        ("*.EXAMPLE.COM", "*.EXAMPLE.COM", "server_aliases", True),
        ("*.example.com.", "*.example.com.", "server_aliases", True),
        ("*.victim.example.com vs www.victim.example.com", "*.victim.example.com", "server_aliases", True),
        ("*.example.com on another port", "*.example.com", None, False),
        ("*.example.org beside victim.example.com (accepted)", "*.example.org", None, True),
    ]:
        port = w.port()
        victim = plain(port=port, server_aliases=["www.victim.example.com"])
        attacker = plain("attacker", "attacker.example.net", port=port if same_port else w.port(),
                         backend=w.attacker, server_aliases=[alias])
        add("wildcards", cid, [victim, attacker],
            probe_names([("127.0.0.1", port, "victim.example.com"), ("127.0.0.1", port, "www.victim.example.com")]),
            field, None)
    port = w.port()
    wild = plain("attacker", "*.example.com", port=port, backend=w.attacker)
    add("wildcards", "server_name wildcard", [plain(port=port), wild],
        probe_names([("127.0.0.1", port, "victim.example.com")]), "server_name", None)
    for cid, alias in [("live: *.example.com beside a hand-written victim", "*.example.com"),
                       ("live: *.victim.example.com beside a hand-written www.victim", "*.victim.example.com"),
                       ("live: www.victim.* beside a hand-written www.victim", "www.victim.*")]:
        add("wildcards", cid, [plain("zz-attacker", "attacker.example.net", port=live_port, backend=w.attacker,
                                     server_aliases=[alias])],
            probe_names([("127.0.0.1", live_port, "victim.example.com"),
                         ("127.0.0.1", live_port, "www.victim.example.com")]), "server_aliases", "zz-attacker",
            live=True)

    # 9. <Proxy> prefix: one location's backend TLS must not govern a sibling.
    def prefix_site(locs, insecure=True):
        return plain(allow_insecure_backend_tls=insecure, backend_tls={"ca_file": w.good_ca.cert_path}, locations=locs)

    r, r2 = w.rogue.port, w.rogue2.port
    none = {"verify": "none"}
    rogue_ca = {"ca_file": w.rogue_ca.cert_path}
    admin_probe = probe_backend([("/admin/x", b"rogue")])
    for cid, locs, insecure, field in [
        ("/ verify none + /admin/ strict, same host:port",
         [{"path": "/", "backend": "https://localhost:%d/" % r, "backend_tls": none},
          {"path": "/admin/", "backend": "https://localhost:%d/admin/" % r}], True, "locations"),
        ("/admin/ strict listed first",
         [{"path": "/admin/", "backend": "https://localhost:%d/admin/" % r},
          {"path": "/", "backend": "https://localhost:%d/" % r, "backend_tls": none}], True, "locations"),
        ("per-location ca_file, no opt-in",
         [{"path": "/", "backend": "https://localhost:%d/" % r, "backend_tls": rogue_ca},
          {"path": "/admin/", "backend": "https://localhost:%d/admin/" % r}], False, "locations"),
        ("host case differs",
         [{"path": "/", "backend": "https://LOCALHOST:%d/" % r, "backend_tls": rogue_ca},
          {"path": "/admin/", "backend": "https://localhost:%d/admin/" % r}], False, "locations"),
        ("no trailing slash",
         [{"path": "/", "backend": "https://localhost:%d" % r, "backend_tls": rogue_ca},
          {"path": "/admin/", "backend": "https://localhost:%d/admin/" % r}], False, "locations"),
        ("path prefix /a vs /ab/",
         [{"path": "/a", "backend": "https://localhost:%d/a" % r, "backend_tls": rogue_ca},
          {"path": "/admin/", "backend": "https://localhost:%d/admin/" % r}], False, "locations"),
        ("port prefix :P vs :P0",
         [{"path": "/", "backend": "https://localhost:%d" % w.rogue_p.port, "backend_tls": rogue_ca},
          {"path": "/admin/", "backend": "https://localhost:%d/admin/" % w.rogue_p0.port}], False, "locations"),
        ("check_peer_name false on /",
         [{"path": "/", "backend": "https://localhost:%d/" % r,
           "backend_tls": {"check_peer_name": False, "ca_file": w.rogue_ca.cert_path}},
          {"path": "/admin/", "backend": "https://localhost:%d/admin/" % r}], True, "locations"),
        ("site verify none, /admin/ with its own strict CA",
         [{"path": "/", "backend": "https://localhost:%d/" % r},
          {"path": "/admin/", "backend": "https://localhost:%d/admin/" % r,
           "backend_tls": {"ca_file": w.good_ca.cert_path, "verify_depth": 3}}], True, "locations"),
        ("pools api and admin, one trusting the rogue CA (accepted)",
         [{"path": "/api/", "backends": [{"url": "https://localhost:%d/" % r}], "backend_tls": rogue_ca},
          {"path": "/admin/", "backends": [{"url": "https://localhost:%d/" % r2}]}], False, None),
        ("other host name, same address (accepted)",
         [{"path": "/", "backend": "https://vm:%d/" % r, "backend_tls": rogue_ca},
          {"path": "/admin/", "backend": "https://localhost:%d/admin/" % r}], False, None),
        ("other port (accepted)",
         [{"path": "/", "backend": "https://localhost:%d/" % r2, "backend_tls": none},
          {"path": "/admin/", "backend": "https://localhost:%d/admin/" % r}], True, None),
    ]:
        site = prefix_site(locs, insecure)
        if cid == "site verify none, /admin/ with its own strict CA":
            site["backend_tls"] = {"verify": "none"}
        add("proxy_prefix", cid, [site], admin_probe, field, "victim")
    # Pools whose balancer names are prefixes: /api/ -> balancer://api, /api/v1/ -> balancer://api-v1.
    for cid, paths in [("pools api and api-v1 (names are prefixes)", ("/api/", "/api/v1/")),
                       ("pools a and ab", ("/a/", "/ab/")), ("pools root and root-2", ("/", "/root/"))]:
        locs = [{"path": paths[0], "backends": [{"url": "https://localhost:%d/" % r}], "backend_tls": rogue_ca},
                {"path": paths[1], "backends": [{"url": "https://localhost:%d/" % r2}]}]
        add("proxy_prefix", cid, [prefix_site(locs, False)], probe_backend([(paths[1] + "x", b"rogue")]),
            "locations", "victim")

    # 10. Forwarding headers sent by the client (forwarded_headers: true, the default).
    spoofs = [
        [("Forwarded", "for=%s;proto=https" % SPOOF)], [("X-Real-IP", SPOOF)], [("x-real-ip", SPOOF)],
        [("X_Real_IP", SPOOF)], [("X-Forwarded-For", SPOOF)], [("X_Forwarded_For", SPOOF)],
        [("X-Forwarded_For", SPOOF)], [("X_Forwarded-For", SPOOF)], [("X-FORWARDED-FOR", SPOOF)],
        [("X-Forwarded-For", SPOOF), ("X-Forwarded-For", SPOOF + "2")], [("X-Forwarded-Ssl", "on-" + SPOOF)],
        [("X-Forwarded-Prefix", "/" + SPOOF)], [("X-Forwarded-Proto", "https"), ("X-Spoof-Marker", "")],
        [("X_Forwarded_Proto", "https-" + SPOOF)], [("X-Forwarded-Host", "evil.example")],
        [("X-Forwarded-Server", "evil.example")], [("X-Forwarded-Port", "443" + SPOOF)], [("Client-IP", SPOOF)],
        [("Client_IP", SPOOF)], [("True-Client-IP", SPOOF)], [("X-Client-IP", SPOOF)],
        [("X-Cluster-Client-IP", SPOOF)], [("X-Url-Scheme", "https-" + SPOOF)], [("Front-End-Https", "on-" + SPOOF)],
        [("X-Forwarded-Scheme", "https-" + SPOOF)], [("X-Forwarded-Protocol", "https-" + SPOOF)],
    ]
    for sent in spoofs:
        add("forwarded", "client sends %s" % ", ".join(n for n, _v in sent), [plain()], probe_forwarded(sent))
    add("forwarded", "TLS site, client sends X-Forwarded-Proto http and Forwarded",
        [tls()], probe_forwarded([("X-Forwarded-Proto", "http"), ("Forwarded", "for=" + SPOOF)]))
    add("forwarded", "pool location, client sends X-Real-IP",
        [pool_site(balancer_manager=False)], probe_forwarded([("X-Real-IP", SPOOF)]))
    for cid, over, field in [
        ("request_headers set X-Forwarded-For", {"request_headers": [{"name": "X-Forwarded-For", "value": SPOOF}]},
         "request_headers[0].name"),
        ("request_headers set X_Forwarded_For", {"request_headers": [{"name": "X_Forwarded_For", "value": SPOOF}]},
         "request_headers[0].name"),
        ("request_headers set forwarded", {"request_headers": [{"name": "forwarded", "value": "for=" + SPOOF}]},
         "request_headers[0].name"),
        ("request_headers set X-Real-Ip", {"request_headers": [{"name": "X-Real-Ip", "value": SPOOF}]},
         "request_headers[0].name"),
        ("request_headers set X-Forwarded-Proto https",
         {"request_headers": [{"name": "X-Forwarded-Proto", "value": "https"}]}, "request_headers[0].name"),
        ("location request_headers set Client-IP",
         {"locations": [{"path": "/", "backend": "http://127.0.0.1:%d/" % w.victim.port,
                         "request_headers": [{"name": "Client-IP", "value": SPOOF}]}]},
         "locations[0].request_headers[0].name"),
        ("request_headers append X-Forwarded-Ssl",
         {"request_headers": [{"action": "append", "name": "X-Forwarded-Ssl", "value": SPOOF}]},
         "request_headers[0].name"),
        ("request_headers set X-Forwarded-Foo (accepted, not a forwarding header)",
         {"request_headers": [{"name": "X-Forwarded-Foo", "value": "fine"}]}, None),
    ]:
        add("forwarded", cid, [plain(**over)], probe_forwarded([("X-Real-IP", SPOOF)]), field, "victim")

    # The hostile reviews' classes (test_review_fixes.py holds their live proofs with controls): path overrides and
    # CDN spellings are dropped too; the rest is refused.
    add("forwarded", "client sends path overrides and CDN client addresses", [plain()],
        probe_forwarded([("X-Original-URL", SPOOF), ("X_Rewrite_URL", SPOOF), ("CF-Connecting-IP", SPOOF),
                         ("X-Forwarded-Uri", SPOOF), ("True-Client-IP", SPOOF)]))
    victim_port = w.port()
    add("addresses", "the victim's name on another port", [plain(port=victim_port),
                                                           plain("attacker", "victim.example.com")],
        probe_names([]), None, "attacker")
    add("addresses", "a wildcard over the victim's name on another port",
        [plain(port=w.port()), plain("attacker", "x.example.net", server_aliases=["*.example.com"])],
        probe_names([]), "server_aliases", "attacker")
    for cid, address in (("a listen address this host lacks", "198.51.100.7"), ("::0", "::0"),
                         ("0:0:0:0:0:0:0:0", "0:0:0:0:0:0:0:0"), ("::ffff:0.0.0.0", "::ffff:0.0.0.0"),
                         ("IPv4-mapped loopback", "::ffff:127.0.0.1")):
        add("addresses", cid, [plain("attacker", "attacker.example.net",
                                     listen={"port": w.port(), "address": address})],
            probe_names([]), "listen.address", "attacker")
    for cid, name in (("Host", "Host"), ("host lower case", "host"), ("Transfer-Encoding", "Transfer-Encoding"),
                      ("Content-Length", "Content-Length")):
        add("forwarded", "request_headers set %s" % cid,
            [plain(forwarded_headers=False, request_headers=[{"name": name, "value": "victim.example.com"}])],
            probe_forwarded([]), "request_headers[0].name", "victim")
    add("read", "AllowEncodedSlashes NoDecode (raw %2F to the backend)",
        [plain(extra_directives=["AllowEncodedSlashes NoDecode"])], probe_write(), "extra_directives[0]", "victim")
    add("proxy_prefix", "a backend URL without a path (/0 would reach another port)",
        [plain(locations=[{"path": "/", "backend": "http://127.0.0.1:%d" % w.victim.port}])],
        probe_names([]), "locations[0].backend", "victim")
    return cases


# -- the pipeline: validate, batch, load, probe ---------------------------------------------------------------------


def _listen_lines(effs, extra=()):
    """Listen on loopback only: 127.0.0.1 for '*', the site's own address otherwise (0.0.0.0/:: mapped to
    loopback, should a case ever be accepted with them)."""
    wanted = set(extra)
    for eff in effs:
        ports = [eff["listen"]["port"]]
        redirect = (eff.get("frontend") or {}).get("redirect")
        if redirect:
            ports.append(redirect["port"])
        address = eff["listen"]["address"]
        for port in ports:
            wanted.add(("127.0.0.1", port))
            if address in ("::", "::1"):
                wanted.add(("::1", port))
            elif address and address != "0.0.0.0":
                wanted.add((address, port))
    return "".join("Listen %s:%d\n" % ("[%s]" % a if ":" in a else a, p) for a, p in sorted(wanted))


def _global_lines(effs):
    text = render_listen_conf(effs, set())
    return "".join(line + "\n" for line in text.splitlines() if line and not line.startswith(("Listen", "#")))


def _hand_listens(w):
    out = set()
    for text in w.hand.values():
        for line in text.splitlines():
            if line.startswith("<VirtualHost"):
                out.add(("127.0.0.1", int(line.split(":")[-1].rstrip(">"))))
    return out


def _load(w, blocks, effs):
    """Managed text first (worst case: read before the hand-written files), then the hand-written vhosts."""
    text = _listen_lines(effs, _hand_listens(w)) + _global_lines(effs) + "".join(blocks)
    text += 'IncludeOptional "%s/*.conf"\n' % w.hand_dir
    w.apache.set_vhosts(text)
    return w.apache


def _modules_for(effs):
    mods = list(DEFAULT_MODULES) + [m for m in EXTRA_MODULES if _available(m)]
    return tuple(mods + [m for m in needed_modules(effs) if m not in mods])


def _render_case(case_effs):
    # The attacker's files first: Apache answers a name from the first vhost that has it.
    return "".join(render_site(eff) for eff in reversed(case_effs))


def _validate(w, case):
    live = w.live if case.live else None
    return effective_sites(copy.deepcopy(case.sites), None, w.tls_dir, case.policy, live=live,
                           is_managed=lambda path: not path.startswith(w.hand_dir + "/"), managed_dir=w.hand_dir)


def _refusal_problem(case, msg):
    names = [s.get("name") for s in case.sites]
    if not msg.startswith("site '"):
        return "the refusal names no site"
    named = msg[len("site '"):].split("'", 1)[0]
    if named not in names:
        return "the refusal names site %r, not one of %s" % (named, names)
    if case.site and named != case.site:
        return "the refusal names site %r, expected %r" % (named, case.site)
    if case.field and case.field not in msg:
        return "the refusal does not name %r" % case.field
    return None


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = World(tmp_path_factory.mktemp("semantic"))
    try:
        yield w
    finally:
        w.cleanup()


def _start(w, work):
    """The private Apache with the hand-written vhosts, and the live vhosts read from it as the module does."""
    for name, text in w.hand.items():
        with open(os.path.join(w.hand_dir, name), "w") as handle:
            handle.write(text)
    # A DocumentRoot www-data can read, as on a real host (pytest's tmp tree is 0700: every path the vhosts serve
    # themselves would be 403 for that reason alone, and the authz probes would be blind).
    docroot = w._dir("htdocs")
    remote = ("RemoteIPHeader %s\nRemoteIPInternalProxy 127.0.0.0/8 ::1\nDocumentRoot \"%s\"\n"
              "<Directory \"%s\">\n    Require all granted\n</Directory>\n" % (REMOTE_HEADER, docroot, docroot))
    w.apache = PrivateApache(str(work), modules=_modules_for([]), extra_global=remote)
    _load(w, [], [])
    w.apache.start()

    def run(argv):
        res = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        return res.returncode, res.stdout, res.stderr
    w.live = read_live_vhosts([w.apache.httpd, "-d", w.apache.workdir, "-f", w.apache.conf_path], run)
    assert any("victim.example.com" in v["names"] for v in w.live), w.live


def _configtest_alone(w, blocks, effs):
    _load(w, blocks, effs)
    return w.apache.configtest()


def _apply_batch(w, accepted):
    """Load every accepted case; a config test failure is bisected to the cases Apache refuses alone."""
    refused_by_apache = {}
    effs = [e for _c, case_effs in accepted for e in case_effs]
    blocks = [_render_case(case_effs) for _c, case_effs in accepted]
    w.apache.modules = _modules_for(effs)
    _load(w, blocks, effs)
    ok, output = w.apache.configtest()
    if not ok:
        keep = []
        for (case, case_effs), block in zip(accepted, blocks):
            good, out = _configtest_alone(w, [block], case_effs)
            if good:
                keep.append((case, case_effs))
            else:
                refused_by_apache[case.cid] = out[-400:]
        accepted = keep
        effs = [e for _c, case_effs in accepted for e in case_effs]
        blocks = [_render_case(case_effs) for _c, case_effs in accepted]
        _load(w, blocks, effs)
    w.apache.reload()
    return accepted, refused_by_apache


def test_semantic_hostile_inputs(world, tmp_path):
    w = world
    started = time.monotonic()
    cases = build_cases(w)
    _start(w, tmp_path / "apache")
    counts = dict((c, {"tried": 0, "refused": 0, "refused_by_apache": 0, "accepted_harmless": 0, "dangerous": 0})
                  for c in CLASSES)
    details = []
    accepted = []
    for case in cases:
        counts[case.cls]["tried"] += 1
        try:
            _policy, effs, warnings = _validate(w, case)
        except ConfigError as exc:
            problem = _refusal_problem(case, str(exc))
            if problem:
                counts[case.cls]["dangerous"] += 1
                details.append({"class": case.cls, "case": case.cid, "problem": problem, "msg": str(exc)})
            else:
                counts[case.cls]["refused"] += 1
                details.append({"class": case.cls, "case": case.cid, "refused": str(exc)[:300]})
                if case.field is None:
                    details.append({"class": case.cls, "case": case.cid, "note": "refused, expected accepted"})
            continue
        except Exception as exc:  # pylint: disable=broad-except
            counts[case.cls]["dangerous"] += 1
            details.append({"class": case.cls, "case": case.cid, "problem": "uncaught %s: %s" % (type(exc).__name__,
                                                                                                 exc)})
            continue
        if case.field is not None:
            details.append({"class": case.cls, "case": case.cid, "note": "accepted, expected a refusal naming %r"
                            % case.field, "warnings": warnings + [x for e in effs for x in e["warnings"]]})
        accepted.append((case, effs))
    loaded, by_apache = _apply_batch(w, accepted)
    for case, _effs in accepted:
        if case.cid in by_apache:
            counts[case.cls]["refused_by_apache"] += 1
            details.append({"class": case.cls, "case": case.cid, "refused_by_apache": by_apache[case.cid]})
    for case, effs in loaded:
        try:
            dangers = case.probe(w, effs)
        except Exception as exc:  # pylint: disable=broad-except
            dangers = ["probe failed: %s: %s" % (type(exc).__name__, exc)]
        if dangers:
            counts[case.cls]["dangerous"] += 1
            details.append({"class": case.cls, "case": case.cid, "problem": "DANGEROUS", "found": dangers,
                            "sites": case.sites, "rendered": _render_case(effs)[-3000:]})
        else:
            counts[case.cls]["accepted_harmless"] += 1
            details.append({"class": case.cls, "case": case.cid, "accepted_harmless": True,
                            "warnings": [x for e in effs for x in e["warnings"]]})
    # A write attack refused must never have happened either.
    written = [p for p in w.canaries if os.path.lexists(p)]
    total = dict((k, sum(c[k] for c in counts.values())) for k in counts["write"])
    elapsed = time.monotonic() - started
    os.makedirs(os.path.dirname(OUTPUT), exist_ok=True)
    with open(OUTPUT, "w") as handle:
        json.dump({"counts": counts, "total": total, "seconds": round(elapsed, 1), "canaries_written": written, "live": w.live,
                   "details": details}, handle, indent=1, default=str)
    for cls in CLASSES:
        print(("semantic hostile %-13s " % cls) + "%(tried)3d tried, %(refused)3d refused, %(refused_by_apache)d "
              "refused by Apache, %(accepted_harmless)3d accepted and harmless, %(dangerous)d dangerous" % counts[cls])
    print("semantic hostile total: %(tried)d tried, %(refused)d refused, %(refused_by_apache)d refused by Apache, "
          "%(accepted_harmless)d accepted and harmless, %(dangerous)d dangerous" % total, "(%.1f s)" % elapsed)
    assert total["tried"] >= 150, total
    assert all(counts[c]["tried"] >= 3 for c in CLASSES), counts
    assert not written, written
    bad = [d for d in details if d.get("problem")]
    assert total["dangerous"] == 0, json.dumps(bad, indent=1, default=str)[:12000]


# -- controls: every probe sees the danger when it is really there -------------------------------------------------


def _accept(w, sites, policy=None):
    """Sites the module accepts (validated one call at a time by the caller when a cross-site rule must be skipped)."""
    return _validate(w, Case("control", "control", sites, None, policy=policy))[1]


def _edit(text, old, new):
    assert old in text, (old, text)
    return text.replace(old, new)


def build_controls(w, tmp):
    """(class, what, effective sites (for Listen lines and the probe), config text, probe, text the danger must hold)."""
    controls = []
    raw = {"allow_raw_directives": True}
    port = w.port

    def plain(name="victim", server_name="victim.example.com", listen_port=None, backend=None, **over):
        site = {"name": name, "server_name": server_name, "listen": {"port": listen_port or port()},
                "locations": [{"path": "/", "backend": "http://127.0.0.1:%d/" % (backend or w.victim).port}]}
        site.update(over)
        return site

    def tls(**over):
        site = plain(**over)
        site["tls"] = {"certificate_file": w.front.cert_path, "key_file": w.front.key_path}
        site.setdefault("redirect_http_port", port())
        return site

    def add(cls, what, effs, probe, expect, text=None):
        controls.append((cls, what, effs, text if text is not None else _render_case(effs), probe, expect))

    # write: the raw switch really lets CustomLog create a file (a path under pytest's tmp dir, not /etc/cron.d).
    canary = str(tmp / "raw-canary.log")
    effs = _accept(w, [plain(extra_directives=['CustomLog "%s" "%%h %%{Host}i"' % canary])], raw)
    add("write", "raw CustomLog creates its file", effs, probe_write([canary]), "file written: " + canary)
    # read: the raw switch really lets a Header expression read a file outside every served root.
    effs = _accept(w, [plain(extra_directives=[
        "Header always set X-Oracle-Bit yes \"expr=file('%s') =~ /^%s/\"" % (w.secret, w.token[:6])])], raw)
    add("read", "raw Header expr=file() is a byte-by-byte oracle", effs, probe_read, "oracle header x-oracle-bit")
    effs = _accept(w, [plain(extra_directives=["Header always set X-Oracle-File \"expr=%%{file:%s}\"" % w.secret])],
                   raw)
    add("read", "raw Header %{file:} puts the file into the error log (AH02430)", effs, probe_read,
        "error log: the secret's content")
    # tls_front: the site's opt-in (old profile, no HSTS, nocanon) and the raw switch (protocol, trace log).
    effs = _accept(w, [tls(tls_profile="old", allow_insecure_frontend_tls=True)])
    # (Not TLS 1.0/1.1: OpenSSL 3 refuses them at the system's security level 2, which the old profile keeps.)
    add("tls_front", "tls_profile old with the opt-in accepts a non-AEAD RSA cipher", effs, probe_tls_front,
        "non-forward-secret CBC cipher")
    effs = _accept(w, [tls(extra_directives=["SSLProtocol -all +TLSv1.1 +TLSv1.2",
                                             "SSLCipherSuite DEFAULT:@SECLEVEL=0"])], raw)
    add("tls_front", "raw SSLProtocol/SSLCipherSuite serve TLS 1.1", effs, probe_tls_front,
        "a TLSv1_1 client is served")
    effs = _accept(w, [tls(hsts=False, allow_insecure_frontend_tls=True)])
    add("tls_front", "hsts false with the opt-in sends no HSTS", effs, probe_tls_front, "HSTS None")
    effs = _accept(w, [tls(hsts_max_age=0, allow_insecure_frontend_tls=True)])
    add("tls_front", "hsts_max_age 0 with the opt-in", effs, probe_tls_front, "HSTS 'max-age=0'")
    effs = _accept(w, [tls(extra_directives=["LogLevel ssl:trace8"])], raw)
    add("tls_front", "raw LogLevel ssl:trace8 writes trace lines", effs, probe_tls_front, "trace lines")
    site = tls(allow_insecure_frontend_tls=True)
    site["locations"][0]["nocanon"] = True
    effs = _accept(w, [site])
    add("tls_front", "nocanon with the opt-in forwards the raw URL", effs, probe_tls_front, "raw URL reached")
    # tls_back: the backend really is weak / untrusted: the opt-in reaches it.
    for what, backend_tls, be, body in [
            ("ciphers @SECLEVEL=1 with the opt-in reach an RSA-1024 backend", {"ciphers": "HIGH:@SECLEVEL=1"}, w.weak,
             b"weak"),
            ("verify none with the opt-in reaches an untrusted backend", {"verify": "none"}, w.rogue, b"rogue")]:
        effs = _accept(w, [plain(allow_insecure_backend_tls=True,
                                 backend_tls=dict({"ca_file": w.good_ca.cert_path}, **backend_tls),
                                 locations=[{"path": "/", "backend": "https://localhost:%d/" % be.port}])])
        add("tls_back", what, effs, probe_backend([("/", body)]), "from the %s backend" % body.decode())
    # authz: a raw SetHandler in a location really opens the manager to a non-loopback client.
    # (A proxied path stays with the proxy; a path of the location that is excluded from proxying gets the handler.)
    site = plain(balancer_manager=True, proxy_exclusions=["/x/static/"], locations=[
        {"path": "/", "backends": [{"url": "http://127.0.0.1:%d/" % w.victim.port}]},
        {"path": "/x/", "backend": "http://127.0.0.1:%d/" % w.victim.port,
         "extra_directives": ["SetHandler balancer-manager"]}])
    manager_effs = _accept(w, [site], raw)
    add("authz", "raw SetHandler balancer-manager in a location", manager_effs, probe_authz(),
        "/x/static/x: a handler")
    effs = _accept(w, [plain(proxy_exclusions=["/static/"], extra_directives=["SetHandler server-status"])], raw)
    add("authz", "raw SetHandler server-status in the site", effs, probe_authz(), "/static/x: a handler")
    # acme: the product's own rendering pointed at /etc, or with symlinks followed, serves /etc/passwd.
    acme2 = w._dir("acme-control")
    effs = _accept(w, [tls(acme_challenge_dir=acme2)])
    text = _edit(_render_case(effs), acme2, "/etc")  # the Alias and its <Directory>, as the renderer wrote them
    add("acme", "the rendered Alias pointed at /etc", effs, probe_acme, "acme passwd")
    controls[-1] = controls[-1][:3] + (text,) + controls[-1][4:]
    acme3 = w._dir("acme-control-links")
    effs = _accept(w, [tls(acme_challenge_dir=acme3)])
    text = _edit(_render_case(effs), "Options None", "Options FollowSymLinks")
    add("acme", "the rendered directory with FollowSymLinks serves a planted link", effs, probe_acme,
        "acme planted-passwd", text)
    # error_pages: the rendered Alias pointed at /etc/passwd, or a planted link followed.
    errors2 = w._dir("errors-control")
    with open(os.path.join(errors2, "503.html"), "w") as handle:
        handle.write("ok\n")
    for what, old, new, path in [
            ("the rendered error page pointed at /etc/passwd", None, None, os.path.join(errors2, "503.html")),
            ("the rendered directory with FollowSymLinks serves a planted link", "Options None",
             "Options FollowSymLinks", os.path.join(w._dir("errors-control-links"), "503.html"))]:
        site = plain(error_pages=[{"status": 503, "file": path}])
        site["locations"][0]["backend"] = "http://127.0.0.1:%d/" % port()
        effs = _accept(w, [site])
        text = _render_case(effs)
        text = _edit(text, old, new) if old else _edit(text, '"%s"' % path, '"/etc/passwd"')
        add("error_pages", what, effs, probe_error_pages, "/etc/passwd content", text)
    # addresses: a hand-written vhost on 127.0.0.1:P really captures the name of a managed site on *:P.
    shared = port()
    effs = _accept(w, [plain(listen_port=shared)])
    hand = ("<VirtualHost 127.0.0.1:%d>\n    ServerName attacker.example.net\n    ProxyPass / http://127.0.0.1:%d/\n"
            "</VirtualHost>\n" % (shared, w.attacker.port))
    add("addresses", "hand-written 127.0.0.1:P beside a managed *:P", effs,
        probe_names([("127.0.0.1", shared, "victim.example.com")]), "answered by b'site=attacker", hand +
        _render_case(effs))
    # wildcards: each site valid alone; rendered together (attacker first) the wildcard answers the victim's name.
    shared = port()
    victim = _accept(w, [plain(listen_port=shared)])
    attacker = _accept(w, [plain("attacker", "attacker.example.net", listen_port=shared, backend=w.attacker,
                                 server_aliases=["*.example.com"])])
    add("wildcards", "*.example.com read before victim.example.com", victim + attacker,
        probe_names([("127.0.0.1", shared, "victim.example.com")]), "answered by b'site=attacker")
    # proxy_prefix: a location with verify none (opted in) alone is valid; a strict /admin/ added by hand to the same
    # vhost is governed by its <Proxy> section and reaches the untrusted backend.
    effs = _accept(w, [plain(allow_insecure_backend_tls=True, backend_tls={"ca_file": w.good_ca.cert_path},
                             locations=[{"path": "/", "backend": "https://localhost:%d/" % w.rogue.port,
                                         "backend_tls": {"verify": "none"}}])])
    text = _edit(_render_case(effs), '    ProxyPass "/" ', '    ProxyPass "/admin/" "https://localhost:%d/admin/"\n'
                 '    ProxyPass "/" ' % w.rogue.port)
    assert "<Proxy" in text, text
    add("proxy_prefix", "strict /admin/ beside a <Proxy> section of its URL's prefix", effs,
        probe_backend([("/admin/x", b"rogue")]), "from the rogue backend", text)
    # forwarded: with forwarded_headers false the spoofed values really arrive.
    effs = _accept(w, [plain(forwarded_headers=False)])
    add("forwarded", "forwarded_headers false passes a client's X-Real-IP", effs,
        probe_forwarded([("X-Real-IP", SPOOF), ("X_Forwarded_For", SPOOF)]), "backend saw X-Real-IP")
    # Observations (reported, not asserted): a served directory that did not exist at validation and is later made a
    # symbolic link to /etc by someone on the host; a directory that is itself a served root.
    later = os.path.join(w.srv, "acme-planted-later")
    effs = _accept(w, [tls(acme_challenge_dir=later)])
    add("observe", "acme_challenge_dir created later as a symlink to /etc", effs, probe_acme, None)
    os.makedirs(os.path.join(w.srv, "app-private"))
    with open(os.path.join(w.srv, "app-private", "settings.txt"), "w") as handle:
        handle.write("db_password=%s\n" % w.token)
    effs = _accept(w, [tls(acme_challenge_dir=w.srv)])
    add("observe", "acme_challenge_dir is a whole served root: other applications' files under it", effs,
        lambda w_, e: ["%s: %s" % (n, m) for n in ("app-private/settings.txt",)
                       for m in _marks(w_, fetch(e[0]["frontend"]["redirect"]["port"],
                                                 "/.well-known/acme-challenge/" + n, e[0]["server_name"])[2])], None)
    more = [("CF-Connecting-IP", SPOOF), ("Fastly-Client-IP", SPOOF), ("X-Forwarded", SPOOF),
            ("Forwarded-For", SPOOF), ("X-Original-Forwarded-For", SPOOF), ("X-Remote-Addr", SPOOF),
            ("X-Remote-IP", SPOOF), ("X-Originating-IP", SPOOF), ("X-ProxyUser-Ip", SPOOF),
            ("X-Original-URL", "/admin-" + SPOOF), ("X-Rewrite-URL", "/admin-" + SPOOF), ("X-Host", "evil.example"),
            ("X-Forwarded-Uri", "/" + SPOOF), ("X-Original-Host", "evil.example")]
    effs = _accept(w, [plain()])
    add("observe", "forwarding-like headers outside the issue's list", effs, probe_forwarded(more), None)
    return controls, manager_effs


def test_probes_see_the_danger(world, tmp_path):
    """The controls: per class, the danger made real (raw switch, a site's opt-in, or the product's rendering edited or
    validated one site at a time) and the class's probe reports it. Proves no probe of the table is blind."""
    w = world
    started = time.monotonic()
    if w.apache is None:
        build_cases(w)  # registers the hand-written vhosts
        _start(w, tmp_path / "apache")
    controls, manager_effs = build_controls(w, tmp_path)
    effs = [e for c in controls for e in c[2]]
    w.apache.modules = _modules_for(effs)
    blocks = []
    for control in controls:
        if control[3] not in blocks:
            blocks.append(control[3])
    _load(w, blocks, effs)
    ok, output = w.apache.configtest()
    assert ok, output
    w.apache.reload()
    results = []
    _plant_dir = os.path.join(w.srv, "acme-planted-later")
    if not os.path.lexists(_plant_dir):
        os.symlink("/etc", _plant_dir)
    for cls, what, case_effs, _text, probe, expect in controls:
        dangers = probe(w, case_effs)
        if expect is None:
            results.append({"class": cls, "observation": what, "found": dangers})
            print("semantic hostile observation: %s: %s" % (what, dangers or "nothing"))
            continue
        results.append({"class": cls, "control": what, "found": dangers, "expected": expect})
        assert any(expect in d for d in dangers), (cls, what, expect, dangers)
    # The simulated remote client is really remote for authz, and the manager really answers loopback.
    eff = manager_effs[0]
    status, _h, body = fetch(eff["listen"]["port"], MANAGER_PATH, eff["server_name"])
    assert status == 200 and b"Load Balancer Manager" in body, (status, body[:200])
    status, _h, body = fetch(eff["listen"]["port"], MANAGER_PATH, eff["server_name"], headers=REMOTE.items())
    assert status == 403, (status, body[:200])
    classes = set(r["class"] for r in results if r["class"] != "observe")
    assert classes == set(CLASSES), set(CLASSES) - classes
    elapsed = time.monotonic() - started
    print("semantic hostile controls: %d, every probe saw its danger (%.1f s)" % (len(results), elapsed))
    os.makedirs(os.path.dirname(OUTPUT), exist_ok=True)
    with open(OUTPUT.replace(".json", "-controls.json"), "w") as handle:
        json.dump({"controls": results, "seconds": round(elapsed, 1)}, handle, indent=1, default=str)
