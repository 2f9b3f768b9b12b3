#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: frontend_certificate
short_description: Check the frontend certificates of reverse-proxy sites before they go live
version_added: 2.0.0
description:
  - For each site with C(tls), reads the certificate, key and chain files on the proxy and checks that the key
    matches the certificate, that the chain is complete up to a root (served, or in the trust bundle), that the
    certificate covers C(server_name) and every alias, and that it is valid now and for at least O(expiry_days)
    more days.
  - Each problem is returned with its reason, a message naming the site and file, and the fix.
  - Reads only; the C(revproxy.tls.apache_proxy) role runs it in its preflight, before anything is written.
author:
  - revproxy.tls contributors (@revproxy)
extends_documentation_fragment:
  - revproxy.tls._attributes
  - revproxy.tls._sites
  - revproxy.tls._policy
  - revproxy.tls._validated
  - revproxy.tls._attributes.INFO_MODULE
options:
  sites:
    description:
      - The role's C(apache_proxy_sites) (validated as the role validates them). Sites without C(tls) are skipped.
      - Required unless O(validated) names a validated set kept on the host.
    type: list
    elements: dict
  names:
    description:
      - Names of the sites to check; all sites when omitted.
    type: list
    elements: str
  backend_tls_defaults:
    description:
      - The role's C(apache_proxy_backend_tls_defaults), so the sites are read exactly as the role renders them.
    type: dict
    default: {}
  layout:
    description:
      - The server family's layout (see M(revproxy.tls.apache_proxy_sites)); it gives the default of O(tls_dir).
    type: str
    choices: [debian, redhat]
    default: debian
  tls_dir:
    description:
      - The role's C(apache_proxy_tls_dir). Default C(/etc/apache2/revproxy-tls) with O(layout=debian),
        C(/etc/httpd/revproxy-tls) with O(layout=redhat).
    type: path
  expiry_days:
    description:
      - A certificate that expires in fewer days than this fails the check (C(0) checks only that it has not expired).
    type: int
    default: 14
  trust_file:
    description:
      - PEM bundle of the roots clients trust, for the chain check. The system bundle
        (C(/etc/ssl/certs/ca-certificates.crt)) when omitted; a self-signed root served in the files also ends a
        complete chain.
    type: path
  fail_on:
    description:
      - V(any) fails the task when a certificate has a problem; V(never) only reports (the role decides).
    type: str
    choices: [any, never]
    default: any
  metrics_dir:
    description:
      - Also write the results as Prometheus metrics (text format) to C(revproxy_tls_frontend_certificate.prom) in
        this directory, for node_exporter's textfile collector (C(/var/lib/prometheus/node-exporter) on Debian with
        C(prometheus-node-exporter)). Per site, whether its certificate passed with the first problem's reason, its
        expiry and when it was checked. The families are described in C(docs/metrics.md) of the collection.
      - The directory must exist (it is never created). The file is replaced atomically (mode C(0644)); it is the
        check's output, so it is written in check mode too and does not make the task changed. An unusable
        directory fails the task naming O(metrics_dir).
      - Not set (the default), no metrics are written.
    type: path
    version_added: 2.0.0
  acme_status_port:
    description:
      - With it, the sites with C(tls.acme) are reported from mod_md's C(md-status) on C(127.0.0.1:<port>) (the
        role's C(apache_proxy_acme_status_port)) - valid until (RV(results[].not_after)), renewal due
        (RV(results[].renew_at)), the last error, whether the CA's certificate is active - with the problems
        C(acme_error), C(acme_pending), C(acme_staged), C(acme_status), C(expiring). Without it they are skipped (the
        role's preflight, before the first order).
    type: int
    version_added: 2.1.0
requirements:
  - cryptography >= 38.0 on the proxy host
"""

EXAMPLES = r"""
- name: Check the frontend certificates of every site
  revproxy.tls.frontend_certificate:
    sites: "{{ apache_proxy_sites }}"
    expiry_days: 21

- name: Report only, with a private root as the clients' trust
  revproxy.tls.frontend_certificate:
    sites: "{{ apache_proxy_sites }}"
    trust_file: /etc/ssl/internal-root.pem
    fail_on: never
  register: front_certs
"""

RETURN = r"""
results:
  description: One entry per checked site.
  returned: always
  type: list
  elements: dict
  contains:
    site:
      description: The site name.
      type: str
    certificate_file:
      description: The certificate file checked.
      type: str
    subject:
      description: The leaf certificate's subject (RFC 4514), when it could be read.
      type: str
    names:
      description: The certificate's subjectAltName entries.
      type: list
      elements: str
    not_after:
      description: Expiry of the certificate (UTC, ISO 8601), when it could be read.
      type: str
    days_left:
      description: Whole days until expiry (negative when expired).
      type: int
    renew_at:
      description: With O(acme_status_port), a C(tls.acme) site's renewal time as mod_md reports it.
      type: str
      version_added: 2.1.0
    acme:
      description:
        - With O(acme_status_port), a C(tls.acme) site's state from mod_md (C(state), C(state_descr), C(active),
          C(staged), C(valid_until), C(renew_at), C(last_error), C(errors)).
      type: dict
      version_added: 2.1.0
    ok:
      description: Whether the certificate passed every check.
      type: bool
    problems:
      description: Each problem with C(reason), C(message) and C(fix).
      type: list
      elements: dict
