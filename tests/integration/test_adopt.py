"""Adopt (issue 24) on the system Apache, through the apache_proxy role: a hand-written vhost is taken over by a
managed site in one change.

The hand-written file (/etc/apache2/sites-available/revproxy-test-adopt-hand.conf, enabled by its sites-enabled link
as a2ensite does) answers adopt-hand.test and www.adopt-hand.test on *:80 with a 307 to hand-written.invalid. The
managed site has the same address, port and names and proxies to a real backend on loopback.

- adopted: the managed site answers (the backend's body), the link is gone, the file is untouched; a second run
  changes nothing;
- a probe that fails (the backend's port bound and never listening, preflight off) rolls the change back: the link
  and the file are byte-identical to before and the hand-written vhost answers again;
- a site whose port or names disagree with the hand-written vhost, or that names /etc/passwd, is refused naming the
  difference, and nothing in /etc/apache2 changes.

Holds the system-Apache lock (conftest.system_apache); the hand-written file and link are removed again and Apache
reloaded, also on failure.

The RHEL layout's way (a regular file in conf.d, disabled by a rename to <file>.disabled) runs on the private
RHEL-shaped tree of test_redhat_layout (Debian's apache2 binary, no lock): the module's own validation with the vhosts
the running httpd reads, the candidate config test, apply, reload, rollback to the byte-identical tree and the
hand-written vhost answering again, then commit and a second plan with nothing to do.
"""
import hashlib
import os
import re
import subprocess
import time

import pytest

from ansible_collections.revproxy.tls.plugins.module_utils.apache import _host_checks
from ansible_collections.revproxy.tls.plugins.module_utils.apache._config_test import candidate_config_test
from ansible_collections.revproxy.tls.plugins.module_utils.apache._live_vhosts import read_live_vhosts
from ansible_collections.revproxy.tls.plugins.module_utils.apache._plan import desired_state, is_managed, plan
from ansible_collections.revproxy.tls.plugins.module_utils.deploy._transaction import (
    apply,
    begin_transaction,
    commit,
    rollback,
)
from ansible_collections.revproxy.tls.plugins.module_utils.model._backend_tls import ConfigError
from conftest import CONFIG_ROOT, apply_role, get, snapshot
from support.backends import PlainHTTPBackend
from test_redhat_layout import Httpd, config_tree, rhel_tree, run_command  # noqa: F401 # pylint: disable=unused-import

pytestmark = pytest.mark.skipif(not os.path.exists("/usr/sbin/apache2"), reason="needs Apache httpd")

HAND_NAME = "revproxy-test-adopt-hand.conf"
HAND_FILE = os.path.join(CONFIG_ROOT, "sites-available", HAND_NAME)
HAND_LINK = os.path.join(CONFIG_ROOT, "sites-enabled", HAND_NAME)
HAND = """# Hand-written, before revproxy.tls (tests/integration/test_adopt.py)
<VirtualHost *:80>
    ServerName adopt-hand.test
    ServerAlias www.adopt-hand.test
    Redirect 307 / http://hand-written.invalid/
</VirtualHost>
"""


def _reload():
    subprocess.run(["apache2ctl", "graceful"], check=True, capture_output=True)


def _answer(host="adopt-hand.test", want=None, timeout=15.0):
    """(status, body) for host on port 80; with `want`, waits until the status is that (a graceful reload's old
    children may answer a moment longer)."""
    deadline = time.monotonic() + timeout
    while True:
        got = get("/", host=host, port=80)
        if want is None or got[0] == want or time.monotonic() > deadline:
            return got
        time.sleep(0.2)


def _state():
    """The hand-written file's bytes and mode, and the link's target (None when there is none)."""
    with open(HAND_FILE, "rb") as handle:
        data = handle.read()
    return (hashlib.sha256(data).hexdigest(), oct(os.stat(HAND_FILE).st_mode),
            os.readlink(HAND_LINK) if os.path.islink(HAND_LINK) else None)


@pytest.fixture()
def hand_written(system_apache):
    """The hand-written vhost, enabled and serving (inside the system-Apache lock); removed again afterwards."""
    with open(HAND_FILE, "w") as handle:
        handle.write(HAND)
    os.chmod(HAND_FILE, 0o640)
    os.symlink("../sites-available/" + HAND_NAME, HAND_LINK)
    try:
        _reload()
        assert _answer(want=307)[0] == 307
        yield _state()
    finally:
        for path in (HAND_LINK, HAND_FILE, HAND_FILE + ".disabled"):
            if os.path.lexists(path):
                os.unlink(path)
        _reload()


@pytest.fixture()
def backend():
    server = PlainHTTPBackend(body=b"managed site answers")
    try:
        yield server
    finally:
        server.stop()


def _site(port, **kw):
    return dict({"name": "adopt-managed", "server_name": "adopt-hand.test", "server_aliases": ["www.adopt-hand.test"],
                 "listen": {"port": 80}, "locations": [{"path": "/", "backend": "http://127.0.0.1:%d/" % port}],
                 "replaces": {"file": HAND_FILE, "vhost": "adopt-hand.test"}}, **kw)


def test_a_hand_written_vhost_is_adopted_and_a_second_run_changes_nothing(hand_written, backend):
    res = apply_role([_site(backend.port)], apache_proxy_install=False)
    assert res.rc == 0, res
    for host in ("adopt-hand.test", "www.adopt-hand.test"):
        status, body = _answer(host, want=200)
        assert status == 200 and body.startswith("managed site answers"), (host, status, body)
    digest, mode, link = _state()
    assert (digest, mode) == hand_written[:2] and link is None  # disabled as a2dissite does; the file untouched
    again = apply_role([_site(backend.port)], apache_proxy_install=False)
    assert again.rc == 0 and again.changed == 0, again
    assert _state() == (digest, mode, None)


