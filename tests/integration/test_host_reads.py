"""What the modules read on the host, with real Apache and real special files (issue 21, classes 7-8 and 11).

- The hand-written vhosts of a live configuration, read from Apache 2.4 itself (`-t -D DUMP_VHOSTS`) by
  apache/_live_vhosts.read_live_vhosts(): names, aliases (also of an address:port with a single vhost, which the dump
  prints without them), wildcard aliases, the default server of each address:port; `*`, `_default_`, `0.0.0.0` and
  `[::]` are one address for Apache.
- Bounded reads: an error log, a certificate or a trust file that is a FIFO, /dev/zero or a directory fails at once
  with a message naming the field and the path (before: a FIFO hung the module, /dev/zero ate its memory).
"""
import json
import os
import shutil
import subprocess

import pytest

from conftest import run_playbook
from support.apache import HTTPD, PrivateApache

from ansible_collections.revproxy.tls.plugins.module_utils.apache._layout import Layout
from ansible_collections.revproxy.tls.plugins.module_utils.apache._live_vhosts import (
    LiveVhostsError,
    read_live_vhosts,
)

pytestmark = [pytest.mark.apache, pytest.mark.skipif(not shutil.which(HTTPD), reason="needs Apache httpd")]


def run_command(argv):
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    return proc.returncode, proc.stdout, proc.stderr


@pytest.fixture(scope="module")
def private(tmp_path_factory, module_port):
    """A private Apache config (not started) with vhosts of every shape the dump prints."""
    workdir = tmp_path_factory.mktemp("live-vhosts")
    p2, p3 = module_port(), module_port()
    httpd = PrivateApache(str(workdir / "apache"), extra_global="Listen 127.0.0.1:%d\nListen %d\n" % (p2, p3))
    port = httpd.port
    httpd.set_vhosts("""
<VirtualHost *:{p3}>
    ServerName star-default.test
</VirtualHost>
<VirtualHost *:{p3}>
    ServerName star2.test
    ServerAlias alias-a.test *.wild.test
</VirtualHost>
<VirtualHost 0.0.0.0:{p3}>
    ServerName zero.test
</VirtualHost>
<VirtualHost 127.0.0.1:{port}>
    ServerName single.test
    ServerAlias single-alias.test *.single-wild.test
</VirtualHost>
<VirtualHost 127.0.0.1:{p2} [::1]:{p2}>
    ServerName multi.test
    ServerAlias multi-alias.test
</VirtualHost>
<IfModule mod_nonexistent.c>
    <VirtualHost *:{p2}>
        ServerName never.test
    </VirtualHost>
</IfModule>
<VirtualHost _default_:{p2}>
    ServerName default-underscore.test
</VirtualHost>
""".format(port=port, p2=p2, p3=p3))
    httpd.write_config()
    return {"httpd": httpd, "port": port, "p2": p2, "p3": p3, "file": httpd.vhosts_path}


def expected(private):
    f, port, p2, p3 = private["file"], private["port"], private["p2"], private["p3"]
    with open(f) as handle:
        text = handle.read().splitlines()

    def v(address, port, names, default):
        # the line of the <VirtualHost> that holds "ServerName names[0]"
        at = next(i for i, line in enumerate(text) if line.strip() == "ServerName %s" % names[0])
        line = next(i for i in range(at, -1, -1) if text[i].lstrip().startswith("<VirtualHost")) + 1
        return {"address": address, "port": port, "names": names, "file": f, "line": line, "default": default}
    return [
        v("::1", p2, ["multi.test", "multi-alias.test"], True),
        v("127.0.0.1", port, ["single.test", "single-alias.test", "*.single-wild.test"], True),
        v("127.0.0.1", p2, ["multi.test", "multi-alias.test"], True),
        v(None, p3, ["star-default.test"], True),
        v(None, p3, ["star2.test", "alias-a.test", "*.wild.test"], False),
        v(None, p3, ["zero.test"], False),  # 0.0.0.0 is `*` for Apache's vhost table
        v(None, p2, ["default-underscore.test"], True),  # the IfModule'd vhost is not there
    ]


def test_live_vhosts_of_a_real_config(private):
    got = read_live_vhosts([HTTPD, "-t", "-f", private["httpd"].conf_path], run_command)
    assert sorted(got, key=repr) == sorted(expected(private), key=repr)


