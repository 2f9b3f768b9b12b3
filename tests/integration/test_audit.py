"""revproxy.tls.apache_proxy_audit against a real Apache running a tree of hand-written vhosts and real TLS backends.

One private Apache (PrivateApache: its httpd.conf includes files from three directories) serves seven hand-written
vhosts: the blog fix (SSLProxyVerify none + SSLProxyCheckPeerName off), the default depth 1 with an ordinary chain, a
CA set at server level inherited into a vhost, a balancer with two https members and its <Proxy> settings,
ProxyPreserveHost with a name the backend certificate lacks, a ProxyPassMatch and a RewriteRule [P]. The audit's
verdict with the current settings is compared with what Apache answers for each vhost; the proposals whose secure
verdict passes are rendered by the role's renderer into the same Apache and must answer 200 with verification on.
"""
import os

import pytest

from ansible_collections.revproxy.tls.plugins.module_utils.apache import _audit_run
from ansible_collections.revproxy.tls.plugins.module_utils.apache._layout import RedHatLayout
from ansible_collections.revproxy.tls.plugins.module_utils.apache._render import needed_modules
from ansible_collections.revproxy.tls.plugins.modules import apache_proxy_audit
from support.apache import DEFAULT_MODULES, HTTPD, PrivateApache
from support.apache_model import normalize_sites, render_site
from support.backends import TLSBackend
from support.pki import PKI

MODULES = tuple(DEFAULT_MODULES) + ("proxy_balancer", "lbmethod_byrequests", "slotmem_shm", "rewrite", "macro")


def _run(argv):
    import subprocess
    res = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    return res.returncode, res.stdout, res.stderr


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """The PKI, three backends, and the private Apache with the hand-written tree (running)."""
    base = tmp_path_factory.mktemp("audit")
    pki = PKI(base / "pki")
    root = pki.ca("Audit Root CA")
    inter = pki.ca("Audit Intermediate CA", issuer=root)
    chained = pki.leaf("chained", dns=["localhost"], issuer=inter)       # leaf + intermediate: depth 2
    direct = pki.leaf("direct", dns=["localhost"], issuer=root)          # depth 1
    blog = pki.leaf("blog", dns=["blog-backend.test"], issuer=root)      # not the URL's name
    client = pki.leaf("proxy-client", dns=["proxy.test"], issuer=root, client=True)
    servers = [TLSBackend(chained.chain_path, chained.key_path, count=2, body=b"chained ok"),
               TLSBackend(direct.chain_path, direct.key_path, body=b"direct ok"),
               TLSBackend(blog.chain_path, blog.key_path, body=b"blog ok"),
               TLSBackend(direct.chain_path, direct.key_path, body=b"mtls ok", client_ca_path=root.cert_path,
                          client_ca_names_path=root.cert_path)]
    a, b, c, m = servers
    workdir = base / "apache"
    apache = PrivateApache(str(workdir), modules=MODULES, loglevel="warn ssl:info",
                           extra_global="Include conf.d/*.conf\nIncludeOptional sites/*.conf\n"
                                        "IncludeOptional more/*.conf\n")
    port = apache.port
    vh = "127.0.0.1:%d" % port
    files = {
        "conf.d/proxy-ca.conf": "SSLProxyCACertificateFile %s\nSSLProxyVerify require\n" % root.cert_path,
        "sites/blog.conf": ("<VirtualHost %s>\nServerName blog.test\nSSLProxyEngine on\nSSLProxyVerify none\n"
                            "SSLProxyCheckPeerName off\nProxyPass / https://localhost:%d/\n</VirtualHost>\n"
                            % (vh, c.port)),
        "sites/depth.conf": ("<VirtualHost %s>\nServerName depth.test\nSSLProxyEngine on\n"
                             "ProxyPass / https://localhost:%d/\n</VirtualHost>\n" % (vh, a.ports[0])),
        "sites/inherit.conf": ("<VirtualHost %s>\nServerName inherit.test\nSSLProxyEngine on\n"
                               "ProxyPass / https://localhost:%d/\n</VirtualHost>\n" % (vh, b.port)),
        "more/pool.conf": ("<VirtualHost %s>\nServerName pool.test\nSSLProxyEngine on\n<Proxy balancer://pool>\n"
                           "BalancerMember https://localhost:%d\nBalancerMember https://localhost:%d\n"
                           "SSLProxyVerifyDepth 2\n</Proxy>\nProxyPass / balancer://pool/\n</VirtualHost>\n"
                           % (vh, a.ports[0], a.ports[1])),
        "more/preserve.conf": ("<VirtualHost %s>\nServerName preserve.test\nSSLProxyEngine on\n"
                               "ProxyPreserveHost On\nProxyPass / https://localhost:%d/\n</VirtualHost>\n"
                               % (vh, b.port)),
        "more/match.conf": ("<VirtualHost %s>\nServerName match.test\nSSLProxyEngine on\n"
                            "ProxyPassMatch ^/pm/(.*)$ https://localhost:%d/$1\n</VirtualHost>\n" % (vh, b.port)),
        "more/mtls.conf": ("<VirtualHost %s>\nServerName mtls.test\nSSLProxyEngine on\n"
                           "SSLProxyMachineCertificateFile %s\nProxyPass / https://localhost:%d/\n</VirtualHost>\n"
                           % (vh, client.bundle_path, m.port)),
        "more/nocert.conf": ("<VirtualHost %s>\nServerName nocert.test\nSSLProxyEngine on\n"
                             "ProxyPass / https://localhost:%d/\n</VirtualHost>\n" % (vh, m.port)),
        "more/macro.conf": ("<Macro Proxied $name>\n<VirtualHost %s>\nServerName $name\nSSLProxyEngine on\n"
                            "SSLProxyVerify none\nProxyPass / https://localhost:%d/\n</VirtualHost>\n</Macro>\n"
                            "Use Proxied macro.test\n" % (vh, c.port)),
        "more/noengine.conf": ("<VirtualHost %s>\nServerName noengine.test\nProxyPass / https://localhost:%d/\n"
                               "</VirtualHost>\n" % (vh, b.port)),
        "more/peername.conf": ("<VirtualHost %s>\nServerName peername.test\nSSLProxyEngine on\n"
                               "SSLProxyCheckPeerName off\nProxyPass / https://localhost:%d/\n</VirtualHost>\n"
                               % (vh, c.port)),
        "more/rewrite.conf": ("<VirtualHost %s>\nServerName rewrite.test\nSSLProxyEngine on\nRewriteEngine on\n"
                              "RewriteRule ^/(.*)$ https://localhost:%d/$1 [P]\n</VirtualHost>\n" % (vh, b.port)),
    }
    managed = normalize_sites([{"name": "managed", "server_name": "managed.test", "listen": {"port": port},
                                "locations": [{"path": "/", "backend": "https://localhost:%d/" % b.port}],
                                "backend_tls": {"ca_file": root.cert_path}}], tls_dir=str(workdir / "tls"))[0]
    files["more/zz-managed.conf"] = render_site(managed, tls_dir=str(workdir / "tls")).replace(
        "<VirtualHost *:%d>" % port, "<VirtualHost %s>" % vh)
    for name, text in files.items():
        path = workdir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    try:
        apache.start()
        yield {"apache": apache, "root": root, "inter": inter, "servers": servers, "workdir": workdir, "port": port}
    finally:
        apache.stop()
        for server in servers:
            server.stop()


