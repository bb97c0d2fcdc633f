# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""The HMC client's errors, and how a failed exchange becomes one of them.

An HTTP error answer becomes `HMCError` (`HMCAuthError` for 401 and for 403 other than
reason 1); a requests/urllib3 failure becomes `HMCConnectionError` with its innermost
cause and, for a refused certificate, a hint at the options users set. Secrets are
blanked out of every message here.

The guarded import of requests lives here, the lowest module that needs it: the
translation below uses requests' exception classes, and hmc_http imports requests only
when `HAS_REQUESTS` says it is there.
"""

from __future__ import annotations

import re
import ssl
from typing import TYPE_CHECKING, Iterable, Optional, Tuple

from ansible_collections.zhmc.eda.plugins.module_utils.errors import ZhmcEdaError, blank_secrets

try:
    import requests
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR: Optional[ImportError] = None
except ImportError as _exc:  # pragma: no cover - exercised by ansible-test's import test
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = _exc

if TYPE_CHECKING:
    from requests import Response

# What a refused HMC certificate tells the user to do, in the options they set
# (hmc_auth of the source and the modules).
CERT_HINT = ("give the HMC's CA certificate in hmc_auth.ca_certs (or set hmc_auth.verify: false "
             "to skip the check, for tests only)")
# Reasons the client gives answers that carry none (as zhmcclient does).
REASON_API_NOT_ENABLED = 900
REASON_UNKNOWN = 999
MAX_ERROR_TEXT = 300


class HMCClientError(ZhmcEdaError):
    """Base class of the errors this client raises (HMC answers and connection failures)."""


class HMCError(HMCClientError):
    """The HMC answered with an HTTP error status.

    str() reads like ``HTTP 409 reason 331 on POST /api/partitions/x/operations/...: <msg>``.
    It never carries request bodies, headers or secrets.
    """

    def __init__(self, http_status: int, reason: Optional[int], message: str,
                 method: Optional[str] = None, uri: Optional[str] = None) -> None:
        self.http_status = http_status
        self.reason = reason
        self.message = message
        self.method = method
        self.uri = uri
        super().__init__(self._text())

    def _text(self) -> str:
        where = ""
        if self.method or self.uri:
            where = " on %s %s" % (self.method or "?", self.uri or "?")
        return "HTTP %s reason %s%s: %s" % (self.http_status, self.reason, where, self.message)

    def __str__(self) -> str:
        return self._text()


class HMCAuthError(HMCError):
    """Logon failed, or the session is not valid and cannot be renewed (401, 403 except reason 1)."""


class HMCConnectionError(HMCClientError):
    """The HMC could not be reached or did not answer in time (names host:port and the cause).

    ``timed_out`` is True when the HMC did not connect or answer within the timeout (it may
    be busy), False when it refused or dropped the connection (it may be down).
    """

    def __init__(self, message: str, host: Optional[str] = None, port: Optional[int] = None,
                 method: Optional[str] = None, uri: Optional[str] = None,
                 timed_out: bool = False) -> None:
        self.host = host
        self.port = port
        self.method = method
        self.uri = uri
        self.timed_out = timed_out
        super().__init__(message)


# ------------------------------------------------------------------ requests/urllib3 failures
def innermost(exc: BaseException) -> BaseException:
    """The innermost exception wrapped in a requests/urllib3 error."""
    cause = exc
    seen = set()
    while True:
        inner = None
        if cause.args and isinstance(cause.args[0], BaseException):
            inner = cause.args[0]
        inner = getattr(cause, "reason", None) if inner is None else inner
        if not isinstance(inner, BaseException) or id(inner) in seen:
            break
        seen.add(id(inner))
        cause = inner
    return cause


def root_cause(exc: BaseException) -> str:
    """The innermost reason of a requests/urllib3 error, without URLs and pool noise."""
    cause = innermost(exc)
    text = str(cause)
    # urllib3 puts "<connection object at 0x..>: " in front of the useful part.
    text = re.sub(r"<[^>]*object at 0x[0-9a-f]+>:\s*", "", text)
    text = re.sub(r"^\w*Connection\(host=[^)]*\):\s*", "", text)
    return text or type(cause).__name__


def is_certificate_refused(exc: BaseException) -> bool:
    """True when the HMC's certificate failed verification (retrying will not help)."""
    return isinstance(innermost(exc), ssl.SSLCertVerificationError)


def connection_error(exc: BaseException, host: str, port: int, method: str, uri: str,
                     timeout: Tuple[float, float], secrets: Iterable[Optional[str]]
                     ) -> HMCConnectionError:
    """The `HMCConnectionError` for a requests failure of `method uri` on `host:port`."""
    if is_certificate_refused(exc):
        cause = "TLS certificate verification failed (%s); %s" % (root_cause(exc), CERT_HINT)
    elif isinstance(exc, requests.exceptions.SSLError):
        cause = "TLS handshake failed (%s)" % root_cause(exc)
    elif isinstance(exc, requests.exceptions.ConnectTimeout):
        cause = "no connection within %s s" % timeout[0]
    elif isinstance(exc, requests.exceptions.ReadTimeout):
        cause = "no answer within %s s" % timeout[1]
    else:
        cause = root_cause(exc)
    message = "HMC %s:%s: %s %s failed: %s" % (host, port, method, uri, cause)
    return HMCConnectionError(blank_secrets(message, list(secrets)), host=host, port=port,
                              method=method, uri=uri,
                              timed_out=isinstance(exc, requests.exceptions.Timeout))


# ------------------------------------------------------------------ HTTP error answers
def html_text(body: str) -> str:
    """Readable text of an HTML error page, cut to a sensible length."""
    text = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", body)
    text = re.sub(r"(?s)<[^>]+>", " ", text)
    text = re.sub(r"\s+", " ", text).strip()
    return text[:MAX_ERROR_TEXT] or "(empty HTML page)"


def answer_error(response: Response, method: str, uri: str,
                 secrets: Iterable[Optional[str]]) -> HMCError:
    """The `HMCError` (or `HMCAuthError`) for an HTTP error answer (status >= 400)."""
    status = response.status_code
    reason, message = None, None
    content_type = response.headers.get("Content-Type", "")
    text = response.text or ""
    if "json" in content_type or text.lstrip().startswith("{"):
        try:
            error = response.json()
        except ValueError:
            error = None
        if isinstance(error, dict):
            reason = error.get("reason")
            message = error.get("message")
    if reason is None and message is None:
        # Some 5xx answers are HTML pages; name them as zhmcclient does.
        reason = REASON_API_NOT_ENABLED if re.search(
            r"Web Services API is not enabled", text, re.I) else REASON_UNKNOWN
        message = (html_text(text) if "<" in text else text.strip()[:MAX_ERROR_TEXT]) or \
            response.reason or "no error details"
    message = blank_secrets(message or "", list(secrets))
    if status == 401 or (status == 403 and reason != 1):
        return HMCAuthError(status, reason, message, method, uri)
    return HMCError(status, reason, message, method, uri)
