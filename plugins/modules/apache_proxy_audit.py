#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: apache_proxy_audit
short_description: Audit the hand-written Apache vhosts that proxy to HTTPS backends, and say what verification takes
version_added: 2.1.0
description:
  - Reads the live Apache configuration the way Apache does (the include tree from the main config, in Apache's
    order; C(<IfModule>) decided from the modules loaded; C(httpd -t -D DUMP_INCLUDES) and C(-D DUMP_RUN_CFG) tell
    which files httpd reads and what is defined), and finds every C(<VirtualHost>), C(ProxyPass), C(ProxyPassMatch),
    C(RewriteRule [P]), C(<Location>) with C(ProxyPass) and C(<Proxy balancer://>) member that goes to an HTTPS
    backend.
  - "For each backend it gives the B(effective) C(SSLProxy*) settings as mod_ssl merges them: the server config, then
    the vhost, then the C(<Proxy>) sections that apply, then mod_ssl's defaults (C(SSLProxyVerify none), depth 1, name
    and expiry checks on); C(ProxyPreserveHost) from the server, vhost and C(<Location>), and with it On the client's
    Host as the name sent as SNI and checked (one check per C(ServerName) and C(ServerAlias)). Each directive that
    decides is named with its file and line."
  - "Then two verdicts, both from the checker of M(revproxy.tls.backend_handshake) with mod_ssl's semantics: with the
    B(current) settings (does the request work now, and what it accepts, for example C(verification off: any
    certificate is accepted)), and with B(secure) settings (C(SSLProxyVerify require), the peer name and expiry
    checked, TLS 1.2 or later, the depth the backend's chain needs, and the CA already configured or else the system
    bundle), each with its reason and fix."
  - The secure proposal is derived from what the backend presents; the issuer and root to trust (the system bundle
    when the chain ends in a public root, else the issuer's name and key identifier), the depth, the name to check,
    and a client certificate when the backend asks for one. Each vhost gets a proposed C(apache_proxy_sites) entry,
    validated by the role's model, with what could not be carried over.
  - Constructs the audit does not evaluate (C(${VAR}) substitution, mod_macro C(Use) and C(<Macro>), C(<If>),
    C(<IfDefine>) it cannot decide, a backend that depends on the request) are reported per file and line in
    RV(problems), never guessed. Hostile files are bounded (size, number, include depth, loops, binary files, links
    out of the configuration directory) and reported.
  - Read-only. Nothing is written (but the metrics file with O(metrics_dir)) and no service is touched; safe in check
    mode.
author:
  - revproxy.tls contributors (@revproxy)
requirements:
  - pyOpenSSL >= 23.0 and cryptography >= 38.0 on the host, as for M(revproxy.tls.backend_handshake).
notes:
  - Sites managed by the C(apache_proxy) role (files with its header) are marked (C(managed) in RV(vhosts)) and their
    backends are left out unless O(include_managed).
  - C(SSLProxyMachineCertificatePath) and protocol-specific C(SSLProxyCipherSuite) lists are not checked (a note says
    so on the backend).
  - "How another server plugs in: the parser and the effective settings are Apache's (the Apache room); the verdicts
    come from the server-neutral checker, which a second server drives with its own semantics."
seealso:
  - module: revproxy.tls.backend_handshake
  - name: mod_ssl SSLProxy directives
    description: The Apache httpd 2.4 manual (the audit's guide is C(docs/audit.md) of the collection).
    link: https://httpd.apache.org/docs/2.4/mod/mod_ssl.html#sslproxyverify
extends_documentation_fragment:
  - revproxy.tls._attributes
  - revproxy.tls._attributes.INFO_MODULE
options:
  layout:
    description: The Apache family's layout (see M(revproxy.tls.apache_proxy_sites)); it gives the defaults below.
    type: str
    choices: [debian, redhat]
    default: debian
  config_root:
    description:
      - Apache's configuration directory; only files under it (and the C(ServerRoot)) are read. Default
        C(/etc/apache2) with O(layout=debian), C(/etc/httpd) with O(layout=redhat).
    type: path
  binary:
    description: The Apache binary. Default C(apache2) with O(layout=debian), C(httpd) with O(layout=redhat).
    type: str
  envvars:
    description: Shell file sourced before httpd runs (Debian's C(envvars)). Default C(/etc/apache2/envvars) with
      O(layout=debian), none with O(layout=redhat).
    type: path
  tls_dir:
    description: The role's C(apache_proxy_tls_dir), for the proposed sites.
    type: path
  use_httpd:
    description:
      - Ask httpd which files it reads, what is defined and which modules are built in. With V(false) the files are
        read alone and an C(<IfDefine>) of a name the configuration does not define is reported.
    type: bool
    default: true
  include_managed:
    description: Audit the backends of the role's managed sites too.
    type: bool
    default: false
  system_ca_file:
    description:
      - The system's CA bundle, tried for the secure settings when no CA is configured. Default the first of
        C(/etc/ssl/certs/ca-certificates.crt) and C(/etc/pki/tls/certs/ca-bundle.crt) that exists.
    type: path
  timeout:
    description: Seconds per backend check (DNS, TCP, TLS, HTTP), more than 0 and at most 3600.
    type: float
    default: 5
  concurrency:
    description: Backends checked at the same time, 1 to 1024.
    type: int
    default: 32
  metrics_dir:
    description:
      - Also write the current verdicts as Prometheus metrics (text format) to C(revproxy_tls_audit.prom) in this
        directory (node_exporter's textfile collector), atomically; the families are described in C(docs/metrics.md).
      - An unusable directory fails the task before anything is checked. Not set, no metrics are written.
    type: path
"""

EXAMPLES = r"""
- name: Audit the hand-written vhosts
  revproxy.tls.apache_proxy_audit:
  register: audit

- name: Show the insecure backends and what verification takes
  ansible.builtin.debug:
    msg: >-
      {{ item.vhost }} {{ item.url }}: {{ item.accepts }};
      secure: {{ item.secure.reason }} ({{ item.secure.trust }})
  loop: "{{ audit.backends | selectattr('insecure') }}"
  loop_control:
    label: "{{ item.url }}"
"""

RETURN = r"""
msg:
  description: One line; the insecure or failing backends first, then the counts.
  returned: always
  type: str
summary:
  description: Counts (backends, insecure, failing_now, secure_ok, secure_failing, vhosts, managed_vhosts, problems).
  returned: always
  type: dict
backends:
  description: One entry per HTTPS backend and name checked, the insecure ones first.
  returned: always
  type: list
  elements: dict
  contains:
    vhost:
      description: The vhost (ServerName, addresses, file and line).
      type: str
    route:
      description: The directive that proxies (kind, path, target, file, line, regex).
      type: dict
    url:
      description: The backend URL checked (a balancer member's URL for a pool).
      type: str
    balancer:
      description: The balancer the member belongs to, or null.
      type: str
    host:
      description: With ProxyPreserveHost On, the client Host (vhost name) this check stands for.
      type: str
    directives:
      description: The effective settings, each with its value, file, line and origin (server, vhost, a <Proxy>
        section, or default for mod_ssl's default).
      type: list
      elements: dict
    insecure:
      description: Whether the current settings switch part of the check off.
      type: bool
    insecure_settings:
      description: Which settings, in the role's words.
      type: list
      elements: str
    accepts:
      description: What the current settings let through, in plain words.
      type: str
    current:
      description: The verdict with the current settings (ok, reason, message, fix, http_status, sni, checked_name).
      type: dict
    secure:
      description:
        - The verdict with secure settings (ok, reason, message, fix), the CA to trust (trust), the settings
          (settings, in the role's backend_tls keys), what the backend's chain shows (chain, depth_needed among
          them) and, when the backend asks for a client certificate, which issuers it accepts and whether one is
          configured (client_certificate).
      type: dict
    notes:
      description: What the audit could not follow for this backend.
      type: list
      elements: str
vhosts:
  description:
    - Every vhost read, with its proposed apache_proxy_sites entry when it proxies to HTTPS and is not managed
      (proposal.site; proposal.valid, the role's model takes it; proposal.secure_ok, every backend passes with its
      secure settings; proposal.error and proposal.not_carried, what stops it; proposal.replaces, the site's
      C(replaces) that takes the hand-written file over in the same change).
  returned: always
  type: list
  elements: dict
problems:
  description: What the audit did not evaluate or could not read, each with file, line, kind and message.
  returned: always
  type: list
  elements: dict
files:
  description: The files read, in Apache's order (path, real path, managed, include depth).
  returned: always
  type: list
  elements: dict
metrics_file:
  description: The Prometheus metrics file written (with O(metrics_dir)).
  returned: with O(metrics_dir)
  type: str
"""

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.revproxy.tls.plugins.module_utils import _metrics
from ansible_collections.revproxy.tls.plugins.module_utils._module import RevproxyModule
from ansible_collections.revproxy.tls.plugins.module_utils.apache._audit_run import AuditError, audit
from ansible_collections.revproxy.tls.plugins.module_utils.apache._layout import Layout
from ansible_collections.revproxy.tls.plugins.module_utils.tls import _tls_probe
from ansible_collections.revproxy.tls.plugins.module_utils.tls._checks import ConfigError, check_limits

ARGUMENT_SPEC = dict(
    layout=dict(type="str", choices=["debian", "redhat"], default="debian"),
    config_root=dict(type="path"),
    binary=dict(type="str"),
    envvars=dict(type="path"),
    tls_dir=dict(type="path"),
    use_httpd=dict(type="bool", default=True),
    include_managed=dict(type="bool", default=False),
    system_ca_file=dict(type="path"),
    timeout=dict(type="float", default=5),
    concurrency=dict(type="int", default=32),
    metrics_dir=dict(type="path"),
)


def metrics_rows(backends):
    """The audit's current verdicts in _metrics' backends shape."""
    return [{"site": b["vhost"].split(" ", 1)[0], "url": b["url"], "path": b["route"]["path"],
             "checked_name": b["current"].get("checked_name"), "ok": bool(b["current"]["ok"]),
             "reason": b["current"]["reason"], "not_after": b["current"].get("not_after")} for b in backends]


def main():
    module = RevproxyModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    if getattr(_tls_probe, "CAPABILITY_ERROR", None):
        module.fail_json(msg=str(_tls_probe.CAPABILITY_ERROR))
    if not _tls_probe.HAS_PYOPENSSL:
        module.fail_json(msg=missing_required_lib("pyOpenSSL"), exception=str(_tls_probe.PYOPENSSL_IMPORT_ERROR))
    if not _tls_probe.HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib("cryptography"),
                         exception=str(_tls_probe.CRYPTOGRAPHY_IMPORT_ERROR))
    try:
        check_limits(params)
        if params.get("metrics_dir"):
            _metrics.file_path(params["metrics_dir"], "audit")
    except (ConfigError, _metrics.MetricsError) as exc:
        module.fail_json(msg=str(exc))
    layout = Layout.named(params["layout"], config_root=params["config_root"], envvars=params["envvars"],
                          binary=params["binary"], tls_dir=params["tls_dir"])
    try:
        result = audit(params, layout, module.run_command)
    except AuditError as exc:
        module.fail_json(msg=str(exc))
    if params.get("metrics_dir"):
        try:
            result["metrics_file"] = _metrics.write(params["metrics_dir"], "audit",
                                                    backends=metrics_rows(result["backends"]))
        except _metrics.MetricsError as exc:
            module.fail_json(msg=str(exc))
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
