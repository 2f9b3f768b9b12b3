# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""The checker behind revproxy.tls.backend_handshake: the checks (built and validated by _checks) run with one TLS
context per distinct setting, each distinct backend probed once from one event loop, each backend's result from the
failure catalogue, pools with min_ok, and the task's summary.

Every server-specific rule (the names sent and checked, the Host header, the context, classify(), the catalogue) is
asked of the semantics object the caller passes in (_semantics.Semantics; backend_handshake passes
apache/_catalogue.SEMANTICS): this file never names a server. The module holds only its documentation and main();
the I/O is in _tls_probe, _context and _loop.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import os
import shutil
import tempfile

from ansible_collections.revproxy.tls.plugins.module_utils.model._backend_tls import insecure_settings
from ansible_collections.revproxy.tls.plugins.module_utils.model import _policy
from ansible_collections.revproxy.tls.plugins.module_utils.tls import _context, _http, _loop, _tls_probe
# The checks are built in _checks; their names are re-exported for the module and the tests that call them here.
# pylint: disable=unused-import
from ansible_collections.revproxy.tls.plugins.module_utils.tls._checks import (  # noqa: F401
    ARGUMENT_SPEC,
    BACKEND_OPTIONS,
    ConfigError,
    _Refused,
    build_checks_from_backends,
    build_checks_from_sites,
    build_checks_from_view,
    check_limits,
    check_tls_defaults,
    secret_values,
)
# pylint: enable=unused-import

try:
    from urllib.parse import urlsplit
except ImportError:  # pragma: no cover
    from urlparse import urlsplit  # type: ignore


def _settings_key(tls):
    return tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in sorted(tls.items()))


_NOT_CHECKED = {"sni": None, "checked_name": None, "host_header": None, "address": None, "tls_version": None,
                "cipher": None, "certificate": None, "chain": [], "elapsed_ms": 0}


def refused_result(check):
    """The result of a backend that is reported without a connection (invalid_input, no_cipher_match)."""
    refused = check["refused"]
    fields = dict(refused.fields, detail=refused.message, field=refused.field)
    result = dict(check["result_keys"])
    result.update(_NOT_CHECKED)
    result.update({"ok": False, "reason": refused.reason})
    result.update(check["semantics"].entry_result(refused.reason, fields))
    return result


def check_one(check, context, timeout, http_request, return_pem, now=None, resolver=None):
    """One backend's result (check_steps run to its end in the calling thread)."""
    return _loop.run_blocking(check_steps(check, context, timeout, http_request, return_pem, now, resolver))


