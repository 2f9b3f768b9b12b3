"""Hostile review of issue 23 (the nginx role), as an AWX survey user who fills in the site list.

Finding (fixed in nginx/_capabilities._check_names): nginx gives a connection to a specific address only to the
server blocks listening on that address:port, so a site with `listen.address: 127.0.0.1` on the port of a site that
listens on every address answered there for that site's names (a live nginx handed shop.test's requests to the
attacker's backend); and a site could declare another site's name on another port (it then gets that site's
cookies, which browsers do not scope by port). The Apache role refused both; the nginx profile checked only the same
address:port. The live test shows what nginx does with the two sites (each valid alone) and that the pair is refused.

Every other attack tried is a row of REFUSED (refused naming the field) or HARMLESS (accepted: what nginx does with it
is shown harmless by the rendered file, read back with nginx's grammar).
"""
import copy
import http.client
import json
import os
import subprocess
import time

import pytest

from ansible_collections.revproxy.tls.plugins.module_utils.model._grammar import ConfigError
from ansible_collections.revproxy.tls.plugins.module_utils.model._sites import normalize_sites
from ansible_collections.revproxy.tls.plugins.module_utils.nginx._capabilities import NGINX
from ansible_collections.revproxy.tls.plugins.module_utils.nginx._emit import parse
from ansible_collections.revproxy.tls.plugins.module_utils.nginx._render import render_site
from support.apache import reserve_port
from support.backends import PlainHTTPBackend
from support.nginx import NGINX as NGINX_BINARY
from support.nginx import PrivateNginx
from support.pki import PKI

TLS_DIR = "/etc/nginx/revproxy-tls"
FRONT = {"certificate_file": "/srv/shop/cert.pem", "key_file": "/srv/shop/key.pem"}


def _victim(port=8080):
    return {"name": "shop", "server_name": "shop.test", "server_aliases": ["www.shop.test"], "listen": {"port": port},
            "locations": [{"path": "/", "backend": "http://b.test:9000/"}]}


def _attacker(**fields):
    site = {"name": "evil", "server_name": "evil.test", "listen": {"port": 8080},
            "backend_tls": {"ca_file": "/srv/evil/ca.pem"},
            "locations": [{"path": "/x/", "backend": "https://b.test:9443/x/"}]}
    for key, value in fields.items():
        if key.startswith("loc_"):
            site["locations"][0][key[4:]] = value
        else:
            site[key] = value
    return site


def _normalize(*sites):
    return normalize_sites([copy.deepcopy(s) for s in sites], None, TLS_DIR, None, server=NGINX)


