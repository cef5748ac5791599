"""
The bridge between dxlclient's threads and an asyncio event loop.

dxlclient calls response and event callbacks on its own threads. :class:`LoopBridge` hands such a
call over to the loop's thread: the callback thread only appends to a list and, when the list was
empty, wakes the loop once (``call_soon_threadsafe``), so a burst of responses costs one wake-up.
Nothing here ever blocks dxlclient's threads.

:func:`request` sends one request with dxlclient's asynchronous requests and awaits its response
as a future, with a timeout. Whatever ends the wait (response, timeout, cancellation), dxlclient's
records of the request are dropped, so its pending-request tables do not grow.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import weakref
from typing import Any, Callable, List, Optional, Tuple

from dxlclient.callbacks import ResponseCallback
from dxlclient.exceptions import WaitTimeoutException
from dxlclient.message import Request

from .. import _bulk, _errors

_logger = logging.getLogger(__name__)

_Call = Tuple[Callable[..., None], Tuple[Any, ...]]

_BRIDGES: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LoopBridge]" = (
    weakref.WeakKeyDictionary())


class LoopBridge:
    """
    Runs functions posted from any thread on one event loop's thread, in the order posted.

    :param loop: the event loop
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        # A weak reference: the bridges are kept in a WeakKeyDictionary keyed by their loop.
        self._loop = weakref.ref(loop)
        self._lock = threading.Lock()
        self._calls: List[_Call] = []
        self._scheduled = False

    def post(self, function: Callable[..., None], *args: Any) -> None:
        """
        Schedules ``function(*args)`` on the loop. Safe from any thread; never blocks. When the
        loop is closed the call is dropped (and logged at debug level): nobody is waiting any more.
        """
        with self._lock:
            self._calls.append((function, args))
            if self._scheduled:
                return
            self._scheduled = True
        loop = self._loop()
        try:
            if loop is None:
                raise RuntimeError("the event loop is gone")
            loop.call_soon_threadsafe(self._run)
        except RuntimeError:  # the loop is closed: its futures can never be awaited again
            with self._lock:
                dropped = len(self._calls)
                self._calls = []
                self._scheduled = False
            _logger.debug("Dropped %d call(s) for a closed event loop", dropped)

    def _run(self) -> None:
        with self._lock:
            calls = self._calls
            self._calls = []
            self._scheduled = False
        for function, args in calls:
            try:
                function(*args)
            except Exception:  # one bad call must not lose the others
                _logger.exception("Error in a call handed to the event loop")


def bridge_for(loop: asyncio.AbstractEventLoop) -> LoopBridge:
    """
    The bridge of an event loop (one per loop, created on first use).

    :param loop: the running event loop (only ever called on its thread)
    :return: its bridge
    """
    bridge = _BRIDGES.get(loop)
    if bridge is None:
        bridge = _BRIDGES[loop] = LoopBridge(loop)
    return bridge


def set_result(future: "asyncio.Future[Any]", value: Any) -> None:
    """Completes ``future`` with ``value`` unless it is already done (cancelled, timed out)."""
    if not future.done():
        future.set_result(value)


class _PendingRequest(ResponseCallback):
    """dxlclient's response callback for one request: resolves its future on the loop."""

    def __init__(self, bridge: LoopBridge, future: "asyncio.Future[Any]") -> None:
        super().__init__()
        self._bridge = bridge
        self._future = future

    def on_response(self, response: Any) -> None:
        # On dxlclient's thread: hand over and return at once.
        self._bridge.post(set_result, self._future, response)


def _expire(future: "asyncio.Future[Any]", message_id: str, topic: str, timeout: float) -> None:
    if not future.done():
        future.set_exception(_errors.timeout_error(
            WaitTimeoutException("Timeout waiting for response to message: " + message_id),
            topic, timeout))


def forget(dxl_client: Any, message_id: str) -> None:
    """
    Drops dxlclient's records of a request (see :func:`dxltieclient._bulk._forget`). A response
    racing with it may have removed them first: that is not an error.
    """
    try:
        _bulk._forget(dxl_client, message_id)
    except KeyError:
        pass


async def request(dxl_client: Any, topic: str, payload: bytes, timeout: float) -> Any:
    """
    Sends a request with ``dxl_client.async_request`` and waits for its response on the loop.

    :param dxl_client: a connected :class:`dxlclient.client.DxlClient`
    :param topic: the request topic
    :param payload: the payload bytes
    :param timeout: seconds to wait for the response (``math.inf``: no limit)
    :return: the response message (a ``Response`` or an ``ErrorResponse``)
    :raises TieTimeoutError: when no response arrives in time
    :raises asyncio.CancelledError: when the awaiting task is cancelled
    """
    loop = asyncio.get_running_loop()
    future: "asyncio.Future[Any]" = loop.create_future()
    message = Request(topic)
    message.payload = payload
    message_id = message.message_id
    timer: Optional[asyncio.TimerHandle] = None
    if not math.isinf(timeout):
        timer = loop.call_later(timeout, _expire, future, message_id, topic, timeout)
    try:
        dxl_client.async_request(message, _PendingRequest(bridge_for(loop), future))
        return await future
    finally:
        if timer is not None:
            timer.cancel()
        forget(dxl_client, message_id)
