# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""A small client for the HMC Web Services API (the subset the collection needs).

Built on `requests`. It logs on to the first reachable HMC of a redundant list, keeps the
session header on every request, logs on again once when the HMC says the session is gone
(403 reason 4/5) and tells its `on_relogon` callbacks, so that notification topics and
OS-message channels can be rebuilt. Secrets (password, session id, session credential)
never appear in its logs or exception messages.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import logging
import re
import ssl
import threading
import time
import warnings

from urllib.parse import quote

try:
    import requests
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None
except ImportError as _exc:  # pragma: no cover - exercised by ansible-test's import test
    requests = None
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = _exc

from ansible_collections.zhmc.eda.plugins.module_utils.errors import ZhmcEdaError, blank_secrets
from ansible_collections.zhmc.eda.plugins.module_utils.tls import resolve_ca_certs

LOG = logging.getLogger("zhmc.eda.hmc_client")

DEFAULT_HMC_PORT = 6794
USER_AGENT = "zhmc.eda hmc_client"
# Connection failures of a GET are retried this many times, waiting BACKOFF[i] seconds.
GET_RETRY_BACKOFF = (0.5, 1.0)
MAX_OS_COMMAND_LENGTH = 200
PARTITION_CLASS = "partition"
LPAR_CLASS = "logical-partition"


class HMCClientError(ZhmcEdaError):
    """Base class of the errors this client raises (HMC answers and connection failures)."""


class HMCError(HMCClientError):
    """The HMC answered with an HTTP error status.

    str() reads like ``HTTP 409 reason 331 on POST /api/partitions/x/operations/...: <msg>``.
    It never carries request bodies, headers or secrets.
    """

    def __init__(self, http_status, reason, message, method=None, uri=None):
        self.http_status = http_status
        self.reason = reason
        self.message = message
        self.method = method
        self.uri = uri
        super(HMCError, self).__init__(self._text())

    def _text(self):
        where = ""
        if self.method or self.uri:
            where = " on %s %s" % (self.method or "?", self.uri or "?")
        return "HTTP %s reason %s%s: %s" % (self.http_status, self.reason, where, self.message)

    def __str__(self):
        return self._text()


class HMCAuthError(HMCError):
    """Logon failed, or the session is not valid and cannot be renewed (401, 403 except reason 1)."""


class HMCConnectionError(HMCClientError):
    """The HMC could not be reached or did not answer in time (names host:port and the cause)."""

    def __init__(self, message, host=None, port=None, method=None, uri=None):
        self.host = host
        self.port = port
        self.method = method
        self.uri = uri
        super(HMCConnectionError, self).__init__(message)


class HMCJobTimeout(HMCClientError):
    """An asynchronous HMC job did not end within the time the caller allowed."""


def object_id(uri):
    """The last path segment of an HMC object URI (the object ID)."""
    return str(uri).rstrip("/").rsplit("/", 1)[-1]


def _html_text(body):
    """Readable text of an HTML error page, cut to a sensible length."""
    text = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", body)
    text = re.sub(r"(?s)<[^>]+>", " ", text)
    text = re.sub(r"\s+", " ", text).strip()
    return text[:300] or "(empty HTML page)"


def _check_object_uri(uri, what, prefixes=("/api/partitions/", "/api/logical-partitions/")):
    if not isinstance(uri, str) or not uri.startswith(prefixes) or uri.rstrip("/") in (
            p.rstrip("/") for p in prefixes):
        raise ValueError("%s must be a URI starting with %s, got %r"
                         % (what, " or ".join(prefixes), uri))


