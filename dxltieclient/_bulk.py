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
from typing import (
    Any,
    Callable,
    Deque,
    Dict,
    Generic,
    Iterable,
    List,
    Mapping,
    NamedTuple,
    Optional,
    Sequence,
    Tuple,
    TypeVar,
)

from dxlclient.callbacks import ResponseCallback
from dxlclient.exceptions import DxlException, WaitTimeoutException
from dxlclient.message import Message, Request

from . import _connection, _errors, _wire

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


#: The longest the caller waits for responses without looking at the connection: a lost
#: connection fails the outstanding items within about this long.
_CONNECTION_CHECK_SECONDS = 0.25


def check_bulk_options(max_in_flight: Any, timeout: Any,
                       progress: Optional[Any] = None, stop: Optional[Any] = None) -> None:
    """
    Checks the options shared by the bulk calls.

    :raises TieInputError: for a ``max_in_flight`` that is not a positive int, a ``timeout``
        that is not a positive number (``inf`` is accepted: wait as long as it takes), a
        ``progress`` that is neither ``None`` nor callable, or a ``stop`` that is neither
        ``None`` nor a :class:`threading.Event`
    """
    if not isinstance(max_in_flight, int) or isinstance(max_in_flight, bool) or max_in_flight < 1:
        raise _errors.TieInputError(
            "max_in_flight must be a positive int, got {}".format(_errors.quote(max_in_flight)))
    if timeout is not None:
        _wire.check_timeout(timeout, "timeout", allow_infinite=True)
    check_progress(progress)
    check_stop(stop)


def check_stop(stop: Any) -> None:
    """
    Checks a bulk call's ``stop`` option.

    :raises TieInputTypeError: (a :class:`TieInputError` and a :class:`TypeError`) when it is
        neither ``None`` nor a :class:`threading.Event`
    """
    if stop is not None and not isinstance(stop, threading.Event):
        raise _errors.TieInputTypeError(
            "stop must be None or a threading.Event (set it to stop sending), got {} {}".format(
                type(stop).__name__, _errors.quote(stop)))


def check_progress(progress: Any) -> None:
    """
    Checks a bulk call's ``progress`` option.

    :raises TieInputError: when it is neither ``None`` nor callable
    """
    if progress is not None and not callable(progress):
        raise _errors.TieInputError(
            "progress must be None or a callable taking (done, total), got {} {}".format(
                type(progress).__name__, _errors.quote(progress)))


def item_list(items: Any, name: str) -> List[Any]:
    """
    Reads a bulk call's input into a list.

    :param items: the caller's items: any iterable but a string, bytes or a mapping (a single
        item passed by mistake)
    :param name: the argument's name, for the error message
    :return: the items
    :raises TieInputTypeError: (a :class:`TieInputError` and a :class:`TypeError`) when
        ``items`` is not iterable, or is a string, bytes or a mapping
    """
    if isinstance(items, (str, bytes, bytearray, Mapping)) or not isinstance(items, Iterable):
        raise _errors.TieInputTypeError(
            "{} must be an iterable (e.g. a list) of items, one per file, got {} {}; to make "
            "a single request, pass a list of one item".format(
                name, type(items).__name__, _errors.quote(items)))
    return list(items)


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
                 progress: Optional[ProgressCallback],
                 stop: Optional[threading.Event] = None) -> None:
    """
    Sends the encoded requests with at most ``max_in_flight`` outstanding and fills ``results``.

    Once ``stop`` is set, no request is sent any more: the outstanding ones are waited for (each
    bounded by ``timeout``, as always) and every item not sent yet fails with
    :class:`~dxltieclient.TieBulkStoppedError`.

    A client that is not connected fails every item at once with
    :class:`~dxltieclient.TieNotConnectedError` (after waiting, while dxlclient is
    reconnecting, at most ``timeout`` seconds in all for the whole call); a connection lost
    during the call fails the outstanding items (``sent`` true: they may have been applied) and,
    unless the client reconnects within that wait, the items not sent yet.

    :param dxl_client: the DXL client
    :param topic: the request topic
    :param results: one result per input item, filled in place
    :param to_send: ``(index, payload)`` of the items to send, in input order
    :param parse: turns a response into the item's value (``None``: the value stays ``None``)
    :param max_in_flight: the most requests outstanding at once
    :param timeout: seconds to wait for each response, from its sending
    :param progress: called with ``(done, total)`` after each item completes; an exception it
        raises aborts the call (the outstanding requests are abandoned) and propagates
    :param stop: set (from any thread, e.g. a signal handler) to stop sending; ``None``: send
        every item
    :raises TieInputError: for a ``progress`` that is neither ``None`` nor callable, or a
        ``stop`` that is neither ``None`` nor a :class:`threading.Event` (before anything is
        sent)
    """
    check_progress(progress)
    check_stop(stop)
    _check_not_on_dxl_thread(dxl_client)
    _BulkRun(dxl_client, topic, results, to_send, parse, max_in_flight, timeout,
             progress, stop).run()


class _Pending(NamedTuple):
    item: int  # the item's position
    deadline: float  # time.monotonic() after which it has timed out
    disconnections: int  # the disconnections seen when it was sent


