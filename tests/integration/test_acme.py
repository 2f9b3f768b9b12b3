"""Certificates for the public side from ACME (issue 25), proven against a real ACME server on this machine.

Pebble from the Debian package is the CA (tests/support/pebble.py: its own TLS root, loopback ports, its DNS server
answering 127.0.0.1) and **validates for real**: PEBBLE_VA_ALWAYS_VALID is never set, so every certificate below was
issued because Apache answered pebble's HTTP-01 (or TLS-ALPN-01) challenge over the network. A client that trusts only
pebble's issuing root (fetched from pebble's management API) checks what Apache serves.

- mod_md itself (a private Apache with the mod_md directives written here, the shape the collection renders): order
  and activation by a graceful restart, the full chain served; TLS-ALPN-01; a failed challenge (the name resolving where nothing listens) reported with the
  address and port the CA tried, and the temporary certificate still the only one served;
- the collection's own rendering (normalize_sites, render_site, render_listen_conf with the operator's settings) in
  a private Apache: one certificate for the site's name and alias, the backend reached over it, md-status on the
  loopback listener only; a renewal forced by a renewal window longer than the certificate's lifetime, activated by
  the role's cron job (files/revproxy-tls-acme-activate: nothing while nothing is renewed, then one graceful restart)
  while a client keeps requesting: no request dropped, the new serial served;
- the role on the system Apache (its lock held): a failed challenge fails the run with the CA's reason and the
  address and port it tried and restores the configuration exactly; then the order, its activation by the role's
  graceful reload, the chain verified against pebble's root, and a second run that changes nothing and orders nothing.

Why one file: every case shares one pebble (its start, its challenge ports, its issuing root) and the helpers that
read mod_md's state; split, each file would start and wait for a CA of its own.
"""
import hashlib
import json
import os
import pathlib
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

import pytest

from ansible_collections.revproxy.tls.plugins.module_utils.apache._render import needed_modules, render_listen_conf
from ansible_collections.revproxy.tls.plugins.module_utils.model import _acme
from conftest import apply_role
from support.apache import DEFAULT_MODULES, PrivateApache
from support.apache_model import normalize_sites, render_site
from support.backends import PlainHTTPBackend
from support.pebble import Pebble

pytestmark = pytest.mark.apache

MODULES = tuple(DEFAULT_MODULES) + ("md", "authz_host")
SERVED_ROOT = "/srv"
POLICY = {"served_roots": [SERVED_ROOT]}
HERE = os.path.dirname(os.path.abspath(__file__))
# The job the role installs in root's crontab to activate renewed certificates (roles/apache_proxy/tasks/acme_renewal.yml)
ACTIVATE = os.path.join(os.path.dirname(os.path.dirname(HERE)), "roles", "apache_proxy", "files",
                        "revproxy-tls-acme-activate")
ORDER_TIMEOUT = 30.0


@pytest.fixture(scope="module")
def ports(module_port):
    """The HTTP and TLS ports pebble's validation authority connects to: one pair for the module's Apaches."""
    return {"http": module_port("127.0.0.1"), "tls": module_port("127.0.0.1")}


def _traversable_dir():
    """A directory Apache's workers (www-data) can traverse: pytest's own tmp tree is private (0700), and mod_md
    reads MDCACertificateFile and its store's staging/ and challenges/ in the child processes, as www-data. Under
    /srv: the operator's ca_file must be under a served root, which /tmp never is."""
    os.makedirs(SERVED_ROOT, exist_ok=True)
    path = tempfile.mkdtemp(prefix="revproxy-acme-", dir=SERVED_ROOT)
    os.chmod(path, 0o755)
    return path


