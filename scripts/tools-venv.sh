#!/usr/bin/env bash
# The packaging and docs tools (galaxy-importer, antsibull-docs, Sphinx) in their own venv, .build/tools-venv, from
# requirements/tools.txt pinned by requirements/tools-constraints.txt. Called by scripts/bootstrap.sh (make setup).
# Idempotent: a second run installs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.build/tools-venv
stamp=$venv/.requirements-stamp
want="$(cat requirements/tools.txt requirements/tools-constraints.txt | sha256sum | cut -d' ' -f1)"
if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    exit 0
fi
if [ ! -x "$venv/bin/python" ]; then
    echo "tools-venv: creating $venv with $(readlink -f .venv/bin/python)"
    .venv/bin/python -m venv "$venv"
fi
"$venv/bin/pip" install -q --disable-pip-version-check -r requirements/tools.txt -c requirements/tools-constraints.txt
echo "$want" > "$stamp"
