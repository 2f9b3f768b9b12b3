"""Hostile review of issue 25 (ACME certificates through mod_md), as an AWX survey user who fills in the site list.

Live proofs run the collection's own rendering (normalize_sites, check_sites_against, render_site,
render_listen_conf with the operator's settings) in a private Apache with its own mod_md store, against pebble
(tests/support/pebble.py, real validation).

- md-status is for loopback clients only. A site's backend is any URL a survey user writes, and mod_proxy connects
  to it from this host: a location whose backend is http://127.0.0.1:<status_port>/ arrived at the status vhost from
  127.0.0.1, which `Require ip 127.0.0.1 ::1` alone admitted, and every managed domain's names, renewal state and the
  CA's problem details were served to any client of the survey user's site. Fixed as the balancer-manager is: a
  loopback client without X-Forwarded-For/Forwarded (mod_proxy always adds X-Forwarded-For).
- The account: mod_md keeps one ACME account per CA for every managed domain, registered with the contact of the
  first domain it orders. A survey user's site ordered first with tls.acme.contact made that address the contact of
  the account the operator's sites used. Fixed in check_sites_against: a site's contact is the operator's (or, without
  one, the same for every site).
- A renew_window longer than the certificate's lifetime made mod_md order again after every graceful restart, and
  the role's activation job restart the whole server on every run. A site's window is now a share of the lifetime
  (1% to 50%); a fixed time is the operator's apache_proxy_acme_renew_window only.
- A trailing dot in an ACME site's name ("shop.example.com.") left its vhost without a certificate: `apache2 -t`
  passed and the graceful reload stopped the whole server. Refused in model/_acme.py.
- Held: an alias the CA cannot validate added to a site that serves its certificate: the site keeps serving it
  while the order fails and after the rollback (md-status valid again).
- Refusal table: every hostile per-site ACME value (a URL, a CA, an account, an agreement, a store path, names that
  are not the site's, directive injection through the contact) is refused naming its field before anything runs;
  the accepted ones render as exactly one token each inside <MDomain>.
"""
import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time

import pytest

from ansible_collections.revproxy.tls.plugins.module_utils.apache import _render_acme
from ansible_collections.revproxy.tls.plugins.module_utils.apache._emit import tokenize, tokenize_section
from ansible_collections.revproxy.tls.plugins.module_utils.apache._render import needed_modules, render_listen_conf
from ansible_collections.revproxy.tls.plugins.module_utils.model import _acme
from ansible_collections.revproxy.tls.plugins.module_utils.model._grammar import ConfigError
from support.apache import DEFAULT_MODULES, PrivateApache
from support.apache_model import normalize_sites, render_site
from support.backends import PlainHTTPBackend
from support.pebble import Pebble

pytestmark = pytest.mark.apache

MODULES = tuple(DEFAULT_MODULES) + ("md", "authz_host")
SERVED_ROOT = "/srv"
POLICY = {"served_roots": [SERVED_ROOT]}


def _traversable_dir():
    """A directory Apache's workers (www-data) can traverse (mod_md reads its CA file and store as the User)."""
    os.makedirs(SERVED_ROOT, exist_ok=True)
    path = tempfile.mkdtemp(prefix="revproxy-review25-", dir=SERVED_ROOT)
    os.chmod(path, 0o755)
    return path


@pytest.fixture(scope="module")
def ports(module_port):
    return {"http": module_port("127.0.0.1"), "tls": module_port("127.0.0.1")}


@pytest.fixture(scope="module")
def pebble(ports):
    path = _traversable_dir()
    try:
        with Pebble(path, http_port=ports["http"], tls_port=ports["tls"], validity=3 * 3600) as ca:
            yield ca
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture()
def workdir():
    path = _traversable_dir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _settings(pebble, ports, status_port, ca_file):
    return _acme.check_settings({"directory_url": pebble.directory_url, "ca_file": ca_file, "agreement": True,
                                 "contact": "ops@example.org", "http_port": ports["http"],
                                 "https_port": ports["tls"], "status_port": status_port}, policy=POLICY)


