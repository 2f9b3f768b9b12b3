#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Why one file: an Ansible module is one file; its DOCUMENTATION, EXAMPLES and RETURN are most of it, and the
# logic is in module_utils (tls/_checker, the servers' _catalogue).

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: backend_handshake
short_description: Check HTTPS backends exactly as Apache mod_ssl would, and name the cause and the fix
version_added: 1.0.0
description:
  - For each backend, answers whether Apache's proxied request to it succeeds with the given C(SSLProxy*) settings,
    and if not, why, which C(AH) lines Apache writes (and at which C(LogLevel)), which HTTP status the client gets,
    and which directive fixes it.
  - "Semantics are mod_ssl's (httpd 2.4.x), not a generic TLS client's: the name used for SNI and for the peer-name
    check is the URL host, or the client's Host with O(backends[].preserve_host); no SNI is sent for IP literals;
    only the configured CA file/path is trusted, with OpenSSL's default verification flags; the chain depth is
    counted as mod_ssl counts it (a certificate at depth N of the built chain, leaf = 0, fails when
    N > O(backends[].verify_depth)); peer names are the dNSName SANs plus every CN, case-insensitive, with C(*.) only
    as the whole left-most label covering exactly one label, never iPAddress SANs; the leaf's notBefore and notAfter
    are checked even with O(backends[].verify=none) unless O(backends[].check_peer_expire=false); the client
    certificate is chosen as C(ssl_callback_proxy_cert) chooses it, from the server's acceptable-CA list."
  - After the handshake a C(GET) request with the Host Apache would send is made (see O(http_request)), which detects
    a TLS 1.3 backend that rejects a missing client certificate, a C(421) and a plain-HTTP C(400).
  - Run it on the proxy host, so DNS, routes and CA files are the ones Apache sees. Backends are checked concurrently
    within one task; each one is bounded by O(timeout), DNS included.
  - "Stable reason codes: C(ok), C(dns_failure), C(connect_refused), C(connect_timeout), C(connect_failed),
    C(timeout), C(connection_closed), C(plain_http_backend), C(not_tls), C(tls_protocol_mismatch),
    C(tls_cipher_mismatch), C(tls_handshake_failed), C(certificate_too_large), C(untrusted_ca),
    C(no_ca_configured), C(ca_file_missing_root),
    C(incomplete_chain), C(chain_too_long), C(name_mismatch), C(preserve_host_name_mismatch), C(ip_literal_name),
    C(expired), C(not_yet_valid), C(revoked), C(crl_error), C(weak_key), C(weak_signature), C(verify_failed),
    C(client_cert_required),
    C(client_cert_not_chosen), C(client_cert_rejected), C(client_cert_invalid), C(misdirected_request),
    C(no_http_response), C(response_timeout), C(response_head_too_long), C(tls_backend_on_http_url),
    C(no_cipher_match), C(invalid_input); C(selinux_denied) comes only from Apache's error log (the probe's and
    the diagnose playbook's explainer), since this module is not confined as httpd is. Each is described, with its
    log lines, status, fix and insecure workaround, in C(docs/troubleshooting-ah00898.md) of the collection."
  - "Every field of every O(backends) entry is validated. An entry that is refused (a control character, a
    non-ASCII character or an over-long label in O(backends[].host), a bad URL, a missing file...) gets its own
    result with reason C(invalid_input) and a message naming C(backends[N].<field>); the other backends are still
    checked. The HTTP request the check sends never contains a CR, LF or NUL from the input."
  - "A hostile backend cannot hold the check beyond O(timeout) (a backend that drips bytes included) or make it
    buffer: at most 64 KiB of a response head is read, a status or header line of 8 KiB or more is reported as
    C(response_head_too_long) (Apache answers 502), and a response body is never read."
author:
  - revproxy.tls contributors (@revproxy)
