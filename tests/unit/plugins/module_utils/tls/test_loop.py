"""_loop.run_loop: every check from one selectors loop in one thread, against real local TLS listeners. The loop
and the blocking driver (check_one) run the same generators and must agree; a blackholed backend times out at its own
deadline without delaying the others; the per-address and the overall bounds hold (counted on the listeners); a slow
DNS lookup blocks nobody else and wakes the loop itself (no polling); results come in input order; an exception in
one check ends the run only after the others, as the thread pool did."""
import socket
import threading
import time

import pytest

from ansible_collections.revproxy.tls.plugins.module_utils.apache._catalogue import SEMANTICS
from ansible_collections.revproxy.tls.plugins.module_utils.tls import _checker, _loop as tp

from support.apache import reserve_port
from support.backends import BlackholeBackend, MultiTLSBackend, PlainHTTPBackend, TLSBackend
from support.pki import PKI


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    p = PKI(tmp_path_factory.mktemp("pki"))
    root = p.ca("Loop Root")
    other = p.ca("Other Root")
    leaf = p.leaf("backend", dns=["localhost", "slow.test", "fast.test"], ips=["127.0.0.1"], issuer=root)
    return {"root": root, "other": other, "leaf": leaf}


@pytest.fixture(scope="module")
def multi(pki):
    with MultiTLSBackend(24, pki["leaf"].chain_path, pki["leaf"].key_path) as backend:
        yield backend


def by_ip(port, path="/", ca=None, **over):
    """A backend at 127.0.0.1 checked with the name localhost (preserve_host: SNI and name checked), no lookup."""
    return dict({"url": "https://127.0.0.1:%d%s" % (port, path), "preserve_host": True, "host": "localhost",
                 "ca_file": ca}, **over)


def run_checks(backends, concurrency=64, per_address=_checker.PER_ADDRESS_CONCURRENCY, timeout=5.0):
    """What _checker.run does with `backends`, with the per-address bound as a parameter."""
    checks = _checker.build_checks_from_backends(backends, SEMANTICS)
    _checker._attach_contexts(checks)
    resolver = tp.Resolver()
    return _checker.run_distinct(
        checks, lambda c: _checker.check_steps(c, c["context"], timeout, True, False, resolver=resolver),
        concurrency, per_address)


def blocking(backends, index, timeout=5.0):
    """backends[index] checked alone by the blocking driver."""
    checks = _checker.build_checks_from_backends(backends, SEMANTICS)
    _checker._attach_contexts(checks)
    return _checker.check_one(checks[index], checks[index]["context"], timeout, True, False)


# --- many real backends: the loop agrees with the blocking driver, results in input order ----------------------------

KINDS = ("ok", "ok_by_name", "refused", "untrusted", "plain", "invalid")
# Held bound and never listening for the whole module: connections to it are refused, and no other process can take
# the port meanwhile (free_port() released it at once).
_REFUSING = reserve_port("127.0.0.1")
EXPECTED = {"ok": "ok", "ok_by_name": "ok", "refused": "connect_refused", "untrusted": "incomplete_chain",
            "plain": "plain_http_backend", "invalid": "invalid_input"}


def backend_of(kind, index, multi, pki, plain_port):
    port = multi.ports[index % len(multi.ports)]
    path = "/c%d/" % index  # distinct checks, also when they share a port
    ca = pki["root"].cert_path
    return {
        "ok": by_ip(port, path, ca),
        "ok_by_name": {"url": "https://localhost:%d%s" % (port, path), "ca_file": ca},
        "refused": {"url": "https://127.0.0.1:%d%s" % (_REFUSING.port, path), "ca_file": ca},
        "untrusted": by_ip(port, path, pki["other"].cert_path),
        "plain": {"url": "https://127.0.0.1:%d%s" % (plain_port, path), "ca_file": ca},
        "invalid": {"url": "ftp://127.0.0.1:%d%s" % (port, path)},
    }[kind]


# (case, number of checks, concurrency, per-address bound)
MANY = [
    ("one at a time", 12, 1, 8),
    ("fewer slots than checks", 60, 7, 8),
    ("default bounds", 60, 64, 8),
    ("one per address", 60, 64, 1),
    ("more slots than checks", 30, 1024, 1024),
]


