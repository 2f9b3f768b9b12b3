"""Hostile review (helper H6) of "validate once per run" (issue 22): the plan's validated set, handed on by key.

The plan (apache_proxy_sites with keep_validated) keeps a view of the validated sites in a root-only file under
/run/revproxy-tls (deploy/_handoff, apache/_plan.handoff_view) keyed by the digest of its inputs; the later calls
(apache_proxy_probe, frontend_certificate, backend_handshake) take that key as `validated`. Attacked here as an AWX
survey user (the sites) and as a local unprivileged user on the proxy (a real account made with useradd, acting with
runuser or a lowered effective uid): hostile `validated` values, planted or pre-created entries where the set is kept,
a set kept for another tree, secrets in the kept file, check mode, a refused plan, and a race between the plan and the
later calls of a real role run against the system Apache.

Each test asserts the safe behaviour. The review's five findings (an empty validated key passing, a refused plan
keeping its set, a directory or an unreadable file at the handoff path, a set lost before the probe leaving the change
live) were fixed; their tests stand as regressions.
"""
import json
import os
import pwd
import stat
import subprocess
import sys
import threading
import time

import pytest

from ansible_collections.revproxy.tls.plugins.module_utils.apache._layout import Layout, handoff_file
from ansible_collections.revproxy.tls.plugins.module_utils.apache._plan import (
    keep_validated,
    validated_sites,
)
from ansible_collections.revproxy.tls.plugins.module_utils.deploy import _handoff
from ansible_collections.revproxy.tls.plugins.module_utils.model._backend_tls import ConfigError
from ansible_collections.revproxy.tls.plugins.modules import backend_handshake, frontend_certificate
from conftest import PROXY_PORT, ROOT, apply_role, get, run_playbook, snapshot
from support.apache_model import normalize_sites
from support.apache import reserve_port
from support.backends import PlainHTTPBackend
from support.pki import PKI
from test_secrets import private_tree  # a startable Debian-style tree (as test_fleet uses it)

HTTPD = "/usr/sbin/apache2"
SYSTEM_MODS = "/etc/apache2/mods-available"
USER = "h6hostile"
pytestmark = [pytest.mark.apache,
              pytest.mark.skipif(not (os.path.exists(HTTPD) and os.path.isdir(SYSTEM_MODS) and os.geteuid() == 0),
                                 reason="needs Apache httpd and root")]


# -- helpers -------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def hostile_user():
    """A real unprivileged account on this host (the local attacker)."""
    try:
        pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "-M", "-s", "/usr/sbin/nologin", USER], check=True)
    entry = pwd.getpwnam(USER)
    return entry.pw_uid, entry.pw_gid


def as_user(*argv):
    return subprocess.run(["runuser", "-u", USER, "--"] + list(argv), capture_output=True, text=True, check=False)


PLAN_PLAY = """
- name: The role's plan task, on a private tree
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Plan
      revproxy.tls.apache_proxy_sites:
        sites: "{{ h6_sites }}"
        tls_dir: "{{ h6_tree.tls_dir }}"
        config_root: "{{ h6_tree.config_root }}"
        envvars: "{{ h6_tree.envvars }}"
        keep_validated: "{{ not ansible_check_mode }}"
      check_mode: true
      register: plan
    - name: Dump
      ansible.builtin.copy:
        content: "{{ plan | to_json }}"
        dest: "{{ h6_dump }}"
      check_mode: false
"""


def run_plan(tree, sites, dump, check=False):
    res = run_playbook(PLAN_PLAY, {"h6_sites": sites, "h6_tree": tree, "h6_dump": dump}, check=check)
    result = None
    if os.path.exists(dump):
        with open(dump, encoding="utf-8") as handle:
            result = json.load(handle)
    return res, result


def spec_defaults(spec):
    return dict((name, option.get("default")) for name, option in spec.items())


class _Module:
    def __init__(self):
        self.warnings = []

    def warn(self, text):
        self.warnings.append(text)


def needles(pem):
    body = [line.strip() for line in pem.strip().splitlines() if line.strip() and not line.startswith("-----")]
    return [line for line in body if len(line) >= 16]


# -- the world: one plan on a private tree that keeps a set ----------------------------------------------------------

