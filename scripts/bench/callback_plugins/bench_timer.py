# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark helper (scripts/bench.py only, not part of the collection's plugins): records each task's wall time and
a few result fields into the JSON file named by BENCH_TIMER_OUT. Lighter than a JSON stdout callback, which would keep
every loop item's result in the controller's memory and skew the memory figures."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: bench_timer
type: aggregate
short_description: task wall times for scripts/bench.py
description: Writes task wall times and selected result fields to the file named by BENCH_TIMER_OUT.
requirements: [enable in callbacks_enabled]
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_timer"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self.out = os.environ.get("BENCH_TIMER_OUT")
        self.tasks = []
        self.current = None
        self.play_start = None

    def v2_playbook_on_play_start(self, play):
        if self.play_start is None:
            self.play_start = time.time()

    def _start(self, task, handler=False):
        self.current = {"name": task.get_name(), "action": task.action, "handler": handler, "start": time.time(),
                        "end": None, "changed": False, "failed": False, "items": 0}
        self.tasks.append(self.current)

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._start(task)

    def v2_playbook_on_handler_task_start(self, task):
        self._start(task, handler=True)

    def _result(self, result, failed=False, skipped=False):
        if self.current is None:
            return
        res = result._result
        cur = self.current
        cur["end"] = time.time()
        cur["changed"] = cur["changed"] or bool(res.get("changed"))
        cur["failed"] = cur["failed"] or failed
        cur["skipped"] = skipped
        cur["items"] = len(res.get("results") or [])
        if res.get("results"):
            cur["items_changed"] = sum(1 for r in res["results"] if isinstance(r, dict) and r.get("changed"))
        for key in ("msg", "summary", "failed_backends"):
            if key in res:
                cur[key] = res[key]
        if isinstance(res.get("backends"), list):
            cur["backends"] = [{"reason": b.get("reason"), "elapsed_ms": b.get("elapsed_ms"), "url": b.get("url")}
                               for b in res["backends"] if isinstance(b, dict) and not b.get("ok")]
            cur["max_elapsed_ms"] = max([b.get("elapsed_ms") or 0 for b in res["backends"] if isinstance(b, dict)] or [0])
        if isinstance(res.get("sites"), list):
            cur["sites_changed"] = sum(1 for s in res["sites"] if isinstance(s, dict) and s.get("changed"))

    def v2_runner_on_ok(self, result):
        self._result(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._result(result, failed=not ignore_errors)

    def v2_runner_on_skipped(self, result):
        self._result(result, skipped=True)

    def v2_playbook_on_stats(self, stats):
        if not self.out:
            return
        with open(self.out, "w") as handle:
            json.dump({"play_start": self.play_start, "play_end": time.time(), "tasks": self.tasks}, handle)
