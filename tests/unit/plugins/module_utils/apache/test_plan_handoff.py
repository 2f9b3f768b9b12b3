"""Validate once per run: the plan's view of the effective sites (what the probe, the frontend check and the backend
checker read; never a key), kept in the layout's TLS directory under the digest of the inputs, and read back by the later calls."""
import gzip
import json
import os

import pytest

from ansible_collections.revproxy.tls.plugins.module_utils.apache._layout import Layout
from ansible_collections.revproxy.tls.plugins.module_utils.apache._plan import (
    drop_validated,
    handoff_key,
    handoff_view,
    keep_validated,
    validated_sites,
)
from ansible_collections.revproxy.tls.plugins.module_utils.model._backend_tls import ConfigError
from support.apache_model import normalize_site, normalize_sites

from support.pemdata import CERT, KEY  # noqa: E402  real PEM: contents are parsed

CORPUS = os.path.join(os.path.dirname(__file__), "..", "..", "..", "golden", "apache_render_corpus.jsonl.gz")

RAW = [{"name": "m", "server_name": "m.example.com", "server_aliases": ["www.m.example.com"],
        "locations": [{"path": "/", "backend": "https://m.internal/", "probe_status": [200]}],
        "backend_tls": {"ca_content": CERT, "client_cert_content": CERT, "client_key_content": KEY}}]


@pytest.fixture()
def layout(tmp_path):
    return Layout(config_root=str(tmp_path / "apache2"), tls_dir=str(tmp_path / "tls"), run_dir=str(tmp_path / "run"))


def params(**over):
    out = {"sites": RAW, "backend_tls_defaults": {}, "allow_raw_directives": False, "served_roots": ["/srv"]}
    out.update(over)
    return out


def test_the_view_holds_no_file_contents_and_is_plain_json(layout):
    view = handoff_view(normalize_sites(RAW, tls_dir=layout.tls_dir))
    text = json.dumps(view)
    assert "BEGIN" not in text and "contents" not in text
    assert view == [{"name": "m", "server_name": "m.example.com", "server_aliases": ["www.m.example.com"],
                     "listen": view[0]["listen"], "tls": None,
                     "locations": [{"path": "/", "backend": "https://m.internal/", "probe_status": [200]}],
                     "warnings": [], "backend_checks": None}]


def test_the_view_holds_the_backend_checks_of_a_site_without_a_key(layout):
    """The checker's input is handed on with its public contents (the CA), unless the site's key is content."""
    raw = [dict(RAW[0], backend_tls={"ca_content": CERT, "client_cert_file": "/srv/c.pem",
                                     "client_key_file": "/srv/k.pem"})]
    sites = normalize_sites(raw, tls_dir=layout.tls_dir)
    view = handoff_view(sites)
    text = json.dumps(view)
    assert "PRIVATE KEY" not in text and CERT.strip().splitlines()[1] in text
    checks = view[0]["backend_checks"]
    assert [(c["url"], c["sni"], c["checked_name"]) for c in checks] == [("https://m.internal/", "m.internal",
                                                                          "m.internal")]
    assert checks[0]["contents"] == {"ca_file": CERT}  # the CA's PEM (public), the only content kept
    assert checks[0]["backend_tls"]["client_cert_file"] == "/srv/c.pem"


def test_the_view_of_every_golden_site_survives_json():
    """Every site the unit suite validates (the golden corpus) gives a view that is plain JSON, read back equal."""
    with gzip.open(CORPUS, "rt") as handle:
        records = [json.loads(line) for line in handle]
    for rec in records:
        if "site" in rec:
            effs = [normalize_site(rec["site"], rec["index"], rec["defaults"], rec["tls_dir"], rec["policy"])]
        else:
            effs = normalize_sites(rec["sites"], rec["defaults"], rec["tls_dir"], rec["policy"])
        view = handoff_view(effs)
        assert json.loads(json.dumps(view)) == view


def test_kept_then_read_back_without_validating(layout):
    sites = normalize_sites(RAW, tls_dir=layout.tls_dir)
    key = handoff_key(params(), layout, {"allow_raw_directives": False, "served_roots": ["/srv"]})
    assert keep_validated(layout, key, sites) == key
    # Outside the configuration tree (a refused preflight leaves the tree as it was), made root's alone.
    assert os.path.dirname(layout.handoff_file) == layout.run_dir and not os.path.exists(layout.tls_dir)
    assert os.stat(layout.run_dir).st_mode & 0o777 == 0o700
    assert "BEGIN" not in open(layout.handoff_file).read()

    def never():
        raise AssertionError("validated again")
    assert validated_sites({"validated": key, "sites": None}, layout, never) == handoff_view(sites)
    drop_validated(layout)
    assert not os.path.exists(layout.handoff_file)


