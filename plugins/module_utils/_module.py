# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""The AnsibleModule every module of this collection uses.

AnsibleModule logs each invocation (syslog/journal) with str() of every non-no_log option; for a nested option such
as sites[].backend_tls.client_key_content that turns the newlines of a PEM key into the two characters '\\n', and the
exact-match masking of no_log values then misses it: the key reached the system log in clear. Here the parameters
are masked structurally (remove_values, which walks lists and dicts) before AnsibleModule formats them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.parameters import remove_values


class RevproxyModule(AnsibleModule):
    """AnsibleModule whose invocation log never holds a no_log value, however deeply nested."""

    def _log_invocation(self):
        if not self.no_log_values:
            # Nothing to mask (the usual case): skip the walk, which costs about a second for thousands of sites.
            super(RevproxyModule, self)._log_invocation()
            return
        params = self.params
        self.params = remove_values(params, self.no_log_values)
        try:
            super(RevproxyModule, self)._log_invocation()
        finally:
            self.params = params
