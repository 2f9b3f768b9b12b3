# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""The hand-written configuration as Apache reads it, for the audit (apache_proxy_audit): files, vhosts, routes.

read_tree(main_config, ...) follows the include tree from the main config in Apache's order (Include and
IncludeOptional, globs sorted as apr_match_glob sorts them, relative paths from ServerRoot), tokenizes each line as
ap_getword_conf does (apache/_emit.tokenize) and keeps, with its file and line, every directive the audit needs:
<VirtualHost> (addresses, ServerName, ServerAlias), ProxyPass, ProxyPassMatch, RewriteRule [P], <Location> and
<LocationMatch> with ProxyPass(Match), <Proxy>/<ProxyMatch> sections (balancer members, SSLProxy* inside them),
ProxyPreserveHost and every SSLProxy* directive, in the server config, the vhost and the sections.

What it cannot decide is reported per file as a problem, never guessed: ${VAR} substitution, mod_macro (Use,
<Macro>), <If>/<ElseIf>/<Else> (decided per request), <IfDefine> of a name whose state it does not know, a
RewriteRule whose target host depends on the request. <IfModule> is decided from the LoadModule lines read so far
plus the modules compiled into httpd (`modules`), as Apache decides it while reading.

Hostile files are bounded: each file at most `max_file_bytes` (read through _files.read_regular_file, so a FIFO or a
device is refused without being opened), at most `max_files` files, includes at most `max_depth` deep, an include
loop, a file with a NUL byte (binary) and a path whose real path leaves `roots` (a symlink out of the tree) are each
reported and not read.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fnmatch
import os
import re

from ansible_collections.revproxy.tls.plugins.module_utils._files import FileReadError, read_regular_file
from ansible_collections.revproxy.tls.plugins.module_utils.apache._emit import tokenize
from ansible_collections.revproxy.tls.plugins.module_utils.apache._render import MANAGED_MARKER
from ansible_collections.revproxy.tls.plugins.module_utils.model._grammar import ConfigError

LIMITS = {"max_file_bytes": 1 << 20, "max_files": 2000, "max_depth": 16, "max_lines": 500000}

# SSLProxy* directives and the other per-scope settings the audit follows (lower case, as Apache compares them).
SSL_PROXY = ("sslproxyengine", "sslproxyverify", "sslproxyverifydepth", "sslproxycacertificatefile",
             "sslproxycacertificatepath", "sslproxycarevocationfile", "sslproxycarevocationpath",
             "sslproxycarevocationcheck", "sslproxycheckpeername", "sslproxycheckpeerexpire", "sslproxycheckpeercn",
             "sslproxymachinecertificatefile", "sslproxymachinecertificatepath",
             "sslproxymachinecertificatechainfile", "sslproxyprotocol", "sslproxyciphersuite")
# The frontend's certificate (carried into a proposed site's tls).
FRONTEND = ("sslengine", "sslcertificatefile", "sslcertificatekeyfile", "sslcertificatechainfile")
SETTINGS = SSL_PROXY + ("proxypreservehost",) + FRONTEND
# Directives whose meaning the audit needs: with ${...} in them they are reported and skipped.
_RELEVANT = set(SETTINGS) | {"include", "includeoptional", "servername", "serveralias", "proxypass", "proxypassmatch",
                             "rewriterule", "balancermember", "loadmodule", "define", "serverroot"}
# Compiled into Debian's and RHEL's httpd (httpd -l); the module passes the real list.
DEFAULT_BUILTIN = ("core.c", "mod_so.c", "http_core.c", "mod_unixd.c", "mod_log_config.c", "mod_logio.c",
                   "mod_version.c", "mod_watchdog.c")
_SECTION_KINDS = {"virtualhost": "vhost", "proxy": "proxy", "proxymatch": "proxy", "location": "location",
                  "locationmatch": "location", "ifmodule": "ifmodule", "ifdefine": "ifdefine", "if": "if",
                  "elseif": "if", "else": "if", "macro": "macro", "ifversion": "ifversion"}