def test_the_key_changes_with_any_input(layout):
    policy = {"allow_raw_directives": False, "served_roots": ["/srv"]}
    base = handoff_key(params(), layout, policy)
    assert handoff_key(params(backend_tls_defaults={"verify_depth": 3}), layout, policy) != base
    assert handoff_key(params(), layout, dict(policy, allow_raw_directives=True)) != base
    assert handoff_key(params(), Layout.redhat(tls_dir=layout.tls_dir), policy) != base
    assert handoff_key(params(), Layout(tls_dir="/elsewhere"), policy) != base


def test_each_tls_dir_has_its_own_handoff_file():
    assert Layout().handoff_file.startswith("/run/revproxy-tls/validated-")
    assert Layout(tls_dir="/a").handoff_file != Layout(tls_dir="/b").handoff_file
    assert Layout.redhat().handoff_file != Layout().handoff_file


def test_no_matching_set_validates_the_sites_or_fails(layout):
    assert validated_sites({"validated": "nope", "sites": RAW}, layout, lambda: "validated") == "validated"
    assert validated_sites({"sites": RAW}, layout, lambda: "validated") == "validated"
    with pytest.raises(ConfigError, match="validated: no validated set nope in .*; pass sites instead"):
        validated_sites({"validated": "nope", "sites": None}, layout, lambda: "validated")


def test_nothing_is_kept_without_the_runtime_directorys_parent(tmp_path):
    layout = Layout(config_root=str(tmp_path), run_dir=str(tmp_path / "absent" / "run"))
    assert keep_validated(layout, "k", []) == ""
    assert not os.path.exists(str(tmp_path / "absent"))


class _Module:
    def __init__(self):
        self.warnings = []

    def warn(self, text):
        self.warnings.append(text)


def _comparable(checks):
    return [dict([(k, v) for k, v in c.items() if k != "semantics"], url=c["url"].url) for c in checks]


def test_the_checker_builds_the_same_checks_from_the_view_as_from_the_sites(tmp_path):
    """For every golden site list without a client key given as content, backend_handshake's checks (and warnings)
    from the handed-on view are those it builds from the sites themselves; with such a key, the view defers."""
    from ansible_collections.revproxy.tls.plugins.module_utils.apache._catalogue import SEMANTICS
    from ansible_collections.revproxy.tls.plugins.module_utils.apache._capabilities import APACHE
    from ansible_collections.revproxy.tls.plugins.module_utils.tls._checks import (
        build_checks_from_sites,
        build_checks_from_view,
    )
    with gzip.open(CORPUS, "rt") as handle:
        records = [json.loads(line) for line in handle if '"sites"' in line]
    compared = deferred = 0
    for n, rec in enumerate(r for r in records if "sites" in r):
        effs = normalize_sites(rec["sites"], rec["defaults"], rec["tls_dir"], rec["policy"])
        view = json.loads(json.dumps(handoff_view(effs)))  # as load() gives it back
        a, b = tmp_path / ("a%d" % n), tmp_path / ("b%d" % n)
        a.mkdir()
        b.mkdir()
        mod_a, mod_b = _Module(), _Module()
        try:
            from_sites = build_checks_from_sites(rec["sites"], rec["defaults"], rec["tls_dir"], str(a), mod_a,
                                                 SEMANTICS, policy=rec["policy"], server=APACHE)
        except ConfigError:
            continue  # a file the site names is not on this machine: the checker refuses it either way
        from_view = build_checks_from_view(view, None, str(b), mod_b, SEMANTICS)
        if any(s["backend_checks"] is None for s in view):
            assert from_view is None
            deferred += 1
            continue
        assert _comparable(from_view) == [dict(c, tls=dict((k, v.replace(str(a), str(b)) if isinstance(v, str) else v)
                                                           for k, v in c["tls"].items()))
                                          for c in _comparable(from_sites)]
        assert mod_b.warnings == mod_a.warnings
        compared += 1
    assert compared >= 5 and deferred >= 1, (compared, deferred)
