"""Hostile review of issue 24 (adopt, audit, metrics) as an AWX survey user: values with perfect syntax that would
make the live server do something the operator did not allow.

Finding 1 (adopt): a hand-written conf.d file may hold, besides its own vhost, directives outside any <VirtualHost>
(server config: every other vhost inherits them). `replaces` disabled the whole file, so naming a file that held the
server-wide `SSLProxyVerify require` + `SSLProxyCACertificateFile` switched verification off for another team's
hand-written vhost in another file: on a live httpd it went from 502 (untrusted backend refused) to 200 from an
impostor backend, with no insecure opt-in anywhere. Fix: apache/_adopt refuses a file with any directive outside
its vhosts (the conditional sections around them aside), naming the line; the same rule refuses a Listen split by a
continuation line, which the line-based Listen check missed.

Finding 2 (metrics, below): a survey's revproxy_metrics_dir in a web server's document root published the
metrics. Finding 3 (adopt, below): the default server of a shared address:port handed its requests to another vhost.

The refusal tables keep every other attack tried on `replaces` and `metrics_dir` in the suite (scratch Debian and
RHEL trees; the comparison with the running vhosts fed as apache/_live_vhosts returns them), and the audit's report
is shown hostile names and certificate subjects.

Private httpd instances only (the RHEL-shaped tree of test_redhat_layout, PrivateApache), no system-Apache lock;
~15 s in all (31 tests; the check job of finding 2 is most of it).
"""
import json
import os

import pytest

from ansible_collections.revproxy.tls.plugins.module_utils.apache import _adopt
from ansible_collections.revproxy.tls.plugins.module_utils.apache._layout import Layout
from ansible_collections.revproxy.tls.plugins.module_utils.apache._plan import desired_state, plan
from ansible_collections.revproxy.tls.plugins.module_utils.apache._render import MANAGED_MARKER
from ansible_collections.revproxy.tls.plugins.module_utils.deploy._transaction import apply, begin_transaction, rollback
from ansible_collections.revproxy.tls.plugins.module_utils.model._backend_tls import ConfigError
from support.apache_model import normalize_sites
from support.backends import PlainHTTPBackend, TLSBackend
from support.pki import PKI
from test_adopt import _rhel_validate
from test_redhat_layout import Httpd, config_tree, get, rhel_tree  # noqa: F401 # pylint: disable=unused-import

pytestmark = pytest.mark.skipif(not os.path.exists("/usr/sbin/apache2"), reason="needs Apache httpd")

HAND = """# Hand-written: the TLS policy for every proxied backend of this server, and our vhost
SSLProxyVerify require
SSLProxyCACertificateFile {ca}
<VirtualHost 127.0.0.1:{port}>
    ServerName hand.rhel.test
    ProxyPass / http://127.0.0.1:{plain}/
</VirtualHost>
"""
OTHER = """# Another team's hand-written vhost: relies on the server-wide verification
<VirtualHost 127.0.0.1:{port}>
    ServerName other.rhel.test
    SSLProxyEngine on
    ProxyPass / https://localhost:{tls}/
</VirtualHost>
"""


def _other(port):
    return get(port, "other.rhel.test")


def _impostor_refused(port):
    """other.rhel.test's request fails in the handshake (AH02039; this httpd answers 500) instead of reaching the
    impostor."""
    status, body = _other(port)
    return status >= 500 and "impostor" not in body


