# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""DEPRECATED facade: the names this file held before it was split (issue 22), for importers not yet moved.

Import from where each name lives now:
  apache/_layout.py        Layout, RedHatLayout, LISTEN_CONF_NAME, REDHAT_MODULES_CONF (every Apache path)
  apache/_plan.py          Entry, desired_state, plan, diff, is_managed, existing_listens, render_modules_conf
  apache/_config_test.py   candidate_config_test, live_config_test
  deploy/_transaction.py   apply, restore, cleanup_backups, changed_paths, BACKUP_SUFFIX, pending_transaction,
                           begin_transaction, commit, rollback (server-neutral; the layout is their target)
Nothing in plugins/ imports this file; remove it once tests/integration imports from the files above.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# pylint: disable=unused-import
from ansible_collections.revproxy.tls.plugins.module_utils.apache._layout import (  # noqa: F401
    LISTEN_CONF_NAME,
    REDHAT_MODULES_CONF,
    Layout,
    RedHatLayout,
)
from ansible_collections.revproxy.tls.plugins.module_utils.apache._plan import (  # noqa: F401
    Entry,
    desired_state,
    diff,
    existing_listens,
    is_managed,
    plan,
    render_modules_conf,
)
from ansible_collections.revproxy.tls.plugins.module_utils.apache._config_test import (  # noqa: F401
    candidate_config_test,
    live_config_test,
)
from ansible_collections.revproxy.tls.plugins.module_utils.deploy._transaction import (  # noqa: F401
    BACKUP_SUFFIX,
    apply,
    begin_transaction,
    changed_paths,
    cleanup_backups,
    commit,
    pending_transaction,
    restore,
    rollback,
)
