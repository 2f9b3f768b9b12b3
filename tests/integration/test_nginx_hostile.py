"""The hostile site inputs of test_hostile_inputs.py (every string field fed the same hostile strings, and the same
specific cases), for nginx: each case is refused, with an error naming the site and the field, or accepted and proven
harmless: rendered for nginx, read back with nginx's grammar (nginx/_emit.parse, a port of ngx_conf_read_token) into
known directives with the expected number of arguments, no '$' outside the renderer's own variables, the server
names exactly the site's, and `nginx -t` on a private tree accepts the file. A case accepted but not harmless counts
as dangerous; the test demands zero. The counts go to tests/output/nginx-hostile-inputs.json.

A proof of what the fields let the server do: a hostile header value reaches the client byte for byte as one header
(a real nginx serves it), and a client's forwarded headers never reach the backend.
"""
import copy
import json
import os
import re
import subprocess


from ansible_collections.revproxy.tls.plugins.module_utils.model._grammar import ConfigError
from ansible_collections.revproxy.tls.plugins.module_utils.model._sites import normalize_sites
from ansible_collections.revproxy.tls.plugins.module_utils.nginx._capabilities import NGINX
from ansible_collections.revproxy.tls.plugins.module_utils.nginx._emit import SCRIPT_VARIABLES, parse
from ansible_collections.revproxy.tls.plugins.module_utils.nginx._render import render_site
from support.nginx import NGINX as NGINX_BINARY
from support.pemdata import CA, CERT, KEY, OTHER_KEY
from test_hostile_inputs import CASES, _base

HERE = os.path.dirname(os.path.abspath(__file__))
OUTPUT = os.path.join(os.path.dirname(HERE), "output", "nginx-hostile-inputs.json")
TLS_DIR = "/etc/nginx/revproxy-tls"

# Directive -> (min, max) arguments, for every directive the renderer writes.
ARITY = {
    "upstream": (1, 1), "least_conn": (0, 0), "keepalive": (1, 1), "listen": (1, 3), "server_name": (1, 1001),
    "if": (5, 5), "return": (1, 2), "ssl_certificate": (1, 1), "ssl_certificate_key": (1, 1), "ssl_protocols": (1, 4),
    "ssl_ciphers": (1, 1), "ssl_prefer_server_ciphers": (1, 1), "ssl_session_tickets": (1, 1), "ssl_stapling": (1, 1),
    "ssl_stapling_verify": (1, 1), "add_header": (3, 3), "location": (1, 2), "proxy_pass": (1, 1),
    "proxy_http_version": (1, 1), "proxy_set_header": (2, 2), "proxy_hide_header": (1, 1),
    "proxy_cookie_domain": (2, 2), "proxy_cookie_path": (2, 2), "proxy_read_timeout": (1, 1),
    "proxy_send_timeout": (1, 1), "proxy_connect_timeout": (1, 1), "proxy_socket_keepalive": (1, 1),
    "proxy_buffering": (1, 1), "proxy_ssl_verify": (1, 1), "proxy_ssl_trusted_certificate": (1, 1),
    "proxy_ssl_verify_depth": (1, 1), "proxy_ssl_crl": (1, 1), "proxy_ssl_server_name": (1, 1),
    "proxy_ssl_name": (1, 1), "proxy_ssl_protocols": (1, 4), "proxy_ssl_ciphers": (1, 1),
    "proxy_ssl_certificate": (1, 1), "proxy_ssl_certificate_key": (1, 1), "proxy_ssl_session_reuse": (1, 1),
    "alias": (1, 1), "disable_symlinks": (2, 2), "error_page": (2, 2), "internal": (0, 0),
    "proxy_intercept_errors": (1, 1), "proxy_headers_hash_max_size": (1, 1), "proxy_headers_hash_bucket_size": (1, 1),
}
_VARIABLE = re.compile(r"\$(%s)" % "|".join(SCRIPT_VARIABLES))