requirements:
  - pyOpenSSL >= 23.0 on the host the module runs on (the verify callback, the server's acceptable client-CA list and
    memory BIOs; Python's C(ssl) module has neither a per-certificate verify callback nor the acceptable-CA list).
    Debian 12's C(python3-openssl) (23.0) works; the test suite runs the Apache oracle cases with it.
  - cryptography >= 38.0 (certificate parsing; Debian 12's C(python3-cryptography)).
notes:
  - The check uses the OpenSSL that pyOpenSSL/cryptography bring (see RV(openssl_version)), which may differ from the
    OpenSSL Apache is linked with; protocol and cipher defaults can differ between OpenSSL builds.
  - Apache's C(SSL Library Error) strings in RV(backends[].server_log) are OpenSSL 3.0's (Debian 12).
  - The checker itself is server-neutral; this module hands it the semantics and the part of the failure catalogue
    of the server named by O(server), mod_ssl's and Apache's by default, nginx's with O(server=nginx).
  - "With O(server=nginx) the rules are nginx 1.22's (Debian 12), each held against a real nginx by the collection's
    nginx oracle tests: nothing is checked with O(backends[].verify=none) (C(proxy_ssl_verify off), nginx's default);
    verification happens after the handshake and reports OpenSSL's last verify error; the name checked is
    O(backends[].ssl_name) (C(proxy_ssl_name), default the URL host; an C(upstream) block's group name when nginx
    would check that), with SNI off too, by C(X509_check_host) (a wildcard never covers a single-label name; the CN
    only without dNSName SANs; iPAddress SANs never match); O(backends[].verify_depth) is OpenSSL's count of
    intermediates (C(proxy_ssl_verify_depth 1) accepts leaf + one intermediate + root); the client certificate is sent
    whatever CAs the backend names; O(backends[].preserve_host) changes only the Host header. Settings nginx cannot
    express (C(verify: optional), C(ca_path), C(crl_path), C(crl_check: leaf), C(client_chain_file),
    C(check_peer_name/check_peer_expire: false) with verification on) are refused as C(invalid_input) naming the
    field. The results carry nginx's error-log lines, the 502/504 the client gets and the fix in nginx's
    directives (C(docs/nginx-troubleshooting.md))."
  - C(SSLProxyCheckPeerCN) is not modelled (the collection never renders it).
seealso:
  - name: mod_ssl SSLProxy directives
    description: The Apache httpd 2.4 manual.
    link: https://httpd.apache.org/docs/2.4/mod/mod_ssl.html#sslproxyverify
extends_documentation_fragment:
  - revproxy.tls._attributes
  - revproxy.tls._sites
  - revproxy.tls._policy
  - revproxy.tls._sites.BACKENDS
  - revproxy.tls._attributes.INFO_MODULE
options:
  backends:
    description:
      - The backends to check, each as a C(ProxyPass) target plus the backend TLS settings, with the same key names and
        defaults as the C(apache_proxy) role's C(backend_tls).
      - Mutually exclusive with O(sites) and O(validated); one of the three is required.
      - "Each entry is a C(ProxyPass) target (O(backends[].url), O(backends[].preserve_host), O(backends[].host)) and
        the keys of the role's C(backend_tls) with the collection's defaults. The role's insecure-settings gate
        (C(allow_insecure_backend_tls)) does not apply here; the check reports what Apache would do with any settings."
    type: list
    elements: dict
  sites:
    description:
      - The C(apache_proxy) role's C(apache_proxy_sites), as is. Every TLS backend in it is checked with the settings
        the role renders; with C(preserve_host) once per public name (C(server_name) and each alias).
      - C(*_content) keys are written to a private temporary directory for the check.
    type: list
    elements: dict
  validated:
    description:
      - The key of the sites the plan of this run validated and kept on the host
        (RV(revproxy.tls.apache_proxy_sites#module:validated) of M(revproxy.tls.apache_proxy_sites) with
        C(keep_validated)); the backend checks of the sites are then read from the host (the file kept for
        O(tls_dir)) and the sites are not validated again.
      - "When the key names no set kept there, or a selected site's checks were not kept (a site whose client
        certificate and key come from C(*_content): no kept file holds a key), O(sites) is validated instead, and the
        task fails without O(sites)."
      - Mutually exclusive with O(backends).
    type: str
  names:
    description:
      - With O(sites) or O(validated), the names of the sites whose backends are checked; all sites when omitted. Every site is
        still validated; a name that is no site fails the task.
      - The role passes the sites about to change here, which is much cheaper than filtering O(sites) in Jinja.
    type: list
    elements: str
  backend_tls_defaults:
    description:
      - The role's C(apache_proxy_backend_tls_defaults) (used with O(sites)).
      - The C(*_content) keys are refused here, as the role refuses them.
    type: dict
  server:
    description:
      - The proxy server whose TLS client is checked for. V(apache) (mod_ssl, httpd 2.4) or V(nginx) (nginx 1.22).
      - With V(nginx), O(validated) is refused (the nginx role hands on no validated set); pass O(sites) or
        O(backends).
    type: str
    choices: [apache, nginx]
    default: apache
  tls_dir:
    description:
      - The role's C(apache_proxy_tls_dir) (used with O(sites)).
      - Default C(/etc/apache2/revproxy-tls), or C(/etc/nginx/revproxy-tls) with O(server=nginx).
    type: path
  timeout:
    description:
      - Seconds per backend for everything (DNS, TCP, TLS, HTTP response).
      - A finite number greater than 0 and at most 3600; anything else fails the task naming O(timeout).
    type: float
    default: 5
  concurrency:
    description: How many backends are checked at the same time, from 1 to 1024.
    type: int
    default: 64
  fail_on:
    description:
      - V(failure) fails the task (after all backends are checked) when a backend would fail; V(never) only reports.
    type: str
    choices: [never, failure]
    default: failure
  http_request:
    description:
      - Send C(GET <url path> HTTP/1.1) with the Host Apache would send after the handshake, and read the status line.
    type: bool
    default: true
  return_pem:
    description: Add the PEM of the backend certificate to RV(backends[].certificate).
    type: bool
    default: false
  metrics_dir:
    description:
      - Also write the results as Prometheus metrics (text format) to C(revproxy_tls_backend_handshake.prom) in this
        directory, for node_exporter's textfile collector (C(/var/lib/prometheus/node-exporter) on Debian with
        C(prometheus-node-exporter)). Per backend, whether the handshake succeeds with its reason, the backend
        certificate's expiry and when it was checked; per client certificate the proxy presents, its expiry. The
        families are described in C(docs/metrics.md) of the collection.
      - The directory must exist (it is never created). The file is replaced atomically (mode C(0644)); it is the
        check's output, so it is written in check mode too and does not make the task changed. An unusable
        directory fails the task naming O(metrics_dir).
      - Not set (the default), no metrics are written.
    type: path
    version_added: 2.0.0
"""

EXAMPLES = r"""
- name: Check the backends of the proxy as Apache would
  revproxy.tls.backend_handshake:
    backends:
      - url: https://app.internal.example:8443/
        ca_file: /etc/apache2/revproxy-tls/backend-ca.pem
      - url: https://10.0.0.5/
        verify: none
  register: check

- name: Check every TLS backend of the role's sites, exactly as rendered, without failing the play
  revproxy.tls.backend_handshake:
    sites: "{{ apache_proxy_sites }}"
    backend_tls_defaults: "{{ apache_proxy_backend_tls_defaults }}"
    tls_dir: "{{ apache_proxy_tls_dir }}"
    fail_on: never
    timeout: 3
  register: check

- name: Check an upstream group's members as nginx checks them (proxy_pass https://pool; no proxy_ssl_name)
  revproxy.tls.backend_handshake:
    server: nginx
    backends:
      - url: https://10.0.0.11:8443/
        ssl_name: pool
        ca_file: /etc/nginx/revproxy-tls/backend-ca.pem
      - url: https://10.0.0.12:8443/
        ssl_name: pool
        ca_file: /etc/nginx/revproxy-tls/backend-ca.pem
    fail_on: never
  register: nginx_check

- name: Show the fix of each failing backend
  ansible.builtin.debug:
    msg: "{{ item.url }}: {{ item.message }} -- fix: {{ item.fix }}"
  loop: "{{ check.backends | rejectattr('ok') }}"
  loop_control:
    label: "{{ item.url }}"
"""

RETURN = r"""
msg:
  description:
    - One line. When backends fail it leads with up to three of them, each as site and backend URL, reason, message
      and fix, separated by C( | ); the counts come last.
  returned: always
  type: str
  sample: "shop https://b:8443/: name_mismatch: certificate names other.test do not match b. Fix: Use a ProxyPass host
    that is in the backend certificate's subjectAltName ... | 3 backends checked: 2 ok, 1 failed"
summary:
  description: Number of backends per reason code.
  returned: always
  type: dict
  sample: {"ok": 2, "name_mismatch": 1}
failed_backends:
  description: "The failing backends, as C(<label>: <reason>) strings."
  returned: always
  type: list
  elements: str
openssl_version:
  description: The OpenSSL the checker used.
  returned: always
  type: str
  sample: OpenSSL 3.0.19 27 Jan 2026
backends:
  description: One result per check, in input order.
  returned: always
  type: list
  elements: dict
  contains:
    url:
      description: The backend URL.
      type: str
      returned: always
    min_ok_tolerated:
      description:
        - V(true) on a failed check of a pool member whose pool still has C(min_ok) members passing (the pool goes
          live; a warning names the member). Not in C(failed_backends).
      type: bool
      returned: when true
    health_check:
      description: V(true) on the extra check of a pool member as mod_proxy_hcheck connects (no SNI).
      type: bool
      returned: when true
    site:
      description: The site name (with O(sites)).
      type: str
      returned: with O(sites)
    path:
      description: The location path (with O(sites)); for O(backends) the URL path.
      type: str
      returned: always
    host:
      description: The client Host this check stands for (with C(preserve_host)).
      type: str
      returned: always
    ok:
      description: Whether Apache's request to this backend succeeds.
      type: bool
      returned: always
    reason:
      description: A stable reason code (see the module description).
      type: str
      returned: always
      sample: name_mismatch
    message:
      description: One line a person reads.
      type: str
      returned: always
    server_log:
      description:
        - The lines Apache writes for this request (timestamp, pid and client stripped), each with the C(LogLevel) at
          which it first shows (C(warn), C(ssl:info), C(ssl:debug)) or C(startup).
      type: list
      elements: dict
      returned: always
      version_added: 2.0.0
      contains:
        level:
          description: The LogLevel at which the line shows.
          type: str
        line:
          description: The log line.
          type: str
    apache_log:
      description:
        - Deprecated alias of RV(backends[].server_log) (the same list); use RV(backends[].server_log). It will be
          removed in a future major release.
      type: list
      elements: dict
      returned: always
      contains:
        level:
          description: The LogLevel at which the line shows.
          type: str
        line:
          description: The log line.
          type: str
    http_status:
      description: The status the client gets from Apache (for C(ok), the backend's own status, which Apache relays).
      type: int
      returned: always
      sample: 500
    fix:
      description: The secure fix, in directive terms.
      type: str
      returned: always
    insecure_workaround:
      description: Where one exists, the insecure workaround, prefixed with C(INSECURE:).
      type: str
      returned: always
    catalogue:
      description: The failure-catalogue entries (F-numbers) this reason corresponds to.
      type: list
      elements: str
      returned: always
    sni:
      description: The SNI sent (null for IP literals).
      type: str
      returned: always
    checked_name:
      description: The name the certificate is checked against.
      type: str
      returned: always
    host_header:
      description: The Host header Apache sends to the backend.
      type: str
      returned: always
    address:
      description: The address connected to.
      type: str
      returned: always
    tls_version:
      description: The negotiated protocol.
      type: str
      returned: always
    cipher:
      description: The negotiated cipher.
      type: str
      returned: always
    certificate:
      description: Summary of the backend's certificate (when one was received).
      type: dict
      returned: always
      contains:
        subject:
          description: Subject DN.
          type: str
        issuer:
          description: Issuer DN.
          type: str
        sans:
          description: Subject alternative names (C(DNS:) and C(IP:)).
          type: list
          elements: str
        not_before:
          description: notBefore (ISO 8601, UTC).
          type: str
        not_after:
          description: notAfter (ISO 8601, UTC).
          type: str
        days_left:
          description: Whole days until notAfter.
          type: int
        fingerprint_sha256:
          description: SHA-256 fingerprint (hex).
          type: str
        pem:
          description: The PEM (only with O(return_pem)).
          type: str
    chain:
      description: The certificates the backend sent, leaf first.
      type: list
      elements: dict
      returned: always
      contains:
        subject:
          description: Subject DN.
          type: str
        issuer:
          description: Issuer DN.
          type: str
    elapsed_ms:
      description: Time spent on this backend.
      type: int
      returned: always
metrics_file:
  description: The Prometheus metrics file written (with O(metrics_dir)).
  returned: with O(metrics_dir)
  type: str
  sample: /var/lib/prometheus/node-exporter/revproxy_tls_backend_handshake.prom
  version_added: 2.0.0
"""

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.revproxy.tls.plugins.module_utils.tls import _checker
from ansible_collections.revproxy.tls.plugins.module_utils.tls._checker import (  # noqa: F401 # pylint: disable=unused-import
    ConfigError,
    check_one,
    secret_values,
    summarize,
    pool_tolerated,
    pool_warnings,
)
from ansible_collections.revproxy.tls.plugins.module_utils import _metrics
from ansible_collections.revproxy.tls.plugins.module_utils._module import RevproxyModule
from ansible_collections.revproxy.tls.plugins.module_utils.apache._catalogue import SEMANTICS
from ansible_collections.revproxy.tls.plugins.module_utils.nginx._catalogue import SEMANTICS as NGINX_SEMANTICS
from ansible_collections.revproxy.tls.plugins.module_utils.apache._layout import Layout
from ansible_collections.revproxy.tls.plugins.module_utils.apache._plan import validated_sites
from ansible_collections.revproxy.tls.plugins.module_utils.tls import _tls_probe

# Apache's directory for the role's files (the Debian layout's; the checker itself has no default).
DEFAULT_TLS_DIR = Layout().tls_dir
# nginx's directory for the role's files (the nginx room's layout when it has one).
NGINX_TLS_DIR = "/etc/nginx/revproxy-tls"
SERVERS = {"apache": (SEMANTICS, DEFAULT_TLS_DIR), "nginx": (NGINX_SEMANTICS, NGINX_TLS_DIR)}
# tls_dir has no default in the spec: it depends on server (run() fills it in).
ARGUMENT_SPEC = dict(_checker.ARGUMENT_SPEC, tls_dir=dict(_checker.ARGUMENT_SPEC["tls_dir"]),
                     validated=dict(type="str"), metrics_dir=dict(type="path"),
                     server=dict(type="str", choices=sorted(SERVERS), default="apache"))


def build_checks_from_backends(backends):
    """The checks of `backends` with this module's semantics (mod_ssl, Apache's catalogue)."""
    return _checker.build_checks_from_backends(backends, SEMANTICS)


def handed_on(params):
    """The sites the plan of this run validated and kept for params['validated'] (apache/_plan.validated_sites, as
    the other calls read them), or None: the checker then validates params['sites'] itself. With neither a kept set
    nor sites (an empty or stale key alone), a ConfigError naming validated."""
    if params.get("backends") is not None:
        return None
    return validated_sites(params, Layout(tls_dir=params["tls_dir"]), lambda: None)


def run(params, module=None):
    """The checker with the server params['server'] names (default apache): its rules, its failure catalogue and its
    capability profile for the sites (apache/_catalogue.SEMANTICS, nginx/_catalogue.SEMANTICS). tls_dir defaults to
    that server's directory, as the option says."""
    server = params.get("server") or "apache"
    if server not in SERVERS:
        raise ConfigError("server: must be one of %s, got %r" % (", ".join(sorted(SERVERS)), server))
    semantics, tls_dir = SERVERS[server]
    if params.get("tls_dir") is None:
        params = dict(params, tls_dir=tls_dir)
    if server != "apache":
        if params.get("validated") is not None:
            raise ConfigError("validated: the %s role hands on no validated set; pass sites or backends" % server)
        return _checker.run(params, module, semantics)
    view = handed_on(params)
    return _checker.run(params, module, semantics, view=view)


def client_certificates(checks):
    """One entry per client certificate a checked backend is presented (_metrics' client_certificates): the
    certificates the check's context loaded, with their expiry."""
    out = []
    for check in checks:
        context = check.get("context")
        keys = check.get("result_keys") or {}
        for cert in getattr(context, "client_certs", None) or ():
            out.append({"site": keys.get("site"), "backend": keys.get("url"), "subject": cert["subject"],
                        "not_after": _tls_probe.cert_not_after(cert["x509"])})
    return out


def write_metrics(params, checks, results):
    """The metrics file with params['metrics_dir'] (its path), else None. Raises _metrics.MetricsError."""
    if not params.get("metrics_dir"):
        return None
    return _metrics.write(params["metrics_dir"], "backend_handshake", backends=results,
                          client_certificates=client_certificates(checks))


def main():
    # RevproxyModule: the invocation log (syslog) masks no_log values however deeply nested (sites[].backend_tls).
    module = RevproxyModule(
        argument_spec=ARGUMENT_SPEC,
        mutually_exclusive=[("backends", "sites"), ("backends", "validated")],
        required_one_of=[("backends", "sites", "validated")],
        supports_check_mode=True,
    )
    for secret in secret_values([module.params.get("sites"), module.params.get("backend_tls_defaults")]):
        module.no_log_values.add(secret)
    if getattr(_tls_probe, "CAPABILITY_ERROR", None):
        # pyOpenSSL/cryptography are there but lack a symbol the checker needs: say which, with the versions.
        module.fail_json(msg=str(_tls_probe.CAPABILITY_ERROR))
    if not _tls_probe.HAS_PYOPENSSL:
        module.fail_json(msg=missing_required_lib("pyOpenSSL"), exception=str(_tls_probe.PYOPENSSL_IMPORT_ERROR))
    if not _tls_probe.HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib("cryptography"),
                         exception=str(_tls_probe.CRYPTOGRAPHY_IMPORT_ERROR))
    params = module.params
    try:
        if params.get("metrics_dir"):  # an unusable directory fails before any backend is checked
            _metrics.file_path(params["metrics_dir"], "backend_handshake")
    except _metrics.MetricsError as exc:
        module.fail_json(msg=str(exc))
    try:
        checks, results = run(params, module)
    except ConfigError as exc:
        module.fail_json(msg=str(exc))
    msg, summary, failed = summarize(checks, results)
    for index in pool_tolerated(checks, results):
        results[index]["min_ok_tolerated"] = True
    for warning in pool_warnings(checks, results):
        module.warn(warning)
    out = {
        "changed": False,
        "msg": msg,
        "summary": summary,
        "failed_backends": failed,
        "backends": results,
        "openssl_version": _tls_probe.openssl_version(),
    }
    try:
        metrics_file = write_metrics(params, checks, results)
    except _metrics.MetricsError as exc:
        module.fail_json(msg=str(exc))
    if metrics_file:
        out["metrics_file"] = metrics_file
    if failed and params["fail_on"] == "failure":
        module.fail_json(**out)
    module.exit_json(**out)


if __name__ == "__main__":
    main()
