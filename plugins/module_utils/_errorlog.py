# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""Read Apache's error log after a reload and explain its lines with the failure catalogue (pure functions, plus
one reader)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.revproxy.tls.plugins.module_utils._catalogue import CATALOGUE

# X509_V_ERR_* numbers that AH02039/AH02276 print, as catalogue reasons.
VERIFY_ERRORS = {2: "ca_file_missing_root", 3: "crl_error", 9: "not_yet_valid", 10: "expired", 18: "untrusted_ca",
                 19: "untrusted_ca", 20: "incomplete_chain", 21: "incomplete_chain", 23: "revoked"}

# (pattern, reason or None, meaning). The first match of a line wins; the order goes from specific to generic.
_RULES = [
    (r"AH02040", "chain_too_long", "the backend chain is longer than SSLProxyVerifyDepth allows"),
    (r"AH02411", "name_mismatch", "the backend certificate does not cover the name Apache checked (the SNI sent)"),
    (r"AH02004", "expired", "the backend certificate is expired or not yet valid"),
    (r"AH02268", "client_cert_required", "the backend wants a client certificate and none is configured"),
    (r"AH02326|AH02252|AH02206", "client_cert_invalid", "the proxy's client certificate/key file is unusable"),
    (r"AH02312|AH00020|AH00016|Configuration Failed", "reload_failed",
     "Apache could not load the new configuration and exited"),
    (r"wrong version number", "plain_http_backend", "the backend speaks plain HTTP on an https:// URL"),
    (r"alert protocol version|unsupported protocol|no protocols available", "tls_protocol_mismatch",
     "proxy and backend have no TLS version in common (SSLProxyProtocol)"),
    (r"AH00957|AH01114|Connection refused", "connect_refused", "the backend refused the TCP connection"),
    (r"AH00959|AH00940", "connect_refused", "the worker is in error state after a failed connection (retry=)"),
    (r"DNS lookup failure", "dns_failure", "the backend name does not resolve on the proxy"),
    (r"AH01102", "no_http_response", "the backend closed the connection instead of answering"),
    (r"AH00898: Error during SSL Handshake", None, "generic handshake failure: the cause is in an ssl:info line"),
    (r"AH00898", None, "the proxy request to the backend failed"),
    (r"AH01084|AH01097", None, "the request to the backend was not sent (follows a connection failure)"),
]

_AH = re.compile(r"\bAH(\d{5})\b")
_VERIFY = re.compile(r"AH0(?:2039|2276): Certificate Verification: Error \((\d+)\)")


def explain_line(line):
    """{line, ah, reason, meaning, fix} for one error-log line; reason/meaning None when the line says nothing known."""
    match = _AH.search(line)
    out = {"line": line.rstrip("\n"), "ah": "AH" + match.group(1) if match else None, "reason": None,
           "meaning": None, "fix": None}
    verify = _VERIFY.search(line)
    if verify:
        reason = VERIFY_ERRORS.get(int(verify.group(1)), "verify_failed")
        out.update(reason=reason, meaning="backend certificate verification failed (X509 error %s)" % verify.group(1))
    else:
        for pattern, reason, meaning in _RULES:
            if re.search(pattern, line):
                out.update(reason=reason, meaning=meaning)
                break
    if out["reason"] in CATALOGUE:
        out["fix"] = CATALOGUE[out["reason"]].get("fix")
    return out


def diagnose(lines):
    """Explained lines (only those with a meaning) and the most specific reason among them."""
    explained = [explain_line(line) for line in lines]
    relevant = [e for e in explained if e["meaning"]]
    reasons = [e["reason"] for e in relevant if e["reason"]]
    return {"lines": relevant, "reason": reasons[0] if reasons else None}


def read_since(path, offset, limit=200000):
    """Lines appended to the log after byte offset (all of it if the file shrank: it was rotated)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, 2)
            size = handle.tell()
            start = offset if 0 <= offset <= size else 0
            start = max(start, size - limit)
            handle.seek(start)
            data = handle.read()
    except IOError:
        return []
    return data.decode("utf-8", "replace").splitlines()
