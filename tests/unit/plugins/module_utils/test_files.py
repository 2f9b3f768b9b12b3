"""_files: bounded reads of paths that come from input (regular files only, a size cap, a clear message) and the
check of paths Apache serves. Real files, FIFOs, /dev/zero, sockets and symlinks in tmp_path; a FIFO with no writer
must fail at once, not hang (each test runs under a watchdog alarm)."""
import os
import signal
import socket

import pytest

from ansible_collections.revproxy.tls.plugins.module_utils import _files
from ansible_collections.revproxy.tls.plugins.module_utils._files import (
    FileReadError,
    check_regular_file,
    read_regular_file,
    read_tail,
    resolve_served_path,
)

LIMIT = 64


@pytest.fixture(autouse=True)
def watchdog():
    """A read that blocks (a FIFO opened or read blocking) fails the test after 5 s instead of hanging the run."""
    def timeout(_signum, _frame):
        raise AssertionError("the read blocked")
    old = signal.signal(signal.SIGALRM, timeout)
    signal.alarm(5)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


def make(tmp_path, case):
    """The path of one kind of file (created in tmp_path)."""
    path = str(tmp_path / case)
    if case == "small":
        with open(path, "wb") as handle:
            handle.write(b"hello\n")
    elif case == "empty":
        open(path, "wb").close()
    elif case == "exact":
        with open(path, "wb") as handle:
            handle.write(b"x" * LIMIT)
    elif case == "big":
        with open(path, "wb") as handle:
            handle.write(b"x" * (LIMIT + 1))
    elif case == "fifo":
        os.mkfifo(path)
    elif case == "dir":
        os.mkdir(path)
    elif case == "socket":
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(path)
        sock.close()
    elif case == "link_to_small":
        target = make(tmp_path, "small")
        os.symlink(target, path)
    elif case == "link_to_fifo":
        target = make(tmp_path, "fifo")
        os.symlink(target, path)
    elif case == "link_to_zero":
        os.symlink("/dev/zero", path)
    elif case == "dangling":
        os.symlink(str(tmp_path / "nowhere"), path)
    elif case == "zero":
        return "/dev/zero"
    elif case == "null":
        return "/dev/null"
    elif case == "missing":
        pass
    elif case == "unreadable":
        with open(path, "wb") as handle:
            handle.write(b"secret")
        os.chmod(path, 0)
    else:
        raise KeyError(case)
    return path


# case -> (expected bytes) or (reason, message suffix after "<what>: <path>")
READ_CASES = [
    ("small", b"hello\n"),
    ("empty", b""),
    ("exact", b"x" * LIMIT),
    ("link_to_small", b"hello\n"),  # symlinks are followed: the target is a regular file
    ("big", ("size", " is 65 bytes, over the limit of 64 bytes")),
    ("fifo", ("kind", " is a FIFO (named pipe), not a regular file")),
    ("link_to_fifo", ("kind", " is a FIFO (named pipe), not a regular file")),
    ("zero", ("kind", " is a character device, not a regular file")),
    ("link_to_zero", ("kind", " is a character device, not a regular file")),
    ("null", ("kind", " is a character device, not a regular file")),
    ("dir", ("kind", " is a directory, not a regular file")),
    ("socket", ("kind", " is a socket, not a regular file")),
    ("missing", ("missing", ": No such file or directory")),
    ("dangling", ("missing", ": No such file or directory")),
]


@pytest.mark.parametrize("case, expected", READ_CASES, ids=[c for c, _e in READ_CASES])
def test_read_regular_file(tmp_path, case, expected):
    path = make(tmp_path, case)
    if isinstance(expected, bytes):
        assert read_regular_file(path, LIMIT, "ca_file") == expected
        check_regular_file(path, LIMIT, "ca_file")
        return
    reason, suffix = expected
    with pytest.raises(FileReadError) as info:
        read_regular_file(path, LIMIT, "ca_file")
    err = info.value
    prefix = "ca_file: cannot read %s" % path if reason == "missing" else "ca_file: %s" % path
    assert str(err) == prefix + suffix
    assert (err.what, err.path, err.reason) == ("ca_file", path, reason)
    assert isinstance(err, ValueError)
    with pytest.raises(FileReadError) as again:
        check_regular_file(path, LIMIT, "ca_file")
    assert str(again.value) == str(err)


