"""
Writes dxlclient configuration files, in the format ``python -m dxlclient provisionconfig`` writes
(loadable with :meth:`dxlclient.client_config.DxlClientConfig.create_dxl_config_from_file`).
"""

from __future__ import annotations

import os

from .pki import write_public_text_if_changed

#: The broker's address: the sandbox listens on the loopback interface only.
BROKER_HOST = "127.0.0.1"


def config_text(ca_file: str, cert_file: str, key_file: str, broker_id: str, port: int) -> str:
    """
    Generates the content of a ``dxlclient.config`` file for one broker on ``127.0.0.1``.

    :param ca_file: the CA bundle that signed the broker's certificate (``BrokerCertChain``)
    :param cert_file: the client's certificate (``CertFile``)
    :param key_file: the client's private key (``PrivateKey``)
    :param broker_id: the broker's unique id
    :param port: the broker's TLS port
    :return: the file's content (paths made absolute)
    """
    return (
        "[Certs]\n"
        "BrokerCertChain={}\n"
        "CertFile={}\n"
        "PrivateKey={}\n"
        "\n"
        "[Brokers]\n"
        "{}={};{};{};{}\n"
        "\n"
        "[BrokersWebSockets]\n"
        "\n"
        "[General]\n"
        "UseWebSockets=false\n"
    ).format(
        os.path.abspath(ca_file),
        os.path.abspath(cert_file),
        os.path.abspath(key_file),
        broker_id,
        broker_id,
        int(port),
        BROKER_HOST,
        BROKER_HOST,
    )


def write_config(
    path: str, ca_file: str, cert_file: str, key_file: str, broker_id: str, port: int
) -> str:
    """
    Writes a ``dxlclient.config`` file (see :func:`config_text`), unless it already has that
    content.

    :param path: the file to write
    :param ca_file: the CA bundle (``BrokerCertChain``)
    :param cert_file: the client's certificate
    :param key_file: the client's private key
    :param broker_id: the broker's unique id
    :param port: the broker's TLS port
    :return: the absolute path of the file
    """
    path = os.path.abspath(path)
    write_public_text_if_changed(path, config_text(ca_file, cert_file, key_file, broker_id, port))
    return path
