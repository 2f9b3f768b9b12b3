"""_errorlog: the verify-error lines read the checker's table (_mod_ssl.VERIFY_ERROR_REASONS), and the "httpd
exited" codes are one list for the explainer and the probe."""
import re

import pytest

from ansible_collections.revproxy.tls.plugins.module_utils.apache import _errorlog as el
from ansible_collections.revproxy.tls.plugins.module_utils.apache import _probe
from ansible_collections.revproxy.tls.plugins.module_utils.apache._errorlog import diagnose, explain_line, read_since
from ansible_collections.revproxy.tls.plugins.module_utils.tls._mod_ssl import VERIFY_ERROR_REASONS, x509_error_string


@pytest.mark.parametrize("errnum", sorted(VERIFY_ERROR_REASONS) + [26, 99])
@pytest.mark.parametrize("code, level", [("AH02276", "ssl:info"), ("AH02039", "ssl:error")])
def test_verify_error_lines_use_the_checkers_table(errnum, code, level):
    line = "[%s] %s: Certificate Verification: Error (%d): %s" % (level, code, errnum, x509_error_string(errnum))
    out = el.explain_line(line)
    assert out["reasons"] == list(VERIFY_ERROR_REASONS.get(errnum, ("verify_failed",)))
    assert out["reason"] == out["reasons"][0]


def test_error_20_lists_both_causes():
    out = el.explain_line("[ssl:info] AH02276: Certificate Verification: Error (20): unable to get local issuer "
                          "certificate [subject: CN=b / issuer: CN=Inter]")
    assert out["reasons"] == ["incomplete_chain", "untrusted_ca"]
    assert out["meaning"].startswith("one of: ") and out["fix"] is None


@pytest.mark.parametrize("code", el.HTTPD_EXITED + ("AH02565",))
def test_exit_codes_are_reload_failed(code):
    out = el.explain_line("[core:emerg] [pid 7] %s: something fatal" % code)
    assert out["reasons"] == ["reload_failed"] and out["meaning"] and out["fix"]


def test_probe_waits_for_the_same_exit_codes():
    assert _probe.DIED is el.HTTPD_EXITED
    assert "AH02565" not in _probe.DIED  # the line before the exit: the probe waits for the exit itself


@pytest.mark.parametrize("code", el.HTTPD_EXITED)
def test_wait_for_reload_sees_each_exit_code(tmp_path, code):
    log = tmp_path / "error.log"
    log.write_text("[core:emerg] %s: exiting\n" % code)
    state, lines = _probe.wait_for_reload(str(log), 0, 0, sleep=lambda s: None)
    assert state == "died" and lines == ["[core:emerg] %s: exiting" % code]


# Moved from test_safe_apply_units.py (assertions unchanged).
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


# What httpd 2.4 writes on the RHEL family when SELinux denies httpd_t's name_connect (httpd_can_network_connect off):
# AH00957 with APR's text for EACCES, then mod_proxy_http's AH01114 and the worker put in error state (AH00959).
SELINUX_DENIED_LOG = (
    "[Wed Dec 02 01:02:03.456789 2026] [proxy:error] [pid 4242:tid 4243] (13)Permission denied: AH00957: HTTPS: "
    "attempt to connect to 10.0.0.5:8443 (app.internal:8443) failed\n"
    "[Wed Dec 02 01:02:03.456801 2026] [proxy_http:error] [pid 4242:tid 4243] [client 127.0.0.1:50412] AH01114: "
    "HTTP: failed to make connection to backend: app.internal\n"
    "[Wed Dec 02 01:02:03.456812 2026] [proxy:error] [pid 4242:tid 4243] AH00959: ap_proxy_connect_backend "
    "disabling worker for (app.internal:8443) for 60s\n"
)


def test_selinux_denied_is_explained_from_the_real_lines():
    out = diagnose(SELINUX_DENIED_LOG)
    assert out["reason"] == "selinux_denied"
    first = out["lines"][0]
    assert first["ah"] == ["AH00957"] and first["reasons"] == ["selinux_denied"]
    assert "httpd_can_network_connect" in first["fix"] and "SELinux" in first["meaning"]


@pytest.mark.parametrize("errno_text, reason", [
    ("(13)Permission denied", "selinux_denied"),
    ("(111)Connection refused", "connect_refused"),
    ("(70007)The timeout specified has expired", "connect_timeout"),
])
def test_ah00957_errno_decides(errno_text, reason):
    line = "[proxy:error] [pid 1] %s: AH00957: HTTP: attempt to connect to 127.0.0.1:9 (b:9) failed" % errno_text
    assert explain_line(line)["reason"] == reason


def test_selinux_denied_catalogue_lines_are_the_real_ones():
    from ansible_collections.revproxy.tls.plugins.module_utils.apache._catalogue import entry_result
    res = entry_result("selinux_denied", {"scheme": "HTTPS", "address": "10.0.0.5:8443", "host": "app.internal",
                                          "port": 8443})
    # The catalogue's lines are the real ones without timestamp, pid and client (as every catalogue entry).
    real = [re.sub(r"^\[[^]]*\] (\[[a-z_:]+\]) \[pid [^]]*\] (?:\[client [^]]*\] )?", r"\1 ", line)
            for line in SELINUX_DENIED_LOG.splitlines()]
    assert real == [item["line"] for item in res["apache_log"]]
    assert res["http_status"] == 503
