"""
Keeps a cache's entries trustworthy across disconnections: notices when reputation change events
may have been missed and, on a thread of its own, catches up with TIE's reputation updates query.

Noticing
    * the MQTT client of a :class:`dxlclient.client.DxlClient` reports every disconnection and
      reconnection: :class:`Synchroniser` chains its own quick handlers to them (they only set a
      flag under a lock; the MQTT thread is never made to wait);
    * every ``check_interval`` seconds the worker also checks that the client is connected (the
      only signal for a client without such hooks) and still subscribed to the change topics
      (removing another callback of the same topic unsubscribes it, as dxlclient does): a missing
      subscription is renewed and counts as a gap;
    * an event the cache cannot read is a gap too.

Catching up
    Once the client is connected again (dxlclient renews its subscriptions before it reports
    itself connected), the worker pages through
    :meth:`~dxltieclient.client.TieClient.iter_reputation_updates` from the last server time the
    cache saw (minus :data:`CATCH_UP_MARGIN_SECONDS`) and drops every listed file and
    certificate; changes made after the query are delivered as events. When that is impossible
    (no server time seen, the query fails, or it lists more than ``catch_up_limit`` hashes) the
    cache empties itself instead. Until then lookups bypass the cache.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Dict, Iterable, Mapping, Optional, Sequence

from ._keys import updates_page_keys
from ._store import ReputationStore

_logger = logging.getLogger(__name__)

#: Seconds subtracted from the last server time seen when catching up: server times are whole
#: seconds, and a change in the same second as that time may not have been seen.
CATCH_UP_MARGIN_SECONDS = 2
#: The page size of the catch-up query (TIE accepts 1 to 5000).
CATCH_UP_QUERY_LIMIT = 5000

#: Pages the reputation updates since a server time: ``fetch(since_time, query_limit)``.
FetchUpdates = Callable[[int, int], Iterable[Mapping[str, Any]]]


class _TooManyUpdates(Exception):
    pass


class Synchroniser:
    """
    The watcher and catch-up worker of one cache.

    :param dxl_client: the DXL client whose connection is watched
    :param store: the cache's entries
    :param fetch: pages the reputation updates (raises when the query is not possible)
    :param topics: the change event topics the cache must stay subscribed to
    :param check_interval: seconds between periodic checks
    :param catch_up_limit: the most hashes a catch-up may list before the cache empties instead
    """

    def __init__(self, dxl_client: Any, store: ReputationStore, fetch: FetchUpdates,
                 topics: Sequence[str], check_interval: float, catch_up_limit: int) -> None:
        self._dxl_client = dxl_client
        self._store = store
        self._fetch = fetch
        self._topics = tuple(topics)
        self._check_interval = check_interval
        self._catch_up_limit = catch_up_limit
        self._condition = threading.Condition()
        self._stopping = False
        self._gap = False
        self._down = False
        self._mqtt: Any = None
        self._hooks: Dict[str, _Chained] = {}
        self._thread = threading.Thread(target=self._run, name="dxltie-cache-sync", daemon=True)

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Hooks the connection callbacks and starts the worker thread."""
        self._install_hooks()
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """
        Unhooks and stops the worker (waits up to ``timeout`` seconds for it).

        :param timeout: seconds to wait for the worker
        """
        self._remove_hooks()
        with self._condition:
            self._stopping = True
            self._condition.notify_all()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    @property
    def hooked(self) -> bool:
        """Whether the client's connection callbacks are watched (else: periodic checks only)."""
        return self._mqtt is not None

    # -- signals --------------------------------------------------------------------------------

    def gap(self, reason: str) -> None:
        """
        Records that change events may have been missed: the cache stops serving entries until
        the worker caught up. Quick and non-blocking: callable from any thread.

        :param reason: for the log
        """
        self._store.unsync()
        with self._condition:
            first = not self._gap
            self._gap = True
            self._condition.notify_all()
        if first:
            _logger.info("TIE cache: %s; bypassing the cache until it has caught up", reason)

    def wait_synced(self, timeout: Optional[float]) -> bool:
        """
        Waits until the cache serves entries again.

        :param timeout: the most seconds to wait (``None``: no limit)
        :return: whether it is synchronised
        """
        with self._condition:
            self._condition.wait_for(lambda: not self._gap or self._stopping, timeout)
            return not self._gap

    # -- connection hooks -----------------------------------------------------------------------

    def _install_hooks(self) -> None:
        mqtt = getattr(self._dxl_client, "_client", None)
        if mqtt is None or not hasattr(mqtt, "on_connect") or not hasattr(mqtt, "on_disconnect"):
            _logger.debug("TIE cache: no MQTT connection callbacks to watch; checking every "
                          "%g s instead", self._check_interval)
            return
        for name, handler in (("on_connect", self._on_connect),
                              ("on_disconnect", self._on_disconnect)):
            self._hooks[name] = _chain(getattr(mqtt, name), handler)
            setattr(mqtt, name, self._hooks[name])
        self._mqtt = mqtt

    def _remove_hooks(self) -> None:
        mqtt, self._mqtt = self._mqtt, None
        for name, wrapper in self._hooks.items():
            if mqtt is not None and getattr(mqtt, name, None) is wrapper:
                setattr(mqtt, name, wrapper.original)
        self._hooks = {}

    def _on_disconnect(self) -> None:
        with self._condition:
            self._down = True
        self.gap("the DXL client was disconnected")

    def _on_connect(self) -> None:
        with self._condition:
            self._down = False
            self._condition.notify_all()

    # -- worker ---------------------------------------------------------------------------------

    def _run(self) -> None:
        retry = min(self._check_interval, 0.05)
        wait = self._check_interval
        while True:
            with self._condition:
                if not self._stopping and (not self._gap or self._down or wait == retry):
                    self._condition.wait(wait)
                if self._stopping:
                    return
                pending = self._gap and not self._down
            wait = self._check_interval
            try:
                self._check()
                if pending and self._connected():
                    self._catch_up()
                elif pending:
                    wait = retry  # reconnected, subscriptions being renewed: look again soon
            except Exception:
                _logger.exception("TIE cache: synchronisation check failed")

    def _connected(self) -> bool:
        return bool(getattr(self._dxl_client, "connected", True))

    def _check(self) -> None:
        connected = self._connected()
        if self._mqtt is None:  # no hooks: the periodic check is the only signal
            with self._condition:
                self._down = not connected
        if not connected:
            if self._store.synced:
                self.gap("the DXL client is not connected")
            return
        subscriptions = getattr(self._dxl_client, "subscriptions", None)
        if subscriptions is None:
            return
        missing = [topic for topic in self._topics if topic not in subscriptions]
        if missing:
            for topic in missing:
                self._dxl_client.subscribe(topic)
            self.gap("the DXL client was no longer subscribed to {}".format(", ".join(missing)))

    def _catch_up(self) -> None:
        epoch = self._store.epoch
        since = self._store.server_time
        if since is None:
            self._finish(epoch, clear=True, why="no server time seen yet")
            return
        listed = 0
        server_time: Optional[int] = None
        try:
            for page in self._fetch(max(0, since - CATCH_UP_MARGIN_SECONDS),
                                    CATCH_UP_QUERY_LIMIT):
                keys = updates_page_keys(page)
                listed += len(keys)
                if listed > self._catch_up_limit:
                    raise _TooManyUpdates()
                self._store.invalidate(keys)
                if server_time is None and isinstance(page.get("serverTime"), int):
                    server_time = page["serverTime"]
        except _TooManyUpdates:
            self._finish(epoch, clear=True, why="more than {} changes to catch up".format(
                self._catch_up_limit))
            return
        except Exception as error:  # noqa: BLE001  (emptying the cache is the safe answer)
            why = "the reputation updates query failed: {}: {}".format(
                type(error).__name__, str(error)[:200])
            self._finish(epoch, clear=True, why=why)
            return
        self._finish(epoch, server_time=server_time, why="caught up ({} hashes listed since "
                     "server time {})".format(listed, since))

    def _finish(self, epoch: int, why: str, clear: bool = False,
                server_time: Optional[int] = None) -> None:
        with self._condition:
            if self._store.resync(epoch, clear=clear, caught_up=not clear,
                                  server_time=server_time):
                self._gap = False
                self._condition.notify_all()
                _logger.info("TIE cache: %s%s", "emptied: " if clear else "", why)


class _Chained:
    """Calls a quick handler, then the original MQTT callback (whatever its arguments)."""

    def __init__(self, original: Any, handler: Callable[[], None]) -> None:
        self.original = original
        self.handler = handler

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            self.handler()
        except Exception:
            _logger.exception("TIE cache: connection hook failed")
        if self.original is not None:
            return self.original(*args, **kwargs)
        return None


def _chain(original: Any, handler: Callable[[], None]) -> _Chained:
    return _Chained(original, handler)
