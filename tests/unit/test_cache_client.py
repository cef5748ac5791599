"""CachingTieClient over a faithful fake TIE (tests/unit/cache_fakes.py): hits, invalidation by
events, in-flight races, catch-up after a disconnection, bounds, statistics."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from typing import Dict, Iterator

import pytest
from cache_fakes import FabricClient, FakeTie, lookups
from dxlclient.exceptions import DxlException
from tie_fakes import make_event

from dxltieclient import InvalidHashError, TieClient, TieInputError, TrustLevel
from dxltieclient.caching import CacheStats, CachingTieClient
from dxltieclient.client import (
    TIE_EVENT_FILE_REPUTATION_CHANGE_TOPIC,
    TIE_GET_CERT_REPUTATION_TOPIC,
    TIE_GET_REPUTATION_UPDATES_TOPIC,
)

WAIT = 10.0


def file_hashes(number: int) -> Dict[str, str]:
    seed = str(number).encode()
    return {"md5": hashlib.md5(seed).hexdigest(), "sha1": hashlib.sha1(seed).hexdigest(),
            "sha256": hashlib.sha256(seed).hexdigest()}


def cert_sha1(number: int) -> str:
    return hashlib.sha1(b"cert" + str(number).encode()).hexdigest()


@pytest.fixture
def tie() -> FakeTie:
    return FakeTie()


@pytest.fixture
def client(tie: FakeTie) -> FabricClient:
    return tie.client()


@pytest.fixture
def cache(client: FabricClient) -> Iterator[CachingTieClient]:
    caching = CachingTieClient(client, check_interval=0.05)
    yield caching
    caching.close()


@pytest.fixture
def other(tie: FakeTie) -> TieClient:
    """Another client of the same TIE, uncached: its sets publish change events."""
    return TieClient(tie.client())


# -- hits -------------------------------------------------------------------------------------

def test_second_lookup_is_a_hit_with_the_same_answer(cache: CachingTieClient,
                                                     client: FabricClient,
                                                     tie: FakeTie) -> None:
    hashes = file_hashes(1)
    first = cache.get_file_reputation(hashes)
    second = cache.get_file_reputation(hashes)
    assert first == second == tie.file_answer(hashes)
    assert lookups(client) == 1
    assert cache.stats.hits == 1 and cache.stats.misses == 1 and cache.stats.stores == 1


def test_answer_and_request_identical_to_the_uncached_client(tie: FakeTie,
                                                             cache: CachingTieClient,
                                                             client: FabricClient) -> None:
    plain_client = tie.client()
    plain = TieClient(plain_client)
    hashes = file_hashes(2)
    expected = plain.get_file_reputation(hashes)
    assert cache.get_file_reputation(hashes) == expected
    assert cache.get_file_reputation(hashes) == expected
    assert client.requests[0].request.payload == plain_client.requests[0].request.payload
    assert type(next(iter(cache.get_file_reputation(hashes)))) is int


def test_mutating_an_answer_does_not_change_the_cache(cache: CachingTieClient) -> None:
    hashes = file_hashes(3)
    answer = cache.get_file_reputation(hashes)
    expected = json.loads(json.dumps(answer))
    answer[1]["trustLevel"] = 99
    answer[3]["attributes"]["2101652"] = "changed"
    del answer[3]
    hit = cache.get_file_reputation(hashes)
    hit[1]["trustLevel"] = 0
    assert json.loads(json.dumps(cache.get_file_reputation(hashes))) == expected


def test_a_file_is_found_by_any_of_its_hashes(cache: CachingTieClient,
                                              client: FabricClient) -> None:
    hashes = file_hashes(4)
    cache.get_file_reputation(hashes)
    for hash_type, value in hashes.items():
        cache.get_file_reputation({hash_type: value.upper()})
    cache.get_file_reputation({"sha256": hashes["sha256"], "md5": hashes["md5"]})
    assert lookups(client) == 1


def test_a_hash_the_entry_does_not_know_is_a_miss(cache: CachingTieClient,
                                                  client: FabricClient) -> None:
    hashes = file_hashes(5)
    cache.get_file_reputation({"md5": hashes["md5"]})
    cache.get_file_reputation(hashes)  # sha1 and sha256 unknown to the entry: asks TIE
    assert lookups(client) == 2
    cache.get_file_reputation({"sha1": hashes["sha1"]})
    assert lookups(client) == 2


def test_invalid_input_raises_even_when_cached(cache: CachingTieClient,
                                               client: FabricClient) -> None:
    hashes = file_hashes(6)
    cache.get_file_reputation(hashes)
    with pytest.raises(InvalidHashError):
        cache.get_file_reputation(dict(hashes, sha512="ab"))
    with pytest.raises(TieInputError):
        cache.get_file_reputation({})
    with pytest.raises(InvalidHashError):
        cache.get_certificate_reputation("xyz")
    assert lookups(client) == 1


def test_certificate_hit_and_public_key_variant(cache: CachingTieClient,
                                                client: FabricClient) -> None:
    sha1 = cert_sha1(1)
    first = cache.get_certificate_reputation(sha1)
    assert cache.get_certificate_reputation(sha1.upper()) == first
    assert lookups(client, TIE_GET_CERT_REPUTATION_TOPIC) == 1
    cache.get_certificate_reputation(sha1, public_key_sha1=cert_sha1(2))
    assert lookups(client, TIE_GET_CERT_REPUTATION_TOPIC) == 2


# -- events -----------------------------------------------------------------------------------

@pytest.mark.parametrize("broadcast, targeted", [(True, False), (False, True)])
def test_a_set_by_another_client_is_seen(tie: FakeTie, cache: CachingTieClient,
                                         other: TieClient, broadcast: bool,
                                         targeted: bool) -> None:
    tie.broadcast, tie.targeted = broadcast, targeted
    hashes = file_hashes(7)
    assert cache.get_file_reputation(hashes)[3]["trustLevel"] == TrustLevel.NOT_SET
    other.set_file_reputation(TrustLevel.KNOWN_MALICIOUS, {"sha256": hashes["sha256"]})
    assert cache.get_file_reputation({"md5": hashes["md5"]})[3]["trustLevel"] == \
        TrustLevel.KNOWN_MALICIOUS
    assert cache.stats.invalidations == 1 and cache.stats.events == 1


def test_certificate_change_event_drops_the_entry(tie: FakeTie, cache: CachingTieClient,
                                                  other: TieClient) -> None:
    sha1 = cert_sha1(3)
    cache.get_certificate_reputation(sha1)
    other.set_certificate_reputation(TrustLevel.KNOWN_TRUSTED, sha1)
    assert cache.get_certificate_reputation(sha1)[4]["trustLevel"] == TrustLevel.KNOWN_TRUSTED


def test_file_event_drops_the_signing_certificate(tie: FakeTie, cache: CachingTieClient,
                                                  client: FabricClient) -> None:
    sha1 = cert_sha1(4)
    cache.get_certificate_reputation(sha1)
    hashes = file_hashes(8)
    tie.publish(TIE_EVENT_FILE_REPUTATION_CHANGE_TOPIC, {
        "hashes": [{"type": "md5", "value": _b64(hashes["md5"])}], "updateTime": tie.now,
        "relationships": {"certificate": {"hashes": [{"type": "sha1", "value": _b64(sha1)}]}}})
    cache.get_certificate_reputation(sha1)
    assert lookups(client, TIE_GET_CERT_REPUTATION_TOPIC) == 2


def test_own_set_drops_the_entry_without_waiting_for_the_event(tie: FakeTie,
                                                               cache: CachingTieClient) -> None:
    tie.broadcast = False  # no event at all: the set itself must drop the entry
    hashes = file_hashes(9)
    cache.get_file_reputation(hashes)
    cache.set_file_reputation(TrustLevel.MIGHT_BE_TRUSTED, {"md5": hashes["md5"]})
    assert cache.get_file_reputation(hashes)[3]["trustLevel"] == TrustLevel.MIGHT_BE_TRUSTED


def test_reply_in_flight_during_a_change_is_not_stored(tie: FakeTie, cache: CachingTieClient,
                                                       other: TieClient) -> None:
    hashes = file_hashes(10)

    def change_while_in_flight() -> None:
        tie.before_reply = None
        other.set_file_reputation(TrustLevel.KNOWN_MALICIOUS, hashes)

    tie.before_reply = change_while_in_flight
    stale = cache.get_file_reputation(hashes)  # computed before the change: returned, not kept
    assert stale[3]["trustLevel"] == TrustLevel.NOT_SET
    assert cache.stats.discarded == 1 and cache.stats.entries == 0
    assert cache.get_file_reputation(hashes)[3]["trustLevel"] == TrustLevel.KNOWN_MALICIOUS


def test_unreadable_event_makes_the_cache_catch_up(tie: FakeTie, cache: CachingTieClient,
                                                   client: FabricClient,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    hashes = file_hashes(11)
    cache.get_file_reputation(hashes)
    with caplog.at_level(logging.ERROR, logger="dxltieclient.caching"):
        client.deliver(make_event(b"not json", TIE_EVENT_FILE_REPUTATION_CHANGE_TOPIC))
    assert "unreadable reputation change event" in caplog.text
    assert cache.wait_synced(WAIT)
    assert cache.stats.catch_ups == 1
    assert lookups(client, TIE_GET_REPUTATION_UPDATES_TOPIC) == 3  # one pass per hash type


# -- disconnections ---------------------------------------------------------------------------

def test_changes_missed_while_disconnected_are_caught_up(tie: FakeTie, cache: CachingTieClient,
                                                         client: FabricClient,
                                                         other: TieClient) -> None:
    changed, kept = file_hashes(12), file_hashes(13)
    cache.get_file_reputation({"md5": changed["md5"]})  # known by md5 only
    cache.get_file_reputation(kept)
    tie.tick()
    client.drop()
    assert not cache.synced
    with pytest.raises(DxlException):
        cache.get_file_reputation(kept)  # bypassed: asks TIE, which cannot be reached
    other.set_file_reputation(TrustLevel.KNOWN_MALICIOUS, changed)  # event lost
    tie.tick()
    client.restore()
    assert cache.wait_synced(WAIT)
    assert cache.get_file_reputation({"md5": changed["md5"]})[3]["trustLevel"] == \
        TrustLevel.KNOWN_MALICIOUS
    requests_before = lookups(client)
    cache.get_file_reputation(kept)
    assert lookups(client) == requests_before  # unchanged entries survive a catch-up
    stats = cache.stats
    assert stats.catch_ups == 1 and stats.clears == 0 and stats.bypasses >= 1


def test_catch_up_pages_through_everything(tie: FakeTie, cache: CachingTieClient,
                                           client: FabricClient, other: TieClient,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from dxltieclient.caching import _sync
    monkeypatch.setattr(_sync, "CATCH_UP_QUERY_LIMIT", 3)
    files = [file_hashes(100 + number) for number in range(8)]
    for hashes in files:
        cache.get_file_reputation(hashes)
    client.drop()
    for hashes in files:
        tie.tick()
        other.set_file_reputation(TrustLevel.KNOWN_TRUSTED, hashes)
    client.restore()
    assert cache.wait_synced(WAIT)
    assert cache.stats.entries == 0
    for hashes in files:
        assert cache.get_file_reputation(hashes)[3]["trustLevel"] == TrustLevel.KNOWN_TRUSTED


def test_cache_empties_when_it_cannot_catch_up(tie: FakeTie, cache: CachingTieClient,
                                               client: FabricClient) -> None:
    cache.get_file_reputation(file_hashes(14))
    tie.updates_fail = True
    client.drop()
    client.restore()
    assert cache.wait_synced(WAIT)
    assert cache.stats.entries == 0 and cache.stats.clears == 1 and cache.stats.catch_ups == 0


def test_lost_subscription_is_renewed_and_caught_up(tie: FakeTie, cache: CachingTieClient,
                                                    client: FabricClient) -> None:
    cache.get_file_reputation(file_hashes(15))
    client.unsubscribe(TIE_EVENT_FILE_REPUTATION_CHANGE_TOPIC)  # as removing another callback
    assert _wait_for(lambda: cache.stats.catch_ups == 1)
    assert TIE_EVENT_FILE_REPUTATION_CHANGE_TOPIC in client.subscriptions


def test_client_without_connection_hooks_is_polled(tie: FakeTie) -> None:
    client = tie.client()
    client._client = None  # no MQTT callbacks to chain: only the periodic check
    with CachingTieClient(client, check_interval=0.02) as cache:
        cache.get_file_reputation(file_hashes(16))
        client._connected = False
        assert _wait_for(lambda: not cache.synced)
        client._connected = True
        assert cache.wait_synced(WAIT)
        assert cache.stats.catch_ups == 1


# -- bounds and bulk --------------------------------------------------------------------------

def test_least_recently_used_entries_are_evicted(client: FabricClient) -> None:
    with CachingTieClient(client, max_entries=2) as cache:
        first, second, third = file_hashes(20), file_hashes(21), file_hashes(22)
        cache.get_file_reputation(first)
        cache.get_file_reputation(second)
        cache.get_file_reputation(first)  # second is now the least recently used
        cache.get_file_reputation(third)
        assert cache.stats.evictions == 1 and cache.stats.entries == 2
        before = lookups(client)
        cache.get_file_reputation(first)
        assert lookups(client) == before
        cache.get_file_reputation(second)
        assert lookups(client) == before + 1


def test_bulk_lookups_use_and_fill_the_cache(cache: CachingTieClient, client: FabricClient,
                                             tie: FakeTie) -> None:
    cached = file_hashes(30)
    cache.get_file_reputation(cached)
    items = [cached, file_hashes(31), {"md5": "bad"}, file_hashes(32)]
    progress = []
    results = cache.get_file_reputations(items, progress=lambda done, total: progress.append(
        (done, total)))
    assert [result.ok for result in results] == [True, True, False, True]
    assert isinstance(results[2].error, InvalidHashError)
    for index in (0, 1, 3):
        assert results[index].value == tie.file_answer(items[index])
    assert progress[-1] == (4, 4)
    assert cache.stats.hits == 1
    before = lookups(client)
    cache.get_file_reputation(file_hashes(31))
    assert lookups(client) == before


def test_bulk_options_and_input_are_checked_before_anything_is_sent(
        cache: CachingTieClient, client: FabricClient) -> None:
    items = [file_hashes(40), file_hashes(41)]
    for options in ({"progress": 5}, {"stop": "now"}, {"max_in_flight": 0}):
        with pytest.raises(TieInputError):
            cache.get_file_reputations(items, **options)
    with pytest.raises(TypeError):
        cache.get_file_reputations(5)  # type: ignore[arg-type]
    assert lookups(client) == 0


def test_a_bulk_call_stopped_before_it_starts_sends_nothing_and_stores_nothing(
        cache: CachingTieClient, client: FabricClient) -> None:
    from dxltieclient import TieBulkStoppedError

    stop = threading.Event()
    stop.set()
    results = cache.get_file_reputations([file_hashes(42)], stop=stop)
    assert isinstance(results[0].error, TieBulkStoppedError)
    assert lookups(client) == 0
    cache.get_file_reputation(file_hashes(42))
    assert lookups(client) == 1 and cache.stats.hits == 0


def test_options_are_checked(client: FabricClient) -> None:
    for options in ({"max_entries": 0}, {"max_age": -1}, {"check_interval": 0},
                    {"catch_up_limit": True}, {"max_age": float("nan")}):
        with pytest.raises(TieInputError):
            CachingTieClient(client, **options)


def test_stats_are_a_loggable_snapshot(cache: CachingTieClient) -> None:
    cache.get_file_reputation(file_hashes(40))
    stats = cache.stats
    assert isinstance(stats, CacheStats)
    assert stats.as_dict()["misses"] == 1 and "hits=0" in repr(stats)


def test_clear_and_close(tie: FakeTie, client: FabricClient) -> None:
    cache = CachingTieClient(client)
    hashes = file_hashes(41)
    cache.get_file_reputation(hashes)
    cache.clear()
    assert cache.stats.entries == 0
    cache.get_file_reputation(hashes)
    cache.close()
    assert not any("repchange" in topic for topic in client.subscriptions)
    before = lookups(client)
    cache.get_file_reputation(hashes)
    assert lookups(client) == before + 1


def test_concurrent_lookups_and_changes_never_serve_a_stale_answer(tie: FakeTie,
                                                                   cache: CachingTieClient,
                                                                   other: TieClient) -> None:
    files = [file_hashes(200 + number) for number in range(20)]
    stale = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            for hashes in files:
                with tie.lock:  # the answer must match TIE's state when the lookup ends
                    got = cache.get_file_reputation(hashes)
                    truth = tie.file_answer(hashes)
                if got != truth:
                    stale.append((hashes, got, truth))

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for thread in threads:
        thread.start()
    for number in range(300):
        level = (TrustLevel.KNOWN_TRUSTED, TrustLevel.KNOWN_MALICIOUS)[number % 2]
        other.set_file_reputation(level, files[number % len(files)])
    stop.set()
    for thread in threads:
        thread.join(WAIT)
    assert not stale
    assert cache.stats.hits > 0


def _b64(hex_value: str) -> str:
    import base64
    import binascii
    return base64.b64encode(binascii.unhexlify(hex_value)).decode("ascii")


def _wait_for(condition, timeout: float = WAIT) -> bool:
    done = threading.Event()
    deadline = threading.Timer(timeout, done.set)
    deadline.start()
    try:
        while not done.is_set():
            if condition():
                return True
            done.wait(0.01)
        return bool(condition())
    finally:
        deadline.cancel()


class _HexLike:
    """Not a string, but prints as one: the uncached call rejects it, so must the cache."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text

    def lower(self) -> str:
        return self.text


