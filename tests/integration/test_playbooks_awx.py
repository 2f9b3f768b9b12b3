"""The playbooks run as AWX jobs: ansible-runner, a private data directory, survey answers as string extravars, an
inventory with group_vars, the Check job type; assertions on the runner's events and artifacts.

Backends are real TLS servers on 127.0.0.1 (tests/support). The site/diagnose test converges the system Apache and
therefore holds the `system_apache` fixture.
"""
import datetime
import json
import os
import shutil
import subprocess
import tempfile
import time

import pytest

from support import backends, pki

from awx_runner import ROOT, local_inventory, run_job, write_group_vars

DAY = datetime.timedelta(days=1)
AWX_MAX_EVENT_RES_DATA = 700000
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("awx")
    f = pki.PKI(tmp / "pki")
    root = f.ca("AWX Test Root CA")
    inter = f.ca("AWX Test Intermediate CA", issuer=root)
    certs = {
        "good": f.leaf("good", dns=["localhost"], issuer=inter),
        "soon": f.leaf("soon", dns=["localhost"], issuer=inter, not_after=10 * DAY),
        "wrong": f.leaf("wrong", dns=["other.test"], issuer=inter),
    }
    servers = dict((name, backends.TLSBackend(c.chain_path, c.key_path)) for name, c in certs.items())
    try:
        yield {"tmp": tmp, "root": root, "inter": inter, "pki": f, "servers": servers}
    finally:
        for server in servers.values():
            server.stop()


def _sites(world, port=None):
    sites = []
    for name in ("good", "soon", "wrong"):
        site = {
            "name": name,
            "server_name": "%s.proxy.test" % name,
            "locations": [{"path": "/", "backend": "https://localhost:%d/" % world["servers"][name].port}],
            "backend_tls": {"ca_file": world["root"].cert_path},
        }
        if port:
            site["listen"] = {"port": port, "address": "127.0.0.1"}
        sites.append(site)
    sites.append({"name": "down", "server_name": "down.proxy.test",
                  "locations": [{"path": "/", "backend": "https://localhost:1/"}],
                  "backend_tls": {"ca_file": world["root"].cert_path}})
    if port:
        sites[-1]["listen"] = {"port": port, "address": "127.0.0.1"}
    return sites


def _pdd(world, name, sites):
    pdd = str(world["tmp"] / name)
    os.makedirs(os.path.join(pdd, "inventory"), exist_ok=True)
    write_group_vars(pdd, "revproxy_proxies", {"apache_proxy_sites": sites})
    return pdd


def test_check_job_of_type_check(world):
    """A scheduled/Check job: survey answers as strings, --check; report artifacts, set_stats, compact events."""
    pdd = _pdd(world, "check", _sites(world))
    job = run_job(pdd, "check", local_inventory(), {"revproxy_days_warn": "30", "revproxy_timeout": "3"}, job_type="check")
    assert job.status == "failed", job  # fail_on=failure (the default) with two failing backends
    with open(os.path.join(job.artifact_dir, "command")) as handle:
        assert "--check" in json.load(handle)["command"]
    stats = job.artifact_data["revproxy_check"]
    assert (stats["total"], stats["ok"], stats["failed"], stats["expiring"]) == (4, 1, 2, 1), stats
    assert stats["reasons"] == {"name_mismatch": 1, "connect_refused": 1}
    assert stats["report"] == os.path.join(job.artifact_dir, "revproxy-tls-report", "backend-report.html")
    # The summary task shows one line per site and the problems, nothing else.
    summary = job.task_results("Summarise this proxy")[0]["msg"]
    assert summary[0] == "down: 0 ok, 1 failed, 0 expiring (connect_refused)"
    assert "EXPIRING soon https://localhost:%d/: 9 days left" % world["servers"]["soon"].port in summary
    # The detailed check result never reaches the event stream (it is no_log); no PEM anywhere.
    detail = job.task_results("Check every TLS backend of the sites (results kept out of the job events; the summary follows)")
    assert detail and "backends" not in detail[0]
    assert "BEGIN CERTIFICATE" not in job.stdout and all("BEGIN CERTIFICATE" not in json.dumps(e) for e in job.events)
    failed = job.failures()
    assert len(failed) == 1 and failed[0]["assertion"].startswith("__revproxy_fail_on == 'never'")
    with open(stats["report"], encoding="utf-8") as handle:
        page = handle.read()
    assert page.index("name_mismatch") < page.index("EXPIRING</span>") < page.index("OK</span>")
    with open(stats["report"][:-4] + "md", encoding="utf-8") as handle:
        assert "| localhost | wrong / | `https://localhost:%d/` | **FAIL** | name\\_mismatch |" % (
            world["servers"]["wrong"].port) in handle.read()


