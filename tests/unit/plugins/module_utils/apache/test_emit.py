"""The one way to emit an Apache argument (moved with the emitter from model/_grammar): the tokenizer against
ap_getword_conf, and properties (hypothesis): whatever a kind accepts renders as exactly one argument that Apache's
tokenizer reads back byte for byte."""
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ansible_collections.revproxy.tls.plugins.module_utils.apache import _emit as e
from ansible_collections.revproxy.tls.plugins.module_utils.apache._emit import Bare
from support.apache_model import render_site
from ansible_collections.revproxy.tls.plugins.module_utils.model import _grammar as g
from ansible_collections.revproxy.tls.plugins.module_utils.model._grammar import ConfigError
from support.apache_model import normalize_site


# --- the tokenizer (a port of ap_getword_conf) ------------------------------------------------------------------

@pytest.mark.parametrize("line,words", [
    ('ServerName a.example', ["ServerName", "a.example"]),
    ('  ProxyPass "/a b" "http://x/" timeout=5', ["ProxyPass", "/a b", "http://x/", "timeout=5"]),
    (r'X "a\"b"', ["X", 'a"b']),
    (r'X "a\\"', ["X", "a\\"]),
    (r'X "a\b"', ["X", "a\\b"]),
    (r"X 'a\'b'", ["X", "a'b"]),
    (r'X a\\b', ["X", "a\\b"]),
    ('X "unterminated', ["X", "unterminated"]),
    ('X a"b c"', ["X", 'a"b', 'c"']),
])
def test_tokenize(line, words):
    assert e.tokenize(line) == words


@pytest.mark.parametrize("line", ['X ${HOME}', 'X a \\'])
def test_tokenize_refuses_what_apache_reads_differently(line):
    with pytest.raises(ConfigError):
        e.tokenize(line)


def _getword_conf_reference(line):
    """ap_getword_conf character by character (server/util.c), after ap_cfg_getline trimmed the line: the reference
    the regex tokenizer must agree with (it was the tokenizer until the renderer of 3000 sites spent a second in it)."""
    space = " \t\n\r\x0b\x0c"
    line = line.strip(space)
    words, i, n = [], 0, len(line)
    while True:
        while i < n and line[i] in space:
            i += 1
        if i >= n:
            return words
        quote = line[i] if line[i] in "\"'" else None
        out = []
        if quote:
            i += 1
            while i < n and line[i] != quote:
                if line[i] == "\\" and i + 1 < n and line[i + 1] in (quote, "\\"):
                    out.append(line[i + 1])
                    i += 2
                else:
                    out.append(line[i])
                    i += 1
            i += 1
        else:
            while i < n and line[i] not in space:
                if line[i] == "\\" and i + 1 < n and line[i + 1] == "\\":
                    out.append("\\")
                    i += 2
                else:
                    out.append(line[i])
                    i += 1
        words.append("".join(out))


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=st.sampled_from(list("ab \t\"'\\\x0b\x0c\r\n\u00a0\x1c")), max_size=24))
def test_tokenize_agrees_with_ap_getword_conf(line):
    if "${" in line or line.strip(" \t\n\r\x0b\x0c").endswith("\\"):
        with pytest.raises(ConfigError):
            e.tokenize(line)
    else:
        assert e.tokenize(line) == _getword_conf_reference(line)


@pytest.mark.parametrize("line", [
    r'X "a\\\"b" c', r"X 'a\\\'b' c", r'X a\\\b', r'X ""', "X ''", r'X "\"', r"X '\'", 'X "a"b', "X 'a'b'c",
    'X \u00a0a', "X \x1ca", r'"\\" x', "X 'it''s'",
])
def test_tokenize_agrees_with_ap_getword_conf_on_escapes(line):
    assert e.tokenize(line) == _getword_conf_reference(line)


def test_section_tokenize():
    assert e.tokenize_section("<VirtualHost *:443>") == ["<VirtualHost", "*:443"]
    assert e.section("VirtualHost", Bare("[::1]:443")) == "<VirtualHost [::1]:443>"


@pytest.mark.parametrize("args", [
    (Bare("a b"),), (Bare('a"b'),), (Bare("a>"),), (Bare("${X}"),), (Bare(""),), ("a\nb",), ("${X}",),
])
def test_emission_refuses(args):
    with pytest.raises(ConfigError):
        e.directive("ServerAlias", *args)


def test_section_refuses_angle_bracket():
    with pytest.raises(ConfigError):
        e.section("VirtualHost", "a>b")


