"""The built-in STOMP 1.1/1.2 endpoint over TLS (an asyncio loop in a background thread).

It behaves like the HMC's ActiveMQ-based broker as far as clients can tell: login with
session id + credential or userid + password; heart-beats as ActiveMQ does them (CONNECTED
echoes the client's request, reversed; a silent client is dropped after 1.5 times the
interval it promised); `/topic/<name>` subscriptions checked against the HMC's known topics
(an unknown topic gets ActiveMQ's SecurityException ERROR frame and the connection stays
open); MESSAGE frames with the HMC's headers and one message-id per publication. Fault
injection hooks: drop, stall, ERROR frames, delivery delay, refusing connections for a while.
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import ssl
import threading
import time
from typing import TYPE_CHECKING, Callable, TypeVar

from hmcsim.stomp_frames import HEARTBEAT, Frame, FrameError, FrameParser, encode_frame

if TYPE_CHECKING:
    from hmcsim.hmc import Hmc

LOG = logging.getLogger("hmcsim.stomp")

SUPPORTED_VERSIONS = ("1.2", "1.1")
# ActiveMQ's inactivity monitor drops a client after its promised interval times this grace.
HEARTBEAT_GRACE = 1.5
# MESSAGE frames a flood writes at a time before it waits for the connection to take them.
FLOOD_BURST = 200
# observer(connection number, command, headers without the passcode), in the server's loop
FrameObserver = Callable[[int, str, dict[str, str]], None]
T = TypeVar("T")


def _flushed(transport: asyncio.WriteTransport | None) -> bool:
    """Nothing left in the transport's buffer (or nothing left to write to)."""
    return transport is None or transport.is_closing() or not transport.get_write_buffer_size()


def _parse_heartbeat(value: str) -> list[int] | None:
    try:
        parts = [int(x) for x in value.split(",")]
        if len(parts) != 2 or min(parts) < 0:
            raise ValueError
        return parts
    except ValueError:
        return None


