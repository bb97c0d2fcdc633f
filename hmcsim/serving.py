"""Run an http.server in a daemon thread: the life cycle the WS API and admin servers share."""
import threading


class ServedHttp:
    """Starts ``httpd.serve_forever`` in a named daemon thread and stops it again.

    Subclasses set ``self.httpd`` (a bound server) and ``thread_name`` before start().
    """

    thread_name = "hmcsim-http"
    httpd = None
    _thread = None

    @property
    def port(self):
        return self.httpd.server_address[1]

    def start(self):
        # A short poll interval lets stop() return quickly.
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=self.thread_name, daemon=True)
        self._thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread:
            self._thread.join(5)
