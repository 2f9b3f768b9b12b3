"""The backend report (plugin_utils/_report.py and the filter plugin): verdicts, order, summary, escaping, AH codes."""
import re

import pytest

from ansible_collections.revproxy.tls.plugins.plugin_utils import _report as report
from ansible_collections.revproxy.tls.plugins.module_utils.tls._catalogue import CATALOGUE


def backend(url="https://b.internal:8443/", ok=True, reason="ok", days=200, site="shop", **over):
    item = {
        "url": url, "site": site, "path": "/", "host": None, "ok": ok, "reason": reason,
        "message": "ok: TLSv1.3" if ok else "it failed", "fix": None if ok else "do this",
        "insecure_workaround": None if ok else "INSECURE: do that",
        "certificate": None if days is None else {"subject": "CN=b.internal", "not_after": "2030-01-01T00:00:00Z",
                                                  "days_left": days},
    }
    item.update(over)
    return item


def result(*backends):
    return {"backends": list(backends), "msg": "n backends", "summary": {}}


@pytest.mark.parametrize("item, days_warn, verdict, fix", [
    (backend(), 30, "OK", ""),
    (backend(days=29), 30, "EXPIRING", "Renew the backend certificate CN=b.internal: it expires on 2030-01-01T00:00:00Z (29 days left)."),
    (backend(days=30), 30, "OK", ""),
    (backend(days=0), "1", "EXPIRING", "Renew the backend certificate CN=b.internal: it expires on 2030-01-01T00:00:00Z (0 days left)."),
    (backend(days=None), 30, "OK", ""),
    (backend(ok=False, reason="name_mismatch", days=5), 30, "FAIL", "do this"),
    (backend(ok=False, reason="connect_refused", days=None), 30, "FAIL", "do this"),
    (backend(certificate={"days_left": "12"}), 30, "EXPIRING", "Renew the backend certificate : it expires on ? (12 days left)."),
    (backend(certificate={"days_left": True}), 30, "OK", ""),
])
def test_verdicts(item, days_warn, verdict, fix):
    row = report.build_rows(result(item), days_warn)[0]
    assert (row["verdict"], row["fix"]) == (verdict, fix)
    assert row["insecure_workaround"] == ("INSECURE: do that" if verdict == "FAIL" else None)


def test_order_failures_then_expiring_then_ok():
    rows = report.build_rows({
        "proxy-b": result(backend("https://a/", site="a"), backend("https://z/", ok=False, reason="expired", site="z")),
        "proxy-a": result(backend("https://c/", days=3, site="c"), backend("https://d/", days=1, site="d"),
                          backend("https://e/", ok=False, reason="dns_failure", site="e")),
    }, 30)
    assert [(r["proxy"], r["site"], r["verdict"]) for r in rows] == [
        ("proxy-a", "e", "FAIL"), ("proxy-b", "z", "FAIL"), ("proxy-a", "d", "EXPIRING"), ("proxy-a", "c", "EXPIRING"),
        ("proxy-b", "a", "OK")]


@pytest.mark.parametrize("data, rows", [
    (result(), 0),
    ([backend(), backend()], 2),
    ({"h1": {"skipped": True}, "h2": result(backend())}, 1),
    ({"h1": {"failed": True, "msg": "sites: site 'x': name: bad"}}, 1),
])
def test_inputs(data, rows):
    assert len(report.build_rows(data)) == rows


def test_a_check_that_did_not_run_is_a_failure_row():
    row = report.build_rows({"h1": {"failed": True, "msg": "sites: bad"}})[0]
    assert (row["verdict"], row["reason"], row["message"]) == ("FAIL", "check_failed", "sites: bad")


@pytest.mark.parametrize("data, error", [
    ("text", "expected a backend_handshake result"),
    ({"h": "x"}, "result of host h: expected a dict"),
])
def test_bad_input(data, error):
    with pytest.raises(report.ReportError, match=error):
        report.build_rows(data)


def test_bad_days_warn():
    with pytest.raises(report.ReportError, match="days_warn: expected an integer"):
        report.build_rows(result(), "soon")


def test_summary_is_compact_and_capped():
    items = [backend("https://b%d/" % i, site="s%03d" % i, ok=(i % 2 == 0), reason="ok" if i % 2 == 0 else "expired")
             for i in range(120)]
    summary = report.summarize(result(*items), 30, max_lines=10)
    assert summary["counts"] == "120 backends: 60 ok, 60 failed, 0 expiring within 30 days"
    # the message leads with the failures (site, backend, reason, fix), the counts come last
    parts = summary["msg"].split(" | ")
    assert parts[0].startswith("FAIL s001 https://b1/: expired")
    assert parts[3:] == ["and 57 more failed (see the report)", summary["counts"]]
    assert (summary["total"], summary["ok"], summary["failed"], summary["expiring"]) == (120, 60, 60, 0)
    assert summary["reasons"] == {"expired": 60}
    assert summary["sites"][0] == "s001: 0 ok, 1 failed, 0 expiring (expired)"
    assert summary["sites"][-1] == "... and 110 more sites (see the report)"
    assert summary["problems"][0] == "FAIL s001 https://b1/: expired"
    assert summary["problems"][-1] == "... and 50 more (see the report)"
    assert len(summary["sites"]) == len(summary["problems"]) == 11


