# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""Every place the receiver relies on stomp.py beyond its documented API, in one file.

This is the only module that imports stomp.py. Each function below says which stomp.py
versions its touch is for and why it is needed, so that a new stomp.py release means reading
this file only. Supported: stomp.py 8.2+ (not 8.3.0) and 9.x, both tested (``make test``
and ``make test-stomp8``).

Touches of stomp.py internals, in short:

- ``Transport.receive`` replaced per connection (8.x, 9.x): counts the bytes read since the
  last complete frame (the frame-size limit) and, on 9.x with TLS, turns an empty read into
  the end of the connection.
- ``set_ssl(verify=...)`` detected by signature (9.x has it; 8.x verifies iff ``ca_certs``).
- ``Transport.override_threading`` (8.x): the reader thread starts once CONNECT is out.
- ``conn.heartbeats`` (8.x, 9.x): the heart-beats negotiated in CONNECTED.
- ``conn.received_heartbeat`` (8.x, 9.x) and a heart-beat EOL written by hand (9.x, TLS)
  while the receiver holds stomp.py's reader thread (back-pressure).
- ``transport.running``, ``conn.running``, ``conn.heartbeat_terminate_event`` and a raw
  socket shutdown (8.x, 9.x): tear a connection down without waiting on the peer.
"""

from __future__ import annotations

import inspect
import selectors
import socket
import ssl
import threading
from typing import Any, Callable, Dict, Optional, Tuple

try:
    import stomp
    import stomp.exception

    HAS_STOMP = True
    STOMP_IMPORT_ERROR: Optional[ImportError] = None
    ListenerBase: Any = stomp.ConnectionListener
except ImportError as _exc:  # reported when a receiver is created
    stomp = None
    HAS_STOMP = False
    STOMP_IMPORT_ERROR = _exc
    ListenerBase = object

# A stomp.Connection (StompConnection11); typed loosely because stomp.py has no type hints.
StompConnection = Any

INSTALL_HINT = "pip install 'stomp-py>=8.2.0,!=8.3.0,<10'"


def require_stomp() -> None:
    """Raise ImportError naming the package to install when stomp.py is missing."""
    if not HAS_STOMP:
        raise ImportError(
            "The zhmc.eda notification receiver needs the Python package stomp-py (%s): %s"
            % (INSTALL_HINT, STOMP_IMPORT_ERROR))


def new_connection(host: str, port: int, kwargs: Dict[str, Any]) -> StompConnection:
    """A new, unconnected stomp.py connection to one broker (public API, all versions)."""
    return stomp.Connection(host_and_ports=[(host, port)], prefer_localhost=False,
                            try_loopback_connect=False, **kwargs)


def is_connect_failure(exc: BaseException) -> bool:
    """True for stomp.py's "could not connect" (it carries no cause; we diagnose it)."""
    return HAS_STOMP and isinstance(exc, stomp.exception.ConnectFailedException)


def _set_ssl_accepts_verify() -> bool:
    if not HAS_STOMP:
        return False
    try:
        return "verify" in inspect.signature(stomp.transport.Transport.set_ssl).parameters
    except (TypeError, ValueError):
        return False


# stomp.py 9 added ``verify`` to set_ssl and, without a CA file, verifies against the system
# store; 8.x verifies exactly when ca_certs is given and has no such parameter.
_SET_SSL_HAS_VERIFY = _set_ssl_accepts_verify()


def configure_tls(conn: StompConnection, host: str, port: int, ca_file: Optional[str],
                  cert_validator: Callable[[Any, str], Tuple[bool, Optional[str]]]) -> None:
    """TLS for the connection: verified against ``ca_file`` (with ``cert_validator`` as a
    second hostname check), or not verified at all when ``ca_file`` is None."""
    kwargs: Dict[str, Any] = {"for_hosts": [(host, port)]}
    if ca_file is not None:
        kwargs["ca_certs"] = ca_file
        kwargs["cert_validator"] = cert_validator
    if _SET_SSL_HAS_VERIFY:
        kwargs["verify"] = ca_file is not None
    conn.set_ssl(**kwargs)


def start_reader_after(conn: StompConnection, gate: threading.Event, timeout: float,
                       name: str) -> None:
    """Let stomp.py's reader thread start only once ``gate`` is set (or ``timeout`` passed).

    stomp.py 8.x reads and writes one TLS socket from two threads; its reader starting while
    the CONNECT frame is written (TLS 1.3 session tickets arrive just then) breaks the
    connection now and then. The caller sets the gate once ``connect()`` has sent the frame.
    Harmless on 9.x, where one thread does both.
    """
    def create_reader_thread(callback: Callable[[], None]) -> threading.Thread:
        def run() -> None:
            gate.wait(timeout)
            callback()

        thread = threading.Thread(target=run, name=name, daemon=True)
        thread.start()
        return thread

    conn.transport.override_threading(create_reader_thread)


