"""backend_handshake against real TLS backends, with real Apache as the oracle.

One private CA hierarchy, one backend per case, one private Apache with one vhost per case (each vhost has the same
SSLProxy settings as the module's backend entry and its own ErrorLog at `LogLevel warn ssl:info`). Apache is asked
for every case (concurrently), the module checks every case in one run; each test then asserts that the module's
verdict (ok, http_status) equals Apache's actual response and that the AH codes the module predicts at warn/ssl:info
are in that vhost's error log.

With REVPROXY_TEST_MODULE_PYTHON set (the matrix stage of scripts/test.sh), the module runs as on a managed node:
through ansible-playbook (this venv's ansible-core) with that interpreter, instead of in this process.
"""
import datetime
import json
import os
import ssl
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from support import apache, backends, pki

from conftest import run_playbook

from ansible_collections.revproxy.tls.plugins.module_utils.model._backend_tls import BACKEND_TLS_DEFAULTS
from ansible_collections.revproxy.tls.plugins.modules import backend_handshake as mod

HAVE_APACHE = os.path.exists(apache.HTTPD) and os.path.isdir(apache.MODULES_DIR)
pytestmark = [pytest.mark.apache, pytest.mark.skipif(not HAVE_APACHE, reason="Apache httpd not installed")]

DAY = datetime.timedelta(days=1)
TIMEOUT = 2.0  # module timeout per backend, and Apache's connectiontimeout/timeout for the hostile cases
MODULE_PYTHON = os.environ.get("REVPROXY_TEST_MODULE_PYTHON")

MODULE_PLAY = """
- name: Run backend_handshake on the managed node's Python
  hosts: localhost
  gather_facts: true
  gather_subset: ["!all"]
  tasks:
    - name: Check the backends
      revproxy.tls.backend_handshake: "{{ params }}"
      register: check
    - name: Save the result
      ansible.builtin.copy:
        content: "{{ check | to_json }}"
        dest: "{{ out }}"
        mode: "0600"
    - name: Save the Python version the modules ran on
      ansible.builtin.copy:
        content: "{{ ansible_facts.python_version }}"
        dest: "{{ out }}.python"
        mode: "0600"
"""


def run_module(params, tmp):
    """The module's (checks, results) for `backends` params: mod.run() in this process, or with
    REVPROXY_TEST_MODULE_PYTHON the real module through ansible-playbook on that interpreter (results only)."""
    if not MODULE_PYTHON:
        return mod.run(params)
    out = os.path.join(str(tmp), "module-result.json")
    args = dict((k, v) for k, v in params.items() if k != "sites")
    res = run_playbook(MODULE_PLAY, {"params": dict(args, fail_on="never"), "out": out,
                                     "ansible_python_interpreter": MODULE_PYTHON})
    assert res.rc == 0, res
    with open(out) as handle:
        result = json.load(handle)
    with open(out + ".python") as handle:
        assert handle.read().strip() == _python_version(MODULE_PYTHON)  # the module ran on that Python
    return None, result["backends"]


def _python_version(python):
    return subprocess.run([python, "-c", "import platform; print(platform.python_version())"], capture_output=True,
                          text=True, check=True).stdout.strip()


def _directives(tls):
    """SSLProxy* directives for the effective settings (what the role renders)."""
    out = ["SSLProxyEngine on", "SSLProxyVerify %s" % tls["verify"], "SSLProxyVerifyDepth %d" % tls["verify_depth"],
           "SSLProxyCheckPeerName %s" % ("on" if tls["check_peer_name"] else "off"),
           "SSLProxyCheckPeerExpire %s" % ("on" if tls["check_peer_expire"] else "off"),
           "SSLProxyProtocol -all %s" % " ".join("+" + p for p in tls["protocols"])]
    if tls["ca_file"]:
        out.append("SSLProxyCACertificateFile %s" % tls["ca_file"])
    if tls["crl_file"]:
        out.append("SSLProxyCARevocationFile %s" % tls["crl_file"])
        out.append("SSLProxyCARevocationCheck %s" % tls["crl_check"])
    if tls["client_cert_file"]:
        out.append("SSLProxyMachineCertificateFile %s" % tls["client_cert_file"])
    if tls["client_chain_file"]:
        out.append("SSLProxyMachineCertificateChainFile %s" % tls["client_chain_file"])
    if tls["ciphers"]:
        out.append("SSLProxyCipherSuite %s" % tls["ciphers"])
    return out


