# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this doc fragment is internal to revproxy.tls; it is not a public API.

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The inputs of the report filters (backend_report, backend_report_summary): what plugin_utils/_report.py accepts.
    DOCUMENTATION = r"""
options:
  _input:
    description:
      - The registered result of C(revproxy.tls.backend_handshake), the list of its C(backends), or a mapping of
        proxy host to result (for example built from C(hostvars)).
    type: raw
    required: true
  frontend:
    description:
      - The registered result of C(revproxy.tls.frontend_certificate) (run with C(fail_on=never)), the list of its
        C(results), or a mapping of proxy host to result, in the same shape as the input.
      - Adds each site's frontend certificate (file, expiry, days left, verdict, reason and fix) next to the backends.
        A certificate with a problem is FAIL; one whose only problem is C(expiring), or with fewer than O(days_warn)
        days left, is EXPIRING; a check that did not run is a FAIL row with reason C(check_failed).
      - Frontend certificates count in C(total), C(ok), C(failed) and C(expiring), labelled C(frontend) wherever they
        are listed. Omitted or V(null) gives the backend-only report of earlier versions.
    type: raw
    version_added: 2.0.0
"""
