"""Rendering of pools and per-backend TLS sections (apache/_render_pools.py through render_site)."""
import copy
import importlib.util
import os

import pytest

from ansible_collections.revproxy.tls.plugins.module_utils.apache._render import needed_modules
from support.apache_model import render_site
from ansible_collections.revproxy.tls.plugins.module_utils.apache._render_pools import hc_expr, proxy_sections
from ansible_collections.revproxy.tls.plugins.module_utils.apache._emit import tokenize, tokenize_section
from support.apache_model import normalize_site

_spec = importlib.util.spec_from_file_location(
    "_render_tables", os.path.join(os.path.dirname(os.path.abspath(__file__)), "test_render.py"))
_tables = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_tables)

BASE = {
    "name": "shop",
    "server_name": "shop.example.com",
    "locations": [{"path": "/", "backend": "https://backend.internal:8443/"}],
    "backend_tls": {"ca_file": "/etc/ssl/backend-ca.pem"},
}
# Every site input of the existing rendering tables (test_render.py): DIRECTIVES and CONTAINS.
EXISTING = [(c[0], c[1]) for c in _tables.DIRECTIVES] + [(c[0], c[1]) for c in _tables.CONTAINS]


def _site(over):
    site = copy.deepcopy(BASE)
    site.update(copy.deepcopy(over))
    return site


@pytest.mark.parametrize("case,over", EXISTING, ids=[c[0] for c in EXISTING])
def test_existing_sites_render_nothing_from_pools(case, over):
    eff = normalize_site(_site(over))
    assert proxy_sections(eff, "/srv/tls", None, None) == []
    assert "<Proxy" not in render_site(eff, tls_dir="/srv/tls")


@pytest.mark.parametrize("case,over", EXISTING, ids=[c[0] for c in EXISTING])
def test_location_restating_the_site_settings_is_byte_identical(case, over):
    """A location whose backend_tls equals the site's (empty, or the same values) renders exactly as without it."""
    plain = render_site(normalize_site(_site(over)), tls_dir="/srv/tls")
    for loc_tls in ({}, dict((k, v) for k, v in _site(over)["backend_tls"].items() if not k.endswith("_content"))):
        site = _site(over)
        for loc in site["locations"]:
            loc["backend_tls"] = copy.deepcopy(loc_tls)
        eff = normalize_site(site)  # every case is accepted per location too (a refusal fails the test)
        assert render_site(eff, tls_dir="/srv/tls") == plain


def _render(site):
    return render_site(normalize_site(site), tls_dir="/srv/tls")


def _block(text, opener):
    lines = text.splitlines()
    start = lines.index(opener)
    end = lines.index("    </Proxy>", start)
    return lines[start:end + 1]


def test_location_with_own_ca_and_client_cert():
    text = _render(_site({"locations": [
        {"path": "/", "backend": "https://a.internal:8443/"},
        {"path": "/b/", "backend": "https://b.internal:9443/",
         "backend_tls": {"ca_file": "/etc/ssl/b-ca.pem", "client_cert_file": "/etc/ssl/b-client.pem"}}]}))
    assert _block(text, '    <Proxy "https://b.internal:9443/">') == [
        '    <Proxy "https://b.internal:9443/">',
        "        SSLProxyVerify require",
        "        SSLProxyVerifyDepth 4",
        '        SSLProxyCACertificateFile "/etc/ssl/b-ca.pem"',
        "        SSLProxyCheckPeerName on",
        "        SSLProxyCheckPeerExpire on",
        "        SSLProxyProtocol -all +TLSv1.2 +TLSv1.3",
        '        SSLProxyMachineCertificateFile "/etc/ssl/b-client.pem"',
        "    </Proxy>",
    ]
    # The site's settings stay at vhost level, once.
    assert text.count('SSLProxyCACertificateFile "/etc/ssl/backend-ca.pem"') == 1
    assert text.count("SSLProxyEngine on") == 1


