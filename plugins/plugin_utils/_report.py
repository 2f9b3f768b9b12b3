# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this plugin_utils file (controller side) is internal to revproxy.tls; it is not a public API.
"""The backend report: rows, summary, HTML and Markdown from backend_handshake results; Apache log explanations.

Pure functions (no Ansible imports) so that the filter plugins stay thin and the logic is unit-tested. Input is what
the backend_handshake module returns, either one result or a mapping of proxy host -> result. Everything that comes
from the input is escaped in the output (HTML and Markdown).
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
    """The input is not backend_handshake output."""


def _results_by_host(results):
    """Normalise the input to [(proxy host or None, module result)]."""
    if isinstance(results, dict) and "backends" in results:
        return [(None, results)]
    if isinstance(results, dict):
        return sorted(results.items(), key=lambda item: str(item[0]))
    if isinstance(results, list):
        return [(None, {"backends": results})]
    raise ReportError("expected a backend_handshake result, a list of its backends, or a mapping of host to result; "
                      "got %s" % type(results).__name__)


def _days_left(backend):
    cert = backend.get("certificate") or {}
    days = cert.get("days_left")
    if isinstance(days, bool) or days is None:
        return None
    try:
        return int(days)
    except (TypeError, ValueError):
        return None


def build_rows(results, days_warn=DEFAULT_DAYS_WARN):
    """One row per backend check, failures first, then certificates expiring within days_warn, then ok."""
    try:
        days_warn = int(days_warn)
    except (TypeError, ValueError):
        raise ReportError("days_warn: expected an integer, got %r" % (days_warn,))
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


# How many failing backends a summary's msg spells out (with site, backend, reason and fix).
FAILURES_SHOWN = 3


def summarize(results, days_warn=DEFAULT_DAYS_WARN, max_lines=50):
    """Counts and a compact per-site summary (what the job output and set_stats show; never certificates or PEM).
    msg leads with the first failing backends (site, backend, reason, fix) and ends with the counts (`counts`)."""
    rows = build_rows(results, days_warn)
    counts = dict((v.lower(), 0) for v in VERDICTS)
    reasons = {}
    sites = {}
    for row in rows:
        counts[row["verdict"].lower()] += 1
        if row["verdict"] == "FAIL":
            reasons[row["reason"]] = reasons.get(row["reason"], 0) + 1
        key = row["site"] or row["backend"] or "(input)"
        if row["proxy"]:
            key = "%s on %s" % (key, row["proxy"])
        site = sites.setdefault(key, {"ok": 0, "fail": 0, "expiring": 0, "reasons": []})
        site[row["verdict"].lower()] += 1
        if row["verdict"] == "FAIL" and row["reason"] not in site["reasons"]:
            site["reasons"].append(row["reason"])
    lines = []
    for key in sorted(sites, key=lambda k: (-sites[k]["fail"], -sites[k]["expiring"], k)):
        site = sites[key]
        text = "%s: %d ok, %d failed, %d expiring" % (key, site["ok"], site["fail"], site["expiring"])
        if site["reasons"]:
            text += " (%s)" % ", ".join(site["reasons"])
        lines.append(text)
    problems = ["%s%s %s%s: %s" % (r["verdict"], " [%s]" % r["proxy"] if r["proxy"] else "", r["site"] + " " if r["site"] else "",
                                   r["backend"] + (" (Host %s)" % r["host"] if r["host"] else ""),
                                   r["reason"] if r["verdict"] == "FAIL" else "%s days left" % r["days_left"])
                for r in rows if r["verdict"] != "OK"]
    total = len(rows)
    count_text = "%d backend%s: %d ok, %d failed, %d expiring within %d days" % (
        total, "" if total == 1 else "s", counts["ok"], counts["fail"], counts["expiring"], int(days_warn))
    # A failing run's message leads with the failures themselves (site, backend, reason, fix), then the counts.
    failing = [(text, row) for text, row in zip(problems, [r for r in rows if r["verdict"] != "OK"])
               if row["verdict"] == "FAIL"]
    lead = ["%s%s" % (text, ". Fix: %s" % row["fix"] if row["fix"] else "") for text, row in failing[:FAILURES_SHOWN]]
    if len(failing) > FAILURES_SHOWN:
        lead.append("and %d more failed (see the report)" % (len(failing) - FAILURES_SHOWN))
    return {
        "msg": " | ".join(lead + [count_text]),
        "counts": count_text,
        "total": total,
        "ok": counts["ok"],
        "failed": counts["fail"],
        "expiring": counts["expiring"],
        "days_warn": int(days_warn),
        "reasons": reasons,
        "sites": lines[:max_lines] + (["... and %d more sites (see the report)" % (len(lines) - max_lines)]
                                      if len(lines) > max_lines else []),
        "problems": problems[:max_lines] + (["... and %d more (see the report)" % (len(problems) - max_lines)]
                                            if len(problems) > max_lines else []),
    }


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
"""


def _e(value):
    return html.escape("" if value is None else str(value), quote=True)


def render_html(results, days_warn=DEFAULT_DAYS_WARN, title="Backend TLS report", generated=None):
    """A self-contained HTML page (inline CSS, no scripts, no external resources)."""
    rows = build_rows(results, days_warn)
    summary = summarize(results, days_warn)
    show_proxy = any(r["proxy"] for r in rows)
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
        '<div class="card fail"><b>%d</b>failed</div>' % summary["failed"],
        '<div class="card expiring"><b>%d</b>expiring &lt; %d days</div>' % (summary["expiring"], summary["days_warn"]),
        '<div class="card ok"><b>%d</b>ok</div>' % summary["ok"],
        "</div>",
    ]
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
    out.append("</body></html>")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------------------------------
# Markdown

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~])")


def md_escape(value):
    """Escape text for a Markdown table cell (no markup, no HTML, no line breaks)."""
    text = "" if value is None else str(value)
    text = re.sub(r"[\r\n\t]+", " ", text)
    return _MD_SPECIAL.sub(r"\\\1", text)


def render_markdown(results, days_warn=DEFAULT_DAYS_WARN, title="Backend TLS report", generated=None):
    rows = build_rows(results, days_warn)
    summary = summarize(results, days_warn)
    show_proxy = any(r["proxy"] for r in rows)
    out = ["# %s" % md_escape(title), "",
           md_escape(summary["counts"]) + (" (generated %s)" % md_escape(generated) if generated else ""), ""]
    if not rows:
        out.append("No TLS backends were checked.")
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
    return "\n".join(out) + "\n"


def render(results, fmt="html", days_warn=DEFAULT_DAYS_WARN, title="Backend TLS report", generated=None):
    if fmt == "html":
        return render_html(results, days_warn, title, generated)
    if fmt in ("markdown", "md"):
        return render_markdown(results, days_warn, title, generated)
    raise ReportError("format: expected html or markdown, got %r" % (fmt,))


# ---------------------------------------------------------------------------------------------------------------
# Apache error-log lines -> meaning: one place, _errorlog (shared with the role's probe and the diagnose playbook).
ah_index = _errorlog.ah_index
explain_log_lines = _errorlog.explain_lines
