"""Every module's and plugin's DOCUMENTATION, EXAMPLES and RETURN parse as YAML (sanity's validate-modules says the
same in a minute; this says it in the unit stage, where a change to a module's docs is first tested)."""
import ast
import os

import pytest
import yaml

PLUGINS = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "plugins")
FILES = sorted(os.path.join(kind, name) for kind in ("modules", "filter")
               for name in os.listdir(os.path.join(PLUGINS, kind)) if name.endswith(".py"))


def _doc_strings(path):
    tree = ast.parse(open(path).read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and len(node.targets) == 1:
            name = getattr(node.targets[0], "id", "")
            if name in ("DOCUMENTATION", "EXAMPLES", "RETURN"):
                yield name, node.value.value


@pytest.mark.parametrize("rel", FILES)
def test_docs_are_yaml(rel):
    found = dict(_doc_strings(os.path.join(PLUGINS, rel)))
    assert set(found) == {"DOCUMENTATION", "EXAMPLES", "RETURN"}, rel
    for name, text in found.items():
        assert yaml.safe_load(text) is not None, "%s %s is empty" % (rel, name)
