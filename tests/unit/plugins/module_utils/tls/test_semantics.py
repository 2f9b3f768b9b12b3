"""The semantics object the checker is given (tls/_semantics.py), the neutral catalogue it merges with a server's
part (tls/_catalogue.py), and Apache's part and semantics (apache/_catalogue.py, tls/_mod_ssl.MOD_SSL)."""
import re

import pytest

from ansible_collections.revproxy.tls.plugins.module_utils.apache import _catalogue as apache_catalogue
from ansible_collections.revproxy.tls.plugins.module_utils.apache._capabilities import APACHE
from ansible_collections.revproxy.tls.plugins.module_utils.model._backend_tls import parse_backend_url
from ansible_collections.revproxy.tls.plugins.module_utils.tls import _catalogue, _mod_ssl
from ansible_collections.revproxy.tls.plugins.module_utils.tls._semantics import Semantics

SERVER_WORDS = re.compile(r"Apache|SSLProxy|mod_ssl|AH0|ProxyPass|ProxyPreserveHost|httpd|mod_proxy")
URL = parse_backend_url("https://backend.test:8443/app/", "url")


@pytest.mark.parametrize("method, args", [
    ("tls_names", (URL,)), ("host_header", ("backend.test", None)), ("protocol_range", (["TLSv1.2"],)),
    ("cipher_string", ("HIGH",)), ("verify_decision", ("require", 4, 0, 0, True)), ("choose_client_cert", ([], [])),
    ("build_chain_issuers", (None, [])), ("classify", ({}, {})),
])
def test_the_interface_is_left_to_each_server(method, args):
    with pytest.raises(NotImplementedError):
        getattr(Semantics(), method)(*args)


def test_neutral_notes_and_cipher_list():
    class Plain(Semantics):
        def cipher_string(self, ciphers):
            return ciphers
    assert Plain().cipher_list(None) == b"DEFAULT" and Plain().cipher_list("HIGH") == b"HIGH"
    kinds = ("encrypted_key", "no_certificate", "only_ca", "no_key", "key_mismatch", "trust_file")
    notes = [Semantics().client_file_note(kind) for kind in kinds]
    assert all(notes) and not any(SERVER_WORDS.search(note) for note in notes)


def test_mod_ssl_answers_as_its_functions():
    assert _mod_ssl.MOD_SSL.tls_names(URL) == _mod_ssl.tls_names(URL) == ("backend.test", "backend.test")
    assert _mod_ssl.MOD_SSL.host_header("backend.test", 8443) == "backend.test:8443"
    assert _mod_ssl.MOD_SSL.cipher_list("HIGH") == b"HIGH:!aNULL:!eNULL:!EXP"
    assert _mod_ssl.MOD_SSL.cipher_list(None) == _mod_ssl.DEFAULT_CIPHERS
    assert _mod_ssl.MOD_SSL.client_file_note("only_ca") == "only CA certificates: AH02206"
    assert _mod_ssl.MOD_SSL.catalogue is None and _mod_ssl.MOD_SSL.profile is None


def test_with_catalogue_is_a_copy():
    semantics = _mod_ssl.MOD_SSL.with_catalogue({"x": 1}, ("a", "b"), profile=APACHE)
    assert (semantics.catalogue, semantics.log_keys, semantics.profile) == ({"x": 1}, ("a", "b"), APACHE)
    assert _mod_ssl.MOD_SSL.catalogue is None and _mod_ssl.MOD_SSL.log_keys == ("server_log",)
    assert isinstance(semantics, _mod_ssl.ModSSL)


def test_apache_semantics():
    semantics = apache_catalogue.SEMANTICS
    assert semantics.catalogue is apache_catalogue.CATALOGUE and semantics.profile is APACHE
    assert semantics.log_keys == ("server_log", "apache_log")


def test_the_neutral_catalogue_names_no_server():
    for reason, entry in _catalogue.NEUTRAL.items():
        assert set(entry) == {"f", "title", "message"}, reason
        assert not SERVER_WORDS.search(entry["title"] + entry["message"]), reason
    assert _catalogue.REASONS == tuple(apache_catalogue.CATALOGUE)


def test_apache_rewords_only_what_names_apache():
    for reason, part in apache_catalogue.SERVER_PART.items():
        for key in ("title", "message"):
            if key in part:
                assert SERVER_WORDS.search(part[key]), (reason, key)
                assert part[key] != _catalogue.NEUTRAL[reason][key], (reason, key)


def test_merge_refuses_an_incomplete_server_part():
    part = dict(apache_catalogue.SERVER_PART)
    del part["expired"]
    with pytest.raises(ValueError, match="missing reasons .*expired"):
        _catalogue.merge(part)
    with pytest.raises(ValueError, match="unknown reasons .*'nope'"):
        _catalogue.merge(dict(apache_catalogue.SERVER_PART, nope={}))
    part = dict(apache_catalogue.SERVER_PART, ok={"logs": {"default": []}, "http_status": None, "fix": None})
    with pytest.raises(ValueError, match="ok lacks insecure_workaround"):
        _catalogue.merge(part)


def test_server_log_and_its_deprecated_alias_are_one_list():
    fields = {"address": "192.0.2.1:443", "host": "b.test", "path": "/", "detail": "refused"}
    entry = apache_catalogue.entry_result("connect_refused", fields)
    assert entry["server_log"] is entry["apache_log"] and entry["server_log"]
    assert "AH00957" in entry["server_log"][0]["line"]
    neutral = _catalogue.entry_result(apache_catalogue.CATALOGUE["connect_refused"], fields)
    assert "apache_log" not in neutral and neutral["server_log"] == entry["server_log"]
