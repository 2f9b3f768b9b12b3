#!/usr/bin/env bash
# sslyze (the TLS scanner tests/integration/test_public_side.py runs against the frontend) in its own venv,
# .build/sslyze-venv, from requirements/sslyze.txt (fully pinned; sslyze needs a cryptography older than the main
# venv's). Called by scripts/bootstrap.sh (make setup). Idempotent: a second run installs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.build/sslyze-venv
stamp=$venv/.requirements-stamp
want="$(sha256sum requirements/sslyze.txt | cut -d' ' -f1)"
if [ -x "$venv/bin/sslyze" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    exit 0
fi
if [ ! -x "$venv/bin/python" ]; then
    echo "sslyze-venv: creating $venv with $(readlink -f .venv/bin/python)"
    .venv/bin/python -m venv "$venv"
fi
"$venv/bin/pip" install -q --disable-pip-version-check --no-deps -r requirements/sslyze.txt
echo "$want" > "$stamp"