@pytest.fixture(scope="module")
def pebble(ports):
    path = _traversable_dir()
    try:
        with Pebble(path, http_port=ports["http"], tls_port=ports["tls"], validity=3 * 3600) as ca:
            yield ca
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _md_apache(workdir, ca, ports, name, *, window="33%", challenges=("http-01",), extra=""):
    """A private Apache with one managed domain ``name``: hand-written mod_md directives."""
    httpd = PrivateApache(workdir, port=ports["http"], modules=MODULES, loglevel="warn md:info")
    alpn = "acme-tls/1" if "tls-alpn-01" in challenges else ""
    httpd.extra_global = """
Listen 127.0.0.1:{tls}
MDStoreDir "{wd}/md"
MDCertificateAuthority {url}
MDCACertificateFile "{ca_file}"
MDCertificateAgreement accepted
MDPortMap http:{http} https:{tls}
MDContactEmail admin@example.org
{extra}
""".format(tls=ports["tls"], http=ports["http"], wd=httpd.workdir, url=ca.directory_url, ca_file=ca.tls_root_path,
           extra=extra)
    httpd.set_vhosts("""
<MDomain {name}>
    MDRenewWindow {window}
    MDCAChallenges {challenges}
</MDomain>
<VirtualHost 127.0.0.1:{tls}>
    ServerName {name}
    SSLEngine on
    Protocols http/1.1 {alpn}
</VirtualHost>
<VirtualHost 127.0.0.1:{http}>
    ServerName {name}
    <Location /md-status>
        SetHandler md-status
        Require ip 127.0.0.1
    </Location>
</VirtualHost>
""".format(name=name, window=window, challenges=" ".join(challenges), tls=ports["tls"], http=ports["http"],
           alpn=alpn))
    with open(os.path.join(httpd.workdir, "htdocs", "index.html"), "w", encoding="ascii") as handle:
        handle.write("served by %s\n" % name)
    return httpd


def md_status(httpd, name):
    status, _headers, body = httpd.request("/md-status/%s" % name, host=name)
    assert status == 200, body
    return json.loads(body)


def wait_obtained(httpd, name, timeout=ORDER_TIMEOUT, after=None):
    """Wait until mod_md reports a certificate obtained and staged (renewal finished without error) whose
    valid-from is not ``after``; returns the md-status."""
    deadline = time.monotonic() + timeout
    while True:
        state = md_status(httpd, name)
        renewal = state.get("renewal") or {}
        last = renewal.get("last") or {}
        if renewal.get("finished") and last.get("status") == 0 and renewal.get("valid-from") != after:
            return state
        if time.monotonic() > deadline:
            raise AssertionError("no certificate for %s in %.0fs: %s\n%s" % (
                name, timeout, json.dumps(state, indent=1), httpd.error_log_since(0)[-3000:]))
        time.sleep(0.1)


def served(ca, port, name, anchor=None):
    """The certificate chain Apache serves for ``name``, verified against ``anchor`` (pebble's issuing root)."""
    ctx = ssl.create_default_context(cafile=anchor or ca.issuing_root_path)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        with ctx.wrap_socket(sock, server_hostname=name) as tls:
            chain = tls._sslobj.get_verified_chain()  # pylint: disable=protected-access
            return [c.get_info() for c in chain], tls.getpeercert()


def https_get(ca, port, name, path="/"):
    ctx = ssl.create_default_context(cafile=ca.issuing_root_path)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        with ctx.wrap_socket(sock, server_hostname=name) as tls:
            tls.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % (path, name)).encode())
            data = b""
            while True:
                chunk = tls.recv(65536)
                if not chunk:
                    break
                data += chunk
            return data, tls.getpeercert()


@pytest.fixture()
def workdir():
    path = _traversable_dir()
    yield pathlib.Path(path)
    shutil.rmtree(path, ignore_errors=True)


def test_mod_md_orders_from_pebble_and_serves_the_full_chain_after_a_graceful_restart(pebble, ports, workdir):
    name = "order.acme.test"
    httpd = _md_apache(workdir / "apache", pebble, ports, name)
    try:
        started = time.monotonic()
        httpd.start()
        # Before the CA issued: mod_md's temporary certificate, which no client trusting pebble's root accepts.
        with pytest.raises(ssl.SSLCertVerificationError):
            served(pebble, ports["tls"], name)
        state = wait_obtained(httpd, name)
        assert state["state-descr"] == "certificate(rsa) is missing"  # staged, not yet active
        httpd.reload()
        elapsed = time.monotonic() - started
        chain, cert = served(pebble, ports["tls"], name)
        assert cert["subjectAltName"] == (("DNS", name),)
        # leaf -> pebble's intermediate -> pebble's root: the intermediate was sent by Apache (the client has the
        # root only), and the root is the one pebble's management API gives.
        assert len(chain) == 3, chain
        assert chain[1]["subject"] == chain[0]["issuer"] and "Pebble Intermediate CA" in str(chain[1]["subject"])
        assert "Pebble Root CA" in str(chain[2]["subject"])
        with open(pebble.issuing_root_path, encoding="ascii") as handle:
            assert handle.read().strip() == pebble.issuing_root_pem().strip()
        # The TLS root that pebble's own API uses is not the issuing root: a client trusting it refuses the site.
        with pytest.raises(ssl.SSLCertVerificationError):
            served(pebble, ports["tls"], name, anchor=pebble.tls_root_path)
        active = md_status(httpd, name)
        assert active["state"] == 2 and int(active["cert"]["rsa"]["serial"], 16) == int(cert["serialNumber"], 16)
        body, _cert = https_get(pebble, ports["tls"], name)
        assert body.startswith(b"HTTP/1.1 200") and body.endswith(b"served by %s\n" % name.encode())
        assert "Attempting to validate w/ HTTP: http://%s:%d/.well-known/acme-challenge/" % (
            name, ports["http"]) in pebble.log_text()
        assert elapsed < ORDER_TIMEOUT
    finally:
        httpd.stop()


