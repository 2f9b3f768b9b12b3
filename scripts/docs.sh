#!/usr/bin/env bash
# make docs: the collection's documentation site, built the way docs.ansible.com builds collection docs: antsibull-docs
# renders every module, filter and role (with its argument spec) to reStructuredText, Sphinx with the Ansible theme
# turns it into HTML. Output: .build/docs/html/index.html (open it in a browser). Offline: no intersphinx inventories
# are fetched; references into the Ansible docs and other collections become plain external links.
# Tools: the tools venv (scripts/tools-venv.sh, make setup). Checked in headless Chromium by tests/package/test_docs_site.py.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TOOLS="$ROOT/.build/tools-venv/bin"
OUT="${1:-$ROOT/.build/docs}"
[ -x "$TOOLS/antsibull-docs" ] || bash scripts/tools-venv.sh
export PATH="$TOOLS:$PATH" ANSIBLE_COLLECTIONS_PATH="$ROOT/.build/collections"
unset ANSIBLE_CONFIG

rm -rf "$OUT" && mkdir -p "$OUT"
antsibull-docs sphinx-init --use-current --dest-dir "$OUT" --project "revproxy.tls" \
    --title "revproxy.tls documentation" --html-short-title "revproxy.tls" revproxy.tls >/dev/null
cat >> "$OUT/conf.py" <<'PYEOF'

# --- revproxy.tls (scripts/docs.sh): an offline build. No intersphinx inventory is fetched; a reference into the
# Ansible docs or another collection becomes an external link to docs.ansible.com instead of a warning.
import re as _re

from docutils import nodes as _nodes

intersphinx_mapping = {}
_ANSIBLE_DOCS = "https://docs.ansible.com/projects/ansible/latest/"
_EXTERNAL_LABELS = {
    "common_return_values": _ANSIBLE_DOCS + "reference_appendices/common_return_values.html",
    "ansible_configuration_settings": _ANSIBLE_DOCS + "reference_appendices/config.html",
}
_OTHER_COLLECTION = _re.compile(r"ansible_collections\.([a-z0-9_]+)\.([a-z0-9_]+)\.([a-z0-9_]+)_(module|role|[a-z]+)$")


def _external_reference(app, env, node, contnode):
    if node.get("reftype") != "ref":
        return None
    target = node.get("reftarget", "")
    url = _EXTERNAL_LABELS.get(target)
    match = _OTHER_COLLECTION.match(target)
    if match and (match.group(1), match.group(2)) != ("revproxy", "tls"):
        url = _ANSIBLE_DOCS + "collections/%s/%s/%s_%s.html" % match.groups()
    if not url:
        return None  # a missing label of this collection stays a warning (the build runs with -W)
    ref = _nodes.reference("", "", internal=False, refuri=url)
    ref.append(contnode)
    return ref


def _home_link(app, pagename, templatename, context, doctree):
    # The theme links its logo to documentation_home_url ("/", the web server's root): this site's own index instead.
    context["theme_documentation_home_url"] = context["pathto"]("index")


def setup(app):
    app.connect("missing-reference", _external_reference)
    app.connect("html-page-context", _home_link)
PYEOF
(cd "$OUT" && bash build.sh >"$OUT/build.log" 2>&1) || { tail -40 "$OUT/build.log" >&2; exit 1; }
pages=$(find "$OUT/build/html" -name '*.html' | wc -l)
echo "docs: $pages pages in $OUT/build/html (index: $OUT/build/html/index.html)"
