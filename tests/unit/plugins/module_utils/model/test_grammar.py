"""The value grammar and the one way to emit an Apache argument: tables for each kind, and properties (hypothesis):
whatever a kind accepts renders as exactly one argument that Apache's tokenizer reads back byte for byte."""
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.revproxy.tls.plugins.module_utils.model import _grammar as g
from ansible_collections.revproxy.tls.plugins.module_utils.model._grammar import Bare, ConfigError
from ansible_collections.revproxy.tls.plugins.module_utils.apache._render import render_site
from ansible_collections.revproxy.tls.plugins.module_utils.model._sites import normalize_site

# --- kinds -----------------------------------------------------------------------------------------------------

HOSTNAMES_OK = [
    "example.com", "example.com.", "a.b-c.example", "xn--bcher-kva.example", "backend_1.internal", "localhost",
    "127.0.0.1", "::1", "2001:db8::5", "a" * 63 + ".example",
]
HOSTNAMES_BAD = [
    "fe80::1%x *", "fe80::1%lo", "[::1]", "a b", "a\nb", "a\x00b", "-a.example", "a-.example", "a" * 64 + ".example",
    "b\u00fccher.example", "exa mple", "*.example.com", "a..b", ".example", "1.2.3", "256.1.1.1", "a/b", "a:b",
    "${HOME}", "a\"b", "a'b", "a<b>", "a\\b", "", "x" * 254,
]


@pytest.mark.parametrize("value", HOSTNAMES_OK)
def test_hostname_accepts(value):
    assert g.hostname(value, "f") == value


@pytest.mark.parametrize("value", HOSTNAMES_BAD)
def test_hostname_refuses(value):
    with pytest.raises(ConfigError) as exc:
        g.hostname(value, "server_name")
    assert str(exc.value).startswith("server_name: ")


@pytest.mark.parametrize("value,ok", [
    ("*.example.com", True), ("*", False), ("*.*.example", False), ("a.*.example", False), ("*example.com", False),
])
def test_wildcard(value, ok):
    if ok:
        assert g.hostname(value, "f", wildcard=True) == value
    else:
        with pytest.raises(ConfigError):
            g.hostname(value, "f", wildcard=True)


@pytest.mark.parametrize("value,brackets,want", [
    ("127.0.0.1", False, "127.0.0.1"), ("::1", False, "::1"), ("[::1]", True, "::1"), ("[::1]", False, None),
    ("[127.0.0.1]", True, None), ("fe80::1%lo", True, None), ("[fe80::1%lo]", True, None), ("localhost", True, None),
    ("::1%lo]:18083 127.0.0.1:18084 [::1", True, None), ("01.2.3.4", False, None),
])
def test_ip_literal(value, brackets, want):
    if want is None:
        with pytest.raises(ConfigError):
            g.ip_literal(value, "f", brackets=brackets)
    else:
        assert g.ip_literal(value, "f", brackets=brackets) == want


@pytest.mark.parametrize("value,low,high,also,ok", [
    (1, 1, 5, (), True), (0, 1, 5, (), False), (0, 1, 5, (0,), True), (6, 1, 5, (), False), (True, 0, 5, (), False),
    (1.0, 0, 5, (), False), ("1", 0, 5, (), False), (10 ** 30, 0, 5, (), False), (None, 0, 5, (), False),
])
def test_integer(value, low, high, also, ok):
    if ok:
        assert g.integer(value, "f", low, high, also) == value
    else:
        with pytest.raises(ConfigError):
            g.integer(value, "f", low, high, also)


@pytest.mark.parametrize("value,ok", [
    (5, True), (0.5, True), (3600, True), (0, False), (-1, False), (float("nan"), False), (float("inf"), False),
    (1e300, False), (True, False), ("5", False),
])
def test_number(value, ok):
    if ok:
        assert g.number(value, "timeout", 0, 3600) == value
    else:
        with pytest.raises(ConfigError):
            g.number(value, "timeout", 0, 3600)


@pytest.mark.parametrize("value,ok", [
    ("/etc/ssl/ca.pem", True), ("/a b", False), ("rel/p", False), ("/a/../b", False), ("/a\n", False),
    ("/a\"b", False), ("/${X}", False), ("/" + "a" * 1100, False),
])
def test_abs_path(value, ok):
    if ok:
        assert g.abs_path(value, "f") == value
    else:
        with pytest.raises(ConfigError):
            g.abs_path(value, "f")


@pytest.mark.parametrize("value,ok", [
    ("HIGH:!aNULL", True), ("ECDHE+AESGCM:@STRENGTH", True), ("HIGH MEDIUM", False), ("HIGH\nSSLProxyVerify", False),
    ("HIGH\"", False), ("", False),
])
def test_cipher_string(value, ok):
    if ok:
        assert g.cipher_string(value, "f") == value
    else:
        with pytest.raises(ConfigError):
            g.cipher_string(value, "f")


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
    assert g.tokenize(line) == words


@pytest.mark.parametrize("line", ['X ${HOME}', 'X a \\'])
def test_tokenize_refuses_what_apache_reads_differently(line):
    with pytest.raises(ConfigError):
        g.tokenize(line)


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
            g.tokenize(line)
    else:
        assert g.tokenize(line) == _getword_conf_reference(line)


