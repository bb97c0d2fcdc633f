# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""The control channel's wire protocol: requests, their validation, errors and time line (no I/O
beyond reading one line from a connected socket).

One connection carries one request line and one response line, both JSON. Requests::

    {"op": "list"}
    {"op": "subscribe", "topic": T}
    {"op": "unsubscribe", "topic": T}
    {"op": "open_os_message_channel", "cpc": C, "partition": P}   # or "lpar": L; "subscribe": bool
    {"op": "close_os_message_channel", "cpc": C, "partition": P}  # or "lpar": L

Any request may carry ``"check_mode": true``. Responses are ``{"ok": true, ...}`` (the
handler's dict) or ``{"ok": false, "error": "message"}``; a request that was refused because
the source was busy, and so changed nothing, is answered ``{"ok": false, "busy": true,
"changed": false, "error": "..."}``.

The time line of one request has one owner, the constants below:

- the peer sends its whole request line within REQUEST_READ_SECONDS (a total, not per read:
  a peer trickling one byte a second is cut off like a silent one);
- the handler answers within HANDLER_BUDGET_SECONDS after the request was read. The server
  hands the handler that deadline (``deadline=``, a ``time.monotonic()`` value);
- the client waits CLIENT_TIMEOUT_SECONDS, longer than the server can take, so it never
  gives up while the source may still act on the request.

What a handler must guarantee (the source's control handler honours this):

1. It returns or raises before ``deadline``.
2. When it cannot do the request in time (e.g. the source's state lock is held by a
   reconnect, or the time left is too short for an HMC call), it raises `ControlBusy` and has
   changed nothing, and it makes no change for this request afterwards.
3. Any other exception means the request failed; it too must leave no change behind that
   happens after the answer (no work continues in the background once it has raised).

A handler that overruns its budget breaks the contract: the server then answers at
``deadline + ANSWER_GRACE_SECONDS`` that the outcome is unknown, and logs a warning.
"""

from __future__ import annotations

import json
import socket
import struct
import time
from typing import Any, Dict, Optional, Tuple

from ansible_collections.zhmc.eda.plugins.module_utils.errors import ZhmcEdaError
from ansible_collections.zhmc.eda.plugins.module_utils.validation import (
    object_name_problem, socket_path_problem, topic_name_problem)

MAX_REQUEST_BYTES = 64 * 1024
MAX_RESPONSE_BYTES = 4 * 1024 * 1024

REQUEST_READ_SECONDS = 5.0
HANDLER_BUDGET_SECONDS = 30.0
ANSWER_GRACE_SECONDS = 2.0
# Longer than anything a server that keeps the contract can take, plus a margin for a loaded host.
CLIENT_TIMEOUT_SECONDS = REQUEST_READ_SECONDS + HANDLER_BUDGET_SECONDS + ANSWER_GRACE_SECONDS + 5.0

OPS = ("list", "subscribe", "unsubscribe", "open_os_message_channel", "close_os_message_channel")

# op -> (required fields, optional fields); every op also takes "check_mode".
_OP_FIELDS = {
    "list": ((), ()),
    "subscribe": (("topic",), ()),
    "unsubscribe": (("topic",), ()),
    "open_os_message_channel": (("cpc",), ("partition", "lpar", "subscribe")),
    "close_os_message_channel": (("cpc",), ("partition", "lpar")),
}
# string field -> the shared rule for its value (validation.py)
_STRING_FIELDS = {
    "topic": topic_name_problem,
    "cpc": object_name_problem,
    "partition": object_name_problem,
    "lpar": object_name_problem,
}
_BOOL_FIELDS = ("check_mode", "subscribe")


class ControlError(ZhmcEdaError):
    """The control channel failed: no source listens, access denied, or the source said no.

    `path` is the socket path; `server_error` is True when the source answered with
    ``ok: false`` (the message is then the source's error text).
    """

    def __init__(self, message: str, path: Optional[str] = None,
                 server_error: bool = False) -> None:
        super(ControlError, self).__init__(message)
        self.path = path
        self.server_error = server_error


class ControlRequestError(ControlError, ValueError):
    """A control request is malformed; the message names the field and the problem."""


class ControlBusy(ControlError):
    """The source could not do the request in time and changed nothing (raised by a handler,
    and by the client for a ``busy`` answer)."""


def _show(value: Any, limit: int = 80) -> str:
    """A value for an error message: cut short, and containers only named (a nested one
    could be deep enough to break repr())."""
    if isinstance(value, list):
        return "a JSON array"
    if isinstance(value, dict):
        return "a JSON object"
    text = repr(value)
    return text[:limit] + "..." if len(text) > limit else text


def validate_request(request: Any) -> Dict[str, Any]:
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
            "control request field 'op' has the unknown value %s (expected one of: %s)"
            % (_show(op), ", ".join(OPS)))
    required, optional = _OP_FIELDS[op]
    allowed = set(required) | set(optional) | {"op", "check_mode"}
    unknown = sorted(str(key) for key in request if key not in allowed)
    if unknown:
        raise ControlRequestError(
            "control request op %r does not take the field(s) %s (allowed: %s)"
            % (op, ", ".join(_show(key) for key in unknown), ", ".join(sorted(allowed - {"op"}))))
    for field in required:
        if request.get(field) is None:
            raise ControlRequestError(
                "control request op %r is missing the required field %r" % (op, field))

    normalized: Dict[str, Any] = {"op": op}
    for field in sorted(allowed - {"op"}):
        value = request.get(field)
        if field in _STRING_FIELDS:
            if value is not None:
                _check_string_field(field, value)
            normalized[field] = value
        else:
            normalized[field] = _bool_field(field, value)

    if op in ("open_os_message_channel", "close_os_message_channel"):
        has_partition = normalized["partition"] is not None
        if has_partition == (normalized["lpar"] is not None):
            raise ControlRequestError(
                "control request op %r needs exactly one of the fields 'partition' "
                "(DPM CPC) or 'lpar' (classic CPC), got %s"
                % (op, "both" if has_partition else "neither"))
    return normalized


def _check_string_field(field: str, value: Any) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ControlRequestError("control request field %r must be a non-empty string, got %s"
                                  % (field, _show(value)))
    problem = _STRING_FIELDS[field](value)
    if problem:
        raise ControlRequestError("control request field %r: %s (got %s)"
                                  % (field, problem, _show(value)))


def _bool_field(field: str, value: Any) -> bool:
    if value is None:
        return field == "subscribe"  # the default: True for subscribe, False for check_mode
    if not isinstance(value, bool):
        raise ControlRequestError("control request field %r must be true or false, got %s"
                                  % (field, _show(value)))
    return value


def read_line(conn: socket.socket, limit: int, what: str, deadline: float) -> bytes:
    """Read bytes up to and excluding the first newline (or EOF), at most `limit` bytes, all
    of them by `deadline` (``time.monotonic()``); raises socket.timeout past it and
    ValueError past `limit`."""
    chunks = []
    size = 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout("%s not complete in time" % what)
        conn.settimeout(remaining)
        chunk = conn.recv(65536)
        if not chunk:
            break
        newline = chunk.find(b"\n")
        if newline >= 0:
            chunk = chunk[:newline]
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise ValueError("%s is larger than %d bytes" % (what, limit))
        if newline >= 0:
            break
    return b"".join(chunks)


def decode_json(raw: bytes, what: str) -> Any:
    """The JSON value of one line; ValueError with a clean message for anything else,
    including nesting deep enough to exhaust the parser's recursion."""
    try:
        return json.loads(raw.decode("utf-8"))
    except RecursionError:
        raise ValueError("%s is not valid JSON: nested too deeply" % what) from None
    except ValueError as exc:  # also UnicodeDecodeError
        raise ValueError("%s is not valid JSON: %s" % (what, exc)) from None


def checked_socket_path(path: Any) -> str:
    """`path` when it can name a Unix socket; ControlRequestError naming the problem otherwise."""
    problem = socket_path_problem(path)
    if problem:
        raise ControlRequestError("control socket path %r: %s" % (path, problem), path=path)
    return path


def peer_uid(conn: socket.socket) -> Tuple[Optional[int], Optional[int]]:
    """(uid, pid) of the connected peer via SO_PEERCRED, or (None, None) where unsupported."""
    option = getattr(socket, "SO_PEERCRED", None)
    if option is None:
        return None, None
    creds = conn.getsockopt(socket.SOL_SOCKET, option, struct.calcsize("3i"))
    pid, uid, _gid = struct.unpack("3i", creds)
    return uid, pid
