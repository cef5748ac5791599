"""
The TIE emulator process: connects to the fabric with dxlclient, registers the TIE service
(:data:`~.service.SERVICE_TYPE`) with request callbacks for the six request topics, subscribes to
the external report event, and answers over the SQLite store (:mod:`.service`, :mod:`.store`).

:func:`serve` is what ``python -m dxltieclient.sandbox serve --config FILE --store FILE
--delay-ms N`` runs.

Emulated server delay: with ``delay_ms`` > 0, each reply (and the events the request caused) is
sent ``delay_ms`` after the request arrived, by one scheduler thread holding a heap of due
messages (:class:`DelayedSender`): a request callback never sleeps, so requests overlap.

Why nothing here runs on dxlclient's threads: dxlclient's MQTT network thread hands each incoming
message to a bounded queue (``incoming_message_queue_size``) while holding the MQTT client's
callback lock, and its incoming-message workers run our callbacks. A callback that publishes (a
reply, an event) needs the MQTT client: when the queue is full, the network thread waits for the
workers, the workers wait for the network thread, and the emulator is wedged for good. So the
callbacks only hand the message to a :class:`WorkQueue` the emulator owns, which never blocks;
one worker thread of ours (``tie-emulator-worker``) does the store work and the publishing.

Flow control: the work queue holds at most :data:`MAX_PENDING_REQUESTS` requests. A request that
arrives when it is full is answered (first, without touching the store) with the broker's
"service overloaded" error, code ``0x80000002``: every request gets a reply, and a request
answered with an error changed nothing. External reports (events: there is no one to answer)
are queued up to :data:`MAX_PENDING_EVENTS`; beyond that they are dropped and counted, with a
warning in the log.

Registration tied to the emulator's life: the emulator's MQTT connection carries a *last will*
(:func:`set_unregister_will`): the DXL unregistration request of its service. When the emulator
dies (``kill -9``, a crash, a lost connection), the broker publishes it at once, the fabric
services drop the registration, and clients get the broker's immediate ``0x80000001`` "unable
to locate service for request" error instead of timeouts, as on a real broker. dxlclient
registers the service again after each reconnection, and the emulator does when the fabric
services announce that they (re)started (:data:`FABRIC_READY_TOPIC`): restarting them needs no
restart of the emulator.

Identity: the emulator connects with a fresh random client id at each start (one a
``ClientId`` in its configuration file cannot pin), so no other client can know it in advance and
take over its MQTT session. It appears on the wire only in the emulator's own service registry
requests, which the sandbox's strict ACL lets no one but the fabric services read
(:mod:`dxltieclient.sandbox.authz`). Its reconnect back-off is capped at
:data:`RECONNECT_DELAY_MAX` seconds, so that it is back within seconds of a broker outage.
"""

from __future__ import annotations

import collections
import heapq
import itertools
import json
import logging
import logging.handlers
import signal
import socket
import threading
import time
import uuid
from typing import Any, Callable, Deque, Dict, List, Optional, Tuple

from dxlclient.callbacks import EventCallback, RequestCallback
from dxlclient.client import DxlClient
from dxlclient.client_config import DxlClientConfig
from dxlclient.message import ErrorResponse, Event, Request, Response
from dxlclient.service import ServiceRegistrationInfo

