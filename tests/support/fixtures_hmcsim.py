"""hmcsim fixtures: a started simulator in a fresh private directory.

- `hmcsim` (module scope): shared by the tests of one module; do not break it.
- `fresh_hmcsim` (function scope): for tests that inject faults or restart it.
- `hmcsim_factory` (function scope): `hmcsim_factory(**HmcSim kwargs)` starts one with other
  settings (a config, fixed ports, another heartbeat); every one is stopped after the test.
Both use short heart-beats (1 s) and a fast job delay (0.2 s); read ports, CA file,
userid and password from the yielded `HmcSim` (`sim.info`), never hard-code them.
Every simulator started here carries a `PublicationInvariants` observer (`sim.invariants`):
at teardown, anything it published that breaks the HMC's rules fails the test.
"""
from __future__ import annotations

import json
import shutil
import tempfile
from typing import Any

import pytest

from hmcsim import HmcSim
from hmcsim.resources import STATUS_PROPERTIES

FIXTURE_HEARTBEAT_MS = 1000
FIXTURE_JOB_DELAY = 0.2


class PublicationInvariants:
    """Checks every notification hmcsim publishes (as an observer) against the HMC's rules:
    no property-change carries an (sc) property, every header value is a string, and OS
    message sequence numbers rise per object (per topic, live messages; within each body)."""

    def __init__(self) -> None:
        self.count = 0
        self.violations: list[str] = []
        self._last_seq: dict[tuple[str, str], int] = {}

    def __call__(self, topic: str, headers: dict[str, Any], body: str) -> None:
        self.count += 1
        where = "%s on %s" % (headers.get("notification-type"), topic)
        for key, value in headers.items():
            if not isinstance(key, str) or not isinstance(value, str):
                self.violations.append("%s: header %r is %r, not a string" % (where, key, value))
        ntype = headers.get("notification-type")
        if ntype == "property-change":
            names = set(str(headers.get("property-names", "")).split())
            names |= {r.get("property-name") for r in json.loads(body)["change-reports"]}
            if names & STATUS_PROPERTIES:
                self.violations.append("%s: (sc) properties %s" % (where, sorted(names & STATUS_PROPERTIES)))
        elif ntype == "os-message":
            infos = json.loads(body)["os-messages"]
            seqs = [info["sequence-number"] for info in infos]
            if seqs != sorted(set(seqs)):
                self.violations.append("%s: sequence numbers not rising within one body: %s" % (where, seqs))
            live = [s for s, info in zip(seqs, infos) if not info.get("is-refresh")]
            key = (topic, str(headers.get("object-uri")))
            if live and live[0] <= self._last_seq.get(key, 0):
                self.violations.append("%s: sequence number %d after %d" % (where, live[0], self._last_seq[key]))
            if live:
                self._last_seq[key] = live[-1]

    def assert_clean(self) -> None:
        assert not self.violations, "hmcsim published against the HMC's rules:\n" + "\n".join(self.violations[:20])


def _started_sim(**kwargs):
    state_dir = tempfile.mkdtemp(prefix="hmcsim-", dir="/tmp")
    kwargs.setdefault("heartbeat_ms", FIXTURE_HEARTBEAT_MS)
    kwargs.setdefault("job_delay", FIXTURE_JOB_DELAY)
    sim = HmcSim(state_dir, **kwargs)
    sim.invariants = PublicationInvariants()
    sim.add_observer(sim.invariants)
    try:
        sim.start()
    except BaseException:
        shutil.rmtree(state_dir, ignore_errors=True)
        raise
    return sim, state_dir


def _stop(sim, state_dir):
    try:
        sim.stop()
    finally:
        shutil.rmtree(state_dir, ignore_errors=True)


def _running_sim():
    """Yield a started HmcSim; stop it, remove its state directory, check what it published."""
    sim, state_dir = _started_sim()
    try:
        yield sim
    finally:
        _stop(sim, state_dir)
    sim.invariants.assert_clean()


@pytest.fixture(scope="module")
def hmcsim():
    """A started HmcSim shared by one test module."""
    yield from _running_sim()


@pytest.fixture
def fresh_hmcsim():
    """A started HmcSim of its own, for a test that breaks or restarts it."""
    yield from _running_sim()


@pytest.fixture
def hmcsim_factory():
    """Start simulators with custom HmcSim keyword arguments; all are stopped afterwards."""
    started = []

    def factory(**kwargs):
        sim, state_dir = _started_sim(**kwargs)
        started.append((sim, state_dir))
        return sim

    try:
        yield factory
    finally:
        for sim, state_dir in started:
            _stop(sim, state_dir)
    for sim, _ in started:
        sim.invariants.assert_clean()


# ----------------------------------------------------------------------------------
# Small helpers for talking to a simulator the way an HMC client would (requests over
# verified TLS, raw STOMP frames over ssl sockets). Used by the hmcsim tests; others may too.

def ws_session(sim):
    """A requests.Session that verifies against the simulator's CA (environment ignored)."""
    import requests

    session = requests.Session()
    session.verify = sim.ca_file
    session.trust_env = False       # REQUESTS_CA_BUNDLE would override `verify`
    return session


