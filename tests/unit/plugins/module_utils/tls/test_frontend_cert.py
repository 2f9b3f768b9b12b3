"""Frontend certificate checks (tls/_frontend_cert.py) with real certificates from tests/support/pki.py."""
import datetime

import pytest

from support.apache_model import normalize_site
from ansible_collections.revproxy.tls.plugins.module_utils.tls._frontend_cert import (
    check_frontend,
    name_covered,
    summary,
)
from support.pki import PKI

DAY = datetime.timedelta(days=1)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    p = PKI(str(tmp_path_factory.mktemp("front-pki")))
    root = p.ca("Front Root CA")
    inter = p.ca("Front Intermediate CA", issuer=root)
    other_root = p.ca("Other Root CA", stem="other-root")
    return {
        "root": root,
        "inter": inter,
        "good": p.leaf("good", dns=["shop.test", "www.shop.test"], issuer=inter),
        "wild": p.leaf("wild", dns=["*.shop.test", "shop.test"], issuer=inter),
        "one_name": p.leaf("one", dns=["shop.test"], issuer=inter),
        "expired": p.leaf("expired", dns=["shop.test", "www.shop.test"], issuer=inter, not_before=-30 * DAY,
                          not_after=-DAY),
        "expiring": p.leaf("expiring", dns=["shop.test", "www.shop.test"], issuer=inter, not_after=5 * DAY),
        "future": p.leaf("future", dns=["shop.test", "www.shop.test"], issuer=inter, not_before=3 * DAY),
        "stranger": p.leaf("stranger", dns=["shop.test"], issuer=inter),
        "other": p.leaf("otherleaf", dns=["shop.test", "www.shop.test"], issuer=other_root),
    }


def _read(path):
    try:
        with open(path) as handle:
            return handle.read()
    except OSError:
        return None


def check(pki, leaf="good", key=None, chain="inter", cert_file=None, aliases=("www.shop.test",), trust="root",
          expiry_days=14):
    tls = {"certificate_file": cert_file or pki[leaf].cert_path, "key_file": key or pki[leaf].key_path}
    if chain:
        tls["chain_file"] = pki[chain].cert_path
    site = normalize_site({"name": "shop", "server_name": "shop.test", "server_aliases": list(aliases), "tls": tls,
                           "locations": [{"path": "/", "backend": "http://app.internal/"}]})
    trust_text = _read(pki[trust].cert_path) if trust else ""
    return check_frontend(site, _read, expiry_days=expiry_days, trust_text=trust_text)


CASES = [
    ("good", {}, []),
    ("wildcard covers alias", {"leaf": "wild", "aliases": ("www.shop.test", "*.shop.test")}, []),
    ("chain in the certificate file", {"cert_file": "CHAIN", "chain": None}, []),
    ("key of another certificate", {"key": "STRANGER"}, ["key_mismatch"]),
    ("no intermediate", {"chain": None}, ["chain_incomplete"]),
    ("root not trusted", {"trust": None}, ["chain_incomplete"]),
    ("other root", {"leaf": "other", "chain": None}, ["chain_incomplete"]),
    ("alias not covered", {"leaf": "one_name"}, ["name_mismatch"]),
    ("two aliases not covered", {"leaf": "one_name", "aliases": ("a.shop.test", "b.shop.test")},
     ["name_mismatch", "name_mismatch"]),
    ("expired", {"leaf": "expired"}, ["expired"]),
    ("expiring inside the window", {"leaf": "expiring"}, ["expiring"]),
    ("expiring outside a shorter window", {"leaf": "expiring", "expiry_days": 3}, []),
    ("window 0", {"leaf": "expiring", "expiry_days": 0}, []),
    ("not yet valid", {"leaf": "future"}, ["not_yet_valid"]),
    ("missing file", {"key": "/nonexistent/key.pem"}, ["unreadable"]),
    ("key file holds a certificate", {"key": "CERT"}, ["not_pem"]),
]


@pytest.mark.parametrize("case,over,reasons", CASES, ids=[c[0] for c in CASES])
def test_check_frontend(pki, case, over, reasons):
    over = dict(over)
    if over.get("cert_file") == "CHAIN":
        over["cert_file"] = pki["good"].chain_path
    if over.get("key") == "STRANGER":
        over["key"] = pki["stranger"].key_path
    if over.get("key") == "CERT":
        over["key"] = pki["good"].cert_path
    result = check(pki, **over)
    assert [p["reason"] for p in result["problems"]] == reasons, result["problems"]
    for problem in result["problems"]:
        assert problem["fix"] and problem["message"]


def test_result_reports_expiry_and_names(pki):
    result = check(pki)
    assert result["names"] == ["shop.test", "www.shop.test"]
    assert 360 <= result["days_left"] <= 366
    assert result["not_after"].endswith("Z") and result["subject"] == "CN=shop.test"


def test_summary_names_site_problem_and_fix(pki):
    lines = summary(check(pki, leaf="one_name"))
    assert lines == ["site 'shop': server_aliases[0] 'www.shop.test' is not covered by the certificate "
                     "(subjectAltName: shop.test). Fix: get a certificate whose subjectAltName lists every name of "
                     "the site, or remove the name from server_name/server_aliases"]


@pytest.mark.parametrize("name,dns,ips,ok", [
    ("a.example", ["a.example"], [], True),
    ("A.Example.", ["a.example"], [], True),
    ("x.a.example", ["*.a.example"], [], True),
    ("a.example", ["*.a.example"], [], False),
    ("y.x.a.example", ["*.a.example"], [], False),
    ("*.a.example", ["*.a.example"], [], True),
    ("*.a.example", ["x.a.example"], [], False),
    ("192.0.2.1", [], ["192.0.2.1"], True),
    ("192.0.2.1", ["192.0.2.1"], [], False),
])
def test_name_covered(name, dns, ips, ok):
    assert name_covered(name, dns, ips) is ok


def test_the_server_words_its_own_fixes(pki):
    """check_frontend's fixes are neutral; the caller passes the server's wording (Apache's keeps AH02565)."""
    from ansible_collections.revproxy.tls.plugins.module_utils.apache._catalogue import FRONTEND_FIXES
    result = check(pki, key=pki["stranger"].key_path)
    assert [p["reason"] for p in result["problems"]] == ["key_mismatch"]
    assert "AH02565" not in result["problems"][0]["fix"]
    tls = {"certificate_file": pki["good"].cert_path, "key_file": pki["stranger"].key_path,
           "chain_file": pki["inter"].cert_path}
    site = normalize_site({"name": "shop", "server_name": "shop.test", "server_aliases": ["www.shop.test"],
                           "tls": tls, "locations": [{"path": "/", "backend": "http://app.internal/"}]})
    result = check_frontend(site, _read, trust_text=_read(pki["root"].cert_path), fixes=FRONTEND_FIXES)
    assert result["problems"][0]["fix"].endswith("mod_ssl would refuse to start (AH02565)")
