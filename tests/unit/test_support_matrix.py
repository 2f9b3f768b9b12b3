"""The support matrix in one place: meta/runtime.yml's requires_ansible is the oldest ansible-core the matrix stage of
scripts/test.sh runs (requirements/matrix-oldest.txt); the role, docs/support-matrix.md, the development venv and the
execution environment agree with it; the playbooks validate their inputs in a way that oldest ansible-core runs.
"""
import os
import re

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLAYBOOKS = ("site", "check", "diagnose")


def _read(*parts):
    with open(os.path.join(ROOT, *parts), encoding="utf-8") as handle:
        return handle.read()


def _pin(path, name):
    """The version pinned with `name==X.Y.Z` in a requirements file (or any text)."""
    match = re.search(r"(?im)^\s*(?:package_pip:\s*)?%s==([0-9.]+)\s*$" % re.escape(name), _read(*path))
    assert match, (path, name)
    return tuple(int(p) for p in match.group(1).split("."))


OLDEST = _pin(("requirements", "matrix-oldest.txt"), "ansible-core")


def test_requires_ansible_is_the_oldest_tested_core():
    runtime = yaml.safe_load(_read("meta", "runtime.yml"))
    assert runtime["requires_ansible"] == ">=%d.%d.0" % OLDEST[:2]
    assert OLDEST[:2] <= (2, 16)  # what execution environments in use ship (issue 14)


def test_role_minimum_matches():
    meta = yaml.safe_load(_read("roles", "apache_proxy", "meta", "main.yml"))
    assert meta["galaxy_info"]["min_ansible_version"] == "%d.%d" % OLDEST[:2]


@pytest.mark.parametrize("path", [("requirements", "dev.txt"), ("awx", "execution-environment.yml")])
def test_newest_pins_are_supported(path):
    newest = _pin(path, "ansible-core")
    assert newest >= OLDEST
    # the same newest core in the development venv (the other stages) and the EE
    assert newest == _pin(("requirements", "dev.txt"), "ansible-core")


def test_matrix_stage_runs_the_oldest_core_and_both_node_pythons():
    script = _read("scripts", "test.sh")
    assert re.search(r"stages=\([^)]*\bmatrix\b", script)
    for name in ("matrix-oldest.txt", "matrix-py39.txt", "matrix-py313.txt"):
        assert "requirements/%s" % name in script
        assert os.path.exists(os.path.join(ROOT, "requirements", name))


def test_support_matrix_page_states_the_matrix():
    page = _read("docs", "support-matrix.md")
    section = page[page.index("## Support matrix"):]
    section = section[:section.index("\n#", 1)]
    assert 'requires_ansible: ">=%d.%d.0"' % OLDEST[:2] in section
    assert "| %d.%d.%d, the oldest" % OLDEST in section
    assert "| %d.%d.%d, the newest" % _pin(("requirements", "dev.txt"), "ansible-core") in section
    for python in ("3.9", "3.13"):
        assert "Python %s" % python in section


@pytest.mark.parametrize("name", PLAYBOOKS)
def test_playbook_validates_inputs_on_the_oldest_core(name):
    """The play keyword validate_argspec needs ansible-core 2.20: each play's first task validates instead, against
    the argument spec of its <name>.meta.yml."""
    plays = yaml.safe_load(_read("playbooks", "%s.yml" % name))
    meta = yaml.safe_load(_read("playbooks", "%s.meta.yml" % name))
    assert name in meta["argument_specs"]
    for play in plays:
        assert "validate_argspec" not in play
    first = plays[0]
    assert not first.get("pre_tasks") and not first.get("roles")
    task = first["tasks"][0]
    assert task["tags"] == ["always"]
    spec = task["ansible.builtin.validate_argument_spec"]["argument_spec"]
    assert "lookup('ansible.builtin.file', '%s.meta.yml')" % name in spec
    assert spec.replace(" ", "").endswith(".argument_specs.%s.options}}" % name)