def _acme_site(name, ports, backend_port, acme=None):
    return {"name": name.split(".")[0], "server_name": name,
            "listen": {"address": "127.0.0.1", "port": ports["tls"]}, "redirect_http_port": ports["http"],
            "tls": {"acme": acme or {}},
            "locations": [{"path": "/", "backend": "http://127.0.0.1:%d/" % backend_port, "retry": 0}]}


def _render_into(httpd, pebble, ports, status_port, raw_sites, workdir):
    ca_file = os.path.join(workdir, "acme-ca.pem")
    shutil.copy(pebble.tls_root_path, ca_file)
    os.chmod(ca_file, 0o644)
    sites = normalize_sites(raw_sites, policy=POLICY)
    settings = _settings(pebble, ports, status_port, ca_file)
    _acme.check_sites_against(settings, sites)
    text = render_listen_conf(sites, set(), settings)
    for site in sites:
        text += render_site(site)
    httpd.set_vhosts(text)
    httpd.modules = tuple(MODULES) + tuple(m for m in needed_modules(sites) if m not in MODULES)
    httpd.write_config()


def _apache(workdir, pebble, ports, status_port, raw_sites):
    """A private Apache serving the collection's rendering of ``raw_sites`` (its own mod_md store)."""
    httpd = PrivateApache(os.path.join(workdir, "apache"))
    httpd.extra_global = 'MDStoreDir "%s/md"' % httpd.workdir
    _render_into(httpd, pebble, ports, status_port, raw_sites, workdir)
    return httpd


def _direct_status(port, path="/md-status"):
    """What the role's wait module and the activation job do: a loopback request straight to the status vhost."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers={"Host": "localhost"})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def _get(port, host, path):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers={"Host": host})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_md_status_is_not_published_through_a_survey_users_backend(pebble, ports, workdir, module_port):
    """A second site (plain HTTP, any survey user's) proxies /leak/ to the ACME status port on 127.0.0.1. Before the
    fix Apache answered 200 with md-status's JSON of every managed domain (the victim's name, its renewal state and
    the CA's problem detail); now 403, and a direct loopback client (the role's wait, the cron job) still reads it."""
    victim = "victim-%d.acme.test" % os.getpid()
    status_port = module_port("127.0.0.1")
    leak_port = module_port("127.0.0.1")
    backend = PlainHTTPBackend(body=b"victim backend")
    attacker = {"name": "attacker", "server_name": "attacker.example.org",
                "listen": {"address": "127.0.0.1", "port": leak_port},
                "locations": [{"path": "/leak/", "backend": "http://127.0.0.1:%d/" % status_port, "retry": 0},
                              {"path": "/wsleak/", "backend": "ws://localhost:%d/" % status_port, "retry": 0},
                              {"path": "/", "backend": "http://127.0.0.1:%d/" % backend.port, "retry": 0}]}
    # The victim's name resolves where nothing listens: its order fails, and md-status holds the CA's reason.
    pebble.add_a(victim, "127.0.0.2")
    httpd = _apache(workdir, pebble, ports, status_port, [_acme_site(victim, ports, backend.port), attacker])
    try:
        httpd.start()
        direct = None
        for _attempt in range(100):
            status, body = _direct_status(status_port, "/md-status/%s" % victim)
            direct = json.loads(body) if status == 200 else None
            if direct and (direct.get("renewal") or {}).get("last", {}).get("status"):
                break
            time.sleep(0.1)
        assert direct and direct["name"] == victim, direct
        status, body = _get(leak_port, "attacker.example.org", "/leak/md-status")
        assert victim.encode() not in body, body[:500]
        assert status == 403, (status, body[:500])
        status, body = _get(leak_port, "attacker.example.org", "/leak/md-status/%s" % victim)
        assert status == 403 and victim.encode() not in body, (status, body[:500])
        status, body = _get(leak_port, "attacker.example.org", "/wsleak/md-status")
        assert status != 200 and victim.encode() not in body, (status, body[:500])
        # The public listeners with a Host trick: md-status is only in the loopback status vhost (its own address
        # and port), so the sites' vhosts never run its handler whatever the Host says.
        for host in ("localhost", "127.0.0.1", victim):
            status, body = _get(ports["http"], host, "/md-status")
            assert status != 200 and b"managed-domains" not in body, (host, status, body[:300])
            status, body = _get(leak_port, host, "/md-status")
            assert b"managed-domains" not in body, (host, status, body[:300])
        # The site itself still works.
        assert _get(leak_port, "attacker.example.org", "/")[0] == 200
        # The role's own readers (no forwarding header) still get the JSON.
        status, body = _direct_status(status_port)
        assert status == 200 and victim.encode() in body
    finally:
        pebble.clear_a(victim)
        httpd.stop()
        backend.stop()


def _wait_finished(status_port, names, timeout=30.0):
    """md-status renewal of each name once finished (obtained or failed); {name: renewal}."""
    deadline = time.monotonic() + timeout
    done = {}
    while time.monotonic() < deadline and len(done) < len(names):
        for name in names:
            status, body = _direct_status(status_port, "/md-status/%s" % name)
            renewal = (json.loads(body).get("renewal") or {}) if status == 200 else {}
            if renewal.get("finished") or (renewal.get("last") or {}).get("status"):
                done[name] = renewal
        time.sleep(0.1)
    assert len(done) == len(names), (names, done)
    return done


def _store_accounts(httpd):
    """[(account URL, contacts)] of the mod_md store's accounts."""
    out = []
    folder = os.path.join(httpd.workdir, "md", "accounts")
    for entry in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
        with open(os.path.join(folder, entry, "account.json"), encoding="utf-8") as handle:
            data = json.load(handle)
        out.append((data.get("url"), data.get("contact")))
    return out


