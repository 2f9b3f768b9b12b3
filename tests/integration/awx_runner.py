"""Run the collection's playbooks the way AWX runs a job: ansible-runner with a private data directory.

AWX writes the job's inventory, extra variables (survey answers, as strings) and command line into a private data
directory, runs the project's playbook with ansible-runner (``--check`` for the Check job type) and reads the
events and artifacts. ``run_job`` does the same with a project whose playbooks are the thin wrappers the docs tell
users to put in their AWX project (``- import_playbook: revproxy.tls.check``).
"""
import glob
import json
import os
import shutil
import sys
import tempfile

import ansible_runner

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
VENV_BIN = os.path.dirname(sys.executable)


class Job:
    """The outcome of one runner job: status, rc, events, stdout and the artifact directory."""

    def __init__(self, runner, pdd):
        self.status = runner.status
        self.rc = runner.rc
        self.artifact_dir = runner.config.artifact_dir
        self.private_data_dir = pdd
        self.events = []
        self.event_sizes = []
        for path in sorted(glob.glob(os.path.join(self.artifact_dir, "job_events", "*.json")),
                           key=lambda p: int(os.path.basename(p).split("-", 1)[0])):
            with open(path, "rb") as handle:
                raw = handle.read()
            self.event_sizes.append(len(raw))
            self.events.append(json.loads(raw))
        with open(os.path.join(self.artifact_dir, "stdout"), encoding="utf-8", errors="replace") as handle:
            self.stdout = handle.read()
        self.stats = runner.stats

    def task_results(self, task_name, event="runner_on_ok"):
        """event_data.res of every event of a task (by name)."""
        return [e["event_data"]["res"] for e in self.events
                if e.get("event") == event and e["event_data"].get("task") == task_name]

    def failures(self):
        return [e["event_data"]["res"] for e in self.events if e.get("event") == "runner_on_failed"]

    @property
    def artifact_data(self):
        """What set_stats published (AWX shows it on the job as the artifacts)."""
        for e in self.events:
            if e.get("event") == "playbook_on_stats":
                return e["event_data"].get("artifact_data") or {}
        return {}

    def max_event_res_size(self):
        """Largest JSON size of any event's event_data.res (AWX drops results above MAX_EVENT_RES_DATA=700000)."""
        return max([len(json.dumps(e["event_data"].get("res", {}))) for e in self.events if "event_data" in e] or [0])

    def __repr__(self):
        return "Job(status=%s, rc=%s)\n%s" % (self.status, self.rc, self.stdout[-8000:])


def run_job(base, playbook, inventory, extravars=None, job_type="run", timeout=300, limit=None):
    """One AWX-style job in a fresh private data directory under ``base`` (like AWX, one per job: ansible-runner
    keeps env/cmdline and env/extravars there). ``base/inventory`` (group_vars) is copied in. ``playbook``:
    check|site|diagnose (the project wrapper). ``inventory``: INI text."""
    pdd = tempfile.mkdtemp(prefix="job-", dir=base)
    if os.path.isdir(os.path.join(base, "inventory")):
        shutil.copytree(os.path.join(base, "inventory"), os.path.join(pdd, "inventory"))
    os.makedirs(os.path.join(pdd, "project"), exist_ok=True)
    os.makedirs(os.path.join(pdd, "inventory"), exist_ok=True)
    os.makedirs(os.path.join(pdd, "env"), exist_ok=True)
    wrapper = os.path.join(pdd, "project", "%s.yml" % playbook)
    with open(wrapper, "w") as handle:
        handle.write("---\n- name: Run revproxy.tls.%s\n  ansible.builtin.import_playbook: revproxy.tls.%s\n" % (playbook, playbook))
    with open(os.path.join(pdd, "inventory", "hosts"), "w") as handle:
        handle.write(inventory)
    cmdline = ["--check"] if job_type == "check" else []
    if limit:
        cmdline += ["--limit", limit]
    envvars = {
        "ANSIBLE_COLLECTIONS_PATH": os.path.join(ROOT, ".build", "collections"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_PIPELINING": "1",
        "ANSIBLE_HOST_KEY_CHECKING": "0",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "PATH": VENV_BIN + os.pathsep + os.environ.get("PATH", ""),
    }
    runner = ansible_runner.run(
        private_data_dir=pdd,
        playbook="%s.yml" % playbook,
        extravars=extravars or {},
        envvars=envvars,
        cmdline=" ".join(cmdline) or None,
        quiet=True,
        timeout=timeout,
        json_mode=False,
    )
    return Job(runner, pdd)


def local_inventory(group="revproxy_proxies", host_vars_json=None):
    """An INI inventory with this machine (local connection, the venv's Python or the matrix stage's managed-node
    Python from REVPROXY_TEST_MODULE_PYTHON) in ``group``."""
    python = os.environ.get("REVPROXY_TEST_MODULE_PYTHON") or sys.executable
    line = "localhost ansible_connection=local ansible_python_interpreter=%s" % python
    return "[%s]\n%s\n" % (group, line)


def write_group_vars(pdd, group, data):
    """group_vars next to the inventory (as an AWX inventory source from the project would provide them)."""
    path = os.path.join(pdd, "inventory", "group_vars")
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "%s.json" % group), "w") as handle:
        json.dump(data, handle)