class LegacyTLSBackend(backends.TLSBackend):
    """A TLS backend whose own OpenSSL accepts legacy keys and signatures (@SECLEVEL=0), as an old server does: the
    stdlib context refuses to load an RSA 512/1024 certificate at Debian's default security level 2."""

    def _make_context(self, chain_path, key_path, client_ca_path, client_ca_names_path, min_version, max_version,
                      key_password, alpn):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.set_ciphers("ALL:@SECLEVEL=0")
        ctx.load_cert_chain(chain_path, key_path, password=key_password)
        if min_version is not None:
            ctx.minimum_version = backends._tls_version(min_version)
        if max_version is not None:
            ctx.maximum_version = backends._tls_version(max_version)
        ctx.sni_callback = self._sni_callback
        return ctx


class World:
    def __init__(self, tmp):
        self.tmp = tmp
        self.cases = {}
        self.stack = []

    def add(self, name, backend, url, reason, preserve_host=False, host=None, ah=(), texts=(), **tls):
        if backend is not None:
            self.stack.append(backend)
        entry = dict(BACKEND_TLS_DEFAULTS)
        entry.update(tls)
        entry.update(url=url, preserve_host=preserve_host, host=host)
        self.cases[name] = {"entry": entry, "reason": reason, "ah": ah, "texts": texts,
                            "front": "%s.front.test" % name}