def test_a_sites_contact_never_becomes_the_contact_of_the_account_every_site_uses(
        pebble, ports, workdir, module_port):
    """mod_md keeps one ACME account per CA and gives it to every managed domain (its contact is the first domain's).
    A survey user's site that is ordered first with tls.acme.contact: attacker@... made that address the contact of
    the account the operator's sites then used: the CA's mail about them went to the survey user."""
    theirs, own = "theirs-%d.acme.test" % os.getpid(), "own-%d.acme.test" % os.getpid()
    status_port = module_port("127.0.0.1")
    backend = PlainHTTPBackend(body=b"x")
    site_b = _acme_site(theirs, ports, backend.port, {"contact": "attacker@evil.example"})
    site_a = _acme_site(own, ports, backend.port)
    httpd = None
    try:
        try:
            httpd = _apache(workdir, pebble, ports, status_port, [site_b])
        except ConfigError as exc:
            # The fix: refused before anything runs, naming the field.
            assert "tls.acme.contact" in str(exc), exc
            site_b["tls"]["acme"] = {}
            httpd = _apache(workdir, pebble, ports, status_port, [site_b])
        httpd.start()
        assert _wait_finished(status_port, [theirs])[theirs]["last"]["status"] == 0
        httpd.reload()
        _render_into(httpd, pebble, ports, status_port, [site_b, site_a], workdir)
        httpd.reload()
        assert _wait_finished(status_port, [own])[own]["last"]["status"] == 0
        accounts = _store_accounts(httpd)
        # One account for the CA in the store, used by both domains' orders ...
        assert len(accounts) == 1, accounts
        # ... and its contact is the operator's, never the survey user's.
        assert accounts[0][1] == ["mailto:ops@example.org"], accounts
    finally:
        if httpd is not None:
            httpd.stop()
        backend.stop()


# ---------------------------------------------------------------------------------------------------------------
# The refusal table: what a survey user tried through the site list. Each value is refused before anything runs,
# naming the site and the field. (Checked through normalize_sites and check_sites_against, the functions the
# module runs before it plans a file.)

