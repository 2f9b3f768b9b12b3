# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""The audit of the hand-written vhosts (apache_proxy_audit): read what Apache reads, check every HTTPS backend with
its current settings and with secure ones, propose a site per vhost. Read-only: nothing is written, no service is
touched; the only commands run are httpd's config test with -D DUMP_INCLUDES / -D DUMP_RUN_CFG and httpd -l.

Both verdicts come from the checker of backend_handshake with mod_ssl's semantics (apache/_catalogue.SEMANTICS): the
current one with the effective settings of apache/_audit, the secure one with verification required, the peer name
and expiry checked, TLS 1.2+, the depth the presented chain needs, and the CA already configured or else the system
bundle (apache/_audit_secure).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

from ansible_collections.revproxy.tls.plugins.module_utils._files import FileReadError, check_regular_file
from ansible_collections.revproxy.tls.plugins.module_utils.apache import _audit, _audit_parse, _audit_secure
from ansible_collections.revproxy.tls.plugins.module_utils.apache._capabilities import APACHE
from ansible_collections.revproxy.tls.plugins.module_utils.apache._catalogue import SEMANTICS
from ansible_collections.revproxy.tls.plugins.module_utils.apache._live_vhosts import LiveVhostsError, read_live_vhosts
from ansible_collections.revproxy.tls.plugins.module_utils.model._backend_tls import (
    BACKEND_TLS_DEFAULTS,
    insecure_settings,
)
from ansible_collections.revproxy.tls.plugins.module_utils.tls import _checker

HTTPD_TIMEOUT = 60
SYSTEM_CA_LIMIT = 16 << 20  # Debian's bundle is about 220 KB
_MACRO_USE = re.compile(r'used on line (?P<line>\d+) of "(?P<file>[^"]*)"$')
_INCLUDED = re.compile(r"^\s*\((?:\*|\d+)\)\s+(?P<path>/.*)$")
_DEFINE = re.compile(r"^Define: (?P<name>[^=\s]+)(?:=(?P<value>.*))?$")
_SERVER_ROOT = re.compile(r'^ServerRoot: "(?P<root>.*)"$')
_BUILTIN = re.compile(r"^\s+(?P<mod>\S+\.c)$")
# The checker's reasons that mean: no CA given holds the root of the chain.
_UNTRUSTED = ("untrusted_ca", "no_ca_configured", "ca_file_missing_root", "incomplete_chain")
ENGINE_OFF = {
    "ok": False, "reason": "ssl_proxy_engine_off", "http_status": 500,
    "message": "SSLProxyEngine is not on for this backend: Apache refuses to proxy to https (AH00961) and the client "
               "gets 500",
    "fix": "SSLProxyEngine on in the vhost (with verified settings: see the secure verdict)",
}


def apache_facts(layout, run_command, limit=HTTPD_TIMEOUT):
    """What httpd itself says: (included files, defines, server root, built-in modules, problems). Each httpd run is
    bounded by coreutils' timeout (a configuration can make httpd wait: a FIFO it opens)."""
    main = layout.main_config

    def run_command(argv, _run=run_command):
        return _run(["timeout", str(limit)] + list(argv))
    problems = []
    files, defines, root, builtin = None, None, None, None
    rc, out, err = run_command(layout.config_test_command(main, ["-D", "DUMP_INCLUDES"]))
    if rc == 0:
        files = [m.group("path").strip() for m in map(_INCLUDED.match, out.splitlines()) if m]
    else:
        problems.append(_audit_parse.problem(main, None, "config_test", "httpd's config test failed (rc %s), so the "
                                             "audit reads the files alone: %s" % (rc, (out + err).strip()[:600])))
    rc, out, err = run_command(layout.config_test_command(main, ["-D", "DUMP_RUN_CFG"]))
    if rc == 0:
        defines = {}
        for line in out.splitlines():
            m = _DEFINE.match(line.strip())
            if m and not m.group("name").startswith("DUMP_"):
                defines[m.group("name")] = m.group("value") or ""
            m = _SERVER_ROOT.match(line.strip())
            if m:
                root = m.group("root")
    rc, out, err = run_command(layout.config_test_command(main, ["-l"]))
    mods = [m.group("mod") for m in map(_BUILTIN.match, (out or "").splitlines()) if m]
    if mods:
        builtin = mods
    return files, defines, root, builtin, problems


