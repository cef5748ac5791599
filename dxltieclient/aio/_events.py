"""
TIE events as asynchronous iterators: :class:`EventKind` and :class:`EventStream`.

An event arrives on one of dxlclient's threads. It is decoded and transformed there, exactly as
the callbacks of :mod:`dxltieclient.callbacks` do, then appended to the stream's bounded queue; the
consumer waiting on the event loop is woken through the loop's bridge. dxlclient's thread never
waits: when the queue is full the oldest event is dropped (see :class:`EventStream`).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
from typing import Any, AsyncIterator, Callable, Deque, Dict, List, Optional, Tuple

from dxlclient.callbacks import EventCallback

from .. import _targeted, _wire, client
from .._errors import TieInputError
from ..callbacks import _decode_event
from ._bridge import LoopBridge, bridge_for, set_result

_logger = logging.getLogger(__name__)

_EventDict = Dict[str, Any]
#: A queued event: the transformed dict and the original :class:`dxlclient.message.Event`.
EventPair = Tuple[_EventDict, Any]

#: The default bound of an event stream's queue.
DEFAULT_MAX_QUEUE = 1000


class EventKind:
    """
    The kinds of TIE events an :class:`EventStream` can deliver (the values are the DXL topics).

    Each kind yields the dict the matching callback of :mod:`dxltieclient.callbacks` receives.
    """

    #: File reputation changes (broadcast), as :class:`~dxltieclient.ReputationChangeCallback`.
    FILE_REPUTATION_CHANGE = client.TIE_EVENT_FILE_REPUTATION_CHANGE_TOPIC
    #: Certificate reputation changes (broadcast), as
    #: :class:`~dxltieclient.ReputationChangeCallback`.
    CERT_REPUTATION_CHANGE = client.TIE_EVENT_CERT_REPUTATION_CHANGE_TOPIC
    #: Detections, as :class:`~dxltieclient.DetectionCallback`.
    DETECTION = client.TIE_EVENT_FILE_DETECTION_TOPIC
    #: First instances, as :class:`~dxltieclient.FirstInstanceCallback`.
    FIRST_INSTANCE = client.TIE_EVENT_FILE_FIRST_INSTANCE_TOPIC
    #: File prevalence changes, as :class:`~dxltieclient.FilePrevalenceCallback`.
    FILE_PREVALENCE = client.TIE_EVENT_FILE_PREVALENCE_CHANGE_TOPIC
    #: Targeted file reputation changes (files this client looked up), as the callbacks of
    #: :meth:`~dxltieclient.TieClient.add_file_targeted_reputation_change_callback`: events
    #: addressed to other clients are dropped.
    FILE_REPUTATION_CHANGE_TARGETED = client.TIE_EVENT_FILE_REPUTATION_CHANGE_TARGETED_TOPIC
    #: Targeted certificate reputation changes, filtered as
    #: :attr:`FILE_REPUTATION_CHANGE_TARGETED`.
    CERT_REPUTATION_CHANGE_TARGETED = client.TIE_EVENT_CERT_REPUTATION_CHANGE_TARGETED_TOPIC


#: Kind (topic) to the transform its callback applies.
_TRANSFORMS: Dict[str, Callable[[Any], _EventDict]] = {
    EventKind.FILE_REPUTATION_CHANGE: _wire.transform_reputation_change_event,
    EventKind.CERT_REPUTATION_CHANGE: _wire.transform_reputation_change_event,
    EventKind.DETECTION: _wire.transform_hashes_event,
    EventKind.FIRST_INSTANCE: _wire.transform_hashes_event,
    EventKind.FILE_PREVALENCE: _wire.transform_prevalence_event,
    EventKind.FILE_REPUTATION_CHANGE_TARGETED: _wire.transform_reputation_change_event,
    EventKind.CERT_REPUTATION_CHANGE_TARGETED: _wire.transform_reputation_change_event,
}
#: The kinds whose events name their recipients (filtered as TieClient filters them).
_TARGETED = frozenset({EventKind.FILE_REPUTATION_CHANGE_TARGETED,
                       EventKind.CERT_REPUTATION_CHANGE_TARGETED})


def check_kinds(kinds: Tuple[Any, ...]) -> List[str]:
    """
    Checks the kinds of an event stream.

    :return: the kinds, without duplicates, in the order given
    :raises TieInputError: for no kind or an unknown one
    """
    if not kinds:
        raise TieInputError("give at least one event kind, e.g. EventKind.FILE_REPUTATION_CHANGE")
    unknown = [kind for kind in kinds if kind not in _TRANSFORMS]
    if unknown:
        raise TieInputError("unknown event kind {!r}: use the EventKind values ({})".format(
            str(unknown[0])[:200], ", ".join(sorted(_TRANSFORMS))))
    return list(dict.fromkeys(kinds))


class _StreamCallback(EventCallback):
    """dxlclient's callback for one kind of a stream: transforms, then queues (dxlclient thread)."""

    def __init__(self, stream: "EventStream", transform: Callable[[Any], _EventDict]) -> None:
        super().__init__()
        self._stream = stream
        self._transform = transform

    def on_event(self, event: Any) -> None:
        event_dict = _decode_event(event, self._transform)  # logs and drops a malformed event
        if event_dict is not None:
            self._stream._push((event_dict, event))


