"""tls.py: verify_cert resolution, CA directories, hostname/IP matching, real handshakes."""
import os
import socket
import ssl

import pytest
import trustme

from ansible_collections.zhmc.eda.plugins.module_utils import tls
from tests.unit.test_receiver_support import TlsServer


@pytest.fixture
def clean_env(monkeypatch):
    for name in tls.ENV_CA_BUNDLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


# ----------------------------------------------------------------------------- resolve_ca_certs

def test_true_uses_requests_ca_bundle(clean_env, ca_file):
    clean_env.setenv("REQUESTS_CA_BUNDLE", ca_file)
    clean_env.setenv("CURL_CA_BUNDLE", "/nonexistent-curl.pem")
    assert tls.resolve_ca_certs(True) == ca_file


def test_true_uses_curl_ca_bundle_second(clean_env, ca_file):
    clean_env.setenv("CURL_CA_BUNDLE", ca_file)
    assert tls.resolve_ca_certs(True) == ca_file


def test_true_falls_back_to_the_bundle_requests_uses(clean_env):
    import requests.certs

    assert tls.resolve_ca_certs(True) == requests.certs.where()


def test_env_bundle_that_does_not_exist_is_named(clean_env):
    clean_env.setenv("REQUESTS_CA_BUNDLE", "/nonexistent/bundle.pem")
    with pytest.raises(ValueError) as info:
        tls.resolve_ca_certs(True)
    assert "REQUESTS_CA_BUNDLE" in str(info.value) and "/nonexistent/bundle.pem" in str(info.value)


def test_false_means_no_verification():
    assert tls.resolve_ca_certs(False) is None


def test_string_file_and_directory(ca_file):
    assert tls.resolve_ca_certs(ca_file) == ca_file
    directory = os.path.dirname(ca_file)
    assert tls.resolve_ca_certs(directory) == directory


@pytest.mark.parametrize("value, fragment", [
    ("/nonexistent/ca.pem", "/nonexistent/ca.pem"),
    ("", "empty"),
    (1, "expected true, false or the path"),
    (None, "expected true, false or the path"),
    ("yes-but-not-a-path", "does not exist"),
])
def test_bad_values_name_the_option(value, fragment):
    with pytest.raises(ValueError) as info:
        tls.resolve_ca_certs(value)
    assert "verify_cert" in str(info.value) and fragment in str(info.value)


# ----------------------------------------------------------------------------- CA directories

def test_ca_directory_becomes_one_loadable_file(tmp_path):
    first, second = trustme.CA(), trustme.CA()
    first.cert_pem.write_to_path(str(tmp_path / "first.pem"))
    second.cert_pem.write_to_path(str(tmp_path / "second.crt"))
    os.symlink(str(tmp_path / "first.pem"), str(tmp_path / "abcd1234.0"))  # c_rehash style
    (tmp_path / "README").write_text("not a certificate\n")
    bundle = tls.ca_file_for(str(tmp_path))
    assert os.path.isfile(bundle)
    text = open(bundle).read()
    assert text.count("BEGIN CERTIFICATE") == 2
    context = ssl.create_default_context(cafile=bundle)
    assert len(context.get_ca_certs()) == 2
    assert tls.ca_file_for(str(tmp_path)) == bundle          # cached while unchanged
    assert tls.ca_file_for(str(tmp_path / "first.pem")) == str(tmp_path / "first.pem")
    assert tls.ca_file_for(None) is None


def test_ca_directory_without_certificates(tmp_path):
    (tmp_path / "x.txt").write_text("nothing\n")
    with pytest.raises(ValueError) as info:
        tls.ca_file_for(str(tmp_path))
    assert str(tmp_path) in str(info.value)


# ----------------------------------------------------------------------------- match_hostname

def _cert(dns=(), ips=(), cn=None):
    sans = tuple(("DNS", name) for name in dns) + tuple(("IP Address", ip) for ip in ips)
    cert = {"subjectAltName": sans} if sans else {}
    if cn:
        cert["subject"] = ((("commonName", cn),),)
    return cert


@pytest.mark.parametrize("cert, host, ok", [
    (_cert(dns=["hmc.example.com"]), "hmc.example.com", True),
    (_cert(dns=["HMC.Example.com"]), "hmc.example.COM", True),
    (_cert(dns=["*.example.com"]), "hmc.example.com", True),
    (_cert(dns=["*.example.com"]), "a.hmc.example.com", False),
    (_cert(dns=["*.example.com"]), "example.com", False),
    (_cert(dns=["hmc.example.com"]), "evil.example.com", False),
    (_cert(ips=["10.1.2.3"]), "10.1.2.3", True),
    (_cert(ips=["10.1.2.3"]), "10.1.2.4", False),
    (_cert(dns=["10.1.2.3"]), "10.1.2.3", False),      # an IP must be an IP SAN
    (_cert(ips=["fd00::1"]), "fd00:0:0::1", True),
    (_cert(ips=["fd00::1"]), "[fd00::1]", True),
    (_cert(dns=["localhost"]), "127.0.0.1", False),
    (_cert(cn="hmc.example.com"), "hmc.example.com", True),   # CN only without any SAN
    (dict(_cert(dns=["other.example.com"]), subject=((("commonName", "hmc.example.com"),),)),
     "hmc.example.com", False),
    ({}, "hmc.example.com", False),
])
def test_match_hostname(cert, host, ok):
    result, message = tls.match_hostname(cert, host)
    assert result is ok
    assert (message is None) is ok


# ----------------------------------------------------------------------------- real handshakes

@pytest.mark.parametrize("cert_names, host, ok", [
    (["localhost", "127.0.0.1"], "127.0.0.1", True),
    (["localhost", "127.0.0.1"], "localhost", True),
    (["other.example"], "127.0.0.1", False),
    (["127.0.0.1"], "localhost", False),
    (["localhost"], "127.0.0.1", False),
])
def test_client_context_checks_names(ca, ca_file, cert_names, host, ok):
    server = TlsServer(ca, *cert_names)
    try:
        raw = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        context = tls.client_context(ca_file)
        if ok:
            with context.wrap_socket(raw, server_hostname=host) as sock:
                assert tls.match_hostname(sock.getpeercert(), host) == (True, None)
        else:
            with pytest.raises(ssl.SSLCertVerificationError) as info:
                context.wrap_socket(raw, server_hostname=host)
            raw.close()
            assert "certificate verification failed" in tls.describe_tls_error(info.value)
    finally:
        server.close()


def test_client_context_refuses_other_ca(ca_file):
    server = TlsServer(trustme.CA(), "localhost", "127.0.0.1")
    try:
        raw = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        with pytest.raises(ssl.SSLCertVerificationError):
            tls.client_context(ca_file).wrap_socket(raw, server_hostname="127.0.0.1")
        raw.close()
    finally:
        server.close()


def test_client_context_without_ca_verifies_nothing():
    server = TlsServer(trustme.CA(), "other.example")
    try:
        raw = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        with tls.client_context(None).wrap_socket(raw, server_hostname="127.0.0.1") as sock:
            assert sock.version() is not None
    finally:
        server.close()
