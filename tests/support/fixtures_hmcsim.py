"""hmcsim fixtures: a started simulator in a fresh private directory.

- `hmcsim` (module scope): shared by the tests of one module; do not break it.
- `fresh_hmcsim` (function scope): for tests that inject faults or restart it.
- `hmcsim_factory` (function scope): `hmcsim_factory(**HmcSim kwargs)` starts one with other
  settings (a config, fixed ports, another heartbeat); every one is stopped after the test.
Both use short heart-beats (1 s) and a fast job delay (0.2 s); read ports, CA file,
userid and password from the yielded `HmcSim` (`sim.info`), never hard-code them.
"""
import shutil
import tempfile

import pytest

from hmcsim import HmcSim

FIXTURE_HEARTBEAT_MS = 1000
FIXTURE_JOB_DELAY = 0.2


def _started_sim(**kwargs):
    state_dir = tempfile.mkdtemp(prefix="hmcsim-", dir="/tmp")
    kwargs.setdefault("heartbeat_ms", FIXTURE_HEARTBEAT_MS)
    kwargs.setdefault("job_delay", FIXTURE_JOB_DELAY)
    sim = HmcSim(state_dir, **kwargs)
    try:
        sim.start()
    except BaseException:
        shutil.rmtree(state_dir, ignore_errors=True)
        raise
    return sim, state_dir


def _running_sim():
    """Yield a started HmcSim; stop it and remove its state directory afterwards."""
    sim, state_dir = _started_sim()
    try:
        yield sim
    finally:
        sim.stop()
        shutil.rmtree(state_dir, ignore_errors=True)


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
            sim.stop()
            shutil.rmtree(state_dir, ignore_errors=True)


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


def ws_url(sim, path):
    return "https://127.0.0.1:%d%s" % (sim.ws_port, path)


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
        raw = socket.create_connection(("127.0.0.1", sim.stomp_port), timeout=timeout)
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