# (case, the attacker's site, a text the refusal must hold): each is refused next to the victim's site.
REFUSED = [
    # names and addresses: the finding
    ("specific address on a *:port site's port",
     _attacker(server_name="shop.test", listen={"port": 8080, "address": "127.0.0.1"}),
     "listens on every address there"),
    ("specific address, own name, same port", _attacker(listen={"port": 8080, "address": "127.0.0.1"}),
     "listens on every address there"),
    ("the victim's name on another port", _attacker(server_name="shop.test", listen={"port": 8081}),
     "also served by site 'shop'"),
    ("the victim's name as an alias on another port", _attacker(server_aliases=["SHOP.test."], listen={"port": 8081}),
     "also served by site 'shop'"),
    ("a wildcard alias over the victim's name", _attacker(server_aliases=["*.shop.test"], listen={"port": 8081}),
     "also matches"),
    ("the victim's name, same address:port", _attacker(server_name="shop.test"), "already served by site 'shop'"),
    ("the victim's name with a trailing dot", _attacker(server_name="shop.test."), "already served"),
    ("a wildcard over a top-level domain", _attacker(server_aliases=["*.test"]), "top-level domain"),
    ("a regex server_name", _attacker(server_name="~.*"), "not a valid host name"),
    ("a leading-dot server_name", _attacker(server_name=".shop.test"), "not a valid host name"),
    ("listen on 0.0.0.0", _attacker(listen={"port": 8080, "address": "0.0.0.0"}), "write '*'"),
    ("listen on a unix socket", _attacker(listen={"port": 8080, "address": "unix:/tmp/x"}), "must be an IP address"),
    # location modifiers: quoting does not stop nginx reading '=', '~', '^~', '@' at the start of a location
    ("location '~ ^/'", _attacker(loc_path="~ ^/"), "absolute URL path"),
    ("location '=/x/'", _attacker(loc_path="=/x/"), "absolute URL path"),
    ("location '^~/x/'", _attacker(loc_path="^~/x/"), "absolute URL path"),
    ("location '@x/'", _attacker(loc_path="@x/"), "absolute URL path"),
    ("location with '{'", _attacker(loc_path="/a{b/", loc_backend="https://b.test:9443/a/"), "absolute URL path"),
    # variables
    ("a header value reading the client's cookies",
     _attacker(request_headers=[{"action": "set", "name": "X-A", "value": "$http_cookie"}]), "variable"),
    ("a request header name with '$' (refused naming the field, not by the emitter)",
     _attacker(request_headers=[{"action": "set", "name": "X-$host", "value": "v"}]), "request_headers[0].name"),
    ("a response header name with '$'", _attacker(locations=[{"path": "/x/", "backend": "https://b.test:9443/x/",
                                                              "response_headers": [{"name": "X-$a", "value": "v"}]}]),
     "locations[0].response_headers[0].name"),
    ("a backend URL with a variable", _attacker(loc_backend="https://b.test:9443/x/$host/"), "'$'"),
    # another site's upstream group as a backend host (nginx compares upstream names case-insensitively)
    ("an upstream group's name as the host", _attacker(loc_backend="https://revproxy_shop_root:9443/x/"), "revproxy_"),
    ("an upstream group's name in capitals", _attacker(loc_backend="https://REVPROXY_shop_root:9443/x/"), "revproxy_"),
    ("a pool whose members have different hosts (the group's name would be checked)",
     _attacker(locations=[{"path": "/x/", "backends": [{"url": "https://b.test:9443/x/"},
                                                       {"url": "https://c.test:9444/x/"}]}]), "same host name"),
    # files nginx would read or serve
    ("the victim's deployed CA", _attacker(backend_tls={"ca_file": TLS_DIR + "/shop/ca.pem"}), "TLS directory"),
    ("the victim's deployed client certificate and key",
     _attacker(backend_tls={"ca_file": "/srv/evil/ca.pem", "client_cert_file": TLS_DIR + "/shop/client.pem"}),
     "TLS directory"),
    ("an ACME directory under /etc", _attacker(tls=FRONT, listen={"port": 8443}, acme_challenge_dir="/etc/ssl/private"),
     "not under a served root"),
    ("an ACME directory that is a served root", _attacker(tls=FRONT, listen={"port": 8443}, acme_challenge_dir="/srv"),
     "served root itself"),
    ("an ACME directory with '..'", _attacker(tls=FRONT, listen={"port": 8443}, acme_challenge_dir="/srv/x/../../etc"),
     "'..'"),
    ("an error page outside the served roots", _attacker(error_pages=[{"status": 502, "file": "/etc/passwd"}]),
     "not under a served root"),
    ("an error page that is a directory", _attacker(error_pages=[{"status": 502, "file": "/srv/evil/"}]), "file"),
    # backend TLS without the site's opt-in
    ("verification off", _attacker(backend_tls={"verify": "none"}), "insecure"),
    ("TLS 1.0 to the backend", _attacker(backend_tls={"ca_file": "/srv/evil/ca.pem", "protocols": ["TLSv1", "TLSv1.2"]}),
     "insecure"),
    ("anonymous ciphers", _attacker(backend_tls={"ca_file": "/srv/evil/ca.pem", "ciphers": "aNULL"}), "insecure"),
    ("@SECLEVEL=0", _attacker(backend_tls={"ca_file": "/srv/evil/ca.pem", "ciphers": "DEFAULT:@SECLEVEL=0"}),
     "insecure"),
    ("the name check off", _attacker(backend_tls={"ca_file": "/srv/evil/ca.pem", "check_peer_name": False}), "name"),
    ("optional verification", _attacker(backend_tls={"ca_file": "/srv/evil/ca.pem", "verify": "optional"}),
     "on or off"),
    ("an IP literal as the TLS backend (never matches)", _attacker(loc_backend="https://127.0.0.1:9443/x/"),
     "IP literal"),
    ("a raw directive", _attacker(extra_directives=["proxy_ssl_verify off"]), "extra"),
    ("the public side's old profile", _attacker(tls=FRONT, listen={"port": 8443}, tls_profile="old"), "insecure"),
]

