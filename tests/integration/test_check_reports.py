"""Where revproxy.tls.check's report lands when it runs as an AWX job (ansible-runner, a private data directory).

AWX removes the execution environment's files after the job, so the Markdown report must also reach the job's
artifacts (set_stats). The installed-collection case (report in the caller's directory) is tests/package. The report
shows the sites' frontend certificates (real files, checked by frontend_certificate) next to the backends.
"""
import datetime
import html
import os
import re

import pytest

from support import backends, pki

from awx_runner import local_inventory, run_job, write_group_vars

from ansible_collections.revproxy.tls.plugins.plugin_utils._report import md_escape


@pytest.fixture(scope="module")
def backend(tmp_path_factory):
    f = pki.PKI(tmp_path_factory.mktemp("pki"))
    root = f.ca("Report Test Root CA")
    leaf = f.leaf("report", dns=["localhost"], issuer=root)
    server = backends.TLSBackend(leaf.chain_path, leaf.key_path)
    try:
        yield {"port": server.port, "ca": root.cert_path}
    finally:
        server.stop()


def _ungenerated(markdown):
    return re.sub(r"\(generated [^)]*\)", "", markdown)


def _pdd(tmp_path, sites, **group_vars):
    pdd = str(tmp_path / "pdd")
    os.makedirs(os.path.join(pdd, "inventory"), exist_ok=True)
    write_group_vars(pdd, "revproxy_proxies", dict(group_vars, apache_proxy_sites=sites))
    return pdd


def _site(name, port, ca):
    return {"name": name, "server_name": "%s.test" % name[:40],
            "locations": [{"path": "/", "backend": "https://localhost:%d/" % port}], "backend_tls": {"ca_file": ca}}


def test_markdown_report_reaches_the_job_artifacts(backend, tmp_path):
    job = run_job(_pdd(tmp_path, [_site("app", backend["port"], backend["ca"])]), "check", local_inventory(),
                  job_type="check")
    assert job.status == "successful", job
    stats = job.artifact_data["revproxy_check"]
    with open(os.path.join(job.artifact_dir, "revproxy-tls-report", "backend-report.md"), encoding="utf-8") as handle:
        on_disk = handle.read()
    # The same report (its "generated" minute may have turned between the two renderings).
    assert _ungenerated(stats["report_markdown"]) == _ungenerated(on_disk)
    assert "| localhost | app / | `https://localhost:%d/` | **OK** |" % backend["port"] in stats["report_markdown"]


def test_large_markdown_report_is_cut_in_the_artifacts_not_on_disk(backend, tmp_path):
    """AWX stores artifacts in its database: above 64 KiB the artifact is cut at a line and says where the rest is."""
    sites = [_site("site-%03d-%s" % (i, "x" * 80), backend["port"], backend["ca"]) for i in range(500)]
    job = run_job(_pdd(tmp_path, sites), "check", local_inventory(), {"revproxy_concurrency": "16"}, job_type="check")
    assert job.status == "successful", job
    md = job.artifact_data["revproxy_check"]["report_markdown"]
    path = os.path.join(job.artifact_dir, "revproxy-tls-report", "backend-report.md")
    with open(path, encoding="utf-8") as handle:
        on_disk = handle.read()
    assert len(on_disk) > 65536 and on_disk.count("**OK**") == 500
    assert len(md) < 65536 + 300
    body, note = md.rsplit("\n\n", 1)
    assert _ungenerated(on_disk).startswith(_ungenerated(body) + "\n")
    assert note.rstrip("\n") == "... cut at 65536 characters; the full report is %s" % path