def read(layout, run_command, use_httpd=True, limits=None):
    """The tree as read_tree gives it, cross-checked against httpd's own list of included files."""
    files, defines, root, builtin, problems = (apache_facts(layout, run_command) if use_httpd
                                               else (None, None, None, None, []))
    server_root = root or layout.config_root
    tree = _audit_parse.read_tree(layout.main_config, server_root=server_root,
                                  roots=[layout.config_root, server_root], defines=defines,
                                  modules=builtin, limits=limits, confirmed=files)
    tree["problems"] = problems + tree["problems"]
    if use_httpd and files is not None:
        tree["problems"].extend(unread_vhosts(layout, run_command, tree))
    if files is not None:
        read_paths = set(os.path.realpath(f["path"]) for f in tree["files"])
        for path in files:
            if os.path.realpath(path) not in read_paths and not any(p["file"] == path for p in tree["problems"]):
                tree["problems"].append(_audit_parse.problem(path, None, "not_read", "httpd reads %s but the audit "
                                                             "did not (see the other problems)" % path))
    tree["server_root"] = server_root
    return tree


def unread_vhosts(layout, run_command, tree):
    """Problems for the vhosts httpd builds (-D DUMP_VHOSTS) that the audit did not read: made by a macro, or in a
    section it left out. Each names the file and line httpd gives."""
    def command(args):
        return ["timeout", str(HTTPD_TIMEOUT)] + layout.config_test_command(layout.main_config, args)
    try:
        live = read_live_vhosts(command, run_command)
    except LiveVhostsError as exc:
        return [_audit_parse.problem(layout.main_config, None, "config_test", str(exc)[:600])]
    read_at = set((os.path.realpath(v["file"]), v["line"]) for v in tree["vhosts"])
    out, seen = [], set()
    for v in live:
        used = _MACRO_USE.search(v["file"])  # mod_macro's "macro 'x' (defined on ...) used on line N of "file""
        if used:
            v = dict(v, file=used.group("file"), line=int(used.group("line")))
        key = (os.path.realpath(v["file"]), v["line"])
        if key in read_at or key in seen:
            continue
        seen.add(key)
        out.append(_audit_parse.problem(v["file"], v["line"], "vhost_not_read", "httpd has a vhost %s here that the "
                                        "audit did not read (a macro, a variable or a section it left out): its "
                                        "backends are not audited" % " ".join(v["names"])))
    return out


def accepts(tls):
    """What the current settings let through, in plain words."""
    if tls["verify"] in ("none", "optional_no_ca"):
        text = "verification off: any certificate is accepted"
        if tls["check_peer_name"] and tls["check_peer_expire"]:
            text += " (only its name and dates are checked; anyone can make such a certificate)"
        return text
    if not tls["check_peer_name"]:
        return "any certificate from a trusted CA is accepted, whatever its name"
    if not tls["check_peer_expire"]:
        return "expired certificates are accepted"
    return "only a certificate from the trusted CA, for the checked name, valid now"


def _verdict(res):
    keys = ("ok", "reason", "message", "fix", "http_status", "sni", "checked_name", "insecure_workaround")
    out = dict((k, res.get(k)) for k in keys)
    out["not_after"] = (res.get("certificate") or {}).get("not_after")
    return out


def _check(entries, params):
    """The checker's results for backends[] entries (never fails: a bad entry is its own invalid_input result)."""
    if not entries:
        return []
    run_params = {"backends": entries, "timeout": params["timeout"], "concurrency": params["concurrency"],
                  "http_request": True, "return_pem": False, "fail_on": "never"}
    _checks, results = _checker.run(run_params, None, SEMANTICS)
    return results


