"""SIGTERM always wins (issue 16): ansible-rulebook with the source, on the installed tarball,
stops within 5 s with exit code 0 while hmcsim floods it, and says goodbye on the way out.

Two load shapes, SIGTERM mid-stream (after the flood's first notification went through the
rules, which match nothing else):

- ``repeat``: one OS-message notification (same object, same sequence number) again and
  again, as fast as the source's connection takes it (hmcsim's flood, ~12,000/s here):
  dedupe drops all but the first, so the source is busy and nothing reaches the rules;
- ``distinct``: 200 distinct OS-message notifications per second, one at a time, all emitted.

10 runs per shape with topics only, and one per shape with an HMC session (WS mode), two
runs at a time, each slot with an hmcsim of its own. Every run must exit within
``EXIT_LIMIT`` with code 0; hmcsim, not the log, tells whether the source sent UNSUBSCRIBE
and DISCONNECT on its connection and (WS mode) logged its session off.

With ``asyncio.wait_for`` in the source's idle wait (its code before issue 16), SIGTERM was
lost in 17 of 22 'repeat' runs (two runs of this test) and in 4 of 38 'distinct' runs (none
of them two at a time): Python <= 3.11, bpo-42130; see plugins/module_utils/aio.py.
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import signal
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Optional

import pytest

from ansible_collections.zhmc.eda.plugins.module_utils.hmc_client import HMCClient
from hmcsim import HmcSim
from tests.reliability import harness
from tests.support.rulebook import RulebookRun, RulebookTimeout, write_rulebook

pytestmark = [pytest.mark.jdk, pytest.mark.slow]

RUNS_PER_SHAPE = 10
EXIT_LIMIT = 5.0
DISTINCT_PER_SECOND = 200
# The 'repeat' flood sends at least this many (it runs at what the source reads: ~12,000/s).
REPEAT_MINIMUM = 5000
# How long the flood runs before SIGTERM; varied per run so the signal meets the source in
# different places (polling, shaping, waiting for a wake-up).
FLOOD_SECONDS = (0.6, 0.9, 1.2, 1.5, 0.8)
CPC, PART = "CPC1", "PART1"
FIRST_SEQUENCE = 1000      # the OS-message sequence number of the flood's first notification
PASSWORD_ENV = "ZEDA_SIGTERM_PASSWORD"
CONNECTED_LINE = r"zhmc\.eda\.notifications connected to"
# Fast retries, but the default 5 s heart-beats: a whole machine that stalls (two test suites
# at once on the 2 cores froze ansible-rulebook for 1.3 to 3 s, 2026-12-02: SIGTERM logged
# that late, the rules engine's clock 3 s behind) outlasts hmcsim's 1.5 s window for 1 s
# heart-beats, as it would ActiveMQ's, and the broker drops the connection before the signal
# is even seen; then no goodbye is possible, whatever the source does.
SIGTERM_RETRY_CONFIG = harness.default_heartbeats(harness.FAST_RETRY_CONFIG)
# The longest a run waits for its flood to reach the intended load before the signal.
LOAD_WAIT_SECONDS = 30
EMITTED_LINE = r"zhmc\.eda\.notifications stopped \((\d+) events emitted\)"


# ------------------------------------------------------------------ the broker's side
class FrameLog:
    """Every frame the STOMP clients of one hmcsim sent: (connection number, command, headers)."""

    def __init__(self, sim: HmcSim) -> None:
        self.frames: list[tuple[int, str, dict[str, str]]] = []
        sim.add_frame_observer(lambda number, command, headers:
                               self.frames.append((number, command, headers)))

    def mark(self) -> int:
        return len(self.frames)

    def goodbye(self, since: int, topic: str) -> dict[str, Any]:
        """What the connection that subscribed ``topic`` (after ``since``) sent at its end."""
        frames = self.frames[since:]
        subscribed = [(n, h.get("id")) for n, c, h in frames
                      if c == "SUBSCRIBE" and h.get("destination") == "/topic/" + topic]
        if not subscribed:
            return {"subscribed": False, "unsubscribed": False, "disconnected": False}
        number, sub_id = subscribed[-1]    # the last connection (a reconnect makes a new one)
        own = [(c, h) for n, c, h in frames if n == number]
        commands = [c for c, _h in own]
        unsubscribed = any(c == "UNSUBSCRIBE" and h.get("id") == sub_id for c, h in own)
        return {"subscribed": True, "connections": len(set(n for n, _c, _h in frames)),
                "unsubscribed": unsubscribed,
                "disconnected": bool(commands) and commands[-1] == "DISCONNECT",
                "unsubscribe_before_disconnect": unsubscribed and "DISCONNECT" in commands and
                commands.index("UNSUBSCRIBE") < commands.index("DISCONNECT")}


# ------------------------------------------------------------------ the floods
class Flood:
    """One load shape on one topic, from start() until stop()."""

    def __init__(self, sim: HmcSim, topic: str, shape: str) -> None:
        self.sim, self.topic, self.shape = sim, topic, shape
        self.sent = 0
        self.error: Optional[BaseException] = None
        self._stopping = threading.Event()
        self._thread: Optional[threading.Thread] = None
        uri = sim.uri(CPC, PART)
        self._headers = {"notification-type": "os-message", "object-uri": uri,
                         "object-id": uri.rsplit("/", 1)[-1], "class": "partition",
                         "name": PART, "session-sequence-nr": "1"}

    @staticmethod
    def _body(seq: int) -> str:
        return json.dumps({"os-messages": [{
            "sequence-number": seq, "message-text": "IEA404A SEVERE WARNING %d" % seq,
            "message-id": "0", "timestamp": 1700000000000 + seq, "sound-alarm": False,
            "is-priority": False, "is-held": False, "prompt-text": "", "os-name": "LNX1",
            "is-refresh": False}]})

    def start(self) -> None:
        if self.shape == "repeat":
            # hmcsim writes the same frame as fast as the source's connection takes it
            self.sim.flood(self.topic, self._headers, self._body(FIRST_SEQUENCE))
        else:
            self._thread = threading.Thread(target=self._paced, name="flood", daemon=True)
            self._thread.start()

    def _paced(self) -> None:
        """One at a time, on schedule (each one wakes the source up on its own)."""
        start = time.monotonic()
        try:
            while not self._stopping.is_set():
                self.sim.publish_raw(self.topic, self._headers,
                                     self._body(FIRST_SEQUENCE + self.sent))
                self.sent += 1
                due = start + self.sent / DISTINCT_PER_SECOND
                self._stopping.wait(max(0.0, due - time.monotonic()))
        except BaseException as exc:  # reported by the test
            self.error = exc

    def sent_so_far(self) -> int:
        return self.sim.flooded() if self.shape == "repeat" else self.sent

    def stop(self) -> int:
        """End the flood (again: no-op); returns how many notifications it sent."""
        if self._stopping.is_set():
            return self.sent
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(10)
        else:
            self.sent = self.sim.stop_flood()
        return self.sent


# ------------------------------------------------------------------ one slot, one run
@dataclasses.dataclass
class Slot:
    """An hmcsim of its own, its frame log, and PART1's OS-message channel opened by an
    operator session (the topic the topics-only source subscribes)."""

    sim: HmcSim
    state_dir: str
    frames: FrameLog
    operator: HMCClient
    topic: str

    @classmethod
    def start(cls) -> "Slot":
        state_dir = tempfile.mkdtemp(prefix="hmcsim-term-", dir="/tmp")
        # No PublicationInvariants observer (fixtures_hmcsim): the repeated notification
        # breaks the HMC's rising sequence numbers on purpose.
        sim = HmcSim(state_dir, heartbeat_ms=1000, job_delay=0.2).start()
        frames = FrameLog(sim)
        operator = HMCClient(sim.host, userid=sim.userid, password=sim.password,
                             port=sim.ws_port, verify_cert=sim.ca_file)
        operator.logon()
        topic, _status = operator.open_os_message_channel(sim.uri(CPC, PART))
        return cls(sim, state_dir, frames, operator, topic)

    def stop(self) -> None:
        try:
            self.operator.logoff()
        finally:
            self.sim.stop()
            shutil.rmtree(self.state_dir, ignore_errors=True)


@dataclasses.dataclass(frozen=True)
class Case:
    shape: str          # "repeat" or "distinct"
    mode: str           # "topics" (topics only) or "ws" (with an HMC session)
    number: int
    flood_seconds: float


@dataclasses.dataclass
class Outcome:
    case: Case
    code: Optional[int] = None          # None: still running at the limit (then killed)
    seconds: float = float("inf")        # SIGTERM -> process exit
    sent_at_signal: int = 0              # notifications the flood sent before SIGTERM
    sent: int = 0                        # ... and until the process was gone
    emitted: Optional[int] = None        # the source's own count, from its last log line
    goodbye: dict = dataclasses.field(default_factory=dict)
    sessions_opened: int = 0             # HMC sessions the source logged on with
    sessions_left: int = 0               # the source's HMC sessions still logged on
    connections_left: int = 0            # STOMP connections still open after the exit
    error: str = ""
    after_signal: list = dataclasses.field(default_factory=list)   # output lines, timed

    def describe(self) -> str:
        text = "%s/%s #%d (flood %.1f s, sent %d before SIGTERM, %d in all, %s emitted): " \
               "exit %s after %.2f s; %s; HMC sessions opened %d, left %d; STOMP connections " \
               "left %d" % (
                   self.case.shape, self.case.mode, self.case.number, self.case.flood_seconds,
                   self.sent_at_signal, self.sent, self.emitted, self.code, self.seconds, self.goodbye,
                   self.sessions_opened, self.sessions_left, self.connections_left)
        return text + (" ERROR " + self.error if self.error else "")

    def details(self) -> str:
        """describe() and ansible-rulebook's output after SIGTERM, for a failure message."""
        return self.describe() + "\n    " + "\n    ".join(self.after_signal[-30:])


