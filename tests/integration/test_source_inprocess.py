"""The source runtime in-process against hmcsim (no rules engine): behaviour that is hard to
provoke through ansible-rulebook: clean-up bounded while the HMC hangs, back-pressure
with a `backlog` status event and nothing lost, sequence-gap status events.

The queue stands in for ansible-rulebook's: size 1 (`put` blocks until the consumer takes
the event) and, like its FilteredQueue, it accepts a list of events.
"""
import asyncio
import socket
import threading
import time

import pytest

from ansible_collections.zhmc.eda.plugins.module_utils.source_options import parse_source_args
from ansible_collections.zhmc.eda.plugins.module_utils.source_runtime import run_source

FAST = {"heartbeat_send_cycle": 1.0, "heartbeat_receive_cycle": 1.0,
        "heartbeat_receive_check": 0.5, "reconnect_sleep_max": 1.0, "connect_timeout": 5}


class RulebookQueue:
    """asyncio.Queue(1) plus a consumer task that takes one event every `delay` seconds."""

    def __init__(self, delay=0.0):
        self.queue = asyncio.Queue(1)
        self.delay = delay
        self.events = []
        self.changed = asyncio.Event()
        self.consumer = asyncio.ensure_future(self._consume())

    async def put(self, data):
        for event in data if isinstance(data, list) else [data]:
            await self.queue.put(event)

    async def _consume(self):
        while True:
            event = await self.queue.get()
            self.events.append(event)
            self.changed.set()
            if self.delay:
                await asyncio.sleep(self.delay)

    async def wait_for(self, predicate, timeout):
        deadline = time.monotonic() + timeout
        while not predicate(self.events):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError("condition not met within %s s; %d events"
                                     % (timeout, len(self.events)))
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), min(remaining, 0.5))
            except asyncio.TimeoutError:
                pass
        return self.events


def options(sim, **extra):
    args = {"hmc_host": sim.host,
            "hmc_auth": {"userid": sim.userid, "password": sim.password, "ca_certs": sim.ca_file},
            "ws_port": sim.ws_port, "stomp_port": sim.stomp_port, "status_events": True,
            "stomp_retry_timeout_config": dict(FAST)}
    args.update(extra)
    return parse_source_args(args)


def states(events):
    return [e["hmc"]["status"]["state"] for e in events if e["hmc"].get("status")]


def os_seqs(events):
    return [e["hmc"]["os_message"]["sequence_number"] for e in events
            if e["hmc"].get("os_message")]


class HangingServer:
    """Listens on a port, accepts connections and never answers (a hung HMC)."""

    def __init__(self, port):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(16)
        self.accepted = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self):
        self.sock.close()
        for conn in self.accepted:
            conn.close()


async def cancel_and_time(task):
    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    return time.monotonic() - started


class FreezableProxy:
    """A TCP proxy to the HMC's WS API that can stop forwarding (sockets stay open): the
    HMC then hangs for the client, on new and on pooled connections alike."""

    def __init__(self, target_port):
        self.target = ("127.0.0.1", target_port)
        self.frozen = threading.Event()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self.conns += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src, dst):
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                return
            if not data:
                return
            while self.frozen.is_set():
                time.sleep(0.05)   # hold the bytes: the peer waits for ever
            try:
                dst.sendall(data)
            except OSError:
                return

    def close(self):
        self.sock.close()
        for conn in self.conns:
            conn.close()


