"""The execution environment: ansible-builder introspects the installed collection and finds its requirements, and
the example definition (awx/execution-environment.yml) produces a build context that installs the collection."""
import os
import subprocess
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BUILDER = os.path.join(os.path.dirname(sys.executable), "ansible-builder")


def _lines(path):
    with open(os.path.join(ROOT, path)) as handle:
        return [line.strip() for line in handle if line.strip() and not line.startswith("#")]


def test_collection_metadata_points_at_the_requirement_files():
    with open(os.path.join(ROOT, "meta", "execution-environment.yml")) as handle:
        meta = yaml.safe_load(handle)
    assert meta["dependencies"] == {"python": "meta/ee-requirements.txt", "system": "meta/ee-bindep.txt"}
    with open(os.path.join(ROOT, "galaxy.yml")) as handle:
        ignored = yaml.safe_load(handle).get("build_ignore") or []
    assert not [p for p in ignored if p.startswith("meta")]


def test_introspect_lists_the_collection_requirements():
    out = subprocess.run([BUILDER, "introspect", os.path.join(ROOT, ".build", "collections")], capture_output=True,
                         text=True, check=True, timeout=60).stdout
    data = yaml.safe_load(out.split("---", 1)[1])
    assert data["python"] == ["%s  # from collection revproxy.tls" % r for r in _lines("meta/ee-requirements.txt")]
    assert data["system"] == ["%s  # from collection revproxy.tls" % r for r in _lines("meta/ee-bindep.txt")]
    assert any(r.startswith("pyOpenSSL") for r in data["python"])


def test_example_definition_creates_a_build_context(tmp_path):
    with open(os.path.join(ROOT, "awx", "execution-environment.yml")) as handle:
        text = handle.read()
    with open(os.path.join(ROOT, "galaxy.yml")) as handle:
        tarball = "revproxy-tls-%s.tar.gz" % yaml.safe_load(handle)["version"]  # what collection build names it
    (tmp_path / "execution-environment.yml").write_text(text)
    (tmp_path / tarball).write_bytes(b"")  # the built collection (ansible-galaxy collection build)
    subprocess.run([BUILDER, "create", "-f", "execution-environment.yml", "--context", "ctx"], cwd=str(tmp_path),
                   capture_output=True, text=True, check=True, timeout=60)
    containerfile = (tmp_path / "ctx" / "Dockerfile").read_text()
    assert "ansible-galaxy collection install" in containerfile and "COPY _build /build" in containerfile
    reqs = yaml.safe_load((tmp_path / "ctx" / "_build" / "requirements.yml").read_text())
    assert reqs["collections"][0]["name"] == "collections/" + tarball
    assert (tmp_path / "ctx" / "_build" / "collections" / tarball).exists()