_P_FLAG = re.compile(r"^(?:P|proxy)$", re.IGNORECASE)
_DYNAMIC = re.compile(r"[$%]")


def problem(path, line, kind, message):
    return {"file": path, "line": line, "kind": kind, "message": message}


class _Scope:
    """Settings and routes of the server config or of one vhost."""

    def __init__(self, kind, path=None, line=None, args=None):
        self.data = {"kind": kind, "file": path, "line": line, "addresses": list(args or []), "names": [],
                     "settings": {}, "routes": [], "proxies": [], "balancers": {}, "managed": False}


def _setting(args, path, line):
    return {"args": list(args), "file": path, "line": line}


class _Reader:
    """One walk of the include tree (read_tree's state)."""

    def __init__(self, server_root, roots, defines, modules, limits, confirmed=None):
        self.server_root = server_root
        self.roots = [os.path.realpath(r) for r in roots]
        self.confirmed = set(os.path.realpath(p) for p in confirmed or ())
        self.defines = None if defines is None else dict(defines)
        self.config_defines = {}
        self.modules = set(modules if modules is not None else DEFAULT_BUILTIN)
        self.limits = dict(LIMITS, **(limits or {}))
        self.files = []
        self.problems = []
        self.server = _Scope("server")
        self.vhosts = []
        self.lines = 0
        self.stack = []  # open sections: dicts kind, name, args, file, line, active, scope data

    # -- files -------------------------------------------------------------------------------------------------
    def _under_roots(self, real):
        if real in self.confirmed:  # httpd itself read it (DUMP_INCLUDES): an Include outside the tree, on purpose
            return True
        return any(real == r or real.startswith(r.rstrip("/") + "/") for r in self.roots)

    def read_file(self, path, chain, where):
        real = os.path.realpath(path)
        if real in chain:
            self.problems.append(problem(where[0], where[1], "include_loop", "%s includes itself again (through %s): "
                                         "not followed" % (path, " -> ".join(chain + [real]))))
            return
        if len(chain) >= self.limits["max_depth"]:
            self.problems.append(problem(where[0], where[1], "include_depth", "%s: includes nested more than %d "
                                         "deep: not followed" % (path, self.limits["max_depth"])))
            return
        if len(self.files) >= self.limits["max_files"]:
            self.problems.append(problem(where[0], where[1], "too_many_files", "%s: more than %d files in the "
                                         "include tree: not read" % (path, self.limits["max_files"])))
            return
        if not self._under_roots(real):
            self.problems.append(problem(path, None, "outside_tree", "%s resolves to %s, outside %s: not read"
                                         % (path, real, ", ".join(self.roots))))
            return
        try:
            data = read_regular_file(path, self.limits["max_file_bytes"], "config file")
        except FileReadError as exc:
            self.problems.append(problem(path, None, "unreadable_" + (exc.reason or "file"), str(exc)))
            return
        if b"\0" in data:
            self.problems.append(problem(path, None, "binary", "%s holds a NUL byte: a binary file, not read" % path))
            return
        text = data.decode("utf-8", "replace")
        managed = text.startswith(MANAGED_MARKER)  # as the role and adopt decide: the marker on line 1
        self.files.append({"path": path, "real": real, "managed": managed, "depth": len(chain)})
        self.parse(text, path, chain + [real], managed)

    def include(self, args, path, line, chain, optional):
        if not args:
            self.problems.append(problem(path, line, "syntax", "Include without a path"))
            return
        pattern = args[0]
        if not os.path.isabs(pattern):
            pattern = os.path.join(self.server_root, pattern)
        if not any(c in pattern for c in "*?["):
            targets = [pattern] if os.path.lexists(pattern) or not optional else []
        else:
            targets = self._glob(pattern, path, line)
        for target in targets:
            if os.path.isdir(target):
                for found in self._walk(target, path, line):
                    self.read_file(found, chain, (path, line))
            else:
                self.read_file(target, chain, (path, line))

    def _walk(self, directory, path, line):
        """The files of an included directory and its subdirectories, sorted, as Apache reads them (links to
        directories are not followed: each is reported)."""
        out = []
        for root, dirs, files in os.walk(directory, followlinks=False):
            dirs.sort()
            for name in list(dirs):
                if os.path.islink(os.path.join(root, name)):
                    self.problems.append(problem(path, line, "outside_tree", "%s: a link to a directory is not "
                                                 "followed by the audit" % os.path.join(root, name)))
            out.extend(os.path.join(root, name) for name in sorted(files))
            if len(out) > self.limits["max_files"]:
                break
        return sorted(out)

    def _glob(self, pattern, path, line):
        """Apache's glob: wildcards in the last component only, sorted; a leading dot matched only by a dot
        (ap_process_fnmatch_configs, APR_FNM_PERIOD)."""
        directory, last = os.path.split(pattern)
        if any(c in directory for c in "*?["):
            self.problems.append(problem(path, line, "not_understood", "Include %s: a wildcard in a directory "
                                         "part is not followed by the audit" % pattern))
            return []
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            return []
        return [os.path.join(directory, n) for n in names if fnmatch.fnmatchcase(n, last)
                and (not n.startswith(".") or last.startswith("."))]

    # -- lines -------------------------------------------------------------------------------------------------
    def logical_lines(self, text):
        """(line number of the first physical line, text) with continuations joined, as ap_cfg_getline does."""
        buf, start = [], None
        for number, raw in enumerate(text.split("\n"), 1):
            self.lines += 1
            if self.lines > self.limits["max_lines"]:
                raise _TooLong()
            stripped = raw.rstrip("\r")
            if start is None:
                start = number
            if stripped.endswith("\\"):
                buf.append(stripped[:-1])
                continue
            buf.append(stripped)
            yield start, "".join(buf).strip()
            buf, start = [], None
        if buf:
            yield start, "".join(buf).strip()

    @property
    def active(self):
        return all(frame["active"] for frame in self.stack)

    def scope(self):
        for frame in reversed(self.stack):
            if frame.get("scope") is not None:
                return frame["scope"]
        return self.server.data

    def parse(self, text, path, chain, managed):
        depth = len(self.stack)
        try:
            for number, line in self.logical_lines(text):
                if not line or line.startswith("#"):
                    continue
                self.line(line, path, number, chain, managed)
        except _TooLong:
            self.problems.append(problem(path, None, "too_many_lines", "the include tree has more than %d lines: "
                                         "the rest is not read" % self.limits["max_lines"]))
            raise
        if len(self.stack) > depth:
            frame = self.stack[-1]
            self.problems.append(problem(path, frame["line"], "syntax", "<%s> is not closed in this file"
                                         % frame["name"]))
            del self.stack[depth:]

    def line(self, line, path, number, chain, managed):
        if line.startswith("</"):
            self.close(line, path, number)
            return
        if line.startswith("<"):
            self.open(line, path, number, managed)
            return
        name = line.split(None, 1)[0].lower()
        if not self.active:
            return
        try:
            args = tokenize(line)[1:]
        except ConfigError:
            if name in _RELEVANT or name == "use":
                self.problems.append(problem(path, number, "variable", "%s: uses ${...} substitution (Define or an "
                                             "environment variable): not evaluated, this directive is left out"
                                             % line[:200]))
            return
        self.directive(name, args, path, number, chain)

    def open(self, line, path, number, managed):
        body = line[1:line.rindex(">")] if ">" in line else line[1:]
        name = body.split(None, 1)[0] if body.split() else ""
        kind = _SECTION_KINDS.get(name.lower(), "other")
        try:
            args = tokenize(body)[1:]
        except ConfigError:
            args = None
        frame = {"name": name, "kind": kind, "args": args or [], "file": path, "line": number, "active": True,
                 "scope": None}
        if args is None:
            frame["active"] = False
            if self.active:
                self.problems.append(problem(path, number, "variable", "<%s>: uses ${...} substitution: the section "
                                             "is left out" % body[:200]))
        elif self.active:
            self._decide(frame, path, number, managed)
        self.stack.append(frame)

    def _decide(self, frame, path, number, managed):
        kind, args = frame["kind"], frame["args"]
        if kind == "ifmodule":
            wanted = args[0] if args else ""
            negate = wanted.startswith("!")
            wanted = wanted.lstrip("!")
            frame["active"] = (wanted in self.modules) != negate
        elif kind == "ifdefine":
            wanted = args[0] if args else ""
            negate = wanted.startswith("!")
            wanted = wanted.lstrip("!")
            if wanted in self.config_defines or (self.defines is not None and wanted in self.defines):
                frame["active"] = not negate
            elif self.defines is not None:
                frame["active"] = negate
            else:
                frame["active"] = False
                self.problems.append(problem(path, number, "ifdefine", "<IfDefine %s>: whether %s is defined on "
                                             "httpd's command line is not known: the section is left out"
                                             % (args[0] if args else "", wanted)))
        elif kind == "if":
            frame["active"] = False
            self.problems.append(problem(path, number, "if_section", "<%s %s>: decided per request: the section "
                                         "is left out" % (frame["name"], " ".join(args))))
        elif kind == "macro":
            frame["active"] = False
            self.problems.append(problem(path, number, "macro", "<Macro %s>: mod_macro is not expanded by the "
                                         "audit: its uses (Use) are reported" % " ".join(args)))
        elif kind == "ifversion":
            frame["active"] = False
            self.problems.append(problem(path, number, "not_understood", "<IfVersion %s>: not decided by the "
                                         "audit: the section is left out" % " ".join(args)))
        elif kind == "vhost":
            if any(f["kind"] == "vhost" for f in self.stack):
                self.problems.append(problem(path, number, "syntax", "<VirtualHost> inside <VirtualHost>"))
                frame["active"] = False
                return
            scope = _Scope("vhost", path, number, args).data
            scope["managed"] = managed
            self.vhosts.append(scope)
            frame["scope"] = scope
        elif kind == "proxy":
            section = {"match": args[0] if args else "", "regex": frame["name"].lower() == "proxymatch"
                       or (args[:1] == ["~"]), "settings": {}, "members": [], "file": path, "line": number}
            if args[:1] == ["~"]:
                section["match"] = args[1] if len(args) > 1 else ""
            self.scope()["proxies"].append(section)
            frame["section"] = section
        elif kind == "location":
            frame["location"] = {"path": args[-1] if args else "/", "regex": frame["name"].lower() ==
                                 "locationmatch" or args[:1] == ["~"], "settings": {}}

    def close(self, line, path, number):
        name = line[2:].rstrip(">").strip()
        if not self.stack or self.stack[-1]["name"].lower() != name.lower():
            self.problems.append(problem(path, number, "syntax", "%s closes no open section" % line[:100]))
            return
        self.stack.pop()

    def frame_of(self, kind):
        for frame in reversed(self.stack):
            if frame["kind"] == kind:
                return frame
        return None

    # -- directives --------------------------------------------------------------------------------------------
    def directive(self, name, args, path, number, chain):
        if name in ("include", "includeoptional"):
            self.include(args, path, number, chain, name == "includeoptional")
        elif name == "serverroot" and args and not self.stack:
            self.server_root = args[0]
        elif name == "loadmodule" and len(args) >= 2:
            self.modules.add(args[0])
            base = os.path.basename(args[1])
            if base.endswith(".so"):
                self.modules.add(base[:-3] + ".c")
        elif name == "define" and args:
            self.config_defines[args[0]] = args[1] if len(args) > 1 else ""
        elif name == "undefine" and args:
            self.config_defines.pop(args[0], None)
        elif name == "use":
            self.problems.append(problem(path, number, "macro", "Use %s: mod_macro is not expanded by the audit: "
                                         "what it produces is not audited" % " ".join(args)))
        elif name in SETTINGS:
            self.setting(name, args, path, number)
        elif name in ("servername", "serveralias"):
            scope = self.scope()
            if scope["kind"] == "vhost" and args:
                if name == "servername":
                    scope["server_name"] = _setting(args, path, number)
                else:
                    scope["names"].extend(args)
        elif name in ("proxypass", "proxypassmatch", "rewriterule"):
            self.route(name, args, path, number)
        elif name == "balancermember":
            self.member(args, path, number)

    def setting(self, name, args, path, number):
        value = _setting(args, path, number)
        proxy, location = self.frame_of("proxy"), self.frame_of("location")
        if proxy is not None:
            proxy["section"]["settings"][name] = value
        elif location is not None and name == "proxypreservehost":
            location["location"]["settings"][name] = value
        else:
            self.scope()["settings"][name] = value

    def route(self, name, args, path, number):
        location = self.frame_of("location")
        where = {"file": path, "line": number}
        if name == "rewriterule":
            if len(args) < 3 or not any(_P_FLAG.match(f.strip()) for f in args[2].strip("[]").split(",")):
                return
            route = dict(where, kind="RewriteRule", path=args[0], target=args[1], regex=True)
        elif location is not None and (len(args) < 2 or not args[0].startswith("/")):
            if not args:
                return
            route = dict(where, kind="%s in <%s>" % ("ProxyPass" if name == "proxypass" else "ProxyPassMatch",
                                                     self.frame_of("location")["name"]),
                         path=location["location"]["path"], target=args[0],
                         regex=name == "proxypassmatch" or location["location"]["regex"])
            route["location_settings"] = location["location"]["settings"]
        else:
            if len(args) < 2:
                return
            route = dict(where, kind="ProxyPass" if name == "proxypass" else "ProxyPassMatch", path=args[0],
                         target=args[1], regex=name == "proxypassmatch")
        if route["target"] == "!":
            return
        self.scope()["routes"].append(route)

    def member(self, args, path, number):
        proxy = self.frame_of("proxy")
        if proxy is not None and args:
            proxy["section"]["members"].append({"url": args[0], "file": path, "line": number})
        elif len(args) >= 2:
            name = args[0]
            for section in self.scope()["proxies"]:
                if section["match"].rstrip("/").lower() == name.rstrip("/").lower():
                    section["members"].append({"url": args[1], "file": path, "line": number})
                    return
            self.scope()["proxies"].append({"match": name, "regex": False, "settings": {}, "file": path,
                                            "line": number, "members": [{"url": args[1], "file": path,
                                                                         "line": number}]})


