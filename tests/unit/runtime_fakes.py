"""Fakes for driving the source runtime without sockets: an HMC, a broker, a clock, a queue.

They keep to the interfaces the runtime's parts declare (session_keeper.HmcClientLike,
stream.ReceiverLike, aio.Clock, emitter.QueueLike) and record every call, so tests can
assert what the runtime asked for as well as what it emitted.
"""
from __future__ import annotations

import asyncio
import collections
import json
import re
import threading
from typing import Any, Callable, Deque, Dict, List, Optional, Tuple

from ansible_collections.zhmc.eda.plugins.module_utils.hmc_client import (
    HMCAuthError, HMCConnectionError, HMCError)
from ansible_collections.zhmc.eda.plugins.module_utils.notification_errors import (
    NotificationConnectionError, NotificationJMSError, NotificationLoginError)

PARTITIONS = {"PART1": "p1", "PART2": "p2"}
CPC = "CPC1"
CPC_URI = "/api/cpcs/c1"


def partition_uri(name: str) -> str:
    return "/api/partitions/" + PARTITIONS.get(name, name.lower())


class FakeHmc:
    """An HMC with one DPM CPC, sessions, topics, channels, OS messages and jobs."""

    def __init__(self) -> None:
        self.host: Optional[str] = None
        self.session_id: Optional[str] = None
        self.session_credential: Optional[str] = None
        self.object_topic: Optional[str] = None
        self.job_topic: Optional[str] = None
        self.relogon_count = 0
        self.sessions = 0
        self.down = False                 # the WS API refuses connections
        self.session_valid = False
        self.calls: List[Tuple[str, tuple]] = []
        self.channels: Dict[str, str] = {}  # object uri -> topic, in the current session
        self.os_messages: Dict[str, List[dict]] = collections.defaultdict(list)
        self.job_gate: Optional[threading.Event] = None  # query_job_status waits on it
        self.can_relogon = True           # the client has a password to log on again with
        self.statuses: Dict[str, str] = {name: "active" for name in PARTITIONS}
        self.name = "HMC1"
        # redundant HMCs: each names itself and numbers OS messages its own way
        self.hosts = ["hmc.example.com"]
        self.dead: set = set()

    # ---- the session
    def _call(self, name: str, *args: Any) -> None:
        self.calls.append((name, args))
        if self.down or (self.host in self.dead and name != "logon"):
            raise HMCConnectionError("HMC fake: connection refused", host="hmc", port=6794)

    def _new_session(self, host: Optional[str] = None) -> None:
        self.sessions += 1
        n = self.sessions
        self.host = host or self.host or self.hosts[0]
        self.name = "HMC%d" % (self.hosts.index(self.host) + 1)
        self.session_id, self.session_credential = "sid-%d" % n, "cred-%d" % n
        self.object_topic, self.job_topic = "obj.%d" % n, "job.%d" % n
        self.session_valid = True
        self.channels = {}

    def _session(self) -> None:
        """The session check every request makes: 403.5 renews it (the client has a password)."""
        if not self.session_valid:
            if not self.can_relogon:
                raise HMCAuthError(403, 5, "the session is not valid", "GET", "/api/x")
            self.relogon_count += 1
            self._new_session()

    def logon(self, avoid: Optional[str] = None) -> str:
        self._call("logon")
        order = [self.host] if self.host else []
        order += [h for h in self.hosts if h not in order]
        if avoid in order:
            order.remove(avoid)
            order.append(avoid)
        alive = [h for h in order if h not in self.dead]
        if not alive:
            raise HMCConnectionError("HMC fake: no HMC answers", host="hmc", port=6794)
        self._new_session(alive[0])
        return self.session_id or ""

    def seq_offset(self) -> int:
        """Each HMC numbers the same OS messages its own way."""
        return 1000 * self.hosts.index(self.host or self.hosts[0])

    def query_api_version(self) -> dict:
        self._call("query_api_version")
        return {"api-major-version": 4, "api-minor-version": 40, "hmc-name": self.name}

    def logoff(self, force: bool = False) -> None:
        self.calls.append(("logoff", ()))
        self.session_valid = False
        self.session_id = self.session_credential = None

    def expire(self) -> None:
        """The HMC forgets the session (expiry, restart): topics and channels are gone."""
        self.session_valid = False
        self.channels = {}

    def get_notification_topics(self) -> List[dict]:
        self._call("get_notification_topics")
        self._session()
        topics = [{"topic-name": self.object_topic, "topic-type": "object-notification"},
                  {"topic-name": self.job_topic, "topic-type": "job-notification"}]
        topics += [{"topic-name": t, "topic-type": "os-message-notification", "object-uri": u}
                   for u, t in self.channels.items()]
        return topics

    # ---- objects and channels
    def list_cpcs(self, name: Optional[str] = None) -> List[dict]:
        self._call("list_cpcs")
        self._session()
        return [{"object-uri": CPC_URI, "name": CPC}]

    def find_cpcs(self, regex: str) -> List[dict]:
        self._call("find_cpcs", regex)
        return [c for c in self.list_cpcs() if re.fullmatch(regex, c["name"])]

    def find_partitions(self, cpc: str, name: str) -> List[dict]:
        self._call("find_partitions", cpc, name)
        self._session()
        if not re.fullmatch(cpc, CPC):
            return []
        return [{"uri": partition_uri(p), "name": p, "class": "partition", "cpc_name": CPC,
                 "cpc_uri": CPC_URI, "status": status}
                for p, status in sorted(self.statuses.items()) if re.fullmatch(name, p)]

    def get_properties(self, uri: str, properties: Optional[List[str]] = None) -> dict:
        self._call("get_properties", uri)
        self._session()
        for name, status in self.statuses.items():
            if partition_uri(name) == uri:
                return {"name": name, "status": status, "parent": CPC_URI, "class": "partition"}
        raise HMCError(404, 1, "no such object", "GET", uri)

    def find_os_objects(self, cpc: str, partition_regex: Optional[str] = None,
                        lpar_regex: Optional[str] = None) -> List[dict]:
        return self.find_partitions(cpc, partition_regex or ".*")

    def find_lpars(self, cpc: str, name: str) -> List[dict]:
        self._call("find_lpars", cpc, name)
        return []

    def open_os_message_channel(self, uri: str, include_refresh: bool = True
                                ) -> Tuple[Optional[str], str]:
        self._call("open_os_message_channel", uri)
        self._session()
        status = next((s for n, s in self.statuses.items() if partition_uri(n) == uri), None)
        if status != "active":
            return None, "unsupported"  # 409 reason 332: the partition is not active
        if uri in self.channels:
            return self.channels[uri], "existing"
        self.channels[uri] = "os.%d.%s" % (self.sessions, uri.rsplit("/", 1)[-1])
        return self.channels[uri], "opened"

    def list_os_messages(self, uri: str, begin: Optional[int] = None,
                         end: Optional[int] = None) -> List[dict]:
        self._call("list_os_messages", uri, begin)
        self._session()
        offset = self.seq_offset()
        numbered = [dict(m, **{"sequence-number": m["sequence-number"] + offset})
                    for m in self.os_messages[uri]]
        return [m for m in numbered if begin is None or m["sequence-number"] >= begin]

    def add_os_message(self, uri: str, seq: int, text: str) -> dict:
        message = {"sequence-number": seq, "message-text": text, "timestamp": 1000 + seq,
                   "is-held": False, "is-priority": False}
        self.os_messages[uri].append(message)
        return message

    def query_job_status(self, uri: str) -> dict:
        self._call("query_job_status", uri)
        if self.job_gate is not None:
            self.job_gate.wait(30)
        return {"status": "complete", "job-status-code": 204, "job-reason-code": None,
                "job-results": None}


