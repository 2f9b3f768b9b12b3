"""_metrics: Prometheus text format (0.0.4) of the checks' results. Every produced text is parsed back with the real
prometheus_client parser (text_string_to_metric_families) and compared sample by sample; names, escaping, values and
the atomic write are tables; hostile label values (quotes, backslashes, newlines, a fake sample line) come back as
exactly the one label value they were."""
import datetime
import os
import stat

import pytest

from prometheus_client.parser import text_string_to_metric_families

from ansible_collections.revproxy.tls.plugins.module_utils import _metrics

NOW = 1796676302  # 2026-12-07T20:45:02Z


def parse(text):
    """{(metric name, frozenset of label items): value} and {family name: (type, help)} of a text."""
    samples, meta = {}, {}
    for family in text_string_to_metric_families(text):
        meta[family.name] = (family.type, family.documentation)
        for sample in family.samples:
            key = (sample.name, frozenset(sample.labels.items()))
            assert key not in samples, "duplicate sample %r" % (key,)
            samples[key] = sample.value
    return samples, meta


def labels(**kw):
    return frozenset(kw.items())


BACKEND_OK = {"site": "shop", "url": "https://b.internal:8443/", "path": "/", "checked_name": "b.internal",
              "ok": True, "reason": "ok", "certificate": {"not_after": "2027-01-01T00:00:00Z"}}
BACKEND_BAD = {"site": "shop", "url": "https://c.internal/", "path": "/api", "checked_name": "c.internal",
               "ok": False, "reason": "name_mismatch", "certificate": {"not_after": "2026-12-31T12:00:00Z"}}


def test_backends_frontends_client_certificates_parse_back():
    text = _metrics.render(
        "check", backends=[BACKEND_OK, BACKEND_BAD,
                           {"url": "https://d/", "ok": False, "reason": "dns_failure", "certificate": None}],
        frontends=[{"site": "shop", "certificate_file": "/etc/tls/shop.pem", "ok": True, "problems": [],
                    "not_after": "2027-03-01T00:00:00Z"},
                   {"site": "blog", "certificate_file": "/etc/tls/blog.pem", "ok": False, "not_after": None,
                    "problems": [{"reason": "key_mismatch"}, {"reason": "expired"}]}],
        client_certificates=[{"site": "shop", "backend": "https://b.internal:8443/", "subject": "CN=proxy",
                              "not_after": "2026-12-24T00:00:00Z"}],
        now=NOW)
    samples, meta = parse(text)
    b_ok = dict(source="check", site="shop", backend="https://b.internal:8443/", path="/", name="b.internal",
                check="request")
    b_bad = dict(source="check", site="shop", backend="https://c.internal/", path="/api", name="c.internal",
                 check="request")
    d = dict(source="check", site="", backend="https://d/", path="", name="", check="request")
    assert samples == {
        ("revproxy_tls_backend_handshake_ok", labels(reason="ok", **b_ok)): 1.0,
        ("revproxy_tls_backend_handshake_ok", labels(reason="name_mismatch", **b_bad)): 0.0,
        ("revproxy_tls_backend_handshake_ok", labels(reason="dns_failure", **d)): 0.0,
        ("revproxy_tls_backend_certificate_not_after_timestamp_seconds", labels(**b_ok)): 1798761600.0,
        ("revproxy_tls_backend_certificate_not_after_timestamp_seconds", labels(**b_bad)): 1798718400.0,
        ("revproxy_tls_backend_checked_timestamp_seconds", labels(**b_ok)): NOW,
        ("revproxy_tls_backend_checked_timestamp_seconds", labels(**b_bad)): NOW,
        ("revproxy_tls_backend_checked_timestamp_seconds", labels(**d)): NOW,
        ("revproxy_tls_frontend_certificate_ok", labels(source="check", site="shop", file="/etc/tls/shop.pem",
                                                        reason="ok")): 1.0,
        ("revproxy_tls_frontend_certificate_ok", labels(source="check", site="blog", file="/etc/tls/blog.pem",
                                                        reason="key_mismatch")): 0.0,
        ("revproxy_tls_frontend_certificate_not_after_timestamp_seconds",
         labels(source="check", site="shop", file="/etc/tls/shop.pem")): 1803859200.0,
        ("revproxy_tls_frontend_checked_timestamp_seconds",
         labels(source="check", site="shop", file="/etc/tls/shop.pem")): NOW,
        ("revproxy_tls_frontend_checked_timestamp_seconds",
         labels(source="check", site="blog", file="/etc/tls/blog.pem")): NOW,
        ("revproxy_tls_client_certificate_not_after_timestamp_seconds",
         labels(source="check", site="shop", backend="https://b.internal:8443/", subject="CN=proxy")): 1798070400.0,
        ("revproxy_tls_last_run_timestamp_seconds", labels(source="check")): NOW,
    }
    # Every family is a gauge with the HELP of the one table.
    assert meta == {_metrics.PREFIX + name: ("gauge", help_text)
                    for name, (help_text, _labels) in _metrics.FAMILIES.items()}


