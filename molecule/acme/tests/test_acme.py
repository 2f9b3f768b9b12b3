"""acme: the proxy obtained its public certificate from pebble over the scenario's network (issue 25).

Commands run in the containers through testinfra's docker backend. The client trusts nothing but pebble's issuing
root, fetched from pebble's management API over TLS verified with pebble's own TLS root.
"""
import testinfra

SITE = "shop.acme.test"
ROOT = "/tmp/pebble-issuing-root.pem"


def _host(name):
    return testinfra.get_host("docker://" + name)


def _client():
    client = _host("acme-client")
    tls_root = _host("acme-proxy").file("/etc/revproxy-test/pebble-tls-root.pem").content_string
    client.run("cat > /tmp/pebble-tls-root.pem <<'EOF'\n%sEOF" % tls_root)
    got = client.run("curl -sS --max-time 20 --cacert /tmp/pebble-tls-root.pem -o %s https://pebble.test:15000/roots/0"
                     % ROOT)
    assert got.rc == 0, got.stderr
    return client


def test_the_site_is_served_with_the_acme_certificate_and_its_chain_verified_against_pebbles_root_alone():
    client = _client()
    got = client.run("curl -sS --max-time 20 --cacert %s https://%s/" % (ROOT, SITE))
    assert got.rc == 0 and got.stdout.strip() == "page-from-acme-backend", (got.stdout, got.stderr)
    # The chain the proxy sends: leaf and pebble's intermediate (the client has only the root).
    chain = client.check_output("openssl s_client -connect %s:443 -servername %s -showcerts -verify_return_error "
                                "-CAfile %s </dev/null 2>/dev/null" % (SITE, SITE, ROOT))
    assert chain.count("-----BEGIN CERTIFICATE-----") == 2, chain
    assert "Verify return code: 0 (ok)" in chain
    assert "Pebble Intermediate CA" in chain
    # Not a certificate the system's CAs accept, nor pebble's API root: only pebble's issuing root vouches for it.
    assert client.run("curl -sS --max-time 20 https://%s/" % SITE).rc != 0
    assert client.run("curl -sS --max-time 20 --cacert /tmp/pebble-tls-root.pem https://%s/" % SITE).rc != 0


def test_pebble_validated_the_challenge_over_the_network_and_issued_one_certificate():
    pebble = _host("acme-pebble")
    log = pebble.check_output("journalctl -u pebble --no-pager -o cat")
    # Pebble validated the challenge itself (over the network, at the proxy's address Docker's DNS gave it).
    assert "set VALID by completed challenge" in log, log[-3000:]
    # converge and idempotence ran the role twice: the second run ordered nothing.
    assert log.count("Issued certificate serial") == 1, log[-3000:]


def test_md_status_is_not_reachable_from_another_host():
    proxy = _host("acme-proxy")
    assert proxy.run("curl -sS --max-time 10 -o /dev/null -w '%{http_code}' http://127.0.0.1:8409/md-status").stdout \
        == "200"
    client = _host("acme-client")
    assert client.run("curl -sS --max-time 10 http://proxy.test:8409/md-status").rc != 0