def test_cleanup_is_bounded_while_the_hmc_hangs(fresh_hmcsim):
    """Cancelled while the WS API stops answering (connection open, no reply), the source
    still ends within 2 s (its log-off gives up) and CancelledError propagates."""
    sim = fresh_hmcsim
    proxy = FreezableProxy(sim.ws_port)

    async def scenario():
        queue = RulebookQueue()
        task = asyncio.ensure_future(run_source(
            queue, options(sim, topic_types=["object"], ws_port=proxy.port)))
        await queue.wait_for(lambda evs: "connected" in states(evs), timeout=30)
        proxy.frozen.set()
        try:
            return await cancel_and_time(task)
        finally:
            queue.consumer.cancel()

    try:
        seconds = asyncio.run(scenario())
    finally:
        proxy.frozen.clear()
        proxy.close()
    print("\ncancel -> source ended (HMC hanging): %.2f s" % seconds)
    assert seconds <= 2.0
    # the log-off really was cut short: the source's session is still there
    assert len(sim.session_ids()) == 1


def test_cancel_during_a_hung_logon_is_prompt(fresh_hmcsim):
    sim = fresh_hmcsim
    port = sim.ws_port
    sim.wsapi.stop()
    hanging = HangingServer(port)

    async def scenario():
        queue = RulebookQueue()
        task = asyncio.ensure_future(run_source(queue, options(sim, topic_types=["object"])))
        await asyncio.sleep(1.0)
        assert not task.done()
        seconds = await cancel_and_time(task)
        queue.consumer.cancel()
        return seconds

    try:
        seconds = asyncio.run(scenario())
    finally:
        hanging.close()
    assert seconds <= 2.0


def test_slow_rulebook_gets_backlog_status_and_loses_nothing(fresh_hmcsim):
    """max_pending 5 and a consumer that takes 20 ms per event: the receiver pushes back on
    the broker, the source says so with a backlog status event, every message arrives."""
    sim = fresh_hmcsim

    async def scenario():
        queue = RulebookQueue(delay=0.02)
        task = asyncio.ensure_future(run_source(queue, options(
            sim, os_message_channels=[{"cpc": "CPC1", "partition": "PART1"}], max_pending=5)))
        await queue.wait_for(lambda evs: "connected" in states(evs), timeout=30)
        seqs = []
        for index in range(60):  # 60 notifications (frames), one message each
            seqs += sim.emit_os_messages("CPC1", "PART1", ["burst %d" % index])
        events = await queue.wait_for(lambda evs: len(os_seqs(evs)) >= 60, timeout=60)
        await cancel_and_time(task)
        queue.consumer.cancel()
        return seqs, events

    seqs, events = asyncio.run(scenario())
    assert os_seqs(events) == seqs          # all, in order, once
    backlog = [e["hmc"]["status"] for e in events if e["hmc"].get("status", {}).get("state")
               == "backlog"]
    assert backlog and backlog[0]["count"] >= 1


def test_sequence_gap_status_event(fresh_hmcsim):
    """A session-sequence-nr that skips numbers on the source's own session gives a gap event."""
    sim = fresh_hmcsim

    async def scenario():
        queue = RulebookQueue()
        task = asyncio.ensure_future(run_source(queue, options(sim, topic_types=["object"])))
        events = await queue.wait_for(lambda evs: "connected" in states(evs), timeout=30)
        topic = [t for t in events[0]["hmc"]["status"]["topics"] if t.endswith("obj")][0]
        sim.set_status("CPC1", "PART1", "stopped")      # numbered 1.. by the session
        await queue.wait_for(lambda evs: any(e["hmc"].get("notification_type") == "status-change"
                                             for e in evs), timeout=30)
        headers = {"notification-type": "status-change", "session-sequence-nr": "1000",
                   "object-uri": sim.uri("CPC1", "PART2"), "class": "partition",
                   "name": "PART2"}
        sim.publish_raw(topic, headers, {"change-reports": []})
        events = await queue.wait_for(lambda evs: "gap" in states(evs), timeout=30)
        await cancel_and_time(task)
        queue.consumer.cancel()
        return events

    events = asyncio.run(scenario())
    gap = [e["hmc"]["status"] for e in events if e["hmc"].get("status", {}).get("state") == "gap"][0]
    assert gap["received"] == 1000 and gap["missing"] == 1000 - gap["expected"]