class _Connection:
    """One client connection: a reader coroutine and a writer coroutine."""

    def __init__(self, server: StompServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 number: int) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        self.number = number
        # (frame bytes, is a MESSAGE); frame None: close once the frames before it went out
        self.queue: asyncio.Queue[tuple[bytes | None, bool]] = asyncio.Queue()
        self.connected = False
        self.version: str | None = None
        self.send_interval = 0.0       # our heart-beats to the client, seconds (0: none)
        self.receive_interval = 0.0    # the client's heart-beats to us, seconds (0: none)
        self.subscriptions: dict[str, str] = {}     # id -> destination
        self.closing = False
        self.close_requested = False   # an orderly close after the queued frames went out
        self.last_received = time.monotonic()
        self.unwritten = 0             # frames queued but not yet handed to the transport

    def enqueue(self, data: bytes, is_message: bool = False) -> None:
        if not self.closing:
            self.unwritten += 1
            self.queue.put_nowait((data, is_message))

    def close_after_queue(self) -> None:
        if not self.closing and not self.close_requested:
            self.close_requested = True
            self.queue.put_nowait((None, False))

    def abort(self) -> None:
        self.closing = True
        transport = self.writer.transport
        if transport is not None and not transport.is_closing():
            transport.abort()

    def error(self, message: str, body: str = "", frame: Frame | None = None,
              extra: dict[str, str] | None = None) -> None:
        """An ERROR frame (with receipt-id when the failed frame asked for a receipt)."""
        headers = {"message": message}
        if body:
            headers["content-type"] = "text/plain"
        if frame is not None and "receipt" in frame.headers:
            headers["receipt-id"] = frame.headers["receipt"]
        headers.update(extra or {})
        self.enqueue(encode_frame("ERROR", headers, body))

    def error_and_close(self, message: str, body: str = "", extra: dict[str, str] | None = None) -> None:
        """A fatal error (CONNECT failures, broken frames): ERROR, then close, as ActiveMQ does."""
        self.error(message, body, extra=extra)
        self.close_after_queue()

    # --------------------------------------------------------------- writing
    async def write_loop(self) -> None:
        server = self.server
        try:
            while True:
                timeout = self.send_interval or None
                try:
                    data, is_message = await asyncio.wait_for(self.queue.get(), timeout)
                except asyncio.TimeoutError:
                    data, is_message = b"\n", False       # an EOL heart-beat
                while server.stalled:
                    await server.unstalled_event_wait()
                if data is None:        # close_after_queue()
                    await self.writer.drain()
                    self.closing = True
                    self.writer.close()
                    return
                if is_message and server.delivery_delay > 0:
                    await asyncio.sleep(server.delivery_delay)
                self.writer.write(data)
                if data != b"\n":
                    self.unwritten -= 1
                await self.writer.drain()
        except (ConnectionError, OSError, asyncio.CancelledError):
            self.abort()

    # --------------------------------------------------------------- reading
    async def read_loop(self) -> None:
        parser = FrameParser()
        server = self.server
        try:
            while not self.closing:
                timeout: float | None = None
                if self.receive_interval:
                    timeout = self.receive_interval * HEARTBEAT_GRACE
                elif not self.connected:
                    timeout = server.connect_timeout
                try:
                    data = await asyncio.wait_for(self.reader.read(65536), timeout)
                except asyncio.TimeoutError:
                    if server.stalled:
                        continue            # a frozen broker does not police its clients
                    LOG.info("connection %d: no data from the client for %.1f s, closing",
                             self.number, timeout)
                    self.abort()
                    return
                if not data:
                    return
                self.last_received = time.monotonic()
                try:
                    items = parser.feed(data)
                except FrameError as exc:
                    self.error_and_close("Invalid frame: %s" % exc)
                    return
                for item in items:
                    if item is HEARTBEAT:
                        continue
                    if not self.handle(item):
                        return
        except (ConnectionError, OSError):
            pass

    # -------------------------------------------------------------- commands
    def handle(self, frame: Frame) -> bool:
        """Handle one frame; False ends the read loop."""
        cmd = frame.command
        self.server.tell_frame_observers(self.number, frame)
        if not self.connected:
            if cmd not in ("CONNECT", "STOMP"):
                self.error_and_close("Not connected: the first frame must be CONNECT or STOMP, got %s" % cmd)
                return False
            return self.on_connect(frame)
        if cmd in ("CONNECT", "STOMP"):
            self.error_and_close("Already connected")
            return False
        handler = {
            "SUBSCRIBE": self.on_subscribe,
            "UNSUBSCRIBE": self.on_unsubscribe,
            "DISCONNECT": self.on_disconnect,
            "SEND": self.on_send,
            "ACK": self.on_ack,
            "NACK": self.on_ack,
            "BEGIN": self.on_ack,
            "COMMIT": self.on_ack,
            "ABORT": self.on_ack,
        }.get(cmd)
        if handler is None:
            self.error_and_close("Unknown STOMP action: %s" % cmd)
            return False
        return handler(frame)

    def receipt(self, frame: Frame) -> None:
        if "receipt" in frame.headers:
            self.enqueue(encode_frame("RECEIPT", {"receipt-id": frame.headers["receipt"]}))

    def on_connect(self, frame: Frame) -> bool:
        headers = frame.headers
        offered = [v.strip() for v in headers.get("accept-version", "1.0").split(",")]
        version = next((v for v in SUPPORTED_VERSIONS if v in offered), None)
        if version is None:
            self.error_and_close("Supported protocol versions are %s" % " ".join(reversed(SUPPORTED_VERSIONS)),
                                 extra={"version": ",".join(reversed(SUPPORTED_VERSIONS))})
            return False
        client_hb = _parse_heartbeat(headers.get("heart-beat", "0,0"))
        if client_hb is None:
            self.error_and_close("Invalid heart-beat header: %r" % headers.get("heart-beat", "")[:40])
            return False
        if not self.server.hmc.authenticate_stomp(headers.get("login"), headers.get("passcode")):
            LOG.info("connection %d: login failed", self.number)
            self.error_and_close("login failed", "javax.jms.JMSSecurityException: User name or password is invalid.")
            return False
        client_send, client_receive = client_hb
        if not self.server.heartbeat_ms:      # heart-beats off (a test mode, not the HMC's)
            client_send = client_receive = 0
        # ActiveMQ grants what the client asks: it sends every `client_receive` ms and expects
        # something every `client_send` ms; CONNECTED says so, i.e. the request reversed.
        self.send_interval = client_receive / 1000.0
        self.receive_interval = client_send / 1000.0
        self.version = version
        self.connected = True
        self.enqueue(encode_frame("CONNECTED", {
            "version": version,
            "heart-beat": "%d,%d" % (client_receive, client_send),
            "server": "hmcsim/1.0",
            "session": "ID:hmcsim-%d" % self.number,
        }, escape=False))
        LOG.info("connection %d: connected, STOMP %s, heart-beats send %.1f s / receive %.1f s",
                 self.number, version, self.send_interval, self.receive_interval)
        return True

    def on_subscribe(self, frame: Frame) -> bool:
        """A failed SUBSCRIBE gets an ERROR, and the connection stays open (ActiveMQ)."""
        destination = frame.headers.get("destination", "")
        sub_id = frame.headers.get("id")
        if sub_id is None:
            self.error("SUBSCRIBE frame has no id header", frame=frame)
            return True
        if sub_id in self.subscriptions:
            self.error("Duplicate subscription id %r" % sub_id, frame=frame)
            return True
        topic = destination[len("/topic/"):] if destination.startswith("/topic/") else None
        if not topic or not self.server.hmc.topic_known(topic):
            shown = "topic://" + topic if topic else destination
            text = ("remote addConsumer failed because the specified destination, '%s', "
                    "is not a known or approved topic." % shown)
            LOG.info("connection %d: SUBSCRIBE to unknown topic %s", self.number, shown)
            # The HMC's message header starts with two blanks (zhmcclient issue #770).
            self.error("  " + text, "java.lang.SecurityException: " + text, frame=frame)
            return True
        self.subscriptions[sub_id] = destination
        self.server.add_subscriber(destination, self, sub_id)
        self.receipt(frame)
        for headers, body in self.server.hmc.refresh_notifications(topic):
            self.enqueue(self.server.message_frame(destination, sub_id, headers, body), is_message=True)
        return True

    def on_unsubscribe(self, frame: Frame) -> bool:
        sub_id = frame.headers.get("id")
        if sub_id not in self.subscriptions:
            self.error("No subscription matched.", frame=frame)      # ActiveMQ's text
            return True
        self.server.remove_subscriber(self.subscriptions.pop(sub_id), self, sub_id)
        self.receipt(frame)
        return True

    def on_disconnect(self, frame: Frame) -> bool:
        self.receipt(frame)
        self.close_after_queue()
        return False

    def on_send(self, frame: Frame) -> bool:
        # HMC clients may only consume.
        self.error("User is not authorized to write to: %s" % frame.headers.get("destination", ""),
                   "java.lang.SecurityException: User is not authorized to write to destination.", frame=frame)
        return True

    def on_ack(self, frame: Frame) -> bool:
        self.receipt(frame)
        return True


