"""Reliability suite set-up: every test's logs and events are scanned for secrets.

`sources` (function scope) creates InProcessSource objects and stops them at the end; the
autouse `secret_scan` fixture captures every log record (source, stomp.py, urllib3, hmcsim)
at DEBUG while the test runs and, afterwards, searches those records and every event of
every source the test ran for the passwords in the sources' arguments and for the HMC
session ids and credentials hmcsim handed out. One hit fails the test.
"""
import pytest

from tests.reliability import harness


class SourceRegistry:
    """Creates in-process sources for a test and remembers them (for cleanup and the scan)."""

    def __init__(self):
        self.sources = []
        self.recorders = []
        self.extra_secrets = {}

    def start(self, args, **kwargs):
        source = harness.InProcessSource(args, **kwargs)
        self.sources.append(source)
        return source.start()

    def record_hmcsim(self, sim):
        recorder = harness.HmcsimSecretRecorder(sim)
        self.recorders.append(recorder)
        return recorder

    def secrets(self):
        found = dict(self.extra_secrets)
        for number, source in enumerate(self.sources):
            auth = source.args.get("hmc_auth") or {}
            for key in ("password", "session_id", "session_credential"):
                if auth.get(key):
                    found["source %d %s" % (number, key)] = auth[key]
        for recorder in self.recorders:
            for label, value in recorder.secrets().items():
                found["hmcsim %s" % label] = value
        return found

    def stop_all(self):
        for source in self.sources:
            try:
                source.stop()
            except AssertionError:
                pass


@pytest.fixture
def sources():
    registry = SourceRegistry()
    try:
        yield registry
    finally:
        registry.stop_all()


@pytest.fixture(autouse=True)
def secret_scan(request):
    capture = harness.LogCapture().install()
    try:
        yield capture
    finally:
        capture.uninstall()
    registry = request.node.funcargs.get("sources") if hasattr(request.node, "funcargs") else None
    if registry is None:
        return
    texts = capture.texts()
    for source in registry.sources:
        texts.extend(harness.event_texts(source.events()))
        if source.error is not None:
            texts.append(repr(source.error) + " " + str(source.error))
    hits = harness.find_secrets(texts, registry.secrets())
    harness.report(request.node.name + "[secret-scan]", texts=len(texts),
                   secrets=len(registry.secrets()), hits=len(hits))
    assert not hits, "secrets found in logs/events: %s" % hits[:5]


def pytest_terminal_summary(terminalreporter):
    """What was lost, duplicated, how long recovery took, and the secret-scan hits, per test."""
    lines = list(harness.REPORT_LINES)
    if not lines:
        return
    terminalreporter.section("reliability figures")
    for line in lines:
        terminalreporter.write_line(line)