class _TooLong(Exception):
    pass


def read_tree(main_config, server_root=None, roots=None, defines=None, modules=None, limits=None, confirmed=None):
    """The configuration Apache reads from main_config: {files, problems, server, vhosts}.

    server_root: what relative Include paths are taken from (default: main_config's directory); roots: the
    directories whose files may be read (default: the server root and main_config's directory; a path resolving
    elsewhere is reported as outside_tree); defines: the names defined on httpd's command line (None: unknown, so an
    <IfDefine> of a name the configuration does not Define is reported); modules: the modules compiled into httpd
    (httpd -l), LoadModule adds the others; confirmed: the files httpd says it reads (-D DUMP_INCLUDES), read even
    outside `roots`. Every problem is {file, line, kind, message}."""
    server_root = server_root or os.path.dirname(os.path.abspath(main_config))
    roots = roots or [server_root, os.path.dirname(os.path.abspath(main_config))]
    reader = _Reader(server_root, roots, defines, modules, limits, confirmed)
    try:
        reader.read_file(main_config, [], (main_config, None))
    except _TooLong:
        pass
    return {"files": reader.files, "problems": reader.problems, "server": reader.server.data,
            "vhosts": reader.vhosts, "modules": sorted(reader.modules)}


def dynamic_target(url):
    """True when a route's target depends on the request ($1, %{HTTP_HOST}) in its scheme or authority."""
    head = url.split("://", 1)
    if len(head) < 2:
        return True
    return bool(_DYNAMIC.search(head[0] + head[1].split("/", 1)[0]))
