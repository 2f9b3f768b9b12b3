# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that turn backend_handshake results into a report people read (the logic is in module_utils/_report.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.revproxy.tls.plugins.module_utils._report import (
    ReportError,
    explain_log_lines,
    render,
    summarize,
)


def backend_report(results, fmt="html", days_warn=30, title="Backend TLS report", generated=None):
    """HTML or Markdown report: one row per backend, failures first, everything escaped."""
    try:
        return render(results, fmt, days_warn, title, generated)
    except ReportError as exc:
        raise AnsibleFilterError("backend_report: %s" % exc)


def backend_report_summary(results, days_warn=30, max_lines=50):
    """Counts, reasons and a compact per-site summary (for the job output and set_stats)."""
    try:
        return summarize(results, days_warn, int(max_lines))
    except ReportError as exc:
        raise AnsibleFilterError("backend_report_summary: %s" % exc)


def explain_apache_log(lines):
    """Each Apache error-log line with its AH codes and their meaning from the failure catalogue."""
    return explain_log_lines(lines)


class FilterModule(object):
    """revproxy.tls report filters."""

    def filters(self):
        return {
            "backend_report": backend_report,
            "backend_report_summary": backend_report_summary,
            "explain_apache_log": explain_apache_log,
        }