def _status(port, name, source="127.0.0.1"):
    """GET /md-status/<name> from the collection's status vhost, the connection made from ``source``."""
    with socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0)) as sock:
        sock.sendall(("GET /md-status/%s HTTP/1.0\r\nHost: localhost\r\n\r\n" % name).encode())
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return data
            data += chunk


def _render(httpd, pebble, ports, status_port, name, aliases, backend_port, acme, renew_window=None):
    """Write the site and the Listen file as the role renders them (normalize_sites, render_site,
    render_listen_conf with the operator's settings pointing at pebble; ``renew_window``: the operator's) into
    ``httpd``; returns the modules."""
    ca_file = os.path.join(os.path.dirname(httpd.workdir), "acme-ca.pem")
    shutil.copy(pebble.tls_root_path, ca_file)
    site = {"name": name.split(".")[0], "server_name": name, "server_aliases": aliases,
            "listen": {"address": "127.0.0.1", "port": ports["tls"]}, "redirect_http_port": ports["http"],
            "tls": {"acme": acme},
            "locations": [{"path": "/", "backend": "http://127.0.0.1:%d/" % backend_port, "retry": 0}]}
    sites = normalize_sites([site], policy=POLICY)
    settings = _acme.check_settings({"directory_url": pebble.directory_url, "ca_file": ca_file, "agreement": True,
                                     "contact": "ops@example.org", "http_port": ports["http"],
                                     "https_port": ports["tls"], "status_port": status_port,
                                     "renew_window": renew_window}, policy=POLICY)
    _acme.check_sites_against(settings, sites)
    httpd.set_vhosts(render_listen_conf(sites, set(), settings) + render_site(sites[0]))
    return tuple(MODULES) + tuple(m for m in needed_modules(sites) if m not in MODULES)


def _rendered_apache(workdir, pebble, ports, status_port, name, aliases, backend_port, acme):
    """A private Apache (its own mod_md store) serving the collection's rendering of one ACME site."""
    httpd = PrivateApache(str(workdir / "apache"))
    httpd.modules = _render(httpd, pebble, ports, status_port, name, aliases, backend_port, acme)
    httpd.extra_global = 'MDStoreDir "%s/md"' % httpd.workdir
    httpd.write_config()
    return httpd


def _identity(renewal):
    return json.dumps(renewal.get("cert") or renewal.get("valid-from"), sort_keys=True)


def _wait_staged(status_port, name, after=None, timeout=ORDER_TIMEOUT, httpd=None):
    """Wait until mod_md (the collection's status vhost) reports a certificate obtained other than ``after`` (a
    renewal state this returned before); returns its renewal state. Certificates are told apart by their serials and
    fingerprints: valid-from has a resolution of a second, and a renewal may be issued in the same second."""
    deadline = time.monotonic() + timeout
    while True:
        head, _sep, body = _status(status_port, name).partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), head
        renewal = json.loads(body).get("renewal") or {}
        if renewal.get("finished") and (renewal.get("last") or {}).get("status") == 0 \
                and (after is None or _identity(renewal) != _identity(after)):
            return renewal
        assert time.monotonic() < deadline, (body, httpd.error_log_since(0)[-3000:] if httpd else "")
        time.sleep(0.1)


