"""
Finds and loads the DXL client configuration, connects to the fabric within a bounded time, and
hands out a :class:`~dxltieclient.TieClient`, turning each failure into a :class:`CliError` with
its own exit code.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
from typing import Any, Iterator, Mapping, Optional

from ..client import TieClient
from .args import CONFIG_ENV
from .errors import EXIT_BROKER, EXIT_CONFIG, CliError

_logger = logging.getLogger(__name__)

#: The configuration file used when neither ``--config`` nor the environment names one.
DEFAULT_CONFIG_FILE = "dxlclient.config"

_HOW_TO_CREATE = (
    "create one with `python -m dxlclient provisionconfig <dir> <broker host> <common name>` "
    "(see the dxlclient documentation), or start a local sandbox with "
    "`python -m dxltieclient.sandbox up`, which prints the path of a ready configuration")


def resolve_config_path(option: Optional[str], environ: Optional[Mapping[str, str]] = None
                        ) -> str:
    """
    Picks the configuration file: ``--config``, else ``$DXLTIE_CONFIG``, else
    ``./dxlclient.config``.

    :param option: the ``--config`` value
    :param environ: the environment (default: :data:`os.environ`)
    :return: the path of an existing file
    :raises CliError: (exit code 3) naming the file and how to create one
    """
    environ = os.environ if environ is None else environ
    if option:
        path, origin = option, "--config"
    elif environ.get(CONFIG_ENV):
        path, origin = environ[CONFIG_ENV], "${}".format(CONFIG_ENV)
    else:
        path, origin = DEFAULT_CONFIG_FILE, None
        if not os.path.isfile(path):
            raise CliError(
                "no DXL client configuration: pass --config FILE or set ${} (no {} in the current "
                "directory either); {}".format(CONFIG_ENV, DEFAULT_CONFIG_FILE, _HOW_TO_CREATE),
                EXIT_CONFIG)
    if not os.path.isfile(path):
        raise CliError("DXL client configuration {} (from {}) does not exist; {}".format(
            path, origin, _HOW_TO_CREATE), EXIT_CONFIG)
    return path


def load_config(path: str) -> Any:
    """
    Loads a DXL client configuration and checks that the certificate files it names exist.

    :param path: the configuration file
    :return: the :class:`dxlclient.client_config.DxlClientConfig`
    :raises CliError: (exit code 3) when the file or a file it names cannot be read
    """
    from dxlclient.client_config import DxlClientConfig

    try:
        with open(path, encoding="utf-8") as stream:
            stream.read(1)
        config = DxlClientConfig.create_dxl_config_from_file(path)
    except Exception as error:  # noqa: BLE001  (dxlclient raises many types for a bad file)
        raise CliError("cannot read the DXL client configuration {}: {}: {}; {}".format(
            path, type(error).__name__, error, _HOW_TO_CREATE), EXIT_CONFIG) from None
    for setting, file_path in (("BrokerCertChain", config.broker_ca_bundle),
                               ("CertFile", config.cert_file),
                               ("PrivateKey", config.private_key)):
        if not file_path or not os.access(file_path, os.R_OK):
            raise CliError("DXL client configuration {}: {} file {} is missing or unreadable"
                           .format(path, setting, file_path), EXIT_CONFIG)
    if not config.brokers:
        raise CliError("DXL client configuration {}: no broker in its [Brokers] section".format(
            path), EXIT_CONFIG)
    return config


def _describe_brokers(config: Any) -> str:
    return ", ".join("{}:{}".format(broker.host_name, broker.port) for broker in config.brokers)


def probe_brokers(config: Any, timeout: float) -> None:
    """
    Checks that at least one broker of the configuration accepts TCP connections, so that an
    unreachable fabric is reported at once instead of after dxlclient's retries.

    :param config: the DXL client configuration
    :param timeout: seconds allowed per address
    :raises CliError: (exit code 4) when no broker answers
    """
    problems = []
    for broker in config.brokers:
        for host in dict.fromkeys(filter(None, (broker.host_name, broker.ip_address))):
            try:
                with socket.create_connection((host, int(broker.port)), timeout=timeout):
                    return
            except OSError as error:
                problems.append("{}:{} ({})".format(host, broker.port,
                                                    error.strerror or error or "timed out"))
    raise CliError("cannot reach any DXL broker: {}. Check that the broker is running (for the "
                   "sandbox: `python -m dxltieclient.sandbox status`) and that the [Brokers] "
                   "section of the configuration is right".format("; ".join(problems)),
                   EXIT_BROKER)


def connect(config: Any, timeout: float) -> Any:
    """
    Connects a DXL client, giving up after ``timeout`` seconds.

    :param config: the DXL client configuration
    :param timeout: seconds allowed for the TCP probe, the TLS handshake and the MQTT connect
    :return: the connected :class:`dxlclient.client.DxlClient`
    :raises CliError: (exit code 4) when the connection is not established in time
    """
    from dxlclient.client import DxlClient

    if not getattr(config, "proxy_addr", None):  # through a proxy, only dxlclient can tell
        probe_brokers(config, min(timeout, 5.0))
    config.connect_retries = 1
    config.reconnect_delay = 1
    config.reconnect_delay_max = 2
    client = DxlClient(config)
    failure: list = []

    def run() -> None:
        try:
            client.connect()
        except Exception as error:  # noqa: BLE001  (reported below)
            failure.append(error)

    thread = threading.Thread(target=run, name="dxltie-connect", daemon=True)
    thread.start()
    thread.join(timeout)
    if client.connected:
        return client
    reason = failure[0] if failure else "no connection within {:g} s".format(timeout)
    if not thread.is_alive():
        with contextlib.suppress(Exception):
            client.destroy()
    raise CliError("cannot connect to the DXL broker ({}): {}. The broker answers TCP but refused "
                   "or did not complete the TLS/MQTT connection: check the certificates of the "
                   "configuration and that the broker trusts their CA".format(
                       _describe_brokers(config), reason), EXIT_BROKER)


@contextlib.contextmanager
def tie_session(config_option: Optional[str], timeout: float, connect_timeout: float
                ) -> Iterator[TieClient]:
    """
    Loads the configuration, connects, and yields a :class:`~dxltieclient.TieClient` whose
    response timeout is ``timeout``; disconnects on exit.

    :param config_option: the ``--config`` value
    :param timeout: seconds to wait for each TIE response
    :param connect_timeout: seconds allowed to connect
    :raises CliError: exit code 3 for configuration problems, 4 for connection problems
    """
    config = load_config(resolve_config_path(config_option))
    client = connect(config, connect_timeout)
    try:
        tie_client = TieClient(client)
        # The inherited setter refuses values below 30 s; the CLI lets users wait less.
        tie_client._response_timeout = timeout
        yield tie_client
    finally:
        try:
            client.destroy()
        except Exception as error:  # noqa: BLE001  (the command's outcome matters more)
            _logger.debug("Error while disconnecting: %s", error)
