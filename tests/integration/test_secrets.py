"""Secrets (issue 10): a client private key handed to any module of the collection, or to the role, shows up nowhere
except in the file it is meant to be deployed to (<tls_dir>/<site>/proxy-client.pem, a regular file of mode 0600).

Every module that can receive a key (apache_proxy_sites, apache_proxy_probe, backend_handshake, and the
apache_proxy role that drives them) runs through a real ansible-playbook on localhost with -vvv,
ANSIBLE_DISPLAY_ARGS_TO_STDOUT, module invocation logging on (what the modules send to syslog is captured: this
host has no /dev/log, so a sitecustomize hook copies every syslog() call of the module processes into a file), a
controller log (ANSIBLE_LOG_PATH), and every registered result dumped to a file with to_nice_json. Each run is done
in three modes: ``check`` (--check --diff), ``normal`` (no diff) and ``diff`` (--diff, changes made).

Then each body line of the key's PEM (and the whole PEM) is searched for in the run's stdout and stderr and in every
file of the run's work directory: the private Apache trees, the TLS directories, the result dumps, the captured
syslog, the controller log, Ansible's local and remote temp dirs and TMPDIR (the modules' temp files). The only files
allowed to hold a key are the deployed client file and ``*.revproxy-prev`` backups of it, both regular files of mode
0600. The inputs (PKI files, the extra-vars file) live in a separate directory that is not searched.

Three keys take part, so that a finding names its path:
  - ``site``: the key given in ``sites[].backend_tls.client_key_content`` (the supported way);
  - ``previous``: the key deployed before the run (so that diffs and backups have a key to show);
  - ``defaults``: a key given in ``backend_tls_defaults.client_key_content``, which is not accepted there: the task
    must fail with a message naming the option, and that key must appear nowhere, not even in a deployed file
    (that variant runs against a second private tree).

The private Apache trees are Debian-style (apache2.conf, ports.conf, mods-available copied from the system, an
envvars of their own), so the config test of apache_proxy_sites runs the real apache2 -t without touching
/etc/apache2. The role runs with apache_proxy_install and apache_proxy_manage_service off and its layout variables
pointed at the private tree; its preflight does a real mTLS handshake with the key against a backend that requires
the client certificate.
"""
import concurrent.futures
import glob
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap

import pytest

from conftest import ROOT, VENV_BIN
from support.backends import PlainHTTPBackend, TLSBackend
from support.pki import PKI

HTTPD = "/usr/sbin/apache2"
SYSTEM_MODS = "/etc/apache2/mods-available"
pytestmark = [pytest.mark.apache,
              pytest.mark.skipif(not (os.path.exists(HTTPD) and os.path.isdir(SYSTEM_MODS)),
                                 reason="needs Apache httpd (Debian layout)")]

MODULES = ("apache_proxy_sites", "apache_proxy_probe", "backend_handshake", "role")
MODES = {"check": ["--check", "--diff"], "normal": [], "diff": ["--diff"]}
CASES = [(module, mode) for module in MODULES for mode in MODES]
CASE_IDS = ["%s-%s" % case for case in CASES]
SITE = "secret"
DEPLOYED = "proxy-client.pem"
BACKUP_MARK = ".revproxy-prev"
PARALLEL = max(1, min(4, os.cpu_count() or 1))

# Copies every syslog() call of the processes that import it (the modules log their invocation there) to a file.
SITECUSTOMIZE = '''\
"""Written by tests/integration/test_secrets.py: capture what modules send to syslog/journal."""
import os

_CAPTURE = os.environ.get("REVPROXY_TEST_SYSLOG_CAPTURE")


def _record(text):
    with open(_CAPTURE, "a", encoding="utf-8", errors="replace") as handle:
        handle.write("%s\\n" % (text,))


if _CAPTURE:
    import syslog as _syslog

    _ORIGINAL_SYSLOG = _syslog.syslog

    def _syslog_capture(*args):
        _record(args[-1])
        return _ORIGINAL_SYSLOG(*args)

    _syslog.syslog = _syslog_capture
    try:
        from systemd import journal as _journal
    except ImportError:
        _journal = None
    if _journal is not None:
        _ORIGINAL_SEND = _journal.send

        def _journal_capture(*args, **kwargs):
            _record(" ".join([str(a) for a in args] + ["%s=%s" % kv for kv in sorted(kwargs.items())]))
            return _ORIGINAL_SEND(*args, **kwargs)

        _journal.send = _journal_capture
'''

