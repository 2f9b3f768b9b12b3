#!/usr/bin/env bash
# make bench: install the bench-only requirements into the venv (pinned), then run scripts/bench.py.
# Not part of make test. Arguments are passed to bench.py (e.g. `bash scripts/bench.sh --quick`);
# BENCH_RUNS sets how many runs each median is taken over. Converges the SYSTEM Apache (under the shared flock).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || bash scripts/bootstrap.sh
stamp=.venv/.bench-requirements-stamp
want="$(cat requirements/bench.txt requirements/constraints.txt | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "bench: installing requirements/bench.txt into .venv"
    .venv/bin/pip install -q --disable-pip-version-check -r requirements/bench.txt -c requirements/constraints.txt
    echo "$want" > "$stamp"
fi
export ANSIBLE_COLLECTIONS_PATH="$PWD/.build/collections"
export PATH="$PWD/.venv/bin:$PATH"
exec .venv/bin/python scripts/bench.py "$@"