from .._constants import FABRIC_READY_TOPIC, REGISTER_TOPIC, UNREGISTER_TOPIC
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
#: With a log file (``serve(log_file=...)``), it is rotated beyond this size, in bytes.
LOG_MAX_BYTES = 5 * 1024 * 1024
#: How many rotated log files are kept beside the current one.
LOG_BACKUP_COUNT = 3
#: The format of the emulator's log lines.
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: The longest wait between two reconnection attempts, in seconds (dxlclient's default: 60).
RECONNECT_DELAY_MAX = 5.0
#: The growth factor of the wait between reconnection attempts.
RECONNECT_BACK_OFF_MULTIPLIER = 2.0
#: The first wait between reconnection attempts, in seconds.
RECONNECT_DELAY = 0.5
#: The most requests waiting for the emulator's worker; more get :data:`SERVICE_OVERLOADED_CODE`.
MAX_PENDING_REQUESTS = 50000
#: The most external reports waiting for the emulator's worker; more are dropped (and counted).
MAX_PENDING_EVENTS = 200000
#: The broker's error code for an overloaded service (``0x80000002``), as a signed 32-bit
#: number, the way dxlclient reports broker codes.
SERVICE_OVERLOADED_CODE = 0x80000002 - (1 << 32)
#: The error message that goes with :data:`SERVICE_OVERLOADED_CODE`.
SERVICE_OVERLOADED_MESSAGE = "service overloaded"


class WorkQueue:
    """
    The hand-off between dxlclient's incoming-message threads and the emulator's own worker
    thread: :meth:`offer` never blocks, one daemon thread runs the queued actions in order.

    Each action is offered with a *kind* (``"request"`` or ``"event"``) and a limit per kind:
    beyond it, the request's *overflow* action is queued instead (a tiny one: an error reply),
    or an event is dropped and counted.

    :param limits: kind -> the most actions of that kind waiting
    :param name: the worker thread's name
    """

    def __init__(self, limits: Dict[str, int], name: str = "tie-emulator-worker") -> None:
        self._limits = dict(limits)
        self._pending: Dict[str, int] = {kind: 0 for kind in limits}
        self._queue: Deque[Tuple[Optional[str], Callable[[], None]]] = collections.deque()
        self._condition = threading.Condition()
        self._closed = False
        #: kind -> actions refused (overflow action run instead, or dropped)
        self.refused: Dict[str, int] = {kind: 0 for kind in limits}
        #: actions run
        self.done = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def offer(self, kind: str, action: Callable[[], None],
              overflow: Optional[Callable[[], None]] = None) -> bool:
        """
        Queues an action without ever blocking.

        :param kind: its kind (a key of the limits)
        :param action: what to run on the worker thread (exceptions are logged)
        :param overflow: what to run instead when ``kind`` is at its limit (or ``None``: drop)
        :return: whether ``action`` was queued
        """
        count = 0
        with self._condition:
            if self._closed:
                refused = True
            elif self._pending[kind] >= self._limits[kind]:
                refused = True
                self.refused[kind] += 1
                count = self.refused[kind]
                if overflow is not None:  # ahead of the rest: it is quick, and frees memory
                    self._queue.appendleft((None, overflow))
                    self._condition.notify()
            else:
                refused = False
                self._pending[kind] += 1
                self._queue.append((kind, action))
                self._condition.notify()
        if count == 1 or (count and count % 1000 == 0):
            logger.warning("TIE emulator overloaded: %d %s(s) refused so far (more than %d "
                           "waiting)", count, kind, self._limits[kind])
        return not refused

    def pending(self) -> int:
        """:return: the number of actions waiting"""
        with self._condition:
            return len(self._queue)

    def close(self, timeout: float = 10.0) -> None:
        """
        Runs what is queued, then stops the worker thread (bounded wait).

        :param timeout: the longest wait, in seconds
        """
        with self._condition:
            self._closed = True
            self._condition.notify()
        self._thread.join(timeout)
        if self._thread.is_alive():
            logger.warning("TIE emulator stopped with %d actions still queued", self.pending())

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._queue and not self._closed:
                    self._condition.wait()
                if not self._queue:
                    return
                kind, action = self._queue.popleft()
                if kind is not None:
                    self._pending[kind] -= 1
            _run_safely(action)
            self.done += 1


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
    except Exception:
        logger.exception("TIE emulator failed to send a message")


class _RequestHandler(RequestCallback):
    """
    Answers the six request topics through :meth:`TieService.handle_request`, on the work
    queue's thread (see the module documentation).
    """

    def __init__(self, client: DxlClient, service: TieService, sender: DelayedSender,
                 work: WorkQueue) -> None:
        super().__init__()
        self._client = client
        self._service = service
        self._sender = sender
        self._work = work

    def on_request(self, request: Any) -> None:
        """Runs on a dxlclient thread: only hands the request over (never blocks)."""
        arrival = time.monotonic()
        self._work.offer("request", lambda: self._handle(request, arrival),
                         overflow=self._overloaded(request))

    def _overloaded(self, request: Any) -> Callable[[], None]:
        def reply() -> None:
            self._client.send_response(ErrorResponse(
                request, error_code=SERVICE_OVERLOADED_CODE,
                error_message=SERVICE_OVERLOADED_MESSAGE))
        return reply

    def _handle(self, request: Any, arrival: float) -> None:
        try:
            outcome = self._service.handle_request(
                request.destination_topic, request.payload,
                agent_guid_from_reply_topic(request.reply_to_topic),
                client_id_of(request.source_client_id, request.reply_to_topic))
        except Exception:
            logger.exception("TIE emulator failed on a request to %s", request.destination_topic)
            outcome = Outcome(error=(ERROR_INTERNAL, "TIE emulator internal error"))
        request.payload = b""  # the reply keeps the request: do not keep its payload too
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
    """
    Handles external report events through :meth:`TieService.handle_external_report`, on the
    work queue's thread.
    """

    def __init__(self, client: DxlClient, service: TieService, sender: DelayedSender,
                 work: WorkQueue) -> None:
        super().__init__()
        self._client = client
        self._service = service
        self._sender = sender
        self._work = work

    def on_event(self, event: Any) -> None:
        """Runs on a dxlclient thread: only hands the event over (never blocks)."""
        arrival = time.monotonic()
        self._work.offer("event", lambda: self._handle(event.payload, arrival))

    def _handle(self, payload: Any, arrival: float) -> None:
        to_publish = self._service.handle_external_report(payload)
        if to_publish:
            self._sender.submit(lambda: _publish(self._client, to_publish), arrival)


class _FabricReadyHandler(EventCallback):
    """Registers the service again when the fabric services (re)start (their registry is then
    empty), from the work queue's thread."""

    def __init__(self, client: DxlClient, info: ServiceRegistrationInfo, work: WorkQueue) -> None:
        super().__init__()
        self._client = client
        self._info = info
        self._work = work

    def on_event(self, event: Any) -> None:
        """Runs on a dxlclient thread: only hands the work over (never blocks)."""
        self._work.offer("event", self._register)

    def _register(self) -> None:
        request = Request(REGISTER_TOPIC)
        request.payload = registration_payload(self._info)
        self._client.async_request(request)
        logger.info("TIE emulator registered its service again (the fabric services started)")


def registration_payload(info: ServiceRegistrationInfo) -> bytes:
    """
    :param info: a service
    :return: the payload of its registration request, as dxlclient sends it
    """
    return json.dumps({
        "serviceType": info.service_type,
        "metaData": info.metadata,
        "requestChannels": sorted(info.topics),
        "ttlMins": info.ttl,
        "serviceGuid": info.service_id,
    }).encode("utf-8")


def _publish(client: DxlClient, messages: List[EventMessage]) -> None:
    for topic, payload in messages:
        event = Event(topic)
        event.payload = bytes(payload)
        # A targeted event (TargetedPayload) names its destination clients; a real broker
        # delivers it to them only, Mosquitto to every subscriber (the library filters).
        event.client_ids = list(getattr(payload, "client_ids", ()))
        client.send_event(event)


def emulator_config(config_file: str) -> DxlClientConfig:
    """
    The emulator's dxlclient configuration: the file's, with a larger incoming-message thread
    pool and queue, a capped reconnect back-off (:data:`RECONNECT_DELAY_MAX`) and a fresh random
    client id (see the module documentation).

    :param config_file: the dxlclient configuration file (``dxlclient.config``)
    :return: the configuration
    """
    config = DxlClientConfig.create_dxl_config_from_file(config_file)
    config.incoming_message_thread_pool_size = max(
        config.incoming_message_thread_pool_size or 1, THREAD_POOL_SIZE)
    config.incoming_message_queue_size = max(
        config.incoming_message_queue_size or 0, MESSAGE_QUEUE_SIZE)
    config.reconnect_delay = RECONNECT_DELAY
    config.reconnect_delay_max = RECONNECT_DELAY_MAX
    config.reconnect_back_off_multiplier = RECONNECT_BACK_OFF_MULTIPLIER
    config.reconnect_when_disconnected = True
    config._client_id = "{" + str(uuid.uuid4()) + "}"  # dxlclient has no public setter
    return config


def _no_delay(mqtt_client: Any, userdata: Any, sock: Any) -> None:
    """Turns Nagle's algorithm off on each new connection: a reply right after an event (a
    lookup of a new file publishes a first-instance event, then the reply) would otherwise wait
    for the broker's delayed acknowledgement, 40 ms on Linux."""
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (OSError, AttributeError) as error:
        logger.debug("TIE emulator could not set TCP_NODELAY: %s", error)


def set_unregister_will(client: DxlClient, info: ServiceRegistrationInfo) -> bytes:
    """
    Sets the last will of the client's MQTT connection (before it connects): the DXL request
    that unregisters ``info``'s service, which the broker publishes if the connection ends
    without a clean disconnection.

    :param client: the emulator's client, not yet connected
    :param info: the service it will register
    :return: the will's payload (a DXL request message)
    """
    request = Request(UNREGISTER_TOPIC)
    request.payload = json.dumps({"serviceGuid": info.service_id}).encode("utf-8")
    # The fabric services answer a request only when it has a reply-to topic; this one is
    # the dead emulator's own, where the answer goes nowhere.
    request.reply_to_topic = "/mcafee/client/" + client.config._client_id
    will = bytes(request._to_bytes())
    client._client.will_set(UNREGISTER_TOPIC, will, qos=0, retain=False)
    return will


def rotating_log_handler(log_file: str, max_bytes: int = LOG_MAX_BYTES,
                         backup_count: int = LOG_BACKUP_COUNT) -> logging.Handler:
    """
    A log handler that writes to ``log_file`` and rotates it (``log_file.1``, ...) beyond
    ``max_bytes``.

    :param log_file: the log file (appended to)
    :param max_bytes: the size beyond which it is rotated
    :param backup_count: how many rotated files are kept
    :return: the handler (level INFO, :data:`LOG_FORMAT`)
    """
    handler = logging.handlers.RotatingFileHandler(log_file, maxBytes=max_bytes,
                                                   backupCount=backup_count, encoding="utf-8")
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.setLevel(logging.INFO)
    return handler


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
          on_ready: Optional[Callable[[], None]] = None,
          log_file: Optional[str] = None) -> None:
    """
    Runs the TIE emulator until ``stop_event`` is set or the process gets SIGTERM/SIGINT.

    Builds the dxlclient configuration from ``config_file`` (:func:`emulator_config`), sets the
    connection's last will (:func:`set_unregister_will`), connects, seeds the store on first
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
    :param log_file: also log (INFO and above, every logger) to this file, rotated beyond
        :data:`LOG_MAX_BYTES` (:func:`rotating_log_handler`), while serving
    :raises Exception: when the connection or the service registration fails
    """
    if log_file is None:
        _serve(config_file, store_file, delay_ms, stop_event, on_ready)
        return
    root = logging.getLogger()
    handler = rotating_log_handler(log_file)
    level = root.level
    root.addHandler(handler)
    if root.getEffectiveLevel() > logging.INFO:
        root.setLevel(logging.INFO)
    try:
        _serve(config_file, store_file, delay_ms, stop_event, on_ready)
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        handler.close()


