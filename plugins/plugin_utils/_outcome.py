# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this plugin_utils file (controller side) is internal to revproxy.tls; it is not a public API.
"""What happened to each site in one run of the apache_proxy role, from the results of its steps (pure)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

OUTCOMES = ("unchanged", "would_apply", "applied", "refused_by_preflight", "not_applied", "rolled_back",
            "kept_failing", "removed", "would_remove")


def _preflight_failures(preflight):
    """site name -> list of 'reason: message (fix)' for the backends of that site that failed."""
    failures = {}
    for backend in (preflight or {}).get("backends", []) or []:
        if backend.get("ok") or backend.get("min_ok_tolerated"):  # a pool member its pool's min_ok goes live without
            continue
        text = "%s %s: %s" % (backend.get("url"), backend.get("reason"), backend.get("message"))
        if backend.get("host"):
            text += " (as %s)" % backend["host"]
        if backend.get("fix"):
            text += ". Fix: %s" % backend["fix"]
        failures.setdefault(backend.get("site"), []).append(text)
    return failures


def _probe_failures(probe, server):
    failures = {}
    for site in (probe or {}).get("sites", []) or []:
        if site.get("ok"):
            continue
        locs = ["%s -> %s" % (loc["path"], loc["status"] if loc["status"] is not None else loc["error"])
                for loc in site.get("locations", []) if not loc["ok"]]
        diag = site.get("diagnosis") or {}
        text = "probe failed (%s)" % ("; ".join(locs) or "%s exited" % server)
        if diag.get("reason"):
            text += ", error log says %s" % diag["reason"]
        lines = [item["line"] for item in diag.get("lines", [])][:4]
        if lines:
            text += ": " + " | ".join(lines)
        failures[site["name"]] = [text]
    return failures


# In a failed run, the sites that only followed the run's fate are listed by name, this many at most per group.
NAMES_SHOWN = 10


def _site_line(site):
    detail = " - " + "; ".join(site["detail"]) if site["detail"] else ""
    return "%s: %s%s" % (site["name"], site["outcome"].replace("_", " "), detail)


def _names(names):
    shown = ", ".join(names[:NAMES_SHOWN])
    if len(names) > NAMES_SHOWN:
        shown += " and %d more" % (len(names) - NAMES_SHOWN)
    return shown


def _failed_run_lines(sites, refused, rolled_back, n_changed):
    """A refused or rolled-back run: what failed and why first, then one line per group of sites that only shared
    the run's fate (3000 sites with one failure give a handful of lines, the failing one on top)."""
    causes = [site for site in sites if site["cause"]]
    plural = "" if n_changed == 1 else "s"
    if refused:
        head = "Preflight refused this run: %d of %d changed site%s failed it, so none was applied (all or nothing)" \
            % (len(causes), n_changed, plural)
    elif rolled_back:
        head = "Probe failed: %d of %d changed site%s failed it, so the run was rolled back (all or nothing)" % (
            len(causes), n_changed, plural)
    else:
        head = "Probe failed: %d of %d changed site%s failed it and stay live (apache_proxy_on_probe_failure: " \
               "keep)" % (len(causes), n_changed, plural)
    lines = [head] + [_site_line(site) for site in causes]
    groups = []
    for site in sites:
        if site["cause"]:
            continue
        if site["outcome"] in ("not_applied", "rolled_back") and not site["detail"]:
            label = "removal not applied"
        elif site["outcome"] in ("not_applied", "rolled_back"):
            label = "%s (%s)" % (site["outcome"].replace("_", " "), "; ".join(site["detail"]))
        else:
            label = site["outcome"].replace("_", " ")
        for group in groups:
            if group[0] == label:
                group[1].append(site["name"])
                break
        else:
            groups.append((label, [site["name"]]))
    for label, names in groups:
        lines.append("%s: %d site%s: %s" % (label, len(names), "" if len(names) == 1 else "s", _names(names)))
    return lines


def site_outcomes(plan, preflight=None, preflight_mode="enforce", probe=None, on_probe_failure="rollback",
                  restored=None, check_mode=False, server="the server"):
    """Per-site outcome of a run. The policy is all or nothing: when any changed site fails the preflight (enforce)
    or the probe (rollback), no site of the run is applied. `server` names the web server in the lines (the
    site_outcomes filter, which is about the apache_proxy role, passes its name)."""
    plan = plan or {}
    changed = [s["name"] for s in plan.get("sites", []) if s.get("changed")]
    pre_fail = _preflight_failures(preflight)
    refused = preflight_mode == "enforce" and bool(pre_fail)
    probe_fail = _probe_failures(probe, server)
    rolled_back = bool(probe_fail) and on_probe_failure == "rollback"
    sites = []
    for site in plan.get("sites", []):
        name = site["name"]
        detail = []
        if name not in changed:
            outcome = "unchanged"
        elif check_mode:
            outcome = "would_apply"
            detail = pre_fail.get(name, [])
        elif refused:
            outcome = "refused_by_preflight" if name in pre_fail else "not_applied"
            detail = pre_fail.get(name) or ["another site of this run failed the preflight"]
        elif probe_fail:
            if rolled_back:
                outcome = "rolled_back"
                detail = probe_fail.get(name) or ["another site of this run failed the probe"]
            else:
                outcome = "kept_failing" if name in probe_fail else "applied"
                detail = probe_fail.get(name, [])
        else:
            outcome = "applied"
            detail = ["preflight warning: %s" % d for d in pre_fail.get(name, [])]
        cause = not check_mode and (name in pre_fail if refused else name in probe_fail)
        sites.append({"name": name, "outcome": outcome, "detail": detail, "cause": cause})
    removed = plan.get("removed_sites", [])
    for name in removed:
        outcome = "would_remove" if check_mode else ("not_applied" if refused or rolled_back else "removed")
        sites.append({"name": name, "outcome": outcome, "detail": [], "cause": False})
    failed = refused or bool(probe_fail)
    if failed and not check_mode:
        lines = _failed_run_lines(sites, refused, rolled_back, len(changed))
    else:
        lines = [_site_line(site) for site in sites]
    if rolled_back:
        lines.append("previous configuration restored%s" % {
            "ready": " and serving again", "died": ", but %s did not start with it: see its error log" % server,
        }.get(restored, ""))
    applied = not check_mode and not refused and not rolled_back and bool(plan.get("changed_files"))
    return {"changed": applied, "failed": failed, "sites": sites, "lines": lines or ["no sites managed"],
            "policy": "all or nothing: a run applies all its changed sites or none"}
