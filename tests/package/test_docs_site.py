"""The documentation site of `make docs` (scripts/docs.sh: antsibull-docs + Sphinx), rendered in headless Chromium.

Every HTML page of the site is loaded in a real browser (file://); on the DOM the browser built: the page has its
title and content, every stylesheet, script and image it uses is part of the site, and every internal link (page and
#anchor) lands on a page of the site and an element that exists there. The collection's modules, filters and role
are all documented. Runs in make test's `package` stage (the build ~40 s, the pages in one browser a few seconds).
"""
import html.parser
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
import urllib.parse

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


class _Dom(html.parser.HTMLParser):
    """ids, links (a href), resources (link href, script src, img src) and the text of the first h1."""

    def __init__(self):
        super().__init__()
        self.ids, self.links, self.resources, self.h1, self._in_h1 = set(), [], [], None, False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        if tag == "a" and a.get("name"):
            self.ids.add(a["name"])
        if tag == "link" and a.get("href") and a.get("rel") in ("stylesheet", "icon", "shortcut icon"):
            self.resources.append(a["href"])
        if tag in ("script", "img") and a.get("src"):
            self.resources.append(a["src"])
        if tag == "h1" and self.h1 is None:
            self._in_h1, self.h1 = True, ""

    def handle_endtag(self, tag):
        if tag == "h1":
            self._in_h1 = False

    def handle_data(self, data):
        if self._in_h1:
            self.h1 += data


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("docs")
    proc = subprocess.run(["bash", os.path.join(ROOT, "scripts", "docs.sh"), str(out)], capture_output=True,
                          text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return os.path.join(str(out), "build", "html")


class _Browser:
    """One headless Chromium driven over the DevTools protocol on a pipe (--remote-debugging-pipe: commands on fd 3,
    replies and events on fd 4, NUL-separated JSON). One browser for all pages: about 0.2 s a page."""

    def __init__(self, profile):
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def wire():  # in the child: the pipe ends on fds 3 and 4 (os.pipe fds are close-on-exec, these are not)
            read_end, write_end = os.dup(to_browser_r), os.dup(from_browser_w)
            os.dup2(read_end, 3)
            os.dup2(write_end, 4)

        # close_fds=False: close_fds would close 3 and 4 after wire(); every other fd here is close-on-exec.
        self.proc = subprocess.Popen([CHROMIUM] + FLAGS + ["--user-data-dir=%s" % profile, "--remote-debugging-pipe",
                                                           "about:blank"],
                                     close_fds=False, preexec_fn=wire,  # pylint: disable=subprocess-popen-preexec-fn
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buf, self._id, self.events = b"", 0, []
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Network"):
            self.call(domain + ".enable", session=True)

    def _read(self, deadline):
        while b"\0" not in self._buf:
            if time.monotonic() > deadline:
                raise TimeoutError("no answer from chromium")
            ready, _unused_w, _unused_x = select.select([self._from_browser], [], [], 1)
            if ready:
                chunk = os.read(self._from_browser, 1 << 20)
                if not chunk:
                    raise RuntimeError("chromium closed the pipe")
                self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, params=None, session=False, timeout=30):
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._id:
                assert "error" not in reply, (method, reply)
                return reply["result"]
            self.events.append(reply)

    def load(self, url, timeout=30):
        """Navigate and wait for the load event; the page's DOM as the browser built it, and what went wrong."""
        self.events = []
        self.call("Page.navigate", {"url": url}, session=True)
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == "Page.loadEventFired" for e in self.events):
            self.events.append(self._read(deadline))
        html_text = self.call("Runtime.evaluate", {"expression": "document.documentElement.outerHTML",
                                                   "returnByValue": True}, session=True)["result"]["value"]
        problems = [e["params"] for e in self.events
                    if e.get("method") in ("Network.loadingFailed", "Runtime.exceptionThrown")]
        return html_text, problems

    def close(self):
        try:
            self.call("Browser.close", timeout=5)
        except Exception:  # pylint: disable=broad-except
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_browser)
        os.close(self._from_browser)


@pytest.fixture(scope="module")
def rendered(site):
    """Every page of the site as Chromium rendered it: {relative path: _Dom}."""
    if not CHROMIUM:
        pytest.fail("chromium is not installed (the integration stage of scripts/test.sh installs it)")
    pages = sorted(os.path.relpath(os.path.join(d, f), site) for d, _dirs, files in os.walk(site) for f in files
                   if f.endswith(".html") and "_sources" not in d)
    doms = {}
    profile = tempfile.mkdtemp(prefix="revproxy-docs-chromium-")
    browser = _Browser(profile)
    start = time.monotonic()
    try:
        for page in pages:
            text, problems = browser.load("file://" + os.path.join(site, page))
            assert "<body" in text and problems == [], (page, problems)
            dom = _Dom()
            dom.feed(text)
            doms[page] = dom
    finally:
        browser.close()
        shutil.rmtree(profile, ignore_errors=True)
    print("docs: %d pages rendered in %.1f s" % (len(pages), time.monotonic() - start))
    return doms


def test_every_page_renders(site, rendered):
    assert "index.html" in rendered and len(rendered) >= 10
    for page, dom in rendered.items():
        if page not in ("search.html", "genindex.html"):
            assert dom.h1 and dom.h1.strip(), page
        for res in dom.resources:
            parsed = urllib.parse.urlparse(res)
            if parsed.scheme or res.startswith("//"):
                continue
            path = os.path.normpath(os.path.join(site, os.path.dirname(page), urllib.parse.unquote(parsed.path)))
            assert os.path.isfile(path), (page, res)


def test_no_broken_internal_links(site, rendered):
    broken, checked = [], 0
    for page, dom in rendered.items():
        for href in dom.links:
            parsed = urllib.parse.urlparse(href)
            if parsed.scheme in ("http", "https", "mailto") or href.startswith("//"):
                continue
            target = page if not parsed.path else os.path.normpath(
                os.path.join(os.path.dirname(page), urllib.parse.unquote(parsed.path)))
            checked += 1
            if target.endswith("/") or os.path.isdir(os.path.join(site, target)):
                target = os.path.join(target, "index.html")
            if not os.path.isfile(os.path.join(site, target)):
                broken.append((page, href))
            elif parsed.fragment and target.endswith(".html") and target in rendered \
                    and urllib.parse.unquote(parsed.fragment) not in rendered[target].ids:
                broken.append((page, href))
    print("docs: %d pages, %d internal links" % (len(rendered), checked))
    assert checked > 100 and broken == []


def test_the_collection_is_documented(rendered):
    base = "collections/revproxy/tls/"
    for name in ("backend_handshake_module", "apache_proxy_sites_module", "apache_proxy_probe_module",
                 "apache_proxy_role", "backend_report_filter", "backend_report_summary_filter",
                 "explain_apache_log_filter"):
        assert base + name + ".html" in rendered, sorted(rendered)
    role = rendered[base + "apache_proxy_role.html"]
    assert "ansible-collections-revproxy-tls-apache-proxy-role-parameter-main-apache-proxy-sites" in role.ids
    assert base + "index.html" in rendered and "revproxy.tls" in rendered[base + "index.html"].h1.lower()
