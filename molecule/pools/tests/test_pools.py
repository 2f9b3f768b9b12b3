"""pools: a pool of three HTTPS member containers and per-location backend TLS in one vhost, end to end (issue 12).

Commands in the containers go through testinfra's docker backend (docker exec: fast); the role, the drain playbook
and backend_handshake run through ansible-playbook / the ansible backend, as a user would run them.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import pytest
import testinfra

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "resources"))
import testlib  # noqa: E402  pylint: disable=wrong-import-position

HOST = "pools.example.test"
MEMBERS = {"pool%d" % n: "https://pool%d.backend.test:8443/" % n for n in (1, 2, 3)}
MANAGER = "http://127.0.0.1/revproxy-balancer-manager"
SITE_CONF = "/etc/apache2/sites-available/pools.conf"
CURL = "curl -sS --max-time 20 -H 'Host: %s' " % HOST


def _docker(*args, check=True):
    return subprocess.run(["docker"] + list(args), check=check, capture_output=True, text=True, timeout=120)


def _ansible_playbook(*args):
    exe = shutil.which("ansible-playbook") or os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    cmd = [exe, "-i", os.environ["MOLECULE_INVENTORY_FILE"]] + list(args)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)


def _recap(stdout, host="pools-proxy"):
    match = re.search(r"^%s\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)" % host, stdout, re.M)
    assert match, stdout[-3000:]
    return dict(zip(("ok", "changed", "unreachable", "failed"), map(int, match.groups())))


@pytest.fixture(scope="module")
def proxy():
    return testinfra.get_host("docker://pools-proxy")


@pytest.fixture(scope="module")
def role_vars():
    return testlib.host("pools-proxy").ansible.get_variables()


def _bodies(proxy, path="/app/", count=9):
    """``count`` requests through the proxy: [(status, first body line)]."""
    out = proxy.check_output(
        "for i in $(seq %d); do %s -o /tmp/.b -w '%%{http_code} ' http://127.0.0.1%s; head -n1 /tmp/.b; echo; done"
        % (count, CURL, path))
    return [(int(line.split(" ", 1)[0]), line.split(" ", 1)[1].strip()) for line in out.splitlines() if line.strip()]


def _member_status(proxy, name):
    """The status words the balancer-manager shows for member ``name`` of balancer://app."""
    page = proxy.check_output(CURL + MANAGER)
    url = MEMBERS[name].rstrip("/")
    row = re.search(r'\?b=app&amp;w=%s&amp;[^>]*>[^<]*</a></td>((?:\s*<td>[^<]*</td>){10})' % re.escape(url), page)
    assert row, page[-3000:]
    return re.findall(r"<td>([^<]*)</td>", row.group(1))[4].split()


