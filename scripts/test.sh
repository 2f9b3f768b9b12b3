#!/usr/bin/env bash
# The test suite behind `make test` (and `make lint|sanity|unit|integration`). Run scripts/bootstrap.sh first
# (the Makefile does). Every stage runs (in two lanes: see below); the exit status is non-zero if any failed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
export PATH="$ROOT/.venv/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$ROOT/.build/collections"
export ANSIBLE_CONFIG="$ROOT/tests/ansible.cfg"
export ANSIBLE_NOCOLOR=1 PY_COLORS=0

stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(lint sanity unit package integration compat matrix molecule)
failed=()
declare -A took

stage_lint() {
    # Generated docs must be current before linting what they feed.
    python scripts/sync_docs.py --check || return 1
    # Its own ANSIBLE_HOME, new for each run: ansible-lint puts $ANSIBLE_HOME/collections first in the collection path,
    # and a copy of this collection there (another checkout's, or one molecule rewrites beside it) would be linted
    # instead of this tree; its mock modules (.ansible-lint's mock_modules) are written there too, per run.
    local home rc
    mkdir -p "$ROOT/.build" && home=$(mktemp -d "$ROOT/.build/lint-home.XXXXXX") || return 1
    ANSIBLE_HOME="$home" ansible-lint --offline --profile production -q
    rc=$?
    rm -rf "$home"
    return $rc
}