def harmless(text, eff):
    """Why the rendered text is not harmless, or None."""
    try:
        events = parse(text)
    except ConfigError as exc:
        return str(exc)
    names = []
    for depth, words, end in events:
        name, args = words[0], words[1:]
        if name == "server" and depth == 0:
            if args or end != "{":
                return "server block %r" % words
            continue
        if name == "server":  # an upstream member: address and keywords
            if not (2 <= len(args) <= 4) or not all(re.match(r"^(weight=\d+|backup|down)$", a) for a in args[1:]):
                return "upstream server %r" % words
            continue
        if name not in ARITY:
            return "unexpected directive %r" % name
        low, high = ARITY[name]
        if not low <= len(args) <= high:
            return "%s has %d arguments" % (name, len(args))
        for arg in args:
            rest = _VARIABLE.sub("", arg)
            if "$" in rest and not (name == "if" and arg.endswith("$") and "$" not in rest[:-1]):
                return "%s: %r holds a '$' nginx would read as a variable" % (name, arg)
        if name == "server_name":
            names.append(args)
    copies = 2 if eff["frontend"]["redirect"] else 1
    if names != [[eff["server_name"]] + eff["server_aliases"]] * copies:
        return "server names read back as %r" % names
    return None


def _hosts(eff):
    hosts = set()
    for loc in eff["locations"]:
        if loc.get("pool"):
            hosts.update(m["url"].host for m in loc["pool"]["members"])
        else:
            hosts.add(loc["url"].host)
    return hosts


def _prepare(eff, files):
    """The effective site pointed at files nginx can read (the deployed paths do not exist here)."""
    eff["contents"] = {}
    tls_sets = [eff["backend_tls"]] + [loc["backend_tls"] for loc in eff["locations"]]
    for tls in tls_sets:
        if tls.get("ca_file"):
            tls["ca_file"] = files + "/ca.pem"
        if tls.get("crl_file"):
            tls["crl_file"] = None
        if tls.get("client_cert_file"):
            tls["client_cert_file"] = files + "/pair.pem"
            tls["client_key_file"] = None


def _nginx_t(cases, workdir, hosts):
    """nginx -t of each case's file in a private tree, in one mount namespace whose /etc/hosts names the backends
    (nginx resolves proxy_pass and upstream hosts when it reads the configuration). Returns {case index: output}
    for the cases nginx refused."""
    os.makedirs(workdir)
    hosts_file = os.path.join(workdir, "hosts")
    with open(hosts_file, "w") as handle:
        handle.write("127.0.0.1 localhost %s\n::1 ip6-localhost\n" % " ".join(sorted(hosts)))
    lines = []
    for index, text in cases:
        case_dir = os.path.join(workdir, "case-%d" % index)
        os.makedirs(os.path.join(case_dir, "conf.d"))
        with open(os.path.join(case_dir, "conf.d", "site.conf"), "w") as handle:
            handle.write(text)
        with open(os.path.join(case_dir, "nginx.conf"), "w") as handle:
            handle.write("pid %s/nginx.pid;\nerror_log %s/error.log;\nevents {}\nhttp {\n access_log off;\n"
                         " include %s/conf.d/*.conf;\n}\n" % (case_dir, case_dir, case_dir))
        lines.append('%s -t -q -p %s -c %s/nginx.conf > %s/out 2>&1 || echo %d' % (
            NGINX_BINARY, case_dir, case_dir, case_dir, index))
    script = os.path.join(workdir, "run.sh")
    with open(script, "w") as handle:
        handle.write("mount --bind %s /etc/hosts\n%s\n" % (hosts_file, "\n".join(lines)))
    res = subprocess.run(["unshare", "--mount", "--propagation", "private", "/bin/sh", script], capture_output=True,
                         text=True, timeout=600, check=False)
    assert res.returncode == 0, res.stderr
    failed = {}
    for word in res.stdout.split():
        index = int(word)
        with open(os.path.join(workdir, "case-%d" % index, "out")) as handle:
            failed[index] = handle.read()[-400:]
    return failed


