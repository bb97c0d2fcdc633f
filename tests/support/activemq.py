"""A throw-away Apache ActiveMQ broker for tests and benchmarks (the HMC's broker is ActiveMQ).

`ActiveMQ(workdir)` owns one broker instance: its own configuration, key store, data, temp
and pid file under `workdir`, a STOMP port and a STOMP+TLS port on 127.0.0.1 (fixed for the
object's life, so a restart reuses them), and one test user whose password is random per
object.

    broker = ActiveMQ(workdir)
    broker.ensure_installed()   # apt-get install -y activemq when root; else a clear error
    broker.start()              # returns when both ports accept connections
    broker.publish("my-topic", {"notification-type": "os-message"}, body, count=10)
    broker.publish_messages("my-topic", [(headers, body), ...])   # different messages
    broker.kill()               # SIGKILL by pid file, waits until the ports are closed
    broker.restart()            # kill (if running) + start, same ports and user
    broker.freeze(); broker.thaw()   # SIGSTOP / SIGCONT: sockets open, nothing sent
    broker.stop()               # SIGTERM, SIGKILL after 20 s

Attributes: host, stomp_port, stomp_ssl_port, ca_file, userid, password, workdir, log_file.
Also: is_running(), pid(), log_tail(), connection(use_ssl=False) (a connected stomp.py
client), publisher_command(topic, count, rate, text_chars) (argv and env of a load-generator
process: `python -m tests.support.activemq publish ...`), os_message_notification(id, seq).

Topic policy (why): the ActiveMQ *sample* activemq.xml gives topics a
constantPendingMessageLimitStrategy(limit=1000), which silently discards the oldest messages
for a slow non-durable subscriber. The broker's built-in default has no limit, but non-durable
topic subscribers then spool to the temp store (fileCursor) when memory runs short. We want
neither silent loss nor an unbounded disk spool in tests: the configuration below sets the
limit to -1 (never discard), uses a memory-only (vmCursor) pending list for topic subscribers
and keeps producerFlowControl on, so a slow consumer makes the broker block the *producer*
(back-pressure) once the destination's memory limit is reached. That is the behaviour the
reliability tests and benchmarks rely on ("0 drops").
"""
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time

ACTIVEMQ_BIN = "/usr/bin/activemq"
APT_INSTALL_COMMAND = "apt-get update && apt-get install -y activemq"
JRE_INSTALL_COMMAND = "apt-get update && apt-get install -y default-jre-headless"
INSTALL_TIMEOUT_SECONDS = 600
START_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 20
# Heap for a test broker: a small initial heap starts faster; 512 MB leaves room for bursts.
JVM_MEMORY_OPTS = "-Xms64m -Xmx512m"
# Memory a topic may hold for slow subscribers before the producer is blocked.
TOPIC_MEMORY_LIMIT = "64 mb"

_apt_updated = False


class ActiveMQError(RuntimeError):
    """The broker could not be installed, configured, started or stopped."""


def java_available():
    """True when a `java` executable is on PATH (ActiveMQ and ansible-rulebook need one)."""
    return shutil.which("java") is not None


def activemq_installed():
    """True when the Debian activemq package's start script is present."""
    return os.access(ACTIVEMQ_BIN, os.X_OK)


def is_root():
    return os.geteuid() == 0


def apt_install(packages, timeout=INSTALL_TIMEOUT_SECONDS):
    """`apt-get update` (once per process) and `apt-get install -y <packages>`, bounded in time."""
    global _apt_updated
    if not is_root():
        raise ActiveMQError("installing %s needs root; run as root: apt-get update && apt-get install -y %s"
                            % (" ".join(packages), " ".join(packages)))
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    deadline = time.monotonic() + timeout
    commands = [] if _apt_updated else [["apt-get", "update", "-q"]]
    commands.append(["apt-get", "install", "-y", "-q"] + list(packages))
    for command in commands:
        remaining = max(1.0, deadline - time.monotonic())
        try:
            result = subprocess.run(
                command, env=env, capture_output=True, text=True, timeout=remaining, check=False
            )
        except subprocess.TimeoutExpired:
            raise ActiveMQError("'%s' did not finish within %d s" % (" ".join(command), timeout)) from None
        if result.returncode != 0:
            raise ActiveMQError(
                "'%s' failed with exit code %d: %s"
                % (" ".join(command), result.returncode, result.stderr.strip()[-2000:])
            )
        if command[1] == "update":
            _apt_updated = True


