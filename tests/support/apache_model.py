"""The model's normalisers as the Apache tests call them.

normalize_site(s) and site_backend_checks take the server's capability profile (`server=`) and the layout's TLS
directory (`tls_dir=`) with no default (issue 22: the model names no server and no path). The tests were written
for Apache with Debian's TLS directory; these wrappers say so once, so each test still reads as the site it checks.
A test that needs another directory or profile passes it as before.
"""

from ansible_collections.revproxy.tls.plugins.module_utils.apache import _render
from ansible_collections.revproxy.tls.plugins.module_utils.apache._capabilities import APACHE
from ansible_collections.revproxy.tls.plugins.module_utils.model import _sites

TLS_DIR = "/etc/apache2/revproxy-tls"  # Debian's layout (apache/_layout), the default these tests were written for


def normalize_site(site, index=0, defaults=None, tls_dir=TLS_DIR, policy=None, server=APACHE):
    return _sites.normalize_site(site, index, defaults, tls_dir, policy, server=server)


def normalize_sites(sites, defaults=None, tls_dir=TLS_DIR, policy=None, server=APACHE):
    return _sites.normalize_sites(sites, defaults, tls_dir, policy, server=server)


def site_backend_checks(eff, server=APACHE):
    return _sites.site_backend_checks(eff, server)


def render_site(site, log_level="warn ssl:info", tls_dir=TLS_DIR):
    return _render.render_site(site, log_level, tls_dir)