# Each play runs its steps in a block and always dumps what they registered (the dump is written in check mode too).
PLAY = """---
- name: %(title)s
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Run the steps, then dump what they registered
      block:
%(steps)s
      always:
        - name: Dump the registered results
          ansible.builtin.copy:
            content: "{{ {'previous': secret_previous | default(none), 'site': secret_site | default(none),
                          'defaults': secret_defaults | default(none)} | to_nice_json }}"
            dest: "{{ secret_dump_dir }}/results.json"
            mode: "0600"
          check_mode: false
"""

PREVIOUS_STEP = """\
        - name: Deploy the previous client key (a real write, in check mode too)
          revproxy.tls.apache_proxy_sites:
            sites: "{{ secret_previous_sites }}"
            config_root: "{{ secret_main.config_root }}"
            tls_dir: "{{ secret_main.tls_dir }}"
            envvars: "{{ secret_main.envvars }}"
          check_mode: false
          register: secret_previous
"""

SITES_STEPS = PREVIOUS_STEP + """\
        - name: Apply the key given in a site (transaction begin keeps the previous files as *.revproxy-prev)
          revproxy.tls.apache_proxy_sites:
            sites: "{{ secret_sites }}"
            config_root: "{{ secret_main.config_root }}"
            tls_dir: "{{ secret_main.tls_dir }}"
            envvars: "{{ secret_main.envvars }}"
            transaction: begin
          register: secret_site
        - name: Give a key in backend_tls_defaults (to be refused)
          revproxy.tls.apache_proxy_sites:
            sites: "{{ secret_plain_sites }}"
            backend_tls_defaults: "{{ secret_defaults_tls }}"
            config_root: "{{ secret_other.config_root }}"
            tls_dir: "{{ secret_other.tls_dir }}"
            envvars: "{{ secret_other.envvars }}"
          register: secret_defaults
          ignore_errors: true
"""

PROBE_STEPS = """\
        - name: Probe the site that has the key
          revproxy.tls.apache_proxy_probe:
            sites: "{{ secret_sites }}"
            tls_dir: "{{ secret_main.tls_dir }}"
            error_log: "{{ secret_main.error_log }}"
            wait_for_reload: false
            settle: 0
            timeout: 5
          register: secret_site
        - name: Give a key in backend_tls_defaults (to be refused)
          revproxy.tls.apache_proxy_probe:
            sites: "{{ secret_plain_sites }}"
            backend_tls_defaults: "{{ secret_defaults_tls }}"
            tls_dir: "{{ secret_other.tls_dir }}"
            error_log: "{{ secret_other.error_log }}"
            wait_for_reload: false
            settle: 0
            timeout: 5
          register: secret_defaults
          ignore_errors: true
"""

HANDSHAKE_STEPS = """\
        - name: Check the backend of the site that has the key (mTLS)
          revproxy.tls.backend_handshake:
            sites: "{{ secret_sites }}"
            tls_dir: "{{ secret_main.tls_dir }}"
            timeout: 5
          register: secret_site
        - name: Give a key in backend_tls_defaults (to be refused)
          revproxy.tls.backend_handshake:
            sites: "{{ secret_plain_sites }}"
            backend_tls_defaults: "{{ secret_defaults_tls }}"
            tls_dir: "{{ secret_other.tls_dir }}"
            timeout: 5
          register: secret_defaults
          ignore_errors: true
"""

# The role's layout variables come from include_vars (vars/Debian.yml), which include parameters (include_role's
# vars) outrank. No install, no service: the role plans, preflights (a real mTLS handshake) and writes.
ROLE_VARS = """\
                apache_proxy_sites: "{{ %(sites)s }}"
                apache_proxy_backend_tls_defaults: "{{ %(defaults)s }}"
                apache_proxy_tls_dir: "{{ %(tree)s.tls_dir }}"
                apache_proxy_install: false
                apache_proxy_manage_service: false
                apache_proxy_preflight: enforce
                apache_proxy_preflight_timeout: 5
                __apache_proxy_config_root: "{{ %(tree)s.config_root }}"
                __apache_proxy_envvars: "{{ %(tree)s.envvars }}"
                __apache_proxy_error_log: "{{ %(tree)s.error_log }}"
"""