# --- properties ---------------------------------------------------------------------------------------------------
# Each property draws from the alphabet its kind accepts (plus the characters that are hard for Apache's tokenizer,
# drawn often on purpose), uses assume() for the rare draw the grammar still refuses, and checks afterwards that a
# meaningful share of the examples reached the assertions, and that enough of those held a hard character: a
# property that filters away most of its input, or never sees a quote, passes without testing anything.

_PROP = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_CONTROL = "".join(chr(i) for i in range(0x20)) + "\x7f"
# Characters that need quoting or escaping, or mean something to Apache or to a shell: accepted by text().
_HARD_TEXT = "\"\\'<>{}$#% "
_ANY_ACCEPTED = st.text(alphabet=st.characters(codec="utf-8", exclude_characters=_CONTROL), max_size=100)
# Half of the draws: any accepted text; the other half: a run of 1-4 hard characters somewhere in accepted text.
_ACCEPTED_TEXT = st.one_of(
    _ANY_ACCEPTED.filter(bool),
    st.builds(lambda a, hard, b: a + hard + b, _ANY_ACCEPTED, st.text(alphabet=_HARD_TEXT, min_size=1, max_size=4),
              _ANY_ACCEPTED))


class _Shares:
    """Counts of one property run: examples tried, examples that reached the assertions, and those of them with a
    hard character. check() fails the test when a share is below its floor (and prints the shares, for -s)."""

    def __init__(self, name):
        self.name, self.tried, self.reached, self.hard = name, 0, 0, 0

    def check(self, reached, hard):
        print("%s: %d examples, %d reached the property (%.0f%%), %d of them with a hard character (%.0f%%)"
              % (self.name, self.tried, self.reached, 100.0 * self.reached / max(self.tried, 1), self.hard,
                 100.0 * self.hard / max(self.tried, 1)))
        assert self.tried >= 100, "%s: only %d examples ran" % (self.name, self.tried)
        assert self.reached >= reached * self.tried, "%s: only %d of %d examples reached the property" % (
            self.name, self.reached, self.tried)
        assert self.hard >= hard * self.tried, "%s: only %d of %d examples had a hard character" % (
            self.name, self.hard, self.tried)


def test_property_any_text_is_one_argument():
    """Any string text() accepts is emitted as one quoted argument and read back unchanged."""
    shares = _Shares("any_text")

    @_PROP
    @given(_ACCEPTED_TEXT)
    def prop(value):
        shares.tried += 1
        assume("${" not in value)  # the one sequence of the alphabet that text() refuses
        assert g.text(value, "f") == value
        shares.reached += 1
        shares.hard += any(c in _HARD_TEXT for c in value)
        line = e.directive("SSLProxyCACertificateFile", value, indent="    ")
        assert e.tokenize(line) == ["SSLProxyCACertificateFile", value]

    prop()
    shares.check(reached=0.8, hard=0.5)


def test_property_many_arguments_keep_their_count():
    shares = _Shares("many_arguments")

    @_PROP
    @given(st.lists(_ACCEPTED_TEXT, min_size=1, max_size=4))
    def prop(values):
        shares.tried += 1
        assume(not any("${" in value for value in values))
        for value in values:
            assert g.text(value, "f") == value
        shares.reached += 1
        shares.hard += any(c in _HARD_TEXT for value in values for c in value)
        line = e.directive("ProxyPass", *values)
        assert e.tokenize(line) == ["ProxyPass"] + values

    prop()
    shares.check(reached=0.7, hard=0.5)


_BARE_ALPHABET = "ABZabz09_.:/*+=@!,%~[]-"
_BARE_HARD = "*%[]:=!~"  # mean something elsewhere in Apache (wildcards, %-escapes, IPv6 brackets, env conditions)
_BARE_HOSTILE = " \"'\\<>${}\n\t#"


@_PROP
@given(st.text(alphabet=_BARE_ALPHABET, min_size=1, max_size=40))
def test_property_bare_never_splits(value):
    """Every value of the bare alphabet is emitted bare and reads back as one argument."""
    line = e.directive("ServerAlias", Bare(value))
    assert e.tokenize(line) == ["ServerAlias", value]


def test_property_bare_refuses_what_it_cannot_emit():
    """A Bare value with any character outside the bare alphabet is refused, never written; one within it reads back
    as one argument. Half of the draws come from the bare alphabet, half mix in the characters that would split it."""
    shares = _Shares("bare")

    @_PROP
    @given(st.text(alphabet=_BARE_ALPHABET, min_size=1, max_size=40)
           | st.text(alphabet=_BARE_ALPHABET + _BARE_HOSTILE, min_size=1, max_size=40))
    def prop(value):
        shares.tried += 1
        if any(c not in _BARE_ALPHABET for c in value):
            with pytest.raises(ConfigError):
                e.directive("ServerAlias", Bare(value))
            return
        shares.reached += 1
        shares.hard += any(c in _BARE_HARD for c in value)
        assert e.tokenize(e.directive("ServerAlias", Bare(value))) == ["ServerAlias", value]

    prop()
    shares.check(reached=0.4, hard=0.3)