def _plain_site(acme=None, **over):
    site = {"name": "shop", "server_name": "shop.example.com", "tls": {"acme": {} if acme is None else acme},
            "locations": [{"path": "/", "backend": "http://app.internal:8080/"}]}
    site.update(over)
    return site


def _other(name="other", **over):
    site = {"name": name, "server_name": "other.example.com", "listen": {"port": 8443},
            "tls": {"certificate_file": "/srv/other.pem", "key_file": "/srv/other.key"},
            "locations": [{"path": "/", "backend": "http://app.internal:8080/"}]}
    site.update(over)
    return site


OPERATOR = {"agreement": True, "contact": "ops@example.org", "status_port": 8409}

REFUSED = [
    # a URL, a CA, an account, an agreement, a store, names: never per-site fields
    ("directory_url", [_plain_site({"directory_url": "https://127.0.0.1:1/dir"})], "unknown key(s) directory_url"),
    ("ca_file", [_plain_site({"ca_file": "/etc/shadow"})], "unknown key(s) ca_file"),
    ("ca_content", [_plain_site({"ca_content": "x"})], "unknown key(s) ca_content"),
    ("eab", [_plain_site({"eab_kid": "k", "eab_hmac": "h" * 20})], "unknown key(s) eab_hmac, eab_kid"),
    ("agreement", [_plain_site({"agreement": True})], "unknown key(s) agreement"),
    ("store", [_plain_site({"store_dir": "/etc/apache2"})], "unknown key(s) store_dir"),
    ("account", [_plain_site({"account": "ACME-x-0000"})], "unknown key(s) account"),
    ("names", [_plain_site({"names": ["other.example.com"]})], "unknown key(s) names"),
    ("members", [_plain_site({"members": "auto"})], "unknown key(s) members"),
    ("status_port", [_plain_site({"status_port": 80})], "unknown key(s) status_port"),
    ("message_cmd", [_plain_site({"message_cmd": "/bin/sh -c id"})], "unknown key(s) message_cmd"),
    # directive injection through each free-text field
    ("contact newline", [_plain_site({"contact": "a@example.org\nMDCertificateAuthority https://evil.example/"})],
     "tls.acme.contact"),
    ("contact quote", [_plain_site({"contact": 'a@example.org" MDMember evil.example'})], "tls.acme.contact"),
    ("contact space", [_plain_site({"contact": "a@example.org MDMember evil.example"})], "tls.acme.contact"),
    ("contact section", [_plain_site({"contact": "a@example.org></MDomain><MDomain evil.example"})],
     "tls.acme.contact"),
    ("contact variable", [_plain_site({"contact": "${APACHE_RUN_USER}@example.org"})], "tls.acme.contact"),
    ("contact backslash", [_plain_site({"contact": "a\\@example.org"})], "tls.acme.contact"),
    ("contact mailto", [_plain_site({"contact": "mailto:a@example.org"})], "tls.acme.contact"),
    ("contact url", [_plain_site({"contact": "https://evil.example/"})], "tls.acme.contact"),
    ("contact list", [_plain_site({"contact": ["a@example.org"]})], "tls.acme.contact"),
    ("renew newline", [_plain_site({"renew_window": "33%\nMDomain evil.example"})], "tls.acme.renew_window"),
    ("renew two words", [_plain_site({"renew_window": "33% 1d"})], "tls.acme.renew_window"),
    ("renew variable", [_plain_site({"renew_window": "${X}"})], "tls.acme.renew_window"),
    ("renew 0", [_plain_site({"renew_window": "0%"})], "tls.acme.renew_window"),
    ("renew 100", [_plain_site({"renew_window": "100%"})], "tls.acme.renew_window"),
    ("renew negative", [_plain_site({"renew_window": "-1d"})], "tls.acme.renew_window"),
    ("key type", [_plain_site({"key_type": "RSA 1024"})], "tls.acme.key_type"),
    ("key type weak", [_plain_site({"key_type": "rsa1024"})], "tls.acme.key_type"),
    ("challenge dns", [_plain_site({"challenges": ["dns-01"]})], "tls.acme.challenges"),
    ("challenge string", [_plain_site({"challenges": "http-01 tls-alpn-01"})], "tls.acme.challenges"),
    ("challenge twice", [_plain_site({"challenges": ["http-01", "http-01"]})], "tls.acme.challenges"),
    ("must_staple text", [_plain_site({"must_staple": "on"})], "tls.acme.must_staple"),
    # names that are not the site's DNS names
    ("wildcard alias", [_plain_site(server_aliases=["*.example.com"])], "wildcard"),
    ("ip name", [_plain_site(server_name="127.0.0.1")], "IP address"),
    ("ip alias", [_plain_site(server_aliases=["10.0.0.1"])], "IP address"),
    ("ipv6 alias", [_plain_site(server_aliases=["[::1]"])], "server_aliases[0]"),
    ("localhost", [_plain_site(server_aliases=["localhost"])], "fully qualified"),
    ("underscore", [_plain_site(server_aliases=["a_b.example.com"])], "underscore"),
    ("another site's name", [_plain_site(server_aliases=["other.example.com"]), _other()], "other.example.com"),
    ("another site's name, in capitals", [_plain_site(server_aliases=["OTHER.example.com"]), _other()],
     "other.example.com"),
    ("trailing dot", [_plain_site(server_name="shop.example.com.")], "trailing dot"),
    ("trailing dot alias", [_plain_site(server_aliases=["www.shop.example.com."])], "trailing dot"),
    ("a name another site's wildcard covers", [_plain_site(server_aliases=["x.other.example.com"]),
                                               _other(server_aliases=["*.other.example.com"])], "also matches"),
    # the certificate of someone else, or someone else's ACME client
    ("with files", [_plain_site(tls={"acme": {}, "certificate_file": "/srv/x.pem", "key_file": "/srv/x.key"})],
     "tls.acme"),
    ("with challenge dir", [_plain_site(acme_challenge_dir="/srv/acme")], "acme_challenge_dir"),
    # the loopback status port taken by a site
    ("status port as listen", [_plain_site(listen={"address": "127.0.0.1", "port": 8409})], "status port"),
    ("status port as redirect", [_plain_site(redirect_http_port=8409)], "status port"),
    ("status port by another site", [_plain_site(), _other(listen={"port": 8409})], "status port"),
    # the account (fixed by this review): one account per CA for all sites
    ("contact not the operator's", [_plain_site({"contact": "attacker@evil.example"})], "tls.acme.contact"),
    ("contact not the operator's, case", [_plain_site({"contact": "Attacker@example.org"})], "tls.acme.contact"),
]


