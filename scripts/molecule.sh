#!/usr/bin/env bash
# Run the molecule scenarios (molecule/<scenario>) in real containers: `make molecule`, or
#   bash scripts/molecule.sh [scenario ...]      (default: every scenario, default first)
#   bash scripts/molecule.sh --prepare           (only install the tools below, then exit: what scripts/test.sh runs
#                                                 before it starts the scenarios in the background)
#
# What it does, and undoes:
#   - installs docker.io and mmdebstrap (apt) and requirements/molecule.txt (pip, into .venv) when missing;
#   - uses a Docker daemon that already answers; otherwise starts its own (data root /var/lib/revproxy-tls-docker,
#     kept between runs so the image persists; own socket) and, at exit, stops it and puts back what it changed on
#     the host: the iptables FORWARD policy, the DOCKER* chains and their jump/NAT rules, the docker0/br-* bridges,
#     net.ipv4.ip_forward;
#   - builds the Debian 12 image with systemd as PID 1 from this host's own apt sources (mmdebstrap | docker import),
#     reused when an image with the same package list and sources exists;
#   - runs `molecule test` for each scenario and prints what each one cost. Exit status non-zero if any failed.
# Runs of this script on one machine are serialised with a lock (they share the daemon and the image); it takes no
# other lock (not the system-Apache lock of the integration tests, which never take this one) and touches neither the
# host's Apache nor its ports (no published container ports), so it can run next to the other test stages.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export PATH="$ROOT/.venv/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$ROOT/.build/collections"
export ANSIBLE_NOCOLOR=1 PY_COLORS=0 ANSIBLE_FORCE_COLOR=0 ANSIBLE_PIPELINING=1
export MOLECULE_NO_LOG=false

DATA_ROOT=/var/lib/revproxy-tls-docker
OWN_SOCK=/run/revproxy-tls-docker.sock
LOG_DIR=${MOLECULE_LOG_DIR:-$ROOT/tests/output/molecule}
IMAGE_PACKAGES=systemd,systemd-sysv,dbus,python3,python3-apt,python3-venv,ca-certificates,procps,iproute2,curl,openssl,pebble
IMAGE_REPO=localhost/revproxy-tls-debian12-systemd
mkdir -p "$LOG_DIR" "$DATA_ROOT"

log() { echo "molecule.sh: $*"; }

# --- tools -------------------------------------------------------------------------------------------------------
need_apt=()
command -v dockerd >/dev/null 2>&1 || need_apt+=(docker.io)
command -v mmdebstrap >/dev/null 2>&1 || need_apt+=(mmdebstrap)
command -v iptables >/dev/null 2>&1 || need_apt+=(iptables)
if [ ${#need_apt[@]} -gt 0 ]; then
    log "installing ${need_apt[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    # (outside the machine-wide lock: wait for another apt/dpkg rather than fail)
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${need_apt[@]}" >/dev/null
fi
# Per checkout (its .venv), not under the machine-wide lock below: `--prepare` (scripts/test.sh, before it starts this
# script in the background next to the other stages) must not wait for another checkout's scenarios.
exec 8>.venv/.molecule-tools.lock
flock 8
stamp=.venv/.molecule-stamp
want="$(cat requirements/molecule.txt requirements/constraints.txt | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    log "installing requirements/molecule.txt into .venv"
    .venv/bin/pip install -q --disable-pip-version-check -r requirements/molecule.txt -c requirements/constraints.txt
    echo "$want" > "$stamp"
fi
exec 8>&-
if [ "${1:-}" = --prepare ]; then
    log "tools ready"
    exit 0
fi

exec 9>"$DATA_ROOT.lock"
if ! flock -n 9; then
    log "another run holds $DATA_ROOT.lock; waiting for it"
    flock 9
fi

# --- docker daemon -----------------------------------------------------------------------------------------------
DOCKERD_PID=
declare -A had_chain
fwd_policy=
ip_forward=
bridges_before=

snapshot_host() {
    local t c
    fwd_policy=$(iptables -S FORWARD | awk '$1=="-P"{print $3}')
    ip_forward=$(sysctl -n net.ipv4.ip_forward)
    bridges_before=" $(ip -o link show type bridge | awk -F': ' '{print $2}' | tr '\n' ' ')"
    for t in filter nat; do
        for c in $(iptables -t "$t" -S | awk '$1=="-N"{print $2}'); do had_chain[$t/$c]=1; done
    done
}

restore_host() {
    local t c rule br
    # Rules Docker added to the built-in chains: jumps to DOCKER* chains and rules on its bridges.
    for t in filter nat; do
        iptables -t "$t" -S | grep -E '^-A (FORWARD|INPUT|OUTPUT|PREROUTING|POSTROUTING) ' \
            | grep -E -- '-j DOCKER|docker0|br-[0-9a-f]{12}' | while read -r rule; do
                [ -n "${had_chain[$t/DOCKER]:-}" ] && continue   # Docker's chains were there before us: leave all
                eval "iptables -t $t ${rule/-A /-D }" || true
            done
        for c in $(iptables -t "$t" -S | awk '$1=="-N" && $2 ~ /^DOCKER/ {print $2}'); do
            [ -n "${had_chain[$t/$c]:-}" ] || iptables -t "$t" -F "$c" || true
        done
        for c in $(iptables -t "$t" -S | awk '$1=="-N" && $2 ~ /^DOCKER/ {print $2}'); do
            [ -n "${had_chain[$t/$c]:-}" ] || iptables -t "$t" -X "$c" || true
        done
    done
    [ -n "$fwd_policy" ] && iptables -P FORWARD "$fwd_policy"
    for br in $(ip -o link show type bridge | awk -F': ' '{print $2}' | cut -d@ -f1); do
        case "$bridges_before" in *" $br "*) continue ;; esac
        case "$br" in docker0|br-*) ip link delete "$br" || true ;; esac
    done
    [ -n "$ip_forward" ] && sysctl -qw net.ipv4.ip_forward="$ip_forward"
}