failed_sites:
  description: Names of the sites whose certificate has a problem.
  returned: always
  type: list
  elements: str
msg:
  description: A summary, one line per problem with its fix.
  returned: always
  type: str
metrics_file:
  description: The Prometheus metrics file written (with O(metrics_dir)).
  returned: with O(metrics_dir)
  type: str
  sample: /var/lib/prometheus/node-exporter/revproxy_tls_frontend_certificate.prom
  version_added: 2.0.0
"""

import datetime

from ansible_collections.revproxy.tls.plugins.module_utils import _metrics
from ansible_collections.revproxy.tls.plugins.module_utils._files import FileReadError, read_regular_file
from ansible_collections.revproxy.tls.plugins.module_utils._module import RevproxyModule

from ansible_collections.revproxy.tls.plugins.module_utils.apache import _acme_status
from ansible_collections.revproxy.tls.plugins.module_utils.apache._capabilities import APACHE
from ansible_collections.revproxy.tls.plugins.module_utils.apache._catalogue import FRONTEND_FIXES
from ansible_collections.revproxy.tls.plugins.module_utils.apache._layout import Layout
from ansible_collections.revproxy.tls.plugins.module_utils.apache._plan import validated_sites
from ansible_collections.revproxy.tls.plugins.module_utils.model._backend_tls import ConfigError
from ansible_collections.revproxy.tls.plugins.module_utils.model import _grammar as grammar
from ansible_collections.revproxy.tls.plugins.module_utils.model import _pem
from ansible_collections.revproxy.tls.plugins.module_utils.model import _policy
from ansible_collections.revproxy.tls.plugins.module_utils.model._sites import (
    backend_tls_defaults_spec,
    SITE_SPEC,
    normalize_sites,
    select_sites,
)
from ansible_collections.revproxy.tls.plugins.module_utils.tls import _frontend_cert


# The most _read() reads of one file (10 MiB); _pem then refuses text over MAX_PEM_BYTES with its own message.
READ_LIMIT = 10 * _pem.MAX_PEM_BYTES


def _read(path):
    """A certificate, key or trust file's text; None when it cannot be read, is not a regular file (a directory, a
    FIFO, /dev/zero: never opened, so never blocks) or is over READ_LIMIT bytes."""
    try:
        data = read_regular_file(path, READ_LIMIT, path)
    except FileReadError:
        return None
    return data.decode("utf-8", "replace")


def _acme_results(params, acme_sites, days):
    """The sites with tls.acme, from mod_md's md-status (only with acme_status_port: the role's preflight runs
    before the first order, when there is nothing to read yet)."""
    if not acme_sites or not params.get("acme_status_port"):
        return []
    port = grammar.port(params["acme_status_port"], "acme_status_port")
    try:
        mds, error = _acme_status.fetch_status(port), None
    except (OSError, ValueError) as exc:
        mds, error = {}, "127.0.0.1:%d: %s" % (port, exc)
    now = datetime.datetime.now(datetime.timezone.utc)
    results = []
    for site in acme_sites:
        result = _acme_status.frontend_result(site, mds.get(site["tls"]["acme"]["names"][0]), now, days, error)
        result["ok"] = not result["problems"]
        results.append(result)
    return results


def run(params, read=_read):
    if not _frontend_cert.HAS_CRYPTOGRAPHY:
        raise ConfigError("the Python library cryptography (>= 38.0) is needed on the proxy host for this check")
    layout = Layout.named(params.get("layout") or "debian", tls_dir=params["tls_dir"])
    sites = validated_sites(params, layout, lambda: normalize_sites(
        params["sites"], params["backend_tls_defaults"], layout.tls_dir, _policy.policy_of(params), server=APACHE))
    sites = select_sites(sites, params["names"])
    days = grammar.integer(params["expiry_days"], "expiry_days", 0, 3650)
    trust_text = None
    if params["trust_file"]:
        trust_text = read(grammar.abs_path(params["trust_file"], "trust_file"))
        if trust_text is None:
            raise ConfigError("trust_file: %s cannot be read" % params["trust_file"])
    results = _acme_results(params, [s for s in sites if (s["tls"] or {}).get("acme")], days)
    for site in sites:
        if not site["tls"] or site["tls"].get("acme"):
            continue  # tls.acme: no files; reported from mod_md's status above (with acme_status_port)
        result = _frontend_cert.check_frontend(site, read, expiry_days=days, trust_text=trust_text,
                                               fixes=FRONTEND_FIXES)
        result["ok"] = not result["problems"]
        results.append(result)
    failed = [r["site"] for r in results if not r["ok"]]
    lines = [line for r in results for line in _frontend_cert.summary(r)]
    msg = " | ".join(lines) if lines else "%d frontend certificate(s) passed" % len(results)
    return {"changed": False, "results": results, "failed_sites": failed, "msg": msg}


def argument_spec():
    """A fresh spec each call (AnsibleModule fills suboption defaults into it in place)."""
    return dict(
        sites=dict(type="list", elements="dict", options=SITE_SPEC),
        validated=dict(type="str"),
        names=dict(type="list", elements="str"),
        backend_tls_defaults=backend_tls_defaults_spec(),
        layout=dict(type="str", choices=["debian", "redhat"], default="debian"),
        tls_dir=dict(type="path"),
        expiry_days=dict(type="int", default=14),
        trust_file=dict(type="path"),
        fail_on=dict(type="str", choices=["any", "never"], default="any"),
        metrics_dir=dict(type="path"),
        acme_status_port=dict(type="int"),
        **_policy.policy_options()
    )


def main():
    module = RevproxyModule(argument_spec=argument_spec(), required_one_of=[("sites", "validated")],
                            supports_check_mode=True)
    try:
        if module.params["metrics_dir"]:  # an unusable directory fails before anything is checked
            _metrics.file_path(module.params["metrics_dir"], "frontend_certificate")
        result = run(module.params)
    except (ConfigError, _metrics.MetricsError) as exc:
        module.fail_json(msg=str(exc))
    if module.params["metrics_dir"]:
        try:
            result["metrics_file"] = _metrics.write(module.params["metrics_dir"], "frontend_certificate",
                                                    frontends=result["results"])
        except _metrics.MetricsError as exc:
            module.fail_json(msg=str(exc))
    if result["failed_sites"] and module.params["fail_on"] == "any":
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
