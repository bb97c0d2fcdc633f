# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""The modules' side of the control channel: `ControlClient` sends one request to a running
source's control socket (protocol and time line: control_protocol.py).

It talks only to a server that runs as its own user (SO_PEERCRED, checked before anything is
sent); root gets no exception, see control.py for why.
"""

from __future__ import annotations

import json
import os
import socket
import time
from typing import Any, Dict

from ansible_collections.zhmc.eda.plugins.module_utils.control_protocol import (
    CLIENT_TIMEOUT_SECONDS, MAX_REQUEST_BYTES, MAX_RESPONSE_BYTES, ControlBusy, ControlError,
    ControlRequestError, checked_socket_path, decode_json, peer_uid, read_line,
    validate_request)

Response = Dict[str, Any]


class ControlClient:
    """Send one request to a running source's control socket and return its answer."""

    def __init__(self, path: str, timeout: float = CLIENT_TIMEOUT_SECONDS) -> None:
        self.path = checked_socket_path(path)
        self.timeout = timeout

    def request(self, op: str, **params: Any) -> Response:
        """Send ``{"op": op, **params}`` (None values left out); return the response dict.

        Raises `ControlRequestError` for a bad request, `ControlBusy` when the source was
        busy and changed nothing, `ControlError` when no source of this user listens on the
        path or the source answers ``ok: false``.
        """
        request = {"op": op}
        request.update((key, value) for key, value in params.items() if value is not None)
        validate_request(request)
        data = json.dumps(request).encode("utf-8") + b"\n"
        if len(data) > MAX_REQUEST_BYTES:
            raise ControlRequestError("control request is larger than %d bytes"
                                      % MAX_REQUEST_BYTES, path=self.path)
        deadline = time.monotonic() + self.timeout
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            self._connect(sock)
            self._check_server(sock)
            raw = self._exchange(sock, op, data, deadline)
        finally:
            sock.close()
        return self._response(raw, op)

    def _exchange(self, sock: socket.socket, op: str, data: bytes, deadline: float) -> bytes:
        try:
            try:
                sock.settimeout(max(0.001, deadline - time.monotonic()))
                sock.sendall(data)
                sock.shutdown(socket.SHUT_WR)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server may answer (e.g. refuse us) before reading: read that
            return read_line(sock, MAX_RESPONSE_BYTES, "control response", deadline)
        except socket.timeout:
            raise ControlError("no answer from the control socket %s within %s s (op %s); the "
                               "source may still carry the request out"
                               % (self.path, self.timeout, op), path=self.path)
        except (OSError, ValueError) as exc:
            raise ControlError("control socket %s: %s failed: %s"
                               % (self.path, op, getattr(exc, "strerror", None) or exc),
                               path=self.path)

    def _response(self, raw: bytes, op: str) -> Response:
        if not raw:
            raise ControlError("control socket %s closed the connection without an answer "
                               "(op %s)" % (self.path, op), path=self.path)
        try:
            response = decode_json(raw, "its answer")
        except ValueError as exc:
            raise ControlError("control socket %s: %s" % (self.path, exc), path=self.path)
        if not isinstance(response, dict) or "ok" not in response:
            raise ControlError("control socket %s sent an answer without 'ok'" % self.path,
                               path=self.path)
        if response["ok"] is not True:
            error_class = ControlBusy if response.get("busy") is True else ControlError
            raise error_class(str(response.get("error") or "the source refused the request"),
                              path=self.path, server_error=True)
        return response

    def _check_server(self, sock: socket.socket) -> None:
        """Refuse a server run by another user, before anything is sent to it."""
        uid, pid = peer_uid(sock)
        if uid is None:  # no SO_PEERCRED here: the socket file belongs to whoever bound it
            try:
                uid = os.stat(self.path).st_uid
            except OSError as exc:
                raise ControlError("cannot check the owner of the control socket %s: %s"
                                   % (self.path, exc.strerror or exc), path=self.path)
        if uid != os.geteuid():
            raise ControlError(
                "refusing to use the control socket %s: it is served by uid %s (pid %s), not "
                "by this user (uid %s); nothing was sent. Another user may have taken the "
                "path: keep control_socket in a directory only the source's user can write to"
                % (self.path, uid, pid, os.geteuid()), path=self.path)

    def _connect(self, sock: socket.socket) -> None:
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
