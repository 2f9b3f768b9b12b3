# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this plugin_utils file (controller side) is internal to revproxy.tls; it is not a public API.
"""The backend report: rows, summary, HTML and Markdown from backend_handshake results; error-log explanations.

Pure functions (no Ansible imports) so that the filter plugins stay thin and the logic is unit-tested. Input is what
the backend_handshake module returns, either one result or a mapping of proxy host -> result; optionally (frontend=)
what the frontend_certificate module returns, in the same shapes, for the sites' frontend certificates. Everything
that comes from the input is escaped in the output (HTML and Markdown).

Why one file: the HTML and the Markdown renderings of one report sit side by side, so that a change to
what the report says is made to both in one place.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import html
import re

from ansible_collections.revproxy.tls.plugins.module_utils.apache import _errorlog

VERDICTS = ("FAIL", "EXPIRING", "OK")
_VERDICT_ORDER = dict((v, i) for i, v in enumerate(VERDICTS))
DEFAULT_DAYS_WARN = 30


class ReportError(ValueError):
    """The input is not backend_handshake (or frontend_certificate) output."""


def _by_host(value, result_keys, list_key, what):
    """Normalise one module's output to [(proxy host or None, module result)]: one result (a dict with any of
    result_keys), a bare list of its list_key entries, or a mapping of proxy host to result."""
    if isinstance(value, dict) and any(key in value for key in result_keys):
        return [(None, value)]
    if isinstance(value, dict):
        return sorted(value.items(), key=lambda item: str(item[0]))
    if isinstance(value, list):
        return [(None, {list_key: value})]
    raise ReportError("%sexpected a %s result, a list of its %s, or a mapping of host to result; got %s"
                      % (what[0], what[1], list_key, type(value).__name__))


def _results_by_host(results):
    return _by_host(results, ("backends",), "backends", ("", "backend_handshake"))


def _days_left(backend):
    cert = backend.get("certificate") or {}
    days = cert.get("days_left")
    if isinstance(days, bool) or days is None:
        return None
    try:
        return int(days)
    except (TypeError, ValueError):
        return None


def _warn_days(days_warn):
    try:
        return int(days_warn)
    except (TypeError, ValueError):
        raise ReportError("days_warn: expected an integer, got %r" % (days_warn,))


def build_rows(results, days_warn=DEFAULT_DAYS_WARN):
    """One row per backend check, failures first, then certificates expiring within days_warn, then ok."""
    days_warn = _warn_days(days_warn)
    rows = []
    for host, res in _results_by_host(results):
        if not isinstance(res, dict):
            raise ReportError("result of host %s: expected a dict, got %s" % (host, type(res).__name__))
        if res.get("skipped"):
            continue
        backends = res.get("backends")
        if backends is None:
            rows.append({
                "proxy": host, "site": "", "path": "", "backend": "", "host": None, "verdict": "FAIL",
                "reason": "check_failed", "message": str(res.get("msg") or "the check did not run"),
                "days_left": None, "not_after": None, "fix": "Fix the input named in the message and run again.",
                "insecure_workaround": None,
            })
            continue
        for backend in backends:
            days = _days_left(backend)
            cert = backend.get("certificate") or {}
            if not backend.get("ok"):
                verdict = "FAIL"
                fix = backend.get("fix") or ""
            elif days is not None and days < days_warn:
                verdict = "EXPIRING"
                fix = "Renew the backend certificate %s: it expires on %s (%d days left)." % (
                    cert.get("subject") or "", cert.get("not_after") or "?", days)
            else:
                verdict = "OK"
                fix = ""
            rows.append({
                "proxy": host,
                "site": backend.get("site") or "",
                "path": backend.get("path") or "",
                "backend": backend.get("url") or "",
                "host": backend.get("host"),
                "verdict": verdict,
                "reason": backend.get("reason") or "",
                "message": backend.get("message") or "",
                "days_left": days,
                "not_after": cert.get("not_after"),
                "fix": fix,
                "insecure_workaround": backend.get("insecure_workaround") if verdict == "FAIL" else None,
            })
    rows.sort(key=lambda r: (_VERDICT_ORDER[r["verdict"]], r["days_left"] if r["days_left"] is not None else 1 << 30,
                             str(r["proxy"] or ""), r["site"], r["backend"], r["path"], str(r["host"] or "")))
    return rows


# Keys by which one frontend_certificate result is told from a mapping of proxy host -> result.
_FRONT_RESULT_KEYS = ("results", "failed_sites", "failed", "skipped", "msg")


def _front_results_by_host(frontend):
    return _by_host(frontend, _FRONT_RESULT_KEYS, "results", ("frontend: ", "frontend_certificate"))


def _unique(values):
    out = []
    for value in values:
        if value and value not in out:
            out.append(value)
    return out


def _sentence(text):
    """The module's fixes follow "Fix: " in its own messages; in the report each starts a sentence."""
    text = str(text or "")
    return text[:1].upper() + text[1:]