def _serve(config_file: str, store_file: str, delay_ms: float,
           stop_event: Optional[threading.Event],
           on_ready: Optional[Callable[[], None]]) -> None:
    stop = stop_event if stop_event is not None else threading.Event()
    previous_handlers = _install_signal_handlers(stop)
    store = Store(store_file)
    sender: Optional[DelayedSender] = None
    work: Optional[WorkQueue] = None
    try:
        if seed(store):
            logger.info("TIE store %s created and seeded", store_file)
        service = TieService(store)
        config = emulator_config(config_file)
        sender = DelayedSender(delay_ms)
        work = WorkQueue({"request": MAX_PENDING_REQUESTS, "event": MAX_PENDING_EVENTS})
        with DxlClient(config) as client:
            info = ServiceRegistrationInfo(client, SERVICE_TYPE)
            set_unregister_will(client, info)
            client._client.on_socket_open = _no_delay
            client.connect()
            handler = _RequestHandler(client, service, sender, work)
            for topic in REQUEST_TOPICS:
                info.add_topic(topic, handler)
            client.register_service_sync(info, REGISTER_TIMEOUT)
            client.add_event_callback(TOPIC_EXTERNAL_FILE_REPORT,
                                      _ExternalReportHandler(client, service, sender, work))
            client.add_event_callback(FABRIC_READY_TOPIC, _FabricReadyHandler(client, info, work))
            logger.info("TIE emulator serving (delay %s ms, store %s, %s)", delay_ms, store_file,
                        store.counts())
            if on_ready is not None:
                on_ready()
            while not stop.wait(0.5):
                pass
            logger.info("TIE emulator stopping")
            _unregister(client, info, UNREGISTER_TIMEOUT)
            work.close()
            sender.close()
            logger.info("TIE emulator handled %d requests and reports; refused (overloaded) %s",
                        work.done, work.refused)
    finally:
        if work is not None:
            work.close()
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
