#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: apache_proxy_probe
short_description: Probe reverse-proxy sites end to end through the local Apache and explain failures from its error log
version_added: 1.0.0
description:
  - After a reload, waits until Apache serves with the new configuration (or has exited), then sends one HTTP
    request per location of each site through the local listener, with the site's C(ServerName) as Host (and SNI
    when the site has frontend TLS).
  - A location passes when the status is in its C(probe_status), by default any status below 500.
  - For failed sites, the lines Apache wrote to its error log since O(error_log_offset) are returned with their AH
    codes mapped to the failure catalogue of M(revproxy.tls.backend_handshake) (reason, meaning, fix).
  - Reads only; the C(revproxy.tls.apache_proxy) role runs it after a reload and rolls back on failure.
author:
  - revproxy.tls contributors (@revproxy)
extends_documentation_fragment:
  - revproxy.tls._attributes
  - revproxy.tls._attributes.INFO_MODULE
options:
  sites:
    description:
      - The role's C(apache_proxy_sites) (validated as the role validates them).
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
  names:
    description:
      - Names of the sites to probe; all sites when omitted.
    type: list
    elements: str
  backend_tls_defaults:
    description:
      - The role's C(apache_proxy_backend_tls_defaults), so the sites are read exactly as the role renders them.
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
  tls_dir:
    description:
      - The role's C(apache_proxy_tls_dir).
    type: path
    default: /etc/apache2/revproxy-tls
  error_log:
    description:
      - Apache's error log.
    type: path
    default: /var/log/apache2/error.log
  error_log_offset:
    description:
      - Size of O(error_log) before the reload; only lines after it are read.
    type: int
    default: 0
  wait_for_reload:
    description:
      - Wait (up to O(reload_timeout) seconds) until the error log after O(error_log_offset) shows Apache serving
        (C(AH00489)) or exiting, before probing.
    type: bool
    default: true
  reload_timeout:
    description:
      - Seconds to wait for the reload to show in the error log.
    type: float
    default: 15
  timeout:
    description:
      - Seconds for each request.
    type: float
    default: 10
  settle:
    description:
      - Seconds during which a failing location is tried again (new Apache children may still be starting).
    type: float
    default: 3
seealso:
  - module: revproxy.tls.apache_proxy_sites
  - module: revproxy.tls.backend_handshake
"""

EXAMPLES = r"""
- name: Probe two sites after a reload
  revproxy.tls.apache_proxy_probe:
    sites: "{{ apache_proxy_sites }}"
    names: [shop, blog]
    error_log_offset: "{{ error_log_before.stat.size }}"
  register: probe
"""

RETURN = r"""
ok:
  description: Whether every probed location passed.
  returned: always
  type: bool
reload:
  description: C(ready) (Apache serves the new configuration), C(died) (Apache exited) or C(unknown) (no sign in the log).
  returned: always
  type: str
sites:
  description: One result per probed site.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Site name.
      type: str
    ok:
      description: Whether every location passed.
      type: bool
    locations:
      description: Per location, C(path), C(backend), C(status) (null when no HTTP answer), C(ok), C(error), C(expected).
      type: list
      elements: dict
    diagnosis:
      description: For failed sites, C(reason) and the explained error-log C(lines) (C(line), C(ah), C(reason), C(meaning), C(fix)).
      type: dict
      returned: when the site failed
failed_sites:
  description: Names of the sites that failed.
  returned: always
  type: list
  elements: str
diagnosis:
  description: The error-log diagnosis since the reload (C(reason) and explained C(lines)).
  returned: always
  type: dict
msg:
  description: One line per failed site, readable in a play.
  returned: always
  type: str
"""

from ansible_collections.revproxy.tls.plugins.module_utils._module import RevproxyModule

from ansible_collections.revproxy.tls.plugins.module_utils._backend_tls import ConfigError
from ansible_collections.revproxy.tls.plugins.module_utils._errorlog import read_since
from ansible_collections.revproxy.tls.plugins.module_utils._probe import explain, probe_sites, wait_for_reload
from ansible_collections.revproxy.tls.plugins.module_utils._sites import (
    backend_tls_defaults_spec,
    SITE_SPEC,
    normalize_sites,
)


def _summary(result):
    status = result["locations"]
    bad = ["%s -> %s" % (loc["path"], loc["status"] if loc["status"] is not None else loc["error"])
           for loc in status if not loc["ok"]]
    reason = (result.get("diagnosis") or {}).get("reason")
    return "site %r failed the probe (%s)%s" % (result["name"], "; ".join(bad), ": %s" % reason if reason else "")


def run(module):
    params = module.params
    sites = normalize_sites(params["sites"], params["backend_tls_defaults"], params["tls_dir"])
    if params["names"] is not None:
        unknown = sorted(set(params["names"]) - set(s["name"] for s in sites))
        if unknown:
            raise ConfigError("names: no such site(s): %s" % ", ".join(unknown))
        sites = [s for s in sites if s["name"] in params["names"]]
    if params["wait_for_reload"]:
        state, lines = wait_for_reload(params["error_log"], params["error_log_offset"], params["reload_timeout"])
    else:
        state, lines = "unknown", []
    results = [] if state == "died" else probe_sites(sites, params["timeout"], params["settle"])
    if state == "died":
        results = [{"name": s["name"], "ok": False, "locations": []} for s in sites]
    lines = read_since(params["error_log"], params["error_log_offset"])
    diag = explain(results, state, lines)
    failed = [r["name"] for r in results if not r["ok"]]
    if state == "died":
        msg = "Apache exited on reload: %s" % "; ".join(e["line"] for e in diag["lines"][:3])
    else:
        msg = "; ".join(_summary(r) for r in results if not r["ok"]) or "%d site(s) passed the probe" % len(results)
    return {"changed": False, "ok": not failed, "reload": state, "sites": results, "failed_sites": failed,
            "diagnosis": diag, "msg": msg}


def main():
    module = RevproxyModule(
        argument_spec=dict(
            sites=dict(type="list", elements="dict", required=True, options=SITE_SPEC),
            names=dict(type="list", elements="str"),
            backend_tls_defaults=backend_tls_defaults_spec(),
            tls_dir=dict(type="path", default="/etc/apache2/revproxy-tls"),
            error_log=dict(type="path", default="/var/log/apache2/error.log"),
            error_log_offset=dict(type="int", default=0),
            wait_for_reload=dict(type="bool", default=True),
            reload_timeout=dict(type="float", default=15),
            timeout=dict(type="float", default=10),
            settle=dict(type="float", default=3),
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
