"""The structure docs/architecture.md describes, checked (issue 22): the layering between the rooms of module_utils,
server-neutral words outside the Apache room, and the size limits that keep each file and function readable.

These read the source with ast (no import side effects), so a violation names the file and line to look at.
"""
import ast
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLUGINS = os.path.join(ROOT, "plugins")
MODULE_UTILS = os.path.join(PLUGINS, "module_utils")
PREFIX = "ansible_collections.revproxy.tls.plugins.module_utils."


def _py_files(top):
    for base, _dirs, files in os.walk(top):
        for name in sorted(files):
            if name.endswith(".py"):
                yield os.path.relpath(os.path.join(base, name), ROOT)


def _source(rel):
    with open(os.path.join(ROOT, rel)) as handle:
        return handle.read()


def _room(rel):
    """'model', 'tls', 'apache', 'deploy' or '' (the top of module_utils) for a file under module_utils."""
    parts = os.path.relpath(os.path.join(ROOT, rel), MODULE_UTILS).split(os.sep)
    return parts[0] if len(parts) > 1 else ""


def _imported_rooms(rel):
    rooms = set()
    for node in ast.walk(ast.parse(_source(rel))):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + ["%s.%s" % (node.module, a.name) for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            if name.startswith(PREFIX):
                rest = name[len(PREFIX):].split(".")
                if rest[0] in ("model", "tls", "apache", "deploy", "nginx"):
                    rooms.add(rest[0])
    return rooms


# room -> the rooms it may import (besides itself and the top of module_utils).
MAY_IMPORT = {
    "model": set(),
    "tls": {"model"},
    "deploy": set(),
    "apache": {"model", "tls", "deploy"},
    "nginx": {"model", "tls", "deploy"},  # and never apache/, as apache/ never imports nginx/
    "": {"model"},
}
MODULE_UTILS_FILES = sorted(_py_files(MODULE_UTILS))


@pytest.mark.parametrize("rel", MODULE_UTILS_FILES)
def test_layering(rel):
    room = _room(rel)
    allowed = MAY_IMPORT.get(room, {"model", "tls", "deploy"}) | {room}
    assert _imported_rooms(rel) <= allowed, "%s (room %r) may import only %s" % (rel, room or "top", sorted(allowed))


# The words that mark Apache-specific code. They belong in the Apache room, in the mod_ssl semantics file (the
# checker's model of Apache's TLS client), and in the modules and filters that are about Apache.
APACHE_WORDS = re.compile(r"Apache|SSLProxy|mod_ssl|AH0")
APACHE_PLACES = ("plugins/module_utils/apache/", "plugins/module_utils/tls/_mod_ssl.py")
NEUTRAL_FILES = [rel for rel in MODULE_UTILS_FILES + sorted(_py_files(os.path.join(PLUGINS, "plugin_utils")))
                 if not rel.startswith(APACHE_PLACES)]


@pytest.mark.parametrize("rel", NEUTRAL_FILES)
def test_server_neutral_words(rel):
    hits = ["%d: %s" % (n, line.strip()) for n, line in enumerate(_source(rel).splitlines(), 1)
            if APACHE_WORDS.search(line)]
    assert hits == [], "%s is server-neutral; Apache specifics belong in apache/ or tls/_mod_ssl.py" % rel


# The same for nginx (issue 23): its words belong in the nginx room and in the nginx semantics file.
NGINX_WORDS = re.compile(r"nginx|proxy_ssl_", re.IGNORECASE)
NGINX_PLACES = ("plugins/module_utils/nginx/", "plugins/module_utils/tls/_nginx.py")
NGINX_NEUTRAL_FILES = [rel for rel in MODULE_UTILS_FILES + sorted(_py_files(os.path.join(PLUGINS, "plugin_utils")))
                       if not rel.startswith(NGINX_PLACES)]


@pytest.mark.parametrize("rel", NGINX_NEUTRAL_FILES)
def test_nginx_words_stay_in_the_nginx_room(rel):
    hits = ["%d: %s" % (n, line.strip()) for n, line in enumerate(_source(rel).splitlines(), 1)
            if NGINX_WORDS.search(line)]
    assert hits == [], "%s is not nginx's; nginx specifics belong in nginx/ or tls/_nginx.py" % rel


MAX_FILE_LINES = 500
MAX_FUNCTION_LINES = 80
# A file over MAX_FILE_LINES says why in its first 40 lines, in a sentence starting with this.
LONG_FILE_REASON = "Why one file:"
PLUGIN_FILES = sorted(_py_files(PLUGINS))


@pytest.mark.parametrize("rel", PLUGIN_FILES)
def test_file_size(rel):
    lines = _source(rel).splitlines()
    if len(lines) > MAX_FILE_LINES:
        assert any(LONG_FILE_REASON in line for line in lines[:40]), (
            "%s has %d lines: split it by concern, or say %r at its top" % (rel, len(lines), LONG_FILE_REASON))


@pytest.mark.parametrize("rel", PLUGIN_FILES)
def test_function_size(rel):
    long_ones = []
    for node in ast.walk(ast.parse(_source(rel))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            size = node.end_lineno - node.lineno + 1
            if size > MAX_FUNCTION_LINES:
                long_ones.append("%s:%d %s (%d lines)" % (rel, node.lineno, node.name, size))
    assert long_ones == []


def test_the_checks_see_the_tree():
    assert len(MODULE_UTILS_FILES) >= 25
    assert {_room(rel) for rel in MODULE_UTILS_FILES} >= {"model", "tls", "apache", ""}
    assert len(NEUTRAL_FILES) >= 15
