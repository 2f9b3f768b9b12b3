"""Layout.redhat() against this machine's real Apache binary: a temporary tree laid out as RHEL 9 lays out /etc/httpd
(conf/httpd.conf including conf.modules.d/*.conf and conf.d/*.conf, the packages' 00-base/00-proxy/00-ssl module
files, mod_ssl's conf.d/ssl.conf with its own Listen and default vhost), served by a private httpd (Debian's apache2
binary, started with -f on that tree). Plan, the in-context candidate config test, apply, requests through the proxy
to a real TLS backend, prune, and a rollback that restores the tree byte for byte.

This is not the system Apache (no lock needed): the instance runs as a child of the test on free ports."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from ansible_collections.revproxy.tls.plugins.module_utils.apache._config_test import candidate_config_test
from ansible_collections.revproxy.tls.plugins.module_utils.apache._layout import Layout
from ansible_collections.revproxy.tls.plugins.module_utils.apache._plan import desired_state, plan
from ansible_collections.revproxy.tls.plugins.module_utils.deploy._transaction import apply, begin_transaction, cleanup_backups, rollback
from support.apache_model import normalize_sites

from support.apache import HTTPD, MODULES_DIR, compiled_in_modules, living_children, _envvars_user_group
from support.backends import TLSBackend
from support.pki import PKI
from test_rollback_transitions import snapshot

pytestmark = pytest.mark.skipif(not os.path.exists(HTTPD), reason="needs Apache httpd")

# What RHEL 9's httpd and mod_ssl packages put in conf.modules.d (the modules this collection needs, by file).
RHEL_MODULE_FILES = {
    "00-mpm.conf": ["mpm_event"],
    "00-base.conf": ["authz_core", "dir", "headers", "log_config", "mime", "setenvif", "socache_shmcb", "unixd"],
    "00-proxy.conf": ["proxy", "proxy_http", "proxy_wstunnel"],
    "00-ssl.conf": ["ssl"],
}


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_command(argv):
    res = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    return res.returncode, res.stdout, res.stderr


@pytest.fixture()
def rhel_tree(tmp_path, reserved_port):
    """(layout, ports) for a fresh /etc/httpd-shaped tree under tmp_path."""
    pki = PKI(str(tmp_path / "pki"))
    root = str(tmp_path / "etc-httpd")
    for sub in ("conf", "conf.d", "conf.modules.d", "logs", "run"):
        os.makedirs(os.path.join(root, sub))
    os.symlink(MODULES_DIR, os.path.join(root, "modules"))  # RHEL: /etc/httpd/modules -> ../../usr/lib64/httpd/modules
    builtin = compiled_in_modules()
    for fname, mods in RHEL_MODULE_FILES.items():
        with open(os.path.join(root, "conf.modules.d", fname), "w") as handle:
            handle.write("".join("LoadModule %s_module modules/mod_%s.so\n" % (m, m) for m in mods if m not in builtin))
    http_port, https_port = reserved_port(), reserved_port()
    user, group = _envvars_user_group()
    run_as = "User %s\nGroup %s\n" % (user, group) if os.geteuid() == 0 else ""
    with open(os.path.join(root, "conf", "httpd.conf"), "w") as handle:
        handle.write(
            'ServerRoot "%s"\nListen 127.0.0.1:%d\nInclude conf.modules.d/*.conf\n%s'
            'ServerName rhel-layout.test\nDefaultRuntimeDir run\nPidFile run/httpd.pid\nMutex file:%s/run default\n'
            'ErrorLog "logs/error_log"\nLogLevel warn\nTypesConfig /dev/null\n'
            'StartServers 1\nServerLimit 2\nThreadsPerChild 10\nMaxRequestWorkers 20\nGracefulShutdownTimeout 3\n'
            '<Directory />\n    AllowOverride none\n    Require all denied\n</Directory>\n'
            'IncludeOptional conf.d/*.conf\n' % (root, http_port, run_as, root))
    snakeoil = pki.leaf("localhost", dns=["localhost"], self_signed=True)
    with open(os.path.join(root, "conf.d", "ssl.conf"), "w") as handle:
        handle.write("Listen 127.0.0.1:%d https\nSSLSessionCache shmcb:%s/run/sslcache(512000)\n"
                     "<VirtualHost _default_:%d>\n    SSLEngine on\n    SSLCertificateFile %s\n"
                     "    SSLCertificateKeyFile %s\n</VirtualHost>\n"
                     % (https_port, root, https_port, snakeoil.cert_path, snakeoil.key_path))
    with open(os.path.join(root, "conf.d", "welcome.conf"), "w") as handle:
        handle.write("# unmanaged, as the httpd package ships it\n")
    layout = Layout.redhat(config_root=root, binary=HTTPD, tls_dir=os.path.join(root, "revproxy-tls"))
    ca = pki.ca("RHEL Layout Root CA")
    good = pki.leaf("backend", dns=["localhost"], issuer=ca)
    with open(ca.cert_path) as handle:
        ca_pem = handle.read()
    yield {"layout": layout, "root": root, "ca_pem": ca_pem, "good": good, "http_port": http_port,
           "https_port": https_port}


class Httpd:
    def __init__(self, layout):
        self.layout = layout
        self.proc = None
        self.log = os.path.join(layout.config_root, "logs", "error_log")

    def _log(self):
        try:
            with open(self.log) as handle:
                return handle.read()
        except OSError:
            return ""

    def _wait_ready(self, count):
        deadline = time.monotonic() + 20
        while self._log().count("resuming normal operations") < count:
            assert self.proc.poll() is None, self._log()[-3000:]
            assert time.monotonic() < deadline, self._log()[-3000:]
            time.sleep(0.05)

    def start(self):
        self.proc = subprocess.Popen([HTTPD, "-f", self.layout.main_config, "-DFOREGROUND"],  # pylint: disable=consider-using-with
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        self._wait_ready(1)

    def reload(self):
        """Graceful restart; returns once the new generation serves alone. The parent logs its mark once the new
        config is loaded, but old-generation children may still accept a connection while they wind down (a request
        then got the old config's answer)."""
        count = self._log().count("resuming normal operations")
        old = set(living_children(self.proc.pid))
        self.proc.send_signal(signal.SIGUSR1)
        self._wait_ready(count + 1)
        deadline = time.monotonic() + 20
        while True:
            children = set(living_children(self.proc.pid))
            if children and not children & old:
                return
            assert self.proc.poll() is None and time.monotonic() < deadline, self._log()[-3000:]
            time.sleep(0.05)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGWINCH)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