@pytest.fixture(scope="module")
def world(tmp_path_factory, module_port):
    tmp = tmp_path_factory.mktemp("oracle")
    f = pki.PKI(tmp / "pki")
    root = f.ca("Oracle Root CA")
    inter = f.ca("Oracle Intermediate CA", issuer=root)
    other_root = f.ca("Other Root CA")
    good = f.leaf("good", dns=["localhost"], issuer=inter)
    selfsigned = f.self_signed("selfsigned", dns=["localhost"])
    expired = f.leaf("expired", dns=["localhost"], issuer=inter, not_before=-10 * DAY, not_after=-DAY)
    future = f.leaf("future", dns=["localhost"], issuer=inter, not_before=5 * DAY, not_after=50 * DAY)
    wrong = f.leaf("wrong", dns=["other.test"], issuer=inter)
    wildcard = f.leaf("wildcard", dns=["*.wild.test"], issuer=inter)
    cn_only = f.leaf("cnonly", cn="localhost", issuer=inter)
    ip_san = f.leaf("ipsan", dns=["ip.test"], ips=["127.0.0.1"], issuer=inter)
    revoked = f.leaf("revoked", dns=["localhost"], issuer=inter)
    crl = f.crl(inter, revoked=[revoked])
    client = f.leaf("client", cn="proxy-client", issuer=inter, client=True)
    untrusted_client = f.leaf("badclient", cn="bad-client", issuer=other_root, client=True)
    ca_bundle = f.concat("ca-bundle.pem", root)

    w = World(tmp)
    T = backends.TLSBackend
    ok_be = T(good.chain_path, good.key_path)
    w.add("ok", ok_be, "https://localhost:%d/" % ok_be.port, "ok", ca_file=root.cert_path)
    w.add("depth1", None, "https://localhost:%d/" % ok_be.port, "chain_too_long", ah=("AH02040",),
          ca_file=root.cert_path, verify_depth=1)
    w.add("depth2", None, "https://localhost:%d/" % ok_be.port, "ok", ca_file=root.cert_path, verify_depth=2)
    w.add("untrusted", None, "https://localhost:%d/" % ok_be.port, "untrusted_ca", ah=("AH02276",),
          ca_file=other_root.cert_path)
    w.add("verifynone", None, "https://localhost:%d/" % ok_be.port, "ok", verify="none")
    w.add("ipliteral", None, "https://127.0.0.1:%d/" % ok_be.port, "ip_literal_name", ah=("AH02411",),
          ca_file=root.cert_path)
    b = T(selfsigned.cert_path, selfsigned.key_path)
    w.add("selfsigned", b, "https://localhost:%d/" % b.port, "untrusted_ca", ah=("AH02276",), ca_file=root.cert_path)
    w.add("pinned", None, "https://localhost:%d/" % b.port, "ok", ca_file=selfsigned.cert_path, verify_depth=1)
    b = T(expired.chain_path, expired.key_path)
    w.add("expired", b, "https://localhost:%d/" % b.port, "expired", ah=("AH02276",), ca_file=root.cert_path)
    w.add("expired_noverify", None, "https://localhost:%d/" % b.port, "expired", ah=("AH02004",), verify="none")
    b = T(future.chain_path, future.key_path)
    w.add("future", b, "https://localhost:%d/" % b.port, "not_yet_valid", ah=("AH02276",), ca_file=root.cert_path)
    b = T(wrong.chain_path, wrong.key_path)
    w.add("wrongname", b, "https://localhost:%d/" % b.port, "name_mismatch", ah=("AH02411",), ca_file=root.cert_path)
    b = T(wildcard.chain_path, wildcard.key_path)
    w.add("wildcard", b, "https://localhost:%d/" % b.port, "ok", preserve_host=True, host="a.wild.test",
          ca_file=root.cert_path)
    w.add("wildcard2", None, "https://localhost:%d/" % b.port, "preserve_host_name_mismatch", ah=("AH02411",),
          preserve_host=True, host="a.b.wild.test", ca_file=root.cert_path)
    b = T(cn_only.chain_path, cn_only.key_path)
    w.add("cnonly", b, "https://localhost:%d/" % b.port, "ok", ca_file=root.cert_path)
    b = T(ip_san.chain_path, ip_san.key_path)
    w.add("ipsan", b, "https://127.0.0.1:%d/" % b.port, "ip_literal_name", ah=("AH02411",), ca_file=root.cert_path)
    b = T(good.cert_path, good.key_path)  # leaf only: the intermediate is missing
    w.add("incomplete", b, "https://localhost:%d/" % b.port, "incomplete_chain", ah=("AH02276",),
          ca_file=root.cert_path)
    b = T(revoked.chain_path, revoked.key_path)
    w.add("revoked", b, "https://localhost:%d/" % b.port, "revoked", ah=("AH02276",), ca_file=root.cert_path,
          crl_file=crl, crl_check="leaf")
    b = T(good.chain_path, good.key_path, min_version="TLSv1.3")
    w.add("tls13only", b, "https://localhost:%d/" % b.port, "tls_protocol_mismatch", ah=("AH02003",),
          ca_file=root.cert_path, protocols=["TLSv1.2"])
    for ver in ("1.2", "1.3"):
        b = T(good.chain_path, good.key_path, client_ca_path=root.cert_path, client_ca_names_path=inter.cert_path,
              max_version="TLSv" + ver, min_version="TLSv" + ver)
        tag = ver.replace(".", "")
        w.add("mtls%s_none" % tag, b, "https://localhost:%d/" % b.port, "client_cert_required", ah=("AH02268",),
              ca_file=root.cert_path)
        w.add("mtls%s_ok" % tag, None, "https://localhost:%d/" % b.port, "ok", ca_file=root.cert_path,
              client_cert_file=client.bundle_path, client_chain_file=inter.cert_path)
        b2 = T(good.chain_path, good.key_path, client_ca_path=root.cert_path, max_version="TLSv" + ver,
               min_version="TLSv" + ver)
        w.add("mtls%s_bad" % tag, b2, "https://localhost:%d/" % b2.port, "client_cert_rejected",
              ca_file=root.cert_path, client_cert_file=untrusted_client.bundle_path)
    b = backends.PlainHTTPBackend()
    w.add("plainhttp", b, "https://localhost:%d/" % b.port, "plain_http_backend", ah=("AH02003",),
          ca_file=root.cert_path)
    # hostile backends
    w.add("dns", None, "https://backend.invalid:443/", "dns_failure", ah=("AH00898",), ca_file=root.cert_path)
    w.add("refused", None, "https://localhost:%d/" % module_port("127.0.0.1"), "connect_refused", ah=("AH00957",),
          ca_file=root.cert_path)
    b = backends.BlackholeBackend()
    w.add("blackhole", b, "https://127.0.0.1:%d/" % b.port, "connect_timeout", ca_file=root.cert_path,
          check_peer_name=False)
    b = backends.SilentBackend()
    w.add("silent", b, "https://localhost:%d/" % b.port, "timeout", ca_file=root.cert_path)
    b = backends.GarbageBackend()
    w.add("garbage", b, "https://localhost:%d/" % b.port, "not_tls", ah=("AH02003",), ca_file=root.cert_path)
    b = backends.CloseMidHandshakeBackend()
    w.add("closemid", b, "https://localhost:%d/" % b.port, "connection_closed", ah=("AH02003",),
          ca_file=root.cert_path)
    b = backends.HugeChainBackend(f, length=50, name="localhost")
    w.add("hugechain", b, "https://localhost:%d/" % b.port, "chain_too_long", ah=("AH02040",), ca_file=b.ca_path)
    # cipher lists as mod_ssl builds them (SSLProxyCipherSuite + ":!aNULL:!eNULL:!EXP")
    b = T(good.chain_path, good.key_path, max_version="TLSv1.2")
    b.context.set_ciphers("ECDHE-ECDSA-AES128-SHA")
    w.add("ciphermismatch", b, "https://localhost:%d/" % b.port, "tls_cipher_mismatch", ah=("AH02003",),
          ca_file=root.cert_path, ciphers="ECDHE-ECDSA-AES256-GCM-SHA384")
    b = T(good.chain_path, good.key_path, max_version="TLSv1.2")
    b.context.set_ciphers("ECDHE-ECDSA-NULL-SHA:@SECLEVEL=0")  # a backend that only offers a NULL cipher
    w.add("nullexcluded", b, "https://localhost:%d/" % b.port, "tls_cipher_mismatch", ah=("AH02003",),
          ca_file=root.cert_path, ciphers="ALL:eNULL:@SECLEVEL=0")
    # NUL in the certificate's names (mod_ssl escapes it: 'localhost\00.evil.test' never matches localhost)
    nul_san = f.leaf("nulsan", dns=["localhost\x00.evil.test"], cn="nul-san", issuer=inter)
    nul_cn = f.leaf("nulcn", cn="localhost\x00.evil.test", issuer=inter)
    for name, leaf in (("nulsan", nul_san), ("nulcn", nul_cn)):
        b = T(leaf.chain_path, leaf.key_path)
        w.add(name, b, "https://localhost:%d/" % b.port, "name_mismatch", ah=("AH02411",), ca_file=root.cert_path)
    # hostile responses after a good handshake
    b = backends.HugeLineBackend(good.chain_path, good.key_path, where="status", size=4 << 20)
    w.add("hugestatus", b, "https://localhost:%d/" % b.port, "response_head_too_long", ah=("AH00898",),
          ca_file=root.cert_path)
    b = backends.HugeLineBackend(good.chain_path, good.key_path, where="header", size=4 << 20)
    w.add("hugeheader", b, "https://localhost:%d/" % b.port, "response_head_too_long", ah=("AH10124", "AH01106"),
          ca_file=root.cert_path)
    b = backends.SilentAfterHandshakeBackend(good.chain_path, good.key_path)
    w.add("silenttls", b, "https://localhost:%d/" % b.port, "response_timeout", ah=("AH01102",),
          ca_file=root.cert_path)

    # legacy crypto (badssl.com's rsa512, rsa1024, sha1-intermediate, md5 and 10000-sans personalities)
    rsa = pki.PKI(tmp / "pki-rsa", key_type="rsa")
    rsa_root = rsa.ca("Legacy Root CA")
    rsa_inter = rsa.ca("Legacy Intermediate CA", issuer=rsa_root)
    weak_text = ("Error (66): EE certificate key too weak",)
    for bits, max_version in ((1024, None), (512, "TLSv1.2")):  # RSA-PSS (TLS 1.3) cannot sign with 512 bits
        leaf = f.leaf("rsa%d" % bits, dns=["localhost"], issuer=inter, key_type="rsa%d" % bits)
        b = LegacyTLSBackend(leaf.chain_path, leaf.key_path, max_version=max_version)
        w.add("rsa%d" % bits, b, "https://localhost:%d/" % b.port, "weak_key", ah=("AH02276",), texts=weak_text,
              ca_file=root.cert_path)
        if bits == 1024:  # the documented insecure workaround really works
            w.add("rsa1024_seclevel1", None, "https://localhost:%d/" % b.port, "ok", ca_file=root.cert_path,
                  ciphers="DEFAULT:@SECLEVEL=1")
    md_text = ("Error (68): CA signature digest algorithm too weak",)
    sha1_leaf = rsa.leaf("sha1-leaf", dns=["localhost"], issuer=rsa_inter, digest="sha1")
    sha1_inter = rsa.ca("SHA-1 Intermediate CA", issuer=rsa_root, digest="sha1")
    md5_inter = rsa.ca("MD5 Intermediate CA", issuer=rsa_root, digest="md5")
    for name, leaf in (("sha1leaf", sha1_leaf),
                       ("sha1inter", rsa.leaf("sha1-inter-leaf", dns=["localhost"], issuer=sha1_inter)),
                       ("md5chain", rsa.leaf("md5-leaf", dns=["localhost"], issuer=md5_inter, digest="md5"))):
        b = LegacyTLSBackend(leaf.chain_path, leaf.key_path)
        w.add(name, b, "https://localhost:%d/" % b.port, "weak_signature", ah=("AH02276",), texts=md_text,
              ca_file=rsa_root.cert_path)
    sans = f.leaf("sans10000", dns=["localhost"] + ["san%05d.10000-sans.test" % i for i in range(1, 10000)],
                  issuer=inter)
    b = T(sans.chain_path, sans.key_path)
    w.add("sans10000", b, "https://localhost:%d/" % b.port, "certificate_too_large", ah=("AH02003",),
          texts=("excessive message size",), ca_file=root.cert_path)
    # a one-tier private CA: the leaf is signed by a root the proxy does not trust, the backend sends only the leaf
    one_tier = f.leaf("onetier", dns=["localhost"], issuer=root)
    b = T(one_tier.cert_path, one_tier.key_path)
    w.add("onetier", b, "https://localhost:%d/" % b.port, "incomplete_chain", ah=("AH02276",),
          ca_file=other_root.cert_path)

    httpd = apache.PrivateApache(tmp / "httpd", loglevel="warn ssl:info")
    vhosts = []
    for name, case in w.cases.items():
        e = case["entry"]
        case["log"] = str(tmp / "httpd" / "logs" / ("%s.log" % name))
        vhosts.append("<VirtualHost 127.0.0.1:%d>\n ServerName %s\n ErrorLog %s\n %s\n ProxyPreserveHost %s\n"
                      " ProxyPass / %s retry=0 connectiontimeout=%d timeout=%d\n</VirtualHost>"
                      % (httpd.port, case["front"] if not e["preserve_host"] else e["host"], case["log"],
                         "\n ".join(_directives(e)), "On" if e["preserve_host"] else "Off", e["url"], TIMEOUT,
                         TIMEOUT))
    httpd.set_vhosts("\n".join(vhosts))
    httpd.start()
    try:
        def ask(case):
            e = case["entry"]
            try:
                status, _h, body = httpd.request("/", host=e["host"] if e["preserve_host"] else case["front"],
                                                 timeout=20)
            except Exception as exc:  # pragma: no cover
                return None, str(exc).encode()
            return status, body

        mark = httpd.access_log_mark()
        with ThreadPoolExecutor(max_workers=len(w.cases)) as pool:
            answers = list(pool.map(ask, w.cases.values()))
        for case, (status, body) in zip(w.cases.values(), answers):
            case["apache_status"] = status
            case["apache_body"] = body
        # Every answered request's access line is written after its error-log lines (support.apache): then the
        # per-vhost logs hold what the requests logged.
        httpd.wait_for_requests(sum(1 for status, _body in answers if status is not None), mark)
        for case in w.cases.values():
            with open(case["log"]) as handle:
                case["apache_log"] = handle.read()
        params = dict(backends=[c["entry"] for c in w.cases.values()], sites=None, timeout=TIMEOUT, concurrency=64,
                      http_request=True, return_pem=False)
        start = time.monotonic()
        _checks, results = run_module(params, w.tmp)
        w.module_elapsed = time.monotonic() - start
        for case, result in zip(w.cases.values(), results):
            case["result"] = result
        yield w
    finally:
        httpd.stop()
        for b in w.stack:
            b.stop()


