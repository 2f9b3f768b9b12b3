"""Fleets: revproxy.tls.site rolls a change across several proxies in batches, as an AWX job (ansible-runner).

Three proxies are local aliases (connection local), each with its own private Debian-style Apache tree (config root,
envvars, error log, TLS directory; tests/integration/test_secrets.py private_tree, under a 0755 directory in /srv), so
the role renders, config-tests (real apache2 -t) and writes per proxy without touching /etc/apache2. No install and no
service management (a private tree has no service): the role's preflight (a real handshake with each backend) is the
gate. For the rollout jobs each proxy is also a running Apache (support.apache.TreeApache, started from its tree on a
reserved port that the site listens on): before the job and after it, each proxy is reloaded (the graceful restart the
role's service handler would do) and asked for the site: its own default page while it has no such site, the
backend's answer once the change reached it. The layout variables of a tree and the port are variables templated per
host (they must outrank the role's include_vars), the only test-only devices here.

- default serial (1): every proxy gets the change, one after the other;
- a change whose preflight fails stops at the first proxy: the others run no task and keep their configuration;
- revproxy_serial "2" (a survey answer): batches of two;
- the check job template sliced in two (AWX's job slicing: each slice job gets every second host).
"""
import json
import os
import shutil
import sys
import tempfile

import pytest
import yaml

from support import backends, pki
from support.apache import TreeApache, reserve_port

from awx_runner import ROOT, run_job, write_group_vars
from test_secrets import private_tree

PROXIES = ("proxy1", "proxy2", "proxy3")
BACKEND_BODY = b"fleet backend: the change reached this proxy"
LAYOUT = {
    "apache_proxy_install": False,
    "apache_proxy_manage_service": False,
    "apache_proxy_probe": False,
    "apache_proxy_preflight": "enforce",
    "apache_proxy_preflight_timeout": 5,
    "apache_proxy_tls_dir": "{{ fleet_tree.tls_dir }}",
    "__apache_proxy_config_root": "{{ fleet_tree.config_root }}",
    "__apache_proxy_envvars": "{{ fleet_tree.envvars }}",
    "__apache_proxy_error_log": "{{ fleet_tree.error_log }}",
}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fleet")
    f = pki.PKI(str(tmp / "pki"))
    root = f.ca("Fleet Test Root CA")
    other = f.ca("Fleet Other Root CA")
    leaf = f.leaf("fleet-backend", dns=["localhost"], issuer=root)
    server = backends.TLSBackend(leaf.chain_path, leaf.key_path, body=BACKEND_BODY)
    trees = tempfile.mkdtemp(prefix="revproxy-fleet-", dir="/srv")
    os.chmod(trees, 0o755)
    try:
        yield {"tmp": tmp, "trees": trees, "root": root, "other": other, "port": server.port}
    finally:
        server.stop()
        shutil.rmtree(trees, ignore_errors=True)


@pytest.fixture()
def live():
    """Running proxies, stopped (and their ports given back) after the test: {host: (TreeApache, reservation)}."""
    running = {}
    try:
        yield running
    finally:
        for httpd, reservation in running.values():
            httpd.stop()
            reservation.release()


def _fleet(world, name, ca, live=None):
    """A private data directory base: an inventory of three proxies with their trees, the sites in group_vars. With
    ``live`` (the fixture), each proxy's Apache runs from its tree, listening on its own reserved port (its ports.conf;
    the site's port too, so the role adds no Listen of its own)."""
    base = world["tmp"] / name
    trees = {}
    host_vars = {}
    for host in PROXIES:
        trees[host] = private_tree(os.path.join(world["trees"], name, host))
        reservation = reserve_port()
        host_vars[host] = {"fleet_tree": trees[host], "fleet_port": reservation.port}
        with open(os.path.join(trees[host]["config_root"], "ports.conf"), "w") as handle:
            handle.write("Listen 127.0.0.1:%d\n" % reservation.port)
        if live is None:
            reservation.release()
            continue
        httpd = TreeApache(trees[host]["config_root"], reservation.port, trees[host]["error_log"])
        live[host] = (httpd, reservation)
        httpd.start()
    os.makedirs(str(base / "inventory" / "host_vars"))
    for host, variables in host_vars.items():
        with open(str(base / "inventory" / "host_vars" / ("%s.json" % host)), "w") as handle:
            json.dump(variables, handle)
    sites = [{"name": "app", "server_name": "app.fleet.test",
              "listen": {"port": "{{ fleet_port }}", "address": "127.0.0.1"},
              "locations": [{"path": "/", "backend": "https://localhost:%d/" % world["port"]}],
              "backend_tls": {"ca_file": ca}}]
    write_group_vars(str(base), "revproxy_proxies", {"apache_proxy_sites": sites})
    inventory = "[revproxy_proxies]\n" + "".join(
        "%s ansible_connection=local ansible_python_interpreter=%s\n" % (host, sys.executable) for host in PROXIES)
    return str(base), inventory, trees


def _site_file(tree):
    return os.path.join(tree["config_root"], "sites-available", "app.conf")


def _serves(live, want):
    """Each proxy reloaded (gracefully, after a config test) and asked for the site: True where the backend answers
    through it (the change is live there), False where something else answers (the proxy's own default page)."""
    seen = {}
    for host, (httpd, _reservation) in sorted(live.items()):
        httpd.reload()
        status, _headers, body = httpd.request("/", host="app.fleet.test")
        seen[host] = (status, body[:80])
    got = dict((host, status == 200 and body.split(b"\n", 1)[0] == BACKEND_BODY) for host, (status, body) in seen.items())
    assert got == dict((host, want) for host in PROXIES), seen


