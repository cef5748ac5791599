"""
The connection state of the wrapped DXL client, as the request paths need it: is it connected,
and if not, is dxlclient reconnecting (worth a bounded wait) or not (fail at once).

dxlclient publishes a request on a disconnected client without a word (the MQTT client drops it),
so without this check every request would wait for its whole timeout.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any

#: The longest single wait on dxlclient's connection condition: the reconnect thread may give up
#: without notifying it, so the waiter looks again at least this often.
_RECHECK_SECONDS = 0.5


def is_connected(dxl_client: Any) -> bool:
    """
    Tells whether the DXL client is connected.

    :param dxl_client: the DXL client; one without a ``connected`` attribute (a test double)
        counts as connected
    :return: the client's ``connected`` flag
    """
    return bool(getattr(dxl_client, "connected", True))


def is_reconnecting(dxl_client: Any) -> bool:
    """
    Tells whether dxlclient is trying to (re)connect: its connect thread is running.

    :param dxl_client: the DXL client
    :return: ``True`` while a connect thread is alive
    """
    thread = getattr(dxl_client, "_thread", None)
    return isinstance(thread, threading.Thread) and thread.is_alive()


def wait_until_connected(dxl_client: Any, timeout: float) -> bool:
    """
    Returns at once when the client is connected, or when it is disconnected and not
    reconnecting; while dxlclient is reconnecting, waits for it, at most ``timeout`` seconds.

    :param dxl_client: the DXL client
    :param timeout: the most seconds to wait (``inf``: as long as the reconnection goes on)
    :return: whether the client is connected
    """
    if is_connected(dxl_client):
        return True
    condition = getattr(dxl_client, "_connected_wait_condition", None)
    if not isinstance(condition, threading.Condition):
        return False
    deadline = time.monotonic() + timeout if math.isfinite(timeout) else math.inf
    with condition:
        while not is_connected(dxl_client) and is_reconnecting(dxl_client):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            condition.wait(min(remaining, _RECHECK_SECONDS))
    return is_connected(dxl_client)