def test_unreadable_file_names_the_os_error(tmp_path):
    path = make(tmp_path, "unreadable")
    if os.geteuid() == 0:
        pytest.skip("root reads a mode-000 file")
    with pytest.raises(FileReadError, match=r"^key_file: cannot read .*: Permission denied$"):
        read_regular_file(path, LIMIT, "key_file")


def test_a_path_with_a_nul_byte_is_refused_with_the_field():
    with pytest.raises(FileReadError, match=r"^error_log: '/tmp/a\\x00b' is not a path"):
        read_regular_file("/tmp/a\x00b", LIMIT, "error_log")


def test_a_fifo_with_a_writer_is_refused_too(tmp_path):
    """Even with data waiting in it, a FIFO is not read (it could be fed forever)."""
    path = make(tmp_path, "fifo")
    reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    writer = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    try:
        os.write(writer, b"data\n")
        with pytest.raises(FileReadError, match="is a FIFO"):
            read_regular_file(path, LIMIT, "error_log")
        with pytest.raises(FileReadError, match="is a FIFO"):
            read_tail(path, LIMIT, "error_log", 0)
    finally:
        os.close(writer)
        os.close(reader)


def test_the_kind_is_checked_on_the_opened_file(tmp_path, monkeypatch):
    """A path swapped for a FIFO between the stat and the open is caught by the fstat of what was opened."""
    path = make(tmp_path, "small")
    fifo = make(tmp_path, "fifo")
    real_open = os.open

    def swapped_open(name, flags, *args):
        return real_open(fifo if name == path else name, flags, *args)
    monkeypatch.setattr(_files.os, "open", swapped_open)
    with pytest.raises(FileReadError, match="is a FIFO"):
        read_regular_file(path, LIMIT, "certificate_file")


@pytest.mark.parametrize("content, offset, limit, expected", [
    (b"old\nnew 1\nnew 2\n", 4, 100, (b"new 1\nnew 2\n", 0)),
    (b"old\nnew 1\nnew 2\n", None, 100, (b"old\nnew 1\nnew 2\n", 0)),
    (b"old\nnew 1\nnew 2\n", 0, 6, (b"new 2\n", 10)),  # only the last 6 bytes; 10 after the offset skipped
    (b"old\nnew 1\nnew 2\n", 4, 6, (b"new 2\n", 6)),
    (b"old\nnew 1\nnew 2\n", 10 ** 9, 100, (b"old\nnew 1\nnew 2\n", 0)),  # shorter than the offset: rotated
    (b"old\n", 4, 100, (b"", 0)),
    (b"", 0, 100, (b"", 0)),
])
def test_read_tail(tmp_path, content, offset, limit, expected):
    path = tmp_path / "error.log"
    path.write_bytes(content)
    assert read_tail(str(path), limit, "error_log", offset) == expected


@pytest.mark.parametrize("case", ["fifo", "zero", "link_to_zero", "dir", "socket", "missing"])
def test_read_tail_refuses_what_is_not_a_regular_file(tmp_path, case):
    path = make(tmp_path, case)
    with pytest.raises(FileReadError) as info:
        read_tail(path, 16 << 20, "error_log", 0)
    assert str(info.value).startswith("error_log: ") and path in str(info.value)
    assert info.value.reason == ("missing" if case == "missing" else "kind")


def test_read_tail_of_a_large_log_reads_only_the_limit(tmp_path):
    path = tmp_path / "error.log"
    path.write_bytes(b"x" * (1 << 20) + b"last line\n")
    data, skipped = read_tail(str(path), 10, "error_log", 0)
    assert (data, skipped) == (b"last line\n", 1 << 20)


# --- resolve_served_path -------------------------------------------------------------------------------------------


