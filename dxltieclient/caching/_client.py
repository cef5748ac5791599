"""
:class:`CachingTieClient`: a :class:`~dxltieclient.client.TieClient` whose file and certificate
lookups are answered from a local cache that TIE's own reputation change events keep fresh.
"""

from __future__ import annotations

import logging
import math
import threading
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple

from .. import _bulk, _errors, _wire
from ..client import (
    TIE_EVENT_CERT_REPUTATION_CHANGE_TARGETED_TOPIC,
    TIE_EVENT_CERT_REPUTATION_CHANGE_TOPIC,
    TIE_EVENT_FILE_REPUTATION_CHANGE_TARGETED_TOPIC,
    TIE_EVENT_FILE_REPUTATION_CHANGE_TOPIC,
    TIE_GET_CERT_REPUTATION_TOPIC,
    TIE_GET_FILE_REPUTATION_TOPIC,
    TieClient,
)
from ..constants import HashType
from . import _keys
from ._events import ChangeListener
from ._store import CacheStats, Key, Pending, ReputationStore
from ._sync import Synchroniser

_logger = logging.getLogger(__name__)

_Hashes = Mapping[str, str]
_Reputations = Dict[int, Dict[str, Any]]

#: The default most entries (files and certificates together).
DEFAULT_MAX_ENTRIES = 100_000
#: The default maximum age of an entry, in seconds (a safety net: events keep entries fresh).
DEFAULT_MAX_AGE = 3600.0
#: The default seconds between the periodic connection and subscription checks.
DEFAULT_CHECK_INTERVAL = 1.0
#: The default most hashes a catch-up may list before the cache empties itself instead.
DEFAULT_CATCH_UP_LIMIT = 100_000

#: The file hash types the catch-up asks for (TIE lists one hash per changed file, of the type
#: asked for; the cache may know a file by any of them).
_CATCH_UP_FILE_HASH_TYPES = (HashType.MD5, HashType.SHA1, HashType.SHA256)


