"""
The connection state of the wrapped DXL client, as the request paths need it: is it connected,
and if not, is dxlclient reconnecting (worth a bounded wait) or not (fail at once).

dxlclient publishes a request on a disconnected client without a word (the MQTT client drops it),
so without this check every request would wait for its whole timeout.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import weakref
from typing import Any, Callable, List, Optional

_logger = logging.getLogger(__name__)

#: The longest single wait on dxlclient's connection condition: the reconnect thread may give up
#: without notifying it, so the waiter looks again at least this often.
_RECHECK_SECONDS = 0.5

#: After an unexpected disconnection dxlclient tidies up before it starts reconnecting (about a
#: second on the sandbox); a caller that saw the connection drop waits this long for that start.
RECONNECT_START_SECONDS = 3.0


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


def reconnects_by_itself(dxl_client: Any) -> bool:
    """
    Tells whether dxlclient reconnects after an unexpected disconnection (its configuration's
    ``reconnect_when_disconnected``, on by default).

    :param dxl_client: the DXL client
    :return: the setting, ``False`` when it cannot be read
    """
    config = getattr(dxl_client, "config", None)
    return bool(getattr(config, "reconnect_when_disconnected", False))


def wait_until_connected(dxl_client: Any, timeout: float, dropped: bool = False) -> bool:
    """
    Returns at once when the client is connected, or when it is disconnected and not
    reconnecting; while dxlclient is reconnecting, waits for it, at most ``timeout`` seconds.

    :param dxl_client: the DXL client
    :param timeout: the most seconds to wait (``inf``: as long as the reconnection goes on)
    :param dropped: the caller saw the connection drop: when dxlclient reconnects by itself,
        also wait (at most :data:`RECONNECT_START_SECONDS`) for its reconnection to start
    :return: whether the client is connected
    """
    if is_connected(dxl_client):
        return True
    condition = getattr(dxl_client, "_connected_wait_condition", None)
    if not isinstance(condition, threading.Condition):
        return False
    now = time.monotonic()
    deadline = now + timeout if math.isfinite(timeout) else math.inf
    start_by = now + RECONNECT_START_SECONDS if dropped and reconnects_by_itself(
        dxl_client) else now
    with condition:
        while not is_connected(dxl_client) and (is_reconnecting(dxl_client)
                                                or time.monotonic() < start_by):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            condition.wait(min(remaining, _RECHECK_SECONDS))
    return is_connected(dxl_client)



class _Watcher:
    """
    One thread per DXL client that counts its disconnections while at least one bulk call
    watches it, and tells the watchers. It waits on dxlclient's connection condition, which
    dxlclient notifies when the connection goes and comes back; it never notifies that condition
    itself (dxlclient's ``connect`` would take a spurious wake-up for a failure).
    """

    def __init__(self, dxl_client: Any, condition: threading.Condition) -> None:
        self.dxl_client = dxl_client
        self.condition = condition
        #: The disconnections seen since the thread started.
        self.disconnections = 0
        self.subscribers: List[Callable[[], None]] = []  # guarded by _WATCHERS_LOCK
        self.thread = threading.Thread(target=self._watch, name=WATCH_THREAD_NAME, daemon=True)

    def _watch(self) -> None:
        with self.condition:
            was_connected = is_connected(self.dxl_client)
            while self._wanted():
                connected = is_connected(self.dxl_client)
                if was_connected and not connected:
                    self.disconnections += 1
                    self._tell()
                was_connected = connected
                self.condition.wait(_RECHECK_SECONDS)

    def _wanted(self) -> bool:
        with _WATCHERS_LOCK:
            if self.subscribers:
                return True
            if _WATCHERS.get(self.dxl_client) is self:
                del _WATCHERS[self.dxl_client]  # a later call starts a new thread
            return False

    def _tell(self) -> None:
        with _WATCHERS_LOCK:
            subscribers = list(self.subscribers)
        for subscriber in subscribers:
            try:
                subscriber()
            except Exception:  # logged: the watch must go on
                _logger.exception("Error in a disconnection handler")


#: The name of the watching threads.
WATCH_THREAD_NAME = "dxltieclient-watch"
_WATCHERS: "weakref.WeakKeyDictionary[Any, _Watcher]" = weakref.WeakKeyDictionary()
_WATCHERS_LOCK = threading.Lock()


class DisconnectionWatch:
    """
    Counts the disconnections of a DXL client while it is open (a context manager), even one
    followed by a quick reconnection that a look at ``connected`` between two waits would miss:
    the responses to the requests sent before it are lost all the same.

    The watches of one client share one thread (see :class:`_Watcher`), which ends shortly after
    the last watch is closed. A client without dxlclient's connection condition (a test double)
    is not watched: :attr:`disconnections` stays 0.

    :param dxl_client: the DXL client
    :param on_disconnection: called on the watching thread after each disconnection seen
    """

    def __init__(self, dxl_client: Any, on_disconnection: Callable[[], None]) -> None:
        self._dxl_client = dxl_client
        self._on_disconnection = on_disconnection
        self._watcher: Optional[_Watcher] = None
        self._start = 0

    @property
    def disconnections(self) -> int:
        """The disconnections seen since the watch was opened."""
        if self._watcher is None:
            return 0
        return self._watcher.disconnections - self._start

    def __enter__(self) -> "DisconnectionWatch":
        condition = getattr(self._dxl_client, "_connected_wait_condition", None)
        if not isinstance(condition, threading.Condition):
            return self
        with _WATCHERS_LOCK:
            watcher = _WATCHERS.get(self._dxl_client)
            start = watcher is None
            if watcher is None:
                watcher = _WATCHERS[self._dxl_client] = _Watcher(self._dxl_client, condition)
            watcher.subscribers.append(self._on_disconnection)
            self._watcher = watcher
            self._start = watcher.disconnections
        if start:
            watcher.thread.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        if self._watcher is not None:
            with _WATCHERS_LOCK:
                self._watcher.subscribers.remove(self._on_disconnection)


class ConnectAttempt:
    """
    The outcome of :func:`connect_within`.

    :param connected: whether the client is connected
    :param error: what ``connect()`` raised, if it did
    :param pending: whether ``connect()`` was still running when the wait ended (the client
        must then not be destroyed from this thread until it returns)
    """

    def __init__(self, connected: bool, error: Optional[BaseException], pending: bool) -> None:
        self.connected = connected
        self.error = error
        self.pending = pending

    def reason(self, timeout: float) -> str:
        """:return: why the client is not connected, for a message"""
        if self.error is not None:
            return str(self.error)
        return "no connection within {:g} s".format(timeout)


def connect_within(dxl_client: Any, timeout: float,
                   name: str = "dxltie-connect") -> ConnectAttempt:
    """
    Calls the DXL client's blocking ``connect()`` on a thread of its own and waits for it at
    most ``timeout`` seconds (dxlclient's own wait is long and not always bounded).

    :param dxl_client: a :class:`dxlclient.client.DxlClient` not yet connected
    :param timeout: the most seconds to wait
    :param name: the connecting thread's name
    :return: the outcome
    """
    failure: List[BaseException] = []

    def run() -> None:
        try:
            dxl_client.connect()
        except Exception as error:  # noqa: BLE001  (handed to the caller in the outcome)
            failure.append(error)

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    thread.join(timeout)
    return ConnectAttempt(is_connected(dxl_client) and not failure,
                          failure[0] if failure else None, thread.is_alive())
