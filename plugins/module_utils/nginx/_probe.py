# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""nginx's graceful reload, waited for, and the probe of the changed sites through the local listener.

`nginx -s reload` only signals the master: the master then re-reads the configuration, opens the new listeners,
starts new workers and tells the old ones to stop accepting and finish their requests. If the new configuration
cannot be used (a port it cannot bind, a file gone since the test), the master logs [emerg] and keeps the old workers.
So a reload is done when a worker the master did not have before the signal is running and every worker it had
before is gone or shutting down: an old worker sets its title to "worker process is shutting down" and closes its
listening sockets in the same step, so from then on every new connection is served with the new configuration (until
then an old worker still accepts and answers with the old one). reload() waits for both, and reports "failed" when no
new worker comes before the timeout.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import socket
import ssl
import time
from concurrent.futures import ThreadPoolExecutor


def children(pid, proc="/proc"):
    """The pids whose parent is pid."""
    out = set()
    for name in os.listdir(proc):
        if not name.isdigit():
            continue
        try:
            with open(os.path.join(proc, name, "stat")) as handle:
                stat = handle.read()
        except (IOError, OSError):
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if len(fields) > 1 and fields[1] == str(pid):
            out.add(int(name))
    return out


def _old_worker_serves(pid, proc="/proc"):
    """Whether a worker of the old configuration may still accept: alive and not shutting down."""
    try:
        with open(os.path.join(proc, str(pid), "cmdline"), "rb") as handle:
            title = handle.read()
    except (IOError, OSError):
        return False
    return b"shutting down" not in title and b"worker process" in title


SETTLE = 0.05  # the title is set just before the listeners close


def master_pid(pid_file):
    try:
        with open(pid_file) as handle:
            pid = int(handle.read().strip() or 0)
    except (IOError, OSError, ValueError):
        return None
    return pid if pid > 0 and os.path.exists("/proc/%d" % pid) else None


def reload(layout, run_command, timeout=15.0, sleep=time.sleep, clock=time.time):
    """Signal a graceful reload and wait for a new worker. Returns (state, detail): 'reloaded', 'not_running' (no
    master in the pid file), 'failed' (the signal failed, or no new worker came within timeout: the old configuration
    still serves)."""
    master = master_pid(layout.pid_file)
    if master is None:
        return "not_running", "no nginx master process in %s" % layout.pid_file
    before = children(master)
    rc, out, err = run_command(layout.reload_command())
    if rc != 0:
        return "failed", (out + err).strip()
    deadline = clock() + timeout
    while clock() < deadline:
        if children(master) - before and not any(_old_worker_serves(pid) for pid in before):
            sleep(SETTLE)
            return "reloaded", ""
        if not os.path.exists("/proc/%d" % master):
            return "failed", "the nginx master (pid %d) exited" % master
        sleep(0.05)
    return "failed", "nginx started no new worker within %.0f s: the new configuration was not taken (the old one " \
                     "still serves; see %s)" % (timeout, layout.error_log)


def request(target, path, timeout, address="127.0.0.1"):
    """One GET through the local listener with the site's Host (and SNI when the listener is TLS): (status, error).
    The listener's own certificate is not checked here (frontend_certificate does): the probe is about the backend."""
    try:
        sock = socket.create_connection((address, target["port"]), timeout=timeout)
    except (OSError, socket.error) as exc:
        return None, "connect to %s:%d failed: %s" % (address, target["port"], exc)
    try:
        if target["tls"]:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            sock = ctx.wrap_socket(sock, server_hostname=target["host"])
        sock.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: revproxy.tls-probe\r\nConnection: close\r\n\r\n"
                      % (path, target["host"])).encode("ascii"))
        data = b""
        while b"\r\n" not in data and len(data) < 8192:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
        parts = data.split(b"\r\n", 1)[0].split(b" ")
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
            return None, "no HTTP response (got %r)" % data[:80]
        return int(parts[1]), None
    except (OSError, socket.error, ssl.SSLError) as exc:
        return None, "request failed: %s" % exc
    finally:
        sock.close()


def _probe_one(target, loc, timeout, settle, do_request, sleep, clock):
    deadline = clock() + settle
    while True:
        status, error = do_request(target, loc["path"], timeout)
        expected = loc.get("status")
        ok = status is not None and (status in expected if expected else status < 500)
        if ok or clock() >= deadline:
            return {"path": loc["path"], "status": status, "ok": ok, "error": error,
                    "expected": expected or "any status below 500"}
        sleep(0.25)


def probe(targets, timeout=5.0, settle=2.0, do_request=request, sleep=time.sleep, clock=time.time):
    """Each location of each target (nginx_proxy_sites' `probe`), concurrently; per-site results in input order."""
    jobs = [(t, loc) for t in targets for loc in t["paths"]]
    with ThreadPoolExecutor(max_workers=max(1, min(16, len(jobs)))) as pool:
        done = list(pool.map(lambda job: _probe_one(job[0], job[1], timeout, settle, do_request, sleep, clock),
                             jobs))
    out, index = [], 0
    for target in targets:
        locs = done[index:index + len(target["paths"])]
        index += len(target["paths"])
        out.append({"name": target["site"], "ok": all(item["ok"] for item in locs), "locations": locs})
    return out


def log_tail(path, offset, limit=65536):
    """The error log's lines written since offset (at most limit bytes); [] when it cannot be read."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, 2)
            end = handle.tell()
            start = offset if 0 <= offset <= end else max(0, end - limit)
            handle.seek(max(start, end - limit))
            return handle.read().decode("utf-8", "replace").splitlines()
    except (IOError, OSError):
        return []


def log_size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0
