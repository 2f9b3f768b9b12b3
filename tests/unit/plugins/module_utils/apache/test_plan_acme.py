"""ACME sites in the plan (apache/_plan.py): the md module enabled, the trust anchor deployed from content, the Listen
file root's alone and left out of the diff while it holds the external account binding's key."""
import os

from ansible_collections.revproxy.tls.plugins.module_utils.apache._plan import desired_state, diff, plan
from ansible_collections.revproxy.tls.plugins.module_utils.apache._render_acme import ca_path
from ansible_collections.revproxy.tls.plugins.module_utils.model import _acme
from support.apache_model import normalize_sites
from support.debian_tree import debian_layout
from support.pemdata import CA

HMAC = "c2VjcmV0LWhtYWMta2V5LW9mLXRoZS1jYQ"


def _sites():
    return normalize_sites([{"name": "shop", "server_name": "shop.example.com", "tls": {"acme": {}},
                             "locations": [{"path": "/", "backend": "http://app.internal:8080/"}]}], tls_dir="/unused")


def _settings(layout, **over):
    base = {"agreement": True, "contact": "a@example.org", "ca_content": CA}
    base.update(over)
    return _acme.check_settings(base, {"allow_raw_directives": False, "served_roots": ["/srv"]},
                                ca_path(layout.tls_dir))


def _entries(layout, settings):
    return dict((e.path, e) for e in desired_state(_sites(), layout, "warn", acme=settings))


def test_ca_content_is_deployed_and_md_enabled(tmp_path):
    layout = debian_layout(tmp_path)
    entries = _entries(layout, _settings(layout))
    ca = entries[os.path.join(layout.tls_dir, "_acme", "ca.pem")]
    assert ca.content.startswith("-----BEGIN CERTIFICATE-----") and ca.mode == 0o644 and not ca.secret
    assert os.path.join(layout.d("mods-enabled"), "md.load") in entries
    listen = entries[layout.listen_conf()[0]]
    assert "MDCACertificateFile" in listen.content and listen.mode == 0o644 and not listen.secret


def test_the_eab_key_makes_the_listen_file_secret(tmp_path):
    layout = debian_layout(tmp_path)
    settings = _settings(layout, eab_kid="kid-1", eab_hmac=HMAC)
    listen = _entries(layout, settings)[layout.listen_conf()[0]]
    assert HMAC in listen.content and listen.mode == 0o600 and listen.secret
    text = str(diff(plan(desired_state(_sites(), layout, "warn", acme=settings), layout)))
    assert HMAC not in text


def test_no_acme_site_no_acme_files(tmp_path):
    layout = debian_layout(tmp_path)
    plain = normalize_sites([{"name": "p", "server_name": "p.example.com",
                              "locations": [{"path": "/", "backend": "http://app.internal:8080/"}]}], tls_dir="/unused")
    entries = dict((e.path, e) for e in desired_state(plain, layout, "warn", acme=_settings(layout, eab_kid="k",
                                                                                            eab_hmac=HMAC)))
    assert not any(path.startswith(layout.tls_dir) or path.endswith("/md.load") for path in entries)
    assert entries[layout.listen_conf()[0]].mode == 0o644
