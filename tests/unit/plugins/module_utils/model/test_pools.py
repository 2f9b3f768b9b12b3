"""Pools and per-location backend_tls (model/_pools.py through normalize_site): inheritance and refusals."""
import copy

import pytest

from support.apache_model import render_site
from ansible_collections.revproxy.tls.plugins.module_utils.model._backend_tls import ConfigError
from ansible_collections.revproxy.tls.plugins.module_utils.model._pools import pool_name
from support.apache_model import normalize_site, normalize_sites, site_backend_checks


def site(**over):
    out = {
        "name": "shop",
        "server_name": "shop.example.com",
        "locations": [{"path": "/", "backend": "https://a.internal:8443/"}],
        "backend_tls": {"ca_file": "/etc/ssl/site-ca.pem"},
    }
    out.update(over)
    return out


def pool_loc(**over):
    out = {"path": "/app/", "backends": [{"url": "https://m1.internal:8443/"}, {"url": "https://m2.internal:8443/"},
                                         {"url": "https://m3.internal:8443/"}]}
    out.update(over)
    return out


# (case, defaults, site backend_tls, location backend_tls, expected subset of the location's effective settings,
#  expected tls_section)
INHERITANCE = [
    ("site only", {}, {"ca_file": "/s.pem"}, None, {"ca_file": "/s.pem", "verify_depth": 4}, False),
    ("defaults below site", {"verify_depth": 2, "ca_file": "/d.pem"}, {"ca_file": "/s.pem"}, None,
     {"ca_file": "/s.pem", "verify_depth": 2}, False),
    ("location over site", {}, {"ca_file": "/s.pem"}, {"ca_file": "/l.pem"}, {"ca_file": "/l.pem"}, True),
    ("location over defaults", {"protocols": ["TLSv1.2"]}, {"ca_file": "/s.pem"}, {"protocols": ["TLSv1.3"]},
     {"ca_file": "/s.pem", "protocols": ["TLSv1.3"]}, True),
    ("location restating the site: no section", {}, {"ca_file": "/s.pem"}, {"ca_file": "/s.pem"},
     {"ca_file": "/s.pem"}, False),
    ("empty location mapping: no section", {}, {"ca_file": "/s.pem"}, {}, {"ca_file": "/s.pem"}, False),
    ("location keeps the site's ca_path", {}, {"ca_path": "/etc/ssl/certs"}, {"ca_file": "/l.pem"},
     {"ca_file": "/l.pem", "ca_path": "/etc/ssl/certs"}, True),
    ("own client cert drops the site's key and chain", {},
     {"ca_file": "/s.pem", "client_cert_file": "/sc.pem", "client_key_file": "/sk.pem",
      "client_chain_file": "/sch.pem"}, {"client_cert_file": "/lc.pem"},
     {"client_cert_file": "/lc.pem", "client_key_file": None, "client_chain_file": None}, True),
    ("no CA at site level when every TLS location has its own", {}, {}, {"ca_file": "/l.pem"},
     {"ca_file": "/l.pem"}, True),
]


@pytest.mark.parametrize("case,defaults,site_tls,loc_tls,expected,section", INHERITANCE,
                         ids=[c[0] for c in INHERITANCE])
@pytest.mark.parametrize("kind", ["single", "pool"])
def test_backend_tls_inheritance(case, defaults, site_tls, loc_tls, expected, section, kind):
    loc = {"path": "/", "backend": "https://a.internal:8443/"} if kind == "single" else pool_loc(path="/")
    if loc_tls is not None:
        loc["backend_tls"] = loc_tls
    eff = normalize_site(site(backend_tls=site_tls, locations=[loc]), defaults=defaults)
    got = eff["locations"][0]["backend_tls"]
    assert dict((k, got[k]) for k in expected) == expected
    assert eff["locations"][0]["tls_section"] is section
    for check in site_backend_checks(eff):
        assert dict((k, check["backend_tls"][k]) for k in expected) == expected


