"""One source for the oldest pyOpenSSL/cryptography the checker supports (_pyopenssl_compat.MIN_VERSIONS): the module's
documented requirements, the execution environment's requirements and the usage docs state exactly those."""
import os
import re

import pytest
import yaml

from ansible_collections.revproxy.tls.plugins.module_utils.tls._pyopenssl_compat import MIN_VERSIONS
from ansible_collections.revproxy.tls.plugins.modules import backend_handshake

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", ".."))


def _read(*parts):
    with open(os.path.join(ROOT, *parts)) as handle:
        return handle.read()


@pytest.mark.parametrize("package", sorted(MIN_VERSIONS))
def test_module_requirements(package):
    requirements = " ".join(yaml.safe_load(backend_handshake.DOCUMENTATION)["requirements"])
    assert "%s >= %s " % (package, MIN_VERSIONS[package]) in requirements + " "


@pytest.mark.parametrize("package", sorted(MIN_VERSIONS))
def test_ee_requirements(package):
    lines = [line.strip() for line in _read("meta", "ee-requirements.txt").splitlines()]
    assert "%s>=%s" % (package, MIN_VERSIONS[package]) in lines


@pytest.mark.parametrize("package", sorted(MIN_VERSIONS))
def test_usage_docs(package):
    assert re.search(r"`%s` \(>= %s\)" % (package, re.escape(MIN_VERSIONS[package])), _read("docs", "usage.md"))


def test_compat_stage_runs_on_the_minimum():
    """The compat stage uses Debian 12's packages, which are the minimum; its comment says which versions."""
    text = _read("requirements", "debian-compat.txt")
    major = MIN_VERSIONS["cryptography"].split(".", 1)[0]
    assert "(%s)" % MIN_VERSIONS["pyOpenSSL"] in text and "(%s)" % major in text