def build_frontend_rows(frontend, days_warn=DEFAULT_DAYS_WARN):
    """One row per site's frontend certificate (frontend_certificate results): failures first, then certificates
    expiring within days_warn, then ok. A result whose only problem is "expiring" (the module ran with expiry_days)
    or with fewer than days_warn days left is EXPIRING; any other problem is FAIL; a module that did not run is a
    FAIL row with reason check_failed. None: no rows."""
    days_warn = _warn_days(days_warn)
    if frontend is None:
        return []
    rows = []
    for host, res in _front_results_by_host(frontend):
        if not isinstance(res, dict):
            raise ReportError("frontend result of host %s: expected a dict, got %s" % (host, type(res).__name__))
        if res.get("skipped"):
            continue
        results = res.get("results")
        if not isinstance(results, list):
            rows.append({
                "proxy": host, "site": "", "certificate_file": "", "subject": None, "verdict": "FAIL",
                "reason": "check_failed", "message": str(res.get("msg") or "the frontend certificate check did not run"),
                "days_left": None, "not_after": None,
                "fix": "Fix what the message names (the sites' tls fields, trust_file, or the Python library "
                       "cryptography on the proxy) and run again.",
            })
            continue
        for item in results:
            if not isinstance(item, dict):
                raise ReportError("frontend result of host %s: expected a dict per site, got %s"
                                  % (host, type(item).__name__))
            days = _days_left({"certificate": item})
            problems = [p for p in (item.get("problems") or []) if isinstance(p, dict)]
            failing = [p for p in problems if p.get("reason") != "expiring"]
            cert_file = item.get("certificate_file") or ""
            if failing or (item.get("ok") is False and not problems):
                verdict = "FAIL"
                reason = ", ".join(_unique(str(p.get("reason") or "") for p in failing)) or "not_ok"
                message = "; ".join(_unique(str(p.get("message") or "") for p in failing))
                fix = "; ".join(_unique(_sentence(p.get("fix")) for p in failing))
            elif problems or (days is not None and days < days_warn):
                verdict = "EXPIRING"
                reason = "expiring"
                message = "; ".join(_unique(str(p.get("message") or "") for p in problems)) or (
                    "the certificate %s expires on %s" % (cert_file, item.get("not_after") or "?"))
                fix = "Renew the frontend certificate %s: it expires on %s (%s days left)." % (
                    cert_file, item.get("not_after") or "?", "?" if days is None else days)
            else:
                verdict, reason, message, fix = "OK", "ok", "", ""
            rows.append({
                "proxy": host,
                "site": str(item.get("site") or ""),
                "certificate_file": cert_file,
                "subject": item.get("subject"),
                "verdict": verdict,
                "reason": reason,
                "message": message,
                "days_left": days,
                "not_after": item.get("not_after"),
                "fix": fix,
            })
    rows.sort(key=lambda r: (_VERDICT_ORDER[r["verdict"]], r["days_left"] if r["days_left"] is not None else 1 << 30,
                             str(r["proxy"] or ""), r["site"], r["certificate_file"]))
    return rows


