# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: backend_report
short_description: A report people read from backend_handshake results
version_added: 1.0.0
description:
  - Turns the registered result of C(revproxy.tls.backend_handshake) into a self-contained HTML page (inline CSS, no
    scripts, no external resources) or Markdown, one row per backend, failures first, with the reason, the days left
    on the certificate and the fix; every value is escaped.
  - With O(frontend), a second table lists each site's frontend certificate (from C(revproxy.tls.frontend_certificate))
    with its file, expiry, days left, verdict and fix; the summary cards count both and say how many are frontend.
author:
  - revproxy.tls contributors (@revproxy)
extends_documentation_fragment:
  - revproxy.tls._report_input
options:
  fmt:
    description: Output format.
    type: str
    choices: [html, markdown, md]
    default: html
  days_warn:
    description: A certificate (backend or frontend) that expires within this many days is marked EXPIRING.
    type: int
    default: 30
  title:
    description: Title of the report.
    type: str
    default: Backend TLS report
  generated:
    description: A timestamp shown in the report (for example C(ansible_date_time.iso8601)).
    type: str
"""

EXAMPLES = r"""
- name: Write an HTML report of the backend checks
  ansible.builtin.copy:
    content: "{{ check | revproxy.tls.backend_report('html', 30, 'Backends of ' ~ inventory_hostname) }}"
    dest: ./backend-report.html
    mode: "0644"
  delegate_to: localhost

- name: The same with the frontend certificates (registered from revproxy.tls.frontend_certificate, fail_on never)
  ansible.builtin.copy:
    content: "{{ check | revproxy.tls.backend_report('markdown', 30, frontend=front_certs) }}"
    dest: ./backend-report.md
    mode: "0644"
  delegate_to: localhost
"""

RETURN = r"""
_value:
  description: The report text (HTML or Markdown).
  type: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.revproxy.tls.plugins.plugin_utils._report import ReportError, render


def backend_report(results, fmt="html", days_warn=30, title="Backend TLS report", generated=None, frontend=None):
    """HTML or Markdown report: one row per backend (and per frontend certificate), failures first, all escaped."""
    try:
        return render(results, fmt, days_warn, title, generated, frontend)
    except ReportError as exc:
        raise AnsibleFilterError("backend_report: %s" % exc)


class FilterModule(object):
    """revproxy.tls backend_report filter."""

    def filters(self):
        return {"backend_report": backend_report}
