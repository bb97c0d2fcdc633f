# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""Local control channel of the notifications source: JSON lines over a Unix-domain socket.

The running source serves it (`ControlServer`, here); the modules talk to it (`ControlClient`,
control_client.py). The requests, their validation and the time line of a request (who
waits how long, and what a handler must guarantee) are in control_protocol.py; both sides
check requests with `validate_request`, so a module reports a bad field before it reaches
the source. This module re-exports the client and the protocol's names for its callers.

Who may talk to whom (both sides are only ever the same user):

- The server refuses peers whose uid (SO_PEERCRED) is not its own (also when it runs as
  root); the socket file has mode 0600.
- The client talks only to a server with its own uid (SO_PEERCRED, checked before anything
  is sent). Root is not trusted specially: a root source refuses non-root modules anyway, so
  trusting root would only let a module talk to a socket that someone else set up.
- The server refuses a socket directory that another user could change: any directory
  above the socket owned by a user other than us or root, or writable by group or others
  without the sticky bit. A directory shared with the sticky bit (such as /tmp) is accepted
  with a warning: another user cannot replace our socket there, but can take the path
  before the source starts (then the source refuses to start and the modules refuse to use
  the other user's socket).
- The server never removes another user's socket file, stale or not, also as root.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import select
import socket
import stat
import threading
import time
from typing import Any, Dict, Optional, Tuple

from ansible_collections.zhmc.eda.plugins.module_utils.control_client import ControlClient
from ansible_collections.zhmc.eda.plugins.module_utils.control_protocol import (
    ANSWER_GRACE_SECONDS, CLIENT_TIMEOUT_SECONDS, HANDLER_BUDGET_SECONDS, MAX_REQUEST_BYTES,
    MAX_RESPONSE_BYTES, OPS, REQUEST_READ_SECONDS, ControlBusy, ControlError,
    ControlRequestError, checked_socket_path, decode_json, peer_uid, read_line,
    validate_request)
from ansible_collections.zhmc.eda.plugins.module_utils.validation import MAX_SOCKET_PATH_BYTES

# The control channel's public names, its client's and protocol's included.
__all__ = [
    "ANSWER_GRACE_SECONDS", "CLIENT_TIMEOUT_SECONDS", "HANDLER_BUDGET_SECONDS",
    "MAX_CONCURRENT_CONNECTIONS", "MAX_REQUEST_BYTES", "MAX_RESPONSE_BYTES",
    "MAX_SOCKET_PATH_BYTES", "OPS", "REQUEST_READ_SECONDS", "ControlBusy", "ControlClient",
    "ControlError", "ControlRequestError", "ControlServer", "check_socket_directory",
    "validate_request",
]

LOG = logging.getLogger("zhmc.eda.control")

# Connections served at the same time; more get a "busy" answer instead of a thread each.
MAX_CONCURRENT_CONNECTIONS = 16
# The accept loop re-checks the stop flag this often, so close() returns well within 1 s.
ACCEPT_POLL_SECONDS = 0.2

Response = Dict[str, Any]


def _busy(message: str) -> Response:
    return {"ok": False, "busy": True, "changed": False,
            "error": "%s (nothing was changed)" % message}


def _dispatch(handler: Any, request: Response, deadline: float) -> Response:
    """Call the handler method for a validated request; return its dict result."""
    op = request["op"]
    check_mode = request["check_mode"]
    if op == "list":
        result = handler.list(deadline=deadline)
    elif op == "subscribe":
        result = handler.subscribe(request["topic"], check_mode, deadline=deadline)
    elif op == "unsubscribe":
        result = handler.unsubscribe(request["topic"], check_mode, deadline=deadline)
    elif op == "open_os_message_channel":
        result = handler.open_os_message_channel(
            request["cpc"], partition=request["partition"], lpar=request["lpar"],
            subscribe=request["subscribe"], check_mode=check_mode, deadline=deadline)
    else:
        result = handler.close_os_message_channel(
            request["cpc"], partition=request["partition"], lpar=request["lpar"],
            check_mode=check_mode, deadline=deadline)
    if not isinstance(result, dict):
        raise TypeError("control handler %s() returned %s, not a dict"
                        % (op, type(result).__name__))
    response = dict(result)
    response["ok"] = True
    return response


def _lstat_or_none(path: str) -> Optional[os.stat_result]:
    """os.lstat(path), or None when nothing is there."""
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


def _unlink_if_present(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass  # already gone: what was wanted


def check_socket_directory(path: str, uid: int) -> Optional[str]:
    """Check the directories above a socket path for user `uid` (see the module docstring).

    Raises ControlError when another user could replace the socket; returns a warning text
    for a shared directory with the sticky bit (such as /tmp); None for a private one.
    """
    directory = os.path.realpath(os.path.dirname(os.path.abspath(path)))
    if not os.path.isdir(directory):
        raise ControlError("cannot create control socket %s: directory %s does not exist"
                           % (path, directory), path=path)
    warning = None
    current = directory
    while True:
        info = os.stat(current)
        shared = info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
        if info.st_uid not in (uid, 0):
            raise ControlError(
                "cannot create control socket %s: directory %s belongs to uid %s, who could "
                "replace the socket; use a directory of your own, e.g. $XDG_RUNTIME_DIR"
                % (path, current, info.st_uid), path=path)
        if shared and not info.st_mode & stat.S_ISVTX:
            raise ControlError(
                "cannot create control socket %s: directory %s is writable by other users "
                "(mode %03o, no sticky bit), who could replace the socket; use a directory "
                "only you can write to, e.g. $XDG_RUNTIME_DIR"
                % (path, current, stat.S_IMODE(info.st_mode)), path=path)
        if shared and current == directory:
            warning = ("control socket directory %s is shared with other users (mode %04o): "
                       "another user can take the path before the source starts; a directory "
                       "only you can write to (e.g. $XDG_RUNTIME_DIR) avoids that"
                       % (current, stat.S_IMODE(info.st_mode)))
        parent = os.path.dirname(current)
        if parent == current:
            return warning
        current = parent


class ControlServer:
    """Serve control requests on a Unix-domain socket from a daemon thread.

    `handler` has one method per op: ``list(deadline)``, ``subscribe(topic, check_mode,
    deadline)``, ``unsubscribe(topic, check_mode, deadline)``,
    ``open_os_message_channel(cpc, partition=None, lpar=None, subscribe=True,
    check_mode=False, deadline)`` and ``close_os_message_channel(cpc, partition=None,
    lpar=None, check_mode=False, deadline)`` (``deadline`` by keyword), each returning a dict
    and keeping the contract in control_protocol.py. They are called from worker threads, so
    they must be thread-safe. `ControlBusy` becomes a ``busy`` answer; any other exception
    ``{"ok": false, "error": str(exc)}``: the handler keeps secrets out of its messages.
    """

    def __init__(self, path: str, handler: Any, read_seconds: float = REQUEST_READ_SECONDS,
                 handler_budget: float = HANDLER_BUDGET_SECONDS) -> None:
        checked_socket_path(path)  # its type and characters, before abspath() touches it
        self.path = checked_socket_path(os.path.abspath(path))  # its length as bound
        self.handler = handler
        self.read_seconds = read_seconds
        self.handler_budget = handler_budget
        self.refused_peer_count = 0
        self.request_count = 0
        self._sock: Optional[socket.socket] = None
        self._socket_ident: Optional[Tuple[int, int]] = None
        self._thread: Optional[threading.Thread] = None
        self._stop = threading.Event()
        self._slots = threading.BoundedSemaphore(MAX_CONCURRENT_CONNECTIONS)
        self._uid = os.geteuid()

    def __enter__(self) -> "ControlServer":
        self.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    @property
    def listening(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Create the socket (mode 0600) and start serving; returns once it listens."""
        if self._sock is not None:
            raise ControlError("control server on %s is already started" % self.path,
                               path=self.path)
        warning = check_socket_directory(self.path, self._uid)
        if warning:
            LOG.warning("%s", warning)
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

    def _remove_stale_socket(self) -> None:
        """Remove our own socket file nobody listens on; refuse anything else."""
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
            if info.st_uid != self._uid:
                raise ControlError(
                    "cannot create control socket %s: a stale socket file of uid %s is there; "
                    "it is not ours to remove (remove it yourself if nobody needs it)"
                    % (self.path, info.st_uid), path=self.path)
            LOG.info("Removing stale control socket %s (nothing listens on it)", self.path)
            _unlink_if_present(self.path)
            return
        except OSError as exc:
            raise ControlError("cannot create control socket %s: an existing socket there "
                               "cannot be checked (%s)" % (self.path, exc.strerror or exc),
                               path=self.path)
        finally:
            probe.close()
        raise ControlError("cannot create control socket %s: another process is listening on "
                           "it (socket file of uid %s; is another source running with the same "
                           "control_socket?)" % (self.path, info.st_uid), path=self.path)

    def close(self) -> None:
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

    def _unlink_own_socket(self) -> None:
        # Only remove the file we created: another server may have taken over the path.
        info = _lstat_or_none(self.path)
        if info is not None and (info.st_dev, info.st_ino) == self._socket_ident:
            _unlink_if_present(self.path)

    def _accept_loop(self) -> None:
        sock = self._sock
        if sock is None:
            return  # not started
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
                self._answer_and_close(conn, _busy(
                    "control channel is busy (%d requests in progress); retry"
                    % MAX_CONCURRENT_CONNECTIONS))
                continue
            worker = threading.Thread(target=self._serve_connection, args=(conn,),
                                      daemon=True, name="zhmc-eda-control-conn")
            worker.start()

    def _serve_connection(self, conn: socket.socket) -> None:
        read_deadline = time.monotonic() + self.read_seconds
        try:
            uid, pid = peer_uid(conn)
            if uid is not None and uid != self._uid:
                self.refused_peer_count += 1
                LOG.warning("Control channel on %s: refused a connection from uid %s (pid %s); "
                            "only uid %s may use it", self.path, uid, pid, self._uid)
                self._answer_and_close(conn, {
                    "ok": False,
                    "error": "permission denied: uid %s may not use the control socket %s "
                             "(it belongs to uid %s)" % (uid, self.path, self._uid)})
                return
            request, response = self._read_request(conn, read_deadline)
            handler_thread = None
            if request is not None:
                response, handler_thread = self._run_handler(request)
            if response is None:  # pragma: no cover - _read_request answers what it refuses
                response = {"ok": False, "error": "no answer"}
            self._answer_and_close(conn, response)
            if handler_thread is not None:
                handler_thread.join()  # an overrunning handler keeps its slot until it ends
        except Exception as exc:  # never let one connection kill the server
            LOG.warning("Control channel on %s: connection failed: %s", self.path, exc)
            conn.close()
        finally:
            self._slots.release()

    def _read_request(self, conn: socket.socket,
                      deadline: float) -> Tuple[Optional[Response], Optional[Response]]:
        """(validated request, None), or (None, error response)."""
        try:
            raw = read_line(conn, MAX_REQUEST_BYTES, "control request", deadline)
            return validate_request(decode_json(raw, "control request")), None
        except socket.timeout:
            return None, {"ok": False, "error": "no complete control request line within %s s"
                                                % self.read_seconds}
        except ValueError as exc:  # also ControlRequestError
            return None, {"ok": False, "error": str(exc)}

    def _run_handler(self, request: Response) -> Tuple[Response, Optional[threading.Thread]]:
        """The handler's answer within its budget (plus grace), on a thread of its own.

        Returns (response, None), or, when the handler overran, (an "outcome unknown"
        response, the still running thread)."""
        self.request_count += 1
        op = request["op"]
        LOG.debug("Control channel on %s: request op=%s", self.path, op)
        deadline = time.monotonic() + self.handler_budget
        outcome: Dict[str, Response] = {}

        def work() -> None:
            try:
                outcome["response"] = _dispatch(self.handler, request, deadline)
            except ControlBusy as exc:
                LOG.info("Control channel on %s: %s refused, busy: %s", self.path, op, exc)
                outcome["response"] = _busy(str(exc))
            except Exception as exc:
                message = str(exc) or type(exc).__name__
                LOG.info("Control channel on %s: %s failed: %s", self.path, op, message)
                outcome["response"] = {"ok": False, "error": message}

        thread = threading.Thread(target=work, daemon=True, name="zhmc-eda-control-handler")
        thread.start()
        thread.join(max(0.0, deadline + ANSWER_GRACE_SECONDS - time.monotonic()))
        if not thread.is_alive():
            return outcome["response"], None
        LOG.warning("Control channel on %s: the %s handler overran its %s s budget; answered "
                    "that the outcome is unknown", self.path, op, self.handler_budget)
        return {"ok": False, "error": "the source did not finish the %s request within %s s; "
                                      "it may still take effect (a list request shows the "
                                      "subscriptions)" % (op, self.handler_budget)}, thread

    def _answer_and_close(self, conn: socket.socket, response: Response) -> None:
        try:
            conn.settimeout(self.read_seconds)  # sendall: a total for the whole answer
            conn.sendall(json.dumps(response, default=str).encode("utf-8") + b"\n")
        except OSError as exc:
            LOG.debug("Control channel on %s: could not send the response: %s", self.path, exc)
        finally:
            conn.close()