def test_check_job_fail_on_never_and_own_report_dir(world):
    pdd = _pdd(world, "check-never", _sites(world))
    out = str(world["tmp"] / "reports")
    job = run_job(pdd, "check", local_inventory(), {"revproxy_fail_on": "never", "revproxy_report_dir": out,
                                                    "revproxy_report_title": "Nightly <check> & co"})
    assert job.status == "successful", job
    with open(os.path.join(out, "backend-report.html"), encoding="utf-8") as handle:
        assert "<title>Nightly &lt;check&gt; &amp; co</title>" in handle.read()


@pytest.mark.parametrize("extravars, words", [
    ({"revproxy_days_warn": "thirty"}, ["revproxy_days_warn", "int"]),
    ({"revproxy_fail_on": "sometimes"}, ["revproxy_fail_on", "never, failure, warning"]),
])
def test_survey_mistakes_fail_clearly(world, extravars, words):
    pdd = _pdd(world, "mistake-%s" % "-".join(extravars), [])
    job = run_job(pdd, "check", local_inventory(), extravars, job_type="check")
    assert job.status == "failed", job
    failure = job.failures()[0]
    assert failure["msg"].startswith("Validation of arguments failed"), failure
    assert all(w in failure["msg"] for w in words), failure["msg"]
    assert not os.path.exists(os.path.join(job.artifact_dir, "revproxy-tls-report"))


def test_check_of_500_backends_keeps_events_small(world):
    """AWX drops event results above 700 kB; 500 backends must stay far below that, in every event."""
    good = world["pki"].leaf("many", dns=["localhost"], issuer=world["inter"])
    server = backends.MultiTLSBackend(500, good.chain_path, good.key_path)
    try:
        sites = [{"name": "site%03d" % i, "server_name": "s%03d.proxy.test" % i,
                  "locations": [{"path": "/", "backend": "https://localhost:%d/" % port}],
                  "backend_tls": {"ca_file": world["root"].cert_path}} for i, port in enumerate(server.ports)]
        sites[7]["backend_tls"] = {"ca_file": world["inter"].cert_path}  # one failure (CA file without the root)
        pdd = _pdd(world, "check-500", sites)
        start = time.monotonic()
        job = run_job(pdd, "check", local_inventory(), {"revproxy_fail_on": "never", "revproxy_concurrency": "64"},
                      job_type="check")
        took = time.monotonic() - start
    finally:
        server.stop()
    assert job.status == "successful", job
    stats = job.artifact_data["revproxy_check"]
    assert (stats["total"], stats["failed"]) == (500, 1), stats
    biggest = job.max_event_res_size()
    biggest_file = max(job.event_sizes)
    print("500 backends: job %.1f s, largest event_data.res %d bytes, largest event file %d bytes, %d events"
          % (took, biggest, biggest_file, len(job.events)))
    assert biggest < AWX_MAX_EVENT_RES_DATA / 10, biggest
    assert biggest_file < AWX_MAX_EVENT_RES_DATA / 10, biggest_file
    summary = job.task_results("Summarise this proxy")[0]["msg"]
    assert summary[0] == "site007: 0 ok, 1 failed, 0 expiring (ca_file_missing_root)"
    assert summary[50] == "... and 450 more sites (see the report)"
    with open(stats["report"], encoding="utf-8") as handle:
        assert handle.read().count("<tr class=") == 500