def test_inherited_client_cert_points_at_the_site_deployed_file():
    from support.pemdata import CERT, KEY  # pylint: disable=import-outside-toplevel
    text = render_site(normalize_site(_site({
        "backend_tls": {"ca_file": "/ca.pem", "client_cert_content": CERT, "client_key_content": KEY},
        "locations": [{"path": "/", "backend": "https://a.internal/", "backend_tls": {"ca_file": "/other.pem"}}]}),
        tls_dir="/srv/tls"), tls_dir="/srv/tls")
    block = _block(text, '    <Proxy "https://a.internal/">')
    assert '        SSLProxyMachineCertificateFile "/srv/tls/shop/proxy-client.pem"' in block


def test_pool_rendering():
    text = _render(_site({"locations": [{
        "path": "/app/", "timeout": 5, "lbmethod": "bytraffic", "sticky": "ROUTEID",
        "backends": [{"url": "https://m1.internal:8443/", "weight": 2}, {"url": "https://m2.internal:8443/",
                                                                         "standby": True},
                     {"url": "https://m3.internal:8443/", "enabled": False}],
        "health_check": {"uri": "/health", "interval": 10, "passes": 2, "fails": 3, "expect": ["2xx"]}}]}))
    hc = "hcmethod=GET hcuri=/health hcinterval=10 hcpasses=2 hcfails=3 hcexpr=app_ok"
    assert _block(text, '    <Proxy "balancer://app">') == [
        '    <Proxy "balancer://app">',
        '        BalancerMember "https://m1.internal:8443" timeout=5 loadfactor=2 route=m1 ' + hc,
        '        BalancerMember "https://m2.internal:8443" timeout=5 loadfactor=1 route=m2 status=+H ' + hc,
        '        BalancerMember "https://m3.internal:8443" timeout=5 loadfactor=1 route=m3 status=+D ' + hc,
        "        ProxySet lbmethod=bytraffic stickysession=ROUTEID",
        "    </Proxy>",
    ]
    lines = text.splitlines()
    assert '    ProxyHCExpr app_ok "%{REQUEST_STATUS} =~ /^[2]/"' in lines
    assert ('    Header add Set-Cookie "ROUTEID=.%{BALANCER_WORKER_ROUTE}e; path=/" "expr=-n '
            "reqenv('BALANCER_ROUTE_CHANGED') && reqenv('BALANCER_NAME') == 'balancer://app'\"") in lines
    # Worker parameters are on the members, not on the ProxyPass of the balancer.
    assert '    ProxyPass "/app/" "balancer://app/"' in lines
    assert '    ProxyPassReverse "/app/" "balancer://app/"' in lines
    # The pool is defined before the ProxyPass that uses it.
    assert lines.index('    <Proxy "balancer://app">') < lines.index('    ProxyPass "/app/" "balancer://app/"')


def test_pool_with_its_own_settings_has_them_in_its_balancer_section():
    text = _render(_site({"locations": [{"path": "/", "backends": [{"url": "https://m1.internal/"}],
                                         "backend_tls": {"ca_file": "/etc/ssl/pool-ca.pem", "protocols": ["TLSv1.3"]}}]}))
    assert _block(text, '    <Proxy "balancer://root">') == [
        '    <Proxy "balancer://root">',
        '        BalancerMember "https://m1.internal" loadfactor=1',
        "        ProxySet lbmethod=byrequests",
        "        SSLProxyVerify require",
        "        SSLProxyVerifyDepth 4",
        '        SSLProxyCACertificateFile "/etc/ssl/pool-ca.pem"',
        "        SSLProxyCheckPeerName on",
        "        SSLProxyCheckPeerExpire on",
        "        SSLProxyProtocol -all +TLSv1.3",
        "    </Proxy>",
    ]


def test_pool_sharing_site_settings_has_no_tls_lines_in_its_section():
    text = _render(_site({"locations": [{"path": "/", "backends": [{"url": "https://m1.internal/"}]}]}))
    assert _block(text, '    <Proxy "balancer://root">') == [
        '    <Proxy "balancer://root">',
        '        BalancerMember "https://m1.internal" loadfactor=1',
        "        ProxySet lbmethod=byrequests",
        "    </Proxy>",
    ]
    assert '    ProxyPass "/" "balancer://root/"' in text.splitlines()