@pytest.fixture(scope="module")
def kept(tmp_path_factory):
    """A real plan (the module through ansible-playbook) on a private tree, with keep_validated: a site whose client
    key is content ("keyed") and one whose client files are paths ("plain")."""
    work = tmp_path_factory.mktemp("h6-handoff")
    pki = PKI(str(work / "pki"))
    root = pki.ca("H6 Root CA")
    client = pki.leaf("client", cn="h6-client", issuer=root, client=True, key_type="rsa")
    other_client = pki.leaf("other", cn="h6-other", issuer=root, client=True)
    tree = private_tree(str(work / "apache2"))
    held = reserve_port("127.0.0.1")
    dead = held.port  # bound, never listening: a backend that refuses
    sites = [
        {"name": "keyed", "server_name": "keyed.h6.test", "listen": {"address": "127.0.0.1", "port": 18491},
         "locations": [{"path": "/", "backend": "https://localhost:%d/" % dead}],
         "backend_tls": {"ca_content": root.pem, "client_cert_content": client.pem,
                         "client_key_content": client.key_pem}},
        {"name": "plain", "server_name": "plain.h6.test", "listen": {"address": "127.0.0.1", "port": 18491},
         "locations": [{"path": "/", "backend": "https://localhost:%d/" % dead}],
         "backend_tls": {"ca_content": root.pem, "client_cert_file": other_client.cert_path,
                         "client_key_file": other_client.key_path}},
    ]
    res, result = run_plan(tree, sites, str(work / "plan.json"))
    try:
        yield {"tree": tree, "sites": sites, "res": res, "result": result, "client": client, "other": other_client,
               "file": handoff_file(tree["tls_dir"]), "work": work, "dead": dead}
    finally:
        held.release()
        _handoff.discard(handoff_file(tree["tls_dir"]))


def test_the_plan_kept_a_set_for_its_own_tree(kept):
    assert kept["res"].rc == 0, kept["res"].stdout[-1500:]
    assert kept["result"]["validated"] and os.path.exists(kept["file"])
    info = os.stat(kept["file"])
    assert info.st_uid == 0 and stat.S_IMODE(info.st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(kept["file"])).st_mode) == 0o700


def test_a_client_key_given_as_content_never_reaches_the_kept_file_or_the_output(kept):
    """The survey user's client key (client_key_content) and the key files of the other site: in neither the kept
    file nor the play's output; the keyed site has no checks kept, so backend_handshake must get the sites."""
    with open(kept["file"], encoding="utf-8") as handle:
        text = handle.read()
    for pem in (kept["client"].key_pem, kept["other"].key_pem):
        for line in needles(pem):
            assert line not in text and line not in kept["res"].output
    assert "PRIVATE KEY" not in text
    view = json.loads(text)["payload"]
    assert [s["name"] for s in view if s["backend_checks"] is None] == ["keyed"]
    assert kept["result"]["validated_backends"] is False


def test_backend_handshake_never_checks_the_keyed_site_from_the_view_alone(kept):
    params = dict(spec_defaults(backend_handshake.ARGUMENT_SPEC), validated=kept["result"]["validated"],
                  tls_dir=kept["tree"]["tls_dir"], timeout=2)
    with pytest.raises(ConfigError, match="pass sites as well"):
        backend_handshake.run(dict(params, names=["keyed"]), _Module())
    with pytest.raises(ConfigError, match="pass sites as well"):
        backend_handshake.run(params, _Module())  # all sites: the keyed one among them
    checks, results = backend_handshake.run(dict(params, names=["plain"]), _Module())  # the view: its own backend
    assert [c["site"] for c in checks] == ["plain"] and [r["url"] for r in results] == [
        "https://localhost:%d/" % kept["dead"]]


def test_no_spelling_of_a_client_key_as_content_reaches_the_view(kept, tmp_path):
    """Per location the content keys are refused; a site whose key is content keeps no checks even where a location
    names its own client file (whose checks then hold no key either)."""
    pem, key = kept["client"].pem, kept["client"].key_pem
    with pytest.raises(ConfigError, match="not accepted per location"):
        normalize_sites([{"name": "a", "server_name": "a.h6.test", "backend_tls": {"ca_content": pem},
                          "locations": [{"path": "/", "backend": "https://b.h6.test/", "backend_tls": {
                              "client_cert_content": pem, "client_key_content": key}}]}])
    bundle = str(tmp_path / "bundle.pem")
    with open(bundle, "w", encoding="utf-8") as handle:
        handle.write(kept["other"].pem + kept["other"].key_pem)
    sites = normalize_sites([{"name": "a", "server_name": "a.h6.test", "backend_tls": {
        "ca_content": pem, "client_cert_content": pem, "client_key_content": key},
        "locations": [{"path": "/", "backend": "https://b.h6.test/"},
                      {"path": "/x/", "backend": "https://c.h6.test/", "backend_tls": {"client_cert_file": bundle}}]}])
    layout = _layout(str(tmp_path / "run"))
    assert keep_validated(layout, "k", sites) == "k"
    with open(layout.handoff_file, encoding="utf-8") as handle:
        text = handle.read()
    assert "PRIVATE KEY" not in text and not any(line in text for line in needles(key))
    assert json.loads(text)["payload"][0]["backend_checks"] is None