def sim_address(sim):
    """The address the simulator's WS API and STOMP servers listen on."""
    return "127.0.0.1" if sim.host == "localhost" else sim.host


def ws_url(sim, path):
    return "https://%s:%d%s" % (sim_address(sim), sim.ws_port, path)


def ws_logon(sim, session=None):
    """Log on; return (requests.Session with X-API-Session set, logon response dict)."""
    session = session or ws_session(sim)
    resp = session.post(ws_url(sim, "/api/sessions"), json={"userid": sim.userid, "password": sim.password},
                        timeout=10)
    resp.raise_for_status()
    body = resp.json()
    session.headers["X-API-Session"] = body["api-session"]
    return session, body


class RawStomp:
    """A minimal STOMP client on a verified TLS socket, for frame-level checks."""

    def __init__(self, sim, timeout=5.0):
        import socket
        import ssl

        from hmcsim.stomp_frames import FrameParser

        context = ssl.create_default_context(cafile=sim.ca_file)
        raw = socket.create_connection((sim_address(sim), sim.stomp_port), timeout=timeout)
        self.sock = context.wrap_socket(raw, server_hostname="localhost")
        self.parser = FrameParser()
        self.pending = []
        self.heartbeats = 0
        self.closed = False

    def send(self, command, headers=None, body=b""):
        from hmcsim.stomp_frames import encode_frame

        self.sock.sendall(encode_frame(command, headers, body, escape=command not in ("CONNECT", "STOMP")))

    def send_bytes(self, data):
        self.sock.sendall(data)

    def connect(self, login, passcode, heart_beat="0,0", version="1.2", command="CONNECT"):
        self.send(command, {"accept-version": version, "host": "localhost", "login": login,
                            "passcode": passcode, "heart-beat": heart_beat})
        return self.next_frame()

    def next_frame(self, timeout=5.0):
        """The next frame (heart-beats counted, not returned); None when the server closed."""
        import socket
        import time

        from hmcsim.stomp_frames import HEARTBEAT

        deadline = time.monotonic() + timeout
        while True:
            while self.pending:
                item = self.pending.pop(0)
                if item is HEARTBEAT:
                    self.heartbeats += 1
                    continue
                return item
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise socket.timeout("no frame within %.1f s" % timeout)
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(65536)
            except (ConnectionError, OSError) as exc:
                if isinstance(exc, socket.timeout):
                    raise
                data = b""
            if not data:
                self.closed = True
                return None
            self.pending.extend(self.parser.feed(data))

    def wait_closed(self, timeout=5.0):
        """Read until the server closes; return the frames seen on the way."""
        frames = []
        while True:
            frame = self.next_frame(timeout)
            if frame is None:
                return frames
            frames.append(frame)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# The HMC's standard ports: tools that cannot be told another port (zhmccli, zhmcclient's
# auto-updater and NotificationReceiver defaults, ibm.ibm_zhmc) need hmcsim listening there.
HMC_WS_PORT = 6794
HMC_STOMP_PORT = 61612


def free_loopback_address(ports=(HMC_WS_PORT, HMC_STOMP_PORT), attempts=50):
    """A 127.x.y.z address (never 127.0.0.1) on which all `ports` are free right now.

    Random, so that test runs in parallel worktrees do not meet on the same address.
    """
    import random
    import socket

    for _ in range(attempts):
        address = "127.%d.%d.%d" % (random.randint(1, 254), random.randint(0, 255), random.randint(2, 254))  # noqa: S311
        sockets = []
        try:
            for port in ports:
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sockets.append(sock)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((address, port))
            return address
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise RuntimeError("no loopback address with free ports %s after %d attempts" % (ports, attempts))


def twin_hmcsims(hmcsim_factory, shared_config, names=("HMC-A", "HMC-B")):
    """Two redundant HMCs of one CPC: one configuration (users, inventory, CA) in the file
    shared_config, each on a free loopback address of its own with the HMC's standard ports."""
    return [hmcsim_factory(host=free_loopback_address(), hmc_name=name, ws_port=HMC_WS_PORT,
                           stomp_port=HMC_STOMP_PORT, shared_config=shared_config) for name in names]


@pytest.fixture(scope="module")
def standard_ports_hmcsim():
    """A started HmcSim on a free loopback address with the HMC's standard ports, jobs that
    are done at once (zhmcclient polls jobs every 10 s), shared by one test module."""
    # No TLS 1.3 session tickets: zhmcclient pins stomp.py 8, whose reader thread and writer
    # thread use one TLS socket at once; a ticket arriving while CONNECT is written loses the
    # CONNECT and zhmcclient waits for CONNECTED forever (docs/hmcsim.md, Decisions).
    sim, state_dir = _started_sim(host=free_loopback_address(), ws_port=HMC_WS_PORT, stomp_port=HMC_STOMP_PORT,
                                  job_delay=0, stomp_session_tickets=False)
    try:
        yield sim
    finally:
        _stop(sim, state_dir)
    sim.invariants.assert_clean()
