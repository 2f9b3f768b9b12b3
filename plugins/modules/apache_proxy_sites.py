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
    # BEGIN GENERATED from roles/apache_proxy/meta/argument_specs.yml by scripts/sync_docs.py
    suboptions:
      name:
        description:
        - The site's file name (C(<name>.conf)); must match C(^[a-z0-9][a-z0-9_.-]*$).
        type: str
        required: true
      server_name:
        description:
        - C(ServerName) of the vhost.
        type: str
        required: true
      server_aliases:
        description:
        - C(ServerAlias) names. With O(sites[].preserve_host), each is also a name Apache sends as SNI
          to TLS backends and checks their certificate against.
        type: list
        elements: str
        default: []
      listen:
        description:
        - Where the vhost listens. A C(Listen) directive is added for ports that C(ports.conf) does not open.
        type: dict
        suboptions:
          port:
            description:
            - TCP port; 443 when O(sites[].tls) is set, otherwise 80.
            type: int
          address:
            description:
            - IP address of the vhost (C(<VirtualHost address:port>)); all addresses when omitted.
            type: str
      tls:
        description:
        - Frontend TLS (C(SSLEngine on)). Omit for a plain HTTP vhost.
        type: dict
        suboptions:
          certificate_file:
            description: C(SSLCertificateFile), an absolute path on the proxy.
            type: path
            required: true
          key_file:
            description: C(SSLCertificateKeyFile), an absolute path on the proxy.
            type: path
            required: true
          chain_file:
            description: C(SSLCertificateChainFile), an absolute path on the proxy.
            type: path
      preserve_host:
        description:
        - C(ProxyPreserveHost). With C(true) and a TLS backend, the client's Host becomes the SNI and the name the backend
          certificate is checked against, so that certificate must cover C(server_name) and every alias (the play warns
          about it).
        type: bool
        default: false
      locations:
        description:
        - C(ProxyPass)/C(ProxyPassReverse) pairs. Longer paths are rendered first (mod_proxy uses the first match).
        type: list
        elements: dict
        required: true
        suboptions:
          path:
            description: URL path on the proxy, for example C(/) or C(/api/).
            type: str
            required: true
          backend:
            description:
            - Backend URL (C(http), C(https), C(ws) or C(wss)); C(path) and the URL path must both end with C(/) or
              both not. An C(https) backend given as an IP literal is refused while C(check_peer_name) is on, because
              mod_ssl never matches iPAddress SANs.
            type: str
            required: true
          probe_status:
            description:
            - HTTP statuses that count as success when this location is probed through the proxy (default any status
              below 500).
            type: list
            elements: int
          timeout:
            description: ProxyPass C(timeout=) in seconds.
            type: int
          connectiontimeout:
            description: ProxyPass C(connectiontimeout=) in seconds.
            type: int
          retry:
            description: ProxyPass C(retry=) in seconds (Apache's default 60 keeps a failed worker in error state).
            type: int
          keepalive:
            description: ProxyPass C(keepalive=) (TCP keepalive).
            type: bool
          disablereuse:
            description: ProxyPass C(disablereuse=).
            type: bool
          enablereuse:
            description: ProxyPass C(enablereuse=).
            type: bool
          ttl:
            description: ProxyPass C(ttl=) in seconds.
            type: int
          min:
            description: ProxyPass C(min=).
            type: int
          max:
            description: ProxyPass C(max=).
            type: int
          smax:
            description: ProxyPass C(smax=).
            type: int
          acquire:
            description: ProxyPass C(acquire=) in milliseconds.
            type: int
          ping:
            description: ProxyPass C(ping=) in seconds.
            type: int
          flushpackets:
            description: ProxyPass C(flushpackets=).
            type: str
            choices:
            - 'on'
            - 'off'
            - auto
          flushwait:
            description: ProxyPass C(flushwait=) in milliseconds.
            type: int
          iobuffersize:
            description: ProxyPass C(iobuffersize=) in bytes.
            type: int
          receivebuffersize:
            description: ProxyPass C(receivebuffersize=) in bytes.
            type: int
          responsefieldsize:
            description: ProxyPass C(responsefieldsize=) in bytes.
            type: int
          upgrade:
            description: ProxyPass C(upgrade=) protocol token, for example C(websocket).
            type: str
      backend_tls:
        description:
        - Settings for TLS backends (C(https), C(wss)), the same names the M(revproxy.tls.backend_handshake) module
          takes. Unset keys come from O(backend_tls_defaults), then from the collection defaults shown
          here.
        type: dict
        suboptions:
          verify:
            description:
            - C(SSLProxyVerify). V(none) and V(optional_no_ca) need O(sites[].allow_insecure_backend_tls).
              V(require) and V(optional) need C(ca_file), C(ca_content) or C(ca_path) (mod_ssl never uses the system
              trust store).
            - Default V(require), unless O(backend_tls_defaults) sets it.
            type: str
            choices:
            - none
            - optional
            - require
            - optional_no_ca
          verify_depth:
            description:
            - C(SSLProxyVerifyDepth). mod_ssl fails when the root's depth (leaf = 0) exceeds it, so Apache's default
              1 refuses leaf, intermediate, root.
            - Default V(4), unless O(backend_tls_defaults) sets it.
            type: int
          ca_file:
            description: C(SSLProxyCACertificateFile), a PEM bundle on the proxy.
            type: path
          ca_content:
            description: PEM of the trusted CA(s); deployed as C(<tls_dir>/<name>/backend-ca.pem) and used as C(ca_file).
            type: str
          ca_path:
            description: C(SSLProxyCACertificatePath), a directory with C(c_rehash) links.
            type: path
          crl_file:
            description: C(SSLProxyCARevocationFile).
            type: path
          crl_path:
            description: C(SSLProxyCARevocationPath).
            type: path
          crl_check:
            description:
            - C(SSLProxyCARevocationCheck); V(leaf) and V(chain) need C(crl_file) or C(crl_path).
            - Default V(none), unless O(backend_tls_defaults) sets it.
            type: str
            choices:
            - none
            - leaf
            - chain
          check_peer_name:
            description:
            - C(SSLProxyCheckPeerName). V(false) needs C(allow_insecure_backend_tls).
            - Default V(true), unless O(backend_tls_defaults) sets it.
            type: bool
          check_peer_expire:
            description:
            - C(SSLProxyCheckPeerExpire). V(false) needs C(allow_insecure_backend_tls).
            - Default V(true), unless O(backend_tls_defaults) sets it.
            type: bool
          client_cert_file:
            description:
            - Client certificate for backends that require one (C(SSLProxyMachineCertificateFile)). When C(client_key_file)
              is a different file, the role combines both into C(<tls_dir>/<name>/proxy-client.pem) (mode 0600), since
              mod_ssl wants them in one file.
            type: path
          client_key_file:
            description: Unencrypted private key of C(client_cert_file), when it is a separate file.
            type: path
          client_chain_file:
            description:
            - C(SSLProxyMachineCertificateChainFile). mod_ssl also trusts every certificate in it as a CA.
            type: path
          client_cert_content:
            description: PEM client certificate; deployed with the key as C(<tls_dir>/<name>/proxy-client.pem), mode
              0600.
            type: str
          client_key_content:
            description: PEM unencrypted private key of C(client_cert_content); never logged.
            type: str
          client_chain_content:
            description: PEM chain for the client certificate; deployed as C(<tls_dir>/<name>/proxy-client-chain.pem).
            type: str
          protocols:
            description:
            - C(SSLProxyProtocol), rendered as C(-all +TLSv1.2 +TLSv1.3). TLSv1/TLSv1.1 need C(allow_insecure_backend_tls).
            - Default V(TLSv1.2 TLSv1.3), unless O(backend_tls_defaults) sets it.
            type: list
            elements: str
            choices:
            - TLSv1
            - TLSv1.1
            - TLSv1.2
            - TLSv1.3
          ciphers:
            description: C(SSLProxyCipherSuite), an OpenSSL cipher string; OpenSSL's default when omitted.
            type: str
      allow_insecure_backend_tls:
        description:
        - Accept insecure backend TLS settings for this site (C(verify) none or optional_no_ca, C(check_peer_name) or
          C(check_peer_expire) false, protocols below TLS 1.2). They are rendered with a comment saying so and the play
          prints a warning naming the site.
        type: bool
        default: false
    # END GENERATED
  backend_tls_defaults:
    description:
      - Backend TLS settings applied to every site before the site's own C(backend_tls) (C(apache_proxy_backend_tls_defaults)).
    type: dict
    default: {}
    # BEGIN GENERATED backend_tls_defaults from roles/apache_proxy/meta/argument_specs.yml by scripts/sync_docs.py
    suboptions:
      verify:
        description:
        - C(SSLProxyVerify). V(none) and V(optional_no_ca) need O(sites[].allow_insecure_backend_tls).
          V(require) and V(optional) need C(ca_file), C(ca_content) or C(ca_path) (mod_ssl never uses the system trust
          store).
        type: str
        choices:
        - none
        - optional
        - require
        - optional_no_ca
      verify_depth:
        description:
        - C(SSLProxyVerifyDepth). mod_ssl fails when the root's depth (leaf = 0) exceeds it, so Apache's default 1 refuses
          leaf, intermediate, root.
        type: int
      ca_file:
        description:
        - C(SSLProxyCACertificateFile), a PEM bundle on the proxy.
        type: path
      ca_content:
        description:
        - Not accepted here (contents are deployed per site); refused with an error, never logged.
        type: str
      ca_path:
        description:
        - C(SSLProxyCACertificatePath), a directory with C(c_rehash) links.
        type: path
      crl_file:
        description:
        - C(SSLProxyCARevocationFile).
        type: path
      crl_path:
        description:
        - C(SSLProxyCARevocationPath).
        type: path
      crl_check:
        description:
        - C(SSLProxyCARevocationCheck); V(leaf) and V(chain) need C(crl_file) or C(crl_path).
        type: str
        choices:
        - none
        - leaf
        - chain
      check_peer_name:
        description:
        - C(SSLProxyCheckPeerName). V(false) needs C(allow_insecure_backend_tls).
        type: bool
      check_peer_expire:
        description:
        - C(SSLProxyCheckPeerExpire). V(false) needs C(allow_insecure_backend_tls).
        type: bool
      client_cert_file:
        description:
        - Client certificate for backends that require one (C(SSLProxyMachineCertificateFile)). When C(client_key_file)
          is a different file, the role combines both into C(<tls_dir>/<name>/proxy-client.pem) (mode 0600), since mod_ssl
          wants them in one file.
        type: path
      client_key_file:
        description:
        - Unencrypted private key of C(client_cert_file), when it is a separate file.
        type: path
      client_chain_file:
        description:
        - C(SSLProxyMachineCertificateChainFile). mod_ssl also trusts every certificate in it as a CA.
        type: path
      client_cert_content:
        description:
        - Not accepted here (contents are deployed per site); refused with an error, never logged.
        type: str
      client_key_content:
        description:
        - Not accepted here (contents are deployed per site); refused with an error, never logged.
        type: str
      client_chain_content:
        description:
        - Not accepted here (contents are deployed per site); refused with an error, never logged.
        type: str
      protocols:
        description:
        - C(SSLProxyProtocol), rendered as C(-all +TLSv1.2 +TLSv1.3). TLSv1/TLSv1.1 need C(allow_insecure_backend_tls).
        type: list
        elements: str
        choices:
        - TLSv1
        - TLSv1.1
        - TLSv1.2
        - TLSv1.3
      ciphers:
        description:
        - C(SSLProxyCipherSuite), an OpenSSL cipher string; OpenSSL's default when omitted.
        type: str
    # END GENERATED backend_tls_defaults
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
  config_root:
    description:
      - Apache's configuration directory (Debian layout with C(sites-available), C(sites-enabled), C(mods-*), C(conf-*)).
    type: path
    default: /etc/apache2
  tls_dir:
    description:
      - Directory for the CA and client certificate files deployed from C(*_content) keys, one sub-directory per site.
    type: path
    default: /etc/apache2/revproxy-tls
  binary:
    description:
      - The Apache binary used for the config test.
    type: str
    default: apache2
  envvars:
    description:
      - Shell file sourced before the config test (Debian's C(envvars)); ignored when missing.
    type: path
    default: /etc/apache2/envvars
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
    type: str
    choices: [apply, begin, commit, rollback]
    default: apply
notes:
  - The vhost file of a site is C(<config_root>/sites-available/<name>.conf); a file of that name that lacks the
    managed header is never overwritten (the task fails instead).
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
"""

from ansible_collections.revproxy.tls.plugins.module_utils._module import RevproxyModule

from ansible_collections.revproxy.tls.plugins.module_utils._apply import (
    Layout,
    apply,
    begin_transaction,
    candidate_config_test,
    changed_paths,
    cleanup_backups,
    commit,
    desired_state,
    diff,
    pending_transaction,
    plan,
    restore,
    rollback,
)
from ansible_collections.revproxy.tls.plugins.module_utils._backend_tls import ConfigError
from ansible_collections.revproxy.tls.plugins.module_utils._render import check_log_level
from ansible_collections.revproxy.tls.plugins.module_utils._sites import (
    backend_tls_defaults_spec,
    SITE_SPEC,
    normalize_sites,
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


def run(module):
    params = module.params
    layout = Layout.debian(config_root=params["config_root"], envvars=params["envvars"], binary=params["binary"],
                           tls_dir=params["tls_dir"])
    if params["transaction"] in ("commit", "rollback"):
        return finish(module, layout, params["transaction"])
    if pending_transaction(layout) is not None and not module.check_mode:
        # An earlier run stopped between applying and probing: its files are live; make them final before planning.
        module.warn("an earlier run left an unfinished change (%s); keeping its files as they are"
                    % ", ".join(changed_paths(pending_transaction(layout))[:3]))
        commit(layout)
    log_level = check_log_level(params["log_level"])
    sites = normalize_sites(params["sites"], params["backend_tls_defaults"], layout.tls_dir)
    for site in sites:
        for warning in site["warnings"]:
            module.warn("site %r: %s" % (site["name"], warning))
    entries = desired_state(sites, layout, log_level)
    actions = plan(entries, layout, prune=params["prune"])
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
        "removed_sites": sorted(changed_sites - names),
        "changed_files": [a["entry"].path for a in actions],
        "config_test": "",
    }
    if module._diff:
        result["diff"] = diff(actions)
    if actions and params["config_test"]:
        ok, output = candidate_config_test(actions, layout, module.run_command)
        result["config_test"] = output
        if not ok:
            module.fail_json(msg="The candidate configuration fails Apache's config test; no live file was changed. "
                                 "Apache said: %s" % output, **result)
    if actions and not module.check_mode:
        backups = apply(actions)
        try:
            ok, output = candidate_config_test([], layout, module.run_command) if params["config_test"] else (True, "")
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
    return result


def main():
    module = RevproxyModule(
        argument_spec=dict(
            sites=dict(type="list", elements="dict", required=True, options=SITE_SPEC),
            backend_tls_defaults=backend_tls_defaults_spec(),
            log_level=dict(type="str", default="warn ssl:info"),
            prune=dict(type="bool", default=True),
            config_root=dict(type="path", default="/etc/apache2"),
            tls_dir=dict(type="path", default="/etc/apache2/revproxy-tls"),
            binary=dict(type="str", default="apache2"),
            envvars=dict(type="path", default="/etc/apache2/envvars"),
            config_test=dict(type="bool", default=True),
            transaction=dict(type="str", choices=["apply", "begin", "commit", "rollback"], default="apply"),
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