@pytest.mark.parametrize("sites,needle", [(s, n) for _id, s, n in REFUSED], ids=[i for i, _s, _n in REFUSED])
def test_survey_users_acme_values_are_refused_naming_the_field(sites, needle):
    with pytest.raises(ConfigError) as err:
        eff = normalize_sites(sites, policy=POLICY)
        _acme.check_sites_against(_acme.check_settings(OPERATOR, policy=POLICY), eff)
    assert needle in str(err.value), str(err.value)


def test_sites_contacts_must_agree_without_an_operator_contact():
    """Without the operator's contact, two sites' contacts must be the same address (one account for both)."""
    settings = _acme.check_settings({"agreement": True}, policy=POLICY)
    two = normalize_sites([_plain_site({"contact": "a@example.org"}),
                           _plain_site({"contact": "b@example.org"}, name="b", server_name="b.example.com")],
                          policy=POLICY)
    with pytest.raises(ConfigError, match="tls.acme.contact: 'b@example.org' differs from site 'shop'"):
        _acme.check_sites_against(settings, two)
    same = normalize_sites([_plain_site({"contact": "a@example.org"}),
                            _plain_site({"contact": "a@example.org"}, name="b", server_name="b.example.com")],
                           policy=POLICY)
    assert len(_acme.check_sites_against(settings, same)) == 2


