# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""The checker behind revproxy.tls.backend_handshake: input validation (per backend, never a traceback), the checks
built from `backends` or from the role's `sites` (the same effective settings the renderer writes), one TLS context
per distinct setting, the concurrent probe, and each backend's result from the failure catalogue.

Every server-specific rule (the names sent and checked, the Host header, the context, classify(), the catalogue) is
asked of the semantics object the caller passes in (_semantics.Semantics; backend_handshake passes Apache's,
apache/_catalogue.SEMANTICS): this file never names a server. The module holds only its documentation and main();
the I/O is in _tls_probe, _context and _loop.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import datetime
import math
import os
import re
import shutil
import tempfile

from ansible_collections.revproxy.tls.plugins.module_utils.model._backend_tls import (
    BACKEND_TLS_DEFAULTS,
    BACKEND_TLS_SPEC,
    ConfigError,
    PATH_KEYS,
    insecure_settings,
    is_ip_literal,
    parse_backend_url,
    validate_backend_tls,
)
from ansible_collections.revproxy.tls.plugins.module_utils.model._grammar import CIPHER_RE, CONTROL_RE, hostname
from ansible_collections.revproxy.tls.plugins.module_utils.model import _policy
from ansible_collections.revproxy.tls.plugins.module_utils.model._sites import (
    SITE_SPEC,
    check_defaults,
    normalize_sites,
    select_sites,
    site_backend_checks,
)
from ansible_collections.revproxy.tls.plugins.module_utils.tls import _context, _http, _loop, _tls_probe

try:
    from urllib.parse import urlsplit
except ImportError:  # pragma: no cover
    from urlparse import urlsplit  # type: ignore

BACKEND_OPTIONS = dict(
    {
        "url": {"type": "str", "required": True},
        "preserve_host": {"type": "bool", "default": False},
        "host": {"type": "str"},
    },
    **copy.deepcopy(BACKEND_TLS_SPEC)
)

ARGUMENT_SPEC = {
    "backends": {"type": "list", "elements": "dict", "options": BACKEND_OPTIONS},
    # The role's site model, so client_key_content is no_log from the start (invocation logging included).
    "sites": {"type": "list", "elements": "dict", "options": SITE_SPEC},
    # Typed like backend_tls (the *_content keys included, which run() refuses): a client_key_content given here by
    # mistake is then no_log from the start too, in the invocation log and in every output. No `default: {}`:
    # AnsibleModule fills the suboptions into the default dict itself, which would then leak into the next call.
    "backend_tls_defaults": {"type": "dict", "options": copy.deepcopy(SITE_SPEC["backend_tls"]["options"])},
    "names": {"type": "list", "elements": "str"},
    # No default here: the directory is the server's (the module sets and documents its default); run() needs it
    # with `sites`.
    "tls_dir": {"type": "path"},
    "timeout": {"type": "float", "default": 5},
    "concurrency": {"type": "int", "default": 64},
    "fail_on": {"type": "str", "choices": ["never", "failure"], "default": "failure"},
    "http_request": {"type": "bool", "default": True},
    "return_pem": {"type": "bool", "default": False},
}
ARGUMENT_SPEC.update(_policy.POLICY_OPTIONS)

TIMEOUT_MAX = 3600
CONCURRENCY_MAX = 1024

_DIR_KEYS = ("ca_path", "crl_path")
_PORT = re.compile(r"^[0-9]{1,5}$")


def check_limits(params):
    """timeout (a finite number of seconds, 0 < timeout <= 3600) and concurrency (1..1024). Raises ConfigError."""
    timeout = params.get("timeout")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not math.isfinite(timeout) or \
            not 0 < timeout <= TIMEOUT_MAX:
        raise ConfigError("timeout: must be a finite number of seconds greater than 0 and at most %d, got %r"
                          % (TIMEOUT_MAX, timeout))
    concurrency = params.get("concurrency")
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or \
            not 1 <= concurrency <= CONCURRENCY_MAX:
        raise ConfigError("concurrency: must be an integer from 1 to %d, got %r" % (CONCURRENCY_MAX, concurrency))