def _layout(workdir):
    return RedHatLayout(config_root=str(workdir), main_config="httpd.conf", binary=HTTPD,
                        tls_dir=str(workdir / "tls"))


def _audit(lab, **params):
    params = dict({"timeout": 5, "concurrency": 8, "use_httpd": True, "include_managed": False}, **params)
    return _audit_run.audit(params, _layout(lab["workdir"]), _run)


@pytest.fixture(scope="module")
def result(lab):
    return _audit(lab)


def _by_host(result):
    out = {}
    for b in result["backends"]:
        out.setdefault(b["vhost"].split()[0], []).append(b)
    return out


PATHS = {"blog.test": "/", "depth.test": "/", "inherit.test": "/", "pool.test": "/", "preserve.test": "/",
         "match.test": "/pm/x", "rewrite.test": "/x", "mtls.test": "/", "nocert.test": "/",
         "noengine.test": "/", "peername.test": "/"}


def test_every_vhost_and_backend_is_found_with_file_and_line(lab, result):
    rows = _by_host(result)
    assert sorted(rows) == sorted(PATHS)  # the managed site's backend is left out, its vhost is marked
    managed = [v for v in result["vhosts"] if v["managed"]]
    assert [v["names"] for v in managed] == [["managed.test"]] and "proposal" not in managed[0]
    assert "managed.test" in _by_host(_audit(lab, include_managed=True))
    assert len(rows["pool.test"]) == 2 and {b["balancer"] for b in rows["pool.test"]} == {"balancer://pool"}
    assert [b["route"]["kind"] for b in rows["match.test"]] == ["ProxyPassMatch"]
    assert [b["route"]["kind"] for b in rows["rewrite.test"]] == ["RewriteRule"]
    # mod_macro is not expanded: its definition, its use and the vhost httpd made from it are each reported.
    macro = str(lab["workdir"] / "more/macro.conf")
    assert sorted((p["kind"], p["line"]) for p in result["problems"]) == [("macro", 1), ("macro", 9),
                                                                          ("vhost_not_read", 9)], result["problems"]
    assert all(p["file"] == macro for p in result["problems"])
    assert "macro.test" in [p for p in result["problems"] if p["kind"] == "vhost_not_read"][0]["message"]
    files = [os.path.relpath(f["path"], str(lab["workdir"])) for f in result["files"]]
    assert files[0] == "httpd.conf" and "conf.d/proxy-ca.conf" in files and "more/pool.conf" in files
    inherited = {d["directive"]: d for d in rows["inherit.test"][0]["directives"]}
    assert inherited["SSLProxyCACertificateFile"]["origin"] == "server"
    assert inherited["SSLProxyCACertificateFile"]["file"] == str(lab["workdir"] / "conf.d/proxy-ca.conf")
    assert inherited["SSLProxyCACertificateFile"]["line"] == 1
    assert inherited["SSLProxyVerifyDepth"]["origin"] == "default"
    pool = {d["directive"]: d for d in rows["pool.test"][0]["directives"]}
    assert pool["SSLProxyVerifyDepth"]["origin"].startswith("<Proxy balancer://pool>")


