# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""mod_proxy_balancer's balancer-manager page (Apache 2.4) read and driven: pure functions, no I/O.

The page lists every balancer of the vhost with its own nonce, and a table of members (URL, route, factor, status,
busy...). A member is identified by its balancer AND its URL: the same host (or the same URL) can be a member of
several balancers of one vhost.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

try:
    from urllib.parse import parse_qs, urlencode, urlsplit
except ImportError:  # pragma: no cover
    from urlparse import parse_qs, urlsplit  # type: ignore
    from urllib import urlencode  # type: ignore

MANAGER_PATH = "/revproxy-balancer-manager"

# Status words the page shows (mod_proxy_balancer balancer_display_page / ap_proxy_parse_wstatus).
STATUS_WORDS = {"Dis": "disabled", "Drn": "drained", "Stby": "standby", "Stop": "stopped", "Err": "error",
                "HcFl": "health_check_failed", "Ign": "ignore_errors", "Ok": "ok", "Init": "init"}
STATES = ("enabled", "drained", "disabled")
# A member row: the URL cell, then 10 cells (Route ... From), or 16 when mod_proxy_hcheck is loaded (HC Method,
# HC Interval, Passes, Fails, HC uri, HC Expr follow From).
_ROW_RE = re.compile(r'<tr>\s*<td><a href="[^"?]*\?b=([^&"]+)&amp;w=([^&"]+)&amp;nonce=([^&"]+)">[^<]*</a></td>'
                     r'((?:\s*<td>[^<]*</td>){10}(?:(?:\s*<td>[^<]*</td>){6})?)\s*</tr>')
_CELL_RE = re.compile(r"<td>([^<]*)</td>")
_BALANCER_RE = re.compile(r'\?b=([^&"]+)&amp;nonce=([^&"]+)">balancer://')


class ManagerError(Exception):
    pass


def member_key(url):
    """The URL as the page shows it: a BalancerMember is written without its trailing '/' (see _render_pools)."""
    return url[:-1] if url.endswith("/") else url


def parse_page(html):
    """{balancer name: {"nonce": str, "members": {url: {"route", "factor", "status": [words], "busy": int}}}}."""
    out = {}
    for name, nonce in _BALANCER_RE.findall(html):
        out[name] = {"nonce": nonce, "members": {}}
    for name, url, nonce, cells in _ROW_RE.findall(html):
        values = [c.strip() for c in _CELL_RE.findall(cells)]
        route, _redir, factor, _lbset, status, _elected, busy = values[:7]
        words = [STATUS_WORDS.get(w, w) for w in status.split()]
        entry = out.setdefault(name, {"nonce": nonce, "members": {}})
        entry["members"][url] = {"route": route, "factor": factor, "status": words,
                                 "busy": int(busy) if busy.isdigit() else 0}
    return out


def current_state(member):
    if "disabled" in member["status"]:
        return "disabled"
    if "drained" in member["status"]:
        return "drained"
    return "enabled"


def find_member(page, balancer, url):
    """The member entry, or ManagerError naming what the page has."""
    if balancer not in page:
        raise ManagerError("balancer %r not found on the balancer-manager page (balancers: %s)"
                           % (balancer, ", ".join(sorted(page)) or "none"))
    members = page[balancer]["members"]
    key = member_key(url)
    if key not in members:
        raise ManagerError("member %r not found in balancer %r (members: %s)"
                           % (url, balancer, ", ".join(sorted(members)) or "none"))
    return members[key]


def update_form(page, balancer, url, state):
    """The POST body that puts the member in `state`: D (disabled) and N (drain) flags, with the balancer's nonce."""
    if state not in STATES:
        raise ManagerError("state must be one of %s" % ", ".join(STATES))
    find_member(page, balancer, url)
    return urlencode([("b", balancer), ("w", member_key(url)), ("nonce", page[balancer]["nonce"]),
                      ("w_status_D", "1" if state == "disabled" else "0"),
                      ("w_status_N", "1" if state == "drained" else "0")])


def manager_query(href):
    """parse_qs of a manager link (tests)."""
    return parse_qs(urlsplit(href.replace("&amp;", "&")).query)