def check_tls_defaults(defaults):
    """backend_tls_defaults as the role takes them (_sites.check_defaults: the *_content keys are refused, named,
    never their value). Returns the keys that are set."""
    return dict((k, v) for k, v in check_defaults(defaults).items() if v is not None)


def check_host_header(value, field):
    """backends[].host, the Host header clients send: a host name or IP address as the grammar's hostname() takes it,
    optionally followed by ':port' (1-65535); an IPv6 address in brackets ('[::1]', '[::1]:8443'). With
    preserve_host it becomes SNI, the name checked and the Host header sent, so nothing else gets through."""
    if not isinstance(value, str):
        raise ConfigError("%s: must be a string, got %s" % (field, type(value).__name__))
    if value == "":
        raise ConfigError("%s: must not be empty" % field)
    if CONTROL_RE.search(value):
        raise ConfigError("%s: must not contain CR, LF, NUL or other control characters (they would inject into "
                          "the HTTP request), got %r" % (field, value[:100]))
    try:
        value.encode("ascii")
    except UnicodeEncodeError:
        raise ConfigError("%s: %r must be ASCII (use the IDNA 'xn--' form of an international name)"
                          % (field, value[:100]))
    if len(value) > 262:
        raise ConfigError("%s: is longer than 262 characters (a host name has at most 253)" % field)
    if "%" in value:
        raise ConfigError("%s: %r: IPv6 zone ids (%%...) are not accepted" % (field, value))
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            raise ConfigError("%s: %r: '[' without a closing ']'" % (field, value))
        name, rest = value[1:end], value[end + 1:]
        if ":" not in name or not is_ip_literal(name):
            raise ConfigError("%s: %r: only IPv6 addresses are written in brackets" % (field, value))
    else:
        if value.count(":") > 1:
            raise ConfigError("%s: %r: write an IPv6 address in brackets, e.g. [::1] or [::1]:8443" % (field, value))
        name, sep, port = value.partition(":")
        rest = sep + port
    hostname(name, field)
    if rest:
        port = rest[1:]
        if not rest.startswith(":") or not _PORT.match(port) or not 1 <= int(port) <= 65535:
            raise ConfigError("%s: %r: the port after ':' must be a number from 1 to 65535" % (field, value))
    return value


def _check_files(tls, prefix=""):
    for key in PATH_KEYS:
        path = tls.get(key)
        if not path:
            continue
        if not os.path.exists(path):
            raise ConfigError("%s%s: %s does not exist" % (prefix, key, path))
        if key in _DIR_KEYS:
            if not os.path.isdir(path):
                raise ConfigError("%s%s: %s is not a directory" % (prefix, key, path))
        elif not os.path.isfile(path):
            raise ConfigError("%s%s: %s is not a file" % (prefix, key, path))
        if not os.access(path, os.R_OK):
            raise ConfigError("%s%s: %s is not readable" % (prefix, key, path))


class _Refused(Exception):
    """A backend that is reported, not checked: reason (invalid_input, no_cipher_match), message, field."""

    def __init__(self, reason, message, field, **fields):
        Exception.__init__(self, message)
        self.reason = reason
        self.message = message
        self.field = field
        self.fields = fields


def _refused(exc):
    """invalid_input from a ConfigError whose message starts with the field it names."""
    msg = str(exc)
    return _Refused("invalid_input", msg, msg.split(":", 1)[0])