# ansible-test needs the collection under .../ansible_collections/<ns>/<name> and fetches a get-pip script that
# is unreachable offline: a stand-in bootstraps pip from ensurepip, then installs what ansible-test asks for.
# sanity_tree DIR: that copy under DIR, with the stand-in in place; prints the collection's path in it. Fails (and
# prints nothing) when any step fails or the copy does not hold every file git would ship.
sanity_tree() {
    local pipver cache tree want got
    pipver=$(python -c 'import re,ansible_test,os; p=os.path.join(os.path.dirname(ansible_test.__file__),"_internal","python_requirements.py"); print(re.search(r"pip=.([0-9.]+)", open(p).read()).group(1))') \
        || return 1
    cache="$HOME/.ansible/test/cache/get_pip_${pipver//./_}.py"
    mkdir -p "$(dirname "$cache")" || return 1
    cat > "$cache" <<'PYEOF' || return 1
# Offline stand-in for get-pip.py (written by revproxy.tls scripts/test.sh): ensurepip, then pip install the rest.
import subprocess
import sys
subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"])
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
if args:
    subprocess.check_call([sys.executable, "-m", "pip", "install", "--disable-pip-version-check"] + args)
PYEOF
    # Outside this work tree (ansible-test skips files git ignores, and .build is ignored), with only what git would
    # ship: tracked and new files, not ignored ones (nor tracked files deleted in the work tree: --ignore-missing-args).
    tree="$1/ansible_collections/revproxy/tls"
    rm -rf "$tree" && mkdir -p "$tree" || return 1
    git ls-files -z --cached --others --exclude-standard \
        | rsync -a --from0 --files-from=- --ignore-missing-args ./ "$tree/" || { echo "sanity: copying the tree failed" >&2; return 1; }
    # Every file git lists and the work tree has must be in the copy: a sanity run over a partial or empty copy
    # would pass without checking.
    want=$(git ls-files -z --cached --others --exclude-standard | python -c 'import os,sys; print(sum(1 for p in sys.stdin.buffer.read().split(b"\0") if p and os.path.lexists(p)))') || return 1
    got=$(find "$tree" ! -type d | wc -l)
    if [ "$want" -lt 50 ] || [ "$got" -ne "$want" ] || [ ! -f "$tree/galaxy.yml" ]; then
        echo "sanity: the copy in $tree holds $got files; git lists $want (and galaxy.yml must be there)" >&2
        return 1
    fi
    echo "$tree"
}
# sanity_run TREE MIN ARGS...: ansible-test sanity ARGS in TREE; fails on its failure, on any sanity test it skipped
# (a program, a Python or a virtual environment missing: ansible-test only warns and passes), on "All targets
# skipped", and when fewer than MIN sanity tests ran.
sanity_run() {
    local tree=$1 min=$2 log rc ran
    shift 2
    log=$(mktemp) || return 1
    (cd "$tree" && ansible-test sanity "$@") 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    if grep -E 'Skipping sanity test|Required program "[^"]*" not found|All targets skipped' "$log" >/dev/null; then
        echo "sanity: ansible-test skipped something (the lines above: Skipping / Required program / All targets skipped): FAILED"
        rc=1
    fi
    ran=$(grep -c '^Running sanity test' "$log")
    if [ "$ran" -lt "$min" ]; then
        echo "sanity: $ran sanity tests ran, expected at least $min: FAILED"
        rc=1
    fi
    rm -f "$log"
    return "$rc"
}
stage_sanity() {
    local pyver tree
    tree=$(sanity_tree "${TMPDIR:-/tmp}/revproxy-tls-sanity") || return 1
    pyver=$(python -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    # ansible-test 2.21 runs 24 sanity tests on this collection (README "Tests").
    sanity_run "$tree" 24 --venv --python "$pyver" --color no
}

stage_unit() {
    python -m pytest -q -rs -p no:cacheprovider tests/unit
}

# The package users install: the tarball built from a checkout that lint, pytest and the EE recipe have run in holds
# only allowed files, passes galaxy-importer (offline, from the tools venv), and revproxy.tls.check run from the
# installed copy writes its report in the caller's directory; the docs site of make docs renders (tests/package).
stage_package() {
    # The docs site test renders every page in headless Chromium.
    if ! command -v chromium >/dev/null 2>&1; then
        echo "installing chromium for the docs site test (apt)"
        apt-get -o DPkg::Lock::Timeout=600 update -qq && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq chromium >/dev/null || return 1
    fi
    python -m pytest -q -rs -p no:cacheprovider --durations=8 tests/package
}

stage_integration() {
    # The report test renders HTML in a real headless browser.
    if ! command -v chromium >/dev/null 2>&1; then
        echo "installing chromium for the report test (apt)"
        apt-get -o DPkg::Lock::Timeout=600 update -qq && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq chromium >/dev/null || return 1
    fi
    python -m pytest -q -rs -p no:cacheprovider --durations=25 tests/integration
}

# The checker against real Apache once more, on Debian 12's own python3 (3.11), python3-openssl (23.0) and
# python3-cryptography (38): the oldest libraries a stock proxy host has.
stage_compat() {
    local venv="$ROOT/.build/debian-venv" missing=()
    for pkg in python3-openssl python3-cryptography python3-venv; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        apt-get -o DPkg::Lock::Timeout=600 update -qq && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${missing[@]}" >/dev/null || return 1
    fi
    if [ ! -x "$venv/bin/python" ]; then
        /usr/bin/python3 -m venv --system-site-packages "$venv" || return 1
    fi
    "$venv/bin/pip" install -q --disable-pip-version-check -r requirements/debian-compat.txt || return 1
    # The libraries must be the oldest the checker supports (_pyopenssl_compat.MIN_VERSIONS), or the stage tests
    # something else than it says.
    "$venv/bin/python" - "$ROOT/.build/collections" <<'PYEOF' || return 1
import sys
sys.path.insert(0, sys.argv[1])
import OpenSSL, cryptography  # noqa: E401
from ansible_collections.revproxy.tls.plugins.module_utils.tls._pyopenssl_compat import MIN_VERSIONS
have = {"pyOpenSSL": OpenSSL.__version__, "cryptography": cryptography.__version__}
print("compat: pyOpenSSL %(pyOpenSSL)s, cryptography %(cryptography)s" % have, "(minimums: %s)" % MIN_VERSIONS)
wrong = [name for name, least in MIN_VERSIONS.items() if have[name].split(".")[:len(least.split("."))] != least.split(".")]
if wrong:
    sys.exit("compat: %s not at the supported minimum %s" % (", ".join(wrong), MIN_VERSIONS))
PYEOF
    "$venv/bin/python" -m pytest -q -rs -p no:cacheprovider tests/integration/test_backend_handshake_oracle.py
}

# The support matrix (README "Support matrix"). The other stages run the newest ansible-core (.venv) with the modules
# on Python 3.12; this one adds, with its own venvs under .build/ (pinned in requirements/matrix-*.txt):
#   - the oldest ansible-core (meta/runtime.yml requires_ansible) on the controller, the modules on the oldest
#     managed-node Python (3.9, with the oldest pyOpenSSL/cryptography): the Apache oracle, backend_handshake through
#     ansible-playbook (also --check), one role converge, the check playbook and its argument validation as AWX jobs,
#     and ansible-test's compile and import tests on 3.9;
#   - the newest ansible-core with the modules on the newest managed-node Python here (3.13): the Apache oracle.
matrix_python() {  # matrix_python 3.9: an interpreter of that version, from PATH or pyenv's versions
    local want=$1 c v root
    c=$(command -v "python$want" 2>/dev/null) && "$c" -c "import sys; sys.exit(sys.version_info[:2] != (${want/./, }))" \
        2>/dev/null && { echo "$c"; return 0; }
    root=$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
    for v in $(find "$root/versions" -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | sort -rV); do
        c="$root/versions/$v/bin/python3"
        [ -x "$c" ] && "$c" -c "import sys; sys.exit(sys.version_info[:2] != (${want/./, }))" 2>/dev/null \
            && { echo "$c"; return 0; }
    done
    echo "matrix: no Python $want found (PATH, or pyenv's versions in $root)" >&2
    return 1
}
matrix_venv() {  # matrix_venv DIR PYTHON REQUIREMENTS: create once, (re)install when the requirements file changes
    local dir=$1 py=$2 req=$3 want
    want=$(sha256sum "$req" | cut -d' ' -f1)
    [ -x "$dir/bin/python" ] && [ "$(cat "$dir/.requirements-stamp" 2>/dev/null)" = "$want" ] && return 0
    [ -x "$dir/bin/python" ] || "$py" -m venv "$dir" || return 1
    "$dir/bin/pip" install -q --disable-pip-version-check -r "$req" || return 1
    echo "$want" > "$dir/.requirements-stamp"
}
stage_matrix() {
    local py39 py313 old="$ROOT/.build/matrix-controller-oldest" m39="$ROOT/.build/matrix-node-py3.9"
    local m313="$ROOT/.build/matrix-node-py3.13" rc=0
    py39=$(matrix_python 3.9) && py313=$(matrix_python 3.13) || return 1
    matrix_venv "$old" "$(python -c 'import sys; print(sys._base_executable)')" requirements/matrix-oldest.txt \
        && matrix_venv "$m39" "$py39" requirements/matrix-py39.txt \
        && matrix_venv "$m313" "$py313" requirements/matrix-py313.txt || return 1
    echo "matrix: ansible-core $("$old/bin/python" -c 'import ansible.release as r; print(r.__version__)'), modules on $("$m39/bin/python" -V 2>&1)"
    REVPROXY_TEST_MODULE_PYTHON="$m39/bin/python" "$old/bin/python" -m pytest -q -rs -p no:cacheprovider --durations=5 \
        tests/integration/test_backend_handshake_oracle.py tests/integration/test_backend_handshake_playbook.py \
        tests/integration/test_apache_proxy_role.py::test_proxy_verifies_backend_and_sends_its_sni \
        tests/integration/test_playbooks_awx.py::test_survey_mistakes_fail_clearly \
        tests/integration/test_playbooks_awx.py::test_check_job_of_type_check || rc=1
    echo "matrix: ansible-core $(python -c 'import ansible.release as r; print(r.__version__)'), modules on $("$m313/bin/python" -V 2>&1)"
    # (the three startup cases of no_cipher_match are one ansible-playbook run each: on 3.9 only)
    REVPROXY_TEST_MODULE_PYTHON="$m313/bin/python" python -m pytest -q -rs -p no:cacheprovider --durations=5 \
        tests/integration/test_backend_handshake_oracle.py -k "not no_cipher_match" || rc=1
    # Every module and module_utils file compiles and imports on the oldest managed-node Python (ansible-test's
    # compile and import tests, which the sanity stage runs on 3.12 only).
    local tree
    tree=$(sanity_tree "${TMPDIR:-/tmp}/revproxy-tls-matrix") || return 1
    PATH="$PATH:$(dirname "$py39")" sanity_run "$tree" 2 --venv --python 3.9 --color no \
        --test compile --test import || rc=1
    return $rc
}

# Molecule scenarios in Docker (scripts/molecule.sh starts and stops its own daemon).
stage_molecule() {
    bash scripts/molecule.sh
}

# Two lanes. The background lane runs molecule, sanity, compat and matrix (those of them asked for), one after another;
# the foreground lane the others (lint, unit, package, integration), one after another, with their output as it
# comes. Most of the time of molecule and integration, the two long stages, is waiting (container start-up, graceful
# restarts, health checks, TLS timeouts), not CPU. Why they can overlap: molecule has its own dockerd, containers (no
# published ports) and lock, and touches neither the system Apache nor its lock; compat and matrix use private Apache
# instances on free ports and, for the system Apache, the same flock as integration (no stage holds one lock while
# waiting for the other, so no deadlock); sanity works on a copy of the tree. Molecule's tools (apt, pip into .venv)
# are installed first, in the foreground, so no stage sees .venv change under it. Each background stage's output is
# kept in a log and printed as one block when the stage ends; its status and time count like any other stage's.
# REVPROXY_TEST_SERIAL=1 runs every stage one after another, in the foreground.
BACKGROUND=(molecule sanity compat matrix)

lane_run() {  # internal (test.sh --lane DIR STAGE...): the stages one after another; output, status, time in DIR
    local dir=$1 stage start rc
    shift
    for stage in "$@"; do
        start=$(date +%s)
        if "stage_$stage" >"$dir/$stage.log" 2>&1 </dev/null; then rc=0; else rc=1; fi
        echo $(( $(date +%s) - start )) > "$dir/$stage.took"
        echo "$rc" > "$dir/$stage.rc"
    done
}
if [ "${1:-}" = --lane ]; then
    shift
    lane_run "$@"
    exit 0
fi

lane=() lane_dir='' lane_waiter='' lane_reported=0
lane_start() {
    mkdir -p "$ROOT/tests/output"
    lane_dir=$(mktemp -d "$ROOT/tests/output/test-lane.XXXXXX")
    echo "=== background lane: ${lane[*]} (one after another, next to the other stages; each one's output follows when it ends)"
    (
        # Its own session, so that an interrupt can stop all of it (molecule.sh then stops its dockerd and restores
        # the host's network state).
        # shellcheck disable=SC2016
        setsid -w bash -c 'echo $$ > "$0/pid"; exec bash scripts/test.sh --lane "$0" "$@"' "$lane_dir" "${lane[@]}" \
            >"$lane_dir/lane.log" 2>&1 </dev/null
    ) &
    lane_waiter=$!
}
lane_report() {  # print the background stages that have ended, in lane order; with "wait", wait for the lane first
    local stage status
    [ -n "$lane_dir" ] || return 0
    if [ "${1:-}" = wait ] && [ "$lane_reported" -lt ${#lane[@]} ]; then
        echo "=== (waiting for the background lane: ${lane[*]:$lane_reported})"
        wait "$lane_waiter"
    fi
    while [ "$lane_reported" -lt ${#lane[@]} ]; do
        stage=${lane[$lane_reported]}
        if [ -s "$lane_dir/$stage.rc" ]; then
            echo "=== $stage (ran in the background; its output, kept in $lane_dir/$stage.log)"
            cat "$lane_dir/$stage.log"
            if [ "$(cat "$lane_dir/$stage.rc")" = 0 ]; then status=ok; else status=FAILED; failed+=("$stage"); fi
            took[$stage]=$(cat "$lane_dir/$stage.took")
            echo "=== $stage: $status (${took[$stage]} s)"
        elif [ "${1:-}" = wait ]; then   # the lane ended without finishing it: not run, or cut short
            echo "=== $stage (background lane ended before it finished; lane output:)"
            cat "$lane_dir/lane.log" "$lane_dir/$stage.log" 2>/dev/null
            failed+=("$stage"); took[$stage]="-"
            echo "=== $stage: FAILED (did not finish)"
        else
            return 0
        fi
        lane_reported=$(( lane_reported + 1 ))
    done
}
lane_stop() {  # interrupted: stop the background lane and wait for it to clean up
    if [ -n "$lane_waiter" ] && [ -s "$lane_dir/pid" ] && kill -0 "$lane_waiter" 2>/dev/null; then
        echo "=== stopping the background lane (session $(cat "$lane_dir/pid")); its output is in $lane_dir"
        kill -TERM -- "-$(cat "$lane_dir/pid")" 2>/dev/null
        wait "$lane_waiter"
    fi
}
trap 'lane_stop; exit 130' INT TERM

t0=$(date +%s)
fg_stages=()
if [ ${#stages[@]} -gt 1 ] && [ -z "${REVPROXY_TEST_SERIAL:-}" ]; then
    for b in "${BACKGROUND[@]}"; do
        for stage in "${stages[@]}"; do [ "$stage" = "$b" ] && lane+=("$stage"); done
    done
    for stage in "${stages[@]}"; do
        [[ " ${lane[*]} " == *" $stage "* ]] || fg_stages+=("$stage")
    done
    [ ${#fg_stages[@]} -gt 0 ] || { fg_stages=("${stages[@]}"); lane=(); }   # nothing to overlap with
else
    fg_stages=("${stages[@]}")
fi
if [[ " ${lane[*]} " == *" molecule "* ]]; then
    echo "=== molecule: installing its tools first (apt, pip into .venv)"
    if ! bash scripts/molecule.sh --prepare; then
        echo "=== molecule: FAILED (its tools could not be installed)"
        failed+=(molecule); took[molecule]="-"
        mapfile -t lane < <(printf '%s\n' "${lane[@]}" | grep -vx molecule)
    fi
fi
[ ${#lane[@]} -eq 0 ] || lane_start
# Each foreground stage's output is also kept in a log, so that the summary can repeat the end of a failed stage's
# output (a CI page that shows only the end of a run then still shows why a stage early in it failed).
fg_logs=$(mktemp -d "$ROOT/tests/output/test-stages.XXXXXX" 2>/dev/null || { mkdir -p "$ROOT/tests/output" && mktemp -d "$ROOT/tests/output/test-stages.XXXXXX"; })
for stage in "${fg_stages[@]}"; do
    echo "=== $stage"
    start=$(date +%s)
    if "stage_$stage" 2>&1 | tee "$fg_logs/$stage.log"; then status=ok; else status=FAILED; failed+=("$stage"); fi
    took[$stage]=$(( $(date +%s) - start ))
    echo "=== $stage: $status (${took[$stage]} s)"
    lane_report
done
lane_report wait
echo "=== summary"
for stage in "${stages[@]}"; do
    if [[ " ${lane[*]} " == *" $stage "* ]]; then
        echo "  $stage: ${took[$stage]} s (background lane)"
    else
        echo "  $stage: ${took[$stage]} s"
    fi
done
echo "  total: $(( $(date +%s) - t0 )) s (wall clock)"
if [ ${#failed[@]} -gt 0 ]; then
    for stage in "${failed[@]}"; do
        log="$fg_logs/$stage.log"
        [ -s "$log" ] || [ -z "$lane_dir" ] || log="$lane_dir/$stage.log"
        [ -s "$log" ] || continue
        echo "=== the end of $stage's output (all of it: $log)"
        tail -n 40 "$log"
    done
    echo "FAILED stages: ${failed[*]}"
    exit 1
fi
echo "all stages passed"
