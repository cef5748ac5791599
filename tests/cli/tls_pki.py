"""Test helper: RSA keys and X.509 certificates (CA, valid, expired) for the TLS tests."""

from __future__ import annotations

import datetime
from typing import Any, Optional, Tuple

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

_DAY = datetime.timedelta(days=1)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


class Pki:
    """Makes RSA keys and certificates in a directory."""

    def __init__(self, directory: Any) -> None:
        self.directory = directory

    def issue(self, name: str, issuer: Optional[Tuple[x509.Certificate, Any]] = None,
              expired: bool = False, ca: bool = False) -> Tuple[str, str, x509.Certificate, Any]:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        now = datetime.datetime.now(datetime.timezone.utc)
        not_after = now - _DAY if expired else now + 30 * _DAY
        issuer_cert, issuer_key = issuer if issuer else (None, key)
        builder = (x509.CertificateBuilder()
                   .subject_name(_name(name))
                   .issuer_name(issuer_cert.subject if issuer_cert else _name(name))
                   .public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(now - 2 * _DAY)
                   .not_valid_after(not_after)
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        cert = builder.sign(issuer_key, hashes.SHA256())
        cert_file = self.directory / (name + ".crt")
        key_file = self.directory / (name + ".key")
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                               serialization.PrivateFormat.TraditionalOpenSSL,
                                               serialization.NoEncryption()))
        key_file.chmod(0o600)
        return str(cert_file), str(key_file), cert, key
