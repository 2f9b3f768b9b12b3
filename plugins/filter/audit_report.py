# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: audit_report
short_description: A report people read from apache_proxy_audit results
version_added: 2.1.0
description:
  - Turns the registered result of C(revproxy.tls.apache_proxy_audit) (or a dict of them by inventory host) into a
    self-contained HTML page (inline CSS, no scripts, no external resources) or Markdown.
  - One row per HTTPS backend and name checked, the insecure ones first, then those failing now; each with its vhost,
    the route and the backend TLS directives that decide (file and line, or the server's default), what the current
    settings accept and their verdict, the verdict with secure settings, the CA to trust and the fix. Then each
    vhost's proposed C(apache_proxy_sites) entry and what the audit did not evaluate. Every value is escaped.
author:
  - revproxy.tls contributors (@revproxy)
options:
  _input:
    description: The registered result of C(revproxy.tls.apache_proxy_audit), or a dict of them by inventory host.
    type: dict
    required: true
  fmt:
    description: Output format.
    type: str
    choices: [html, markdown, md]
    default: html
  title:
    description: Title of the report.
    type: str
    default: Audit of the hand-written vhosts
  generated:
    description: A timestamp shown in the report.
    type: str
"""

EXAMPLES = r"""
- name: Write the audit report
  ansible.builtin.copy:
    content: "{{ audit | revproxy.tls.audit_report('markdown', 'Audit of ' ~ inventory_hostname) }}"
    dest: ./audit-report.md
    mode: "0644"
  delegate_to: localhost
"""

RETURN = r"""
_value:
  description: The report text (HTML or Markdown).
  type: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.revproxy.tls.plugins.plugin_utils._audit_report import AuditReportError, render


def audit_report(results, fmt="html", title="Audit of the hand-written vhosts", generated=None):
    """HTML or Markdown report of apache_proxy_audit results, the insecure backends first, all escaped."""
    try:
        return render(results, fmt, title, generated)
    except AuditReportError as exc:
        raise AnsibleFilterError("audit_report: %s" % exc)


class FilterModule(object):
    """revproxy.tls audit_report filter."""

    def filters(self):
        return {"audit_report": audit_report}
