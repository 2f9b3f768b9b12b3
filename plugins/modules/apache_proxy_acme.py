#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: apache_proxy_acme
short_description: Wait for mod_md's ACME certificates and report each managed domain's state
version_added: 2.1.0
description:
  - Reads mod_md's C(md-status) JSON from the loopback status vhost the C(revproxy.tls.apache_proxy) role renders for
    sites with C(tls.acme) (C(http://127.0.0.1:<status_port>/md-status)), and returns each domain's state - whether
    the CA's certificate is active or obtained and waiting for a graceful restart (staged), valid until, renewal due,
    and the last error with mod_md's own words, the CA's problem type and detail (from the error log; for a failed
    challenge it names the address and port the CA tried) and a fix.
  - With O(wait_for=staged) it waits (up to O(timeout)) until every domain's certificate is obtained or active; with
    O(wait_for=active) until each domain serves the CA's certificate - the leaf the server sends for the domain is
    the one mod_md holds, and the chain it sends verifies to O(trust_file) (the system's roots when unset).
  - Fails at once on an order that failed (mod_md then retries by itself after a back-off); the role rolls the
    change back then.
  - Reads only.
author:
  - revproxy.tls contributors (@revproxy)
extends_documentation_fragment:
  - revproxy.tls._attributes
  - revproxy.tls._attributes.INFO_MODULE
options:
  domains:
    description:
      - The ACME sites to look at, as the RV(revproxy.tls.apache_proxy_sites#module:acme_sites) of
        M(revproxy.tls.apache_proxy_sites) gives them.
    type: list
    elements: dict
    required: true
    suboptions:
      site:
        description: The site's name.
        type: str
        required: true
      domain:
        description: The managed domain's name (the site's first name).
        type: str
        required: true
      names:
        description: Every name of the certificate.
        type: list
        elements: str
      address:
        description: The site's listen address (unset - every address, probed on 127.0.0.1).
        type: str
      port:
        description: The site's TLS port.
        type: int
        required: true
      changed:
        description: Informational (whether the run changed the site).
        type: bool
  status_port:
    description: The loopback port of the md-status vhost (the role's C(apache_proxy_acme_status_port)).
    type: int
    default: 8409
  wait_for:
    description:
      - V(none) reports the state once; V(staged) waits until each certificate is obtained (or already active);
        V(active) waits until each is served with its chain.
    type: str
    choices: [none, staged, active]
    default: none
  timeout:
    description: Seconds to wait in all.
    type: int
    default: 300
  trust_file:
    description:
      - The PEM roots the served chain must verify to with O(wait_for=active) (a private ACME CA's issuing root);
        the system's roots when unset.
    type: path
  error_log:
    description: Apache's error log, where mod_md writes the CA's exact answer.
    type: path
  error_log_offset:
    description: Read the error log from this byte offset (the size before the reload).
    type: int
    default: 0
seealso:
  - module: revproxy.tls.apache_proxy_sites
"""

EXAMPLES = r"""
- name: Wait until mod_md has the certificates of the changed ACME sites
  revproxy.tls.apache_proxy_acme:
    domains: "{{ plan.acme_sites }}"
    wait_for: staged
    timeout: 300
    error_log: /var/log/apache2/error.log
  register: acme
"""

RETURN = r"""
ok:
  description: Whether every domain reached O(wait_for) without an error.
  returned: always
  type: bool
needs_reload:
  description: Whether a domain has a new certificate that a graceful restart activates.
  returned: always
  type: bool
domains:
  description: One entry per domain.
  returned: always
  type: list
  elements: dict
  contains:
    site: {description: The site., type: str}
    domain: {description: The managed domain., type: str}
    state: {description: "mod_md's state number (2: complete) and its description (C(state_descr)).", type: int}
    active: {description: The server runs with the CA's certificate., type: bool}
    staged: {description: A new certificate is obtained and waits for a graceful restart., type: bool}
    valid_until: {description: The certificate's notAfter as mod_md reports it., type: str}
    renew_at: {description: When mod_md renews it., type: str}
    served: {description: "With O(wait_for=active): the served leaf is mod_md's and its chain verifies.", type: bool}
    last_error: {description: "mod_md's last error (status, detail, activity) or null.", type: dict}
    ca_reasons: {description: "The CA's problems from the error log: [type, detail] pairs.", type: list}
    fix: {description: What to do about the error., type: str}
progress:
  description: What was seen while waiting, one line per change (seconds since the start).
  returned: always
  type: list
  elements: str
as_probe:
  description: The result in the shape of M(revproxy.tls.apache_proxy_probe)'s (the role's rollback and per-site lines).
  returned: always
  type: dict
msg:
  description: One line per domain.
  returned: always
  type: str
"""

import time

from ansible_collections.revproxy.tls.plugins.module_utils._module import RevproxyModule
from ansible_collections.revproxy.tls.plugins.module_utils.apache import _acme_status as status
from ansible_collections.revproxy.tls.plugins.module_utils.apache._errorlog import read_since
from ansible_collections.revproxy.tls.plugins.module_utils.model import _grammar as grammar
from ansible_collections.revproxy.tls.plugins.module_utils.model._grammar import ConfigError

POLL = 1.0


def _connect_address(address):
    if address in (None, "", "*", "0.0.0.0"):
        return "127.0.0.1"
    if address == "::":
        return "::1"
    return address.strip("[]")


def _done(state, wait_for):
    if wait_for == "none":
        return True
    if wait_for == "staged":
        return state["active"] or state["staged"]
    return state.get("served") is True


def _error_entry(state, log_lines):
    reasons = status.ca_reasons("\n".join(log_lines), state["domain"])
    return reasons, status.fix_for(reasons, (state["last_error"] or {}).get("detail"))


def _look(params, dom, mds, wait_for):
    state = status.interpret(mds.get(dom["domain"]))
    state["site"], state["domain"] = dom["site"], dom["domain"]
    if wait_for == "active" and state["active"] and not state["staged"]:
        fingerprint, error = status.served_certificate(_connect_address(dom.get("address")), dom["port"],
                                                       dom["domain"], params["trust_file"])
        state["served"] = error is None and fingerprint in state["fingerprints"]
        state["served_error"] = error or (None if state["served"] else
                                          "the server sends another certificate (%s) than mod_md's (%s)"
                                          % (fingerprint, ", ".join(state["fingerprints"])))
    return state


def _line(state):
    if state["last_error"]:
        err = state["last_error"]
        detail = err.get("detail") or "error %s" % err.get("status")
        text = "%s: FAILED - %s (%s)" % (state["domain"], detail, err.get("activity") or "")
        for kind, detail in state.get("ca_reasons") or []:
            text += "; the CA said %s: %s" % (kind, detail)
        return text + (". Fix: " + state["fix"] if state.get("fix") else "")
    if state.get("served_error") and state["active"]:
        return "%s: certificate active but %s" % (state["domain"], state["served_error"])
    if state["active"]:
        return "%s: active, valid until %s, renewal at %s" % (state["domain"], state["valid_until"],
                                                              state["renew_at"])
    if state["staged"]:
        return "%s: obtained, active after a graceful restart" % state["domain"]
    return "%s: %s%s" % (state["domain"], state["state_descr"] or "unknown",
                         " - %s" % state["progress"] if state["progress"] else "")


def _drop_stale_errors(params, states):
    """An error mod_md recorded before the reload (a previous run's, kept in its job file until it tries again) is
    not this run's: with an error log, an error counts once mod_md logged an [md:error] line for the domain after
    error_log_offset."""
    if not params["error_log"] or not any(s["last_error"] for s in states):
        return
    lines = [line for line in read_since(params["error_log"], params["error_log_offset"])
             if "[md:error]" in line]
    for state in states:
        if state["last_error"] and not any(state["domain"] in line for line in lines):
            state["previous_error"], state["last_error"] = state["last_error"], None


def run(params, clock=time.monotonic, sleep=time.sleep):
    timeout = grammar.integer(params["timeout"], "timeout", 0, 86400)
    port = grammar.port(params["status_port"], "status_port")
    wait_for = params["wait_for"]
    start = clock()
    progress, seen = [], {}
    while True:
        try:
            mds = status.fetch_status(port)
            fetch_error = None
        except (OSError, ValueError) as exc:
            mds, fetch_error = {}, "md-status on 127.0.0.1:%d: %s" % (port, exc)
        states = [_look(params, dom, mds, wait_for) for dom in params["domains"]]
        _drop_stale_errors(params, states)
        elapsed = clock() - start
        for state in states:
            line = fetch_error or _line(dict(state, fix=""))
            if seen.get(state["domain"]) != line:
                seen[state["domain"]] = line
                progress.append("%.1fs %s" % (elapsed, line))
        failed = [s for s in states if s["last_error"]]
        if failed or all(_done(s, wait_for) for s in states) or elapsed >= timeout:
            break
        sleep(POLL)
    log_lines = read_since(params["error_log"], params["error_log_offset"]) if params["error_log"] else []
    for state in states:
        state["ca_reasons"], state["fix"] = _error_entry(state, log_lines) if state["last_error"] else ([], None)
    done = all(_done(s, wait_for) for s in states) and not failed and fetch_error is None
    msg = " | ".join(_line(s) for s in states)
    if not done and not failed:
        msg = "timed out after %ds waiting for %s: %s" % (timeout, wait_for, fetch_error or msg)
    return {"changed": False, "ok": done, "needs_reload": any(s["staged"] for s in states),
            "domains": states, "progress": progress, "msg": msg, "as_probe": as_probe(states, done, wait_for)}


def as_probe(states, done, wait_for):
    """The result in apache_proxy_probe's shape (per-site lines of the role, its rollback): a site whose certificate
    did not reach wait_for failed, with the domain's line as its reason."""
    sites = []
    for state in states:
        ok = done or (_done(state, wait_for) and not state["last_error"])
        sites.append({"name": state["site"], "ok": ok, "diagnosis": {}, "locations": [] if ok else [
            {"path": "ACME certificate", "status": None, "ok": False, "error": _line(state)}]})
    return {"ok": done, "reload": "ready", "sites": sites}


def main():
    module = RevproxyModule(
        argument_spec=dict(
            domains=dict(type="list", elements="dict", required=True, options=dict(
                site=dict(type="str", required=True),
                domain=dict(type="str", required=True),
                names=dict(type="list", elements="str"),
                address=dict(type="str"),
                port=dict(type="int", required=True),
                changed=dict(type="bool"),
            )),
            status_port=dict(type="int", default=8409),
            wait_for=dict(type="str", choices=["none", "staged", "active"], default="none"),
            timeout=dict(type="int", default=300),
            trust_file=dict(type="path"),
            error_log=dict(type="path"),
            error_log_offset=dict(type="int", default=0),
        ),
        supports_check_mode=True,
    )
    try:
        for i, dom in enumerate(module.params["domains"]):
            grammar.hostname(dom["domain"], "domains[%d].domain" % i, ipv4=False, ipv6=False)
            grammar.port(dom["port"], "domains[%d].port" % i)
        result = run(module.params)
    except ConfigError as exc:
        module.fail_json(msg=str(exc))
    if not result["ok"] and module.params["wait_for"] != "none":
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
