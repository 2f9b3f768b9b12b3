# -*- coding: utf-8 -*-
# Copyright: contributors to the revproxy.tls collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils file is internal to revproxy.tls; it is not a public API.
"""The questions the checker asks a proxy server, as one interface: the server's semantics.

The checker (_checker, _tls_probe, _context) connects, handshakes and reads the answer the same way for every
server; what differs between servers is what a server decides on its backend connection. A Semantics object answers
those questions and is passed in by the caller (the module picks it, together with the server's part of the failure
catalogue): the checker never imports a server's file. ModSSL (MOD_SSL) is the first implementation.

A subclass implements every method below that raises NotImplementedError; `catalogue` is the merged catalogue
(tls/_catalogue's neutral part of each reason plus the server's log lines, client status and fixes), attached with
with_catalogue() by the code that assembles the server's part.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

from ansible_collections.revproxy.tls.plugins.module_utils.model._backend_tls import ConfigError
from ansible_collections.revproxy.tls.plugins.module_utils.tls._catalogue import entry_result


class Semantics(object):
    """A server's rules for its backend TLS connections. Attributes:

    name: the server's TLS layer as messages name it;
    catalogue: reason -> merged catalogue entry (None until with_catalogue());
    log_keys: the result keys that carry the server's predicted log lines (the first is the current name; the
      others are deprecated aliases a server keeps for its users, each the same list);
    default_ciphers: the cipher list (bytes) the server hands to OpenSSL when none is configured;
    profile: the same server's capability profile for the model (model/_server.ServerProfile), with which the checker
      validates the `sites` it is given (None until with_catalogue(); the checks of `backends` do not need it).
    """

    name = None
    catalogue = None
    log_keys = ("server_log",)
    default_ciphers = b"DEFAULT"
    profile = None

    def with_catalogue(self, catalogue, log_keys=None, profile=None):
        """A copy of these semantics that reports through `catalogue` (and `log_keys`, when given) and validates
        sites with `profile` (when given)."""
        other = copy.copy(self)
        other.catalogue = catalogue
        if log_keys is not None:
            other.log_keys = tuple(log_keys)
        if profile is not None:
            other.profile = profile
        return other

    # -- names: which name is sent as SNI and checked, and the Host header ----------------------------------------

    def tls_names(self, backend_url, preserve_host=False, host=None):
        """(sni, checked_name) of a backend URL: SNI None when none is sent. Raises ConfigError (the field first)."""
        raise NotImplementedError

    def host_header(self, url_host, explicit_port, preserve_host=False, client_host=None):
        """The Host header the server sends to the backend."""
        raise NotImplementedError

    # The keys of a backends[] entry that only some servers have (the checker's argument spec lists them all; a
    # server that has none of them refuses each one that is set, naming it).
    SERVER_KEYS = ("ssl_name", "ssl_server_name")
    backend_keys = ()

    def backend_names(self, backend_url, preserve_host, host, item):
        """(sni, checked_name) of a backends[] entry: tls_names() of its URL and Host, once the keys the server
        does not have (SERVER_KEYS but backend_keys) are refused. Raises ConfigError (the field first)."""
        for key in self.SERVER_KEYS:
            if key not in self.backend_keys and item.get(key) is not None:
                raise ConfigError("%s: not a setting of %s (leave it unset)" % (key, self.name))
        return self.tls_names(backend_url, preserve_host, host)

    def check_settings(self, tls):
        """Refuse (ConfigError, the field first) backend TLS settings the server cannot express; none by default."""

    # -- the TLS context -------------------------------------------------------------------------------------------

    # True when the server verifies after the handshake from the last verify result (the handshake itself never
    # fails on a certificate): the checker then keeps the last verify error instead of the first.
    verify_after_handshake = False
    # True when the server sends the CA certificates that follow the client certificate in its file as the chain
    # (the checker adds them to the context's extra chain certificates).
    sends_file_chain = False

    def verify_depth_limit(self, verify_depth):
        """The depth limit the server hands to OpenSSL (SSL_CTX_set_verify_depth), or None when it sets none and
        applies its own depth rule in verify_decision()."""
        return None

    def protocol_range(self, protocols):
        """(lowest, highest) protocol name the server enables for a configured protocol list."""
        raise NotImplementedError

    def cipher_string(self, ciphers):
        """The cipher string the server hands to OpenSSL for a configured one (None: not configured)."""
        raise NotImplementedError

    def cipher_list(self, ciphers):
        """cipher_string() as bytes; default_ciphers when none is configured."""
        built = self.cipher_string(ciphers)
        return built.encode("ascii") if built is not None else self.default_ciphers

    def verify_decision(self, verify, verify_depth, errnum, errdepth, preverify_ok):
        """The verify callback for one certificate of the chain: (ok, event or None); what is verified when
        verification is off and how depth counts are the server's."""
        raise NotImplementedError

    def choose_client_cert(self, ca_names, client_certs):
        """(index or None, code): which configured client certificate the server sends for the backend's
        acceptable-CA list; the code names the server's decision (the catalogue and classify() read it)."""
        raise NotImplementedError

    def build_chain_issuers(self, cert, pool):
        """The issuers of a client certificate's chain beyond the leaf, as the server builds it from `pool`."""
        raise NotImplementedError

    def client_file_note(self, kind):
        """The words that end a message about an unusable client certificate file, by kind: encrypted_key,
        no_certificate, only_ca, no_key, key_mismatch, trust_file (what the server does with such a file)."""
        return {
            "encrypted_key": "the server cannot use encrypted keys",
            "no_certificate": "no certificate",
            "only_ca": "only CA certificates",
            "no_key": "no key",
            "key_mismatch": "key mismatch",
            "trust_file": "the server would not start",
        }[kind]

    # -- the verdict -----------------------------------------------------------------------------------------------

    def classify(self, facts, tls, preserve_host=False, checked_name=None, now=None, is_ip=False):
        """(reason, variant, fields) of what the probe observed, as the server would decide."""
        raise NotImplementedError

    def entry_result(self, reason, fields, variant="default"):
        """The catalogue's fields of a reason's result (message, the log keys, http_status, fix, ...)."""
        return entry_result(self.catalogue[reason], fields, variant, self.log_keys)
