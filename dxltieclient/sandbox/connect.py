"""Connecting a :class:`dxlclient.client.DxlClient` to the sandbox (or any fabric) in one line."""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

from dxlclient.client import DxlClient
from dxlclient.client_config import DxlClientConfig


def new_client(config_file: str) -> Any:
    """
    Builds a :class:`~dxlclient.client.DxlClient` from a ``dxlclient.config`` file, set to retry
    its first connection quickly (a broker that is still starting, or restarting, is reached as
    soon as it listens).

    :param config_file: the path of the client configuration
    :return: the client, not yet connected
    """
    config = DxlClientConfig.create_dxl_config_from_file(config_file)
    config.connect_retries = 10
    config.reconnect_delay = 0.2
    config.reconnect_back_off_multiplier = 1
    return DxlClient(config)


@contextlib.contextmanager
def connected_client(config_file: str) -> Iterator[Any]:
    """
    A connected :class:`~dxlclient.client.DxlClient`, destroyed on exit.

    .. code-block:: python

        from dxltieclient import TieClient
        from dxltieclient.sandbox import connected_client

        with connected_client(sandbox.config_file) as client:
            reputations = TieClient(client).get_file_reputation({"md5": md5})

    :param config_file: the path of the client configuration
    :return: a context manager yielding the connected client
    """
    client = new_client(config_file)
    try:
        client.connect()
        yield client
    finally:
        client.destroy()