def _validate_tls(tls, prefix, semantics):
    """validate_backend_tls, except the two settings a server accepts at startup and fails at request time (verify
    without a CA, CRL checking without CRLs): the check reports those per backend instead of refusing them. A
    cipher string that selects nothing once the server built its list is no_cipher_match (the server would not
    start)."""
    relaxed = dict(tls)
    if relaxed["verify"] in ("require", "optional") and not (relaxed["ca_file"] or relaxed["ca_path"]):
        relaxed["verify"] = "none"
    if relaxed["crl_check"] in ("leaf", "chain") and not (relaxed["crl_file"] or relaxed["crl_path"]):
        relaxed["crl_check"] = "none"
    ciphers = relaxed["ciphers"]
    validate_backend_tls(dict(relaxed, ciphers=None), field=prefix)
    if isinstance(ciphers, str) and CIPHER_RE.match(ciphers) and len(ciphers) <= 1024:
        error = _context.cipher_match_error(ciphers, semantics)
        if error:
            raise _Refused("no_cipher_match", "%s.ciphers: %s" % (prefix, error), prefix + ".ciphers",
                           ciphers=ciphers)
    validate_backend_tls(relaxed, field=prefix)


def _printable(value, limit=200):
    """A value as one line of ASCII for labels and messages (control and non-ASCII characters escaped)."""
    text = value if isinstance(value, str) else repr(value)
    text = text[:limit * 4].encode("ascii", "backslashreplace").decode("ascii")
    text = CONTROL_RE.sub(lambda m: "\\x%02x" % ord(m.group()), text)
    return text if len(text) <= limit else text[:limit] + "..."


def _backend_check(item, prefix, semantics):
    """One backends[] entry, every field validated; raises _Refused naming backends[N].<field>."""
    if not isinstance(item, dict):
        raise _Refused("invalid_input", "%s: must be a dict, got %s" % (prefix, type(item).__name__), prefix)
    unknown = sorted(str(k) for k in item if k not in BACKEND_OPTIONS)
    if unknown:
        raise _Refused("invalid_input", "%s: unknown key(s) %s" % (prefix, ", ".join(unknown)), prefix)
    try:
        url = parse_backend_url(item.get("url"), prefix + ".url")
        preserve_host = item.get("preserve_host", False)
        if not isinstance(preserve_host, bool):
            raise ConfigError("%s.preserve_host: must be a boolean, got %r" % (prefix, preserve_host))
        host = item.get("host")
        if host is not None:
            check_host_header(host, prefix + ".host")
        tls = dict((k, BACKEND_TLS_DEFAULTS[k] if item.get(k) is None else item[k]) for k in BACKEND_TLS_DEFAULTS)
        if url.is_tls:
            _validate_tls(tls, prefix, semantics)
            _check_files(tls, prefix + ".")
        else:
            validate_backend_tls(tls, field=prefix, used=False)
        try:
            sni, checked = semantics.tls_names(url, preserve_host, host)
        except ConfigError as exc:
            raise ConfigError("%s.%s" % (prefix, exc))
    except ConfigError as exc:
        raise _refused(exc)
    return {"url": url, "preserve_host": preserve_host, "host": host, "sni": sni, "checked_name": checked,
            "tls": tls, "path": url.path, "request_path": url.path}


def build_checks_from_backends(backends, semantics):
    """One check per backends[] entry, in order. An entry that fails validation becomes a check marked "refused"
    (reported as invalid_input or no_cipher_match, never probed); the others are unaffected."""
    checks = []
    for index, item in enumerate(backends or []):
        prefix = "backends[%d]" % index
        raw = item if isinstance(item, dict) else {}
        url = raw.get("url")
        host = raw.get("host")
        try:
            check = _backend_check(item, prefix, semantics)
        except _Refused as exc:
            check = {"refused": exc, "url": None, "preserve_host": False, "host": None, "sni": None,
                     "checked_name": None, "tls": None, "path": None, "request_path": None}
        check.update({
            "label": "%s (%s)" % (prefix, _printable(url)),
            "field_prefix": prefix + ".", "semantics": semantics,
            "result_keys": {"url": url if isinstance(url, str) else _printable(url),
                            "path": check["path"],
                            "host": host if host is None or isinstance(host, str) else _printable(host)},
        })
        checks.append(check)
    return checks