def _source_args(slot: Slot, mode: str) -> dict:
    sim = slot.sim
    args: dict[str, Any] = {
        "hmc_host": sim.host, "ws_port": sim.ws_port, "stomp_port": sim.stomp_port,
        "hmc_auth": {"userid": sim.userid, "password": "{{ %s }}" % PASSWORD_ENV,
                     "ca_certs": sim.ca_file},
        "stomp_retry_timeout_config": SIGTERM_RETRY_CONFIG,
    }
    if mode == "topics":
        args["topics"] = [slot.topic]
    else:
        args["os_message_channels"] = [{"cpc": CPC, "partition": PART}]
    return args


def _rulebook(source_args: dict) -> list:
    return [{
        "name": "SIGTERM under load", "hosts": "all", "gather_facts": False,
        "sources": [{"name": "hmc", "zhmc.eda.notifications": source_args}],
        # Only the flood's first notification matches (the test waits for it); the rest go
        # into the rules engine and no further.
        "rules": [{"name": "the flood has begun",
                   "condition": "event.hmc.os_message.sequence_number == %d" % FIRST_SEQUENCE,
                   "action": {"print_event": {}}}],
    }]


def least_sent_before_signal(case: Case) -> int:
    """The load a run must be under when SIGTERM comes."""
    if case.shape == "repeat":
        return REPEAT_MINIMUM
    return int(DISTINCT_PER_SECOND * case.flood_seconds)