class FakeReceiver:
    """One STOMP connection of the fake broker."""

    def __init__(self, broker: "FakeBroker", topics: List[str], host: str, userid: str,
                 password: str, **settings: Any) -> None:
        self.broker = broker
        self.topics = list(topics)
        self.host, self.userid, self.password = host, userid, password
        self.settings = settings
        self.connected = False
        self.closed = False
        self.lost: Optional[str] = None
        self.items: Deque[Any] = collections.deque()
        self.wakeup: Optional[Callable[[], None]] = None
        self.backpressure_count = 0
        self.backpressure_seconds = 0.0
        self.ops: List[Tuple[str, str]] = []

    def set_wakeup(self, callback: Optional[Callable[[], None]]) -> None:
        self.wakeup = callback

    def connect(self) -> None:
        broker = self.broker
        if broker.down or (broker.hmc is not None and self.host in broker.hmc.dead):
            raise NotificationConnectionError("Cannot connect to the STOMP broker: refused")
        if not broker.accepts(self.userid, self.password):
            raise NotificationLoginError("Cannot connect to the STOMP broker: login failed")
        self.connected = True

    def _wake(self) -> None:
        if self.wakeup is not None:
            self.wakeup()

    def deliver(self, item: Any) -> None:
        self.items.append(item)
        self._wake()

    def lose(self, reason: str = "the broker closed the connection") -> None:
        self.lost = reason
        self._wake()

    def poll(self, timeout: float = 0.0, max_items: Optional[int] = None) -> List[Any]:
        out: List[Any] = []
        while self.items and (max_items is None or len(out) < max_items):
            if isinstance(self.items[0], Exception):
                if out:
                    break
                raise self.items.popleft()
            out.append(self.items.popleft())
        if not out and self.lost:
            raise NotificationConnectionError("Lost the STOMP connection: %s" % self.lost)
        return out

    def subscribe(self, topic: str) -> str:
        self.ops.append(("subscribe", topic))
        self.topics.append(topic)
        return topic

    def unsubscribe(self, topic: str) -> None:
        self.ops.append(("unsubscribe", topic))
        self.topics.remove(topic)

    def close(self) -> None:
        self.closed = True