def test_web_services_api_down_does_not_stop_the_stream(fresh_hmcsim):
    """The WS API goes away while the broker stays: a job status lookup fails (the event is
    still emitted, with status_error), the keep-alive fails (logged), and after a broker
    connection loss the source reconnects with its current session."""
    from ansible_collections.zhmc.eda.plugins.module_utils.hmc_client import HMCClient

    sim = fresh_hmcsim
    operator = HMCClient(sim.host, userid=sim.userid, password=sim.password,
                         port=sim.ws_port, verify_cert=sim.ca_file)
    operator.logon()

    async def scenario():
        queue = RulebookQueue()
        task = asyncio.ensure_future(run_source(queue, options(
            sim, topic_types=["object"], topics=[operator.job_topic],
            os_message_channels=[{"cpc": "CPC1", "partition": "PART1"}],
            keepalive_interval=1)))
        await queue.wait_for(lambda evs: "connected" in states(evs), timeout=30)
        sim.wsapi.stop()
        await asyncio.sleep(2.5)          # keep-alives fail meanwhile
        sim.publish_raw(operator.job_topic, {"notification-type": "job-completion",
                                             "job-uri": "/api/jobs/0123"}, None)
        sim.emit_os_messages("CPC1", "PART1", ["while the WS API is down"])
        await queue.wait_for(lambda evs: len(os_seqs(evs)) >= 1 and [
            e for e in evs if e["hmc"].get("notification_type") == "job-completion"], timeout=30)
        sim.drop_stomp_connections()
        await queue.wait_for(lambda evs: "reconnected" in states(evs), timeout=30)
        sim.emit_os_messages("CPC1", "PART1", ["after the reconnect"])
        events = await queue.wait_for(lambda evs: len(os_seqs(evs)) >= 2, timeout=30)
        assert not task.done()
        await cancel_and_time(task)
        queue.consumer.cancel()
        return events

    events = asyncio.run(scenario())
    texts = [e["hmc"]["os_message"]["text"] for e in events if e["hmc"].get("os_message")]
    assert texts == ["while the WS API is down", "after the reconnect"]
    job = [e["hmc"]["job"] for e in events if e["hmc"].get("notification_type") == "job-completion"]
    assert job[0]["uri"] == "/api/jobs/0123" and job[0]["status_error"]
    assert "status" not in job[0]


def test_unsplit_os_messages_refresh_replay_is_not_emitted_again(fresh_hmcsim):
    """split_os_messages false: one event per notification; after a reconnect the refresh
    replay (all old messages) is dropped, a notification with a new message is emitted."""
    sim = fresh_hmcsim

    async def scenario():
        queue = RulebookQueue()
        task = asyncio.ensure_future(run_source(queue, options(
            sim, os_message_channels=[{"cpc": "CPC1", "partition": "PART1"}],
            split_os_messages=False)))
        await queue.wait_for(lambda evs: "connected" in states(evs), timeout=30)
        first = sim.emit_os_messages("CPC1", "PART1", ["one", "two"])
        await queue.wait_for(lambda evs: any(e["hmc"].get("os_messages") for e in evs), timeout=30)
        sim.drop_stomp_connections()
        await queue.wait_for(lambda evs: "reconnected" in states(evs), timeout=30)
        second = sim.emit_os_messages("CPC1", "PART1", ["three"])
        await queue.wait_for(lambda evs: len([e for e in evs if e["hmc"].get("os_messages")]) >= 2,
                             timeout=30)
        await asyncio.sleep(1.0)   # a replayed duplicate would arrive by now
        events = list(queue.events)
        await cancel_and_time(task)
        queue.consumer.cancel()
        return first, second, events

    first, second, events = asyncio.run(scenario())
    batches = [[m["sequence_number"] for m in e["hmc"]["os_messages"]]
               for e in events if e["hmc"].get("os_messages")]
    assert batches == [first, second]
