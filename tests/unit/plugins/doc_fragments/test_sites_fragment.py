"""One source for the site options.

meta/site_options.yml documents the site options in server-neutral words, with each server's notes apart;
scripts/sync_docs.py generates from it the site variables of roles/apache_proxy/meta/argument_specs.yml, the table of
docs/variables.md and the doc fragment plugins/doc_fragments/_sites.py (options `sites` and `backend_tls_defaults`);
the modules validate with the Python argument spec (module_utils/model/_sites.py SITE_SPEC, backend_tls_defaults_spec();
_backend_tls.py BACKEND_TLS_SPEC). These tests check that all of them agree on every option's name, type, elements,
choices, required flag and default (and the argument specs on no_log), that the fragment, the role's argument spec and
the variables page are what sync_docs.py generates, that the source's own descriptions name no server, and that
ansible-core's fragment merge gives each module every nested option.
"""
import copy
import importlib.util
import os
import re

import pytest
import yaml

from ansible_collections.revproxy.tls.plugins.doc_fragments import _sites
from ansible_collections.revproxy.tls.plugins.module_utils.model._backend_tls import (
    BACKEND_TLS_CONTENT_SPEC,
    BACKEND_TLS_DEFAULTS,
    BACKEND_TLS_SPEC,
)
from ansible_collections.revproxy.tls.plugins.module_utils.model._sites import SITE_SPEC, backend_tls_defaults_spec

from support.docs import module_documentation, own_documentation

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
MODULES = ("apache_proxy_sites", "apache_proxy_probe", "backend_handshake", "frontend_certificate")
FRAGMENT_NAME = "revproxy.tls._sites"


def _yaml(*path):
    with open(os.path.join(ROOT, *path)) as handle:
        return yaml.safe_load(handle)


def role_options():
    return _yaml("roles", "apache_proxy", "meta", "argument_specs.yml")["argument_specs"]["main"]["options"]


def fragment_options():
    return yaml.safe_load(_sites.ModuleDocFragment.DOCUMENTATION)["options"]


def flat(options, nested, no_log=False, prefix=""):
    """{'locations[].path': {type, elements, choices, required, default[, no_log]}} for a tree of options.

    nested is the key of the children: 'options' in argument specs, 'suboptions' in documentation.
    """
    rows = {}
    for name, opt in options.items():
        row = {
            "type": opt.get("type", "str"),
            "elements": opt.get("elements"),
            "choices": list(opt["choices"]) if opt.get("choices") is not None else None,
            "required": bool(opt.get("required", False)),
            "default": opt.get("default"),
        }
        if no_log:
            row["no_log"] = bool(opt.get("no_log", False))
        rows[prefix + name] = row
        if opt.get(nested):
            sep = "[]." if opt.get("type") == "list" else "."
            rows.update(flat(opt[nested], nested, no_log, prefix + name + sep))
    return rows


def test_role_sites_match_python_site_spec():
    role = copy.deepcopy(role_options()["apache_proxy_sites"]["options"])
    # SITE_SPEC leaves the backend_tls defaults out (they are layered: collection, then backend_tls_defaults, then
    # the site); test_role_backend_tls_defaults_are_the_python_ones checks them.
    for opt in role["backend_tls"]["options"].values():
        opt.pop("default", None)
    assert flat(role, "options", no_log=True) == flat(SITE_SPEC, "options", no_log=True)


def test_role_backend_tls_matches_python_backend_tls_spec():
    role = role_options()["apache_proxy_sites"]["options"]["backend_tls"]["options"]
    python = dict(BACKEND_TLS_SPEC, **BACKEND_TLS_CONTENT_SPEC)
    assert flat(role, "options", no_log=True) == flat(python, "options", no_log=True)


def test_role_backend_tls_defaults_are_the_python_ones():
    role = role_options()["apache_proxy_sites"]["options"]["backend_tls"]["options"]
    documented = dict((k, v["default"]) for k, v in role.items() if "default" in v)
    assert documented == dict((k, v["default"]) for k, v in BACKEND_TLS_SPEC.items() if "default" in v)
    assert documented == dict((k, v) for k, v in BACKEND_TLS_DEFAULTS.items() if v is not None)


def test_role_defaults_file_matches_argument_spec():
    defaults = _yaml("roles", "apache_proxy", "defaults", "main.yml")
    documented = dict((k, v["default"]) for k, v in role_options().items() if "default" in v)
    assert defaults == documented


def test_fragment_sites_match_python_site_spec():
    sites = fragment_options()["sites"]
    assert (sites["type"], sites["elements"]) == ("list", "dict")
    assert flat(sites["suboptions"], "suboptions") == flat(SITE_SPEC, "options")


def test_fragment_backend_tls_defaults_match_python_spec():
    defaults = fragment_options()["backend_tls_defaults"]
    spec = backend_tls_defaults_spec()
    assert defaults["type"] == spec["type"]
    assert flat(defaults["suboptions"], "suboptions") == flat(spec["options"], "options")