def test_replacing_a_file_with_server_wide_tls_settings_is_refused(rhel_tree, tmp_path):  # noqa: F811 # pylint: disable=redefined-outer-name
    layout, root, port = rhel_tree["layout"], rhel_tree["root"], rhel_tree["http_port"]
    ca_file = os.path.join(root, "trusted-ca.pem")
    with open(ca_file, "w") as handle:
        handle.write(rhel_tree["ca_pem"])
    impostor = PKI(str(tmp_path / "impostor")).leaf("impostor", dns=["localhost"], self_signed=True)
    bad = TLSBackend(impostor.cert_path, impostor.key_path, body=b"impostor answers")
    plain = PlainHTTPBackend(body=b"hand-written answers")
    managed = PlainHTTPBackend(body=b"managed site answers")
    hand = os.path.join(root, "conf.d", "hand.conf")
    with open(hand, "w") as handle:
        handle.write(HAND.format(ca=ca_file, port=port, plain=plain.port))
    with open(os.path.join(root, "conf.d", "a-other.conf"), "w") as handle:  # the default server of the port
        handle.write(OTHER.format(port=port, tls=bad.port))
    site = {"name": "hand-managed", "server_name": "hand.rhel.test", "listen": {"port": port, "address": "127.0.0.1"},
            "locations": [{"path": "/", "backend": "http://127.0.0.1:%d/" % managed.port}],
            "replaces": {"file": hand}}
    httpd = Httpd(layout)
    httpd.start()
    try:
        assert _impostor_refused(port), httpd._log()[-2000:]  # verification on (server-wide)
        before = config_tree(root)
        try:
            sites = _rhel_validate(layout, [site])
        except ConfigError as exc:
            assert "line 2, outside its <VirtualHost> sections" in str(exc) and "SSLProxyVerify" in str(exc), exc
        else:  # the finding, live: adopting the file switches verification off for other.rhel.test
            begin_transaction(layout, apply(plan(desired_state(sites, layout, "warn"), layout)))
            httpd.reload()
            got = _other(port)
            rollback(layout)
            httpd.reload()
            pytest.fail("hand.conf adopted: other.rhel.test now answers %s %r from an untrusted backend" % got)
        assert config_tree(root) == before and _impostor_refused(port)
        # A file with only its vhost (the policy moved to its own file) is adopted, and the other vhost keeps it.
        with open(os.path.join(root, "conf.d", "policy.conf"), "w") as handle:
            handle.write("SSLProxyVerify require\nSSLProxyCACertificateFile %s\n" % ca_file)
        with open(hand, "w") as handle:
            handle.write("\n".join(HAND.format(ca=ca_file, port=port, plain=plain.port).splitlines()[3:]) + "\n")
        httpd.reload()
        sites = _rhel_validate(layout, [site])
        begin_transaction(layout, apply(plan(desired_state(sites, layout, "warn"), layout)))
        httpd.reload()
        assert get(port, "hand.rhel.test")[1].startswith("managed site answers")
        assert _impostor_refused(port)
        rollback(layout)
    finally:
        httpd.stop()
        for server in (bad, plain, managed):
            server.stop()


# Finding 3 (adopt): the hand-written vhost that is the default server of its address:port answers every request
# whose Host no vhost names (an IP address, an HTTP/1.0 client). check_live compared only address, port and names:
# adopting it by a site named so that its file sorts after another team's vhost made that vhost the default, and the
# requests the adopted site answered (Host: 127.0.0.1) went to the other team's backend. Fix: apache/_adopt refuses
# to disable a default server while another vhost that stays shares its address:port (the dump's "default server").
def test_replacing_the_default_server_of_a_shared_port_is_refused(rhel_tree):  # noqa: F811 # pylint: disable=redefined-outer-name
    layout, root, port = rhel_tree["layout"], rhel_tree["root"], rhel_tree["http_port"]
    hand_backend = PlainHTTPBackend(body=b"hand-written answers")
    other_backend = PlainHTTPBackend(body=b"other team answers")
    managed = PlainHTTPBackend(body=b"managed site answers")
    hand = os.path.join(root, "conf.d", "hand.conf")
    for fname, host, backend in (("hand.conf", "hand.rhel.test", hand_backend),
                                 ("other.conf", "other.rhel.test", other_backend)):
        with open(os.path.join(root, "conf.d", fname), "w") as handle:
            handle.write("<VirtualHost 127.0.0.1:%d>\n    ServerName %s\n    ProxyPass / http://127.0.0.1:%d/\n"
                         "</VirtualHost>\n" % (port, host, backend.port))
    site = {"name": "z-hand", "server_name": "hand.rhel.test", "listen": {"port": port, "address": "127.0.0.1"},
            "locations": [{"path": "/", "backend": "http://127.0.0.1:%d/" % managed.port}],
            "replaces": {"file": hand}}
    httpd = Httpd(layout)
    httpd.start()
    try:
        assert get(port, "127.0.0.1")[1].startswith("hand-written answers")  # the default server's requests
        before = config_tree(root)
        try:
            sites = _rhel_validate(layout, [site])
        except ConfigError as exc:
            assert "holds the default server of 127.0.0.1:%d (line 1)" % port in str(exc), exc
            assert "other.rhel.test" in str(exc), exc
        else:
            begin_transaction(layout, apply(plan(desired_state(sites, layout, "warn"), layout)))
            httpd.reload()
            got = get(port, "127.0.0.1")
            rollback(layout)
            httpd.reload()
            pytest.fail("hand.conf adopted: a request for 127.0.0.1 now reaches %r" % (got,))
        assert config_tree(root) == before
        assert get(port, "127.0.0.1")[1].startswith("hand-written answers")
    finally:
        httpd.stop()
        for server in (hand_backend, other_backend, managed):
            server.stop()


