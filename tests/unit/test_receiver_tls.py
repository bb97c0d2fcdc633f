"""The receiver's TLS: verified by default, CA file / directory / REQUESTS_CA_BUNDLE,
an untrusted CA and wrong names (DNS and IP SANs) refused, verify_cert=False warned about.

Runs with stomp.py 8 and 9 (`make test` runs the receiver tests in both).
"""
import logging
import shutil

import pytest
import trustme

from ansible_collections.zhmc.eda.plugins.module_utils import tls
from ansible_collections.zhmc.eda.plugins.module_utils.receiver import (
    NotificationConnectionError, NotificationReceiver)
from tests.unit.test_receiver_support import FAST_RT_CONFIG, TlsServer, sim_receiver


@pytest.fixture
def no_ca_env(monkeypatch):
    for name in tls.ENV_CA_BUNDLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def connect_error(host, port, verify_cert):
    receiver = NotificationReceiver("t", host, "u", "secret-pw", port=port,
                                    verify_cert=verify_cert, stomp_rt_config=FAST_RT_CONFIG)
    try:
        with pytest.raises(NotificationConnectionError) as info:
            receiver.connect()
    finally:
        receiver.close()
    message = str(info.value)
    assert "%s:%d" % (host, port) in message and "secret-pw" not in message
    return message


def test_untrusted_ca_is_refused(ca_file):
    server = TlsServer(trustme.CA(), "localhost", "127.0.0.1")
    try:
        message = connect_error("127.0.0.1", server.port, ca_file)
    finally:
        server.close()
    assert "TLS certificate verification failed" in message


@pytest.mark.parametrize("cert_names, host", [
    (["other.example"], "127.0.0.1"),     # IP not in the certificate at all
    (["localhost"], "127.0.0.1"),         # a DNS SAN does not cover the IP address
    (["127.0.0.1"], "localhost"),         # an IP SAN does not cover the name
    (["other.example"], "localhost"),
])
def test_wrong_name_is_refused(ca, ca_file, cert_names, host):
    server = TlsServer(ca, *cert_names)
    try:
        message = connect_error(host, server.port, ca_file)
    finally:
        server.close()
    assert "TLS certificate verification failed" in message
    assert "mismatch" in message or "does not match" in message or "not among" in message


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_names_in_the_certificate_are_accepted(hmcsim, host):
    receiver = NotificationReceiver(
        hmcsim.info["audit_topic"], host, hmcsim.userid, hmcsim.password,
        port=hmcsim.stomp_port, verify_cert=hmcsim.ca_file, stomp_rt_config=FAST_RT_CONFIG)
    try:
        receiver.connect()
        assert receiver.is_connected()
    finally:
        receiver.close()


def test_default_uses_requests_ca_bundle(hmcsim, no_ca_env):
    no_ca_env.setenv("REQUESTS_CA_BUNDLE", hmcsim.ca_file)
    receiver = sim_receiver(hmcsim, hmcsim.info["audit_topic"], verify_cert=True)
    try:
        receiver.connect()
        assert receiver.is_connected()
    finally:
        receiver.close()


def test_default_without_env_refuses_a_private_ca(hmcsim, no_ca_env):
    """verify_cert=True with no environment: the public bundle, which does not know
    hmcsim's throw-away CA."""
    message = connect_error("127.0.0.1", hmcsim.stomp_port, True)
    assert "TLS certificate verification failed" in message


def test_ca_directory(hmcsim, tmp_path):
    shutil.copy(hmcsim.ca_file, str(tmp_path / "hmc-ca.pem"))
    receiver = sim_receiver(hmcsim, hmcsim.info["audit_topic"], verify_cert=str(tmp_path))
    try:
        receiver.connect()
        assert receiver.is_connected()
    finally:
        receiver.close()


def test_verify_false_connects_with_a_warning(hmcsim, caplog):
    caplog.set_level(logging.WARNING, logger="zhmc.eda.receiver")
    receiver = sim_receiver(hmcsim, hmcsim.info["audit_topic"], verify_cert=False)
    try:
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING
                    and "verification is DISABLED" in r.getMessage()]
        assert len(warnings) == 1
        receiver.connect()
        assert receiver.is_connected()
    finally:
        receiver.close()


def test_plain_stomp_against_tls_port_fails_cleanly(hmcsim):
    receiver = NotificationReceiver(
        "t", "127.0.0.1", hmcsim.userid, hmcsim.password, port=hmcsim.stomp_port,
        use_tls=False, stomp_rt_config=FAST_RT_CONFIG)
    try:
        with pytest.raises(NotificationConnectionError) as info:
            receiver.connect()
    finally:
        receiver.close()
    assert "127.0.0.1:%d" % hmcsim.stomp_port in str(info.value)
    assert "STOMP handshake" in str(info.value)
    assert hmcsim.password not in str(info.value)