# How many failing backends a summary's msg spells out (with site, backend, reason and fix).
FAILURES_SHOWN = 3


def _kind_counts(rows):
    counts = dict((v.lower(), 0) for v in VERDICTS)
    for row in rows:
        counts[row["verdict"].lower()] += 1
    return {"total": len(rows), "ok": counts["ok"], "failed": counts["fail"], "expiring": counts["expiring"]}


def _front_problem(row):
    return "%s frontend%s %s%s: %s" % (
        row["verdict"], " [%s]" % row["proxy"] if row["proxy"] else "", row["site"] + " " if row["site"] else "",
        row["certificate_file"] or "(check)",
        row["reason"] if row["verdict"] == "FAIL" else "%s days left" % row["days_left"])


def summarize(results, days_warn=DEFAULT_DAYS_WARN, max_lines=50, frontend=None):
    """Counts and a compact per-site summary (what the job output and set_stats show; never certificates or PEM).
    msg leads with the first failures (site, backend or frontend certificate, reason, fix) and ends with the counts
    (`counts`). With frontend (frontend_certificate results), total/ok/failed/expiring count the frontend
    certificates too; `backend` and `frontend` hold each kind's own counts."""
    rows = build_rows(results, days_warn)
    front_rows = build_frontend_rows(frontend, days_warn)
    reasons, sites = _by_site(rows, front_rows)
    lines = _site_lines(sites)
    problem_rows, problems = _problems(rows, front_rows)
    back, front = _kind_counts(rows), _kind_counts(front_rows)
    total = back["total"]
    count_text = "%d backend%s: %d ok, %d failed, %d expiring within %d days" % (
        total, "" if total == 1 else "s", back["ok"], back["failed"], back["expiring"], int(days_warn))
    if frontend is not None:
        count_text += "; %d frontend certificate%s: %d ok, %d failed, %d expiring" % (
            front["total"], "" if front["total"] == 1 else "s", front["ok"], front["failed"], front["expiring"])
    # A failing run's message leads with the failures themselves (site, backend, reason, fix), then the counts.
    failing = [(text, row) for text, (_kind, row) in zip(problems, problem_rows) if row["verdict"] == "FAIL"]
    lead = ["%s%s" % (text, ". Fix: %s" % row["fix"] if row["fix"] else "") for text, row in failing[:FAILURES_SHOWN]]
    if len(failing) > FAILURES_SHOWN:
        lead.append("and %d more failed (see the report)" % (len(failing) - FAILURES_SHOWN))
    return {
        "msg": " | ".join(lead + [count_text]),
        "counts": count_text,
        "total": back["total"] + front["total"],
        "ok": back["ok"] + front["ok"],
        "failed": back["failed"] + front["failed"],
        "expiring": back["expiring"] + front["expiring"],
        "backend": back,
        "frontend": front,
        "days_warn": int(days_warn),
        "reasons": reasons,
        "sites": lines[:max_lines] + (["... and %d more sites (see the report)" % (len(lines) - max_lines)]
                                      if len(lines) > max_lines else []),
        "problems": problems[:max_lines] + (["... and %d more (see the report)" % (len(problems) - max_lines)]
                                            if len(problems) > max_lines else []),
    }


