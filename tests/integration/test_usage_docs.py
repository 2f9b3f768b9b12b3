"""docs/usage.md: every block marked `<!-- file: NAME -->` is written out and checked: inventories load and their
sites pass the role's validation, playbooks pass --syntax-check and ansible-lint (production profile), the AWX and
molecule blocks agree with awx/ and molecule's schema basics, and the AWX project wrapper really runs."""
import json
import os
import re
import subprocess
import sys
import textwrap

import pytest
import yaml

from support.apache_model import normalize_sites

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BIN = os.path.dirname(sys.executable)
BLOCK = re.compile(r"^( *)<!-- file: (\S+) -->\n\1```yaml\n(.*?)\n\1```$", re.M | re.S)


def _blocks():
    with open(os.path.join(ROOT, "docs", "usage.md"), encoding="utf-8") as handle:
        text = handle.read()
    blocks = {}
    for indent, name, body in BLOCK.findall(text):
        lines = [line[len(indent):] if line.startswith(indent) else line for line in body.split("\n")]
        blocks[name] = textwrap.dedent("\n".join(lines)) + "\n"
    return blocks


BLOCKS = _blocks()
PLAYBOOKS = ["proxy.yml", "playbooks/check.yml", "molecule/default/converge.yml", "molecule/default/verify.yml"]


def _env():
    return dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".build", "collections"), ANSIBLE_NOCOLOR="1",
                NO_COLOR="1", PATH=BIN + os.pathsep + os.environ.get("PATH", ""))


@pytest.fixture(scope="module")
def docdir(tmp_path_factory):
    path = tmp_path_factory.mktemp("usage")
    for name, body in BLOCKS.items():
        target = path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("---\n" + body)
    return path


def test_the_blocks_are_found():
    assert sorted(BLOCKS) == sorted(PLAYBOOKS + ["inventory.yml", "collections/requirements.yml", "survey-question.yml",
                                                 "molecule/default/molecule.yml"])


def test_inventory_loads_and_its_sites_are_valid(docdir):
    out = subprocess.run([os.path.join(BIN, "ansible-inventory"), "-i", str(docdir / "inventory.yml"), "--list"],
                         capture_output=True, text=True, check=True, env=_env(), timeout=60).stdout
    data = json.loads(out)
    assert data["revproxy_proxies"]["hosts"] == ["proxy1.example.com"]
    sites = data["_meta"]["hostvars"]["proxy1.example.com"]["apache_proxy_sites"]
    assert [s["name"] for s in normalize_sites(sites)] == ["shop"]


@pytest.mark.parametrize("name", PLAYBOOKS)
def test_playbook_syntax(docdir, name):
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), "--syntax-check", "-i", str(docdir / "inventory.yml"),
                           str(docdir / name)], capture_output=True, text=True, env=_env(), timeout=60, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_playbooks_pass_ansible_lint(docdir):
    proc = subprocess.run([os.path.join(BIN, "ansible-lint"), "--offline", "--profile", "production", "-q",
                           "-c", os.path.join(ROOT, ".ansible-lint")] + PLAYBOOKS,
                          cwd=str(docdir), capture_output=True, text=True, env=_env(), timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_awx_blocks_agree_with_awx_dir(docdir):
    reqs = yaml.safe_load((docdir / "collections" / "requirements.yml").read_text())
    assert reqs["collections"][0]["name"] == "revproxy.tls"
    question = yaml.safe_load((docdir / "survey-question.yml").read_text())
    with open(os.path.join(ROOT, "awx", "job_templates.yml")) as handle:
        templates = yaml.safe_load(handle)["revproxy_awx_job_templates"]
    check = [t for t in templates if t["argspec"] == "check"][0]
    assert question in check["survey_spec"]["spec"]


def test_molecule_scenario_basics(docdir):
    scenario = yaml.safe_load((docdir / "molecule" / "default" / "molecule.yml").read_text())
    assert scenario["dependency"] == {"name": "galaxy", "enabled": False}
    assert scenario["verifier"]["name"] == "ansible"


def test_awx_project_wrapper_runs_a_check(docdir):
    """The project's wrapper playbook as AWX would launch it (Check job type) on an inventory without sites."""
    inventory = docdir / "local.ini"
    inventory.write_text("[revproxy_proxies]\nlocalhost ansible_connection=local ansible_python_interpreter=%s\n"
                         % sys.executable)
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", str(inventory), "--check",
                           "-e", "revproxy_report_dir=%s" % (docdir / "report"), str(docdir / "playbooks" / "check.yml")],
                          capture_output=True, text=True, env=_env(), timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 backends: 0 ok, 0 failed, 0 expiring within 30 days" in proc.stdout
    assert (docdir / "report" / "backend-report.html").exists()
