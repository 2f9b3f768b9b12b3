"""Per-site outcomes of a run of the role (plugin_utils/_outcome.py): one table of runs, and the lines people read.
(Moved from test_safe_apply_units.py, assertions unchanged.)"""
import pytest

from ansible_collections.revproxy.tls.plugins.plugin_utils._outcome import OUTCOMES as KNOWN_OUTCOMES, site_outcomes

PLAN = {"sites": [{"name": "a", "changed": True}, {"name": "b", "changed": True}, {"name": "c", "changed": False}],
        "removed_sites": ["old"], "changed_files": ["/etc/apache2/sites-available/a.conf"]}
PRE_FAIL_B = {"backends": [
    {"site": "a", "ok": True, "url": "https://a/"},
    {"site": "b", "ok": False, "url": "https://b:8443/", "reason": "expired", "message": "certificate expired",
     "fix": "Renew the backend certificate"}]}
PROBE_FAIL_A = {"sites": [
    {"name": "a", "ok": False, "locations": [{"path": "/", "status": 503, "error": None, "ok": False}],
     "diagnosis": {"reason": "connect_refused", "lines": [{"line": "AH00957: ... failed"}]}},
    {"name": "b", "ok": True, "locations": []}]}

OUTCOMES = [
    ("all good", {}, {"a": "applied", "b": "applied", "c": "unchanged", "old": "removed"}, False),
    ("check mode", {"check_mode": True},
     {"a": "would_apply", "b": "would_apply", "c": "unchanged", "old": "would_remove"}, False),
    ("preflight enforce refuses the whole run", {"preflight": PRE_FAIL_B},
     {"a": "not_applied", "b": "refused_by_preflight", "c": "unchanged", "old": "not_applied"}, True),
    ("preflight warn applies", {"preflight": PRE_FAIL_B, "preflight_mode": "warn"},
     {"a": "applied", "b": "applied", "c": "unchanged", "old": "removed"}, False),
    ("probe failure rolls back all", {"probe": PROBE_FAIL_A},
     {"a": "rolled_back", "b": "rolled_back", "c": "unchanged", "old": "not_applied"}, True),
    ("probe failure kept", {"probe": PROBE_FAIL_A, "on_probe_failure": "keep"},
     {"a": "kept_failing", "b": "applied", "c": "unchanged", "old": "removed"}, True),
]


@pytest.mark.parametrize("case,kwargs,expected,failed", OUTCOMES, ids=[o[0] for o in OUTCOMES])
def test_site_outcomes(case, kwargs, expected, failed):
    out = site_outcomes(PLAN, **kwargs)
    assert dict((s["name"], s["outcome"]) for s in out["sites"]) == expected
    assert set(expected.values()) <= set(KNOWN_OUTCOMES)  # the documented vocabulary
    assert out["failed"] is failed


def test_outcome_lines_name_reason_and_fix():
    out = site_outcomes(PLAN, preflight=PRE_FAIL_B)
    assert "b: refused by preflight - https://b:8443/ expired: certificate expired. Fix: Renew the backend " \
           "certificate" in out["lines"]
    out = site_outcomes(PLAN, probe=PROBE_FAIL_A)
    # the failing site leads, right after the one line that says what happened to the run
    assert out["lines"][:2] == [
        "Probe failed: 1 of 2 changed sites failed it, so the run was rolled back (all or nothing)",
        "a: rolled back - probe failed (/ -> 503), error log says connect_refused: AH00957: ... failed"]


def test_refused_run_leads_with_the_failing_site_and_groups_the_rest():
    """3000 changed sites, the last one fails the preflight: the failing site is the second line, the 2999 others
    are one line (names capped), not 2999 'not applied' lines before it."""
    names = ["s%04d" % i for i in range(3000)]
    plan = {"sites": [{"name": n, "changed": True} for n in names] + [{"name": "same", "changed": False}],
            "removed_sites": ["old"], "changed_files": ["/etc/apache2/sites-available/s0000.conf"]}
    pre = {"backends": [{"site": "s2999", "ok": False, "url": "https://b:8443/", "reason": "expired",
                         "message": "certificate CN=b expired", "fix": "Renew the backend certificate."}]}
    out = site_outcomes(plan, preflight=pre)
    assert out["failed"] is True and len(out["sites"]) == 3002
    assert out["lines"] == [
        "Preflight refused this run: 1 of 3000 changed sites failed it, so none was applied (all or nothing)",
        "s2999: refused by preflight - https://b:8443/ expired: certificate CN=b expired. Fix: Renew the backend "
        "certificate.",
        "not applied (another site of this run failed the preflight): 2999 sites: %s and 2989 more"
        % ", ".join(names[:10]),
        "unchanged: 1 site: same",
        "removal not applied: 1 site: old",
    ]
    assert [s["name"] for s in out["sites"] if s["cause"]] == ["s2999"]


def test_kept_probe_failure_leads_with_the_failing_site():
    out = site_outcomes(PLAN, probe=PROBE_FAIL_A, on_probe_failure="keep")
    assert out["lines"][0].startswith("Probe failed: 1 of 2 changed sites failed it and stay live")
    assert out["lines"][1].startswith("a: kept failing - probe failed (/ -> 503)")
    assert out["lines"][2:] == ["applied: 1 site: b", "unchanged: 1 site: c", "removed: 1 site: old"]


def test_successful_run_lists_every_site():
    out = site_outcomes(PLAN)
    assert out["lines"] == ["a: applied", "b: applied", "c: unchanged", "old: removed"]


def test_the_server_is_named_by_the_caller():
    from ansible_collections.revproxy.tls.plugins.filter.site_outcomes import site_outcomes as site_outcomes_filter
    exited = {"sites": [{"name": "a", "ok": False, "locations": []}]}
    assert "probe failed (the server exited)" in " ".join(site_outcomes(PLAN, probe=exited)["lines"])
    out = site_outcomes_filter(PLAN, probe=exited, restored="died")
    assert "probe failed (Apache exited)" in " ".join(out["lines"])
    assert out["lines"][-1] == "previous configuration restored, but Apache did not start with it: see its error log"
