"""apache/_audit_parse: the include tree, vhosts, routes and settings with file and line; what it cannot decide is
reported, never guessed; hostile trees are bounded."""
import os

import pytest

from ansible_collections.revproxy.tls.plugins.module_utils.apache import _audit_parse as ap
from ansible_collections.revproxy.tls.plugins.module_utils.apache._render import MANAGED_MARKER


def tree(tmp_path, files, **kwargs):
    root = tmp_path / "conf"
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
    kwargs.setdefault("modules", ap.DEFAULT_BUILTIN + ("mod_ssl.c", "ssl_module", "proxy_module"))
    return ap.read_tree(str(root / "main.conf"), **kwargs), str(root)


def kinds(result):
    return sorted(p["kind"] for p in result["problems"])


# (name, files, check(result, root)) -----------------------------------------------------------------------------
CASES = [
    ("vhost names addresses and line numbers",
     {"main.conf": "# c\nInclude sites/*.conf\n",
      "sites/a.conf": "<VirtualHost 127.0.0.1:8443 [::1]:8443>\n  ServerName a.test\n  ServerAlias www.a.test "
                      "*.a.test\n  ProxyPass / https://b.test:9443/\n</VirtualHost>\n"},
     lambda r, root: (r["vhosts"][0]["addresses"] == ["127.0.0.1:8443", "[::1]:8443"]
                      and r["vhosts"][0]["server_name"]["args"] == ["a.test"]
                      and r["vhosts"][0]["names"] == ["www.a.test", "*.a.test"]
                      and r["vhosts"][0]["routes"][0] == {"file": root + "/sites/a.conf", "line": 4,
                                                          "kind": "ProxyPass", "path": "/",
                                                          "target": "https://b.test:9443/", "regex": False}
                      and r["vhosts"][0]["line"] == 1 and not r["problems"])),
    ("continuation lines keep the first line's number",
     {"main.conf": "<VirtualHost *:80>\nProxyPass /x \\\n   https://b.test/x\nSSLProxyVerify none\n</VirtualHost>\n"},
     lambda r, root: (r["vhosts"][0]["routes"][0]["line"] == 2
                      and r["vhosts"][0]["routes"][0]["target"] == "https://b.test/x"
                      and r["vhosts"][0]["settings"]["sslproxyverify"]["line"] == 4)),
    ("server-level settings stay at server level",
     {"main.conf": "SSLProxyCACertificateFile /ca.pem\nSSLProxyVerify require\n<VirtualHost *:80>\n"
                   "SSLProxyVerifyDepth 3\n</VirtualHost>\n"},
     lambda r, root: (set(r["server"]["settings"]) == {"sslproxycacertificatefile", "sslproxyverify"}
                      and set(r["vhosts"][0]["settings"]) == {"sslproxyverifydepth"})),
    ("ProxyPassMatch, RewriteRule [P] kept, RewriteRule without P and ProxyPass ! left out",
     {"main.conf": "<VirtualHost *:80>\nProxyPassMatch ^/api/(.*)$ https://api.test:8443/$1\n"
                   "RewriteRule ^/r/(.*) https://r.test/$1 [P,L]\nRewriteRule ^/old /new [R]\n"
                   "ProxyPass /static !\n</VirtualHost>\n"},
     lambda r, root: [(x["kind"], x["target"]) for x in r["vhosts"][0]["routes"]] == [
         ("ProxyPassMatch", "https://api.test:8443/$1"), ("RewriteRule", "https://r.test/$1")]),
    ("Location with ProxyPass and its own ProxyPreserveHost",
     {"main.conf": "<VirtualHost *:80>\n<Location /app/>\nProxyPass https://app.test/\nProxyPreserveHost On\n"
                   "</Location>\n</VirtualHost>\n"},
     lambda r, root: (r["vhosts"][0]["routes"][0]["path"] == "/app/"
                      and r["vhosts"][0]["routes"][0]["location_settings"]["proxypreservehost"]["args"] == ["On"]
                      and "proxypreservehost" not in r["vhosts"][0]["settings"])),
    ("balancer members inside <Proxy> and SSLProxy* of the section",
     {"main.conf": "<VirtualHost *:80>\n<Proxy balancer://pool>\nBalancerMember https://m1.test:8443\n"
                   "BalancerMember https://m2.test:8443\nSSLProxyVerifyDepth 5\n</Proxy>\n"
                   "ProxyPass / balancer://pool/\n</VirtualHost>\n"},
     lambda r, root: ([m["url"] for m in r["vhosts"][0]["proxies"][0]["members"]] ==
                      ["https://m1.test:8443", "https://m2.test:8443"]
                      and r["vhosts"][0]["proxies"][0]["settings"]["sslproxyverifydepth"]["line"] == 5)),
    ("BalancerMember outside a section names its balancer",
     {"main.conf": "<VirtualHost *:80>\nBalancerMember balancer://p https://m.test\nProxyPass / balancer://p/\n"
                   "</VirtualHost>\n"},
     lambda r, root: r["vhosts"][0]["proxies"][0]["members"][0]["url"] == "https://m.test"),
    ("IfModule decided from LoadModule and the built-in list",
     {"main.conf": "<IfModule mod_rewrite.c>\nSSLProxyVerify none\n</IfModule>\n"
                   "LoadModule rewrite_module /x/mod_rewrite.so\n<IfModule mod_rewrite.c>\nSSLProxyVerifyDepth 2\n"
                   "</IfModule>\n<IfModule !core.c>\nSSLProxyCheckPeerName off\n</IfModule>\n"},
     lambda r, root: set(r["server"]["settings"]) == {"sslproxyverifydepth"} and not r["problems"]),
    ("IfDefine of a name the config defines is decided; an unknown one is reported and left out",
     {"main.conf": "Define ON\n<IfDefine ON>\nSSLProxyVerify require\n</IfDefine>\n<IfDefine !ON>\n"
                   "SSLProxyVerify none\n</IfDefine>\n<IfDefine OTHER>\nSSLProxyVerifyDepth 9\n</IfDefine>\n"},
     lambda r, root: (r["server"]["settings"]["sslproxyverify"]["args"] == ["require"]
                      and "sslproxyverifydepth" not in r["server"]["settings"] and kinds(r) == ["ifdefine"]
                      and r["problems"][0]["line"] == 8)),
    ("IfDefine decided when the command line's defines are known",
     {"main.conf": "<IfDefine OTHER>\nSSLProxyVerifyDepth 9\n</IfDefine>\n"},
     lambda r, root: r["server"]["settings"] == {} and not r["problems"]),
    ("${VAR} in a directive that matters is reported, never substituted",
     {"main.conf": "Define BE https://b.test/\n<VirtualHost *:80>\nProxyPass / ${BE}\nErrorLog ${LOG}/e\n"
                   "</VirtualHost>\n"},
     lambda r, root: (r["vhosts"][0]["routes"] == [] and kinds(r) == ["variable"]
                      and r["problems"][0]["line"] == 3 and r["problems"][0]["file"] == root + "/main.conf")),
    ("<If> and mod_macro are reported and their contents left out",
     {"main.conf": "<Macro VH $n>\n<VirtualHost *:80>\nProxyPass / https://$n/\n</VirtualHost>\n</Macro>\n"
                   "Use VH x.test\n<If \"%{HTTP_HOST} == 'a'\">\nSSLProxyVerify none\n</If>\n"},
     lambda r, root: r["vhosts"] == [] and r["server"]["settings"] == {} and kinds(r) == ["if_section", "macro",
                                                                                          "macro"]),
    ("a managed file's vhost is marked",
     {"main.conf": "Include m.conf\n",
      "m.conf": MANAGED_MARKER + "\n<VirtualHost *:443>\nServerName m.test\n</VirtualHost>\n"},
     lambda r, root: r["vhosts"][0]["managed"] and r["files"][1]["managed"] and not r["files"][0]["managed"]),
    ("the marker below line 1 is a hand-written file (as the role and adopt decide): audited, not hidden",
     {"main.conf": "Include m.conf\n",
      "m.conf": "# copied\n" + MANAGED_MARKER + "\n<VirtualHost *:443>\nServerName m.test\n</VirtualHost>\n"},
     lambda r, root: not r["vhosts"][0]["managed"] and not r["files"][1]["managed"]),
    ("an unclosed section is reported",
     {"main.conf": "Include a.conf\n", "a.conf": "<VirtualHost *:80>\nServerName a.test\n"},
     lambda r, root: kinds(r) == ["syntax"] and r["problems"][0]["file"] == root + "/a.conf"),
    ("IncludeOptional of nothing is no problem; Include of a directory reads it sorted",
     {"main.conf": "IncludeOptional none/*.conf\nInclude d\n", "d/b.conf": "SSLProxyVerifyDepth 2\n",
      "d/a.conf": "SSLProxyVerifyDepth 1\n"},
     lambda r, root: (r["server"]["settings"]["sslproxyverifydepth"]["args"] == ["2"]
                      and [os.path.basename(f["path"]) for f in r["files"]] == ["main.conf", "a.conf", "b.conf"])),
    ("a directory is read with its subdirectories; a glob skips hidden files",
     {"main.conf": "Include d2\nInclude g/*.conf\n", "d2/sub/z.conf": "SSLProxyVerifyDepth 5\n",
      "d2/a.conf": "SSLProxyVerifyDepth 4\n", "g/.hidden.conf": "SSLProxyVerify none\n"},
     lambda r, root: (r["server"]["settings"]["sslproxyverifydepth"]["args"] == ["5"]
                      and "sslproxyverify" not in r["server"]["settings"] and not r["problems"])),
    ("ServerRoot sets where relative includes are read from",
     {"main.conf": "ServerRoot %(root)s/sub\nInclude x.conf\n", "sub/x.conf": "SSLProxyVerifyDepth 7\n"},
     lambda r, root: r["server"]["settings"]["sslproxyverifydepth"]["file"] == root + "/sub/x.conf"),
]