ACCEPTED = [
    ({"contact": "ops@example.org"}, "MDContactEmail", ["ops@example.org"]),
    ({"contact": "OPS@example.org"}, "MDContactEmail", ["OPS@example.org"]),
    ({"renew_window": "1%"}, "MDRenewWindow", ["1%"]),
    ({"renew_window": "50%"}, "MDRenewWindow", ["50%"]),
    ({"key_type": "rsa4096"}, "MDPrivateKeys", ["RSA", "4096"]),
    ({"key_type": "secp384r1"}, "MDPrivateKeys", ["secp384r1"]),
    ({"challenges": ["tls-alpn-01", "http-01"]}, "MDCAChallenges", ["http-01", "tls-alpn-01"]),
    ({"must_staple": True}, "MDMustStaple", ["on"]),
]


@pytest.mark.parametrize("acme,name,args", ACCEPTED)
def test_accepted_acme_values_render_one_token_each_inside_mdomain(acme, name, args):
    """Read back with Apache's tokenizer: the <MDomain> holds the site's names only and each value is one argument;
    no other directive appears in it."""
    eff = normalize_sites([_plain_site(acme, server_aliases=["www.shop.example.com"])], policy=POLICY)
    _acme.check_sites_against(_acme.check_settings(OPERATOR, policy=POLICY), eff)
    text = render_site(eff[0])
    block = text.split("<MDomain", 1)[1].split("</MDomain>", 1)[0]
    head, body = block.split("\n", 1)
    assert tokenize_section("<MDomain" + head) == ["<MDomain", "shop.example.com", "www.shop.example.com"]
    lines = [tokenize(l) for l in body.splitlines() if l.strip()]
    own = (["MDContactEmail"] if "contact" in acme else []) + (["MDRenewWindow"] if "renew_window" in acme else [])
    assert sorted(l[0] for l in lines) == sorted(["MDPrivateKeys", "MDMustStaple", "MDCAChallenges"] + own)
    assert [l[1:] for l in lines if l[0] == name] == [args]
    assert text.count("<MDomain") == 1 and text.count("</MDomain>") == 1
    assert _render_acme.site_acme(eff[0])["names"] == ["shop.example.com", "www.shop.example.com"]


ACTIVATE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "roles",
                        "apache_proxy", "files", "revproxy-tls-acme-activate")


def _activate(status_port, httpd):
    """The role's cron job (files/revproxy-tls-acme-activate) with a graceful restart of ``httpd`` as its command."""
    return subprocess.run([sys.executable, ACTIVATE, str(status_port), "kill", "-USR1", str(httpd.proc.pid)],
                          capture_output=True, text=True, timeout=30, check=False)


