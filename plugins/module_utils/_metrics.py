# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""Prometheus metrics of the checks, in the text exposition format 0.0.4, for node_exporter's textfile collector.

How a module calls it (once, after its results are known; the module's option is ``metrics_dir``, type path, no
default: no metrics unless it is set)::

    from ansible_collections.revproxy.tls.plugins.module_utils import _metrics
    if params.get("metrics_dir"):
        try:
            out["metrics_file"] = _metrics.write(params["metrics_dir"], "audit", backends=[...],
                                                 frontends=[...], client_certificates=[...])
        except _metrics.MetricsError as exc:
            module.fail_json(msg=str(exc))   # names metrics_dir; nothing was written

- ``kind``: a lower-case word (``[a-z][a-z0-9_]*``, at most 40): the file is ``<metrics_dir>/revproxy_tls_<kind>.prom``
  and every sample gets the label ``source="<kind>"``, so files of different jobs never collide in the collector.
  backend_handshake writes ``backend_handshake``, frontend_certificate ``frontend_certificate``, the audit ``audit``.
- ``backends``: dicts as backend_handshake returns them in ``backends[]``; read keys (all optional but ``ok``):
  ``site``, ``url``, ``path``, ``checked_name``, ``health_check``, ``ok`` (bool), ``reason`` (str), and the backend
  certificate's expiry as ``certificate: {not_after: ...}`` or a top-level ``not_after``. Expiry values are ISO 8601
  UTC (``2026-12-07T20:45:02Z``, what the checker returns), a datetime, or epoch seconds.