ROLE_RESULTS = ("{'plan': __apache_proxy_plan | default(none), 'preflight': __apache_proxy_preflight | default(none), "
                "'apply': __apache_proxy_apply | default(none), 'result': apache_proxy_result | default(none)}")

ROLE_STEPS = PREVIOUS_STEP + """\
        - name: Apply the role with the key in a site
          block:
            - name: Apply the role
              ansible.builtin.include_role:
                name: revproxy.tls.apache_proxy
              vars:
%(site_vars)s          always:
            - name: Collect what the role registered
              ansible.builtin.set_fact:
                secret_site: "%(results)s"
        - name: Apply the role with a key in apache_proxy_backend_tls_defaults (to be refused)
          block:
            - name: Apply the role
              ansible.builtin.include_role:
                name: revproxy.tls.apache_proxy
              vars:
%(defaults_vars)s            - name: Collect what the role registered (it was not refused)
              ansible.builtin.set_fact:
                secret_defaults: "%(results)s"
          rescue:
            - name: Collect the refusal
              ansible.builtin.set_fact:
                secret_defaults: "{{ ansible_failed_result | combine({'failed': true}) }}"
""" % {"site_vars": ROLE_VARS % {"sites": "secret_sites", "defaults": "{}", "tree": "secret_main"},
       "defaults_vars": ROLE_VARS % {"sites": "secret_plain_sites", "defaults": "secret_defaults_tls",
                                     "tree": "secret_other"},
       "results": "{{ %s }}" % ROLE_RESULTS}

PLAYS = {
    "apache_proxy_sites": PLAY % {"title": "Secrets through apache_proxy_sites", "steps": SITES_STEPS},
    "apache_proxy_probe": PLAY % {"title": "Secrets through apache_proxy_probe", "steps": PROBE_STEPS},
    "backend_handshake": PLAY % {"title": "Secrets through backend_handshake", "steps": HANDSHAKE_STEPS},
    "role": PLAY % {"title": "Secrets through the apache_proxy role", "steps": ROLE_STEPS},
}


# -- the keys and the backends ---------------------------------------------------------------------------------------

def needles(pem):
    """What counts as the key: its whole PEM, and each line of its base64 body (64 characters, the last shorter)."""
    body = [line.strip() for line in pem.strip().splitlines() if line.strip() and not line.startswith("-----")]
    return [pem.strip()] + [line for line in body if len(line) >= 16]


@pytest.fixture(scope="module")
def material(tmp_path_factory):
    """Inputs (a directory that is not searched): CA, client certificates with RSA keys, backends."""
    inputs = tmp_path_factory.mktemp("secrets-inputs")
    pki = PKI(str(inputs / "pki"))
    root = pki.ca("Secrets Test Root CA")
    backend_leaf = pki.leaf("backend", dns=["localhost"], issuer=root)
    clients = dict((role, pki.leaf("client-" + role, cn="revproxy-secrets-" + role, issuer=root, client=True,
                                   key_type="rsa"))
                   for role in ("site", "previous", "defaults"))
    keys = dict((role, cert.key_pem) for role, cert in clients.items())
    assert len(set(keys.values())) == 3
    with TLSBackend(backend_leaf.chain_path, backend_leaf.key_path, client_ca_path=root.cert_path,
                    body=b"mtls ok") as tls_backend, PlainHTTPBackend(body=b"front ok") as front:
        yield {"inputs": str(inputs), "root": root, "clients": clients, "keys": keys, "tls_backend": tls_backend,
               "front": front}


def site(material, client=None):
    """The test site: proxies to the mTLS backend; its listener is the plain backend (what the probe requests)."""
    tls = {"ca_content": material["root"].pem}
    if client:
        cert = material["clients"][client]
        tls.update(client_cert_content=cert.pem, client_key_content=cert.key_pem)
    return {
        "name": SITE, "server_name": "secret.test",
        "listen": {"address": "127.0.0.1", "port": material["front"].port},
        "locations": [{"path": "/", "backend": "https://localhost:%d/" % material["tls_backend"].port, "retry": 0}],
        "backend_tls": tls,
    }


# -- a private Debian-style Apache tree ----------------------------------------------------------------------------

