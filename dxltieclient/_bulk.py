"""
Pipelined bulk requests: many TIE requests in flight at once over dxlclient's asynchronous requests,
with results kept in input order and failures reported per item.

Used by :meth:`dxltieclient.client.TieClient.get_file_reputations` and its siblings.
"""

from __future__ import annotations

import collections
import math
import threading
import time
from typing import Any, Callable, Deque, Dict, Generic, List, Optional, Sequence, Tuple, TypeVar

from dxlclient.callbacks import ResponseCallback
from dxlclient.exceptions import DxlException, WaitTimeoutException
from dxlclient.message import Message, Request

from . import _errors, _wire

#: The default number of requests a bulk call keeps in flight.
DEFAULT_MAX_IN_FLIGHT = 64

ItemT = TypeVar("ItemT")

#: Called after each item completes with ``(done, total)``.
ProgressCallback = Callable[[int, int], None]


class BulkResult(Generic[ItemT]):
    """
    The outcome of one item of a bulk call.

    :param index: the item's position in the input
    :param item: the item as given
    :param value: what the single call would have returned (``None`` for setters and failures)
    :param error: the exception the single call would have raised, or ``None`` on success
    """

    __slots__ = ("index", "item", "value", "error")

    def __init__(self, index: int, item: ItemT, value: Any = None,
                 error: Optional[BaseException] = None) -> None:
        #: The item's position in the input.
        self.index = index
        #: The item as given.
        self.item = item
        #: The result (e.g. the reputations dict of a lookup); ``None`` for setters.
        self.value = value
        #: The exception for a failed item (:class:`~dxltieclient.TieInputError`,
        #: :class:`~dxltieclient.TieServiceError`, :class:`~dxltieclient.TieTimeoutError`, ...),
        #: else ``None``.
        self.error = error

    @property
    def ok(self) -> bool:
        """``True`` when the item succeeded."""
        return self.error is None

    def __repr__(self) -> str:
        outcome = "error={!r}".format(self.error) if self.error else "value={!r}".format(self.value)
        return "BulkResult(index={}, {})".format(self.index, outcome)


class _Collector(ResponseCallback):
    """Receives responses on dxlclient's thread and hands them to the waiting caller."""

    def __init__(self, condition: threading.Condition, done: Deque[Tuple[str, Any]]) -> None:
        super().__init__()
        self._condition = condition
        self._done = done

    def on_response(self, response: Any) -> None:
        with self._condition:
            self._done.append((response.request_message_id, response))
            self._condition.notify()


def check_bulk_options(max_in_flight: Any, timeout: Any) -> None:
    """
    Checks the options shared by the bulk calls.

    :raises TieInputError: for a ``max_in_flight`` that is not a positive int, or a ``timeout``
        that is not a positive number (``inf`` is accepted: wait as long as it takes)
    """
    if not isinstance(max_in_flight, int) or isinstance(max_in_flight, bool) or max_in_flight < 1:
        raise _errors.TieInputError(
            "max_in_flight must be a positive int, got {!r}".format(max_in_flight))
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
                                or math.isnan(timeout) or timeout <= 0):
        raise _errors.TieInputError(
            "timeout must be a positive number of seconds, got {!r}".format(timeout))


def prepare(items: Sequence[ItemT],
            build: Callable[[ItemT], Dict[str, Any]]) -> Tuple[List[BulkResult[ItemT]],
                                                               List[Tuple[int, bytes]]]:
    """
    Validates and encodes every item before anything is sent.

    :param items: the items
    :param build: turns an item into its payload (raising the single call's input errors)
    :return: a result per item (failed ones already carry their error) and the
        ``(index, payload bytes)`` of the items to send
    """
    results: List[BulkResult[ItemT]] = []
    to_send: List[Tuple[int, bytes]] = []
    for index, item in enumerate(items):
        result: BulkResult[ItemT] = BulkResult(index, item)
        results.append(result)
        try:
            to_send.append((index, _wire.encode_json(build(item))))
        except (ValueError, TypeError) as error:
            result.error = error
    return results, to_send


