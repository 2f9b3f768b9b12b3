"""revproxy.tls.check writes Prometheus metrics on the proxy (revproxy_metrics_dir), read back with the real
prometheus_client text parser.

Real backends on loopback from a private root: one that asks for a client certificate and gets the proxy's (ok), one
whose certificate names another host (name_mismatch); one site with a real frontend certificate. The job runs as an
AWX Check job (ansible-runner, check mode): the metrics are the check's output and are written in check mode too. The
values are compared with the certificates' own notAfter and the time of the run; a directory that does not exist
fails the job before any backend is checked, naming the option, and nothing is created; a system directory
(/etc/logrotate.d, whose every file logrotate reads) is refused and nothing appears in it.
"""
import calendar
import os
import stat
import time

import pytest

from prometheus_client.parser import text_string_to_metric_families

from support import backends, pki

from awx_runner import local_inventory, run_job, write_group_vars


def _epoch(cert):
    when = getattr(cert, "not_valid_after_utc", None) or cert.not_valid_after
    return calendar.timegm(when.utctimetuple())


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    f = pki.PKI(tmp_path_factory.mktemp("metrics-pki"))
    root = f.ca("Metrics Test Root CA")
    good = f.leaf("good", dns=["localhost"], issuer=root)
    other = f.leaf("other", dns=["other.test"], issuer=root)
    client = f.leaf("proxy-client", cn="proxy client", issuer=root, client=True)
    front = f.leaf("shop-front", dns=["shop.test"], issuer=root)
    servers = []
    try:
        servers.append(backends.TLSBackend(good.chain_path, good.key_path, client_ca_path=root.cert_path,
                                           client_ca_names_path=root.cert_path))
        servers.append(backends.TLSBackend(other.chain_path, other.key_path))
        yield {"root": root, "good": good, "other": other, "client": client, "front": front,
               "good_port": servers[0].port, "other_port": servers[1].port}
    finally:
        for server in servers:
            server.stop()


def _pdd(tmp_path, world, **extra):
    pdd = str(tmp_path / "pdd")
    os.makedirs(os.path.join(pdd, "inventory"), exist_ok=True)
    sites = [
        {"name": "shop", "server_name": "shop.test",
         "tls": {"certificate_file": world["front"].chain_path, "key_file": world["front"].key_path},
         "locations": [{"path": "/", "backend": "https://localhost:%d/" % world["good_port"]}],
         "backend_tls": {"ca_file": world["root"].cert_path, "client_cert_file": world["client"].cert_path,
                         "client_key_file": world["client"].key_path}},
        {"name": "blog", "server_name": "blog.test",
         "locations": [{"path": "/", "backend": "https://localhost:%d/" % world["other_port"]}],
         "backend_tls": {"ca_file": world["root"].cert_path}},
    ]
    write_group_vars(pdd, "revproxy_proxies", dict(extra, apache_proxy_sites=sites,
                                                   apache_proxy_frontend_trust_file=world["root"].cert_path))
    return pdd


def _samples(path):
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    out = {}
    for family in text_string_to_metric_families(text):
        assert family.type == "gauge", family
        for sample in family.samples:
            key = (sample.name, frozenset(sample.labels.items()))
            assert key not in out, key
            out[key] = sample.value
    return out


