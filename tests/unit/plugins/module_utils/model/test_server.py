"""model/_server.py: the capability profile the model asks. The profile is required (no default server), refusals
name the server, and a second server plugs in with a profile of its own while model/ stays as it is (a toy profile
here stands for nginx/_capabilities.py)."""
import pytest

from ansible_collections.revproxy.tls.plugins.module_utils.apache._capabilities import APACHE, ApacheProfile
from ansible_collections.revproxy.tls.plugins.module_utils.model._grammar import ConfigError
from ansible_collections.revproxy.tls.plugins.module_utils.model._server import ServerProfile
from ansible_collections.revproxy.tls.plugins.module_utils.model._sites import (
    normalize_site,
    normalize_sites,
    site_backend_checks,
)

TLS_DIR = "/srv/tls"


def site(**over):
    return dict({"name": "shop", "server_name": "shop.example.com",
                 "locations": [{"path": "/", "backend": "https://b.internal:8443/"}],
                 "backend_tls": {"ca_file": "/etc/ssl/ca.pem"}}, **over)


class Toy(ServerProfile):
    """A second server as little as the model needs: its own connection options, URL mapping, names; no pools of
    bytraffic, no balancer manager, no extra lines (the base class refuses those, naming the server)."""

    name = "Toy"

    def connection_params(self, loc, field):
        return [("timeout", str(loc["timeout"]))] if loc.get("timeout") is not None else []

    def check_backend(self, url, path, field):
        pass

    def check_member(self, url, path, field):
        pass

    def pool_backend(self, pool, path):
        return "upstream:" + pool["name"]

    def check_pool(self, pool, field):
        if pool["lbmethod"] == "bytraffic":
            self.refuse(field + ".lbmethod", "it balances by requests or connections, not by traffic")

    def tls_names(self, url, preserve_host=False, host=None):
        return url.host, url.host

    def check_site(self, eff):
        if eff["balancer_manager"]:
            self.refuse("balancer_manager", "it has no balancer manager page")

    def managed_vhosts(self, eff):
        return []

    def check_ownership(self, sites, live=(), managed_dir=None):
        return []


@pytest.mark.parametrize("server", [None, "apache", ApacheProfile])
def test_the_profile_is_required(server):
    with pytest.raises(TypeError) as exc:
        normalize_site(site(), tls_dir=TLS_DIR, server=server)
    assert "server= must be a model/_server.ServerProfile" in str(exc.value)
    with pytest.raises(TypeError):
        normalize_sites([site()], tls_dir=TLS_DIR, server=server)


@pytest.mark.parametrize("tls_dir", [None, "", "relative/tls"])
def test_the_tls_directory_is_required(tls_dir):
    with pytest.raises(TypeError) as exc:
        normalize_site(site(), tls_dir=tls_dir, server=APACHE)
    assert "tls_dir=" in str(exc.value)


def test_a_second_server_uses_the_same_model():
    pool = {"path": "/api/", "backends": [{"url": "https://m1.internal/api/"}, {"url": "https://m2.internal/api/"}],
            "timeout": 5}
    eff = normalize_site(site(locations=[pool]), tls_dir=TLS_DIR, server=Toy())
    loc = eff["locations"][0]
    assert loc["backend"] == "upstream:api" and loc["params"] == [("timeout", "5")]
    assert [c["sni"] for c in site_backend_checks(eff, Toy())] == ["m1.internal", "m2.internal"]
    # Apache writes the same intent its own way.
    apache = normalize_site(site(locations=[pool]), tls_dir=TLS_DIR, server=APACHE)["locations"][0]
    assert apache["backend"] == "balancer://api/" and apache["params"] == [("timeout", "5")]


@pytest.mark.parametrize("over,message", [
    ({"locations": [{"path": "/", "backends": [{"url": "https://m1.internal/"}], "lbmethod": "bytraffic"}]},
     "site 'shop': locations[0].lbmethod: Toy cannot express this: it balances by requests or connections, not by "
     "traffic"),
    ({"locations": [{"path": "/", "backends": [{"url": "https://m1.internal/"}]}], "balancer_manager": True},
     "site 'shop': balancer_manager: Toy cannot express this: it has no balancer manager page"),
    ({"extra_directives": ["Timeout 5"]},
     "site 'shop': extra_directives: Toy cannot express this: it takes no extra configuration lines"),
])
def test_a_server_refuses_what_it_cannot_express_naming_itself(over, message):
    with pytest.raises(ConfigError) as exc:
        normalize_site(site(**over), tls_dir=TLS_DIR, server=Toy())
    assert str(exc.value) == message
    normalize_site(site(**over), tls_dir=TLS_DIR, server=APACHE)  # Apache expresses each of them


def test_apache_words_its_consequences_and_a_neutral_server_says_nothing_more():
    no_ca = site(backend_tls={"verify": "require"})
    with pytest.raises(ConfigError) as exc:
        normalize_site(no_ca, tls_dir=TLS_DIR, server=Toy())
    assert str(exc.value) == "site 'shop': backend_tls.verify: 'require' needs a CA (ca_file, ca_content or ca_path)"
    with pytest.raises(ConfigError) as exc:
        normalize_site(no_ca, tls_dir=TLS_DIR, server=APACHE)
    assert str(exc.value).endswith("mod_ssl never uses the system trust store for backends, so every backend would "
                                   "fail with AH02039 (error 20)")
