"""Copy the documentation of apache_proxy_sites from the role's argument spec into the modules that take it.

roles/apache_proxy/meta/argument_specs.yml is the one place where site options are documented; each module whose
`sites` option takes them (apache_proxy_sites, apache_proxy_probe, ...) holds a generated copy in its DOCUMENTATION
between the BEGIN/END GENERATED markers (validate-modules needs a literal).
The backend_tls defaults are left out of the module's copy: there they come from the role's layered defaults.

Usage: sync_docs.py [--check]   (--check exits 1 when the module is out of date)
"""
import copy
import glob
import os
import re
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ARGSPEC = os.path.join(ROOT, "roles", "apache_proxy", "meta", "argument_specs.yml")
MODULES = os.path.join(ROOT, "plugins", "modules")
README = os.path.join(ROOT, "README.md")
TABLE_BEGIN = "<!-- BEGIN GENERATED role variables (scripts/sync_docs.py) -->\n"
TABLE_END = "<!-- END GENERATED role variables -->\n"
BEGIN = "    # BEGIN GENERATED from roles/apache_proxy/meta/argument_specs.yml by scripts/sync_docs.py\n"
END = "    # END GENERATED\n"
# The suboptions of backend_tls_defaults: the backend_tls options without defaults (the *_content ones are listed so
# that a key given there is no_log, and refused).
DEF_BEGIN = "    # BEGIN GENERATED backend_tls_defaults from roles/apache_proxy/meta/argument_specs.yml by scripts/sync_docs.py\n"
DEF_END = "    # END GENERATED backend_tls_defaults\n"


def _strip(options, key):
    for opt in options.values():
        opt.pop(key, None)
        _strip(opt.get("options", {}), key)


def _suboptions(options):
    """Role argument specs nest with 'options', module documentation with 'suboptions'."""
    for opt in options.values():
        if "options" in opt:
            opt["suboptions"] = _suboptions(opt.pop("options"))
    return options


def site_options():
    with open(ARGSPEC) as handle:
        spec = yaml.safe_load(handle)
    options = copy.deepcopy(spec["argument_specs"]["main"]["options"]["apache_proxy_sites"]["options"])
    _strip(options, "no_log")  # role argument specs take no_log; module documentation does not
    for opt in options["backend_tls"]["options"].values():
        if "default" in opt:
            default = opt.pop("default")
            desc = opt["description"] if isinstance(opt["description"], list) else [opt["description"]]
            if isinstance(default, list):
                shown = " ".join(default)
            else:
                shown = str(default).lower() if isinstance(default, bool) else default
            opt["description"] = desc + ["Default V(%s), unless O(backend_tls_defaults) sets it." % shown]
    return options


def render_defaults():
    options = copy.deepcopy(site_options()["backend_tls"]["options"])
    for key, opt in options.items():
        desc = [d for d in (opt["description"] if isinstance(opt["description"], list) else [opt["description"]])
                if "unless O(backend_tls_defaults) sets it" not in d]
        if key.endswith("_content"):
            desc = ["Not accepted here (contents are deployed per site); refused with an error, never logged."]
        opt["description"] = desc
    text = yaml.safe_dump({"suboptions": _suboptions(options)}, sort_keys=False, width=110, default_flow_style=False)
    text = text.replace("O(apache_proxy_sites[].", "O(sites[].")
    text = text.replace("O(apache_proxy_backend_tls_defaults)", "O(backend_tls_defaults)")
    body = "".join("    " + line + "\n" if line else "\n" for line in text.splitlines())
    return DEF_BEGIN + body + DEF_END


def render():
    text = yaml.safe_dump({"suboptions": _suboptions(site_options())}, sort_keys=False, width=110, default_flow_style=False)
    text = text.replace("O(apache_proxy_sites[].", "O(sites[].")
    text = text.replace("O(apache_proxy_backend_tls_defaults)", "O(backend_tls_defaults)")
    body = "".join("    " + line + "\n" if line else "\n" for line in text.splitlines())
    return BEGIN + body + END


def _text(desc):
    text = " ".join(desc) if isinstance(desc, list) else str(desc)
    text = re.sub(r"\b[CVOM]\(([^()]*(?:\([^()]*\)[^()]*)*)\)", r"`\1`", text)  # Ansible markup -> Markdown
    return text.replace("|", "\\|").replace("\n", " ")


def _default(opt):
    if "default" not in opt:
        return ""
    value = opt["default"]
    if isinstance(value, bool):
        return "`%s`" % str(value).lower()
    if isinstance(value, list):
        return "`[%s]`" % ", ".join(str(v) for v in value)
    return "`%s`" % (value if value != {} else "{}")


def _rows(options, prefix=""):
    for name, opt in options.items():
        kind = opt.get("type", "str") + ("/" + opt["elements"] if opt.get("elements") else "")
        if opt.get("choices"):
            kind += " (%s)" % ", ".join(str(c) for c in opt["choices"])
        yield "| `%s%s` | %s | %s | %s |" % (prefix, name, kind, _default(opt), _text(opt["description"]))
        if "options" in opt:
            sep = "[]." if opt.get("type") == "list" else "."
            yield from _rows(opt["options"], prefix + name + sep)


def readme_table():
    with open(ARGSPEC) as handle:
        spec = yaml.safe_load(handle)
    rows = ["| variable | type | default | description |", "|---|---|---|---|"]
    rows.extend(_rows(spec["argument_specs"]["main"]["options"]))
    return TABLE_BEGIN + "\n".join(rows) + "\n" + TABLE_END


def main():
    stale = []
    with open(README) as handle:
        readme = handle.read()
    start, end = readme.index(TABLE_BEGIN), readme.index(TABLE_END) + len(TABLE_END)
    updated_readme = readme[:start] + readme_table() + readme[end:]
    if updated_readme != readme:
        stale.append(README)
        if "--check" not in sys.argv:
            with open(README, "w") as handle:
                handle.write(updated_readme)
    block = render()
    for module in sorted(glob.glob(os.path.join(MODULES, "*.py"))):
        with open(module) as handle:
            source = handle.read()
        if BEGIN not in source:
            continue
        start, end = source.index(BEGIN), source.index(END) + len(END)
        updated = source[:start] + block + source[end:]
        if DEF_BEGIN in updated:
            start, end = updated.index(DEF_BEGIN), updated.index(DEF_END) + len(DEF_END)
            updated = updated[:start] + render_defaults() + updated[end:]
        if updated == source:
            continue
        stale.append(module)
        if "--check" not in sys.argv:
            with open(module, "w") as handle:
                handle.write(updated)
    if stale and "--check" in sys.argv:
        print("out of date (run scripts/sync_docs.py): %s" % ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
