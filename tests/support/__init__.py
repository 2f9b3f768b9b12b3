"""Reusable test kit for revproxy.tls: real certificates (pki), real TLS/hostile servers (backends), a private Apache (apache).

Import as ``from support import pki, backends, apache`` (tests/conftest.py puts tests/ on sys.path).
"""