class FakeBroker:
    """Hands out receivers; publishes to the live one when it subscribed the topic."""

    def __init__(self, hmc: Optional[FakeHmc] = None, userid: str = "user",
                 password: str = "secret") -> None:
        self.hmc = hmc
        self.userid, self.password = userid, password
        self.down = False
        self.receivers: List[FakeReceiver] = []

    def accepts(self, userid: str, password: str) -> bool:
        if self.hmc is not None:  # the HMC's broker takes the live session's credentials
            hmc = self.hmc
            return hmc.session_valid and (userid, password) == (hmc.session_id,
                                                                 hmc.session_credential)
        return (userid, password) == (self.userid, self.password)

    def __call__(self, topics: List[str], host: str, userid: str, password: str,
                 **settings: Any) -> FakeReceiver:
        receiver = FakeReceiver(self, topics, host, userid, password, **settings)
        self.receivers.append(receiver)
        return receiver

    @property
    def live(self) -> FakeReceiver:
        receiver = self.receivers[-1]
        assert receiver.connected and not receiver.closed
        return receiver

    def publish(self, topic: str, headers: dict, body: Any) -> bool:
        """To the live receiver if it subscribed ``topic``; True if delivered."""
        receiver = self.receivers[-1] if self.receivers else None
        if receiver is None or not receiver.connected or receiver.closed \
                or topic not in receiver.topics:
            return False
        full = dict(headers, destination="/topic/" + topic)
        receiver.deliver((full, json.dumps(body) if body is not None else ""))
        return True

    def publish_os_message(self, hmc: FakeHmc, partition: str, seq: int, text: str) -> bool:
        uri = partition_uri(partition)
        message = hmc.add_os_message(uri, seq, text)
        topic = hmc.channels.get(uri)
        if topic is None:
            return False
        numbered = dict(message, **{"sequence-number": seq + hmc.seq_offset()})
        return self.publish(topic, {"notification-type": "os-message", "object-uri": uri,
                                    "class": "partition", "name": partition},
                            {"os-messages": [numbered]})

    def object_change(self, hmc: FakeHmc, partition: str, notification_type: str,
                      **extra: Any) -> bool:
        """A status-change (``status=``) or inventory-change (``action=``) on the object topic."""
        headers = {"notification-type": notification_type, "object-uri": partition_uri(partition),
                   "class": "partition", "name": partition}
        body = None
        if notification_type == "status-change":
            old = hmc.statuses.get(partition)
            hmc.statuses[partition] = extra["status"]
            body = {"change-reports": [{"old-status": old, "new-status": extra["status"]}]}
        else:
            headers["action"] = extra["action"]
            if extra["action"] == "add":
                hmc.statuses[partition] = extra.get("status", "active")
            else:
                hmc.statuses.pop(partition, None)
        return self.publish(hmc.object_topic or "", headers, body)

    def error_frame(self, message: str) -> None:
        self.live.deliver(NotificationJMSError.from_frame(message, {"message": message}, ""))


