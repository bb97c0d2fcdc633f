# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""Local control channel of the notifications source: JSON lines over a Unix-domain socket.

One connection carries one request line and one response line. The running source serves
it (`ControlServer`); the modules talk to it (`ControlClient`). Both sides check requests
with `validate_request`, so a module reports a bad field before it reaches the source.

Requests::

    {"op": "list"}
    {"op": "subscribe", "topic": T}
    {"op": "unsubscribe", "topic": T}
    {"op": "open_os_message_channel", "cpc": C, "partition": P}   # or "lpar": L; "subscribe": bool
    {"op": "close_os_message_channel", "cpc": C, "partition": P}  # or "lpar": L

Any request may carry ``"check_mode": true``. Responses are ``{"ok": true, ...}`` (the
handler's dict) or ``{"ok": false, "error": "message"}``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import json
import logging
import os
import select
import socket
import stat
import struct
import threading

from ansible_collections.zhmc.eda.plugins.module_utils.errors import ZhmcEdaError

LOG = logging.getLogger("zhmc.eda.control")

MAX_REQUEST_BYTES = 64 * 1024
MAX_RESPONSE_BYTES = 4 * 1024 * 1024
# A peer gets this long to send its request line and to take the response.
CONNECTION_IO_TIMEOUT = 5.0
# Connections served at the same time; more get a "busy" answer instead of a thread each.
MAX_CONCURRENT_CONNECTIONS = 16
# The accept loop re-checks the stop flag this often, so close() returns well within 1 s.
ACCEPT_POLL_SECONDS = 0.2
# sockaddr_un.sun_path is 108 bytes on Linux, including the terminating NUL.
MAX_SOCKET_PATH_BYTES = 107

OPS = ("list", "subscribe", "unsubscribe", "open_os_message_channel", "close_os_message_channel")

# op -> (required fields, optional fields); every op also takes "check_mode".
_OP_FIELDS = {
    "list": ((), ()),
    "subscribe": (("topic",), ()),
    "unsubscribe": (("topic",), ()),
    "open_os_message_channel": (("cpc",), ("partition", "lpar", "subscribe")),
    "close_os_message_channel": (("cpc",), ("partition", "lpar")),
}
_STRING_FIELDS = ("topic", "cpc", "partition", "lpar")
_BOOL_FIELDS = ("check_mode", "subscribe")
MAX_STRING_FIELD_LENGTH = 1024


class ControlError(ZhmcEdaError):
    """The control channel failed: no source listens, access denied, or the source said no.

    `path` is the socket path; `server_error` is True when the source answered with
    ``ok: false`` (the message is then the source's error text).
    """

    def __init__(self, message, path=None, server_error=False):
        super(ControlError, self).__init__(message)
        self.path = path
        self.server_error = server_error


class ControlRequestError(ControlError, ValueError):
    """A control request is malformed; the message names the field and the problem."""


def validate_request(request):
    """Check a control request and return a normalized copy.

    The copy has every field of the op: ``check_mode`` (default False) and, for
    ``open_os_message_channel``, ``subscribe`` (default True), ``partition``/``lpar``
    (the one not given is None). Raises `ControlRequestError` naming the bad field.
    """
    if not isinstance(request, dict):
        raise ControlRequestError(
            "a control request must be a JSON object, got %s" % type(request).__name__)
    if "op" not in request:
        raise ControlRequestError(
            "control request is missing the field 'op' (one of: %s)" % ", ".join(OPS))
    op = request["op"]
    if not isinstance(op, str) or op not in _OP_FIELDS:
        raise ControlRequestError(
            "control request field 'op' has the unknown value %r (expected one of: %s)"
            % (_short(op), ", ".join(OPS)))
    required, optional = _OP_FIELDS[op]
    allowed = set(required) | set(optional) | {"op", "check_mode"}
    unknown = sorted(str(key) for key in request if key not in allowed)
    if unknown:
        raise ControlRequestError(
            "control request op %r does not take the field(s) %s (allowed: %s)"
            % (op, ", ".join(repr(_short(key)) for key in unknown),
               ", ".join(sorted(allowed - {"op"}))))
    for field in required:
        if request.get(field) is None:
            raise ControlRequestError(
                "control request op %r is missing the required field %r" % (op, field))

    normalized = {"op": op}
    for field in sorted(allowed - {"op"}):
        value = request.get(field)
        if field in _STRING_FIELDS:
            if value is not None:
                if not isinstance(value, str) or not value.strip():
                    raise ControlRequestError(
                        "control request field %r must be a non-empty string, got %r"
                        % (field, _short(value)))
                if len(value) > MAX_STRING_FIELD_LENGTH:
                    raise ControlRequestError(
                        "control request field %r is %d characters long (at most %d)"
                        % (field, len(value), MAX_STRING_FIELD_LENGTH))
            normalized[field] = value
        elif field in _BOOL_FIELDS:
            default = field == "subscribe"
            if value is None:
                value = default
            elif not isinstance(value, bool):
                raise ControlRequestError(
                    "control request field %r must be true or false, got %r"
                    % (field, _short(value)))
            normalized[field] = value

    if op in ("open_os_message_channel", "close_os_message_channel"):
        has_partition = normalized["partition"] is not None
        has_lpar = normalized["lpar"] is not None
        if has_partition == has_lpar:
            raise ControlRequestError(
                "control request op %r needs exactly one of the fields 'partition' "
                "(DPM CPC) or 'lpar' (classic CPC), got %s"
                % (op, "both" if has_partition else "neither"))
    return normalized


def _short(value, limit=80):
    """A value cut down for an error message (requests can be up to 64 KiB)."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) > limit:
        return text[:limit] + "..."
    return value


def _dispatch(handler, request):
    """Call the handler method for a validated request; return its dict result."""
    op = request["op"]
    check_mode = request["check_mode"]
    if op == "list":
        result = handler.list()
    elif op == "subscribe":
        result = handler.subscribe(request["topic"], check_mode)
    elif op == "unsubscribe":
        result = handler.unsubscribe(request["topic"], check_mode)
    elif op == "open_os_message_channel":
        result = handler.open_os_message_channel(
            request["cpc"], partition=request["partition"], lpar=request["lpar"],
            subscribe=request["subscribe"], check_mode=check_mode)
    else:
        result = handler.close_os_message_channel(
            request["cpc"], partition=request["partition"], lpar=request["lpar"],
            check_mode=check_mode)
    if not isinstance(result, dict):
        raise TypeError("control handler %s() returned %s, not a dict"
                        % (op, type(result).__name__))
    response = dict(result)
    response["ok"] = True
    return response


def _check_path_length(path):
    if len(os.fsencode(path)) > MAX_SOCKET_PATH_BYTES:
        raise ControlError(
            "control socket path %s is %d bytes long; Unix sockets allow at most %d"
            % (path, len(os.fsencode(path)), MAX_SOCKET_PATH_BYTES), path=path)


def _peer_uid(conn):
    """(uid, pid) of the connected peer via SO_PEERCRED, or (None, None) where unsupported."""
    option = getattr(socket, "SO_PEERCRED", None)
    if option is None:
        return None, None
    creds = conn.getsockopt(socket.SOL_SOCKET, option, struct.calcsize("3i"))
    pid, uid, _gid = struct.unpack("3i", creds)
    return uid, pid


def _read_line(conn, limit, what):
    """Read bytes up to and excluding the first newline (or EOF), at most `limit` bytes."""
    chunks = []
    size = 0
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            break
        newline = chunk.find(b"\n")
        if newline >= 0:
            chunks.append(chunk[:newline])
            size += newline
            if size > limit:
                raise ValueError("%s is larger than %d bytes" % (what, limit))
            break
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise ValueError("%s is larger than %d bytes" % (what, limit))
    return b"".join(chunks)


def _lstat_or_none(path):
    """os.lstat(path), or None when nothing is there."""
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


def _unlink_if_present(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass  # already gone: what was wanted


class ControlServer:
    """Serve control requests on a Unix-domain socket from a daemon thread.

    `handler` has one method per op: ``list()``, ``subscribe(topic, check_mode)``,
    ``unsubscribe(topic, check_mode)``, ``open_os_message_channel(cpc, partition=None,
    lpar=None, subscribe=True, check_mode=False)`` and ``close_os_message_channel(cpc,
    partition=None, lpar=None, check_mode=False)``, each returning a dict. They are called
    from connection threads, so they must be thread-safe. An exception becomes
    ``{"ok": false, "error": str(exc)}``: the handler keeps secrets out of its messages.
    """

    def __init__(self, path, handler, io_timeout=CONNECTION_IO_TIMEOUT):
        if not path or not isinstance(path, str):
            raise ControlRequestError("control socket path must be a non-empty string, got %r"
                                      % (path,))
        self.path = os.path.abspath(path)
        self.handler = handler
        self.io_timeout = io_timeout
        self.refused_peer_count = 0
        self.request_count = 0
        self._sock = None
        self._socket_ident = None
        self._thread = None
        self._stop = threading.Event()
        self._slots = threading.BoundedSemaphore(MAX_CONCURRENT_CONNECTIONS)
        self._uid = os.getuid()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc_info):
        self.close()

    @property
    def listening(self):
        return self._thread is not None and self._thread.is_alive()

    def start(self):
        """Create the socket (mode 0600) and start serving; returns once it listens."""
        if self._sock is not None:
            raise ControlError("control server on %s is already started" % self.path,
                               path=self.path)
        _check_path_length(self.path)
        parent = os.path.dirname(self.path)
        if not os.path.isdir(parent):
            raise ControlError("cannot create control socket %s: directory %s does not exist"
                               % (self.path, parent), path=self.path)
        self._remove_stale_socket()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            # umask is process-wide, but bind() creates the file with the umask applied:
            # this way the socket is never reachable with wider permissions, not even briefly.
            old_umask = os.umask(0o177)
            try:
                sock.bind(self.path)
            finally:
                os.umask(old_umask)
            os.chmod(self.path, 0o600)
            sock.listen(MAX_CONCURRENT_CONNECTIONS)
            info = os.stat(self.path)
        except OSError as exc:
            sock.close()
            raise ControlError("cannot create control socket %s: %s"
                               % (self.path, exc.strerror or exc), path=self.path)
        self._sock = sock
        self._socket_ident = (info.st_dev, info.st_ino)
        self._stop.clear()
        self._thread = threading.Thread(target=self._accept_loop, daemon=True,
                                        name="zhmc-eda-control")
        self._thread.start()
        if getattr(socket, "SO_PEERCRED", None) is None:
            LOG.warning("Control channel on %s: this platform has no SO_PEERCRED, so peers are "
                        "not checked by uid; only the socket's mode 0600 guards it", self.path)
        LOG.info("Control channel listening on %s", self.path)

    def _remove_stale_socket(self):
        """Remove a socket file nobody listens on; refuse a live one or a non-socket."""
        info = _lstat_or_none(self.path)
        if info is None:
            return
        if not stat.S_ISSOCK(info.st_mode):
            raise ControlError("cannot create control socket %s: the path exists and is not "
                               "a socket" % self.path, path=self.path)
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        probe.settimeout(1.0)
        try:
            probe.connect(self.path)
        except (ConnectionRefusedError, FileNotFoundError):
            LOG.info("Removing stale control socket %s (nothing listens on it)", self.path)
            _unlink_if_present(self.path)
            return
        except OSError as exc:
            raise ControlError("cannot create control socket %s: an existing socket there "
                               "cannot be checked (%s)" % (self.path, exc.strerror or exc),
                               path=self.path)
        finally:
            probe.close()
        raise ControlError("cannot create control socket %s: another process is listening "
                           "on it (is another source running with the same control_socket?)"
                           % self.path, path=self.path)

    def close(self):
        """Stop serving (within about ACCEPT_POLL_SECONDS) and remove the socket file."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=1.0)
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()
            self._unlink_own_socket()
            LOG.info("Control channel on %s closed", self.path)

    def _unlink_own_socket(self):
        # Only remove the file we created: another server may have taken over the path.
        info = _lstat_or_none(self.path)
        if info is not None and (info.st_dev, info.st_ino) == self._socket_ident:
            _unlink_if_present(self.path)

    def _accept_loop(self):
        sock = self._sock
        while not self._stop.is_set():
            try:
                readable = select.select([sock], [], [], ACCEPT_POLL_SECONDS)[0]
            except (OSError, ValueError):
                break  # socket closed under us
            if not readable or self._stop.is_set():
                continue
            try:
                conn = sock.accept()[0]
            except OSError as exc:
                if exc.errno in (errno.EAGAIN, errno.EINTR, errno.ECONNABORTED):
                    continue
                if self._stop.is_set():
                    break
                LOG.warning("Control channel on %s: accept failed: %s", self.path, exc)
                continue
            if not self._slots.acquire(blocking=False):
                self._answer_and_close(conn, {
                    "ok": False,
                    "error": "control channel is busy (%d requests in progress); retry"
                             % MAX_CONCURRENT_CONNECTIONS})
                continue
            worker = threading.Thread(target=self._serve_connection, args=(conn,),
                                      daemon=True, name="zhmc-eda-control-conn")
            worker.start()

    def _serve_connection(self, conn):
        try:
            conn.settimeout(self.io_timeout)
            uid, pid = _peer_uid(conn)
            if uid is not None and uid != self._uid:
                self.refused_peer_count += 1
                LOG.warning("Control channel on %s: refused a connection from uid %s (pid %s); "
                            "only uid %s may use it", self.path, uid, pid, self._uid)
                self._answer_and_close(conn, {
                    "ok": False,
                    "error": "permission denied: uid %s may not use the control socket %s "
                             "(it belongs to uid %s)" % (uid, self.path, self._uid)})
                return
            self._answer_and_close(conn, self._handle_request_bytes(conn))
        except Exception as exc:  # never let one connection kill the server
            LOG.warning("Control channel on %s: connection failed: %s", self.path, exc)
            conn.close()
        finally:
            self._slots.release()

    def _handle_request_bytes(self, conn):
        try:
            raw = _read_line(conn, MAX_REQUEST_BYTES, "control request")
        except socket.timeout:
            return {"ok": False, "error": "no complete control request line within %s s"
                                          % self.io_timeout}
        except ValueError as exc:
            return {"ok": False, "error": str(exc)}
        try:
            request = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            return {"ok": False, "error": "control request is not valid JSON: %s" % exc}
        try:
            request = validate_request(request)
        except ControlRequestError as exc:
            return {"ok": False, "error": str(exc)}
        self.request_count += 1
        LOG.debug("Control channel on %s: request op=%s", self.path, request["op"])
        try:
            return _dispatch(self.handler, request)
        except Exception as exc:
            message = str(exc) or type(exc).__name__
            LOG.info("Control channel on %s: %s failed: %s", self.path, request["op"], message)
            return {"ok": False, "error": message}

    def _answer_and_close(self, conn, response):
        try:
            conn.settimeout(self.io_timeout)
            conn.sendall(json.dumps(response, default=str).encode("utf-8") + b"\n")
        except OSError as exc:
            LOG.debug("Control channel on %s: could not send the response: %s", self.path, exc)
        finally:
            conn.close()


class ControlClient:
    """Send one request to a running source's control socket and return its answer."""

    def __init__(self, path, timeout=10):
        if not path or not isinstance(path, str):
            raise ControlRequestError("control socket path must be a non-empty string, got %r"
                                      % (path,))
        self.path = path
        self.timeout = timeout

    def request(self, op, **params):
        """Send ``{"op": op, **params}`` (None values left out); return the response dict.

        Raises `ControlRequestError` for a bad request, `ControlError` when no source
        listens on the path, access is denied, or the source answers ``ok: false``.
        """
        request = {"op": op}
        request.update((key, value) for key, value in params.items() if value is not None)
        validate_request(request)
        data = json.dumps(request).encode("utf-8") + b"\n"
        if len(data) > MAX_REQUEST_BYTES:
            raise ControlRequestError("control request is larger than %d bytes"
                                      % MAX_REQUEST_BYTES, path=self.path)
        _check_path_length(self.path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            self._connect(sock)
            try:
                try:
                    sock.sendall(data)
                    sock.shutdown(socket.SHUT_WR)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the server may answer (e.g. refuse us) before reading: read that
                raw = _read_line(sock, MAX_RESPONSE_BYTES, "control response")
            except socket.timeout:
                raise ControlError("no answer from the control socket %s within %s s (op %s)"
                                   % (self.path, self.timeout, op), path=self.path)
            except (OSError, ValueError) as exc:
                raise ControlError("control socket %s: %s failed: %s"
                                   % (self.path, op, getattr(exc, "strerror", None) or exc),
                                   path=self.path)
        finally:
            sock.close()
        if not raw:
            raise ControlError("control socket %s closed the connection without an answer "
                               "(op %s)" % (self.path, op), path=self.path)
        try:
            response = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise ControlError("control socket %s sent an answer that is not JSON: %s"
                               % (self.path, exc), path=self.path)
        if not isinstance(response, dict) or "ok" not in response:
            raise ControlError("control socket %s sent an answer without 'ok'" % self.path,
                               path=self.path)
        if response["ok"] is not True:
            raise ControlError(str(response.get("error") or "the source refused the request"),
                               path=self.path, server_error=True)
        return response

    def _connect(self, sock):
        try:
            sock.connect(self.path)
        except FileNotFoundError:
            raise ControlError(
                "no control socket at %s: is the zhmc.eda.notifications source running with "
                "control_socket set to this path?" % self.path, path=self.path)
        except ConnectionRefusedError:
            raise ControlError(
                "nothing listens on the control socket %s (a stale file: the source that "
                "created it is not running)" % self.path, path=self.path)
        except PermissionError:
            raise ControlError(
                "permission denied on the control socket %s: it is only usable by the user "
                "that runs the source (mode 0600)" % self.path, path=self.path)
        except socket.timeout:
            raise ControlError("timed out after %s s connecting to the control socket %s"
                               % (self.timeout, self.path), path=self.path)
        except OSError as exc:
            raise ControlError("cannot connect to the control socket %s: %s"
                               % (self.path, exc.strerror or exc), path=self.path)