def test_checks_one_per_member_with_pool_settings_and_sni():
    eff = normalize_site(site(locations=[
        {"path": "/", "backend": "https://a.internal:8443/"},
        pool_loc(backend_tls={"ca_file": "/pool-ca.pem"}, min_ok=2)]))
    checks = site_backend_checks(eff)
    assert [(c["url"], c["sni"], c["backend_tls"]["ca_file"]) for c in checks] == [
        ("https://a.internal:8443/", "a.internal", "/etc/ssl/site-ca.pem"),
        ("https://m1.internal:8443/", "m1.internal", "/pool-ca.pem"),
        ("https://m2.internal:8443/", "m2.internal", "/pool-ca.pem"),
        ("https://m3.internal:8443/", "m3.internal", "/pool-ca.pem"),
    ]
    assert checks[0]["pool"] is None
    assert checks[1]["pool"] == {"name": "app", "min_ok": 2, "members": 3}


def test_checks_with_preserve_host_use_the_public_names_for_every_member():
    eff = normalize_site(site(preserve_host=True, server_aliases=["www.example.com"], locations=[pool_loc()]))
    assert sorted((c["url"], c["sni"]) for c in site_backend_checks(eff)) == sorted(
        (u, n) for u in ("https://m1.internal:8443/", "https://m2.internal:8443/", "https://m3.internal:8443/")
        for n in ("shop.example.com", "www.example.com"))


def test_site_contents_not_given_to_a_location_with_its_own_ca():
    from support.pemdata import CA  # pylint: disable=import-outside-toplevel
    eff = normalize_site(site(backend_tls={"ca_content": CA}, locations=[
        {"path": "/", "backend": "https://a.internal:8443/"},
        {"path": "/b/", "backend": "https://b.internal/", "backend_tls": {"ca_file": "/b.pem"}}]))
    first, second = site_backend_checks(eff)
    assert first["contents"] == {"ca_file": CA}
    assert second["contents"] == {}
    assert second["backend_tls"]["ca_file"] == "/b.pem"


def test_pool_model():
    eff = normalize_site(site(locations=[pool_loc(
        backends=[{"url": "https://m1.internal:8443/", "weight": 3, "route": "one"},
                  {"url": "https://m2.internal:8443/", "standby": True},
                  {"url": "https://m3.internal:8443/", "enabled": False}],
        lbmethod="bybusyness", sticky="ROUTEID", min_ok=1, timeout=5,
        health_check={"uri": "/health", "interval": 5, "expect": ["2xx"]})]))
    loc = eff["locations"][0]
    pool = loc["pool"]
    assert loc["backend"] == "balancer://app/"
    assert loc["url"] is None
    assert [(m["backend"], m["weight"], m["route"], m["standby"], m["enabled"]) for m in pool["members"]] == [
        ("https://m1.internal:8443/", 3, "one", False, True),
        ("https://m2.internal:8443/", 1, "m2", True, True),
        ("https://m3.internal:8443/", 1, "m3", False, False),
    ]
    assert (pool["lbmethod"], pool["sticky"], pool["min_ok"]) == ("bybusyness", "ROUTEID", 1)
    assert pool["health_check"] == {"method": "GET", "uri": "/health", "interval": 5, "passes": 1, "fails": 1,
                                    "expect": ["2xx"]}
    assert loc["params"] == [("timeout", "5")]
    assert eff["uses_tls"] is True


def test_sticky_off_and_defaults():
    pool = normalize_site(site(locations=[pool_loc(sticky="off")]))["locations"][0]["pool"]
    got = (pool["sticky"], pool["lbmethod"], pool["min_ok"], pool["health_check"])
    assert got == (None, "byrequests", None, None)
    assert [m["route"] for m in pool["members"]] == [None, None, None]


@pytest.mark.parametrize("path,taken,expected", [
    ("/", set(), "root"), ("/api/v1/", set(), "api-v1"), ("/A_b.c", set(), "a-b-c"), ("/api/", {"api"}, "api-2"),
    ("/%20/", set(), "20"), ("/" + "x" * 80 + "/", set(), "x" * 40),
])
def test_pool_name(path, taken, expected):
    assert pool_name(path, set(taken)) == expected


def test_pool_names_unique_in_a_site():
    eff = normalize_site(site(locations=[pool_loc(path="/a-b/"), pool_loc(path="/a/b/")]))
    assert [loc["pool"]["name"] for loc in eff["locations"]] == ["a-b", "a-b-2"]


