"""_live_vhosts: Apache's own vhost dump (`httpd -t -D DUMP_VHOSTS`, `apachectl -S`) read into the hand-written vhosts
apache/_vhosts.check_ownership() checks against. The outputs below are real, captured from Apache 2.4.71 on private
configurations (tests/support/apache.py) and from Debian 12's default site; test_host_reads.py runs the real binary."""
import pytest

from ansible_collections.revproxy.tls.plugins.module_utils.apache import _live_vhosts as lv
from ansible_collections.revproxy.tls.plugins.module_utils.apache._live_vhosts import (
    LiveVhostsError,
    parse_dump_vhosts,
    read_live_vhosts,
)

# `apache2 -f httpd.conf -S` of a configuration with *:59039 (two vhosts, aliases and wildcard aliases, the second
# with `ServerAlias www?.qmark.test`), 127.0.0.1:48551 (two), `<VirtualHost 127.0.0.1:56117 [::1]:56117>`,
# `<VirtualHost _default_:56117>` then `<VirtualHost *:56117>` without ServerName, [::1]:59039 and `<VirtualHost *>`.
MANY = """\
VirtualHost configuration:
[::1]:56117            multi.test (/tmp/lv/a/vhosts.conf:17)
[::1]:59039            v6.test (/tmp/lv/a/vhosts.conf:25)
127.0.0.1:48551        is a NameVirtualHost
         default server ip-first.test (/tmp/lv/a/vhosts.conf:9)
         port 48551 namevhost ip-first.test (/tmp/lv/a/vhosts.conf:9)
                 alias ip-alias.test
         port 48551 namevhost ip-second.test (/tmp/lv/a/vhosts.conf:13)
                 wild alias *.ipwild.test
127.0.0.1:56117        multi.test (/tmp/lv/a/vhosts.conf:17)
*:59039                is a NameVirtualHost
         default server star-default.test (/tmp/lv/a/vhosts.conf:1)
         port 59039 namevhost star-default.test (/tmp/lv/a/vhosts.conf:1)
         port 59039 namevhost star2.test (/tmp/lv/a/vhosts.conf:4)
                 alias alias-a.test
                 alias alias-b.test
                 wild alias *.wild.test
                 wild alias www?.qmark.test
*:56117                is a NameVirtualHost
         default server default-underscore.test (/tmp/lv/a/vhosts.conf:20)
         port 56117 namevhost default-underscore.test (/tmp/lv/a/vhosts.conf:20)
         port 56117 namevhost private-apache.test (/tmp/lv/a/vhosts.conf:23)
*:*                    noport.test (/tmp/lv/a/vhosts.conf:28)
ServerRoot: "/tmp/lv/a"
Main DocumentRoot: "/tmp/lv/a/htdocs"
Main ErrorLog: "/tmp/lv/a/logs/error.log"
Mutex watchdog-callback: using_defaults
Mutex ssl-stapling-refresh: using_defaults
Mutex ssl-stapling: using_defaults
Mutex proxy: using_defaults
Mutex ssl-cache: using_defaults
Mutex default: dir="/tmp/lv/a/run" mechanism=fcntl
PidFile: "/tmp/lv/a/run/httpd.pid"
Define: DUMP_VHOSTS
Define: DUMP_RUN_CFG
User: name="www-data" id=33
Group: name="www-data" id=33
"""

# The same single vhosts, first alone on their address:port (printed without aliases), then with the placeholder.
SINGLE = """\
VirtualHost configuration:
127.0.0.1:53461        single.test (/tmp/lv/b/vhosts.conf:1)
*:41005                is a NameVirtualHost
         default server star-single.test (/tmp/lv/b/vhosts.conf:5)
         port 41005 namevhost star-single.test (/tmp/lv/b/vhosts.conf:5)
                 alias star-alias.test
         port 41005 namevhost quoted name.test (/tmp/lv/b/vhosts.conf:9)
                 alias Upper.TEST
"""

SINGLE_AGAIN = """\
VirtualHost configuration:
127.0.0.1:53461        is a NameVirtualHost
         default server single.test (/tmp/lv/b/vhosts.conf:1)
         port 53461 namevhost single.test (/tmp/lv/b/vhosts.conf:1)
                 alias single-alias.test
                 wild alias *.single-wild.test
         port 53461 namevhost revproxy-tls-dump.invalid (-c/-C directives:1)
*:41005                is a NameVirtualHost
         default server star-single.test (/tmp/lv/b/vhosts.conf:5)
         port 41005 namevhost star-single.test (/tmp/lv/b/vhosts.conf:5)
                 alias star-alias.test
         port 41005 namevhost quoted name.test (/tmp/lv/b/vhosts.conf:9)
                 alias Upper.TEST
"""

