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
import ssl
from typing import Any, Callable, Iterator, List, Mapping, Optional, Tuple

from .._connection import connect_within
from ..client import TieClient
from .args import CONFIG_ENV
from .errors import EXIT_BROKER, EXIT_CONFIG, CliError

_logger = logging.getLogger(__name__)

#: The TLS cipher dxlclient asks for (it sets no other).
TLS_CIPHERS = "AES128-SHA256"

#: The configuration file used when neither ``--config`` nor the environment names one.
DEFAULT_CONFIG_FILE = "dxlclient.config"

_HOW_TO_CREATE = (
    "create one with `python -m dxlclient provisionconfig <dir> <broker host> <common name>` "
    "(see the dxlclient documentation), or start a local sandbox with "
    "`python -m dxltieclient.sandbox up`, which prints the path of a ready configuration (then "
    "dxltie finds it by itself)")


def _default_sandbox_config() -> Tuple[Optional[str], str]:
    """
    Looks for the default local sandbox (read-only).

    :return: ``(config file, what was found)``; the file is ``None`` unless the sandbox runs
    """
    try:
        from ..sandbox.sandbox import Sandbox, default_directory
    except ImportError as error:  # pragma: no cover  (the sandbox ships with the package)
        return None, "the default sandbox: unavailable ({})".format(error)
    directory = default_directory()
    label = "the default sandbox ({})".format(directory)
    config_file = os.path.join(directory, DEFAULT_CONFIG_FILE)
    if not os.path.isfile(config_file):
        return None, "{}: not set up".format(label)
    try:
        status = Sandbox(directory).status(probe=False)
    except Exception as error:  # noqa: BLE001  (any failure means: not usable)
        return None, "{}: status unreadable ({})".format(label, error)
    if not status.get("running"):
        return None, "{}: not running (start it with `python -m dxltieclient.sandbox up`)".format(
            label)
    return str(status.get("config_file") or config_file), label


def resolve_config_path(option: Optional[str], environ: Optional[Mapping[str, str]] = None,
                        use_sandbox: bool = True) -> str:
    """
    Picks the configuration file: ``--config``, else ``$DXLTIE_CONFIG``, else
    ``./dxlclient.config``, else the configuration of the default local sandbox
    (:func:`dxltieclient.sandbox.sandbox.default_directory`) when that sandbox is running.

    :param option: the ``--config`` value
    :param environ: the environment (default: :data:`os.environ`)
    :param use_sandbox: whether to fall back on the default sandbox
    :return: the path of an existing file
    :raises CliError: (exit code 3) naming the file, or listing what was tried, and how to create
        one
    """
    environ = os.environ if environ is None else environ
    if option:
        path, origin = option, "--config"
    elif environ.get(CONFIG_ENV):
        path, origin = environ[CONFIG_ENV], "${}".format(CONFIG_ENV)
    else:
        if os.path.isfile(DEFAULT_CONFIG_FILE):
            return DEFAULT_CONFIG_FILE
        tried = ["--config: not given", "${}: not set".format(CONFIG_ENV),
                 "./{}: no such file in {}".format(DEFAULT_CONFIG_FILE, os.getcwd())]
        if use_sandbox:
            sandbox_config, found = _default_sandbox_config()
            if sandbox_config is not None and os.path.isfile(sandbox_config):
                _logger.info("Using the configuration of %s: %s", found, sandbox_config)
                return sandbox_config
            tried.append(found)
        raise CliError("no DXL client configuration found. Tried, in order:\n  {}\n{}".format(
            "\n  ".join(tried), _HOW_TO_CREATE[0].upper() + _HOW_TO_CREATE[1:]), EXIT_CONFIG)
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


def _broker_addresses(config: Any) -> List[Tuple[str, int]]:
    addresses: List[Tuple[str, int]] = []
    for broker in config.brokers:
        for host in dict.fromkeys(filter(None, (broker.host_name, broker.ip_address))):
            addresses.append((str(host), int(broker.port)))
    return addresses


