"""STOMP 1.1/1.2 frame parsing and encoding (no I/O).

`FrameParser.feed(data)` takes bytes as they arrive and returns complete frames and
heart-beats; it handles the NUL terminator, `content-length` bodies, CR-LF line ends
(1.2) and header escapes. Limits keep a misbehaving client from eating memory.
"""
from __future__ import annotations

import enum
from typing import Any, Final

MAX_HEADER_BYTES = 64 * 1024
MAX_BODY_BYTES = 4 * 1024 * 1024


class Heartbeat(enum.Enum):
    """The type of HEARTBEAT."""

    BEAT = "heart-beat"


HEARTBEAT: Final = Heartbeat.BEAT     # returned by the parser for each EOL seen between frames

_UNESCAPE = {"\\\\": "\\", "\\n": "\n", "\\c": ":", "\\r": "\r"}


class FrameError(ValueError):
    """The peer sent something that is not a STOMP frame."""


class Frame:
    def __init__(self, command: str, headers: dict[str, str] | None = None, body: bytes = b"") -> None:
        self.command = command
        self.headers = headers or {}
        self.body = body

    def __repr__(self) -> str:
        return "Frame(%s, %s, %d bytes)" % (self.command, sorted(self.headers), len(self.body))


def escape_header(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n").replace(":", "\\c")


def unescape_header(text: str) -> str:
    if "\\" not in text:
        return text
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            pair = text[i:i + 2]
            if pair not in _UNESCAPE:
                raise FrameError("undefined escape sequence %r in a header" % pair)
            out.append(_UNESCAPE[pair])
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def encode_frame(command: str, headers: dict[str, Any] | None = None, body: bytes | str = b"",
                 escape: bool = True) -> bytes:
    """Encode one frame; header values become strings; adds content-length for a body."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    lines = [command]
    headers = dict(headers or {})
    if body:
        headers["content-length"] = str(len(body))
    for raw_key, raw_value in headers.items():
        key, value = str(raw_key), str(raw_value)
        if escape:
            key, value = escape_header(key), escape_header(value)
        lines.append("%s:%s" % (key, value))
    return ("\n".join(lines) + "\n\n").encode("utf-8") + body + b"\x00"


class FrameParser:
    """Incremental parser; `feed()` returns a list of Frame objects and HEARTBEAT markers."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[Frame | Heartbeat]:
        self._buf.extend(data)
        out: list[Frame | Heartbeat] = []
        while True:
            # EOLs between frames are heart-beats.
            while self._buf[:1] in (b"\n", b"\r"):
                if self._buf[:2] == b"\r\n":
                    del self._buf[:2]
                elif self._buf[:1] == b"\n":
                    del self._buf[:1]
                elif len(self._buf) == 1:
                    return out          # a lone CR: wait for its LF
                else:
                    raise FrameError("a CR not followed by LF between frames")
                out.append(HEARTBEAT)
            frame = self._take_frame()
            if frame is None:
                return out
            out.append(frame)

    def _take_frame(self) -> Frame | None:
        end = self._buf.find(b"\n\n")
        end_crlf = self._buf.find(b"\r\n\r\n")
        candidates = [(e, 2) for e in (end,) if e >= 0] + [(e, 4) for e in (end_crlf,) if e >= 0]
        if not candidates:
            if len(self._buf) > MAX_HEADER_BYTES:
                raise FrameError("frame headers longer than %d bytes" % MAX_HEADER_BYTES)
            return None
        head_end, sep_len = min(candidates)
        try:
            head = bytes(self._buf[:head_end]).decode("utf-8")
        except UnicodeDecodeError:
            raise FrameError("frame headers are not UTF-8") from None
        lines = [line[:-1] if line.endswith("\r") else line for line in head.split("\n")]
        command = lines[0]
        if not command or not command.isalpha() or not command.isupper():
            raise FrameError("not a STOMP command: %r" % command[:40])
        escape = command not in ("CONNECT", "STOMP", "CONNECTED")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if ":" not in line:
                raise FrameError("header line without ':' in a %s frame" % command)
            key, value = line.split(":", 1)
            if escape:
                key, value = unescape_header(key), unescape_header(value)
            headers.setdefault(key, value)      # the first occurrence wins (STOMP 1.2)
        body_start = head_end + sep_len
        length_text = headers.get("content-length")
        if length_text is not None:
            if not length_text.isdigit():
                raise FrameError("content-length %r is not a number" % length_text[:20])
            length = int(length_text)
            if length > MAX_BODY_BYTES:
                raise FrameError("body longer than %d bytes" % MAX_BODY_BYTES)
            if len(self._buf) < body_start + length + 1:
                return None
            if self._buf[body_start + length] != 0:
                raise FrameError("frame body not followed by NUL (content-length %d)" % length)
            body = bytes(self._buf[body_start:body_start + length])
            del self._buf[:body_start + length + 1]
        else:
            nul = self._buf.find(b"\x00", body_start)
            if nul < 0:
                if len(self._buf) - body_start > MAX_BODY_BYTES:
                    raise FrameError("body longer than %d bytes" % MAX_BODY_BYTES)
                return None
            body = bytes(self._buf[body_start:nul])
            del self._buf[:nul + 1]
        return Frame(command, headers, body)