def check_steps(check, context, timeout, http_request, return_pem, now=None, resolver=None):
    """One backend's result, as a generator of the probe's waits (_tls_probe's module doc): run_distinct runs many
    from one event loop, check_one runs one. classify() and the certificate summary run when the probe has ended."""
    if check.get("refused"):
        return refused_result(check)
    url = check["url"]
    tls = check["tls"]
    semantics = check["semantics"]
    spec = {
        "url": url, "sni": check["sni"], "path": check["request_path"],
        "request_host": semantics.host_header(url.host, urlsplit(url.url).port, check["preserve_host"],
                                              check["host"]),
    }
    try:
        # Whatever validation ran before: no CR, LF or NUL reaches the request or the SNI.
        _http.request_bytes(spec)
        _http.sni_bytes(spec["sni"])
    except _http.UnsafeRequest as exc:
        field = check["field_prefix"] + ("host" if check["preserve_host"] else "url")
        check["refused"] = _Refused("invalid_input", "%s: %s" % (field, exc), field)
        return refused_result(check)
    if url.is_tls and context.client_cert_error:
        facts = {"tls": True, "elapsed_ms": 0, "address": None}
        reason, variant, fields = "client_cert_invalid", "default", {
            "detail": check["field_prefix"] + context.client_cert_error}
    else:
        facts = yield from _tls_probe.probe_steps(spec, context, timeout, http_request, resolver)
        now = now or datetime.datetime.now(datetime.timezone.utc)
        reason, variant, fields = semantics.classify(facts, tls, check["preserve_host"], check["checked_name"], now,
                                                     url.is_ip)
    result = dict(check["result_keys"])
    fields.update({
        "address": facts.get("address") or url.authority, "host": url.host, "port": url.port, "scheme": url.scheme,
        "path": check["path"], "checked_name": check["checked_name"],
        "sni_label": check["sni"] or "(none: IP literal)", "timeout": timeout, "verify": tls["verify"],
        "verify_depth": tls["verify_depth"], "protocols": " ".join(tls["protocols"]),
        "host_header": spec["request_host"], "tls_version": facts.get("tls_version") or "plain HTTP",
        "cipher": facts.get("cipher") or "",
    })
    leaf = facts.get("leaf")
    now = now or datetime.datetime.now(datetime.timezone.utc)
    cert = _tls_probe.cert_summary(leaf, now, return_pem) if leaf is not None else None
    if cert:
        fields.setdefault("subject", cert["subject"])
        fields.setdefault("issuer", cert["issuer"])
        fields.setdefault("not_after", cert["not_after"])
    entry = semantics.entry_result(reason, fields, variant)
    if reason == "ok":
        status = (facts.get("response") or {}).get("status")
        entry["http_status"] = status
        entry["message"] = "ok: %s%s" % (
            "%s %s, certificate %s valid until %s" % (fields["tls_version"], fields["cipher"], cert["subject"],
                                                      cert["not_after"]) if cert else fields["tls_version"],
            ", backend answered %d" % status if status else "")
    result.update({
        "ok": reason == "ok",
        "reason": reason,
        "sni": check["sni"],
        "checked_name": check["checked_name"],
        "host_header": spec["request_host"],
        "address": facts.get("address"),
        "tls_version": facts.get("tls_version"),
        "cipher": facts.get("cipher"),
        "certificate": cert,
        "chain": [{"subject": c.subject.rfc4514_string(), "issuer": c.issuer.rfc4514_string()}
                  for c in facts.get("served_chain") or []],
        "elapsed_ms": facts.get("elapsed_ms", 0),
    })
    result.update(entry)
    if url.is_tls:
        insecure = insecure_settings(tls, semantics)
        if insecure:
            result["insecure_settings"] = insecure
    return result


def _attach_contexts(checks):
    """One TLSContext per distinct set of settings; a context that cannot be built refuses its backends (the
    message names each backend's own field)."""
    contexts = {}
    for check in checks:
        check["context"] = None
        if check.get("refused") or not check["url"].is_tls:
            continue
        key = _settings_key(check["tls"])
        if key not in contexts:
            try:
                contexts[key] = (_context.TLSContext(check["tls"], check["semantics"]), None)
            except _context.ProbeConfigError as exc:
                contexts[key] = (None, exc)
            except (OSError, ValueError, TypeError) as exc:  # never a traceback for a backend's files
                contexts[key] = (None, _context.ProbeConfigError("backend_tls", str(exc)))
        context, error = contexts[key]
        check["context"] = context
        if error is not None:
            field = check["field_prefix"] + error.field
            check["refused"] = _Refused(error.reason, "%s: %s" % (field, error.detail), field,
                                        ciphers=check["tls"].get("ciphers"))


def _private_tmpdir():
    """A directory only this user reads, for the *_content files of one run (removed at its end)."""
    tmpdir = tempfile.mkdtemp(prefix="revproxy-tls-check-")
    os.chmod(tmpdir, 0o700)
    return tmpdir


