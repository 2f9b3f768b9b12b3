"""nginx/_layout, _plan, _config_test and _probe on scratch trees: what is written where, what is never touched, the
main config copy of the candidate test, and the reload wait (with a fake /proc)."""
import os

import pytest

from ansible_collections.revproxy.tls.plugins.module_utils.model._grammar import ConfigError
from ansible_collections.revproxy.tls.plugins.module_utils.model._sites import normalize_sites
from ansible_collections.revproxy.tls.plugins.module_utils.nginx import _config_test, _probe
from ansible_collections.revproxy.tls.plugins.module_utils.nginx._capabilities import NGINX
from ansible_collections.revproxy.tls.plugins.module_utils.nginx._layout import NginxLayout
from ansible_collections.revproxy.tls.plugins.module_utils.nginx._plan import desired_state, diff, plan
from ansible_collections.revproxy.tls.plugins.module_utils.nginx._render import MANAGED_MARKER
from support.pemdata import CA, CERT, KEY


@pytest.fixture
def layout(tmp_path):
    root = tmp_path / "etc"
    (root / "conf.d").mkdir(parents=True)
    (root / "nginx.conf").write_text("events {}\nhttp {\n  include mime.types;\n  include conf.d/*.conf;\n"
                                     "  include /etc/nginx/sites-enabled/*;\n}\n")
    return NginxLayout("debian", config_root=str(root))


def sites(layout, **over):
    site = {"name": "shop", "server_name": "shop.example.com",
            "locations": [{"path": "/", "backend": "https://b.internal:8443/"}],
            "backend_tls": {"ca_content": CA, "client_cert_content": CERT, "client_key_content": KEY}}
    site.update(over)
    return normalize_sites([site], tls_dir=layout.tls_dir, server=NGINX)


def test_layout_paths(layout):
    assert layout.site_conf("shop") == os.path.join(layout.config_root, "conf.d", "shop.conf")
    assert layout.tls_dir == os.path.join(layout.config_root, "revproxy-tls")
    assert layout.transaction_file.startswith(layout.tls_dir + "/")
    assert layout.handoff_file.startswith("/run/revproxy-tls/validated-nginx-")
    assert NginxLayout("redhat").site_conf("x") == "/etc/nginx/conf.d/x.conf"
    assert layout.config_test_command("/x.conf") == ["nginx", "-t", "-q", "-c", "/x.conf"]
    assert NginxLayout("debian", prefix="/p").reload_command()[:3] == ["nginx", "-p", "/p"]


def test_plan_writes_the_site_and_its_files_and_hides_the_key(layout):
    entries = desired_state(sites(layout), layout)
    actions = plan(entries, layout)
    paths = sorted(a["entry"].path for a in actions)
    assert paths == sorted([layout.site_conf("shop"), os.path.join(layout.tls_dir, "shop", "backend-ca.pem"),
                            os.path.join(layout.tls_dir, "shop", "proxy-client.pem")])
    secret = [a for a in actions if a["entry"].secret]
    assert len(secret) == 1 and secret[0]["entry"].mode == 0o600
    shown = "".join(d["after"] for d in diff(actions))
    assert KEY.splitlines()[1] not in shown and "(content hidden: private key)" in shown
    conf = [a for a in actions if a["entry"].path.endswith(".conf")][0]["entry"].content
    key_path = os.path.join(layout.tls_dir, "shop", "proxy-client.pem")
    assert 'proxy_ssl_certificate "%s";' % key_path in conf and 'proxy_ssl_certificate_key "%s";' % key_path in conf


def test_plan_refuses_an_unmanaged_file_and_prunes_only_managed_ones(layout):
    with open(layout.site_conf("shop"), "w") as handle:
        handle.write("server { listen 80; }\n")
    with pytest.raises(ConfigError) as exc:
        plan(desired_state(sites(layout), layout), layout)
    assert "not managed by revproxy.tls" in str(exc.value)
    os.unlink(layout.site_conf("shop"))
    with open(layout.site_conf("old"), "w") as handle:
        handle.write(MANAGED_MARKER + "\n")
    with open(layout.site_conf("hand"), "w") as handle:
        handle.write("server { listen 81; }\n")
    os.mkdir(layout.site_conf("dir"))
    actions = plan(desired_state(sites(layout), layout), layout)
    removed = [a["entry"].path for a in actions if a["action"] == "remove"]
    assert removed == [layout.site_conf("old")]


