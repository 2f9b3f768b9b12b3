# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this doc fragment is internal to revproxy.tls; it is not a public API.

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The input of the report filters (backend_report, backend_report_summary): what plugin_utils/_report.py accepts.
    DOCUMENTATION = r"""
options:
  _input:
    description:
      - The registered result of C(revproxy.tls.backend_handshake), the list of its C(backends), or a mapping of
        proxy host to result (for example built from C(hostvars)).
    type: raw
    required: true
"""
