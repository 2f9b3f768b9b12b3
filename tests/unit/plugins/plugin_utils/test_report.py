"""The backend report (plugin_utils/_report.py and the filter plugin): verdicts, order, summary, escaping, AH codes."""
import re

import pytest

from ansible_collections.revproxy.tls.plugins.plugin_utils import _report as report
from ansible_collections.revproxy.tls.plugins.module_utils.apache._catalogue import CATALOGUE


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


# ---------------------------------------------------------------------------------------------------------------
# Frontend certificates (frontend=: what revproxy.tls.frontend_certificate returns)

FIX = {"expired": "renew the certificate and deploy the new one",
       "expiring": "renew the certificate now (or lower apache_proxy_frontend_expiry_days to accept it)",
       "chain_incomplete": "add the missing intermediate certificate(s) to tls.chain_file"}
# In the report each of the module's fixes starts a sentence.
SHOWN = dict((reason, fix[0].upper() + fix[1:]) for reason, fix in FIX.items())


def front(site="shop", days=200, reasons=(), cert="/etc/ssl/shop.pem", **over):
    item = {"site": site, "certificate_file": cert, "subject": "CN=shop.example", "names": ["shop.example"],
            "not_after": "2030-01-01T00:00:00Z", "days_left": days,
            "problems": [{"reason": r, "message": "%s: %s" % (r, cert), "fix": FIX[r]} for r in reasons]}
    item["ok"] = not item["problems"]
    item.update(over)
    return item


def front_result(*items):
    return {"changed": False, "results": list(items), "failed_sites": [i["site"] for i in items if not i["ok"]],
            "msg": "n frontend certificates"}


@pytest.mark.parametrize("data, days_warn, want", [
    # ok: no problem, more days left than the window
    (front_result(front()), 30, ("OK", "ok", 200, "")),
    # expired: the module's own reason, its fix
    (front_result(front(days=-3, reasons=["expired"])), 30, ("FAIL", "expired", -3, SHOWN["expired"])),
    # expiring within the window: the module ran with expiry_days = days_warn and says "expiring"
    (front_result(front(days=12, reasons=["expiring"])), 30,
     ("EXPIRING", "expiring", 12,
      "Renew the frontend certificate /etc/ssl/shop.pem: it expires on 2030-01-01T00:00:00Z (12 days left).")),
    # expiring by the report's window alone (the module ran with a smaller expiry_days)
    (front_result(front(days=20)), 30,
     ("EXPIRING", "expiring", 20,
      "Renew the frontend certificate /etc/ssl/shop.pem: it expires on 2030-01-01T00:00:00Z (20 days left).")),
    (front_result(front(days=30)), 30, ("OK", "ok", 30, "")),
    (front_result(front(days=0)), "1",
     ("EXPIRING", "expiring", 0,
      "Renew the frontend certificate /etc/ssl/shop.pem: it expires on 2030-01-01T00:00:00Z (0 days left).")),
    # a real problem and expiring: FAIL, only the failing reasons and fixes
    (front_result(front(days=5, reasons=["chain_incomplete", "expiring"])), 30,
     ("FAIL", "chain_incomplete", 5, SHOWN["chain_incomplete"])),
    # unreadable file: no dates
    (front_result(front(days=None, not_after=None, reasons=["expired", "chain_incomplete"])), 30,
     ("FAIL", "expired, chain_incomplete", None, SHOWN["expired"] + "; " + SHOWN["chain_incomplete"])),
    # the module did not run (input error, cryptography missing on the proxy): a FAIL row naming the message
    ({"p1": {"failed": True, "msg": "the Python library cryptography (>= 38.0) is needed"}}, 30,
     ("FAIL", "check_failed", None, "Fix what the message names (the sites' tls fields, trust_file, or the Python "
                                    "library cryptography on the proxy) and run again.")),
    # registered with failed_when: false: not failed, but no results either
    ({"failed": False, "msg": "sites: site 'x': tls.certificate_file: required"}, 30,
     ("FAIL", "check_failed", None, "Fix what the message names (the sites' tls fields, trust_file, or the Python "
                                    "library cryptography on the proxy) and run again.")),
    # just the list of results
    ([front(days=-1, reasons=["expired"])], 30, ("FAIL", "expired", -1, SHOWN["expired"])),
])
def test_frontend_rows(data, days_warn, want):
    rows = report.build_frontend_rows(data, days_warn)
    assert len(rows) == 1
    row = rows[0]
    assert (row["verdict"], row["reason"], row["days_left"], row["fix"]) == want
    if row["reason"] != "check_failed":
        assert (row["site"], row["certificate_file"]) == ("shop", "/etc/ssl/shop.pem")
        assert row["not_after"] == (None if want[2] is None else "2030-01-01T00:00:00Z")
    else:
        assert "cryptography" in row["message"] or "tls.certificate_file" in row["message"]