class _BulkRun:
    """One bulk call's sending loop; only the calling thread touches it (but the collector)."""

    def __init__(self, dxl_client: Any, topic: str, results: List[BulkResult[Any]],
                 to_send: List[Tuple[int, bytes]], parse: Optional[Callable[[Any], Any]],
                 max_in_flight: int, timeout: float,
                 progress: Optional[ProgressCallback],
                 stop: Optional[threading.Event] = None) -> None:
        self.dxl_client = dxl_client
        self.topic = topic
        self.results = results
        self.to_send = to_send
        self.parse = parse
        self.max_in_flight = max_in_flight
        self.timeout = timeout
        try:
            seconds = float(timeout)
        except OverflowError:  # an int beyond any float: as good as inf
            seconds = math.inf
        self.seconds = seconds  # the timeout as a float, for the deadlines
        self.progress = progress
        self.stop = stop  # once set, nothing more is sent
        self.done_count = len(results) - len(to_send)
        self.condition = threading.Condition()  # guards ``completed``, filled on dxlclient's thread
        self.completed: Deque[Tuple[str, Any]] = collections.deque()
        self.collector = _Collector(self.condition, self.completed)
        self.pending: Dict[str, _Pending] = {}  # by message id
        self.next_item = 0
        self.reconnect_budget = seconds  # what this call may still wait for a reconnection
        self.watch: Optional[_connection.DisconnectionWatch] = None
        self.disconnections_handled = 0
        self.seen_connected = False  # the connection was up at some point of this call

    def finish(self, index: int, value: Any = None, error: Optional[BaseException] = None) -> None:
        self.results[index].value = value
        self.results[index].error = error
        self.done_count += 1
        if self.progress is not None:
            self.progress(self.done_count, len(self.results))

    def run(self) -> None:
        if self.progress is not None and self.done_count:
            self.progress(self.done_count, len(self.results))
        try:
            with _connection.DisconnectionWatch(self.dxl_client, self._wake) as self.watch:
                while self.next_item < len(self.to_send) or self.pending:
                    self._check_connection()
                    self._send_more()
                    if self.pending:
                        self._collect()
                        self._expire()
        finally:
            # Only left non-empty when something (e.g. the progress callback) raised: abandon the
            # outstanding requests so that dxlclient does not keep their callbacks.
            for message_id in self.pending:
                _forget(self.dxl_client, message_id)

    def _wake(self) -> None:
        with self.condition:
            self.condition.notify()

    def _disconnections(self) -> int:
        return self.watch.disconnections if self.watch is not None else 0

    def _check_connection(self) -> None:
        connected = _connection.is_connected(self.dxl_client)
        disconnections = self._disconnections()
        if connected:
            self.seen_connected = True
            if disconnections == self.disconnections_handled:
                return  # the usual case, cheap
        self.disconnections_handled = disconnections
        lost = [message_id for message_id, entry in self.pending.items()
                if not connected or entry.disconnections < disconnections]
        if lost:
            # Keep what arrived; the other responses can no longer come (the connection they
            # were to come back on is gone, even if a new one was made since).
            self._collect(wait=False)
            self._fail_lost(lost)
        if connected or self.next_item >= len(self.to_send) or self._stop_requested():
            return  # (stopped: the items not sent fail in _send_more, without waiting)
        started = time.monotonic()
        connected = _connection.wait_until_connected(self.dxl_client, self.reconnect_budget,
                                                     dropped=self.seen_connected
                                                     or disconnections > 0)
        self.reconnect_budget = max(0.0, self.reconnect_budget - (time.monotonic() - started))
        if not connected:
            self._fail_unsent(lambda: _errors.not_connected_error(self.topic, sent=False))

    def _fail_lost(self, message_ids: List[str]) -> None:
        entries = [self.pending.pop(message_id, None) for message_id in message_ids]
        for message_id in message_ids:
            _forget(self.dxl_client, message_id)
        for entry in entries:
            if entry is not None:  # else: answered in the meantime
                self.finish(entry.item,
                            error=_errors.not_connected_error(self.topic, sent=True))

    def _stop_requested(self) -> bool:
        return self.stop is not None and self.stop.is_set()

    def _fail_unsent(self, error: Callable[[], BaseException]) -> None:
        """Fails every item not sent yet with ``error()``; nothing more is sent afterwards."""
        unsent, self.next_item = self.to_send[self.next_item:], len(self.to_send)
        for index, _payload in unsent:
            self.finish(index, error=error())

    def _send_more(self) -> None:
        while self.next_item < len(self.to_send):
            if self._stop_requested():
                self._fail_unsent(lambda: _errors.stopped_error(self.topic))
                return
            if len(self.pending) >= self.max_in_flight:
                return
            index, payload = self.to_send[self.next_item]
            self.next_item += 1
            request = Request(self.topic)
            request.payload = payload
            self.pending[request.message_id] = _Pending(
                index, time.monotonic() + self.seconds, self._disconnections())
            try:
                self.dxl_client.async_request(request, self.collector)
            except Exception as error:  # noqa: BLE001  (recorded as this item's failure)
                del self.pending[request.message_id]
                _forget(self.dxl_client, request.message_id)
                self.finish(index, error=error)

    def _collect(self, wait: bool = True) -> None:
        with self.condition:
            if wait and not self.completed:
                nearest = min(entry.deadline for entry in self.pending.values())
                self.condition.wait(min(max(0.0, nearest - time.monotonic()),
                                        _CONNECTION_CHECK_SECONDS))
            arrived = list(self.completed)
            self.completed.clear()
        for message_id, response in arrived:
            entry = self.pending.pop(message_id, None)
            if entry is not None:  # else: a late response to an item already timed out
                _complete(self.finish, entry.item, response, self.topic, self.parse)

    def _expire(self) -> None:
        now = time.monotonic()
        for message_id in [key for key, entry in self.pending.items() if entry.deadline <= now]:
            index = self.pending.pop(message_id).item
            _forget(self.dxl_client, message_id)
            self.finish(index, error=_errors.timeout_error(
                WaitTimeoutException("Timeout waiting for response to message: " + message_id),
                self.topic, self.timeout))


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