class HMCClient:
    """One HMC Web Services API session (its own, or one handed in by the caller).

    `hosts` is a host name or a list of redundant HMCs; logon uses the first reachable one.
    With `session_id`, that session is used as is (no logon) and `logoff()` leaves it
    alone unless `force=True`; when it expires, a new logon needs `userid` and `password`.
    `verify_cert`: True (default trust), a CA file or directory, or False (no checks, warned).
    `timeout`: (connect, read) seconds for every request.
    """

    def __init__(self, hosts, userid=None, password=None, session_id=None,
                 session_credential=None, port=DEFAULT_HMC_PORT, verify_cert=True,
                 timeout=(10, 60)):
        if not HAS_REQUESTS:
            raise ImportError("the Python package 'requests' is needed to talk to the HMC: %s"
                              % REQUESTS_IMPORT_ERROR)
        self.hosts = self._check_hosts(hosts)
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise ValueError("port must be an integer from 1 to 65535, got %r" % (port,))
        self.port = port
        self.timeout = self._check_timeout(timeout)
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
        self._host = None
        self.object_topic = None
        self.job_topic = None
        self.api_version = None
        self.relogon_count = 0
        self.on_relogon = []
        self._lock = threading.RLock()
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
        if verify_cert is False:
            self._verify = False
            LOG.warning("TLS certificate verification for the HMC (%s, port %s) is disabled "
                        "(verify_cert is false): the connection can be intercepted",
                        ", ".join(self.hosts), self.port)
            for host in self.hosts:
                # Silence urllib3's per-request warning for these hosts only, not globally.
                warnings.filterwarnings(
                    "ignore", message=r"Unverified HTTPS request is being made to host '%s'"
                    % re.escape(host), module=r"urllib3(\..*)?$")
        else:
            self._verify = ca_certs if ca_certs else True

    def __repr__(self):
        return "HMCClient(host=%r, port=%r, userid=%r, logged_on=%r)" % (
            self._host or self.hosts[0], self.port, self.userid, self._session_id is not None)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        try:
            self.logoff()
        finally:
            self.close()

    # ---------------------------------------------------------------- validation
    @staticmethod
    def _check_hosts(hosts):
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
    def _check_timeout(timeout):
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
    def host(self):
        """The HMC in use (None before the first request)."""
        return self._host

    @property
    def session_id(self):
        return self._session_id

    @property
    def session_credential(self):
        return self._session_credential

    @property
    def owns_session(self):
        """True when this client logged the session on (so logoff() ends it)."""
        return self._session_id is not None and not self._session_given

    def _secrets(self):
        return [self._password, self._session_id, self._session_credential]

    def _url(self, host, uri):
        if ":" in host and not host.startswith("["):
            host = "[%s]" % host  # IPv6 literal
        return "https://%s:%s%s" % (host, self.port, uri)

    # ---------------------------------------------------------------- session
    def logon(self):
        """Log on (POST /api/sessions) to the first reachable HMC; returns the session id.

        A connection failure moves on to the next HMC; an HMC's refusal (wrong password)
        is raised at once as `HMCAuthError`.
        """
        if self._password is None:
            raise HMCAuthError(
                403, 5, "cannot log on to the HMC: no password was given (a client made "
                "with only a session id cannot log on); pass userid and password",
                "POST", "/api/sessions")
        with self._lock:
            # Prefer the HMC in use, then the list in order.
            order = list(self.hosts)
            if self._host in order:
                order.remove(self._host)
                order.insert(0, self._host)
            failures = []
            for host in order:
                try:
                    result = self._send(host, "POST", "/api/sessions",
                                        body={"userid": self.userid, "password": self._password},
                                        session_id=None)
                except HMCConnectionError as exc:
                    LOG.warning("HMC logon: %s%s", exc,
                                "; trying the next HMC" if host != order[-1] else "")
                    failures.append(exc)
                    continue
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
                return self._session_id
            if len(failures) == 1:
                raise failures[0]
            raise HMCConnectionError(
                "cannot log on to any of the HMCs: %s" % "; ".join(str(f) for f in failures),
                host=order[0], port=self.port, method="POST", uri="/api/sessions")

    def logoff(self, force=False):
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

    def _clear_session(self):
        self._session_id = None
        self._session_credential = None
        self.object_topic = None
        self.job_topic = None

    def close(self):
        """Release the HTTP connections (does not log off)."""
        self._http.close()

    def _select_host(self):
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

    def _relogon(self, failed_session_id):
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

    def _notify_relogon(self):
        for callback in list(self.on_relogon):
            try:
                callback(self)
            except Exception as exc:  # a callback must not break the request that renewed
                LOG.warning("HMC re-logon callback %r failed: %s", callback, exc)

    # ---------------------------------------------------------------- requests
    def _request(self, method, uri, body=None, query=None, renew=True, retry=True):
        """Send one authenticated request; renew the session once on 403 reason 4/5."""
        if self._session_id is None:
            with self._lock:  # another thread may be logging on right now
                if self._session_id is None:
                    if self._password is None:
                        raise HMCAuthError(403, 4, "no HMC session: give a session id or a "
                                           "password", method, uri)
                    self.logon()
        if self._host is None:
            self._select_host()
        session_id = self._session_id
        try:
            return self._send(self._host, method, uri, body=body, query=query,
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
            return self._send(self._host, method, uri, body=body, query=query,
                              session_id=self._session_id, retry=retry)
        finally:
            if renewed:
                self._notify_relogon()

    def _send(self, host, method, uri, body=None, query=None, session_id=None, retry=True):
        """One HTTP exchange with `host`, GET connection failures retried; returns JSON or None."""
        url = self._url(host, uri)
        if query:
            # Filter values are regexes: encode everything (zhmcclient does the same); only
            # the comma separating property names stays literal.
            url += "?" + "&".join(
                "%s=%s" % (quote(str(k), safe=""),
                           quote(str(v), safe="," if k == "properties" else ""))
                for k, v in query)
        headers = {}
        if session_id:
            headers["X-API-Session"] = session_id
        data = json.dumps(body) if body is not None else None
        attempts = 1 + (len(GET_RETRY_BACKOFF) if retry and method == "GET" else 0)
        for attempt in range(attempts):
            started = time.monotonic()
            try:
                response = self._http.request(method, url, data=data, headers=headers,
                                              timeout=self.timeout, verify=self._verify)
            except requests.exceptions.RequestException as exc:
                error = self._connection_error(exc, host, method, uri)
                # A read timeout already took long; a certificate will not change.
                retriable = not isinstance(exc, requests.exceptions.ReadTimeout) and \
                    not isinstance(self._innermost(exc), ssl.SSLCertVerificationError)
                if attempt + 1 < attempts and retriable:
                    LOG.info("%s; retrying in %s s", error, GET_RETRY_BACKOFF[attempt])
                    time.sleep(GET_RETRY_BACKOFF[attempt])
                    continue
                raise error
            LOG.debug("%s %s -> %s (%.3f s)", method, uri, response.status_code,
                      time.monotonic() - started)
            return self._result(response, method, uri)
        raise AssertionError("unreachable")  # pragma: no cover

    def _connection_error(self, exc, host, method, uri):
        if isinstance(self._innermost(exc), ssl.SSLCertVerificationError):
            cause = ("TLS certificate verification failed (%s); give the HMC's CA certificate "
                     "in verify_cert, or set verify_cert to false to skip the check"
                     % self._root_cause(exc))
        elif isinstance(exc, requests.exceptions.SSLError):
            cause = "TLS handshake failed (%s)" % self._root_cause(exc)
        elif isinstance(exc, requests.exceptions.ConnectTimeout):
            cause = "no connection within %s s" % self.timeout[0]
        elif isinstance(exc, requests.exceptions.ReadTimeout):
            cause = "no answer within %s s" % self.timeout[1]
        else:
            cause = self._root_cause(exc)
        message = "HMC %s:%s: %s %s failed: %s" % (host, self.port, method, uri, cause)
        return HMCConnectionError(blank_secrets(message, self._secrets()), host=host,
                                  port=self.port, method=method, uri=uri)

    @staticmethod
    def _innermost(exc):
        """The innermost exception wrapped in a requests/urllib3 error."""
        cause = exc
        seen = set()
        while True:
            inner = None
            if cause.args and isinstance(cause.args[0], BaseException):
                inner = cause.args[0]
            inner = getattr(cause, "reason", None) if inner is None else inner
            if not isinstance(inner, BaseException) or id(inner) in seen:
                break
            seen.add(id(inner))
            cause = inner
        return cause

    @classmethod
    def _root_cause(cls, exc):
        """The innermost reason of a requests/urllib3 error, without URLs and pool noise."""
        cause = cls._innermost(exc)
        text = str(cause)
        # urllib3 puts "<connection object at 0x..>: " in front of the useful part.
        text = re.sub(r"<[^>]*object at 0x[0-9a-f]+>:\s*", "", text)
        text = re.sub(r"^\w*Connection\(host=[^)]*\):\s*", "", text)
        return text or type(cause).__name__

    def _result(self, response, method, uri):
        status = response.status_code
        if status < 400:
            if not response.content or not response.content.strip():
                return None
            try:
                return response.json()
            except ValueError:
                raise HMCError(status, 999, "the HMC answered with a body that is not JSON",
                               method, uri)
        reason, message = None, None
        content_type = response.headers.get("Content-Type", "")
        text = response.text or ""
        if "json" in content_type or text.lstrip().startswith("{"):
            try:
                error = response.json()
            except ValueError:
                error = None
            if isinstance(error, dict):
                reason = error.get("reason")
                message = error.get("message")
        if reason is None and message is None:
            # Some 5xx answers are HTML pages; name them as zhmcclient does.
            reason = 900 if re.search(r"Web Services API is not enabled", text, re.I) else 999
            message = (_html_text(text) if "<" in text else text.strip()[:300]) or \
                response.reason or "no error details"
        message = blank_secrets(message or "", self._secrets())
        error_class = HMCError
        if status == 401 or (status == 403 and reason != 1):
            error_class = HMCAuthError
        raise error_class(status, reason, message, method, uri)

    # ---------------------------------------------------------------- generic
    def query_api_version(self):
        """GET /api/version (no session needed): api-major/minor-version, hmc-version, hmc-name."""
        if self._host is None:
            self._select_host()
        return self._send(self._host, "GET", "/api/version", session_id=self._session_id)

    def get_notification_topics(self):
        """The raw topic items of this session (Get Notification Topics)."""
        result = self._request("GET", "/api/sessions/operations/get-notification-topics")
        return list((result or {}).get("topics", []))

    def keepalive(self):
        """A cheap authenticated GET that keeps the session (and its topics) alive.

        Returns the current topic items; a session that expired is renewed (callbacks run).
        """
        return self.get_notification_topics()

    def get_properties(self, uri, properties=None):
        """GET an object's properties (all, or only the names in `properties`)."""
        if not isinstance(uri, str) or not uri.startswith("/api/"):
            raise ValueError("uri must be an HMC object URI starting with /api/, got %r" % (uri,))
        query = None
        if properties:
            query = [("properties", ",".join(properties))]
        return self._request("GET", uri, query=query)

    def list_cpcs(self, name=None):
        """List CPCs (object-uri, name, status, dpm-enabled, ...); `name` is a full-match regex."""
        query = [("name", name)] if name is not None else None
        result = self._request("GET", "/api/cpcs", query=query)
        return list((result or {}).get("cpcs", []))

    # ---------------------------------------------------------------- lookups
    def find_cpcs(self, name_regex):
        """CPCs whose name fully matches `name_regex` (the HMC filters)."""
        self._check_regex(name_regex, "cpc name")
        cpcs = self.list_cpcs(name=name_regex)
        for cpc in cpcs:
            if "dpm-enabled" not in cpc:  # older HMCs do not list it
                cpc["dpm-enabled"] = bool(
                    self.get_properties(cpc["object-uri"], ["dpm-enabled"]).get("dpm-enabled"))
        return cpcs

    @staticmethod
    def _check_regex(regex, what):
        if not isinstance(regex, str) or not regex:
            raise ValueError("%s regex must be a non-empty string, got %r" % (what, regex))
        try:
            re.compile(regex)
        except re.error as exc:
            raise ValueError("%s regex %r is not a valid regular expression: %s"
                             % (what, regex, exc))

    def _list_children(self, cpc, kind, name_regex):
        cpc_id = object_id(cpc["object-uri"])
        if kind == PARTITION_CLASS:
            uri, key = "/api/cpcs/%s/partitions" % cpc_id, "partitions"
        else:
            uri, key = "/api/cpcs/%s/logical-partitions" % cpc_id, "logical-partitions"
        try:
            result = self._request("GET", uri, query=[("name", name_regex)])
        except HMCError as exc:
            if kind == LPAR_CLASS and exc.http_status == 404 and exc.reason == 1:
                return []  # the LPAR list answers "no match" with 404 reason 1
            raise
        return [{
            "uri": item["object-uri"],
            "name": item.get("name"),
            "id": object_id(item["object-uri"]),
            "class": kind,
            "cpc_name": cpc.get("name"),
            "cpc_uri": cpc["object-uri"],
            "status": item.get("status"),
        } for item in (result or {}).get(key, [])]

    def find_partitions(self, cpc_regex, name_regex):
        """Partitions of DPM CPCs, both names full-match regexes."""
        return self.find_os_objects(cpc_regex, partition_regex=name_regex, lpar_regex=None,
                                    _kinds=(PARTITION_CLASS,))

    def find_lpars(self, cpc_regex, name_regex):
        """LPARs of classic CPCs, both names full-match regexes."""
        return self.find_os_objects(cpc_regex, partition_regex=None, lpar_regex=name_regex,
                                    _kinds=(LPAR_CLASS,))

    def find_os_objects(self, cpc_regex, partition_regex=None, lpar_regex=None, _kinds=None):
        """Partitions (DPM CPCs) and LPARs (classic CPCs) with OS consoles.

        Each name is a full-match regex. With neither `partition_regex` nor `lpar_regex`,
        every partition and LPAR of the matching CPCs; with only one, only that kind.
        Returns dicts ``{uri, name, id, class, cpc_name, cpc_uri, status}``.
        """
        if _kinds is None:
            if partition_regex is None and lpar_regex is None:
                partition_regex = lpar_regex = ".*"
            _kinds = tuple(kind for kind, regex in ((PARTITION_CLASS, partition_regex),
                                                    (LPAR_CLASS, lpar_regex)) if regex is not None)
        if PARTITION_CLASS in _kinds:
            self._check_regex(partition_regex, "partition name")
        if LPAR_CLASS in _kinds:
            self._check_regex(lpar_regex, "lpar name")
        found = []
        for cpc in self.find_cpcs(cpc_regex):
            kind = PARTITION_CLASS if cpc.get("dpm-enabled") else LPAR_CLASS
            if kind not in _kinds:
                continue
            regex = partition_regex if kind == PARTITION_CLASS else lpar_regex
            found.extend(self._list_children(cpc, kind, regex))
        return found

    # ---------------------------------------------------------------- OS messages
    def open_os_message_channel(self, object_uri, include_refresh_messages=True):
        """Open the OS message channel of a partition or LPAR in this session.

        Returns ``(topic_name, "opened")``, ``(topic_name, "existing")`` when this session
        has it open already (409 reason 331), or ``(None, "unsupported")`` when the OS does
        not support OS messages (409 reason 332).
        """
        _check_object_uri(object_uri, "object_uri")
        if not isinstance(include_refresh_messages, bool):
            raise ValueError("include_refresh_messages must be true or false, got %r"
                             % (include_refresh_messages,))
        uri = object_uri.rstrip("/") + "/operations/open-os-message-channel"
        try:
            result = self._request("POST", uri,
                                   body={"include-refresh-messages": include_refresh_messages})
        except HMCError as exc:
            if exc.http_status == 409 and exc.reason == 332:
                return None, "unsupported"
            if exc.http_status != 409 or exc.reason != 331:
                raise
            topic = self.find_os_message_topic(object_uri)
            if topic is None:
                raise HMCError(exc.http_status, exc.reason,
                               "%s; Get Notification Topics lists no os-message-notification "
                               "topic for object %s" % (exc.message, object_id(object_uri)),
                               exc.method, exc.uri)
            return topic, "existing"
        return result["topic-name"], "opened"

    def find_os_message_topic(self, object_uri, topics=None):
        """The name of this session's OS message topic of an object (matched by object ID)."""
        wanted = object_id(object_uri)
        for item in topics if topics is not None else self.get_notification_topics():
            if (item.get("topic-type") == "os-message-notification" and item.get("object-uri")
                    and object_id(item["object-uri"]) == wanted):
                return item.get("topic-name")
        return None

    def list_os_messages(self, object_uri, begin=None, end=None):
        """The OS messages the HMC keeps for the object, optionally within a sequence range."""
        _check_object_uri(object_uri, "object_uri")
        query = []
        for name, parm, value in (("begin", "begin-sequence-number", begin),
                                  ("end", "end-sequence-number", end)):
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError("%s must be a sequence number (an integer >= 0), got %r"
                                 % (name, value))
            query.append((parm, value))
        if begin is not None and end is not None and begin > end:
            raise ValueError("begin (%d) must not be greater than end (%d)" % (begin, end))
        result = self._request("GET", object_uri.rstrip("/") + "/operations/list-os-messages",
                               query=query or None)
        return list((result or {}).get("os-messages", []))

    def send_os_command(self, object_uri, text, is_priority=False):
        """Send an operating system command (1 to 200 characters) to the partition or LPAR."""
        _check_object_uri(object_uri, "object_uri")
        if not isinstance(text, str) or not 1 <= len(text) <= MAX_OS_COMMAND_LENGTH:
            length = len(text) if isinstance(text, str) else None
            raise ValueError("OS command text must be a string of 1 to %d characters, got %s"
                             % (MAX_OS_COMMAND_LENGTH,
                                "%d characters" % length if length is not None
                                else type(text).__name__))
        if not isinstance(is_priority, bool):
            raise ValueError("is_priority must be true or false, got %r" % (is_priority,))
        self._request("POST", object_uri.rstrip("/") + "/operations/send-os-cmd",
                      body={"operating-system-command-text": text, "is-priority": is_priority})

    # ---------------------------------------------------------------- jobs
    def _start_job(self, uri, operation, prefix, body=None):
        _check_object_uri(uri, "uri", prefixes=(prefix,))
        result = self._request("POST", uri.rstrip("/") + "/operations/" + operation, body=body or {})
        if not result or "job-uri" not in result:
            raise HMCError(202, None, "the HMC started %s but returned no job-uri" % operation,
                           "POST", uri.rstrip("/") + "/operations/" + operation)
        return result["job-uri"]

    def start_partition(self, uri):
        """Start a DPM partition; returns the job URI."""
        return self._start_job(uri, "start", "/api/partitions/")

    def stop_partition(self, uri):
        """Stop a DPM partition; returns the job URI."""
        return self._start_job(uri, "stop", "/api/partitions/")

    def activate_lpar(self, uri, force=False):
        """Activate a classic LPAR; returns the job URI. Without `force` the HMC's job fails
        (HTTP 500 reason 263) for an LPAR that is operating."""
        return self._start_job(uri, "activate", "/api/logical-partitions/", {"force": True} if force else None)

    def deactivate_lpar(self, uri, force=False):
        """Deactivate a classic LPAR; returns the job URI. Without `force` the HMC's job fails
        (HTTP 500 reason 263) for an LPAR that is operating."""
        return self._start_job(uri, "deactivate", "/api/logical-partitions/", {"force": True} if force else None)

    def query_job_status(self, job_uri):
        """Query Job Status: status, and job-status-code/-reason-code/-results once ended."""
        _check_object_uri(job_uri, "job_uri", prefixes=("/api/jobs/",))
        return self._request("GET", job_uri)

    def delete_completed_job(self, job_uri):
        """Delete Completed Job Status (409 reason 40 while the job still runs)."""
        _check_object_uri(job_uri, "job_uri", prefixes=("/api/jobs/",))
        self._request("DELETE", job_uri)

    def wait_for_job(self, job_uri, timeout=300, poll_interval=1.0, delete=True):
        """Poll a job until it ends (bounded by `timeout` seconds); returns its final status.

        The completed job status is deleted afterwards unless `delete` is false.
        """
        deadline = time.monotonic() + timeout
        while True:
            status = self.query_job_status(job_uri)
            if status.get("status") in ("complete", "canceled"):
                if delete:
                    try:
                        self.delete_completed_job(job_uri)
                    except HMCError as exc:
                        LOG.debug("Deleting job %s failed: %s", job_uri, exc)
                return status
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise HMCJobTimeout("HMC job %s did not end within %s s (status %s)"
                                    % (job_uri, timeout, status.get("status")))
            time.sleep(min(poll_interval, remaining))
