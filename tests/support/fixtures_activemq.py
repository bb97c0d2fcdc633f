"""Fixture `activemq`: one real ActiveMQ broker per test session (see tests/support/activemq.py).

Needs java and the Debian `activemq` package. When the package is missing it is installed
(root only). Missing and not installable, or no java: the test is skipped locally and FAILS
when CI is set (tests/support/requirements.require).

`python -m tests.support.fixtures_activemq` is the check behind `make activemq-deps`.
"""
import shutil
import sys
import tempfile

import pytest

from tests.support import activemq as activemq_module
from tests.support.requirements import in_ci, require


def activemq_install_check(install=True):
    """Check (and as root, install) ActiveMQ and java. Returns (ok, message).

    Used by `make activemq-deps`; `message` names the exact command to run when not ok.
    """
    problems = []
    if not activemq_module.java_available():
        if install and activemq_module.is_root():
            try:
                activemq_module.apt_install(["default-jre-headless"])
            except activemq_module.ActiveMQError as exc:
                problems.append(str(exc))
        else:
            problems.append("java is missing; run as root: %s" % activemq_module.JRE_INSTALL_COMMAND)
    if not activemq_module.activemq_installed():
        if install and activemq_module.is_root():
            try:
                activemq_module.install_activemq()
            except activemq_module.ActiveMQError as exc:
                problems.append(str(exc))
        else:
            problems.append("ActiveMQ is missing (%s); run as root: %s"
                            % (activemq_module.ACTIVEMQ_BIN, activemq_module.APT_INSTALL_COMMAND))
    if problems:
        return False, "; ".join(problems)
    return True, "ActiveMQ (%s) and java are present" % activemq_module.ACTIVEMQ_BIN


@pytest.fixture(scope="session")
def activemq():
    """A started ActiveMQ broker (STOMP and STOMP+TLS on 127.0.0.1), stopped at session end.

    Attributes: host, stomp_port, stomp_ssl_port, ca_file, userid, password;
    methods: start(), kill(), stop(), restart(), is_running(), publish(topic, headers, body, count).
    Tests that kill() it must leave it running (restart()/start()) for the next test.
    """
    require(activemq_module.java_available(), "java (a JRE >= 17) for ActiveMQ")
    if not activemq_module.activemq_installed():
        require(activemq_module.is_root(),
                "ActiveMQ; run as root: %s" % activemq_module.APT_INSTALL_COMMAND)
        try:
            activemq_module.install_activemq()
        except activemq_module.ActiveMQError as exc:
            require(False, "ActiveMQ (install failed: %s)" % exc)
    workdir = tempfile.mkdtemp(prefix="zeda-amq-", dir="/tmp")
    broker = activemq_module.ActiveMQ(workdir)
    _teardown_on_sigterm()
    try:
        broker.start()
        yield broker
    finally:
        broker.stop()
        if broker.is_running():   # never leave a broker behind
            broker.kill()
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def _teardown_on_sigterm():
    """pytest dies on SIGTERM without running finalizers, which would leave the broker (a
    daemon) running; turn SIGTERM into KeyboardInterrupt, which pytest tears down cleanly."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, None):
        return   # someone else handles it

    def interrupt(_signum, _frame):
        raise KeyboardInterrupt("SIGTERM")

    signal.signal(signal.SIGTERM, interrupt)


@pytest.fixture
def activemq_running(activemq):
    """The session broker, (re)started if an earlier test left it killed."""
    if not activemq.is_running():
        activemq.start()
    return activemq


def main():
    ok, message = activemq_install_check(install=True)
    if ok:
        print("activemq-deps: " + message)
        return 0
    if in_ci():
        print("activemq-deps: ERROR: " + message, file=sys.stderr)
        return 1
    print("activemq-deps: WARNING: " + message + " (tests needing ActiveMQ will be skipped)",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