def test_fragment_documents_every_backend_tls_default():
    """The layered defaults are no module defaults; the fragment states each one in its description."""
    backend_tls = fragment_options()["sites"]["suboptions"]["backend_tls"]["suboptions"]
    for key, value in BACKEND_TLS_DEFAULTS.items():
        if value is None:
            continue
        shown = " ".join(value) if isinstance(value, list) else str(value).lower() if isinstance(value, bool) else value
        assert "Default V(%s), unless O(backend_tls_defaults) sets it." % shown in backend_tls[key]["description"]


def _sync_docs():
    spec = importlib.util.spec_from_file_location("sync_docs", os.path.join(ROOT, "scripts", "sync_docs.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_fragment_is_generated_from_argument_spec():
    with open(os.path.join(ROOT, "plugins", "doc_fragments", "_sites.py")) as handle:
        assert handle.read() == _sync_docs().render_fragment(), "run scripts/sync_docs.py"


def test_role_argument_spec_and_variables_page_are_generated_from_the_source():
    for path, text in _sync_docs().generated_files().items():
        with open(path) as handle:
            assert handle.read() == text, "run scripts/sync_docs.py (%s)" % os.path.relpath(path, ROOT)


SERVER_WORDS = re.compile(r"Apache|httpd|SSLProxy|mod_[a-z_]+|AH0[0-9]+|vhost|ProxyPass|"
                          r"<(?:Proxy|Location|VirtualHost)\b")


def _neutral_texts(options, prefix=""):
    for name, opt in options.items():
        desc = opt["description"]
        yield prefix + name, " ".join(desc) if isinstance(desc, list) else desc
        yield from _neutral_texts(opt.get("options", {}), prefix + name + ".")


def test_the_source_describes_options_in_neutral_words():
    """What an option becomes on one server (directive, module, quirk) goes in its server_notes, so that another
    server's role can show its own; every option the Apache role documents keeps its Apache notes."""
    source = _yaml("meta", "site_options.yml")
    assert [(name, SERVER_WORDS.findall(text)) for name, text in _neutral_texts(source)
            if SERVER_WORDS.search(text)] == []
    servers = set(server for _role, server, _prefix in _sync_docs().ROLES)
    notes = [set(opt["server_notes"]) for opt in flat_source(source).values() if "server_notes" in opt]
    assert len(notes) > 50 and all(keys <= servers for keys in notes)


def flat_source(options, prefix=""):
    rows = {}
    for name, opt in options.items():
        rows[prefix + name] = opt
        rows.update(flat_source(opt.get("options", {}), prefix + name + "."))
    return rows


@pytest.mark.parametrize("module", MODULES)
def test_module_gets_every_nested_option_from_the_fragment(module):
    path = os.path.join(ROOT, "plugins", "modules", module + ".py")
    doc = own_documentation(path)
    assert FRAGMENT_NAME in doc["extends_documentation_fragment"]
    for option in ("sites", "backend_tls_defaults"):
        # ansible-core merges a fragment's option into the module's one level deep: the module's own suboptions
        # would replace the fragment's.
        assert "suboptions" not in doc["options"][option], "%s: %s documents its own suboptions" % (module, option)
    doc = module_documentation(path)
    fragment = fragment_options()
    for option in ("sites", "backend_tls_defaults"):
        merged = doc["options"][option]
        assert flat(merged["suboptions"], "suboptions") == flat(fragment[option]["suboptions"], "suboptions")
        assert merged["description"] != fragment[option]["description"], "%s says what it does with %s" % (module, option)


def backends_fragment_options():
    return yaml.safe_load(_sites.ModuleDocFragment.BACKENDS)["options"]


def test_fragment_backends_match_the_checker_spec():
    """backend_handshake's `backends`: documented from the same source as the role's backend_tls (argument_specs.yml),
    with the collection's defaults, and exactly the options the checker validates."""
    from ansible_collections.revproxy.tls.plugins.module_utils.tls._checker import BACKEND_OPTIONS
    documented = backends_fragment_options()["backends"]["suboptions"]
    assert flat(documented, "suboptions") == flat(BACKEND_OPTIONS, "options")
    role = role_options()["apache_proxy_sites"]["options"]["backend_tls"]["options"]
    for key in BACKEND_TLS_SPEC:
        assert documented[key]["description"] == role[key]["description"] or key == "verify", key


def test_backend_handshake_gets_backends_suboptions_from_the_fragment():
    path = os.path.join(ROOT, "plugins", "modules", "backend_handshake.py")
    assert "suboptions" not in own_documentation(path)["options"]["backends"]
    doc = module_documentation(path)
    backends = doc["options"]["backends"]
    assert (backends["type"], backends["elements"]) == ("list", "dict")
    assert set(backends["suboptions"]) == {"url", "preserve_host", "host", "ssl_name", "ssl_server_name"} | set(BACKEND_TLS_SPEC)
