"""Benchmarks for revproxy.tls (issue 7): the collection against what users do today, side by side, as work grows.

Measures, through ansible-playbook on localhost (127.0.0.1 only):
  checks   revproxy.tls.backend_handshake on 50/200/500/2000 loopback TLS backends (one task) against a loop of
           community.crypto.get_certificate over 50 of the same backends, and against the floor: a plain asyncio
           client (scripts/bench/asyncio_client.py, its own process) doing the same 2000 handshakes and requests;
           plus the 2000 run with one blackholed backend (timeout T) to show that a dead backend costs no more than T.
  converge the apache_proxy role on the SYSTEM Apache with 30/300/1000 sites (first run, unchanged re-run, one site
           changed) against a per-site ansible.builtin.template loop writing the same vhost text into a scratch
           directory; time, Apache reloads (counted in its error log) and the ratio.
  memory   peak RSS (VmHWM, sampled from /proc every 20 ms) of the controller (ansible-playbook and its forks) and of
           the module process, for the largest runs.
  pools    (issue 12) the role with 3000 sites proxying to ONE shared TLS backend (one check per distinct backend:
           handshakes the backend saw are counted), and 300 sites each with a pool of 3 members (900 backends);
           first run and unchanged re-run.
Each figure is the median over BENCH_RUNS runs (default 3); ratios are computed pair by pair within one run.

  nginx    (issue 23; about 50 s per run) the same 300 sites applied by the apache_proxy role to the
           system Apache and by the nginx_proxy role to a private nginx (the distribution's binary on its own prefix,
           started and stopped by the bench), first apply and unchanged re-run, side by side with the ratio.
Usage: scripts/bench.sh [--quick] [--only checks|converge|pools|nginx] [--json FILE] [--markdown FILE]
  BENCH_RUNS=N          runs per figure (default 3; --quick: 1)
  BENCH_BASELINE_MAX=N  largest site count the template baseline runs at (default 300; the baseline costs ~N x 0.3 s
                        per phase); above it the baseline cells show "-"
  BENCH_BASELINE_RUNS=N in how many of the runs the template baseline runs too (default: all)
  BENCH_TIMEOUT=T       backend_handshake timeout, and the blackhole's budget (default 2 s)
The converge part holds the system-Apache flock (/run/lock/revproxy-tls-system-apache.lock) for its whole duration and
prunes its sites afterwards (the role with apache_proxy_sites: []).
"""
import argparse
import fcntl
import json
import os
import platform
import re
import shutil
import statistics
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))

from support.backends import BlackholeBackend, MultiTLSBackend  # noqa: E402  pylint: disable=wrong-import-position
from support.pki import PKI  # noqa: E402  pylint: disable=wrong-import-position
from support.apache import reserve_port  # noqa: E402  pylint: disable=wrong-import-position
from support.nginx import PrivateNginx  # noqa: E402  pylint: disable=wrong-import-position

VENV_BIN = os.path.join(ROOT, ".venv", "bin")
PYTHON = os.path.join(VENV_BIN, "python")
BENCH_DIR = os.path.join(ROOT, "scripts", "bench")
LOCK_PATH = "/run/lock/revproxy-tls-system-apache.lock"
APACHE_ERROR_LOG = "/var/log/apache2/error.log"
RELOAD_MARK = "resuming normal operations"
SITE_PORT = 18490
SITE_PREFIX = "bench-"

ROLE_PLAY = """
- name: Converge with the apache_proxy role
  hosts: localhost
  gather_facts: true
  roles:
    - role: revproxy.tls.apache_proxy
"""

NGINX_ROLE_PLAY = """
- name: Converge with the nginx_proxy role
  hosts: localhost
  gather_facts: true
  roles:
    - role: revproxy.tls.nginx_proxy
"""

TEMPLATE_PLAY = """
- name: Converge with a per-site template loop (what users do today; scratch directory, not /etc/apache2)
  hosts: localhost
  gather_facts: true
  tasks:
    - name: Create the scratch sites directory
      ansible.builtin.file:
        path: "{{ bench_scratch }}/sites-available"
        state: directory
        mode: "0755"
    - name: Render one vhost file per site
      ansible.builtin.template:
        src: "{{ bench_template }}"
        dest: "{{ bench_scratch }}/sites-available/{{ item.name }}.conf"
        mode: "0644"
      loop: "{{ apache_proxy_sites }}"
      loop_control:
        label: "{{ item.name }}"
      notify: Reload Apache (stand-in)
  handlers:
    - name: Reload Apache (stand-in)
      # The scratch files are not Apache's: the handler only costs what a notified reload task costs Ansible.
      ansible.builtin.command: /bin/true
      changed_when: true
"""

HANDSHAKE_PLAY = """
- name: Check backends with backend_handshake
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Check every backend in one task
      revproxy.tls.backend_handshake:
        backends: "{{ bench_backends }}"
        timeout: "{{ bench_timeout }}"
        fail_on: never
"""

GETCERT_PLAY = """
- name: Check backends with a get_certificate loop
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Fetch each backend's certificate
      community.crypto.get_certificate:
        host: localhost
        port: "{{ item }}"
        server_name: localhost
        ca_cert: "{{ bench_ca }}"
        timeout: "{{ bench_timeout | int }}"
      loop: "{{ bench_ports }}"
"""


# ----------------------------------------------------------------------------------------------------------------------
# Running plays, timing them, sampling memory


def _read_status(pid):
    """(VmHWM kB, cmdline) of a process, or None when it is gone."""
    try:
        with open("/proc/%d/status" % pid) as handle:
            status = handle.read()
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            cmdline = handle.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
    except OSError:
        return None
    match = re.search(r"^VmHWM:\s+(\d+)\s+kB", status, re.MULTILINE)
    return (int(match.group(1)) if match else 0), cmdline


def _children():
    """{ppid: [pid, ...]} of every process on the machine."""
    tree = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as handle:
                stat = handle.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(name))
    return tree


