# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""The drivers of the probe's generators: one in the calling thread (run_blocking), many from one selectors loop
(run_loop), and the bounded host-name lookups they wait on (Resolver, _Lookup).

A probe is written as generators that yield what they wait for, a wait (what, events, deadline):
  (socket, POLLIN or POLLOUT, deadline)  resumed with the ready events, as poll() reports them;
  (lookup, 0, deadline)                  a _Lookup: resumed when its getaddrinfo thread has the answer;
  (None, 0, deadline)                    nothing: only the deadline ends it.
When the deadline passes first, the driver throws _Deadline() into the generator at that yield, so each stage's
try/except says "timeout" exactly where blocking code would. run_blocking() drives one generator in the calling
thread with poll(); run_loop() drives many from one selectors loop in one thread: at most `concurrency` in flight,
at most `per_address` per backend address. Nothing here knows TLS or HTTP.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import heapq
import select
import selectors
import socket
import threading
import time
import types
from collections import deque


class _Deadline(Exception):
    """Thrown into a generator whose wait outlived its deadline."""


def _resolve_steps(host, port, deadline):
    """getaddrinfo bounded by the deadline (daemon thread, abandoned on timeout)."""
    return (yield from _Lookup(host, port).steps(deadline))


class Resolver(object):
    """getaddrinfo once per host name for one run of checks, as a proxy resolves each worker's host once: checks of
    the same host (other ports, paths, SNI) share one lookup, concurrent ones included. Each caller still waits only
    until its own deadline, and an error is shared like an answer. Without it (Resolver=None), each check looks up
    its own host."""

    def __init__(self):
        self._lock = threading.Lock()
        self._lookups = {}

    def resolve_steps(self, host, port, deadline):
        with self._lock:
            lookup = self._lookups.get(host)
            if lookup is None:
                lookup = self._lookups[host] = _Lookup(host, 0)
        addrs = yield from lookup.steps(deadline)
        return [(family, kind, proto, canon, sockaddr[:1] + (port,) + sockaddr[2:])
                for family, kind, proto, canon, sockaddr in addrs]


class _Lookup(object):
    """One getaddrinfo in a daemon thread (abandoned by callers whose deadline passes first). A waiter yields it
    (steps): run_blocking waits on it (wait_done), run_loop registers a callback (on_done, called from the lookup
    thread)."""

    def __init__(self, host, port):
        self._box = {}
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._callbacks = []
        thread = threading.Thread(target=self._work, args=(host, port), name="dns-%s" % host)
        thread.daemon = True
        thread.start()

    def _work(self, host, port):
        try:
            self._box["addrs"] = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
        except Exception as exc:  # socket.gaierror, UnicodeError
            self._box["error"] = exc
        finally:
            with self._lock:
                self._done.set()
                callbacks, self._callbacks = self._callbacks, None
            for callback in callbacks:
                callback()

    def on_done(self, callback):
        """Call callback() once the answer is in: from the lookup thread, or at once if it is in already."""
        with self._lock:
            if self._callbacks is not None:
                self._callbacks.append(callback)
                return
        callback()

    def wait_done(self, timeout):
        return self._done.wait(timeout)

    def steps(self, deadline):
        if not self._done.is_set():
            yield (self, 0, deadline)
        if "error" in self._box:
            raise self._box["error"]
        return self._box["addrs"]


def _wait(sock, events, deadline):
    """Block until `sock` is ready for `events` (poll bits); _Deadline when the deadline passes first."""
    poller = select.poll()
    poller.register(sock.fileno(), events)
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _Deadline()
        try:
            ready = poller.poll(max(1, int(remaining * 1000)))
        except InterruptedError:  # pragma: no cover
            continue
        if ready:
            return ready[0][1]


# ---------------------------------------------------------------------------------------------------------------------
# Drivers: one generator in the calling thread (run_blocking), or many from one event loop (run_loop)