def test_summary_names_the_proxy_and_the_host():
    summary = report.summarize({"p1": result(backend(ok=False, reason="preserve_host_name_mismatch", host="www.x"))})
    assert summary["sites"] == ["shop on p1: 0 ok, 1 failed, 0 expiring (preserve_host_name_mismatch)"]
    assert summary["problems"] == ["FAIL [p1] shop https://b.internal:8443/ (Host www.x): preserve_host_name_mismatch"]


HOSTILE = '<script>alert("x")</script> & \'quote\' | `tick` *star* [link](http://evil)\nnext'


def test_html_escapes_everything_and_is_self_contained():
    item = backend(HOSTILE, ok=False, reason=HOSTILE, site=HOSTILE, message=HOSTILE, fix=HOSTILE, host=HOSTILE,
                   insecure_workaround=HOSTILE, path=HOSTILE)
    page = report.render_html({HOSTILE: result(item)}, 30, title=HOSTILE, generated=HOSTILE)
    assert "<script" not in page and 'alert("x")' not in page
    # title twice, generated, proxy, site, path, backend, host, reason, message, fix, insecure workaround
    assert page.count("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;") == 12
    assert not re.search(r"(src|href)=", page)  # no external resources, no links
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "Content-Security-Policy" in page


def test_html_columns_and_empty_report():
    page = report.render_html(result(backend(), backend(ok=False, reason="expired")), 30)
    assert "<th>Proxy</th>" not in page and "<th>Days left</th>" in page
    assert page.index('<tr class="fail">') < page.index('<tr class="ok">')
    assert "No TLS backends were checked." in report.render_html(result())


def test_markdown_escapes_cells():
    text = report.render_markdown(result(backend(HOSTILE, site=HOSTILE, ok=False, reason="expired", fix=HOSTILE)), 30)
    table = [line for line in text.splitlines() if line.startswith("| ")]
    assert table[0] == "| Site | Backend | Verdict | Reason | Days left | Fix |"
    row = table[1]
    assert row.count(" | ") == 5  # the pipes in the data are escaped, newlines are gone
    assert "\\<script\\>" in row and "\\|" in row and "\\`tick\\`" in row and "\\*star\\*" in row
    assert "\n" not in row


@pytest.mark.parametrize("fmt", ["html", "markdown", "md"])
def test_render_dispatch(fmt):
    assert "b.internal" in report.render(result(backend()), fmt)


def test_render_unknown_format():
    with pytest.raises(report.ReportError, match="format: expected html or markdown"):
        report.render(result(), "pdf")


def test_ah_index_comes_from_the_catalogue():
    index = report.ah_index()
    for reason, entry in CATALOGUE.items():
        for lines in entry["logs"].values():
            for _level, line in lines:
                for code in re.findall(r"AH\d{5}", line):
                    assert reason in index[code]
    assert index["AH02411"] == ["name_mismatch", "preserve_host_name_mismatch", "ip_literal_name"]


@pytest.mark.parametrize("line, ah, reasons, meaning_start, fix", [
    ("[ssl:info] [pid 1] AH02411: SSL Proxy: Peer certificate does not match for hostname localhost",
     ["AH02411"], ["name_mismatch", "preserve_host_name_mismatch", "ip_literal_name"], "one of: The certificate does not name",
     None),
    ("[ssl:info] AH02004: SSL Proxy: Peer certificate is expired", ["AH02004"], ["expired", "not_yet_valid"],
     "one of: The backend certificate has expired", None),
    ("[ssl:error] AH02040: Certificate Verification: Certificate Chain too long", ["AH02040"], ["chain_too_long"],
     "The chain is deeper than SSLProxyVerifyDepth", None),
    ("[ssl:warn] AH01897: Init: Oops", ["AH01897"], ["no_ca_configured"], "SSLProxyVerify require without any CA",
     CATALOGUE["no_ca_configured"]["fix"]),
    ("[core:notice] AH00094: Command line: '/usr/sbin/apache2'", ["AH00094"], [], None, None),
    ("plain text without a code", [], [], None, None),
])
def test_explain_log_lines(line, ah, reasons, meaning_start, fix):
    item = report.explain_log_lines([line])[0]
    assert (item["line"], item["ah"], item["reasons"], item["fix"]) == (line, ah, reasons, fix)
    if meaning_start is None:
        assert item["meaning"] is None
    else:
        assert item["meaning"].startswith(meaning_start)


def test_explain_takes_text_and_skips_blank_lines():
    out = report.explain_log_lines("a AH00898: x\n\n  \nb\n")
    assert [i["line"] for i in out] == ["a AH00898: x", "b"]
    assert out[0]["meaning"].startswith("one of: ")


def test_summary_msg_leads_with_site_backend_reason_and_fix():
    summary = report.summarize({"p1": result(backend(ok=False, reason="expired", fix="Renew the backend certificate."),
                                             backend("https://ok/"))})
    assert summary["msg"] == ("FAIL [p1] shop https://b.internal:8443/: expired. Fix: Renew the backend certificate. | "
                              "2 backends: 1 ok, 1 failed, 0 expiring within 30 days")
    ok = report.summarize(result(backend("https://ok/")))
    assert ok["msg"] == ok["counts"] == "1 backend: 1 ok, 0 failed, 0 expiring within 30 days"