def _trees(tmp_path):
    """A scratch Debian tree and a scratch RHEL tree with the files the table names."""
    deb = Layout.debian(config_root=str(tmp_path / "apache2"), tls_dir=str(tmp_path / "tls"))
    rhel = Layout.redhat(config_root=str(tmp_path / "httpd"), tls_dir=str(tmp_path / "tls"))
    for d in ("sites-available", "sites-enabled", "conf-available", "mods-available"):
        os.makedirs(str(tmp_path / "apache2" / d))
    for d in ("conf", "conf.d"):
        os.makedirs(str(tmp_path / "httpd" / d))
    vhost = "<VirtualHost *:80>\n    ServerName a.test\n</VirtualHost>\n"
    files = {
        "apache2/apache2.conf": "ServerRoot /etc/apache2\n",
        "apache2/ports.conf": "Listen 80\n",
        "apache2/sites-available/a.conf": vhost,
        "apache2/sites-available/listen.conf": vhost + "Listen 8080\n",
        "apache2/sites-available/split-listen.conf": vhost + "Listen \\\n    8081\n",
        "apache2/sites-available/policy.conf": "SSLProxyVerify require\n" + vhost,
        "apache2/sites-available/ifmod-policy.conf": "<IfModule ssl_module>\nSSLProxyCheckPeerName on\n</IfModule>\n"
                                                     + vhost,
        "apache2/sites-available/access.conf": vhost + "<Directory /srv/private>\n    Require all denied\n"
                                               "</Directory>\n",
        "apache2/sites-available/wrapped.conf": "# Debian's default-ssl.conf shape\n<IfModule mod_ssl.c>\n"
                                                + vhost.replace("80", "443") + "</IfModule>\n",
        "apache2/sites-available/managed.conf": MANAGED_MARKER + "\n" + vhost,
        "apache2/sites-available/bin.conf": "\xff\xfe",
        "apache2/conf-available/security.conf": vhost,
        "httpd/conf/httpd.conf": "Listen 80\n",
        "httpd/conf.d/ssl.conf": "Listen 443 https\n" + vhost.replace("80", "443"),
        "httpd/conf.d/welcome.conf": "<LocationMatch \"^/+$\">\n    Options -Indexes\n</LocationMatch>\n",
        "httpd/conf.d/hand.conf": vhost,
        "httpd/conf.d/taken.conf.disabled": vhost,
        "httpd/conf.d/taken.conf": vhost,
    }
    for rel, text in files.items():
        with open(str(tmp_path / rel), "w", encoding="latin-1" if rel.endswith("bin.conf") else "utf-8") as handle:
            handle.write(text)
    os.symlink("/etc/shadow", str(tmp_path / "apache2/sites-available/shadow.conf"))
    os.symlink("../ports.conf", str(tmp_path / "apache2/sites-available/ports-link.conf"))
    os.symlink("../sites-available/a.conf", str(tmp_path / "apache2/sites-enabled/a.conf"))
    os.symlink("../sites-available/a.conf", str(tmp_path / "apache2/sites-available/alias.conf"))
    os.mkfifo(str(tmp_path / "apache2/sites-available/fifo.conf"))
    os.mkdir(str(tmp_path / "apache2/sites-available/dir.conf"))
    return deb, rhel


