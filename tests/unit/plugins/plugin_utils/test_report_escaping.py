"""The reports escape every value that comes from a certificate, a backend, an error text or an input.

Markdown: no raw HTML, no markup that renders (links, images, emphasis, code, tables, strikethrough, math, entities)
and no GFM autolink: a URL, a www. name or an e-mail address in a value must not become a link. GitHub's renderer
(cmark-gfm) finds e-mail addresses in the text after parsing, so a backslash or an entity (&#64;) does not stop one
(checked with cmark-gfm 0.29.0.gfm.6): such a word is shown as a code span. Checked with assertions on the text, and
with cmark-gfm itself (GitHub's reference implementation, Debian package cmark-gfm) when it is installed.
HTML: every value escaped; invisible and reordering characters shown as [U+XXXX] in both formats."""
import html
import re
import shutil
import subprocess

import pytest

from ansible_collections.revproxy.tls.plugins.plugin_utils import _report as report
from ansible_collections.revproxy.tls.plugins.plugin_utils._report import md_escape

CMARK_GFM = shutil.which("cmark-gfm")

# Values an attacker can put in a certificate subject, a backend's error text, a site name or a fix.
HOSTILE = [
    "https://evil.example/login",
    "HTTPS://EVIL.EXAMPLE",
    "http://evil.example",
    "ftp://evil.example/x",
    "www.evil.example",
    "WWW.evil.example/path",
    "(www.evil.example)",
    "*www.evil.example*",
    "_https://evil.example_",
    "user@evil.example",
    "CN=x,emailAddress=admin@evil.example,O=y",
    "mailto:user@evil.example",
    "xmpp:user@evil.example",
    "<https://evil.example>",
    "<user@evil.example>",
    "[click](https://evil.example)",
    "![img](https://evil.example/p.png)",
    "[ref]: https://evil.example",
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<!-- hidden -->",
    "&lt;script&gt; &#106;avascript&#58; &amp;",
    "https&#58;//evil.example",
    "user&#64;evil&#46;example",
    "**bold** __strong__ *em* _em_ ~~gone~~ ~x~",
    "`code` ``double`` a|b",
    "cell | injected | columns",
    "$x^2$ and $$y$$",
    "# heading? > quote? - item? 1. item?",
    "back\\slash \\<b\\>",
    "line one\nline two\r\n| --- |\ttab",
    "right\u202eto left",
    "zero\u200bwidth\u2066isolate",
    "ctrl\x00\x1b[31mred",
    "https://evil.example/`x`|y",
    "``x`` user@evil.example ``",
]


def backend_result(value):
    return {"backends": [{"site": value, "path": "/", "url": "https://b.internal:8443/", "host": value, "ok": False,
                          "reason": "name_mismatch", "message": value, "fix": value, "insecure_workaround": value,
                          "certificate": {"subject": value, "not_after": value, "days_left": 3}}]}


def front_result(value):
    item = {"site": value, "certificate_file": value, "subject": value, "not_after": value, "days_left": -1,
            "problems": [{"reason": "expired", "message": value, "fix": value}], "ok": False}
    return {"results": [item], "failed_sites": [value], "msg": value}


def reports(value, fmt):
    return report.render({value: backend_result(value)}, fmt, 30, title=value, generated=value,
                         frontend={value: front_result(value)})


_CODE_SPAN = re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)")


def outside_code(text):
    return _CODE_SPAN.sub(" ", text)


# --- the Markdown text ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", HOSTILE)
def test_markdown_text_has_no_autolink_markup_or_html(value):
    text = reports(value, "markdown")
    plain = outside_code(text)
    for risky in ("://", "@", "www.", "WWW."):
        assert risky not in plain, (risky, text)
    assert not re.search(r"(?<!\\)[<>\[\]`*_~&$!]", plain.replace("**FAIL**", "").replace("**EXPIRING**", "")), text
    for line in text.splitlines():
        if line.startswith("|"):  # every row has as many cells as the header
            assert len(re.findall(r"(?<!\\)\|", outside_code(line))) in (8, 9), line
    assert "\u202e" not in text and "\u200b" not in text and "\x1b" not in text and "\x00" not in text


