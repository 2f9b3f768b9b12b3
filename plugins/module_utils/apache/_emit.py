# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""The one way a value becomes an Apache argument.

Every value reaches a directive through directive()/section(): each argument is emitted as exactly one Apache
argument (quoted and escaped per Apache's own tokenizer, ap_getword_conf), and the line is tokenized back with
tokenize() before it is returned; a line that would not read back as the same directive with the same arguments is
refused (ConfigError), never written. The values themselves were checked by their kinds (model/_grammar) first: the
two halves together mean a validation miss cannot become an injection.

Pure: no I/O.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.revproxy.tls.plugins.module_utils.model._grammar import ConfigError, text


class Bare(str):
    """An argument emitted without quotes: only for keywords and numbers that match BARE_RE."""


BARE_RE = re.compile(r"^[A-Za-z0-9_.:/*+=@!,%~\[\]-]+$")
_DIRECTIVE_RE = re.compile(r"^<?/?[A-Za-z][A-Za-z0-9_]*$")
_SPACE = " \t\n\r\x0b\x0c"


def quoted(value):
    """value as one double-quoted Apache argument; ap_getword_conf reads it back byte for byte."""
    text(value, "argument", 1 << 20)
    return '"%s"' % value.replace("\\", "\\\\").replace('"', '\\"')


def _emit(arg):
    if isinstance(arg, Bare):
        if not BARE_RE.match(arg) or "${" in arg:
            raise ConfigError("refusing to emit %r as a bare Apache argument" % (str(arg),))
        return str(arg)
    return quoted(arg)


# One word of ap_getword_conf: leading white space, then a "double" or 'single' quoted word (up to the matching quote,
# where a backslash escapes that quote or a backslash; the end of the line closes it too) or a bare word (up to white
# space). Each alternative consumes exactly what the C loop consumes, so a scan from left to right splits alike.
_WORD_RE = re.compile(r"""[ \t\n\r\x0b\x0c]*(?:"((?:\\["\\]|[^"])*)"?|'((?:\\['\\]|[^'])*)'?|([^ \t\n\r\x0b\x0c]+))""")
_DOUBLE_ESCAPE_RE = re.compile(r'\\(["\\])')
_SINGLE_ESCAPE_RE = re.compile(r"\\(['\\])")
_BARE_ESCAPE_RE = re.compile(r"\\(\\)")


def tokenize(line):
    """Split one config line the way Apache does (server/util.c ap_getword_conf, after ap_cfg_getline trimmed it).
    Raises ConfigError for what Apache would read differently: ${...} substitution, a continuation backslash."""
    if "${" in line:
        raise ConfigError("line would be subject to Apache's ${} substitution: %r" % line)
    line = line.strip(_SPACE)
    if line.endswith("\\"):
        raise ConfigError("line ends with a continuation backslash: %r" % line)
    words = []
    pos, end = 0, len(line)
    while pos < end:
        match = _WORD_RE.match(line, pos)
        pos = match.end()
        double, single, bare = match.groups()
        if double is not None:
            words.append(_DOUBLE_ESCAPE_RE.sub(r"\1", double) if "\\" in double else double)
        elif single is not None:
            words.append(_SINGLE_ESCAPE_RE.sub(r"\1", single) if "\\" in single else single)
        elif bare is not None:
            words.append(_BARE_ESCAPE_RE.sub(r"\1", bare) if "\\" in bare else bare)
    return words


def tokenize_section(line):
    """A section opener '<Name args>': Apache drops everything from the last '>' before tokenizing the arguments."""
    stripped = line.strip(_SPACE)
    if not stripped.startswith("<") or not stripped.endswith(">"):
        raise ConfigError("not a section line: %r" % line)
    return tokenize(stripped[:stripped.rindex(">")])


def directive(name, *args, **kwargs):
    """One directive line, each argument exactly one Apache argument (str -> quoted, Bare -> bare after a check).
    The line is tokenized back before it is returned."""
    indent = kwargs.get("indent", "")
    if not _DIRECTIVE_RE.match(name):
        raise ConfigError("invalid directive name %r" % name)
    line = indent + " ".join([name] + [_emit(a) for a in args])
    if tokenize(line) != [name] + [str(a) for a in args]:
        raise ConfigError("refusing to write %r: it does not read back as %s with %d argument(s)"
                          % (line, name, len(args)))
    return line


def section(name, *args, **kwargs):
    """A section opener such as <VirtualHost *:443>, checked like directive()."""
    indent = kwargs.get("indent", "")
    if not _DIRECTIVE_RE.match(name):
        raise ConfigError("invalid section name %r" % name)
    emitted = [_emit(a) for a in args]
    if any(">" in e for e in emitted):
        raise ConfigError("refusing to write a '>' into the arguments of <%s>" % name)
    line = "%s<%s>" % (indent, " ".join([name] + emitted))
    if tokenize_section(line) != ["<" + name] + [str(a) for a in args]:
        raise ConfigError("refusing to write %r: it does not read back as <%s> with %d argument(s)"
                          % (line, name, len(args)))
    return line
