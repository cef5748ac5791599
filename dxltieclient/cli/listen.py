"""
``dxltie listen``: registers the library's callback classes and prints each TIE event as one JSON
line ``{"topic": ..., "type": ..., "event": {...}}`` (flushed per line) until interrupted by
SIGINT or SIGTERM, or until a given number of events arrived.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from typing import Any, Callable, Dict, List, Optional, TextIO, Tuple

from ..callbacks import DetectionCallback, FirstInstanceCallback, ReputationChangeCallback
from ..client import TieClient

#: The event kinds, as written in the ``type`` member of each line.
REPUTATION_CHANGE = "reputation-change"
DETECTION = "detection"
FIRST_INSTANCE = "first-instance"


class EventPrinter:
    """
    Writes events as JSON lines, one at a time (callbacks may run on several threads), and
    counts them.

    :param stream: where to write
    :param limit: set :attr:`done` after this many events (``None``: never)
    """

    def __init__(self, stream: TextIO, limit: Optional[int] = None) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        self._limit = limit
        #: The number of events written.
        self.count = 0
        #: Set when the limit is reached, or by :meth:`stop`.
        self.done = threading.Event()

    def write(self, kind: str, event_dict: Dict[str, Any], original_event: Any) -> None:
        """
        Writes one event line and flushes it.

        :param kind: the event kind (``reputation-change``, ``detection``, ``first-instance``)
        :param event_dict: the event as the callback received it
        :param original_event: the :class:`dxlclient.message.Event`
        """
        line = json.dumps({"topic": getattr(original_event, "destination_topic", None),
                           "type": kind, "event": event_dict}, default=str)
        with self._lock:
            if self.done.is_set() and self._limit is not None:
                return
            self._stream.write(line + "\n")
            self._stream.flush()
            self.count += 1
            if self._limit is not None and self.count >= self._limit:
                self.done.set()

    def stop(self) -> None:
        """Ends the wait of :func:`listen`."""
        self.done.set()


class _RepChange(ReputationChangeCallback):
    def __init__(self, printer: EventPrinter) -> None:
        super().__init__()
        self._printer = printer

    def on_reputation_change(self, rep_change_dict: Dict[str, Any], original_event: Any) -> None:
        self._printer.write(REPUTATION_CHANGE, rep_change_dict, original_event)


class _Detection(DetectionCallback):
    def __init__(self, printer: EventPrinter) -> None:
        super().__init__()
        self._printer = printer

    def on_detection(self, detection_dict: Dict[str, Any], original_event: Any) -> None:
        self._printer.write(DETECTION, detection_dict, original_event)


class _FirstInstance(FirstInstanceCallback):
    def __init__(self, printer: EventPrinter) -> None:
        super().__init__()
        self._printer = printer

    def on_first_instance(self, first_instance_dict: Dict[str, Any],
                          original_event: Any) -> None:
        self._printer.write(FIRST_INSTANCE, first_instance_dict, original_event)


def _registrations(tie_client: TieClient, printer: EventPrinter, kinds: List[str]
                   ) -> List[Tuple[Callable[[Any], None], Callable[[Any], None], Any]]:
    """The (add, remove, callback) triples for the kinds asked for."""
    triples: List[Tuple[Callable[[Any], None], Callable[[Any], None], Any]] = []
    if REPUTATION_CHANGE in kinds:
        rep_change = _RepChange(printer)
        triples.append((tie_client.add_file_reputation_change_callback,
                        tie_client.remove_file_reputation_change_callback, rep_change))
        triples.append((tie_client.add_certificate_reputation_change_callback,
                        tie_client.remove_certificate_reputation_change_callback, rep_change))
    if DETECTION in kinds:
        triples.append((tie_client.add_file_detection_callback,
                        tie_client.remove_file_detection_callback, _Detection(printer)))
    if FIRST_INSTANCE in kinds:
        triples.append((tie_client.add_file_first_instance_callback,
                        tie_client.remove_file_first_instance_callback, _FirstInstance(printer)))
    return triples


class ConnectionWatch:
    """
    Reports, through ``report``, when the DXL client loses its connection and when it has it
    again (checked by :meth:`check`, called from the waiting loop every 0.2 s).

    :param connected: tells whether the client is connected now
    :param report: called with a message on each change
    """

    def __init__(self, connected: Callable[[], bool], report: Callable[[str], None]) -> None:
        self._connected = connected
        self._report = report
        self._was_connected = True
        self._lost_at = 0.0

    def check(self) -> None:
        """Compares the connection state with the last one seen, and reports a change."""
        now_connected = bool(self._connected())
        if now_connected == self._was_connected:
            return
        self._was_connected = now_connected
        if not now_connected:
            self._lost_at = time.monotonic()
            self._report("connection to the DXL broker lost; reconnecting (events sent "
                         "meanwhile are missed)")
        else:
            self._report("connection to the DXL broker restored after {:.1f} s".format(
                time.monotonic() - self._lost_at))


def listen(tie_client: TieClient, kinds: List[str], printer: EventPrinter,
           ready: Optional[Callable[[], None]] = None,
           watch: Optional[ConnectionWatch] = None) -> int:
    """
    Prints events until SIGINT/SIGTERM (when called on the main thread) or until
    ``printer.done`` is set.

    :param tie_client: a connected TIE client
    :param kinds: the event kinds to listen to
    :param printer: writes the events
    :param ready: called once the callbacks are registered
    :param watch: checked while waiting, to report lost and restored connections
    :return: the number of events printed
    """
    triples = _registrations(tie_client, printer, kinds)
    previous: Dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, lambda *_: printer.stop())
    try:
        for add, _, callback in triples:
            add(callback)
        if ready is not None:
            ready()
        while not printer.done.wait(0.2):
            if watch is not None:
                watch.check()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for _, remove, callback in triples:
            try:
                remove(callback)
            except Exception:  # noqa: BLE001  (disconnecting anyway)
                pass
    return printer.count