def _host_order(job):
    """The hosts of the task events, in the order their tasks ran (one entry per event)."""
    return [e["event_data"]["host"] for e in job.events
            if e.get("event") in ("runner_on_ok", "runner_on_failed", "runner_on_skipped")]


def _first_last(order):
    return dict((h, (order.index(h), len(order) - 1 - order[::-1].index(h))) for h in set(order))


def test_change_rolls_out_one_proxy_at_a_time(world, live):
    base, inventory, trees = _fleet(world, "rollout", world["root"].cert_path, live)
    _serves(live, False)
    job = run_job(base, "site", inventory, dict(LAYOUT))
    assert job.status == "successful", job
    _serves(live, True)
    for host in PROXIES:
        assert os.path.exists(_site_file(trees[host])), host
    span = _first_last(_host_order(job))
    # serial 1: each proxy's tasks all run before the next proxy's first task.
    assert span["proxy1"][1] < span["proxy2"][0] and span["proxy2"][1] < span["proxy3"][0], span
    plays = [e for e in job.events if e.get("event") == "playbook_on_play_start"]
    assert len(plays) == 3  # one batch each


def test_a_change_refused_on_the_first_proxy_goes_no_further(world, live):
    """The CA of the change does not verify the backend: the first proxy's preflight refuses it, the play stops."""
    base, inventory, trees = _fleet(world, "refused", world["other"].cert_path, live)
    _serves(live, False)
    job = run_job(base, "site", inventory, dict(LAYOUT))
    assert job.status == "failed", job
    _serves(live, False)  # no proxy serves the refused change, reloaded or not
    failed_hosts = set(e["event_data"]["host"] for e in job.events if e.get("event") == "runner_on_failed"
                       and not e["event_data"].get("ignore_errors"))
    assert failed_hosts == {"proxy1"}, failed_hosts
    assert "preflight refused" in job.failures()[0]["msg"].lower(), job.failures()[0]
    assert set(_host_order(job)) == {"proxy1"}  # proxy2 and proxy3 ran no task at all
    for host in PROXIES:
        assert not os.path.exists(_site_file(trees[host])), host
    stats = [e for e in job.events if e.get("event") == "playbook_on_stats"][0]["event_data"]
    assert set(stats.get("failures") or {}) == {"proxy1"}
    assert not set(stats.get("ok") or {}) - {"proxy1"}


def test_batches_of_two_from_a_survey_answer(world, live):
    base, inventory, trees = _fleet(world, "batches", world["root"].cert_path, live)
    _serves(live, False)
    job = run_job(base, "site", inventory, dict(LAYOUT, revproxy_serial="2", revproxy_check_backends="false"))
    assert job.status == "successful", job
    _serves(live, True)
    span = _first_last(_host_order(job))
    assert max(span["proxy1"][1], span["proxy2"][1]) < span["proxy3"][0], span
    assert span["proxy2"][0] < span["proxy1"][1]  # proxy1 and proxy2 in the same batch
    assert len([e for e in job.events if e.get("event") == "playbook_on_play_start"]) == 2
    for host in PROXIES:
        assert os.path.exists(_site_file(trees[host])), host


def _slice(hosts, number, count):
    """The hosts AWX gives slice ``number`` (1-based) of ``count``: ordered by name, every count-th from the slice's
    offset (AWX's Inventory.get_script_data: hosts[slice_number - 1::slice_count])."""
    return sorted(hosts)[number - 1::count]


def test_check_job_template_is_sliced_into_jobs_with_their_own_reports(world):
    """job_slice_count 2 on the check template: AWX runs two jobs, each with a share of the inventory; each job's
    report and artifacts cover exactly its hosts."""
    with open(os.path.join(ROOT, "awx", "job_templates.yml")) as handle:
        templates = dict((t["argspec"], t) for t in yaml.safe_load(handle)["revproxy_awx_job_templates"])
    # one job unless the launch asks for slices (as this test does, with 2)
    assert templates["check"]["job_slice_count"] == 1 and templates["check"]["ask_job_slice_count_on_launch"] is True
    with open(os.path.join(ROOT, "awx", "configure.yml")) as handle:
        assert "job_slice_count: \"{{ item.job_slice_count" in handle.read()
    base, _tree, _inventory = _fleet(world, "sliced", world["root"].cert_path)
    seen = []
    for number in (1, 2):
        hosts = _slice(list(PROXIES), number, 2)
        inventory = "[revproxy_proxies]\n" + "".join(
            "%s ansible_connection=local ansible_python_interpreter=%s\n" % (host, sys.executable) for host in hosts)
        job = run_job(base, "check", inventory, {"revproxy_report_title": "slice %d" % number}, job_type="check")
        assert job.status == "successful", job
        stats = job.artifact_data["revproxy_check"]
        assert (stats["total"], stats["ok"]) == (len(hosts), len(hosts)), stats
        rows = [line.split("|")[1].strip() for line in stats["report_markdown"].splitlines()
                if "| **OK** |" in line]
        assert sorted(rows) == sorted(hosts), rows
        assert stats["report"].startswith(job.artifact_dir)
        seen += rows
    assert sorted(seen) == sorted(PROXIES)  # together the slices cover the fleet once