@pytest.mark.parametrize("case, n, concurrency, per_address", MANY, ids=[c[0] for c in MANY])
def test_many_backends_in_input_order(case, n, concurrency, per_address, multi, pki):
    with PlainHTTPBackend() as plain:
        kinds = [KINDS[(i * 5) % len(KINDS)] for i in range(n)]
        backends = [backend_of(kind, i, multi, pki, plain.port) for i, kind in enumerate(kinds)]
        results = run_checks(backends, concurrency, per_address)
        assert [r["url"] for r in results] == [b["url"] for b in backends], case
        assert [r["reason"] for r in results] == [EXPECTED[k] for k in kinds], case
        for kind in KINDS:  # the blocking driver runs the same generators: same result, timings aside
            index = kinds.index(kind)
            alone = blocking(backends, index)
            looped = results[index]
            for key in ("ok", "reason", "message", "address", "tls_version", "certificate", "chain", "http_status"):
                assert looped.get(key) == alone.get(key), (kind, key)


def test_one_thread_runs_every_check_and_a_host_name_gets_one_lookup_thread(multi, pki, monkeypatch):
    started = []
    real_start = threading.Thread.start

    def start(thread):
        started.append(thread.name)
        real_start(thread)
    monkeypatch.setattr(threading.Thread, "start", start)
    backends = [backend_of("ok" if i % 2 else "ok_by_name", i, multi, pki, 0) for i in range(40)]
    results = run_checks(backends)
    assert all(r["ok"] for r in results), [r["message"] for r in results if not r["ok"]]
    assert started == ["dns-localhost"]


# --- a backend that never answers ------------------------------------------------------------------------------------


@pytest.mark.parametrize("concurrency", [2, 64])
def test_a_blackholed_backend_times_out_at_its_own_deadline_and_delays_nobody(concurrency, multi, pki):
    timeout = 1.5
    ca = pki["root"].cert_path
    with BlackholeBackend() as hole:
        backends = [by_ip(hole.port, ca=ca)] + [by_ip(port, ca=ca) for port in multi.ports[:20]]
        start = time.monotonic()
        results = run_checks(backends, concurrency, timeout=timeout)
        elapsed = time.monotonic() - start
    assert results[0]["reason"] == "connect_timeout"
    assert timeout * 1000 - 1 <= results[0]["elapsed_ms"] < timeout * 1000 + 600
    assert [r["reason"] for r in results[1:]] == ["ok"] * 20
    assert max(r["elapsed_ms"] for r in results[1:]) < timeout * 1000 / 2  # none waited for the blackhole
    assert elapsed < timeout * 1.5


# --- the bounds, counted on the listeners ----------------------------------------------------------------------------


class CountingBackend(TLSBackend):
    """An HTTPS listener on several ports that counts the connections open at a time, per port and in all."""

    def __init__(self, *args, **kwargs):
        self.active = {}
        self.peak = {}
        self.total = 0
        self.peak_total = 0
        TLSBackend.__init__(self, *args, **kwargs)

    async def handle(self, reader, writer):  # runs in the backend's one loop thread: no lock needed
        port = writer.get_extra_info("sockname")[1]
        self.active[port] = self.active.get(port, 0) + 1
        self.peak[port] = max(self.peak.get(port, 0), self.active[port])
        self.total += 1
        self.peak_total = max(self.peak_total, self.total)
        try:
            await TLSBackend.handle(self, reader, writer)
        finally:
            self.active[port] -= 1
            self.total -= 1


# (case, concurrency, per-address bound, expected peak per port, expected peak in all)
BOUNDS = [
    ("per address 1", 64, 1, 1, 3),
    ("per address 3", 64, 3, 3, 9),
    ("per address 8 (the default)", 64, 8, 8, 24),
    ("concurrency below the per-address bound", 4, 8, None, 4),
]


@pytest.mark.parametrize("case, concurrency, per_address, peak, peak_total", BOUNDS, ids=[c[0] for c in BOUNDS])
def test_bounds_per_address_and_in_all(case, concurrency, per_address, peak, peak_total, pki):
    with CountingBackend(pki["leaf"].chain_path, pki["leaf"].key_path, count=3, delay=0.1) as backend:
        backends = [by_ip(port, "/p%d/" % i, pki["root"].cert_path) for i in range(9) for port in backend.ports]
        results = run_checks(backends, concurrency, per_address)
        assert [r["reason"] for r in results] == ["ok"] * 27, case
        assert backend.peak_total == peak_total, case
        if peak is not None:
            assert backend.peak == dict((port, peak) for port in backend.ports), case
        else:
            assert max(backend.peak.values()) <= concurrency


# --- DNS: a slow lookup blocks nobody, and its answer wakes the loop --------------------------------------------------