def build_checks_from_sites(sites, defaults, tls_dir, tmpdir, module, semantics, names=None, policy=None):
    """The checks of the sites' backends (of the sites in `names` only, when given), each site validated first. An
    error about the sites reads "sites: ..."; an unknown name in `names` reads "names: no such site(s): ...". """
    try:
        normalized = normalize_sites(sites, defaults, tls_dir, policy)
    except ConfigError as exc:
        raise ConfigError("sites: %s" % exc)
    effective = select_sites(normalized, names)  # its error names the option: "names: no such site(s): x"
    try:
        return _checks_of(effective, tmpdir, module, semantics)
    except ConfigError as exc:
        raise ConfigError("sites: %s" % exc)


def _checks_of(effective, tmpdir, module, semantics):
    """One check per backend of each effective site; *_content written once per distinct content into tmpdir."""
    checks = []
    written = {}
    for eff in effective:
        for warning in eff["warnings"]:
            module.warn("site %s: %s" % (eff["name"], warning))
        for check in site_backend_checks(eff):
            tls = dict(check["backend_tls"])
            for key, content in check["contents"].items():
                # One file per distinct content: sites sharing a CA get identical settings (deduplicated checks).
                if content not in written:
                    path = os.path.join(tmpdir, "%d.pem" % len(written))
                    with open(path, "w") as f:
                        f.write(content)
                    written[content] = path
                tls[key] = written[content]
            url = parse_backend_url(check["url"], "url")
            label = "%s %s%s" % (check["site"], check["url"], " (Host %s)" % check["host"] if check["host"] else
                                 " (health check: no SNI)" if check.get("health_check") else "")
            try:
                _check_files(tls)
            except ConfigError as exc:
                raise ConfigError("site %r: locations path %s: backend_tls: %s"
                                  % (check["site"], check["path"], exc))
            checks.append({
                "label": label, "url": url, "preserve_host": check["preserve_host"], "host": check["host"],
                "sni": check["sni"], "checked_name": check["checked_name"], "tls": tls, "path": check["path"],
                "request_path": check.get("request_path") or url.path,
                "field_prefix": "site %r: backend_tls." % check["site"],
                "result_keys": dict({"site": check["site"], "url": check["url"], "path": check["path"],
                                     "host": check["host"]}, **({"health_check": True} if check.get("health_check")
                                                                else {})),
                "pool": check.get("pool"), "site": check["site"], "semantics": semantics,
            })
    return checks


def _settings_key(tls):
    return tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in sorted(tls.items()))


def secret_values(value):
    """client_key_content values anywhere in the sites/defaults input (masked in all output)."""
    found = []
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "client_key_content" and isinstance(v, str) and v:
                found.append(v)
            else:
                found.extend(secret_values(v))
    elif isinstance(value, list):
        for v in value:
            found.extend(secret_values(v))
    return found


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
        insecure = insecure_settings(tls)
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


def run(params, module, semantics):
    """Validate, build contexts, probe concurrently, with the server's `semantics` (_semantics.Semantics). Returns
    (checks, results). Raises ConfigError for what concerns the whole task (timeout, concurrency,
    backend_tls_defaults, sites); a bad backends[] entry is a result."""
    check_limits(params)
    defaults = check_tls_defaults(params.get("backend_tls_defaults"))
    if params.get("names") is not None and params.get("sites") is None:
        raise ConfigError("names: selects among sites; it cannot be used with backends")
    tmpdir = None
    try:
        if params.get("sites") is not None:
            if not params.get("tls_dir"):
                raise ConfigError("tls_dir: required with sites (the directory the role writes *_content files to)")
            tmpdir = tempfile.mkdtemp(prefix="revproxy-tls-check-")
            os.chmod(tmpdir, 0o700)
            checks = build_checks_from_sites(params["sites"], defaults, params["tls_dir"], tmpdir, module,
                                             semantics, params.get("names"), _policy.policy_of(params))
        else:
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
