# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this plugin_utils file is internal to revproxy.tls; it is not a public API.
"""The audit report (controller side): apache_proxy_audit results as HTML or Markdown, the insecure backends first.

One row per backend and name checked: its vhost and route (file:line), what the current settings accept and their
verdict, the verdict with secure settings, the CA to trust and the fix. Then each vhost's proposed apache_proxy_sites
entry (as JSON, which is YAML), and what the audit did not evaluate (problems). Escaping is _report's: every value goes
through its HTML escape or md_escape, so a hostile ServerName or path shows as text.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

from ansible_collections.revproxy.tls.plugins.plugin_utils._report import _CSS, _e, md_escape

VERDICTS = ("INSECURE", "FAIL", "OK")
_RESULT_KEYS = ("backends", "vhosts", "problems", "summary")


class AuditReportError(ValueError):
    """The input is not apache_proxy_audit results."""


def _by_host(results):
    """{proxy: result}: one registered result (proxy ''), or a dict of them by inventory host."""
    if not isinstance(results, dict):
        raise AuditReportError("expected the registered result of apache_proxy_audit, or a dict of them by host, "
                               "got %s" % type(results).__name__)
    if "backends" in results:
        return {"": results}
    out = {}
    for host, value in results.items():
        if isinstance(value, dict) and "backends" in value:
            out[str(host)] = value
    return out


def _verdict(b):
    if b.get("insecure"):
        return "INSECURE"
    return "OK" if (b.get("current") or {}).get("ok") else "FAIL"


def build_rows(results):
    rows = []
    for proxy, res in sorted(_by_host(results).items()):
        for b in res.get("backends") or []:
            cur, sec, route = b.get("current") or {}, b.get("secure") or {}, b.get("route") or {}
            decisive = ["%s %s (%s)" % (d.get("directive"), d.get("value"), "%s:%s" % (d.get("file"), d.get("line"))
                                        if d.get("file") else "default")
                        for d in b.get("directives") or [] if d.get("backend_tls")]
            rows.append({
                "proxy": proxy, "verdict": _verdict(b), "vhost": b.get("vhost"),
                "route": "%s %s (%s:%s)" % (route.get("kind"), route.get("path"), route.get("file"), route.get("line")),
                "backend": b.get("url", "") + (" (Host %s)" % b["host"] if b.get("host") else ""),
                "accepts": b.get("accepts"), "insecure": "; ".join(b.get("insecure_settings") or []),
                "now": "%s%s" % (cur.get("reason"), "" if cur.get("ok") else ": %s" % cur.get("message", "")),
                "secure": "%s%s" % (sec.get("reason"), "" if sec.get("ok") else ": %s" % sec.get("message", "")),
                "secure_ok": bool(sec.get("ok")), "trust": sec.get("trust"),
                "fix": sec.get("fix") if not sec.get("ok") else "use the proposed site (verification on)",
                "directives": decisive,
            })
    rows.sort(key=lambda r: (VERDICTS.index(r["verdict"]), r["proxy"], r["vhost"] or ""))
    return rows


def counts(results):
    total = dict((k, 0) for k in ("backends", "insecure", "failing_now", "secure_ok", "problems"))
    for res in _by_host(results).values():
        for key in total:
            total[key] += int((res.get("summary") or {}).get(key) or 0)
    total["msg"] = ("%(backends)d HTTPS backends audited: %(insecure)d with insecure settings, %(failing_now)d "
                    "failing now, %(secure_ok)d pass with secure settings; %(problems)d problems" % total)
    return total


def _proposals(results):
    for proxy, res in sorted(_by_host(results).items()):
        for v in res.get("vhosts") or []:
            if v.get("proposal"):
                yield proxy, v


def _problems(results):
    for proxy, res in sorted(_by_host(results).items()):
        for p in res.get("problems") or []:
            yield proxy, p


def render_html(results, title="Audit of the hand-written vhosts", generated=None):
    rows = build_rows(results)
    total = counts(results)
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">', "<title>%s</title>" % _e(title),
           "<style>%s</style></head><body>" % _CSS, "<h1>%s</h1>" % _e(title),
           '<p class="meta">%s%s</p>' % (_e(total["msg"]), " (generated %s)" % _e(generated) if generated else "")]
    heads = ["Proxy", "Vhost", "Route", "Backend", "Verdict", "Accepts now", "With secure settings", "Trust / fix"]
    out.append("<h2>Backends</h2>")
    if not rows:
        out.append('<p class="empty">No HTTPS backend was found in the hand-written vhosts.</p>')
    else:
        out.append("<table><thead><tr>%s</tr></thead><tbody>" % "".join("<th>%s</th>" % h for h in heads))
        for r in rows:
            cls = {"INSECURE": "fail", "FAIL": "expiring", "OK": ""}[r["verdict"]]
            badge = {"INSECURE": "FAIL", "FAIL": "EXPIRING", "OK": "OK"}[r["verdict"]]
            out.append('<tr class="%s"><td>%s</td><td>%s</td><td><code>%s</code><div class="msg">%s</div></td>'
                       '<td class="backend"><code>%s</code></td><td><span class="badge %s">%s</span></td>'
                       '<td>%s<div class="msg">%s</div>%s</td><td class="reason"><code>%s</code></td>'
                       "<td>%s<div class=\"msg\">%s</div></td></tr>"
                       % (cls, _e(r["proxy"]), _e(r["vhost"]), _e(r["route"]), _e("; ".join(r["directives"])),
                          _e(r["backend"]), badge, r["verdict"], _e(r["accepts"]), _e(r["now"]),
                          '<div class="insecure">%s</div>' % _e(r["insecure"]) if r["insecure"] else "",
                          _e(r["secure"]), _e(r["trust"]), _e(r["fix"])))
        out.append("</tbody></table>")
    out.append("<h2>Proposed sites</h2>")
    for proxy, v in _proposals(results):
        p = v["proposal"]
        state = "ready" if p.get("valid") and p.get("secure_ok") else "needs work"
        out.append("<h3>%s %s: %s</h3>" % (_e(proxy), _e(v.get("vhost")), _e(state)))
        notes = list(p.get("not_carried") or []) + ([p["error"]] if p.get("error") else [])
        if notes:
            out.append("<ul>%s</ul>" % "".join("<li>%s</li>" % _e(n) for n in notes))
        out.append("<pre><code>%s</code></pre>" % _e(json.dumps(p.get("site"), indent=2, sort_keys=True)))
    out.append("<h2>Not evaluated</h2>")
    problems = list(_problems(results))
    if not problems:
        out.append('<p class="empty">Nothing: every file was read and understood.</p>')
    else:
        out.append("<ul>%s</ul>" % "".join("<li><code>%s:%s</code> %s: %s</li>" % (
            _e(p.get("file")), _e(p.get("line") or ""), _e(p.get("kind")), _e(p.get("message")))
            for _proxy, p in problems))
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _fence(text):
    runs = re.findall(r"`+", text)
    return "`" * max(3, (max(len(r) for r in runs) + 1) if runs else 3)


def render_markdown(results, title="Audit of the hand-written vhosts", generated=None):
    rows = build_rows(results)
    total = counts(results)
    out = ["# %s" % md_escape(title, in_table=False), "", md_escape(total["msg"], in_table=False)
           + (" (generated %s)" % md_escape(generated, in_table=False) if generated else ""), "", "## Backends", ""]
    if not rows:
        out.append("No HTTPS backend was found in the hand-written vhosts.")
    else:
        heads = ["Proxy", "Vhost", "Route", "Backend", "Verdict", "Accepts now", "With secure settings", "Trust / fix"]
        out.append("| %s |" % " | ".join(heads))
        out.append("|%s|" % "|".join("---" for _h in heads))
        for r in rows:
            out.append("| %s |" % " | ".join([
                md_escape(r["proxy"]), md_escape(r["vhost"]), md_escape(r["route"]), md_escape(r["backend"]),
                "**%s**" % r["verdict"],
                md_escape("%s. %s%s" % (r["accepts"], r["now"], (". " + r["insecure"]) if r["insecure"] else "")),
                md_escape(r["secure"]), md_escape("%s. %s" % (r["trust"], r["fix"]))]))
    out += ["", "## Proposed sites", ""]
    for proxy, v in _proposals(results):
        p = v["proposal"]
        state = "ready" if p.get("valid") and p.get("secure_ok") else "needs work"
        out.append("### %s" % md_escape("%s %s: %s" % (proxy, v.get("vhost"), state), in_table=False))
        out.append("")
        for note in list(p.get("not_carried") or []) + ([p["error"]] if p.get("error") else []):
            out.append("- %s" % md_escape(note, in_table=False))
        body = json.dumps(p.get("site"), indent=2, sort_keys=True)
        fence = _fence(body)
        out += ["", fence + "json", body, fence, ""]
    out += ["## Not evaluated", ""]
    problems = list(_problems(results))
    if not problems:
        out.append("Nothing: every file was read and understood.")
    for _proxy, p in problems:
        out.append("- %s" % md_escape("%s:%s %s: %s" % (p.get("file"), p.get("line") or "", p.get("kind"),
                                                        p.get("message")), in_table=False))
    return "\n".join(out) + "\n"


def render(results, fmt="html", title="Audit of the hand-written vhosts", generated=None):
    if fmt == "html":
        return render_html(results, title, generated)
    if fmt in ("markdown", "md"):
        return render_markdown(results, title, generated)
    raise AuditReportError("fmt must be html or markdown, got %r" % (fmt,))