def test_current_verdicts_agree_with_what_apache_answers(lab, result):
    rows = _by_host(result)
    for host, path in PATHS.items():
        status, _headers, body = lab["apache"].request(path, host=host)
        for b in rows[host]:
            assert b["current"]["ok"] == (status == 200), (host, status, body[:200], b["current"])
            if not b["current"]["ok"]:
                assert b["current"]["http_status"] == status, (host, b["current"])
    assert rows["depth.test"][0]["current"]["reason"] == "chain_too_long"
    assert rows["preserve.test"][0]["current"]["reason"] == "preserve_host_name_mismatch"
    assert rows["preserve.test"][0]["host"] == "preserve.test"
    assert rows["noengine.test"][0]["current"]["reason"] == "ssl_proxy_engine_off"


def test_the_blog_fix_is_reported_as_accepting_any_certificate(result):
    blog = _by_host(result)["blog.test"][0]
    assert blog["insecure"] and blog["current"]["ok"]
    assert blog["accepts"].startswith("verification off: any certificate is accepted")
    assert result["backends"][0] is blog  # the report leads with the insecure ones
    assert [b["vhost"].split()[0] for b in result["backends"] if b["insecure"]] == ["blog.test", "peername.test"]
    peername = _by_host(result)["peername.test"][0]
    assert peername["current"]["ok"]  # as Apache answers: the name check alone off, the CA still checked
    assert peername["accepts"] == "any certificate from a trusted CA is accepted, whatever its name"
    settings = {d["directive"]: d for d in blog["directives"]}
    assert settings["SSLProxyVerify"]["value"] == "none" and settings["SSLProxyVerify"]["line"] == 4
    assert settings["SSLProxyCheckPeerName"]["value"] == "off"
    # Verified, the backend's certificate does not carry the name Apache checks: the fix says so.
    assert not blog["secure"]["ok"] and blog["secure"]["reason"] == "name_mismatch"
    assert "blog-backend.test" in blog["secure"]["message"]


def test_secure_verdicts_and_what_the_chain_needs(lab, result):
    rows = _by_host(result)
    depth = rows["depth.test"][0]["secure"]
    assert depth["ok"] and depth["chain"]["depth_needed"] == 2
    assert depth["settings"]["verify"] == "require" and depth["settings"]["verify_depth"] >= 2
    assert "already configured" in depth["trust"]
    for host in ("inherit.test", "pool.test", "match.test", "rewrite.test", "mtls.test"):
        assert all(b["secure"]["ok"] for b in rows[host]), rows[host]
        assert (rows[host][0]["secure"]["client_certificate"] is None) == (host != "mtls.test")
    assert "Audit Root CA" in rows["mtls.test"][0]["secure"]["client_certificate"]
    assert "is configured" in rows["mtls.test"][0]["secure"]["client_certificate"]
    nocert = rows["nocert.test"][0]
    assert nocert["current"]["reason"] == "client_cert_required" and not nocert["secure"]["ok"]
    assert "none is configured" in nocert["secure"]["client_certificate"]


