"""HmcSim: the whole simulator (WS API, STOMP endpoint or external broker, admin endpoint)."""
from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from typing import TYPE_CHECKING, Any, Protocol

from hmcsim import shared
from hmcsim.admin import AdminServer
from hmcsim.certs import Certificates
from hmcsim.config import check_child, default_config, load_config, validate_config
from hmcsim.hmc import Hmc, Observer
from hmcsim.resources import CPC, LPAR, PARTITION, STATUSES, Resource
from hmcsim.stomp_server import FrameObserver, StompServer
from hmcsim.wsapi import Load, WsApiServer

if TYPE_CHECKING:
    import trustme

    from hmcsim.broker import ExternalBrokerPublisher

LOG = logging.getLogger("hmcsim")

MAX_FAULT_SECONDS = 3600


class _Stoppable(Protocol):
    def stop(self) -> None: ...


def _seconds(name: str, value: Any) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError("%s must be a number of seconds, got %r" % (name, value)) from None
    if not 0 <= value <= MAX_FAULT_SECONDS:
        raise ValueError("%s must be between 0 and %d seconds, got %r" % (name, MAX_FAULT_SECONDS, value))
    return value


class HmcSim:
    """A simulated HMC in this process. See docs/hmcsim.md."""

    def __init__(self, state_dir: str, config: dict[str, Any] | str | os.PathLike[str] | None = None,
                 host: str = "127.0.0.1", ws_port: int = 0, stomp_port: int = 0, admin_port: int = 0,
                 external_broker: dict[str, Any] | None = None, heartbeat_ms: int = 5000, job_delay: float = 0.5,
                 shared_config: str | None = None, hmc_name: str | None = None,
                 stomp_session_tickets: bool = True) -> None:
        self.state_dir = os.path.abspath(state_dir)
        if config is None:
            config = default_config()
        elif isinstance(config, (str, os.PathLike)):
            config = load_config(os.fspath(config))
        else:
            config = validate_config(config)
        self._shared_ca: trustme.CA | None = None
        if shared_config is not None:
            config, self._shared_ca = shared.load_or_create(os.fspath(shared_config), config)
        if hmc_name is not None:
            config = validate_config({**config, "hmc_name": hmc_name})
        self.config = config
        self.host = host
        # "localhost" may resolve to ::1 and 127.0.0.1; with port 0 that would be two ports.
        self._bind_host = "127.0.0.1" if host == "localhost" else host
        self._ports = (ws_port, stomp_port, admin_port)
        self.external_broker = external_broker
        self.heartbeat_ms = int(heartbeat_ms)
        self.job_delay = float(job_delay)
        # TLS 1.3 session tickets after the STOMP handshake, as a Java (JSSE) server sends them;
        # off only for clients on stomp.py 8 (docs/hmcsim.md, Decisions).
        self.stomp_session_tickets = bool(stomp_session_tickets)
        self.hmc = Hmc(config, job_delay=self.job_delay)
        self.userid, self.password = self.hmc.first_user()
        # Set by start(); the STOMP endpoint is `stomp` or, in external-broker mode, `broker`.
        self.certs: Certificates | None = None
        self.ws_load = Load()  # how the WS API answers under load (set_ws_delay, set_ws_capacity)
        self.wsapi: WsApiServer | None = None
        self.stomp: StompServer | None = None
        self.broker: ExternalBrokerPublisher | None = None
        self.admin: AdminServer | None = None
        self.info: dict[str, Any] | None = None
        self.ws_port: int | None = None
        self.stomp_port: int | None = None
        self.admin_port: int | None = None
        self.ca_file: str | None = None
        self._started = False

    @property
    def publisher(self) -> StompServer | ExternalBrokerPublisher | None:
        """Where the HMC's notifications go (None before start())."""
        return self.stomp if self.stomp is not None else self.broker

    # ------------------------------------------------------------ lifecycle
    def start(self) -> HmcSim:
        """Start all servers; return when they listen and hmcsim.json is written."""
        if self._started:
            raise RuntimeError("HmcSim is already started")
        os.makedirs(self.state_dir, exist_ok=True)
        ws_port, stomp_port, admin_port = self._ports
        try:
            self.certs = Certificates(self.state_dir, self.host, self._shared_ca)
            self.ca_file = self.certs.ca_file
            context = self.certs.server_context()
            self.wsapi = WsApiServer(self.hmc, context, self._bind_host, ws_port, self.ws_load)
            self.wsapi.start()
            self.ws_port = self.wsapi.port
            if self.external_broker:
                from hmcsim.broker import ExternalBrokerPublisher   # stomp.py only needed here
                broker_kwargs = dict(self.external_broker)
                self.hmc.refresh_after_open = float(broker_kwargs.pop("refresh_delay", 1.0))
                self.broker = ExternalBrokerPublisher(**broker_kwargs)
                self.broker.start()
                self.stomp_port = self.broker.port
                self.hmc.publisher = self.broker
            else:
                stomp_context = context
                if not self.stomp_session_tickets:
                    stomp_context = self.certs.server_context()
                    stomp_context.num_tickets = 0
                self.stomp = StompServer(self.hmc, stomp_context, self._bind_host, stomp_port, self.heartbeat_ms)
                self.stomp.start()
                self.stomp_port = self.stomp.port
                self.hmc.publisher = self.stomp
            self.admin = AdminServer(self, "127.0.0.1", admin_port)
            self.admin.start()
            self.admin_port = self.admin.port
        except BaseException:
            self._stop_servers()
            raise
        self._started = True
        info = self.info = self._build_info()
        self._write_info()
        LOG.info("hmcsim ready: WS API %s:%d, STOMP %s:%d, admin 127.0.0.1:%d",
                 self.host, self.ws_port, info["stomp_host"], self.stomp_port, self.admin_port)
        return self

    def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        self._stop_servers()
        LOG.info("hmcsim stopped")

    def _stop_servers(self) -> None:
        parts: tuple[_Stoppable | None, ...] = (self.admin, self.wsapi, self.publisher)
        for part in parts:
            if part is not None:
                try:
                    part.stop()
                except Exception:    # keep stopping the others
                    LOG.exception("error stopping %s", type(part).__name__)

    def __enter__(self) -> HmcSim:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _build_info(self) -> dict[str, Any]:
        cpcs = []
        for cpc in self.hmc.cpcs:
            children = [{"name": c.name, "object-uri": c.uri, "object-id": c.oid, "class": c.kind,
                         "os_messages": c.os_messages_supported} for c in cpc.children.values()]
            cpcs.append({"name": cpc.name, "object-uri": cpc.uri, "dpm": cpc.dpm,
                         "partitions" if cpc.dpm else "lpars": children})
        info = {
            "pid": os.getpid(),
            "hmc_name": self.hmc.hmc_name,
            "host": self.host,
            "ws_port": self.ws_port,
            "stomp_host": self.host,
            "stomp_port": self.stomp_port,
            "admin_port": self.admin_port,
            "ca_file": self.ca_file,
            "stomp_ca_file": self.ca_file,
            "userid": self.userid,
            "password": self.password,
            "audit_topic": self.hmc.audit_topic,
            "security_topic": self.hmc.security_topic,
            "cpcs": cpcs,
            "external_broker": None,
        }
        if self.external_broker and self.broker is not None:
            info["stomp_host"] = self.broker.host
            info["stomp_ca_file"] = self.external_broker.get("ca_file")
            info["external_broker"] = {"host": self.broker.host, "port": self.broker.port,
                                       "use_tls": self.broker.use_tls}
        return info

    def _write_info(self) -> None:
        """Write hmcsim.json atomically (mode 0600: it holds the password)."""
        path = os.path.join(self.state_dir, "hmcsim.json")
        fd, tmp = tempfile.mkstemp(prefix=".hmcsim-", dir=self.state_dir)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(self.info, handle, indent=2)
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    # -------------------------------------------------------------- lookups
    def _resource(self, cpc: str, name: str | None = None) -> Resource:
        if not isinstance(cpc, str) or (name is not None and not isinstance(name, str)):
            raise ValueError("cpc and name must be strings, got %r and %r" % (cpc, name))
        return self.hmc.find(cpc, name)

    def uri(self, cpc: str, name: str | None = None) -> str:
        """Object URI of a CPC or of its partition/LPAR."""
        return self._resource(cpc, name).uri

    def _stomp_only(self, what: str) -> StompServer:
        if self.stomp is None:
            raise ValueError("%s is not available in external-broker mode" % what)
        return self.stomp

    def add_observer(self, observer: Observer) -> None:
        """Call `observer(topic_name, headers, body_text)` for every notification hmcsim publishes."""
        self.hmc.observers.append(observer)

    def add_frame_observer(self, observer: FrameObserver) -> None:
        """Call `observer(connection_number, command, headers)` for every frame a STOMP client
        sends (CONNECT, SUBSCRIBE, UNSUBSCRIBE, DISCONNECT, ...; the passcode header left out).
        It runs in the STOMP server's thread and must be quick."""
        self._stomp_only("add_frame_observer").frame_observers.append(observer)

    def _refresh_info(self) -> None:
        if self._started:
            self.info = self._build_info()
            self._write_info()

    # ---------------------------------------------------------------- drive
    def emit_os_messages(self, cpc: str, name: str, messages: list[Any]) -> list[int]:
        """Emit OS messages (str, or dicts with message-text, is-held, is-priority, prompt-text, ...)."""
        return self.hmc.emit_os_messages(self._resource(cpc, name), messages)

    def set_status(self, cpc: str, name: str | None, status: str, additional_status: str | None = None) -> bool:
        """Change a status; publishes a status-change when it changed (returns whether it did)."""
        res = self._resource(cpc, name)
        allowed = STATUSES[res.kind]
        if status not in allowed:
            raise ValueError("status must be one of %s for a %s, got %r" % (", ".join(allowed), res.kind, status))
        if additional_status is not None and not isinstance(additional_status, str):
            raise ValueError("additional_status must be a string, got %r" % (additional_status,))
        return self.hmc.set_status(res, status, additional_status)

    def set_property(self, cpc: str, name: str | None, property: str, value: Any) -> None:  # noqa: A002
        """Change a (pc) property (e.g. description) and publish a property-change."""
        if not isinstance(property, str) or not property:
            raise ValueError("property must be a non-empty string, got %r" % (property,))
        self.hmc.set_property(self._resource(cpc, name), property, value)

    def _add(self, kind: str, cpc: str, name: str, status: str | None, os_messages: bool,
             os_type: str | None) -> str:
        cpc_res = self._resource(cpc)
        if (cpc_res.kind == CPC and cpc_res.dpm) != (kind == PARTITION):
            mode, method = ("in DPM mode", "add_partition") if cpc_res.dpm else ("classic", "add_lpar")
            raise ValueError("CPC %r is %s: use %s" % (cpc, mode, method))
        entry: dict[str, Any] = {"name": name, "os_messages": os_messages}
        entry["status"] = status or ("stopped" if kind == PARTITION else "not-activated")
        if os_type is not None:
            entry["os_type"] = os_type
        check_child(entry, kind == PARTITION, "%s(%s, %s)" % ("add_partition" if kind == PARTITION else "add_lpar",
                                                              cpc, name), set(cpc_res.children))
        uri = self.hmc.add_child(cpc_res, entry).uri
        self._refresh_info()
        return uri

    def add_partition(self, cpc: str, name: str, status: str | None = None, os_messages: bool = True,
                      os_type: str | None = None) -> str:
        """A new partition on a DPM CPC (default: stopped); inventory-change add. Returns its URI."""
        return self._add(PARTITION, cpc, name, status, os_messages, os_type)

    def add_lpar(self, cpc: str, name: str, status: str | None = None, os_messages: bool = True,
                 os_type: str | None = None) -> str:
        """A new LPAR on a classic CPC (default: not-activated); inventory-change add. Returns its URI."""
        return self._add(LPAR, cpc, name, status, os_messages, os_type)

    def _delete(self, kind: str, cpc: str, name: str) -> None:
        res: Resource = self._resource(cpc, name)
        if res.kind != kind:
            raise ValueError("%s on CPC %s is a %s" % (name, cpc, res.kind))
        self.hmc.delete_child(res)
        self._refresh_info()

    def delete_partition(self, cpc: str, name: str) -> None:
        """Remove a partition: its channels close; inventory-change remove."""
        self._delete(PARTITION, cpc, name)

    def delete_lpar(self, cpc: str, name: str) -> None:
        """Remove an LPAR: its channels close; inventory-change remove."""
        self._delete(LPAR, cpc, name)

    def emit_inventory_change(self, cpc: str, name: str | None = None, action: str = "add") -> None:
        self.hmc.inventory_change(self._resource(cpc, name), action)

    def publish_raw(self, topic_name: str, headers: dict[str, Any] | None = None, body: Any = None) -> None:
        """Publish anything (a malformed or empty body, odd headers) to a topic name."""
        self.hmc.publish_raw(topic_name, headers, body)

    def run_scenario(self, path_or_steps: object, background: bool = False) -> list[Any] | dict[str, Any]:
        """Run a YAML timeline (a file path or a list of steps); see docs/hmcsim.md."""
        from hmcsim.scenario import run_scenario
        return run_scenario(self, path_or_steps, background=background)

    # --------------------------------------------------------------- faults
    def drop_stomp_connections(self) -> int:
        """Abort every STOMP connection (TCP close without a frame)."""
        if self.stomp is None:
            return 0
        return self.stomp.drop_connections()

    def stall_heartbeats(self, on: bool = True) -> None:
        """Keep sockets open but send nothing (no heart-beats, no messages) until turned off."""
        if not isinstance(on, bool):
            raise ValueError("on must be true or false, got %r" % (on,))
        self._stomp_only("stall_heartbeats").stall(on)

    def expire_session(self, session_id: str | None = None) -> int:
        """Expire one session (or all): 403 reason 5 from then on, its topics are gone."""
        return self.hmc.expire_session(session_id)

    def restart(self, down_seconds: float = 0, announce: bool = True) -> int:
        """As after an HMC reboot: every session and session topic invalid, STOMP connections dropped.

        First (with `announce`) a console-shutting-down notification on every session's object
        topic, delivered before the connections drop. With down_seconds > 0 the HMC stays down
        that long: the WS API answers 503 with an HTML body and the STOMP port refuses connections.
        """
        down_seconds = _seconds("down_seconds", down_seconds)
        if not isinstance(announce, bool):
            raise ValueError("announce must be true or false, got %r" % (announce,))
        if announce:
            self.hmc.announce_shutdown()
            if self.stomp is not None:
                self.stomp.drain()
        self.hmc.restart()
        dropped = self.drop_stomp_connections()
        if down_seconds > 0:
            self.hmc.down_until = time.monotonic() + down_seconds
            if self.stomp is not None:
                self.stomp.refuse(down_seconds)
        return dropped

    def kill(self) -> None:
        """The HMC dies at once (as with SIGKILL or a power loss): established WS API and
        STOMP connections are reset, nothing listens any more. Unlike stop(), nothing is
        closed in an orderly way."""
        wsapi = self.wsapi
        if not self._started or wsapi is None:
            return
        wsapi.httpd.reset_connections()
        self.drop_stomp_connections()
        self.stop()
        wsapi.httpd.reset_connections()  # any accepted while stopping

    def boot_again(self) -> HmcSim:
        """After kill(): the HMC comes up again on the same addresses and ports, as after a
        reboot (restart()): sessions, their topics and jobs are gone; OS-message buffers,
        sequence numbers and object URIs stay."""
        if self._started:
            raise RuntimeError("HmcSim is running: kill() it first")
        self.hmc.restart()
        return self.start()

    def send_error_frame(self, message: str | None = None, body: str | None = None, close: bool = True) -> int:
        """Send an ERROR frame to every STOMP connection (then close it, like ActiveMQ)."""
        return self._stomp_only("send_error_frame").send_error_frame(message, body, close)

    def flood(self, topic_name: str, headers: dict[str, Any] | None = None, body: str = "") -> None:
        """Send one notification to every subscriber of a topic again and again, as fast as each
        connection takes it, until stop_flood() (a broker replaying a backlog, a hostile broker)."""
        raw = {str(k): str(v) for k, v in (headers or {}).items()}
        self._stomp_only("flood").flood("/topic/" + topic_name, raw, body)

    def stop_flood(self) -> int:
        """End the flood; returns how many notifications it sent."""
        return self._stomp_only("stop_flood").stop_flood()

    def flooded(self) -> int:
        """How many notifications the current (or last) flood has sent so far."""
        return self._stomp_only("flooded").flooded

    def set_delivery_delay(self, seconds: float) -> None:
        """Delay every MESSAGE frame by this many seconds (0 turns it off)."""
        self._stomp_only("set_delivery_delay").set_delivery_delay(_seconds("seconds", seconds))

    def refuse_stomp(self, seconds: float) -> None:
        """Drop every STOMP connection and refuse new ones for `seconds`."""
        self._stomp_only("refuse_stomp").refuse(_seconds("seconds", seconds))

    def set_ws_delay(self, seconds: float) -> None:
        """Wait this long before handling each WS API request (a remote or slow HMC; 0: off)."""
        self.ws_load.delay = _seconds("seconds", seconds)

    def set_ws_capacity(self, requests: int | None) -> None:
        """Answer 503 (HTML) to a WS API request that arrives while `requests` others are being
        handled (a busy HMC); None: no limit."""
        if requests is not None and (isinstance(requests, bool) or not isinstance(requests, int)
                                     or requests < 0):
            raise ValueError("requests must be an integer >= 0 or null, got %r" % (requests,))
        self.ws_load.capacity = requests

    # -------------------------------------------------------------- inspect
    def session_ids(self) -> list[str]:
        return self.hmc.session_ids()

    def stomp_connection_count(self) -> int:
        if self.stomp is None:
            return 0
        return self.stomp.connection_count()

    def open_channels(self) -> list[dict[str, Any]]:
        return self.hmc.open_channels()

    def ws_stats(self) -> dict[str, int]:
        """WS API requests received, answered busy (set_ws_capacity), and most handled at once."""
        return self.ws_load.snapshot()

    def subscriptions(self, topic_name: str) -> int:
        """How many STOMP subscriptions /topic/<topic_name> has (0 in external-broker mode)."""
        if not isinstance(topic_name, str):
            raise ValueError("topic_name must be a string, got %r" % (topic_name,))
        return 0 if self.stomp is None else self.stomp.subscription_count("/topic/" + topic_name)
