"""plugin_utils/_audit_report: the insecure backends first, every value escaped (a hostile ServerName or path from a
hand-written file shows as text in HTML and Markdown), the proposals and the problems listed."""
import pytest

from ansible_collections.revproxy.tls.plugins.plugin_utils._audit_report import AuditReportError, build_rows, render

HOSTILE = "<script>alert(1)</script>|**x**`\n# h"


def _backend(vhost, insecure, ok, url="https://b.test/"):
    return {"vhost": vhost, "url": url, "insecure": insecure, "insecure_settings": ["verify: none"] if insecure else [],
            "accepts": "verification off: any certificate is accepted" if insecure else "only a certificate from the "
            "trusted CA", "route": {"kind": "ProxyPass", "path": "/", "file": "/etc/apache2/x.conf", "line": 3},
            "directives": [{"directive": "SSLProxyVerify", "value": "none", "file": "/etc/apache2/x.conf", "line": 4,
                            "backend_tls": True}],
            "current": {"ok": ok, "reason": "ok" if ok else "chain_too_long", "message": "m"},
            "secure": {"ok": True, "reason": "ok", "trust": "the CA already configured", "fix": None}}


RESULT = {"summary": {"backends": 3, "insecure": 1, "failing_now": 1, "secure_ok": 3, "problems": 1},
          "backends": [_backend("ok.test", False, True), _backend("fail.test", False, False),
                       _backend(HOSTILE, True, True)],
          "vhosts": [{"vhost": HOSTILE, "proposal": {"site": {"name": HOSTILE}, "valid": False, "secure_ok": True,
                                                     "error": "bad ```name", "not_carried": []}}],
          "problems": [{"file": "/etc/apache2/m.conf", "line": 2, "kind": "macro", "message": "Use " + HOSTILE}]}


def test_insecure_first_then_failing():
    assert [r["verdict"] for r in build_rows(RESULT)] == ["INSECURE", "FAIL", "OK"]
    assert [r["verdict"] for r in build_rows({"h1": RESULT, "h2": RESULT})][:2] == ["INSECURE", "INSECURE"]


def test_html_escapes_every_value():
    text = render(RESULT, "html", title=HOSTILE)
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert "SSLProxyVerify none (/etc/apache2/x.conf:4)" in text


def test_markdown_escapes_every_value():
    text = render(RESULT, "markdown")
    rows = [line for line in text.splitlines() if line.startswith("| ") and "INSECURE" in line]
    assert len(rows) == 1 and "<script>" not in rows[0] and "\\*\\*x\\*\\*" in rows[0]
    assert "\n# h" not in text  # a line break in a value never starts a heading
    fences = [line for line in text.splitlines() if line.startswith("```")]
    assert fences and all(len(f.rstrip("json")) >= 3 for f in fences)


@pytest.mark.parametrize("bad", [[], "x", None])
def test_refuses_what_is_not_audit_results(bad):
    with pytest.raises(AuditReportError):
        render(bad, "html")