def test_private_ca_is_named_by_issuer_and_key_id_when_nothing_trusts_it(lab):
    """Without the server-level CA, the secure proposal cannot trust anything it has: it names the issuer's root
    and its key identifier, which are the real root's."""
    conf = lab["workdir"] / "conf.d" / "proxy-ca.conf"
    saved = conf.read_text()
    conf.write_text("# moved away\n")
    try:
        rows = _by_host(_audit(lab))
        # A bundle standing for the system's (the root in it, as a public root is in Debian's): the chain verifies
        # to it, so the secure settings name that file (mod_ssl never reads the system store by itself).
        bundled = _by_host(_audit(lab, system_ca_file=lab["root"].cert_path))
    finally:
        conf.write_text(saved)
    public = bundled["inherit.test"][0]["secure"]
    assert public["ok"] and public["settings"]["ca_file"] == lab["root"].cert_path
    assert public["trust"].startswith("the chain ends in a public root: trust the system bundle")
    inherit = rows["inherit.test"][0]
    assert not inherit["secure"]["ok"] and inherit["secure"]["reason"] in ("untrusted_ca", "incomplete_chain")
    from cryptography import x509
    ski = lab["root"].cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    key_id = ":".join("%02X" % b for b in ski)
    assert inherit["secure"]["chain"]["issuer_key_id"] == key_id
    assert "Audit Root CA" in inherit["secure"]["trust"] and key_id in inherit["secure"]["trust"]


def test_proposals_render_and_answer_200_with_verification_on(lab, result, tmp_path):
    by_name = dict((v["names"][0], v) for v in result["vhosts"] if v.get("names"))
    for name in ("depth.test", "inherit.test", "pool.test"):
        assert by_name[name]["proposal"]["valid"] and by_name[name]["proposal"]["secure_ok"], by_name[name]
    assert not by_name["blog.test"]["proposal"]["secure_ok"] and not by_name["preserve.test"]["proposal"]["secure_ok"]
    for name in ("match.test", "rewrite.test"):
        assert not by_name[name]["proposal"]["valid"]
        assert "regular expression" in " ".join(by_name[name]["proposal"]["not_carried"])
    sites = [by_name[n]["proposal"]["site"] for n in ("depth.test", "inherit.test", "pool.test")]
    effective = normalize_sites(sites, tls_dir=str(tmp_path / "tls"))
    modules = MODULES + tuple(m for m in needed_modules(effective) if m not in MODULES)
    with PrivateApache(str(tmp_path / "proposed"), modules=modules, loglevel="warn ssl:info") as proposed:
        text = "\n".join(render_site(eff, tls_dir=str(tmp_path / "tls")) for eff in effective)
        text = text.replace("127.0.0.1:%d>" % lab["port"], "127.0.0.1:%d>" % proposed.port)
        assert "SSLProxyVerify require" in text
        proposed.set_vhosts(text)
        proposed.start()
        for eff in effective:
            status, _h, body = proposed.request("/", host=eff["server_name"])
            assert status == 200, (eff["server_name"], body[:300])


def test_module_options_metrics_and_check_mode_safety(lab, tmp_path):
    """The module's entry: metrics through module_utils/_metrics; nothing in the tree changes."""
    before = sorted((str(p), p.stat().st_mtime_ns) for p in lab["workdir"].rglob("*.conf"))
    res = _audit(lab)
    rows = apache_proxy_audit.metrics_rows(res["backends"])
    from ansible_collections.revproxy.tls.plugins.module_utils import _metrics
    path = _metrics.write(str(tmp_path), "audit", backends=rows)
    text = open(path, encoding="utf-8").read()
    assert 'reason="chain_too_long"' in text and 'source="audit"' in text
    assert sorted((str(p), p.stat().st_mtime_ns) for p in lab["workdir"].rglob("*.conf")) == before


PLAY = """
- ansible.builtin.import_playbook: revproxy.tls.audit
"""


