"""Where revproxy.tls.check's report lands when it runs as an AWX job (ansible-runner, a private data directory).

AWX removes the execution environment's files after the job, so the Markdown report must also reach the job's
artifacts (set_stats). The installed-collection case (report in the caller's directory) is tests/package.
"""
import os
import re

import pytest

from support import backends, pki

from awx_runner import local_inventory, run_job, write_group_vars


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


def _pdd(tmp_path, sites):
    pdd = str(tmp_path / "pdd")
    os.makedirs(os.path.join(pdd, "inventory"), exist_ok=True)
    write_group_vars(pdd, "revproxy_proxies", {"apache_proxy_sites": sites})
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
    assert "| localhost | app / | https://localhost:%d/ | **OK** |" % backend["port"] in stats["report_markdown"]


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
