"""A private nginx (the distribution's binary) on its own prefix and configuration tree, for integration tests.

PrivateNginx(directory) writes <directory>/etc/nginx.conf (pid, error log, temp paths under the directory; the http
block includes <directory>/etc/conf.d/*.conf as the packaged nginx.conf does), starts the master with
`nginx -p <directory> -c <conf>` and stops it (by its pid, also on failure). `module_args` are the arguments that
point nginx_proxy_sites and nginx_proxy_probe at this tree.
"""
import os
import signal
import subprocess
import time

NGINX = "/usr/sbin/nginx"

MAIN_CONF = """\
pid {d}/nginx.pid;
error_log {d}/error.log info;
worker_processes 2;
events {{ worker_connections 512; }}
http {{
    access_log off;
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    include {d}/etc/conf.d/*.conf;
}}
"""


class PrivateNginx:
    def __init__(self, directory):
        self.dir = directory
        self.etc = os.path.join(directory, "etc")
        self.conf = os.path.join(self.etc, "nginx.conf")
        self.pid_file = os.path.join(directory, "nginx.pid")
        self.error_log = os.path.join(directory, "error.log")
        for sub in ("etc/conf.d", "tmp", "logs"):
            os.makedirs(os.path.join(directory, sub), exist_ok=True)
        with open(self.conf, "w") as handle:
            handle.write(MAIN_CONF.format(d=directory))
        self.master = None

    @property
    def module_args(self):
        return {"config_root": self.etc, "prefix": self.dir, "binary": NGINX}

    @property
    def probe_args(self):
        return dict(self.module_args, pid_file=self.pid_file, error_log=self.error_log)

    def start(self):
        subprocess.run([NGINX, "-p", self.dir, "-c", self.conf], check=True, capture_output=True, timeout=30)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with open(self.pid_file) as handle:
                    self.master = int(handle.read().strip())
                return self
            except (OSError, ValueError):
                time.sleep(0.05)
        raise RuntimeError("nginx wrote no pid file")

    def stop(self):
        if self.master is None:
            return
        try:
            os.kill(self.master, signal.SIGTERM)
        except ProcessLookupError:
            self.master = None
            return
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and os.path.exists("/proc/%d" % self.master):
            time.sleep(0.05)
        if os.path.exists("/proc/%d" % self.master):
            os.kill(self.master, signal.SIGKILL)
        self.master = None

    def log(self):
        try:
            with open(self.error_log) as handle:
                return handle.read()
        except OSError:
            return ""

    def tree(self):
        """{path: bytes or link target} of everything under etc/ (the managed tree and the deployed files)."""
        out = {}
        for dirpath, dirnames, filenames in os.walk(self.etc):
            for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
                path = os.path.join(dirpath, name)
                if os.path.islink(path):
                    out[path] = "-> " + os.readlink(path)
                else:
                    with open(path, "rb") as handle:
                        out[path] = handle.read()
            for name in dirnames:
                out.setdefault(os.path.join(dirpath, name) + "/", "dir")
        return out

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
