"""
The cache's memory: entries, the index of every hash to its entry, the lookups in flight, and the
synchronisation state. Pure data structure under one lock: no DXL, no threads of its own.

Keys
    A file is indexed under ``(hash type, lower-case hex)`` for every hash it was looked up with;
    a certificate under ``("cert", lower-case sha1 hex)`` (its entry also remembers the public key
    SHA-1 it was asked with: a lookup with another one is a miss).

Answers
    An entry holds the answer serialised with :mod:`marshal` (immutable bytes); every hit returns
    a fresh copy (:func:`marshal.loads`), so a caller mutating its answer cannot change the cache.

Stale replies
    Each lookup sent on a miss is registered as *pending* under its keys. An invalidation of any of
    those keys, or a loss of synchronisation, marks it poisoned, and its reply is then not stored:
    a reply that left TIE before a change but arrives after the change's event is never cached.

Synchronisation
    While :attr:`ReputationStore.synced` is false (the event stream may have missed something)
    the store answers nothing and stores nothing; :meth:`ReputationStore.resync` restores it once
    the owner caught up (or cleared).
"""

from __future__ import annotations

import collections
import marshal
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

#: An index key: ``(hash type, hex)`` for files, ``("cert", sha1 hex)`` for certificates.
Key = Tuple[str, str]

#: The key type of certificates.
CERT = "cert"

# marshal format 2 (no shared references) loads fastest; answers are plain JSON trees.
_MARSHAL_VERSION = 2


@dataclass(frozen=True)
class CacheStats:
    """
    A snapshot of a cache's counters (see :attr:`dxltieclient.caching.CachingTieClient.stats`).

    Log it with ``logger.info("TIE cache: %s", cache.stats)`` or read it as a dict with
    :meth:`as_dict`.
    """

    #: Lookups answered from the cache.
    hits: int = 0
    #: Lookups that asked TIE (not cached, expired, or bypassed).
    misses: int = 0
    #: Lookups that bypassed the cache because it could not vouch for its entries (disconnected
    #: or catching up); they are counted in :attr:`misses` as well.
    bypasses: int = 0
    #: Answers stored.
    stores: int = 0
    #: Replies not stored because a change to the same file or certificate (or a loss of
    #: synchronisation) happened while the request was in flight.
    discarded: int = 0
    #: Entries dropped by reputation change events and catch-ups.
    invalidations: int = 0
    #: Reputation change events received.
    events: int = 0
    #: Catch-ups completed with the reputation updates query.
    catch_ups: int = 0
    #: Times the cache emptied itself (a catch-up was impossible or too large).
    clears: int = 0
    #: Entries dropped to stay within ``max_entries`` (least recently used first).
    evictions: int = 0
    #: Entries dropped because they were older than ``max_age``.
    expirations: int = 0
    #: Entries held now.
    entries: int = 0

    def as_dict(self) -> Dict[str, int]:
        """
        The counters as a dict.

        :return: counter name to value
        """
        return asdict(self)


class _Entry:
    __slots__ = ("keys", "variant", "blob", "born")

    def __init__(self, keys: Tuple[Key, ...], variant: str, blob: bytes, born: float) -> None:
        self.keys = keys
        self.variant = variant
        self.blob = blob
        self.born = born


class Pending:
    """A lookup in flight: the keys it concerns and whether its reply may still be stored."""

    __slots__ = ("keys", "variant", "epoch", "poisoned")

    def __init__(self, keys: Tuple[Key, ...], variant: str, epoch: int) -> None:
        self.keys = keys
        self.variant = variant
        self.epoch = epoch
        self.poisoned = False


