# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this doc fragment is internal to revproxy.tls; it is not a public API.

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Validate once per run (deploy/_handoff, apache/_plan.validated_sites): the option of the read-only calls that
    # take the plan's key instead of the sites. backend_handshake documents its own (its checks, and the sites whose
    # checks are not kept).
    DOCUMENTATION = r"""
options:
  validated:
    description:
      - The key of the sites the plan of this run validated and kept on the host
        (RV(revproxy.tls.apache_proxy_sites#module:validated) of M(revproxy.tls.apache_proxy_sites) with
        C(keep_validated)); the sites are then read from the host (the file O(layout) names for O(tls_dir)) and not
        validated again. When the key names no set kept there, O(sites) is validated instead (and the task fails
        without O(sites)).
    type: str
"""
