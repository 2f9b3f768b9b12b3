"""The value grammar: tables for each kind. (The emitter's tokenizer and the properties that whatever a kind accepts
renders as exactly one argument are in tests/unit/plugins/module_utils/apache/test_emit.py.)"""
import pytest

from ansible_collections.revproxy.tls.plugins.module_utils.model import _grammar as g
from ansible_collections.revproxy.tls.plugins.module_utils.model._grammar import ConfigError

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
