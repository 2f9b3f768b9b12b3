"""frontend_certificate: documentation agrees with the argument spec; run() over real files (support.pki)."""
import pytest
import yaml

from ansible_collections.revproxy.tls.plugins.modules import frontend_certificate as mod
from ansible_collections.revproxy.tls.plugins.module_utils.model._backend_tls import ConfigError
from support.docs import module_documentation
from support.pki import PKI


def test_docs_match_argspec():
    yaml.safe_load(mod.EXAMPLES)
    assert set(yaml.safe_load(mod.RETURN)) == {"results", "failed_sites", "msg", "metrics_file"}
    doc = module_documentation(mod.__file__)["options"]

    def compare(docs, spec, where):
        assert set(docs) == set(spec), where
        for name, s in spec.items():
            d = docs[name]
            assert d["type"] == s["type"], (where, name)
            assert d.get("default") == s.get("default"), (where, name)
            assert d.get("choices") == s.get("choices"), (where, name)
            assert d.get("elements") == s.get("elements"), (where, name)
            assert bool(d.get("required")) == bool(s.get("required")), (where, name)
    compare(doc, mod.argument_spec(), "top")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    p = PKI(str(tmp_path_factory.mktemp("fc-pki")))
    root = p.ca("FC Root")
    inter = p.ca("FC Inter", issuer=root)
    return {"root": root, "good": p.leaf("fc-good", dns=["a.test"], issuer=inter),
            "bad": p.leaf("fc-bad", dns=["other.test"], issuer=inter)}


def params(files, leaf, **over):
    site = {"name": "a", "server_name": "a.test", "tls": {"certificate_file": files[leaf].chain_path,
                                                          "key_file": files[leaf].key_path},
            "locations": [{"path": "/", "backend": "http://app.internal/"}]}
    plain = {"name": "p", "server_name": "p.test", "locations": [{"path": "/", "backend": "http://app.internal/"}]}
    out = {"sites": [site, plain], "names": None, "backend_tls_defaults": {}, "tls_dir": "/etc/apache2/revproxy-tls",
           "expiry_days": 14, "trust_file": files["root"].cert_path, "fail_on": "any"}
    out.update(over)
    return out


def test_run_passes_a_good_certificate_and_skips_plain_sites(files):
    res = mod.run(params(files, "good"))
    assert res["failed_sites"] == [] and [r["site"] for r in res["results"]] == ["a"]
    assert res["results"][0]["ok"] is True and res["msg"] == "1 frontend certificate(s) passed"


def test_run_names_the_problem_and_the_fix(files):
    res = mod.run(params(files, "bad"))
    assert res["failed_sites"] == ["a"]
    assert res["msg"].startswith("site 'a': server_name 'a.test' is not covered by the certificate "
                                 "(subjectAltName: other.test). Fix: get a certificate")


@pytest.mark.parametrize("over,message", [
    ({"names": ["zzz"]}, "names: no such site(s): zzz"),
    ({"trust_file": "/nonexistent.pem"}, "trust_file: /nonexistent.pem cannot be read"),
    ({"expiry_days": -1}, "expiry_days: must be an integer from 0 to 3650"),
    ({"trust_file": "relative.pem"}, "trust_file: must be an absolute path"),
])
def test_run_refuses(files, over, message):
    with pytest.raises(ConfigError) as err:
        mod.run(params(files, "good", **over))
    assert str(err.value).startswith(message)