@pytest.mark.parametrize("name,files,check", CASES, ids=[c[0] for c in CASES])
def test_parse(tmp_path, name, files, check):
    root = str(tmp_path / "conf")
    files = dict((k, v.replace("%(root)s", root) if isinstance(v, str) else v) for k, v in files.items())
    defines = {} if name.startswith("IfDefine decided") else None
    result, root = tree(tmp_path, files, defines=defines)
    assert check(result, root), result


# Hostile trees: (name, setup(root), problem kind expected) -------------------------------------------------------
def _loop(root):
    (root / "main.conf").write_text("Include a.conf\n")
    (root / "a.conf").write_text("Include main.conf\n")


def _deep(root):
    (root / "main.conf").write_text("Include d0.conf\n")
    for i in range(40):
        (root / ("d%d.conf" % i)).write_text("Include d%d.conf\n" % (i + 1))


def _huge(root):
    (root / "main.conf").write_text("Include big.conf\n")
    with open(str(root / "big.conf"), "wb") as handle:
        handle.truncate(5 << 20)


def _binary(root):
    (root / "main.conf").write_text("Include bin.conf\n")
    (root / "bin.conf").write_bytes(b"\x7fELF\x00\x01\x02ProxyPass / https://x/\n")


def _outside(root):
    (root / "main.conf").write_text("Include link.conf\n")
    os.symlink("/etc/passwd", str(root / "link.conf"))


