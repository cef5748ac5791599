"""
Bulk requests on the event loop: at most ``max_in_flight`` requests outstanding, results in input
order, one :class:`~dxltieclient.BulkResult` per item (the threaded bulk calls' own class and
per-item semantics, see :mod:`dxltieclient._bulk`).

The engine is driven by callbacks on the loop, not by a task per request: each batch of responses
handed over by the loop's bridge completes its items and sends the next ones in the same turn of
the loop, and one timer watches the oldest outstanding request (the deadlines come in sending
order). The awaiting coroutine only waits for the end.
"""

from __future__ import annotations

import asyncio
import collections
from typing import Any, Callable, Deque, Dict, Iterator, List, Optional, Tuple

from dxlclient.callbacks import ResponseCallback
from dxlclient.exceptions import WaitTimeoutException
from dxlclient.message import Request

from .. import _bulk, _errors
from ._bridge import LoopBridge, bridge_for, forget


class _Responses(ResponseCallback):
    """dxlclient's response callback for every request of a bulk call (on dxlclient's thread)."""

    def __init__(self, bridge: LoopBridge, run: "_BulkRun") -> None:
        super().__init__()
        self._bridge = bridge
        self._run = run

    def on_response(self, response: Any) -> None:
        self._bridge.post(self._run.on_response, response)


class _BulkRun:
    """The state of one bulk call; every method runs on the loop's thread."""

    def __init__(self, dxl_client: Any, topic: str, results: List[_bulk.BulkResult[Any]],
                 to_send: List[Tuple[int, bytes]], parse: Optional[Callable[[Any], Any]],
                 max_in_flight: int, timeout: float,
                 progress: Optional[_bulk.ProgressCallback]) -> None:
        self._loop = asyncio.get_running_loop()
        self._dxl_client = dxl_client
        self._topic = topic
        self._results = results
        self._items: Iterator[Tuple[int, bytes]] = iter(to_send)
        self._remaining = len(to_send)
        self._parse = parse
        self._max_in_flight = max_in_flight
        self._timeout = timeout
        self._progress = progress
        self._done_count = len(results) - len(to_send)
        self._pending: Dict[str, int] = {}  # message id -> item index
        self._deadlines: Deque[Tuple[float, str]] = collections.deque()
        self._timer: Optional[asyncio.TimerHandle] = None
        self._callback = _Responses(bridge_for(self._loop), self)
        self.finished: "asyncio.Future[None]" = self._loop.create_future()

    # -- progress of the items --------------------------------------------------------------

    def _finish(self, index: int, value: Any = None, error: Optional[BaseException] = None) -> None:
        self._results[index].value = value
        self._results[index].error = error
        self._done_count += 1
        self._remaining -= 1
        if self._progress is not None:
            self._progress(self._done_count, len(self._results))

    def start(self) -> None:
        """Reports the items already failed, and sends the first window."""
        self._guarded(self._start)

    def _start(self) -> None:
        if self._progress is not None and self._done_count:
            self._progress(self._done_count, len(self._results))
        self._fill()

    def _fill(self) -> None:
        while len(self._pending) < self._max_in_flight:
            item = next(self._items, None)
            if item is None:
                break
            self._send(*item)
        if not self._remaining and not self.finished.done():
            self.finished.set_result(None)

    def _send(self, index: int, payload: bytes) -> None:
        request = Request(self._topic)
        request.payload = payload
        message_id = request.message_id
        self._pending[message_id] = index
        self._deadlines.append((self._loop.time() + self._timeout, message_id))
        try:
            self._dxl_client.async_request(request, self._callback)
        except Exception as error:  # noqa: BLE001  (recorded as this item's failure)
            del self._pending[message_id]
            forget(self._dxl_client, message_id)
            self._finish(index, error=error)
            return
        if self._timer is None:
            self._arm()

    # -- events on the loop -------------------------------------------------------------------

    def on_response(self, response: Any) -> None:
        """A response handed over by the bridge."""
        index = self._pending.pop(response.request_message_id, None)
        if index is None:  # a late response to an item already timed out, or an aborted call
            return
        # dxlclient drops its own records once this callback returns, on its thread: drop them
        # now, so that they are gone when the call returns.
        forget(self._dxl_client, response.request_message_id)
        self._guarded(self._complete, index, response)

    def _complete(self, index: int, response: Any) -> None:
        _bulk._complete(self._finish, index, response, self._topic, self._parse)
        self._fill()

    def _arm(self) -> None:
        while self._deadlines and self._deadlines[0][1] not in self._pending:
            self._deadlines.popleft()  # answered already
        self._timer = None
        if self._deadlines and not self.finished.done():
            self._timer = self._loop.call_at(self._deadlines[0][0], self._expire)

    def _expire(self) -> None:
        self._guarded(self._expire_due)

    def _expire_due(self) -> None:
        now = self._loop.time()
        while self._deadlines and self._deadlines[0][0] <= now:
            _deadline, message_id = self._deadlines.popleft()
            index = self._pending.pop(message_id, None)
            if index is None:
                continue
            forget(self._dxl_client, message_id)
            self._finish(index, error=_errors.timeout_error(
                WaitTimeoutException("Timeout waiting for response to message: " + message_id),
                self._topic, self._timeout))
        self._fill()
        self._arm()

    def _guarded(self, step: Callable[..., None], *args: Any) -> None:
        """Runs a step; an exception it raises (from ``progress``) ends the call with it."""
        try:
            step(*args)
        except Exception as error:  # noqa: BLE001  (handed to the awaiting coroutine)
            if not self.finished.done():
                self.finished.set_exception(error)
            self.abort()
        except BaseException:  # KeyboardInterrupt, SystemExit: stop the loop as they should
            self.abort()
            raise

    def abort(self) -> None:
        """Drops every outstanding request from dxlclient's tables; later responses are ignored."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for message_id in self._pending:
            forget(self._dxl_client, message_id)
        self._pending.clear()
        self._deadlines.clear()


async def run_requests(dxl_client: Any, topic: str, results: List[_bulk.BulkResult[Any]],
                       to_send: List[Tuple[int, bytes]], parse: Optional[Callable[[Any], Any]],
                       max_in_flight: int, timeout: float,
                       progress: Optional[_bulk.ProgressCallback]) -> None:
    """
    Sends the encoded requests with at most ``max_in_flight`` outstanding and fills ``results``.

    An exception raised by ``progress`` (called on the loop) abandons the outstanding requests,
    which are dropped from dxlclient's tables, and propagates; so does a cancellation.

    :param dxl_client: the connected DXL client
    :param topic: the request topic
    :param results: one result per input item, filled in place
    :param to_send: ``(index, payload)`` of the items to send, in input order
    :param parse: turns a parsed response into the item's value (``None``: the value stays
        ``None``)
    :param max_in_flight: the most requests outstanding at once
    :param timeout: seconds to wait for each response, from its sending
    :param progress: called with ``(done, total)`` after each item completes
    """
    run = _BulkRun(dxl_client, topic, results, to_send, parse, max_in_flight, timeout, progress)
    run.start()
    try:
        await run.finished
    finally:
        run.abort()