def _staged_after(status_port, name, after, timeout=30.0):
    """The identity (serials and fingerprints) of a certificate mod_md staged for ``name`` other than ``after``
    (None: none within timeout). valid-from alone has a resolution of a second: two orders may share it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, body = _direct_status(status_port, "/md-status/%s" % name)
        renewal = (json.loads(body).get("renewal") or {}) if status == 200 else {}
        if renewal.get("finished") and (renewal.get("last") or {}).get("status") == 0:
            ident = json.dumps(renewal.get("cert") or renewal.get("valid-from"), sort_keys=True)
            if ident != after:
                return ident
        time.sleep(0.1)
    return None


@pytest.mark.parametrize("window", ["3650d", "1d", "4h", "99%", "51%"])
def test_a_survey_users_renew_window_beyond_half_the_lifetime_is_refused(window):
    """A fixed time can be longer than the CA's lifetime, and 51% or more renews more often than the lifetime
    allows: only a share of 1% to 50% is a site's; the refusal names the operator's setting."""
    with pytest.raises(ConfigError, match="apache_proxy_acme_renew_window"):
        normalize_sites([_plain_site({"renew_window": window})], policy=POLICY)


def test_within_the_lifetime_mod_md_orders_once_and_the_job_restarts_once(pebble, ports, workdir, module_port):
    """The control for the refusal above: pebble issues 3 h certificates here; with the largest window a site may
    set (50%) the first certificate is activated by the role's job, and then nothing is ordered or restarted
    again. (With a survey user's 3650d, before the fix, mod_md ordered a new certificate after each graceful restart
    and the job restarted the whole server every run: 3 certificates in 3 s.)"""
    name = "loop-%d.acme.test" % os.getpid()
    status_port = module_port("127.0.0.1")
    backend = PlainHTTPBackend(body=b"x")
    httpd = _apache(workdir, pebble, ports, status_port, [_acme_site(name, ports, backend.port,
                                                                     {"renew_window": "50%"})])
    try:
        httpd.start()
        issued = []
        after = None
        for _round in range(2):
            after = _staged_after(status_port, name, after, timeout=30.0 if after is None else 8.0)
            if after is None:
                break
            issued.append(after)
            mark = httpd.error_log_mark()
            ran = _activate(status_port, httpd)
            assert ran.returncode == 0, ran
            httpd.wait_for_log("resuming normal operations", mark, timeout=30)
        # Wanted: the first certificate is activated, then nothing is ordered or restarted again.
        assert len(issued) == 1, issued
    finally:
        httpd.stop()
        backend.stop()


def _served_serial(pebble, port, name):
    """The serial of the certificate served for ``name``, verified against pebble's issuing root (None: refused)."""
    ctx = ssl.create_default_context(cafile=pebble.issuing_root_path)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            with ctx.wrap_socket(sock, server_hostname=name) as tls:
                return tls.getpeercert()["serialNumber"]
    except ssl.SSLError:
        return None


def test_a_failed_order_for_a_new_alias_leaves_the_served_certificate_and_the_rollback_whole(
        pebble, ports, workdir, module_port):
    """A survey user adds an alias the CA cannot validate to a site that already serves its ACME certificate: while
    mod_md fails the order, and after the role's rollback (the previous files, a graceful reload), the site still
    serves its certificate with a verified chain, and md-status reports it valid again."""
    name = "keep-%d.acme.test" % os.getpid()
    alias = "bad.keep-%d.acme.test" % os.getpid()
    status_port = module_port("127.0.0.1")
    backend = PlainHTTPBackend(body=b"keep")
    site = _acme_site(name, ports, backend.port)
    httpd = _apache(workdir, pebble, ports, status_port, [site])
    pebble.add_a(alias, "127.0.0.2")
    try:
        httpd.start()
        assert _staged_after(status_port, name, None) is not None
        httpd.reload()
        serial = _served_serial(pebble, ports["tls"], name)
        assert serial is not None
        bad = dict(site, server_aliases=[alias])
        _render_into(httpd, pebble, ports, status_port, [bad], workdir)
        httpd.reload()
        failed = _wait_finished(status_port, [name])[name]
        assert (failed.get("last") or {}).get("status"), failed  # the order failed (the alias' challenge)
        during = _served_serial(pebble, ports["tls"], name)
        # The rollback: the previous files, a graceful reload.
        _render_into(httpd, pebble, ports, status_port, [site], workdir)
        httpd.reload()
        assert _served_serial(pebble, ports["tls"], name) == serial
        status, body = _direct_status(status_port, "/md-status/%s" % name)
        assert status == 200 and json.loads(body)["state"] == 2, body[:500]
        assert during == serial, "while the alias' order failed the site did not serve its certificate: %r" % during
    finally:
        pebble.clear_a(alias)
        httpd.stop()
        backend.stop()


