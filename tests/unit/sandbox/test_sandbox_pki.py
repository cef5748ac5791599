"""The sandbox's PKI: CA, broker and client certificates, private keys 0600, reuse."""

import ipaddress
import os
import stat

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from dxltieclient.sandbox.pki import (
    CertificateAuthority,
    certificate_common_name,
    validate_name,
    write_private_file,
)


def _load(path):
    with open(path, "rb") as pem:
        return x509.load_pem_x509_certificate(pem.read())


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    authority = CertificateAuthority(str(tmp_path_factory.mktemp("pki") / "ca"))
    assert authority.ensure() is True
    return authority


def test_ca_is_a_ca_with_a_0600_key(ca):
    cert = _load(ca.cert_file)
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert _mode(ca.key_file) == 0o600
    assert b"PRIVATE KEY" in open(ca.key_file, "rb").read()


def test_ca_is_reused(ca):
    before = open(ca.cert_file, "rb").read()
    again = CertificateAuthority(os.path.dirname(ca.cert_file))
    assert again.ensure() is False
    assert open(again.cert_file, "rb").read() == before


def test_broker_certificate_names_loopback(ca, tmp_path):
    identity = ca.issue("broker", str(tmp_path / "b.crt"), str(tmp_path / "b.key"),
                        server_names=("127.0.0.1", "localhost"))
    cert = _load(identity.cert_file)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert cert.issuer == _load(ca.cert_file).subject
    assert _mode(identity.key_file) == 0o600


def test_client_certificate_cn_is_the_client_name(ca, tmp_path):
    identity = ca.issue("alice", str(tmp_path / "a" / "client.crt"),
                        str(tmp_path / "a" / "client.key"))
    assert certificate_common_name(identity.cert_file) == "alice"
    cert = _load(identity.cert_file)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "alice"
    assert _mode(identity.key_file) == 0o600


def test_client_certificate_is_reused_unless_forced_or_renamed(ca, tmp_path):
    crt, key = str(tmp_path / "c.crt"), str(tmp_path / "c.key")
    ca.issue("carol", crt, key)
    first = open(crt, "rb").read()
    ca.issue("carol", crt, key)
    assert open(crt, "rb").read() == first
    ca.issue("carol", crt, key, force=True)
    assert open(crt, "rb").read() != first
    ca.issue("dave", crt, key)
    assert certificate_common_name(crt) == "dave"


def test_certificate_of_another_ca_is_replaced(ca, tmp_path):
    other = CertificateAuthority(str(tmp_path / "other"))
    other.ensure()
    crt, key = str(tmp_path / "e.crt"), str(tmp_path / "e.key")
    other.issue("erin", crt, key)
    ca.issue("erin", crt, key)
    assert _load(crt).issuer == _load(ca.cert_file).subject


def test_private_file_is_created_0600_even_with_a_permissive_umask(tmp_path):
    old = os.umask(0)
    try:
        path = str(tmp_path / "secret.key")
        write_private_file(path, b"secret")
        assert _mode(path) == 0o600
        # replacing a world-readable file yields a 0600 file, not the old mode
        os.chmod(path, 0o644)
        write_private_file(path, b"new secret")
        assert _mode(path) == 0o600
        assert open(path, "rb").read() == b"new secret"
    finally:
        os.umask(old)
    assert [p.name for p in tmp_path.iterdir()] == ["secret.key"]  # no temporary left


@pytest.mark.parametrize("name", ["alice", "a.b-c_d", "X1", "a" * 64])
def test_valid_names(name):
    assert validate_name(name) == name


@pytest.mark.parametrize("name", ["", "-a", "a b", "a/b", "../x", "a" * 65, "é"])
def test_invalid_names(name):
    with pytest.raises(ValueError, match="Invalid client name"):
        validate_name(name)
