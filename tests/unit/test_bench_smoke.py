"""Smoke test of scripts/bench.py without running anything heavy: the baseline template writes exactly the text the
role writes for the bench's sites, and the table renders from samples (medians, ratios, targets)."""
import importlib.util
import os
import sys

import jinja2
import pytest

from support.apache_model import render_site
from support.apache_model import normalize_site

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BENCH = os.path.join(ROOT, "scripts", "bench.py")

pytestmark = pytest.mark.skipif(not os.path.exists(BENCH), reason="scripts/ not in this tree")


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("revproxy_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(os.path.join(ROOT, "tests"))
    return module


def test_baseline_template_renders_the_roles_text(bench, tmp_path):
    ca_file = tmp_path / "ca.pem"
    ca_file.write_text("")
    with open(os.path.join(ROOT, "scripts", "bench", "vhost.conf.j2")) as handle:
        template = jinja2.Environment(keep_trailing_newline=True, trim_blocks=True).from_string(handle.read())
    for site in bench.make_sites(3, str(ca_file), [20000, 20001, 20002, 20003], changed_index=1):
        assert template.render(item=site) == render_site(normalize_site(site))


def test_table_from_samples(bench):
    class Args:
        quick = False
        only = None
    cfg = bench.Config(Args())
    res = bench.Results()
    for n in cfg.backend_sizes:
        for key, value in (("task", n / 200.0), ("play", 1 + n / 200.0), ("per", 0.005), ("ratio_per_backend", 150.0)):
            res.add(("hs", n, key), value)
    for key, value in (("task", 3.0), ("extra", 1.5), ("elapsed", 2.0)):
        res.add(("bh", key), value)
    for key, value in (("task", 40.0), ("play", 41.0), ("per", 0.8), ("ratio", 80.0)):
        res.add(("gc", 50, key), value)
    for n in cfg.site_sizes:
        for phase in ("first", "rerun", "one"):
            for key in ("play", "task", "reloads", "sites_changed"):
                res.add(("role", n, phase, key), 5.0)
                res.add(("role", n, phase, key), 7.0)
    res.add(("ratio", 300, "first"), 20.0)
    res.add(("mem", "role", 1000, "controller"), 60 * 1024)
    res.add(("mem", "role", 1000, "module"), 90 * 1024)
    res.add(("mem", "role", 1000, "tree"), 90 * 1024)
    mach = {"os": "Debian", "nproc": 2, "mem_gib": 24.0, "cpu": "cpu", "python": "3.12", "ansible_core": "core",
            "apache": "2.4", "openssl": "3.0"}
    text = bench.table(cfg, res, mach)
    assert "| backend_handshake, 500 backends, one task | 2.50 s |" in text
    assert "| first run | 300 | 6.0 s |" in text
    assert "| apache_proxy role, 1000 sites, first run | 60 MiB | 90 MiB | 90 MiB |" in text
    assert "500 backends <= 5 s (task): 2.50 s -> met" in text
    assert "300 sites first apply < 60 s: 6.0 s -> met" in text