# (case, the attacker's site): accepted, and the rendered file holds nothing of the attacker's beyond one token each.
HARMLESS = [
    ("a ';' in the location path", _attacker(loc_path="/a;b/", loc_backend="https://b.test:9443/a/")),
    ("a ';' in the backend path", _attacker(loc_backend="https://b.test:9443/x;y/")),
    ("server_name '_' (not special to nginx: only Host '_')", _attacker(server_name="_")),
    ("a wildcard alias of its own names", _attacker(server_aliases=["*.evil.test"])),
    ("preserve_host (the client's Host to the backend, its own name checked)", _attacker(preserve_host=True)),
    ("a site name like an upstream group's", _attacker(name="shop_root")),
    ("verify_depth 0 (stricter)", _attacker(backend_tls={"ca_file": "/srv/evil/ca.pem", "verify_depth": 0})),
]


@pytest.mark.parametrize("case,site,needle", REFUSED, ids=[c[0] for c in REFUSED])
def test_refused(case, site, needle):
    with pytest.raises(ConfigError) as info:
        _normalize(_victim(), site)
    assert "site 'evil'" in str(info.value), case
    assert needle in str(info.value), (case, str(info.value))


@pytest.mark.parametrize("case,site", HARMLESS, ids=[c[0] for c in HARMLESS])
def test_harmless(case, site):
    effs = _normalize(_victim(), site)
    text = render_site(effs[1])
    events = parse(text)
    names = [words[1:] for _depth, words, _end in events if words[0] == "server_name"]
    assert names == [[effs[1]["server_name"]] + effs[1]["server_aliases"]], case
    for _depth, words, _end in events:
        assert words[0] not in ("include", "root", "access_log", "error_log", "proxy_store", "proxy_temp_path"), case
        if words[0] == "location":
            assert words[1:] in (["/"], ["/x/"], ["/a;b/"]), case
        if words[0] == "proxy_ssl_verify":
            assert words[1:] == ["on"], case


def _get(address, port, host, path="/", headers=None):
    conn = http.client.HTTPConnection(address, port, timeout=10)
    try:
        conn.request("GET", path, headers=dict(headers or {}, Host=host))
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_a_site_takes_no_name_of_another_live(tmp_path):
    """A live nginx with the victim on *:port and the attacker's site on 127.0.0.1:port (each valid alone): nginx
    hands the victim's name on 127.0.0.1 to the attacker's backend. And a site on another port declaring the victim's
    name gets the victim's cookies. Both pairs are refused now."""
    victim_port, other_port = reserve_port(), reserve_port()
    nginx = PrivateNginx(str(tmp_path / "nginx"))
    with PlainHTTPBackend(body=b"victim") as good, PlainHTTPBackend(body=b"attacker") as bad:
        bad.echo_path = "/echo"
        victim = dict(_victim(victim_port.port), locations=[{"path": "/", "backend": "http://localhost:%d/" % good.port}])
        capture = _attacker(server_name="shop.test", listen={"port": victim_port.port, "address": "127.0.0.1"},
                            backend_tls=None, locations=[{"path": "/", "backend": "http://localhost:%d/" % bad.port}])
        cookies = dict(capture, name="evil2", listen={"port": other_port.port})
        for attacker, needle in ((capture, "listens on every address there"), (cookies, "also served by site 'shop'")):
            with pytest.raises(ConfigError, match=needle):
                _normalize(victim, attacker)
        for site in (victim, capture, cookies):
            eff = _normalize(site)[0]
            with open(os.path.join(nginx.etc, "conf.d", eff["name"] + ".conf"), "w") as handle:
                handle.write(render_site(eff))
        test = subprocess.run([NGINX_BINARY, "-t", "-p", nginx.dir, "-c", nginx.conf], capture_output=True, text=True,
                              check=False, timeout=30)
        assert test.returncode == 0, test.stderr
        victim_port.release()
        other_port.release()
        with nginx:
            assert _get("127.0.0.2", victim_port.port, "shop.test")[1].startswith(b"victim")
            status, body = _get("127.0.0.1", victim_port.port, "shop.test")
            assert (status, body.split(b"\n")[0]) == (200, b"attacker"), "nginx 1.22 no longer prefers the address"
            status, body = _get("127.0.0.1", other_port.port, "shop.test", "/echo", {"Cookie": "session=victim-secret"})
            assert status == 200
            assert ["Cookie", "session=victim-secret"] in json.loads(body)["headers"]


