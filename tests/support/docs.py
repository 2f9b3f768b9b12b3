"""A module's documentation as ansible-doc shows it: its DOCUMENTATION with the collection's doc fragments merged.

ansible-core's own merge (ansible.utils.plugin_docs.add_fragments) is used, with a loader that finds this collection's
fragments by import instead of through the collection loader (which a unit test process does not install).
"""
import ast
import importlib

import yaml

from ansible.utils.plugin_docs import add_fragments

PREFIX = "revproxy.tls."


class FragmentLoader(object):
    """fragment_loader.get() for revproxy.tls.<name>: the ModuleDocFragment class, or None as ansible-core answers."""

    def get(self, name):
        if not name.startswith(PREFIX):
            return None
        try:
            module = importlib.import_module("ansible_collections.revproxy.tls.plugins.doc_fragments." + name[len(PREFIX):])
        except ImportError:
            return None
        return type("ModuleDocFragment", (module.ModuleDocFragment,), {"ansible_name": name})


def own_documentation(path):
    """The DOCUMENTATION literal of a module file, parsed, before any fragment is merged."""
    with open(path) as handle:
        tree = ast.parse(handle.read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and [t.id for t in node.targets if isinstance(t, ast.Name)] == ["DOCUMENTATION"]:
            return yaml.safe_load(node.value.value)
    raise AssertionError("no DOCUMENTATION in %s" % path)


def module_documentation(path):
    """The documentation of the module file at path, with its extends_documentation_fragment merged."""
    doc = own_documentation(path)
    add_fragments(doc, path, fragment_loader=FragmentLoader(), is_module=True)
    return doc