def install_activemq(timeout=INSTALL_TIMEOUT_SECONDS):
    """Install the Debian `activemq` package (root only); raise ActiveMQError with the command otherwise.

    Returns True when it installed the package, False when it was already there.
    """
    if activemq_installed():
        return False
    if not is_root():
        raise ActiveMQError(
            "ActiveMQ is not installed (%s is missing) and this is not root; run as root: %s"
            % (ACTIVEMQ_BIN, APT_INSTALL_COMMAND)
        )
    apt_install(["activemq"], timeout)
    if not activemq_installed():
        raise ActiveMQError("apt-get install activemq succeeded but %s is still missing" % ACTIVEMQ_BIN)
    return True


def free_port(host="127.0.0.1"):
    """A TCP port that was free a moment ago (the broker binds it soon after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_accepts(host, port, timeout=0.5):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _process_alive(pid):
    """True when `pid` exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as stat:
            state = stat.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


class ActiveMQ:
    """One private ActiveMQ broker instance (see the module docstring)."""

    host = "127.0.0.1"
    userid = "zeda-test"

    def __init__(self, workdir, tcp_no_delay=True):
        # tcp_no_delay: switch Nagle off on the broker's sockets (low latency for tests);
        # False keeps ActiveMQ's own default, which coalesces small frames into fewer packets.
        self.tcp_no_delay = tcp_no_delay
        self.workdir = os.path.abspath(workdir)
        self.conf_dir = os.path.join(self.workdir, "conf")
        self.data_dir = os.path.join(self.workdir, "data")
        self.tmp_dir = os.path.join(self.workdir, "tmp")
        self.pid_file = os.path.join(self.workdir, "activemq.pid")
        self.log_file = os.path.join(self.workdir, "activemq.out")
        self.keystore_file = os.path.join(self.conf_dir, "broker.p12")
        self.ca_file = os.path.join(self.workdir, "broker-ca.pem")
        self.config_file = os.path.join(self.conf_dir, "activemq.xml")
        # hex: safe inside XML attributes and shell-free option files
        self.password = secrets.token_hex(16)
        self._keystore_password = secrets.token_hex(16)
        self.stomp_port = free_port(self.host)
        self.stomp_ssl_port = free_port(self.host)
        while self.stomp_ssl_port == self.stomp_port:
            self.stomp_ssl_port = free_port(self.host)
        self._configured = False
        self.start_count = 0

    # ---- set-up -------------------------------------------------------------------------
    def ensure_installed(self):
        """Install ActiveMQ when missing (root only) and check that java is present."""
        if not java_available():
            raise ActiveMQError("java is not on PATH; ActiveMQ needs a JRE >= 17: %s" % JRE_INSTALL_COMMAND)
        install_activemq()

    def configure(self):
        """Write key store, CA file, activemq.xml and the instance options (once)."""
        if self._configured:
            return
        for directory in (self.workdir, self.conf_dir, self.data_dir, self.tmp_dir):
            os.makedirs(directory, exist_ok=True)
        self._make_keystore()
        self._write_config()
        self._write_options()
        self._configured = True

    def _run_keytool(self, args):
        try:
            result = subprocess.run(
                ["keytool"] + args, capture_output=True, text=True, timeout=60, check=False,
                env=dict(os.environ, ZEDA_KEYSTORE_PASSWORD=self._keystore_password),
            )
        except FileNotFoundError:
            raise ActiveMQError("keytool is not on PATH (it comes with the JRE): %s" % JRE_INSTALL_COMMAND) from None
        if result.returncode != 0:
            # keytool's messages carry no password (it reads it from the environment)
            raise ActiveMQError("keytool %s failed: %s" % (args[0], (result.stdout + result.stderr).strip()))

    def _make_keystore(self):
        for path in (self.keystore_file, self.ca_file):
            if os.path.exists(path):
                os.unlink(path)
        self._run_keytool([
            "-genkeypair", "-alias", "broker", "-keyalg", "RSA", "-keysize", "2048",
            "-validity", "30", "-dname", "CN=localhost",
            "-ext", "SAN=dns:localhost,ip:127.0.0.1",
            "-keystore", self.keystore_file, "-storetype", "PKCS12",
            "-storepass:env", "ZEDA_KEYSTORE_PASSWORD", "-keypass:env", "ZEDA_KEYSTORE_PASSWORD",
        ])
        self._run_keytool([
            "-exportcert", "-rfc", "-alias", "broker", "-keystore", self.keystore_file,
            "-storetype", "PKCS12", "-storepass:env", "ZEDA_KEYSTORE_PASSWORD", "-file", self.ca_file,
        ])

    def _write_config(self):
        config = ACTIVEMQ_XML_TEMPLATE.format(
            data_dir=self.data_dir,
            tmp_dir=self.tmp_dir,
            userid=self.userid,
            password=self.password,
            keystore=self.keystore_file,
            keystore_password=self._keystore_password,
            host=self.host,
            stomp_port=self.stomp_port,
            stomp_ssl_port=self.stomp_ssl_port,
            topic_memory_limit=TOPIC_MEMORY_LIMIT,
            transport_options="?transport.tcpNoDelay=true" if self.tcp_no_delay else "",
        )
        _write_private(self.config_file, config)
        _write_private(os.path.join(self.conf_dir, "log4j.properties"), LOG4J_PROPERTIES)
        # the start script passes -Djava.security.auth.login.config=$ACTIVEMQ_CONF/login.config
        _write_private(os.path.join(self.conf_dir, "login.config"), "")

    def _write_options(self):
        # /usr/bin/activemq sources /usr/share/activemq/activemq-options (which pins
        # -Xms512M -Xmx512M and ACTIVEMQ_OUT=/dev/null) unless
        # /etc/activemq/instances-enabled/$INSTANCE/options is readable; INSTANCE (below)
        # points that path at this file so the instance keeps its own JVM flags and log.
        options = (
            'ACTIVEMQ_BASE="{base}"\n'
            'ACTIVEMQ_OPTS="{memory} -XX:+UseSerialGC'
            ' -Djava.security.auth.login.config={conf}/login.config"\n'
            'ACTIVEMQ_OUT="{out}"\n'
        ).format(base=self.workdir, memory=JVM_MEMORY_OPTS, conf=self.conf_dir, out=self.log_file)
        _write_private(os.path.join(self.conf_dir, "options"), options)

    def _environment(self):
        env = dict(os.environ)
        env.update(
            ACTIVEMQ_USER="root" if is_root() else _current_user(),
            ACTIVEMQ_PIDFILE=self.pid_file,
            ACTIVEMQ_CONF=self.conf_dir,
            ACTIVEMQ_DATA=self.data_dir,
            ACTIVEMQ_TMP=self.tmp_dir,
            ACTIVEMQ_BASE=self.workdir,
            ACTIVEMQ_OPTS_MEMORY=JVM_MEMORY_OPTS,
            INSTANCE=os.path.relpath(self.conf_dir, "/etc/activemq/instances-enabled"),
        )
        return env

    # ---- life cycle ---------------------------------------------------------------------
    def pid(self):
        """The broker's pid from its pid file, or None."""
        try:
            with open(self.pid_file) as handle:
                return int(handle.read().strip())
        except (OSError, ValueError):
            return None

    def is_running(self):
        pid = self.pid()
        return pid is not None and _process_alive(pid)

    def start(self, timeout=START_TIMEOUT_SECONDS):
        """Start the broker and wait until both ports accept connections."""
        if not activemq_installed():
            raise ActiveMQError("%s is missing; call ensure_installed() or run as root: %s"
                                % (ACTIVEMQ_BIN, APT_INSTALL_COMMAND))
        self.configure()
        if self.is_running():
            raise ActiveMQError("broker already running (pid %s)" % self.pid())
        if os.path.exists(self.pid_file):
            os.unlink(self.pid_file)  # stale; the script refuses to start over one
        for port in (self.stomp_port, self.stomp_ssl_port):
            if port_accepts(self.host, port):
                raise ActiveMQError("port %d is already taken by another process" % port)
        with open(self.log_file, "a") as log:
            log.write("\n==== start %s ====\n" % time.strftime("%H:%M:%S"))
        try:
            result = subprocess.run(
                [ACTIVEMQ_BIN, "start", "xbean:file:" + self.config_file],
                env=self._environment(), cwd=self.workdir, capture_output=True, text=True,
                timeout=30, check=False, stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            raise ActiveMQError("'%s start' did not return within 30 s" % ACTIVEMQ_BIN) from None
        if result.returncode != 0:
            raise ActiveMQError("'%s start' failed (%d): %s"
                                % (ACTIVEMQ_BIN, result.returncode, (result.stdout + result.stderr)[-2000:]))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if port_accepts(self.host, self.stomp_port) and port_accepts(self.host, self.stomp_ssl_port):
                self.start_count += 1
                return
            if self.pid() is not None and not self.is_running():
                break
            time.sleep(0.2)
        reason = "exited" if not self.is_running() else "did not open both ports within %d s" % timeout
        self.kill()
        raise ActiveMQError("ActiveMQ %s; last log lines:\n%s" % (reason, self.log_tail()))

    def kill(self, timeout=STOP_TIMEOUT_SECONDS):
        """SIGKILL the broker by its pid file and wait until its ports are closed."""
        self._signal_and_wait(signal.SIGKILL, timeout)

    def stop(self, timeout=STOP_TIMEOUT_SECONDS):
        """Stop the broker: SIGTERM (clean shutdown), SIGKILL when it takes too long."""
        if self.is_running():
            self.thaw()   # a frozen (SIGSTOPped) broker cannot act on SIGTERM
        try:
            self._signal_and_wait(signal.SIGTERM, timeout)
        except ActiveMQError:
            self.kill()

    def freeze(self):
        """SIGSTOP the broker: its sockets stay open but nothing is sent (a silent loss)."""
        pid = self.pid()
        if pid is None or not _process_alive(pid):
            raise ActiveMQError("broker is not running; nothing to freeze")
        os.kill(pid, signal.SIGSTOP)

    def thaw(self):
        """SIGCONT a frozen broker."""
        pid = self.pid()
        if pid is not None:
            os.kill(pid, signal.SIGCONT)

    def restart(self):
        """Kill the broker (if running) and start it again on the same ports."""
        self.kill()
        self.start()

    def _signal_and_wait(self, signum, timeout):
        pid = self.pid()
        if pid is not None and _process_alive(pid):
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            alive = pid is not None and _process_alive(pid)
            if not alive and not port_accepts(self.host, self.stomp_port, 0.2) and \
                    not port_accepts(self.host, self.stomp_ssl_port, 0.2):
                if os.path.exists(self.pid_file):
                    os.unlink(self.pid_file)
                return
            time.sleep(0.05)
        raise ActiveMQError("broker (pid %s) still running %d s after signal %d" % (pid, timeout, signum))

    def log_tail(self, lines=40):
        try:
            with open(self.log_file, errors="replace") as handle:
                return "".join(handle.readlines()[-lines:])
        except OSError:
            return "(no log)"

    # ---- clients -----------------------------------------------------------------------
    def connection(self, use_ssl=False, heartbeats=(0, 0), **kwargs):
        """A connected stomp.py connection as the test user (plain port unless use_ssl)."""
        import stomp

        port = self.stomp_ssl_port if use_ssl else self.stomp_port
        conn = stomp.Connection12([(self.host, port)], heartbeats=heartbeats,
                                  auto_content_length=False, **kwargs)
        if use_ssl:
            conn.set_ssl(for_hosts=[(self.host, port)], ca_certs=self.ca_file)
        conn.connect(self.userid, self.password, wait=True)
        return conn

    def publish(self, topic_name, headers=None, body="", count=1):
        """Publish `body` `count` times to /topic/<topic_name> over the plain STOMP port.

        Sent without content-length, so the broker makes JMS TextMessages as the HMC does;
        custom headers reach subscribers as strings. Returns after the broker has received
        all messages (a receipt on the last one).
        """
        headers = dict(headers or {})
        return self.publish_messages(topic_name, ((headers, body) for _ in range(count)))

    def publish_messages(self, topic_name, messages):
        """Publish each (headers, body) of `messages` to /topic/<topic_name>; return the count.

        Returns after the broker confirmed the last one (receipt), so a subscriber that was
        subscribed before the call gets them all.
        """
        import stomp

        conn = self.connection()
        count = 0
        try:
            listener = _ReceiptListener()
            conn.set_listener("receipt", listener)
            destination = "/topic/" + topic_name
            previous = None
            for item in messages:
                if previous is not None:
                    conn.send(destination, previous[1], headers=previous[0])
                    count += 1
                previous = (dict((key, str(value)) for key, value in item[0].items()), item[1])
            if previous is not None:
                receipt = "publish-%s" % secrets.token_hex(4)
                listener.expect(receipt)
                conn.send(destination, previous[1], headers=dict(previous[0], receipt=receipt))
                count += 1
                if not listener.wait(60):
                    raise ActiveMQError("no receipt from the broker within 60 s after publishing %d" % count)
        finally:
            try:
                conn.disconnect()
            except stomp.exception.StompException:
                pass
        return count

    def publisher_command(self, topic_name, count, rate=0.0, start_id=0, python=None, text_chars=0):
        """(argv, env) for a publisher subprocess: `count` HMC-shaped OS-message notifications.

        Each message carries the zeda-test-id header (start_id + i) and zeda-publish-ns (wall
        clock at send, for latency). rate: messages per second, 0 = as fast as possible.
        text_chars: the message text is that long (console lines), 0 = one short line.
        The password goes through the environment, not the command line.
        """
        import sys

        argv = [python or sys.executable, "-m", "tests.support.activemq", "publish",
                "--port", str(self.stomp_port), "--topic", topic_name, "--count", str(count),
                "--rate", str(rate), "--start-id", str(start_id), "--text-chars", str(text_chars)]
        env = dict(os.environ, ZEDA_AMQ_USERID=self.userid, ZEDA_AMQ_PASSWORD=self.password)
        repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env["PYTHONPATH"] = repo + os.pathsep + env.get("PYTHONPATH", "")
        return argv, env


OS_MESSAGE_TEMPLATE = (
    '{{"os-messages":[{{"sequence-number":{seq},"message-text":"zeda test message {seq}: '
    'IEE136I LOCAL: TIME=10.15.32 DATE=2026.328\\n","message-id":"0","timestamp":{ts},'
    '"sound-alarm":false,"is-priority":false,"is-held":false,"prompt-text":"","os-name":null,'
    '"is-refresh":false}}]}}'
)
PUBLISHER_OBJECT_URI = "/api/partitions/0a1b2c3d-4e5f-6789-abcd-ef0123456789"
# A console line that pads a longer message text (a multi-line display, as z/OS prints them).
PAD_LINE = "IEE114I 10.15.32 2026.328 ACTIVITY  JOBS M/S TS USERS SYSAS INITS ACTIVE/MAX VTAM OAS\\n"


def os_message_notification(test_id, sequence_number, object_uri=PUBLISHER_OBJECT_URI, name="PART1",
                            text_chars=0):
    """(headers, body) of an HMC-shaped os-message notification (hmc-notifications.md 5.1/5.2).

    The source drops an OS message whose sequence number it already saw for the same object
    (dedupe), so each publisher must use rising sequence numbers per object_uri. text_chars:
    the message text is padded with console lines to about that many characters.
    """
    now_ms = int(time.time() * 1000)
    headers = {
        "notification-type": "os-message",
        "session-sequence-nr": str(sequence_number),
        "global-sequence-nr": str(sequence_number),
        "object-uri": object_uri,
        "object-id": object_uri.rsplit("/", 1)[1],
        "class": "partition",
        "name": name,
        "zeda-test-id": str(test_id),
    }
    body = OS_MESSAGE_TEMPLATE.format(seq=sequence_number, ts=now_ms)
    if text_chars > 0:
        lines = PAD_LINE * max(0, (text_chars - 64) // (len(PAD_LINE) - 1))
        body = body.replace("DATE=2026.328\\n", "DATE=2026.328\\n" + lines, 1)
    return headers, body


def _no_delay(conn):
    """Switch off Nagle on a stomp.py connection: paced small frames must leave at once."""
    import socket

    sock = getattr(conn.transport, "socket", None)
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _publisher_main(argv):
    """`python -m tests.support.activemq publish ...`: the load generator for tests and benchmarks."""
    import argparse

    import stomp

    parser = argparse.ArgumentParser(prog="tests.support.activemq publish")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--rate", type=float, default=0.0)
    parser.add_argument("--start-id", type=int, default=0)
    parser.add_argument("--text-chars", type=int, default=0)
    options = parser.parse_args(argv)
    conn = stomp.Connection12([(options.host, options.port)], heartbeats=(0, 0), auto_content_length=False)
    listener = _ReceiptListener()
    conn.set_listener("receipt", listener)
    conn.connect(os.environ["ZEDA_AMQ_USERID"], os.environ["ZEDA_AMQ_PASSWORD"], wait=True)
    _no_delay(conn)
    destination = "/topic/" + options.topic
    started = time.monotonic()
    for index in range(options.count):
        if options.rate > 0:
            due = started + index / options.rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        headers, body = os_message_notification(options.start_id + index, options.start_id + index + 1,
                                                text_chars=options.text_chars)
        headers["zeda-publish-ns"] = str(time.time_ns())
        if index == options.count - 1:
            headers["receipt"] = "last"
            listener.expect("last")
        conn.send(destination, body, headers=headers)
    ok = listener.wait(120) if options.count else True
    elapsed = time.monotonic() - started
    conn.disconnect()
    print(json.dumps({"published": options.count, "seconds": round(elapsed, 3), "confirmed": ok}), flush=True)
    return 0 if ok else 1


class _ReceiptListener:
    def __init__(self):
        import threading

        self._event = threading.Event()
        self._receipt = None

    def expect(self, receipt):
        self._receipt = receipt

    def on_receipt(self, frame):
        if frame.headers.get("receipt-id") == self._receipt:
            self._event.set()

    def wait(self, timeout):
        return self._event.wait(timeout)


def _current_user():
    import pwd

    return pwd.getpwuid(os.geteuid()).pw_name


def _write_private(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


# The Debian package uses log4j 1.2: broker start/stop and warnings go to ACTIVEMQ_OUT.
LOG4J_PROPERTIES = """\
log4j.rootLogger=WARN, stdout
log4j.logger.org.apache.activemq.broker.BrokerService=INFO
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=%d{HH:mm:ss.SSS} %-5p %c{1} - %m%n
"""

ACTIVEMQ_XML_TEMPLATE = """\
<beans xmlns="http://www.springframework.org/schema/beans"
       xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
       xsi:schemaLocation="http://www.springframework.org/schema/beans
         http://www.springframework.org/schema/beans/spring-beans.xsd
         http://activemq.apache.org/schema/core
         http://activemq.apache.org/schema/core/activemq-core.xsd">
  <broker xmlns="http://activemq.apache.org/schema/core" brokerName="zhmc-eda-test"
          persistent="false" useJmx="false" schedulerSupport="false"
          dataDirectory="{data_dir}" tmpDataDirectory="{tmp_dir}">
    <destinationPolicy>
      <policyMap>
        <policyEntries>
          <!-- never discard for slow non-durable subscribers: block the producer instead -->
          <policyEntry topic=">" producerFlowControl="true" memoryLimit="{topic_memory_limit}">
            <pendingMessageLimitStrategy>
              <constantPendingMessageLimitStrategy limit="-1"/>
            </pendingMessageLimitStrategy>
            <pendingSubscriberPolicy>
              <vmCursor/>
            </pendingSubscriberPolicy>
          </policyEntry>
        </policyEntries>
      </policyMap>
    </destinationPolicy>
    <plugins>
      <simpleAuthenticationPlugin anonymousAccessAllowed="false">
        <users>
          <authenticationUser username="{userid}" password="{password}" groups="users"/>
        </users>
      </simpleAuthenticationPlugin>
    </plugins>
    <sslContext>
      <sslContext keyStore="file:{keystore}" keyStorePassword="{keystore_password}"
                  keyStoreType="PKCS12"/>
    </sslContext>
    <systemUsage>
      <systemUsage sendFailIfNoSpace="false">
        <memoryUsage><memoryUsage limit="256 mb"/></memoryUsage>
        <tempUsage><tempUsage limit="1 gb"/></tempUsage>
      </systemUsage>
    </systemUsage>
    <transportConnectors>
      <!-- transport.tcpNoDelay=true (the default here): no Nagle delay on small MESSAGE frames;
           with Nagle on, paced messages showed 25-40 ms latency steps -->
      <transportConnector name="stomp" uri="stomp://{host}:{stomp_port}{transport_options}"/>
      <transportConnector name="stomp+ssl" uri="stomp+ssl://{host}:{stomp_ssl_port}{transport_options}"/>
    </transportConnectors>
  </broker>
</beans>
"""


if __name__ == "__main__":
    import sys

    if len(sys.argv) < 2 or sys.argv[1] != "publish":
        sys.exit("usage: python -m tests.support.activemq publish --port P --topic T --count N [--rate R]")
    sys.exit(_publisher_main(sys.argv[2:]))