class MemorySampler(threading.Thread):
    """Samples VmHWM of a process tree: the root and its forks (same cmdline) are the controller, other Python
    processes below it are module processes (with pipelining the module runs in the python that reads the payload)."""

    def __init__(self, pid, interval=0.02):
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.stop_event = threading.Event()
        self.controller_kb = 0
        self.module_kb = 0
        self.root_cmdline = None

    def run(self):
        while not self.stop_event.is_set():
            self.sample()
            self.stop_event.wait(self.interval)

    def sample(self):
        tree = _children()
        todo = [self.pid]
        seen = 0
        while todo and seen < 10000:
            pid = todo.pop()
            seen += 1
            todo.extend(tree.get(pid, []))
            info = _read_status(pid)
            if info is None:
                continue
            hwm, cmdline = info
            if pid == self.pid:
                self.root_cmdline = cmdline
            if cmdline and cmdline == self.root_cmdline:
                self.controller_kb = max(self.controller_kb, hwm)
            elif "python" in cmdline.split(" ", 1)[0]:
                self.module_kb = max(self.module_kb, hwm)

    def stop(self):
        self.stop_event.set()
        self.join()


class Run:
    """One ansible-playbook run: wall time, rc, recap, per-task times (bench_timer callback), memory."""

    def __init__(self, rc, wall, stdout, stderr, timer, controller_kb=0, module_kb=0, tree_kb=0):
        self.rc, self.wall, self.stdout, self.stderr, self.timer = rc, wall, stdout, stderr, timer
        self.controller_kb, self.module_kb, self.tree_kb = controller_kb, module_kb, tree_kb
        match = re.search(r"localhost\s+:\s+ok=(\d+)\s+changed=(\d+)", stdout)
        self.changed = int(match.group(2)) if match else -1

    def task(self, action_suffix):
        """The timer record of the (first) task whose action ends with action_suffix."""
        for task in self.timer.get("tasks", []):
            if task["action"].endswith(action_suffix) and not task.get("handler"):
                return task
        raise KeyError(action_suffix)

    def task_time(self, action_suffix):
        task = self.task(action_suffix)
        return task["end"] - task["start"]

    def tasks_time(self, prefix):
        """Time of all tasks whose action starts with prefix (e.g. every revproxy.tls module call of the role)."""
        return sum(t["end"] - t["start"] for t in self.timer.get("tasks", [])
                   if t["action"].startswith(prefix) and not t.get("handler") and not t.get("skipped"))

    def any_changed(self, action_suffix):
        return any(t.get("changed") for t in self.timer.get("tasks", []) if t["action"].endswith(action_suffix))

    def handlers_run(self):
        return sum(1 for t in self.timer.get("tasks", []) if t.get("handler") and not t.get("skipped"))

    def check(self, what):
        if self.rc != 0:
            raise SystemExit("bench: %s failed (rc=%d)\n%s\n%s" % (what, self.rc, self.stdout[-4000:], self.stderr[-2000:]))
        return self


COLLECTIONS_PATH = os.path.join(ROOT, ".build", "collections")