class FakeClock:
    """Time that moves only when the runtime sleeps: back-off sleeps end at once (time
    advances by their length); sleeps of ``gate`` seconds or more (keep-alive, resync) wait
    until the test calls ``open_gate(seconds)`` for that length."""

    def __init__(self, gate: float = 1000.0) -> None:
        self.now = 1000.0
        self.gate = gate
        self.sleeps: List[float] = []
        self._gates: Dict[float, asyncio.Event] = {}

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if seconds >= self.gate:
            gate = self._gates.setdefault(seconds, asyncio.Event())
            await gate.wait()
            gate.clear()
        self.now += seconds
        await asyncio.sleep(0)

    def open_gate(self, seconds: float) -> None:
        """Let one sleep of ``seconds`` end (e.g. the keep-alive interval)."""
        self._gates.setdefault(seconds, asyncio.Event()).set()


class RecordingQueue:
    """ansible-rulebook's queue: records every put; each put must be one dict."""

    def __init__(self) -> None:
        self.events: List[dict] = []
        self._changed = asyncio.Event()
        self.blocked: Optional[asyncio.Event] = None  # when set: put waits on it

    async def put(self, event: Any) -> None:
        assert isinstance(event, dict), "one dict per put (ansible-rulebook 1.1)"
        if self.blocked is not None:
            await self.blocked.wait()
        self.events.append(event)
        self._changed.set()

    async def wait_for(self, predicate: Callable[[List[dict]], bool], timeout: float = 5.0
                       ) -> List[dict]:
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while not predicate(self.events):
            left = end - loop.time()
            if left <= 0:
                raise AssertionError("not seen within %s s; events: %s" % (
                    timeout, [summary(e) for e in self.events]))
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), min(left, 0.05))
            except asyncio.TimeoutError:
                pass
        return self.events


def summary(event: dict) -> str:
    """A short text of an event for assertion messages."""
    hmc = event.get("hmc", {})
    if hmc.get("status"):
        return "status:%s" % hmc["status"]["state"]
    if hmc.get("os_message"):
        return "os:%s:%s" % (hmc["object"].get("name"), hmc["os_message"]["sequence_number"])
    return str(hmc.get("notification_type"))


def states(events: List[dict]) -> List[str]:
    return [e["hmc"]["status"]["state"] for e in events if e["hmc"].get("status")]


def os_seqs(events: List[dict], name: Optional[str] = None) -> List[int]:
    return [e["hmc"]["os_message"]["sequence_number"] for e in events
            if e["hmc"].get("os_message") and (name is None or e["hmc"]["object"]["name"] == name)]