# Strategies built from what the site grammar accepts: RFC 1123 labels (with '_'), wildcard aliases, IPv4 literals
# (server names take no IPv6), URL paths of URL_PATH_RE's alphabet minus the quote safe_text() refuses.
_LABEL = st.from_regex(r"\A[a-z0-9_](?:[a-z0-9_-]{0,10}[a-z0-9_])?\Z")
_TOP_LABEL = st.from_regex(r"\A[a-z_](?:[a-z0-9_-]{0,4}[a-z0-9_])?\Z")  # not all digits
_DNS_NAME = st.builds(lambda labels, top, dot: ".".join(labels + [top]) + dot,
                      st.lists(_LABEL, min_size=0, max_size=3), _TOP_LABEL, st.sampled_from(["", "."]))
_IPV4 = st.builds(lambda *octets: ".".join(str(o) for o in octets), *[st.integers(0, 255)] * 4)
_SERVER_NAME = _DNS_NAME | _IPV4
# A wildcard alias needs two labels after '*.' (model/_sites: '*.com' would take every name under a TLD).
_ALIAS = _DNS_NAME | _IPV4 | st.builds(lambda label, name: "*.%s.%s" % (label, name), _LABEL, _DNS_NAME)
# Everything URL_PATH_RE allows but the quote; quotes, backslashes, braces, spaces and '<>' are refused in a path.
_PATH_HARD = "$&()*+,;=:@%!~"
_PATH_TEXT = st.text(alphabet=st.sampled_from(_PATH_HARD) | st.sampled_from("az09-._/"), max_size=20)
# Half of the draws: any path of the alphabet ("/" included); the other half: one with a hard character for certain
# (Hypothesis favours short draws, so the first half alone put a hard character in fewer than half of the paths).
_PATH = st.one_of(
    st.builds(lambda rest: "/" + rest, _PATH_TEXT),
    st.builds(lambda a, hard, b: "/" + a + hard + b, _PATH_TEXT, st.sampled_from(_PATH_HARD), _PATH_TEXT))
# 0.0.0.0 and :: are refused (an address of their own: they would capture the '*' vhosts' names).
_ADDRESS = st.one_of(st.none(), st.just("*"), _IPV4.filter(lambda a: a != "0.0.0.0"), st.just("::1"), st.just("[::1]"),
                     st.just("2001:db8::7"))


def _site(server_name, aliases, path, address):
    return {
        "name": "p",
        "server_name": server_name,
        "server_aliases": aliases,
        "listen": {"port": 8443, "address": address},
        "locations": [{"path": path, "backend": "http://backend.example:8080" + path}],
    }


def _rendered_lines_read_back(text):
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or stripped == "</VirtualHost>":
            continue
        words = e.tokenize_section(stripped) if stripped.startswith("<") else e.tokenize(stripped)
        yield stripped, words


def test_property_accepted_site_renders_one_argument_per_value():
    """For any site the grammar accepts, each rendered directive reads back with the value as exactly one argument."""
    shares = _Shares("accepted_site")

    @_PROP
    @given(_SERVER_NAME, st.lists(_ALIAS, max_size=3, unique=True), _PATH, _ADDRESS)
    def prop(server_name, aliases, path, address):
        shares.tried += 1
        # The strategies stay inside the grammar but for these: a name listed twice, a '..' path segment.
        assume(server_name not in aliases and ".." not in path.split("/"))
        eff = normalize_site(_site(server_name, aliases, path, address))
        shares.reached += 1
        shares.hard += any(c in _PATH_HARD for c in path)
        rendered = list(_rendered_lines_read_back(render_site(eff)))
        lines = dict((words[0], words) for _line, words in rendered)
        assert lines["ServerName"] == ["ServerName", server_name]
        assert lines["<VirtualHost"][0] == "<VirtualHost" and len(lines["<VirtualHost"]) == 2
        assert lines["ProxyPass"][:3] == ["ProxyPass", path, "http://backend.example:8080" + path]
        assert [words[1] for _line, words in rendered if words[0] == "ServerAlias"] == aliases
        for _line, words in rendered:
            if words[0] == "ServerAlias":
                assert len(words) == 2

    prop()
    shares.check(reached=0.8, hard=0.5)
