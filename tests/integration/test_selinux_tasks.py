"""The role's SELinux tasks (roles/apache_proxy/tasks/selinux.yml): their arguments and conditions, in check mode and
not, through ansible-playbook. This Debian machine has no SELinux, so `ansible.posix.seboolean` and
`community.general.seport` are replaced by recorders with the real modules' argument specs (checked here against the
installed modules' DOCUMENTATION) and `restorecon` by a script that records its argv; everything else is Ansible
evaluating the real task file with the role's real defaults and RedHat vars."""
import ast
import json
import os
import stat

import pytest
import yaml

from conftest import ROOT, VENV_BIN, run_playbook

RECORDERS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "selinux_recorders")
ROLE = os.path.join(ROOT, "roles", "apache_proxy")

CASES = [
    # (name, role variables, ports from the plan, expected: boolean?, ports labelled, restorecon?)
    ("defaults", {}, [443, 8443], True, ["443", "8443"], True),
    ("no_network_connect", {"apache_proxy_selinux_network_connect": False}, [443], False, ["443"], True),
    ("no_port_labels", {"apache_proxy_selinux_label_ports": False}, [443, 8443], True, [], True),
    ("no_restorecon", {"apache_proxy_selinux_restorecon": False}, [443], True, ["443"], False),
    ("no_sites", {"apache_proxy_sites": []}, [], False, [], True),
    # A site with tls.acme: mod_md's loopback status port is labelled too.
    ("acme", {"apache_proxy_sites": [{"name": "shop", "server_name": "shop.test", "tls": {"acme": {}},
                                      "locations": [{"path": "/", "backend": "https://b.test/"}]}]},
     [443], True, ["443", "8409"], True),
]

SITE = {"name": "shop", "server_name": "shop.test", "locations": [{"path": "/", "backend": "https://b.test/"}]}


def _play(record, cases):
    plays = []
    for name, role_vars, ports, _boolean, _ports, _restorecon in cases:
        # The role's defaults, then what an inventory would set (play vars; vars_files would outrank them).
        with open(os.path.join(ROLE, "defaults", "main.yml")) as handle:
            play_vars = yaml.safe_load(handle)
        play_vars.update({"apache_proxy_sites": [SITE], "__apache_proxy_plan": {"listen_ports": ports}})
        play_vars.update(role_vars)
        plays.append({
            "name": name, "hosts": "localhost", "gather_facts": False,
            # The role's own vars (vars/main.yml: what the role derives, __apache_proxy_uses_acme among them), then
            # the family's, as the role loads them.
            "vars_files": [os.path.join(ROLE, "vars", "main.yml"), os.path.join(ROLE, "vars", "RedHat.yml")],
            "vars": play_vars,
            "environment": {"SELINUX_RECORD": record, "PATH": os.environ["RESTORECON_DIR"] + ":/usr/bin:/bin"},
            "tasks": [
                {"name": "Mark the case", "ansible.builtin.shell": "echo '{\"case\": \"%s\"}' >> %s" % (name, record),
                 "check_mode": False, "changed_when": False},
                {"name": "Run the SELinux tasks",
                 "ansible.builtin.include_tasks": os.path.join(ROLE, "tasks", "selinux.yml")},
            ],
        })
    return yaml.safe_dump(plays)


def _records(path):
    cases, current = {}, None
    with open(path) as handle:
        for line in handle:
            item = json.loads(line)
            if "case" in item:
                current = cases.setdefault(item["case"], [])
            else:
                current.append(item)
    return cases


@pytest.fixture()
def restorecon(tmp_path, monkeypatch):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    script = bindir / "restorecon"
    script.write_text('#!/bin/sh\nprintf \'{"module": "restorecon", "argv": "%s"}\\n\' "$*" >> "$SELINUX_RECORD"\n'
                      'echo "Would relabel $*"\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("RESTORECON_DIR", str(bindir))


@pytest.mark.parametrize("check", [True, False], ids=["check_mode", "apply"])
def test_selinux_tasks_arguments_and_conditions(tmp_path, restorecon, check):
    record = str(tmp_path / "record.jsonl")
    env = {"ANSIBLE_COLLECTIONS_PATH": RECORDERS + os.pathsep + os.path.join(ROOT, ".build", "collections")}
    res = run_playbook(_play(record, CASES), check=check, env=env)
    assert res.rc == 0, res.stdout[-4000:] + res.stderr[-2000:]
    seen = _records(record)
    for name, _vars, _ports, boolean, ports, restore in CASES:
        calls = seen[name]
        booleans = [c for c in calls if c["module"] == "seboolean"]
        assert booleans == ([{"module": "seboolean", "check": check, "params": {
            "name": "httpd_can_network_connect", "state": True, "persistent": True,
            "ignore_selinux_state": False}}] if boolean else []), name
        labelled = [c for c in calls if c["module"] == "seport"]
        assert [c["params"]["ports"] for c in labelled] == [[p] for p in ports], name
        assert all(c["params"]["setype"] == "http_port_t" and c["params"]["proto"] == "tcp"
                   and c["params"]["state"] == "present" and c["check"] == check for c in labelled), name
        relabel = [c["argv"] for c in calls if c["module"] == "restorecon"]
        # Check mode runs restorecon -n (reports, changes nothing); the RHEL tree and the TLS dir under it.
        expected = "-R -v %s/etc/httpd /etc/httpd/revproxy-tls" % ("-n " if check else "")
        assert relabel == ([expected] if restore else []), name


def _documented_options(path):
    for node in ast.parse(open(path).read()).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "DOCUMENTATION":
            return yaml.safe_load(node.value.value)["options"]
    raise AssertionError("no DOCUMENTATION in %s" % path)


def _real_module(fqcn_path):
    import glob
    found = glob.glob(os.path.join(os.path.dirname(VENV_BIN), "lib", "python*", "site-packages", "ansible_collections",
                                   fqcn_path))
    if not found:
        pytest.skip("%s is not installed (make setup installs the ansible package that carries it)" % fqcn_path)
    return found[0]


@pytest.mark.parametrize("fqcn_path, recorder", [
    ("ansible/posix/plugins/modules/seboolean.py", "ansible_collections/ansible/posix/plugins/modules/seboolean.py"),
    ("community/general/plugins/modules/seport.py",
     "ansible_collections/community/general/plugins/modules/seport.py"),
])
def test_recorders_have_the_real_modules_arguments(fqcn_path, recorder):
    real = _documented_options(_real_module(fqcn_path))
    text = open(os.path.join(RECORDERS, recorder)).read()
    for option, doc in real.items():
        line = [l for l in text.splitlines() if l.strip().startswith("%s=dict(" % option)][0]
        assert 'type="%s"' % doc.get("type", "str") in line, option
        assert ("required=True" in line) == bool(doc.get("required")), option
    # and the role passes only options the real module has
    with open(os.path.join(ROLE, "tasks", "selinux.yml")) as handle:
        tasks = yaml.safe_load(handle)
    fqcn = ".".join(fqcn_path.split("/")[:2]) + "." + os.path.basename(fqcn_path)[:-3]
    passed = [set(task[fqcn]) for task in tasks if fqcn in task]
    assert passed and all(keys <= set(real) for keys in passed), (passed, sorted(real))