def run(params, module, semantics, server=None, view=None):
    """Validate, build contexts, probe concurrently, with the server's `semantics` (_semantics.Semantics; `sites` are
    validated with `server`, by default the semantics' own capability profile). `view`: the sites the plan of this
    run validated and handed on (the caller loads it; build_checks_from_view), used instead of `sites` when it holds the
    checks of every selected site. Returns (checks, results). Raises ConfigError for what concerns the whole task
    (timeout, concurrency, backend_tls_defaults, sites); a bad backends[] entry is a result."""
    server = server if server is not None else semantics.profile
    check_limits(params)
    defaults = check_tls_defaults(params.get("backend_tls_defaults"))
    if params.get("names") is not None and params.get("sites") is None and view is None:
        raise ConfigError("names: selects among sites; it cannot be used with backends")
    tmpdir = None
    try:
        checks = None
        if view is not None:
            tmpdir = _private_tmpdir()
            checks = build_checks_from_view(view, params.get("names"), tmpdir, module, semantics)
            if checks is None and params.get("sites") is None:
                raise ConfigError("validated: the handed-on set holds no backend checks for a site that presents a "
                                  "client key from *_content (no handed-on file keeps a key); pass sites as well")
        if checks is None and params.get("sites") is not None:
            if not params.get("tls_dir"):
                raise ConfigError("tls_dir: required with sites (the directory the role writes *_content files to)")
            tmpdir = tmpdir or _private_tmpdir()
            checks = build_checks_from_sites(params["sites"], defaults, params["tls_dir"], tmpdir, module,
                                             semantics, params.get("names"), _policy.policy_of(params), server)
        elif checks is None:
            checks = build_checks_from_backends(params.get("backends"), semantics)
        _attach_contexts(checks)
        timeout = params["timeout"]
        resolver = _loop.Resolver()  # each host name looked up once per run
        results = run_distinct(checks, lambda c: check_steps(c, c["context"], timeout, params["http_request"],
                                                             params["return_pem"], resolver=resolver),
                               params["concurrency"])
        return checks, results
    finally:
        if tmpdir:
            shutil.rmtree(tmpdir, ignore_errors=True)


# The module's msg spells out this many failing backends (site, backend, reason, message, fix); failed_backends and
# backends[] have them all.
FAILURES_SHOWN = 3


def summarize(checks, results):
    """(msg, summary, failed): the msg leads with the failing backends, each with its site and URL, reason, message
    and fix, and ends with the counts; `failed` is one 'label: reason' string per failing backend."""
    summary = {}
    failed = []
    explained = []
    tolerated = pool_tolerated(checks, results)  # failing members of a pool that still has min_ok passing
    for index, (check, res) in enumerate(zip(checks, results)):
        summary[res["reason"]] = summary.get(res["reason"], 0) + 1
        if not res["ok"] and index not in tolerated:
            if check.get("refused"):
                failed.append("%s: %s (%s)" % (check["label"], res["reason"], check["refused"].message))
            else:
                failed.append("%s: %s" % (check["label"], res["reason"]))
            text = "%s: %s: %s" % (check["label"], res["reason"], res.get("message") or "")
            if res.get("fix"):
                text += ". Fix: %s" % res["fix"]
            explained.append(text)
    n_ok = len(results) - len(failed) - len(tolerated)
    plural = "" if len(results) == 1 else "s"
    counts = "%d backend%s checked: %d ok, %d failed" % (len(results), plural, n_ok, len(failed))
    if tolerated:
        counts += ", %d failed in pools that min_ok lets go live" % len(tolerated)
    if not failed:
        return counts, summary, failed
    parts = explained[:FAILURES_SHOWN]
    if len(explained) > FAILURES_SHOWN:
        parts.append("and %d more failed (failed_backends lists them all)" % (len(explained) - FAILURES_SHOWN))
    return " | ".join(parts + [counts]), summary, failed


# -- One check per distinct backend; pools with min_ok (issue 12) ----------------------------------------------

PER_ADDRESS_CONCURRENCY = 8