def test_live_vhosts_through_the_layouts_config_test_command(private):
    """The command the role runs for its config test (Debian: envvars sourced by /bin/sh, then the binary)."""
    layout = Layout.debian(config_root=os.path.dirname(private["httpd"].conf_path), binary=HTTPD)
    command = layout.config_test_command(private["httpd"].conf_path)
    got = read_live_vhosts(command, run_command)  # the extra arguments (-D, -c) reach httpd through the wrapper
    assert sorted(got, key=repr) == sorted(expected(private), key=repr)


def test_a_broken_config_is_a_clear_error(tmp_path):
    httpd = PrivateApache(str(tmp_path / "apache"))
    httpd.set_vhosts("<VirtualHost *:%d>\n    ServerName x.test\n    NoSuchDirective on\n</VirtualHost>\n" % httpd.port)
    httpd.write_config()
    with pytest.raises(LiveVhostsError, match=r"(?s)^Apache.s configuration test failed \(rc 1\), so its vhosts cannot "
                                              r"be read: AH00526: Syntax error on line 3 .*Invalid command .NoSuchDirective."):
        read_live_vhosts([HTTPD, "-t", "-f", httpd.conf_path], run_command)


# --- bounded reads through the modules --------------------------------------------------------------------------------

READS_PLAY = """
- name: Special files given where the modules read a file
  hosts: localhost
  gather_facts: false
  vars:
    site:
      name: reads
      server_name: reads.test
      listen: {port: %(port)d, address: 127.0.0.1}
      locations: [{path: /, backend: "http://127.0.0.1:%(port)d/"}]
  tasks:
    - name: Probe with an error log that is not a file
      revproxy.tls.apache_proxy_probe:
        sites: ["{{ site }}"]
        tls_dir: %(tmp)s/tls
        error_log: "{{ item.0 }}"
        wait_for_reload: "{{ item.1 }}"
        reload_timeout: 2
        settle: 0
        timeout: 2
      loop: "{{ [%(fifo)r, '/dev/zero', %(tmp)r] | product([true, false]) | list }}"
      register: probe
      ignore_errors: true
    - name: Frontend certificate check with special files
      revproxy.tls.frontend_certificate:
        sites:
          - name: front
            server_name: front.test
            tls: {certificate_file: "{{ item }}", key_file: "{{ item }}"}
            locations: [{path: /, backend: "http://127.0.0.1:%(port)d/"}]
        tls_dir: %(tmp)s/tls
        trust_file: %(trust)s
      loop: [%(fifo)r, /dev/zero]
      register: front
      ignore_errors: true
    - name: Frontend certificate check with a trust file that is a FIFO
      revproxy.tls.frontend_certificate:
        sites: []
        tls_dir: %(tmp)s/tls
        trust_file: %(fifo)s
      register: trust
      ignore_errors: true
    - name: Keep the results
      ansible.builtin.copy:
        content: "{{ {'probe': probe.results, 'front': front.results, 'trust': trust} | to_json }}"
        dest: %(tmp)s/results.json
        mode: "0600"
"""


def test_special_files_fail_clearly_through_the_modules(tmp_path, reserved_port):
    fifo = str(tmp_path / "pipe")
    os.mkfifo(fifo)
    port = reserved_port("127.0.0.1")
    play = READS_PLAY % {"port": port, "tmp": str(tmp_path), "fifo": fifo, "trust": "/etc/ssl/certs/ca-certificates.crt"}
    res = run_playbook(play, timeout=180)  # before: the FIFO hung the first task until this timeout
    assert res.failed == 0, res  # (ignore_errors: the failures are in the results)
    with open(str(tmp_path / "results.json")) as handle:
        data = json.load(handle)
    kinds = ["a FIFO (named pipe)"] * 2 + ["a character device"] * 2 + ["a directory"] * 2
    paths = [fifo] * 2 + ["/dev/zero"] * 2 + [str(tmp_path)] * 2
    assert [r["msg"] for r in data["probe"]] == [
        "error_log: %s is %s, not a regular file" % (p, k) for p, k in zip(paths, kinds)], res
    assert all(r.get("failed") for r in data["probe"])
    for path, result in zip([fifo, "/dev/zero"], data["front"]):
        problems = [p["message"] for r in result["results"] for p in r["problems"]]
        assert problems == ["tls.certificate_file: %s cannot be read" % path,
                            "tls.key_file: %s cannot be read" % path], result
    assert data["trust"]["msg"] == "trust_file: %s cannot be read" % fifo, data["trust"]