def test_a_failed_probe_brings_the_hand_written_vhost_back_byte_identical(hand_written, backend, reserved_port):
    dead = reserved_port()  # bound, never listening: the probe's request gets a 503
    res = apply_role([_site(dead)], apache_proxy_install=False, apache_proxy_preflight="off")
    assert res.rc != 0, res
    assert "rolled back - probe failed" in res.stdout, res
    assert _state() == hand_written
    assert _answer(want=307)[0] == 307
    assert not os.path.lexists(os.path.join(CONFIG_ROOT, "sites-available", "adopt-managed.conf"))


REFUSED = [
    ({"listen": {"port": 8081}}, r"listens on \*:80 with the names adopt-hand.test, www.adopt-hand.test; the site "
                                 r"on \*:8081"),
    ({"server_aliases": []}, "and the site disagree"),
    ({"replaces": {"file": "/etc/passwd"}}, "is not a file directly in"),
]  # the other refusals (the main config, links out, a FIFO, a missing vhost...) are unit cases (test_adopt.py)


def test_a_disagreement_is_refused_and_nothing_changes(hand_written, backend):
    """One hand-written vhost, three refused runs (one system-Apache setup: each run stops in the plan)."""
    before = snapshot()
    for change, message in REFUSED:
        res = apply_role([_site(backend.port, **change)], apache_proxy_install=False, apache_proxy_preflight="off")
        assert res.rc != 0, (change, res)
        assert "replaces.file: " in res.stdout and re.search(message, res.stdout), (change, res)
        assert snapshot() == before, change
        assert _state() == hand_written, change
    assert _answer(want=307)[0] == 307


def _rhel_validate(layout, sites):
    """What apache_proxy_sites validates before it plans (apache/_host_checks.effective_sites with the running
    configuration's vhosts and the layout), as the module calls it."""
    live = read_live_vhosts(lambda args: layout.config_test_command(layout.main_config, args), run_command)
    return _host_checks.effective_sites(sites, {}, layout.tls_dir, None, live=live, is_managed=is_managed,
                                        managed_dir=layout.managed_dir(), layout=layout)[1]


def _hand_answers(port):
    status, body = get("/", host="hand.rhel.test", port=port)
    assert status == 200 and body.startswith("hand-written answers"), (status, body)
    return True


def test_rhel_conf_d_file_is_renamed_and_restored_on_a_live_httpd(rhel_tree, backend):  # noqa: F811 # pylint: disable=redefined-outer-name
    layout, root, port = rhel_tree["layout"], rhel_tree["root"], rhel_tree["http_port"]
    hand = os.path.join(root, "conf.d", "hand.conf")
    hand_backend = PlainHTTPBackend(body=b"hand-written answers")  # the tree loads no mod_alias: proxy instead
    with open(hand, "w") as handle:
        handle.write(HAND.replace("*:80", "127.0.0.1:%d" % port).replace("adopt-hand.test", "hand.rhel.test")
                     .replace("Redirect 307 / http://hand-written.invalid/",
                              "ProxyPass / http://127.0.0.1:%d/" % hand_backend.port))
    os.chmod(hand, 0o600)
    site = {"name": "hand-managed", "server_name": "hand.rhel.test", "server_aliases": ["www.hand.rhel.test"],
            "listen": {"port": port, "address": "127.0.0.1"},
            "locations": [{"path": "/", "backend": "http://127.0.0.1:%d/" % backend.port}],
            "replaces": {"file": hand}}
    httpd = Httpd(layout)
    httpd.start()
    try:
        assert _hand_answers(port)
        before = config_tree(root)
        with pytest.raises(ConfigError, match="and the site disagree"):
            _rhel_validate(layout, [dict(site, server_aliases=[])])
        actions = plan(desired_state(_rhel_validate(layout, [site]), layout, "warn"), layout)
        hand_actions = [(a["action"], os.path.relpath(a["entry"].path, root)) for a in actions
                        if "hand.conf" in a["entry"].path]
        assert hand_actions == [("remove", "conf.d/hand.conf"), ("write", "conf.d/hand.conf.disabled")]
        ok, out = candidate_config_test(actions, layout, run_command)
        assert ok, out
        assert config_tree(root) == before
        begin_transaction(layout, apply(actions))
        httpd.reload()
        status, body = get("/", host="www.hand.rhel.test", port=port)
        assert status == 200 and body.startswith("managed site answers"), (status, body)

        rollback(layout)  # what a failed probe does
        assert config_tree(root) == before  # hand.conf byte-identical, same mode; no .disabled copy
        httpd.reload()
        assert _hand_answers(port)

        actions = plan(desired_state(_rhel_validate(layout, [site]), layout, "warn"), layout)
        begin_transaction(layout, apply(actions))
        commit(layout)
        httpd.reload()
        assert get("/", host="hand.rhel.test", port=port)[1].startswith("managed site answers")
        assert not os.path.exists(hand)
        with open(hand + ".disabled") as handle:
            assert handle.read().startswith("# Hand-written")
        assert oct(os.stat(hand + ".disabled").st_mode & 0o7777) == "0o600"
        assert plan(desired_state(_rhel_validate(layout, [site]), layout, "warn"), layout) == []
    finally:
        httpd.stop()
        hand_backend.stop()