def distinct_key(check):
    """What decides a check's outcome: target address and port, SNI, Host, request path and every TLS setting
    (client certificate included). None for a check that is not probed (refused)."""
    if check.get("refused"):
        return None
    url = check["url"]
    return (url.scheme, url.host, url.port, check["sni"], check["checked_name"], check["preserve_host"],
            check["host"], check["request_path"], _settings_key(check["tls"]) if url.is_tls else None)


def _round_robin(indexes, address_of):
    """Interleave indexes by address, so that the checks in flight spread over backends instead of queueing on one."""
    queues = {}
    for index in indexes:
        queues.setdefault(address_of(index), []).append(index)
    lists = list(queues.values())
    out = []
    for depth in range(max(len(q) for q in lists) if lists else 0):
        out.extend(q[depth] for q in lists if depth < len(q))
    return out


def run_distinct(checks, probe, concurrency, per_address=PER_ADDRESS_CONCURRENCY):
    """Probe each distinct check once (distinct_key) and give its result to every check that shares it, each with
    its own result keys (site, url, path, host). probe(check) returns a generator of waits (check_steps) or a
    result; all run from one event loop (_loop.run_loop), at most `concurrency` at a time and at most
    per_address at a time per backend address."""
    first = {}
    owner = []
    for index, check in enumerate(checks):
        key = distinct_key(check)
        if key is not None and key in first:
            owner.append(first[key])
            continue
        if key is not None:
            first[key] = index
        owner.append(index)
    unique = [i for i in range(len(checks)) if owner[i] == i]

    def address(index):
        url = checks[index]["url"]
        return (url.host, url.port) if url is not None else None
    order = _round_robin(unique, address)
    done = dict(zip(order, _loop.run_loop([(lambda i=i: probe(checks[i])) for i in order], concurrency,
                                          lambda pos: address(order[pos]), per_address)))
    results = []
    for index, check in enumerate(checks):
        if owner[index] == index:
            results.append(done[index])
            continue
        shared = dict(done[owner[index]])
        shared.update(check["result_keys"])
        if checks[owner[index]].get("refused"):
            check["refused"] = checks[owner[index]]["refused"]
        results.append(shared)
    return results


def _pools_of(checks, results):
    """{(site, path): (pool, {member url: ok}, [check indexes])} for the checks of pool members."""
    pools = {}
    for index, (check, res) in enumerate(zip(checks, results)):
        pool = check.get("pool")
        if not pool:
            continue
        entry = pools.setdefault((check.get("site"), check["path"]), (pool, {}, []))
        url = res.get("url")
        entry[1][url] = entry[1].get(url, True) and bool(res["ok"])
        entry[2].append(index)
    return pools


def pool_tolerated(checks, results):
    """Indexes of failed checks whose pool sets min_ok and still has at least min_ok members passing."""
    tolerated = set()
    for pool, members, indexes in _pools_of(checks, results).values():
        if pool["min_ok"] and sum(members.values()) >= pool["min_ok"]:
            tolerated.update(i for i in indexes if not results[i]["ok"])
    return tolerated


def pool_warnings(checks, results):
    """One warning per pool that goes live with failing members (min_ok), naming each failing member and reason."""
    out = []
    pools = _pools_of(checks, results)
    for site, path in sorted(pools, key=lambda key: (str(key[0]), key[1])):
        pool, members, indexes = pools[(site, path)]
        passing = sum(members.values())
        failing = [url for url, ok in members.items() if not ok]
        if not failing or not pool["min_ok"] or passing < pool["min_ok"]:
            continue
        reasons = dict((results[i]["url"], results[i]["reason"]) for i in indexes if not results[i]["ok"])
        out.append("site %s: pool %s (balancer://%s) goes live with %d of %d members (min_ok %d); failing: %s"
                   % (site, path, pool["name"], passing, pool["members"], pool["min_ok"],
                      ", ".join("%s (%s)" % (url, reasons[url]) for url in failing)))
    return out