DEBIAN_DEFAULT = """\
VirtualHost configuration:
*:80                   127.0.0.1 (/etc/apache2/sites-enabled/000-default.conf:1)
"""

# `<VirtualHost 0.0.0.0:P>`, `<VirtualHost *:P>` and `<VirtualHost [::]:P>` are one chain, printed as *:P; a host
# name is printed as the address it resolved to; a scoped IPv6 address keeps its zone.
WILDCARDS = """\
VirtualHost configuration:
[fe80::1%lo]:39037     scoped.test (/tmp/lv/c/vhosts.conf:13)
127.0.0.1:39037        byname.test (/tmp/lv/c/vhosts.conf:10)
*:53993                is a NameVirtualHost
         default server zero.test (/tmp/lv/c/vhosts.conf:1)
         port 53993 namevhost zero.test (/tmp/lv/c/vhosts.conf:1)
         port 53993 namevhost star.test (/tmp/lv/c/vhosts.conf:4)
         port 53993 namevhost v6any.test (/tmp/lv/c/vhosts.conf:7)
"""


def v(address, port, names, line, default, file="/tmp/lv/a/vhosts.conf"):
    return {"address": address, "port": port, "names": names, "file": file, "line": line, "default": default}


def test_parse_many():
    assert parse_dump_vhosts(MANY) == [
        v("::1", 56117, ["multi.test"], 17, True),
        v("::1", 59039, ["v6.test"], 25, True),
        v("127.0.0.1", 48551, ["ip-first.test", "ip-alias.test"], 9, True),
        v("127.0.0.1", 48551, ["ip-second.test", "*.ipwild.test"], 13, False),
        v("127.0.0.1", 56117, ["multi.test"], 17, True),
        v(None, 59039, ["star-default.test"], 1, True),
        v(None, 59039, ["star2.test", "alias-a.test", "alias-b.test", "*.wild.test", "www?.qmark.test"], 4, False),
        v(None, 56117, ["default-underscore.test"], 20, True),
        v(None, 56117, ["private-apache.test"], 23, False),
        v(None, None, ["noport.test"], 28, True),
    ]


def test_parse_single_vhosts_have_no_aliases_in_the_dump():
    b = "/tmp/lv/b/vhosts.conf"
    assert parse_dump_vhosts(SINGLE) == [
        v("127.0.0.1", 53461, ["single.test"], 1, True, b),
        v(None, 41005, ["star-single.test", "star-alias.test"], 5, True, b),
        v(None, 41005, ["quoted name.test", "Upper.TEST"], 9, False, b),
    ]
    assert parse_dump_vhosts(SINGLE_AGAIN)[:2] == [
        v("127.0.0.1", 53461, ["single.test", "single-alias.test", "*.single-wild.test"], 1, True, b),
        v("127.0.0.1", 53461, [lv.DUMMY_NAME], 1, False, "-c/-C directives"),
    ]


def test_parse_debian_default_and_wildcard_addresses():
    assert parse_dump_vhosts(DEBIAN_DEFAULT) == [
        v(None, 80, ["127.0.0.1"], 1, True, "/etc/apache2/sites-enabled/000-default.conf")]
    c = "/tmp/lv/c/vhosts.conf"
    assert parse_dump_vhosts(WILDCARDS) == [
        v("fe80::1%lo", 39037, ["scoped.test"], 13, True, c),
        v("127.0.0.1", 39037, ["byname.test"], 10, True, c),
        v(None, 53993, ["zero.test"], 1, True, c),
        v(None, 53993, ["star.test"], 4, False, c),
        v(None, 53993, ["v6any.test"], 7, False, c),
    ]


def test_parse_skips_what_comes_before_the_header():
    text = "AH00558: apache2: Could not reliably determine the server's fully qualified domain name\n" + DEBIAN_DEFAULT
    assert len(parse_dump_vhosts(text)) == 1
    assert parse_dump_vhosts("VirtualHost configuration:\n") == []


def test_parse_a_file_name_with_spaces_and_parentheses():
    text = "VirtualHost configuration:\n*:80                   a.test (/etc/my sites (old)/a.conf:12)\n"
    assert parse_dump_vhosts(text) == [v(None, 80, ["a.test"], 12, True, "/etc/my sites (old)/a.conf")]