def _with(loc_over=None, member_over=None, **site_over):
    loc = pool_loc()
    if member_over:
        loc["backends"][1].update(member_over)
    loc.update(loc_over or {})
    return site(locations=[loc], **site_over)


P = "site 'shop': locations[0]"
REFUSED = [
    ("backend and backends", _with({"backend": "https://a.internal/"}),
     P + ": backend and backends are mutually exclusive (one URL, or a pool)"),
    ("neither", site(locations=[{"path": "/"}]), P + ".backend: is required (or backends, for a pool)"),
    ("pool key without pool", site(locations=[{"path": "/", "backend": "https://a.internal/", "lbmethod": "bytraffic"}]),
     P + ".lbmethod: applies to a pool only (set backends)"),
    ("min_ok without pool", site(locations=[{"path": "/", "backend": "https://a.internal/", "min_ok": 1}]),
     P + ".min_ok: applies to a pool only (set backends)"),
    ("empty pool", _with({"backends": []}), P + ".backends: must be a non-empty list of at most 100 members"),
    ("pool not a list", _with({"backends": "https://a/"}), P + ".backends: must be a non-empty list of at most 100 members"),
    ("member not a mapping", _with({"backends": ["https://a.internal/"]}),
     P + ".backends[0]: must be a mapping, got str"),
    ("member unknown key", _with(member_over={"hostname": "x"}),
     P + ".backends[1]: unknown key(s) hostname (allowed: enabled, route, standby, url, weight)"),
    ("member without url", _with({"backends": [{"weight": 2}]}), P + ".backends[0].url: is required"),
    ("member bad scheme", _with(member_over={"url": "ftp://m.internal/"}),
     P + ".backends[1].url: URL scheme must be one of http, https, ws, wss, got 'ftp' in 'ftp://m.internal/'"),
    ("member slash mismatch", _with(member_over={"url": "https://m.internal:8443/x"}),
     P + ".backends[1]: path '/app/' and member 'https://m.internal:8443/x' must both end with '/' or both not "
     "(mod_proxy maps the rest of the URL textually)"),
    ("member weight 0", _with(member_over={"weight": 0}),
     P + ".backends[1].weight: must be an integer from 1 to 100, got 0"),
    ("member weight bool", _with(member_over={"weight": True}),
     P + ".backends[1].weight: must be an integer from 1 to 100, got True"),
    ("member route space", _with(member_over={"route": "a b"}), P + ".backends[1].route: "),
    ("member standby string", _with(member_over={"standby": "yes"}), P + ".backends[1].standby: "),
    ("member enabled string", _with(member_over={"enabled": "no"}), P + ".backends[1].enabled: "),
    ("duplicate member", _with(member_over={"url": "https://m1.internal:8443/"}),
     P + ".backends[1].url: 'https://m1.internal:8443/' is the same backend as backends[0] (Apache would share one "
     "worker)"),
    ("mixed schemes", _with(member_over={"url": "http://m2.internal:8080/"}),
     P + ".backends: members must share one scheme, got http, https"),
    ("no active member", _with({"backends": [{"url": "https://m1.internal/", "standby": True}]}),
     P + ".backends: at least one member must be enabled and not standby"),
    ("lbmethod heartbeat", _with({"lbmethod": "heartbeat"}), P + ".lbmethod: "),
    ("sticky with space", _with({"sticky": "A B"}), P + ".sticky: "),
    ("sticky duplicate routes", _with({"sticky": "R", "backends": [
        {"url": "https://m1.internal/", "route": "x"}, {"url": "https://m2.internal/", "route": "x"}]}),
     P + ".backends[1].route: 'x' is used twice (sticky sessions need one route per member)"),
    ("min_ok 0", _with({"min_ok": 0}), P + ".min_ok: must be an integer from 1 to 3, got 0"),
    ("min_ok above members", _with({"min_ok": 4}), P + ".min_ok: must be an integer from 1 to 3, got 4"),
    ("hc unknown key", _with({"health_check": {"url": "/"}}), P + ".health_check: unknown key(s) url"),
    ("hc method", _with({"health_check": {"method": "POST"}}), P + ".health_check.method: "),
    ("hc uri relative", _with({"health_check": {"uri": "health"}}), P + ".health_check.uri: "),
    ("hc uri with quote", _with({"health_check": {"uri": "/a'b"}}), P + ".health_check.uri: "),
    ("hc uri with percent", _with({"health_check": {"uri": "/a%20b"}}), P + ".health_check.uri: "),
    ("hc interval 0", _with({"health_check": {"interval": 0}}), P + ".health_check.interval: "),
    ("hc passes huge", _with({"health_check": {"passes": 1000}}), P + ".health_check.passes: "),
    ("hc fails string", _with({"health_check": {"fails": "2"}}), P + ".health_check.fails: "),
    ("hc expect 5xx", _with({"health_check": {"expect": ["5xx"]}}), P + ".health_check.expect[0]: "),
    ("hc expect empty", _with({"health_check": {"expect": []}}), P + ".health_check.expect: "),
    ("health check with the pool's own settings", _with({"health_check": {}, "backend_tls": {"ca_file": "/p.pem"}}),
     P + ".health_check: mod_proxy_hcheck ignores the pool's own backend_tls (measured on Apache 2.4.71: its checks "
     "use the vhost's SSLProxy* settings)"),
    ("balancer_manager without pool", site(balancer_manager=True),
     "site 'shop': balancer_manager: the site has no pool (backends) to manage"),
    ("balancer_manager string", _with(balancer_manager="yes"), "site 'shop': balancer_manager: "),
    ("location tls content", _with({"backend_tls": {"ca_content": "x"}}),
     P + ".backend_tls.ca_content: is not accepted per location (contents are deployed once per site): give the "
     "file with ca_file, or set it in the site's backend_tls"),
    ("location tls unknown key", _with({"backend_tls": {"SSLProxyVerify": "none"}}),
     P + ".backend_tls: unknown key(s) SSLProxyVerify"),
    ("location tls separate key", _with({"backend_tls": {"client_cert_file": "/c.pem", "client_key_file": "/k.pem"}}),
     P + ".backend_tls.client_key_file: per location, give client_cert_file holding the certificate and its key in "
     "one file (what SSLProxyMachineCertificateFile reads)"),
    ("location tls relative path", _with({"backend_tls": {"ca_file": "ca.pem"}}), P + ".backend_tls.ca_file: "),
    ("location tls verify none", _with({"backend_tls": {"verify": "none"}}),
     P + ".backend_tls: insecure setting(s) refused: "),
    ("location tls no CA", site(backend_tls={}, locations=[pool_loc(backend_tls={"verify_depth": 3})]),
     P + ".backend_tls.verify: 'require' needs a CA"),
    ("location tls not a mapping", _with({"backend_tls": "x"}), P + ".backend_tls: must be a mapping, got str"),
    ("member ip literal", _with(member_over={"url": "https://192.0.2.1:8443/"}),
     P + ".backends[1].url: 'https://192.0.2.1:8443/' uses the IP literal 192.0.2.1"),
    ("single backend ip literal with own tls",
     site(locations=[{"path": "/", "backend": "https://192.0.2.1/", "backend_tls": {"ca_file": "/x.pem"}}]),
     P + ".backend: 'https://192.0.2.1/' uses the IP literal 192.0.2.1"),
]