HOSTILE_KEYS = ["../../../../etc/shadow", "/etc/shadow", "*", "x\n", "0" * 64, " ", "validated-*.json"]


@pytest.mark.parametrize("value", HOSTILE_KEYS)
def test_a_hostile_validated_value_reads_nothing(kept, value):
    """A `validated` that is a path, a glob or a wrong key: no set, no file read, the call fails without sites."""
    for module, params in (
            (frontend_certificate, dict(spec_defaults(frontend_certificate.argument_spec()), validated=value,
                                        tls_dir=kept["tree"]["tls_dir"])),
            (backend_handshake, dict(spec_defaults(backend_handshake.ARGUMENT_SPEC), validated=value,
                                     tls_dir=kept["tree"]["tls_dir"]))):
        with pytest.raises(ConfigError, match="no validated set") as info:
            if module is backend_handshake:
                module.run(params, _Module())
            else:
                module.run(params)
        assert "root:" not in str(info.value)


def test_an_empty_validated_is_refused_not_a_pass(kept):
    """The plan returns validated: "" when it kept nothing (no change, no private runtime directory). A playbook that
    passes it on as the docs say (validated: "{{ plan.validated }}") gets a preflight that checked nothing."""
    res = run_playbook("""
- hosts: localhost
  gather_facts: false
  tasks:
    - revproxy.tls.backend_handshake:
        validated: ""
        fail_on: failure
""")
    assert res.rc != 0 and "0 backends checked" not in res.output, res


def test_a_set_kept_for_another_tree_or_layout_is_not_used(kept, tmp_path):
    """The key of tree A, handed to calls for another tls_dir (or the other layout's default): nothing is loaded."""
    key = kept["result"]["validated"]
    for tls_dir in (str(tmp_path / "other-tls"), kept["tree"]["tls_dir"] + "/..", "/etc/apache2/revproxy-tls",
                    kept["tree"]["tls_dir"] + "\n", "", "/"):
        params = dict(spec_defaults(frontend_certificate.argument_spec()), validated=key, tls_dir=tls_dir)
        with pytest.raises(ConfigError, match="no validated set|one of sites"):
            frontend_certificate.run(params)
        with pytest.raises(ConfigError, match="no validated set|tls_dir"):
            backend_handshake.run(dict(spec_defaults(backend_handshake.ARGUMENT_SPEC), validated=key,
                                       tls_dir=tls_dir), _Module())
    with pytest.raises(ConfigError, match="no validated set"):  # layout redhat: /etc/httpd/revproxy-tls
        frontend_certificate.run(dict(spec_defaults(frontend_certificate.argument_spec()), validated=key,
                                      layout="redhat"))
    # Control: the same tree (a trailing slash is the same directory) loads it.
    params = dict(spec_defaults(frontend_certificate.argument_spec()), validated=key,
                  tls_dir=kept["tree"]["tls_dir"] + "/")
    assert frontend_certificate.run(params)["failed_sites"] == []


def test_check_mode_keeps_nothing(tmp_path):
    """The role's plan task in a --check run: nothing kept, no file left under /run/revproxy-tls."""
    tree = private_tree(str(tmp_path / "apache2"))
    sites = [{"name": "cm", "server_name": "cm.h6.test", "listen": {"address": "127.0.0.1", "port": 18492},
              "locations": [{"path": "/", "backend": "http://127.0.0.1:9/"}]}]
    res, result = run_plan(tree, sites, str(tmp_path / "plan.json"), check=True)
    assert res.rc == 0 and result["changed_files"], res
    assert result["validated"] == "" and not os.path.exists(handoff_file(tree["tls_dir"]))


