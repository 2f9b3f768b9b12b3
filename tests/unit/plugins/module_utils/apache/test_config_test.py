"""The candidate and live config tests on a scratch Debian-style tree: the candidate tree, the Include rewrite, the
staged certificate files."""
import os

import pytest

from ansible_collections.revproxy.tls.plugins.module_utils.apache._config_test import (
    _point_at_staged,
    candidate_config_test,
    live_config_test,
)
from ansible_collections.revproxy.tls.plugins.module_utils.apache._plan import desired_state, plan
from support.apache_model import normalize_sites

from support.debian_tree import converge, debian_layout, sites
from support.pemdata import CERT  # noqa: E402  real PEM: contents are parsed


@pytest.fixture()
def layout(tmp_path):
    return debian_layout(tmp_path)


def test_candidate_tree_points_at_candidates_and_touches_nothing(layout):
    converge(layout, sites("a"))
    actions = plan(desired_state(sites("a", "b"), layout, "warn"), layout)
    snapshot = sorted(os.walk(layout.config_root))
    seen = {}

    def fake_run(cmd):
        main = cmd[-1]
        text = open(main).read()
        seen["main"] = text
        enabled = os.path.join(os.path.dirname(main), "sites-enabled")
        seen["sites"] = sorted(os.listdir(enabled))
        seen["b"] = open(os.path.join(enabled, "b.conf")).read()
        return 0, "Syntax OK", ""

    ok, output = candidate_config_test(actions, layout, fake_run)
    assert ok and output == "Syntax OK"
    assert "IncludeOptional %s/sites-enabled/*.conf" % layout.config_root not in seen["main"]
    assert seen["sites"] == ["000-default.conf", "a.conf", "b.conf"]
    assert "ServerName b.example.com" in seen["b"]
    assert sorted(os.walk(layout.config_root)) == snapshot


# The forms of the main config's Include of sites-enabled that the config tests rewrite (relative, absolute, quoted).
INCLUDE_FORMS = [
    "IncludeOptional sites-enabled/*.conf",
    "IncludeOptional {root}/sites-enabled/*.conf",
    'IncludeOptional "{root}/sites-enabled/*.conf"',
    "include {root}/sites-enabled/",
]


@pytest.mark.parametrize("include", INCLUDE_FORMS)
def test_candidate_test_follows_relative_and_absolute_includes(layout, include):
    with open(layout.main_config, "w") as handle:
        handle.write("Include ports.conf\n" + include.format(root=layout.config_root) + "\n")
    actions = plan(desired_state(sites("a"), layout, "warn"), layout)
    seen = {}

    def fake_run(cmd):
        seen["main"] = open(cmd[-1]).read()
        return 0, "Syntax OK", ""

    candidate_config_test(actions, layout, fake_run)
    assert "%s/sites-enabled" % layout.config_root not in seen["main"]
    assert "sites-enabled/" in seen["main"] and seen["main"].count("revproxy-tls-candidate-") == 1


@pytest.mark.parametrize("include", INCLUDE_FORMS)
def test_live_test_reads_the_live_enabled_dirs_without_a_tree_of_links(layout, include):
    """After the write, the live files are tested through the same main config copy as a candidate, its includes
    pointing at the live directories (no candidate tree: at 3000 sites that tree was 3000 links and copies)."""
    with open(layout.main_config, "w") as handle:
        handle.write("Include ports.conf\n" + include.format(root=layout.config_root) + "\n")
    converge(layout, sites("a"))
    snapshot = sorted(os.walk(layout.config_root))
    seen = {}

    def fake_run(cmd):
        seen["main"] = open(cmd[-1]).read()
        seen["workdir"] = sorted(os.listdir(os.path.dirname(cmd[-1])))
        return 1, "", "AH00526: Syntax error"

    ok, output = live_config_test(layout, fake_run)
    assert (ok, output) == (False, "AH00526: Syntax error")
    live = os.path.join(layout.config_root, "sites-enabled") + "/"
    assert live in seen["main"].splitlines()[1]
    assert seen["main"].count(live) == 1 and seen["workdir"] == ["apache2.conf"]
    assert sorted(os.walk(layout.config_root)) == snapshot


@pytest.mark.parametrize("text, expected", [
    ('SSLProxyCACertificateFile "/t/a/ca.pem"\n', 'SSLProxyCACertificateFile "/w/0.pem"\n'),
    ('X "/t/a/ca.pem" "/t/b/ca.pem"\n', 'X "/w/0.pem" "/w/1.pem"\n'),
    # only a whole argument: a longer path, a prefix or an unquoted mention stays
    ('X "/t/a/ca.pem.old" "/t/a" /t/a/ca.pem\n', 'X "/t/a/ca.pem.old" "/t/a" /t/a/ca.pem\n'),
    ('X "other"\n', 'X "other"\n'),
])
def test_candidate_confs_point_at_the_staged_files(text, expected):
    staged = {"/t/a/ca.pem": "/w/0.pem", "/t/b/ca.pem": "/w/1.pem"}
    assert _point_at_staged(text, staged) == expected
    assert _point_at_staged(text, {}) == text


def test_candidate_tree_stages_deployed_contents(layout):
    eff = normalize_sites([{"name": "a", "server_name": "a.example.com", "backend_tls": {"ca_content": CERT},
                            "locations": [{"path": "/", "backend": "https://b.internal/"}]}],
                          tls_dir=layout.tls_dir)
    actions = plan(desired_state(eff, layout, "warn"), layout)
    seen = {}

    def fake_run(cmd):
        enabled = os.path.join(os.path.dirname(cmd[-1]), "sites-enabled")
        seen["a"] = open(os.path.join(enabled, "a.conf")).read()
        return 0, "Syntax OK", ""

    candidate_config_test(actions, layout, fake_run)
    live_ca = [a["entry"].path for a in actions if a["entry"].path.endswith(".pem")][0]
    assert '"%s"' % live_ca not in seen["a"]
    staged = [line.split('"')[1] for line in seen["a"].splitlines() if "SSLProxyCACertificateFile" in line][0]
    assert "revproxy-tls-candidate-" in staged and staged.endswith(".pem")
    assert not os.path.exists(live_ca)