# -- hand-written server blocks ----------------------------------------------------------------------------------------
# Finding: the nginx role never read the running configuration, so a managed site could declare the name of a
# hand-written server block. conf.d/*.conf (the managed sites) is read before Debian's sites-enabled/*, and nginx
# answers a name declared twice on one address:port with the first server ('conflicting server name ... ignored' is a
# warning, nginx -t passes): the managed site took the name. Fixed: nginx_proxy_sites reads the hand-written server
# blocks with `nginx -T` (nginx/_live_servers.py) and the profile refuses their names and their port's addresses.

DUMP = """# configuration file /etc/nginx/nginx.conf:
http {
    include /etc/nginx/conf.d/*.conf;
    server { listen 80 default_server; listen [::]:80 default_server; server_name _; }
    upstream pool { server 10.0.0.1:80; }
}
stream { server { listen 5353; proxy_pass 10.0.0.1:53; } }

# configuration file /etc/nginx/conf.d/managed.conf:
# Managed by revproxy.tls (nginx_proxy role)
server { listen 8443 ssl; server_name managed.test; }

# configuration file /etc/nginx/conf.d/admin.conf:
server {
    listen 127.0.0.1:8080;
    listen unix:/run/x.sock;
    server_name Admin.TEST. *.intra.test "~^re$";
    location / { if ($x) { return 404; } }
}
server { server_name nolisten.test; }

# configuration file /etc/nginx/sites-enabled/tls:
server { listen 9443 ssl http2; server_name tls.test; }
"""


def test_server_blocks_of_a_dump():
    from ansible_collections.revproxy.tls.plugins.module_utils.nginx._live_servers import server_blocks
    got = [(b["file"], b["address"], b["port"], b["names"], b["default"]) for b in server_blocks(DUMP, "/etc/nginx/conf.d")]
    assert got == [
        ("/etc/nginx/nginx.conf", None, 80, ["_"], True),
        ("/etc/nginx/nginx.conf", None, 80, ["_"], True),
        ("/etc/nginx/conf.d/admin.conf", "127.0.0.1", 8080, ["admin.test", "*.intra.test"], False),
        ("/etc/nginx/conf.d/admin.conf", None, 80, ["nolisten.test"], False),
        ("/etc/nginx/sites-enabled/tls", None, 9443, ["tls.test"], False),
    ]
    assert [b["tls"] for b in server_blocks(DUMP, "/etc/nginx/conf.d")] == [False] * 4 + [True]


@pytest.mark.parametrize("arg,want", [("80", (None, 80)), ("*:8080", (None, 8080)), ("0.0.0.0:1", (None, 1)),
                                      ("[::]:443", (None, 443)), ("127.0.0.1", ("127.0.0.1", 80)),
                                      ("[::1]:8443", ("::1", 8443)), ("Localhost:81", ("localhost", 81)),
                                      ("unix:/run/x.sock", None), ("[::1]", ("::1", 80))])
def test_listen_address(arg, want):
    from ansible_collections.revproxy.tls.plugins.module_utils.nginx._live_servers import listen_address
    assert listen_address(arg) == want