def snapshot_collection(work):
    """Export the committed collection (git HEAD) to measure a known revision, not whatever is half-edited in the
    working tree (BENCH_TREE=worktree measures the working tree). Returns (collections path, description)."""
    if os.environ.get("BENCH_TREE", "head") == "worktree" or not os.path.isdir(os.path.join(ROOT, ".git")):
        return os.path.join(ROOT, ".build", "collections"), "working tree"
    dest = os.path.join(work, "collections", "ansible_collections", "revproxy", "tls")
    os.makedirs(dest)
    archive = subprocess.run(["git", "-C", ROOT, "archive", "HEAD"], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", dest], input=archive, check=True)
    commit = _cmd(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"])
    return os.path.join(work, "collections"), "commit " + commit


def run_playbook(text, extra_vars, tmp, memory=False, timeout=3600, args=()):
    """Run a playbook text on localhost with the venv's Python; returns a Run."""
    play = os.path.join(tmp, "play.yml")
    with open(play, "w") as handle:
        handle.write(text)
    extra = os.path.join(tmp, "extra.json")
    with open(extra, "w") as handle:
        json.dump(extra_vars, handle)
    timer_out = os.path.join(tmp, "timer.json")
    if os.path.exists(timer_out):
        os.unlink(timer_out)
    cmd = [os.path.join(VENV_BIN, "ansible-playbook"), "-i", "localhost,", "-c", "local",
           "-e", "ansible_python_interpreter=%s" % PYTHON, "-e", "@" + extra, play] + list(args)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_PATH,
               ANSIBLE_CONFIG=os.path.join(ROOT, "tests", "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_CALLBACK_PLUGINS=os.path.join(BENCH_DIR, "callback_plugins"),
               ANSIBLE_CALLBACKS_ENABLED="bench_timer", BENCH_TIMER_OUT=timer_out,
               PATH=VENV_BIN + os.pathsep + os.environ.get("PATH", ""))
    out_path, err_path = os.path.join(tmp, "stdout"), os.path.join(tmp, "stderr")
    with open(out_path, "w") as out, open(err_path, "w") as err:
        start = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        sampler = MemorySampler(proc.pid) if memory else None
        if sampler:
            sampler.start()
        deadline = start + timeout
        while True:
            pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                raise SystemExit("bench: ansible-playbook exceeded %d s" % timeout)
            time.sleep(0.005)
        wall = time.monotonic() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if sampler:
            sampler.stop()
    with open(out_path) as handle:
        stdout = handle.read()
    with open(err_path) as handle:
        stderr = handle.read()
    timer = {}
    if os.path.exists(timer_out):
        with open(timer_out) as handle:
            timer = json.load(handle)
    return Run(proc.returncode, wall, stdout, stderr, timer,
               controller_kb=sampler.controller_kb if sampler else 0, module_kb=sampler.module_kb if sampler else 0,
               tree_kb=rusage.ru_maxrss)


# ----------------------------------------------------------------------------------------------------------------------
# Results


class Results:
    """Samples per (section, key); the table shows medians."""

    def __init__(self):
        self.samples = {}
        self.notes = []

    def add(self, key, value):
        self.samples.setdefault(key, []).append(value)

    def med(self, key):
        vals = self.samples.get(key)
        return statistics.median(vals) if vals else None

    def n(self, key):
        return len(self.samples.get(key) or [])


def _fmt(value, unit="s", digits=1):
    if value is None:
        return "-"
    if unit == "s":
        return "%.*f s" % (digits, value)
    if unit == "ms":
        return "%.0f ms" % (value * 1000)
    if unit == "x":
        return "%.1fx" % value
    if unit == "MiB":
        return "%.0f MiB" % (value / 1024.0)
    return str(value)


# ----------------------------------------------------------------------------------------------------------------------
# Backend checks


def bench_checks(cfg, res, work):
    pki = PKI(os.path.join(work, "pki-checks"))
    root = pki.ca("Bench Root CA")
    inter = pki.ca("Bench Intermediate CA", issuer=root)
    leaf = pki.leaf("backend", dns=["localhost"], issuer=inter)
    nmax = max(cfg.backend_sizes)
    timeout = cfg.timeout
    tmp = os.path.join(work, "play-checks")
    os.makedirs(tmp, exist_ok=True)

    def backends_for(ports):
        return [{"url": "https://localhost:%d/" % p, "ca_file": root.cert_path} for p in ports]

    with MultiTLSBackend(nmax, leaf.chain_path, leaf.key_path, sni_names={"localhost"}) as multi, \
            BlackholeBackend() as hole:
        ports = multi.ports
        for run_no in range(cfg.runs):
            print("bench: checks run %d/%d" % (run_no + 1, cfg.runs), flush=True)
            task_times = {}
            for n in cfg.backend_sizes:
                memory = n == nmax and run_no == cfg.runs - 1
                run = run_playbook(HANDSHAKE_PLAY, {"bench_backends": backends_for(ports[:n]), "bench_timeout": timeout},
                                   tmp, memory=memory).check("backend_handshake on %d backends" % n)
                task = run.task("backend_handshake")
                bad = task.get("failed_backends") or []
                if bad:
                    raise SystemExit("bench: backend_handshake reported failures on healthy backends: %s" % bad[:5])
                task_times[n] = run.task_time("backend_handshake")
                res.add(("hs", n, "task"), task_times[n])
                res.add(("hs", n, "play"), run.wall)
                if memory:
                    res.add(("mem", "hs", n, "controller"), run.controller_kb)
                    res.add(("mem", "hs", n, "module"), run.module_kb)
                    res.add(("mem", "hs", n, "tree"), run.tree_kb)
            # The floor: a plain asyncio client (its own process, as the module) doing the same handshakes and
            # requests to the nmax backends, with the module's default concurrency.
            floor = subprocess.run([PYTHON, os.path.join(BENCH_DIR, "asyncio_client.py"), root.cert_path, "64"]
                                   + [str(p) for p in ports[:nmax]], capture_output=True, text=True, check=True)
            floor = json.loads(floor.stdout)
            if floor["ok"] != nmax:
                res.notes.append("asyncio floor run %d: %d of %d backends answered" % (run_no + 1, floor["ok"], nmax))
            res.add(("floor", nmax), floor["seconds"])
            res.add(("floor", nmax, "ratio"), task_times[nmax] / floor["seconds"])
            # The same nmax backends plus one blackholed backend, same timeout.
            blist = backends_for(ports[:nmax]) + [{"url": "https://localhost:%d/" % hole.port, "ca_file": root.cert_path}]
            run = run_playbook(HANDSHAKE_PLAY, {"bench_backends": blist, "bench_timeout": timeout}, tmp).check(
                "backend_handshake with a blackhole")
            task = run.task("backend_handshake")
            reasons = [b["reason"] for b in task.get("backends") or []]
            if reasons != ["connect_timeout"]:
                res.notes.append("blackhole run %d: unexpected failures %s" % (run_no + 1, reasons[:5]))
            bh_task = run.task_time("backend_handshake")
            res.add(("bh", "task"), bh_task)
            res.add(("bh", "extra"), bh_task - task_times[nmax])
            res.add(("bh", "elapsed"), max([(b["elapsed_ms"] or 0) / 1000.0 for b in task.get("backends") or []] or [0]))
            # The baseline: a get_certificate loop over the first cfg.loop_size backends.
            k = cfg.loop_size
            run = run_playbook(GETCERT_PLAY, {"bench_ports": ports[:k], "bench_ca": root.cert_path,
                                              "bench_timeout": max(1, int(timeout))}, tmp).check("get_certificate loop")
            loop_task = run.task_time("get_certificate")
            res.add(("gc", k, "task"), loop_task)
            res.add(("gc", k, "play"), run.wall)
            res.add(("gc", k, "per"), loop_task / k)
            if k in task_times:
                res.add(("gc", k, "ratio"), loop_task / task_times[k])
            for n in cfg.backend_sizes:
                res.add(("hs", n, "per"), task_times[n] / n)
                res.add(("hs", n, "ratio_per_backend"), (loop_task / k) / (task_times[n] / n))


# ----------------------------------------------------------------------------------------------------------------------
# Converge


def make_sites(n, ca_file, ports, changed_index=None):
    """n sites, each proxying to its own live loopback TLS backend (the role's preflight and probe check them);
    the changed site moves to the spare backend ports[-1]."""
    sites = []
    for i in range(n):
        port = ports[i]
        if i == changed_index:
            port = ports[-1]
        sites.append({
            "name": "%s%04d" % (SITE_PREFIX, i),
            "server_name": "%s%04d.bench.test" % (SITE_PREFIX, i),
            "listen": {"port": SITE_PORT, "address": "127.0.0.1"},
            "locations": [{"path": "/", "backend": "https://localhost:%d/" % port, "retry": 0}],
            "backend_tls": {"ca_file": ca_file},
        })
    return sites


def reload_count():
    try:
        with open(APACHE_ERROR_LOG, errors="replace") as handle:
            return handle.read().count(RELOAD_MARK)
    except OSError:
        return 0


def settle_reloads(before, expect_change, limit=60.0):
    """Reloads seen since `before`; waits (untimed) for a graceful restart in flight to finish logging."""
    deadline = time.monotonic() + (limit if expect_change else 1.0)
    last, stable_since = reload_count(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = reload_count()
        if now != last:
            last, stable_since = now, time.monotonic()
        elif (now > before or not expect_change) and time.monotonic() - stable_since >= 0.5:
            break
    return last - before


def role_apply(sites, tmp, ca_dir, memory=False):
    before = reload_count()
    run = run_playbook(ROLE_PLAY, {"apache_proxy_sites": sites}, tmp, memory=memory).check(
        "the apache_proxy role with %d sites" % len(sites))
    reloads = settle_reloads(before, run.any_changed("apache_proxy_sites"))
    return run, reloads


def template_apply(sites, tmp, scratch, memory=False):
    run = run_playbook(TEMPLATE_PLAY, {"apache_proxy_sites": sites, "bench_scratch": scratch,
                                       "bench_template": os.path.join(BENCH_DIR, "vhost.conf.j2")}, tmp,
                       memory=memory).check("the template loop with %d sites" % len(sites))
    return run


def bench_converge(cfg, res, work):
    pki = PKI(os.path.join(work, "pki-converge"))
    root = pki.ca("Bench Converge Root CA")
    ca_file = root.cert_path
    tmp = os.path.join(work, "play-converge")
    os.makedirs(tmp, exist_ok=True)
    scratch = os.path.join(work, "scratch")
    nmax = max(cfg.site_sizes)
    leaf = pki.leaf("backend", dns=["localhost"], issuer=root)
    os.makedirs(os.path.dirname(LOCK_PATH), exist_ok=True)
    with MultiTLSBackend(nmax + 1, leaf.chain_path, leaf.key_path) as live, open(LOCK_PATH, "w") as lock:
        ports = live.ports
        print("bench: waiting for the system Apache lock %s" % LOCK_PATH, flush=True)
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            for run_no in range(cfg.runs):
                for n in cfg.site_sizes:
                    print("bench: converge run %d/%d, %d sites" % (run_no + 1, cfg.runs, n), flush=True)
                    memory = n == nmax and run_no == cfg.runs - 1
                    baseline = n <= cfg.baseline_max and run_no < cfg.baseline_runs
                    role_apply([], tmp, ca_file)  # start from no managed sites (untimed)
                    shutil.rmtree(scratch, ignore_errors=True)
                    site_ports = ports[:n] + ports[-1:]
                    phases = (("first", make_sites(n, ca_file, site_ports)), ("rerun", make_sites(n, ca_file, site_ports)),
                              ("one", make_sites(n, ca_file, site_ports, changed_index=0)))
                    for phase, sites in phases:
                        run, reloads = role_apply(sites, tmp, ca_file, memory=memory and phase == "first")
                        task = run.task("apache_proxy_sites")  # the plan: which sites change
                        changed = run.any_changed("apache_proxy_sites")
                        want_changed = phase != "rerun"
                        if changed != want_changed:
                            note = "role %d sites %s: changed=%s (expected %s)" % (n, phase, changed, want_changed)
                            res.notes.append(note)
                        res.add(("role", n, phase, "play"), run.wall)
                        # every module call of the role: plan, preflight, write, probe, commit
                        res.add(("role", n, phase, "task"), run.tasks_time("revproxy.tls."))
                        res.add(("role", n, phase, "reloads"), reloads)
                        res.add(("role", n, phase, "sites_changed"), task.get("sites_changed", 0))
                        if memory and phase == "first":
                            res.add(("mem", "role", n, "controller"), run.controller_kb)
                            res.add(("mem", "role", n, "module"), run.module_kb)
                            res.add(("mem", "role", n, "tree"), run.tree_kb)
                        if phase == "first" and run_no == 0 and baseline:
                            _compare_files(res, n, ca_file, tmp, site_ports)
                        if not baseline:
                            continue
                        trun = template_apply(sites, tmp, scratch, memory=memory and phase == "first")
                        ttask = trun.task("template")
                        res.add(("tpl", n, phase, "play"), trun.wall)
                        res.add(("tpl", n, phase, "task"), run_task_or(trun, "template"))
                        res.add(("tpl", n, phase, "reloads"), trun.handlers_run())
                        res.add(("tpl", n, phase, "items_changed"), ttask.get("items_changed", 0))
                        res.add(("ratio", n, phase), trun.wall / run.wall)
                        if memory and phase == "first":
                            res.add(("mem", "tpl", n, "controller"), trun.controller_kb)
                            res.add(("mem", "tpl", n, "module"), trun.module_kb)
                            res.add(("mem", "tpl", n, "tree"), trun.tree_kb)
        finally:
            pruned = run_playbook(ROLE_PLAY, {"apache_proxy_sites": []}, tmp)
            if pruned.rc != 0:
                print("bench: WARNING: pruning the bench sites failed:\n%s" % pruned.stdout[-3000:], file=sys.stderr)


def make_shared_sites(n, ca_file, port):
    """n sites, all proxying to the same backend (same URL, same settings)."""
    sites = make_sites(n, ca_file, [port] * (n + 1))
    return sites


def make_pool_sites(n, ca_file, ports):
    """n sites, each with a pool of 3 members on its own 3 backends."""
    sites = make_sites(n, ca_file, ports)
    for i, site in enumerate(sites):
        site["locations"] = [{"path": "/", "retry": 0, "backends": [
            {"url": "https://localhost:%d/" % p} for p in ports[3 * i:3 * i + 3]]}]
    return sites


# The floor on Ansible's side: the role's own play run with a tag no task of the role has, so only what Ansible does
# before the role's first task runs: start-up with the sites variable, facts, and the role's argument validation (the
# task Ansible inserts for meta/argument_specs.yml is tagged "always").
FLOOR_TAGS = ["--tags", "revproxy_bench_floor_no_such_task"]


def _get_through_apache(site):
    """One GET of the site's first location through the system Apache (plain HTTP listener); the status or None."""
    sock = socket.create_connection(("127.0.0.1", SITE_PORT), timeout=30)
    try:
        sock.sendall(("GET %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n\r\n" % (
            site["locations"][0]["path"], site["server_name"], SITE_PORT)).encode("ascii"))
        head = sock.recv(64)
    finally:
        sock.close()
    match = re.match(rb"HTTP/1\.[01] (\d{3})", head)
    return int(match.group(1)) if match else None


def apache_floor(sites, concurrency=16):
    """What Apache itself costs for a change to these (live) sites, without Ansible or the collection: one graceful
    restart until the new generation serves (reload_count(): AH00489 in the error log) plus the grace the role's probe waits, then
    one GET per site through it, `concurrency` at a time (the probe's default). Returns (seconds, statuses)."""
    before = reload_count()
    start = time.monotonic()
    subprocess.run(["apache2ctl", "graceful"], check=True, capture_output=True)
    while reload_count() == before:  # RELOAD_MARK: AH00489, the new generation serves
        if time.monotonic() - start > 120:
            raise SystemExit("bench: Apache did not come back within 120 s of a graceful restart")
        time.sleep(0.05)
    time.sleep(1.5)  # OLD_GENERATION_GRACE of the role's probe
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        statuses = list(pool.map(_get_through_apache, sites))
    return time.monotonic() - start, statuses


def bench_pools(cfg, res, work):
    pki = PKI(os.path.join(work, "pki-pools"))
    root = pki.ca("Bench Pools Root CA")
    ca_file = root.cert_path
    leaf = pki.leaf("backend", dns=["localhost"], issuer=root)
    tmp = os.path.join(work, "play-pools")
    os.makedirs(tmp, exist_ok=True)
    shared_n, pool_n = cfg.pool_sizes
    with MultiTLSBackend(1, leaf.chain_path, leaf.key_path) as shared, \
            MultiTLSBackend(3 * pool_n, leaf.chain_path, leaf.key_path) as members, open(LOCK_PATH, "w") as lock:
        print("bench: waiting for the system Apache lock %s" % LOCK_PATH, flush=True)
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            for run_no in range(cfg.runs):
                for label, n, sites in (("shared", shared_n, make_shared_sites(shared_n, ca_file, shared.port)),
                                        ("pools", pool_n, make_pool_sites(pool_n, ca_file, members.ports))):
                    print("bench: pools run %d/%d, %s, %d sites" % (run_no + 1, cfg.runs, label, n), flush=True)
                    role_apply([], tmp, ca_file)  # start from no managed sites (untimed)
                    for phase in ("first", "rerun"):
                        before = len(shared.handshakes) if label == "shared" else len(members.handshakes)
                        run, reloads = role_apply(sites, tmp, ca_file)
                        after = len(shared.handshakes) if label == "shared" else len(members.handshakes)
                        res.add(("pools", label, n, phase, "play"), run.wall)
                        res.add(("pools", label, n, phase, "task"), run.tasks_time("revproxy.tls."))
                        res.add(("pools", label, n, phase, "reloads"), reloads)
                        res.add(("pools", label, n, phase, "handshakes"), after - before)
                    # The floors, side by side in the same run: Ansible before any task of ours, and Apache's own
                    # reload plus one request per site (the sites are live after the runs above).
                    floor = run_playbook(ROLE_PLAY, {"apache_proxy_sites": sites}, tmp, args=FLOOR_TAGS).check(
                        "the floor play with %d sites" % n)
                    ran = [t["action"] for t in floor.timer.get("tasks", []) if not t.get("skipped")]
                    if "ansible.builtin.validate_argument_spec" not in ran or any(
                            a.startswith("revproxy.tls.") for a in ran):
                        raise SystemExit("bench: the floor play ran more (or less) than the role's argument validation:"
                                         " %s" % ran)
                    res.add(("pools", label, n, "floor_ansible"), floor.wall)
                    seconds, statuses = apache_floor(sites)
                    if any(status != 200 for status in statuses):
                        res.notes.append("apache floor, %s: %d of %d requests did not answer 200" % (
                            label, sum(1 for status in statuses if status != 200), len(statuses)))
                    res.add(("pools", label, n, "floor_apache"), seconds)
        finally:
            pruned = run_playbook(ROLE_PLAY, {"apache_proxy_sites": []}, tmp)
            if pruned.rc != 0:
                print("bench: WARNING: pruning the bench sites failed:\n%s" % pruned.stdout[-3000:], file=sys.stderr)


# ----------------------------------------------------------------------------------------------------------------------
# nginx next to Apache (issue 23)


def nginx_role_vars(ng, sites):
    """The nginx_proxy role's variables for a private nginx (tests/support/nginx.py: its own prefix, conf tree, pid and
    error log; the role neither installs nor starts it), as tests/integration/test_nginx_role.py runs it."""
    return {"nginx_proxy_sites": sites, "nginx_proxy_install": False, "nginx_proxy_manage_service": False,
            "nginx_proxy_config_root": ng.etc, "nginx_proxy_prefix": ng.dir, "nginx_proxy_binary": ng.module_args["binary"],
            "nginx_proxy_pid_file": ng.pid_file, "nginx_proxy_error_log": ng.error_log}


def nginx_apply(ng, sites, tmp):
    return run_playbook(NGINX_ROLE_PLAY, nginx_role_vars(ng, sites), tmp).check(
        "the nginx_proxy role with %d sites" % len(sites))


def _nginx_sites(sites, port):
    """The same sites on nginx's own listener (Apache holds SITE_PORT), without mod_proxy's retry=0 (nginx has no
    per-location equivalent and the role refuses it; nothing else differs)."""
    out = []
    for site in sites:
        locations = [{k: v for k, v in loc.items() if k != "retry"} for loc in site["locations"]]
        out.append(dict(site, listen={"address": "127.0.0.1", "port": port}, locations=locations))
    return out


def bench_nginx(cfg, res, work):
    """The same n sites (each on its own live loopback TLS backend) applied by the apache_proxy role to the system
    Apache and by the nginx_proxy role to a private nginx (the distribution's binary, started here and stopped at the
    end); first apply and unchanged re-run of each, same run, side by side."""
    pki = PKI(os.path.join(work, "pki-nginx"))
    root = pki.ca("Bench nginx Root CA")
    ca_file = root.cert_path
    leaf = pki.leaf("backend", dns=["localhost"], issuer=root)
    tmp = os.path.join(work, "play-nginx")
    os.makedirs(tmp, exist_ok=True)
    n = cfg.nginx_sites
    reservation = reserve_port("127.0.0.1")
    ng = PrivateNginx(os.path.join(work, "nginx"))
    os.makedirs(os.path.dirname(LOCK_PATH), exist_ok=True)
    with MultiTLSBackend(n + 1, leaf.chain_path, leaf.key_path) as live, open(LOCK_PATH, "w") as lock:
        apache_sites = make_sites(n, ca_file, live.ports)
        nginx_sites = _nginx_sites(apache_sites, reservation.port)
        print("bench: waiting for the system Apache lock %s" % LOCK_PATH, flush=True)
        fcntl.flock(lock, fcntl.LOCK_EX)
        reservation.release()  # nginx binds it now (no SO_REUSEADDR next to a reservation)
        ng.start()
        try:
            for run_no in range(cfg.runs):
                print("bench: nginx run %d/%d, %d sites (Apache, then nginx)" % (run_no + 1, cfg.runs, n), flush=True)
                role_apply([], tmp, ca_file)  # start from no managed sites (untimed)
                nginx_apply(ng, [], tmp)
                for server in ("apache", "nginx"):
                    for phase in ("first", "rerun"):
                        if server == "apache":
                            run, reloads = role_apply(apache_sites, tmp, ca_file)
                        else:
                            run, reloads = nginx_apply(ng, nginx_sites, tmp), None
                        suffix = "%s_proxy_sites" % server
                        changed = run.any_changed(suffix)
                        if changed != (phase == "first") or (phase == "rerun" and run.changed != 0):
                            res.notes.append("%s role %d sites %s: changed=%s, recap changed=%d" % (
                                server, n, phase, changed, run.changed))
                        res.add(("ngx", server, phase, "play"), run.wall)
                        res.add(("ngx", server, phase, "task"), run.tasks_time("revproxy.tls."))
                        res.add(("ngx", server, phase, "changed"), run.changed)
                        if reloads is not None:
                            res.add(("ngx", server, phase, "reloads"), reloads)
                for phase in ("first", "rerun"):
                    res.add(("ngx", "ratio", phase), res.samples[("ngx", "nginx", phase, "play")][-1]
                            / res.samples[("ngx", "apache", phase, "play")][-1])
        finally:
            pruned = run_playbook(ROLE_PLAY, {"apache_proxy_sites": []}, tmp)
            if pruned.rc != 0:
                print("bench: WARNING: pruning the bench sites failed:\n%s" % pruned.stdout[-3000:], file=sys.stderr)
            pruned = run_playbook(NGINX_ROLE_PLAY, nginx_role_vars(ng, []), tmp)
            if pruned.rc != 0:
                print("bench: WARNING: pruning the nginx bench sites failed:\n%s" % pruned.stdout[-3000:],
                      file=sys.stderr)
            ng.stop()


def run_task_or(run, suffix):
    try:
        return run.task_time(suffix)
    except KeyError:
        return None


def _compare_files(res, n, ca_file, tmp, ports):
    """The baseline must write the same text the role writes: render one site with the template and compare."""
    site = make_sites(1, ca_file, ports)
    check_dir = os.path.join(tmp, "compare")
    shutil.rmtree(check_dir, ignore_errors=True)
    template_apply(site, tmp, check_dir)
    name = site[0]["name"] + ".conf"
    with open(os.path.join(check_dir, "sites-available", name)) as handle:
        mine = handle.read()
    with open(os.path.join("/etc/apache2/sites-available", name)) as handle:
        theirs = handle.read()
    if mine != theirs:
        res.notes.append("the baseline template's text differs from the role's file for %s (n=%d)" % (name, n))
    shutil.rmtree(check_dir, ignore_errors=True)


# ----------------------------------------------------------------------------------------------------------------------
# Machine, table


def _cmd(args):
    try:
        return subprocess.run(args, capture_output=True, text=True, check=False, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine():
    cpu = ""
    with open("/proc/cpuinfo") as handle:
        for line in handle:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with open("/proc/meminfo") as handle:
        for line in handle:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    os_name = ""
    if os.path.exists("/etc/os-release"):
        with open("/etc/os-release") as handle:
            match = re.search(r'^PRETTY_NAME="?([^"\n]*)', handle.read(), re.MULTILINE)
            os_name = match.group(1) if match else ""
    apache = _cmd(["/usr/sbin/apache2", "-v"]).splitlines()
    core = _cmd([os.path.join(VENV_BIN, "ansible"), "--version"]).splitlines()
    return {
        "os": os_name, "kernel": platform.release(), "nproc": os.cpu_count(), "mem_gib": round(mem_kb / 1048576.0, 1),
        "cpu": cpu, "python": platform.python_version(), "ansible_core": core[0] if core else "",
        "apache": apache[0].split(":", 1)[-1].strip() if apache else "",
        "openssl": _cmd(["openssl", "version"]),
    }


def _nginx_rows(cfg, res, add):
    """The nginx-next-to-Apache table (issue 23)."""
    add("| nginx next to Apache, same run, same %d sites (live TLS backends) | Apache role play | Apache role task |"
        " nginx role play | nginx role task | recap changed (Apache / nginx) | nginx / Apache (play) |"
        % cfg.nginx_sites)
    add("|---|---:|---:|---:|---:|---:|---:|")
    for phase, label in (("first", "first apply"), ("rerun", "unchanged re-run")):
        add("| %s | %s | %s | %s | %s | %s / %s | %s |" % (
            label, _fmt(res.med(("ngx", "apache", phase, "play"))), _fmt(res.med(("ngx", "apache", phase, "task"))),
            _fmt(res.med(("ngx", "nginx", phase, "play"))), _fmt(res.med(("ngx", "nginx", phase, "task"))),
            _fmt(res.med(("ngx", "apache", phase, "changed")), ""), _fmt(res.med(("ngx", "nginx", phase, "changed")), ""),
            _ratio(res.med(("ngx", "ratio", phase)))))
    add("")


def _ratio(value):
    return "-" if value is None else "%.2fx" % value


def table(cfg, res, mach):
    lines = []
    add = lines.append
    quick = " (--quick)" if cfg.quick else ""
    add("revproxy.tls benchmarks: median of %d run(s)%s; template baseline in %d run(s), up to %d sites; ratios pair by"
        " pair within a run, then the median" % (cfg.runs, quick, min(cfg.runs, cfg.baseline_runs), cfg.baseline_max))
    add("machine: %s, %s cores, %.1f GiB, %s; %s; %s; Apache %s; %s; collection measured: %s" % (
        mach["os"], mach["nproc"], mach["mem_gib"], mach["cpu"], "Python " + mach["python"], mach["ansible_core"],
        mach["apache"], mach["openssl"], mach.get("measured", "?")))
    add("")
    if cfg.do_checks:
        k = cfg.loop_size
        add("| Backend checks (loopback TLS, full verification) | task | play | per backend | get_certificate loop per backend"
            " / this |")
        add("|---|---:|---:|---:|---:|")
        for n in cfg.backend_sizes:
            add("| backend_handshake, %d backends, one task | %s | %s | %s | %s |" % (
                n, _fmt(res.med(("hs", n, "task")), digits=2), _fmt(res.med(("hs", n, "play")), digits=2),
                _fmt(res.med(("hs", n, "per")), "ms"), _fmt(res.med(("hs", n, "ratio_per_backend")), "x")))
        add("| get_certificate loop, %d backends (%d task calls) | %s | %s | %s | 1.0x |" % (
            k, k, _fmt(res.med(("gc", k, "task"))), _fmt(res.med(("gc", k, "play"))), _fmt(res.med(("gc", k, "per")), "ms")))
        add("| same %d backends: loop task / backend_handshake task | | | | %s |" % (k, _fmt(res.med(("gc", k, "ratio")), "x")))
        nmax = max(cfg.backend_sizes)
        floor = res.med(("floor", nmax))
        add("| floor: a plain asyncio client, %d backends (handshake + request, no mod_ssl semantics) | %s | | %s |"
            " backend_handshake task / floor: %s |" % (
                nmax, _fmt(floor, digits=2), _fmt(floor / nmax if floor is not None else None, "ms"),
                _fmt(res.med(("floor", nmax, "ratio")), "x")))
        add("| backend_handshake, %d backends + 1 blackholed (timeout %g s) | %s | | blackhole took %s | costs +%s over"
            " %d backends (budget %g s) |" % (nmax, cfg.timeout, _fmt(res.med(("bh", "task")), digits=2),
                                              _fmt(res.med(("bh", "elapsed")), digits=2),
                                              _fmt(res.med(("bh", "extra")), digits=2), nmax, cfg.timeout))
        add("")
    if cfg.do_converge:
        add("| Converge (system Apache, flock held) | sites | role play | role task | reloads | sites changed |"
            " template loop play | template reloads* | files changed | loop / role |")
        add("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for n in cfg.site_sizes:
            for phase, label in (("first", "first run"), ("rerun", "unchanged re-run"), ("one", "one site changed")):
                add("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                    label, n, _fmt(res.med(("role", n, phase, "play"))), _fmt(res.med(("role", n, phase, "task"))),
                    _fmt(res.med(("role", n, phase, "reloads")), ""), _fmt(res.med(("role", n, phase, "sites_changed")), ""),
                    _fmt(res.med(("tpl", n, phase, "play"))), _fmt(res.med(("tpl", n, phase, "reloads")), ""),
                    _fmt(res.med(("tpl", n, phase, "items_changed")), ""), _fmt(res.med(("ratio", n, phase)), "x")))
        add("")
        add("*the template loop writes to a scratch directory; its reload is a notified stand-in handler (counted when"
            " it runs); role reloads are graceful restarts counted in Apache's error log")
        add("")
    if cfg.do_pools:
        shared_n, pool_n = cfg.pool_sizes
        add("| Pools and shared backends (system Apache, flock held) | sites | backends | role play | role task |"
            " reloads | handshakes the backends saw |")
        add("|---|---:|---:|---:|---:|---:|---:|")
        for label, n, backends, what in (("shared", shared_n, 1, "sites on one shared backend"),
                                         ("pools", pool_n, 3 * pool_n, "sites with a pool of 3 members")):
            for phase, plabel in (("first", "first run"), ("rerun", "unchanged re-run")):
                add("| %s, %s | %d | %d | %s | %s | %s | %s |" % (
                    what, plabel, n, backends, _fmt(res.med(("pools", label, n, phase, "play"))),
                    _fmt(res.med(("pools", label, n, phase, "task"))),
                    _fmt(res.med(("pools", label, n, phase, "reloads")), ""),
                    _fmt(res.med(("pools", label, n, phase, "handshakes")), "")))
        add("")
        add("| Floors, same run (not the collection's work) | sites | Ansible: start-up, facts, the role's argument"
            " validation | Apache: one graceful reload + one request per site | sum | role first run | role first run"
            " minus the floors |")
        add("|---|---:|---:|---:|---:|---:|---:|")
        for label, n, what in (("shared", shared_n, "sites on one shared backend"),
                               ("pools", pool_n, "sites with a pool of 3 members")):
            f_ans, f_apa = res.med(("pools", label, n, "floor_ansible")), res.med(("pools", label, n, "floor_apache"))
            first = res.med(("pools", label, n, "first", "play"))
            total = f_ans + f_apa if f_ans is not None and f_apa is not None else None
            add("| %s | %d | %s | %s | %s | %s | %s |" % (
                what, n, _fmt(f_ans), _fmt(f_apa), _fmt(total), _fmt(first),
                _fmt(first - total if first is not None and total is not None else None)))
        add("")
    if cfg.do_nginx:
        _nginx_rows(cfg, res, add)
    mem_rows = [key[1:3] for key in res.samples if len(key) == 4 and key[0] == "mem" and key[3] == "controller"]
    if mem_rows:
        add("| Peak memory (VmHWM, largest runs) | controller | module process | whole tree (ru_maxrss) |")
        add("|---|---:|---:|---:|")
        labels = {"hs": "backend_handshake, %d backends", "role": "apache_proxy role, %d sites, first run",
                  "tpl": "template loop, %d sites, first run"}
        for what, n in sorted(set(mem_rows)):
            add("| %s | %s | %s | %s |" % (labels[what] % n, _fmt(res.med(("mem", what, n, "controller")), "MiB"),
                                           _fmt(res.med(("mem", what, n, "module")), "MiB"),
                                           _fmt(res.med(("mem", what, n, "tree")), "MiB")))
        add("")
    targets = []
    if cfg.do_checks and 500 in cfg.backend_sizes:
        value = res.med(("hs", 500, "task"))
        targets.append("500 backends <= 5 s (task): %s -> %s" % (_fmt(value, digits=2), "met" if value <= 5 else "MISSED"))
    if cfg.do_converge and 300 in cfg.site_sizes:
        first, rerun = res.med(("role", 300, "first", "play")), res.med(("role", 300, "rerun", "play"))
        targets.append("300 sites first apply < 60 s: %s -> %s" % (_fmt(first), "met" if first < 60 else "MISSED"))
        targets.append("300 sites unchanged re-run < 20 s: %s -> %s" % (_fmt(rerun), "met" if rerun < 20 else "MISSED"))
    if cfg.do_checks and 2000 in cfg.backend_sizes:
        value = res.med(("hs", 2000, "task"))
        targets.append("2000 backends < 5 s (task): %s -> %s" % (_fmt(value, digits=2), "met" if value is not None and value < 5 else "MISSED"))
    if cfg.do_pools and not cfg.quick:
        shared_n, pool_n = cfg.pool_sizes
        for label, n, phase, limit in (("shared", shared_n, "first", 30), ("shared", shared_n, "rerun", 10),
                                       ("pools", pool_n, "first", 30)):
            value = res.med(("pools", label, n, phase, "play"))
            targets.append("%d sites (%s) %s < %d s: %s -> %s" % (
                n, "one shared backend" if label == "shared" else "pools of 3", "first apply" if phase == "first"
                else "unchanged re-run", limit, _fmt(value), "met" if value is not None and value < limit else "MISSED"))
    if targets:
        add("targets: " + "; ".join(targets))
    for note in res.notes:
        add("note: " + note)
    return "\n".join(lines)


class Config:
    def __init__(self, args):
        self.quick = args.quick
        self.runs = int(os.environ.get("BENCH_RUNS", "1" if args.quick else "3"))
        self.timeout = float(os.environ.get("BENCH_TIMEOUT", "1" if args.quick else "2"))
        self.backend_sizes = (5, 10) if args.quick else (50, 200, 500, 2000)
        self.loop_size = 5 if args.quick else 50
        self.site_sizes = (3, 10) if args.quick else (30, 300, 1000)
        self.baseline_max = int(os.environ.get("BENCH_BASELINE_MAX", "300"))
        self.baseline_runs = int(os.environ.get("BENCH_BASELINE_RUNS", str(self.runs)))
        self.do_checks = args.only in (None, "checks")
        self.do_converge = args.only in (None, "converge")
        self.do_pools = args.only in (None, "pools")
        self.pool_sizes = (20, 5) if args.quick else (3000, 300)
        self.do_nginx = args.only in (None, "nginx")  # cheap: about 50 s per run at 300 sites
        self.nginx_sites = 5 if args.quick else 300
        if self.runs < 1:
            raise SystemExit("BENCH_RUNS must be >= 1")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one run: a smoke test of the bench itself")
    parser.add_argument("--only", choices=("checks", "converge", "pools", "nginx"))
    parser.add_argument("--json", help="also write the raw samples and the machine as JSON to this file")
    parser.add_argument("--markdown", help="also write the table to this file")
    parser.add_argument("--table-from", metavar="JSON", help="only print the table of a run saved with --json")
    args = parser.parse_args(argv)
    cfg = Config(args)
    if args.table_from:
        return from_json(cfg, args.table_from, args.markdown)
    if (cfg.do_converge or cfg.do_pools or cfg.do_nginx) and os.geteuid() != 0:
        raise SystemExit("bench: the converge part needs root (it converges the system Apache)")
    res = Results()
    mach = machine()
    work = tempfile.mkdtemp(prefix="revproxy-bench-")
    started = time.monotonic()
    global COLLECTIONS_PATH  # pylint: disable=global-statement
    try:
        COLLECTIONS_PATH, mach["measured"] = snapshot_collection(work)
        print("bench: measuring the collection at %s" % mach["measured"], flush=True)
        if cfg.do_checks:
            bench_checks(cfg, res, work)
        if cfg.do_converge:
            bench_converge(cfg, res, work)
        if cfg.do_pools:
            bench_pools(cfg, res, work)
        if cfg.do_nginx:
            bench_nginx(cfg, res, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if args.json:  # also when a part failed: what was measured is kept
            with open(args.json, "w") as handle:
                json.dump({"machine": mach, "elapsed": time.monotonic() - started,
                           "samples": [[list(k), v] for k, v in res.samples.items()], "notes": res.notes}, handle,
                          indent=1)
    elapsed = time.monotonic() - started
    return report(cfg, res, mach, elapsed, args.markdown)


def report(cfg, res, mach, elapsed, markdown=None):
    text = table(cfg, res, mach) + "\n(bench took %.0f s)" % elapsed
    print(text)
    if markdown:
        with open(markdown, "w") as handle:
            handle.write(text + "\n")
    return 0


def from_json(cfg, path, markdown=None):
    """Re-print the table of an earlier run saved with --json."""
    with open(path) as handle:
        data = json.load(handle)
    res = Results()
    res.samples = {tuple(k): v for k, v in data["samples"]}
    res.notes = data["notes"]
    return report(cfg, res, data["machine"], data["elapsed"], markdown)


if __name__ == "__main__":
    sys.exit(main())
