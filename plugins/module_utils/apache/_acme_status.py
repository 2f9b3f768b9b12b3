# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""The state of mod_md's managed domains: its md-status JSON (on the loopback status vhost, apache/_render_acme),
the CA's own reason from the error log, the served certificate compared with the one mod_md holds.

interpret() and ca_reasons() are pure; fetch_status() and served_certificate() do one bounded network call each.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import email.utils
import hashlib
import http.client
import json
import socket
import ssl

from ansible_collections.revproxy.tls.plugins.module_utils.apache._render_acme import STATUS_PATH

# The CA's problem types (RFC 8555 section 6.7, urn:ietf:params:acme:error:<type>) and what to do about each.
FIXES = {
    "connection": "the CA could not connect to the address and port it names: open port 80 (http-01) or 443 "
                  "(tls-alpn-01) of every name to the CA, check the names' DNS records point at this proxy (and any "
                  "port forward matches apache_proxy_acme_http_port/https_port)",
    "dns": "the CA could not resolve a name: publish A/AAAA records of every name (server_name, server_aliases) in "
           "public DNS",
    "unauthorized": "the CA got a wrong answer to the challenge: another server answers port 80/443 of the name "
                    "(a load balancer or CDN in front, another vhost), or the name points elsewhere",
    "rateLimited": "the CA's rate limit was hit: wait for the time it names; test against the CA's staging "
                   "directory (apache_proxy_acme_directory_url)",
    "caa": "a CAA record of the domain forbids this CA: add the CA's name to the domain's CAA records",
    "rejectedIdentifier": "the CA does not issue for this name (an internal or reserved name): use a public name "
                          "or certificate files",
    "userActionRequired": "the CA's terms of service changed: read them and set apache_proxy_acme_agreement: true",
    "agreementRequired": "accept the CA's terms of service: apache_proxy_acme_agreement: true",
    "externalAccountRequired": "the CA requires an external account binding: set apache_proxy_acme_eab_kid and "
                               "apache_proxy_acme_eab_hmac from the CA's account page",
    "tls": "the CA's TLS connection to the name failed (tls-alpn-01): the TLS port must be this proxy's, with "
           "acme-tls/1 in the site's Protocols",
    "incorrectResponse": "the answer to the challenge was wrong: another server answers the name",
}
GENERIC_FIX = ("read mod_md's lines ([md:error]) in the error log and the domain's md-status "
               "(curl http://127.0.0.1:<status_port>/md-status/<domain>); mod_md retries by itself with a back-off")
_EXACT = "Exact response was: "


def fetch_status(port, timeout=5.0):
    """{domain name: md JSON} of every managed domain, from http://127.0.0.1:<port>/md-status."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", STATUS_PATH, headers={"Host": "localhost"})
        resp = conn.getresponse()
        body = resp.read(8 << 20)
        if resp.status != 200:
            raise ValueError("md-status answered HTTP %d" % resp.status)
    finally:
        conn.close()
    data = json.loads(body.decode("utf-8"))
    return dict((md.get("name"), md) for md in data.get("managed-domains") or [] if isinstance(md, dict))


def _cert_entries(block):
    """The certificates of an md-status "cert" block: {"rsa": {...}, ...} (one per key type, next to a summary
    "valid" of them all once active) or an older flat form."""
    if not isinstance(block, dict):
        return []
    nested = [v for v in block.values() if isinstance(v, dict) and ("valid" in v or "sha256-fingerprint" in v)]
    if nested:
        return nested
    return [block] if "valid" in block or "sha256-fingerprint" in block else []


def interpret(md):
    """The state of one managed domain from its md-status JSON (None: mod_md does not know it yet)."""
    if md is None:
        return {"known": False, "state": None, "state_descr": "not (yet) a managed domain of the running server",
                "active": False, "staged": False, "valid_until": None, "renew_at": None, "fingerprints": [],
                "last_error": None, "errors": 0, "progress": None}
    certs = _cert_entries(md.get("cert"))
    renewal = md.get("renewal") or {}
    last = renewal.get("last") or {}
    status = last.get("status")
    staged = bool(renewal.get("finished")) and status == 0
    error = None
    if status not in (None, 0):
        error = {"status": status, "detail": last.get("detail"), "activity": last.get("activity"),
                 "problem": last.get("problem")}
    entries = ((renewal.get("log") or {}).get("entries") or [])
    progress = next((e.get("detail") for e in entries if isinstance(e, dict) and e.get("detail")), None)
    return {
        "known": True,
        "state": md.get("state"),
        "state_descr": md.get("state-descr"),
        # state 2 (MD_S_COMPLETE): the server runs with the CA's certificate
        "active": md.get("state") == 2 and bool(certs),
        "staged": staged,
        "valid_until": min([c["valid"]["until"] for c in certs if isinstance(c.get("valid"), dict)
                            and c["valid"].get("until")] or [None], key=lambda v: v or ""),
        "renew_at": md.get("renew-at"),
        "fingerprints": [c["sha256-fingerprint"].lower() for c in certs if c.get("sha256-fingerprint")],
        "last_error": error,
        "errors": renewal.get("errors") or 0,
        "progress": progress,
    }


def _log_json(text):
    """The JSON object at the start of text (the error log escapes backslashes: \\\\ for \\)."""
    for candidate in (text, text.replace("\\\\", "\\")):
        try:
            return json.JSONDecoder().raw_decode(candidate)[0]
        except ValueError:
            continue
    return None


def ca_reasons(log_text, domain):
    """[(problem type, detail)] the CA gave for the domain's challenges, from mod_md's error lines."""
    out = []
    for line in log_text.splitlines():
        if "[md:" not in line or _EXACT not in line:
            continue
        data = _log_json(line.split(_EXACT, 1)[1])
        if not isinstance(data, dict) or (data.get("identifier") or {}).get("value", "").lower() != domain.lower() \
                and domain.lower() not in line.lower():
            continue
        problems = [c.get("error") for c in data.get("challenges") or [] if isinstance(c, dict)]
        problems.append(data.get("error") if "type" in (data.get("error") or {}) else None)
        if "type" in data and "detail" in data:
            problems.append(data)
        for problem in problems:
            if isinstance(problem, dict) and problem.get("type"):
                item = (problem["type"].rsplit(":", 1)[-1], problem.get("detail") or "")
                if item not in out:
                    out.append(item)
    return out


# mod_md's own words (md-status renewal.last.detail) for what it refuses before asking the CA.
DETAIL_FIXES = (
    ("No contact information", "set the account's contact: tls.acme.contact or apache_proxy_acme_contact"),
    ("agreement", "accept the CA's terms of service: apache_proxy_acme_agreement: true"),
    ("external account", "set apache_proxy_acme_eab_kid and apache_proxy_acme_eab_hmac from the CA's account page"),
)


def fix_for(reasons, detail=None):
    for kind, _detail in reasons:
        if kind in FIXES:
            return FIXES[kind]
    for needle, fix in DETAIL_FIXES:
        if detail and needle.lower() in detail.lower():
            return fix
    return GENERIC_FIX


def served_certificate(address, port, name, trust_file=None, timeout=5.0):
    """(sha256 fingerprint of the leaf the server sends for SNI `name`, None) when the chain it sends verifies to
    trust_file (the system's roots when None) for that name; (fingerprint or None, error text) otherwise."""
    try:
        sock = socket.create_connection((address, port), timeout=timeout)
    except (OSError, socket.error) as exc:
        return None, "connect to %s:%d failed: %s" % (address, port, exc)
    why = "not verified"
    with sock:
        ctx = ssl.create_default_context(cafile=trust_file)
        try:
            with ctx.wrap_socket(sock, server_hostname=name) as tls:
                der = tls.getpeercert(binary_form=True)
                return hashlib.sha256(der).hexdigest(), None
        except ssl.SSLError as exc:
            why = str(exc)
        except (OSError, socket.error) as exc:
            return None, "TLS to %s:%d failed: %s" % (address, port, exc)
    # Not verified: the leaf's fingerprint still says whether it is the ACME one.
    return _unverified(address, port, name, timeout), "the served chain does not verify for %s: %s" % (name, why)


def _unverified(address, port, name, timeout):
    try:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with socket.create_connection((address, port), timeout=timeout) as sock:
            with ctx.wrap_socket(sock, server_hostname=name) as tls:
                return hashlib.sha256(tls.getpeercert(binary_form=True)).hexdigest()
    except (OSError, socket.error, ssl.SSLError):
        return None


def _utc(text):
    """An md-status time ("Sun, 07 Dec 2031 20:54:36 GMT") as an aware datetime, or None."""
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=datetime.timezone.utc)