@pytest.fixture
def served(tmp_path):
    """www/ (a root) with site/ and page.html; a link farm pointing in and out; secret/ outside the root."""
    www = tmp_path / "www"
    (www / "site").mkdir(parents=True)
    (www / "site" / "page.html").write_text("<p>down</p>")
    (tmp_path / "secret").mkdir()
    (tmp_path / "secret" / "passwd").write_text("root:x:0:0")
    os.symlink(str(tmp_path / "secret"), str(www / "escape"))
    os.symlink(str(tmp_path / "secret" / "passwd"), str(www / "site" / "passwd.html"))
    os.symlink("site", str(www / "inside"))
    os.mkfifo(str(www / "site" / "pipe.html"))
    os.symlink(str(www), str(tmp_path / "www-link"))  # a root given through a symlink
    return tmp_path


@pytest.mark.parametrize("rel, kind, expected", [
    ("www", "dir", "www"),
    ("www/site", "dir", "www/site"),
    ("www/site/", "dir", "www/site"),
    ("www/inside", "dir", "www/site"),  # a link that stays under the root resolves to its target
    ("www/site/page.html", "file", "www/site/page.html"),
    ("www/site/not-yet", "dir", "www/site/not-yet"),  # not there yet: where it would be
    ("www/site/new.html", "file", "www/site/new.html"),
    ("www/site/../site/page.html", "file", "www/site/page.html"),
])
def test_resolve_served_path_accepts(served, rel, kind, expected):
    assert resolve_served_path(str(served / rel), [str(served / "www")], kind) == str(served / expected)


def test_resolve_served_path_resolves_the_roots_too(served):
    assert resolve_served_path(str(served / "www" / "site"), [str(served / "www-link")], "dir") == \
        str(served / "www" / "site")
    assert resolve_served_path(str(served / "www-link" / "site"), [str(served / "www")], "dir") == \
        str(served / "www" / "site")


@pytest.mark.parametrize("rel, kind, reason, detail", [
    ("www/escape", "dir", "outside", "(resolves to {t}/secret) is not under a served root ({t}/www)"),
    ("www/escape/passwd", "file", "outside", "(resolves to {t}/secret/passwd) is not under a served root ({t}/www)"),
    ("www/site/passwd.html", "file", "outside",
     "(resolves to {t}/secret/passwd) is not under a served root ({t}/www)"),
    ("www/../secret", "dir", "outside", "(resolves to {t}/secret) is not under a served root ({t}/www)"),
    ("secret", "dir", "outside", "is not under a served root ({t}/www)"),
    ("www-other", "dir", "outside", "is not under a served root ({t}/www)"),  # a sibling sharing the prefix
    ("www/site/page.html", "dir", "kind", "is a regular file, not a directory"),
    ("www/site", "file", "kind", "is a directory, not a regular file"),
    ("www/site/pipe.html", "file", "kind", "is a FIFO (named pipe), not a regular file"),
])
def test_resolve_served_path_refuses(served, rel, kind, reason, detail):
    path = str(served / rel)
    with pytest.raises(FileReadError) as info:
        resolve_served_path(path, [str(served / "www")], kind, what="site 'a': acme_challenge_dir")
    assert str(info.value) == "site 'a': acme_challenge_dir: %s %s" % (path, detail.format(t=served))
    assert info.value.reason == reason


def test_resolve_served_path_names_a_linked_root_and_what_it_resolves_to(served):
    path = str(served / "secret")
    with pytest.raises(FileReadError) as info:
        resolve_served_path(path, [str(served / "www-link"), "/srv"], "dir")
    assert str(info.value) == "%s is not under a served root (%s/www-link (%s/www), /srv)" % (path, served, served)


def test_resolve_served_path_refuses_the_etc_example():
    with pytest.raises(FileReadError, match=r"^/etc is not under a served root \(/var/www, /srv\)$"):
        resolve_served_path("/etc", ["/var/www", "/srv"], "dir")
    with pytest.raises(FileReadError, match=r"^/var/www/\.\./\.\./etc/passwd \(resolves to /etc/passwd\) is not under"):
        resolve_served_path("/var/www/../../etc/passwd", ["/var/www"], "file")


