#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: nginx_proxy_probe
short_description: Reload nginx gracefully, wait for the new workers, and probe the changed sites
version_added: 1.1.0
description:
  - Sends C(nginx -s reload) and waits until the master runs a worker it did not have before the signal (the new
    configuration serves from then on; nginx keeps the old workers and the old configuration when it cannot use the
    new one, which this module reports as a failed reload).
  - Then requests each location of each changed site through the local listener with the site's Host (and SNI), and
    fails when one answers 5xx (or not one of the location's C(probe_status)), with nginx's error-log lines written
    since the reload.
  - The C(revproxy.tls.nginx_proxy) role runs it between C(nginx_proxy_sites) with C(transaction=begin) and the
    commit or rollback.
author:
  - revproxy.tls contributors (@revproxy)
extends_documentation_fragment:
  - revproxy.tls._attributes
attributes:
  check_mode:
    support: none
  diff_mode:
    support: none
  idempotent:
    support: none
options:
  probe:
    description: The RV(revproxy.tls.nginx_proxy_sites#module:probe) list of the plan.
    type: list
    elements: dict
    required: true
  reload:
    description: Reload nginx (and wait for the new workers) before probing.
    type: bool
    default: true
  config_root:
    description: nginx's configuration directory.
    type: path
    default: /etc/nginx
  binary:
    description: The nginx binary.
    type: str
    default: nginx
  prefix:
    description: nginx's prefix (C(-p)); unset uses the binary's own.
    type: path
  pid_file:
    description: The master's pid file (what C(pid) in nginx.conf names).
    type: path
    default: /run/nginx.pid
  error_log:
    description: The error log whose new lines explain a failure.
    type: path
    default: /var/log/nginx/error.log
  timeout:
    description: Seconds to wait for the new workers, and for each request.
    type: float
    default: 15
"""

EXAMPLES = r"""
- name: Reload and probe
  revproxy.tls.nginx_proxy_probe:
    probe: "{{ nginx_sites.probe }}"
"""

RETURN = r"""
reload:
  description: C(reloaded), C(not_running), C(failed) or C(skipped).
  returned: always
  type: str
results:
  description: Per changed site, C(name), C(ok) and C(locations) (C(path), C(status), C(ok), C(error), C(expected)).
  returned: always
  type: list
  elements: dict
error_log:
  description: nginx's error-log lines written since the reload (on failure).
  returned: on failure
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.revproxy.tls.plugins.module_utils.nginx import _probe
from ansible_collections.revproxy.tls.plugins.module_utils.nginx._layout import NginxLayout


def main():
    module = AnsibleModule(
        argument_spec=dict(
            probe=dict(type="list", elements="dict", required=True),
            reload=dict(type="bool", default=True),
            config_root=dict(type="path", default="/etc/nginx"),
            binary=dict(type="str", default="nginx"),
            prefix=dict(type="path"),
            pid_file=dict(type="path", default="/run/nginx.pid"),
            error_log=dict(type="path", default="/var/log/nginx/error.log"),
            timeout=dict(type="float", default=15.0),
        ),
        supports_check_mode=False,
    )
    params = module.params
    layout = NginxLayout("debian", config_root=params["config_root"], binary=params["binary"],
                         prefix=params["prefix"], pid_file=params["pid_file"], error_log=params["error_log"])
    offset = _probe.log_size(layout.error_log)
    state, detail = "skipped", ""
    if params["reload"]:
        state, detail = _probe.reload(layout, module.run_command, timeout=params["timeout"])
        if state != "reloaded":
            module.fail_json(msg="nginx reload %s: %s" % (state, detail), reload=state, results=[],
                             error_log=_probe.log_tail(layout.error_log, offset))
    results = _probe.probe(params["probe"], timeout=min(params["timeout"], 10.0))
    failed = [r for r in results if not r["ok"]]
    if failed:
        module.fail_json(msg="probe failed for site(s) %s: %s" % (
            ", ".join(r["name"] for r in failed),
            "; ".join("%s %s -> %s" % (r["name"], loc["path"], loc["error"] or loc["status"])
                      for r in failed for loc in r["locations"] if not loc["ok"])),
            reload=state, results=results, error_log=_probe.log_tail(layout.error_log, offset))
    module.exit_json(changed=state == "reloaded", reload=state, results=results)


if __name__ == "__main__":
    main()
