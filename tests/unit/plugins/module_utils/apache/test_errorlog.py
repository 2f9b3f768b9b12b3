"""_errorlog: the verify-error lines read the checker's table (_mod_ssl.VERIFY_ERROR_REASONS), and the "httpd
exited" codes are one list for the explainer and the probe."""
import pytest

from ansible_collections.revproxy.tls.plugins.module_utils.apache import _errorlog as el
from ansible_collections.revproxy.tls.plugins.module_utils.apache import _probe
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