def _by_site(rows, front_rows):
    """(failing reason -> count, site key -> its counts, failing reasons and frontend row): the backends' rows
    counted per site (and proxy), each site's frontend certificate row attached."""
    reasons = {}
    sites = {}
    for row in rows:
        if row["verdict"] == "FAIL":
            reasons[row["reason"]] = reasons.get(row["reason"], 0) + 1
        key = row["site"] or row["backend"] or "(input)"
        if row["proxy"]:
            key = "%s on %s" % (key, row["proxy"])
        site = sites.setdefault(key, {"ok": 0, "fail": 0, "expiring": 0, "reasons": [], "frontend": None})
        site[row["verdict"].lower()] += 1
        if row["verdict"] == "FAIL" and row["reason"] not in site["reasons"]:
            site["reasons"].append(row["reason"])
    for row in front_rows:
        if row["verdict"] == "FAIL":
            for reason in row["reason"].split(", "):
                key = "frontend " + reason
                reasons[key] = reasons.get(key, 0) + 1
        key = row["site"] or "(frontend input)"
        if row["proxy"]:
            key = "%s on %s" % (key, row["proxy"])
        site = sites.setdefault(key, {"ok": 0, "fail": 0, "expiring": 0, "reasons": [], "frontend": None})
        site["frontend"] = row
    return reasons, sites


def _site_lines(sites):
    """One line per site, the sites with the most failures (then expiring certificates) first."""
    def weight(key):
        front = sites[key]["frontend"]
        return (-(sites[key]["fail"] + (front is not None and front["verdict"] == "FAIL")),
                -(sites[key]["expiring"] + (front is not None and front["verdict"] == "EXPIRING")), key)
    lines = []
    for key in sorted(sites, key=weight):
        site = sites[key]
        text = "%s: %d ok, %d failed, %d expiring" % (key, site["ok"], site["fail"], site["expiring"])
        if site["reasons"]:
            text += " (%s)" % ", ".join(site["reasons"])
        front = site["frontend"]
        if front is not None:
            text += "; frontend certificate %s" % front["verdict"]
            if front["verdict"] == "FAIL":
                text += " (%s)" % front["reason"]
            elif front["days_left"] is not None:
                text += " (%d days left)" % front["days_left"]
        lines.append(text)
    return lines


def _problems(rows, front_rows):
    """([(kind, row)], [line]) of every row that is not OK, failures first (stable: backends before frontends)."""
    problem_rows = [("backend", r) for r in rows if r["verdict"] != "OK"] + [
        ("frontend", r) for r in front_rows if r["verdict"] != "OK"]
    problem_rows.sort(key=lambda item: _VERDICT_ORDER[item[1]["verdict"]])

    def problem(kind, r):
        if kind == "frontend":
            return _front_problem(r)
        return "%s%s %s%s: %s" % (r["verdict"], " [%s]" % r["proxy"] if r["proxy"] else "", r["site"] + " " if r["site"] else "",
                                  r["backend"] + (" (Host %s)" % r["host"] if r["host"] else ""),
                                  r["reason"] if r["verdict"] == "FAIL" else "%s days left" % r["days_left"])
    return problem_rows, [problem(kind, r) for kind, r in problem_rows]


# ---------------------------------------------------------------------------------------------------------------
# HTML

_CSS = """
:root { color-scheme: light; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif; margin: 24px;
       color: #1d2327; background: #f6f7f9; }
h1 { font-size: 22px; margin: 0 0 4px; }
.meta { color: #555; margin: 0 0 16px; }
.cards { display: flex; gap: 12px; flex-wrap: wrap; margin: 0 0 18px; }
.card { background: #fff; border: 1px solid #dcdfe4; border-radius: 8px; padding: 10px 16px; min-width: 110px; }
.card b { display: block; font-size: 26px; }
.card.fail b { color: #b42318; } .card.expiring b { color: #a15c00; } .card.ok b { color: #067647; }
table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid #dcdfe4; }
th, td { text-align: left; vertical-align: top; padding: 8px 10px; border-bottom: 1px solid #e6e8eb; }
th { background: #eef0f3; position: sticky; top: 0; white-space: nowrap; font-size: 13px; text-transform: uppercase; letter-spacing: .03em; }
tr.fail { background: #fef3f2; } tr.expiring { background: #fffaeb; }
td.backend { min-width: 14em; overflow-wrap: anywhere; } td.reason code { overflow-wrap: anywhere; }
td.num { text-align: right; white-space: nowrap; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-weight: 600; font-size: 12px; color: #fff; }
.badge.FAIL { background: #b42318; } .badge.EXPIRING { background: #a15c00; } .badge.OK { background: #067647; }
.msg { color: #444; font-size: 13px; margin-top: 3px; }
.insecure { color: #7a271a; font-size: 12px; margin-top: 4px; }
code { font: 13px ui-monospace, "DejaVu Sans Mono", monospace; }
.empty { padding: 16px; background: #fff; border: 1px solid #dcdfe4; }
.card small { display: block; color: #555; font-size: 12px; }
h2 { font-size: 17px; margin: 22px 0 8px; }
"""


