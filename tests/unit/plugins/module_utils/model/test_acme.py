"""ACME certificates in the model (model/_acme.py): a site's tls.acme and the operator's settings (table-driven)."""
import pytest

from ansible_collections.revproxy.tls.plugins.module_utils.model import _acme
from ansible_collections.revproxy.tls.plugins.module_utils.model._grammar import ConfigError
from support.apache_model import normalize_site, normalize_sites
from support.pemdata import CA, KEY

POLICY = {"allow_raw_directives": False, "served_roots": ["/srv"]}


def site(acme=None, **over):
    out = {"name": "shop", "server_name": "shop.example.com", "server_aliases": ["www.example.com"],
           "tls": {"acme": {} if acme is None else acme},
           "locations": [{"path": "/", "backend": "http://app.internal:8080/"}]}
    out.update(over)
    return out


def test_defaults():
    eff = normalize_site(site())
    assert eff["tls"] == {"acme": {"names": ["shop.example.com", "www.example.com"], "contact": None,
                                   "key_type": "rsa2048", "renew_window": None, "must_staple": False,
                                   "challenges": ["http-01", "tls-alpn-01"]}}


@pytest.mark.parametrize("acme, key, expected", [
    ({"contact": "ops@example.com"}, "contact", "ops@example.com"),
    ({"contact": "o.p+s@mail.example.co.uk"}, "contact", "o.p+s@mail.example.co.uk"),
    ({"key_type": "secp384r1"}, "key_type", "secp384r1"),
    ({"key_type": "rsa4096"}, "key_type", "rsa4096"),
    ({"renew_window": "33%"}, "renew_window", "33%"),
    ({"renew_window": "1%"}, "renew_window", "1%"),
    ({"renew_window": "50%"}, "renew_window", "50%"),
    ({"must_staple": True}, "must_staple", True),
    ({"challenges": ["tls-alpn-01"]}, "challenges", ["tls-alpn-01"]),
    ({"challenges": ["tls-alpn-01", "http-01"]}, "challenges", ["http-01", "tls-alpn-01"]),
])
def test_accepted(acme, key, expected):
    assert normalize_site(site(acme))["tls"]["acme"][key] == expected


def test_names_dedup_lower_and_trailing_dot():
    eff = normalize_site(site(server_name="Shop.Example.com", server_aliases=["shop.example.com"]))
    assert eff["tls"]["acme"]["names"] == ["shop.example.com"]
    # A trailing dot: mod_md would not give the certificate to the vhost, whose graceful reload then stops the
    # server (review 25, tests/integration/test_review_25.py).
    with pytest.raises(ConfigError, match="trailing dot"):
        normalize_site(site(server_name="Shop.Example.com."))
    with pytest.raises(ConfigError, match=r"server_aliases\[0\] 'www.example.com.' ends with a trailing dot"):
        normalize_site(site(server_aliases=["www.example.com."]))