@pytest.mark.skipif(not CHROMIUM, reason="chromium not installed (apt-get install chromium)")
def test_report_renders_in_headless_chromium(world):
    """The HTML report in a real browser: the DOM has one row per backend, failures first; a screenshot is kept."""
    pdd = _pdd(world, "check-browser", _sites(world))
    job = run_job(pdd, "check", local_inventory(), {"revproxy_fail_on": "never"}, job_type="check")
    assert job.status == "successful", job
    page = job.artifact_data["revproxy_check"]["report"]
    out_dir = os.path.join(ROOT, "tests", "output")
    os.makedirs(out_dir, exist_ok=True)
    shot = os.path.join(out_dir, "backend-report.png")
    profile = tempfile.mkdtemp(prefix="revproxy-chromium-")
    flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--user-data-dir=%s" % profile, "--window-size=1400,700"]
    try:
        dom = subprocess.run(flags + ["--dump-dom", "file://" + page], capture_output=True, text=True, timeout=60,
                             check=True).stdout
        subprocess.run(flags + ["--screenshot=%s" % shot, "file://" + page], capture_output=True, timeout=60,
                       check=True)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    rows = dom.split("<tbody>", 1)[1].split("</tbody>", 1)[0].split("<tr class=")[1:]
    assert [r.split('"')[1] for r in rows] == ["fail", "fail", "expiring", "ok"]
    assert "<script" not in dom
    with open(shot, "rb") as handle:
        png = handle.read()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20000


def test_site_then_diagnose_jobs(world, system_apache, reserved_port):
    """site (Check job, then Run), then diagnose a good and a failing site and a URL no site uses, as Check jobs."""
    port = reserved_port()  # the system Apache binds it when the job applies the sites
    sites = _sites(world, port)
    pdd = _pdd(world, "site", sites)
    # Two sites fail on purpose (that is what diagnose is for): the role's preflight would refuse to apply them and
    # its post-reload probe would roll them back.
    write_group_vars(pdd, "revproxy_proxies", {"apache_proxy_sites": sites, "apache_proxy_preflight": "off",
                                               "apache_proxy_probe": False})
    job = run_job(pdd, "site", local_inventory(), {"revproxy_prune": "true"}, job_type="check")
    assert job.status == "successful", job
    assert not os.path.exists("/etc/apache2/sites-enabled/good.conf")
    job = run_job(pdd, "site", local_inventory(), {"revproxy_prune": "true", "revproxy_check_backends": "true"})
    assert job.status == "successful", job
    assert os.path.exists("/etc/apache2/sites-enabled/good.conf"), job
    shown = job.task_results("Show the summary")[0]["msg"]
    assert "wrong: 0 ok, 1 failed, 0 expiring (name_mismatch)" in shown

    job = run_job(pdd, "diagnose", local_inventory(), {"revproxy_site": "good"}, job_type="check")
    assert job.status == "successful", job
    diag = job.task_results("Show the diagnosis")[0]["msg"]
    assert diag["handshake"][0]["reason"] == "ok"
    assert diag["through_proxy"]["status"] == 200, diag

    job = run_job(pdd, "diagnose", local_inventory(), {"revproxy_site": "wrong"}, job_type="check")
    assert job.status == "successful", job
    diag = job.task_results("Show the diagnosis")[0]["msg"]
    assert diag["handshake"][0]["reason"] == "name_mismatch"
    assert diag["through_proxy"]["status"] == diag["predicted_status"][0] == 500, diag
    explained = dict((tuple(item["ah"]), item) for item in diag["through_proxy"]["log"])
    assert explained[("AH02411",)]["reasons"] == ["name_mismatch", "preserve_host_name_mismatch", "ip_literal_name"]
    assert "does not name the ProxyPass host" in explained[("AH02411",)]["meaning"]
    assert any("AH00898" in item["ah"] for item in diag["through_proxy"]["log"])

    url = "https://localhost:%d/" % world["servers"]["wrong"].port
    job = run_job(pdd, "diagnose", local_inventory(), {"revproxy_url": url}, job_type="check")
    diag = job.task_results("Show the diagnosis")[0]["msg"]
    assert diag["handshake"][0]["site"] == "wrong" and diag["handshake"][0]["reason"] == "name_mismatch"
    job = run_job(pdd, "diagnose", local_inventory(), {"revproxy_url": "https://localhost:2/",
                                                       "revproxy_ca_file": world["root"].cert_path}, job_type="check")
    diag = job.task_results("Show the diagnosis")[0]["msg"]
    assert diag["handshake"][0]["reason"] == "connect_refused", diag
    assert diag["through_proxy"] == "not probed: no site proxies to this URL"

    job = run_job(pdd, "diagnose", local_inventory(), {"revproxy_site": "nope"}, job_type="check")
    assert job.status == "failed"
    assert "known sites: good, soon, wrong, down" in job.failures()[0]["msg"]