- ``frontends``: dicts as frontend_certificate returns them in ``results[]``: ``site``, ``certificate_file``, ``ok``,
  ``not_after``, ``problems`` (the first problem's ``reason`` is the reason label; ``ok`` when none).
- ``client_certificates``: dicts ``{site, backend (the URL), subject, not_after}``, one per client certificate the
  proxy presents to a backend (backend_handshake builds them with ``client_certificates(checks)``'s shape).
- ``now``: epoch seconds of the check (default: time.time()), the value of every ``*_checked_timestamp_seconds``.

Returns the path written. Raises MetricsError (a message naming ``metrics_dir``) when the directory is not an absolute
path of an existing directory, is a system directory (/etc, /usr, /root, /var/log, ... after symbolic links are
resolved: some programs read every file of /etc/logrotate.d or /etc/pam.d), or the file cannot be written; nothing is
left behind then. ``file_path(directory, kind)`` makes the same checks without writing (call it before the checks run). The file is written
atomically: a hidden temporary file (the collector reads ``*.prom`` only) in the same directory, mode 0644, fsync'ed,
renamed over the old file (a symlink at the file's path is replaced, never followed). It is the checks' output, so a
module writes it in check mode too, as the check playbook writes its report.

Families (gauges; label values escaped as the format says: backslash, double quote, newline):
  revproxy_tls_backend_handshake_ok{source,site,backend,path,name,check,reason}       1 ok, 0 failed
  revproxy_tls_backend_certificate_not_after_timestamp_seconds{source,site,backend,path,name,check}
  revproxy_tls_backend_checked_timestamp_seconds{source,site,backend,path,name,check}
  revproxy_tls_frontend_certificate_ok{source,site,file,reason}
  revproxy_tls_frontend_certificate_not_after_timestamp_seconds{source,site,file}
  revproxy_tls_frontend_checked_timestamp_seconds{source,site,file}
  revproxy_tls_client_certificate_not_after_timestamp_seconds{source,site,backend,subject}
  revproxy_tls_last_run_timestamp_seconds{source}
The same label set twice in a family (the same backend checked twice with equal labels) is written once, the failed
sample kept, so node_exporter never rejects the file for a duplicate.

Neutral on purpose (no server is named); the atomic write is its own few lines because the top of module_utils may
import only model/ (tests/unit/test_structure.py), not deploy/_files.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import calendar
import datetime
import math
import os
import re
import stat
import tempfile
import time

PREFIX = "revproxy_tls_"
DEFAULT_DIR = "/var/lib/prometheus/node-exporter"  # node_exporter's textfile collector directory on Debian
FILE_MODE = 0o644
_KIND = re.compile(r"^[a-z][a-z0-9_]{0,39}\Z")
_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*\Z")
# Directories whose every file some program reads as its configuration (/etc/logrotate.d, /etc/pam.d...) or that
# hold the system: a .prom file is never written there, whatever a survey answer says (symbolic links resolved).
_SYSTEM_DIRS = re.compile(r"^/(etc|root|proc|sys|dev|boot|usr|bin|sbin|lib[0-9x]*|var/(spool|log|mail|backups)|"
                          r"var/lib/(dpkg|apt|rpm|systemd))(/|\Z)")

_BACKEND = ("source", "site", "backend", "path", "name", "check")
_FRONTEND = ("source", "site", "file")
# name -> (HELP, label names). One table for every writer: node_exporter refuses a family whose HELP differs
# between two files.
FAMILIES = {
    "backend_handshake_ok": (
        "Whether the proxy's request to the backend succeeds (1) or fails (0); reason is the checker's reason code.",
        _BACKEND + ("reason",)),
    "backend_certificate_not_after_timestamp_seconds": (
        "Expiry (notAfter) of the certificate the backend presents, in seconds since the epoch.", _BACKEND),
    "backend_checked_timestamp_seconds": ("When the backend was checked, in seconds since the epoch.", _BACKEND),
    "frontend_certificate_ok": (
        "Whether the site's frontend certificate passed every check (1) or not (0); reason is the first problem.",
        _FRONTEND + ("reason",)),
    "frontend_certificate_not_after_timestamp_seconds": (
        "Expiry (notAfter) of the site's frontend certificate, in seconds since the epoch.", _FRONTEND),
    "frontend_checked_timestamp_seconds": (
        "When the site's frontend certificate was checked, in seconds since the epoch.", _FRONTEND),
    "client_certificate_not_after_timestamp_seconds": (
        "Expiry (notAfter) of the client certificate the proxy presents to the backend, in seconds since the epoch.",
        ("source", "site", "backend", "subject")),
    "last_run_timestamp_seconds": ("When this source last wrote its metrics, in seconds since the epoch.",
                                   ("source",)),
}


class MetricsError(Exception):
    """The metrics cannot be written; the message names metrics_dir."""


def escape_label_value(value):
    """A label value as the text format writes it between double quotes."""
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def escape_help(text):
    """A HELP text: backslash and line feed escaped."""
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def format_value(value):
    """A sample value: integers as integers, NaN and infinities as the format spells them."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value.is_integer() and abs(value) < 2 ** 53:
        return str(int(value))
    return repr(value)


def epoch_seconds(value):
    """Epoch seconds of an expiry: ISO 8601 UTC text (2026-12-07T20:45:02Z, with or without Z / +00:00), an aware or
    naive-UTC datetime, or a number. None for None or text that is no such time."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
        return calendar.timegm(value.timetuple())
    if not isinstance(value, str):
        return None
    text = value.strip()
    for suffix in ("Z", "+00:00"):
        if text.endswith(suffix):
            text = text[:-len(suffix)]
    try:
        parsed = datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return None
    return calendar.timegm(parsed.timetuple())


def _text(value):
    return "" if value is None else str(value)


class Families:
    """Samples per family, in insertion order; the first sample of a label set is kept."""

    def __init__(self):
        self.samples = {}

    def add(self, family, labels, value):
        if family not in FAMILIES:
            raise ValueError("unknown metric family %r" % family)
        names = FAMILIES[family][1]
        if set(labels) != set(names):
            raise ValueError("%s takes the labels %s, not %s" % (family, sorted(names), sorted(labels)))
        key = tuple(_text(labels[n]) for n in names)
        rows = self.samples.setdefault(family, {})
        rows.setdefault(key, value)

    def render(self):
        """The exposition text: HELP, TYPE, then the samples of each family that has any."""
        out = []
        for family, (help_text, names) in FAMILIES.items():
            rows = self.samples.get(family)
            if not rows:
                continue
            name = PREFIX + family
            out.append("# HELP %s %s" % (name, escape_help(help_text)))
            out.append("# TYPE %s gauge" % name)
            for key, value in rows.items():
                pairs = ",".join('%s="%s"' % (n, escape_label_value(v)) for n, v in zip(names, key))
                out.append("%s{%s} %s" % (name, pairs, format_value(value)))
        return "\n".join(out) + "\n" if out else ""


def _backend_labels(kind, result):
    return {"source": kind, "site": result.get("site"), "backend": result.get("url"), "path": result.get("path"),
            "name": result.get("checked_name"), "check": "health_check" if result.get("health_check") else "request"}


def add_backends(families, kind, backends, now):
    # One result per label set: a failed check of the same backend, path and name wins over an ok one.
    chosen = {}
    for result in backends or ():
        labels = _backend_labels(kind, result)
        key = tuple(_text(labels[n]) for n in _BACKEND)
        if key not in chosen or (chosen[key][1].get("ok") and not result.get("ok")):
            chosen[key] = (labels, result)
    for labels, result in chosen.values():
        ok = bool(result.get("ok"))
        reason = _text(result.get("reason")) or ("ok" if ok else "failed")
        families.add("backend_handshake_ok", dict(labels, reason=reason), 1 if ok else 0)
        cert = result.get("certificate")
        not_after = epoch_seconds(cert.get("not_after")) if isinstance(cert, dict) else None
        if not_after is None:
            not_after = epoch_seconds(result.get("not_after"))
        if not_after is not None:
            families.add("backend_certificate_not_after_timestamp_seconds", labels, not_after)
        families.add("backend_checked_timestamp_seconds", labels, now)


def add_frontends(families, kind, frontends, now):
    for result in frontends or ():
        labels = {"source": kind, "site": result.get("site"), "file": result.get("certificate_file")}
        problems = result.get("problems") or []
        ok = bool(result.get("ok")) and not problems
        reason = "ok" if ok else _text((problems[0] or {}).get("reason") if problems else "failed")
        families.add("frontend_certificate_ok", dict(labels, reason=reason), 1 if ok else 0)
        not_after = epoch_seconds(result.get("not_after"))
        if not_after is not None:
            families.add("frontend_certificate_not_after_timestamp_seconds", labels, not_after)
        families.add("frontend_checked_timestamp_seconds", labels, now)


def add_client_certificates(families, kind, client_certificates):
    for entry in client_certificates or ():
        not_after = epoch_seconds(entry.get("not_after"))
        if not_after is None:
            continue
        families.add("client_certificate_not_after_timestamp_seconds",
                     {"source": kind, "site": entry.get("site"), "backend": entry.get("backend"),
                      "subject": entry.get("subject")}, not_after)


def render(kind, backends=None, frontends=None, client_certificates=None, now=None):
    """The exposition text of one run (see the module docstring for the inputs)."""
    check_kind(kind)
    now = time.time() if now is None else now
    families = Families()
    add_backends(families, kind, backends, now)
    add_frontends(families, kind, frontends, now)
    add_client_certificates(families, kind, client_certificates)
    families.add("last_run_timestamp_seconds", {"source": kind}, now)
    return families.render()


def check_kind(kind):
    if not isinstance(kind, str) or not _KIND.match(kind):
        raise ValueError("metrics kind %r: a lower-case word of at most 40 characters" % (kind,))
    return kind


def file_path(directory, kind):
    """Where the metrics of `kind` go in `directory` (checked: absolute, an existing directory)."""
    check_kind(kind)
    if not isinstance(directory, str) or not directory or "\x00" in directory:
        raise MetricsError("metrics_dir: %r is not a directory path" % (directory,))
    if not os.path.isabs(directory):
        raise MetricsError("metrics_dir: %s is not an absolute path" % directory)
    try:
        mode = os.stat(directory).st_mode
    except OSError as exc:
        raise MetricsError("metrics_dir: %s cannot be used: %s (node_exporter's textfile directory, e.g. %s, must "
                           "exist)" % (directory, exc.strerror or exc, DEFAULT_DIR))
    if not stat.S_ISDIR(mode):
        raise MetricsError("metrics_dir: %s is not a directory" % directory)
    real = os.path.realpath(directory)
    if real == "/" or _SYSTEM_DIRS.match(real):
        raise MetricsError("metrics_dir: %s%s is a system directory (or inside one); name the textfile collector's "
                           "directory, e.g. %s" % (directory, "" if real == directory else " (%s)" % real,
                                                   DEFAULT_DIR))
    return os.path.join(directory, "%s%s.prom" % (PREFIX, kind))


def write_text(path, text):
    """Atomically replace path with text (hidden temporary file in the same directory, mode 0644, fsync, rename)."""
    directory = os.path.dirname(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=".%s" % os.path.basename(path), suffix=".tmp", dir=directory)
    except OSError as exc:
        raise MetricsError("metrics_dir: cannot write in %s: %s" % (directory, exc.strerror or exc))
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8", "backslashreplace"))
            handle.flush()
            os.fsync(handle.fileno())
        if os.path.isdir(path) and not os.path.islink(path):
            raise MetricsError("metrics_dir: %s is a directory, not a metrics file" % path)
        os.rename(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise MetricsError("metrics_dir: cannot write %s: %s" % (path, exc.strerror or exc))
        raise
    return path


def write(directory, kind, backends=None, frontends=None, client_certificates=None, now=None):
    """Render and write the metrics of `kind` into directory; returns the file's path."""
    path = file_path(directory, kind)
    return write_text(path, render(kind, backends, frontends, client_certificates, now))