def private_tree(root):
    """/etc/apache2-like tree under ``root`` with its own envvars, run and log dirs (startable: test_fleet serves from
    it). Returns its layout variables."""
    for sub in ("sites-available", "sites-enabled", "conf-available", "conf-enabled", "mods-enabled", "run", "lock",
                "logs"):
        os.makedirs(os.path.join(root, sub))
    shutil.copytree(SYSTEM_MODS, os.path.join(root, "mods-available"), symlinks=True)
    for name in ("mpm_event.load", "mpm_event.conf", "authz_core.load", "mime.load", "mime.conf", "dir.load"):
        if os.path.exists(os.path.join(root, "mods-available", name)):
            os.symlink("../mods-available/" + name, os.path.join(root, "mods-enabled", name))
    envvars = os.path.join(root, "envvars")
    with open(envvars, "w", encoding="utf-8") as handle:
        handle.write("export APACHE_RUN_USER=www-data\nexport APACHE_RUN_GROUP=www-data\n"
                     "export APACHE_RUN_DIR={r}/run\nexport APACHE_PID_FILE={r}/run/apache2.pid\n"
                     "export APACHE_LOCK_DIR={r}/lock\nexport APACHE_LOG_DIR={r}/logs\nexport LANG=C\n".format(r=root))
    with open(os.path.join(root, "ports.conf"), "w", encoding="utf-8") as handle:
        handle.write("Listen 80\n")
    with open(os.path.join(root, "apache2.conf"), "w", encoding="utf-8") as handle:
        handle.write(textwrap.dedent("""\
            # Private test tree of tests/integration/test_secrets.py
            ServerRoot "{r}"
            ServerName secrets-private.test
            DefaultRuntimeDir ${{APACHE_RUN_DIR}}
            PidFile ${{APACHE_PID_FILE}}
            Mutex file:${{APACHE_LOCK_DIR}} default
            ErrorLog {r}/logs/error.log
            LogLevel warn
            IncludeOptional mods-enabled/*.load
            IncludeOptional mods-enabled/*.conf
            Include ports.conf
            IncludeOptional conf-enabled/*.conf
            IncludeOptional sites-enabled/*.conf
            """).format(r=root))
    error_log = os.path.join(root, "logs", "error.log")
    open(error_log, "a", encoding="utf-8").close()
    return {"config_root": root, "tls_dir": os.path.join(root, "revproxy-tls"), "envvars": envvars,
            "error_log": error_log}


# -- running a case ----------------------------------------------------------------------------------------------

class Run:
    """One ansible-playbook run of a case: its output, work directory, dumps and layout."""

    def __init__(self, module, mode, proc, work, trees):
        self.module = module
        self.mode = mode
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.work = work
        self.trees = trees
        self.syslog = os.path.join(work, "syslog-capture.log")

    def dump(self, name):
        """A registered result the play dumped (None when the play did not get that far)."""
        path = os.path.join(self.work, "dumps", "results.json")
        if not os.path.exists(path):
            return None
        with open(path, "r", encoding="utf-8") as handle:
            return json.load(handle).get(name)

    @property
    def deployed(self):
        """The intended home of the site's client key."""
        return os.path.join(self.trees["main"]["tls_dir"], SITE, DEPLOYED)

    def tail(self):
        """The end of the run's output, for failure messages."""
        return "rc=%s\n--- stdout (tail)\n%s\n--- stderr (tail)\n%s" % (
            self.rc, self.stdout[-5000:], self.stderr[-2000:])