def test_the_fast_path_never_skips_validation(cache: CachingTieClient,
                                              client: FabricClient) -> None:
    hashes = file_hashes(50)
    cache.get_file_reputation(hashes)
    assert cache.get_file_reputation({"md5": hashes["md5"].encode("ascii")}) == \
        cache.get_file_reputation({"md5": hashes["md5"]})  # bytes digests: a hit as well
    assert lookups(client) == 1
    with pytest.raises(InvalidHashError):
        cache.get_file_reputation({"md5": _HexLike(hashes["md5"])})  # type: ignore[dict-item]
    with pytest.raises(InvalidHashError):
        cache.get_file_reputation({"md5": hashes["md5"] + "\u00e9"})
    assert lookups(client) == 1


def test_bulk_aborted_by_its_progress_callback_stores_nothing_unfinished(
        cache: CachingTieClient) -> None:
    items = [file_hashes(60), file_hashes(61), file_hashes(62)]

    def abort(done: int, total: int) -> None:
        raise RuntimeError("stop")

    with pytest.raises(RuntimeError):
        cache.get_file_reputations(items, max_in_flight=1, progress=abort)
    assert cache.stats.entries == 1  # the one answered before the abort
    for hashes in items:
        assert isinstance(cache.get_file_reputation(hashes), dict)
