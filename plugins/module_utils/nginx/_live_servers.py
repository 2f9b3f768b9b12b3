# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""The hand-written server blocks of the running nginx configuration, as nginx itself reads it (`nginx -T`): which
names each serves on which address:port, so that no managed site takes them (NginxProfile.check_ownership).

On Debian nginx.conf includes conf.d/*.conf (the managed sites) before sites-enabled/*, and nginx answers a name
declared twice on one address:port with the server read first ('conflicting server name ... ignored' is only a
warning): a managed site declaring a hand-written site's name would take it. The managed files (the role's header)
are left out. http server blocks only: those in `stream {}`/`mail {}` and upstream members are not servers of names.
split_dump() and server_blocks() are pure; live_servers() runs nginx.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.revproxy.tls.plugins.module_utils.model._grammar import ConfigError
from ansible_collections.revproxy.tls.plugins.module_utils.nginx._emit import parse
from ansible_collections.revproxy.tls.plugins.module_utils.nginx._render import MANAGED_MARKER

_FILE_RE = re.compile(r"(?m)^# configuration file (.+):$\n")
_NOT_HTTP = ("stream", "mail", "upstream", "location", "if")


def split_dump(dump):
    """[(path, text)] of the files `nginx -T` printed, in the order nginx read them."""
    parts = _FILE_RE.split(dump)
    return list(zip(parts[1::2], parts[2::2]))


def listen_address(arg):
    """(address or None for every address, port) of a listen directive's first argument; None for a unix socket.
    The IPv6 wildcard [::] counts as every address (a managed site never listens on it)."""
    if arg.startswith("unix:"):
        return None
    if arg.startswith("["):
        host, _sep, rest = arg[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else "80"
    elif arg.isdigit():
        host, port = "*", arg
    elif ":" in arg:
        host, port = arg.rsplit(":", 1)
    else:
        host, port = arg, "80"
    if not port.isdigit():
        return None
    return (None if host in ("*", "0.0.0.0", "::") else host.lower()), int(port)


def _server(path, body):
    """One hand-written server block (its directives at depth 1) as the vhost dicts of each listen."""
    listens, names, default = [], [], False
    for words in body:
        if words[0] == "listen" and len(words) > 1:
            where = listen_address(words[1])
            if where is not None:
                listens.append(where + ("ssl" in words[2:],))
            default = default or "default_server" in words[2:] or "default" in words[2:]
        elif words[0] == "server_name":
            names.extend(n.lower().rstrip(".") for n in words[1:] if n and not n.startswith("~"))
    return [{"site": "the hand-written server block in %s" % path, "address": address, "port": port, "names": names,
             "file": path, "default": default, "tls": tls, "live": True}
            for address, port, tls in (listens or [(None, 80, False)])]


def server_blocks(dump, managed_dir):
    """The http server blocks of an `nginx -T` dump, the managed files of managed_dir left out."""
    out = []
    for index, (path, text) in enumerate(split_dump(dump)):
        if path.startswith(managed_dir.rstrip("/") + "/") and text.startswith(MANAGED_MARKER):
            continue
        try:
            events = parse(text)
        except ConfigError:
            continue  # not a configuration file nginx reads on its own (nginx read it: it is not a server's)
        stack, server, body = [], None, []
        for depth, words, end in events + [(0, ["end of file"], ";")]:
            del stack[depth:]
            if server is not None and depth <= server:
                out.extend(_server(path, body))
                server, body = None, []
            if server is not None and depth == server + 1:
                body.append(words)
            if words[0] == "server" and end == "{" and server is None and not set(stack) & set(_NOT_HTTP) and \
                    (stack[-1:] == ["http"] or not stack and index > 0):
                server = depth
            if end == "{":
                stack.append(words[0])
    return out


def live_servers(layout, run_command):
    """The hand-written server blocks nginx reads now; [] when nginx cannot dump its configuration (no main config
    yet, or one that fails: the candidate's config test then says why)."""
    prefix = ["-p", layout.prefix] if layout.prefix else []
    command = [layout.binary] + prefix + ["-T", "-q", "-c", layout.main_config]
    rc, out, _err = run_command(command)
    if rc != 0:
        return []
    return server_blocks(out, layout.sites_dir)
