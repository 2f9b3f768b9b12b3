# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""Apache error-log lines explained with the failure catalogue: the one place that maps log lines to reasons.

Used by the role's probe (apache_proxy_probe), the diagnose playbook and the report (explain_apache_log filter).
The AH codes come from the catalogue's own log templates (no second copy); a few rules add what a code alone cannot
say: the X509 error number of AH02039/AH02276 (through _mod_ssl.VERIFY_ERROR_REASONS, the table the checker uses),
OpenSSL's text on the "SSL Library Error" line, and httpd exiting (HTTPD_EXITED, the list the probe waits for).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.revproxy.tls.plugins.module_utils._files import FileReadError, read_tail
from ansible_collections.revproxy.tls.plugins.module_utils.apache._catalogue import CATALOGUE
# The X509 verify error number that AH02039/AH02276 print -> catalogue reasons: the checker's own table.
from ansible_collections.revproxy.tls.plugins.module_utils.tls._mod_ssl import verify_error_reasons

# The AH codes httpd logs when it exits instead of serving: configuration failed (AH00016, AH00020), mod_ssl could
# not initialise (AH02312), logs (AH00015, AH00019) or listening sockets (AH00451) unavailable. The one list: the
# probe's "httpd died" test (_probe.wait_for_reload) and the explainer's reload_failed rule read it.
HTTPD_EXITED = ("AH00015", "AH00016", "AH00019", "AH00020", "AH00451", "AH02312")
# Lines logged just before one of those, explained as reload_failed too (the probe waits for the exit itself):
# AH02565, a certificate and its private key do not match.
_FATAL_BEFORE_EXIT = ("AH02565",)

RELOAD_FAILED = "reload_failed"
_RELOAD_FAILED_MEANING = "Apache could not load the new configuration and exited"
_RELOAD_FAILED_FIX = "Fix what the lines before this one name; the role restores the previous configuration"

# (pattern, reason) for what the AH code alone does not decide; the first match wins.
_RULES = [
    ("|".join(HTTPD_EXITED + _FATAL_BEFORE_EXIT) + "|Configuration Failed", RELOAD_FAILED),
    (r"AH02326", "client_cert_invalid"),
    # AH00957 is shared by every failed TCP connect; the errno before it names the cause. (13) is EACCES: on the RHEL
    # family, SELinux refusing httpd_t's name_connect (httpd_can_network_connect off).
    (r"\(13\)Permission denied: AH00957", "selinux_denied"),
    (r"\(111\)Connection refused: AH00957", "connect_refused"),
    (r"\(70007\)The timeout specified has expired: AH00957", "connect_timeout"),
    (r"wrong version number", "plain_http_backend"),
    (r"alert protocol version|unsupported protocol|no protocols available", "tls_protocol_mismatch"),
    (r"tlsv13 alert certificate required|alert handshake failure", None),
    (r"DNS lookup failure", "dns_failure"),
]

_AH = re.compile(r"\bAH(\d{5})\b")
_VERIFY = re.compile(r"AH0(?:2039|2276): Certificate Verification: Error \((\d+)\)")
_SPECIFIC = 3  # a code shared by more reasons than this names no single cause (AH00898 is the generic tail)

_INDEX = {}


def ah_index():
    """AH code -> [reason codes whose log lines contain it], from the catalogue's log templates."""
    if not _INDEX:
        for reason, entry in CATALOGUE.items():
            for variant in entry["logs"].values():
                for _level, template in variant:
                    for code in _AH.findall(template):
                        reasons = _INDEX.setdefault("AH" + code, [])
                        if reason not in reasons:
                            reasons.append(reason)
    return _INDEX


def _entry(reasons):
    if not reasons:
        return None, None
    if reasons == [RELOAD_FAILED]:
        return _RELOAD_FAILED_MEANING, _RELOAD_FAILED_FIX
    titles = [CATALOGUE[r]["title"] for r in reasons]
    meaning = titles[0] if len(titles) == 1 else "one of: " + "; ".join(titles)
    fix = CATALOGUE[reasons[0]]["fix"] if len(reasons) == 1 else None
    return meaning, fix if fix and "{" not in fix else None


def explain_line(line):
    """{line, ah: [codes], reasons: [...], reason: the single cause or None, meaning, fix} for one log line."""
    line = str(line).rstrip("\r\n")
    codes = ["AH" + c for c in _AH.findall(line)]
    index = ah_index()
    reasons = []
    known = [index[c] for c in codes if c in index]
    if known:
        reasons = list(min(known, key=len))  # the most specific code decides
    verify = _VERIFY.search(line)
    if verify:
        reasons = list(verify_error_reasons(int(verify.group(1))))
    else:
        for pattern, reason in _RULES:
            if re.search(pattern, line):
                reasons = [reason] if reason else reasons
                break
    meaning, fix = _entry(reasons)
    reason = reasons[0] if reasons and len(reasons) <= _SPECIFIC else None
    return {"line": line, "ah": codes, "reasons": reasons, "reason": reason, "meaning": meaning, "fix": fix}


def explain_lines(lines):
    """explain_line() for each non-blank line (a string is split into lines)."""
    if isinstance(lines, str):
        lines = lines.splitlines()
    return [explain_line(line) for line in lines or [] if str(line).strip()]


def diagnose(lines):
    """The explained lines that mean something, and the most specific single cause among them."""
    relevant = [item for item in explain_lines(lines) if item["meaning"]]
    specific = sorted((item for item in relevant if item["reason"]), key=lambda item: len(item["reasons"]))
    return {"lines": relevant, "reason": specific[0]["reason"] if specific else None}


# How much of the log after the offset read_since() reads: its last bytes (the probe polls it while waiting).
ERROR_LOG_TAIL = 200000
SKIPPED_LINE = "[revproxy.tls] %d bytes of the log after the offset were skipped: only its last %d bytes are read"


def read_since(path, offset, limit=ERROR_LOG_TAIL, what="error_log"):
    """Lines appended to the log after byte offset (all of it if the file shrank: it was rotated), from at most its
    last `limit` bytes: when more were written, the first line says how many bytes were skipped (SKIPPED_LINE) and
    the cut line is dropped. A log that does not exist (yet) or cannot be opened gives []; a path that is not a
    regular file (a FIFO, /dev/zero, a directory, a socket) raises _files.FileReadError naming `what` and the path:
    it is never opened, so it cannot block or be read forever."""
    try:
        data, skipped = read_tail(path, limit, what, offset)
    except FileReadError as exc:
        if exc.reason in ("missing", "unreadable"):
            return []
        raise
    lines = data.decode("utf-8", "replace").splitlines()
    if skipped:
        lines = [SKIPPED_LINE % (skipped, limit)] + lines[1:]
    return lines