def _wait_for(predicate, timeout=30.0, step=0.5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


def test_config_and_modules(proxy):
    assert proxy.run("apache2ctl -t").rc == 0
    for mod in ("proxy_balancer", "slotmem_shm", "lbmethod_byrequests", "proxy_hcheck"):
        assert proxy.file("/etc/apache2/mods-enabled/%s.load" % mod).exists, mod
    text = proxy.file(SITE_CONF).content_string
    assert text.count("<VirtualHost") == 1
    lines = [line.strip() for line in text.splitlines()]
    assert '<Proxy "balancer://app">' in lines
    for url in MEMBERS.values():
        assert any(line.startswith('BalancerMember "%s"' % url.rstrip("/")) and "hcuri=/health" in line
                   for line in lines), (url, text)
    # Each per-location backend has its own section with its own settings; the vhost keeps the site's CA.
    assert '<Proxy "https://bad.backend.test:9443/">' in lines and '<Proxy "https://mtls.backend.test:9443/">' in lines
    assert 'SSLProxyCACertificateFile "/etc/revproxy-test/rogue-root.pem"' in lines
    assert 'SSLProxyMachineCertificateFile "/etc/revproxy-test/proxy-client-pair.pem"' in lines
    assert 'SSLProxyCACertificateFile "/etc/revproxy-test/root.pem"' in lines


def test_per_location_backends_with_another_ca_and_a_client_certificate(proxy):
    # Premise: the site's CA does not verify the other-ca backend, and the mTLS backend wants a client certificate.
    assert proxy.run("curl -sS --max-time 10 --cacert /etc/revproxy-test/root.pem https://bad.backend.test:9443/").rc != 0
    assert proxy.run("curl -sS --max-time 10 --cacert /etc/revproxy-test/root.pem https://mtls.backend.test:9443/").rc != 0
    for path, body in (("/other-ca/", "page-from-other-ca-backend"), ("/mtls/", "page-from-mtls-backend")):
        assert _bodies(proxy, path, count=2) == [(200, body)] * 2, path


def test_requests_reach_all_three_members(proxy):
    answers = _bodies(proxy, count=9)
    assert all(status == 200 for status, _body in answers), answers
    assert {body for _status, body in answers} == {"page-from-pool1", "page-from-pool2", "page-from-pool3"}, answers


def test_balancer_manager_only_for_loopback_clients(proxy):
    assert "balancer://app" in proxy.check_output(CURL + MANAGER)
    # From another host on the network (a backend container): the pool answers, the manager does not.
    outside = testinfra.get_host("docker://pools-m1")
    got = outside.check_output(CURL + "-o /dev/null -w '%{http_code}' http://proxy.test/revproxy-balancer-manager")
    assert got == "403"
    assert outside.check_output(CURL + "-o /dev/null -w '%{http_code}' http://proxy.test/app/") == "200"


def test_health_check_takes_a_stopped_member_container_out_and_back(proxy):
    assert not {"health_check_failed", "HcFl", "Err"} & set(_member_status(proxy, "pool3"))
    _docker("stop", "-t", "5", "pools-m3")
    try:
        assert _wait_for(lambda: "HcFl" in _member_status(proxy, "pool3"), timeout=20), _member_status(proxy, "pool3")
        answers = _bodies(proxy, count=9)
        assert answers and all(status == 200 for status, _body in answers), answers
        assert {body for _status, body in answers} == {"page-from-pool1", "page-from-pool2"}, answers
    finally:
        _docker("start", "pools-m3")
    # systemd boots, the member's unit starts, the next health check passes: pool3 serves again.
    assert _wait_for(lambda: "page-from-pool3" in {b for _s, b in _bodies(proxy, count=3)}, timeout=40)
    assert "HcFl" not in _member_status(proxy, "pool3")


def test_drain_and_undrain_under_a_request_loop(proxy):
    log, stop = "/tmp/mol-loop.log", "/tmp/mol-loop.stop"
    proxy.run("rm -f %s %s" % (log, stop))
    _docker("exec", "-d", "pools-proxy", "python3", "/opt/molecule-files/request_loop.py", "http://127.0.0.1/app/", HOST,
            log, stop)
    args = {"revproxy_hosts": "pools-proxy", "revproxy_site_host": HOST, "revproxy_pool": "app",
            "revproxy_member": MEMBERS["pool2"], "revproxy_timeout": 30}
    try:
        time.sleep(1)
        drain_started = time.time()
        res = _ansible_playbook("revproxy.tls.drain", "-e", json.dumps(dict(args, revproxy_member_state="disabled")))
        assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
        assert "enabled -> disabled" in res.stdout
        drained_at = time.time()
        assert "Dis" in _member_status(proxy, "pool2")
        time.sleep(2)
        undrain_at = time.time()
        res = _ansible_playbook("revproxy.tls.drain", "-e", json.dumps(dict(args, revproxy_member_state="enabled")))
        assert res.returncode == 0 and "disabled -> enabled" in res.stdout, res.stdout[-3000:] + res.stderr[-2000:]
        assert _wait_for(lambda: _served_after(proxy, log, undrain_at), timeout=15)
    finally:
        proxy.run("touch %s; sleep 0.5" % stop)
    rows = [line.split(" ", 2) for line in proxy.check_output("cat %s" % log).splitlines()]
    answers = [(float(t), int(status), body) for t, status, body in rows]
    failed = [a for a in answers if a[1] != 200]
    assert len(answers) > 20 and not failed, failed[:5]
    before = [b for t, _s, b in answers if t < drain_started]
    during = [b for t, _s, b in answers if drained_at < t < undrain_at]
    after = [b for t, _s, b in answers if t > undrain_at]
    assert "page-from-pool2" in before and during and "page-from-pool2" not in during, (before, during)
    assert {"page-from-pool1", "page-from-pool3"} <= set(during)
    assert "page-from-pool2" in after


def _served_after(proxy, log, since):
    """Whether pool2 answered a request the loop started after ``since``."""
    for line in proxy.check_output("cat %s" % log).splitlines():
        start, _status, body = line.split(" ", 2)
        if float(start) > since and body == "page-from-pool2":
            return True
    return False


def test_check_mode_on_a_changed_input_reports_changed_and_changes_nothing(proxy, role_vars):
    tree = "find /etc/apache2 -xdev -type f -exec sha256sum {} + | sort | sha256sum"
    before = proxy.check_output(tree)
    changed = json.loads(json.dumps(role_vars["apache_proxy_sites"]))
    changed[0]["locations"][0]["backends"][0]["weight"] = 2
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump({"apache_proxy_sites": changed}, handle)
    try:
        res = _ansible_playbook(os.path.join(os.environ["MOLECULE_SCENARIO_DIRECTORY"], "converge.yml"), "--check",
                                "-e", "@" + handle.name)
    finally:
        os.unlink(handle.name)
    recap = _recap(res.stdout)
    assert res.returncode == 0 and recap["failed"] == 0, res.stdout[-3000:]
    assert recap["changed"] > 0, res.stdout[-3000:]
    assert proxy.check_output(tree) == before
    assert "loadfactor=2" not in proxy.file(SITE_CONF).content_string
    assert {b for _s, b in _bodies(proxy, count=6)} >= {"page-from-pool1", "page-from-pool2"}


def test_backend_handshake_checks_each_member_and_location(role_vars):
    result = testlib.handshake(testlib.host("pools-proxy"), sites=role_vars["apache_proxy_sites"],
                               backend_tls_defaults=role_vars["apache_proxy_backend_tls_defaults"])
    backends = result["backends"]
    assert all(b["ok"] for b in backends), [b for b in backends if not b["ok"]]
    urls = {b["url"] for b in backends}
    assert set(MEMBERS.values()) | {"https://bad.backend.test:9443/", "https://mtls.backend.test:9443/"} <= urls, urls
