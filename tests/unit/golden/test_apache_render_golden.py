"""Apache output is byte-identical to what it was before the model became server-neutral (issue 22).

The corpus holds every site the unit suite and the hostile-input table validated successfully at commit 5048c6a
(331 distinct inputs: single sites and site lists, with their backend_tls_defaults, tls_dir and policy), with the vhost
text each rendered to and, for site lists, the Listen file and the modules they need. Each record is replayed through
today's model and renderer and must produce the same bytes. Do not regenerate the corpus to make this pass: a
difference is a change in what Apache is told.
"""
import gzip
import json
import os

import pytest

from ansible_collections.revproxy.tls.plugins.module_utils.apache._render import (
    needed_modules,
    render_listen_conf,
    render_site,
)
from ansible_collections.revproxy.tls.plugins.module_utils.model._sites import normalize_site, normalize_sites
from ansible_collections.revproxy.tls.plugins.module_utils.apache._capabilities import APACHE

CORPUS = os.path.join(os.path.dirname(__file__), "apache_render_corpus.jsonl.gz")


def _records():
    with gzip.open(CORPUS, "rt") as handle:
        return [json.loads(line) for line in handle]


RECORDS = _records()


def test_the_corpus_covers_the_suite():
    assert len(RECORDS) >= 331
    assert sum(1 for r in RECORDS if "sites" in r) >= 20
    # The hard parts are in it: pools, per-location TLS, the public side, client certificates, raw lines.
    text = "\n".join(v for r in RECORDS for v in ([r["vhost"]] if "vhost" in r else r["vhosts"].values()))
    for needle in ("balancer://", "<Proxy ", "SSLEngine on", "SSLProxyMachineCertificateFile", "# RAW",
                   "Header always set Strict-Transport-Security", "RequestHeader unset"):
        assert needle in text, needle


@pytest.mark.parametrize("index", range(len(RECORDS)))
def test_byte_identical(index):
    rec = RECORDS[index]
    if "site" in rec:
        eff = normalize_site(rec["site"], rec["index"], rec["defaults"], rec["tls_dir"], rec["policy"], server=APACHE)
        assert render_site(eff, "warn ssl:info", rec["tls_dir"]) == rec["vhost"]
        return
    effs = normalize_sites(rec["sites"], rec["defaults"], rec["tls_dir"], rec["policy"], server=APACHE)
    assert {e["name"]: render_site(e, "warn ssl:info", rec["tls_dir"]) for e in effs} == rec["vhosts"]
    assert render_listen_conf(effs, "") == rec["listen"]
    assert sorted(needed_modules(effs, "warn ssl:info")) == rec["modules"]