def run_requests(dxl_client: Any, topic: str, results: List[BulkResult[Any]],
                 to_send: List[Tuple[int, bytes]], parse: Optional[Callable[[Any], Any]],
                 max_in_flight: int, timeout: float,
                 progress: Optional[ProgressCallback]) -> None:
    """
    Sends the encoded requests with at most ``max_in_flight`` outstanding and fills ``results``.

    :param dxl_client: the connected DXL client
    :param topic: the request topic
    :param results: one result per input item, filled in place
    :param to_send: ``(index, payload)`` of the items to send, in input order
    :param parse: turns a response into the item's value (``None``: the value stays ``None``)
    :param max_in_flight: the most requests outstanding at once
    :param timeout: seconds to wait for each response, from its sending
    :param progress: called with ``(done, total)`` after each item completes; an exception it
        raises aborts the call (the outstanding requests are abandoned) and propagates
    """
    total = len(results)
    done_count = total - len(to_send)
    _check_not_on_dxl_thread(dxl_client)
    condition = threading.Condition()  # guards ``completed``, filled on dxlclient's thread
    completed: Deque[Tuple[str, Any]] = collections.deque()
    collector = _Collector(condition, completed)
    pending: Dict[str, Tuple[int, float]] = {}  # message id -> (index, deadline); caller only
    next_item = 0

    def finish(index: int, value: Any = None, error: Optional[BaseException] = None) -> None:
        nonlocal done_count
        results[index].value = value
        results[index].error = error
        done_count += 1
        if progress is not None:
            progress(done_count, total)

    if progress is not None and done_count:
        progress(done_count, total)
    try:
        while next_item < len(to_send) or pending:
            while next_item < len(to_send) and len(pending) < max_in_flight:
                index, payload = to_send[next_item]
                next_item += 1
                request = Request(topic)
                request.payload = payload
                pending[request.message_id] = (index, time.monotonic() + timeout)
                try:
                    dxl_client.async_request(request, collector)
                except Exception as error:  # noqa: BLE001  (recorded as this item's failure)
                    del pending[request.message_id]
                    _forget(dxl_client, request.message_id)
                    finish(index, error=error)
            if not pending:
                continue
            with condition:
                if not completed:
                    nearest = min(deadline for _, deadline in pending.values())
                    condition.wait(min(max(0.0, nearest - time.monotonic()),
                                       threading.TIMEOUT_MAX))
                arrived = list(completed)
                completed.clear()
            for message_id, response in arrived:
                entry = pending.pop(message_id, None)
                if entry is not None:  # else: a late response to an item already timed out
                    _complete(finish, entry[0], response, topic, parse)
            now = time.monotonic()
            for message_id in [key for key, (_, deadline) in pending.items() if deadline <= now]:
                index, _deadline = pending.pop(message_id)
                _forget(dxl_client, message_id)
                finish(index, error=_errors.timeout_error(
                    WaitTimeoutException("Timeout waiting for response to message: "
                                         + message_id), topic, timeout))
    finally:
        # Only left non-empty when something (e.g. the progress callback) raised: abandon the
        # outstanding requests so that dxlclient does not keep their callbacks.
        for message_id in pending:
            _forget(dxl_client, message_id)


def _complete(finish: Callable[..., None], index: int, response: Any, topic: str,
              parse: Optional[Callable[[Any], Any]]) -> None:
    if response.message_type == Message.MESSAGE_TYPE_ERROR:
        finish(index, error=_errors.service_error(response.error_message, response.error_code,
                                                  topic))
        return
    try:
        value = parse(_wire.decode_json(response.payload)) if parse is not None else None
    except Exception as error:  # noqa: BLE001  (a bad response fails its own item only)
        finish(index, error=error)
        return
    finish(index, value=value)


def _forget(dxl_client: Any, message_id: str) -> None:
    """Drops dxlclient's records of an abandoned request, so that its maps do not grow."""
    manager = getattr(dxl_client, "_request_manager", None)
    for name in ("unregister_async_callback", "remove_current_request"):
        method = getattr(manager, name, None)
        if method is not None:
            method(message_id)


def _check_not_on_dxl_thread(dxl_client: Any) -> None:
    prefix = getattr(dxl_client, "_message_pool_prefix", None)
    if prefix and threading.current_thread().name.startswith(prefix):
        raise DxlException("Bulk requests wait for their responses and may not be invoked while "
                           "handling an incoming message: call them from another thread.")
