"""apache/_vhosts.py: a managed site against the hand-written vhosts of the running configuration (moved from
model/test_round_two.py with the file it tests; assertions unchanged)."""
import pytest

from ansible_collections.revproxy.tls.plugins.module_utils.apache import _vhosts
from ansible_collections.revproxy.tls.plugins.module_utils.model._backend_tls import ConfigError
from support.apache_model import normalize_sites

TLS = {"certificate_file": "/etc/ssl/front.pem", "key_file": "/etc/ssl/front.key"}


def site(name="shop", **over):
    base = {"name": name, "server_name": "%s.example.com" % name, "tls": dict(TLS),
            "locations": [{"path": "/", "backend": "http://app.internal:8080/"}]}
    base.update(over)
    return base


LIVE = [{"address": None, "port": 443, "names": ["legacy.example.com", "*.legacy.example.com"],
         "file": "/etc/apache2/sites-enabled/legacy.conf", "line": 1, "default": True}]


def test_live_hand_written_vhosts():
    # A managed site on a specific address captures the hand-written *:443 vhost there.
    eff = normalize_sites([site("other", listen={"port": 443, "address": "127.0.0.1"}, redirect_http=False)])
    with pytest.raises(ConfigError) as err:
        _vhosts.check_ownership(eff, LIVE, "/etc/apache2/sites-enabled")
    assert "hand-written vhost /etc/apache2/sites-enabled/legacy.conf:1" in str(err.value)
    # A name it already serves, and a wildcard that matches it.
    for over in ({"server_name": "legacy.example.com"}, {"server_aliases": ["*.example.com"]}):
        eff = normalize_sites([site("zz", redirect_http=False, **over)])
        with pytest.raises(ConfigError):
            _vhosts.check_ownership(eff, LIVE, "/etc/apache2/sites-enabled")
    # A managed file read before the hand-written default server would become the default.
    eff = normalize_sites([site("aaa", redirect_http=False)])
    with pytest.raises(ConfigError) as err:
        _vhosts.check_ownership(eff, LIVE, "/etc/apache2/sites-enabled")
    assert "sorts before legacy.conf" in str(err.value)
    # After it, with its own names: fine; a name under its wildcard is warned about.
    eff = normalize_sites([site("zz", redirect_http=False, server_name="a.legacy.example.com")])
    warnings = _vhosts.check_ownership(eff, LIVE, "/etc/apache2/sites-enabled")
    assert warnings and "*.legacy.example.com" in warnings[0]
