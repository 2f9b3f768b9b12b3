#!/usr/bin/env bash
# The test suite behind `make test` (and `make lint|sanity|unit|integration`). Run scripts/bootstrap.sh first
# (the Makefile does). Every stage runs (molecule next to the others: see below); the exit status is non-zero if any
# failed.
set -uo pipefail
cd "$(dirname "$0")/.."
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
    ansible-lint --offline --profile production -q
}

# ansible-test needs the collection under .../ansible_collections/<ns>/<name> and fetches a get-pip script that
# is unreachable offline: a stand-in bootstraps pip from ensurepip, then installs what ansible-test asks for.
# sanity_tree DIR: that copy under DIR, with the stand-in in place; prints the collection's path in it.
sanity_tree() {
    local pipver cache tree
    pipver=$(python -c 'import re,ansible_test,os; p=os.path.join(os.path.dirname(ansible_test.__file__),"_internal","python_requirements.py"); print(re.search(r"pip=.([0-9.]+)", open(p).read()).group(1))')
    cache="$HOME/.ansible/test/cache/get_pip_${pipver//./_}.py"
    mkdir -p "$(dirname "$cache")"
    cat > "$cache" <<'PYEOF'
# Offline stand-in for get-pip.py (written by revproxy.tls scripts/test.sh): ensurepip, then pip install the rest.
import subprocess
import sys
subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"])
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
if args:
    subprocess.check_call([sys.executable, "-m", "pip", "install", "--disable-pip-version-check"] + args)
PYEOF
    # Outside this work tree (ansible-test skips files git ignores, and .build is ignored), with only what git would
    # ship: tracked and new files, not ignored ones.
    tree="$1/ansible_collections/revproxy/tls"
    rm -rf "$tree" && mkdir -p "$tree"
    git ls-files -z --cached --others --exclude-standard | rsync -a --from0 --files-from=- --ignore-missing-args ./ "$tree/"
    echo "$tree"
}
stage_sanity() {
    local pyver tree
    tree=$(sanity_tree "${TMPDIR:-/tmp}/revproxy-tls-sanity") || return 1
    pyver=$(python -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    (cd "$tree" && ansible-test sanity --venv --python "$pyver" --color no)
}

stage_unit() {
    python -m pytest -q -p no:cacheprovider tests/unit
}

# The package users install: the tarball built from a checkout that lint, pytest and the EE recipe have run in holds
# only allowed files, passes galaxy-importer (offline, from the tools venv), and revproxy.tls.check run from the
# installed copy writes its report in the caller's directory; the docs site of make docs renders (tests/package).
stage_package() {
    # The docs site test renders every page in headless Chromium.
    if ! command -v chromium >/dev/null 2>&1; then
        echo "installing chromium for the docs site test (apt)"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null || return 1
    fi
    python -m pytest -q -p no:cacheprovider --durations=8 tests/package
}

stage_integration() {
    # The report test renders HTML in a real headless browser.
    if ! command -v chromium >/dev/null 2>&1; then
        echo "installing chromium for the report test (apt)"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null || return 1
    fi
    python -m pytest -q -p no:cacheprovider --durations=25 tests/integration
}

# The checker against real Apache once more, on Debian 12's own python3 (3.11), python3-openssl (23.0) and
# python3-cryptography (38): the oldest libraries a stock proxy host has.
stage_compat() {
    local venv="$ROOT/.build/debian-venv" missing=()
    for pkg in python3-openssl python3-cryptography python3-venv; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null || return 1
    fi
    if [ ! -x "$venv/bin/python" ]; then
        /usr/bin/python3 -m venv --system-site-packages "$venv" || return 1
    fi
    "$venv/bin/pip" install -q --disable-pip-version-check -r requirements/debian-compat.txt || return 1
    "$venv/bin/python" -c 'import OpenSSL, cryptography; print("compat: pyOpenSSL", OpenSSL.__version__, "cryptography", cryptography.__version__)'
    "$venv/bin/python" -m pytest -q -p no:cacheprovider tests/integration/test_backend_handshake_oracle.py
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
    for v in $(ls -1 "$root/versions" 2>/dev/null | sort -rV); do
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
    REVPROXY_TEST_MODULE_PYTHON="$m39/bin/python" "$old/bin/python" -m pytest -q -p no:cacheprovider --durations=5 \
        tests/integration/test_backend_handshake_oracle.py tests/integration/test_backend_handshake_playbook.py \
        tests/integration/test_apache_proxy_role.py::test_proxy_verifies_backend_and_sends_its_sni \
        tests/integration/test_playbooks_awx.py::test_survey_mistakes_fail_clearly \
        tests/integration/test_playbooks_awx.py::test_check_job_of_type_check || rc=1
    echo "matrix: ansible-core $(python -c 'import ansible.release as r; print(r.__version__)'), modules on $("$m313/bin/python" -V 2>&1)"
    # (the three startup cases of no_cipher_match are one ansible-playbook run each: on 3.9 only)
    REVPROXY_TEST_MODULE_PYTHON="$m313/bin/python" python -m pytest -q -p no:cacheprovider --durations=5 \
        tests/integration/test_backend_handshake_oracle.py -k "not no_cipher_match" || rc=1
    # Every module and module_utils file compiles and imports on the oldest managed-node Python (ansible-test's
    # compile and import tests, which the sanity stage runs on 3.12 only).
    local tree
    tree=$(sanity_tree "${TMPDIR:-/tmp}/revproxy-tls-matrix") || return 1
    (cd "$tree" && PATH="$PATH:$(dirname "$py39")" ansible-test sanity --venv --python 3.9 --color no \
        --test compile --test import) || rc=1
    return $rc
}

# Molecule scenarios in Docker (scripts/molecule.sh starts and stops its own daemon).
stage_molecule() {
    bash scripts/molecule.sh
}

# The molecule stage runs next to the others: it has its own dockerd, containers (no published ports) and lock, and
# touches neither the system Apache nor its lock, while most of every stage's time is waiting (container start-up,
# graceful restarts, health checks), not CPU. Its tools (apt, pip into .venv) are installed first, in the foreground,
# so no other stage sees .venv change under it; then its scenarios run in the background, in their own session, with
# their output kept in a log that is printed as one block when they end. Its status and time (wall clock, from its
# start to its end) count like any other stage's. The other stages run one after another, as before.
# REVPROXY_TEST_SERIAL=1 runs every stage one after another.
bg_dir= bg_t0= bg_waiter= bg_done=
bg_start() {  # the molecule stage, in the background
    echo "=== molecule: starting in the background (next to the other stages; its output follows when it ends)"
    mkdir -p "$ROOT/tests/output"
    bg_dir=$(mktemp -d "$ROOT/tests/output/test-molecule.XXXXXX")
    bg_t0=$(date +%s)
    if ! bash scripts/molecule.sh --prepare >"$bg_dir/output.log" 2>&1 </dev/null; then
        date +%s > "$bg_dir/end"; echo 1 > "$bg_dir/rc"
        return
    fi
    (
        # shellcheck disable=SC2016
        setsid -w bash -c 'echo $$ > "$0/pid"; exec bash scripts/molecule.sh' "$bg_dir" >>"$bg_dir/output.log" 2>&1 </dev/null
        rc=$?
        date +%s > "$bg_dir/end"
        echo "$rc" > "$bg_dir/rc"
    ) &
    bg_waiter=$!
}
bg_report() {  # print the molecule block if it has ended; with "wait", wait for it to end first
    [ -n "$bg_dir" ] && [ -z "$bg_done" ] || return 0
    if [ "${1:-}" = wait ] && [ -n "$bg_waiter" ]; then
        echo "=== (waiting for the molecule stage, running in the background since $(( $(date +%s) - bg_t0 )) s)"
        wait "$bg_waiter"
    fi
    [ -s "$bg_dir/rc" ] || return 0
    bg_done=1
    echo "=== molecule (ran in the background; its output, kept in $bg_dir/output.log)"
    cat "$bg_dir/output.log"
    if [ "$(cat "$bg_dir/rc")" = 0 ]; then status=ok; else status=FAILED; failed+=(molecule); fi
    took[molecule]=$(( $(cat "$bg_dir/end") - bg_t0 ))
    echo "=== molecule: $status (${took[molecule]} s)"
}
bg_stop() {  # interrupted: stop the scenarios (their script then stops its dockerd and restores the host) and wait
    if [ -n "$bg_dir" ] && [ -n "$bg_waiter" ] && [ ! -s "$bg_dir/rc" ] && [ -s "$bg_dir/pid" ]; then
        echo "=== stopping the molecule stage (session $(cat "$bg_dir/pid")); its output is in $bg_dir/output.log"
        kill -TERM -- "-$(cat "$bg_dir/pid")" 2>/dev/null
        wait "$bg_waiter"
    fi
}
trap 'bg_stop; exit 130' INT TERM

t0=$(date +%s)
fg_stages=()
for stage in "${stages[@]}"; do
    if [ "$stage" = molecule ] && [ ${#stages[@]} -gt 1 ] && [ -z "${REVPROXY_TEST_SERIAL:-}" ]; then
        bg_start
    else
        fg_stages+=("$stage")
    fi
done
for stage in "${fg_stages[@]}"; do
    echo "=== $stage"
    start=$(date +%s)
    if "stage_$stage"; then status=ok; else status=FAILED; failed+=("$stage"); fi
    took[$stage]=$(( $(date +%s) - start ))
    echo "=== $stage: $status (${took[$stage]} s)"
    bg_report
done
bg_report wait
echo "=== summary"
for stage in "${stages[@]}"; do
    if [ "$stage" = molecule ] && [ -n "$bg_dir" ]; then
        echo "  $stage: ${took[$stage]} s (in the background, next to the other stages)"
    else
        echo "  $stage: ${took[$stage]} s"
    fi
done
echo "  total: $(( $(date +%s) - t0 )) s (wall clock)"
if [ ${#failed[@]} -gt 0 ]; then
    echo "FAILED stages: ${failed[*]}"
    exit 1
fi
echo "all stages passed"