def test_resolve_served_path_kind_must_be_dir_or_file():
    with pytest.raises(ValueError, match="kind: expected 'dir' or 'file'"):
        resolve_served_path("/var/www", ["/var/www"], "link")


# --- the readers that use it: error log, client certificate files, frontend certificate files -----------------------


def test_read_since_refuses_a_fifo_and_dev_zero_and_keeps_a_missing_log_empty(tmp_path):
    from ansible_collections.revproxy.tls.plugins.module_utils.apache._errorlog import read_since
    for case, kind in (("fifo", "a FIFO (named pipe)"), ("zero", "a character device"), ("dir", "a directory")):
        path = make(tmp_path, case)
        with pytest.raises(FileReadError) as info:
            read_since(path, 0)
        assert str(info.value) == "error_log: %s is %s, not a regular file" % (path, kind)
    assert read_since(str(tmp_path / "not-yet.log"), 0) == []


def test_read_since_says_when_it_skipped_lines(tmp_path):
    from ansible_collections.revproxy.tls.plugins.module_utils.apache import _errorlog
    log = tmp_path / "error.log"
    log.write_bytes(b"".join(b"line %04d\n" % i for i in range(1000)))  # 10 bytes a line
    lines = _errorlog.read_since(str(log), 0, limit=25)
    assert lines == [_errorlog.SKIPPED_LINE % (9975, 25), "line 0998", "line 0999"]
    assert _errorlog.read_since(str(log), 9970, limit=30) == ["line 0997", "line 0998", "line 0999"]


def test_the_probe_module_fails_clearly_on_an_error_log_that_is_not_a_file(tmp_path):
    from ansible_collections.revproxy.tls.plugins.modules import apache_proxy_probe
    from ansible_collections.revproxy.tls.plugins.module_utils.apache import _probe
    from ansible_collections.revproxy.tls.plugins.module_utils.model._backend_tls import ConfigError
    fifo = make(tmp_path, "fifo")
    for path in (fifo, "/dev/zero"):
        with pytest.raises(ConfigError, match=r"^error_log: %s is a (FIFO|character device)" % path):
            apache_proxy_probe.read_log(path, 0)
        with pytest.raises(ConfigError, match="not a regular file"):
            _probe.wait_for_reload(path, 0, 5, sleep=lambda s: None, read=apache_proxy_probe.read_log)


@pytest.mark.parametrize("case, message", [
    ("fifo", "client_cert_file: cannot read {p}: a FIFO (named pipe), not a regular file"),
    ("zero", "client_cert_file: cannot read {p}: a character device, not a regular file"),
    ("dir", "client_cert_file: cannot read {p}: a directory, not a regular file"),
    ("missing", "client_cert_file: cannot read {p}: No such file or directory"),
])
def test_client_certificate_files_are_read_bounded(tmp_path, case, message):
    from ansible_collections.revproxy.tls.plugins.module_utils.tls import _context as _tls_probe
    path = make(tmp_path, case)
    with pytest.raises(_tls_probe.ClientFileError) as info:
        _tls_probe._read(path, "client_cert_file")
    assert str(info.value) == message.format(p=path)


def test_client_certificate_file_size_message_is_kept(tmp_path):
    from ansible_collections.revproxy.tls.plugins.module_utils.tls import _context as _tls_probe
    path = make(tmp_path, "big")
    with pytest.raises(_tls_probe.ClientFileError, match=r"^client_key_file: .* is larger than 64 bytes \(not a cert"):
        _tls_probe._read(path, "client_key_file", limit=LIMIT)


@pytest.mark.parametrize("case", ["fifo", "zero", "dir", "socket", "missing"])
def test_frontend_certificate_reads_no_special_file(tmp_path, case):
    from ansible_collections.revproxy.tls.plugins.modules import frontend_certificate
    assert frontend_certificate._read(make(tmp_path, case)) is None
    assert frontend_certificate._read(make(tmp_path, "small")) == "hello\n"