def test_the_collections_rendering_obtains_the_certificate_for_every_name_and_keeps_md_status_on_loopback(
        pebble, ports, workdir, module_port):
    """The site and the Listen file as the role writes them (normalize_sites, render_site, render_listen_conf with
    the operator's settings): both names in one certificate, the backend reached over the ACME certificate, and
    md-status bound to 127.0.0.1 and answering no other client address."""
    name, alias = "rendered.acme.test", "www.rendered.acme.test"
    status_port = module_port("127.0.0.1")
    backend = PlainHTTPBackend(body=b"behind the acme certificate")
    httpd = _rendered_apache(workdir, pebble, ports, status_port, name, [alias], backend.port,
                             {"key_type": "secp256r1"})
    try:
        httpd.start()
        _wait_staged(status_port, name)
        httpd.reload()
        for host in (name, alias):
            chain, cert = served(pebble, ports["tls"], host)
            assert sorted(cert["subjectAltName"]) == sorted([("DNS", alias), ("DNS", name)]) and len(chain) == 3
            body, _cert = https_get(pebble, ports["tls"], host)
            assert body.startswith(b"HTTP/1.1 200") and b"behind the acme certificate" in body, body[:300]
        active = json.loads(_status(status_port, name).partition(b"\r\n\r\n")[2])
        assert active["state"] == 2 and "secp256r1" in active["cert"], active["cert"]
        # The status vhost: another local address cannot connect (Listen 127.0.0.1 only), and a client from
        # another address than 127.0.0.1/::1 is refused by Require ip.
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.2", status_port), timeout=5).close()
        assert _status(status_port, name, source="127.0.0.2").startswith(b"HTTP/1.1 403")
    finally:
        httpd.stop()
        backend.stop()


def test_tls_alpn_01_alone_is_answered_on_the_tls_port(pebble, ports, workdir):
    name = "alpn.acme.test"
    httpd = _md_apache(workdir / "apache", pebble, ports, name, challenges=("tls-alpn-01",))
    try:
        httpd.start()
        state = wait_obtained(httpd, name)
        httpd.reload()
        _chain, cert = served(pebble, ports["tls"], name)
        assert cert["subjectAltName"] == (("DNS", name),)
        assert "selecting suitable authorization challenge type, this domain supports tls-alpn-01" in json.dumps(state)
        assert "Attempting to validate w/ HTTP: http://%s:" % name not in pebble.log_text()
    finally:
        httpd.stop()


class RequestLoop(threading.Thread):
    """New TLS connections in a loop (verified against pebble's root), each one request: every failure is kept,
    with the serial each success was served."""

    def __init__(self, ca, port, name):
        super().__init__(daemon=True)
        self.ca, self.port, self.name = ca, port, name
        self.done = threading.Event()
        self.serials, self.failures = [], []

    def run(self):
        while not self.done.is_set():
            try:
                body, cert = https_get(self.ca, self.port, self.name)
                if not body.startswith(b"HTTP/1.1 200"):
                    self.failures.append(body[:200])
                self.serials.append(cert["serialNumber"])
            except (OSError, ssl.SSLError) as exc:
                self.failures.append(repr(exc))

    def stop(self):
        self.done.set()
        self.join(30)


def _activate(status_port, httpd):
    """Run the role's activation job (what root's cron runs) with a graceful restart of ``httpd`` as its command."""
    return subprocess.run([sys.executable, ACTIVATE, str(status_port), "kill", "-USR1", str(httpd.proc.pid)],
                          capture_output=True, text=True, timeout=30, check=False)