class StompServer:
    """TLS STOMP endpoint; `publish()` is thread-safe."""

    def __init__(self, hmc: Hmc, ssl_context: ssl.SSLContext, host: str = "127.0.0.1", port: int = 0,
                 heartbeat_ms: int = 5000, connect_timeout: float = 30.0) -> None:
        self.hmc = hmc
        self.ssl_context = ssl_context
        self.host = host
        self.port = port
        self.heartbeat_ms = int(heartbeat_ms)
        self.connect_timeout = connect_timeout
        self.delivery_delay = 0.0
        self.stalled = False
        self._connections: set[_Connection] = set()
        self._subscribers: dict[str, set[tuple[_Connection, str]]] = {}   # destination -> (conn, sub id)
        self._numbers = itertools.count(1)
        self._message_ids = itertools.count(1)
        self._id_prefix = "ID:hmcsim-%d-%d-1:1:1:1:" % (port, int(time.time() * 1000))
        # Set while the server runs: its event loop (in its own thread) and what lives there.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._unstalled: asyncio.Event | None = None
        self._refuse_handle: asyncio.TimerHandle | None = None
        self.frame_observers: list[FrameObserver] = []
        self.flooded = 0
        self._flood_task: asyncio.Task | None = None

    # ------------------------------------------------------------ lifecycle
    def start(self) -> None:
        ready = threading.Event()
        errors: list[Exception] = []

        def run() -> None:
            loop = self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._unstalled = asyncio.Event()
            self._unstalled.set()
            try:
                loop.run_until_complete(self._listen())
            except Exception as exc:   # reported to start()'s caller
                errors.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name="hmcsim-stomp", daemon=True)
        self._thread.start()
        ready.wait(30)
        if errors:
            raise errors[0]

    async def _listen(self) -> None:
        server = self._server = await asyncio.start_server(self._handle, self.host, self.port, ssl=self.ssl_context,
                                                           reuse_address=True, ssl_handshake_timeout=10)
        self.port = server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        loop = self._loop
        if loop is None:
            return

        async def shutdown() -> None:
            self._end_flood()
            if self._server is not None:
                self._server.close()
            for conn in list(self._connections):
                conn.abort()
            # Aborted connections end their tasks by themselves; cancel only stragglers.
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            if tasks:
                pending = (await asyncio.wait(tasks, timeout=2))[1]
                for task in pending:
                    task.cancel()
                if pending:
                    await asyncio.wait(pending, timeout=1)

        try:
            asyncio.run_coroutine_threadsafe(shutdown(), loop).result(5)
        except Exception:   # the loop may already be gone
            LOG.debug("STOMP shutdown coroutine did not complete", exc_info=True)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(5)
        self._loop = None

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise RuntimeError("the STOMP server is not running")
        return self._loop

    def _call(self, func: Callable[[], T]) -> T:
        """Run func in the loop thread and return its result."""
        loop = self._running_loop()

        async def wrapper() -> T:
            return func()
        return asyncio.run_coroutine_threadsafe(wrapper(), loop).result(10)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = _Connection(self, reader, writer, next(self._numbers))
        LOG.debug("connection %d: TLS handshake done, from %s", conn.number, writer.get_extra_info("peername"))
        self._connections.add(conn)
        write_task = asyncio.ensure_future(conn.write_loop())
        try:
            await self._serve(conn, write_task)
        except asyncio.CancelledError:
            # The end of this connection's task (server stop); Python 3.11's stream callback
            # would report a cancelled handler task as an error.
            pass

    async def _serve(self, conn: _Connection, write_task: asyncio.Future[None]) -> None:
        try:
            await conn.read_loop()
            if not conn.close_requested:
                conn.abort()
            else:
                # Let a queued ERROR/RECEIPT go out before the writer closes.
                try:
                    await asyncio.wait_for(asyncio.shield(write_task), 5)
                except asyncio.TimeoutError:
                    conn.abort()
        finally:
            self._connections.discard(conn)
            for sub_id, destination in conn.subscriptions.items():
                self.remove_subscriber(destination, conn, sub_id)
            if not write_task.done():
                write_task.cancel()
            conn.abort()

    def tell_frame_observers(self, connection_number: int, frame: Frame) -> None:
        """What a client sent (heart-beats aside), for tests; the passcode is left out."""
        if not self.frame_observers:
            return
        headers = {k: v for k, v in frame.headers.items() if k != "passcode"}
        for observer in self.frame_observers:
            observer(connection_number, frame.command, headers)

    def _unstalled_event(self) -> asyncio.Event:
        """Set while the server is not stalled (exists while the loop runs)."""
        if self._unstalled is None:
            raise RuntimeError("the STOMP server is not running")
        return self._unstalled

    async def unstalled_event_wait(self) -> None:
        await self._unstalled_event().wait()

    # ------------------------------------------------------------ publishing
    def add_subscriber(self, destination: str, conn: _Connection, sub_id: str) -> None:
        self._subscribers.setdefault(destination, set()).add((conn, sub_id))

    def remove_subscriber(self, destination: str, conn: _Connection, sub_id: str) -> None:
        subscribers = self._subscribers.get(destination)
        if subscribers is not None:
            subscribers.discard((conn, sub_id))
            if not subscribers:
                del self._subscribers[destination]

    def _message_id(self) -> str:
        return self._id_prefix + str(next(self._message_ids))

    def message_frame(self, destination: str, sub_id: str, headers: dict[str, str], body: str,
                      message_id: str | None = None) -> bytes:
        full = {"destination": destination, "subscription": sub_id, "message-id": message_id or self._message_id()}
        full.update(headers)
        return encode_frame("MESSAGE", full, body)

    def publish(self, topic_name: str, headers: dict[str, str], body: str) -> None:
        """Deliver to every subscription of /topic/<topic_name> (non-blocking, ordered)."""
        loop = self._loop
        if loop is None:
            return
        try:
            loop.call_soon_threadsafe(self._deliver, "/topic/" + topic_name, dict(headers), body)
        except RuntimeError:     # the loop closed under us (stop() racing a job timer)
            LOG.debug("STOMP server stopped; notification for %s not delivered", topic_name)

    def _deliver(self, destination: str, headers: dict[str, str], body: str) -> None:
        message_id = self._message_id()      # one per publication, the same for every subscriber
        for conn, sub_id in list(self._subscribers.get(destination, ())):
            if conn.connected:
                conn.enqueue(self.message_frame(destination, sub_id, headers, body, message_id), is_message=True)

    def flood(self, destination: str, headers: dict[str, str], body: str) -> None:
        """Send one notification to every subscriber of `destination` again and again, as fast
        as each connection takes it (TCP flow control), until stop_flood()."""
        def start() -> None:
            self._end_flood()
            self.flooded = 0
            self._flood_task = asyncio.ensure_future(self._flood(destination, dict(headers), body))
        self._call(start)

    def stop_flood(self) -> int:
        """End the flood; returns how many MESSAGE frames it sent."""
        self._call(self._end_flood)
        return self.flooded

    def _end_flood(self) -> None:
        if self._flood_task is not None:
            self._flood_task.cancel()
            self._flood_task = None

    async def _flood(self, destination: str, headers: dict[str, str], body: str) -> None:
        while True:
            while self.stalled:
                await self.unstalled_event_wait()
            targets = [(conn, sub_id) for conn, sub_id in self._subscribers.get(destination, ())
                       if conn.connected and not conn.closing and not conn.close_requested]
            if not targets:
                await asyncio.sleep(0.01)
                continue
            for conn, sub_id in targets:
                conn.writer.write(b"".join(self.message_frame(destination, sub_id, headers, body)
                                           for _frame in range(FLOOD_BURST)))
                self.flooded += FLOOD_BURST
            try:
                await asyncio.gather(*(conn.writer.drain() for conn, _sub_id in targets))
            except (ConnectionError, OSError):
                await asyncio.sleep(0.01)     # the connection's own loops end it

    def drain(self, timeout: float = 2.0) -> None:
        """Wait until every queued frame has been written (e.g. console-shutting-down before a drop)."""
        async def drained() -> None:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if all(c.unwritten <= 0 and _flushed(c.writer.transport) for c in self._connections):
                    return
                await asyncio.sleep(0.01)

        if self._loop is not None and not self.stalled:
            asyncio.run_coroutine_threadsafe(drained(), self._loop).result(timeout + 5)

    # ----------------------------------------------------------------- faults
    def subscription_count(self, destination: str) -> int:
        return self._call(lambda: len(self._subscribers.get(destination, ())))

    def connection_count(self) -> int:
        return self._call(lambda: sum(1 for c in self._connections if c.connected and not c.closing))

    def drop_connections(self) -> int:
        def drop() -> int:
            count = len(self._connections)
            for conn in list(self._connections):
                conn.abort()
            return count
        return self._call(drop)

    def stall(self, on: bool = True) -> None:
        def apply() -> None:
            self.stalled = bool(on)
            if self.stalled:
                self._unstalled_event().clear()
            else:
                self._unstalled_event().set()
        self._call(apply)

    def send_error_frame(self, message: str | None = None, body: str | None = None, close: bool = True) -> int:
        text = message or "hmcsim: injected ERROR frame"

        def send() -> int:
            count = 0
            for conn in list(self._connections):
                if conn.connected and not conn.closing:
                    conn.enqueue(encode_frame("ERROR", {"message": text, "content-type": "text/plain"},
                                              body if body is not None else text))
                    if close:
                        conn.close_after_queue()
                    count += 1
            return count
        return self._call(send)

    def set_delivery_delay(self, seconds: float) -> None:
        self.delivery_delay = float(seconds)

    def refuse(self, seconds: float) -> None:
        """Close the listening socket and every connection; listen again after `seconds`."""
        loop = self._running_loop()

        async def down() -> None:
            if self._refuse_handle is not None:
                self._refuse_handle.cancel()
            if self._server is not None:
                self._server.close()     # closes the listening socket at once
                self._server = None
            for conn in list(self._connections):
                conn.abort()
            self._refuse_handle = loop.call_later(seconds, lambda: asyncio.ensure_future(self._relisten()))
        asyncio.run_coroutine_threadsafe(down(), loop).result(10)

    async def _relisten(self) -> None:
        self._refuse_handle = None
        try:
            await self._listen()
            LOG.info("STOMP port %d accepts connections again", self.port)
        except OSError as exc:
            LOG.error("could not listen on STOMP port %d again: %s", self.port, exc)