stop_daemon() {
    [ -n "$DOCKERD_PID" ] || return 0
    log "stopping the dockerd it started (pid $DOCKERD_PID) and restoring the host's network state"
    kill "$DOCKERD_PID" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$DOCKERD_PID" 2>/dev/null && kill -9 "$DOCKERD_PID" 2>/dev/null
    DOCKERD_PID=
    restore_host
}
snap=
cleanup() { stop_daemon; [ -z "$snap" ] || rm -rf "$snap"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

if docker version >/dev/null 2>&1; then
    log "using the Docker daemon that already runs (${DOCKER_HOST:-default socket})"
else
    snapshot_host
    log "starting dockerd (data root $DATA_ROOT, socket $OWN_SOCK)"
    dockerd --data-root "$DATA_ROOT" --exec-root /run/revproxy-tls-docker --host "unix://$OWN_SOCK" \
        --pidfile /run/revproxy-tls-docker.pid >"$LOG_DIR/dockerd.log" 2>&1 &
    DOCKERD_PID=$!
    export DOCKER_HOST="unix://$OWN_SOCK"
    for _ in $(seq 1 60); do docker version >/dev/null 2>&1 && break; sleep 0.5; done
    docker version >/dev/null 2>&1 || { log "dockerd did not come up; see $LOG_DIR/dockerd.log"; tail -20 "$LOG_DIR/dockerd.log"; exit 1; }
fi

# --- image -------------------------------------------------------------------------------------------------------
# The host's enabled Debian sources (deb822 stanzas or one-line entries for this release), not a hard-coded mirror.
host_sources() {
    python3 - <<'PYEOF'
import glob, os, re
codename = "bookworm"
for line in open("/etc/os-release"):
    if line.startswith("VERSION_CODENAME="):
        codename = line.split("=", 1)[1].strip().strip('"')
out = []
files = ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")) + sorted(glob.glob("/etc/apt/sources.list.d/*.sources"))
for path in files:
    if not os.path.isfile(path):
        continue
    text = open(path).read()
    if path.endswith(".sources"):
        for stanza in re.split(r"\n\s*\n", text):
            fields = {}
            for line in stanza.splitlines():
                if line.startswith("#") or ":" not in line or line[0].isspace():
                    continue
                key, value = line.split(":", 1)
                fields[key.strip().lower()] = value.strip()
            if fields.get("enabled", "yes") == "no" or "deb" not in fields.get("types", "").split():
                continue
            for uri in fields.get("uris", "").split():
                for suite in fields.get("suites", "").split():
                    if suite.startswith(codename):
                        out.append("deb %s %s %s" % (uri, suite, fields.get("components", "main")))
    else:
        for line in text.splitlines():
            parts = line.split("#", 1)[0].split()
            if len(parts) >= 3 and parts[0] == "deb" and not parts[1].startswith("[") and parts[2].startswith(codename):
                out.append(" ".join(parts))
print("\n".join(out))
PYEOF
}
sources=$(host_sources)
[ -n "$sources" ] || { log "no enabled Debian sources for this release found in /etc/apt"; exit 1; }
# backend_handshake needs pyOpenSSL/cryptography newer than Debian 12's (23.0/38): the image carries them, at the
# versions pinned in constraints.txt, in /opt/revproxy-checker (a venv the scenarios use for that module only).
# Wheels come from PyPI through the host's pip (configured for this network); the chroot installs them offline.
checker_pins=$(grep -iE '^(pyopenssl|cryptography|cffi|pycparser|typing_extensions)==' requirements/constraints.txt | sort)
tag=$(printf '%s\n%s\n%s\n' "$IMAGE_PACKAGES" "$sources" "$checker_pins" | sha256sum | cut -c1-12)
export REVPROXY_TLS_IMAGE="$IMAGE_REPO:$tag"
if docker image inspect "$REVPROXY_TLS_IMAGE" >/dev/null 2>&1; then
    log "reusing image $REVPROXY_TLS_IMAGE"
else
    log "building image $REVPROXY_TLS_IMAGE (mmdebstrap | docker import)"
    start=$(date +%s)
    wheels=$(mktemp -d)
    arch=$(uname -m)
    pip download -q --only-binary=:all: --python-version 3.11 --implementation cp --platform "manylinux_2_34_$arch" \
        --platform "manylinux_2_28_$arch" --platform "manylinux2014_$arch" -d "$wheels" \
        -c <(printf '%s\n' "$checker_pins") pyOpenSSL cryptography
    printf '%s\n' "$sources" | mmdebstrap --quiet --variant=minbase --include="$IMAGE_PACKAGES" \
        --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/locale/*' \
        --customize-hook="rm -f \"\$1\"/etc/machine-id; : > \"\$1\"/etc/machine-id" \
        --customize-hook="copy-in $wheels /tmp" \
        --customize-hook="chroot \"\$1\" python3 -m venv /opt/revproxy-checker" \
        --customize-hook="chroot \"\$1\" /opt/revproxy-checker/bin/pip install -q --no-index --find-links /tmp/$(basename "$wheels") pyOpenSSL cryptography" \
        --customize-hook="rm -rf \"\$1\"/tmp/$(basename "$wheels")" \
        bookworm - - \
        | docker import --change 'CMD ["/lib/systemd/systemd"]' - "$REVPROXY_TLS_IMAGE" >/dev/null
    rm -rf "$wheels"
    log "image built in $(( $(date +%s) - start )) s"
    # Older builds of this image (other package lists, sources or pins) only take space.
    docker images --format '{{.Repository}}:{{.Tag}}' "$IMAGE_REPO" | grep -vxF -e "$REVPROXY_TLS_IMAGE" -e "$IMAGE_REPO:latest" \
        | xargs -r docker rmi >/dev/null 2>&1 || true
fi
# Also as :latest, so a scenario run by hand (molecule test -s NAME, without this script) finds it.
docker tag "$REVPROXY_TLS_IMAGE" "$IMAGE_REPO:latest"

# --- the collection under test --------------------------------------------------------------------------------
# Default: this work tree (.build/collections links to it). REVPROXY_TLS_COLLECTION_REF=<git ref> tests that commit's
# collection instead (plugins, roles, meta, galaxy.yml), e.g. HEAD while someone else's edits are half done.
if [ -n "${REVPROXY_TLS_COLLECTION_REF:-}" ]; then
    snap=$(mktemp -d)
    mkdir -p "$snap/ansible_collections/revproxy/tls"
    git archive "$REVPROXY_TLS_COLLECTION_REF" galaxy.yml meta plugins roles | tar -x -C "$snap/ansible_collections/revproxy/tls"
    export ANSIBLE_COLLECTIONS_PATH="$snap"
    log "testing the collection of $REVPROXY_TLS_COLLECTION_REF ($(git rev-parse --short "$REVPROXY_TLS_COLLECTION_REF"))"
fi

# --- scenarios ---------------------------------------------------------------------------------------------------
scenarios=("$@")
if [ ${#scenarios[@]} -eq 0 ]; then
    scenarios=(default)
    for d in molecule/*/molecule.yml; do
        s=$(basename "$(dirname "$d")")
        [ "$s" = default ] || scenarios+=("$s")
    done
fi
failed=()
declare -A took
for s in "${scenarios[@]}"; do
    log "=== scenario $s"
    start=$(date +%s)
    if molecule test -s "$s" 2>&1 | tee "$LOG_DIR/$s.log"; then st=ok; else st=FAILED; failed+=("$s"); fi
    took[$s]=$(( $(date +%s) - start ))
    log "=== scenario $s: $st (${took[$s]} s)"
done
log "=== summary"
for s in "${scenarios[@]}"; do echo "  $s: ${took[$s]} s"; done
if [ ${#failed[@]} -gt 0 ]; then
    log "FAILED scenarios: ${failed[*]} (logs in $LOG_DIR)"
    exit 1
fi
log "all scenarios passed"