@pytest.mark.parametrize("line", [
    r'X "a\\\"b" c', r"X 'a\\\'b' c", r'X a\\\b', r'X ""', "X ''", r'X "\"', r"X '\'", 'X "a"b', "X 'a'b'c",
    'X \u00a0a', "X \x1ca", r'"\\" x', "X 'it''s'",
])
def test_tokenize_agrees_with_ap_getword_conf_on_escapes(line):
    assert g.tokenize(line) == _getword_conf_reference(line)


def test_section_tokenize():
    assert g.tokenize_section("<VirtualHost *:443>") == ["<VirtualHost", "*:443"]
    assert g.section("VirtualHost", Bare("[::1]:443")) == "<VirtualHost [::1]:443>"


@pytest.mark.parametrize("args", [
    (Bare("a b"),), (Bare('a"b'),), (Bare("a>"),), (Bare("${X}"),), (Bare(""),), ("a\nb",), ("${X}",),
])
def test_emission_refuses(args):
    with pytest.raises(ConfigError):
        g.directive("ServerAlias", *args)


def test_section_refuses_angle_bracket():
    with pytest.raises(ConfigError):
        g.section("VirtualHost", "a>b")


# --- properties ---------------------------------------------------------------------------------------------------

_ANY_TEXT = st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=200)
_PROP = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_PROP
@given(_ANY_TEXT)
def test_property_any_text_is_one_argument(value):
    """Any string text() accepts is emitted as one quoted argument and read back unchanged."""
    try:
        g.text(value, "f")
    except ConfigError:
        return
    line = g.directive("SSLProxyCACertificateFile", value, indent="    ")
    assert g.tokenize(line) == ["SSLProxyCACertificateFile", value]


@_PROP
@given(st.lists(_ANY_TEXT, min_size=1, max_size=4))
def test_property_many_arguments_keep_their_count(values):
    try:
        for value in values:
            g.text(value, "f")
    except ConfigError:
        return
    line = g.directive("ProxyPass", *values)
    assert g.tokenize(line) == ["ProxyPass"] + values


@_PROP
@given(st.text(alphabet="ab.*-_:[]%1 \"'\\<>${}\n\t", min_size=1, max_size=40))
def test_property_bare_never_splits(value):
    try:
        line = g.directive("ServerAlias", Bare(value))
    except ConfigError:
        return
    assert g.tokenize(line) == ["ServerAlias", value]


_LABEL = st.from_regex(r"\A[a-z0-9](?:[a-z0-9_-]{0,10}[a-z0-9])?\Z")
_HOST_CHARS = st.text(alphabet="abz09-_.*%:[] \t\n\"'\\<>${}#", min_size=1, max_size=30)


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
        words = g.tokenize_section(stripped) if stripped.startswith("<") else g.tokenize(stripped)
        yield stripped, words


@_PROP
@given(_HOST_CHARS | st.builds(lambda a, b: a + "." + b, _LABEL, _LABEL),
       st.lists(_HOST_CHARS | st.builds(lambda a: "*." + a + ".example", _LABEL), max_size=3),
       st.text(alphabet="/az09-._~!$&'()*+,;=:@% \"\\\n<>{}", min_size=1, max_size=20),
       st.one_of(st.none(), _HOST_CHARS, st.just("::1"), st.just("[::1]"), st.just("*")))
def test_property_accepted_site_renders_one_argument_per_value(server_name, aliases, path, address):
    """For any site the grammar accepts, each rendered directive reads back with the value as exactly one argument."""
    if not path.startswith("/"):
        path = "/" + path
    try:
        eff = normalize_site(_site(server_name, aliases, path, address))
    except ConfigError:
        return
    lines = dict((words[0], words) for _line, words in _rendered_lines_read_back(render_site(eff)))
    assert lines["ServerName"] == ["ServerName", server_name]
    assert lines["<VirtualHost"][0] == "<VirtualHost" and len(lines["<VirtualHost"]) == 2
    assert lines["ProxyPass"][:3] == ["ProxyPass", path, "http://backend.example:8080" + path]
    aliases_read = [words[1] for _line, words in _rendered_lines_read_back(render_site(eff))
                    if words[0] == "ServerAlias"]
    assert aliases_read == aliases
    for _line, words in _rendered_lines_read_back(render_site(eff)):
        if words[0] == "ServerAlias":
            assert len(words) == 2


@pytest.mark.parametrize("value,ok", [
    ("warn", True), ("warn ssl:info", True), ("info proxy:trace2 ssl:debug", True),
    ("verbose", False), ("warn\nProxyPass / http://x/", False), ("", False), ("warn ssl:", False),
])
def test_log_level(value, ok):
    if ok:
        assert g.log_level(value) == " ".join(value.split())
    else:
        with pytest.raises(ConfigError):
            g.log_level(value)


@pytest.mark.parametrize("value, message", [
    ({"a": 1}, None),
    ({}, None),
    ([("a", 1)], "f: must be a mapping, got list"),
    ({"a": 1, "c": 2}, "f: unknown key(s) c (allowed: a, b)"),
    ({"z": 1, 3: 2}, "f: unknown key(s) 3, z (allowed: a, b)"),  # mixed key types are named, not a TypeError
])
def test_mapping(value, message):
    if message is None:
        assert g.mapping(value, ("a", "b"), "f") is value
    else:
        with pytest.raises(ConfigError) as err:
            g.mapping(value, ("a", "b"), "f")
        assert str(err.value) == message
