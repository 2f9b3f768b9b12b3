#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: balancer_member
short_description: Take a pool member out of rotation and back through the local balancer-manager
version_added: 1.1.0
description:
  - Sets a member of a pool (C(balancer://NAME)) of a site rendered by the C(revproxy.tls.apache_proxy) role to
    V(enabled), V(drained) or V(disabled) through mod_proxy_balancer's balancer-manager, without a configuration
    change or a reload, and with O(wait) waits until the member has no request in flight.
  - The site must set C(balancer_manager) to V(true); the role then serves the manager at
    C(/revproxy-balancer-manager) to loopback clients only (C(Require ip 127.0.0.0/8 ::1)). Run this module on the
    proxy host.
  - The member is found by its balancer and its URL, so the same backend in several pools of one vhost is not
    ambiguous (community.general.apache2_mod_proxy matches a member by host only and acts on every balancer).
  - Apache does not persist the change; a restart or reload resets members to what the configuration says.
author:
  - revproxy.tls contributors (@revproxy)
extends_documentation_fragment:
  - revproxy.tls._attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  host:
    description: The site's C(server_name), sent as Host (the manager of that vhost lists that vhost's pools).
    type: str
    required: true
  balancer:
    description: The pool name (C(balancer://NAME)), made from the location path (C(/) is C(root), C(/api/) is C(api)).
    type: str
    required: true
  member:
    description: The member URL as given in C(backends[].url).
    type: str
    required: true
  state:
    description:
      - V(disabled) takes the member out of rotation (C(status=+D)); V(drained) keeps only the sticky sessions bound
        to it (C(+N)); V(enabled) clears both.
    type: str
    choices: [enabled, drained, disabled]
    default: enabled
  manager_url:
    description: The manager on the local listener of the site (plain HTTP, or HTTPS for a site with frontend TLS).
    type: str
    default: http://127.0.0.1/revproxy-balancer-manager
  validate_certs:
    description: Verify the listener's certificate when O(manager_url) is HTTPS (the loopback address is not in it).
    type: bool
    default: false
  wait:
    description: After V(disabled) or V(drained), wait until the member's Busy count is 0 (in-flight requests done).
    type: bool
    default: true
  timeout:
    description: Seconds to wait for in-flight requests, and for each HTTP request to the manager.
    type: int
    default: 300
"""

EXAMPLES = r"""
- name: Take api2 out of rotation, wait for its requests to finish
  revproxy.tls.balancer_member:
    host: shop.example.com
    balancer: api
    member: https://api2.internal:8443/
    state: disabled

- name: Put it back
  revproxy.tls.balancer_member:
    host: shop.example.com
    balancer: api
    member: https://api2.internal:8443/
    state: enabled
"""

RETURN = r"""
before:
  description: The member's state before the change.
  returned: success
  type: str
  sample: enabled
after:
  description: The member's state after the change (as the manager page shows it).
  returned: success
  type: str
  sample: disabled
busy:
  description: Requests in flight to the member when the module returned.
  returned: success
  type: int
  sample: 0
waited:
  description: Seconds spent waiting for in-flight requests.
  returned: success
  type: float
  sample: 1.2
"""

import time

try:
    from urllib.parse import urlsplit, urlunsplit
except ImportError:  # pragma: no cover
    from urlparse import urlsplit, urlunsplit  # type: ignore

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import open_url

from ansible_collections.revproxy.tls.plugins.module_utils.apache._balancer_manager import (
    ManagerError,
    current_state,
    find_member,
    parse_page,
    update_form,
)


def _referer(params):
    """The manager ignores a POST whose Referer is not itself on the same Host (AH10187, cross-site access)."""
    parts = urlsplit(params["manager_url"])
    return urlunsplit((parts.scheme, params["host"], parts.path, "", ""))


def _page(module, params):
    url = params["manager_url"]
    try:
        resp = open_url(url, headers={"Host": params["host"]}, validate_certs=params["validate_certs"],
                        timeout=params["timeout"])
        return parse_page(resp.read().decode("utf-8", "replace"))
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_json(msg="balancer-manager at %s (Host %s): %s. Does the site set balancer_manager: true?"
                         % (url, params["host"], exc))


def main():
    module = AnsibleModule(
        argument_spec={
            "host": {"type": "str", "required": True},
            "balancer": {"type": "str", "required": True},
            "member": {"type": "str", "required": True},
            "state": {"type": "str", "choices": ["enabled", "drained", "disabled"], "default": "enabled"},
            "manager_url": {"type": "str", "default": "http://127.0.0.1/revproxy-balancer-manager"},
            "validate_certs": {"type": "bool", "default": False},
            "wait": {"type": "bool", "default": True},
            "timeout": {"type": "int", "default": 300},
        },
        supports_check_mode=True,
    )
    params = module.params
    page = _page(module, params)
    try:
        before = current_state(find_member(page, params["balancer"], params["member"]))
        changed = before != params["state"]
        if changed and not module.check_mode:
            form = update_form(page, params["balancer"], params["member"], params["state"])
            open_url(params["manager_url"], method="POST", data=form, validate_certs=params["validate_certs"],
                     timeout=params["timeout"],
                     headers={"Host": params["host"], "Content-Type": "application/x-www-form-urlencoded",
                              "Referer": _referer(params)})
            page = _page(module, params)
        member = find_member(page, params["balancer"], params["member"])
        after = params["state"] if module.check_mode else current_state(member)
        if not module.check_mode and after != params["state"]:
            module.fail_json(msg="the manager did not apply %s: the member is %s" % (params["state"], after))
        started = time.monotonic()
        while (not module.check_mode and params["wait"] and params["state"] != "enabled" and member["busy"] > 0
               and time.monotonic() - started < params["timeout"]):
            time.sleep(0.2)
            member = find_member(_page(module, params), params["balancer"], params["member"])
        waited = round(time.monotonic() - started, 2)
        if member["busy"] > 0 and params["wait"] and params["state"] != "enabled" and not module.check_mode:
            module.fail_json(msg="member %s still has %d request(s) in flight after %d s"
                             % (params["member"], member["busy"], params["timeout"]), before=before, after=after)
    except ManagerError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=changed, before=before, after=after, busy=member["busy"], waited=waited)


if __name__ == "__main__":
    main()
