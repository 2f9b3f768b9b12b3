#!/usr/bin/env bash
# make demo / make demo-clean: see README.md. Needs root (installs Apache, writes /etc/apache2 and /etc/hosts).
# make demo-nginx / make demo-nginx-clean (nginx-up / nginx-clean): the same story with the nginx_proxy role on this
# machine's nginx (127.0.0.1:8081, its own state directory and backend on 127.0.0.1:8444); it never touches Apache.
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

NGINX_STATE=/var/lib/revproxy-tls-demo-nginx
NGINX_PLAY=(.venv/bin/ansible-playbook -i "localhost," -e "ansible_python_interpreter=$PWD/.venv/bin/python"
            demo/demo-nginx.yml)

nginx_backend_running() { ss -ltnH 'sport = :8444' | grep -q .; }
nginx_running() { [ -s /run/nginx.pid ] && kill -0 "$(cat /run/nginx.pid)" 2>/dev/null; }

nginx_up() {
    mkdir -p "$NGINX_STATE"
    if [ ! -e "$NGINX_STATE/nginx-was-running" ]; then
        if nginx_running; then echo yes; else echo no; fi > "$NGINX_STATE/nginx-was-running"
    fi
    if [ ! -e "$NGINX_STATE/default-site-was-enabled" ]; then
        if [ -L /etc/nginx/sites-enabled/default ]; then echo yes; else echo no; fi \
            > "$NGINX_STATE/default-site-was-enabled"
    fi
    if [ ! -e "$NGINX_STATE/tls-dir-existed" ]; then
        if [ -d /etc/nginx/revproxy-tls ]; then echo yes; else echo no; fi > "$NGINX_STATE/tls-dir-existed"
    fi
    echo "==> Demo CA and backend certificate in $NGINX_STATE/pki"
    "$PY" tests/support/pki.py demo "$NGINX_STATE/pki" --name backend.demo.test
    if nginx_backend_running; then
        echo "==> Demo HTTPS backend already listening on 127.0.0.1:8444"
    else
        echo "==> Starting the demo HTTPS backend on 127.0.0.1:8444 (rejects a handshake without SNI backend.demo.test)"
        setsid nohup "$PY" tests/support/backends.py serve --chain "$NGINX_STATE/pki/backend-chain.pem" \
            --key "$NGINX_STATE/pki/backend.key" --port 8444 --sni backend.demo.test \
            --pidfile "$NGINX_STATE/backend.pid" --logfile "$NGINX_STATE/backend.log" >/dev/null 2>&1 < /dev/null &
        for _ in $(seq 50); do nginx_backend_running && break; sleep 0.1; done
        nginx_backend_running || { echo "demo backend did not start; see $NGINX_STATE/backend.log" >&2; exit 1; }
    fi
    echo "==> Applying revproxy.tls.nginx_proxy to localhost"
    "${NGINX_PLAY[@]}"
    echo "==> A request through the proxy: curl -H 'Host: proxy.demo.test' http://127.0.0.1:8081/"
    curl -sS --fail-with-body --max-time 10 -H 'Host: proxy.demo.test' -D - http://127.0.0.1:8081/
    echo
    echo "==> nginx verified the backend: proxy_ssl_verify on, CA $NGINX_STATE/pki/ca.pem, SNI backend.demo.test."
    echo "    Config: /etc/nginx/conf.d/revproxy-demo.conf. Run 'make demo-nginx' again: nothing changes."
}

nginx_clean() {
    if [ -f "$NGINX_STATE/backend.pid" ]; then
        kill "$(cat "$NGINX_STATE/backend.pid")" 2>/dev/null || true
    fi
    if [ -f /etc/nginx/conf.d/revproxy-demo.conf ]; then
        if ! nginx_running; then
            echo "==> Starting nginx so that the role can remove the demo site"
            service nginx start >/dev/null 2>&1 || nginx
        fi
        echo "==> Removing the demo site (the role prunes it)"
        "${NGINX_PLAY[@]}" -e revproxy_demo_present=false
    fi
    if [ "$(cat "$NGINX_STATE/nginx-was-running" 2>/dev/null)" != yes ] && nginx_running; then
        echo "==> Stopping nginx (it was not running before the demo)"
        service nginx stop >/dev/null 2>&1 || nginx -s quit || true
        for _ in $(seq 50); do nginx_running || break; sleep 0.1; done
    fi
    if [ "$(cat "$NGINX_STATE/default-site-was-enabled" 2>/dev/null)" = yes ] \
        && [ ! -e /etc/nginx/sites-enabled/default ]; then
        echo "==> Re-enabling nginx's packaged default site"
        ln -s /etc/nginx/sites-available/default /etc/nginx/sites-enabled/default
    fi
    if [ "$(cat "$NGINX_STATE/tls-dir-existed" 2>/dev/null)" = no ]; then
        rmdir /etc/nginx/revproxy-tls 2>/dev/null || true
    fi
    sed -i '/ # revproxy.tls nginx demo$/d' /etc/hosts 2>/dev/null || true
    rm -rf "$NGINX_STATE"
    echo "==> nginx demo removed"
}

case "${1:-up}" in
    up) up ;;
    clean) clean ;;
    nginx-up) nginx_up ;;
    nginx-clean) nginx_clean ;;
    *) echo "usage: $0 up|clean|nginx-up|nginx-clean" >&2; exit 2 ;;
esac