@pytest.mark.parametrize("case,value,message", REFUSED, ids=[c[0] for c in REFUSED])
def test_refused(case, value, message):
    before = copy.deepcopy(value)
    with pytest.raises(ConfigError) as exc:
        normalize_sites([value])
    assert str(exc.value).startswith(message), str(exc.value)
    assert value == before


def _rendered(eff):
    """(vhost-level lines, lines of the <Proxy "balancer://app"> block) of the rendered site, stripped, no comments."""
    vhost, block, inside = [], [], False
    for line in render_site(eff).splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line == '<Proxy "balancer://app">':
            inside = True
        elif line == "</Proxy>":
            inside = False
        elif inside:
            block.append(line)
        else:
            vhost.append(line)
    return vhost, block


_MEMBERS = ['BalancerMember "https://m%d.internal:8443" loadfactor=1' % i for i in (1, 2, 3)]
_IP_MEMBERS = [_MEMBERS[0], 'BalancerMember "https://192.0.2.1:8443" loadfactor=1', _MEMBERS[2]]
# (case, site, lines the pool's block must hold (in order), lines the vhost must hold, lines neither may hold)
ACCEPTED = [
    ("insecure location with opt-in", _with({"backend_tls": {"verify": "none"}}, allow_insecure_backend_tls=True),
     _MEMBERS + ["ProxySet lbmethod=byrequests", "SSLProxyVerify none"], ["SSLProxyVerify require"], []),
    ("member ip literal without name check", _with({"backend_tls": {"check_peer_name": False}}, member_over={
        "url": "https://192.0.2.1:8443/"}, allow_insecure_backend_tls=True),
     _IP_MEMBERS + ["ProxySet lbmethod=byrequests", "SSLProxyVerify require", "SSLProxyCheckPeerName off"],
     ["SSLProxyCheckPeerName on", "ProxyPreserveHost Off"], []),
    # With ProxyPreserveHost On the name checked is the client's Host, not the IP literal: the member keeps the
    # site's verification (no settings of its own in the pool).
    ("member ip literal with preserve_host", _with(member_over={"url": "https://192.0.2.1:8443/"}, preserve_host=True),
     _IP_MEMBERS + ["ProxySet lbmethod=byrequests"],
     ["SSLProxyVerify require", "SSLProxyCheckPeerName on", "ProxyPreserveHost On"],
     ["SSLProxyCheckPeerName off", "SSLProxyVerify none"]),
    ("http pool needs no CA", site(backend_tls={}, locations=[pool_loc(backends=[{"url": "http://m1.internal/"}])]),
     ['BalancerMember "http://m1.internal" loadfactor=1', "ProxySet lbmethod=byrequests"],
     ['ProxyPass "/app/" "balancer://app/"'], ["SSLProxyEngine on"]),
]