def get(port, host, path="/"):
    import http.client
    deadline = time.monotonic() + 10
    while True:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            conn.request("GET", path, headers={"Host": host})
            resp = conn.getresponse()
            return resp.status, resp.read().decode("utf-8", "replace")
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
        finally:
            conn.close()


def config_tree(root):
    """Every file, link and directory of the tree except what httpd itself writes (logs/, run/)."""
    return dict((k, v) for k, v in snapshot(root).items() if k.split(os.sep)[0] not in ("logs", "run"))


def served(port, host):
    status, body = get(port, host)
    assert status == 200 and body.startswith("rhel backend"), (status, body)
    return True


def _site(name, port, backend_port, ca_pem):
    return {"name": name, "server_name": "%s.test" % name, "listen": {"port": port, "address": "127.0.0.1"},
            "locations": [{"path": "/", "backend": "https://localhost:%d/" % backend_port, "retry": 0}],
            "backend_tls": {"ca_content": ca_pem}}


def _plan(sites, layout):
    return plan(desired_state(normalize_sites(sites, tls_dir=layout.tls_dir), layout, "warn ssl:info"), layout)


def test_rhel_layout_with_the_real_binary(rhel_tree, reserved_port):
    layout = rhel_tree["layout"]
    root = rhel_tree["root"]
    pristine = config_tree(root)
    port_a, port_b = reserved_port(), reserved_port()
    httpd = Httpd(layout)
    with TLSBackend(rhel_tree["good"].chain_path, rhel_tree["good"].key_path, body=b"rhel backend") as be:
        sites = [_site("a", port_a, be.port, rhel_tree["ca_pem"]), _site("b", port_b, be.port, rhel_tree["ca_pem"])]
        actions = _plan(sites, layout)
        written = sorted(os.path.relpath(a["entry"].path, root) for a in actions)
        assert {a["action"] for a in actions} == {"write"}
        assert written == ["conf.d/a.conf", "conf.d/b.conf", "conf.d/revproxy-tls-listen.conf",
                           "conf.modules.d/revproxy-tls-modules.conf", "revproxy-tls/a/backend-ca.pem",
                           "revproxy-tls/b/backend-ca.pem"]
        ok, out = candidate_config_test(actions, layout, run_command)
        assert ok, out
        assert config_tree(root) == pristine  # the candidate test wrote nothing in the tree
        cleanup_backups(apply(actions))
        listen = open(os.path.join(root, "conf.d", "revproxy-tls-listen.conf")).read()
        assert "Listen 127.0.0.1:%d" % port_a in listen and "Listen 127.0.0.1:%d" % port_b in listen
        assert "%d" % rhel_tree["https_port"] not in listen  # mod_ssl's ssl.conf listens there already
        assert _plan(sites, layout) == []  # idempotent
        httpd.start()
        try:
            assert served(port_a, "a.test")
            assert served(port_b, "b.test")
            after_first = config_tree(root)

            # Prune: b is absent from the sites, so its file (and TLS directory) goes; a disabled site is no file.
            actions = _plan(sites[:1], layout)
            assert sorted((a["action"], os.path.relpath(a["entry"].path, root)) for a in actions) == [
                ("remove", "conf.d/b.conf"), ("remove_dir", "revproxy-tls/b"),
                ("write", "conf.d/revproxy-tls-listen.conf")]
            ok, out = candidate_config_test(actions, layout, run_command)
            assert ok, out
            backups = apply(actions)
            begin_transaction(layout, backups)
            httpd.reload()
            assert served(port_a, "a.test")
            assert not os.path.exists(os.path.join(root, "conf.d", "b.conf"))

            # Rollback restores the tree exactly, and Apache serves b again after a reload.
            rollback(layout)
            assert config_tree(root) == after_first
            httpd.reload()
            assert served(port_b, "b.test")
        finally:
            httpd.stop()


