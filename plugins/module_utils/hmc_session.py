# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""One HMC Web Services API session: which HMC, which session id, and renewing it.

It logs on to the first reachable HMC of a redundant list, keeps the session header on
every request, logs on again once when the HMC says the session is gone (403 reason 4/5)
and tells its `on_relogon` callbacks, so that notification topics and OS-message channels
can be rebuilt. Besides the session it knows only the session-wide calls (API version,
notification topics, keep-alive) and the generic ones (`get_properties`, `post`);
hmc_client adds the operations, hmc_http does the HTTPS exchanges. Secrets (password,
session id, session credential) never appear in its logs or exception messages.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, TypeVar, Union

from ansible_collections.zhmc.eda.plugins.module_utils.constants import DEFAULT_WS_PORT
from ansible_collections.zhmc.eda.plugins.module_utils.hmc_errors import (
    HAS_REQUESTS, REQUESTS_IMPORT_ERROR, HMCAuthError, HMCConnectionError, HMCError)
from ansible_collections.zhmc.eda.plugins.module_utils.hmc_http import (
    DEFAULT_MAX_CONNECTIONS, LOG, HMCHttp, Query, VerifyCert)

DEFAULT_HMC_PORT = DEFAULT_WS_PORT
LOGON_URI = "/api/sessions"
_Session = TypeVar("_Session", bound="HMCSession")


