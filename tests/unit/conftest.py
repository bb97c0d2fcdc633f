"""Fixtures shared by the unit tests."""
import pytest
import trustme


@pytest.fixture(scope="module")
def ca():
    """A throw-away certificate authority (trustme)."""
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca, tmp_path_factory):
    """The PEM file of that CA's certificate."""
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)
