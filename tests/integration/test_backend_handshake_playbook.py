"""backend_handshake through a real ansible-playbook run on localhost (normal and --check), many backends in one task."""
import json
import os
import subprocess
import sys
import time

import pytest

from support import backends, pki

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.dirname(sys.executable)

PLAYBOOK = """\
- name: Check backends
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Check every backend as mod_ssl would
      revproxy.tls.backend_handshake:
        backends: "{{ backends }}"
        fail_on: never
        timeout: 3
      register: check

    - name: Save the result
      ansible.builtin.copy:
        content: "{{ check | to_json }}"
        dest: "{{ out }}"
        mode: "0600"
      check_mode: false
"""


def run_playbook(tmp_path, backends_list, *extra):
    play = tmp_path / "play.yml"
    play.write_text(PLAYBOOK)
    out = tmp_path / "out.json"
    # the managed node's Python: this venv's, or the matrix stage's (scripts/test.sh)
    python = os.environ.get("REVPROXY_TEST_MODULE_PYTHON") or sys.executable
    extra_vars = {"backends": backends_list, "out": str(out), "ansible_python_interpreter": python}
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".build", "collections"),
               ANSIBLE_CONFIG=os.path.join(ROOT, "tests", "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    start = time.monotonic()
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", "localhost,", "-c", "local", str(play),
                           "-e", json.dumps(extra_vars)] + list(extra), env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    elapsed = time.monotonic() - start
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(out.read_text()), proc.stdout, elapsed


@pytest.fixture(scope="module")
def farm(tmp_path_factory):
    f = pki.PKI(tmp_path_factory.mktemp("pki"))
    root = f.ca("Playbook Root")
    inter = f.ca("Playbook Int", issuer=root)
    leaf = f.leaf("b", dns=["localhost"], issuer=inter)
    with backends.MultiTLSBackend(50, leaf.chain_path, leaf.key_path) as be:
        items = [{"url": "https://localhost:%d/" % port, "ca_file": root.cert_path} for port in be.ports]
        items.append({"url": "https://127.0.0.1:%d/" % be.ports[0], "ca_file": root.cert_path})  # IP literal
        yield items


@pytest.mark.parametrize("check_mode", [False, True])
def test_playbook(tmp_path, farm, check_mode):
    result, stdout, elapsed = run_playbook(tmp_path, farm, *(["--check"] if check_mode else []))
    assert result["changed"] is False
    assert result["summary"] == {"ok": 50, "ip_literal_name": 1}
    assert result["msg"].startswith("backends[50] (https://127.0.0.1:")
    assert ": ip_literal_name: " in result["msg"] and "Fix: " in result["msg"]
    assert result["msg"].endswith(" | 51 backends checked: 50 ok, 1 failed")
    assert "skipped=0" in stdout  # --check runs the module (supports_check_mode), never skips it
    assert elapsed < 30