class ReadMeter:
    """Bytes read from the socket since the last complete frame, and the limit on them.

    The read wrapper (``watch_reads``) adds every chunk; the listener takes and resets the
    count whenever stomp.py delivers a frame, so for a MESSAGE the count is its size on the
    wire (exact up to one read, when several frames arrive in one read).
    """

    __slots__ = ("unframed", "limit")

    def __init__(self, limit: int) -> None:
        self.unframed = 0
        self.limit = limit

    def take(self) -> int:
        """The count so far, reset to 0 (a frame was delivered)."""
        count = self.unframed
        self.unframed = 0
        return count


def watch_reads(conn: StompConnection, meter: ReadMeter, on_end: Callable[[str], None],
                on_too_large: Callable[[int], None]) -> None:
    """Wrap the transport's ``receive`` (stomp.py 8.x and 9.x) for two checks.

    - Frame size: stomp.py buffers a frame until its NUL without limit, so a frame that
      never ends grows memory until the process dies, heart-beats or not. Past
      ``meter.limit`` bytes without a complete frame the wrapper stops stomp.py's reader,
      cuts the socket and calls ``on_too_large(bytes read)``; the chunk is dropped.
    - End of stream (9.x with TLS): stomp.py 9 reads a non-blocking TLS socket and takes an
      empty read, or a failed one, for "no data yet", so a connection the broker closed
      makes its loop spin instead of ending. Either calls ``on_end(reason)`` and stops it
      (on 8.x, where stomp.py ends the loop itself, it only reports the reason earlier).
    """
    transport = conn.transport
    original = transport.receive

    def receive() -> Optional[bytes]:
        try:
            data = original()
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            raise   # no TLS record complete yet: stomp.py tries again
        except OSError as exc:
            if transport.running:
                on_end("reading from the socket failed: %s" % type(exc).__name__)
                transport.running = False
            raise
        if data:
            unframed = meter.unframed + len(data)
            meter.unframed = unframed
            if unframed > meter.limit:
                transport.running = False
                shutdown_socket(transport.socket)
                on_too_large(unframed)
                return b""
            return data
        # None means "would block" (before CONNECTED); b"" is the end of the stream.
        if data is not None and transport.blocking is False and transport.running:
            on_end("the broker closed the connection")
            transport.running = False
        return data

    transport.receive = receive


def negotiated_heartbeats(conn: StompConnection) -> Tuple[int, int]:
    """(send_ms, receive_ms) agreed in CONNECTED: ``HeartbeatListener.heartbeats``, which
    stomp.py 8.x and 9.x overwrite with the negotiated values (no public accessor)."""
    value = getattr(conn, "heartbeats", None) or (0, 0)
    return int(value[0]), int(value[1])


def note_heartbeat_received(conn: StompConnection, now: float) -> None:
    """Tell stomp.py's heart-beat loop (8.x, 9.x) that the broker is alive.

    While the receiver holds stomp.py's reader thread (back-pressure) no frame is read, and
    stomp.py's loop would declare a heart-beat timeout; we, not the broker, are the cause.
    """
    if getattr(conn, "received_heartbeat", None) is not None:
        conn.received_heartbeat = now


def send_heartbeat_from_held_reader(conn: StompConnection) -> None:
    """Write one heart-beat EOL while stomp.py's reader thread is held (9.x with TLS).

    stomp.py 9 with TLS writes only from its reader thread, which back-pressure is holding,
    so the broker would stop hearing from us. Skipped while that thread is in the middle of
    a write (the socket is registered for writing), and on 8.x or plain TCP, where stomp.py's
    heart-beat thread writes directly.
    """
    transport = conn.transport
    if transport.blocking is not False:
        return
    sel = getattr(transport, "sel", None)
    sock = transport.socket
    if sel is None or sock is None:
        return
    try:
        if sel.get_key(sock).events & selectors.EVENT_WRITE:
            return
        sock.send(b"\n")
    except (ssl.SSLWantWriteError, ssl.SSLWantReadError, KeyError, ValueError, OSError):
        pass


def shutdown_socket(sock: Optional[socket.socket]) -> None:
    """A plain TCP shutdown, even of a TLS socket: no TLS close handshake that could wait
    on a dead peer, and stomp.py's blocked reads and selects return at once."""
    if sock is None:
        return
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except (OSError, ValueError, TypeError):
        pass


def stop_connection(conn: StompConnection) -> None:
    """Stop stomp.py's reader and heart-beat threads and cut the socket, without waiting.

    ``transport.running`` ends the reader loop, ``conn.running`` and
    ``heartbeat_terminate_event`` end the heart-beat loop (attributes of 8.x and 9.x);
    ``disconnect()`` would instead wait for the broker's receipt.
    """
    transport = conn.transport
    transport.running = False
    try:
        conn.running = False
        conn.heartbeat_terminate_event.set()
    except AttributeError:
        pass
    shutdown_socket(transport.socket)
