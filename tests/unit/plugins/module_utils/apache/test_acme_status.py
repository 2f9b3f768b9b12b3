"""mod_md's md-status and error lines read back (apache/_acme_status.py) and the wait loop of apache_proxy_acme.

The JSON shapes are mod_md 2.6.10's (Apache 2.4.71), recorded against pebble on this machine."""
import pytest

from ansible_collections.revproxy.tls.plugins.module_utils.apache import _acme_status as status
from ansible_collections.revproxy.tls.plugins.modules import apache_proxy_acme as mod

MISSING = {"name": "site.test", "state": 1, "state-descr": "certificate(rsa) is missing", "cert": {},
           "renew-at": "Mon, 07 Dec 2026 20:46:05 GMT"}
STAGED = dict(MISSING, renewal={"finished": True, "errors": 0, "last": {"status": 0},
                                "log": {"entries": [{"type": "progress", "detail": "A graceful server restart now "
                                                                                   "is recommended."}]}})
FP = "8a833902f617d672dca5fe1527a4fb2f56b07e31d1faedecea287c0b928f89bb"
ACTIVE = {"name": "site.test", "state": 2, "renew-at": "Sun, 14 Apr 2030 06:59:25 GMT", "cert": {
    "rsa": {"valid": {"from": "Mon, 07 Dec 2026 20:54:37 GMT", "until": "Sun, 07 Dec 2031 20:54:36 GMT"},
            "sha256-fingerprint": FP.upper()},
    "valid": {"from": "Mon, 07 Dec 2026 20:54:37 GMT", "until": "Sun, 07 Dec 2031 20:54:36 GMT"}}}
FAILED = dict(MISSING, renewal={"finished": False, "errors": 1, "last": {
    "status": 22, "detail": "Error waiting on domain names to be validated",
    "activity": "Monitoring challenge status for site.test"}})
LOG = (r'[Mon Dec 07 20:49:52.881970 2026] [md:error] [pid 10908:tid 10910] ACME server authz: challenge '
       r"'invalid' for site.test at https://127.0.0.1:37519/authZ/2q. Exact response was: "
       r'{"status":"invalid","identifier":{"type":"dns","value":"site.test"},"challenges":[{"type":"http-01",'
       r'"status":"invalid","error":{"type":"urn:ietf:params:acme:error:connection","detail":"Get '
       r'\\"http://site.test:40889/.well-known/acme-challenge/H_I\\": dial tcp 127.0.0.2:40889: connect: connection '
       r'refused","status":400}}],"expires":"2026-12-07T21:49:52Z"}' "\n"
       "[Mon Dec 07 20:49:52.881993 2026] [md:error] [pid 10908:tid 10910] (22)Invalid argument: AH10056: "
       "processing site.test: Error waiting on domain names to be validated\n")


@pytest.mark.parametrize("md, active, staged, error, until", [
    (None, False, False, None, None),
    (MISSING, False, False, None, None),
    (STAGED, False, True, None, None),
    (ACTIVE, True, False, None, "Sun, 07 Dec 2031 20:54:36 GMT"),
    (FAILED, False, False, 22, None),
    (dict(ACTIVE, renewal=STAGED["renewal"]), True, True, None, "Sun, 07 Dec 2031 20:54:36 GMT"),  # renewed
    (dict(ACTIVE, cert={"valid": {"until": "x"}, "sha256-fingerprint": "AB"}), True, False, None, "x"),  # flat
])
def test_interpret(md, active, staged, error, until):
    out = status.interpret(md)
    assert (out["active"], out["staged"], (out["last_error"] or {}).get("status"), out["valid_until"]) == \
        (active, staged, error, until)


def test_fingerprints_lowercase():
    assert status.interpret(ACTIVE)["fingerprints"] == [FP]


def test_ca_reasons_from_the_error_log():
    reasons = status.ca_reasons(LOG, "site.test")
    assert reasons == [("connection", 'Get "http://site.test:40889/.well-known/acme-challenge/H_I": dial tcp '
                                      '127.0.0.2:40889: connect: connection refused')]
    assert "open port 80" in status.fix_for(reasons)
    assert status.ca_reasons(LOG, "other.test") == []


@pytest.mark.parametrize("kind, needle", [
    ("rateLimited", "rate limit"), ("dns", "public DNS"), ("caa", "CAA"), ("unauthorized", "another server"),
    ("externalAccountRequired", "eab"), ("agreementRequired", "agreement"), ("nonsense", "error log"),
])
def test_fixes(kind, needle):
    assert needle in status.fix_for([(kind, "")])


class Fake:
    """md-status answers in sequence; served_certificate gives FP."""

    def __init__(self, monkeypatch, answers, served=(FP, None)):
        self.answers = list(answers)
        self.now = 0.0
        monkeypatch.setattr(status, "fetch_status", self.fetch)
        monkeypatch.setattr(status, "served_certificate", lambda *a, **k: served)

    def fetch(self, port, timeout=5.0):
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return {"site.test": answer} if answer is not None else {}

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def params(tmp_path=None, **over):
    out = {"domains": [{"site": "a", "domain": "site.test", "address": None, "port": 443}], "status_port": 8409,
           "wait_for": "staged", "timeout": 30, "trust_file": None, "error_log": None, "error_log_offset": 0}
    out.update(over)
    return out


def test_wait_staged_reports_progress(monkeypatch):
    fake = Fake(monkeypatch, [None, MISSING, MISSING, STAGED])
    out = mod.run(params(), fake.clock, fake.sleep)
    assert out["ok"] and out["needs_reload"]
    assert [p.split(" ", 1)[1] for p in out["progress"]] == [
        "site.test: not (yet) a managed domain of the running server",
        "site.test: certificate(rsa) is missing", "site.test: obtained, active after a graceful restart"]