def test_a_plan_refused_by_the_config_test_keeps_nothing(tmp_path):
    tree = private_tree(str(tmp_path / "apache2"))
    with open(os.path.join(tree["config_root"], "apache2.conf"), "a", encoding="utf-8") as handle:
        handle.write("H6NoSuchDirective on\n")  # a tree Apache refuses
    sites = [{"name": "refused", "server_name": "refused.h6.test", "listen": {"address": "127.0.0.1", "port": 18493},
              "locations": [{"path": "/", "backend": "http://127.0.0.1:9/"}]}]
    try:
        res = run_playbook(PLAN_PLAY, {"h6_sites": sites, "h6_tree": tree, "h6_dump": str(tmp_path / "x.json")})
        assert res.rc != 0 and "config test" in res.output, res
        assert not os.path.exists(handoff_file(tree["tls_dir"]))
    finally:
        _handoff.discard(handoff_file(tree["tls_dir"]))


# -- the local unprivileged user ---------------------------------------------------------------------------------------

def test_an_unprivileged_user_cannot_reach_or_precreate_the_runtime_directory(hostile_user):
    assert _handoff._make_private_dir(_handoff_dir())
    assert as_user("mkdir", "/run/revproxy-tls-h6").returncode != 0  # /run: root's alone, so no pre-created dir
    assert not os.path.exists("/run/revproxy-tls-h6")
    assert as_user("ls", _handoff_dir()).returncode != 0
    assert as_user("ln", "-s", "/etc/shadow", os.path.join(_handoff_dir(), "validated-h6.json")).returncode != 0
    assert as_user("touch", os.path.join(_handoff_dir(), "validated-h6.json")).returncode != 0
    for name in os.listdir(_handoff_dir()):
        assert as_user("cat", os.path.join(_handoff_dir(), name)).returncode != 0


def _handoff_dir():
    return os.path.dirname(Layout().handoff_file)


def _layout(run_dir, tls_dir="/srv/h6-tls"):
    return Layout(config_root="/nonexistent-h6", tls_dir=tls_dir, run_dir=run_dir)


SITES = [{"name": "s", "server_name": "s.h6.test", "locations": [{"path": "/", "backend": "http://127.0.0.1:9/"}]}]


@pytest.mark.parametrize("owner,mode", [("user", 0o700), ("root", 0o777), ("root", 0o1777), ("root", 0o770),
                                        ("root", 0o750)])
def test_a_runtime_directory_another_user_could_write_is_never_trusted(hostile_user, tmp_path, owner, mode):
    """Were the runtime directory pre-created by the user (or writable by others), keep() writes nothing there and a
    set found there, even with the right key, is not used: the caller validates the sites."""
    run_dir = str(tmp_path / "run")
    os.mkdir(run_dir)
    os.chmod(run_dir, mode)
    if owner == "user":
        os.chown(run_dir, *hostile_user)
    elif mode == 0o770 or mode == 0o750:
        os.chown(run_dir, 0, hostile_user[1])
    layout = _layout(run_dir)
    sites = normalize_sites(SITES, tls_dir=layout.tls_dir)
    trusted = mode in (0o700, 0o750) and owner == "root"
    assert bool(keep_validated(layout, "k", sites)) is trusted
    if not trusted:
        assert not os.path.exists(layout.handoff_file)
        # The user plants a set of their own with the right key (here written as root into their directory).
        with open(layout.handoff_file, "w", encoding="utf-8") as handle:
            json.dump({"key": "k", "payload": [{"name": "planted"}]}, handle)
        os.chmod(layout.handoff_file, 0o600)
        assert validated_sites({"validated": "k", "sites": SITES}, layout, lambda: "validated") == "validated"


def test_planted_entries_at_the_handoff_path_are_never_followed_or_trusted(hostile_user, tmp_path):
    run_dir = str(tmp_path / "run")
    os.mkdir(run_dir, 0o700)
    layout = _layout(run_dir)
    path = layout.handoff_file
    decoy = str(tmp_path / "decoy.json")
    with open(decoy, "w", encoding="utf-8") as handle:
        json.dump({"key": "k", "payload": [{"name": "planted"}]}, handle)
    os.chmod(decoy, 0o600)
    os.symlink(decoy, path)
    assert _handoff.load(path, "k") is None  # a link: not followed
    sites = normalize_sites(SITES, tls_dir=layout.tls_dir)
    assert keep_validated(layout, "k2", sites) == "k2"
    assert not os.path.islink(path) and json.load(open(decoy, encoding="utf-8"))["payload"] == [{"name": "planted"}]
    # Someone else's file, or one others may read, with the right key: not the engine's.
    for uid, mode in ((hostile_user[0], 0o600), (0, 0o644), (0, 0o660)):
        os.unlink(path)
        with open(path, "w", encoding="utf-8") as handle:
            json.dump({"key": "k", "payload": [{"name": "planted"}]}, handle)
        os.chown(path, uid, 0)
        os.chmod(path, mode)
        assert _handoff.load(path, "k") is None, (uid, oct(mode))
    # A FIFO (would block a reader) or a directory at the path.
    os.unlink(path)
    os.mkfifo(path, 0o600)
    started = time.monotonic()
    assert _handoff.load(path, "k") is None and time.monotonic() - started < 2


