#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: apache_proxy_sites
short_description: Render, config-test and install Apache reverse-proxy vhosts with secure backend TLS
version_added: 1.0.0
description:
  - Validates every site, renders one vhost file per site with secure C(SSLProxy*) settings, deploys CA and client
    certificate contents, enables the sites and the Apache modules they need, and removes managed sites that are no
    longer listed.
  - All sites are handled in one call (one Ansible task), so hundreds of sites cost about as much as one.
  - The candidate configuration is config-tested inside the real server configuration (C(apache2 -t) on a copy of
    the main config whose C(*-enabled) includes point at the candidate set) before any live file changes. A failing
    test changes nothing and fails with Apache's message.
  - Live files are replaced atomically. The module does not reload Apache; the C(revproxy.tls.apache_proxy) role
    reloads it when the task reports a change.
  - This is the engine of the C(revproxy.tls.apache_proxy) role; use the role rather than this module directly.
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
      - The sites, exactly as the role's O(sites) variable C(apache_proxy_sites) (see the role's argument spec for
        every key). Every string that reaches a directive is validated; a site that fails validation fails the task
        with a message naming the site and the field, and nothing is written.
    type: list
    elements: dict
    required: true
  backend_tls_defaults:
    description:
      - Backend TLS settings applied to every site before the site's own C(backend_tls) (C(apache_proxy_backend_tls_defaults)).
    type: dict
    default: {}
  log_level:
    description:
      - C(LogLevel) of each managed vhost. The default makes the real cause of C(AH00898) visible in the error log.
    type: str
    default: warn ssl:info
  prune:
    description:
      - Remove managed sites (files with the revproxy.tls header) that are not in O(sites). Unmanaged files are
        never touched.
    type: bool
    default: true
  layout:
    description:
      - How the Apache family lays out its configuration.
      - V(debian) (Debian, Ubuntu) - C(/etc/apache2) with C(sites-available)/C(sites-enabled), C(conf-*) and C(mods-*)
        enabled through symlinks.
      - V(redhat) (RHEL, Rocky, Alma, CentOS Stream, Fedora) - C(/etc/httpd) with C(conf/httpd.conf) including
        C(conf.modules.d/*.conf) and C(conf.d/*.conf); a site is C(conf.d/<name>.conf) (a disabled site is an absent
        file), the Listen file is C(conf.d/revproxy-tls-listen.conf), modules the packages do not load are loaded
        from C(conf.modules.d/revproxy-tls-modules.conf); the config test is C(httpd -t).
    type: str
    choices: [debian, redhat]
    default: debian
  config_root:
    description:
      - Apache's configuration directory. Default C(/etc/apache2) with O(layout=debian), C(/etc/httpd) with
        O(layout=redhat).
    type: path
  tls_dir:
    description:
      - Directory for the CA and client certificate files deployed from C(*_content) keys, one sub-directory per site.
      - Default C(/etc/apache2/revproxy-tls) with O(layout=debian), C(/etc/httpd/revproxy-tls) with O(layout=redhat).
    type: path
  binary:
    description:
      - The Apache binary used for the config test. Default C(apache2) with O(layout=debian), C(httpd) with
        O(layout=redhat).
    type: str
  envvars:
    description:
      - Shell file sourced before the config test (Debian's C(envvars)); ignored when missing.
      - Default C(/etc/apache2/envvars) with O(layout=debian), none with O(layout=redhat).
    type: path
  config_test:
    description:
      - Config-test the candidate configuration before changing live files. Turn off only to debug this module.
    type: bool
    default: true
  transaction:
    description:
      - V(apply) writes the changes and drops the previous versions at once.
      - V(begin) writes the changes and keeps the previous versions (C(*.revproxy-prev) files and a list of them in
        O(tls_dir)) until a later call with V(commit) drops them or V(rollback) restores them. The role uses this
        to probe the reloaded Apache before making a change final.
      - With V(commit) and V(rollback), O(sites) is ignored. Both report RV(changed_files).
      - V(commit), V(rollback) and V(apply) (outside check mode) also remove the validated set kept by
        O(keep_validated).
    type: str
    choices: [apply, begin, commit, rollback]
    default: apply
  keep_validated:
    description:
      - When the plan has changes, keep the validated sites for the later calls of the same run and return the key
        they pass instead of the sites (RV(validated)); M(revproxy.tls.apache_proxy_probe) and
        M(revproxy.tls.frontend_certificate) then skip the validation and Ansible does not carry the sites again.
      - "The set is kept in C(/run/revproxy-tls) (a runtime directory of mode 0700 outside the configuration tree; a
        file of mode 0600 per O(tls_dir)), written even in check mode since the role plans in check mode. It holds
        the sites' names, listeners, frontend TLS file paths and locations, and the backend checks of each site
        (settings and the public CA, CRL and chain contents) for M(revproxy.tls.backend_handshake); never a key (a
        site whose client key comes from C(*_content) has no checks kept, see RV(validated_backends))."
      - O(transaction=commit) or O(transaction=rollback) removes it, and so does a plan without changes (an earlier
        run's).
    type: bool
    default: false
  acme:
    description:
      - The operator's settings for the sites whose O(sites[].tls) asks for an ACME certificate (C(tls.acme)),
        rendered once for all of them as mod_md's server-level directives in the managed Listen file. A site never
        names a CA (the directory URL is set here only). Ignored while no site has C(tls.acme).
      - The role passes its C(apache_proxy_acme_*) variables here.
    type: dict
    default: {}
    suboptions:
      directory_url:
        description:
          - The ACME directory of the CA (C(MDCertificateAuthority)). Only C(https://host[:port]/path), without a
            user name, password, query or fragment. Let's Encrypt's staging directory is
            C(https://acme-staging-v02.api.letsencrypt.org/directory).
        type: str
        default: https://acme-v02.api.letsencrypt.org/directory
      ca_file:
        description:
          - The CA certificate(s) the ACME directory's TLS server is checked with (C(MDCACertificateFile)), for a
            private ACME CA such as step-ca or pebble. A file under a served root (O(served_roots)). Unset, the
            system's trust store.
        type: path
      ca_content:
        description:
          - The same as PEM text; deployed as C(<tls_dir>/_acme/ca.pem). Give O(acme.ca_file) or this, not both.
        type: str
      agreement:
        description:
          - The operator accepts the CA's terms of service (C(MDCertificateAgreement accepted)). Required (V(true))
            as soon as a site has C(tls.acme).
        type: bool
        default: false
      contact:
        description: The account's e-mail address for every site that sets none (C(MDContactEmail)).
        type: str
      eab_kid:
        description: The key id of an external account binding (C(MDExternalAccountBinding)); needs O(acme.eab_hmac).
        type: str
      eab_hmac:
        description:
          - The HMAC key of the external account binding (base64url). The Listen file holding it is then mode 0600
            and left out of diffs.
        type: str
      renew_window:
        description:
          - When certificates are renewed, before they expire, for every site that sets no C(tls.acme.renew_window)
            (C(MDRenewWindow) at server level) - C(N%) of the lifetime left (1 to 99), C(Nd) days, C(Nh) hours or
            C(Ns) seconds left. A fixed time must be shorter than the CA's certificate lifetime, or mod_md orders
            again after every restart; a site's own window is a share of the lifetime only (1% to 50%).
        type: str
        default: 33%
      status_port:
        description:
          - The loopback port of mod_md's C(md-status) handler (C(127.0.0.1:<port>) only), which
            M(revproxy.tls.apache_proxy_acme) reads.
        type: int
        default: 8409
      http_port:
        description:
          - The local port that the CA's HTTP-01 requests (to port 80 of the site's names) arrive on, when it is not
            80 (C(MDPortMap http:<port>); behind a port forward, or a test CA).
        type: int
      https_port:
        description: The same for port 443 and the TLS-ALPN-01 challenge (C(MDPortMap https:<port>)).
        type: int
notes:
  - The vhost file of a site is C(<config_root>/sites-available/<name>.conf) (C(<config_root>/conf.d/<name>.conf) with
    O(layout=redhat)); a file of that name that lacks the managed header is never overwritten (the task fails
    instead).
seealso:
  - module: revproxy.tls.backend_handshake
"""

EXAMPLES = r"""
- name: Install two reverse-proxy sites
  revproxy.tls.apache_proxy_sites:
    sites:
      - name: shop
        server_name: shop.example.com
        locations:
          - path: /
            backend: https://shop-backend.internal.example:8443/
            connectiontimeout: 5
        backend_tls:
          ca_file: /etc/ssl/private-ca/root.pem
  register: apache_sites
"""

RETURN = r"""
acme_sites:
  description:
    - The sites with C(tls.acme) - the site, its managed domain (its first name), every name, its listen address and
      port, and whether this run changes it; what M(revproxy.tls.apache_proxy_acme) takes as O(revproxy.tls.apache_proxy_acme#module:domains).
  returned: success
  type: list
  elements: dict
  version_added: 2.1.0
sites:
  description: Per-site outcome, in input order.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The site name.
      type: str
      sample: shop
    changed:
      description: Whether any file of the site was (or in check mode would be) written.
      type: bool
    status:
      description: C(unchanged), C(applied) (C(would_apply) in check mode).
      type: str
      sample: applied
    warnings:
      description: Warnings about the site (insecure settings allowed, ProxyPreserveHost with a TLS backend).
      type: list
      elements: str
changed_sites:
  description:
    - Names of the listed sites with a file written (or that would be, in check mode), in input order. The role
      checks and probes exactly these.
  returned: when O(sites) is planned (not with O(transaction=commit) or O(transaction=rollback))
  type: list
  elements: str
changed_tls_sites:
  description: The names in RV(changed_sites) whose site has frontend TLS (the role checks their certificates).
  returned: when O(sites) is planned (not with O(transaction=commit) or O(transaction=rollback))
  type: list
  elements: str
removed_sites:
  description: Managed sites removed because they are no longer listed.
  returned: always
  type: list
  elements: str
changed_files:
  description:
    - Files and links written, linked or removed (or that would be, in check mode); with O(transaction=commit) or
      O(transaction=rollback), those of the pending change.
  returned: always
  type: list
  elements: str
config_test:
  description: Output of the candidate config test (empty when nothing changed).
  returned: always
  type: str
validated_backends:
  description:
    - Whether the set kept under RV(validated) also holds the backend checks of every changed site, so that
      M(revproxy.tls.backend_handshake) can take RV(validated) without the sites.
    - False when a changed site's client certificate and key come from C(*_content) (no kept file holds a key);
      pass the sites then.
  type: bool
  returned: success
validated:
  description:
    - With O(keep_validated), the key of the validated set kept for the later calls of this run (pass it as their
      O(revproxy.tls.apache_proxy_probe#module:validated)); empty when nothing was kept (no change, no runtime
      directory, or O(keep_validated=false)).
  returned: when O(sites) is planned (not with O(transaction=commit) or O(transaction=rollback))
  type: str
listen_ports:
  description: The ports the sites listen on (the role labels them C(http_port_t) where SELinux enforces).
  returned: when O(sites) is planned (not with O(transaction=commit) or O(transaction=rollback))
  type: list
  elements: int
  sample: [443, 8443]
"""

import os

from ansible_collections.revproxy.tls.plugins.module_utils._module import RevproxyModule

from ansible_collections.revproxy.tls.plugins.module_utils.apache._config_test import (
    candidate_config_test,
    live_config_test,
)
from ansible_collections.revproxy.tls.plugins.module_utils.apache._layout import Layout
from ansible_collections.revproxy.tls.plugins.module_utils.apache._plan import (
    desired_state,
    diff,
    drop_validated,
    existing_listens,
    handoff_key,
    is_managed,
    holds_key,
    keep_validated,
    plan,
)
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
from ansible_collections.revproxy.tls.plugins.module_utils.model._backend_tls import ConfigError
from ansible_collections.revproxy.tls.plugins.module_utils.model import _acme
from ansible_collections.revproxy.tls.plugins.module_utils.model import _policy
from ansible_collections.revproxy.tls.plugins.module_utils.apache._render_acme import ca_path
from ansible_collections.revproxy.tls.plugins.module_utils.apache import _host_checks
from ansible_collections.revproxy.tls.plugins.module_utils.apache._live_vhosts import LiveVhostsError, read_live_vhosts
from ansible_collections.revproxy.tls.plugins.module_utils.model import _grammar as grammar
from ansible_collections.revproxy.tls.plugins.module_utils.model._sites import (
    backend_tls_defaults_spec,
    SITE_SPEC,
)


def finish(module, layout, transaction):
    """commit or rollback a pending transaction."""
    pending = pending_transaction(layout) or []
    paths = changed_paths(pending)
    if transaction == "rollback" and not module.check_mode:
        rollback(layout)
    elif transaction == "commit" and not module.check_mode:
        commit(layout)
    return {"changed": bool(pending) if transaction == "rollback" else False, "changed_files": paths, "sites": [],
            "removed_sites": [], "config_test": ""}


def effective_sites(module, layout):
    """Every site validated (model, policy, served paths, the running configuration's names and addresses, no
    backend that is this Apache); warnings go to the module. Returns the effective sites."""
    params = module.params
    live = None
    if params["config_test"] and os.path.exists(layout.main_config):
        # The names and addresses the hand-written vhosts serve, as Apache reads the running configuration.
        try:
            live = read_live_vhosts(lambda args: layout.config_test_command(layout.main_config, args),
                                    module.run_command)
        except LiveVhostsError as exc:
            module.warn("the running configuration's vhosts could not be read, so names and addresses were checked "
                        "between managed sites only: %s" % exc)
    _policy_checked, sites, ownership_warnings = _host_checks.effective_sites(
        params["sites"], params["backend_tls_defaults"], layout.tls_dir, _policy.policy_of(params), live=live,
        is_managed=is_managed, managed_dir=layout.managed_dir(),
        listen_ports=set(port for _address, port in existing_listens(layout)), layout=layout)
    for warning in ownership_warnings:
        module.warn(warning)
    for site in sites:
        for warning in site["warnings"]:
            module.warn("site %r: %s" % (site["name"], warning))
    return sites


def outcome(module, sites, actions):
    """The module's result for a plan: per-site status, the changed and removed sites, the changed files."""
    changed_sites = set(a["entry"].site for a in actions if a["entry"].site)
    names = set(s["name"] for s in sites)
    result = {
        "changed": bool(actions),
        "sites": [{
            "name": s["name"],
            "changed": s["name"] in changed_sites,
            "status": ("would_apply" if module.check_mode else "applied") if s["name"] in changed_sites
            else "unchanged",
            "warnings": s["warnings"],
        } for s in sites],
        "changed_sites": [s["name"] for s in sites if s["name"] in changed_sites],
        "changed_tls_sites": [s["name"] for s in sites if s["name"] in changed_sites and s["tls"]],
        "removed_sites": sorted(changed_sites - names),
        "changed_files": [a["entry"].path for a in actions],
        "config_test": "",
        "listen_ports": sorted(set(s["listen"]["port"] for s in sites)),
    }
    if module._diff:
        result["diff"] = diff(actions)
    return result


def hand_on(module, layout, sites, actions):
    """With keep_validated: keep the validated sites for the later calls of this run, when there are any (a change
    to apply). Returns the key they pass as `validated`, or ""."""
    if not module.params["keep_validated"]:
        return ""
    if not actions:
        drop_validated(layout)  # an earlier run's, stopped before its commit
        return ""
    return keep_validated(layout, handoff_key(module.params, layout, _policy.policy_of(module.params)), sites)


def write(module, layout, actions, result):
    """Apply the actions, test the live configuration (restoring the previous files when it fails), and either
    record the change as pending (transaction begin) or make it final."""
    params = module.params
    backups = apply(actions)
    try:
        ok, output = live_config_test(layout, module.run_command) if params["config_test"] else (True, "")
    except Exception:
        restore(backups)
        raise
    if not ok:
        restore(backups)
        module.fail_json(msg="The live configuration failed Apache's config test after the change; the previous "
                             "files were restored. Apache said: %s" % output, **result)
    if params["transaction"] == "begin":
        begin_transaction(layout, backups)
    else:
        cleanup_backups(backups)


def run(module):
    params = module.params
    layout = Layout.named(params["layout"], config_root=params["config_root"], envvars=params["envvars"],
                          binary=params["binary"], tls_dir=params["tls_dir"])
    if params["transaction"] in ("commit", "rollback"):
        return finish(module, layout, params["transaction"])
    if pending_transaction(layout) is not None and not module.check_mode:
        # An earlier run stopped between applying and probing: its files are live; make them final before planning.
        module.warn("an earlier run left an unfinished change (%s); keeping its files as they are"
                    % ", ".join(changed_paths(pending_transaction(layout))[:3]))
        commit(layout, drop_handoff=False)
    log_level = grammar.log_level(params["log_level"])
    sites = effective_sites(module, layout)
    acme = _acme.check_settings(params["acme"], _policy.policy_of(params), ca_path(layout.tls_dir))
    acme_sites = _acme.check_sites_against(acme, sites)
    actions = plan(desired_state(sites, layout, log_level, acme=acme), layout, prune=params["prune"])
    result = outcome(module, sites, actions)
    result["acme_sites"] = [{"site": s["name"], "domain": s["tls"]["acme"]["names"][0],
                             "names": s["tls"]["acme"]["names"], "address": s["listen"]["address"],
                             "port": s["listen"]["port"], "changed": s["name"] in result["changed_sites"]}
                            for s in acme_sites]
    result["validated"], result["validated_backends"] = "", False
    if actions and params["config_test"]:
        ok, output = candidate_config_test(actions, layout, module.run_command)
        result["config_test"] = output
        if not ok:
            module.fail_json(msg="The candidate configuration fails Apache's config test; no live file was changed. "
                                 "Apache said: %s" % output, **result)
    # Kept only for a plan Apache accepts: a refused plan leaves nothing for later calls.
    result["validated"] = hand_on(module, layout, sites, actions)
    changed = set(result["changed_sites"])
    result["validated_backends"] = bool(result["validated"]) and not any(
        holds_key(s) for s in sites if s["name"] in changed)
    if actions and not module.check_mode:
        write(module, layout, actions, result)
    if params["transaction"] == "apply" and not module.check_mode:
        drop_validated(layout)  # no probe follows: the run ends here
    return result


def main():
    module = RevproxyModule(
        argument_spec=dict(
            sites=dict(type="list", elements="dict", required=True, options=SITE_SPEC),
            backend_tls_defaults=backend_tls_defaults_spec(),
            log_level=dict(type="str", default="warn ssl:info"),
            prune=dict(type="bool", default=True),
            layout=dict(type="str", choices=["debian", "redhat"], default="debian"),
            config_root=dict(type="path"),
            tls_dir=dict(type="path"),
            binary=dict(type="str"),
            envvars=dict(type="path"),
            config_test=dict(type="bool", default=True),
            transaction=dict(type="str", choices=["apply", "begin", "commit", "rollback"], default="apply"),
            keep_validated=dict(type="bool", default=False),
            acme=dict(type="dict", default={}, options=_acme.SETTINGS_SPEC),
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