def test_wait_active_checks_the_served_leaf(monkeypatch):
    fake = Fake(monkeypatch, [ACTIVE])
    assert mod.run(params(wait_for="active"), fake.clock, fake.sleep)["ok"]
    fake = Fake(monkeypatch, [ACTIVE], served=("00" * 32, None))
    out = mod.run(params(wait_for="active", timeout=3), fake.clock, fake.sleep)
    assert not out["ok"] and "another certificate" in out["msg"] and "timed out after 3s" in out["msg"]
    fake = Fake(monkeypatch, [ACTIVE], served=(FP, "the served chain does not verify for site.test: x"))
    assert "does not verify" in mod.run(params(wait_for="active", timeout=2), fake.clock, fake.sleep)["msg"]


def test_a_failed_order_stops_the_wait_with_the_ca_reason(monkeypatch, tmp_path):
    log = tmp_path / "error.log"
    log.write_text("old line\n" + LOG)
    fake = Fake(monkeypatch, [MISSING, FAILED])
    out = mod.run(params(error_log=str(log), error_log_offset=len("old line\n")), fake.clock, fake.sleep)
    assert not out["ok"] and fake.now == 1.0
    dom = out["domains"][0]
    assert dom["ca_reasons"][0][0] == "connection" and "127.0.0.2:40889" in out["msg"]
    assert "open port 80" in dom["fix"]


def test_an_error_from_before_the_reload_is_not_this_run_s(monkeypatch, tmp_path):
    log = tmp_path / "error.log"
    log.write_text(LOG)
    fake = Fake(monkeypatch, [FAILED, FAILED, STAGED])
    out = mod.run(params(error_log=str(log), error_log_offset=len(LOG)), fake.clock, fake.sleep)
    assert out["ok"] and out["domains"][0]["last_error"] is None


def test_status_unreachable_times_out_with_the_reason(monkeypatch):
    fake = Fake(monkeypatch, [OSError("connection refused")])
    out = mod.run(params(timeout=2), fake.clock, fake.sleep)
    assert not out["ok"] and "md-status on 127.0.0.1:8409: connection refused" in out["msg"]


def test_report_only(monkeypatch):
    fake = Fake(monkeypatch, [MISSING])
    out = mod.run(params(wait_for="none"), fake.clock, fake.sleep)
    assert out["ok"] and fake.now == 0.0 and "certificate(rsa) is missing" in out["msg"]


# -- the check's view (frontend_certificate with acme_status_port) -------------------------------------------------

NOW = __import__("datetime").datetime(2026, 12, 8, tzinfo=__import__("datetime").timezone.utc)
SITE = {"name": "a", "tls": {"acme": {"names": ["site.test", "www.site.test"]}}}


@pytest.mark.parametrize("md, error, reasons, days", [
    (ACTIVE, None, [], 1825),
    (dict(ACTIVE, renewal=STAGED["renewal"]), None, ["acme_staged"], 1825),
    (MISSING, None, ["acme_pending"], None),
    (None, None, ["acme_pending"], None),
    (FAILED, None, ["acme_error", "acme_pending"], None),
    (None, "connection refused", ["acme_status"], None),
    (dict(ACTIVE, cert={"rsa": {"valid": {"until": "Thu, 10 Dec 2026 00:00:00 GMT"}}}), None, ["expiring"], 2),
    (dict(ACTIVE, cert={"rsa": {"valid": {"until": "Mon, 07 Dec 2026 00:00:00 GMT"}}}), None, ["expired"], -1),
])
def test_frontend_result(md, error, reasons, days):
    out = status.frontend_result(SITE, md, NOW, 14, error)
    assert [p["reason"] for p in out["problems"]] == reasons
    assert out["days_left"] == days and out["names"] == ["site.test", "www.site.test"]
    assert out["certificate_file"] == "(ACME: mod_md, site.test)"
    assert all(p["fix"] for p in out["problems"])


def test_frontend_result_names_mod_md_s_reason():
    out = status.frontend_result(dict(SITE), dict(FAILED, renewal=dict(FAILED["renewal"], last={
        "status": 22, "detail": "No contact information is available for MD site.test."})), NOW, 14)
    assert "No contact information" in out["problems"][0]["message"]
    assert "apache_proxy_acme_contact" in out["problems"][0]["fix"]


def test_frontend_certificate_reports_acme_sites_only_with_the_status_port(monkeypatch):
    from ansible_collections.revproxy.tls.plugins.modules import frontend_certificate as front
    site = {"name": "a", "server_name": "site.test", "tls": {"acme": {}},
            "locations": [{"path": "/", "backend": "http://app.internal:8080/"}]}
    params = {"sites": [site], "validated": None, "names": None, "backend_tls_defaults": {}, "layout": "debian",
              "tls_dir": "/etc/apache2/revproxy-tls", "expiry_days": 14, "trust_file": None, "fail_on": "never",
              "metrics_dir": None, "allow_raw_directives": False, "served_roots": ["/srv"]}
    assert front.run(dict(params, acme_status_port=None))["results"] == []
    monkeypatch.setattr(status, "fetch_status", lambda port: {"site.test": ACTIVE})
    out = front.run(dict(params, acme_status_port=8409))
    assert [(r["site"], r["ok"], r["not_after"]) for r in out["results"]] == [("a", True, "2031-12-07T20:54:36Z")]
    monkeypatch.setattr(status, "fetch_status", lambda port: {"site.test": FAILED})
    out = front.run(dict(params, acme_status_port=8409))
    assert out["failed_sites"] == ["a"] and "Error waiting on domain names" in out["msg"]