# Characters that change how text reads without showing: C0/C1 controls (line breaks are turned into spaces first),
# zero-width characters and bidirectional overrides/isolates (a subject can reorder what the report shows). Each is
# shown as [U+XXXX] in both formats.
_INVISIBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e"
                        "\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]")


def _visible(value):
    """The text of a value with every invisible or reordering character shown as [U+XXXX]."""
    text = "" if value is None else str(value)
    return _INVISIBLE.sub(lambda m: "[U+%04X]" % ord(m.group(0)), text)


def _e(value):
    return html.escape(_visible(value), quote=True)


def _card_split(summary, key, shown):
    """'<small>2 backend, 1 frontend</small>' under a card when the report has frontend certificates."""
    if not shown:
        return ""
    return "<small>%d backend, %d frontend</small>" % (summary["backend"][key], summary["frontend"][key])


def _frontend_html(front_rows, show_proxy):
    out = ["<h2>Frontend certificates</h2>"]
    if not front_rows:
        out.append('<p class="empty">No site has frontend TLS.</p>')
        return out
    heads = (["Proxy"] if show_proxy else []) + ["Site", "Certificate", "Verdict", "Reason", "Expires", "Days left",
                                                 "Fix"]
    out.append('<table class="frontend"><thead><tr>%s</tr></thead><tbody>' % "".join("<th>%s</th>" % h for h in heads))
    for row in front_rows:
        cells = ["<td>%s</td>" % _e(row["proxy"])] if show_proxy else []
        cells.append("<td>%s</td>" % _e(row["site"]))
        cert = "<code>%s</code>" % _e(row["certificate_file"])
        if row["subject"]:
            cert += '<div class="msg">%s</div>' % _e(row["subject"])
        cells.append('<td class="backend">%s</td>' % cert)
        cells.append('<td><span class="badge %s">%s</span></td>' % (row["verdict"], row["verdict"]))
        cells.append('<td class="reason"><code>%s</code><div class="msg">%s</div></td>'
                     % (_e(row["reason"]), _e(row["message"])))
        cells.append('<td class="num">%s</td>' % _e(row["not_after"] or ""))
        cells.append('<td class="num">%s</td>' % ("" if row["days_left"] is None else row["days_left"]))
        cells.append("<td>%s</td>" % _e(row["fix"]))
        out.append('<tr class="%s">%s</tr>' % (row["verdict"].lower(), "".join(cells)))
    out.append("</tbody></table>")
    return out


