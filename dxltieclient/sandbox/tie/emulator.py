"""
The TIE emulator process: connects to the fabric with dxlclient, registers the TIE service
(:data:`~.service.SERVICE_TYPE`) with request callbacks for the six request topics, subscribes to
the external report event, and answers over the SQLite store (:mod:`.service`, :mod:`.store`).

:func:`serve` is what ``python -m dxltieclient.sandbox serve --config FILE --store FILE
--delay-ms N`` runs.

Emulated server delay: with ``delay_ms`` > 0, each reply (and the events the request caused) is
sent ``delay_ms`` after the request arrived, by one scheduler thread holding a heap of due
messages (:class:`DelayedSender`): a request callback never sleeps, so requests overlap.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import signal
import threading
import time
from typing import Any, Callable, List, Optional, Tuple

from dxlclient.callbacks import EventCallback, RequestCallback
from dxlclient.client import DxlClient
from dxlclient.client_config import DxlClientConfig
from dxlclient.message import ErrorResponse, Event, Response
from dxlclient.service import ServiceRegistrationInfo

from .seed import seed
from .service import (
    ERROR_INTERNAL,
    REQUEST_TOPICS,
    SERVICE_TYPE,
    TOPIC_EXTERNAL_FILE_REPORT,
    EventMessage,
    Outcome,
    TieService,
    agent_guid_from_reply_topic,
    client_id_of,
)
from .store import Store

logger = logging.getLogger(__name__)

#: The size of dxlclient's incoming-message thread pool in the emulator (at least).
THREAD_POOL_SIZE = 4
#: The size of dxlclient's incoming-message queue in the emulator (at least).
MESSAGE_QUEUE_SIZE = 10000
#: Seconds to wait for the fabric to confirm the service registration.
REGISTER_TIMEOUT = 30.0
#: Seconds to wait for the unregistration before disconnecting anyway.
UNREGISTER_TIMEOUT = 5.0


class DelayedSender:
    """
    Runs send actions a fixed delay after a given arrival time, without blocking the caller: one
    daemon thread pops due actions off a heap. With no delay, actions run at once in the caller's
    thread.

    :param delay_ms: the delay in milliseconds (0 for none)
    """

    def __init__(self, delay_ms: float = 0.0) -> None:
        self._delay = max(0.0, float(delay_ms)) / 1000.0
        self._heap: List[Tuple[float, int, Callable[[], None]]] = []
        self._counter = itertools.count()
        self._condition = threading.Condition()
        self._closed = False
        self._thread: Optional[threading.Thread] = None
        if self._delay > 0:
            self._thread = threading.Thread(target=self._run, name="tie-emulator-delay",
                                            daemon=True)
            self._thread.start()

    @property
    def delay_ms(self) -> float:
        """The delay in milliseconds."""
        return self._delay * 1000.0

    def submit(self, action: Callable[[], None], arrival: Optional[float] = None) -> None:
        """
        Schedules an action for ``arrival`` + the delay.

        :param action: what to run (exceptions are logged, never raised)
        :param arrival: the :func:`time.monotonic` time the request arrived; now when ``None``
        """
        if self._delay <= 0:
            _run_safely(action)
            return
        due = (time.monotonic() if arrival is None else arrival) + self._delay
        with self._condition:
            if self._closed:
                run_now = True
            else:
                run_now = False
                heapq.heappush(self._heap, (due, next(self._counter), action))
                if self._heap[0][2] is action:
                    self._condition.notify()
        if run_now:
            _run_safely(action)

    def close(self) -> None:
        """Stops the scheduler thread after running every pending action at once."""
        with self._condition:
            self._closed = True
            self._condition.notify()
        if self._thread is not None:
            self._thread.join(timeout=10.0)

    def _run(self) -> None:
        while True:
            with self._condition:
                while True:
                    if self._closed:
                        due_actions = [entry[2] for entry in sorted(self._heap)]
                        self._heap.clear()
                        break
                    if not self._heap:
                        self._condition.wait()
                        continue
                    wait = self._heap[0][0] - time.monotonic()
                    if wait > 0:
                        self._condition.wait(wait)
                        continue
                    due_actions = []
                    now = time.monotonic()
                    while self._heap and self._heap[0][0] <= now:
                        due_actions.append(heapq.heappop(self._heap)[2])
                    break
                closed = self._closed
            for action in due_actions:
                _run_safely(action)
            if closed:
                return


def _run_safely(action: Callable[[], None]) -> None:
    try:
        action()
    except Exception:  # noqa: BLE001 - a failed send must not kill the scheduler
        logger.exception("TIE emulator failed to send a message")


class _RequestHandler(RequestCallback):
    """Answers the six request topics through :meth:`TieService.handle_request`."""

    def __init__(self, client: DxlClient, service: TieService, sender: DelayedSender) -> None:
        super().__init__()
        self._client = client
        self._service = service
        self._sender = sender

    def on_request(self, request: Any) -> None:
        arrival = time.monotonic()
        try:
            outcome = self._service.handle_request(
                request.destination_topic, request.payload,
                agent_guid_from_reply_topic(request.reply_to_topic),
                client_id_of(request.source_client_id, request.reply_to_topic))
        except Exception:  # noqa: BLE001 - handle_request does not raise; belt and braces
            logger.exception("TIE emulator failed on a request to %s", request.destination_topic)
            outcome = Outcome(error=(ERROR_INTERNAL, "TIE emulator internal error"))
        self._sender.submit(lambda: self._reply(request, outcome), arrival)

    def _reply(self, request: Any, outcome: Outcome) -> None:
        _publish(self._client, outcome.events)
        if outcome.no_reply:  # the metadata updates: TIE answers nothing
            return
        if outcome.error is not None:
            response: Response = ErrorResponse(request, error_code=outcome.error[0],
                                               error_message=outcome.error[1])
        else:
            response = Response(request)
            response.payload = outcome.response or b"{}"
        self._client.send_response(response)


class _ExternalReportHandler(EventCallback):
    """Handles external report events through :meth:`TieService.handle_external_report`."""

    def __init__(self, client: DxlClient, service: TieService, sender: DelayedSender) -> None:
        super().__init__()
        self._client = client
        self._service = service
        self._sender = sender

    def on_event(self, event: Any) -> None:
        arrival = time.monotonic()
        to_publish = self._service.handle_external_report(event.payload)
        if to_publish:
            self._sender.submit(lambda: _publish(self._client, to_publish), arrival)


def _publish(client: DxlClient, messages: List[EventMessage]) -> None:
    for topic, payload in messages:
        event = Event(topic)
        event.payload = bytes(payload)
        # A targeted event (TargetedPayload) names its destination clients; a real broker
        # delivers it to them only, Mosquitto to every subscriber (the library filters).
        event.client_ids = list(getattr(payload, "client_ids", ()))
        client.send_event(event)


def _unregister(client: DxlClient, info: ServiceRegistrationInfo, timeout: float) -> None:
    """Unregisters the service, giving up after ``timeout`` (dxlclient may wait a minute)."""
    def run() -> None:
        try:
            client.unregister_service_sync(info, int(max(1, timeout)))
        except Exception as error:  # noqa: BLE001 - best effort on the way out
            logger.warning("TIE emulator could not unregister its service: %s", error)

    thread = threading.Thread(target=run, name="tie-emulator-unregister", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        logger.warning("TIE emulator gave up waiting for its service unregistration")


def serve(config_file: str, store_file: str, delay_ms: float = 0.0,
          stop_event: Optional[threading.Event] = None,
          on_ready: Optional[Callable[[], None]] = None) -> None:
    """
    Runs the TIE emulator until ``stop_event`` is set or the process gets SIGTERM/SIGINT.

    Builds the dxlclient configuration from ``config_file`` (with a larger incoming-message
    thread pool, so that requests are handled concurrently), connects, seeds the store on first
    use, registers the TIE service with the six request topics (``register_service_sync``),
    subscribes to the external report event, calls ``on_ready``, and serves. On the way out it
    unregisters the service (bounded wait), sends the replies still pending, disconnects and
    closes the store.

    :param config_file: the dxlclient configuration file (``dxlclient.config``)
    :param store_file: the SQLite store (created and seeded when missing)
    :param delay_ms: the emulated server delay: each reply is sent this many milliseconds after
        its request arrived
    :param stop_event: set it to stop serving; signal handlers for SIGTERM and SIGINT are
        installed too when called on the main thread
    :param on_ready: called once the service is registered and the event subscribed
    :raises Exception: when the connection or the service registration fails
    """
    stop = stop_event if stop_event is not None else threading.Event()
    previous_handlers = _install_signal_handlers(stop)
    store = Store(store_file)
    sender: Optional[DelayedSender] = None
    try:
        if seed(store):
            logger.info("TIE store %s created and seeded", store_file)
        service = TieService(store)
        config = DxlClientConfig.create_dxl_config_from_file(config_file)
        config.incoming_message_thread_pool_size = max(
            config.incoming_message_thread_pool_size or 1, THREAD_POOL_SIZE)
        config.incoming_message_queue_size = max(
            config.incoming_message_queue_size or 0, MESSAGE_QUEUE_SIZE)
        sender = DelayedSender(delay_ms)
        with DxlClient(config) as client:
            client.connect()
            info = ServiceRegistrationInfo(client, SERVICE_TYPE)
            handler = _RequestHandler(client, service, sender)
            for topic in REQUEST_TOPICS:
                info.add_topic(topic, handler)
            client.register_service_sync(info, REGISTER_TIMEOUT)
            client.add_event_callback(TOPIC_EXTERNAL_FILE_REPORT,
                                      _ExternalReportHandler(client, service, sender))
            logger.info("TIE emulator serving (delay %s ms, store %s, %s)", delay_ms, store_file,
                        store.counts())
            if on_ready is not None:
                on_ready()
            while not stop.wait(0.5):
                pass
            logger.info("TIE emulator stopping")
            _unregister(client, info, UNREGISTER_TIMEOUT)
            sender.close()
    finally:
        if sender is not None:
            sender.close()
        store.close()
        _restore_signal_handlers(previous_handlers)
    logger.info("TIE emulator stopped")


def _install_signal_handlers(stop: threading.Event) -> List[Tuple[int, Any]]:
    if threading.current_thread() is not threading.main_thread():
        return []

    def handle(signum: int, frame: Any) -> None:
        logger.info("TIE emulator got signal %d", signum)
        stop.set()

    previous: List[Tuple[int, Any]] = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        previous.append((signum, signal.signal(signum, handle)))
    return previous


def _restore_signal_handlers(previous: List[Tuple[int, Any]]) -> None:
    for signum, handler in previous:
        signal.signal(signum, handler)
