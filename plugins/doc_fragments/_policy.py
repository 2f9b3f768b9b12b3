# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this doc fragment is internal to revproxy.tls; it is not a public API.

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The operator's policy (module_utils/model/_policy.py): options of every module that validates sites, so that
    # all of them accept exactly what the role accepts. Never site fields.
    DOCUMENTATION = r"""
options:
  allow_raw_directives:
    description:
    - The role's C(apache_proxy_allow_raw_directives). When true, O(sites[].extra_directives) and
      O(sites[].locations[].extra_directives) may hold directives outside the allow-list; they are written under a
      C(# RAW) comment, with a warning. An operator's decision for a whole run, never a site field; never expose it
      in an AWX survey.
    type: bool
    default: false
  served_roots:
    description:
    - The role's C(apache_proxy_served_roots). O(sites[].acme_challenge_dir) and O(sites[].error_pages[].file) must
      be at or below one of these directories, after symbolic links are resolved. System directories (C(/etc),
      C(/proc), C(/root), C(/var/log), C(/tmp), ...) are refused even when listed.
    type: list
    elements: path
    default: [/var/www, /srv, /var/lib/revproxy-tls]
"""