@pytest.mark.parametrize("site,needle", [
    (_attacker(server_name="admin.test", listen={"port": 9999}), "also served by the hand-written server block"),
    (_attacker(server_aliases=["x.intra.test"], listen={"port": 8080}), "names the hand-written server block in"),
    (_attacker(server_aliases=["*.intra.test"]), "also served"),
    (_attacker(listen={"port": 80, "address": "127.0.0.2"}), "listens on every address there"),
    (_attacker(listen={"port": 9443}), "is a TLS port of the hand-written server block in /etc/nginx/sites-enabled/tls"),
    (_attacker(tls=FRONT, listen={"port": 8080}, redirect_http=False), "is a plain HTTP port of the hand-written"),
    (_attacker(tls=FRONT, listen={"port": 80}, redirect_http=False), "is a plain HTTP port of the hand-written"),
])
def test_refused_against_hand_written_blocks(site, needle):
    from ansible_collections.revproxy.tls.plugins.module_utils.nginx._live_servers import server_blocks
    live = server_blocks(DUMP, "/etc/nginx/conf.d")
    with pytest.raises(ConfigError, match=needle):
        NGINX.check_ownership(_normalize(site), live)
    NGINX.check_ownership(_normalize(_attacker()), live)  # its own names on *:8080: nothing of theirs taken
    NGINX.check_ownership(_normalize(_attacker(tls=FRONT, listen={"port": 9443}, redirect_http_port=80)), live)


PLAY = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Plan and apply
      revproxy.tls.nginx_proxy_sites: "{{ sites_args }}"
"""


def test_a_site_takes_no_hand_written_name_live(tmp_path):
    """A private nginx with a hand-written server block (conf.d/zz-admin.conf, admin.test). What nginx does with a
    managed file declaring admin.test (a copy of the tree): the managed site answers it. The module refuses that site
    and a site on a specific address of the hand-written block's port, changing nothing; a site of its own names on
    the same port applies, and a second run changes nothing (its own file is not read as hand-written). A TLS site of
    its own names on the hand-written plain port (each valid alone, nginx -t passes: only the default server needs a
    certificate) turned the hand-written site's port into TLS (400 to its plain clients): refused too."""
    from conftest import run_playbook
    reservation = reserve_port()
    port = reservation.port
    hand = ('server {\n    listen %d;\n    server_name admin.test;\n    location / { return 200 "admin\\n"; }\n}\n'
            % port)
    nginx, copy_ = PrivateNginx(str(tmp_path / "nginx")), PrivateNginx(str(tmp_path / "copy"))
    with PlainHTTPBackend(body=b"attacker") as bad:
        taker = dict(_attacker(server_name="admin.test", listen={"port": port}), backend_tls=None,
                     locations=[{"path": "/", "backend": "http://localhost:%d/" % bad.port}])
        leaf = PKI(str(tmp_path / "pki")).self_signed("evil", dns=["evil.test"])
        tls_site = dict(taker, server_name="evil.test", redirect_http=False,
                        tls={"certificate_file": leaf.cert_path, "key_file": leaf.key_path})
        for tree in (nginx, copy_):
            with open(os.path.join(tree.etc, "conf.d", "zz-admin.conf"), "w") as handle:
                handle.write(hand)
        with open(os.path.join(copy_.etc, "conf.d", "evil.conf"), "w") as handle:
            handle.write(render_site(_normalize(taker)[0]))
        test = subprocess.run([NGINX_BINARY, "-t", "-p", copy_.dir, "-c", copy_.conf], capture_output=True,
                              text=True, check=False, timeout=30)
        assert test.returncode == 0 and "conflicting server name" in test.stderr, test.stderr
        reservation.release()
        try:
            with copy_:
                assert _get("127.0.0.1", port, "admin.test")[1].startswith(b"attacker")
            with open(os.path.join(copy_.etc, "conf.d", "evil.conf"), "w") as handle:
                handle.write(render_site(_normalize(tls_site)[0]))
            with copy_:  # a TLS site of its own names on the port makes the hand-written plain site TLS
                assert _get("127.0.0.1", port, "admin.test")[0] == 400
            nginx.start()
            before = nginx.tree()
            for site, needle in ((taker, "also served by the hand-written server block in %s" % nginx.etc),
                                 (dict(taker, server_name="evil.test", listen={"port": port, "address": "127.0.0.1"}),
                                  "listens on every address there"),
                                 (tls_site, "is a plain HTTP port of the hand-written server block")):
                result = run_playbook(PLAY, {"sites_args": dict(nginx.module_args, sites=[site])})
                assert result.rc != 0 and needle in result.output, result.output[-2000:]
                assert nginx.tree() == before
            assert _get("127.0.0.1", port, "admin.test") == (200, b"admin\n")
            own = dict(taker, server_name="evil.test")
            for changed in (1, 0):
                result = run_playbook(PLAY, {"sites_args": dict(nginx.module_args, sites=[own])})
                assert result.rc == 0 and result.changed == changed, result.output[-2000:]
        finally:
            nginx.stop()
            copy_.stop()