@pytest.mark.parametrize("over, needle", [
    # hostile or malformed contacts
    ({"acme": {"contact": "mailto:ops@example.com"}}, "without 'mailto:'"),
    ({"acme": {"contact": "Ops <ops@example.com>"}}, "must not contain '<'"),
    ({"acme": {"contact": "ops@example.com\nMDCertificateAuthority x"}}, "contact"),
    ({"acme": {"contact": 'o"ps@example.com'}}, "must not contain"),
    ({"acme": {"contact": "o(ps)@example.com"}}, "not an e-mail address"),
    ({"acme": {"contact": "ops example@example.com"}}, "not an e-mail address"),
    ({"acme": {"contact": "ops@localhost"}}, "needs a dot"),
    ({"acme": {"contact": "ops@[127.0.0.1]"}}, "contact"),
    ({"acme": {"contact": "@example.com"}}, "not an e-mail address"),
    ({"acme": {"contact": "ops@exa mple.com"}}, "contact"),
    ({"acme": {"contact": "ops@${HOME}.com"}}, "contact"),
    ({"acme": {"contact": 42}}, "contact"),
    # key types
    ({"acme": {"key_type": "rsa1024"}}, "key_type"),
    ({"acme": {"key_type": "RSA 2048"}}, "key_type"),
    ({"acme": {"key_type": "secp256r1 rsa2048"}}, "key_type"),
    # renewal windows
    ({"acme": {"renew_window": "0%"}}, "between 1 and 99"),
    ({"acme": {"renew_window": "100%"}}, "between 1 and 99"),
    ({"acme": {"renew_window": "0d"}}, "between 1 and 3650"),
    ({"acme": {"renew_window": "9999d"}}, "between 1 and 3650"),
    # a site's own window is a share of the lifetime, at most half: a fixed time is the operator's
    ({"acme": {"renew_window": "51%"}}, "1% to 50%"),
    ({"acme": {"renew_window": "99%"}}, "1% to 50%"),
    ({"acme": {"renew_window": "30d"}}, "operator's setting"),
    ({"acme": {"renew_window": "3650d"}}, "operator's setting"),
    ({"acme": {"renew_window": "12h"}}, "operator's setting"),
    ({"acme": {"renew_window": "100s"}}, "operator's setting"),
    ({"acme": {"renew_window": "30"}}, "followed by d"),
    ({"acme": {"renew_window": "30d 10%"}}, "followed by d"),
    ({"acme": {"renew_window": "-5d"}}, "followed by d"),
    ({"acme": {"renew_window": "30 d"}}, "followed by d"),
    ({"acme": {"renew_window": "1w"}}, "followed by d"),
    ({"acme": {"renew_window": "0s"}}, "between 1 and 315360000"),
    ({"acme": {"renew_window": "1mi"}}, "followed by d"),
    # challenges
    ({"acme": {"challenges": ["dns-01"]}}, "challenges"),
    ({"acme": {"challenges": []}}, "non-empty"),
    ({"acme": {"challenges": ["http-01", "http-01"]}}, "twice"),
    ({"acme": {"must_staple": "yes"}}, "must_staple"),
    ({"acme": {"directory_url": "https://evil.example/"}}, "unknown key"),
    ({"acme": {"ca_file": "/srv/ca.pem"}}, "unknown key"),
    ({"acme": "yes"}, "must be a mapping"),
    # names
    ({"server_aliases": ["*.example.com"]}, "wildcard"),
    ({"server_name": "10.0.0.1"}, "IP address"),
    ({"server_name": "shop_1.example.com"}, "underscore"),
    ({"server_name": "intranet"}, "fully qualified"),
    # certificate files with acme, a second ACME client's directory
    ({"tls": {"acme": {}, "certificate_file": "/srv/c.pem"}}, "remove tls.certificate_file"),
    ({"tls": {"acme": {}, "chain_file": "/srv/c.pem"}}, "remove tls.chain_file"),
    ({"acme_challenge_dir": "/srv/acme"}, "answers the ACME challenges itself"),
])
def test_site_refusals(over, needle):
    raw = site(over.pop("acme", None), **over)
    with pytest.raises(ConfigError) as err:
        normalize_site(raw)
    assert needle in str(err.value)
    assert str(err.value).startswith("site 'shop': ")


def test_files_still_required_without_acme():
    with pytest.raises(ConfigError, match="tls.key_file: is required"):
        normalize_site(site(tls={"certificate_file": "/srv/c.pem"}))


# -- the operator's settings --------------------------------------------------------------------------------------

def test_settings_defaults():
    out = _acme.check_settings({}, POLICY, "/etc/x/_acme/ca.pem")
    assert out == {"directory_url": _acme.LETS_ENCRYPT, "ca_file": None, "ca_content": None, "agreement": False,
                   "contact": None, "eab": None, "status_port": 8409, "http_port": None, "https_port": None,
                   "renew_window": "33%"}


@pytest.mark.parametrize("window", ["33%", "99%", "30d", "4h", "3600s"])
def test_the_operators_renew_window_may_be_a_fixed_time(window):
    assert _acme.check_settings({"renew_window": window}, POLICY)["renew_window"] == window


@pytest.mark.parametrize("window, needle", [("0%", "between 1 and 99"), ("30 d", "followed by d"),
                                            ("33%\nMDomain x", "renew_window"), ("9999d", "between 1 and 3650")])
def test_the_operators_renew_window_refusals(window, needle):
    with pytest.raises(ConfigError, match=needle):
        _acme.check_settings({"renew_window": window}, POLICY)


@pytest.mark.parametrize("url", [
    "https://acme-v02.api.letsencrypt.org/directory",
    "https://acme-staging-v02.api.letsencrypt.org/directory",
    "https://localhost:14000/dir",
    "https://127.0.0.1:14000/dir",
    "https://[::1]:14000/dir",
    "https://ca.internal/acme/acme/directory",
])
def test_directory_url_accepted(url):
    assert _acme.check_settings({"directory_url": url}, POLICY)["directory_url"] == url


