# -*- coding: utf-8 -*-
# Copyright: zhmc.eda contributors
# Apache License 2.0 (see LICENSE)
"""TLS certificate verification settings shared by the STOMP receiver and the HMC client.

One setting, ``verify_cert``, means the same for HTTPS (requests ``verify=``) and for
STOMP+TLS (stomp.py ``set_ssl(ca_certs=...)``): the HMC uses one certificate for both.
"""

from __future__ import annotations

import atexit
import ipaddress
import os
import ssl
import tempfile
import threading
from typing import Any, Dict, Optional, Tuple

ENV_CA_BUNDLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")

_bundle_lock = threading.Lock()
_bundles_from_dirs: Dict[Tuple[str, float], str] = {}  # (directory, newest mtime) -> PEM file


def default_ca_bundle() -> Optional[str]:
    """Return the CA bundle requests would use: $REQUESTS_CA_BUNDLE, $CURL_CA_BUNDLE,
    then certifi's bundle, then the system's default CA file (None if there is none)."""
    for name in ENV_CA_BUNDLES:
        value = os.environ.get(name)
        if value:
            if not os.path.exists(value):
                raise ValueError(
                    "verify_cert: the CA bundle named by the environment variable %s does not "
                    "exist: %s" % (name, value))
            return value
    try:
        import certifi  # requests' own CA bundle

        return certifi.where()
    except ImportError:
        pass
    paths = ssl.get_default_verify_paths()
    return paths.cafile or paths.capath or None


def resolve_ca_certs(verify_cert: object) -> Optional[str]:
    """Translate a ``verify_cert`` setting into the CA file or directory to verify against.

    True: the bundle requests uses (REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE honoured);
    a string: that CA file or directory, which must exist; False: None, meaning
    "do not verify" (the caller logs a warning).
    """
    if verify_cert is True:
        ca_certs = default_ca_bundle()
        if ca_certs is None:
            raise ValueError(
                "verify_cert: true, but no CA bundle was found (install certifi, or set "
                "REQUESTS_CA_BUNDLE, or give verify_cert the path of a CA file)")
        return ca_certs
    if verify_cert is False:
        return None
    if isinstance(verify_cert, str):
        if not verify_cert.strip():
            raise ValueError(
                "verify_cert: expected true, false or the path of a CA file or directory, "
                "got an empty string")
        if not os.path.exists(verify_cert):
            raise ValueError(
                "verify_cert: the CA file or directory does not exist: %s" % verify_cert)
        if not (os.path.isfile(verify_cert) or os.path.isdir(verify_cert)):
            raise ValueError(
                "verify_cert: not a regular file or directory: %s" % verify_cert)
        return verify_cert
    raise ValueError(
        "verify_cert: expected true, false or the path of a CA file or directory, got %r (%s)"
        % (verify_cert, type(verify_cert).__name__))


def ca_file_for(ca_certs: Optional[str]) -> Optional[str]:
    """Return a CA *file* for ``ca_certs`` (stomp.py only loads files, not directories).

    A directory is turned into one combined PEM file of every certificate in it; the file
    is rebuilt when the directory changes and removed at exit.
    """
    if ca_certs is None or not os.path.isdir(ca_certs):
        return ca_certs
    names = sorted(os.listdir(ca_certs))
    paths = [os.path.join(ca_certs, name) for name in names]
    paths = [path for path in paths if os.path.isfile(path)]
    newest = max([os.path.getmtime(path) for path in paths] + [os.path.getmtime(ca_certs)])
    key = (os.path.realpath(ca_certs), newest)
    with _bundle_lock:
        bundle = _bundles_from_dirs.get(key)
        if bundle and os.path.exists(bundle):
            return bundle
        pems = []
        seen = set()
        for path in paths:
            real = os.path.realpath(path)
            if real in seen:  # c_rehash directories hold symlinks to the same file
                continue
            seen.add(real)
            try:
                with open(path, "r", encoding="ascii", errors="replace") as handle:
                    text = handle.read()
            except OSError:
                continue
            if "-----BEGIN CERTIFICATE-----" in text:
                pems.append(text if text.endswith("\n") else text + "\n")
        if not pems:
            raise ValueError(
                "verify_cert: the CA directory holds no PEM certificates: %s" % ca_certs)
        with tempfile.NamedTemporaryFile(
                mode="w", prefix="zhmc-eda-ca-", suffix=".pem", delete=False) as bundle_file:
            bundle_file.write("".join(pems))
        _bundles_from_dirs[key] = bundle_file.name
        atexit.register(_remove_quietly, bundle_file.name)
        return bundle_file.name


def _remove_quietly(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


def client_context(ca_certs: Optional[str]) -> ssl.SSLContext:
    """An SSLContext that verifies the peer against ``ca_certs`` (file or directory) and
    checks the hostname; with ``ca_certs`` None, one that verifies nothing."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if ca_certs is None:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif os.path.isdir(ca_certs):
        context.load_verify_locations(capath=ca_certs)
    else:
        context.load_verify_locations(cafile=ca_certs)
    return context


def _dns_name_matches(pattern: str, hostname: str) -> bool:
    """RFC 6125: case-insensitive; a wildcard only as the whole left-most label."""
    pattern = pattern.lower().rstrip(".")
    hostname = hostname.lower().rstrip(".")
    if pattern == hostname:
        return True
    if not pattern.startswith("*."):
        return False
    pattern_rest = pattern[2:]
    host_first, _dot, host_rest = hostname.partition(".")
    return bool(host_first) and host_rest == pattern_rest and "*" not in pattern_rest


def match_hostname(cert: Optional[Dict[str, Any]], hostname: str
                   ) -> Tuple[bool, Optional[str]]:
    """Check ``hostname`` (a DNS name or an IP address) against the subjectAltName entries
    of ``cert`` (a dict as returned by ``SSLSocket.getpeercert()``).

    Returns ``(ok, message)``, the signature of stomp.py's ``cert_validator``. An IP address
    must be listed as an IP SAN; names are matched against DNS SANs; the subject CN is used
    only when the certificate has no SAN at all (as Python's old ``ssl.match_hostname``).
    """
    if not cert:
        return False, "the server sent no certificate (or it was not verified)"
    try:
        address = ipaddress.ip_address(hostname.strip("[]"))
    except ValueError:
        address = None
    sans = cert.get("subjectAltName", ())
    dns_names = [value for kind, value in sans if kind == "DNS"]
    ip_values = [value for kind, value in sans if kind == "IP Address"]
    if address is not None:
        for value in ip_values:
            try:
                if ipaddress.ip_address(value.strip()) == address:
                    return True, None
            except ValueError:
                continue
        return False, "IP address %s is not among the certificate's IP SANs %s" % (
            hostname, ip_values)
    for name in dns_names:
        if _dns_name_matches(name, hostname):
            return True, None
    if not sans:
        for rdn in cert.get("subject", ()):
            for key, value in rdn:
                if key == "commonName" and _dns_name_matches(value, hostname):
                    return True, None
    return False, "hostname %s does not match the certificate's names %s" % (
        hostname, dns_names or "(no DNS SAN)")


def describe_tls_error(exc: ssl.SSLError) -> str:
    """A short, secret-free description of an SSL error for connect-failure messages."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        detail = getattr(exc, "verify_message", None) or str(exc)
        return "TLS certificate verification failed: %s" % detail
    reason = getattr(exc, "reason", None)
    if reason:
        return "TLS handshake failed: %s" % reason
    return "TLS handshake failed: %s" % exc
