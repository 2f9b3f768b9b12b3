# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""Who answers a request: Apache's virtual host selection, and the rule that no managed site takes a name or an
address another site serves.

How Apache 2.4 picks the vhost (server/vhost.c, measured on Apache 2.4.71):
1. by the address and port the connection came in on: if any vhost is declared for that exact address:port, only
   those are candidates, for every name; the `*:port` vhosts are candidates only on addresses none is declared for;
2. among the candidates, the first (in the order the files are read) whose ServerName or ServerAlias matches the
   Host; aliases may hold wildcards (`*.example.com` matches any name below example.com, at any depth);
3. no match: the first candidate, the default server of that address:port.

So a site on 127.0.0.1:443 captures every name of the `*:443` sites on 127.0.0.1 (rule 1), a wildcard alias captures
the names it matches from sites read after it (rule 2), and a site read first on an address:port becomes the answer
for every unknown name there (rule 3). check_ownership() refuses each of these between managed sites, and between a
managed site and the hand-written vhosts read from the live configuration (apache/_live_vhosts.py). Pure (no I/O).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import posixpath

from ansible_collections.revproxy.tls.plugins.module_utils.model._grammar import ConfigError


def _norm(name):
    return name.lower().rstrip(".")


def managed_vhosts(eff):
    """The vhosts an effective site renders: its own and, for a TLS site, the HTTP redirect vhost."""
    names = [_norm(n) for n in [eff["server_name"]] + eff["server_aliases"]]
    out = [{"site": eff["name"], "address": eff["listen"]["address"], "port": eff["listen"]["port"],
            "names": names, "what": "site %r" % eff["name"]}]
    redirect = (eff.get("frontend") or {}).get("redirect")
    if redirect:
        out.append({"site": eff["name"], "address": eff["listen"]["address"], "port": redirect["port"],
                    "names": names, "what": "site %r (its HTTP redirect)" % eff["name"]})
    return out


def _addr(address, port):
    a = address or "*"
    return "%s:%d" % ("[%s]" % a if ":" in a else a, port)


def _suffix_index(names):
    """Each name under every dot-suffix it has: 'a.b.example.com' under '.b.example.com', '.example.com', '.com'."""
    index = {}
    for name in names:
        probe = name.replace("*", "x").replace("?", "x")
        for i, char in enumerate(probe):
            if char == ".":
                index.setdefault(probe[i:], []).append(name)
    return index


def _wild_matches(pattern, by_suffix):
    """The names of the index a wildcard pattern answers, other than itself. The grammar allows '*.' only in front,
    where '*' stands for one label or more: the names below the pattern's suffix."""
    if not pattern.startswith("*."):
        return []
    return [name for name in by_suffix.get(pattern[1:], []) if name != pattern]


def _where(live):
    return "hand-written vhost %s:%s" % (live.get("file") or "?", live.get("line") or "?")


def _check_managed_addresses(by_port):
    """Rule 1 between managed sites: a specific address and '*' on one port."""
    for port, group in sorted(by_port.items()):
        specific = [v for v in group if v["address"]]
        wildcard = [v for v in group if not v["address"]]
        if specific and wildcard:
            s, w = specific[0], wildcard[0]
            raise ConfigError(
                "%s: listens on %s while %s listens on %s: Apache sends every request that reaches %s to the "
                "vhosts declared for that address, so %s would answer for %s there. Give both the same "
                "listen.address (or leave both unset)"
                % (s["what"], _addr(s["address"], port), w["what"], _addr(None, port), _addr(s["address"], port),
                   s["what"], ", ".join(w["names"][:3])))


def _check_managed_names(vhosts):
    """Rule 2 between managed sites: a name belongs to one site, on every port. On the same address:port Apache
    answers it from whichever file it reads first; on another port the other site still gets the name's cookies
    (browsers do not scope cookies by port) and its users' trust. Indexed (names, and names by dot-suffix for the
    wildcards), so thousands of sites cost a pass, not a pair of loops. Returns (owner by name, the suffix index)."""
    owner = {}
    for v in vhosts:
        for name in v["names"]:
            first = owner.setdefault(name, v)
            if first["site"] != v["site"]:
                raise ConfigError(
                    "%s: %r is also served by %s on %s; a name belongs to one site (on another port it still gets "
                    "that site's cookies, which browsers do not scope by port). Use another name"
                    % (v["what"], name, first["what"], _addr(first["address"], first["port"])))
    by_suffix = _suffix_index(owner)
    for v in vhosts:
        for pattern in v["names"]:
            for name in _wild_matches(pattern, by_suffix):
                other = owner[name]
                if other["site"] != v["site"]:
                    raise ConfigError(
                        "%s: server_aliases: %r also matches %r, which %s serves on %s; Apache answers the name from "
                        "whichever file it reads first, and on another port the alias still gets its cookies. Use "
                        "names that do not overlap"
                        % (v["what"], pattern, name, other["what"], _addr(other["address"], other["port"])))
    return owner, by_suffix