class ReputationStore:
    """
    The entries of a :class:`~dxltieclient.caching.CachingTieClient`; thread-safe.

    :param max_entries: the most entries held (least recently used are evicted first)
    :param max_age: seconds after which an entry is no longer served (``None``: no limit)
    :param clock: monotonic seconds (tests inject their own)
    """

    def __init__(self, max_entries: int, max_age: Optional[float],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._max_entries = max_entries
        self._max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        self._lru: "collections.OrderedDict[_Entry, None]" = collections.OrderedDict()
        self._index: Dict[Key, _Entry] = {}
        self._pending: Dict[Key, List[Pending]] = {}
        self._synced = True
        self._epoch = 0
        self._server_time: Optional[int] = None
        self._hits = 0
        self._counts: Dict[str, int] = dict.fromkeys(
            ("misses", "bypasses", "stores", "discarded", "invalidations", "events",
             "catch_ups", "clears", "evictions", "expirations"), 0)

    # -- lookups ---------------------------------------------------------------------------------

    def get(self, keys: Sequence[Key], variant: str = "") -> Optional[Dict[Any, Any]]:
        """
        Answers a lookup from the cache when every key names the same fresh entry. A ``None``
        is not counted: :meth:`begin` counts the miss when the lookup is sent.

        :param keys: the lookup's keys (at least one)
        :param variant: what else the lookup depends on (a certificate's public key SHA-1)
        :return: a fresh copy of the cached answer, or ``None``
        """
        with self._lock:
            if not self._synced:
                return None
            index = self._index
            entry = index.get(keys[0])
            if entry is None or entry.variant != variant:
                return None
            if len(keys) > 1:
                for key in keys[1:]:
                    if index.get(key) is not entry:
                        return None
            if self._max_age is not None and self._clock() - entry.born >= self._max_age:
                self._drop(entry)
                self._counts["expirations"] += 1
                return None
            self._lru.move_to_end(entry)
            self._hits += 1
            blob = entry.blob
        answer: Dict[Any, Any] = marshal.loads(blob)
        return answer

    def begin(self, keys: Sequence[Key], variant: str = "") -> Optional[Pending]:
        """
        Registers a lookup about to be sent to TIE.

        :return: the pending record to give to :meth:`finish`, or ``None`` when the cache is not
            synchronised (the reply will not be stored)
        """
        with self._lock:
            self._counts["misses"] += 1
            if not self._synced:
                self._counts["bypasses"] += 1
                return None
            pending = Pending(tuple(keys), variant, self._epoch)
            for key in keys:
                self._pending.setdefault(key, []).append(pending)
            return pending

    def finish(self, pending: Optional[Pending], answer: Any = None, store: bool = False,
               server_time: Optional[int] = None) -> None:
        """
        Ends a lookup registered by :meth:`begin`: stores its answer unless a change or a loss of
        synchronisation happened since it was sent. Call it once per :meth:`begin`, also when the
        lookup failed (``store=False``).

        :param pending: what :meth:`begin` returned (``None`` does nothing)
        :param answer: the answer TIE gave (serialised now: the caller may mutate it afterwards)
        :param store: whether to store ``answer``
        :param server_time: the server time the reply carried, if any
        """
        if pending is None:
            return
        blob = marshal.dumps(answer, _MARSHAL_VERSION) if store else b""
        with self._lock:
            self._unregister(pending)
            if not store:
                return
            if pending.poisoned or pending.epoch != self._epoch or not self._synced:
                self._counts["discarded"] += 1
                return
            self._note_server_time(server_time)
            for key in pending.keys:
                old = self._index.get(key)
                if old is not None:
                    self._drop(old)
            entry = _Entry(pending.keys, pending.variant, blob, self._clock())
            self._lru[entry] = None
            for key in pending.keys:
                self._index[key] = entry
            self._counts["stores"] += 1
            while len(self._lru) > self._max_entries:
                self._drop(next(iter(self._lru)))
                self._counts["evictions"] += 1

    def _unregister(self, pending: Pending) -> None:
        for key in pending.keys:
            waiting = self._pending.get(key)
            if waiting is None:
                continue
            try:
                waiting.remove(pending)
            except ValueError:
                pass
            if not waiting:
                del self._pending[key]

    # -- changes ---------------------------------------------------------------------------------

    def invalidate(self, keys: Iterable[Key], server_time: Optional[int] = None,
                   event: bool = False) -> int:
        """
        Drops the entries known by any of ``keys`` and poisons the lookups in flight for them.

        :param keys: the changed files' and certificates' keys
        :param server_time: the server time of the change, if known
        :param event: whether this comes from a reputation change event (counted)
        :return: the number of entries dropped
        """
        dropped = 0
        with self._lock:
            if event:
                self._counts["events"] += 1
            for key in keys:
                entry = self._index.get(key)
                if entry is not None:
                    self._drop(entry)
                    dropped += 1
                for pending in self._pending.get(key, ()):
                    pending.poisoned = True
            self._counts["invalidations"] += dropped
            if self._synced:
                self._note_server_time(server_time)
        return dropped

    def _drop(self, entry: _Entry) -> None:
        for key in entry.keys:
            if self._index.get(key) is entry:
                del self._index[key]
        self._lru.pop(entry, None)

    def _note_server_time(self, server_time: Optional[int]) -> None:
        if isinstance(server_time, int) and not isinstance(server_time, bool) and (
                self._server_time is None or server_time > self._server_time):
            self._server_time = server_time

    # -- synchronisation -------------------------------------------------------------------------

    @property
    def synced(self) -> bool:
        """Whether the entries can be vouched for (the event stream is believed complete)."""
        with self._lock:
            return self._synced

    @property
    def server_time(self) -> Optional[int]:
        """The latest server time seen while synchronised (epoch seconds), or ``None``."""
        with self._lock:
            return self._server_time

    @property
    def epoch(self) -> int:
        """A counter bumped at each loss of synchronisation."""
        with self._lock:
            return self._epoch

    def unsync(self) -> int:
        """
        Records that events may have been missed: nothing is served or stored until
        :meth:`resync`, and the replies in flight will not be stored.

        :return: the new epoch (give it to :meth:`resync`)
        """
        with self._lock:
            self._synced = False
            self._epoch += 1
            return self._epoch

    def resync(self, epoch: int, clear: bool = False, caught_up: bool = False,
               server_time: Optional[int] = None) -> bool:
        """
        Serves entries again after a catch-up (or after emptying the cache), unless
        synchronisation was lost again since ``epoch``.

        :param epoch: what :meth:`unsync` returned, or :attr:`epoch` read before the catch-up
        :param clear: drop every entry first
        :param caught_up: count a completed catch-up
        :param server_time: the server time the catch-up reached, if known
        :return: ``True`` when the cache is synchronised again
        """
        with self._lock:
            if clear:
                self._lru.clear()
                self._index.clear()
                self._server_time = None
                self._counts["clears"] += 1
            if self._epoch != epoch:
                return False
            if caught_up:
                self._counts["catch_ups"] += 1
            self._note_server_time(server_time)
            self._synced = True
            return True

    # -- inspection ------------------------------------------------------------------------------

    def stats(self) -> CacheStats:
        """
        A snapshot of the counters.

        :return: the counters and the number of entries held
        """
        with self._lock:
            return CacheStats(hits=self._hits, entries=len(self._lru), **self._counts)

    def __len__(self) -> int:
        with self._lock:
            return len(self._lru)
