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
  - revproxy.tls._sites
  - revproxy.tls._policy
  - revproxy.tls._validated
  - revproxy.tls._attributes.INFO_MODULE
options:
  sites:
    description:
      - The role's C(apache_proxy_sites) (validated as the role validates them).
      - Required unless O(validated) names a validated set kept on the host.
    type: list
    elements: dict
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
  layout:
    description:
      - The Apache family's layout (see M(revproxy.tls.apache_proxy_sites)); it gives the defaults of O(tls_dir) and
        O(error_log).
    type: str
    choices: [debian, redhat]
    default: debian
  tls_dir:
    description:
      - The role's C(apache_proxy_tls_dir). Default C(/etc/apache2/revproxy-tls) with O(layout=debian),
        C(/etc/httpd/revproxy-tls) with O(layout=redhat).
    type: path
  error_log:
    description:
      - Apache's error log. Default C(/var/log/apache2/error.log) with O(layout=debian), C(/var/log/httpd/error_log)
        with O(layout=redhat).
    type: path
  error_log_offset:
    description:
      - Size of O(error_log) before the reload; only lines after it are read.
      - C(-1) means the size when this module starts, so only the lines the probe's own requests cause are read
        (for a diagnosis without a reload; use it with O(wait_for_reload=false)).
    type: int
    default: 0
  path:
    description:
      - Request this path instead of each location's own path (one request per site); the location it falls under
        (longest prefix) is named as its backend.
      - An absolute URL path, for example C(/api/health).
    type: str
  host:
    description:
      - Host header (and SNI when the site has frontend TLS) of the requests instead of the site's C(server_name),
        for example to probe a C(server_aliases) name.
    type: str
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
log_lines:
  description: The last 40 lines Apache wrote to O(error_log) since O(error_log_offset), unexplained (the explained,
    meaningful ones are in RV(diagnosis)).
  returned: always
  type: list
  elements: str
msg:
  description: One line per failed site, readable in a play.
  returned: always
  type: str
"""

import os

from ansible_collections.revproxy.tls.plugins.module_utils._files import FileReadError
from ansible_collections.revproxy.tls.plugins.module_utils._module import RevproxyModule

from ansible_collections.revproxy.tls.plugins.module_utils.model._backend_tls import ConfigError
from ansible_collections.revproxy.tls.plugins.module_utils.model import _policy
from ansible_collections.revproxy.tls.plugins.module_utils.apache._capabilities import APACHE
from ansible_collections.revproxy.tls.plugins.module_utils.apache._layout import Layout
from ansible_collections.revproxy.tls.plugins.module_utils.apache._plan import validated_sites
from ansible_collections.revproxy.tls.plugins.module_utils.apache._errorlog import read_since
from ansible_collections.revproxy.tls.plugins.module_utils.apache._probe import explain, probe_sites, targeted, wait_for_reload
from ansible_collections.revproxy.tls.plugins.module_utils.model import _grammar as grammar
from ansible_collections.revproxy.tls.plugins.module_utils.model._sites import (
    backend_tls_defaults_spec,
    SITE_SPEC,
    normalize_sites,
    select_sites,
)


def log_size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def read_log(error_log, offset):
    """The log's lines after offset (a bounded tail); an error_log that is not a regular file (a FIFO, /dev/zero, a
    directory) is a ConfigError naming it, never opened."""
    try:
        return read_since(error_log, offset)
    except FileReadError as exc:
        raise ConfigError(str(exc))


def _summary(result):
    status = result["locations"]
    bad = ["%s -> %s" % (loc["path"], loc["status"] if loc["status"] is not None else loc["error"])
           for loc in status if not loc["ok"]]
    reason = (result.get("diagnosis") or {}).get("reason")
    return "site %r failed the probe (%s)%s" % (result["name"], "; ".join(bad), ": %s" % reason if reason else "")


def run(module):
    params = module.params
    layout = Layout.named(params["layout"], tls_dir=params["tls_dir"])
    error_log = params["error_log"] or layout.error_log
    try:
        sites = validated_sites(params, layout, lambda: normalize_sites(
            params["sites"], params["backend_tls_defaults"], layout.tls_dir, _policy.policy_of(params),
            server=APACHE))
        lost = None
    except ConfigError as exc:
        if not params.get("validated") or params.get("sites") is not None:
            raise
        # The plan's set is gone (another run on this host replaced or dropped it): the change cannot be probed,
        # which is a failed probe, so that the role rolls it back, never an error that stops the run mid-change.
        sites, lost = [], str(exc)
    if lost is None:
        sites = select_sites(sites, params["names"])
    path = grammar.url_path(params["path"], "path") if params["path"] is not None else None
    host = grammar.hostname(params["host"], "host", ipv6=False) if params["host"] is not None else None
    sites = targeted(sites, path=path, host=host)
    offset = params["error_log_offset"]
    if offset == -1:
        offset = log_size(error_log)
    elif offset < 0:
        raise ConfigError("error_log_offset: %d is not a byte offset (0 or more, or -1 for the current size)" % offset)
    if params["wait_for_reload"]:
        state, lines = wait_for_reload(error_log, offset, params["reload_timeout"], read=read_log)
    else:
        state, lines = "unknown", read_log(error_log, offset)  # an error_log that cannot be read fails before probing
    results = [] if state == "died" else probe_sites(sites, params["timeout"], params["settle"])
    if state == "died":
        results = [{"name": s["name"], "ok": False, "locations": []} for s in sites]
    lines = read_log(error_log, offset)
    diag = explain(results, state, lines)
    failed = [r["name"] for r in results if not r["ok"]]
    if lost is not None:
        failed = list(params["names"] or [])
        msg = "%s; the change was not probed" % lost
    elif state == "died":
        msg = "Apache exited on reload: %s" % "; ".join(e["line"] for e in diag["lines"][:3])
    else:
        msg = "; ".join(_summary(r) for r in results if not r["ok"]) or "%d site(s) passed the probe" % len(results)
    return {"changed": False, "ok": not failed and lost is None, "reload": state, "sites": results, "failed_sites": failed,
            "diagnosis": diag, "log_lines": lines[-40:], "msg": msg}


def main():
    module = RevproxyModule(
        argument_spec=dict(
            sites=dict(type="list", elements="dict", options=SITE_SPEC),
            validated=dict(type="str"),
            names=dict(type="list", elements="str"),
            backend_tls_defaults=backend_tls_defaults_spec(),
            layout=dict(type="str", choices=["debian", "redhat"], default="debian"),
            tls_dir=dict(type="path"),
            error_log=dict(type="path"),
            error_log_offset=dict(type="int", default=0),
            wait_for_reload=dict(type="bool", default=True),
            reload_timeout=dict(type="float", default=15),
            timeout=dict(type="float", default=10),
            settle=dict(type="float", default=3),
            path=dict(type="str"),
            host=dict(type="str"),
            **_policy.policy_options()
        ),
        required_one_of=[("sites", "validated")],
        supports_check_mode=True,
    )
    try:
        result = run(module)
    except ConfigError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