def test_a_slow_lookup_does_not_block_other_checks_and_wakes_the_loop(multi, pki, monkeypatch):
    def getaddrinfo(host, port, *_args):
        if host == "slow.test":
            time.sleep(1.0)
        elif host == "never.test":
            time.sleep(3)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    ca = pki["root"].cert_path
    backends = [{"url": "https://slow.test:%d/" % multi.ports[0], "ca_file": ca},
                {"url": "https://never.test:%d/" % multi.ports[1], "ca_file": ca}]
    backends += [{"url": "https://fast.test:%d/" % port, "ca_file": ca} for port in multi.ports[2:14]]
    backends += [by_ip(port, ca=ca) for port in multi.ports[14:20]]
    cpu = time.thread_time()
    start = time.monotonic()
    results = run_checks(backends, concurrency=4, timeout=1.5)
    elapsed = time.monotonic() - start
    cpu = time.thread_time() - cpu
    assert [r["reason"] for r in results] == ["ok", "dns_failure"] + ["ok"] * 18
    assert 1000 <= results[0]["elapsed_ms"] < 1500
    assert "no answer within 1.5 s" in results[1]["message"], results[1]["message"]
    assert 1499 <= results[1]["elapsed_ms"] < 2100
    # two slots wait for DNS; the 18 others pass through the other two meanwhile, none waiting for a slow lookup
    assert max(r["elapsed_ms"] for r in results[2:]) < 800
    assert elapsed < 2.1
    # while the loop waited (1.5 s) it slept: the handshakes are about all the CPU it used (the bound
    # leaves room for a machine busy with the background lane; a loop that spun while waiting would use 1.5 s or more)
    assert cpu < 1.0, cpu


# --- run_loop itself -------------------------------------------------------------------------------------------------


def pause(seconds):
    """A wait on nothing: only its deadline ends it."""
    try:
        yield (None, 0, time.monotonic() + seconds)
    except tp._Deadline:
        pass


def test_results_in_input_order_whatever_order_the_tasks_end_in():
    ended = []

    def task(i):
        yield from pause(0.01 * (10 - i))
        ended.append(i)
        return "r%d" % i
    assert tp.run_loop([(lambda i=i: task(i)) for i in range(10)], 64) == ["r%d" % i for i in range(10)]
    assert ended == list(reversed(range(10)))


def test_a_task_may_return_its_result_without_waiting():
    assert tp.run_loop([lambda: "now", lambda: pause(0.01), lambda: None], 1) == ["now", None, None]


def test_an_exception_ends_the_run_after_the_others_the_first_in_input_order():
    done = []

    def fails_later():
        yield from pause(0.05)
        raise ValueError("second")

    def fails_at_once():
        raise KeyError("first")

    def fine(i):
        yield from pause(0.1)
        done.append(i)
        return i
    tasks = [lambda: fine(0), fails_later, lambda: fine(2), fails_at_once, lambda: fine(4)]
    with pytest.raises(ValueError, match="second"):
        tp.run_loop(tasks, 2)
    assert sorted(done) == [0, 2, 4]


def test_a_socket_wait_is_resumed_with_the_ready_events_or_the_deadline():
    pairs = [socket.socketpair(), socket.socketpair()]
    try:
        def reader(sock, seconds):
            try:
                events = yield (sock, tp.select.POLLIN, time.monotonic() + seconds)
            except tp._Deadline:
                return "deadline"
            return events & tp.select.POLLIN and sock.recv(10)
        timer = threading.Timer(0.05, lambda: pairs[1][1].sendall(b"hello"))
        timer.start()
        assert tp.run_loop([lambda: reader(pairs[0][0], 0.01), lambda: reader(pairs[1][0], 5)], 2) == \
            ["deadline", b"hello"]
        timer.join()
        assert tp.run_blocking(reader(pairs[0][0], 0.01)) == "deadline"
        pairs[0][1].sendall(b"again")
        assert tp.run_blocking(reader(pairs[0][0], 5)) == b"again"
    finally:
        for a, b in pairs:
            a.close()
            b.close()


def test_a_wait_that_starts_after_its_deadline_is_a_timeout():
    def late():
        try:
            yield (None, 0, time.monotonic() - 1)
        except tp._Deadline:
            return "late"
        return "resumed"
    assert tp.run_loop([late], 1) == ["late"]
    assert tp.run_blocking(late()) == "late"


def test_the_address_bound_lets_other_addresses_pass():
    active = {}
    peak = {}
    order = []

    def task(i, address):
        order.append(i)
        active[address] = active.get(address, 0) + 1
        peak[address] = max(peak.get(address, 0), active[address])
        yield from pause(0.03)
        active[address] -= 1
        return i
    addresses = ["a"] * 6 + ["b", "c"]
    results = tp.run_loop([(lambda i=i: task(i, addresses[i])) for i in range(8)], 3, lambda pos: addresses[pos], 2)
    assert results == list(range(8))
    assert peak == {"a": 2, "b": 1, "c": 1}
    assert order[:4] == [0, 1, 6, 2]  # b (6) starts as soon as a is full; a's third (2) when a slot frees