def run_case(material, module, mode, work):
    """Run the playbook of ``module`` in ``mode``; everything it may write goes under ``work``."""
    inputs = os.path.join(material["inputs"], "%s-%s" % (module, mode))
    os.makedirs(inputs)
    hook = os.path.join(work, "hook")
    for sub in ("dumps", "tmp", "ansible-local", "ansible-remote", "hook"):
        os.makedirs(os.path.join(work, sub))
    with open(os.path.join(hook, "sitecustomize.py"), "w", encoding="utf-8") as handle:
        handle.write(SITECUSTOMIZE)
    trees = {"main": private_tree(os.path.join(work, "apache2")),
             "other": private_tree(os.path.join(work, "apache2-defaults"))}
    defaults_client = material["clients"]["defaults"]
    extra = {
        "secret_main": trees["main"], "secret_other": trees["other"], "secret_dump_dir": os.path.join(work, "dumps"),
        "secret_sites": [site(material, "site")],
        "secret_previous_sites": [site(material, "previous")],
        "secret_plain_sites": [site(material)],
        "secret_defaults_tls": {"client_cert_content": defaults_client.pem,
                                "client_key_content": defaults_client.key_pem},
    }
    extra_path = os.path.join(inputs, "extra-vars.json")
    with open(extra_path, "w", encoding="utf-8") as handle:
        json.dump(extra, handle)
    play = os.path.join(inputs, "play.yml")
    with open(play, "w", encoding="utf-8") as handle:
        handle.write(PLAYS[module])
    cmd = [os.path.join(VENV_BIN, "ansible-playbook"), "-i", "localhost,", "-c", "local", "-vvv",
           "-e", "ansible_python_interpreter=%s" % sys.executable, "-e", "@" + extra_path, play] + MODES[mode]
    env = dict(os.environ,
               ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".build", "collections"),
               ANSIBLE_CONFIG=os.path.join(ROOT, "tests", "ansible.cfg"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_DISPLAY_ARGS_TO_STDOUT="1",
               ANSIBLE_NO_TARGET_SYSLOG="False",
               ANSIBLE_LOG_PATH=os.path.join(work, "ansible.log"),
               ANSIBLE_LOCAL_TEMP=os.path.join(work, "ansible-local"),
               ANSIBLE_REMOTE_TMP=os.path.join(work, "ansible-remote"),
               TMPDIR=os.path.join(work, "tmp"),
               REVPROXY_TEST_SYSLOG_CAPTURE=os.path.join(work, "syslog-capture.log"),
               PYTHONPATH=os.pathsep.join([hook] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep)
                                                    if p]),
               PATH=VENV_BIN + os.pathsep + os.environ.get("PATH", ""))
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env, check=False)
    return Run(module, mode, proc, work, trees)


@pytest.fixture(scope="module")
def runs(request, material, tmp_path_factory):
    """Each case's run, done once for all the tests that look at it. The cases the session selected start at once,
    PARALLEL at a time, longest (the role) first."""
    wanted = []
    for item in request.session.items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if item.module is request.module and "module" in params and (params["module"], params["mode"]) not in wanted:
            wanted.append((params["module"], params["mode"]))
    wanted.sort(key=lambda case: case[0] != "role")
    futures = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        def start(case):
            work = str(tmp_path_factory.mktemp("secrets-%s-%s" % case))
            futures[case] = pool.submit(run_case, material, case[0], case[1], work)

        for case in wanted:
            start(case)

        def get(module, mode):
            if (module, mode) not in futures:
                start((module, mode))
            return futures[(module, mode)].result()
        yield get


# -- searching ------------------------------------------------------------------------------------------------------

def _stray_temp_entries():
    """Module temp dirs left in the system temp dir (the runs point TMPDIR elsewhere, so expect none of ours)."""
    return glob.glob(os.path.join(tempfile.gettempdir(), "revproxy-tls-*"))


def _read(path):
    try:
        with open(path, "rb") as handle:
            return handle.read().decode("utf-8", "replace")
    except OSError:  # a stray temp file of another process that went away meanwhile
        return ""


def sources(run):
    """[(where, text)]: the run's output, then every regular file under its work dir and stray module temp dirs."""
    out = [("stdout", run.stdout), ("stderr", run.stderr)]
    paths = set()
    for top in [run.work] + _stray_temp_entries():
        for dirpath, _dirs, files in os.walk(top):
            paths.update(os.path.join(dirpath, name) for name in files)
    for path in sorted(paths):
        if os.path.isfile(path) and not os.path.islink(path):
            out.append((path, _read(path)))
    return out


def find(keys, texts, allowed=()):
    """Where the keys occur in ``texts`` ([(where, text)]), outside ``allowed``: one line per finding, with what
    matched and the text just before the first match (what carried the key)."""
    found = []
    for where, text in texts:
        if where in allowed:
            continue
        for name, pem in keys.items():
            hits = [(i, text.find(needle)) for i, needle in enumerate(needles(pem)) if needle in text]
            if hits:
                first = min(pos for _i, pos in hits)
                before = text[max(0, first - 160):first].replace("\n", "\\n")
                what = "whole PEM" if hits[0][0] == 0 else "%d of its body lines" % len(hits)
                found.append("%s: %s key (%s), after ...%s" % (where, name, what, before))
    return found


