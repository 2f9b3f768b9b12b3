"""backend_handshake with server: nginx against real TLS backends, with a real nginx 1.22 as the oracle (issue 23).

One private CA hierarchy, one backend per case, one private nginx (`nginx -p <tmp> -c <conf> -g 'daemon off;'`, a
reserved loopback port) with one server block per case, each with the proxy_ssl_* directives of the module's backend
entry and its own error_log at level info. nginx is asked for every case, the module checks every case in one run;
each test then asserts that the module's verdict (ok, http_status) equals nginx's answer and that the error-log lines
it predicts are exactly the lines nginx wrote (timestamp, pid, connection number and the ", client: ..." context
stripped). The cases are the rows of the issue's table and what else differs from mod_ssl
(docs/nginx-troubleshooting.md).
"""
import datetime
import os
import re
import signal
import socket
import ssl
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
import http.client

import pytest

from support import backends, pki

from ansible_collections.revproxy.tls.plugins.module_utils.model._backend_tls import BACKEND_TLS_DEFAULTS
from ansible_collections.revproxy.tls.plugins.module_utils.tls._nginx import DEFAULT_PROTOCOLS
from ansible_collections.revproxy.tls.plugins.modules import backend_handshake as mod

NGINX = os.environ.get("SUPPORT_NGINX", "/usr/sbin/nginx")
pytestmark = pytest.mark.skipif(not os.path.exists(NGINX), reason="nginx not installed")

