"""
The sandbox's public-key infrastructure: a certificate authority, the broker's certificate and one
certificate per DXL client, whose common name (CN) is the client's name.

The broker identifies clients by the CN of their certificate (Mosquitto's
``use_identity_as_username``), so the CN is what the authorization rules (the ACL) are keyed on.

Private keys are created with mode ``0600`` from the start (never loosened, never logged). Existing
files are reused, so a sandbox keeps its identities across ``up`` / ``down`` cycles.
"""

from __future__ import annotations

import datetime
import ipaddress
import logging
import os
import re
from dataclasses import dataclass
from typing import Optional, Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .paths import make_private_dir

_logger = logging.getLogger(__name__)

#: Certificate authority files, relative to the PKI directory.
CA_CERT_NAME = "ca.crt"
CA_KEY_NAME = "ca.key"

_KEY_SIZE = 2048  # RSA: dxlclient insists on cipher AES128-SHA256 (RSA key exchange)
_CA_DAYS = 3650
_LEAF_DAYS = 1825
_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class Identity:
    """
    A certificate and its private key on disk.

    :param cert_file: the PEM certificate
    :param key_file: the PEM private key (mode ``0600``)
    """

    cert_file: str
    key_file: str


def validate_name(name: str) -> str:
    """
    Checks that a client name can be a certificate CN, an ACL user name and a directory name.

    :param name: the client name
    :return: the name, unchanged
    :raises ValueError: if the name has characters other than letters, digits, ``_``, ``.`` and
        ``-``, does not start with a letter or digit, or is longer than 64 characters
    """
    if not isinstance(name, str) or not _NAME_PATTERN.match(name):
        raise ValueError(
            "Invalid client name {!r}: use 1 to 64 letters, digits, '_', '.' or '-', starting "
            "with a letter or digit".format(name)
        )
    return name


def write_private_file(path: str, data: bytes) -> None:
    """
    Writes a file readable only by its owner (mode ``0600``), atomically.

    The file is created with mode ``0600`` (never widened, then narrowed), and replaces any previous
    file at ``path`` only once it is complete.

    :param path: the file to write
    :param data: the content
    """
    directory = os.path.dirname(os.path.abspath(path))
    make_private_dir(directory)
    tmp_path = os.path.join(directory, ".{}.{}.tmp".format(os.path.basename(path), os.getpid()))
    if os.path.exists(tmp_path):
        os.unlink(tmp_path)
    fd = os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(data)
        os.replace(tmp_path, path)
    except BaseException:
        if os.path.exists(tmp_path):
            os.unlink(tmp_path)
        raise


def write_public_file(path: str, data: bytes) -> None:
    """
    Writes a non-secret file (certificates, configuration) atomically, mode ``0644``.

    :param path: the file to write
    :param data: the content
    """
    directory = os.path.dirname(os.path.abspath(path))
    make_private_dir(directory)
    tmp_path = path + ".tmp"
    fd = os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    with os.fdopen(fd, "wb") as tmp:
        tmp.write(data)
    os.replace(tmp_path, path)


def write_public_text_if_changed(path: str, text: str) -> bool:
    """
    Writes a non-secret text file (see :func:`write_public_file`) unless it already holds
    exactly ``text``.

    :param path: the file
    :param text: its content
    :return: whether the file was written
    """
    try:
        with open(path, encoding="utf-8") as existing:
            if existing.read() == text:
                return False
    except OSError:
        pass
    write_public_file(path, text.encode("utf-8"))
    return True


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=_KEY_SIZE)


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _load_cert(path: str) -> x509.Certificate:
    with open(path, "rb") as cert_file:
        return x509.load_pem_x509_certificate(cert_file.read())


def _load_key(path: str) -> rsa.RSAPrivateKey:
    with open(path, "rb") as key_file:
        data = key_file.read()
    try:  # our own keys: skip the slow (50 ms) RSA consistency check, cryptography >= 39
        key = serialization.load_pem_private_key(
            data, password=None, unsafe_skip_rsa_key_validation=True
        )
    except TypeError:
        key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("{} is not an RSA private key".format(path))
    return key


def _usable(cert_file: str, key_file: str, issuer: Optional[x509.Certificate] = None) -> bool:
    """Whether an existing certificate and key can be reused (present, valid, from ``issuer``)."""
    if not (os.path.isfile(cert_file) and os.path.isfile(key_file)):
        return False
    try:
        cert = _load_cert(cert_file)
        key = _load_key(key_file)
    except (OSError, ValueError) as ex:
        _logger.warning("Replacing unreadable certificate %s: %s", cert_file, ex)
        return False
    if _not_valid_after(cert) <= _now() + datetime.timedelta(days=1):
        return False
    public_key = cert.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey) or (
        public_key.public_numbers() != key.public_key().public_numbers()
    ):
        return False
    if issuer is not None and cert.issuer != issuer.subject:
        return False
    verify = getattr(cert, "verify_directly_issued_by", None)  # cryptography >= 40
    if issuer is not None and verify is not None:
        try:
            verify(issuer)
        except Exception:  # noqa: BLE001
            return False
    return True


