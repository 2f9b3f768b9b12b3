"""A private Apache httpd instance for tests, independent from the system one in /etc/apache2.

Example::

    with PrivateApache(tmp_path / "apache", loglevel="warn ssl:info") as httpd:
        httpd.set_vhosts(f'''
            <VirtualHost 127.0.0.1:{httpd.port}>
                ServerName front.test
                SSLProxyEngine on
                ProxyPass / https://backend.test:{be.port}/
            </VirtualHost>''')
        httpd.start()
        status, headers, body = httpd.request("/", host="front.test")

The instance has its own ServerRoot (the workdir), PidFile, ErrorLog, Mutex directory and DefaultRuntimeDir, listens
on ``127.0.0.1:<port>`` (a free port unless given) and runs in the foreground (-DFOREGROUND) as a child of the test
process, so startup failures are reported with their log instead of disappearing with a detached daemon.
"""
import http.client
import os
import shutil
import signal
import socket
import subprocess
import textwrap
import time

__all__ = ["PrivateApache", "TreeApache", "ApacheError", "HTTPD", "MODULES_DIR", "DEFAULT_MODULES", "free_port",
           "reserve_port", "PortReservation", "compiled_in_modules", "living_children"]

HTTPD = os.environ.get("SUPPORT_HTTPD", "/usr/sbin/apache2" if os.path.exists("/usr/sbin/apache2") else "httpd")
MODULES_DIR = os.environ.get("SUPPORT_HTTPD_MODULES", "/usr/lib/apache2/modules")
DEFAULT_MODULES = ("mpm_event", "authz_core", "mime", "log_config", "unixd", "dir", "headers", "proxy", "proxy_http",
                   "proxy_wstunnel", "ssl", "socache_shmcb", "setenvif")
READY_MARK = "resuming normal operations"


def living_children(pid):
    """PIDs of the living child processes of ``pid`` (from /proc). A zombie (state Z) has exited and serves nothing:
    it only waits for the parent's next reaping round (about a second), which a reload need not wait for."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry, "r", encoding="ascii", errors="replace") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            out.append(int(entry))
    return out


class ApacheError(RuntimeError):
    """Apache failed to start, reload or pass its config test; the message carries the relevant log."""


def free_port(host="127.0.0.1"):
    """A TCP port that was free a moment ago (racy: prefer reserve_port() for a port Apache binds later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class PortReservation:
    """A TCP port held for a server that binds it itself later (Apache): a socket bound with SO_REUSEADDR on the
    wildcard address and never listening.

    Why this holds: Linux lets a second SO_REUSEADDR socket bind and listen on a port whose other sockets all have
    SO_REUSEADDR and none listens; Apache sets SO_REUSEADDR on its listeners, so it binds (at start and at each
    graceful restart) next to the reservation. Everyone else is kept off the port for as long as the reservation is
    open: a bind without SO_REUSEADDR fails with EADDRINUSE, and the kernel's choice of a port (bind to port 0,
    free_port(), the local port of an outgoing connection) skips a port that has a bound socket. So the port cannot be
    taken between the moment it is chosen and the moment Apache binds it, nor between two starts of the same server.
    """

    def __init__(self, host="0.0.0.0"):
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, 0))
        self.port = self._sock.getsockname()[1]

    def release(self):
        """Give the port back (idempotent)."""
        self._sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


def reserve_port(host="0.0.0.0"):
    """A PortReservation: ``.port`` stays ours until ``.release()`` (see PortReservation)."""
    return PortReservation(host)


_COMPILED_IN = {}


def compiled_in_modules(httpd=HTTPD):
    """Modules built into the httpd binary (``httpd -l``), e.g. Debian's log_config and unixd; cached."""
    if httpd not in _COMPILED_IN:
        res = subprocess.run([httpd, "-l"], capture_output=True, text=True, timeout=30, check=False)
        _COMPILED_IN[httpd] = {line.strip()[4:-2] for line in res.stdout.splitlines() if line.strip().startswith("mod_")}
    return _COMPILED_IN[httpd]