CASES = ["ok", "depth1", "depth2", "untrusted", "verifynone", "ipliteral", "selfsigned", "pinned", "expired",
         "expired_noverify", "future", "wrongname", "wildcard", "wildcard2", "cnonly", "ipsan", "incomplete",
         "revoked", "tls13only", "mtls12_none", "mtls12_ok", "mtls12_bad", "mtls13_none", "mtls13_ok", "mtls13_bad",
         "plainhttp", "dns", "refused", "blackhole", "silent", "garbage", "closemid", "hugechain", "ciphermismatch",
         "nullexcluded", "nulsan", "nulcn", "hugestatus", "hugeheader", "silenttls", "rsa1024", "rsa512",
         "rsa1024_seclevel1", "sha1leaf", "sha1inter", "md5chain", "sans10000", "onetier"]


@pytest.mark.parametrize("name", CASES)
def test_module_agrees_with_apache(world, name):
    case = world.cases[name]
    res = case["result"]
    detail = "module: %s %s %s | apache: %s %r | log:\n%s" % (res["reason"], res["http_status"], res["message"],
                                                              case["apache_status"], case["apache_body"][:200],
                                                              case["apache_log"][-2000:])
    assert res["reason"] == case["reason"], detail
    assert res["ok"] == (case["apache_status"] == 200), detail
    assert res["http_status"] == case["apache_status"], detail
    for code in case["ah"]:
        assert code in case["apache_log"], detail
        # the module predicts the code at warn or ssl:info (AH02276 replaces AH02039 at info)
        assert any(code in line["line"] or (code == "AH02276" and "AH02039" in line["line"])
                   for line in res["apache_log"]), detail
    for text in case["texts"]:  # Apache's own words, and the module predicts them
        assert text in case["apache_log"], detail
        assert any(text in line["line"] for line in res["apache_log"]), detail
    assert res["elapsed_ms"] <= TIMEOUT * 1000 + 500, detail