def run_blocking(steps):
    """Drive a probe generator to its end in the calling thread (poll() on its socket, a wait on its lookup); its
    return value. A wait whose deadline passes first is resumed with _Deadline, as run_loop does."""
    value = error = None
    while True:
        try:
            wait = steps.send(value) if error is None else steps.throw(error)
        except StopIteration as stop:
            return stop.value
        value = error = None
        what, events, deadline = wait
        try:
            if events:
                value = _wait(what, events, deadline)
                continue
            remaining = deadline - time.monotonic()
            if what is None:
                if remaining > 0:
                    time.sleep(remaining)
            elif what.wait_done(max(0.0, remaining)):
                continue
            raise _Deadline()
        except _Deadline as exc:
            error = exc


_SELECTOR_EVENTS = {select.POLLIN: selectors.EVENT_READ, select.POLLOUT: selectors.EVENT_WRITE}


# How a task in run_loop waits: not at all (it runs, or it has ended), on a socket, on a lookup, on its deadline only.
_RUNNING, _ON_SOCKET, _ON_LOOKUP, _ON_DEADLINE = range(4)


class _Task(object):
    """One generator in run_loop: its position, how and on what it waits, the deadline of its live timer entry,
    and a token that tells a lookup's late wake-up from the current wait."""

    __slots__ = ("pos", "gen", "kind", "what", "timer", "token")

    def __init__(self, pos, gen):
        self.pos = pos
        self.gen = gen
        self.kind = _RUNNING
        self.what = None
        self.timer = None
        self.token = 0


class _Waker(object):
    """The loop's self-pipe: a lookup thread queues (task, token) and writes a byte, which wakes select()."""

    def __init__(self):
        self.rsock, self.wsock = socket.socketpair()
        self.rsock.setblocking(False)
        self.wsock.setblocking(False)
        self.woken = deque()
        self._lock = threading.Lock()
        self._closed = False

    def wake(self, item):
        with self._lock:
            if self._closed:
                return  # a lookup that ends after the run: nobody waits for it any more
            self.woken.append(item)
            try:
                self.wsock.send(b"\0")
            except OSError:  # BlockingIOError: the buffer is full of wake-ups already
                pass

    def drain(self):
        try:
            while self.rsock.recv(4096):
                pass
        except OSError:  # BlockingIOError: drained
            pass
        while self.woken:
            yield self.woken.popleft()

    def close(self):
        with self._lock:
            self._closed = True
            self.rsock.close()
            self.wsock.close()


def run_loop(tasks, concurrency, address_of=None, per_address=None):
    """Run every task from one selectors loop in the calling thread; their results in input order.

    Each task is a callable taking no argument that returns a probe generator (see the module's doc), or directly a
    result (a check that needs no I/O). Tasks start in input order, at most `concurrency` at a time and at most
    `per_address` at a time per address_of(position) (a task whose address is busy lets the next ones start); a
    generator's deadline starts when the loop starts it. The work between two waits (handshake steps, classify, the
    certificate summary) runs in this thread. An exception in one task does not stop the others: once all have
    ended, the first one (in input order) is raised, as a thread pool's results would raise it."""
    return _Loop(tasks, concurrency, address_of, per_address).run()


def _no_address(_pos):
    return None


