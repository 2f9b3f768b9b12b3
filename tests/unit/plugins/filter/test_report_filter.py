"""The filter plugin is a thin wrapper: errors become AnsibleFilterError, results come from plugin_utils/_report.py."""
import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.revproxy.tls.plugins.filter import backend_report, backend_report_summary, explain_apache_log

# One filter per file (each documented for ansible-doc -t filter); together they are the report filters.
FILTERS = dict(item for plugin in (backend_report, backend_report_summary, explain_apache_log)
               for item in plugin.FilterModule().filters().items())


def test_filters_are_registered():
    assert sorted(FILTERS) == ["backend_report", "backend_report_summary", "explain_apache_log"]


@pytest.mark.parametrize("name, args, match", [
    ("backend_report", ("nope",), "backend_report: expected a backend_handshake result"),
    ("backend_report", ({"backends": []}, "pdf"), "backend_report: format: expected html or markdown"),
    ("backend_report_summary", ({"backends": []}, "x"), "backend_report_summary: days_warn: expected an integer"),
])
def test_errors(name, args, match):
    with pytest.raises(AnsibleFilterError, match=match):
        FILTERS[name](*args)


def test_values():
    assert FILTERS["backend_report_summary"]({"backends": []})["msg"] == "0 backends: 0 ok, 0 failed, 0 expiring within 30 days"
    assert FILTERS["backend_report"]({"backends": []}, "markdown").startswith("# Backend TLS report")
    assert FILTERS["explain_apache_log"](["x AH02040: y"])[0]["reasons"] == ["chain_too_long"]


FRONT = {"results": [{"site": "shop", "certificate_file": "/etc/ssl/shop.pem", "subject": "CN=shop", "names": [],
                      "not_after": "2030-01-01T00:00:00Z", "days_left": 9, "ok": True, "problems": []}],
         "failed_sites": [], "msg": "1 frontend certificate(s) passed"}


def test_frontend_is_an_optional_keyword():
    """The filters keep their positional signature; frontend= adds the frontend certificates."""
    summary = FILTERS["backend_report_summary"]({"backends": []}, 30, 50, frontend=FRONT)
    assert (summary["expiring"], summary["frontend"]["expiring"]) == (1, 1)
    text = FILTERS["backend_report"]({"backends": []}, "markdown", 30, "T", None, frontend=FRONT)
    assert "## Frontend certificates" in text and "/etc/ssl/shop.pem" in text
    with pytest.raises(AnsibleFilterError, match="backend_report: frontend: expected a frontend_certificate result"):
        FILTERS["backend_report"]({"backends": []}, frontend="nope")
    with pytest.raises(AnsibleFilterError, match="backend_report_summary: frontend: expected"):
        FILTERS["backend_report_summary"]({"backends": []}, frontend=3)