def _check_live_address(lv, by_port, managed_dir, warnings):
    """Rules 1 and 3 against one hand-written vhost: the managed vhosts on its port."""
    port, address = lv["port"], lv.get("address")
    lnames = [_norm(n) for n in lv.get("names") or []]
    for v in by_port.get(port, []):
        if v["address"] and not address:
            raise ConfigError(
                "%s: listens on %s while the %s listens on %s: every request to %s would reach the managed "
                "vhost, taking the names %s there. Use listen.address '*' (unset) as that vhost does"
                % (v["what"], _addr(v["address"], port), _where(lv), _addr(None, port), _addr(v["address"], port),
                   ", ".join(lnames[:3]) or "(none)"))
        if address and not v["address"]:
            warnings.append("%s on %s is not reached on %s: the %s is declared for that address"
                            % (v["what"], _addr(None, port), _addr(address, port), _where(lv)))
            continue
        if v["address"] != address:
            continue
        # Rule 3: a managed file read before the hand-written default server would become the default.
        if lv.get("default") and managed_dir and posixpath.dirname(lv.get("file") or "") == managed_dir:
            mine = "%s.conf" % v["site"]
            theirs = posixpath.basename(lv["file"])
            if mine < theirs:
                raise ConfigError(
                    "%s: its file %s sorts before %s, the default server of %s: Apache would then answer every "
                    "unknown name there with the managed site. Rename the site so that it sorts after %r"
                    % (v["what"], mine, theirs, _addr(address, port), theirs))


def _check_live_names(lv, vhosts, owner, by_suffix, warnings):
    """Rule 2 against one hand-written vhost: its names and wildcards against the managed ones, on any port."""
    port, address = lv["port"], lv.get("address")
    lnames = [_norm(n) for n in lv.get("names") or []]
    for name in lnames:
        v = owner.get(name)
        if v is not None:
            raise ConfigError("%s: %r is already served on %s by the %s; a name belongs to one site (Apache "
                              "answers it from whichever file it reads first; on another port the other still "
                              "gets its cookies). Remove it there first, or use another name"
                              % (v["what"], name, _addr(address, port), _where(lv)))
    live_index = _suffix_index(lnames)
    for v in vhosts:
        for pattern in v["names"]:
            for name in _wild_matches(pattern, live_index):
                raise ConfigError("%s: server_aliases: %r also matches %r, which the %s serves on %s"
                                  % (v["what"], pattern, name, _where(lv), _addr(address, port)))
    for pattern in lnames:
        for name in _wild_matches(pattern, by_suffix):
            v = owner[name]
            if (v["address"], v["port"]) == (address, port):
                warnings.append("%s: %r may be answered by the %s (its alias %r matches it)"
                                % (v["what"], name, _where(lv), pattern))


def check_ownership(sites, live=(), managed_dir=None):
    """Refuse a managed site that would take a name or an address another site serves. `sites`: effective sites;
    `live`: hand-written vhosts of the running configuration (dicts with address, port, names, file, line, default),
    managed files already removed; `managed_dir`: the directory the managed sites' files are read from (for rule 3).
    Returns warnings (a hand-written vhost that would shadow a managed one)."""
    warnings = []
    vhosts = [v for eff in sites for v in managed_vhosts(eff)]
    by_port = {}
    for v in vhosts:
        by_port.setdefault(v["port"], []).append(v)
    _check_managed_addresses(by_port)
    owner, by_suffix = _check_managed_names(vhosts)
    for lv in live or ():
        _check_live_address(lv, by_port, managed_dir, warnings)
        _check_live_names(lv, vhosts, owner, by_suffix, warnings)
    return warnings
