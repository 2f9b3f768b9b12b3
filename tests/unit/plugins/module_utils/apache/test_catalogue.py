"""Apache's failure catalogue (apache/_catalogue.py: the neutral part of tls/_catalogue.py merged with Apache's log
lines, statuses and fixes): complete, documented in the module, rendered into the troubleshooting guide (moved from
tls/test_mod_ssl.py with the catalogue, assertions unchanged)."""
import os
import subprocess
import sys

from ansible_collections.revproxy.tls.plugins.module_utils.apache import _catalogue as cat


def test_catalogue_complete():
    required = {"ok", "dns_failure", "connect_refused", "connect_timeout", "timeout", "plain_http_backend",
                "tls_protocol_mismatch", "untrusted_ca", "no_ca_configured", "chain_too_long", "incomplete_chain",
                "name_mismatch", "preserve_host_name_mismatch", "ip_literal_name", "expired", "not_yet_valid",
                "client_cert_required", "client_cert_rejected", "revoked", "misdirected_request"}
    assert required <= set(cat.REASONS)
    for reason, entry in cat.CATALOGUE.items():
        assert set(entry) >= {"f", "title", "message", "logs", "http_status", "fix", "insecure_workaround"}, reason
        if entry["insecure_workaround"]:
            assert entry["insecure_workaround"].startswith("INSECURE:"), reason
        for logs in entry["logs"].values():
            for level, line in logs:
                assert level in ("startup", "warn", "ssl:info", "ssl:debug"), (reason, level)
                assert line.startswith("["), (reason, line)
        if reason != "ok":
            assert entry["fix"], reason


def test_reasons_documented_in_module():
    from ansible_collections.revproxy.tls.plugins.modules import backend_handshake as mod
    for reason in cat.REASONS:
        assert "C(%s)" % reason in mod.DOCUMENTATION, reason


def test_troubleshooting_doc_is_generated():
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", ".."))
    proc = subprocess.run([sys.executable, os.path.join(root, "scripts", "gen_troubleshooting.py"), "--check"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    with open(os.path.join(root, "docs", "troubleshooting-ah00898.md")) as f:
        text = f.read()
    for reason in cat.REASONS:
        assert "`%s`" % reason in text


def test_new_catalogue_entries_render():
    entry = cat.entry_result("invalid_input", {"detail": "backends[3].host: must not contain CR", "field":
                                               "backends[3].host"})
    assert entry["message"] == "invalid input, not checked: backends[3].host: must not contain CR"
    assert "backends[3].host" in entry["fix"] and entry["apache_log"] == [] and entry["http_status"] is None
    entry = cat.entry_result("no_cipher_match", {"detail": "backends[0].ciphers: OpenSSL: no cipher match",
                                                 "ciphers": "eNULL"})
    assert entry["message"].startswith("SSLProxyCipherSuite eNULL selects no cipher once mod_ssl appends "
                                       ":!aNULL:!eNULL:!EXP, so httpd will not start")
    assert [line["level"] for line in entry["apache_log"]] == ["startup"] * 3
    assert "AH01898" in entry["apache_log"][0]["line"] and entry["http_status"] is None
    assert "<" not in entry["message"] + entry["fix"]


def test_fixes_are_platform_neutral_and_defaults_attributed():
    fix = cat.CATALOGUE["no_ca_configured"]["fix"]
    assert "/etc/ssl/certs/ca-certificates.crt" in fix and "/etc/pki/tls/certs/ca-bundle.crt" in fix
    for reason, entry in cat.CATALOGUE.items():
        workaround = entry["insecure_workaround"] or ""
        assert "(the default" not in workaround, reason
        if "SSLProxyVerify none" in workaround:
            assert "mod_ssl's own default" in workaround and "this collection renders require" in workaround
