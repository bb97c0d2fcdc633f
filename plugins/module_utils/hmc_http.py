# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""HTTPS exchanges with the HMCs of one client (built on `requests`).

`HMCHttp` sends one request to one host and returns the answer's JSON: it owns the
requests session, the TLS verification setting and the retries of GETs that fail to
connect. Which host and which session id to use is hmc_session's business; what a
failure or an error answer becomes is hmc_errors'.
"""

from __future__ import annotations

import json
import logging
import re
import time
import warnings
from typing import TYPE_CHECKING, Any, Iterable, Optional, Sequence, Tuple, Union
from urllib.parse import quote

from ansible_collections.zhmc.eda.plugins.module_utils.hmc_errors import (
    HAS_REQUESTS, REASON_UNKNOWN, HMCError, answer_error, connection_error,
    is_certificate_refused)
from ansible_collections.zhmc.eda.plugins.module_utils.tls import resolve_ca_certs

if HAS_REQUESTS:
    import requests
if TYPE_CHECKING:
    from requests import Response

LOG = logging.getLogger("zhmc.eda.hmc_client")

USER_AGENT = "zhmc.eda hmc_client"
# Connection failures of a GET are retried this many times, waiting BACKOFF[i] seconds.
GET_RETRY_BACKOFF = (0.5, 1.0)

# (name, value) pairs of a URI query; values are sent URL-encoded.
Query = Sequence[Tuple[str, Any]]
# True (default trust), a CA file or directory, or False (no checks).
VerifyCert = Union[bool, str]


class HMCHttp:
    """One requests session to the HMCs `hosts` on `port`, checked as `verify_cert` says.

    `timeout` is the (connect, read) pair of seconds for every request. The caller has
    checked hosts, port and timeout; a bad `verify_cert` raises `ValueError` here.
    """

    def __init__(self, hosts: Sequence[str], port: int, timeout: Tuple[float, float],
                 verify_cert: VerifyCert) -> None:
        self.port = port
        self.timeout = timeout
        self.verify_cert = verify_cert
        ca_certs = resolve_ca_certs(verify_cert)
        self._http = requests.Session()
        self._http.headers.update({
            "Content-Type": "application/json",
            "Accept": "*/*",
            "User-Agent": USER_AGENT,
        })
        # Passed on every request: a session-level `verify` loses against REQUESTS_CA_BUNDLE
        # in requests' environment merging (resolve_ca_certs has honoured it already).
        self._verify: VerifyCert
        if verify_cert is False:
            self._verify = False
            LOG.warning("TLS certificate verification for the HMC (%s, port %s) is disabled "
                        "(hmc_auth.verify is false): the connection can be intercepted",
                        ", ".join(hosts), port)
            for host in hosts:
                # Silence urllib3's per-request warning for these hosts only, not globally.
                warnings.filterwarnings(
                    "ignore", message=r"Unverified HTTPS request is being made to host '%s'"
                    % re.escape(host), module=r"urllib3(\..*)?$")
        else:
            self._verify = ca_certs if ca_certs else True

    def close(self) -> None:
        """Release the HTTP connections."""
        self._http.close()

    def url(self, host: str, uri: str, query: Optional[Query] = None) -> str:
        if ":" in host and not host.startswith("["):
            host = "[%s]" % host  # IPv6 literal
        url = "https://%s:%s%s" % (host, self.port, uri)
        if query:
            # Filter values are regexes: encode everything (zhmcclient does the same); only
            # the comma separating property names stays literal.
            url += "?" + "&".join(
                "%s=%s" % (quote(str(k), safe=""),
                           quote(str(v), safe="," if k == "properties" else ""))
                for k, v in query)
        return url

    def send(self, host: str, method: str, uri: str, body: Any = None,
             query: Optional[Query] = None, session_id: Optional[str] = None,
             retry: bool = True, secrets: Iterable[Optional[str]] = ()) -> Any:
        """One HTTP exchange with `host`, GET connection failures retried.

        Returns the answer's JSON, or None for an empty answer; raises `HMCError` /
        `HMCAuthError` for an error answer and `HMCConnectionError` for a failed exchange,
        with `secrets` blanked out of their messages.
        """
        url = self.url(host, uri, query)
        headers = {}
        if session_id:
            headers["X-API-Session"] = session_id
        data = json.dumps(body) if body is not None else None
        secrets = list(secrets)
        attempts = 1 + (len(GET_RETRY_BACKOFF) if retry and method == "GET" else 0)
        for attempt in range(attempts):
            started = time.monotonic()
            try:
                response = self._http.request(method, url, data=data, headers=headers,
                                              timeout=self.timeout, verify=self._verify)
            except requests.exceptions.RequestException as exc:
                error = connection_error(exc, host, self.port, method, uri, self.timeout,
                                         secrets)
                # A read timeout already took long; a certificate will not change.
                retriable = not isinstance(exc, requests.exceptions.ReadTimeout) and \
                    not is_certificate_refused(exc)
                if attempt + 1 < attempts and retriable:
                    LOG.info("%s; retrying in %s s", error, GET_RETRY_BACKOFF[attempt])
                    time.sleep(GET_RETRY_BACKOFF[attempt])
                    continue
                raise error
            LOG.debug("%s %s -> %s (%.3f s)", method, uri, response.status_code,
                      time.monotonic() - started)
            return _answer_json(response, method, uri, secrets)
        raise AssertionError("unreachable")  # pragma: no cover


def _answer_json(response: Response, method: str, uri: str, secrets: Iterable[Optional[str]]) -> Any:
    """The JSON of a successful answer (None when empty); the HMCError of any other."""
    status = response.status_code
    if status >= 400:
        raise answer_error(response, method, uri, secrets)
    if not response.content or not response.content.strip():
        return None
    try:
        return response.json()
    except ValueError:
        raise HMCError(status, REASON_UNKNOWN, "the HMC answered with a body that is not JSON",
                       method, uri)