class HMCSession:
    """One HMC Web Services API session (its own, or one handed in by the caller).

    `hosts` is a host name or a list of redundant HMCs; logon uses the first reachable one.
    With `session_id`, that session is used as is (no logon) and `logoff()` leaves it
    alone unless `force=True`; when it expires, a new logon needs `userid` and `password`.
    `verify_cert`: True (default trust), a CA file or directory, or False (no checks, warned).
    `timeout`: (connect, read) seconds for every request. `max_connections`: HTTPS
    connections kept open per HMC (as many as the caller makes requests at once).
    `on_busy()` is called (in the request's thread) whenever the HMC answers 503 (busy).
    """

    def __init__(self, hosts: Union[str, Sequence[str]], userid: Optional[str] = None,
                 password: Optional[str] = None, session_id: Optional[str] = None,
                 session_credential: Optional[str] = None, port: int = DEFAULT_HMC_PORT,
                 verify_cert: VerifyCert = True,
                 timeout: Union[float, Sequence[float]] = (10, 60),
                 max_connections: int = DEFAULT_MAX_CONNECTIONS,
                 on_busy: Optional[Callable[[], None]] = None) -> None:
        if not HAS_REQUESTS:
            raise ImportError("the Python package 'requests' is needed to talk to the HMC: %s"
                              % REQUESTS_IMPORT_ERROR)
        self.hosts = self._check_hosts(hosts)
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise ValueError("port must be an integer from 1 to 65535, got %r" % (port,))
        timeout_pair = self._check_timeout(timeout)
        if isinstance(max_connections, bool) or not isinstance(max_connections, int) \
                or max_connections < 1:
            raise ValueError("max_connections must be a positive integer, got %r"
                             % (max_connections,))
        if session_id is None and password is None:
            raise ValueError("HMC authentication needs either userid and password or a "
                             "session_id; none was given")
        if password is not None and not userid:
            raise ValueError("userid must be given together with password")
        for name, value in (("userid", userid), ("password", password),
                            ("session_id", session_id),
                            ("session_credential", session_credential)):
            if value is not None and (not isinstance(value, str) or not value):
                raise ValueError("%s must be a non-empty string" % name)
        self.userid = userid
        self._password = password
        self._session_id = session_id
        self._session_credential = session_credential
        self._session_given = session_id is not None   # the caller's session, not ours
        self._host: Optional[str] = None
        self.object_topic: Optional[str] = None
        self.job_topic: Optional[str] = None
        self.api_version: Optional[Tuple[Any, Any]] = None
        self.relogon_count = 0
        # Called with this client after a request that logged on again (any thread).
        self.on_relogon: List[Callable[[HMCSession], object]] = []
        self._lock = threading.RLock()
        # The connection settings (port, timeout, TLS) live there, once.
        self._http = HMCHttp(self.hosts, port, timeout_pair, verify_cert, max_connections,
                             on_busy)

    def __repr__(self) -> str:
        return "%s(host=%r, port=%r, userid=%r, logged_on=%r)" % (
            type(self).__name__, self._host or self.hosts[0], self.port, self.userid,
            self._session_id is not None)

    def __enter__(self: _Session) -> _Session:
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            self.logoff()
        finally:
            self.close()

    # ---------------------------------------------------------------- validation
    @staticmethod
    def _check_hosts(hosts: Union[str, Sequence[str]]) -> List[str]:
        if isinstance(hosts, str):
            hosts = [hosts]
        if not isinstance(hosts, (list, tuple)) or not hosts:
            raise ValueError("hosts must be a host name or a non-empty list of host names, "
                             "got %r" % (hosts,))
        for host in hosts:
            if not isinstance(host, str) or not host.strip() or "/" in host:
                raise ValueError("hosts: %r is not a host name or IP address" % (host,))
        return [host.strip() for host in hosts]

    @staticmethod
    def _check_timeout(timeout: Union[float, Sequence[float]]) -> Tuple[float, float]:
        if isinstance(timeout, (int, float)) and not isinstance(timeout, bool):
            timeout = (timeout, timeout)
        if (not isinstance(timeout, (list, tuple)) or len(timeout) != 2
                or any(isinstance(t, bool) or not isinstance(t, (int, float)) or t <= 0
                       for t in timeout)):
            raise ValueError("timeout must be a positive number or a (connect, read) pair of "
                             "positive numbers, got %r" % (timeout,))
        return (float(timeout[0]), float(timeout[1]))

    # ---------------------------------------------------------------- properties
    @property
    def host(self) -> Optional[str]:
        """The HMC in use (None before the first request)."""
        return self._host

    @property
    def session_id(self) -> Optional[str]:
        return self._session_id

    @property
    def session_credential(self) -> Optional[str]:
        return self._session_credential

    @property
    def port(self) -> int:
        return self._http.port

    @property
    def timeout(self) -> Tuple[float, float]:
        """(connect, read) seconds for every request."""
        return self._http.timeout

    @property
    def verify_cert(self) -> VerifyCert:
        return self._http.verify_cert

    @property
    def owns_session(self) -> bool:
        """True when this client logged the session on (so logoff() ends it)."""
        return self._session_id is not None and not self._session_given

    def _secrets(self) -> List[Optional[str]]:
        return [self._password, self._session_id, self._session_credential]

    # ---------------------------------------------------------------- session
    def logon(self, avoid: Optional[str] = None) -> str:
        """Log on (POST /api/sessions) to the first reachable HMC; returns the session id.

        The HMC in use is tried first, then the list in order; ``avoid`` (an HMC that
        stopped answering) is tried last. A connection failure moves on to the next HMC; an
        HMC's refusal (wrong password) is raised at once as `HMCAuthError`.
        """
        if self._password is None:
            raise HMCAuthError(
                403, 5, "cannot log on to the HMC: no password was given (a client made "
                "with only a session id cannot log on); pass userid and password",
                "POST", LOGON_URI)
        with self._lock:
            # Prefer the HMC in use, then the list in order; the one to avoid last.
            order = list(self.hosts)
            if self._host in order:
                order.remove(self._host)
                order.insert(0, self._host)
            if avoid in order:
                order.remove(avoid)
                order.append(avoid)
            failures = []
            for host in order:
                try:
                    result = self._send(host, "POST", LOGON_URI,
                                        body={"userid": self.userid, "password": self._password},
                                        session_id=None)
                except HMCConnectionError as exc:
                    LOG.warning("HMC logon: %s%s", exc,
                                "; trying the next HMC" if host != order[-1] else "")
                    failures.append(exc)
                    continue
                self._take_session(host, result)
                return result["api-session"]
            if len(failures) == 1:
                raise failures[0]
            raise HMCConnectionError(
                "cannot log on to any of the HMCs: %s" % "; ".join(str(f) for f in failures),
                host=order[0], port=self.port, method="POST", uri=LOGON_URI)

    def _take_session(self, host: str, result: Dict[str, Any]) -> None:
        """Keep what a Logon answer tells: session, credential, topics, API version."""
        self._host = host
        self._session_id = result["api-session"]
        self._session_credential = result.get("session-credential")
        self.object_topic = result.get("notification-topic")
        self.job_topic = result.get("job-notification-topic")
        major = result.get("api-major-version")
        minor = result.get("api-minor-version")
        self.api_version = (major, minor) if major is not None else None
        self._session_given = False
        LOG.info("Logged on to HMC %s:%s as %s (API version %s)", host, self.port,
                 self.userid, "%s.%s" % self.api_version if self.api_version else "?")

    def logoff(self, force: bool = False) -> None:
        """End our session (DELETE /api/sessions/this-session); a 403 or an unreachable
        HMC is tolerated. A session handed in by the caller is kept unless `force`."""
        with self._lock:
            if self._session_id is None:
                return
            if self._session_given and not force:
                LOG.debug("Not logging off the session handed in by the caller")
                self._clear_session()
                return
            try:
                self._request("DELETE", "/api/sessions/this-session", renew=False, retry=False)
                LOG.info("Logged off from HMC %s:%s", self._host, self.port)
            except HMCAuthError as exc:
                LOG.info("HMC logoff: the session was already gone (%s)", exc.reason)
            except HMCConnectionError as exc:
                LOG.warning("HMC logoff skipped: %s", exc)
            finally:
                self._clear_session()

    def _clear_session(self) -> None:
        self._session_id = None
        self._session_credential = None
        self.object_topic = None
        self.job_topic = None

    def close(self) -> None:
        """Release the HTTP connections (does not log off)."""
        self._http.close()

    def _select_host(self) -> str:
        """For a handed-in session: the only HMC, or the first that answers Query API Version."""
        if len(self.hosts) == 1:
            self._host = self.hosts[0]
            return self._host
        failures = []
        for host in self.hosts:
            try:
                self._send(host, "GET", "/api/version", session_id=None, retry=False)
            except HMCConnectionError as exc:
                failures.append(str(exc))
                continue
            except HMCError:
                pass  # it answers: good enough
            self._host = host
            return host
        raise HMCConnectionError("no HMC reachable (%s)" % "; ".join(failures),
                                 host=self.hosts[0], port=self.port)

    def _relogon(self, failed_session_id: Optional[str]) -> bool:
        """Log on again after a 403 reason 4/5, unless another thread already did."""
        with self._lock:
            if self._session_id is not None and self._session_id != failed_session_id:
                return False  # renewed meanwhile by another request
            LOG.warning("HMC %s:%s: the session is not valid anymore; logging on again",
                        self._host, self.port)
            try:
                self.logon()
            except Exception:
                self._clear_session()
                raise
            self.relogon_count += 1
            return True

    def _notify_relogon(self) -> None:
        for callback in list(self.on_relogon):
            try:
                callback(self)
            except Exception as exc:  # a callback must not break the request that renewed
                LOG.warning("HMC re-logon callback %r failed: %s", callback, exc)

    # ---------------------------------------------------------------- requests
    def _request(self, method: str, uri: str, body: Any = None, query: Optional[Query] = None,
                 renew: bool = True, retry: bool = True) -> Any:
        """Send one authenticated request; renew the session once on 403 reason 4/5.

        Returns the answer's JSON, or None for an empty answer.
        """
        if self._session_id is None:
            with self._lock:  # another thread may be logging on right now
                if self._session_id is None:
                    if self._password is None:
                        raise HMCAuthError(403, 4, "no HMC session: give a session id or a "
                                           "password", method, uri)
                    self.logon()
        host = self._host if self._host is not None else self._select_host()
        session_id = self._session_id
        try:
            return self._send(host, method, uri, body=body, query=query,
                              session_id=session_id, retry=retry)
        except HMCAuthError as exc:
            if not renew or exc.http_status != 403 or exc.reason not in (4, 5):
                raise
            if self._password is None:
                raise HMCAuthError(
                    exc.http_status, exc.reason,
                    "the HMC session has expired or is not valid (%s) and no password was "
                    "given to log on again; pass the password together with the session id"
                    % exc.message, method, uri)
        renewed = self._relogon(session_id)
        try:
            return self._send(self._host or host, method, uri, body=body, query=query,
                              session_id=self._session_id, retry=retry)
        finally:
            if renewed:
                self._notify_relogon()

    def _send(self, host: str, method: str, uri: str, body: Any = None,
              query: Optional[Query] = None, session_id: Optional[str] = None,
              retry: bool = True) -> Any:
        """One HTTP exchange with `host` (see `HMCHttp.send`), our secrets kept out of errors."""
        return self._http.send(host, method, uri, body=body, query=query, session_id=session_id,
                               retry=retry, secrets=self._secrets())

    # ---------------------------------------------------------------- session-wide calls
    def query_api_version(self) -> Dict[str, Any]:
        """GET /api/version (no session needed): api-major/minor-version, hmc-version, hmc-name."""
        host = self._host if self._host is not None else self._select_host()
        return self._send(host, "GET", "/api/version", session_id=self._session_id)

    def get_notification_topics(self) -> List[Dict[str, Any]]:
        """The raw topic items of this session (Get Notification Topics)."""
        result = self._request("GET", "/api/sessions/operations/get-notification-topics")
        return list((result or {}).get("topics", []))

    def keepalive(self) -> List[Dict[str, Any]]:
        """A cheap authenticated GET that keeps the session (and its topics) alive.

        Returns the current topic items; a session that expired is renewed (callbacks run).
        """
        return self.get_notification_topics()

    # ---------------------------------------------------------------- any object, any operation
    def get_properties(self, uri: str, properties: Optional[Sequence[str]] = None) -> Any:
        """GET an object's properties (all, or only the names in `properties`)."""
        if not isinstance(uri, str) or not uri.startswith("/api/"):
            raise ValueError("uri must be an HMC object URI starting with /api/, got %r" % (uri,))
        query = None
        if properties:
            query = [("properties", ",".join(properties))]
        return self._request("GET", uri, query=query)

    def post(self, uri: str, body: Optional[Dict[str, Any]] = None) -> Any:
        """An authenticated POST of any WS API operation; returns its JSON answer or None.

        For operations this client has no method for (e.g. Start Partition, which answers
        with ``{"job-uri": ...}``).
        """
        if not isinstance(uri, str) or not uri.startswith("/api/"):
            raise ValueError("uri must be an HMC URI starting with /api/, got %r" % (uri,))
        return self._request("POST", uri, body=body if body is not None else {})