@pytest.mark.parametrize("text, message", [
    ("", "no 'VirtualHost configuration:' line in the output: (empty)"),
    ("Syntax OK\n", "no 'VirtualHost configuration:' line in the output: Syntax OK"),
    ("VirtualHost configuration:\n*:80 is something else\n", "line 2: expected 'NAME (FILE:LINE)', got '*:80 is some"),
    ("VirtualHost configuration:\n         port 80 namevhost a (/a.conf:1)\n", "line 2: unexpected '         port 80"),
    ("VirtualHost configuration:\n*:80  a.test (/a.conf:1)\n                 alias b\n", "line 3: unexpected"),
    ("VirtualHost configuration:\nsomething odd\n", "line 2: unexpected 'something odd'"),
])
def test_parse_refuses_what_it_cannot_read(text, message):
    with pytest.raises(LiveVhostsError) as info:
        parse_dump_vhosts(text)
    assert str(info.value).startswith("cannot read Apache's vhost dump: " + message), str(info.value)


class FakeApache:
    """run_command for read_live_vhosts: answers the first dump and the dump with the placeholder vhost."""

    def __init__(self, first, second=None, rc=0, err=""):
        self.first, self.second, self.rc, self.err, self.calls = first, second, rc, err, []

    def __call__(self, argv):
        self.calls.append(argv)
        return self.rc, (self.second if "ServerName " + lv.DUMMY_NAME in argv else self.first), self.err


def test_read_live_vhosts_fills_in_the_aliases_of_single_vhosts():
    apache = FakeApache(SINGLE, SINGLE_AGAIN)
    got = read_live_vhosts(["apache2", "-t", "-f", "/tmp/lv/b/httpd.conf"], apache)
    assert [x["names"] for x in got] == [["single.test", "single-alias.test", "*.single-wild.test"],
                                         ["star-single.test", "star-alias.test"], ["quoted name.test", "Upper.TEST"]]
    assert [x["default"] for x in got] == [True, True, False]
    assert apache.calls == [
        ["apache2", "-t", "-f", "/tmp/lv/b/httpd.conf", "-D", "DUMP_VHOSTS"],
        ["apache2", "-t", "-f", "/tmp/lv/b/httpd.conf", "-D", "DUMP_VHOSTS",
         "-c", "<VirtualHost 127.0.0.1:53461>", "-c", "ServerName revproxy-tls-dump.invalid", "-c", "</VirtualHost>"],
    ]


def test_read_live_vhosts_places_one_placeholder_on_every_single_address():
    apache = FakeApache(MANY, MANY)  # (the second answer does not matter here: only the argv is checked)
    with pytest.raises(LiveVhostsError):
        read_live_vhosts(lambda args: ["httpd", "-t"] + args, apache)
    assert apache.calls[1][-6:] == [
        "-c", "<VirtualHost [::1]:56117 [::1]:59039 127.0.0.1:56117 *:*>", "-c", "ServerName revproxy-tls-dump.invalid",
        "-c", "</VirtualHost>"]


def test_read_live_vhosts_runs_once_when_every_address_has_a_name_chain():
    apache = FakeApache(WILDCARDS.replace("[fe80::1%lo]:39037     scoped.test (/tmp/lv/c/vhosts.conf:13)\n", "")
                        .replace("127.0.0.1:39037        byname.test (/tmp/lv/c/vhosts.conf:10)\n", ""))
    assert len(read_live_vhosts(["httpd", "-t"], apache)) == 3 and len(apache.calls) == 1


def test_read_live_vhosts_says_when_the_arguments_do_not_reach_httpd():
    # Debian's config test wrapper as it was (exec "$2" -t -f "$3"): the extra arguments are dropped.
    with pytest.raises(LiveVhostsError, match=r"^no vhost dump from .*httpd did not get -D DUMP_VHOSTS .*Syntax OK"):
        read_live_vhosts(["sh", "-c", "...", "sh", "envvars", "apache2", "conf"], FakeApache("", err="Syntax OK\n"))
    # -D reached httpd but the -c directives did not.
    with pytest.raises(LiveVhostsError, match=r"^the placeholder vhost did not show on 127\.0\.0\.1:53461: httpd did "
                                              r"not get the -c directives"):
        read_live_vhosts(["httpd", "-t"], FakeApache(SINGLE, SINGLE))


def test_read_live_vhosts_fails_with_the_config_test():
    err = "AH00526: Syntax error on line 3 of /etc/apache2/sites-enabled/x.conf:\nInvalid command 'Bogus'\n"
    with pytest.raises(LiveVhostsError, match=r"^Apache's configuration test failed \(rc 1\), so its vhosts cannot be "
                                              r"read: AH00526: Syntax error on line 3"):
        read_live_vhosts(["httpd", "-t"], FakeApache("", rc=1, err=err))