# (layout, path relative to tmp_path, what the refusal says). Every attack tried on replaces.file.
REFUSED = [
    ("deb", "apache2/apache2.conf", "is not a file directly in"),
    ("deb", "apache2/ports.conf", "is not a file directly in"),
    ("deb", "apache2/conf-available/security.conf", "is not a file directly in"),
    ("deb", "apache2/sites-available/../ports.conf", "is not a file directly in"),
    ("deb", "apache2/sites-available/shadow.conf", "symbolic link out of the site directories"),
    ("deb", "apache2/sites-available/ports-link.conf", "symbolic link out of the site directories"),
    ("deb", "apache2/sites-available/alias.conf", "is a symbolic link; name the file it points to"),
    ("deb", "apache2/sites-available/fifo.conf", "is a FIFO|is a named pipe|fifo"),
    ("deb", "apache2/sites-available/dir.conf", "directory"),
    ("deb", "apache2/sites-available/missing.conf", "does not exist"),
    ("deb", "apache2/sites-available/managed.conf", "is a file revproxy.tls manages"),
    ("deb", "apache2/sites-available/bin.conf", "is not UTF-8 text"),
    ("deb", "apache2/sites-available/listen.conf", "holds a Listen directive"),
    ("deb", "apache2/sites-available/split-listen.conf", r"holds Listen at line 4, outside"),
    ("deb", "apache2/sites-available/policy.conf", r"holds SSLProxyVerify at line 1, outside"),
    ("deb", "apache2/sites-available/ifmod-policy.conf", r"holds SSLProxyCheckPeerName at line 2, outside"),
    ("deb", "apache2/sites-available/access.conf", r"holds <Directory at line 4, outside"),
    ("deb", "apache2/sites-available/a.txt", r"is not a \*.conf file"),
    ("deb", "apache2/sites-available/.hidden.conf", r"is not a \*.conf file"),
    ("rhel", "httpd/conf/httpd.conf", "is not a file directly in"),
    ("rhel", "httpd/conf.d/ssl.conf", "holds a Listen directive"),
    ("rhel", "httpd/conf.d/welcome.conf", r"holds <LocationMatch at line 1, outside"),
    ("rhel", "httpd/conf.d/taken.conf", r"taken.conf.disabled already exists"),
]


@pytest.mark.parametrize("family,rel,message", REFUSED, ids=[r[1] for r in REFUSED])
def test_replaces_refusals(tmp_path, family, rel, message):
    deb, rhel = _trees(tmp_path)
    layout = deb if family == "deb" else rhel
    path = str(tmp_path) + "/" + rel
    with pytest.raises(ConfigError, match=message):
        _adopt.inspect({"name": "mine", "replaces": {"file": path}}, layout)


def test_a_file_with_only_its_vhosts_is_accepted(tmp_path):
    """The rule refuses what lies outside the vhosts, not the conditional sections around them."""
    deb, rhel = _trees(tmp_path)
    for layout, rel in ((deb, "apache2/sites-available/wrapped.conf"), (rhel, "httpd/conf.d/hand.conf")):
        path = str(tmp_path / rel)
        assert _adopt.inspect({"name": "mine", "replaces": {"file": path}}, layout)["file"] == path


def test_a_file_holding_a_foreign_vhost_or_name_is_refused(tmp_path):
    """check_live: every vhost of the file must be one of the site's (address, port and names)."""
    deb, _rhel = _trees(tmp_path)
    path = str(tmp_path / "apache2/sites-available/a.conf")
    site = normalize_sites([{"name": "mine", "server_name": "a.test", "listen": {"port": 80},
                             "locations": [{"path": "/", "backend": "http://127.0.0.1:9/"}],
                             "replaces": {"file": path}}], tls_dir=str(tmp_path / "tls"))[0]
    mine = {"file": path, "line": 1, "address": "*", "port": 80, "names": ["a.test"]}
    foreign = dict(mine, line=4, names=["b.test"])
    with pytest.raises(ConfigError, match="and the site disagree"):
        _adopt.check_live([site], [mine, foreign], deb)
    with pytest.raises(ConfigError, match="and the site disagree"):
        _adopt.check_live([site], [dict(mine, port=443)], deb)
    with pytest.raises(ConfigError, match="and the site disagree"):
        _adopt.check_live([site], [dict(mine, address="10.0.0.1")], deb)
    with pytest.raises(ConfigError, match="could not be read"):
        _adopt.check_live([site], None, deb)
    with pytest.raises(ConfigError, match="holds no virtual host"):
        _adopt.check_live([site], [], deb)


