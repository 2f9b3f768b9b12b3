"""Every link in README.md and docs/*.md resolves.

A relative link must name a file (or directory) of the checkout, and its #anchor a heading or an `<a id>` of the
Markdown file it points to, with the anchor GitHub computes for that heading. The machine running the tests is
offline, so an external link is only checked for its form, and only the ones listed in EXTERNAL may appear: adding
one is a visible decision. README.md stays a front door (under ~150 lines); everything else lives in docs/.
"""
import collections
import glob
import os
import re
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PAGES = ["README.md"] + sorted(os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "docs", "*.md")))
README_MAX_LINES = 150

# External links the pages may hold (checked for their form only: no network here).
EXTERNAL = frozenset()
EXTERNAL_FORM = re.compile(r"https://[a-z0-9.-]+\.[a-z]{2,}(/[^\s<>\"]*)?")

# Links known to be broken, each with who fixes it; test_known_broken_links_are_still_broken makes sure an entry
# goes once its link works.
KNOWN_BROKEN = frozenset([
    # scripts/gen_troubleshooting.py links every reason of its table, `ok` too, but writes no section for `ok`.
    ("docs/troubleshooting-ah00898.md", "#ok"),
])

FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
LINK = re.compile(r"!?\[((?:[^\[\]]|\[[^\[\]]*\])*)\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
HTML_ANCHOR = re.compile(r"<a\s+(?:id|name)=\"([^\"]+)\"", re.I)


def _read(page):
    with open(os.path.join(ROOT, page), encoding="utf-8") as handle:
        return handle.read()


def _prose_lines(text):
    """(line number, line) outside fenced code blocks."""
    fenced = False
    for number, line in enumerate(text.split("\n"), 1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            yield number, line


def github_slug(heading):
    """The anchor GitHub gives a heading: the rendered text (markup dropped, a link's text kept), lower case, every
    character that is not a letter, digit, space, `-` or `_` removed, spaces made `-`."""
    text = LINK.sub(lambda m: m.group(1), heading)
    text = CODE_SPAN.sub(lambda m: m.group(2), text)
    text = re.sub(r"<[^>]+>", "", text)
    text = text.replace("*", "")
    text = re.sub(r"[^\w\- ]", "", text.lower())
    return text.replace(" ", "-")


def anchors(page):
    """Every anchor of a page: its headings' (GitHub numbers repeated ones -1, -2, ...) and its <a id>s."""
    found, seen = set(), collections.Counter()
    for _number, line in _prose_lines(_read(page)):
        match = HEADING.match(line)
        if match:
            slug = github_slug(match.group(2))
            found.add(slug if not seen[slug] else "%s-%d" % (slug, seen[slug]))
            seen[slug] += 1
        found.update(HTML_ANCHOR.findall(line))
    return found


def links(page):
    """(line number, target) of every Markdown link of a page outside code (code spans are blanked first, so a
    link whose text is code still counts)."""
    for number, line in _prose_lines(_read(page)):
        line = CODE_SPAN.sub(lambda m: "code", line)
        for match in LINK.finditer(line):
            yield number, match.group(2)


def _all_links():
    return [(page, number, target) for page in PAGES for number, target in links(page)]


def test_the_pages_have_links():
    assert len(PAGES) > 5
    assert len([1 for page, _n, _t in _all_links() if page == "README.md"]) >= 10


def broken_links(page):
    """The relative links of a page that name no file of the checkout, or no anchor of the page they name."""
    broken = []
    for number, target in links(page):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):
            continue  # external: test_external_links_are_listed_and_well_formed
        if (page, target) in KNOWN_BROKEN:
            continue
        path, _sep, anchor = target.partition("#")
        here = os.path.join(ROOT, page)
        resolved = os.path.normpath(os.path.join(os.path.dirname(here), path)) if path else here
        if not resolved.startswith(ROOT + os.sep) or not os.path.exists(resolved):
            broken.append("%s:%d: %s (no such file)" % (page, number, target))
        elif anchor and resolved.endswith(".md") and anchor not in anchors(os.path.relpath(resolved, ROOT)):
            broken.append("%s:%d: %s (no such anchor)" % (page, number, target))
    return broken


@pytest.mark.parametrize("page", PAGES)
def test_relative_links_resolve(page):
    assert broken_links(page) == []


def test_known_broken_links_are_still_broken(monkeypatch):
    known = KNOWN_BROKEN
    monkeypatch.setattr(sys.modules[__name__], "KNOWN_BROKEN", frozenset())
    for page, target in known:
        assert [b for b in broken_links(page) if b.split(": ", 1)[1].startswith(target + " ")], (page, target)


def test_external_links_are_listed_and_well_formed():
    external = [(page, number, target) for page, number, target in _all_links()
                if re.match(r"[a-z][a-z0-9+.-]*:", target)]
    assert [e for e in external if e[2] not in EXTERNAL] == [], "add it to EXTERNAL (checked for its form only)"
    assert [target for target in EXTERNAL if not EXTERNAL_FORM.fullmatch(target)] == []


def test_readme_is_a_front_door():
    assert len(_read("README.md").split("\n")) <= README_MAX_LINES


@pytest.mark.parametrize("heading, slug", [
    ("Safe apply", "safe-apply"),
    ("What a site may make Apache do (the operator's policy)", "what-a-site-may-make-apache-do-the-operators-policy"),
    ("Rolling deploys: `revproxy.tls.drain`", "rolling-deploys-revproxytlsdrain"),
    ("Health checks (mod_proxy_hcheck)", "health-checks-mod_proxy_hcheck"),
    ("Testing: `make test` and its stages", "testing-make-test-and-its-stages"),
    ("The public side (2.0.0)", "the-public-side-200"),
])
def test_github_slug(heading, slug):
    assert github_slug(heading) == slug


def test_a_broken_link_is_found(tmp_path, monkeypatch):
    """The checker itself: a missing file and a missing anchor are reported, a link inside code is not a link."""
    page = tmp_path / "docs" / "page.md"
    page.parent.mkdir()
    page.write_text("# Title\n\n[ok](#title) [gone](missing.md) [`bad`](#nowhere) `[code](x.md)`\n"
                    "```\n[in code](nope.md)\n```\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", str(tmp_path))
    assert [target for _number, target in links("docs/page.md")] == ["#title", "missing.md", "#nowhere"]
    assert anchors("docs/page.md") == {"title"}
    assert broken_links("docs/page.md") == ["docs/page.md:3: missing.md (no such file)",
                                            "docs/page.md:3: #nowhere (no such anchor)"]


def _two_commands():
    """The commands of the README's "Two commands" block, as written."""
    text = _read("README.md")
    section = text[text.index("## Two commands"):]
    block = section[section.index("```sh\n") + len("```sh\n"):section.index("\n```", section.index("```sh\n"))]
    return [line.split("#", 1)[0].strip() for line in block.split("\n") if line.strip()]


def test_the_readme_commands_are_make_targets_and_ci_runs_the_test_command():
    """The README promises one command for the demo and one for the tests; CI (.ci/run) runs the same test command."""
    commands = _two_commands()
    assert commands == ["make demo", "make test"]
    makefile = _read("Makefile")
    for command in commands:
        assert re.search(r"(?m)^%s:" % re.escape(command.split()[1]), makefile), command
    ci = _read(".ci/run")
    assert re.search(r"(?m)^exec %s$" % re.escape(commands[1]), ci)