def test_hostile_site_inputs_for_nginx(tmp_path):
    files = str(tmp_path / "files")
    os.makedirs(files)
    for name, text in (("ca.pem", CA), ("front.pem", CERT), ("front.key", KEY), ("pair.pem", CERT + KEY)):
        with open(os.path.join(files, name), "w") as handle:
            handle.write(text)
    counts = {"tried": 0, "refused": 0, "accepted_harmless": 0, "dangerous": 0}
    details, rendered, hosts = [], [], set()
    for index, (case_id, mutate, value, field) in enumerate(CASES):
        site = copy.deepcopy(_base(files))
        if "exclusion" not in case_id:
            site.pop("proxy_exclusions")  # not rendered for nginx yet (refused): the base site must render
        mutate(site, value)
        counts["tried"] += 1
        try:
            eff = normalize_sites([site], tls_dir=TLS_DIR, server=NGINX)[0]
        except ConfigError as exc:
            msg = str(exc)
            named = msg.startswith("site 'h': ") or msg.startswith("site #0: ")
            # A case the Apache table expects refused for one field may be refused for nginx for another it cannot
            # express (proxy_exclusions in the base site): it must then name nginx.
            names_field = not field or field in msg or all(part in msg for part in field.split("."))
            if not named or not (names_field or "nginx" in msg):
                counts["dangerous"] += 1
                details.append({"case": case_id, "problem": "refusal does not name site and field", "msg": msg})
            else:
                counts["refused"] += 1
            if KEY.splitlines()[1] in msg or OTHER_KEY.splitlines()[1] in msg:
                counts["dangerous"] += 1
                details.append({"case": case_id, "problem": "key material in the error"})
            continue
        except Exception as exc:  # pylint: disable=broad-except
            counts["dangerous"] += 1
            details.append({"case": case_id, "problem": "uncaught %s: %s" % (type(exc).__name__, exc)})
            continue
        _prepare(eff, files)
        text = render_site(eff)
        problem = harmless(text, eff)
        if problem:
            counts["dangerous"] += 1
            details.append({"case": case_id, "problem": problem, "rendered": text})
            continue
        rendered.append((index, case_id, text))
        hosts.update(_hosts(eff))
    failed = _nginx_t([(i, text) for i, _c, text in rendered], str(tmp_path / "nginx"), hosts)
    for index, case_id, text in rendered:
        if index in failed:
            counts["dangerous"] += 1
            details.append({"case": case_id, "problem": "nginx -t: %s" % failed[index], "rendered": text})
        else:
            counts["accepted_harmless"] += 1
    os.makedirs(os.path.dirname(OUTPUT), exist_ok=True)
    with open(OUTPUT, "w") as handle:
        json.dump({"counts": counts, "details": details}, handle, indent=1)
    print("nginx hostile site inputs: %(tried)d tried, %(refused)d refused, %(accepted_harmless)d accepted and "
          "harmless, %(dangerous)d dangerous" % counts)
    assert counts["tried"] == len(CASES) >= 900
    assert counts["accepted_harmless"] >= 20  # the table's accepted cases still render (not all refused)
    assert counts["dangerous"] == 0, json.dumps(details, indent=1)[:6000]


HOSTILE_VALUES = ['a"b;{}#\\x', "v; add_header X-Evil 1", "v\" always; add_header X-Evil \"1", "#not a comment",
                  "{ } ;", "'single'", "back\\\\slash \\\\n"]


