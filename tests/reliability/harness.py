"""Reliability harness: the source run in-process with ansible-rulebook's queue semantics.

`InProcessSource(args)` loads the `zhmc.eda.notifications` plugin file (from the collection
under test) and runs its `main(queue, args)` on an asyncio loop in a background thread, with
an `asyncio.Queue(maxsize=1)` and one consumer coroutine, which is what ansible-rulebook
does. The consumer can be slowed down (a slow rulebook action). Every event is recorded with
its arrival time; every log record of the source, stomp.py, requests/urllib3 and hmcsim is
captured at DEBUG so that tests can scan them for secrets.

`report(name, **figures)` prints the one line each reliability test owes the reader
("what was lost, duplicated, how long recovery took").
"""
import asyncio
import collections
import importlib.util
import json
import logging
import os
import threading
import time

from tests.support import paths

# Fast retries and 1 s heart-beats so that recovery paths run in seconds, not minutes.
FAST_RETRY_CONFIG = {
    "connect_timeout": 5,
    "connect_retries": 3,
    "reconnect_sleep_initial": 0.1,
    "reconnect_sleep_increase": 0.5,
    "reconnect_sleep_max": 1.0,
    "reconnect_sleep_jitter": 0.1,
    "heartbeat_send_cycle": 1.0,
    "heartbeat_receive_cycle": 1.0,
    "heartbeat_receive_check": 0.5,
}


def default_heartbeats(config):
    """A retry/timeout config with its heart-beat keys left out (the source's 5 s defaults): a
    machine that stalls for a second or two must not cost the connection in tests that are
    not about heart-beats (tests/reliability/test_sigterm_under_load.py says what was seen)."""
    return {key: value for key, value in config.items() if not key.startswith("heartbeat_")}


TEST_ID_HEADER = "zeda-test-id"
CAPTURED_LOGGERS = ("zhmc.eda", "zhmc.eda.receiver.frames", "stomp.py", "stomp", "urllib3", "requests",
                    "hmcsim")


REPORT_LINES = []


def report(test_name, **figures):
    """Print the reliability line for a test; conftest.py repeats all of them in pytest's
    terminal summary, so `make test` shows them without -s."""
    parts = ["%s=%s" % (key, _fmt(value)) for key, value in figures.items()]
    line = "RELIABILITY %s: %s" % (test_name, " ".join(parts))
    print(line, flush=True)
    REPORT_LINES.append(line)
    return line


def _fmt(value):
    if isinstance(value, float):
        return "%.2f" % value
    return str(value)


# ---------------------------------------------------------------------------------------
# log capture


class LogCapture(logging.Handler):
    """Collects every formatted log record (message and traceback) of the watched loggers."""

    def __init__(self, levels=None):
        super().__init__(level=logging.DEBUG)
        self.records = []
        self._lock_records = threading.Lock()
        self._saved = {}
        self.levels = levels or {name: logging.DEBUG for name in CAPTURED_LOGGERS}
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))

    def emit(self, record):
        try:
            text = self.format(record)
        except Exception as exc:  # a broken log call must be visible, not lost
            text = "LOG FORMAT ERROR in %s: %r %r" % (record.name, record.msg, exc)
        with self._lock_records:
            self.records.append((record.levelno, record.name, text))

    def install(self):
        root = logging.getLogger()
        root.addHandler(self)
        for name, level in self.levels.items():
            logger = logging.getLogger(name)
            self._saved[name] = logger.level
            logger.setLevel(level)
        return self

    def uninstall(self):
        logging.getLogger().removeHandler(self)
        for name, level in self._saved.items():
            logging.getLogger(name).setLevel(level)

    def texts(self):
        with self._lock_records:
            return [text for _level, _name, text in self.records]

    def matching(self, needle, min_level=logging.DEBUG):
        with self._lock_records:
            return [text for level, _name, text in self.records if level >= min_level and needle in text]


# ---------------------------------------------------------------------------------------
# secrets


def find_secrets(texts, secrets):
    """Return [(secret label, excerpt)] for every secret found in any of `texts`."""
    hits = []
    named = [(label, value) for label, value in secrets.items() if value]
    for text in texts:
        for label, value in named:
            index = text.find(value)
            if index >= 0:
                start = max(0, index - 60)
                excerpt = text[start:index] + "<%s>" % label + text[index + len(value):index + len(value) + 60]
                hits.append((label, excerpt))
    return hits