def _channel_topics(sim: HmcSim) -> set:
    return {channel["topic-name"] for channel in sim.open_channels()}


def _wait_until(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def run_case(slot: Slot, case: Case, collections_path: str) -> Outcome:
    """One ansible-rulebook launch: connect, flood, SIGTERM, then ask hmcsim what it saw."""
    sim, outcome = slot.sim, Outcome(case)
    workdir = tempfile.mkdtemp(prefix="zeda-term-", dir="/tmp")
    mark = slot.frames.mark()
    sessions_before, channels_before = set(sim.session_ids()), _channel_topics(sim)
    run = RulebookRun(write_rulebook(workdir, _rulebook(_source_args(slot, case.mode))),
                      workdir, collections_path, variables={},
                      env_vars={PASSWORD_ENV: sim.password})
    flood = None
    try:
        with run:
            run.wait_for(CONNECTED_LINE, timeout=120)
            topic = slot.topic
            if case.mode == "ws":
                (topic,) = _channel_topics(sim) - channels_before    # the source's own channel
            flood_line = len(run.lines)
            outcome.sessions_opened = len(set(sim.session_ids()) - sessions_before)
            flood = Flood(sim, topic, case.shape)
            flood.start()
            # mid-stream: the flood's first notification went through the source and the rules
            run.wait_for_events(lambda events: events, timeout=60, start=flood_line)
            time.sleep(case.flood_seconds)
            # On a starved machine hmcsim's flood falls behind its schedule: the signal waits
            # for the intended load (checked by test_the_load_was_on_when_sigterm_came).
            _wait_until(lambda: flood.sent_so_far() >= least_sent_before_signal(case), LOAD_WAIT_SECONDS)
            mark_line, signalled = len(run.lines), time.monotonic()
            outcome.sent_at_signal = flood.sent_so_far()
            try:
                outcome.code, outcome.seconds = run.terminate(timeout=EXIT_LIMIT + 5)
            except RulebookTimeout:
                os.killpg(run.proc.pid, signal.SIGKILL)    # hung: the outcome says so
            outcome.sent = flood.stop()
            outcome.after_signal = ["%.3f %s" % (t - signalled, line[:200]) for t, line in
                                    zip(run.line_times[mark_line:], run.lines[mark_line:], strict=False)]
            emitted = re.findall(EMITTED_LINE, run.output)
            outcome.emitted = int(emitted[-1]) if emitted else None
        outcome.goodbye = slot.frames.goodbye(mark, topic)
        _wait_until(lambda: sim.stomp_connection_count() == 0, 2.0)
        outcome.connections_left = sim.stomp_connection_count()
        outcome.sessions_left = len(set(sim.session_ids()) - sessions_before)
        if flood.error is not None:
            outcome.error = "flood: %r" % (flood.error,)
    except Exception as exc:  # reported per run; the tests fail on it
        outcome.error = "%s: %s" % (type(exc).__name__, str(exc)[-2000:])
    finally:
        if flood is not None:
            flood.stop()
        for session_id in set(sim.session_ids()) - sessions_before:
            sim.expire_session(session_id)   # a hung run's session must not leak into the next
        shutil.rmtree(workdir, ignore_errors=True)
    return outcome


def _cases() -> list:
    cases = []
    for shape in ("repeat", "distinct"):
        for number in range(RUNS_PER_SHAPE):
            cases.append(Case(shape, "topics", number, FLOOD_SECONDS[number % len(FLOOD_SECONDS)]))
        cases.append(Case(shape, "ws", 0, FLOOD_SECONDS[0]))
    return cases


@pytest.fixture(scope="module")
def sigterm_runs(collections_path):
    """Every case, two at a time (one hmcsim per slot); returns the outcomes in case order."""
    started = time.monotonic()
    cases = _cases()
    slots: list = []
    try:
        slots = [Slot.start(), Slot.start()]

        def run_slot(index: int) -> list:
            return [run_case(slots[index], case, collections_path) for case in cases[index::2]]

        with ThreadPoolExecutor(2) as pool:
            outcomes = [o for per_slot in pool.map(run_slot, range(2)) for o in per_slot]
    finally:
        for slot in slots:
            slot.stop()
    outcomes.sort(key=lambda o: cases.index(o.case))
    harness.report("sigterm_under_load", runs=len(outcomes),
                   wall_seconds=time.monotonic() - started)
    for shape in ("repeat", "distinct"):
        harness.report("sigterm_exit[%s]" % shape, **_figures(outcomes, shape))
    for outcome in outcomes:
        print(outcome.describe())
    return outcomes


def _figures(outcomes: list, shape: str) -> dict:
    seconds = [o.seconds for o in outcomes if o.case.shape == shape]
    return {"runs": len(seconds), "median_exit_s": statistics.median(seconds),
            "max_exit_s": max(seconds),
            "hung": sum(1 for o in outcomes if o.case.shape == shape and o.code is None)}


def _failures(outcomes: list, ok: Callable[[Outcome], bool]) -> str:
    failed = [o for o in outcomes if not ok(o)]
    return "%d of %d runs:\n%s" % (len(failed), len(outcomes),
                                   "\n".join(o.details() for o in failed)) if failed else ""


# ------------------------------------------------------------------ the tests
def test_every_run_exits_within_5s_with_code_0(sigterm_runs):
    problem = _failures(sigterm_runs, lambda o: not o.error and o.code == 0
                        and o.seconds <= EXIT_LIMIT)
    assert not problem, "not ended within %.0f s of SIGTERM with exit code 0 in %s" % (
        EXIT_LIMIT, problem)


def test_the_load_was_on_when_sigterm_came(sigterm_runs):
    """The floods ran until the exit: 'repeat' kept the source busy with duplicates (thousands
    a second, one event emitted), 'distinct' published 200 notifications a second and they
    went on through the rules after the first. How many of them the rules engine had taken by
    the signal is its rate on the machine, not the load: on a busy machine (load 4.8 on the 2
    cores, 2026-12-02) it took 29 of 203 in 1.1 s and the source held the rest, which is
    load too; so more than the first is asked for, not a share."""
    def loaded(o: Outcome) -> bool:
        case = o.case
        if o.sent_at_signal < least_sent_before_signal(case):
            return False
        if case.shape == "repeat":
            return case.mode == "ws" or o.emitted == 1
        return case.mode == "ws" or (o.emitted or 0) >= 2

    problem = _failures(sigterm_runs, loaded)
    assert not problem, "the load was not as intended in " + problem


def test_every_run_disconnects_and_logs_off(sigterm_runs):
    """From hmcsim's side: DISCONNECT was the last frame of the source's connection, no
    connection is left open; with an HMC session the source's own session is logged off
    (topics only: it never logged on)."""
    problem = _failures(sigterm_runs, lambda o: bool(o.goodbye.get("disconnected"))
                        and o.connections_left == 0 and o.sessions_left == 0
                        and o.sessions_opened == (1 if o.case.mode == "ws" else 0))
    assert not problem, "no clean goodbye in " + problem


def test_every_run_unsubscribes_before_disconnecting(sigterm_runs):
    problem = _failures(sigterm_runs, lambda o: bool(o.goodbye.get("unsubscribe_before_disconnect")))
    assert not problem, "no UNSUBSCRIBE before DISCONNECT in " + problem