def tls_context(config: Any) -> ssl.SSLContext:
    """
    Builds a TLS client context with the settings dxlclient uses: the configuration's CA bundle,
    client certificate and key, TLS 1.2 with the ``AES128-SHA256`` cipher, the broker's
    certificate verified against the CA bundle (its host name is not checked, as dxlclient does
    not check it).

    :param config: the DXL client configuration
    :return: the context
    :raises CliError: (exit code 3) when the certificate files cannot be loaded
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_REQUIRED
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    steps: Tuple[Tuple[str, str, Callable[[], None]], ...] = (
        ("BrokerCertChain", config.broker_ca_bundle,
         lambda: context.load_verify_locations(config.broker_ca_bundle)),
        ("CertFile/PrivateKey", "{} / {}".format(config.cert_file, config.private_key),
         lambda: context.load_cert_chain(config.cert_file, config.private_key)),
        ("cipher", TLS_CIPHERS, lambda: context.set_ciphers(TLS_CIPHERS)))
    for setting, files, step in steps:
        try:
            step()
        except (ssl.SSLError, OSError, ValueError) as error:
            raise CliError("DXL client configuration: cannot load {} {}: {}".format(
                setting, files, _ssl_reason(error)), EXIT_CONFIG) from None
    return context


def _ssl_reason(error: BaseException) -> str:
    """The TLS reason of an error, without addresses or file contents."""
    if isinstance(error, ssl.SSLCertVerificationError):
        return str(error.verify_message or error.reason or error)
    if isinstance(error, ssl.SSLError):
        return str(error.reason or error.strerror or error).replace("_", " ").lower()
    if isinstance(error, socket.timeout):
        return "timed out"
    if isinstance(error, OSError):
        return str(error.strerror or error)
    return str(error)


def _tls_failure(config: Any, address: Tuple[str, int], error: BaseException) -> str:
    where = "{}:{}".format(*address)
    reason = _ssl_reason(error)
    if isinstance(error, ssl.SSLCertVerificationError):
        return ("{}: the broker's certificate is not trusted ({}): check that BrokerCertChain "
                "({}) holds the CA that signed the broker's certificate".format(
                    where, reason, config.broker_ca_bundle))
    if isinstance(error, ssl.SSLError):
        return ("{}: the broker refused the TLS connection ({}): check that the broker trusts "
                "the CA of CertFile ({}) and that this certificate is valid (not expired, not "
                "revoked)".format(where, reason, config.cert_file))
    return "{}: the TLS handshake failed ({})".format(where, reason)


def _handshake(context: ssl.SSLContext, address: Tuple[str, int], timeout: float) -> None:
    with socket.create_connection(address, timeout=timeout) as sock:
        with context.wrap_socket(sock, server_hostname=address[0]) as tls:
            tls.settimeout(timeout)


def probe_brokers(config: Any, timeout: float) -> None:
    """
    Checks, before dxlclient connects, that a broker of the configuration accepts TCP
    connections and completes a TLS handshake with the configuration's certificates, so that an
    unreachable broker or a TLS failure is reported at once, with its reason (dxlclient only
    retries until its timeout). Nothing secret is logged: the reasons name files, never their
    content.

    :param config: the DXL client configuration
    :param timeout: seconds allowed per address
    :raises CliError: exit code 4 when no broker answers or every TLS handshake fails; exit
        code 3 when the certificate files cannot be loaded
    """
    unreachable: List[str] = []
    tls_failures: List[str] = []
    context: Optional[ssl.SSLContext] = None
    for address in _broker_addresses(config):
        try:
            socket.create_connection(address, timeout=timeout).close()
        except OSError as error:
            unreachable.append("{}:{} ({})".format(address[0], address[1], _ssl_reason(error)))
            continue
        context = context or tls_context(config)
        try:
            _handshake(context, address, timeout)
            return
        except (ssl.SSLError, OSError) as error:
            _logger.debug("TLS handshake with %s:%s failed: %s", address[0], address[1],
                          _ssl_reason(error))
            tls_failures.append(_tls_failure(config, address, error))
    if tls_failures:
        raise CliError("TLS connection to the DXL broker failed: {}".format(
            "; ".join(tls_failures)), EXIT_BROKER)
    raise CliError("cannot reach any DXL broker: {}. Check that the broker is running (for the "
                   "sandbox: `python -m dxltieclient.sandbox status`) and that the [Brokers] "
                   "section of the configuration is right".format("; ".join(unreachable)),
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
    attempt = connect_within(client, timeout)
    if attempt.connected:
        return client
    reason = attempt.reason(timeout)
    if not attempt.pending:
        with contextlib.suppress(Exception):
            client.destroy()
    raise CliError("cannot connect to the DXL broker ({}): {}. The broker completed the TLS "
                   "handshake but not the MQTT connection: check that it is a DXL broker, that "
                   "it accepts this client (its certificate's identity), and run with -vv to "
                   "see dxlclient's log".format(_describe_brokers(config), reason), EXIT_BROKER)


@contextlib.contextmanager
def dxl_session(config_option: Optional[str], timeout: float, connect_timeout: float
                ) -> Iterator[Tuple[Any, TieClient]]:
    """
    Loads the configuration, connects, and yields the DXL client and a
    :class:`~dxltieclient.TieClient` whose response timeout is ``timeout``; disconnects on exit.

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
        yield client, tie_client
    finally:
        try:
            client.destroy()
        except Exception as error:  # noqa: BLE001  (the command's outcome matters more)
            _logger.debug("Error while disconnecting: %s", error)


@contextlib.contextmanager
def tie_session(config_option: Optional[str], timeout: float, connect_timeout: float
                ) -> Iterator[TieClient]:
    """
    Like :func:`dxl_session`, yielding only the :class:`~dxltieclient.TieClient`.

    :param config_option: the ``--config`` value
    :param timeout: seconds to wait for each TIE response
    :param connect_timeout: seconds allowed to connect
    :raises CliError: exit code 3 for configuration problems, 4 for connection problems
    """
    with dxl_session(config_option, timeout, connect_timeout) as (_, tie_client):
        yield tie_client