def render_html(results, days_warn=DEFAULT_DAYS_WARN, title="Backend TLS report", generated=None, frontend=None):
    """A self-contained HTML page (inline CSS, no scripts, no external resources). With frontend
    (frontend_certificate results), a second table lists each site's frontend certificate."""
    rows = build_rows(results, days_warn)
    front_rows = build_frontend_rows(frontend, days_warn)
    summary = summarize(results, days_warn, frontend=frontend)
    show_front = frontend is not None
    show_proxy = any(r["proxy"] for r in rows + front_rows)
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        "<title>%s</title>" % _e(title),
        "<style>%s</style></head><body>" % _CSS,
        "<h1>%s</h1>" % _e(title),
        '<p class="meta">%s%s</p>' % (_e(summary["counts"]), " &middot; generated %s" % _e(generated) if generated else ""),
        '<div class="cards">',
        '<div class="card fail"><b>%d</b>failed%s</div>' % (summary["failed"], _card_split(summary, "failed", show_front)),
        '<div class="card expiring"><b>%d</b>expiring &lt; %d days%s</div>' % (
            summary["expiring"], summary["days_warn"], _card_split(summary, "expiring", show_front)),
        '<div class="card ok"><b>%d</b>ok%s</div>' % (summary["ok"], _card_split(summary, "ok", show_front)),
        "</div>",
    ]
    if show_front:
        out.append("<h2>Backends</h2>")
    if not rows:
        out.append('<p class="empty">No TLS backends were checked.</p>')
    else:
        heads = (["Proxy"] if show_proxy else []) + ["Site", "Backend", "Verdict", "Reason", "Days left", "Fix"]
        out.append("<table><thead><tr>%s</tr></thead><tbody>" % "".join("<th>%s</th>" % h for h in heads))
        for row in rows:
            cells = []
            if show_proxy:
                cells.append("<td>%s</td>" % _e(row["proxy"]))
            site = _e(row["site"]) + ("<div class=\"msg\">%s</div>" % _e(row["path"]) if row["path"] else "")
            cells.append("<td>%s</td>" % site)
            backend = "<code>%s</code>" % _e(row["backend"])
            if row["host"]:
                backend += '<div class="msg">Host %s</div>' % _e(row["host"])
            cells.append('<td class="backend">%s</td>' % backend)
            cells.append('<td><span class="badge %s">%s</span></td>' % (row["verdict"], row["verdict"]))
            cells.append('<td class="reason"><code>%s</code><div class="msg">%s</div></td>'
                         % (_e(row["reason"]), _e(row["message"])))
            days = "" if row["days_left"] is None else str(row["days_left"])
            cells.append('<td class="num" title="%s">%s</td>' % (_e(row["not_after"] or ""), days))
            fix = _e(row["fix"])
            if row["insecure_workaround"]:
                fix += '<div class="insecure">%s</div>' % _e(row["insecure_workaround"])
            cells.append("<td>%s</td>" % fix)
            out.append('<tr class="%s">%s</tr>' % (row["verdict"].lower(), "".join(cells)))
        out.append("</tbody></table>")
    if show_front:
        out.extend(_frontend_html(front_rows, show_proxy))
    out.append("</body></html>")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------------------------------
# Markdown

# Every ASCII character with a meaning somewhere in CommonMark/GFM inline text: emphasis, code, links and images,
# raw HTML, entities (&), tables (|), strikethrough (~), GitHub's math ($); a backslash makes each literal.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~&$])")
# What GFM's autolink extension turns into a link without any markup: a scheme URL (http://, https://, ftp://), a
# www. domain, an e-mail address (also mailto:/xmpp:). GitHub's renderer (cmark-gfm) finds e-mail addresses after
# parsing, in the decoded text, so neither a backslash nor an entity such as &#64; stops one; a code span does (no
# autolink is ever made inside code, in any CommonMark renderer). A word holding one of these is shown as code.
_AUTOLINK_RISK = re.compile(r"(?i)://|@|www\.|(?:mailto|xmpp):")
_WORD = re.compile(r"\S+")