DAY = datetime.timedelta(days=1)
TIMEOUT = 2.0  # the module's timeout per backend, and nginx's proxy_connect_timeout / proxy_read_timeout
_LINE = re.compile(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[(\w+)\] \d+#\d+: (?:\*\d+ )?(.*?)(?:, client: .*)?$")


class PrivateNginx:
    """A private nginx in the foreground, a child of the test process: its own prefix, pid file, temp paths and
    logs in `directory`, listening on 127.0.0.1:<port> (a reserved port: nginx binds it with SO_REUSEADDR)."""

    def __init__(self, directory, port):
        self.dir = str(directory)
        self.port = port
        self.proc = None
        os.makedirs(os.path.join(self.dir, "logs"), exist_ok=True)

    def conf(self, http_body):
        temp = " ".join("%s_temp_path %s/%s;" % (k, self.dir, k) for k in
                        ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        head = ("worker_processes 1;\npid %s/nginx.pid;\nerror_log %s/logs/error.log info;\n"
                "events { worker_connections 512; }\n" % (self.dir, self.dir))
        timeouts = " proxy_connect_timeout %ds; proxy_read_timeout %ds; proxy_send_timeout %ds;\n" % (
            TIMEOUT, TIMEOUT, TIMEOUT)
        return "%shttp {\n access_log off;\n %s\n server_names_hash_bucket_size 128;\n%s%s\n}\n" % (
            head, temp, timeouts, http_body)

    def start(self, http_body):
        path = os.path.join(self.dir, "nginx.conf")
        with open(path, "w") as handle:
            handle.write(self.conf(http_body))
        args = [NGINX, "-p", self.dir, "-c", path, "-e", os.path.join(self.dir, "logs", "startup.log")]
        test = subprocess.run(args + ["-t"], capture_output=True, text=True, check=False)
        assert test.returncode == 0, test.stderr
        self.proc = subprocess.Popen(args + ["-g", "daemon off;"], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, "nginx exited: %s" % self.log("startup.log")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("nginx did not listen on %d" % self.port)

    def request(self, path, host, timeout=20):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request("GET", path, headers={"Host": host})
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def log(self, name):
        try:
            with open(os.path.join(self.dir, "logs", name)) as handle:
                return handle.read()
        except FileNotFoundError:
            return ""

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # fast shutdown
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:  # pragma: no cover
                self.proc.kill()
                self.proc.wait()


def log_lines(text):
    """nginx's error-log lines as (level, '[level] message'), without timestamp, pid, connection and context."""
    out = []
    for line in text.splitlines():
        match = _LINE.match(line)
        if match:
            out.append((match.group(1), "[%s] %s" % (match.group(1), match.group(2))))
    return out


def directives(entry, omit_protocols=False, upstream=None):
    """The proxy_ssl_* directives for a backend entry (what the module is told nginx is configured with)."""
    out = ["proxy_ssl_session_reuse off;"]
    if entry.get("preserve_host"):
        out.append("proxy_set_header Host $host;")
    if entry["verify"] == "require":
        out += ["proxy_ssl_verify on;", "proxy_ssl_verify_depth %d;" % entry["verify_depth"]]
    if entry.get("ca_file"):
        out.append("proxy_ssl_trusted_certificate %s;" % entry["ca_file"])
    if entry.get("crl_file"):
        out.append("proxy_ssl_crl %s;" % entry["crl_file"])
    if entry.get("ssl_server_name") is not False:
        out.append("proxy_ssl_server_name on;")
    if entry.get("ssl_name") and not upstream:
        out.append("proxy_ssl_name %s;" % entry["ssl_name"])
    if not omit_protocols:
        out.append("proxy_ssl_protocols %s;" % " ".join(entry["protocols"]))
    if entry.get("ciphers"):
        out.append("proxy_ssl_ciphers %s;" % entry["ciphers"])
    if entry.get("client_cert_file"):
        out.append("proxy_ssl_certificate %s;" % entry["client_cert_file"])
        out.append("proxy_ssl_certificate_key %s;" % entry["client_key_file"])
    return out


class LegacyTLSBackend(backends.TLSBackend):
    """A TLS backend whose own OpenSSL accepts legacy keys and signatures (@SECLEVEL=0), as an old server does."""

    def _make_context(self, chain_path, key_path, client_ca_path, client_ca_names_path, min_version, max_version,
                      key_password, alpn):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.set_ciphers("ALL:@SECLEVEL=0")
        ctx.load_cert_chain(chain_path, key_path, password=key_password)
        ctx.sni_callback = self._sni_callback
        return ctx


class World:
    def __init__(self, tmp):
        self.tmp = tmp
        self.cases = {}
        self.stack = []

    def add(self, name, backend, url, reason, omit_protocols=False, upstream=None, preserve_host=False, **tls):
        if backend is not None:
            self.stack.append(backend)
        entry = dict(BACKEND_TLS_DEFAULTS)
        entry.update(tls)
        entry["url"] = url
        if preserve_host:  # proxy_set_header Host $host: the client's Host goes to the backend
            entry.update(preserve_host=True, host="%s.front.test" % name)
        self.cases[name] = {"entry": entry, "reason": reason, "omit_protocols": omit_protocols,
                            "upstream": upstream, "front": "%s.front.test" % name}


def build_world(w, f):
    root = f.ca("Oracle Root CA")
    inter = f.ca("Oracle Intermediate CA", issuer=root)
    inter2 = f.ca("Oracle Second Intermediate CA", issuer=inter)
    other_root = f.ca("Other Root CA")
    good = f.leaf("good", dns=["localhost"], issuer=inter)
    two = f.leaf("two", dns=["localhost"], issuer=inter2)
    selfsigned = f.self_signed("selfsigned", dns=["localhost"])
    expired = f.leaf("expired", dns=["localhost"], issuer=inter, not_before=-10 * DAY, not_after=-DAY)
    future = f.leaf("future", dns=["localhost"], issuer=inter, not_before=5 * DAY, not_after=50 * DAY)
    wrong = f.leaf("wrong", dns=["other.test"], issuer=inter)
    single = f.leaf("single", dns=["*.test"], issuer=inter)
    wild = f.leaf("wild", dns=["*.wild.test"], issuer=inter)
    cn_only = f.leaf("cnonly", cn="localhost", issuer=inter)
    ip_san = f.leaf("ipsan", dns=["ip.test"], ips=["127.0.0.1"], issuer=inter)
    revoked = f.leaf("revoked", dns=["localhost"], issuer=inter)
    inter_crl = f.crl(inter, revoked=[revoked])
    both_crls = f.concat("both-crls.pem", inter_crl, f.crl(root, stem="root-crl"))
    client = f.leaf("client", cn="proxy-client", issuer=inter, client=True)
    client_chain = f.concat("client-chain.pem", client, inter)
    bad_client = f.leaf("badclient", cn="bad-client", issuer=other_root, client=True)
    ca = root.cert_path
    T = backends.TLSBackend

    def url(backend, host="localhost"):
        return "https://%s:%d/" % (host, backend.port)

    ok_be = T(good.chain_path, good.key_path)
    w.add("ok", ok_be, url(ok_be), "ok", ca_file=ca)
    # verification off (nginx's default): nothing is checked
    b = T(selfsigned.cert_path, selfsigned.key_path)
    w.add("off_selfsigned", b, url(b), "ok", verify="none")
    w.add("selfsigned", None, url(b), "untrusted_ca", ca_file=ca)
    b = T(expired.chain_path, expired.key_path)
    w.add("off_expired", b, url(b), "ok", verify="none")
    w.add("expired", None, url(b), "expired", ca_file=ca)
    w.add("expired_untrusted", None, url(b), "expired", ca_file=other_root.cert_path)  # the last error: 10
    b = T(wrong.chain_path, wrong.key_path)
    w.add("off_wrongname", b, url(b), "ok", verify="none")
    w.add("wrongname", None, url(b), "name_mismatch", ca_file=ca)
    w.add("wrongname_nosni", None, url(b), "name_mismatch", ca_file=ca, ssl_server_name=False)
    w.add("ssl_name", None, url(b), "ok", ca_file=ca, ssl_name="other.test")
    w.add("ssl_name_nosni", None, url(b), "ok", ca_file=ca, ssl_name="other.test", ssl_server_name=False)
    b = T(future.chain_path, future.key_path)
    w.add("future", b, url(b), "not_yet_valid", ca_file=ca)
    # default protocols of 1.22: TLSv1 TLSv1.1 TLSv1.2
    b = T(good.chain_path, good.key_path, min_version="TLSv1.3")
    w.add("tls13only_default", b, url(b), "tls_protocol_mismatch", omit_protocols=True, ca_file=ca,
          protocols=list(DEFAULT_PROTOCOLS))
    w.add("tls13only_set", None, url(b), "ok", ca_file=ca)
    # the upstream group's name is checked
    w.add("upstream_group", None, url(ok_be), "name_mismatch", upstream="pool_%d" % ok_be.port,
          ca_file=ca, ssl_name="pool_%d" % ok_be.port)
    # names: wildcard over a single label, CN only, IP literal
    b = T(single.chain_path, single.key_path)
    w.add("wildcard_single_label", b, url(b), "name_mismatch", ca_file=ca, ssl_name="backend.test")
    b = T(wild.chain_path, wild.key_path)
    w.add("wildcard", b, url(b), "ok", ca_file=ca, ssl_name="a.wild.test")
    w.add("wildcard_two_labels", None, url(b), "name_mismatch", ca_file=ca, ssl_name="a.b.wild.test")
    b = T(cn_only.chain_path, cn_only.key_path)
    w.add("cnonly", b, url(b), "ok", ca_file=ca)
    b = T(ip_san.chain_path, ip_san.key_path)
    w.add("ipsan", b, url(b, "127.0.0.1"), "ip_literal_name", ca_file=ca)
    # depth: OpenSSL counts intermediates
    w.add("depth1_one_intermediate", None, url(ok_be), "ok", ca_file=ca, verify_depth=1)
    w.add("depth0_one_intermediate", None, url(ok_be), "chain_too_long", ca_file=ca, verify_depth=0)
    b = T(two.chain_path, two.key_path)
    w.add("depth1_two_intermediates", b, url(b), "chain_too_long", ca_file=ca, verify_depth=1)
    w.add("depth2_two_intermediates", None, url(b), "ok", ca_file=ca, verify_depth=2)
    w.add("untrusted", None, url(ok_be), "untrusted_ca", ca_file=other_root.cert_path)
    b = T(good.cert_path, good.key_path)
    w.add("incomplete", b, url(b), "incomplete_chain", ca_file=ca)
    b = backends.HugeChainBackend(f, length=50, name="localhost")
    w.add("hugechain", b, url(b), "chain_too_long", ca_file=b.ca_path)
    # CRLs: nginx checks the whole chain
    b = T(revoked.chain_path, revoked.key_path)
    w.add("crl_issuer_only", b, url(b), "crl_error", ca_file=ca, crl_file=inter_crl, crl_check="chain")
    w.add("crl_revoked", None, url(b), "revoked", ca_file=ca, crl_file=both_crls, crl_check="chain")
    w.add("crl_good", None, url(ok_be), "ok", ca_file=ca, crl_file=both_crls, crl_check="chain")
    # client certificates: sent whatever CAs the backend names; required under TLS 1.2 and 1.3
    for ver in ("1.2", "1.3"):
        tag = ver.replace(".", "")
        b = T(good.chain_path, good.key_path, client_ca_path=root.cert_path, client_ca_names_path=inter.cert_path,
              max_version="TLSv" + ver, min_version="TLSv" + ver)
        w.add("mtls%s_none" % tag, b, url(b), "client_cert_required", ca_file=ca)
        w.add("mtls%s_ok" % tag, None, url(b), "ok", ca_file=ca, client_cert_file=client_chain,
              client_key_file=client.key_path)
        w.add("mtls%s_bad" % tag, None, url(b), "client_cert_rejected", ca_file=ca,
              client_cert_file=bad_client.cert_path, client_key_file=bad_client.key_path)
    # hostile backends
    w.add("refused", None, "https://localhost:%d/" % w.refused_port, "connect_refused", ca_file=ca)
    b = backends.PlainHTTPBackend()
    w.add("plainhttp", b, url(b), "plain_http_backend", ca_file=ca)
    b = backends.SilentBackend()
    w.add("silent", b, url(b), "timeout", ca_file=ca)
    b = backends.GarbageBackend()
    w.add("garbage", b, url(b), "not_tls", ca_file=ca)
    b = backends.CloseMidHandshakeBackend()
    w.add("closemid", b, url(b), "connection_closed", ca_file=ca)
    b = backends.SilentAfterHandshakeBackend(good.chain_path, good.key_path)
    w.add("silenttls", b, url(b), "response_timeout", ca_file=ca)
    b = backends.HugeLineBackend(good.chain_path, good.key_path, where="status", size=1 << 20)
    w.add("hugestatus", b, url(b), "response_head_too_long", ca_file=ca)
    b = T(good.chain_path, good.key_path, max_version="TLSv1.2")
    b.context.set_ciphers("ECDHE-ECDSA-AES128-SHA")
    w.add("ciphermismatch", b, url(b), "tls_cipher_mismatch", ca_file=ca, ciphers="ECDHE-ECDSA-AES256-GCM-SHA384")
    # the client's Host goes to the backend, and changes no name: nginx still checks the URL host (mod_ssl would
    # check the client's Host)
    w.add("preserve_host", None, url(ok_be), "ok", preserve_host=True, ca_file=ca)
    w.add("ip_no_sni", None, url(ok_be, "127.0.0.1"), "ok", verify="none")
    # an http:// URL to a TLS port whose server closes on the plain request: nginx and the checker see the same close
    w.add("http_to_tls_port", None, "http://localhost:%d/" % ok_be.port, "no_http_response", verify="none")
    # OpenSSL's security level on the backend's chain, read from the verify result after the handshake
    weak = f.leaf("rsa1024", dns=["localhost"], issuer=inter, key_type="rsa1024")
    b = LegacyTLSBackend(weak.chain_path, weak.key_path)
    w.add("rsa1024", b, url(b), "weak_key", ca_file=ca)
    w.add("off_rsa1024", None, url(b), "ok", verify="none")
    w.add("rsa1024_seclevel1", None, url(b), "ok", ca_file=ca, ciphers="DEFAULT:@SECLEVEL=1")
    rsa = pki.PKI(f.directory + "-rsa", key_type="rsa")
    rsa_root = rsa.ca("Legacy Root CA")
    sha1 = rsa.leaf("sha1-leaf", dns=["localhost"], issuer=rsa.ca("Legacy Intermediate CA", issuer=rsa_root),
                    digest="sha1")
    b = LegacyTLSBackend(sha1.chain_path, sha1.key_path)
    w.add("sha1leaf", b, url(b), "weak_signature", ca_file=rsa_root.cert_path)


def server_blocks(w, port):
    blocks, upstreams = [], []
    for name, case in w.cases.items():
        e = case["entry"]
        case["log"] = os.path.join(str(w.tmp), "nginx", "logs", "%s.log" % name)
        target = e["url"]
        if case["upstream"]:
            upstreams.append("upstream %s { server %s; }" % (case["upstream"], e["url"].split("/")[2]))
            target = "https://%s/" % case["upstream"]
        lines = ["proxy_pass %s;" % target] + directives(e, case["omit_protocols"], case["upstream"])
        blocks.append("server {\n listen 127.0.0.1:%d;\n server_name %s;\n error_log %s info;\n location / {\n  %s\n"
                      " }\n}" % (port, case["front"], case["log"], "\n  ".join(lines)))
    return "\n".join(upstreams + blocks)


@pytest.fixture(scope="module")
def world(tmp_path_factory, module_port):
    tmp = tmp_path_factory.mktemp("nginx-oracle")
    w = World(tmp)
    w.refused_port = module_port("127.0.0.1")
    nginx = PrivateNginx(tmp / "nginx", module_port("127.0.0.1"))
    try:
        build_world(w, pki.PKI(tmp / "pki"))
        nginx.start(server_blocks(w, nginx.port))

        def ask(case):
            try:
                return nginx.request("/", case["front"])
            except Exception as exc:  # pragma: no cover
                return None, str(exc).encode()

        with ThreadPoolExecutor(max_workers=len(w.cases)) as pool:
            answers = list(pool.map(ask, w.cases.values()))
        for case, (status, body) in zip(w.cases.values(), answers):
            case["nginx_status"] = status
            case["nginx_body"] = body
        params = dict(backends=[c["entry"] for c in w.cases.values()], sites=None, timeout=TIMEOUT, concurrency=64,
                      http_request=True, return_pem=False, server="nginx")
        start = time.monotonic()
        _checks, results = mod.run(params)
        w.module_elapsed = time.monotonic() - start
        nginx.stop()  # every log line is written
        for case, result in zip(w.cases.values(), results):
            case["result"] = result
            with open(case["log"]) as handle:
                case["nginx_log"] = handle.read()
        yield w
    finally:
        nginx.stop()
        for b in w.stack:
            b.stop()


CASES = ["ok", "off_selfsigned", "selfsigned", "off_expired", "expired", "expired_untrusted", "off_wrongname",
         "wrongname", "wrongname_nosni", "ssl_name", "ssl_name_nosni", "future", "tls13only_default",
         "tls13only_set", "upstream_group", "wildcard_single_label", "wildcard", "wildcard_two_labels", "cnonly",
         "ipsan", "depth1_one_intermediate", "depth0_one_intermediate", "depth1_two_intermediates",
         "depth2_two_intermediates", "untrusted", "incomplete", "hugechain", "crl_issuer_only", "crl_revoked",
         "crl_good", "mtls12_none", "mtls12_ok", "mtls12_bad", "mtls13_none", "mtls13_ok", "mtls13_bad", "refused",
         "plainhttp", "silent", "garbage", "closemid", "silenttls", "hugestatus", "ciphermismatch", "preserve_host",
         "ip_no_sni", "rsa1024", "off_rsa1024", "rsa1024_seclevel1", "sha1leaf", "http_to_tls_port"]

# The levels at which nginx reports an upstream failure (info lines are nginx's own chatter).
_FAILURE_LEVELS = ("error", "crit", "alert", "emerg")


@pytest.mark.parametrize("name", CASES)
def test_module_agrees_with_nginx(world, name):
    case = world.cases[name]
    res = case["result"]
    real = [line for level, line in log_lines(case["nginx_log"]) if level in _FAILURE_LEVELS]
    predicted = [line["line"] for line in res["server_log"]]
    detail = "module: %s %s %s\npredicted: %s | nginx: %s %r\nlog:\n%s" % (
        res["reason"], res["http_status"], res["message"], predicted, case["nginx_status"],
        case["nginx_body"][:120], case["nginx_log"][-1500:])
    assert res["reason"] == case["reason"], detail
    assert res["ok"] == (case["nginx_status"] == 200), detail
    assert res["http_status"] == case["nginx_status"], detail
    assert predicted == real, detail  # the very lines nginx wrote, nothing more, nothing less
    if case["nginx_status"] == 200:  # what the backend saw from nginx: the SNI and Host the module says
        seen = dict(line.split("=", 1) for line in case["nginx_body"].decode().splitlines() if "=" in line)
        assert (seen["SNI"], seen["Host"]) == (str(res["sni"]), res["host_header"]), detail


def test_every_case_is_listed(world):
    assert sorted(world.cases) == sorted(CASES)


def test_hostile_backends_do_not_delay_others(world):
    assert world.module_elapsed < TIMEOUT + 1.5, world.module_elapsed


# -- What nginx refuses when it reads the configuration: the module predicts nginx -t's own words -----------------

def _nginx_t(tmp, port, location_lines, upstream=""):
    nginx = PrivateNginx(tmp, port)
    path = os.path.join(nginx.dir, "nginx.conf")
    with open(path, "w") as handle:
        handle.write(nginx.conf("%s\nserver {\n listen 127.0.0.1:%d;\n location / {\n  %s\n }\n}"
                                % (upstream, port, "\n  ".join(location_lines))))
    return subprocess.run([NGINX, "-t", "-p", nginx.dir, "-c", path, "-e", os.path.join(nginx.dir, "logs", "e.log")],
                          capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def startup_pki(tmp_path_factory):
    f = pki.PKI(tmp_path_factory.mktemp("nginx-startup-pki"))
    root = f.ca("Startup Root CA")
    return {"root": root, "client": f.leaf("client", cn="proxy-client", issuer=root, client=True),
            "other": f.leaf("other", cn="other-client", issuer=root, client=True)}


STARTUP_CASES = {
    # name: (entry settings, reason, the line of nginx -t that the predicted [emerg] line must be in)
    "no_ca": (dict(verify="require"), "no_ca_configured"),
    "dns": (dict(verify="none", url="https://backend.invalid/"), "dns_failure"),
    "no_cipher": (dict(verify="none", ciphers="NOSUCHCIPHER"), "no_cipher_match"),
}


@pytest.mark.parametrize("name", sorted(STARTUP_CASES))
def test_startup_refusals_agree_with_nginx_t(tmp_path, reserved_port, name):
    settings, reason = STARTUP_CASES[name]
    port = reserved_port("127.0.0.1")
    entry = dict(BACKEND_TLS_DEFAULTS, url="https://localhost:%d/" % reserved_port("127.0.0.1"))
    entry.update(settings)
    params = dict(backends=[entry], sites=None, timeout=TIMEOUT, concurrency=4, http_request=True,
                  return_pem=False, server="nginx")
    result = mod.run(params)[1][0]
    assert (result["ok"], result["reason"], result["http_status"]) == (False, reason, None), result
    test = _nginx_t(tmp_path / "nginx", port, ["proxy_pass %s;" % entry["url"]] + directives(entry))
    assert test.returncode != 0, test.stderr
    [line] = result["server_log"]
    assert line["level"] == "startup"
    words = line["line"].replace("[emerg] ", "").split(" in <config file>")[0]
    assert "[emerg] " + words in test.stderr, (words, test.stderr)


def test_client_certificate_file_nginx_cannot_load(tmp_path, reserved_port, startup_pki):
    """A key that does not belong to the certificate: nginx -t fails, the module says client_cert_invalid."""
    port = reserved_port("127.0.0.1")
    entry = dict(BACKEND_TLS_DEFAULTS, url="https://localhost:%d/" % reserved_port("127.0.0.1"), verify="none",
                 client_cert_file=startup_pki["client"].cert_path, client_key_file=startup_pki["other"].key_path)
    params = dict(backends=[entry], sites=None, timeout=TIMEOUT, concurrency=4, http_request=True,
                  return_pem=False, server="nginx")
    result = mod.run(params)[1][0]
    assert (result["ok"], result["reason"], result["http_status"]) == (False, "client_cert_invalid", None), result
    test = _nginx_t(tmp_path / "nginx", port, ["proxy_pass %s;" % entry["url"]] + directives(entry))
    assert test.returncode != 0 and "key values mismatch" in test.stderr, test.stderr
    assert "key values mismatch" in result["message"], result["message"]


# -- TLS sessions: nginx shares them between locations proxying to the same host:port ------------------------------

@pytest.mark.parametrize("reuse", [True, False])
def test_session_reuse_lets_a_failing_location_through(tmp_path, reserved_port, reuse):
    """Two locations, one backend host:port, different trust: /good trusts the backend's CA, /bad another CA. With
    proxy_ssl_session_reuse on (nginx's default), /bad answers 200 after /good by resuming the session /good
    verified; with it off /bad fails as the checker says (incomplete_chain: its CA is not trusted). A renderer must
    never let two locations with different TLS settings share sessions (issue 23): this is the test that shows why."""
    f = pki.PKI(tmp_path / "pki")
    root = f.ca("Session Root CA")
    other = f.ca("Session Other CA")
    leaf = f.leaf("leaf", dns=["localhost"], issuer=root)
    backend = backends.TLSBackend(leaf.chain_path, leaf.key_path, max_version="TLSv1.2")
    nginx = PrivateNginx(tmp_path / "nginx", reserved_port("127.0.0.1"))
    url = "https://localhost:%d/" % backend.port
    common = ["proxy_ssl_verify on;", "proxy_ssl_server_name on;", "proxy_ssl_protocols TLSv1.2;",
              "proxy_ssl_session_reuse %s;" % ("on" if reuse else "off")]
    locations = "".join(
        " location /%s {\n  proxy_pass %s;\n  proxy_ssl_trusted_certificate %s;\n  %s\n }\n"
        % (name, url, ca, "\n  ".join(common)) for name, ca in (("good", root.cert_path), ("bad", other.cert_path)))
    try:
        nginx.start("server {\n listen 127.0.0.1:%d;\n error_log %s/logs/session.log info;\n%s}"
                    % (nginx.port, nginx.dir, locations))
        assert nginx.request("/good", "front.test")[0] == 200
        status = nginx.request("/bad", "front.test")[0]
        entry = dict(BACKEND_TLS_DEFAULTS, url=url, ca_file=other.cert_path, protocols=["TLSv1.2"])
        result = mod.run(dict(backends=[entry], sites=None, timeout=TIMEOUT, concurrency=4, http_request=True,
                              return_pem=False, server="nginx"))[1][0]
    finally:
        nginx.stop()
        backend.stop()
    assert status == (200 if reuse else 502)
    assert result["reason"] == "incomplete_chain", result  # what /bad's own settings decide (root not trusted)


# -- proxy_next_upstream: a bad member of an upstream group is hidden behind a good one --------------------------

def test_next_upstream_hides_a_bad_member_the_checker_names(tmp_path, reserved_port):
    """An upstream group of a member whose certificate names another host and a good member: nginx answers 200 (it
    tries the next member, round robin starting with the first), and its log holds the bad member's line; the
    checker checks each member and reports the bad one with that very line."""
    f = pki.PKI(tmp_path / "pki")
    root = f.ca("Pool Root CA")
    good = f.leaf("good", dns=["localhost"], issuer=root)
    wrong = f.leaf("wrong", dns=["other.test"], issuer=root)
    bad_be = backends.TLSBackend(wrong.chain_path, wrong.key_path)
    good_be = backends.TLSBackend(good.chain_path, good.key_path)
    nginx = PrivateNginx(tmp_path / "nginx", reserved_port("127.0.0.1"))
    entries = [dict(BACKEND_TLS_DEFAULTS, url="https://localhost:%d/" % be.port, ca_file=root.cert_path,
                    ssl_name="localhost") for be in (bad_be, good_be)]
    lines = ["proxy_pass https://pool;"] + directives(entries[0])  # proxy_ssl_name localhost among them
    try:
        nginx.start("upstream pool {\n server localhost:%d;\n server localhost:%d;\n}\nserver {\n listen 127.0.0.1:%d;"
                    "\n error_log %s/logs/pool.log info;\n location / {\n  %s\n }\n}"
                    % (bad_be.port, good_be.port, nginx.port, nginx.dir, "\n  ".join(lines)))
        status = nginx.request("/", "front.test")[0]
        results = mod.run(dict(backends=entries, sites=None, timeout=TIMEOUT, concurrency=4, http_request=True,
                               return_pem=False, server="nginx"))[1]
    finally:
        nginx.stop()
        bad_be.stop()
        good_be.stop()
    assert status == 200
    assert [r["reason"] for r in results] == ["name_mismatch", "ok"]
    real = [line for level, line in log_lines(nginx.log("pool.log")) if level in _FAILURE_LEVELS]
    assert real == [line["line"] for line in results[0]["server_log"]], real


# -- The role's sites, checked for each server -----------------------------------------------------------------------

class _Module:
    def warn(self, message):
        pass


def test_the_same_site_checked_for_apache_and_for_nginx(tmp_path):
    """backend_handshake with sites: each server's profile validates them and its semantics decide. One site, its
    backend sending leaf + intermediate, verify_depth 1: mod_ssl counts the root (depth 2) and fails, OpenSSL's count
    under nginx accepts it (depth1_one_intermediate above is that row with a real nginx)."""
    f = pki.PKI(tmp_path / "pki")
    root = f.ca("Sites Root CA")
    leaf = f.leaf("leaf", dns=["localhost"], issuer=f.ca("Sites Intermediate CA", issuer=root))
    backend = backends.TLSBackend(leaf.chain_path, leaf.key_path)
    site = {"name": "shop", "server_name": "shop.example", "listen": {"port": 8080},
            "locations": [{"path": "/", "backend": "https://localhost:%d/" % backend.port}],
            "backend_tls": {"ca_file": root.cert_path, "verify_depth": 1}}
    verdicts = {}
    try:
        for server in ("apache", "nginx"):
            params = dict(sites=[site], backends=None, tls_dir=str(tmp_path / "tls"), timeout=TIMEOUT, concurrency=4,
                          http_request=True, return_pem=False, server=server, backend_tls_defaults=None, names=None)
            [result] = mod.run(params, _Module())[1]
            verdicts[server] = (result["reason"], result["http_status"], result["server_log"][0]["line"]
                                if result["server_log"] else None)
    finally:
        backend.stop()
    assert verdicts["apache"][:2] == ("chain_too_long", 500)
    assert "AH02040" in verdicts["apache"][2]
    assert verdicts["nginx"] == ("ok", 200, None)