# Finding 2 (metrics): revproxy_metrics_dir is a survey question and any existing, non-system directory was taken.
# A web server's document root is one: the check wrote revproxy_tls_backend_handshake.prom there and Apache served
# every site's backend URL, path and failure reason to anyone. Fix: the check and audit playbooks accept only a
# directory the operator lists in revproxy_metrics_dirs (default: node_exporter's textfile directories), compared as
# given (a '..' or a symbolic link never widens it); the modules keep their own checks for operators' playbooks.


@pytest.fixture()
def docroot_apache():
    """A private Apache whose document root its user can read (outside pytest's 0700 tmp_path)."""
    import shutil
    import tempfile
    from support.apache import PrivateApache
    base = tempfile.mkdtemp(prefix="review24-www-")
    os.chmod(base, 0o755)
    server = PrivateApache(os.path.join(base, "www"))
    try:
        for sub in ("", "htdocs"):
            os.chmod(os.path.join(server.workdir, sub), 0o755)
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


def _metrics_job(tmp_path, survey, operator=None):
    from awx_runner import local_inventory, run_job, write_group_vars
    pdd = str(tmp_path / "pdd")
    os.makedirs(os.path.join(pdd, "inventory"), exist_ok=True)
    sites = [{"name": "internal", "server_name": "internal.test",
              "locations": [{"path": "/billing", "backend": "https://billing-db.internal.invalid:8443/billing"}],
              "backend_tls": {"ca_file": PKI(str(tmp_path / "pki")).ca("Review 24 Root CA").cert_path}}]
    write_group_vars(pdd, "revproxy_proxies", dict(operator or {}, apache_proxy_sites=sites))
    return run_job(pdd, "check", local_inventory(), dict(survey, revproxy_fail_on="never"), job_type="check")


def test_a_survey_cannot_publish_the_metrics_in_a_document_root(tmp_path, docroot_apache):
    import urllib.error
    import urllib.request
    htdocs = os.path.join(docroot_apache.workdir, "htdocs")
    allowed = tmp_path / "textfile"
    allowed.mkdir()
    for answer in (htdocs, str(allowed) + "/.." + htdocs):
        job = _metrics_job(tmp_path, {"revproxy_metrics_dir": answer}, {"revproxy_metrics_dirs": [str(allowed)]})
        url = "http://127.0.0.1:%d/revproxy_tls_backend_handshake.prom" % docroot_apache.port
        try:
            with urllib.request.urlopen(url, timeout=10) as resp:  # nosec: a private Apache on loopback
                pytest.fail("the document root serves the metrics (%s): %r" % (answer, resp.read()[:300]))
        except urllib.error.HTTPError as exc:
            assert exc.code == 404
        assert job.status == "failed", job.stdout[-3000:]
        assert "is not one of the directories the operator allows for metrics" in job.stdout, job.stdout[-4000:]
        assert os.listdir(htdocs) == [] and os.listdir(str(allowed)) == []
    job = _metrics_job(tmp_path, {"revproxy_metrics_dir": str(allowed) + "/"},
                       {"revproxy_metrics_dirs": [str(allowed)]})
    assert job.status == "successful", job.stdout[-3000:]
    assert sorted(os.listdir(str(allowed))) == ["revproxy_tls_backend_handshake.prom",
                                                "revproxy_tls_frontend_certificate.prom"]


# The metrics writer's own refusals (what a module's metrics_dir takes), and a symbolic link planted at the file's
# path: replaced, never followed.
def _metrics_refusals(tmp_path):
    os.symlink("/etc", str(tmp_path / "to-etc"))
    (tmp_path / "plain-file").write_text("x")
    return [("relative/dir", "is not an absolute path"), (str(tmp_path / "missing"), "cannot be used"),
            (str(tmp_path / "plain-file"), "is not a directory"), ("/etc/cron.d", "is a system directory"),
            (str(tmp_path / "to-etc"), "is a system directory"), ("/proc/self/root/etc", "is a system directory"),
            ("/", "is a system directory"), ("/var/spool/cron", "system directory"), ("a\x00b", "not a directory path")]


def test_metrics_dir_refusals_write_nothing(tmp_path):
    from ansible_collections.revproxy.tls.plugins.module_utils import _metrics
    for value, message in _metrics_refusals(tmp_path):
        if value.startswith("/var/spool/cron") and not os.path.isdir(value):
            continue
        with pytest.raises(_metrics.MetricsError, match=message):
            _metrics.write(value, "audit", backends=[{"site": "s", "ok": True}], now=1)
    assert not os.path.exists("/etc/revproxy_tls_audit.prom")