def test_playbook_on_the_system_apache_writes_the_report_insecure_first(lab, tmp_path):
    """revproxy.tls.audit in check mode on this machine's Apache (/etc/apache2, the Debian layout), with one
    hand-written blog-fix vhost enabled for the test (never reloaded: the audit reads the configuration)."""
    import fcntl
    from conftest import CONFIG_ROOT, LOCK_PATH, run_playbook  # pylint: disable=import-outside-toplevel
    backend = lab["servers"][2]
    available = os.path.join(CONFIG_ROOT, "sites-available", "zz-audit-test.conf")
    enabled = os.path.join(CONFIG_ROOT, "sites-enabled", "zz-audit-test.conf")
    os.makedirs(os.path.dirname(LOCK_PATH), exist_ok=True)
    with open(LOCK_PATH, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            with open(available, "w", encoding="utf-8") as handle:
                handle.write("<VirtualHost *:80>\n    ServerName audit-blog.test\n    SSLProxyEngine on\n"
                             "    SSLProxyVerify none\n    SSLProxyCheckPeerName off\n"
                             "    ProxyPass / https://localhost:%d/\n</VirtualHost>\n" % backend.port)
            os.symlink("../sites-available/zz-audit-test.conf", enabled)
            (tmp_path / "metrics").mkdir()
            res = run_playbook(PLAY, {"revproxy_hosts": "localhost", "revproxy_fail_on": "insecure",
                                      "revproxy_report_dir": str(tmp_path / "reports"),
                                      "revproxy_metrics_dir": str(tmp_path / "metrics"),
                                      "revproxy_metrics_dirs": [str(tmp_path / "metrics")]}, check=True)
        finally:
            for path in (enabled, available):
                if os.path.lexists(path):
                    os.unlink(path)
    assert res.rc != 0 and "1 with insecure settings" in res.stdout, res
    markdown = (tmp_path / "reports" / "audit-report.md").read_text()
    html_text = (tmp_path / "reports" / "audit-report.html").read_text()
    first = [line for line in markdown.splitlines() if line.startswith("| ") and "INSECURE" in line]
    assert first and "audit-blog.test" in first[0] and "verification off: any certificate is accepted" in first[0]
    assert markdown.index("**INSECURE**") < markdown.index("## Proposed sites")
    assert "SSLProxyVerify none (%s:4)" % enabled in html_text
    # The module's metrics_dir (node_exporter's textfile format), read by the Prometheus client's own parser.
    from prometheus_client.parser import text_string_to_metric_families  # pylint: disable=import-outside-toplevel
    text = (tmp_path / "metrics" / "revproxy_tls_audit.prom").read_text()
    samples = [s for f in text_string_to_metric_families(text) for s in f.samples
               if s.name == "revproxy_tls_backend_handshake_ok" and s.labels.get("site") == "audit-blog.test"]
    assert [(s.value, s.labels["source"], s.labels["reason"]) for s in samples] == [(1.0, "audit", "ok")]


def test_hostile_configuration_files_are_bounded_and_reported(tmp_path):
    """A tree httpd itself refuses (an include loop, a binary file, 5 MiB of junk, 40 nested includes, a link to
    /etc/shadow, a FIFO): the audit still answers, quickly, reads none of them and names each; httpd's failing
    config test is reported too."""
    import time
    apache = PrivateApache(str(tmp_path / "hostile"), modules=MODULES,
                           extra_global="IncludeOptional hostile/*.conf\n")
    root = tmp_path / "hostile" / "hostile"
    root.mkdir()
    (root / "a-loop.conf").write_text("Include hostile/a-loop.conf\n")
    (root / "b-binary.conf").write_bytes(b"\x7fELF\x02\x01\x01\x00" + os.urandom(4096))
    with open(str(root / "c-huge.conf"), "wb") as handle:
        handle.truncate(5 << 20)
    (root / "d-deep.conf").write_text("Include hostile/deep/d0.inc\n")
    (root / "deep").mkdir()
    for i in range(40):
        (root / "deep" / ("d%d.inc" % i)).write_text("Include hostile/deep/d%d.inc\n" % (i + 1))
    os.symlink("/etc/shadow", str(root / "e-outside.conf"))
    os.mkfifo(str(root / "f-fifo.conf"))
    (root / "g-fine.conf").write_text("<VirtualHost 127.0.0.1:%d>\nServerName fine.test\nSSLProxyEngine on\n"
                                      "Use Backend fine\nProxyPass / https://${BACKEND}/\n</VirtualHost>\n"
                                      % apache.port)
    start = time.monotonic()
    res = _audit_run.audit({"timeout": 2, "concurrency": 4, "use_httpd": True}, _layout(tmp_path / "hostile"), _run)
    assert time.monotonic() - start < 30
    kinds = dict((os.path.basename(p["file"] or ""), p["kind"]) for p in res["problems"])
    assert kinds["a-loop.conf"] == "include_loop"
    assert kinds["b-binary.conf"] == "binary"
    assert kinds["c-huge.conf"] == "unreadable_size"
    assert "include_depth" in [p["kind"] for p in res["problems"]]
    assert kinds["e-outside.conf"] == "outside_tree"
    assert kinds["f-fifo.conf"] == "unreadable_kind"
    assert {"macro", "variable"} <= set(p["kind"] for p in res["problems"] if p["file"].endswith("g-fine.conf"))
    assert "config_test" in [p["kind"] for p in res["problems"]]
    assert res["backends"] == [] and [v["names"] for v in res["vhosts"]] == [["fine.test"]]
    assert not any(f["real"] in ("/etc/shadow",) for f in res["files"])
