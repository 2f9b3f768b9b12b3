# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""The one way a value becomes an nginx argument.

Every value reaches a directive through directive()/block(): each argument is written as exactly one nginx token
(double-quoted, with nginx's own escapes), and the line is read back with tokenize(), a port of nginx's
ngx_conf_read_token (src/core/ngx_conf_file.c), before it is returned; a line that would not read back as the same
directive with the same arguments is refused (ConfigError), never written.

What nginx's grammar gives a value a second meaning through, and what this file does about it:
  ';' '{' '}'    end a directive or open/close a block outside quotes: values are always quoted.
  '#'            starts a comment at the start of a token: quoted.
  '"' "'" '\\'   quoting and escapes (\\" \\' \\\\, and \\t \\r \\n become control characters, in quoted and bare
                 tokens alike): '"' and '\\' are escaped.
  '$'            a variable in every directive whose value nginx compiles as a script (proxy_pass, proxy_set_header,
                 add_header, proxy_ssl_name, return ...): refused in any value. Only Script arguments, built by the
                 renderer from the fixed set of variables in SCRIPT_VARIABLES, carry one.
  white space    separates tokens outside quotes: quoted; control characters are refused by the value kinds first.
Pure: no I/O.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.revproxy.tls.plugins.module_utils.model._grammar import ConfigError, text


class Bare(str):
    """An argument written without quotes: keywords and numbers only (BARE_RE)."""


class Script(str):
    """An argument that holds nginx variables on purpose; only those of SCRIPT_VARIABLES."""


class Regex(str):
    """A regular expression argument (an `if` condition): nginx compiles it with PCRE, not as a script, so its '$'
    anchor is no variable; it may hold no other '$'."""


BARE_RE = re.compile(r"^[A-Za-z0-9_.:/*+=@,%~\[\]()!^-]+$")
NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
SCRIPT_VARIABLES = ("host", "request_uri", "remote_addr", "proxy_add_x_forwarded_for", "scheme", "server_port",
                    "http_upgrade", "proxy_host")
_VARIABLE_RE = re.compile(r"\$(?:\{([a-z_]+)\}|([a-z_]+))")
_SPACE = " \t\r\n"


def quoted(value):
    """value as one double-quoted nginx token; ngx_conf_read_token reads it back byte for byte ("" is a token: an
    empty proxy_set_header value drops the header)."""
    if value != "":
        text(value, "argument", 1 << 20)
    return '"%s"' % value.replace("\\", "\\\\").replace('"', '\\"')


def _check_dollars(arg):
    if isinstance(arg, Script):
        rest = _VARIABLE_RE.sub("", arg)
        names = [a or b for a, b in _VARIABLE_RE.findall(arg)]
        if "$" in rest or any(name not in SCRIPT_VARIABLES for name in names):
            raise ConfigError("refusing to emit %r: only the variables %s may reach an nginx script"
                              % (str(arg), ", ".join("$" + v for v in SCRIPT_VARIABLES)))
    elif isinstance(arg, Regex):
        if "$" in arg[:-1] or "{" in arg:
            raise ConfigError("refusing to emit %r: a regex takes '$' only as its final anchor" % (str(arg),))
    elif "$" in arg:
        raise ConfigError("refusing to emit %r: nginx would read '$' as a variable" % (str(arg),))


def _emit(arg):
    if not isinstance(arg, str):
        raise ConfigError("refusing to emit %r: not a string" % (arg,))
    _check_dollars(arg)
    if isinstance(arg, Bare):
        if not BARE_RE.match(arg):
            raise ConfigError("refusing to emit %r as a bare nginx argument" % (str(arg),))
        return str(arg)
    return quoted(arg)


def _unescape(raw):
    """The copy loop of ngx_conf_read_token: \\" \\' \\\\ lose the backslash, \\t \\r \\n become the control
    character, any other backslash stays."""
    out, i, n = [], 0, len(raw)
    while i < n:
        ch = raw[i]
        if ch == "\\" and i + 1 < n:
            nxt = raw[i + 1]
            if nxt in "\"'\\":
                out.append(nxt)
                i += 2
                continue
            if nxt in "trn":
                out.append({"t": "\t", "r": "\r", "n": "\n"}[nxt])
                i += 2
                continue
        out.append(ch)
        i += 1
    return "".join(out)


class _Reader:
    """The state of ngx_conf_read_token while it reads one text (its flags, by the same names)."""

    def __init__(self, conf):
        self.conf = conf
        self.out, self.words = [], []
        self.last_space, self.need_space, self.comment, self.quoted, self.variable = True, False, False, False, False
        self.d_quoted = self.s_quoted = False
        self.start = 0

    def end(self, ch):
        self.out.append((self.words, ch))
        self.words = []

    def after_quote(self, ch):
        """The character after a closing quote: white space, ';', '{' or ')' (nginx: unexpected otherwise).
        Returns True when the character is consumed."""
        if ch in _SPACE:
            self.last_space, self.need_space = True, False
            return True
        if ch in ";{":
            self.end(ch)
            self.last_space, self.need_space = True, False
            return True
        if ch != ")":
            raise ConfigError("nginx: unexpected %r after a quoted token" % ch)
        self.last_space, self.need_space = True, False
        return False

    def token_start(self, ch, i):
        self.start = i - 1
        if ch in _SPACE:
            return
        if ch in ";{":
            if not self.words:
                raise ConfigError("nginx: unexpected %r" % ch)
            self.end(ch)
            return
        if ch == "}":
            if self.words:
                raise ConfigError("nginx: unexpected '}'")
            self.end("}")
            return
        if ch == "#":
            self.comment = True
            return
        self.last_space = False
        if ch == "\\":
            self.quoted = True
        elif ch == '"':
            self.start, self.d_quoted = i, True
        elif ch == "'":
            self.start, self.s_quoted = i, True
        elif ch == "$":
            self.variable = True

    def in_token(self, ch, i):
        if ch == "{" and self.variable:
            return
        self.variable = False
        if ch == "\\":
            self.quoted = True
            return
        if ch == "$":
            self.variable = True
            return
        found = False
        if self.d_quoted:
            if ch == '"':
                self.d_quoted, self.need_space, found = False, True, True
        elif self.s_quoted:
            if ch == "'":
                self.s_quoted, self.need_space, found = False, True, True
        elif ch in _SPACE + ";{":
            self.last_space, found = True, True
        if found:
            self.words.append(_unescape(self.conf[self.start:i - 1]))
            if ch in ";{":
                self.end(ch)

    def read(self):
        for i, ch in enumerate(self.conf, 1):
            if ch == "\n" and self.comment:
                self.comment = False
            if self.comment:
                continue
            if self.quoted:
                self.quoted = False
                continue
            if self.need_space and self.after_quote(ch):
                continue
            if self.last_space:
                self.token_start(ch, i)
            else:
                self.in_token(ch, i)
        if self.words or self.d_quoted or self.s_quoted or not self.last_space and not self.need_space:
            raise ConfigError("nginx: unexpected end of file, expecting ';' or '}'")
        return self.out


def tokenize(conf):
    """Read a configuration text as nginx does (ngx_conf_read_token): a list of (words, end) where end is ';' for a
    directive, '{' for a block's opening, '}' for its end (words empty). ConfigError where nginx would refuse."""
    return _Reader(conf).read()


def _line(name, args, end, indent):
    if not NAME_RE.match(name):
        raise ConfigError("invalid nginx directive name %r" % name)
    line = indent + " ".join([name] + [_emit(a) for a in args]) + end
    if tokenize(line) != [([name] + [str(a) for a in args], end[-1])]:
        raise ConfigError("refusing to write %r: it does not read back as %s with %d argument(s)"
                          % (line, name, len(args)))
    return line


def directive(name, *args, **kwargs):
    """One directive line 'name "arg" ...;', each argument exactly one nginx token, read back before it is
    returned."""
    return _line(name, args, ";", kwargs.get("indent", ""))


def block(name, *args, **kwargs):
    """A block's opening line 'name "arg" ... {', checked like directive()."""
    return _line(name, args, " {", kwargs.get("indent", ""))


def comment(words, indent=""):
    """A comment line: no line break in it (it would end the comment)."""
    if "\n" in words or "\r" in words:
        raise ConfigError("refusing a line break in a comment")
    return "%s# %s" % (indent, words)


def parse(conf):
    """A whole file as nginx reads it: the directives as (depth, words, end), blocks balanced (ConfigError where
    nginx would report an unexpected '}' or end of file)."""
    out, depth = [], 0
    for words, end in tokenize(conf):
        if end == "}":
            depth -= 1
            if depth < 0:
                raise ConfigError("nginx: unexpected '}'")
            continue
        out.append((depth, words, end))
        if end == "{":
            depth += 1
    if depth:
        raise ConfigError("nginx: unexpected end of file, expecting '}'")
    return out
