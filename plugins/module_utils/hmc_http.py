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
import random
import re
import time
import warnings
from typing import TYPE_CHECKING, Any, Callable, Iterable, Optional, Sequence, Tuple, Union
from urllib.parse import quote

from ansible_collections.zhmc.eda.plugins.module_utils.hmc_errors import (
    HAS_REQUESTS, REASON_API_NOT_ENABLED, REASON_UNKNOWN, HMCError, answer_error,
    connection_error, is_certificate_refused)
from ansible_collections.zhmc.eda.plugins.module_utils.tls import resolve_ca_certs

if HAS_REQUESTS:
    import requests
if TYPE_CHECKING:
    from requests import Response

LOG = logging.getLogger("zhmc.eda.hmc_client")

USER_AGENT = "zhmc.eda hmc_client"
# Connection failures of a GET are retried this many times, waiting BACKOFF[i] seconds.
GET_RETRY_BACKOFF = (0.5, 1.0)
# An answer 503 (Service Unavailable: the HMC cannot take the request now and did not carry it
# out, RFC 9110 15.6.4) is retried this many times, for any method, after BUSY_RETRY_BACKOFF[i]
# seconds plus up to half of that at random (parallel callers do not come back together), or
# after the answer's Retry-After seconds when it gives them and they are not more than
# BUSY_RETRY_MAX_WAIT. The HMC's "Web Services API is not enabled" 503 is not retried.
BUSY_RETRY_BACKOFF = (1.0, 2.0)
BUSY_RETRY_MAX_WAIT = 10.0
# HTTPS connections kept per HMC (requests' own default is 10); the source asks for more when
# it makes more calls at once (option parallel_hmc_calls).
DEFAULT_MAX_CONNECTIONS = 10

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
                 verify_cert: VerifyCert, max_connections: int = DEFAULT_MAX_CONNECTIONS,
                 on_busy: Optional[Callable[[], None]] = None) -> None:
        self.port = port
        self.timeout = timeout
        self.verify_cert = verify_cert
        ca_certs = resolve_ca_certs(verify_cert)
        self._http = requests.Session()
        # one pool per HMC, big enough for the calls made at once (a full pool would throw
        # connections away and make new TLS handshakes)
        self._http.mount("https://", requests.adapters.HTTPAdapter(
            pool_connections=max(1, len(hosts)), pool_maxsize=max(1, max_connections)))
        self.sleep: Callable[[float], None] = time.sleep  # tests count the waits
        # told (in the request's thread) of every busy answer, so that a caller making many
        # calls at once can slow all of them down (parallel_calls)
        self.on_busy = on_busy
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
        """One HTTP exchange with `host`, GET connection failures and busy answers retried.

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
        busy_retries = 0
        attempt = 0
        while True:
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
                    self.sleep(GET_RETRY_BACKOFF[attempt])
                    attempt += 1
                    continue
                raise error
            LOG.debug("%s %s -> %s (%.3f s)", method, uri, response.status_code,
                      time.monotonic() - started)
            if response.status_code == 503 and self.on_busy is not None:
                self.on_busy()
            if response.status_code == 503 and retry and busy_retries < len(BUSY_RETRY_BACKOFF):
                wait = busy_wait(response, busy_retries)
                if wait is not None:
                    LOG.info("HMC %s:%s is busy (HTTP 503 on %s %s); trying again in %.1f s",
                             host, self.port, method, uri, wait)
                    self.sleep(wait)
                    busy_retries += 1
                    continue
            return _answer_json(response, method, uri, secrets)


def busy_wait(response: Response, retries_done: int) -> Optional[float]:
    """Seconds to wait before asking again after a 503 answer; None: do not ask again."""
    if answer_error(response, "", "", ()).reason == REASON_API_NOT_ENABLED:
        return None  # waiting will not enable the Web Services API
    after = (response.headers.get("Retry-After") or "").strip()
    if after.isdigit():
        seconds = float(after)
        return seconds if seconds <= BUSY_RETRY_MAX_WAIT else None
    base = BUSY_RETRY_BACKOFF[retries_done]
    return base * (1.0 + 0.5 * random.random())  # noqa: S311 - jitter, not a secret


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
