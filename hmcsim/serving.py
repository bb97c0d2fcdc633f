"""Run an http.server in a daemon thread: the life cycle the WS API and admin servers share."""
from __future__ import annotations

import threading
from http.server import HTTPServer
from typing import Generic, TypeVar

ServerT = TypeVar("ServerT", bound=HTTPServer)


class ServedHttp(Generic[ServerT]):
    """Starts ``httpd.serve_forever`` in a named daemon thread and stops it again.

    Subclasses pass their bound server to __init__ and set ``thread_name``.
    """

    thread_name = "hmcsim-http"

    def __init__(self, httpd: ServerT) -> None:
        self.httpd = httpd
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    def start(self) -> None:
        # A short poll interval lets stop() return quickly.
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=self.thread_name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread:
            self._thread.join(5)
