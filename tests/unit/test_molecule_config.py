"""Molecule scenarios never install this collection into the shared Ansible home.

Molecule's prerun installs the collection from disk into ~/.ansible/collections at each scenario start; ansible-lint
puts that directory first in its collection path, so a lint beside molecule (make test runs them side by side) read
a copy being rewritten, or another checkout's copy. scripts/molecule.sh points ANSIBLE_COLLECTIONS_PATH at the tree
(or at a snapshot of a ref), so the prerun is never needed, and scripts/test.sh gives ansible-lint its own home.
"""
import glob
import os

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_every_scenario_turns_the_prerun_off():
    scenarios = sorted(glob.glob(os.path.join(ROOT, "molecule", "*", "molecule.yml")))
    assert len(scenarios) >= 6
    for path in scenarios:
        with open(path) as f:
            config = yaml.safe_load(f)
        assert config.get("prerun") is False, "%s: set prerun: false" % os.path.relpath(path, ROOT)


def test_lint_has_its_own_ansible_home():
    with open(os.path.join(ROOT, "scripts", "test.sh")) as f:
        script = f.read()
    lint = script[script.index("stage_lint()"):]
    lint = lint[:lint.index("\n}\n")]
    assert 'ANSIBLE_HOME="$home" ansible-lint' in lint and "mktemp -d" in lint