def _check_options(max_entries: Any, max_age: Any, check_interval: Any,
                   catch_up_limit: Any) -> None:
    def positive_number(value: Any) -> bool:
        return (isinstance(value, (int, float)) and not isinstance(value, bool)
                and not math.isnan(value) and value > 0)

    for name, value in (("max_entries", max_entries), ("catch_up_limit", catch_up_limit)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise _errors.TieInputError("{} must be a positive int, got {!r}".format(
                name, value))
    if max_age is not None and not positive_number(max_age):
        raise _errors.TieInputError(
            "max_age must be a positive number of seconds or None, got {!r}".format(max_age))
    if not positive_number(check_interval) or math.isinf(check_interval):
        raise _errors.TieInputError(
            "check_interval must be a positive finite number of seconds, got {!r}".format(
                check_interval))


def _server_time(response: Any) -> Optional[int]:
    props = response.get("props") if isinstance(response, dict) else None
    value = props.get("serverTime") if isinstance(props, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class CachingTieClient(TieClient):
    """
    A :class:`~dxltieclient.client.TieClient` that answers repeated file and certificate lookups
    from a local cache, kept fresh by TIE's reputation change events. An existing script changes
    one line:

    .. code-block:: python

        from dxltieclient.caching import CachingTieClient

        tie_client = CachingTieClient(dxl_client)   # was: TieClient(dxl_client)
        reputations = tie_client.get_file_reputation({HashType.MD5: md5})
        ...
        tie_client.close()                           # or: with CachingTieClient(...) as tie_client

    Every method of :class:`~dxltieclient.client.TieClient` is available.
    :meth:`get_file_reputation`, :meth:`get_certificate_reputation` and
    :meth:`get_file_reputations` return exactly what the uncached calls return (a fresh copy each
    time: mutating it does not change the cache), raise the same input errors, and send the same
    request on a miss. The set calls drop the entry they change.

    How it stays correct (see :doc:`/cache` for the details):

    * it subscribes to the file and certificate reputation change events, broadcast and targeted;
      each event drops every entry of the file (by any of its hashes) or certificate it names, and
      a reply to a lookup that was in flight when the event arrived is not stored;
    * a file is known by every hash it was looked up with: a later lookup by any subset of them is
      a hit. This assumes TIE answers the same for any of a file's hashes (it identifies the file
      by any of them);
    * after a disconnection (or a lost subscription, or an unreadable event) it bypasses the cache
      until it has caught up with the reputation updates query from the last server time it saw,
      or emptied itself when that is impossible;
    * at most ``max_entries`` entries (least recently used evicted first), each served for at most
      ``max_age`` seconds.

    Derived values TIE computes when asked and announces with no reputation change event (the
    Enterprise ``PREVALENCE`` and ``ENTERPRISE_SIZE`` attributes, which grow as other systems ask)
    are as of the cached lookup, at most ``max_age`` seconds old.

    :param dxl_client: the connected :class:`dxlclient.client.DxlClient`
    :param max_entries: the most files and certificates held
    :param max_age: seconds an entry is served at most (``None``: until an event drops it)
    :param check_interval: seconds between checks of the connection and of the subscriptions
    :param catch_up_limit: the most changed hashes a catch-up goes through; beyond, the cache
        empties itself instead
    :raises TieInputError: for an option that is not a positive number
    """

    def __init__(self, dxl_client: Any, max_entries: int = DEFAULT_MAX_ENTRIES,
                 max_age: Optional[float] = DEFAULT_MAX_AGE,
                 check_interval: float = DEFAULT_CHECK_INTERVAL,
                 catch_up_limit: int = DEFAULT_CATCH_UP_LIMIT) -> None:
        _check_options(max_entries, max_age, check_interval, catch_up_limit)
        super().__init__(dxl_client)
        self._cache = ReputationStore(max_entries, max_age)
        topics = (TIE_EVENT_FILE_REPUTATION_CHANGE_TOPIC,
                  TIE_EVENT_FILE_REPUTATION_CHANGE_TARGETED_TOPIC,
                  TIE_EVENT_CERT_REPUTATION_CHANGE_TOPIC,
                  TIE_EVENT_CERT_REPUTATION_CHANGE_TARGETED_TOPIC)
        self._sync = Synchroniser(dxl_client, self._cache, self._fetch_updates, topics,
                                  check_interval, catch_up_limit)
        self._listeners: List[Tuple[str, ChangeListener]] = []
        for topic in topics:
            extract = _keys.cert_event_keys if "/cert/" in topic else _keys.file_event_keys
            listener = ChangeListener(self._cache, extract, self._sync.gap)
            dxl_client.add_event_callback(topic, listener)
            self._listeners.append((topic, listener))
        self._sync.start()

    # -- the cache ------------------------------------------------------------------------------

    @property
    def stats(self) -> CacheStats:
        """
        A snapshot of the cache's counters: hits, misses, invalidations, catch-ups, evictions...
        (see :class:`~dxltieclient.caching.CacheStats`).
        """
        return self._cache.stats()

    @property
    def synced(self) -> bool:
        """Whether the cache serves entries now (``False`` while disconnected or catching up)."""
        return self._cache.synced

    def wait_synced(self, timeout: Optional[float] = None) -> bool:
        """
        Waits until the cache serves entries again after a disconnection.

        :param timeout: the most seconds to wait (``None``: no limit)
        :return: whether it is synchronised
        """
        return self._sync.wait_synced(timeout)

    def clear(self) -> None:
        """Drops every entry (lookups in flight are not stored either)."""
        epoch = self._cache.unsync()
        self._cache.resync(epoch, clear=True)

    def close(self) -> None:
        """
        Stops the cache: stops its thread, empties it and removes its event callbacks
        (unsubscribing from a topic only when no other callback uses it). The client still works
        afterwards, uncached: every lookup asks TIE.
        """
        self._sync.stop()
        self._cache.resync(self._cache.unsync(), clear=True)
        self._cache.unsync()  # for good: nothing is served or stored any more
        client = self._dxl_client
        for topic, listener in self._listeners:
            client.remove_event_callback(topic, listener, unsubscribe_from_topic=False)
            manager = getattr(client, "_event_callbacks", None)
            remaining = getattr(manager, "callbacks_by_channel", {}).get(topic)
            if not remaining:
                client.unsubscribe(topic)
        self._listeners = []

    def __enter__(self) -> "CachingTieClient":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    # -- lookups --------------------------------------------------------------------------------

    def get_file_reputation(self, hashes: _Hashes) -> _Reputations:
        """
        Looks up the reputations of a file, from the cache when it holds them (see
        :meth:`dxltieclient.client.TieClient.get_file_reputation` for the arguments, the result
        and the errors).
        """
        keys: Optional[Sequence[Key]] = _keys.fast_file_keys(hashes)
        if keys is not None:
            # Only validated lookups are indexed: a hit on every key proves the hashes valid.
            cached = self._cache.get(keys)
            if cached is not None:
                return cached
        _wire.check_hashes(hashes)
        if keys is None:
            keys = _keys.file_keys(hashes)
            cached = self._cache.get(keys)
            if cached is not None:
                return cached
        return self._ask_and_store(TIE_GET_FILE_REPUTATION_TOPIC,
                                   _wire.file_reputation_request(hashes), self._cache.begin(keys))

    def _ask_and_store(self, topic: str, payload: Dict[str, Any],
                       pending: Optional[Pending]) -> _Reputations:
        """Asks TIE for reputations and hands the answer to the cache's pending lookup."""
        try:
            response = self._tie_request(topic, payload)
            parsed = _wire.decode_json(response.payload)
            server_time = _server_time(parsed)
            reputations = _wire.reputations_from_response(parsed)
        except BaseException:
            self._cache.finish(pending)
            raise
        self._cache.finish(pending, reputations, True, server_time)
        return reputations

    def get_certificate_reputation(self, sha1: str,
                                   public_key_sha1: Optional[str] = None) -> _Reputations:
        """
        Looks up the reputations of a certificate, from the cache when it holds them (see
        :meth:`dxltieclient.client.TieClient.get_certificate_reputation`).
        """
        payload = _wire.cert_reputation_request(sha1, public_key_sha1)
        keys = (_keys.cert_key(sha1),)
        variant = _keys.cert_variant(public_key_sha1)
        cached = self._cache.get(keys, variant)
        if cached is not None:
            return cached
        return self._ask_and_store(TIE_GET_CERT_REPUTATION_TOPIC, payload,
                                   self._cache.begin(keys, variant))

    def get_file_reputations(
            self, hashes_list: Iterable[_Hashes],
            max_in_flight: int = _bulk.DEFAULT_MAX_IN_FLIGHT, timeout: Optional[float] = None,
            progress: Optional[_bulk.ProgressCallback] = None, *,
            stop: Optional[threading.Event] = None,
    ) -> List["_bulk.BulkResult[_Hashes]"]:
        """
        Looks up the reputations of many files: the cached ones are answered at once, the others
        are asked of TIE as :meth:`dxltieclient.client.TieClient.get_file_reputations` does (same
        arguments, results and errors, ``stop`` included; cached items count as completed from
        the start).
        """
        if timeout is None:
            timeout = self._response_timeout
        _bulk.check_bulk_options(max_in_flight, timeout, progress, stop)
        items = _bulk.item_list(hashes_list, "hashes_list")
        results, to_send = _bulk.prepare(items, _wire.file_reputation_request)
        misses: List[Tuple[int, bytes]] = []
        pending: Dict[int, Optional[Pending]] = {}
        for index, payload in to_send:
            keys = _keys.file_keys(items[index])
            cached = self._cache.get(keys)
            if cached is not None:
                results[index].value = cached
            else:
                misses.append((index, payload))
                pending[index] = self._cache.begin(keys)
        times: List[int] = []

        def parse(response: Any) -> _Reputations:
            server_time = _server_time(response)
            if server_time is not None:
                times.append(server_time)
            return _wire.reputations_from_response(response)

        try:
            _bulk.run_requests(self._dxl_client, TIE_GET_FILE_REPUTATION_TOPIC, results, misses,
                               parse, max_in_flight, timeout, progress, stop)
        finally:
            latest = max(times) if times else None
            for index, record in pending.items():
                result = results[index]
                done = result.error is None and isinstance(result.value, dict)  # else: aborted
                self._cache.finish(record, result.value, done, latest)
        return results

    # -- sets: drop the entry they change -------------------------------------------------------

    def set_file_reputation(self, trust_level: int, hashes: _Hashes, filename: str = "",
                            comment: str = "") -> None:
        """
        Sets a file's enterprise reputation (see
        :meth:`dxltieclient.client.TieClient.set_file_reputation`) and drops its cache entry.
        """
        self._around_set(_file_keys_or_none(hashes), super().set_file_reputation, trust_level,
                         hashes, filename, comment)

    def set_external_file_reputation(self, trust_level: int, hashes: _Hashes,
                                     file_type: int = 0, filename: str = "",
                                     comment: str = "") -> None:
        """
        Reports an external reputation (see
        :meth:`dxltieclient.client.TieClient.set_external_file_reputation`) and drops the file's
        cache entry.
        """
        self._around_set(_file_keys_or_none(hashes), super().set_external_file_reputation,
                         trust_level, hashes, file_type, filename, comment)

    def set_certificate_reputation(self, trust_level: int, sha1: str,
                                   public_key_sha1: Optional[str] = None,
                                   comment: str = "") -> None:
        """
        Sets a certificate's enterprise reputation (see
        :meth:`dxltieclient.client.TieClient.set_certificate_reputation`) and drops its cache
        entry.
        """
        keys = [_keys.cert_key(sha1)] if isinstance(sha1, (str, bytes)) else []
        self._around_set(keys, super().set_certificate_reputation, trust_level, sha1,
                         public_key_sha1, comment)

    def _around_set(self, keys: Optional[List[Key]], call: Any, *args: Any) -> None:
        # Before: a lookup in flight will not store the old answer. After: an answer stored
        # between the two is dropped. The change event drops it once more.
        if keys:
            self._cache.invalidate(keys)
        try:
            call(*args)
        finally:
            if keys:
                self._cache.invalidate(keys)

    # -- catch-up -------------------------------------------------------------------------------

    def _fetch_updates(self, since_time: int, query_limit: int) -> Iterator[Mapping[str, Any]]:
        fetch = getattr(self, "iter_reputation_updates", None)
        if fetch is None:
            raise _errors.TieError("this TieClient has no iter_reputation_updates")
        for hash_type in _CATCH_UP_FILE_HASH_TYPES:
            yield from fetch(since_time, query_limit=query_limit, file_hash_type=hash_type,
                             cert_hash_type=HashType.SHA1)


def _file_keys_or_none(hashes: Any) -> Optional[List[Key]]:
    if not isinstance(hashes, Mapping):
        return None
    try:
        return list(_keys.file_keys(hashes))
    except (TypeError, ValueError, AttributeError):
        return None