def _envvars_user_group(path="/etc/apache2/envvars"):
    user, group = "www-data", "www-data"
    try:
        with open(path, "r", encoding="utf-8") as handle:
            for line in handle:
                line = line.strip()
                if line.startswith("export APACHE_RUN_USER="):
                    user = line.split("=", 1)[1].strip("\"'") or user
                elif line.startswith("export APACHE_RUN_GROUP="):
                    group = line.split("=", 1)[1].strip("\"'") or group
    except OSError:
        pass
    return user, group


class PrivateApache:
    """One private httpd: ``workdir`` holds httpd.conf, vhosts.conf, logs and runtime files.

    ``port``: listening port on 127.0.0.1 (free port when None). ``loglevel``: e.g. ``"warn"`` or ``"warn ssl:info"``.
    ``user``/``group``: when running as root (default: from /etc/apache2/envvars, else www-data).
    ``extra_global``: text appended to httpd.conf before the vhosts include.
    """

    def __init__(self, workdir, port=None, *, loglevel="warn", user=None, group=None, modules=DEFAULT_MODULES,
                 extra_global="", httpd=HTTPD, modules_dir=MODULES_DIR):
        self.workdir = os.path.abspath(str(workdir))
        self._auto_port = port is None
        # A port of our own choosing stays reserved for the instance's life (restarts included): see PortReservation.
        self._reservation = reserve_port() if port is None else None
        self.port = port or self._reservation.port
        self.loglevel = loglevel
        default_user, default_group = _envvars_user_group()
        self.user = user or default_user
        self.group = group or default_group
        self.modules = tuple(modules)
        self.extra_global = extra_global
        self.httpd = httpd
        self.modules_dir = modules_dir
        self.conf_path = os.path.join(self.workdir, "httpd.conf")
        self.vhosts_path = os.path.join(self.workdir, "vhosts.conf")
        self.error_log = os.path.join(self.workdir, "logs", "error.log")
        self.access_log = os.path.join(self.workdir, "logs", "access.log")
        self.pid_file = os.path.join(self.workdir, "run", "httpd.pid")
        self.stdout_log = os.path.join(self.workdir, "logs", "stdout.log")
        self.proc = None
        self._stdout = None
        for sub in ("logs", "run", "htdocs"):
            os.makedirs(os.path.join(self.workdir, sub), exist_ok=True)
        if not os.path.exists(self.vhosts_path):
            self.set_vhosts("")
        self.write_config()

    # -- configuration -------------------------------------------------------------------------------------------

    @property
    def base_url(self):
        """``http://127.0.0.1:<port>``"""
        return "http://127.0.0.1:%d" % self.port

    def render_config(self):
        """The text of httpd.conf."""
        builtin = compiled_in_modules(self.httpd)
        loads = "\n".join("LoadModule %s_module %s" % (m, os.path.join(self.modules_dir, "mod_%s.so" % m))
                          for m in self.modules if m not in builtin)
        mime_types = "/etc/mime.types" if os.path.exists("/etc/mime.types") else "/dev/null"
        run_as = ""
        if os.geteuid() == 0:
            run_as = "User %s\nGroup %s" % (self.user, self.group)
        return textwrap.dedent("""\
            # Generated by tests/support/apache.py: a private test instance, not the system Apache.
            ServerRoot "{wd}"
            DefaultRuntimeDir "{wd}/run"
            PidFile "{pid}"
            Mutex file:{wd}/run default
            {loads}
            {run_as}
            ServerName private-apache.test
            Listen 127.0.0.1:{port}
            ErrorLog "{error_log}"
            LogLevel {loglevel}
            LogFormat "%h %l %u %t \\"%r\\" %>s %b \\"%{{Host}}i\\"" common
            CustomLog "{access_log}" common
            TypesConfig {mime}
            DocumentRoot "{wd}/htdocs"
            <Directory />
                AllowOverride None
                Require all denied
            </Directory>
            <Directory "{wd}/htdocs">
                Require all granted
            </Directory>
            StartServers 1
            ServerLimit 4
            ThreadsPerChild 25
            MaxRequestWorkers 100
            Timeout 30
            GracefulShutdownTimeout 5
            {extra}
            Include "{vhosts}"
            """).format(wd=self.workdir, pid=self.pid_file, loads=loads, run_as=run_as, port=self.port,
                        error_log=self.error_log, access_log=self.access_log, loglevel=self.loglevel, mime=mime_types,
                        extra=self.extra_global, vhosts=self.vhosts_path)

    def write_config(self):
        """(Re)write httpd.conf from the current settings."""
        with open(self.conf_path, "w", encoding="utf-8") as handle:
            handle.write(self.render_config())

    def set_vhosts(self, text):
        """Replace vhosts.conf (use ``self.port`` in ``<VirtualHost 127.0.0.1:PORT>``). Call reload() when running."""
        with open(self.vhosts_path, "w", encoding="utf-8") as handle:
            handle.write(textwrap.dedent(text).strip() + "\n")

    def _cmd(self, *args):
        return [self.httpd, "-d", self.workdir, "-f", self.conf_path] + list(args)

    def configtest(self):
        """Run ``httpd -t``; returns (ok, output)."""
        self.write_config()
        res = subprocess.run(self._cmd("-t"), capture_output=True, text=True, timeout=60, check=False)
        return res.returncode == 0, (res.stdout + res.stderr).strip()

    # -- logs ------------------------------------------------------------------------------------------------------

    def error_log_mark(self):
        """An opaque position in the error log (its current size)."""
        try:
            return os.path.getsize(self.error_log)
        except OSError:
            return 0

    def error_log_since(self, mark=0):
        """Error log text written since ``mark``."""
        try:
            with open(self.error_log, "r", encoding="utf-8", errors="replace") as handle:
                handle.seek(mark)
                return handle.read()
        except OSError:
            return ""

    def wait_for_log(self, needle, mark=0, timeout=5.0):
        """Wait until ``needle`` appears in the error log after ``mark``; returns the text since mark (or raises)."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.error_log_since(mark)
            if needle in text:
                return text
            if time.monotonic() > deadline:
                raise ApacheError("%r not in the error log after %.1fs:\n%s" % (needle, timeout, text[-4000:]))
            time.sleep(0.05)

    def access_log_mark(self):
        """An opaque position in the main access log (its current size)."""
        try:
            return os.path.getsize(self.access_log)
        except OSError:
            return 0

    def wait_for_requests(self, count, mark=0, timeout=10.0, required=True):
        """Wait until ``count`` requests are in the main access log after ``mark``; returns their lines.

        Apache writes a request's access line in its last phase, after everything its handling logged: once the lines
        are there, the error log (and any file a hostile directive would have Apache write) holds what those requests
        caused, which a fixed pause only hoped. Past ``timeout``: ApacheError, or with ``required=False`` the lines
        seen (a vhost with a CustomLog of its own never logs here)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                with open(self.access_log, "r", encoding="utf-8", errors="replace") as handle:
                    handle.seek(mark)
                    lines = handle.read().split("\n")[:-1]  # complete lines only
            except OSError:
                lines = []
            if len(lines) >= count:
                return lines
            if time.monotonic() > deadline:
                if not required:
                    return lines
                raise ApacheError("%d of %d requests in the access log after %.1fs" % (len(lines), count, timeout))
            time.sleep(0.02)

    def _startup_output(self):
        try:
            with open(self.stdout_log, "r", encoding="utf-8", errors="replace") as handle:
                return handle.read()
        except OSError:
            return ""

    # -- lifecycle -------------------------------------------------------------------------------------------------

    @property
    def running(self):
        """True while the parent httpd process is alive."""
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout=15.0):
        """Start httpd in the foreground (as our child) and wait until it serves; raises ApacheError with the logs."""
        if self.running:
            return self
        attempts = 3 if self._auto_port else 1
        for attempt in range(attempts):
            try:
                self._start_once(timeout)
                return self
            except ApacheError as exc:
                if attempt + 1 < attempts and "Address already in use" in str(exc):
                    # Only a process binding this very port with SO_REUSEADDR before Apache could: take another.
                    self._reservation.release()
                    self._reservation = reserve_port()
                    self.port = self._reservation.port
                    continue
                raise
        return self

    def _start_once(self, timeout):
        ok, out = self.configtest()
        if not ok:
            raise ApacheError("config test failed:\n" + out)
        mark = self.error_log_mark()
        self._stdout = open(self.stdout_log, "ab")  # pylint: disable=consider-using-with
        self.proc = subprocess.Popen(self._cmd("-DFOREGROUND"), stdin=subprocess.DEVNULL, stdout=self._stdout,  # pylint: disable=consider-using-with
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._close_stdout()
                raise ApacheError("httpd exited with %s during startup:\n%s\n%s" % (
                    self.proc.returncode, self._startup_output()[-4000:], self.error_log_since(mark)[-4000:]))
            if READY_MARK in self.error_log_since(mark) and self._port_open():
                return
            time.sleep(0.05)
        self.stop()
        raise ApacheError("httpd did not become ready in %.0fs:\n%s" % (timeout, self.error_log_since(mark)[-4000:]))

    def children(self):
        """PIDs of the httpd parent's living child processes (from /proc)."""
        return [] if self.proc is None else living_children(self.proc.pid)

    def _port_open(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def reload(self, timeout=15.0):
        """Graceful restart with the current httpd.conf/vhosts.conf; waits until the new generation is serving.

        The config is tested first (a SIGUSR1 with a broken config would kill the parent): ApacheError on failure,
        with the old generation left running.
        """
        if not self.running:
            return self.start(timeout)
        ok, out = self.configtest()
        if not ok:
            raise ApacheError("config test failed, not reloading:\n" + out)
        mark = self.error_log_mark()
        old_children = set(self.children())
        os.kill(self.proc.pid, signal.SIGUSR1)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ApacheError("httpd exited during graceful restart:\n" + self.error_log_since(mark)[-4000:])
            # The parent logs the mark once the new config is loaded, but old-generation children may still accept a
            # connection or two while they wind down: wait until they are gone and a new child exists.
            children = set(self.children())
            if READY_MARK in self.error_log_since(mark) and not children & old_children and children and self._port_open():
                return self
            time.sleep(0.05)
        raise ApacheError("graceful restart not finished in %.0fs:\n%s" % (timeout, self.error_log_since(mark)[-4000:]))

    def stop(self, timeout=10.0):
        """Stop httpd (SIGTERM, then SIGKILL of its process group after ``timeout``). Idempotent."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
            except ProcessLookupError:
                pass
        self.proc = None
        self._close_stdout()

    def _close_stdout(self):
        if self._stdout is not None:
            self._stdout.close()
            self._stdout = None

    def cleanup(self):
        """Stop, give the port back and remove the workdir."""
        self.stop()
        if self._reservation is not None:
            self._reservation.release()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    # -- client ----------------------------------------------------------------------------------------------------

    def request(self, path="/", host=None, timeout=10, method="GET", headers=None, body=None):
        """Plain HTTP request to 127.0.0.1:port; returns (status, headers as a dict with lower-case keys, body bytes)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            hdrs = dict(headers or {})
            if host:
                hdrs["Host"] = host
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        finally:
            conn.close()


class TreeApache(PrivateApache):
    """Apache run in the foreground from a Debian-style tree (``<root>/apache2.conf`` with ``<root>/envvars``), the
    tree the role writes, instead of a generated httpd.conf: a copy of /etc/apache2 or a private tree, served live.

    The tree's envvars must put the pid file, runtime, lock and log directories somewhere private and its Listen
    directives on ports of the caller's (reserve_port()); ``port`` is the one the readiness check connects to and
    ``error_log`` the log the tree writes (``${APACHE_LOG_DIR}/error.log``). start(), reload() (graceful, after a
    config test), stop() and request() are PrivateApache's.
    """

    def __init__(self, config_root, port, error_log, *, httpd=HTTPD):  # pylint: disable=super-init-not-called
        self.workdir = os.path.abspath(str(config_root))
        self.port = port
        self._auto_port = False
        self._reservation = None
        self.httpd = httpd
        self.error_log = error_log
        self.stdout_log = os.path.join(os.path.dirname(error_log), "stdout.log")
        self.proc = None
        self._stdout = None

    def write_config(self):
        """The tree is the configuration: nothing to generate."""

    def _cmd(self, *args):
        # exec: the shell becomes httpd, so proc.pid is the parent httpd that reload() signals.
        script = '. "$1/envvars" && mkdir -p "$APACHE_RUN_DIR" "$APACHE_LOCK_DIR" "$APACHE_LOG_DIR" && ' \
                 'root=$1 && bin=$2 && shift 2 && exec "$bin" -d "$root" -f "$root/apache2.conf" "$@"'
        return ["/bin/sh", "-c", script, "sh", self.workdir, self.httpd] + list(args)