def _not_valid_after(cert: x509.Certificate) -> datetime.datetime:
    value = getattr(cert, "not_valid_after_utc", None)  # cryptography >= 42
    if value is None:
        value = cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)
    return value


class CertificateAuthority:
    """
    The sandbox's certificate authority, kept in a directory (``ca.crt`` and ``ca.key``).

    :param directory: where the CA files live; created on :meth:`ensure`
    """

    def __init__(self, directory: str) -> None:
        self._directory = os.path.abspath(directory)
        self._cert: Optional[x509.Certificate] = None
        self._key: Optional[rsa.RSAPrivateKey] = None

    @property
    def cert_file(self) -> str:
        """The CA certificate (PEM): the ``BrokerCertChain`` of every client configuration."""
        return os.path.join(self._directory, CA_CERT_NAME)

    @property
    def key_file(self) -> str:
        """The CA private key (PEM, mode ``0600``)."""
        return os.path.join(self._directory, CA_KEY_NAME)

    def ensure(self) -> bool:
        """
        Loads the CA, creating it first if it does not exist yet (or is unusable).

        :return: ``True`` if a new CA was created (every certificate it signed before is then stale)
        """
        created = False
        if not _usable(self.cert_file, self.key_file):
            _logger.info("Creating the sandbox certificate authority in %s", self._directory)
            key = _new_key()
            name = x509.Name([
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "dxltieclient sandbox"),
                x509.NameAttribute(NameOID.COMMON_NAME, "dxltieclient sandbox CA"),
            ])
            now = _now()
            cert = (
                x509.CertificateBuilder()
                .subject_name(name)
                .issuer_name(name)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=_CA_DAYS))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(
                    x509.KeyUsage(
                        digital_signature=True, content_commitment=False, key_encipherment=False,
                        data_encipherment=False, key_agreement=False, key_cert_sign=True,
                        crl_sign=True, encipher_only=False, decipher_only=False,
                    ),
                    critical=True,
                )
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
                .sign(key, hashes.SHA256())
            )
            write_private_file(self.key_file, _key_pem(key))
            write_public_file(self.cert_file, cert.public_bytes(serialization.Encoding.PEM))
            created = True
        self._cert = _load_cert(self.cert_file)
        self._key = _load_key(self.key_file)
        return created

    def _loaded(self) -> "tuple[x509.Certificate, rsa.RSAPrivateKey]":
        if self._cert is None or self._key is None:
            self.ensure()
        assert self._cert is not None and self._key is not None
        return self._cert, self._key

    def issue(
        self,
        common_name: str,
        cert_file: str,
        key_file: str,
        server_names: Sequence[str] = (),
        force: bool = False,
    ) -> Identity:
        """
        Issues a certificate (or reuses the one on disk if it is still valid and signed by this CA).

        :param common_name: the certificate's CN (a client's name, which the ACL is keyed on)
        :param cert_file: where to write the certificate (PEM)
        :param key_file: where to write the private key (PEM, mode ``0600``)
        :param server_names: for a server certificate, its DNS names and IP addresses (SAN); empty
            for a client certificate
        :param force: issue a new certificate even if a usable one exists
        :return: the certificate and key files
        """
        ca_cert, ca_key = self._loaded()
        identity = Identity(os.path.abspath(cert_file), os.path.abspath(key_file))
        if not force and _usable(identity.cert_file, identity.key_file, ca_cert):
            existing = _load_cert(identity.cert_file)
            cns = existing.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
            if cns and cns[0].value == common_name:
                return identity
        _logger.info("Issuing a certificate for %s", common_name)
        key = _new_key()
        now = _now()
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "dxltieclient sandbox"),
                x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            ]))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=_LEAF_DAYS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True, content_commitment=False, key_encipherment=True,
                    data_encipherment=False, key_agreement=False, key_cert_sign=False,
                    crl_sign=False, encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH if server_names
                     else ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
            )
        )
        if server_names:
            alt_names: "list[x509.GeneralName]" = []
            for server_name in server_names:
                try:
                    alt_names.append(x509.IPAddress(ipaddress.ip_address(server_name)))
                except ValueError:
                    alt_names.append(x509.DNSName(server_name))
            builder = builder.add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        cert = builder.sign(ca_key, hashes.SHA256())
        write_private_file(identity.key_file, _key_pem(key))
        write_public_file(identity.cert_file, cert.public_bytes(serialization.Encoding.PEM))
        return identity


def certificate_common_name(cert_file: str) -> str:
    """
    Reads the common name (CN) of a PEM certificate.

    :param cert_file: the certificate file
    :return: the CN
    :raises ValueError: if the certificate has no CN
    """
    cns = _load_cert(cert_file).subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not cns:
        raise ValueError("{} has no common name".format(cert_file))
    value = cns[0].value
    return value if isinstance(value, str) else value.decode("utf-8")
