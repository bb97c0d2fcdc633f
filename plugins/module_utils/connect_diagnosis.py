# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""Why a STOMP connect failed, found out by one plain attempt of our own.

stomp.py raises ConnectFailedException without a cause; a refused port, an unresolvable
host and a certificate that does not verify all look the same there. One plain TCP (and
TLS) connection with the receiver's settings tells them apart. No secrets are involved.
"""

from __future__ import annotations

import socket
import ssl
from typing import Optional

from ansible_collections.zhmc.eda.plugins.module_utils import tls


def diagnose_connect_failure(host: str, port: int, use_tls: bool, ca_certs: Optional[str],
                             timeout: float) -> str:
    """A short reason why connecting to host:port fails, e.g. "connection refused"."""
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except ConnectionRefusedError:
        return "connection refused"
    except socket.timeout:
        return "connection timed out"
    except socket.gaierror as exc:
        return "cannot resolve host: %s" % exc
    except OSError as exc:
        return str(exc)
    if not use_tls:
        sock.close()
        return "the connection was closed before the STOMP handshake"
    context = tls.client_context(ca_certs)
    try:
        tls_sock = context.wrap_socket(sock, server_hostname=host)
    except ssl.SSLError as exc:
        sock.close()
        return tls.describe_tls_error(exc)
    except OSError as exc:
        sock.close()
        return "TLS handshake failed: %s" % exc
    try:
        if ca_certs is not None:
            ok, message = tls.match_hostname(tls_sock.getpeercert(), host)
            if not ok:
                return "TLS certificate verification failed: %s" % message
        return ("stomp.py could not connect, but a diagnostic connection succeeded "
                "(a transient failure?)")
    finally:
        tls_sock.close()
