# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""The virtual hosts of the running configuration, as Apache itself reads them (`httpd -t -D DUMP_VHOSTS`).

apache/_vhosts.check_ownership() needs the hand-written vhosts: which names each serves on which address:port, and
which is the default server there. Reading Apache's own dump rather than the files gives what Apache makes of them
(Include, IfModule, Define, mod_macro, the order files are read in). What the dump prints (server/vhost.c
dump_vhost_config, the same text as `apachectl -S`; measured on Apache 2.4.71):

    VirtualHost configuration:
    [::1]:8443             v6.test (/etc/apache2/sites-enabled/v6.conf:1)
    127.0.0.1:443          is a NameVirtualHost
             default server a.test (/etc/apache2/sites-enabled/a.conf:1)
             port 443 namevhost a.test (/etc/apache2/sites-enabled/a.conf:1)
                     alias www.a.test
                     wild alias *.a.test
             port 443 namevhost b.test (/etc/apache2/sites-enabled/b.conf:1)
    *:*                    noport.test (/etc/apache2/sites-enabled/x.conf:3)

- `*:port` stands for `*`, `_default_`, `0.0.0.0` and `[::]` alike (one chain in Apache's table); `*:*` for a vhost
  without a port; a host name is printed as the address it resolved to.
- An address:port with a single vhost is printed on one line, WITHOUT its aliases. read_live_vhosts() therefore runs
  the dump a second time with a placeholder vhost (DUMMY_NAME, from `-c` directives, read after everything else so it
  is never the default) on each such address:port: each is then printed as a NameVirtualHost, aliases included.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

DUMP_ARGS = ["-D", "DUMP_VHOSTS"]
DUMMY_NAME = "revproxy-tls-dump.invalid"  # .invalid: never a real name (RFC 2606)
HEADER = "VirtualHost configuration:"

_ADDRESS = re.compile(r"^(?P<addr>\*|\[[^\]\s]+\]|[^\s\[\]]+?):(?P<port>\d+|\*)\s+(?P<rest>\S.*)$")
_DEFAULT = re.compile(r"^\s+default server (?P<rest>.*)$")
_NAMEVHOST = re.compile(r"^\s+port (?P<port>\d+|\*) namevhost (?P<rest>.*)$")
_ALIAS = re.compile(r"^\s+(?:wild )?alias (?P<name>\S.*)$")
_WHERE = re.compile(r"^(?P<name>.*?) \((?P<file>.*):(?P<line>\d+)\)$")
# `apachectl -S` goes on with the run-time settings (ServerRoot: "...", Mutex default: ..., Define: ..., User: ...).
_RUN_CFG = re.compile(r"^[A-Z][\w -]*: ")
_EXCERPT = 600


class LiveVhostsError(ValueError):
    """Apache's vhost dump could not be had or read; the message says why, with the output."""


def _excerpt(text):
    text = (text or "").strip()
    return text if len(text) <= _EXCERPT else text[:_EXCERPT] + " ..."


def _address(addr):
    """None for '*' (any address); an IPv6 address without its brackets."""
    if addr == "*":
        return None
    if addr.startswith("[") and addr.endswith("]"):
        return addr[1:-1]
    return addr


def _port(port):
    return None if port == "*" else int(port)


def _where(rest, number, line):
    match = _WHERE.match(rest)
    if not match:
        raise LiveVhostsError("cannot read Apache's vhost dump: line %d: expected 'NAME (FILE:LINE)', got %r"
                              % (number, line))
    return match.group("name"), match.group("file"), int(match.group("line"))


def parse_dump_vhosts(text):
    """The vhosts of `httpd -t -D DUMP_VHOSTS` (or `apachectl -S`) output, in the order Apache lists them: dicts
    {address (None for * / _default_ / 0.0.0.0 / ::), port (None for *), names (ServerName, then its aliases, then
    its wildcard aliases, as Apache prints them), file, line, default (the default server of that address:port)}.
    A vhost declared for several addresses is listed once per address. LiveVhostsError when the text is not such
    output (no 'VirtualHost configuration:' line, or a line that is none of the forms above)."""
    lines = (text or "").splitlines()
    try:
        start = [line.strip() for line in lines].index(HEADER)
    except ValueError:
        raise LiveVhostsError("cannot read Apache's vhost dump: no %r line in the output: %s"
                              % (HEADER, _excerpt(text) or "(empty)"))
    out = []
    chain = None  # (address, port, default (file, line)) of the NameVirtualHost being read
    current = None  # the vhost whose alias lines follow
    for number, line in enumerate(lines[start + 1:], start + 2):
        if not line.strip():
            continue
        match = _ADDRESS.match(line)
        if match:
            address, port = _address(match.group("addr")), _port(match.group("port"))
            rest = match.group("rest").strip()
            if rest == "is a NameVirtualHost":
                chain, current = [address, port, None], None
                continue
            name, path, lineno = _where(rest, number, line)
            out.append({"address": address, "port": port, "names": [name], "file": path, "line": lineno,
                        "default": True})
            chain = current = None
            continue
        match = _DEFAULT.match(line)
        if match and chain is not None:
            _name, path, lineno = _where(match.group("rest"), number, line)
            chain[2] = (path, lineno)
            continue
        match = _NAMEVHOST.match(line)
        if match and chain is not None:
            name, path, lineno = _where(match.group("rest"), number, line)
            is_default = chain[2] == (path, lineno) and not any(
                v["default"] for v in out if (v["address"], v["port"]) == (chain[0], chain[1]))
            current = {"address": chain[0], "port": chain[1], "names": [name], "file": path, "line": lineno,
                       "default": is_default}
            out.append(current)
            continue
        match = _ALIAS.match(line)
        if match and current is not None:
            current["names"].append(match.group("name"))
            continue
        if _RUN_CFG.match(line):
            break
        raise LiveVhostsError("cannot read Apache's vhost dump: line %d: unexpected %r" % (number, line))
    return out


def _vhost_address(address, port):
    host = "*" if address is None else ("[%s]" % address if ":" in address else address)
    return "%s:%s" % (host, "*" if port is None else port)


def _run(command, run_command, args):
    argv = command(list(args)) if callable(command) else list(command) + list(args)
    rc, out, err = run_command(argv)
    if rc != 0:
        raise LiveVhostsError("Apache's configuration test failed (rc %s), so its vhosts cannot be read: %s"
                              % (rc, _excerpt((out or "") + "\n" + (err or "")) or "(no output)"))
    return out or "", err or ""


def read_live_vhosts(command, run_command):
    """The vhosts Apache builds from the running configuration, as parse_dump_vhosts() returns them, aliases of
    single-vhost addresses included (a second dump with a placeholder vhost beside them; placeholders removed).

    command: the config test's argv (Layout.config_test_command(), same environment), to which the dump's arguments
    (DUMP_ARGS, then `-c` directives) are appended and which must hand them to httpd; or a function taking that list
    of arguments and returning the argv. run_command(argv) -> (rc, stdout, stderr), as AnsibleModule.run_command.
    LiveVhostsError when the test fails, the output cannot be read, or the appended arguments did not reach httpd."""
    out, err = _run(command, run_command, DUMP_ARGS)
    if HEADER not in out:
        shown = _excerpt(out + "\n" + err) or "(empty)"
        raise LiveVhostsError("no vhost dump from %r: httpd did not get %s (the command must pass extra arguments "
                              "on to httpd); output: %s" % (command, " ".join(DUMP_ARGS), shown))
    vhosts = parse_dump_vhosts(out)
    counts = {}
    for v in vhosts:
        key = (v["address"], v["port"])
        counts[key] = counts.get(key, 0) + 1
    single = [(v["address"], v["port"]) for v in vhosts if counts[(v["address"], v["port"])] == 1]  # dump order
    if not single:
        return vhosts
    addresses = " ".join(_vhost_address(address, port) for address, port in single)
    again = parse_dump_vhosts(_run(command, run_command, DUMP_ARGS + [
        "-c", "<VirtualHost %s>" % addresses, "-c", "ServerName %s" % DUMMY_NAME, "-c", "</VirtualHost>"])[0])
    seen = set((v["address"], v["port"]) for v in again if v["names"][0] == DUMMY_NAME)
    missing = [key for key in single if key not in seen]
    if missing:
        raise LiveVhostsError("the placeholder vhost did not show on %s: httpd did not get the -c directives (the "
                              "command must pass extra arguments on to httpd)"
                              % ", ".join(_vhost_address(a, p) for a, p in missing))
    return [v for v in again if v["names"][0] != DUMMY_NAME]