@pytest.mark.parametrize("data, count", [
    (None, 0),
    (front_result(), 0),
    ({"p1": {"skipped": True}, "p2": front_result(front())}, 1),
    ({"p1": front_result(front(), front("blog", cert="/b.pem")), "p2": front_result(front())}, 3),
])
def test_frontend_inputs(data, count):
    assert len(report.build_frontend_rows(data)) == count


@pytest.mark.parametrize("data, error", [
    ("text", "frontend: expected a frontend_certificate result"),
    ({"p1": "x"}, "frontend result of host p1: expected a dict"),
    ({"results": ["x"]}, "expected a dict per site"),
])
def test_frontend_bad_input(data, error):
    with pytest.raises(report.ReportError, match=error):
        report.build_frontend_rows(data)


def test_frontend_order_failures_then_expiring_then_ok():
    rows = report.build_frontend_rows({
        "p2": front_result(front("a"), front("b", days=-1, reasons=["expired"])),
        "p1": front_result(front("c", days=9, reasons=["expiring"]), front("d", days=2, reasons=["expiring"]))}, 30)
    assert [(r["proxy"], r["site"], r["verdict"]) for r in rows] == [
        ("p2", "b", "FAIL"), ("p1", "d", "EXPIRING"), ("p1", "c", "EXPIRING"), ("p2", "a", "OK")]


def test_summary_counts_frontend_certificates_labelled():
    backends = {"p1": result(backend(site="shop"), backend("https://c/", site="blog", days=10))}
    fronts = {"p1": front_result(front("shop", days=-2, reasons=["expired"]), front("blog", days=12, reasons=["expiring"]),
                                 front("docs", cert="/d.pem"))}
    summary = report.summarize(backends, 30, frontend=fronts)
    assert (summary["total"], summary["ok"], summary["failed"], summary["expiring"]) == (5, 2, 1, 2)
    assert summary["backend"] == {"total": 2, "ok": 1, "failed": 0, "expiring": 1}
    assert summary["frontend"] == {"total": 3, "ok": 1, "failed": 1, "expiring": 1}
    assert summary["counts"] == ("2 backends: 1 ok, 0 failed, 1 expiring within 30 days; "
                                 "3 frontend certificates: 1 ok, 1 failed, 1 expiring")
    assert summary["reasons"] == {"frontend expired": 1}
    assert summary["problems"] == ["FAIL frontend [p1] shop /etc/ssl/shop.pem: expired",
                                   "EXPIRING [p1] blog https://c/: 10 days left",
                                   "EXPIRING frontend [p1] blog /etc/ssl/shop.pem: 12 days left"]
    assert summary["msg"] == ("FAIL frontend [p1] shop /etc/ssl/shop.pem: expired. Fix: " + SHOWN["expired"] + " | "
                              + summary["counts"])
    assert summary["sites"] == ["shop on p1: 1 ok, 0 failed, 0 expiring; frontend certificate FAIL (expired)",
                                "blog on p1: 0 ok, 0 failed, 1 expiring; frontend certificate EXPIRING (12 days left)",
                                "docs on p1: 0 ok, 0 failed, 0 expiring; frontend certificate OK (200 days left)"]