def test_a_renewal_is_activated_by_the_roles_job_and_served_without_a_dropped_request(
        pebble, ports, workdir, module_port):
    name = "renew.acme.test"
    status_port = module_port("127.0.0.1")
    backend = PlainHTTPBackend(body=b"renewal backend")
    acme = {"renew_window": "33%"}
    httpd = _rendered_apache(workdir, pebble, ports, status_port, name, [], backend.port, acme)
    loop = None
    try:
        httpd.start()
        _wait_staged(status_port, name, httpd=httpd)
        httpd.reload()
        _chain, cert = served(pebble, ports["tls"], name)
        old_serial = cert["serialNumber"]
        # Nothing renewed: the job restarts nothing.
        mark = httpd.error_log_mark()
        idle = _activate(status_port, httpd)
        assert idle.returncode == 0 and idle.stdout == "", idle
        assert "SIGUSR1" not in httpd.error_log_since(mark)
        # The operator's renewal window (a fixed time: a site's own is a share of the lifetime only), longer than the
        # certificate's lifetime (3 h): the renewal is due at once.
        issued = pebble.log_text().count("Issued certificate serial")
        _render(httpd, pebble, ports, status_port, name, [], backend.port, {}, renew_window="4h")
        httpd.reload()
        # The renewed certificate is the next one pebble issues (md-status's renewal names no serial, and its
        # valid-from, to the second, may be the first certificate's); the first order's job ended at its activation.
        deadline = time.monotonic() + ORDER_TIMEOUT
        while pebble.log_text().count("Issued certificate serial") == issued:
            assert time.monotonic() < deadline, httpd.error_log_since(0)[-3000:]
            time.sleep(0.1)
        _wait_staged(status_port, name, httpd=httpd)
        assert served(pebble, ports["tls"], name)[1]["serialNumber"] == old_serial  # staged, not yet served
        loop = RequestLoop(pebble, ports["tls"], name)
        loop.start()
        while len(loop.serials) < 5 and not loop.failures:
            time.sleep(0.05)
        mark = httpd.error_log_mark()
        ran = _activate(status_port, httpd)
        assert ran.returncode == 0 and "renewed certificate(s) of %s: graceful restart" % name in ran.stdout, ran
        httpd.wait_for_log("resuming normal operations", mark, timeout=15)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and (not loop.serials or loop.serials[-1] == old_serial):
            time.sleep(0.05)
        time.sleep(0.5)  # a few more requests on the new generation
        loop.stop()
        assert loop.failures == [], loop.failures[:5]
        assert loop.serials[0] == old_serial and loop.serials[-1] != old_serial, (old_serial, loop.serials[-3:])
        assert len(loop.serials) > 20, len(loop.serials)
        active = json.loads(_status(status_port, name).partition(b"\r\n\r\n")[2])
        assert int(active["cert"]["rsa"]["serial"], 16) == int(loop.serials[-1], 16)
    finally:
        if loop is not None:
            loop.stop()
        httpd.stop()
        backend.stop()


def test_a_failed_challenge_names_the_address_and_port_the_ca_tried(pebble, ports, workdir):
    name = "fail.acme.test"
    pebble.add_a(name, "127.0.0.2")  # nothing listens there: the CA's connection is refused
    httpd = _md_apache(workdir / "apache", pebble, ports, name)
    try:
        httpd.start()
        log = httpd.wait_for_log("AH10056", timeout=ORDER_TIMEOUT)
        assert "ACME server authz: challenge 'invalid' for %s" % name in log
        assert "dial tcp 127.0.0.2:%d: connect: connection refused" % ports["http"] in log
        assert "urn:ietf:params:acme:error:connection" in log
        renewal = md_status(httpd, name)["renewal"]
        assert renewal["errors"] >= 1 and renewal["finished"] is False
        assert renewal["last"]["detail"] == "Error waiting on domain names to be validated"
        # Nothing was issued: the temporary certificate is the only one served.
        with pytest.raises(ssl.SSLCertVerificationError):
            served(pebble, ports["tls"], name)
    finally:
        pebble.clear_a(name)
        httpd.stop()


# Debian's mod_md store: ServerRoot-relative "md", so inside the configuration tree. It is mod_md's state, not
# configuration: mod_md writes its job file there after a rollback too.
SYSTEM_MD_STORE = "/etc/apache2/md"


def config_snapshot():
    """Every file and link under /etc/apache2 but mod_md's store: {path: content digest or link target}, so a
    difference names its files."""
    out = {}
    for dirpath, dirnames, filenames in os.walk("/etc/apache2"):
        dirnames[:] = [d for d in dirnames if os.path.join(dirpath, d) != SYSTEM_MD_STORE]
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            path = os.path.join(dirpath, name)
            if os.path.islink(path):
                out[path] = "-> " + os.readlink(path)
            elif os.path.isfile(path):
                with open(path, "rb") as handle:
                    out[path] = hashlib.sha256(handle.read()).hexdigest()
    return out


def _apache_that_never_loaded_mod_md():
    """The system Apache restarted (a new parent process) with mod_md disabled: a host before its first ACME run.
    mod_md initialises only from the second configuration load of a parent's life, so a parent that loaded it
    before would hide what the role's first run on a fresh host meets."""
    subprocess.run(["a2dismod", "-q", "-f", "md"], capture_output=True, check=False)
    subprocess.run(["service", "apache2", "restart"], capture_output=True, check=True, timeout=60)


def fatal_lines(result):
    """The run's fatal lines (the role's reason), for assertion messages."""
    lines = result.stdout.splitlines()
    out = ["\n".join(lines[i:i + 8])[:3000] for i, line in enumerate(lines) if line.startswith("fatal:")]
    return out or result.stdout[-3000:]


def changed_tasks(result):
    """The names of the tasks a run reported changed (for the message of a failed idempotence check)."""
    out, task = [], None
    for line in result.stdout.splitlines():
        if line.startswith("TASK ["):
            task = line[6:].split("]", 1)[0]
        elif line.startswith("changed:") and task:
            out.append(task)
    return out


