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
    assert out["lines"][0] == ("a: rolled back - probe failed (/ -> 503), error log says connect_refused: "
                               "AH00957: ... failed")
