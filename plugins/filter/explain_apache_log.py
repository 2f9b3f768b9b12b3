# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: explain_apache_log
short_description: What each Apache error-log line means, from the failure catalogue
version_added: 1.0.0
description:
  - For each line, its AH codes, the failure reasons they point to, and the meaning and fix when a single reason is
    certain (the same explainer the role's probe uses after a reload).
author:
  - revproxy.tls contributors (@revproxy)
options:
  _input:
    description: Error-log lines (a list, or one string with newlines).
    type: raw
    required: true
"""

EXAMPLES = r"""
- name: Explain the last lines of Apache's error log
  ansible.builtin.debug:
    msg: "{{ tail.stdout_lines | revproxy.tls.explain_apache_log }}"
"""

RETURN = r"""
_value:
  description: One entry per line with C(line), C(ah) (codes), C(reasons), C(reason) (or null), C(meaning) and C(fix).
  type: list
  elements: dict
"""

from ansible_collections.revproxy.tls.plugins.plugin_utils._report import explain_log_lines


def explain_apache_log(lines):
    """Each Apache error-log line with its AH codes and their meaning from the failure catalogue."""
    return explain_log_lines(lines)


class FilterModule(object):
    """revproxy.tls explain_apache_log filter."""

    def filters(self):
        return {"explain_apache_log": explain_apache_log}
