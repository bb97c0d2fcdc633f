"""The HTTPS Web Services API subset (http.server, one thread per request).

Errors are HMC-shaped: a JSON body with http-status, reason, message, request-method,
request-uri and friends. Request headers are echoed without X-API-Session and
Authorization, and the request body is never echoed (it may hold a password). Request
validation uses the HMC's common reason codes: 400.1 unknown query parameter, 400.3
missing body, 400.5 missing field, 400.7 wrong type or range, 400.9 malformed JSON,
400.14 invalid query value.
"""
from __future__ import annotations

import json
import logging
import re
import socket
import ssl
import threading
import struct
import sys
import time
from typing import Any
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

from hmcsim.hmc import Hmc, Session
from hmcsim.inventory import Query
from hmcsim.jobs import HmcError
from hmcsim.resources import LPAR, PARTITION, Resource
from hmcsim.serving import ServedHttp

LOG = logging.getLogger("hmcsim.wsapi")

MAX_BODY = 1024 * 1024
_ID = r"([^/?]+)"
_SAFE_HEADERS = ("content-type", "accept", "user-agent", "x-audit-id", "content-length")


def _bool_parm(name: str, values: list[str]) -> bool:
    value = values[-1]
    if value not in ("true", "false"):
        raise HmcError(400, 14, "Query parameter %s must be true or false, got %r." % (name, value[:40]))
    return value == "true"


def _int_parm(name: str, values: list[str]) -> int:
    value = values[-1]
    if not re.fullmatch(r"-?\d{1,18}", value):
        raise HmcError(400, 14, "Query parameter %s must be an integer, got %r." % (name, value[:40]))
    return int(value)


def _only(query: Query, allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(query) - set(allowed))
    if unknown:
        raise HmcError(400, 1, "Unrecognized or unsupported query parameters: %s." % ", ".join(unknown))


def _with_session(session: Session | None) -> Session:
    """The session of an operation whose route needs one (_dispatch has looked it up)."""
    if session is None:      # a bug in hmcsim: _dispatch answers it as an internal error
        raise RuntimeError("an operation that needs a session ran without one")
    return session


class Load:
    """How the WS API answers under load (a test device: no public source says how an HMC does).

    `delay` seconds pass before each request is handled (a remote or slow HMC); with
    `capacity`, a request that arrives while that many are being handled gets 503 with an
    HTML body at once (a busy HMC). Counts what it saw, for tests and benchmarks.
    """

    def __init__(self) -> None:
        self.delay = 0.0
        self.capacity: int | None = None
        self._lock = threading.Lock()
        self._in_flight = 0
        self.stats = {"requests": 0, "busy": 0, "most_in_flight": 0}

    def enter(self) -> bool:
        """A request arrives; False when it is over capacity (answer 503)."""
        with self._lock:
            self.stats["requests"] += 1
            if self.capacity is not None and self._in_flight >= self.capacity:
                self.stats["busy"] += 1
                return False
            self._in_flight += 1
            self.stats["most_in_flight"] = max(self.stats["most_in_flight"], self._in_flight)
            return True

    def leave(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self.stats)


