"""tls/_checker.py: one check per distinct backend (shared results, per-address bound) and pools with min_ok."""
import threading
import time

import pytest

from ansible_collections.revproxy.tls.plugins.module_utils.apache._catalogue import SEMANTICS
from ansible_collections.revproxy.tls.plugins.module_utils.apache._capabilities import APACHE
from ansible_collections.revproxy.tls.plugins.module_utils.tls import _checker, _loop
from ansible_collections.revproxy.tls.plugins.module_utils.tls._checker import (
    build_checks_from_sites,
    distinct_key,
    pool_tolerated,
    pool_warnings,
    run_distinct,
    summarize,
)

CA_FILE = "/etc/ssl/certs/ca-certificates.crt"


class _Module:
    def __init__(self):
        self.warnings = []

    def warn(self, text):
        self.warnings.append(text)


def _site(name, backend="https://shared.internal:8443/", **over):
    site = {"name": name, "server_name": "%s.example.com" % name, "backend_tls": {"ca_file": CA_FILE},
            "locations": [{"path": "/", "backend": backend}]}
    site.update(over)
    return site


def _checks(sites, tmp_path):
    return build_checks_from_sites(sites, {}, "/etc/apache2/revproxy-tls", str(tmp_path), _Module(), SEMANTICS,
                                   server=APACHE)


def _fake_probe(calls, ok=lambda check: True, delay=0.0):
    lock = threading.Lock()

    def probe(check):
        with lock:
            calls.append(check["url"].url)
        if delay:
            time.sleep(delay)
        good = ok(check)
        return dict(check["result_keys"], ok=good, reason="ok" if good else "untrusted_ca", message="m")
    return probe


def test_names_select_the_sites_checked_after_all_are_validated(tmp_path):
    sites = [_site("s%d" % i, backend="https://b%d.internal:8443/" % i) for i in range(4)]
    checks = build_checks_from_sites(sites, {}, "/etc/apache2/revproxy-tls", str(tmp_path), _Module(), SEMANTICS,
                                     names=["s3", "s1"], server=APACHE)
    assert [c["site"] for c in checks] == ["s1", "s3"]
    bad = sites + [_site("broken", backend="ftp://x/")]
    with pytest.raises(_checker.ConfigError) as exc:
        build_checks_from_sites(bad, {}, "/etc/apache2/revproxy-tls", str(tmp_path), _Module(), SEMANTICS, names=["s1"],
                                server=APACHE)
    assert "broken" in str(exc.value)


def test_names_without_sites_is_refused():
    params = {"backends": [{"url": "https://b.internal/"}], "names": ["a"], "timeout": 5, "concurrency": 4,
              "backend_tls_defaults": None}
    with pytest.raises(_checker.ConfigError) as exc:
        _checker.run(params, None, SEMANTICS)
    assert str(exc.value) == "names: selects among sites; it cannot be used with backends"


def test_sites_on_one_backend_share_one_check(tmp_path):
    checks = _checks([_site("s%d" % i) for i in range(50)], tmp_path)
    calls = []
    results = run_distinct(checks, _fake_probe(calls), 16)
    assert calls == ["https://shared.internal:8443/"]
    assert [r["site"] for r in results] == ["s%d" % i for i in range(50)]
    assert all(r["ok"] for r in results)


def test_same_ca_content_in_many_sites_is_one_distinct_setting(tmp_path):
    from support.pemdata import CA  # pylint: disable=import-outside-toplevel
    sites = [_site("s%d" % i, backend_tls={"ca_content": CA}) for i in range(5)]
    checks = _checks(sites, tmp_path)
    assert len(set(distinct_key(c) for c in checks)) == 1


# (case, second site's change, distinct checks expected)
DISTINCT = [
    ("same everything", {}, 1),
    ("other port", {"locations": [{"path": "/", "backend": "https://shared.internal:9443/"}]}, 2),
    ("other path", {"locations": [{"path": "/x/", "backend": "https://shared.internal:8443/x/"}]}, 2),
    ("other CA", {"backend_tls": {"ca_file": "@other.pem"}}, 2),
    ("other protocols", {"backend_tls": {"ca_file": CA_FILE, "protocols": ["TLSv1.3"]}}, 2),
    ("client certificate", {"backend_tls": {"ca_file": CA_FILE, "client_cert_file": "@client.pem"}}, 2),
    ("preserve_host: SNI is the public name", {"preserve_host": True}, 2),
]


@pytest.mark.parametrize("case,over,expected", DISTINCT, ids=[c[0] for c in DISTINCT])
def test_what_makes_a_check_distinct(case, over, expected, tmp_path):
    from support.pemdata import CA, CERT, KEY  # pylint: disable=import-outside-toplevel
    (tmp_path / "other.pem").write_text(CA)
    (tmp_path / "client.pem").write_text(CERT + KEY)
    over = dict(over)
    if "backend_tls" in over:
        over["backend_tls"] = dict((k, str(tmp_path / v[1:]) if isinstance(v, str) and v.startswith("@") else v)
                                   for k, v in over["backend_tls"].items())
    checks = _checks([_site("a"), _site("b", **over)], tmp_path)
    calls = []
    run_distinct(checks, _fake_probe(calls), 4)
    assert len(calls) == expected