class HmcsimSecretRecorder:
    """Records the id and credential of every session hmcsim hands out (also expired ones)."""

    def __init__(self, sim):
        self.sim = sim
        self.sessions = []
        self._original = sim.hmc.logon

        def logon(*args, **kwargs):
            session = self._original(*args, **kwargs)
            self.sessions.append((session.id, session.credential))
            return session

        sim.hmc.logon = logon

    def secrets(self):
        result = {"hmc password": self.sim.password}
        for number, (session_id, credential) in enumerate(self.sessions):
            result["session id #%d" % number] = session_id
            result["session credential #%d" % number] = credential
        return result


# ---------------------------------------------------------------------------------------
# the source, in-process


def load_source_plugin():
    """The `zhmc.eda.notifications` plugin module from the collection under test."""
    path = os.path.join(paths.collection_root(), "extensions", "eda", "plugins", "event_source",
                        "notifications.py")
    spec = importlib.util.spec_from_file_location("zhmc_eda_notifications_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class SourceExited(AssertionError):
    """The source ended by itself (it must run until cancelled)."""


class InProcessSource:
    """Runs the source plugin's main(queue, args) like ansible-rulebook does (queue size 1).

    slow_every / slow_seconds: after every `slow_every` events the consumer awaits
    `slow_seconds` (a slow rulebook action); 0 means a fast consumer.
    """

    def __init__(self, args, queue_size=1, slow_every=0, slow_seconds=0.0, keep_events=True):
        self.args = args
        self.queue_size = queue_size
        self.slow_every = slow_every
        self.slow_seconds = slow_seconds
        self.keep_events = keep_events
        self.records = []              # (monotonic arrival, wall ns arrival, event)
        self.count = 0
        self.status_counts = collections.Counter()
        self.loop = None
        self.task = None
        self.error = None
        self.done = threading.Event()
        self._thread = None
        self._cond = threading.Condition()
        self._started = threading.Event()
        self.on_event = None           # optional callable(event, monotonic, wall_ns) in the loop thread

    # ---- life cycle
    def start(self):
        plugin = load_source_plugin()
        self._thread = threading.Thread(target=self._run_thread, args=(plugin,), daemon=True,
                                        name="zeda-source-under-test")
        self._thread.start()
        self._started.wait(10)
        return self

    def _run_thread(self, plugin):
        loop = asyncio.new_event_loop()
        self.loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._main(plugin))
        finally:
            loop.close()

    async def _main(self, plugin):
        queue = asyncio.Queue(maxsize=self.queue_size)
        consumer = asyncio.ensure_future(self._consume(queue))
        self.task = asyncio.ensure_future(plugin.main(queue, self.args))
        self._started.set()
        try:
            await self.task
        except asyncio.CancelledError:
            pass
        except BaseException as exc:  # recorded for the test: the source must not end by itself
            self.error = exc
        finally:
            # let the consumer take what was already handed over (bounded)
            drain_deadline = time.monotonic() + 5.0
            while not queue.empty() and time.monotonic() < drain_deadline:
                await asyncio.sleep(0.01)
            consumer.cancel()
            try:
                await consumer
            except asyncio.CancelledError:
                pass
            with self._cond:
                self.done.set()
                self._cond.notify_all()

    async def _consume(self, queue):
        since_pause = 0
        while True:
            item = await queue.get()
            now = time.monotonic()
            wall = time.time_ns()
            items = item if isinstance(item, list) else [item]
            for event in items:
                if self.on_event is not None:
                    self.on_event(event, now, wall)
                state = ((event.get("hmc") or {}).get("status") or {}).get("state") \
                    if isinstance(event, dict) else None
                with self._cond:
                    self.count += 1
                    if state:
                        self.status_counts[state] += 1
                    if self.keep_events or state:
                        self.records.append((now, wall, event))
                    self._cond.notify_all()
                since_pause += 1
                if self.slow_every and since_pause >= self.slow_every:
                    since_pause = 0
                    await asyncio.sleep(self.slow_seconds)
            queue.task_done()

    def stop(self, timeout=10.0):
        """Cancel the source (as ansible-rulebook does at shutdown); return the seconds it took."""
        if self.done.is_set():
            return 0.0
        started = time.monotonic()
        self.loop.call_soon_threadsafe(self.task.cancel)
        if not self.done.wait(timeout):
            raise AssertionError("the source did not end within %.0f s after cancellation" % timeout)
        elapsed = time.monotonic() - started
        self._thread.join(5)
        return elapsed

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    def assert_running(self):
        if self.done.is_set():
            raise SourceExited("the source ended by itself: %r" % (self.error,))

    # ---- reading
    def events(self, start=0):
        with self._cond:
            return [event for _t, _w, event in self.records[start:]]

    def mark(self):
        """An index into the records: pass it as `start` to look only at what follows."""
        with self._cond:
            return len(self.records)

    def arrival(self, test_id, start=0):
        """The monotonic time the first event published with `test_id` arrived, or None."""
        with self._cond:
            for arrived, _wall, event in self.records[start:]:
                if published_id(event) == test_id:
                    return arrived
        return None

    def wait_for(self, predicate, timeout, start=0, what="condition"):
        """Wait until predicate(events since `start`) is true; return those events."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                events = [event for _t, _w, event in self.records[start:]]
                if predicate(events):
                    return events
                if self.done.is_set():
                    raise SourceExited("the source ended (%r) while waiting for %s" % (self.error, what))
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError("timed out after %.0f s waiting for %s; %d events since mark, "
                                         "status so far %s" % (timeout, what, len(events),
                                                               dict(self.status_counts)))
                self._cond.wait(min(remaining, 0.2))

    def wait_status(self, state, timeout, start=0):
        """Wait for a status event with hmc.status.state == state; return (event, monotonic time)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for arrived, _wall, event in self.records[start:]:
                    if status_state(event) == state:
                        return event, arrived
                if self.done.is_set():
                    raise SourceExited("the source ended (%r) while waiting for status %s"
                                       % (self.error, state))
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError("no %r status event within %.0f s (status so far: %s)"
                                         % (state, timeout, dict(self.status_counts)))
                self._cond.wait(min(remaining, 0.2))

    def wait_count(self, count, timeout):
        """Wait until `count` events in total arrived; return the number seen."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.count < count and not self.done.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(min(remaining, 0.2))
            return self.count


# ---------------------------------------------------------------------------------------
# event helpers


def hmc_part(event):
    return (event.get("hmc") or {}) if isinstance(event, dict) else {}


def status_state(event):
    return (hmc_part(event).get("status") or {}).get("state")


def is_status(event):
    return status_state(event) is not None


def published_id(event):
    """The zeda-test-id header a test put on the published message, or None."""
    headers = hmc_part(event).get("headers") or {}
    return headers.get(TEST_ID_HEADER)


def os_message_key(event):
    """(object uri, OS message sequence number) of a split OS-message event, or None."""
    hmc = hmc_part(event)
    message = hmc.get("os_message")
    if not message:
        return None
    return ((hmc.get("object") or {}).get("uri"), message.get("sequence_number"))


def lost_and_duplicated(expected_ids, seen_ids):
    """(missing ids, ids seen more than once) of `seen_ids` against `expected_ids`."""
    counts = collections.Counter(seen_ids)
    lost = [item for item in expected_ids if counts.get(item, 0) == 0]
    duplicated = [item for item, number in counts.items() if number > 1 and item in set(expected_ids)]
    return lost, duplicated


def event_texts(events):
    return [json.dumps(event, default=str, sort_keys=True) for event in events]


# ---------------------------------------------------------------------------------------
# source arguments


def activemq_args(broker, topics, **extra):
    """Source arguments for topics on the test ActiveMQ broker over STOMP+TLS (topics-only mode)."""
    args = {
        "hmc_host": broker.host,
        "stomp_port": broker.stomp_ssl_port,
        "hmc_auth": {"userid": broker.userid, "password": broker.password, "ca_certs": broker.ca_file},
        "topics": list(topics),
        "status_events": True,
        "stomp_retry_timeout_config": dict(FAST_RETRY_CONFIG),
    }
    args.update(extra)
    return args


def hmcsim_args(sim, channels=({"cpc": "CPC1", "partition": "PART1"},), topic_types=(), **extra):
    """Source arguments for hmcsim: WS API logon, OS message channels, fast recovery."""
    args = {
        "hmc_host": sim.host,
        "ws_port": sim.ws_port,
        "stomp_port": sim.stomp_port,
        "hmc_auth": {"userid": sim.userid, "password": sim.password, "ca_certs": sim.ca_file},
        "os_message_channels": [dict(channel) for channel in channels],
        "topic_types": list(topic_types),
        "status_events": True,
        "stomp_retry_timeout_config": dict(FAST_RETRY_CONFIG),
    }
    args.update(extra)
    return args
