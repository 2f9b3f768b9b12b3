"""nginx/_emit.py: the tokenizer against ngx_conf_read_token's rules, and properties (hypothesis): whatever a value
kind accepts is emitted as exactly one nginx token that reads back byte for byte, and '$' never reaches nginx except
as one of the renderer's own variables."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.revproxy.tls.plugins.module_utils.model import _grammar as g
from ansible_collections.revproxy.tls.plugins.module_utils.model._grammar import ConfigError
from ansible_collections.revproxy.tls.plugins.module_utils.nginx import _emit as e
from ansible_collections.revproxy.tls.plugins.module_utils.nginx._emit import Bare, Regex, Script


@pytest.mark.parametrize("conf,events", [
    ("a b;", [(["a", "b"], ";")]),
    ('a "b c";', [(["a", "b c"], ";")]),
    ("a 'b;c';", [(["a", "b;c"], ";")]),
    (r'a "x\"y";', [(["a", 'x"y'], ";")]),
    (r'a "x\\y";', [(["a", "x\\y"], ";")]),
    (r'a "x\ty";', [(["a", "x\ty"], ";")]),  # nginx turns \t into a tab, quoted or not
    (r"a x\;y;", [(["a", "x\\;y"], ";")]),  # the backslash keeps ';' in the word, and stays in it
    (r"a x\y;", [(["a", "x\\y"], ";")]),
    ("a b#c;", [(["a", "b#c"], ";")]),  # '#' inside a word is a character
    ("a b #c;\n d;", [(["a", "b", "d"], ";")]),  # '#' at a token's start comments out the rest of the line
    ("s {\n a b;\n}\n", [(["s"], "{"), (["a", "b"], ";"), ([], "}")]),
    ("a b{c;", [(["a", "b"], "{"), (["c"], ";")]),
    ("a ${x}y;", [(["a", "${x}y"], ";")]),  # '{' after '$' is the variable's brace, not a block
    ("a b}c;", [(["a", "b}c"], ";")]),
    ('if ( "$host" !~* "^a$" ) {', [(["if", "(", "$host", "!~*", "^a$", ")"], "{")]),
    ('a "";', [(["a", ""], ";")]),
])
def test_tokenize(conf, events):
    assert e.tokenize(conf) == events


@pytest.mark.parametrize("conf", ['a "b"c;', "a b", "a;  ;", "a } ;", '"a', "a 'b'c;", "{"])
def test_tokenize_refuses_what_nginx_refuses(conf):
    # nginx: unexpected "c" / unexpected end of file / unexpected ";" / unexpected "}" / unexpected "{"
    with pytest.raises(ConfigError):
        e.tokenize(conf)


@pytest.mark.parametrize("conf", ["}", "a {", "a { b { c; }", "a; } b {"])
def test_parse_refuses_unbalanced_blocks(conf):
    with pytest.raises(ConfigError):
        e.parse(conf)


def test_parse_reads_depths():
    assert e.parse("a {\n b { c; }\n}\nd;") == [(0, ["a"], "{"), (1, ["b"], "{"), (2, ["c"], ";"), (0, ["d"], ";")]


@pytest.mark.parametrize("value", [
    "plain", "a b", 'q"uote', "back\\slash", "semi;colon", "{brace}", "#hash", "'single'", "\\t not a tab",
    "trailing\\", "ends with \\\"", "x" * 5000, "ünïcode", "",
])
def test_each_value_is_one_token(value):
    line = e.directive("add_header", "X-A", value, Bare("always"))
    assert e.tokenize(line) == [(["add_header", "X-A", value, "always"], ";")]


@pytest.mark.parametrize("value", ["$host", "a$b", "${x}", "price $5", "$"])
def test_dollar_is_refused_in_values(value):
    with pytest.raises(ConfigError) as exc:
        e.directive("add_header", "X-A", value)
    assert "variable" in str(exc.value)


@pytest.mark.parametrize("script", ["$host$request_uri", "https://$host:8443$request_uri", "$remote_addr"])
def test_scripts_take_the_renderers_variables(script):
    assert e.tokenize(e.directive("return", Bare("301"), Script(script))) == [(["return", "301", script], ";")]


@pytest.mark.parametrize("script", ["$cookie_session", "$http_authorization", "$host$1", "${host}x$a", "a$"])
def test_scripts_refuse_other_variables(script):
    with pytest.raises(ConfigError):
        e.directive("return", Bare("301"), Script(script))


@pytest.mark.parametrize("regex,ok", [("^a\\.b$", True), ("^(?:a|b)\\.?$", True), ("^a$b", False), ("a{2}$", False)])
def test_regex_takes_dollar_only_as_the_anchor(regex, ok):
    if ok:
        assert e.tokenize(e.block("if", Bare("("), Script("$host"), Bare("!~*"), Regex(regex), Bare(")")))[0][0][4] \
            == regex
    else:
        with pytest.raises(ConfigError):
            e.block("if", Bare("("), Regex(regex), Bare(")"))


@pytest.mark.parametrize("bare", ["a;", "a b", "#a", "a{", '"a"', "a\\", "$a", ""])
def test_bare_refuses_what_is_no_keyword(bare):
    with pytest.raises(ConfigError):
        e.directive("x", Bare(bare))


@pytest.mark.parametrize("name", ["", "a b", "a;", "X", "1a", "a{"])
def test_directive_names(name):
    with pytest.raises(ConfigError):
        e.directive(name, "v")


def test_comment_refuses_a_line_break():
    with pytest.raises(ConfigError):
        e.comment("a\nproxy_ssl_verify off;")


_PRINTABLE = st.characters(min_codepoint=0x20, max_codepoint=0x10FFFF, blacklist_categories=("Cs",),
                           blacklist_characters="\x7f$")


@settings(max_examples=400, deadline=None)
@given(st.text(_PRINTABLE, max_size=80))
def test_any_text_value_is_one_token(value):
    try:
        g.text(value, "v", 1000)
    except ConfigError:
        return
    line = e.directive("proxy_set_header", "X-A", value)
    assert e.tokenize(line) == [(["proxy_set_header", "X-A", value], ";")]


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7e), min_size=1, max_size=60))
def test_any_url_path_is_one_location_token(path):
    path = "/" + path
    try:
        g.url_path(path, "path")
    except ConfigError:
        return
    if "$" in path:
        with pytest.raises(ConfigError):
            e.block("location", path)
        return
    assert e.tokenize(e.block("location", path)) == [(["location", path], "{")]
