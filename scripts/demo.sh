#!/usr/bin/env bash
# make demo / make demo-clean: see README.md. Needs root (installs Apache, writes /etc/apache2 and /etc/hosts).
set -euo pipefail
cd "$(dirname "$0")/.."
STATE=/var/lib/revproxy-tls-demo
PY=.venv/bin/python
PLAY=(.venv/bin/ansible-playbook -i "localhost," -e "ansible_python_interpreter=$PWD/.venv/bin/python" demo/demo.yml)
export ANSIBLE_COLLECTIONS_PATH=$PWD/.build/collections ANSIBLE_CONFIG=$PWD/tests/ansible.cfg

backend_running() { ss -ltnH 'sport = :8443' | grep -q .; }

up() {
    mkdir -p "$STATE"
    if [ ! -e "$STATE/apache-was-running" ]; then
        if pgrep -x apache2 >/dev/null; then echo yes; else echo no; fi > "$STATE/apache-was-running"
    fi
    echo "==> Demo CA and backend certificate in $STATE/pki"
    "$PY" tests/support/pki.py demo "$STATE/pki" --name backend.demo.test
    if backend_running; then
        echo "==> Demo HTTPS backend already listening on 127.0.0.1:8443"
    else
        echo "==> Starting the demo HTTPS backend on 127.0.0.1:8443 (rejects a handshake without SNI backend.demo.test)"
        setsid nohup "$PY" tests/support/backends.py serve --chain "$STATE/pki/backend-chain.pem" \
            --key "$STATE/pki/backend.key" --port 8443 --sni backend.demo.test \
            --pidfile "$STATE/backend.pid" --logfile "$STATE/backend.log" >/dev/null 2>&1 < /dev/null &
        for _ in $(seq 50); do backend_running && break; sleep 0.1; done
        backend_running || { echo "demo backend did not start; see $STATE/backend.log" >&2; exit 1; }
    fi
    echo "==> Applying revproxy.tls.apache_proxy to localhost"
    "${PLAY[@]}"
    echo "==> A request through the proxy: curl -H 'Host: proxy.demo.test' http://127.0.0.1:8080/"
    curl -sS --fail-with-body --max-time 10 -H 'Host: proxy.demo.test' -D - http://127.0.0.1:8080/
    echo
    echo "==> The proxy verified the backend: SSLProxyVerify require, CA $STATE/pki/ca.pem, SNI backend.demo.test."
    echo "    Config: /etc/apache2/sites-available/revproxy-demo.conf. Run 'make demo' again: nothing changes."
}

clean() {
    if [ -f "$STATE/backend.pid" ]; then
        kill "$(cat "$STATE/backend.pid")" 2>/dev/null || true
    fi
    if [ -d /etc/apache2 ]; then
        echo "==> Removing the demo site (the role prunes it)"
        "${PLAY[@]}" -e revproxy_demo_present=false
    fi
    if [ "$(cat "$STATE/apache-was-running" 2>/dev/null)" = no ]; then
        echo "==> Stopping Apache (it was not running before the demo)"
        service apache2 stop >/dev/null 2>&1 || apache2ctl stop || true
    fi
    rm -rf "$STATE"
    echo "==> Demo removed"
}

case "${1:-up}" in
    up) up ;;
    clean) clean ;;
    *) echo "usage: $0 up|clean" >&2; exit 2 ;;
esac