def test_check_writes_metrics_that_prometheus_parses(world, tmp_path):
    metrics = tmp_path / "textfile"
    metrics.mkdir()
    started = time.time()
    job = run_job(_pdd(tmp_path, world, revproxy_metrics_dir=str(metrics), revproxy_metrics_dirs=[str(metrics)]), "check", local_inventory(),
                  {"revproxy_fail_on": "never"}, job_type="check")
    ended = time.time()
    assert job.status == "successful", job
    assert sorted(os.listdir(str(metrics))) == [
        "revproxy_tls_backend_handshake.prom", "revproxy_tls_frontend_certificate.prom"]
    for name in os.listdir(str(metrics)):
        assert stat.S_IMODE(os.stat(str(metrics / name)).st_mode) == 0o644

    back = _samples(str(metrics / "revproxy_tls_backend_handshake.prom"))
    shop = {"source": "backend_handshake", "site": "shop", "backend": "https://localhost:%d/" % world["good_port"],
            "path": "/", "name": "localhost", "check": "request"}
    blog = dict(shop, site="blog", backend="https://localhost:%d/" % world["other_port"])
    by_name = {}
    for (name, labels), value in back.items():
        by_name.setdefault(name, {})[labels] = value
    assert by_name["revproxy_tls_backend_handshake_ok"] == {
        frozenset(dict(shop, reason="ok").items()): 1.0,
        frozenset(dict(blog, reason="name_mismatch").items()): 0.0,
    }
    assert by_name["revproxy_tls_backend_certificate_not_after_timestamp_seconds"] == {
        frozenset(shop.items()): _epoch(world["good"].cert),
        frozenset(blog.items()): _epoch(world["other"].cert),
    }
    checked = by_name["revproxy_tls_backend_checked_timestamp_seconds"]
    assert set(checked) == {frozenset(shop.items()), frozenset(blog.items())}
    assert all(started - 1 <= value <= ended + 1 for value in checked.values()), checked
    client_subject = world["client"].cert.subject.rfc4514_string()
    assert by_name["revproxy_tls_client_certificate_not_after_timestamp_seconds"] == {
        frozenset({"source": "backend_handshake", "site": "shop", "backend": shop["backend"],
                   "subject": client_subject}.items()): _epoch(world["client"].cert),
    }
    assert set(by_name["revproxy_tls_last_run_timestamp_seconds"]) == {
        frozenset({"source": "backend_handshake"}.items())}

    front = _samples(str(metrics / "revproxy_tls_frontend_certificate.prom"))
    labels = {"source": "frontend_certificate", "site": "shop", "file": world["front"].chain_path}
    assert front[("revproxy_tls_frontend_certificate_ok", frozenset(dict(labels, reason="ok").items()))] == 1.0
    assert front[("revproxy_tls_frontend_certificate_not_after_timestamp_seconds",
                  frozenset(labels.items()))] == _epoch(world["front"].cert)
    assert started - 1 <= front[("revproxy_tls_frontend_checked_timestamp_seconds",
                                 frozenset(labels.items()))] <= ended + 1
    # The site without tls has no frontend sample; nothing else is in the file.
    assert {name for name, _labels in front} == {
        "revproxy_tls_frontend_certificate_ok", "revproxy_tls_frontend_certificate_not_after_timestamp_seconds",
        "revproxy_tls_frontend_checked_timestamp_seconds", "revproxy_tls_last_run_timestamp_seconds"}


def test_a_missing_metrics_dir_fails_before_any_check_and_creates_nothing(world, tmp_path):
    missing = tmp_path / "no-such-dir"
    job = run_job(_pdd(tmp_path, world, revproxy_metrics_dir=str(missing), revproxy_metrics_dirs=[str(missing)]), "check", local_inventory(),
                  job_type="check")
    assert job.status == "failed", job
    assert "metrics_dir: %s cannot be used" % missing in job.stdout, job
    assert not missing.exists()
    assert not (tmp_path / "pdd" / "revproxy-tls-report").exists()


def test_a_system_directory_is_refused_on_the_proxy(world, tmp_path):
    """A survey answer names the directory: /etc/logrotate.d (logrotate reads every file there) is refused before any
    check, and no file appears in it."""
    before = sorted(os.listdir("/etc/logrotate.d"))
    extra = _pdd(tmp_path, world, revproxy_metrics_dir="/etc/logrotate.d", revproxy_metrics_dirs=["/etc/logrotate.d"])
    job = run_job(extra, "check", local_inventory(), job_type="check")
    assert job.status == "failed", job
    assert "metrics_dir: /etc/logrotate.d is a system directory" in job.stdout, job
    assert sorted(os.listdir("/etc/logrotate.d")) == before