def test_names_follow_the_conventions():
    for name, (help_text, label_names) in _metrics.FAMILIES.items():
        full = _metrics.PREFIX + name
        assert _metrics._METRIC_NAME.match(full), full
        assert full.endswith(("_ok", "_timestamp_seconds")), full
        assert help_text and "\n" not in help_text
        assert label_names[0] == "source"
        for label in label_names:
            assert _metrics._LABEL_NAME.match(label) and not label.startswith("__"), label
        # Labels a Prometheus server sets itself on every target are never ours (they would be renamed exported_*).
        assert not {"job", "instance"} & set(label_names)


HOSTILE = [
    'a"b',
    "a\\b",
    "a\nb",
    'x"} 1\nrevproxy_tls_backend_handshake_ok{source="evil"} 1\n#',
    "\\n literal backslash-n",
    "trailing backslash\\",
    "unicode: \u00e9\u4e2d\U0001f512",
    "",
    "{}=,",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_a_hostile_label_value_is_one_label_value(value):
    hostile = {"site": value, "url": value, "path": value, "checked_name": value, "ok": False, "reason": value}
    text = _metrics.render("audit", backends=[hostile], now=NOW)
    samples, _meta = parse(text)
    ok = [(k, v) for k, v in samples.items() if k[0] == "revproxy_tls_backend_handshake_ok"]
    assert len(ok) == 1
    got = dict(ok[0][0][1])
    assert got == {"source": "audit", "site": value, "backend": value, "path": value, "name": value,
                   "check": "request", "reason": value or "failed"}
    # One sample line per sample: nothing the value holds starts a line of its own.
    assert len([line for line in text.splitlines() if not line.startswith("#")]) == 3


@pytest.mark.parametrize("value, text", [
    ('a"b', 'a\\"b'),
    ("a\\b", "a\\\\b"),
    ("a\nb", "a\\nb"),
    ("\\n", "\\\\n"),
    ("plain", "plain"),
])
def test_escape_label_value(value, text):
    assert _metrics.escape_label_value(value) == text


@pytest.mark.parametrize("value, text", [
    (True, "1"), (False, "0"), (0, "0"), (1796676302, "1796676302"), (1796676302.0, "1796676302"),
    (0.5, "0.5"), (float("nan"), "NaN"), (float("inf"), "+Inf"), (float("-inf"), "-Inf"), (-3.0, "-3"),
])
def test_format_value(value, text):
    assert _metrics.format_value(value) == text


@pytest.mark.parametrize("value, seconds", [
    ("2026-12-07T20:45:02Z", NOW),
    ("2026-12-07T20:45:02+00:00", NOW),
    ("2026-12-07T20:45:02", NOW),
    (datetime.datetime(2026, 12, 7, 20, 45, 2, tzinfo=datetime.timezone.utc), NOW),
    (datetime.datetime(2026, 12, 7, 21, 45, 2, tzinfo=datetime.timezone(datetime.timedelta(hours=1))), NOW),
    (NOW, NOW),
    (None, None), ("", None), ("tomorrow", None), ("2026-13-01T00:00:00Z", None), (True, None), ([], None),
])
def test_epoch_seconds(value, seconds):
    assert _metrics.epoch_seconds(value) == seconds


def test_a_failed_check_wins_over_an_ok_one_with_the_same_labels():
    failed = dict(BACKEND_OK, ok=False, reason="expired")
    for order in ([BACKEND_OK, failed], [failed, BACKEND_OK]):
        samples, _meta = parse(_metrics.render("check", backends=order, now=NOW))
        ok = {dict(k[1])["reason"]: v for k, v in samples.items() if k[0] == "revproxy_tls_backend_handshake_ok"}
        assert ok == {"expired": 0.0}


def test_a_health_check_is_its_own_series():
    samples, _meta = parse(_metrics.render("check", backends=[BACKEND_OK, dict(BACKEND_OK, health_check=True,
                                                                               ok=False, reason="name_mismatch")],
                                           now=NOW))
    ok = sorted((dict(k[1])["check"], v) for k, v in samples.items() if k[0] == "revproxy_tls_backend_handshake_ok")
    assert ok == [("health_check", 0.0), ("request", 1.0)]


def test_empty_run_has_only_the_last_run_time():
    samples, _meta = parse(_metrics.render("check", now=NOW))
    assert samples == {("revproxy_tls_last_run_timestamp_seconds", labels(source="check")): NOW}


@pytest.mark.parametrize("kind", ["", "Check", "a-b", "../x", "a/b", "x" * 41, "1abc", None, "a\nb"])
def test_kind_is_refused(kind, tmp_path):
    with pytest.raises(ValueError):
        _metrics.render(kind)
    with pytest.raises(ValueError):
        _metrics.write(str(tmp_path), kind)
    assert os.listdir(str(tmp_path)) == []


def test_write_is_atomic_0644_and_replaces_a_symlink_without_following_it(tmp_path):
    target = tmp_path / "elsewhere"
    target.write_text("keep me")
    link = tmp_path / "revproxy_tls_check.prom"
    link.symlink_to(target)
    path = _metrics.write(str(tmp_path), "check", backends=[BACKEND_OK], now=NOW)
    assert path == str(link)
    assert target.read_text() == "keep me"
    st = os.lstat(path)
    assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o644
    assert parse(open(path).read())[0]
    assert sorted(os.listdir(str(tmp_path))) == ["elsewhere", "revproxy_tls_check.prom"]
    # Written again: replaced, no temporary file left.
    _metrics.write(str(tmp_path), "check", now=NOW + 1)
    assert sorted(os.listdir(str(tmp_path))) == ["elsewhere", "revproxy_tls_check.prom"]
    assert 'revproxy_tls_last_run_timestamp_seconds{source="check"} 1796676303' in open(path).read()


def _fifo(tmp_path):
    path = tmp_path / "fifo"
    os.mkfifo(str(path))
    return str(path)


@pytest.mark.parametrize("make, message", [
    (lambda p: "relative/dir", "not an absolute path"),
    (lambda p: str(p / "missing"), "must exist"),
    (lambda p: (p / "file").write_text("x") or str(p / "file"), "is not a directory"),
    (_fifo, "is not a directory"),
    (lambda p: "", "is not a directory path"),
    (lambda p: "/tmp/a\x00b", "is not a directory path"),
])
def test_bad_directory_is_refused_naming_metrics_dir(tmp_path, make, message):
    directory = make(tmp_path)
    before = sorted(os.listdir(str(tmp_path)))
    with pytest.raises(_metrics.MetricsError, match="^metrics_dir: .*%s" % message):
        _metrics.write(directory, "check", now=NOW)
    assert sorted(os.listdir(str(tmp_path))) == before


@pytest.mark.parametrize("directory", ["/", "/etc", "/etc/logrotate.d", "/etc/pam.d", "/usr/lib", "/root", "/proc",
                                       "/var/log", "/var/spool/cron", "/var/lib/dpkg", "/boot", "/lib", "/dev",
                                       "/etc/../etc/cron.d", "//etc"])
def test_a_system_directory_is_refused(directory):
    if not os.path.isdir(directory):
        directory = "/etc"
    with pytest.raises(_metrics.MetricsError, match="^metrics_dir: .* is a system directory"):
        _metrics.file_path(directory, "check")


def test_a_symlink_into_a_system_directory_is_refused(tmp_path):
    link = tmp_path / "textfile"
    link.symlink_to("/etc")
    with pytest.raises(_metrics.MetricsError, match=r"textfile \(/etc\) is a system directory"):
        _metrics.write(str(link), "check", now=NOW)
    assert not os.path.exists("/etc/revproxy_tls_check.prom")


def test_the_default_directory_is_not_refused(tmp_path):
    assert not _metrics._SYSTEM_DIRS.match(_metrics.DEFAULT_DIR)
    assert not _metrics._SYSTEM_DIRS.match("/var/lib/node_exporter/textfile_collector")
    assert not _metrics._SYSTEM_DIRS.match("/run/prometheus")


def test_a_directory_at_the_file_path_is_refused_and_nothing_left(tmp_path):
    (tmp_path / "revproxy_tls_check.prom").mkdir()
    with pytest.raises(_metrics.MetricsError, match="is a directory"):
        _metrics.write(str(tmp_path), "check", now=NOW)
    assert os.listdir(str(tmp_path)) == ["revproxy_tls_check.prom"]