def test_module_validates_against_the_live_rhel_tree(rhel_tree):
    """The module's own path (check mode) on the RHEL tree: its vhosts are read with the layout's config-test
    command (no envvars, no links: conf.d is where managed files live), the hand-written _default_ vhost of
    ssl.conf is taken into account, and a site that would take its address is refused naming the file."""
    layout = rhel_tree["layout"]
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".build", "collections"))
    base = {"layout": "redhat", "config_root": layout.config_root, "binary": HTTPD, "tls_dir": layout.tls_dir}

    def module(sites):
        args = dict(base, sites=sites)
        res = subprocess.run([os.path.join(ROOT, ".venv", "bin", "ansible"), "localhost", "-c", "local", "-i",
                              "localhost,", "--check", "-e", "ansible_python_interpreter=%s" % sys.executable,
                              "-m", "revproxy.tls.apache_proxy_sites", "-a", json.dumps(args)],
                             capture_output=True, text=True, timeout=120, env=env, check=False)
        return res.returncode, res.stdout + res.stderr
    plain = {"name": "app", "server_name": "app.rhel.test", "listen": {"port": rhel_tree["http_port"]},
             "locations": [{"path": "/", "backend": "http://127.0.0.1:9/"}]}
    rc, out = module([plain])
    assert rc == 0 and "would_apply" in out, out[-2000:]
    # ssl.conf's <VirtualHost _default_:https_port> is hand-written: a site on 127.0.0.1 there would take it.
    taker = dict(plain, listen={"port": rhel_tree["https_port"], "address": "127.0.0.1"})
    rc, out = module([taker])
    assert rc != 0 and "hand-written vhost %s" % os.path.join(layout.config_root, "conf.d", "ssl.conf") in out, \
        out[-2000:]