def test_every_case_is_listed(world):
    assert sorted(world.cases) == sorted(CASES)


@pytest.mark.skipif(bool(MODULE_PYTHON), reason="bounds the module's own run; ansible-playbook adds its start-up time")
def test_hostile_backends_do_not_delay_others(world):
    # all backends in one run: the whole run is bounded by the slowest backend's timeout, not the sum
    assert world.module_elapsed < TIMEOUT + 1.5, world.module_elapsed
    assert world.cases["ok"]["result"]["elapsed_ms"] < 1000


@pytest.mark.parametrize("ciphers", ["eNULL:@SECLEVEL=0", "NOSUCHCIPHER", "aNULL"])
def test_no_cipher_match_agrees_with_apache_startup(tmp_path, ciphers, reserved_port):
    """A cipher list that selects nothing once mod_ssl appended ':!aNULL:!eNULL:!EXP': Apache passes -t but refuses
    to start (AH01898); the checker says no_cipher_match and predicts the lines Apache writes."""
    entry = dict(BACKEND_TLS_DEFAULTS, url="https://localhost:%d/" % reserved_port("127.0.0.1"), verify="none",
                 ciphers=ciphers)
    params = dict(backends=[entry], sites=None, timeout=TIMEOUT, concurrency=4, http_request=True,
                  return_pem=False)
    result = run_module(params, tmp_path)[1][0]
    assert (result["ok"], result["reason"], result["http_status"]) == (False, "no_cipher_match", None), result
    httpd = apache.PrivateApache(tmp_path / "httpd", loglevel="warn ssl:info")
    directives = _directives(dict(BACKEND_TLS_DEFAULTS, verify="none", ciphers=ciphers))
    httpd.set_vhosts("<VirtualHost 127.0.0.1:%d>\n ServerName nomatch.test\n %s\n ProxyPass / %s\n</VirtualHost>"
                     % (httpd.port, "\n ".join(directives), entry["url"]))
    assert httpd.configtest()[0]  # apache2 -t does not see it
    with pytest.raises(apache.ApacheError) as info:
        httpd.start()
    httpd.stop()
    assert result["apache_log"], result  # the lines the checker predicts: at least AH01898
    for line in result["apache_log"]:
        assert line["level"] == "startup"
        code = line["line"].split("] ", 1)[1].split(":", 1)[0]  # AH01898, "SSL Library Error", AH02312
        assert code in str(info.value), (code, str(info.value)[-2000:])
    assert "no cipher match" in str(info.value)