def _iso(when):
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_report_shows_frontend_expiry_next_to_the_backends(backend, tmp_path):
    """Three TLS sites with real frontend certificates from one private root: valid for a year (OK), for 10.5 more
    days (EXPIRING within the 30-day window) and expired 2.5 days ago (FAIL). The HTML and Markdown report (on disk
    and in the job's artifacts) show each one's file, expiry and days left; the counts include them, labelled
    frontend, and the default fail_on=failure fails the job for the expired one."""
    f = pki.PKI(tmp_path / "front-pki")
    root = f.ca("Frontend Report Root CA")
    day = datetime.timedelta(days=1)
    certs = {
        "shop": f.leaf("shop", dns=["shop.test"], issuer=root),
        "blog": f.leaf("blog", dns=["blog.test"], issuer=root, not_after=10.5 * day),
        "old": f.leaf("old", dns=["old.test"], issuer=root, not_before=-30 * day, not_after=-2.5 * day),
    }
    sites = []
    for name, cert in certs.items():
        site = _site(name, backend["port"], backend["ca"])
        site["tls"] = {"certificate_file": cert.chain_path, "key_file": cert.key_path}
        sites.append(site)
    job = run_job(_pdd(tmp_path, sites, apache_proxy_frontend_trust_file=root.cert_path), "check", local_inventory(),
                  job_type="check")
    assert job.status == "failed", job  # the expired frontend certificate, with fail_on=failure
    failed = job.failures()
    assert len(failed) == 1 and failed[0]["assertion"].startswith("__revproxy_fail_on == 'never'"), failed
    stats = job.artifact_data["revproxy_check"]
    assert stats["frontend"] == {"total": 3, "ok": 1, "failed": 1, "expiring": 1}, stats
    assert (stats["total"], stats["ok"], stats["failed"], stats["expiring"]) == (6, 4, 1, 1), stats
    assert stats["reasons"] == {"frontend expired": 1}
    assert stats["msg"].startswith("FAIL frontend [localhost] old %s: expired. Fix: Renew the certificate"
                                   % certs["old"].chain_path), stats["msg"]
    summary = job.task_results("Summarise this proxy")[0]["msg"]
    assert "old: 1 ok, 0 failed, 0 expiring; frontend certificate FAIL (expired)" in summary
    assert "blog: 1 ok, 0 failed, 0 expiring; frontend certificate EXPIRING (10 days left)" in summary

    want = {"shop": ("OK", "ok", 364), "blog": ("EXPIRING", "expiring", 10), "old": ("FAIL", "expired", -3)}
    with open(stats["report"], encoding="utf-8") as handle:
        page = handle.read()
    assert '<b>1</b>failed<small>0 backend, 1 frontend</small>' in page
    assert '<b>1</b>expiring &lt; 30 days<small>0 backend, 1 frontend</small>' in page
    table = page[page.index("<h2>Frontend certificates</h2>"):]
    for name, (verdict, reason, days) in want.items():
        cert = certs[name]
        row = next(line for line in table.splitlines() if html.escape(cert.chain_path) in line)
        assert '<span class="badge %s">%s</span>' % (verdict, verdict) in row, row
        assert "<code>%s</code>" % reason in row, row
        assert '<td class="num">%s</td><td class="num">%d</td>' % (_iso(cert.not_after), days) in row, row
    assert table.index(certs["old"].chain_path) < table.index(certs["blog"].chain_path) < table.index(
        certs["shop"].chain_path)

    path = os.path.join(job.artifact_dir, "revproxy-tls-report", "backend-report.md")
    with open(path, encoding="utf-8") as handle:
        markdown = handle.read()
    assert _ungenerated(stats["report_markdown"]) == _ungenerated(markdown)
    assert "| localhost | shop / | `https://localhost:%d/` | **OK** |" % backend["port"] in markdown
    lines = markdown.splitlines()
    assert lines.index("## Backends") < lines.index("## Frontend certificates")
    front_rows = lines[lines.index("## Frontend certificates") + 4:]
    for name, (verdict, reason, days) in want.items():
        cert = certs[name]
        start = "| localhost | %s | %s | **%s** | %s | %s | %d | " % (
            name, md_escape(cert.chain_path), verdict, reason, md_escape(_iso(cert.not_after)), days)
        assert any(line.startswith(start) for line in front_rows), (start, front_rows)
    blog = next(line for line in front_rows if "| blog |" in line)
    assert blog.endswith("| Renew the frontend certificate %s: it expires on %s \\(10 days left\\). |" % (
        md_escape(certs["blog"].chain_path), md_escape(_iso(certs["blog"].not_after))))