@pytest.mark.parametrize("url, needle", [
    ("http://acme.example.com/directory", "must be an https:// URL"),
    ("ftp://acme.example.com/directory", "must be an https:// URL"),
    ("file:///etc/passwd", "must be an https:// URL"),
    ("https://user:pass@acme.example.com/directory", "user name or password"),
    ("https://token@acme.example.com/directory", "user name or password"),
    ("https://acme.example.com/directory?x=1", "without a query or fragment"),
    ("https://acme.example.com/directory#frag", "without a query or fragment"),
    ("https://acme.example.com/dir ectory", "must not contain spaces"),
    ('https://acme.example.com/"x', "must not contain"),
    ("https://acme.example.com/{x}", "must not contain spaces, quotes"),
    ("https://acme.example.com/dir\nMDCertificateAgreement accepted", "directory_url"),
    ("https://acme.example.com/${HOME}", "directory_url"),
    ("https://acme.example.com:99999/dir", "port"),
    ("https://acme.example.com:abc/dir", "invalid port"),
    ("https://acme..example.com/dir", "not a valid host name"),
    ("https:///dir", "https://host"),
    ("https://[::1/dir", "directory_url"),
    ("HTTPS://acme.example.com/dir", "https://host"),
    ("", "directory_url"),
])
def test_directory_url_refused(url, needle):
    with pytest.raises(ConfigError) as err:
        _acme.check_settings({"directory_url": url}, POLICY)
    assert needle in str(err.value)


@pytest.mark.parametrize("settings, needle", [
    ({"ca_file": "/etc/ssl/certs/ca.pem"}, "not under a served root"),
    ({"ca_file": "/srv/../etc/passwd"}, "ca_file"),
    ({"ca_file": "relative.pem"}, "ca_file"),
    ({"ca_file": "/srv/ca.pem", "ca_content": CA}, "give one"),
    ({"ca_content": "not a pem"}, "ca_content"),
    ({"ca_content": KEY}, "ca_content"),
    ({"agreement": "yes"}, "agreement"),
    ({"contact": "mailto:x@example.com"}, "mailto"),
    ({"eab_kid": "kid"}, "needs both"),
    ({"eab_hmac": "aGVsbG8gd29ybGQgaGVsbG8"}, "needs both"),
    ({"eab_kid": "kid x", "eab_hmac": "aGVsbG8gd29ybGQgaGVsbG8"}, "eab_kid"),
    ({"eab_kid": "kid", "eab_hmac": "short"}, "base64url"),
    ({"eab_kid": "kid", "eab_hmac": "aGVsbG8gd29ybGQgaGVsbG8 x"}, "base64url"),
    ({"status_port": 0}, "status_port"),
    ({"status_port": 70000}, "status_port"),
    ({"http_port": 8409}, "status port"),
    ({"https_port": "443x"}, "https_port"),
    ({"server": "https://evil.example/"}, "unknown key"),
])
def test_settings_refused(settings, needle):
    with pytest.raises(ConfigError) as err:
        _acme.check_settings(settings, POLICY, "/etc/x/_acme/ca.pem")
    assert needle in str(err.value)
    assert "short" not in str(err.value) or "eab_hmac" not in settings  # the secret is never echoed


def test_settings_ca_content_goes_to_the_layout_path():
    out = _acme.check_settings({"ca_content": CA}, POLICY, "/etc/x/_acme/ca.pem")
    assert out["ca_file"] == "/etc/x/_acme/ca.pem" and out["ca_content"].startswith("-----BEGIN CERTIFICATE-----")


def test_settings_eab_secret_not_in_errors():
    secret = "c2VjcmV0c2VjcmV0c2VjcmV0!"
    with pytest.raises(ConfigError) as err:
        _acme.check_settings({"eab_kid": "kid", "eab_hmac": secret}, POLICY)
    assert secret not in str(err.value)


def test_sites_need_the_agreement_and_a_contact():
    sites = normalize_sites([site()])
    with pytest.raises(ConfigError, match="terms of service"):
        _acme.check_sites_against(_acme.check_settings({"contact": "a@example.org"}, POLICY), sites)
    with pytest.raises(ConfigError, match="tls.acme.contact: an ACME account needs a contact"):
        _acme.check_sites_against(_acme.check_settings({"agreement": True}, POLICY), sites)
    ok = {"agreement": True, "contact": "a@example.org"}
    assert _acme.check_sites_against(_acme.check_settings(ok, POLICY), sites) == sites
    own = normalize_sites([site({"contact": "shop@example.com"})])
    assert _acme.check_sites_against(_acme.check_settings({"agreement": True}, POLICY), own) == own


def test_no_acme_site_needs_nothing():
    plain = dict(site(), tls={"certificate_file": "/srv/c.pem", "key_file": "/srv/k.pem"})
    assert _acme.check_sites_against(_acme.check_settings({}, POLICY), normalize_sites([plain])) == []


@pytest.mark.parametrize("over, field", [
    ({"listen": {"port": 8409}}, "listen.port"),
    ({"redirect_http_port": 8409}, "redirect_http_port"),
])
def test_status_port_is_the_status_vhost_s(over, field):
    sites = normalize_sites([site(**over)])
    with pytest.raises(ConfigError, match=field):
        _acme.check_sites_against(_acme.check_settings({"agreement": True, "contact": "a@example.org"}, POLICY),
                                  sites)