@pytest.mark.parametrize("case,value,block_lines,vhost_lines,absent", ACCEPTED, ids=[c[0] for c in ACCEPTED])
def test_accepted(case, value, block_lines, vhost_lines, absent):
    """Accepted, and rendered with the pool's members and the settings the case is about."""
    effs = normalize_sites([value])
    assert len(effs) == 1
    vhost, block = _rendered(effs[0])
    assert [line for line in block if line in block_lines] == block_lines, block
    assert all(line in vhost for line in vhost_lines), vhost
    assert not [line for line in vhost + block if any(line.startswith(a) for a in absent)]


def test_insecure_location_warns():
    eff = normalize_site(_with({"backend_tls": {"verify": "none"}}, allow_insecure_backend_tls=True))
    assert any("INSECURE backend TLS for /app/" in w for w in eff["warnings"])


def test_health_check_adds_a_check_without_sni_per_member():
    eff = normalize_site(site(preserve_host=True, locations=[pool_loc(health_check={"uri": "/health"})]))
    checks = site_backend_checks(eff)
    hc = [c for c in checks if c.get("health_check")]
    assert [(c["url"], c["sni"], c["checked_name"], c["host"], c["request_path"]) for c in hc] == [
        ("https://m%d.internal:8443/" % i, None, "m%d.internal" % i, None, "/health") for i in (1, 2, 3)]
    assert len(checks) == 6  # one with the client's Host per member, one health check per member


def test_health_check_accepted_when_the_pool_shares_the_site_settings():
    """A pool whose backend_tls equals the site's may have health checks: the checks use the vhost's SSLProxy*
    settings, which are the pool's; the pool's block then carries no TLS settings of its own."""
    eff = normalize_site(site(locations=[pool_loc(health_check={}, backend_tls={"ca_file": "/etc/ssl/site-ca.pem"})]))
    vhost, block = _rendered(eff)
    assert 'SSLProxyCACertificateFile "/etc/ssl/site-ca.pem"' in vhost and "SSLProxyVerify require" in vhost
    assert not [line for line in block if line.startswith("SSLProxy")], block
    members = [line for line in block if line.startswith("BalancerMember")]
    assert len(members) == 3
    assert all(" hcmethod=GET hcuri=/ " in line and line.endswith(" hcexpr=app_ok") for line in members), members
    assert [c["request_path"] for c in site_backend_checks(eff) if c.get("health_check")] == ["/"] * 3