@pytest.mark.xfail(strict=True, reason="open finding for the nginx role's author: a managed file read before a "
                   "hand-written server block that has no default_server becomes the default server of its port")
def test_a_site_does_not_become_the_default_server_of_a_hand_written_port_live(tmp_path):
    """Open (not fixed here): nginx's default server of an address:port is the first server block read there unless
    one says default_server. A hand-written catch-all (here conf.d/zz-lb.conf, answering a load balancer's health
    check by IP) on a port where a survey user's site of its own names goes (conf.d/evil.conf, read first) stops
    being the default: the check gets the managed site's 421. On RHEL the packaged nginx.conf includes conf.d/*.conf
    before its own `listen 80` server (no default_server), so every managed site on port 80 becomes the default
    there. The Apache role refuses this case (its rule 3). Wanted: refused, or nginx still answers the catch-all."""
    from conftest import run_playbook
    reservation = reserve_port()
    port = reservation.port
    nginx = PrivateNginx(str(tmp_path / "nginx"))
    with open(os.path.join(nginx.etc, "conf.d", "zz-lb.conf"), "w") as handle:
        handle.write('server {\n    listen %d;\n    server_name lb.internal;\n    location / { return 200 "up\\n"; }\n}\n'
                     % port)
    with PlainHTTPBackend(body=b"attacker") as bad:
        own = dict(_attacker(listen={"port": port}), backend_tls=None,
                   locations=[{"path": "/", "backend": "http://localhost:%d/" % bad.port}])
        reservation.release()
        try:
            nginx.start()
            assert _get("127.0.0.1", port, "127.0.0.1") == (200, b"up\n")
            result = run_playbook(PLAY, {"sites_args": dict(nginx.module_args, sites=[own])})
            if result.rc == 0:
                subprocess.run([NGINX_BINARY, "-p", nginx.dir, "-c", nginx.conf, "-s", "reload"], check=True,
                               timeout=30)
                time.sleep(1.5)
            assert result.rc != 0 or _get("127.0.0.1", port, "127.0.0.1") == (200, b"up\n")
        finally:
            nginx.stop()


ROLE_PLAY = """
- hosts: localhost
  gather_facts: false
  roles:
    - role: revproxy.tls.nginx_proxy
"""


def test_a_port_nginx_cannot_bind_rolls_back_live(tmp_path):
    """A site on a port another program holds passes `nginx -t` (which binds nothing); the reload then fails in the
    master ('bind() failed'), which keeps the old configuration. The role must notice (no new workers), restore the
    files byte for byte and leave the old site answering."""
    import socket
    from conftest import run_playbook
    site_port = reserve_port("127.0.0.1")
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    nginx = PrivateNginx(str(tmp_path / "nginx"))
    variables = {"nginx_proxy_install": False, "nginx_proxy_manage_service": False, "nginx_proxy_config_root": nginx.etc,
                 "nginx_proxy_prefix": nginx.dir, "nginx_proxy_binary": NGINX_BINARY,
                 "nginx_proxy_pid_file": nginx.pid_file, "nginx_proxy_error_log": nginx.error_log}
    with PlainHTTPBackend(body=b"old") as old:
        good = {"name": "good", "server_name": "good.test", "listen": {"address": "127.0.0.1", "port": site_port.port},
                "locations": [{"path": "/", "backend": "http://localhost:%d/" % old.port}]}
        taken = dict(good, name="taken", server_name="taken.test",
                     listen={"address": "127.0.0.1", "port": holder.getsockname()[1]})
        try:
            nginx.start()
            assert run_playbook(ROLE_PLAY, dict(variables, nginx_proxy_sites=[good])).rc == 0
            before = nginx.tree()
            result = run_playbook(ROLE_PLAY, dict(variables, nginx_proxy_sites=[good, taken]))
            assert result.rc != 0, result.output[-3000:]
            assert "restored" in result.output, result.output[-3000:]
            assert nginx.tree() == before
            assert _get("127.0.0.1", site_port.port, "good.test")[1].startswith(b"old")
        finally:
            nginx.stop()
            holder.close()
            site_port.release()
