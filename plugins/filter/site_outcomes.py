# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: site_outcomes
short_description: What happened to each site in a run of the apache_proxy role
version_added: 1.0.0
description:
  - Combines the results of the role's steps (plan, preflight, probe) into one outcome per site
    (C(unchanged), C(would_apply), C(applied), C(refused_by_preflight), C(not_applied), C(rolled_back),
    C(kept_failing), C(removed), C(would_remove)) with a line a person reads.
  - The policy is all or nothing; a run applies all its changed sites or none.
author:
  - revproxy.tls contributors (@revproxy)
options:
  _input:
    description: The registered result of the C(revproxy.tls.apache_proxy_sites) plan (check mode) step.
    type: dict
    required: true
  preflight:
    description: The registered result of C(revproxy.tls.backend_handshake) for the changed sites.
    type: dict
  preflight_mode:
    description: C(apache_proxy_preflight).
    type: str
    default: enforce
  probe:
    description: The registered result of C(revproxy.tls.apache_proxy_probe).
    type: dict
  on_probe_failure:
    description: C(apache_proxy_on_probe_failure).
    type: str
    default: rollback
  restored:
    description: The C(reload) state reported by C(revproxy.tls.apache_proxy_probe) after a rollback (C(ready), C(died), C(unknown)).
    type: str
  check_mode:
    description: Whether the run is in check mode.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Summarise the run
  ansible.builtin.debug:
    msg: "{{ (plan | revproxy.tls.site_outcomes(preflight=preflight)).lines }}"
"""

RETURN = r"""
_value:
  description:
    - C(changed), C(failed), C(sites) (C(name), C(outcome), C(detail), and C(cause), true for a site that failed the
      preflight or probe itself), C(lines) and C(policy).
    - In a refused or rolled-back run C(lines) leads with what happened to the run and the sites that failed, with
      their reason and fix; the sites that only shared the run's fate follow as one line per outcome.
  type: dict
"""

from ansible_collections.revproxy.tls.plugins.plugin_utils import _outcome


def site_outcomes(plan, preflight=None, preflight_mode="enforce", probe=None, on_probe_failure="rollback",
                  restored=None, check_mode=False):
    """The outcomes of a run of the apache_proxy role (plugin_utils/_outcome, which names the server it is given)."""
    return _outcome.site_outcomes(plan, preflight, preflight_mode, probe, on_probe_failure, restored, check_mode,
                                  server="Apache")


class FilterModule(object):
    def filters(self):
        return {"site_outcomes": site_outcomes}