def _forget_md_store(names, directory_url):
    """Remove what the system Apache's mod_md keeps for ``names`` and the accounts it made at ``directory_url`` (a
    pebble that is gone): the next test starts with no certificate and no account of a dead CA."""
    for sub in ("domains", "staging", "archive", "challenges", "tmp"):
        folder = os.path.join(SYSTEM_MD_STORE, sub)
        for entry in os.listdir(folder) if os.path.isdir(folder) else []:
            if any(entry == n or (sub == "archive" and entry.startswith(n + ".")) for n in names):
                shutil.rmtree(os.path.join(folder, entry), ignore_errors=True)
    accounts = os.path.join(SYSTEM_MD_STORE, "accounts")
    for entry in os.listdir(accounts) if os.path.isdir(accounts) else []:
        try:
            with open(os.path.join(accounts, entry, "account.json"), encoding="utf-8") as handle:
                url = json.load(handle).get("ca-url") or ""
        except (OSError, ValueError):
            continue
        if url == directory_url:
            shutil.rmtree(os.path.join(accounts, entry), ignore_errors=True)


def test_the_role_rolls_back_a_failed_order_then_orders_activates_and_orders_nothing_the_second_time(
        system_apache, pebble, ports, module_port):
    name = "role.acme.test"
    status_port = module_port("127.0.0.1")
    backend = PlainHTTPBackend(body=b"role backend")
    with open(pebble.tls_root_path, encoding="ascii") as handle:
        ca_content = handle.read()
    site = {"name": "acme-role", "server_name": name,
            "listen": {"address": "127.0.0.1", "port": ports["tls"]}, "redirect_http_port": ports["http"],
            "tls": {"acme": {}},
            "locations": [{"path": "/", "backend": "http://127.0.0.1:%d/" % backend.port, "retry": 0}]}
    role_vars = {"apache_proxy_acme_directory_url": pebble.directory_url, "apache_proxy_acme_ca_content": ca_content,
                 "apache_proxy_acme_agreement": True, "apache_proxy_acme_status_port": status_port,
                 "apache_proxy_acme_contact": "ops@example.org",
                 "apache_proxy_acme_http_port": ports["http"], "apache_proxy_acme_https_port": ports["tls"],
                 "apache_proxy_acme_trust_file": pebble.issuing_root_path, "apache_proxy_acme_timeout": 30,
                 "apache_proxy_install": False}
    _forget_md_store([name], pebble.directory_url)
    _apache_that_never_loaded_mod_md()
    try:
        # The name resolves where nothing listens: the CA's connection is refused, the run fails with its reason
        # and the tree is restored byte for byte.
        before = config_snapshot()
        pebble.add_a(name, "127.0.0.2")
        failed = apply_role([site], **role_vars)
        assert failed.rc != 0, failed
        # http-01 on the HTTP port or tls-alpn-01 on the TLS port (the site allows both): the address and port tried.
        assert re.search(r"dial tcp 127\.0\.0\.2:(%d|%d)" % (ports["http"], ports["tls"]), failed.output), \
            fatal_lines(failed)
        assert "connection refused" in failed.output, fatal_lines(failed)
        assert config_snapshot() == before
        with pytest.raises(OSError):
            served(pebble, ports["tls"], name)
        pebble.clear_a(name)

        issued = pebble.log_text().count("Issued certificate serial")
        first = apply_role([site], **role_vars)
        assert first.rc == 0 and first.changed > 0, fatal_lines(first)
        assert pebble.log_text().count("Issued certificate serial") == issued + 1
        chain, cert = served(pebble, ports["tls"], name)
        assert cert["subjectAltName"] == (("DNS", name),) and len(chain) == 3
        body, _cert = https_get(pebble, ports["tls"], name)
        assert body.startswith(b"HTTP/1.1 200") and b"role backend" in body, body[:300]
        assert _status(status_port, name).startswith(b"HTTP/1.1 200")

        second = apply_role([site], **role_vars)
        assert second.rc == 0 and second.changed == 0, (changed_tasks(second), second)
        assert pebble.log_text().count("Issued certificate serial") == issued + 1
        assert served(pebble, ports["tls"], name)[1]["serialNumber"] == cert["serialNumber"]
    finally:
        pebble.clear_a(name)
        backend.stop()
        _forget_md_store([name], pebble.directory_url)
