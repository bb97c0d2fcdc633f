"""A throw-away CA (or a shared one) and a server certificate, written to the state directory."""
from __future__ import annotations

import ipaddress
import os
import ssl

import trustme


class Certificates:
    """CA (`ca.pem`) plus a server certificate for localhost, 127.0.0.1 and the host."""

    def __init__(self, state_dir: str, host: str = "127.0.0.1", ca: trustme.CA | None = None) -> None:
        self.ca = ca or trustme.CA(organization_name="hmcsim throw-away CA")
        names = ["localhost", "127.0.0.1", "::1"]
        if host and host not in names and host not in ("0.0.0.0", "::"):   # noqa: S104 - not a bind
            names.append(host)
        self.server_cert = self.ca.issue_cert(*names)
        self.ca_file = os.path.join(state_dir, "ca.pem")
        self.server_cert_file = os.path.join(state_dir, "server-cert.pem")
        self.ca.cert_pem.write_to_path(self.ca_file)
        self.server_cert.cert_chain_pems[0].write_to_path(self.server_cert_file)
        for path in (self.ca_file, self.server_cert_file):
            os.chmod(path, 0o644)

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        self.server_cert.configure_cert(context)
        return context


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
