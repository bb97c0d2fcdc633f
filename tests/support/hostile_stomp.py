"""A STOMP+TLS endpoint on loopback that misbehaves on purpose (the receiver's hardening tests).

It answers CONNECT/STOMP with CONNECTED (heart-beats as configured; it sends none itself),
confirms SUBSCRIBE with a RECEIPT, then does what its behaviour says:

- ``endless-body``: a MESSAGE whose body never ends (no NUL, ever);
- ``endless-header``: a MESSAGE whose header line never ends;
- ``no-nul``: complete-looking MESSAGE frames, none ending with a NUL;
- ``content-length``: a MESSAGE announcing a huge ``content-length``, its body full of NULs
  (so counting NULs does not find the end either);
- ``echo-login``: refuses a wrong passcode with an ERROR frame that echoes the login; after a
  right one, a MESSAGE and an ERROR frame (connection kept) that both echo the login;
- ``error-storm``: ``storm_count`` ERROR frames (``storm_causes`` distinct messages, the
  connection kept), then one MESSAGE.

The streaming behaviours stop after ``stream_limit`` bytes and then hold the connection
open, so that a receiver without a frame-size limit fails the test instead of the machine.
TLS uses hmcsim's throw-away CA (trustme).
"""
from __future__ import annotations

import socket
import ssl
import threading
from typing import Dict, List, Optional, Tuple

from hmcsim.certs import Certificates

BEHAVIOURS = ("endless-body", "endless-header", "no-nul", "content-length", "echo-login",
              "error-storm")
CHUNK = 64 * 1024


def encode(command: str, headers: Dict[str, str], body: str = "") -> bytes:
    lines = [command] + ["%s:%s" % item for item in headers.items()]
    return ("\n".join(lines) + "\n\n" + body).encode("utf-8") + b"\x00"


class HostileStomp:
    """One listening socket; every connection gets the same behaviour."""

    def __init__(self, behaviour: str, certs: Certificates, heartbeats: str = "0,0",
                 stream_limit: int = 128 * 1024 * 1024, passcode: str = "",
                 storm_count: int = 2000, storm_causes: int = 3) -> None:
        assert behaviour in BEHAVIOURS, behaviour
        self.behaviour = behaviour
        self.heartbeats = heartbeats
        self.stream_limit = stream_limit
        self.passcode = passcode
        self.storm_count = storm_count
        self.storm_causes = storm_causes
        self.host = "127.0.0.1"
        self.ca_file = certs.ca_file
        self.sent_bytes = 0            # bytes streamed by the misbehaviour (all connections)
        self.stream_done = threading.Event()
        self._context = certs.server_context()
        self._sock = socket.create_server((self.host, 0))
        self.port = self._sock.getsockname()[1]
        self._conns: List[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._sock.close()
        for conn in list(self._conns):
            try:
                conn.close()
            except OSError:
                pass

    # ------------------------------------------------------------------ plumbing
    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        try:
            conn = self._context.wrap_socket(raw, server_side=True)
            reader = _FrameReader(conn)
            while True:
                frame = reader.next_frame()
                if frame is None:
                    return
                if not self._answer(conn, *frame):
                    return
        except (OSError, ssl.SSLError):
            return
        finally:
            raw.close()

    def _answer(self, conn: ssl.SSLSocket, command: str, headers: Dict[str, str]) -> bool:
        """Answer one client frame; False ends the connection."""
        if command in ("CONNECT", "STOMP"):
            if self.behaviour == "echo-login" and headers.get("passcode") != self.passcode:
                login = headers.get("login", "")
                conn.sendall(encode("ERROR", {"message": "login refused for user %s" % login},
                                    "Unknown session %s\n" % login))
                return False
            conn.sendall(encode("CONNECTED", {"version": "1.1", "heart-beat": self.heartbeats,
                                              "session": "hostile-1"}))
            self._login = headers.get("login", "")
        elif command == "SUBSCRIBE":
            if "receipt" in headers:
                conn.sendall(encode("RECEIPT", {"receipt-id": headers["receipt"]}))
            self._misbehave(conn, headers.get("destination", "/topic/t"), headers.get("id", "1"))
        elif command in ("UNSUBSCRIBE", "DISCONNECT") and "receipt" in headers:
            conn.sendall(encode("RECEIPT", {"receipt-id": headers["receipt"]}))
            return command != "DISCONNECT"
        return True

    # ------------------------------------------------------------------ misbehaviours
    def _misbehave(self, conn: ssl.SSLSocket, destination: str, sub_id: str) -> None:
        message_headers = "MESSAGE\ndestination:%s\nsubscription:%s\nmessage-id:m-1\n" % (
            destination, sub_id)
        if self.behaviour == "endless-body":
            self._stream(conn, (message_headers + "\n").encode(), b"x" * CHUNK)
        elif self.behaviour == "endless-header":
            self._stream(conn, (message_headers + "x-long:").encode(), b"a" * CHUNK)
        elif self.behaviour == "no-nul":
            frame = (message_headers + '\n{"n": 1}\n').encode()
            self._stream(conn, b"", frame * (CHUNK // len(frame)))
        elif self.behaviour == "content-length":
            start = (message_headers + "content-length:999999999999\n\n").encode()
            self._stream(conn, start, (b"\x00" + b"y" * 1023) * (CHUNK // 1024))
        elif self.behaviour == "echo-login":
            login = self._login
            conn.sendall(encode("MESSAGE", {"destination": destination, "subscription": sub_id,
                                            "message-id": "m-1", "x-session": login},
                                '{"echo": "%s"}' % login))
            conn.sendall(encode("ERROR", {"message": "session %s may not read %s"
                                          % (login, destination)}, "session %s\n" % login))
        elif self.behaviour == "error-storm":
            frames = [encode("ERROR", {"message": "storm cause %d" % (number % self.storm_causes)},
                             "frame %d" % number) for number in range(self.storm_count)]
            conn.sendall(b"".join(frames))
            conn.sendall(encode("MESSAGE", {"destination": destination, "subscription": sub_id,
                                            "message-id": "m-last", "test-seq": "last"}, "{}"))
        self.stream_done.set()

    def _stream(self, conn: ssl.SSLSocket, start: bytes, chunk: bytes) -> None:
        """Send ``start`` and then ``chunk`` again and again, up to stream_limit bytes."""
        conn.sendall(start)
        self.sent_bytes += len(start)
        try:
            while self.sent_bytes < self.stream_limit:
                conn.sendall(chunk)
                self.sent_bytes += len(chunk)
        except (OSError, ssl.SSLError):
            pass   # the receiver cut the connection: what we want
        finally:
            self.stream_done.set()


class _FrameReader:
    """Client frames from a socket: (command, headers); heart-beat EOLs skipped."""

    def __init__(self, conn: ssl.SSLSocket) -> None:
        self._conn = conn
        self._buffer = b""

    def next_frame(self) -> Optional[Tuple[str, Dict[str, str]]]:
        while b"\x00" not in self._buffer:
            data = self._conn.recv(65536)
            if not data:
                return None
            self._buffer += data
        raw, self._buffer = self._buffer.split(b"\x00", 1)
        lines = raw.decode("utf-8", "replace").lstrip("\r\n").split("\n")
        headers: Dict[str, str] = {}
        for line in lines[1:]:
            if not line:
                break
            key, _, value = line.partition(":")
            headers.setdefault(key, value)
        return lines[0].strip(), headers