def test_summary_without_frontend_is_unchanged():
    data = result(backend(), backend("https://x/", ok=False, reason="expired"))
    plain = report.summarize(data)
    assert "frontend" not in plain["counts"] and plain["frontend"]["total"] == 0
    assert plain["counts"] == "2 backends: 1 ok, 1 failed, 0 expiring within 30 days"
    assert report.render_html(data) == report.render_html(data, frontend=None)
    assert "Frontend" not in report.render_html(data) and "Frontend" not in report.render_markdown(data)
    # an empty frontend input still says so (the check ran, no site has frontend TLS)
    assert report.summarize(data, frontend=front_result())["counts"].endswith(
        "; 0 frontend certificates: 0 ok, 0 failed, 0 expiring")
    assert "No site has frontend TLS." in report.render_markdown(data, frontend=front_result())


def test_html_frontend_table_and_cards():
    page = report.render_html(result(backend()), 30, frontend=front_result(
        front("shop", days=-2, reasons=["expired"]), front("blog", days=12, reasons=["expiring"]), front("docs")))
    assert "<h2>Backends</h2>" in page and "<h2>Frontend certificates</h2>" in page
    assert page.index("<h2>Backends</h2>") < page.index("<h2>Frontend certificates</h2>")
    assert '<b>1</b>failed<small>0 backend, 1 frontend</small>' in page
    assert '<b>1</b>expiring &lt; 30 days<small>0 backend, 1 frontend</small>' in page
    assert '<b>2</b>ok<small>1 backend, 1 frontend</small>' in page
    table = page[page.index('<table class="frontend">'):]
    assert "<th>Certificate</th><th>Verdict</th><th>Reason</th><th>Expires</th><th>Days left</th>" in table
    assert table.index("shop") < table.index("blog") < table.index("docs")
    assert '<td class="num">2030-01-01T00:00:00Z</td><td class="num">-2</td>' in table
    assert '<td class="num">12</td>' in table and SHOWN["expired"] in table


def test_html_frontend_escapes_everything():
    page = report.render_html(result(), 30, frontend={HOSTILE: front_result(front(
        HOSTILE, cert=HOSTILE, subject=HOSTILE, not_after=HOSTILE, days=-1,
        problems=[{"reason": HOSTILE, "message": HOSTILE, "fix": HOSTILE}], ok=False))})
    assert "<script" not in page and 'alert("x")' not in page
    # proxy, site, certificate file, subject, reason, message, not_after, fix
    assert page.count("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;") == 8


def test_markdown_frontend_section():
    text = report.render_markdown({"p1": result(backend())}, 30, frontend={"p1": front_result(
        front("shop", days=12, reasons=["expiring"]), front(HOSTILE, cert=HOSTILE, days=-1, reasons=["expired"]))})
    lines = text.splitlines()
    assert lines.index("## Backends") < lines.index("## Frontend certificates")
    table = lines[lines.index("## Frontend certificates") + 2:]
    assert table[0] == "| Proxy | Site | Certificate | Verdict | Reason | Expires | Days left | Fix |"
    assert table[2].count(" | ") == 7 and "\\<script\\>" in table[2] and "**FAIL**" in table[2]
    assert table[3] == ("| p1 | shop | /etc/ssl/shop.pem | **EXPIRING** | expiring | 2030-01-01T00:00:00Z | 12 | "
                        "Renew the frontend certificate /etc/ssl/shop.pem: it expires on 2030-01-01T00:00:00Z "
                        "\\(12 days left\\). |")


@pytest.mark.parametrize("fmt", ["html", "markdown"])
def test_render_dispatch_passes_frontend(fmt):
    assert "/etc/ssl/shop.pem" in report.render(result(backend()), fmt, frontend=front_result(front()))
