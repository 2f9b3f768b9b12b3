# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: backend_report_summary
short_description: Counts, reasons and a compact per-site summary of backend_handshake results
version_added: 1.0.0
description:
  - What the job output and C(set_stats) show after a check; never certificates or PEM.
  - With O(frontend), the sites' frontend certificates count too (each labelled C(frontend)).
author:
  - revproxy.tls contributors (@revproxy)
extends_documentation_fragment:
  - revproxy.tls._report_input
options:
  days_warn:
    description: A certificate (backend or frontend) that expires within this many days counts as expiring.
    type: int
    default: 30
  max_lines:
    description: At most this many per-site lines.
    type: int
    default: 50
"""

EXAMPLES = r"""
- name: Show the summary of the backend checks
  ansible.builtin.debug:
    msg: "{{ (check | revproxy.tls.backend_report_summary).problems }}"

- name: Fail when a backend or a frontend certificate fails
  ansible.builtin.assert:
    that: (check | revproxy.tls.backend_report_summary(30, frontend=front_certs)).failed == 0
"""

RETURN = r"""
_value:
  description:
    - C(msg) (one line); C(total), C(ok), C(failed), C(expiring) counts and C(days_warn); C(reasons) (failures per
      reason); C(sites) (a line per site) and C(problems) (a line per failing or expiring backend), each at most
      O(max_lines) long.
    - With O(frontend) the counts include the frontend certificates; C(backend) and C(frontend) hold each kind's own
      C(total), C(ok), C(failed) and C(expiring); frontend reasons are keyed C(frontend <reason>), frontend problems
      start with C(FAIL frontend) or C(EXPIRING frontend), and each site line ends with its frontend certificate's
      verdict.
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.revproxy.tls.plugins.plugin_utils._report import ReportError, summarize


def backend_report_summary(results, days_warn=30, max_lines=50, frontend=None):
    """Counts, reasons and a compact per-site summary (for the job output and set_stats)."""
    try:
        return summarize(results, days_warn, int(max_lines), frontend)
    except ReportError as exc:
        raise AnsibleFilterError("backend_report_summary: %s" % exc)


class FilterModule(object):
    """revproxy.tls backend_report_summary filter."""

    def filters(self):
        return {"backend_report_summary": backend_report_summary}