def test_pool_path_without_slash():
    text = _render(_site({"locations": [{"path": "/app", "backends": [{"url": "https://m1.internal/app"}]}]}))
    assert '    ProxyPass "/app" "balancer://app"' in text.splitlines()
    assert '        BalancerMember "https://m1.internal/app" loadfactor=1' in text.splitlines()


def test_member_with_a_path():
    text = _render(_site({"locations": [{"path": "/x/", "backends": [{"url": "https://m1.internal/app/"}]}]}))
    assert '        BalancerMember "https://m1.internal/app" loadfactor=1' in text.splitlines()
    assert '    ProxyPass "/x/" "balancer://x/"' in text.splitlines()


def test_every_line_reads_back():
    text = _render(_site({"locations": [
        {"path": "/b/", "backend": "https://b.internal/", "backend_tls": {"ca_file": "/b-ca.pem"}},
        {"path": "/app/", "sticky": "S", "health_check": {}, "backends": [{"url": "https://m1.internal/"}]}]}))
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or stripped.startswith("</"):
            continue
        words = tokenize_section(stripped) if stripped.startswith("<") else tokenize(stripped)
        assert words


@pytest.mark.parametrize("classes,expected", [
    (["2xx"], "%{REQUEST_STATUS} =~ /^[2]/"), (["2xx", "3xx"], "%{REQUEST_STATUS} =~ /^[23]/"),
    (["2xx", "3xx", "4xx"], "%{REQUEST_STATUS} =~ /^[234]/"),
])
def test_hc_expr(classes, expected):
    assert hc_expr(classes) == expected


@pytest.mark.parametrize("locations,expected", [
    ([{"path": "/", "backend": "https://a.internal/"}], set()),
    ([{"path": "/", "backend": "https://a.internal/", "backend_tls": {"ca_file": "/x.pem"}}], set()),
    ([{"path": "/", "backends": [{"url": "https://a.internal/"}]}],
     {"proxy_balancer", "slotmem_shm", "lbmethod_byrequests"}),
    ([{"path": "/", "lbmethod": "bybusyness", "backends": [{"url": "https://a.internal/"}]},
      {"path": "/x/", "lbmethod": "bytraffic", "health_check": {}, "backends": [{"url": "https://a.internal/"}]}],
     {"proxy_balancer", "slotmem_shm", "lbmethod_bybusyness", "lbmethod_bytraffic", "proxy_hcheck"}),
])
def test_needed_modules_only_when_used(locations, expected):
    pool_mods = {"proxy_balancer", "slotmem_shm", "lbmethod_byrequests", "lbmethod_bytraffic", "lbmethod_bybusyness",
                 "proxy_hcheck"}
    mods = set(needed_modules([normalize_site(_site({"locations": locations}))]))
    assert mods & pool_mods == expected


def test_balancer_manager_for_loopback_clients_only():
    text = _render(_site({"balancer_manager": True, "locations": [
        {"path": "/", "backends": [{"url": "https://m1.internal/"}]}]}))
    lines = text.splitlines()
    start = lines.index('    <Location "/revproxy-balancer-manager">')
    assert [line for line in lines[start:start + 9] if not line.strip().startswith("#")] == [
        '    <Location "/revproxy-balancer-manager">',
        "        SetHandler balancer-manager",
        "        <RequireAll>",
        "            Require ip 127.0.0.0/8 ::1",
        '            Require expr "-z req(\'X-Forwarded-For\') && -z req(\'Forwarded\')"',
        "        </RequireAll>",
        "    </Location>",
    ]
    # The last section of the vhost: no location's <Location> can come after it and override its Require.
    assert lines[start:].count("    </Location>") == 1 and lines[-2] == "    </Location>"
    # Excluded from proxying, before the ProxyPass of "/".
    assert lines.index('    ProxyPass "/revproxy-balancer-manager" !') < lines.index('    ProxyPass "/" "balancer://root/"')
    assert "authz_host" in needed_modules([normalize_site(_site({"balancer_manager": True, "locations": [
        {"path": "/", "backends": [{"url": "https://m1.internal/"}]}]}))])


def test_no_balancer_manager_by_default():
    text = _render(_site({"locations": [{"path": "/", "backends": [{"url": "https://m1.internal/"}]}]}))
    assert "balancer-manager" not in text
