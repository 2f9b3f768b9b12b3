"""Pure parts of safe apply: per-site outcomes, error-log diagnosis, probe pass rules and reload detection."""
import pytest

from ansible_collections.revproxy.tls.plugins.module_utils.apache._errorlog import diagnose, explain_line, read_since
from ansible_collections.revproxy.tls.plugins.plugin_utils._outcome import OUTCOMES as KNOWN_OUTCOMES, site_outcomes
from ansible_collections.revproxy.tls.plugins.module_utils.apache._probe import location_ok, probe_sites, wait_for_reload

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


LINES = [
    ("[ssl:error] AH02039: Certificate Verification: Error (10): certificate has expired", ["AH02039"], "expired"),
    ("[ssl:info] AH02276: Certificate Verification: Error (20): unable to get local issuer certificate",
     ["AH02276"], "incomplete_chain"),
    ("[ssl:error] AH02040: Certificate Verification: Certificate Chain too long", ["AH02040"], "chain_too_long"),
    ("[ssl:info] AH02411: SSL Proxy: Peer certificate does not match for hostname front.test", ["AH02411"],
     "name_mismatch"),
    ("[ssl:info] AH02004: SSL Proxy: Peer certificate is expired", ["AH02004"], "expired"),
    ("SSL Library Error: error:0A00010B:SSL routines::wrong version number", [], "plain_http_backend"),
    ("[proxy:error] (111)Connection refused: AH00957: https: attempt to connect to 127.0.0.1:1 failed", ["AH00957"],
     "connect_refused"),
    ("AH02326: proxy client certificate and private key do not match", ["AH02326"], "client_cert_invalid"),
    ("[:emerg] AH00020: Configuration Failed, exiting", ["AH00020"], "reload_failed"),
    ("[proxy:error] AH00898: Error during SSL Handshake with remote server returned by /", ["AH00898"], None),
    ("[mpm_event:notice] AH00489: Apache/2.4.71 configured -- resuming normal operations", ["AH00489"], None),
]


@pytest.mark.parametrize("line,ah,reason", LINES)
def test_explain_line(line, ah, reason):
    out = explain_line(line)
    assert (out["ah"], out["reason"]) == (ah, reason)


def test_diagnose_picks_the_specific_cause_and_drops_noise():
    lines = [LINES[-1][0], LINES[-2][0], LINES[3][0]]
    out = diagnose(lines)
    assert out["reason"] == "name_mismatch"
    assert [e["ah"] for e in out["lines"]] == [["AH00898"], ["AH02411"]]


def test_read_since(tmp_path):
    log = tmp_path / "error.log"
    log.write_text("old 1\nold 2\n")
    offset = log.stat().st_size
    with open(str(log), "a") as handle:
        handle.write("new 1\nnew 2\n")
    assert read_since(str(log), offset) == ["new 1", "new 2"]
    assert read_since(str(log), 10 ** 9) == ["old 1", "old 2", "new 1", "new 2"]  # rotated: read it all
    assert read_since(str(tmp_path / "missing"), 0) == []


@pytest.mark.parametrize("probe_status,status,ok", [
    (None, 200, True), (None, 404, True), (None, 500, False), (None, 503, False), (None, None, False),
    ([200], 404, False), ([200, 401], 401, True),
])
def test_location_ok(probe_status, status, ok):
    assert location_ok({"probe_status": probe_status}, status) is ok


class Clock:
    def __init__(self):
        self.now = 0.0

    def time(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


@pytest.mark.parametrize("text,state", [
    ("AH00493: SIGUSR1 received\nAH00489: Apache configured -- resuming normal operations\n", "ready"),
    ("AH02312: Fatal error initialising mod_ssl, exiting.\nAH00020: Configuration Failed, exiting\n", "died"),
    ("AH00493: SIGUSR1 received\n", "unknown"),
])
def test_wait_for_reload(tmp_path, text, state):
    log = tmp_path / "error.log"
    log.write_text("before\n" + text)
    clock = Clock()
    got, lines = wait_for_reload(str(log), len("before\n"), 5, sleep=clock.sleep, clock=clock.time)
    assert got == state
    assert "before" not in lines


def test_probe_retries_a_failing_location_until_settled():
    answers = iter([(503, None), (503, None), (200, None)])
    clock = Clock()
    site = {"name": "a", "locations": [{"path": "/", "backend": "https://b/", "probe_status": None}]}
    out = probe_sites([site], settle=3, sleep=clock.sleep, clock=clock.time, do_request=lambda *a: next(answers))
    assert out == [{"name": "a", "ok": True, "locations": [
        {"path": "/", "backend": "https://b/", "status": 200, "ok": True, "error": None,
         "expected": "any status below 500"}]}]