def test_candidate_main_config_points_at_the_candidate_and_makes_includes_absolute(layout):
    actions = plan(desired_state(sites(layout), layout), layout)
    seen = {}

    def run_command(argv):
        main = argv[argv.index("-c") + 1]
        with open(main) as handle:
            seen["main"] = handle.read()
        cand = os.path.join(os.path.dirname(main), "conf.d")
        seen["cand"] = sorted(os.listdir(cand))
        with open(os.path.join(cand, "shop.conf")) as handle:
            seen["site"] = handle.read()
        return 1, "", "nginx: [emerg] something"
    ok, output = _config_test.candidate_config_test(actions, layout, run_command)
    assert not ok and "[emerg]" in output
    assert 'include "%s/mime.types";' % layout.config_root in seen["main"]
    assert "conf.d/*.conf" in seen["main"] and layout.sites_dir + "/*.conf" not in seen["main"]
    assert 'include "/etc/nginx/sites-enabled/*";' in seen["main"]
    assert seen["cand"] == ["shop.conf"]
    # The candidate site names the staged copies of the files being deployed, never the live paths.
    assert layout.tls_dir not in seen["site"]
    assert not os.path.exists(layout.site_conf("shop"))


class FakeProc:
    def __init__(self, tmp_path):
        self.root = tmp_path / "proc"
        self.root.mkdir()

    def add(self, pid, ppid, title):
        d = self.root / str(pid)
        d.mkdir()
        (d / "stat").write_text("%d (nginx) S %d 1 1" % (pid, ppid))
        (d / "cmdline").write_bytes(title.encode() + b"\0")


def test_reload_waits_for_a_new_worker_and_the_old_ones_to_shut_down(tmp_path, monkeypatch):
    proc = FakeProc(tmp_path)
    proc.add(10, 1, "nginx: master process")
    proc.add(11, 10, "nginx: worker process")
    pid_file = tmp_path / "nginx.pid"
    pid_file.write_text("10\n")
    layout = NginxLayout("debian", pid_file=str(pid_file))
    real_children, real_serves = _probe.children, _probe._old_worker_serves
    monkeypatch.setattr(_probe, "children", lambda pid: real_children(pid, str(proc.root)))
    monkeypatch.setattr(_probe, "_old_worker_serves", lambda pid: real_serves(pid, str(proc.root)))
    monkeypatch.setattr(_probe.os.path, "exists", lambda path: True)
    steps = []

    def sleep(_seconds):
        steps.append(len(steps))
        if len(steps) == 2:
            proc.add(12, 10, "nginx: worker process")  # the new worker; the old one still accepts
        if len(steps) == 4:
            (proc.root / "11" / "cmdline").write_bytes(b"nginx: worker process is shutting down\0")

    clock = iter(range(1000)).__next__
    state, _detail = _probe.reload(layout, lambda argv: (0, "", ""), timeout=100, sleep=sleep, clock=clock)
    assert state == "reloaded" and len(steps) >= 5

    # No new worker: the master kept the old configuration.
    state, detail = _probe.reload(layout, lambda argv: (0, "", ""), timeout=3, sleep=lambda s: None,
                                  clock=iter(range(1000)).__next__)
    assert state == "failed" and "no new worker" in detail
    assert _probe.reload(layout, lambda argv: (1, "", "nginx: [error] invalid PID"))[0] == "failed"


def test_probe_expects_the_locations_statuses():
    targets = [{"site": "a", "host": "a.test", "port": 1, "tls": False,
                "paths": [{"path": "/", "status": None}, {"path": "/down/", "status": [502]}]}]
    answers = {"/": (200, None), "/down/": (502, None)}
    result = _probe.probe(targets, do_request=lambda t, path, timeout: answers[path], sleep=lambda s: None)
    assert result[0]["ok"]
    answers["/"] = (503, None)
    result = _probe.probe(targets, settle=0, do_request=lambda t, path, timeout: answers[path], sleep=lambda s: None)
    assert not result[0]["ok"] and result[0]["locations"][0]["expected"] == "any status below 500"


def test_a_served_directory_reached_through_a_symlink_is_refused():
    from ansible_collections.revproxy.tls.plugins.module_utils._files import FileReadError
    from ansible_collections.revproxy.tls.plugins.module_utils.nginx._host_checks import check_served_paths
    from ansible_collections.revproxy.tls.plugins.module_utils.nginx._render import render_site
    policy = {"allow_raw_directives": False, "served_roots": ["/srv"]}
    site = {"name": "s", "server_name": "s.test", "tls": {"certificate_file": "/c.pem", "key_file": "/k.pem"},
            "acme_challenge_dir": "/srv/s/acme", "locations": [{"path": "/", "backend": "http://b.internal/"}]}
    effs = normalize_sites([site], tls_dir="/t", policy=policy, server=NGINX)

    def to_etc(path, roots, kind, what):
        return "/etc"

    def outside(path, roots, kind, what):
        raise FileReadError("%s: %s (resolves to /root/x) is not under a served root (/srv)" % (what, path), what,
                            path, "outside", "not under a served root")
    with pytest.raises(ConfigError) as exc:
        check_served_paths(effs, policy, resolve=to_etc)
    assert "a system directory" in str(exc.value)
    with pytest.raises(ConfigError) as exc:
        check_served_paths(effs, policy, resolve=outside)
    assert "nginx would serve it" in str(exc.value)
    check_served_paths(effs, policy, resolve=lambda path, roots, kind, what: path)
    assert 'disable_symlinks on "from=/srv/s/acme";' in render_site(effs[0])