def frontend_result(site, md, now, expiry_days, status_error=None):
    """An ACME site's entry in frontend_certificate's results, from mod_md's state of its domain (md: its md-status
    JSON or None; status_error: why md-status could not be read): valid until, renewal due, last error."""
    acme = site["tls"]["acme"]
    domain = acme["names"][0]
    state = interpret(md)
    result = {"site": site["name"], "certificate_file": "(ACME: mod_md, %s)" % domain, "subject": None,
              "names": list(acme["names"]), "not_after": None, "days_left": None, "renew_at": state["renew_at"],
              "acme": dict((k, state[k]) for k in ("state", "state_descr", "active", "staged", "valid_until", "renew_at",
                                                   "last_error", "errors")),
              "problems": []}
    problems = result["problems"]
    until = _utc(state["valid_until"]) if state["valid_until"] else None
    if until is not None:
        result["not_after"] = until.strftime("%Y-%m-%dT%H:%M:%SZ")
        result["days_left"] = int((until - now).total_seconds() // 86400)
    if status_error:
        problems.append({"reason": "acme_status", "message": "mod_md's status of %s could not be read: %s"
                         % (domain, status_error), "fix": "check that Apache runs with the role's configuration "
                         "(the md-status vhost on 127.0.0.1:apache_proxy_acme_status_port)"})
        return result
    if state["last_error"]:
        err = state["last_error"]
        problems.append({"reason": "acme_error", "message": "mod_md's last order or renewal of %s failed: %s (%s)"
                         % (domain, err.get("detail"), err.get("activity")), "fix": fix_for([], err.get("detail"))})
    if not state["active"]:
        problems.append({"reason": "acme_pending", "message": "no certificate from the CA is active for %s yet (%s)"
                         % (domain, state["state_descr"] or "not a managed domain of the running server"),
                         "fix": "run the role (it waits for the order and activates it); mod_md's reason is in its "
                         "md-status and the error log"})
    elif state["staged"]:
        problems.append({"reason": "acme_staged", "message": "a renewed certificate of %s waits for a graceful "
                         "restart" % domain, "fix": "the role's cron job (/etc/cron.d/revproxy-tls-acme) restarts "
                         "gracefully; or reload Apache"})
    days = result["days_left"]
    if days is not None and days < expiry_days:
        problems.append({"reason": "expiring" if days >= 0 else "expired",
                         "message": "the ACME certificate of %s expires on %s (%s days) although mod_md renews it at "
                         "%s" % (domain, result["not_after"], days, state["renew_at"]),
                         "fix": "look at mod_md's renewal errors in md-status and the error log"})
    return result