def test_metrics_symlink_at_the_file_is_replaced_and_labels_stay_one_value(tmp_path):
    from prometheus_client.parser import text_string_to_metric_families
    from ansible_collections.revproxy.tls.plugins.module_utils import _metrics
    victim = tmp_path / "victim"
    victim.write_text("untouched\n")
    textfile = tmp_path / "textfile"
    textfile.mkdir()
    os.symlink(str(victim), str(textfile / "revproxy_tls_audit.prom"))
    hostile = 'x"} 1\nrevproxy_tls_backend_handshake_ok{site="forged"} 1\n# \\'
    rows = [{"site": hostile, "url": hostile, "ok": False, "reason": hostile}]
    path = _metrics.write(str(textfile), "audit", backends=rows, now=1)
    assert victim.read_text() == "untouched\n" and not os.path.islink(path)
    samples = [s for f in text_string_to_metric_families(open(path).read()) for s in f.samples
               if s.name == "revproxy_tls_backend_handshake_ok"]
    assert len(samples) == 1 and samples[0].labels["site"] == hostile and samples[0].labels["reason"] == hostile


# The audit's report with a hostile hand-written vhost (aliases with HTML and a Markdown link) and a backend whose
# certificate subject is markup: every value is shown as text (HTML escaped; Markdown escaped, the proposal fenced).
EVIL_CN = "<script>alert(1)</script>[x](javascript:alert(1))|`c`"


def test_audit_report_shows_hostile_names_and_subjects_as_text(tmp_path):
    import subprocess
    from support.apache import PrivateApache, HTTPD
    from ansible_collections.revproxy.tls.plugins.module_utils.apache import _audit_run
    from ansible_collections.revproxy.tls.plugins.module_utils.apache._layout import RedHatLayout
    from ansible_collections.revproxy.tls.plugins.plugin_utils._audit_report import render

    def run(argv):
        res = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        return res.returncode, res.stdout, res.stderr

    pki = PKI(str(tmp_path / "pki"))
    leaf = pki.leaf("evil", dns=["localhost"], issuer=pki.ca(EVIL_CN), cn=EVIL_CN)
    backend = TLSBackend(leaf.chain_path, leaf.key_path)
    workdir = tmp_path / "apache"
    apache = PrivateApache(str(workdir), extra_global="IncludeOptional sites/*.conf\n")
    (workdir / "sites").mkdir()
    (workdir / "sites" / "x.conf").write_text(
        '<VirtualHost 127.0.0.1:%d>\nServerName evil.test\nServerAlias "<img src=x onerror=alert(1)>" '
        '"[a](http://e.vil)"\nSSLProxyEngine on\nSSLProxyVerify none\nProxyPass /b https://localhost:%d/b\n'
        '</VirtualHost>\n' % (apache.port, backend.port))
    apache.start()
    try:
        layout = RedHatLayout(config_root=str(workdir), main_config="httpd.conf", binary=HTTPD,
                              tls_dir=str(workdir / "tls"))
        res = _audit_run.audit({"timeout": 5, "concurrency": 4, "use_httpd": True, "include_managed": False},
                               layout, run)
    finally:
        apache.stop()
        backend.stop()
    assert len(res["backends"]) == 1 and "(javascript:alert(1))" in str(res["backends"])  # the subject reached it
    page = render({"proxy1": res}, "html", "t", None)
    for raw in ("<script", "<img", " onerror="):
        assert raw not in page.replace("&lt;img src=x onerror", ""), raw
    markdown = render({"proxy1": res}, "markdown", "t", None)
    fenced = markdown.split("```json", 1)[1].split("```", 1)[0]  # the proposal, a code block
    outside = markdown.replace(fenced, "")
    import re
    for line in outside.splitlines():  # markup characters of a value come escaped (a backslash before each)
        if "alert" in line or "e.vil" in line:
            assert not re.search(r"(?<!\\)(\\\\)*[<\[`]", line.replace("`https://", "").replace("/b`", "")), line
    assert "invalid" in json.dumps(res["vhosts"][0]["proposal"]) or not res["vhosts"][0]["proposal"].get("valid")
