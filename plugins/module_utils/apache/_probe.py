# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""End-to-end probe of reverse-proxy sites through the local Apache listener, after a reload."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import socket
import ssl
import time
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.revproxy.tls.plugins.module_utils.apache._errorlog import HTTPD_EXITED, diagnose, read_since
from ansible_collections.revproxy.tls.plugins.module_utils.tls._http import parse_status_line

READY = "AH00489"  # "... configured -- resuming normal operations": a (re)started generation serves
DIED = HTTPD_EXITED  # httpd exited (the explainer's list)
OLD_GENERATION_GRACE = 1.5  # seconds old-generation children may still accept after a graceful restart


def _connect_address(listen):
    address = listen["address"]
    if address in (None, "*", "0.0.0.0"):
        return "127.0.0.1"
    if address == "::":
        return "::1"
    return address


def request(site, path, timeout):
    """One GET through the proxy with the site's Host (and SNI when the frontend is TLS). Returns (status, error)."""
    address = _connect_address(site["listen"])
    port = site["listen"]["port"]
    host = site["server_name"]
    try:
        sock = socket.create_connection((address, port), timeout=timeout)
    except (OSError, socket.error) as exc:
        return None, "connect to %s:%d failed: %s" % (address, port, exc)
    try:
        if site["tls"]:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE  # our own listener: the probe is about the backend hop
            sock = ctx.wrap_socket(sock, server_hostname=host)
        host_header = host if port in (80, 443) else "%s:%d" % (host, port)
        sock.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: revproxy.tls-probe\r\nConnection: close\r\n\r\n"
                      % (path, host_header)).encode("ascii"))
        data = b""
        while b"\r\n" not in data and len(data) < 8192:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
        status, line = parse_status_line(data.split(b"\r\n", 1)[0])
        if status is None:
            return None, "no HTTP response (got %r)" % line[:80]
        return status, None
    except (OSError, socket.error, ssl.SSLError) as exc:
        return None, "request failed: %s" % exc
    finally:
        sock.close()


def location_ok(loc, status):
    if status is None:
        return False
    if loc.get("probe_status"):
        return status in loc["probe_status"]
    return status < 500


def wait_for_reload(error_log, offset, timeout, sleep=time.sleep, clock=time.time, read=read_since):
    """Wait until the error log shows the new generation serving or httpd exiting (one of DIED).
    Returns (state, lines) with state 'ready', 'died' or 'unknown' (no sign within timeout). read(path, offset) reads
    the log (read_since: a bounded tail; an error log that is not a regular file raises _files.FileReadError)."""
    deadline = clock() + timeout
    while True:
        lines = read(error_log, offset)
        if any(code in line for line in lines for code in DIED):
            return "died", lines
        if any(READY in line for line in lines):
            sleep(OLD_GENERATION_GRACE)
            return "ready", read(error_log, offset)
        if clock() >= deadline:
            return "unknown", lines
        sleep(0.1)


def _probe_location(site, loc, timeout, settle, sleep, clock, do_request):
    deadline = clock() + settle
    while True:
        status, error = do_request(site, loc["path"], timeout)
        ok = location_ok(loc, status)
        if ok or clock() >= deadline:
            break
        sleep(0.25)
    return {"path": loc["path"], "backend": loc["backend"], "status": status, "ok": ok, "error": error,
            "expected": loc.get("probe_status") or "any status below 500"}


def location_for(site, path):
    """The location of `site` whose path is the longest prefix of `path` (Apache's ProxyPass order for the
    role's non-overlapping prefixes), as a probe target for `path`; a location with no backend when none matches."""
    best = None
    for loc in site["locations"]:
        prefix = loc["path"]
        if path == prefix or path.startswith(prefix.rstrip("/") + "/") or prefix == "/":
            if best is None or len(prefix) > len(best["path"]):
                best = loc
    target = dict(best) if best else {"backend": None}
    target["path"] = path
    return target


def targeted(sites, path=None, host=None):
    """The sites as the probe sees them when the caller names the request path and/or the Host header: each site
    keeps one location (the one `path` falls under, requested at `path`) and/or answers to `host` (Host and SNI)."""
    out = []
    for site in sites:
        site = dict(site)
        if host:
            site["server_name"] = host
        if path:
            site["locations"] = [location_for(site, path)]
        out.append(site)
    return out


def probe_sites(sites, timeout=5.0, settle=3.0, sleep=time.sleep, clock=time.time, do_request=request,
                concurrency=16):
    """Probe each location of each site, concurrently; a failing location is retried for `settle` seconds
    (children of the new generation may still be starting). Returns per-site results in input order."""
    jobs = [(site, loc) for site in sites for loc in sorted(site["locations"], key=lambda item: item["path"])]
    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(jobs) or 1))) as pool:
        done = list(pool.map(lambda job: _probe_location(job[0], job[1], timeout, settle, sleep, clock, do_request),
                             jobs))
    results, index = [], 0
    for site in sites:
        locs = done[index:index + len(site["locations"])]
        index += len(site["locations"])
        results.append({"name": site["name"], "ok": all(item["ok"] for item in locs), "locations": locs})
    return results


def explain(results, state, lines):
    """Attach the error-log diagnosis to failed sites; return the overall diagnosis."""
    diag = diagnose(lines)
    for result in results:
        if not result["ok"]:
            result["diagnosis"] = diag
    if state == "died":
        diag = dict(diag, reason="reload_failed")
    return diag
