"""The loopback-only admin HTTP endpoint: `POST /<method>` with JSON keyword arguments.

Answers `{"result": ...}` (200) or `{"error": "..."}` (400 for bad arguments, 404 for an
unknown method). `GET /info` returns the hmcsim.json dict.
"""
from __future__ import annotations

import json
import logging
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from hmcsim.serving import ServedHttp

if TYPE_CHECKING:
    from hmcsim.sim import HmcSim

LOG = logging.getLogger("hmcsim.admin")

# The control methods of HmcSim that the endpoint exposes (nothing else is reachable).
ADMIN_METHODS = (
    "emit_os_messages", "set_status", "set_property", "publish_raw", "emit_inventory_change", "run_scenario",
    "add_partition", "add_lpar", "delete_partition", "delete_lpar",
    "drop_stomp_connections", "stall_heartbeats", "expire_session", "restart", "send_error_frame",
    "set_delivery_delay", "refuse_stomp", "set_ws_delay", "set_ws_capacity", "session_ids", "stomp_connection_count",
    "open_channels", "subscriptions", "ws_stats",
)


class _Handler(BaseHTTPRequestHandler):
    server_version = "hmcsim-admin"
    sys_version = ""
    timeout = 60
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:   # the base class names it `format`
        LOG.debug("%s", format % args)

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.rstrip("/") == "/info":
            self._send(200, {"result": self.server.sim.info})
        else:
            self._send(404, {"error": "unknown path %r; use GET /info or POST /<method>" % self.path[:80]})

    def do_POST(self) -> None:
        name = self.path.strip("/")
        if name not in ADMIN_METHODS:
            self._send(404, {"error": "unknown method %r; known: %s" % (name[:80], ", ".join(ADMIN_METHODS))})
            return
        length = self.headers.get("Content-Length", "0")
        raw = self.rfile.read(int(length)) if length.isdigit() and int(length) > 0 else b""
        try:
            kwargs = json.loads(raw) if raw.strip() else {}
        except ValueError:
            self._send(400, {"error": "the request body is not valid JSON"})
            return
        if not isinstance(kwargs, dict):
            self._send(400, {"error": "the request body must be a JSON object of keyword arguments"})
            return
        try:
            result = getattr(self.server.sim, name)(**kwargs)
        except (TypeError, ValueError, KeyError) as exc:
            self._send(400, {"error": "%s: %s" % (name, exc.args[0] if exc.args else exc)})
            return
        except Exception as exc:   # report, keep serving
            LOG.exception("admin method %s failed", name)
            self._send(500, {"error": "%s failed: %s" % (name, exc)})
            return
        self._send(200, {"result": result})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], sim: HmcSim) -> None:
        self.sim = sim
        super().__init__(address, _Handler)


class AdminServer(ServedHttp[_Server]):
    thread_name = "hmcsim-admin"

    def __init__(self, sim: HmcSim, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(_Server((host, port), sim))