class _Handler(BaseHTTPRequestHandler):
    server_version = "hmcsim"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    timeout = 60        # an idle or stuck client does not hold a thread forever
    server: _Server
    # While a Submit Requests batch runs one of its GETs: where _send puts (status, body).
    _captured: list[tuple[int, Any]] | None = None

    # Routes: (method, regex, handler name, needs session)
    ROUTES = [
        ("GET", r"/api/version", "get_version", False),
        ("POST", r"/api/sessions", "logon", False),
        ("DELETE", r"/api/sessions/this-session", "logoff", True),
        ("GET", r"/api/sessions/operations/get-notification-topics", "get_topics", True),
        ("GET", r"/api/console", "get_console", True),
        ("POST", r"/api/services/aggregation/submit", "submit_requests", True),
        ("GET", r"/api/console/operations/list-permitted-partitions", "list_permitted_partitions", True),
        ("GET", r"/api/console/operations/list-permitted-logical-partitions", "list_permitted_lpars", True),
        ("GET", r"/api/console/operations/get-(audit|security)-log", "get_console_log", True),
        ("GET", r"/api/console/operations/list-unmanaged-cpcs", "list_unmanaged_cpcs", True),
        ("GET", r"/api/console/operations/list-features", "list_features", True),
        ("GET", r"/api/cpcs/" + _ID + r"/operations/list-features", "list_features", True),
        ("GET", r"/api/cpcs/" + _ID + r"/image-activation-profiles", "list_image_profiles", True),
        ("GET", r"/api/cpcs/" + _ID + r"/image-activation-profiles/" + _ID, "get_image_profile", True),
        ("GET", r"/api/cpcs", "list_cpcs", True),
        ("GET", r"/api/cpcs/" + _ID, "get_cpc", True),
        ("GET", r"/api/cpcs/" + _ID + r"/partitions", "list_partitions", True),
        ("GET", r"/api/cpcs/" + _ID + r"/logical-partitions", "list_lpars", True),
        ("GET", r"/api/(partitions|logical-partitions)/" + _ID, "get_child", True),
        ("POST", r"/api/(partitions|logical-partitions)/" + _ID + r"/operations/open-os-message-channel",
         "open_channel", True),
        ("GET", r"/api/(partitions|logical-partitions)/" + _ID + r"/operations/list-os-messages",
         "list_os_messages", True),
        ("POST", r"/api/(partitions|logical-partitions)/" + _ID + r"/operations/send-os-cmd", "send_os_cmd", True),
        ("POST", r"/api/(partitions|logical-partitions)/" + _ID + r"/operations/delete-os-message",
         "delete_os_message", True),
        ("POST", r"/api/partitions/" + _ID + r"/operations/(start|stop)", "partition_op", True),
        ("POST", r"/api/logical-partitions/" + _ID + r"/operations/(activate|deactivate|load)", "lpar_op", True),
        ("GET", r"/api/jobs/" + _ID, "get_job", True),
        ("DELETE", r"/api/jobs/" + _ID, "delete_job", True),
        ("POST", r"/api/jobs/" + _ID + r"/operations/cancel", "cancel_job", True),
    ]

    @property
    def hmc(self) -> Hmc:
        return self.server.hmc

    @property
    def load(self) -> Load:
        return self.server.load

    # ------------------------------------------------------------- plumbing
    def log_message(self, format: str, *args: Any) -> None:    # the base class names it `format`
        LOG.debug("%s - %s", self.address_string(), format % args)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # Path and query only: they hold no secrets (session ids travel in a header).
        LOG.info("%s %s -> %s", self.command, self.path.split("?")[0], code)

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def _read_body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if not length:
            return b""
        if not length.isdigit() or int(length) > MAX_BODY:
            raise HmcError(400, 1, "The Content-Length header is not valid or too large.")
        return self.rfile.read(int(length))

    def _json_body(self, raw: bytes, required: bool = False) -> dict[str, Any]:
        if not raw.strip():
            if required:
                raise HmcError(400, 3, "The request requires a JSON request body.")
            return {}
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise HmcError(400, 9, "The request body is not a well-formed JSON document.") from None
        if not isinstance(body, dict):
            raise HmcError(400, 9, "The request body must be a JSON object.")
        return body

    def _send(self, status: int, body: Any = None, extra_headers: dict[str, str] | None = None) -> None:
        if self._captured is not None:
            self._captured.append((status, body))
            return
        data = b"" if body is None else json.dumps(body).encode("utf-8")
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (extra_headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if data:
            self.wfile.write(data)

    def _send_html(self, status: int, html: str) -> None:
        data = html.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "text/html;charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, exc: HmcError, path: str, query: Query, session: Session | None = None) -> None:
        safe_headers = {k.lower(): v for k, v in self.headers.items() if k.lower() in _SAFE_HEADERS}
        self._send(exc.http_status, {
            "http-status": exc.http_status,
            "reason": exc.reason,
            "message": exc.message,
            "request-method": self.command,
            "request-uri": path,
            "request-query-parms": [{"name": k, "value": v} for k, vs in query.items() for v in vs],
            "request-headers": safe_headers,
            "request-authenticated-as": session.userid if session else None,
            "request-body": None,
            "stack": None,
            "error-details": None,
        })

    def _dispatch(self) -> None:
        parts = urlsplit(self.path)
        path = parts.path.rstrip("/") or "/"
        query = parse_qs(parts.query, keep_blank_values=True)
        if self.hmc.is_down():
            self._unavailable("The console is restarting.")
            return
        load = self.load
        if not load.enter():
            self._unavailable("The console is busy.")
            return
        try:
            if load.delay:
                time.sleep(load.delay)
            self._handle(path, query)
        finally:
            load.leave()

    def _unavailable(self, text: str) -> None:
        """503 with an HTML page; the request body is read first, so the connection stays usable."""
        try:
            self._read_body()
        except HmcError:
            self.close_connection = True
        self._send_html(503, "<html><body><h1>503 Service Unavailable</h1><p>%s</p></body></html>" % text)

    def _handle(self, path: str, query: Query) -> None:
        session: Session | None = None
        try:
            raw = self._read_body()
            name, needs_session, args = self._route(self.command, path)
            if needs_session:
                session = self.hmc.session(self.headers.get("X-API-Session"))
            getattr(self, "op_" + name)(session, args, query, raw)
        except HmcError as exc:
            self._error(exc, path, query, session)
        except Exception:     # a bug in the simulator: still answer HMC-shaped
            LOG.exception("internal error handling %s %s", self.command, path)
            self._error(HmcError(500, 0, "Internal error in hmcsim."), path, query, session)

    def _route(self, command: str, path: str) -> tuple[str, bool, list[str]]:
        """(operation name, needs a session, URI arguments); 404.1 or 405.0 when there is none."""
        path_matched = False
        for method, pattern, name, needs_session in self.ROUTES:
            match = re.fullmatch(pattern, path)
            if match:
                path_matched = True
                if method == command:
                    return name, needs_session, [unquote(g) for g in match.groups()]
        if path_matched:
            raise HmcError(405, 0, "The %s method is not supported for this URI." % command)
        raise HmcError(404, 1, "The request URI does not designate an existing resource.")

    def _inner_get(self, session: Session | None, uri: str) -> tuple[int, Any]:
        """One GET of a Submit Requests batch: (status, body), answered as on its own."""
        parts = urlsplit(uri)
        sent: list[tuple[int, Any]] = []
        try:
            name, _needs_session, args = self._route("GET", parts.path.rstrip("/") or "/")
            self._captured = sent
            try:
                getattr(self, "op_" + name)(session, args, parse_qs(parts.query, keep_blank_values=True), b"")
            finally:
                self._captured = None
        except HmcError as exc:
            return exc.http_status, {"http-status": exc.http_status, "reason": exc.reason, "message": exc.message}
        return sent[0]

    # ------------------------------------------------------------ operations
    def op_submit_requests(self, session: Session | None, args: list[str], query: Query, raw: bytes) -> None:
        """Submit Requests (aggregation): zhmcclient's list(full_properties=True) sends GETs in bulk."""
        requests = self._json_body(raw, required=True).get("requests")
        if not isinstance(requests, list) or not all(isinstance(r, dict) for r in requests):
            raise HmcError(400, 7, "requests must be an array of request objects.")
        results = []
        for request in requests:
            if request.get("method") != "GET" or not isinstance(request.get("uri"), str):
                results.append({"id": request.get("id"), "status": 400,
                                "body": {"http-status": 400, "reason": 7, "message": "hmcsim runs only GET requests."}})
                continue
            status, body = self._inner_get(session, request["uri"])
            results.append({"id": request.get("id"), "status": status, "body": body})
        self._send(200, results)

    def op_get_version(self, session: Session | None, args: list[str], query: Query, raw: bytes) -> None:
        self._send(200, {
            "api-major-version": self.hmc.api_version[0],
            "api-minor-version": self.hmc.api_version[1],
            "hmc-version": self.hmc.hmc_version,
            "hmc-name": self.hmc.hmc_name,
        })

    def op_logon(self, session: Session | None, args: list[str], query: Query, raw: bytes) -> None:
        body = self._json_body(raw, required=True)
        for field in ("userid", "password"):
            if field not in body:
                raise HmcError(400, 5, "The request body has no %s field." % field)
            if not isinstance(body[field], str):
                raise HmcError(400, 7, "The %s field must be a string." % field)
        new = self.hmc.logon(body["userid"], body["password"], location=self.client_address[0])
        self._send(200, {
            "api-session": new.id,
            "session-credential": new.credential,
            "notification-topic": new.object_topic,
            "job-notification-topic": new.job_topic,
            "api-major-version": self.hmc.api_version[0],
            "api-minor-version": self.hmc.api_version[1],
            "password-expires": -1,
        })

    def op_logoff(self, session: Session | None, args: list[str], query: Query, raw: bytes) -> None:
        self.hmc.logoff(_with_session(session))
        self._send(204)

    def op_get_topics(self, session: Session | None, args: list[str], query: Query, raw: bytes) -> None:
        self._send(200, {"topics": self.hmc.topics_for(_with_session(session))})

    def op_get_console(self, session: Session | None, args: list[str], query: Query, raw: bytes) -> None:
        props = {**self.hmc.console_headers, "version": self.hmc.hmc_version,
                 "description": "hmcsim", "parent": None}
        wanted = self._wanted(query)
        self._send(200, {k: v for k, v in props.items() if k in wanted} if wanted else props)

    def op_list_permitted_partitions(self, session: Session | None, args: list[str], query: Query, raw: bytes) -> None:
        self._send(200, {"partitions": self.hmc.list_permitted(PARTITION, query)})

    def op_list_permitted_lpars(self, session: Session | None, args: list[str], query: Query, raw: bytes) -> None:
        self._send(200, {"logical-partitions": self.hmc.list_permitted(LPAR, query)})

    def op_get_console_log(self, session: Session | None, args: list[str], query: Query, raw: bytes) -> None:
        """Get Console Audit Log / Get Console Security Log: a JSON array of log entries."""
        _only(query, ("begin-time", "end-time"))
        begin = _int_parm("begin-time", query["begin-time"]) if "begin-time" in query else None
        end = _int_parm("end-time", query["end-time"]) if "end-time" in query else None
        self._send(200, self.hmc.console_log(args[0], begin, end))

    def op_list_unmanaged_cpcs(self, session: Session | None, args: list[str], query: Query, raw: bytes) -> None:
        _only(query, ("name",))
        self._send(200, {"cpcs": []})

    def op_list_features(self, session: Session | None, args: list[str], query: Query, raw: bytes) -> None:
        _only(query, ("name",))
        if args:
            self.hmc.resource("/api/cpcs/" + args[0], "cpc")
        self._send(200, [])

    def _image_profiles(self, cpc_id: str) -> dict[str, dict[str, Any]]:
        cpc = self.hmc.resource("/api/cpcs/" + cpc_id, "cpc")
        return {c.name: c.image_profile() for c in cpc.children.values() if c.kind == LPAR}

    def op_list_image_profiles(self, session: Session | None, args: list[str], query: Query, raw: bytes) -> None:
        _only(query, ("name",))
        names = query.get("name")
        profiles = [{"name": p["name"], "element-uri": p["element-uri"]}
                    for p in self._image_profiles(args[0]).values()
                    if not names or any(re.fullmatch(n, p["name"]) for n in names)]
        self._send(200, {"image-activation-profiles": profiles})

    def op_get_image_profile(self, session: Session | None, args: list[str], query: Query, raw: bytes) -> None:
        profile = self._image_profiles(args[0]).get(args[1])
        if profile is None:
            raise HmcError(404, 1, "The image activation profile designated by the request URI does not exist.")
        wanted = self._wanted(query)
        self._send(200, {k: v for k, v in profile.items() if k in wanted} if wanted else profile)

    def op_list_cpcs(self, session: Session | None, args: list[str], query: Query, raw: bytes) -> None:
        self._send(200, {"cpcs": self.hmc.list_cpcs(query)})

    def _wanted(self, query: Query, allowed: tuple[str, ...] = ("properties",)) -> set[str] | None:
        _only(query, allowed)
        if "properties" not in query:
            return None
        return {p for v in query["properties"] for p in v.split(",") if p}

    def op_get_cpc(self, session: Session | None, args: list[str], query: Query, raw: bytes) -> None:
        res = self.hmc.resource("/api/cpcs/" + args[0], "cpc")
        self._send(200, self.hmc.properties(res, self._wanted(query, ("properties", "cached-acceptable",
                                                                      "group-uri"))))

    def op_list_partitions(self, session: Session | None, args: list[str], query: Query, raw: bytes) -> None:
        cpc = self.hmc.resource("/api/cpcs/" + args[0], "cpc")
        self._send(200, {"partitions": self.hmc.list_children(cpc, PARTITION, query)})

    def op_list_lpars(self, session: Session | None, args: list[str], query: Query, raw: bytes) -> None:
        cpc = self.hmc.resource("/api/cpcs/" + args[0], "cpc")
        items = self.hmc.list_children(cpc, LPAR, query)
        if not items and query.get("name") and not cpc.dpm:
            # The HMC's quirk: an empty LPAR match is a 404 reason 1, not an empty list.
            raise HmcError(404, 1, "No logical partition matches the name filter.")
        self._send(200, {"logical-partitions": items})

    def _child(self, args: list[str]) -> Resource:
        kind = "partition" if args[0] == "partitions" else "logical-partition"
        return self.hmc.resource("/api/%s/%s" % (args[0], args[1]), kind)

    def op_get_child(self, session: Session | None, args: list[str], query: Query, raw: bytes) -> None:  # Get Partition / Logical Partition Properties
        self._send(200, self.hmc.properties(self._child(args), self._wanted(query)))

    def op_open_channel(self, session: Session | None, args: list[str], query: Query, raw: bytes) -> None:
        res = self._child(args)
        body = self._json_body(raw)
        include = body.get("include-refresh-messages", True)
        if not isinstance(include, bool):
            raise HmcError(400, 7, "include-refresh-messages must be a boolean.")
        topic = self.hmc.open_os_message_channel(_with_session(session), res, include)
        self._send(200, {"topic-name": topic})

    def op_list_os_messages(self, session: Session | None, args: list[str], query: Query, raw: bytes) -> None:
        res = self._child(args)
        kwargs: dict[str, Any] = {}
        for parm, key, conv in (("begin-sequence-number", "begin", _int_parm),
                                ("end-sequence-number", "end", _int_parm),
                                ("is-held", "is_held", _bool_parm),
                                ("is-priority", "is_priority", _bool_parm),
                                ("max-messages", "max_messages", _int_parm)):
            if parm in query:
                kwargs[key] = conv(parm, query[parm])
        _only(query, ("begin-sequence-number", "end-sequence-number", "is-held", "is-priority", "max-messages"))
        self._send(200, {"os-messages": self.hmc.list_os_messages(res, **kwargs)})

    def op_send_os_cmd(self, session: Session | None, args: list[str], query: Query, raw: bytes) -> None:
        res = self._child(args)
        body = self._json_body(raw, required=True)
        text = body.get("operating-system-command-text")
        if text is None:
            raise HmcError(400, 5, "The request body has no operating-system-command-text field.")
        if not isinstance(text, str) or not 1 <= len(text) <= 200:
            raise HmcError(400, 7, "operating-system-command-text must be a string of 1 to 200 characters.")
        is_priority = body.get("is-priority", False)
        if not isinstance(is_priority, bool):
            raise HmcError(400, 7, "is-priority must be a boolean.")
        self.hmc.send_os_command(res, text, is_priority)
        self._send(204)

    def op_delete_os_message(self, session: Session | None, args: list[str], query: Query, raw: bytes) -> None:
        res = self._child(args)
        body = self._json_body(raw, required=True)
        seq = body.get("sequence-number")
        if seq is None:
            raise HmcError(400, 5, "The request body has no sequence-number field.")
        if not isinstance(seq, int) or isinstance(seq, bool):
            raise HmcError(400, 7, "sequence-number must be an integer.")
        self.hmc.delete_os_message(res, seq)
        self._send(204)

    def _async(self, session: Session, res: Resource, operation: str, body: dict[str, Any]) -> None:
        force = body.get("force", False)
        if not isinstance(force, bool):
            raise HmcError(400, 7, "force must be a boolean.")
        job = self.hmc.start_job(session, res, operation, body)
        # No Location header: zhmcclient treats one as "a create operation" and then expects
        # job-results to be an object, which start/stop/activate do not return.
        self._send(202, {"job-uri": job.uri})

    def op_partition_op(self, session: Session | None, args: list[str], query: Query, raw: bytes) -> None:
        body = self._json_body(raw)
        res = self.hmc.resource("/api/partitions/" + args[0], PARTITION)
        self._async(_with_session(session), res, args[1], body)

    def op_lpar_op(self, session: Session | None, args: list[str], query: Query, raw: bytes) -> None:
        body = self._json_body(raw)
        res = self.hmc.resource("/api/logical-partitions/" + args[0], LPAR)
        self._async(_with_session(session), res, args[1], body)

    def op_get_job(self, session: Session | None, args: list[str], query: Query, raw: bytes) -> None:
        self._send(200, self.hmc.job(args[0]).to_json())

    def op_delete_job(self, session: Session | None, args: list[str], query: Query, raw: bytes) -> None:
        self.hmc.delete_job(args[0])
        self._send(204)

    def op_cancel_job(self, session: Session | None, args: list[str], query: Query, raw: bytes) -> None:
        self.hmc.cancel_job(args[0])
        self._send(202)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], hmc: Hmc, ssl_context: ssl.SSLContext, load: Load) -> None:
        self.hmc = hmc
        self.ssl_context = ssl_context
        self.load = load
        self.open_sockets: set[socket.socket] = set()  # established connections, for kill()
        self.open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = self.socket.accept()
        # Headers and body go out in two writes; without NODELAY, Nagle + delayed ACK add 40 ms.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # The handshake happens in the request thread (do_handshake_on_connect), not here.
        tls = self.ssl_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        with self.open_lock:
            self.open_sockets.add(tls)
        return tls, addr

    def shutdown_request(self, request: socket.socket | tuple[bytes, socket.socket]) -> None:
        if isinstance(request, socket.socket):     # always, on a TCP server
            with self.open_lock:
                self.open_sockets.discard(request)
        super().shutdown_request(request)

    def reset_connections(self) -> None:
        """Cut every established connection (as a host that dies does: clients see a reset)."""
        with self.open_lock:
            sockets, self.open_sockets = list(self.open_sockets), set()
        for sock in sockets:
            try:  # SO_LINGER 0: the peer gets a reset, not an orderly end
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any) -> None:
        # Called from the base class's exception handler: sys.exc_info() is set.
        LOG.debug("connection from %s ended with an error: %s", client_address[0], sys.exc_info()[1])


class WsApiServer(ServedHttp[_Server]):
    thread_name = "hmcsim-wsapi"

    def __init__(self, hmc: Hmc, ssl_context: ssl.SSLContext, host: str = "127.0.0.1", port: int = 0,
                 load: Load | None = None) -> None:
        super().__init__(_Server((host, port), hmc, ssl_context, load or Load()))