class EventStream:
    """
    TIE events of one or more kinds, as an asynchronous iterator. Get one from
    :meth:`~dxltieclient.aio.AsyncTieClient.events`.

    .. code-block:: python

        async with tie.events(EventKind.FILE_REPUTATION_CHANGE) as stream:
            async for change in stream:
                print(change["hashes"])

    **Lifetime.** ``async with`` subscribes on entry and unsubscribes on exit. A stream iterated
    without ``async with`` subscribes when the iteration starts and unsubscribes when it ends: on
    :meth:`aclose`, when the loop body breaks (once the abandoned iterator is finalized, on the
    loop's next turns) or when the iterating task is cancelled. On closing, the stream's callbacks
    are removed at once, and a topic is unsubscribed unless another callback still listens on it.
    :meth:`aclose` ends every iteration in progress.

    Several tasks may iterate one stream: each event goes to one of them.

    **Overflow: drop oldest.** At most ``max_queue`` events wait for the consumer. When one more
    arrives, the oldest waiting event is dropped, :attr:`dropped` grows by one, and a warning is
    logged (once per run of drops). dxlclient's threads are never blocked by a slow consumer.

    :param dxl_client: a connected :class:`dxlclient.client.DxlClient`
    :param kinds: the :class:`EventKind` values to receive
    :param max_queue: the most events waiting for the consumer (a positive int)
    :param on_close: called with the stream when it closes (the client forgets it then)
    """

    def __init__(self, dxl_client: Any, kinds: List[str], max_queue: int,
                 on_close: Optional[Callable[["EventStream"], None]] = None) -> None:
        self._dxl_client = dxl_client
        self._kinds = kinds
        self._max_queue = max_queue
        self._on_close = on_close
        self._queue: Deque[EventPair] = collections.deque()
        self._lock = threading.Lock()
        self._waiters: List["asyncio.Future[None]"] = []  # consumers waiting for an event
        self._bridge: Optional[LoopBridge] = None
        self._callbacks: Dict[str, EventCallback] = {}
        self._state = "new"  # new -> open -> closed
        self._dropping = False
        self._dropped = 0
        self._received = 0

    # -- public state ------------------------------------------------------------------------

    @property
    def kinds(self) -> List[str]:
        """The kinds (topics) this stream receives."""
        return list(self._kinds)

    @property
    def max_queue(self) -> int:
        """The most events waiting for the consumer."""
        return self._max_queue

    @property
    def dropped(self) -> int:
        """How many events were dropped because the queue was full (drop-oldest policy)."""
        return self._dropped

    @property
    def received(self) -> int:
        """How many well-formed events arrived (dropped ones included)."""
        return self._received

    @property
    def pending(self) -> int:
        """How many events wait in the queue."""
        return len(self._queue)

    @property
    def closed(self) -> bool:
        """``True`` once :meth:`aclose` was called."""
        return self._state == "closed"

    # -- opening and closing -----------------------------------------------------------------

    async def open(self) -> "EventStream":
        """
        Registers the stream's callbacks and subscribes to its topics (subscribing waits for the
        broker's acknowledgement, in a worker thread). Called by ``async with`` and by the first
        iteration; calling it again does nothing.

        :return: the stream
        :raises RuntimeError: when the stream was closed
        """
        if self._state == "closed":
            raise RuntimeError("this event stream is closed: ask the client for a new one")
        if self._state == "open":
            return self
        self._bridge = bridge_for(asyncio.get_running_loop())
        self._state = "open"
        own_ids = None
        for kind in self._kinds:
            callback: EventCallback = _StreamCallback(self, _TRANSFORMS[kind])
            if kind in _TARGETED:
                if own_ids is None:
                    own_ids = _targeted.own_client_ids(self._dxl_client)
                callback = _targeted.TargetedEventFilter(callback, own_ids)
            self._callbacks[kind] = callback
            self._dxl_client.add_event_callback(kind, callback, subscribe_to_topic=False)
        try:
            await asyncio.to_thread(self._subscribe, list(self._kinds))
        except BaseException:
            await self.aclose()  # no half-open stream: the callbacks go, the error propagates
            raise
        return self

    def _subscribe(self, topics: List[str]) -> None:
        for topic in topics:
            self._dxl_client.subscribe(topic)

    async def aclose(self) -> None:
        """
        Ends the stream: removes its callbacks, ends the iterations in progress, drops the events
        still queued and unsubscribes from the topics no other callback listens on. Idempotent.
        """
        if self._state == "closed":
            return
        was_open = self._state == "open"
        self._state = "closed"
        with self._lock:
            self._queue.clear()
            waiters, self._waiters = self._waiters, []
        _wake(waiters)
        if self._on_close is not None:
            self._on_close(self)
        if not was_open:
            return
        for kind, callback in self._callbacks.items():
            self._dxl_client.remove_event_callback(kind, callback, unsubscribe_from_topic=False)
        topics = [kind for kind in self._callbacks if not self._still_listened(kind)]
        self._callbacks.clear()
        if topics:
            await asyncio.to_thread(self._unsubscribe, topics)

    def _still_listened(self, topic: str) -> bool:
        """Whether another callback listens on ``topic`` (in dxlclient's table, when readable)."""
        manager = getattr(self._dxl_client, "_event_callbacks", None)
        by_channel = getattr(manager, "callbacks_by_channel", None)
        return bool(by_channel.get(topic)) if isinstance(by_channel, dict) else False

    def _unsubscribe(self, topics: List[str]) -> None:
        for topic in topics:
            self._dxl_client.unsubscribe(topic)

    async def __aenter__(self) -> "EventStream":
        return await self.open()

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.aclose()

    # -- iteration ---------------------------------------------------------------------------

    def __aiter__(self) -> AsyncIterator[_EventDict]:
        return self._iterate(pairs=False)

    def pairs(self) -> AsyncIterator[EventPair]:
        """
        Iterates ``(event_dict, original_event)`` pairs: the two arguments a callback receives
        (the original :class:`dxlclient.message.Event` tells, by its ``destination_topic``, which
        kind an event is).
        """
        return self._iterate(pairs=True)

    async def _iterate(self, pairs: bool) -> AsyncIterator[Any]:
        owned = self._state == "new"
        if owned:
            await self.open()
        try:
            while True:
                pair = await self._next()
                if pair is None:
                    return
                yield pair if pairs else pair[0]
        finally:
            if owned:
                await self.aclose()

    async def _next(self) -> Optional[EventPair]:
        while True:
            with self._lock:
                if self._queue:
                    self._dropping = False
                    return self._queue.popleft()
                if self._state == "closed":
                    return None
                waiter: "asyncio.Future[None]" = asyncio.get_running_loop().create_future()
                self._waiters.append(waiter)
            try:
                await waiter
            finally:
                with self._lock:
                    if waiter in self._waiters:
                        self._waiters.remove(waiter)

    def _push(self, pair: EventPair) -> None:
        """Queues an event; called on dxlclient's thread. Never blocks beyond a short lock."""
        warn = False
        with self._lock:
            if self._state != "open":
                return
            self._received += 1
            if len(self._queue) >= self._max_queue:
                self._queue.popleft()
                self._dropped += 1
                warn = not self._dropping
                self._dropping = True
            self._queue.append(pair)
            waiters, self._waiters = self._waiters, []
            dropped = self._dropped
        if warn:
            _logger.warning(
                "TIE event stream %s: the consumer is slower than the events; dropped the "
                "oldest queued event (%d dropped so far; raise max_queue or consume faster)",
                ",".join(self._kinds), dropped)
        if waiters and self._bridge is not None:
            self._bridge.post(_wake, waiters)


def _wake(waiters: List["asyncio.Future[None]"]) -> None:
    """Wakes the waiting consumers (on the loop); each takes an event or waits again."""
    for waiter in waiters:
        set_result(waiter, None)
