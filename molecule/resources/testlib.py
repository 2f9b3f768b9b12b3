"""Helpers the scenarios' testinfra modules share (imported through sys.path; not a pytest plugin)."""
import json
import os
import shlex

import testinfra

CHECKER_PYTHON = "/opt/revproxy-checker/bin/python"


def host(name):
    """The testinfra host for inventory host ``name`` of the running scenario."""
    return testinfra.get_host("ansible://%s" % name, ansible_inventory=os.environ["MOLECULE_INVENTORY_FILE"])


def http_get(proxy, url, host_header=None, resolve=None, cacert=None, extra=()):
    """curl on the proxy: (status, body). ``resolve`` is curl's --resolve value."""
    cmd = ["curl", "-sS", "--max-time", "20", "-o", "/tmp/.mol-body", "-w", "%{http_code}"]
    if host_header:
        cmd += ["-H", "Host: %s" % host_header]
    if resolve:
        cmd += ["--resolve", resolve]
    if cacert:
        cmd += ["--cacert", cacert]
    cmd += list(extra) + [url]
    res = proxy.run(" ".join(shlex.quote(c) for c in cmd) + "; echo; cat /tmp/.mol-body")
    parts = res.stdout.partition("\n")
    return int(parts[0] or 0), parts[2]


def handshake(proxy, **args):
    """Run revproxy.tls.backend_handshake on the proxy (never failing the call) and return its result.

    It runs with the image's /opt/revproxy-checker Python: the module needs a newer pyOpenSSL than Debian 12 ships.
    """
    args.setdefault("fail_on", "never")
    return proxy.ansible("revproxy.tls.backend_handshake", json.dumps(args), check=False,
                         extra_vars={"ansible_python_interpreter": CHECKER_PYTHON})


def apply_sites(proxy, sites, defaults=None, check=False):
    """Run the role's module (revproxy.tls.apache_proxy_sites) on the proxy with ``sites``, as the role does."""
    args = {"sites": sites, "backend_tls_defaults": defaults or {}}
    return proxy.ansible("revproxy.tls.apache_proxy_sites", json.dumps(args), check=check)