def test_concurrency_per_address_is_bounded(tmp_path):
    sites = [_site("s%d" % i, backend="https://b%d.internal:8443/" % (i % 2), locations=[
        {"path": "/p%d/" % i, "backend": "https://b%d.internal:8443/p%d/" % (i % 2, i)}]) for i in range(20)]
    checks = _checks(sites, tmp_path)
    active = {}
    peak = {}
    lock = threading.Lock()

    def probe(check):  # a generator, as check_steps: the checks run from one event loop
        host = check["url"].host
        with lock:
            active[host] = active.get(host, 0) + 1
            peak[host] = max(peak.get(host, 0), active[host])
        try:
            yield (None, 0, time.monotonic() + 0.02)  # waits 20 ms (only its deadline ends the wait)
        except _loop._Deadline:
            pass
        with lock:
            active[host] -= 1
        return dict(check["result_keys"], ok=True, reason="ok")
    results = run_distinct(checks, probe, 64, per_address=3)
    assert len(results) == 20
    assert peak == {"b0.internal": 3, "b1.internal": 3}


def _pool_site(min_ok=None, name="shop"):
    loc = {"path": "/app/", "backends": [{"url": "https://m%d.internal:8443/" % i} for i in (1, 2, 3)]}
    if min_ok is not None:
        loc["min_ok"] = min_ok
    return _site(name, locations=[loc])


def _run_pool(tmp_path, min_ok, broken):
    checks = _checks([_pool_site(min_ok)], tmp_path)
    for check in checks:
        check["label"] = check["result_keys"]["url"]
    results = run_distinct(checks, _fake_probe([], ok=lambda c: c["url"].host not in broken), 4)
    return checks, results


def test_pool_member_failure_refuses_without_min_ok(tmp_path):
    checks, results = _run_pool(tmp_path, None, {"m3.internal"})
    assert [r["url"] for r in results] == ["https://m%d.internal:8443/" % i for i in (1, 2, 3)]
    _msg, _summary, failed = summarize(checks, results)
    assert failed == ["https://m3.internal:8443/: untrusted_ca"]
    assert pool_warnings(checks, results) == []


def test_pool_with_min_ok_goes_live_and_warns_naming_the_member(tmp_path):
    checks, results = _run_pool(tmp_path, 2, {"m3.internal"})
    assert pool_tolerated(checks, results) == {2}
    msg, _summary, failed = summarize(checks, results)
    assert failed == []
    assert msg == "3 backends checked: 2 ok, 0 failed, 1 failed in pools that min_ok lets go live"
    assert pool_warnings(checks, results) == [
        "site shop: pool /app/ (balancer://app) goes live with 2 of 3 members (min_ok 2); failing: "
        "https://m3.internal:8443/ (untrusted_ca)"]


def test_pool_below_min_ok_is_refused(tmp_path):
    checks, results = _run_pool(tmp_path, 2, {"m2.internal", "m3.internal"})
    assert pool_tolerated(checks, results) == set()
    _msg, _summary, failed = summarize(checks, results)
    assert len(failed) == 2
    assert pool_warnings(checks, results) == []


def test_run_uses_one_probe_per_distinct_backend(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(_checker, "check_steps", lambda c, *a, **k: _fake_probe(calls)(c))
    params = {"sites": [_site("s%d" % i) for i in range(30)], "backend_tls_defaults": {}, "tls_dir": "/srv/tls",
              "timeout": 5, "concurrency": 8, "http_request": True, "return_pem": False}
    _checks, results = _checker.run(params, _Module(), SEMANTICS, APACHE)
    assert len(results) == 30
    assert calls == ["https://shared.internal:8443/"]


def test_a_tolerated_member_does_not_refuse_the_site_outcome(tmp_path):
    """The role's outcome lines (plugin_utils/_outcome) skip a failed member that min_ok lets go live."""
    from ansible_collections.revproxy.tls.plugins.plugin_utils._outcome import site_outcomes  # pylint: disable=import-outside-toplevel
    checks, results = _run_pool(tmp_path, 2, {"m3.internal"})
    for index in pool_tolerated(checks, results):
        results[index]["min_ok_tolerated"] = True
    plan = {"sites": [{"name": "shop", "changed": True}]}
    outcome = site_outcomes(plan, preflight={"backends": results})
    assert not outcome["failed"]
    checks, results = _run_pool(tmp_path, 3, {"m3.internal"})  # min_ok 3: the pool is refused
    assert site_outcomes(plan, preflight={"backends": results})["failed"]