def _devzero(root):
    (root / "main.conf").write_text("Include /dev/zero\n")


def _fifo(root):
    (root / "main.conf").write_text("Include fifo.conf\n")
    os.mkfifo(str(root / "fifo.conf"))


def _many_lines(root):
    (root / "main.conf").write_text("Include a.conf\nInclude a.conf\nInclude a.conf\n")
    (root / "a.conf").write_text("# x\n" * 400)


HOSTILE = [("include loop", _loop, "include_loop"), ("deep includes", _deep, "include_depth"),
           ("huge file", _huge, "unreadable_size"), ("binary file", _binary, "binary"),
           ("symlink out of the tree", _outside, "outside_tree"), ("/dev/zero", _devzero, "outside_tree"),
           ("FIFO", _fifo, "unreadable_kind"), ("too many lines", _many_lines, "too_many_lines")]


@pytest.mark.parametrize("name,setup,kind", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_trees_are_bounded_and_reported(tmp_path, name, setup, kind):
    root = tmp_path / "conf"
    root.mkdir()
    setup(root)
    result = ap.read_tree(str(root / "main.conf"), limits={"max_lines": 1000})
    assert kind in kinds(result), result["problems"]
    assert len(result["files"]) <= ap.LIMITS["max_depth"] + 1


@pytest.mark.parametrize("url,dynamic", [("https://b.test/$1", False), ("https://$1.test/", True),
                                         ("https://%{HTTP_HOST}/", True), ("/local", True),
                                         ("https://b.test:8443/%{REQUEST_URI}", False)])
def test_dynamic_target(url, dynamic):
    assert ap.dynamic_target(url) is dynamic


def test_an_include_outside_the_tree_is_read_only_when_httpd_reads_it(tmp_path):
    """certbot's Include /etc/letsencrypt/options-ssl-apache.conf is read when httpd says it reads it (DUMP_INCLUDES),
    reported as outside the tree otherwise."""
    outside = tmp_path / "elsewhere.conf"
    outside.write_text("SSLProxyVerifyDepth 3\n")
    root = tmp_path / "conf"
    root.mkdir()
    (root / "main.conf").write_text("Include %s\n" % outside)
    alone = ap.read_tree(str(root / "main.conf"))
    assert kinds(alone) == ["outside_tree"] and alone["server"]["settings"] == {}
    confirmed = ap.read_tree(str(root / "main.conf"), confirmed=[str(outside)])
    assert not confirmed["problems"] and confirmed["server"]["settings"]["sslproxyverifydepth"]["args"] == ["3"]