def _code_span(text, in_table):
    """text as a CommonMark code span: literal (no markup, no HTML, no entity, no autolink)."""
    runs = re.findall(r"`+", text)
    fence = "`" * (max(len(run) for run in runs) + 1 if runs else 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    if in_table:
        text = text.replace("|", "\\|")  # GFM splits a row on every unescaped |, code spans included
    return fence + pad + text + pad + fence


def md_escape(value, in_table=True):
    """Escape text for a Markdown table cell (in_table=False: a heading or a paragraph): no markup, no HTML, no
    entity, no line breaks, no autolink (a word with a URL, www. name or e-mail address is shown as code), and no
    invisible or reordering character (shown as [U+XXXX])."""
    text = _visible(re.sub(r"[\r\n\t\f\v]+", " ", "" if value is None else str(value)))
    out, pos = [], 0
    for word in _WORD.finditer(text):
        out.append(text[pos:word.start()])
        token = word.group(0)
        out.append(_code_span(token, in_table) if _AUTOLINK_RISK.search(token) else _MD_SPECIAL.sub(r"\\\1", token))
        pos = word.end()
    out.append(text[pos:])
    return "".join(out)


def _frontend_markdown(front_rows, show_proxy):
    out = ["", "## Frontend certificates", ""]
    if not front_rows:
        out.append("No site has frontend TLS.")
        return out
    heads = (["Proxy"] if show_proxy else []) + ["Site", "Certificate", "Verdict", "Reason", "Expires", "Days left",
                                                 "Fix"]
    out.append("| %s |" % " | ".join(heads))
    out.append("|%s|" % "|".join("---" for _h in heads))
    for row in front_rows:
        cells = ([md_escape(row["proxy"])] if show_proxy else []) + [
            md_escape(row["site"]), md_escape(row["certificate_file"]), "**%s**" % row["verdict"],
            md_escape(row["reason"]), md_escape(row["not_after"] or ""),
            "" if row["days_left"] is None else str(row["days_left"]), md_escape(row["fix"]),
        ]
        out.append("| %s |" % " | ".join(cells))
    return out


def render_markdown(results, days_warn=DEFAULT_DAYS_WARN, title="Backend TLS report", generated=None, frontend=None):
    """The report as Markdown; with frontend, a "Frontend certificates" section after the backends."""
    rows = build_rows(results, days_warn)
    front_rows = build_frontend_rows(frontend, days_warn)
    summary = summarize(results, days_warn, frontend=frontend)
    show_front = frontend is not None
    show_proxy = any(r["proxy"] for r in rows + front_rows)
    out = ["# %s" % md_escape(title, in_table=False), "",
           md_escape(summary["counts"], in_table=False)
           + (" (generated %s)" % md_escape(generated, in_table=False) if generated else ""), ""]
    if show_front:
        out += ["## Backends", ""]
    if not rows:
        out.append("No TLS backends were checked.")
        if show_front:
            out.extend(_frontend_markdown(front_rows, show_proxy))
        return "\n".join(out) + "\n"
    heads = (["Proxy"] if show_proxy else []) + ["Site", "Backend", "Verdict", "Reason", "Days left", "Fix"]
    out.append("| %s |" % " | ".join(heads))
    out.append("|%s|" % "|".join("---" for _h in heads))
    for row in rows:
        site = row["site"] + (" " + row["path"] if row["path"] else "")
        backend = row["backend"] + (" (Host %s)" % row["host"] if row["host"] else "")
        cells = ([md_escape(row["proxy"])] if show_proxy else []) + [
            md_escape(site), md_escape(backend), "**%s**" % row["verdict"], md_escape(row["reason"]),
            "" if row["days_left"] is None else str(row["days_left"]), md_escape(row["fix"]),
        ]
        out.append("| %s |" % " | ".join(cells))
    if show_front:
        out.extend(_frontend_markdown(front_rows, show_proxy))
    return "\n".join(out) + "\n"


def render(results, fmt="html", days_warn=DEFAULT_DAYS_WARN, title="Backend TLS report", generated=None, frontend=None):
    if fmt == "html":
        return render_html(results, days_warn, title, generated, frontend)
    if fmt in ("markdown", "md"):
        return render_markdown(results, days_warn, title, generated, frontend)
    raise ReportError("format: expected html or markdown, got %r" % (fmt,))


# ---------------------------------------------------------------------------------------------------------------
# Error-log lines -> meaning: one place, apache/_errorlog (shared with the role's probe and the diagnose playbook).
ah_index = _errorlog.ah_index
explain_log_lines = _errorlog.explain_lines