def test_a_directory_at_the_handoff_path_reads_as_no_set(tmp_path):
    run_dir = str(tmp_path / "run")
    os.mkdir(run_dir, 0o700)
    path = _layout(run_dir).handoff_file
    os.mkdir(path, 0o700)
    assert _handoff.load(path, "k") is None


CHILD = """
import os, sys
from ansible_collections.revproxy.tls.plugins.modules import frontend_certificate
from ansible_collections.revproxy.tls.plugins.module_utils.model._backend_tls import ConfigError
params = dict((k, v.get("default")) for k, v in frontend_certificate.argument_spec().items())
params.update(validated=sys.argv[1], tls_dir=sys.argv[2])
os.setgid(int(sys.argv[4]))
os.setuid(int(sys.argv[3]))
try:
    frontend_certificate.run(params)
    print("LOADED")
except ConfigError as exc:
    print("CONFIGERROR", exc)
"""


def test_a_caller_that_is_not_root_gets_a_refusal_not_a_traceback(kept, hostile_user):
    proc = subprocess.run([sys.executable, "-c", CHILD, kept["result"]["validated"], kept["tree"]["tls_dir"],
                           str(hostile_user[0]), str(hostile_user[1])], capture_output=True, text=True, check=False,
                          env=dict(os.environ, PYTHONPATH=os.path.join(ROOT, ".build", "collections")))
    assert "LOADED" not in proc.stdout  # never the set
    assert proc.returncode == 0 and "CONFIGERROR validated: no validated set" in proc.stdout, proc.stderr[-800:]


# -- the race: another run on the same tree between this run's plan and its probe (system Apache) -------------------

def _watch_and_replace(stop, done, other_sites):
    """Another run on the same tree (the same tls_dir): once this run has applied (its transaction file is there),
    that run's plan keeps its own set, replacing this run's (other_sites), or, having nothing to change (the same
    sites, already applied) or committing, drops it (other_sites None)."""
    transaction = Layout().transaction_file
    while not stop.is_set():
        if os.path.exists(transaction):
            if other_sites is None:
                _handoff.discard(Layout().handoff_file)
            else:
                keep_validated(Layout(), _handoff.digest(["another run"]), other_sites)
            done.set()
            return
        time.sleep(0.005)


@pytest.mark.parametrize("other", ["plans other sites", "has nothing to change"])
def test_a_set_replaced_before_the_probe_never_leaves_an_unprobed_change(system_apache, other):
    with PlainHTTPBackend(body=b"h6 backend") as backend:
        site = {"name": "h6race", "server_name": "front.test", "listen": {"port": PROXY_PORT, "address": "127.0.0.1"},
                "locations": [{"path": "/", "backend": "http://127.0.0.1:%d/" % backend.port}]}
        before = snapshot()
        if other == "plans other sites":
            other = normalize_sites([dict(site, name="other-run")], tls_dir=Layout().tls_dir)
            # Check mode first: nothing kept for the system tree, nothing changed.
            kept_before = os.path.exists(Layout().handoff_file)
            res = apply_role([site], check=True, apache_proxy_install=False)
            assert res.rc == 0, res
            assert os.path.exists(Layout().handoff_file) == kept_before and snapshot() == before
        else:
            other = None
        stop, done = threading.Event(), threading.Event()
        watcher = threading.Thread(target=_watch_and_replace, args=(stop, done, other))
        watcher.start()
        try:
            res = apply_role([site], apache_proxy_install=False)
        finally:
            stop.set()
            watcher.join()
        assert done.is_set(), res  # the race happened: the set was replaced after the apply
        # Safe: the probe fell back to the sites and passed (committed), or the change was rolled back.
        if os.path.exists(Layout().transaction_file):  # show what was left: the unprobed site is live
            status, body = get(host="front.test")
            pytest.fail("a pending transaction was left; the site answers %s %r; the run said: %s"
                        % (status, body[:40], [line for line in res.output.splitlines() if "no validated set" in line
                                               ][:1]))
        assert res.rc == 0 or snapshot() == before, res