def test_what_the_fields_let_nginx_do_live(tmp_path):
    """On a real nginx: each hostile header value reaches the client as exactly one header, byte for byte (no header
    or directive added); a client's forwarded headers (every spelling) never reach the backend, which sees the proxy's
    own X-Forwarded-For; a Host that is not the site's is refused (421); the ACME directory serves its files and no
    symbolic link placed in it (to /etc/hostname), whatever the preflight saw."""
    import http.client
    from support.apache import reserve_port
    from support.backends import TLSBackend
    from support.nginx import PrivateNginx
    from support.pki import PKI

    pki = PKI(str(tmp_path / "pki"))
    root = pki.ca("hostile root")
    leaf = pki.leaf("leaf", dns=["localhost"], issuer=root)
    backend = TLSBackend(leaf.chain_path, leaf.key_path, echo_path="/echo")
    reservation = reserve_port("127.0.0.1")
    redirect = reserve_port("127.0.0.1")
    front = pki.leaf("front", dns=["h.example"], issuer=root)
    import pathlib
    import shutil
    import tempfile
    acme = pathlib.Path(tempfile.mkdtemp(prefix="revproxy-nginx-acme-"))  # readable by nginx's workers (nobody)
    acme.chmod(0o755)
    (acme / "token").write_text("token-ok")
    (acme / "token").chmod(0o644)
    (acme / "link").symlink_to("/etc/hostname")
    (acme / "502.html").write_text("local 502 page")
    (acme / "502.html").chmod(0o644)
    dead = reserve_port("127.0.0.1")  # bound, never listening: connections are refused
    ng = PrivateNginx(str(tmp_path / "nginx"))
    try:
        site = {"name": "h", "server_name": "h.example", "listen": {"address": "127.0.0.1", "port": reservation.port},
                "tls": {"certificate_file": front.chain_path, "key_file": front.key_path},
                "redirect_http_port": redirect.port, "acme_challenge_dir": "/srv/h/acme",
                "backend_tls": {"ca_file": root.cert_path},
                "response_headers": [{"name": "X-H%d" % i, "value": v} for i, v in enumerate(HOSTILE_VALUES)],
                "error_pages": [{"status": 502, "file": "/srv/h/502.html"}],
                "locations": [{"path": "/", "backend": "https://localhost:%d/" % backend.port},
                              {"path": "/dead/", "backend": "https://localhost:%d/" % dead.port}]}
        eff = normalize_sites([site], tls_dir=TLS_DIR, server=NGINX)[0]
        eff["frontend"]["redirect"]["acme_challenge_dir"] = str(acme)  # a served root's text, here under /tmp
        eff["frontend"]["error_pages"] = [(502, str(acme / "502.html"))]
        with open(os.path.join(ng.etc, "conf.d", "h.conf"), "w") as handle:
            handle.write(render_site(eff))
        ng.start()
        conn = http.client.HTTPSConnection("127.0.0.1", reservation.port, timeout=10,
                                           context=__import__("ssl")._create_unverified_context())
        spoofed = {"Host": "h.example", "X-Forwarded-For": "6.6.6.6", "Forwarded": "for=6.6.6.6",
                   "X-Real-IP": "6.6.6.6", "X-Forwarded-Host": "evil.example", "True-Client-IP": "6.6.6.6"}
        conn.request("GET", "/echo", headers=spoofed)
        resp = conn.getresponse()
        body = json.loads(resp.read())
        assert resp.status == 200
        for i, value in enumerate(HOSTILE_VALUES):
            assert resp.headers.get_all("X-H%d" % i) == [value]
        assert resp.headers.get("X-Evil") is None
        received = [tuple(item) if isinstance(item, list) else tuple(item.split(":", 1)) for item in body["headers"]]
        names = [name.strip().lower() for name, _v in received]
        assert "6.6.6.6" not in json.dumps(body) and "evil.example" not in json.dumps(body), body
        assert "forwarded" not in names and "x-real-ip" not in names and "true-client-ip" not in names
        assert dict((n.strip().lower(), v.strip()) for n, v in received)["x-forwarded-for"] == "127.0.0.1"
        conn.close()
        # error_pages: nginx's own 502 (a refused backend) answered with the local page.
        conn = http.client.HTTPSConnection("127.0.0.1", reservation.port, timeout=10,
                                           context=__import__("ssl")._create_unverified_context())
        conn.request("GET", "/dead/x", headers={"Host": "h.example"})
        resp = conn.getresponse()
        assert (resp.status, resp.read()) == (502, b"local 502 page")
        conn.close()
        conn = http.client.HTTPConnection("127.0.0.1", redirect.port, timeout=10)
        conn.request("GET", "/echo", headers={"Host": "evil.example"})
        assert conn.getresponse().status == 421
        conn.close()
        for path, status, body_text in (("/.well-known/acme-challenge/token", 200, b"token-ok"),
                                        ("/.well-known/acme-challenge/link", 403, None),
                                        ("/other", 301, None)):
            conn = http.client.HTTPConnection("127.0.0.1", redirect.port, timeout=10)
            conn.request("GET", path, headers={"Host": "h.example"})
            resp = conn.getresponse()
            got = resp.read()
            assert resp.status == status, (path, resp.status)
            if body_text:
                assert got == body_text
            conn.close()
    finally:
        ng.stop()
        reservation.release()
        redirect.release()
        dead.release()
        backend.stop()
        shutil.rmtree(str(acme), ignore_errors=True)
