"""The collection as users get it: the tarball `ansible-galaxy collection build` makes from a development checkout
that lint, pytest and the EE recipe have run in, installed, and run from somewhere else.

- the tarball's file list against an allow-list (nothing a checkout accumulates, no demo playbook);
- `galaxy-importer` (the checks Galaxy runs on import) passes on it, offline;
- `revproxy.tls.check` run from the installed copy writes its report where the caller is, never inside the collection.

Runs in make test's `package` stage (scripts/test.sh); galaxy-importer comes from the tools venv (scripts/tools-venv.sh).
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile

import pytest
import yaml

from support import backends, pki

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BIN = os.path.dirname(sys.executable)
TOOLS_BIN = os.path.join(ROOT, ".build", "tools-venv", "bin")
with open(os.path.join(ROOT, "galaxy.yml")) as _handle:
    TARBALL = "revproxy-tls-%s.tar.gz" % yaml.safe_load(_handle)["version"]

# Every file the tarball may hold. Directories are allowed when an allowed file lies under them.
ALLOWED = [re.compile(p) for p in (
    r"MANIFEST\.json", r"FILES\.json", r"README\.md", r"LICENSE",
    r"\.ansible-lint",  # the lint configuration Galaxy's import uses (profile, mocked awx.awx module, excluded paths)
    r"meta/(runtime|execution-environment|site_options)\.yml", r"meta/ee-(requirements|bindep)\.txt",
    r"plugins/(modules|module_utils|filter|doc_fragments|plugin_utils)(/[a-z0-9_]+)*/[a-z0-9_]+\.py",
    r"plugins/(modules|module_utils|filter|doc_fragments|plugin_utils)/[a-z0-9_]+\.py",
    r"roles/(apache_proxy|nginx_proxy)/README\.md",
    r"roles/(apache_proxy|nginx_proxy)/(defaults|meta|tasks|vars|handlers)/[A-Za-z0-9_.-]+\.yml",
    r"roles/(apache_proxy|nginx_proxy)/templates/[a-z0-9_.-]+\.j2",
    r"roles/apache_proxy/files/revproxy-tls-acme-activate",  # the ACME renewal job the role installs
    r"playbooks/[a-z0-9_]+(\.meta)?\.yml",  # the collection's playbooks and their argument specs (never demo: NEVER)
    r"docs/[a-z0-9_.-]+\.md",
    r"changelogs/(changelog|config)\.yaml", r"changelogs/fragments/[a-z0-9_.-]+\.ya?ml",
    r"awx/(configure|execution-environment|job_templates)\.yml",
    r"tests/(ansible\.cfg|conftest\.py)",
    # Test sources and their data (NEVER keeps caches and output out).
    r"tests/(unit|integration|support|package)(/[A-Za-z0-9_.-]+)+",
)]
# What a development checkout accumulates, named so a failure says what slipped in.
NEVER = re.compile(r"(^|/)(\.ansible|\.pytest_cache|\.hypothesis|__pycache__|\.venv|\.build|\.git|context|output)(/|$)"
                   r"|\.tar\.gz$|\.pyc$|^demo(/|$)|^playbooks/demo\.yml$|^(Makefile|scripts|molecule|requirements)(/|$)")


def _run(cmd, cwd, env=None, timeout=300):
    proc = subprocess.run(cmd, cwd=str(cwd), env=env, capture_output=True, text=True, timeout=timeout, check=False)
    assert proc.returncode == 0, "%s\n%s\n%s" % (" ".join(map(str, cmd)), proc.stdout[-4000:], proc.stderr[-4000:])
    return proc


@pytest.fixture(scope="module")
def tarball(tmp_path_factory):
    """Build from a copy of the checkout after the tools have left their state in it, as they do in a work tree."""
    tmp = tmp_path_factory.mktemp("package")
    src = tmp / "checkout"
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, check=True).stdout
    subprocess.run(["rsync", "-a", "--from0", "--files-from=-", "--ignore-missing-args", "./", str(src) + "/"],
                   cwd=ROOT, input=files, check=True)
    # bootstrap's .build/collections link, then pytest: .pytest_cache and __pycache__ (a real run, cache on).
    link = src / ".build" / "collections" / "ansible_collections" / "revproxy"
    link.mkdir(parents=True)
    os.symlink(str(src), str(link / "tls"))
    _run([sys.executable, "-m", "pytest", "-q", "-x", "tests/unit/plugins/filter", "-p", "cacheprovider",
          "--rootdir", str(src), "-o", "cache_dir=.pytest_cache"], src)
    assert (src / ".pytest_cache").is_dir()
    # ansible-lint's project cache: .ansible/ with a nested copy of the collection.
    nested = src / ".ansible" / "collections" / "ansible_collections" / "revproxy" / "tls"
    shutil.copytree(str(src / "plugins"), str(nested / "plugins"))
    shutil.copy(str(src / "galaxy.yml"), str(nested / "galaxy.yml"))
    (src / ".hypothesis" / "examples").mkdir(parents=True)
    # The EE recipe of awx/execution-environment.yml: a tarball in awx/, then the build context in awx/context.
    _run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--output-path", "awx/", "."], src)
    _run([os.path.join(BIN, "ansible-builder"), "create", "-f", "awx/execution-environment.yml", "--context",
          "awx/context"], src)
    assert (src / "awx" / "context" / "_build" / "collections" / TARBALL).exists()
    # An earlier build left in the root.
    _run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", "."], src)
    out = tmp / "dist"
    _run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--output-path", str(out), "."], src)
    return out / TARBALL


def _names(path):
    with tarfile.open(str(path)) as tar:
        members = tar.getmembers()
    return sorted(m.name for m in members if m.isfile()), sorted(m.name for m in members if m.isdir())


def test_tarball_holds_only_the_allowed_files(tarball):
    files, dirs = _names(tarball)
    print("tarball: %d files, %d bytes" % (len(files), os.path.getsize(str(tarball))))
    assert [f for f in files + dirs if NEVER.search(f)] == []
    assert [f for f in files if not any(p.fullmatch(f) for p in ALLOWED)] == []
    assert [d for d in dirs if not any(f.startswith(d + "/") for f in files)] == []  # no empty directories
    for needed in ("MANIFEST.json", "FILES.json", "README.md", "LICENSE", "meta/runtime.yml",
                   "meta/execution-environment.yml", "roles/apache_proxy/meta/argument_specs.yml",
                   "roles/nginx_proxy/meta/argument_specs.yml", "roles/apache_proxy/files/revproxy-tls-acme-activate",
                   "playbooks/site.yml", "playbooks/check.yml", "playbooks/diagnose.yml",
                   "plugins/modules/backend_handshake.py", "awx/execution-environment.yml"):
        assert needed in files
    # No nested collection or old tarball can double it: the source of the package is ~315 files, about 865 KB
    # since the nginx role and room, ACME, the audit and their tests (610 KB before them, with the golden render
    # corpus of the unit tests); a doubled package would be over 1.7 MB.
    assert os.path.getsize(str(tarball)) < 1100000


def test_demo_is_not_an_installed_playbook(tarball):
    files, _dirs_unused = _names(tarball)
    assert not [f for f in files if "demo" in f.split("/")[-1]]
    assert os.path.exists(os.path.join(ROOT, "demo", "demo.yml"))  # make demo still has it


def test_galaxy_importer_accepts_the_tarball(tarball, tmp_path):
    """galaxy-importer offline (tests/package/galaxy-importer.cfg): ansible-doc on every plugin, ansible-lint
    (offline, with the collection's .ansible-lint) on roles and playbooks, metadata, changelog, role README.
    ansible-test runs are off (they need a container image and the network)."""
    importer = os.path.join(TOOLS_BIN, "python")
    if not os.path.exists(importer):
        pytest.fail("tools venv missing: run make setup (scripts/tools-venv.sh)")
    env = dict(os.environ, PATH=TOOLS_BIN + os.pathsep + os.environ["PATH"],
               GALAXY_IMPORTER_CONFIG=os.path.join(HERE, "galaxy-importer.cfg"), HOME=str(tmp_path))
    for name in ("ANSIBLE_COLLECTIONS_PATH", "ANSIBLE_CONFIG"):
        env.pop(name, None)
    proc = subprocess.run([importer, "-m", "galaxy_importer.main", str(tarball)], cwd=str(tmp_path),
                          env=env, capture_output=True, text=True, timeout=600, check=False)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-6000:]
    assert "Importer processing completed successfully" in log, log[-6000:]
    assert not [line for line in log.splitlines() if line.startswith("ERROR")], log[-6000:]
    with open(str(tmp_path / "importer_result.json")) as handle:  # what Galaxy would store and show
        result = json.load(handle)
    names = set(c["name"] for c in result["contents"])
    assert {"backend_handshake", "apache_proxy_sites", "apache_proxy_probe", "apache_proxy", "backend_report",
            "backend_report_summary", "explain_apache_log"} <= names, names
    assert result["docs_blob"]["collection_readme"]["html"]
    assert all(c["doc_strings"] for c in result["docs_blob"]["contents"] if c["content_type"] == "module")
    # What Galaxy would show on the collection's page: no lint finding (its ansible-lint reads our .ansible-lint).
    assert [line for line in log.splitlines() if line.startswith("WARNING")] == [], log[-6000:]


@pytest.fixture(scope="module")
def installed(tarball, tmp_path_factory):
    colls = tmp_path_factory.mktemp("installed")
    # --no-deps: Galaxy is out of reach; the check playbook uses only this collection's plugins.
    _run([os.path.join(BIN, "ansible-galaxy"), "collection", "install", "--force", "--no-deps", "-p", str(colls),
          str(tarball)], colls)
    return colls


@pytest.fixture(scope="module")
def backend(tmp_path_factory):
    f = pki.PKI(tmp_path_factory.mktemp("pki"))
    root = f.ca("Package Test Root CA")
    leaf = f.leaf("pkg", dns=["localhost"], issuer=root)
    server = backends.TLSBackend(leaf.chain_path, leaf.key_path)
    try:
        yield {"port": server.port, "ca": root.cert_path}
    finally:
        server.stop()


def _check(installed, backend, cwd, *extra):
    inv = cwd / "inventory.ini"
    inv.write_text("[revproxy_proxies]\nlocalhost ansible_connection=local ansible_python_interpreter=%s\n"
                   % sys.executable)
    sites = [{"name": "app", "server_name": "app.test",
              "locations": [{"path": "/", "backend": "https://localhost:%d/" % backend["port"]}],
              "backend_tls": {"ca_file": backend["ca"]}}]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "AWX_"))}
    env.update(ANSIBLE_COLLECTIONS_PATH=str(installed), ANSIBLE_NOCOLOR="1", PATH=BIN + os.pathsep + env["PATH"])
    cmd = [os.path.join(BIN, "ansible-playbook"), "-i", str(inv), "revproxy.tls.check",
           "-e", json.dumps({"apache_proxy_sites": sites})] + list(extra)
    return _run(cmd, cwd, env=env)


def _installed_files(installed):
    top = os.path.join(str(installed), "ansible_collections", "revproxy", "tls")
    found = set()
    for dirpath, _dirs, names in os.walk(top):
        for name in names:
            found.add(os.path.relpath(os.path.join(dirpath, name), top))
    return top, found


def test_installed_check_writes_the_report_where_the_caller_is(installed, backend, tmp_path):
    top, before = _installed_files(installed)
    cwd = tmp_path / "ops"
    cwd.mkdir()
    proc = _check(installed, backend, cwd)
    report = cwd / "revproxy-tls-report" / "backend-report.html"
    assert report.is_file() and (cwd / "revproxy-tls-report" / "backend-report.md").is_file()
    assert "report: %s" % report in proc.stdout
    assert "| **OK** |" in (cwd / "revproxy-tls-report" / "backend-report.md").read_text()
    # A relative revproxy_report_dir is relative to the caller too (an absolute one is used as given:
    # tests/integration/test_playbooks_awx.py test_check_job_fail_on_never_and_own_report_dir).
    _check(installed, backend, cwd, "-e", "revproxy_report_dir=nightly/reports")
    assert (cwd / "nightly" / "reports" / "backend-report.md").is_file()
    # Nothing was written inside the installed collection, and ansible-galaxy agrees.
    _top, after = _installed_files(installed)
    assert after == before, sorted(after - before)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(installed))
    verify = _run([os.path.join(BIN, "ansible-galaxy"), "collection", "verify", "--offline", "-p", str(installed),
                   "revproxy.tls"], tmp_path, env=env)
    assert "Successfully verified" in verify.stdout or "verified" in verify.stdout.lower(), verify.stdout