def _mode(path):
    info = os.lstat(path)
    return stat.S_ISREG(info.st_mode), stat.S_IMODE(info.st_mode)


def _verdict(problems, run):
    return "%s/%s:\n- %s\n%s" % (run.module, run.mode, "\n- ".join(problems), run.tail())


# -- the tests --------------------------------------------------------------------------------------------------------
# Each test collects every problem of its case before failing, so one run shows all that is wrong.

@pytest.mark.parametrize("module,mode", CASES, ids=CASE_IDS)
def test_key_in_site_stays_in_its_0600_file(runs, material, module, mode):
    """The supported path: sites[].backend_tls.client_key_content (and a previously deployed key)."""
    run = runs(module, mode)
    keys = {"site": material["keys"]["site"], "previous": material["keys"]["previous"]}
    texts = sources(run)
    # *.revproxy-prev backups that hold a key are held to the deployed file's standard (checked below).
    backups = [where for where, text in texts if BACKUP_MARK in os.path.basename(where) and find(keys, [(where, text)])]
    problems = ["key outside its 0600 file: " + item
                for item in find(keys, texts, allowed={run.deployed} | set(backups))]

    # What may hold a key holds it safely.
    for path in backups + ([run.deployed] if os.path.lexists(run.deployed) else []):
        regular, perm = _mode(path)
        if not (regular and perm == 0o600):
            problems.append("%s holds a key and is %s of mode %o (expected a regular file of mode 0600)"
                            % (path, "a regular file" if regular else "not a regular file", perm))

    # The run did what it was meant to (so the absence of the key means something).
    result = run.dump("site") or {}
    if run.rc != 0 or not result or result.get("failed"):
        problems.append("the run with the key in a site failed (rc %s): %s" % (run.rc, result.get("msg")))
    with open(run.syslog, "r", encoding="utf-8") as handle:
        logged = handle.read()
    if "Invoked with" not in logged or "sites=" not in logged:
        problems.append("no module invocation was logged (the capture saw: %r)" % logged[-500:])
    deployed_text = open(run.deployed, encoding="ascii").read() if os.path.exists(run.deployed) else ""
    if module in ("apache_proxy_sites", "role"):
        expected = "previous" if mode == "check" else "site"
        if material["keys"][expected].strip() not in deployed_text:
            problems.append("%s does not hold the %s key" % (run.deployed, expected))
        if mode != "normal" and "--- before" not in run.stdout:
            problems.append("no diff shown")
    elif deployed_text:
        problems.append("%s wrote %s" % (module, run.deployed))
    checked = {"backend_handshake": lambda r: r["backends"][0]["ok"],  # a real mTLS handshake with the key
               "role": lambda r: r["preflight"]["backends"][0]["ok"],
               "apache_proxy_probe": lambda r: r["ok"]}.get(module)
    try:
        if checked and not checked(result):
            problems.append("the module did not succeed: %s" % json.dumps(result)[:1500])
    except (KeyError, IndexError, TypeError):
        problems.append("unexpected result: %s" % json.dumps(result)[:1500])
    if module == "apache_proxy_sites" and mode != "check" and not backups:
        problems.append("transaction=begin left no %s backup of the previous key" % BACKUP_MARK)
    assert not problems, _verdict(problems, run)


@pytest.mark.parametrize("module,mode", CASES, ids=CASE_IDS)
def test_key_in_backend_tls_defaults_is_refused_without_leaking(runs, material, module, mode):
    """*_content keys are not accepted in backend_tls_defaults: refused, and that key appears nowhere at all."""
    run = runs(module, mode)
    problems = ["defaults key present: " + item
                for item in find({"defaults": material["keys"]["defaults"]}, sources(run))]
    result = run.dump("defaults")
    if result is None:
        problems.append("the play did not reach the backend_tls_defaults task")
    elif not result.get("failed"):
        problems.append("a client key in backend_tls_defaults was accepted: %s" % json.dumps(result)[:1500])
    else:
        msg = str(result.get("msg", ""))
        if "backend_tls_defaults" not in msg or "_content" not in msg:
            problems.append("the refusal does not name backend_tls_defaults and the *_content key: %s" % msg)
    deployed = os.path.join(run.trees["other"]["tls_dir"], SITE, DEPLOYED)
    if os.path.exists(deployed):
        problems.append("deployed anyway: %s" % deployed)
    assert not problems, _verdict(problems, run)