@pytest.mark.parametrize("value, escaped", [
    ("plain text", "plain text"),
    ("", ""),
    (None, ""),
    ("a|b", "a\\|b"),
    ("<b>x</b>", "\\<b\\>x\\</b\\>"),
    ("&amp; &#64;", "\\&amp; \\&\\#64;"),
    ("$x$", "\\$x\\$"),
    ("*a* _b_ ~c~", "\\*a\\* \\_b\\_ \\~c\\~"),
    ("https://evil.example", "`https://evil.example`"),
    ("see https://evil.example now", "see `https://evil.example` now"),
    ("www.evil.example", "`www.evil.example`"),
    ("user@evil.example", "`user@evil.example`"),
    ("a|https://e.example", "`a\\|https://e.example`"),  # the pipe inside the span escaped for GFM tables
    ("https://e.example/`x`", "`` https://e.example/`x` ``"),  # a longer fence, padded
    ("x@y``z", "```x@y``z```"),
    ("one\ntwo\r\nthree\tfour", "one two three four"),
    ("a\u202eb", "a\\[U\\+202E\\]b"),  # shown as the text [U+202E]
    ("a\u200bb\x00c", "a\\[U\\+200B\\]b\\[U\\+0000\\]c"),
])
def test_md_escape(value, escaped):
    assert md_escape(value) == escaped


def test_md_escape_outside_a_table_keeps_the_pipe_in_code_plain():
    assert md_escape("a|https://e.example", in_table=False) == "`a|https://e.example`"
    assert md_escape("a|b", in_table=False) == "a\\|b"


def test_a_backend_url_is_not_a_link_either():
    text = report.render_markdown(backend_result("shop"), 30)
    assert "| `https://b.internal:8443/` \\(Host shop\\) |" in text


# --- rendered by GitHub's own Markdown renderer --------------------------------------------------------------------


def render_gfm(text):
    res = subprocess.run([CMARK_GFM, "--unsafe", "-e", "autolink", "-e", "table", "-e", "strikethrough",
                          "-e", "tagfilter"], input=text, capture_output=True, text=True, timeout=30, check=True)
    return res.stdout


@pytest.mark.skipif(not CMARK_GFM, reason="cmark-gfm is not installed (apt-get install cmark-gfm)")
@pytest.mark.parametrize("value", HOSTILE)
def test_gfm_renders_no_link_no_html_no_markup(value):
    """--unsafe: raw HTML would pass through, so any tag below that the values could have made would show."""
    page = render_gfm(reports(value, "markdown"))
    tags = set(re.findall(r"</?([a-zA-Z0-9]+)", page))
    assert tags <= {"h1", "h2", "p", "table", "thead", "tbody", "tr", "th", "td", "strong", "code"}, (tags, page)
    assert page.count("<strong>") == 2  # the two verdicts
    rows = re.findall(r"<tr>(.*?)</tr>", page, re.S)
    assert [len(re.findall(r"<t[hd]\b", row)) for row in rows] == [7, 7, 8, 8], page
    # The value reads back whole: the text of a cell is the value (line breaks as spaces, invisibles named).
    shown = report._visible(re.sub(r"[\r\n\t\f\v]+", " ", value))
    cells = [html.unescape(re.sub(r"</?code>", "", cell)).strip()
             for cell in re.findall(r"<td>(.*?)</td>", page, re.S)]
    assert shown.strip() in cells, (shown, cells)


@pytest.mark.skipif(not CMARK_GFM, reason="cmark-gfm is not installed (apt-get install cmark-gfm)")
def test_gfm_does_link_the_unescaped_values():
    """The renderer used above does make links of these when they are not escaped (the test would see them)."""
    page = render_gfm("https://evil.example www.evil.example user@evil.example user&#64;evil.example "
                      "user\\@evil.example\n")
    assert page.count("<a href=") == 5, page


# --- HTML ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", HOSTILE)
def test_html_escapes_every_value(value):
    page = reports(value, "html")
    body = page[page.index("<body>"):]
    shown = html.escape(report._visible(value), quote=True)
    assert shown in body
    tags = set(re.findall(r"<(/?[a-zA-Z0-9!]+)", body))
    assert tags <= {"body", "/body", "/html", "h1", "/h1", "h2", "/h2", "p", "/p", "div", "/div", "b", "/b", "small",
                    "/small", "table", "/table", "thead", "/thead", "tbody", "/tbody", "tr", "/tr", "th", "/th", "td",
                    "/td", "span", "/span", "code", "/code"}, tags
    assert "\u202e" not in page and "\u200b" not in page and "\x00" not in page
    if "<" in value:
        assert "&lt;" in body
