#!/usr/bin/env bash
# Set up everything `make demo` and `make test` need on a fresh Debian 12 machine (run as root):
#   - Apache httpd (apt) and the tools the tests use (openssl, curl, iproute2, shellcheck for the sanity stage, nginx
#     and pebble for the nginx and ACME tests),
#   - a venv in .venv on a Python >= 3.12 (ansible-core 2.21 needs it), with pinned requirements,
#   - .build/collections/ansible_collections/revproxy/tls -> the repository (so Ansible and pytest find the collection).
# Idempotent: a second run installs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

need_apt=()
command -v apache2 >/dev/null 2>&1 || [ -x /usr/sbin/apache2 ] || need_apt+=(apache2)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
command -v rsync >/dev/null 2>&1 || need_apt+=(rsync)
command -v git >/dev/null 2>&1 || need_apt+=(git)
command -v ss >/dev/null 2>&1 || need_apt+=(iproute2)
# ansible-test sanity's shellcheck test skips itself, quietly, without it (scripts/test.sh then fails the stage).
command -v shellcheck >/dev/null 2>&1 || need_apt+=(shellcheck)
# GitHub's Markdown renderer: the report-escaping tests render hostile values through it (no link may appear).
command -v cmark-gfm >/dev/null 2>&1 || need_apt+=(cmark-gfm)
# nginx (the nginx role, its oracle and integration tests) and pebble (the ACME test server the mod_md tests order
# from). Neither runs as a service: the tests start their own instances on free loopback ports.
[ -x /usr/sbin/nginx ] || need_apt+=(nginx)
command -v pebble >/dev/null 2>&1 || [ -x /usr/bin/pebble ] || need_apt+=(pebble)
if [ "${#need_apt[@]}" -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "bootstrap: need root to install: ${need_apt[*]}" >&2
        exit 1
    fi
    echo "bootstrap: installing ${need_apt[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # No package's service may start here (nginx's would take port 80 from Apache): a policy-rc.d says so for the
    # install, unless one is already in place (as in containers).
    own_policy=''
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && own_policy=1
    fi
    apt-get install -y -qq "${need_apt[@]}" >/dev/null
    [ -z "$own_policy" ] || rm -f /usr/sbin/policy-rc.d
    # If a service was enabled, it stays off at boot: the tests start their own nginx and pebble.
    if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
        systemctl disable --now nginx.service >/dev/null 2>&1 || true
    fi
fi

find_python() {
    local c v
    # 3.12 first: what development and CI run on (ansible-core 2.21 takes 3.12 to 3.14).
    for c in python3.12 python3.13 python3; do
        if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
            command -v "$c"; return 0
        fi
    done
    if command -v pyenv >/dev/null 2>&1; then
        for v in $(find "$(pyenv root)/versions" -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | sort -V); do
            c="$(pyenv root)/versions/$v/bin/python3"
            if [ -x "$c" ] && "$c" -c 'import sys; sys.exit(not ((3, 12) <= sys.version_info < (3, 14)))' 2>/dev/null; then
                echo "$c"; return 0
            fi
        done
    fi
    return 1
}

stamp=.venv/.requirements-stamp
want="$(cat requirements/dev.txt requirements/awx.txt requirements/constraints.txt | sha256sum | cut -d' ' -f1)"
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    if [ ! -x .venv/bin/python ]; then
        PY=$(find_python) || { echo "bootstrap: no Python >= 3.12 found (PATH or pyenv); ansible-core 2.21 needs one" >&2; exit 1; }
        echo "bootstrap: creating .venv with $PY"
        "$PY" -m venv .venv
    fi
    .venv/bin/pip install -q --disable-pip-version-check -r requirements/dev.txt -r requirements/awx.txt -c requirements/constraints.txt
    echo "$want" > "$stamp"
fi

mkdir -p .build/collections/ansible_collections/revproxy
ln -sfn "$ROOT" .build/collections/ansible_collections/revproxy/tls

# galaxy-importer, antsibull-docs and Sphinx (make test's package stage, make docs) in their own venv.
bash scripts/tools-venv.sh

# sslyze, the TLS scanner of the public-side integration test, in its own venv.
bash scripts/sslyze-venv.sh
