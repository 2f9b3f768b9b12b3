#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: nginx_proxy_sites
short_description: Render, config-test and install nginx reverse-proxy sites with secure backend TLS
version_added: 1.1.0
description:
  - Validates every site for nginx (the same site options as M(revproxy.tls.apache_proxy_sites); what nginx cannot
    express is refused, naming nginx and the option), renders one file per site in C(<config_root>/conf.d) with
    secure C(proxy_ssl_*) settings in every location that proxies to TLS (verification on with the site's trusted
    certificate, SNI and the backend's own name checked, TLS 1.2 and 1.3 only, no TLS session shared between
    locations), deploys CA and client certificate contents, and removes managed sites that are no longer listed.
  - The candidate configuration is tested with C(nginx -t) inside the real main config (a copy whose
    C(conf.d/*.conf) include points at the candidate set) before any live file changes. A failing test changes
    nothing and fails with nginx's message.
  - Live files are replaced atomically. The module does not reload nginx; the C(revproxy.tls.nginx_proxy) role
    reloads it and probes it (M(revproxy.tls.nginx_proxy_probe)) before committing.
author:
  - revproxy.tls contributors (@revproxy)
extends_documentation_fragment:
  - revproxy.tls._attributes
  - revproxy.tls._sites
  - revproxy.tls._policy
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  idempotent:
    support: full
options:
  sites:
    description:
      - The sites, exactly as the role's C(nginx_proxy_sites) variable. A site that fails validation fails the task
        with a message naming the site and the field, and nothing is written.
    type: list
    elements: dict
    required: true
  backend_tls_defaults:
    description:
      - Backend TLS settings applied to every site before the site's own C(backend_tls).
    type: dict
    default: {}
  prune:
    description:
      - Remove managed sites (files with the revproxy.tls header in C(conf.d)) that are not in O(sites).
    type: bool
    default: true
  layout:
    description:
      - The family's nginx package layout; both keep the managed sites in C(<config_root>/conf.d/<name>.conf)
        (Debian's C(sites-enabled/*) include would also read the deploy engine's backups).
    type: str
    choices: [debian, redhat]
    default: debian
  config_root:
    description:
      - nginx's configuration directory (C(nginx.conf) and C(conf.d) in it).
    type: path
    default: /etc/nginx
  tls_dir:
    description:
      - Directory for the CA and client certificate files deployed from C(*_content) keys, one sub-directory per
        site. Default C(<config_root>/revproxy-tls).
    type: path
  binary:
    description:
      - The nginx binary used for the config test.
    type: str
    default: nginx
  prefix:
    description:
      - nginx's prefix (C(-p)) for the config test; unset uses the binary's own.
    type: path
  config_test:
    description:
      - Test the candidate configuration with C(nginx -t) before changing live files.
    type: bool
    default: true
  transaction:
    description:
      - V(apply) writes the changes and drops the previous versions at once.
      - V(begin) writes the changes and keeps the previous versions until a later call with V(commit) drops them or
        V(rollback) restores them (byte-identical).
      - With V(commit) and V(rollback), O(sites) is ignored.
    type: str
    choices: [apply, begin, commit, rollback]
    default: apply
seealso:
  - module: revproxy.tls.apache_proxy_sites
  - module: revproxy.tls.nginx_proxy_probe
"""

EXAMPLES = r"""
- name: Install a reverse-proxy site on nginx
  revproxy.tls.nginx_proxy_sites:
    sites:
      - name: shop
        server_name: shop.example.com
        locations:
          - path: /
            backend: https://shop-backend.internal.example:8443/
        backend_tls:
          ca_file: /etc/ssl/private-ca/root.pem
    transaction: begin
  register: nginx_sites
"""

RETURN = r"""
sites:
  description: Per-site outcome, in input order.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The site name.
      type: str
    changed:
      description: Whether any file of the site was (or in check mode would be) written.
      type: bool
    status:
      description: C(unchanged), C(applied) (C(would_apply) in check mode).
      type: str
    warnings:
      description: Warnings about the site (insecure settings allowed).
      type: list
      elements: str
changed_sites:
  description: Names of the listed sites with a file written (or that would be), in input order.
  returned: when O(sites) is planned
  type: list
  elements: str
removed_sites:
  description: Managed sites removed because they are no longer listed.
  returned: always
  type: list
  elements: str
changed_files:
  description: Files written or removed (or that would be); with O(transaction=commit) or V(rollback), those of the
    pending change.
  returned: always
  type: list
  elements: str
config_test:
  description: Output of the candidate config test (empty when nothing changed).
  returned: always
  type: str
listen_ports:
  description: The ports the sites listen on, redirects included (the role labels them C(http_port_t) where SELinux
    enforces).
  returned: when O(sites) is planned
  type: list
  elements: int
probe:
  description: What M(revproxy.tls.nginx_proxy_probe) requests for the changed sites (site, port, Host, paths).
  returned: when O(sites) is planned
  type: list
  elements: dict
"""

from ansible_collections.revproxy.tls.plugins.module_utils._module import RevproxyModule
from ansible_collections.revproxy.tls.plugins.module_utils.deploy._transaction import (
    apply,
    begin_transaction,
    changed_paths,
    cleanup_backups,
    commit,
    pending_transaction,
    restore,
    rollback,
)
from ansible_collections.revproxy.tls.plugins.module_utils.model import _policy
from ansible_collections.revproxy.tls.plugins.module_utils.model._grammar import ConfigError
from ansible_collections.revproxy.tls.plugins.module_utils.model._sites import (
    SITE_SPEC,
    backend_tls_defaults_spec,
    normalize_sites,
)
from ansible_collections.revproxy.tls.plugins.module_utils.nginx._capabilities import NGINX
from ansible_collections.revproxy.tls.plugins.module_utils.nginx._config_test import (
    candidate_config_test,
    live_config_test,
)
from ansible_collections.revproxy.tls.plugins.module_utils.nginx._host_checks import check_served_paths
from ansible_collections.revproxy.tls.plugins.module_utils.nginx._layout import NginxLayout
from ansible_collections.revproxy.tls.plugins.module_utils.nginx._live_servers import live_servers
from ansible_collections.revproxy.tls.plugins.module_utils.nginx._plan import desired_state, diff, plan


def finish(module, layout, transaction):
    pending = pending_transaction(layout) or []
    paths = changed_paths(pending)
    if not module.check_mode:
        (rollback if transaction == "rollback" else commit)(layout)
    return {"changed": bool(pending) if transaction == "rollback" else False, "changed_files": paths, "sites": [],
            "removed_sites": [], "config_test": ""}


def probe_targets(sites, changed):
    """What the probe requests: each changed site's locations through its own listener with its own Host."""
    return [{"site": s["name"], "host": s["server_name"], "port": s["listen"]["port"], "tls": bool(s["tls"]),
             "paths": [{"path": loc["path"], "status": loc["probe_status"]} for loc in s["locations"]]}
            for s in sites if s["name"] in changed]


def outcome(module, sites, actions):
    changed = set(a["entry"].site for a in actions if a["entry"].site)
    names = set(s["name"] for s in sites)
    result = {
        "changed": bool(actions),
        "sites": [{"name": s["name"], "changed": s["name"] in changed, "warnings": s["warnings"],
                   "status": ("would_apply" if module.check_mode else "applied") if s["name"] in changed
                   else "unchanged"} for s in sites],
        "changed_sites": [s["name"] for s in sites if s["name"] in changed],
        "removed_sites": sorted(changed - names),
        "changed_files": [a["entry"].path for a in actions],
        "config_test": "",
        "probe": probe_targets(sites, changed),
        "listen_ports": sorted(set([s["listen"]["port"] for s in sites] + [
            s["frontend"]["redirect"]["port"] for s in sites if s["frontend"]["redirect"]])),
    }
    if module._diff:
        result["diff"] = diff(actions)
    return result


def write(module, layout, actions, result):
    """Apply, test the live configuration (restoring the previous files when it fails), then keep the change
    pending (begin) or make it final."""
    backups = apply(actions)
    try:
        ok, output = live_config_test(layout, module.run_command) if module.params["config_test"] else (True, "")
    except Exception:
        restore(backups)
        raise
    if not ok:
        restore(backups)
        module.fail_json(msg="The live configuration failed nginx's config test after the change; the previous files "
                             "were restored. nginx said: %s" % output, **result)
    if module.params["transaction"] == "begin":
        begin_transaction(layout, backups)
    else:
        cleanup_backups(backups)


def run(module):
    params = module.params
    layout = NginxLayout.named(params["layout"], config_root=params["config_root"], tls_dir=params["tls_dir"],
                               binary=params["binary"], prefix=params["prefix"])
    if params["transaction"] in ("commit", "rollback"):
        return finish(module, layout, params["transaction"])
    if pending_transaction(layout) is not None and not module.check_mode:
        module.warn("an earlier run left an unfinished change (%s); keeping its files as they are"
                    % ", ".join(changed_paths(pending_transaction(layout))[:3]))
        commit(layout)
    policy = _policy.check_policy(_policy.policy_of(params))
    sites = normalize_sites(params["sites"], params["backend_tls_defaults"], layout.tls_dir, policy, server=NGINX)
    check_served_paths(sites, policy)
    if params["config_test"]:
        NGINX.check_ownership(sites, live_servers(layout, module.run_command))  # no hand-written server's names
    for site in sites:
        for warning in site["warnings"]:
            module.warn("site %r: %s" % (site["name"], warning))
    actions = plan(desired_state(sites, layout), layout, prune=params["prune"])
    result = outcome(module, sites, actions)
    if actions and params["config_test"]:
        ok, output = candidate_config_test(actions, layout, module.run_command)
        result["config_test"] = output
        if not ok:
            module.fail_json(msg="The candidate configuration fails nginx's config test (nginx -t); no live file was "
                                 "changed. nginx said: %s" % output, **result)
    if actions and not module.check_mode:
        write(module, layout, actions, result)
    return result


def main():
    module = RevproxyModule(
        argument_spec=dict(
            sites=dict(type="list", elements="dict", required=True, options=SITE_SPEC),
            backend_tls_defaults=backend_tls_defaults_spec(),
            prune=dict(type="bool", default=True),
            layout=dict(type="str", choices=["debian", "redhat"], default="debian"),
            config_root=dict(type="path", default="/etc/nginx"),
            tls_dir=dict(type="path"),
            binary=dict(type="str", default="nginx"),
            prefix=dict(type="path"),
            config_test=dict(type="bool", default=True),
            transaction=dict(type="str", choices=["apply", "begin", "commit", "rollback"], default="apply"),
            **_policy.policy_options()
        ),
        supports_check_mode=True,
    )
    try:
        result = run(module)
    except ConfigError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