def _rows(items):
    rows = []
    for item in items:
        for entry in _audit.checker_entries(item):
            rows.append((item, entry))
    return rows


def _secure(rows, params):
    """Per row: (secure verdict, trust text, settings, chain facts)."""
    probed = _audit_secure.presented_chains([e for _i, e in rows], SEMANTICS, params["timeout"],
                                            params["concurrency"])
    facts = [_audit_secure.chain_facts(p.get("served_chain")) for p in probed]
    bundle = params.get("system_ca_file") or _audit_secure.system_bundle()
    plans = []
    flat = []
    for (item, entry), fact in zip(rows, facts):
        tls = dict((k, v) for k, v in entry.items() if k not in ("url", "preserve_host", "host"))
        cands = _audit_secure.secure_candidates(tls, fact, bundle, SEMANTICS)
        plans.append((len(flat), cands))
        for _trust, settings in cands:
            flat.append(dict(settings, **dict((k, entry[k]) for k in ("url", "preserve_host", "host") if k in entry)))
    results = _check(flat, params)
    out = []
    for (start, cands), fact, probe in zip(plans, facts, probed):
        chosen = 0
        for i in range(len(cands)):
            if results[start + i]["ok"]:
                chosen = i
                break
        else:
            chosen = len(cands) - 1 if cands[0][0] == "configured" and len(cands) > 1 and results[start]["reason"] \
                in _UNTRUSTED else 0
        trust, settings = cands[chosen]
        if not results[start + chosen]["ok"] and results[start + chosen]["reason"] in _UNTRUSTED:
            trust = "private"
        elif not results[start + chosen]["ok"] and trust == "system_bundle":
            trust = "unproven"  # another failure came first: nothing shows the chain ends in a public root
        verdict = _verdict(results[start + chosen])
        verdict["client_certificate"] = _audit_secure.client_request(probe, settings)
        out.append((verdict, _audit_secure.trust_text(trust, settings, fact), settings, fact))
    return out


class AuditError(ValueError):
    """The audit cannot start (no main configuration where the layout says); the message names the option."""


def audit(params, layout, run_command):
    """The audit's result (the module's return values but changed). AuditError when there is no configuration."""
    if not os.path.isfile(layout.main_config):
        raise AuditError("config_root: no main configuration %s (layout %s, config_root %s): nothing to audit"
                         % (layout.main_config, layout.family, layout.config_root))
    if params.get("system_ca_file"):
        path = params["system_ca_file"]
        try:
            if not os.path.isabs(path):
                raise FileReadError("system_ca_file: %r is not an absolute path" % path)
            check_regular_file(path, SYSTEM_CA_LIMIT, "system_ca_file")
        except FileReadError as exc:
            raise AuditError(str(exc))
    tree = read(layout, run_command, params.get("use_httpd", True))
    problems = tree["problems"]
    items = _audit.backends_of(tree, tree["server_root"], problems)
    if not params.get("include_managed"):
        # The role's own files: what they do is known (the role rendered them), so neither their backends nor what
        # the audit does not evaluate in them (the <If> of a site that answers its own names only) is reported.
        items = [i for i in items if not i["managed"]]
        managed = set(f["path"] for f in tree["files"] if f["managed"])
        problems[:] = [p for p in problems if p["file"] not in managed]
    rows = _rows(items)
    current = _check([e for _i, e in rows], params)
    secure = _secure(rows, params)
    backends = []
    for (item, entry), res, (sec, trust, settings, fact) in zip(rows, current, secure):
        verdict = _verdict(res) if item["engine"] else dict(ENGINE_OFF, sni=res.get("sni"),
                                                            checked_name=res.get("checked_name"))
        tls = item["tls"]
        insecure = insecure_settings(dict(_checker_defaults(), **tls), SEMANTICS)
        notes = list(item["notes"])
        if item["settings"]["sslproxyprotocol"]["origin"] == "default":
            # mod_ssl's default (all -SSLv3) leaves the floor to the system's OpenSSL (TLS 1.2 on Debian 12 and
            # RHEL 9): a note, not an insecure setting of this configuration.
            insecure = [i for i in insecure if not i.startswith("protocols:")]
            notes.append("SSLProxyProtocol is mod_ssl's default (all -SSLv3): the lowest version is the system "
                         "OpenSSL's; the secure settings say TLSv1.2 TLSv1.3")
        secure_tls = dict((k, v) for k, v in settings.items() if v is not None)
        backends.append({
            "vhost": item["vhost"], "vhost_file": item["vhost_file"], "vhost_line": item["vhost_line"],
            "managed": item["managed"], "route": dict((k, item["route"][k]) for k in ("kind", "path", "target",
                                                                                      "file", "line", "regex")),
            "url": item["url"], "balancer": item["balancer"], "member": item["member"],
            "preserve_host": item["preserve_host"], "host": entry.get("host"),
            "directives": _audit.directives(item), "insecure": bool(insecure), "insecure_settings": insecure,
            "accepts": accepts(dict(_checker_defaults(), **tls)), "current": verdict,
            "secure": dict(sec, trust=trust, settings=secure_tls, chain=fact), "notes": notes,
            "secure_tls": secure_tls,
        })
    backends.sort(key=lambda b: (not b["insecure"], b["current"]["ok"] and not b["insecure"], b["vhost"]))
    vhosts = _vhosts(tree, items, backends, layout)
    summary = summarize(backends, problems, vhosts)
    return {"msg": message(summary, backends), "summary": summary, "backends": backends, "vhosts": vhosts,
            "problems": problems, "files": tree["files"]}