class _Loop(object):
    """run_loop's state: the tasks waiting to start per address, the parked generators, the timers."""

    def __init__(self, tasks, concurrency, address_of, per_address):
        self.tasks = tasks
        self.concurrency = max(1, concurrency)
        if address_of is None or per_address is None:
            address_of, per_address = _no_address, len(tasks) or 1
        self.per_address = per_address
        self.results = [None] * len(tasks)
        self.errors = {}
        self.address = [address_of(pos) for pos in range(len(tasks))]
        self.queues = {}
        for pos, key in enumerate(self.address):
            self.queues.setdefault(key, deque()).append(pos)
        self.active = dict.fromkeys(self.queues, 0)
        self.ready = [(queue[0], key) for key, queue in self.queues.items()]  # addresses with room, in task order
        heapq.heapify(self.ready)
        self.running = 0
        self.timers = []  # (deadline, sequence, task): at most one live entry per task (task.timer)
        self.sequence = 0
        self.parked = set()
        self.selector = None
        self.waker = None

    def run(self):
        if not self.tasks:
            return []
        self.selector = selectors.DefaultSelector()
        self.waker = _Waker()
        try:
            self.selector.register(self.waker.rsock, selectors.EVENT_READ, None)
            self._loop()
        finally:
            for task in list(self.parked):  # only when the loop itself fails (KeyboardInterrupt)
                self._unpark(task)
                task.gen.close()
            self.selector.close()
            self.waker.close()
        if self.errors:
            raise self.errors[min(self.errors)]
        return self.results

    def _loop(self):
        selector, timers = self.selector, self.timers
        while True:
            while self.running < self.concurrency and self.ready:
                self._start(heapq.heappop(self.ready)[1])
            if not self.running:
                return
            timeout = max(0.0, timers[0][0] - time.monotonic()) if timers else None
            for key, mask in selector.select(timeout):
                task = key.data
                if task is None:
                    for task, token in self.waker.drain():
                        if task.token == token and task.kind == _ON_LOOKUP:
                            self._resume(task, None)
                    continue
                self._resume(task, (select.POLLIN if mask & selectors.EVENT_READ else 0)
                             | (select.POLLOUT if mask & selectors.EVENT_WRITE else 0))
            now = time.monotonic()
            while timers and timers[0][0] <= now:
                deadline, _seq, task = heapq.heappop(timers)
                if task.timer != deadline:
                    continue  # stale: the task waits with another deadline, which has its own entry
                task.timer = None
                if task.kind != _RUNNING:
                    self._resume(task, None, _Deadline())

    def _start(self, key):
        pos = self.queues[key].popleft()
        self.running += 1
        self.active[key] += 1
        if self.active[key] < self.per_address and self.queues[key]:
            heapq.heappush(self.ready, (self.queues[key][0], key))
        try:
            gen = self.tasks[pos]()
        except Exception as exc:  # pylint: disable=broad-except
            self._end(pos, error=exc)
            return
        if isinstance(gen, types.GeneratorType):
            self._advance(_Task(pos, gen), None, None)
        else:
            self._end(pos, gen)

    def _end(self, pos, result=None, error=None):
        if error is not None:
            self.errors[pos] = error
        else:
            self.results[pos] = result
        self.running -= 1
        key = self.address[pos]
        self.active[key] -= 1
        if self.active[key] == self.per_address - 1 and self.queues[key]:
            heapq.heappush(self.ready, (self.queues[key][0], key))

    def _unpark(self, task):
        if task.kind == _ON_SOCKET:
            self.selector.unregister(task.what)
        task.kind = _RUNNING
        task.what = None
        self.parked.discard(task)

    def _resume(self, task, value, error=None):
        self._unpark(task)
        self._advance(task, value, error)

    def _advance(self, task, value, error):
        """Resume the task's generator until it waits again or ends."""
        gen = task.gen
        while True:
            try:
                wait = gen.send(value) if error is None else gen.throw(error)
            except StopIteration as stop:
                self._end(task.pos, stop.value)
                return
            except Exception as exc:  # pylint: disable=broad-except
                self._end(task.pos, error=exc)
                return
            what, events, deadline = wait
            if deadline <= time.monotonic():  # as _wait: a wait that starts after the deadline is a timeout
                value, error = None, _Deadline()
                continue
            break
        task.what = what
        task.token += 1
        self.parked.add(task)
        if events:
            task.kind = _ON_SOCKET
            self.selector.register(what, _SELECTOR_EVENTS[events], task)
        elif what is not None:
            task.kind = _ON_LOOKUP
            waker, token = self.waker, task.token
            what.on_done(lambda: waker.wake((task, token)))
        else:
            task.kind = _ON_DEADLINE
        if task.timer != deadline:
            self.sequence += 1
            heapq.heappush(self.timers, (deadline, self.sequence, task))
            task.timer = deadline