def test_a_trailing_dot_in_an_acme_sites_name_never_takes_the_server_down(pebble, ports, workdir, module_port):
    """A survey user writes the site's name with a trailing dot ("shop.example.com.", valid DNS, accepted for
    sites with certificate files). The <MDomain> lists the name without the dot, the vhost's ServerName keeps it, and
    mod_md does not assign the domain to that vhost: mod_ssl has no certificate for it, which `apache2 -t` (the role's
    candidate test) does not see, and the graceful reload killed the parent (AH02572, AH02312 'Fatal error
    initialising mod_ssl, exiting'): every site down. Now refused naming the field; the running server keeps
    serving."""
    plain_port = module_port("127.0.0.1")
    backend = PlainHTTPBackend(body=b"operator site")
    operator = {"name": "operator", "server_name": "operator.example.org",
                "listen": {"address": "127.0.0.1", "port": plain_port},
                "locations": [{"path": "/", "backend": "http://127.0.0.1:%d/" % backend.port, "retry": 0}]}
    status_port = module_port("127.0.0.1")
    httpd = _apache(workdir, pebble, ports, status_port, [operator])
    try:
        httpd.start()
        assert _get(plain_port, "operator.example.org", "/")[0] == 200
        for bad in ({"server_name": "dot-%d.acme.test." % os.getpid()},
                    {"server_name": "dot-%d.acme.test" % os.getpid(),
                     "server_aliases": ["www.dot-%d.acme.test." % os.getpid()]}):
            site = dict(_acme_site("dot-%d.acme.test" % os.getpid(), ports, backend.port), **bad)
            try:
                _render_into(httpd, pebble, ports, status_port, [operator, site], workdir)
            except ConfigError as exc:
                assert "trailing dot" in str(exc) and ("server_name" in str(exc) or "server_aliases[0]" in str(exc))
                continue
            try:
                httpd.reload()
            except Exception:  # pylint: disable=broad-except
                pass
            _render_into(httpd, pebble, ports, status_port, [operator], workdir)  # what a rollback writes back
            assert httpd.running, "the reload killed Apache:\n" + httpd.error_log_since(0)[-1500:]
        assert httpd.running and _get(plain_port, "operator.example.org", "/")[0] == 200
    finally:
        httpd.stop()
        backend.stop()


def _renewal_job_in_check_mode(tmp_path, extra):
    """The role's renewal-job tasks on this host in check mode with diff (nothing written): (rc, output)."""
    playbook = tmp_path / "renewal.yml"
    playbook.write_text(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n"
        "    - ansible.builtin.include_role:\n        name: revproxy.tls.apache_proxy\n"
        "        tasks_from: acme_renewal.yml\n")
    extra = dict({"__apache_proxy_graceful_command": ["/usr/sbin/apachectl", "graceful"]}, **extra)
    proc = subprocess.run(["ansible-playbook", "-i", "localhost,", "-c", "local", "--check", "--diff",
                           "-e", "ansible_python_interpreter=%s" % sys.executable, "-e", json.dumps(extra),
                           str(playbook)], capture_output=True, text=True, timeout=180, check=False)
    return proc.returncode, proc.stdout + proc.stderr


def test_the_renewal_job_runs_roots_own_python_never_the_inventorys(tmp_path):
    """root runs the activation job every few minutes: with the inventory's interpreter (a virtualenv a deploy user
    may write to) that user would get root. The job names the host's own root-owned Python, isolated (-I -S), and
    the role refuses to install it when none is root's alone."""
    rc, out = _renewal_job_in_check_mode(tmp_path, {})
    assert rc == 0, out
    line = [ln for ln in out.splitlines() if ln.startswith("+") and " root " in ln]
    assert len(line) == 1 and " root /usr/bin/python3 -I -S /usr/local/sbin/revproxy-tls-acme-activate " in line[0], out
    assert sys.executable not in line[0]
    writable = tmp_path / "python3"
    shutil.copy("/usr/bin/python3", str(writable))
    os.chmod(str(writable), 0o777)
    rc, out = _renewal_job_in_check_mode(tmp_path, {"__apache_proxy_acme_python_candidates": [str(writable)]})
    assert rc != 0 and "needs a Python 3 owned by root and writable by root only" in out, out
    assert "/etc/cron.d/revproxy-tls-acme" not in out.split("Check that a root-owned Python")[1]