def _checker_defaults():
    return dict(BACKEND_TLS_DEFAULTS)


def _vhosts(tree, items, backends, layout):
    out = []
    for vhost in tree["vhosts"]:
        label = _audit.vhost_label(vhost)
        rows = [b for b in backends if b["vhost"] == label]
        entry = {"vhost": label, "file": vhost["file"], "line": vhost["line"], "managed": vhost["managed"],
                 "addresses": vhost["addresses"], "names": _audit._names(vhost),  # pylint: disable=protected-access
                 "backends": len(rows)}
        if rows and not vhost["managed"]:
            view = dict(vhost, names=entry["names"])
            first = entry["names"][0] if entry["names"] else None
            results = [b for b in rows if b["host"] in (None, first)]
            in_file = sum(1 for other in tree["vhosts"] if other["file"] == vhost["file"])
            entry["proposal"] = _audit_secure.propose_site(view, results, layout.tls_dir, APACHE, in_file)
            # valid: the role takes it; secure_ok: every backend of it passes with its secure settings.
            entry["proposal"]["secure_ok"] = all(b["secure"]["ok"] for b in rows)
        out.append(entry)
    return out


def summarize(backends, problems, vhosts):
    return {
        "backends": len(backends),
        "insecure": sum(1 for b in backends if b["insecure"]),
        "failing_now": sum(1 for b in backends if not b["current"]["ok"]),
        "secure_ok": sum(1 for b in backends if b["secure"]["ok"]),
        "secure_failing": sum(1 for b in backends if not b["secure"]["ok"]),
        "vhosts": len(vhosts),
        "managed_vhosts": sum(1 for v in vhosts if v["managed"]),
        "problems": len(problems),
    }


def message(summary, backends):
    parts = []
    for b in backends[:3]:
        if b["insecure"] or not b["current"]["ok"]:
            parts.append("%s %s -> %s: %s; now %s; secure: %s" % (
                b["vhost"], b["route"]["path"], b["url"], "; ".join(b["insecure_settings"]) or "settings secure",
                b["current"]["reason"], b["secure"]["reason"]))
    parts.append("%(backends)d HTTPS backends audited: %(insecure)d with insecure settings, %(failing_now)d failing "
                 "now, %(secure_ok)d pass with secure settings; %(problems)d problems in the configuration" % summary)
    return " | ".join(parts)
