"""
CachingTieClient end to end on the sandbox (a real Mosquitto broker and the TIE emulator):

* a set by another client (its own DXL connection) reaches the cache as an event: the next lookup
  gives the new reputation;
* after a broker restart, changes made while the cached client was disconnected are found by the
  catch-up (reputation updates query): no stale entry, unchanged entries still served;
* concurrent lookups and sets never give an answer older than a change whose event the cached
  client had already received (bounded end-to-end run).

A probe callback registered on the cached client's connection after the cache's own listener
tells when the cache has handled an event: dxlclient calls a topic's callbacks in registration
order, on one thread.
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest
from dxlclient.client import DxlClient

from dxltieclient import TieClient, TrustLevel
from dxltieclient.caching import CachingTieClient
from dxltieclient.callbacks import ReputationChangeCallback
from dxltieclient.client import TIE_EVENT_FILE_REPUTATION_CHANGE_TOPIC
from dxltieclient.constants import FileProvider
from dxltieclient.sandbox import Sandbox, connected_client
from dxltieclient.sandbox.connect import new_client

WAIT = 20.0


def new_hashes() -> Dict[str, str]:
    seed = uuid.uuid4().bytes
    return {"md5": hashlib.md5(seed).hexdigest(), "sha1": hashlib.sha1(seed).hexdigest(),
            "sha256": hashlib.sha256(seed).hexdigest()}


def enterprise(answer: Dict[int, Dict[str, Any]]) -> Optional[int]:
    return answer.get(FileProvider.ENTERPRISE, {}).get("trustLevel")


class Probe(ReputationChangeCallback):
    """Records the file change events the cached client received (sha256 -> levels in order)."""

    def __init__(self) -> None:
        super().__init__()
        self.condition = threading.Condition()
        self.seen: Dict[str, List[Tuple[float, Optional[int]]]] = {}

    def on_reputation_change(self, rep_change_dict: Dict[str, Any], original_event: Any) -> None:
        sha256 = rep_change_dict.get("hashes", {}).get("sha256")
        level = enterprise(rep_change_dict.get("newReputations", {}))
        with self.condition:
            self.seen.setdefault(sha256, []).append((time.perf_counter(), level))
            self.condition.notify_all()

    def wait_count(self, sha256: str, count: int) -> bool:
        with self.condition:
            return self.condition.wait_for(lambda: len(self.seen.get(sha256, ())) >= count, WAIT)

    def events(self, sha256: str) -> List[Tuple[float, Optional[int]]]:
        with self.condition:
            return list(self.seen.get(sha256, ()))


@pytest.fixture
def cached(tie_sandbox: Sandbox) -> Iterator[Tuple[DxlClient, CachingTieClient, Probe]]:
    with connected_client(tie_sandbox.config_file) as client:
        cache = CachingTieClient(client, check_interval=0.2)
        probe = Probe()
        client.add_event_callback(TIE_EVENT_FILE_REPUTATION_CHANGE_TOPIC, probe)
        try:
            yield client, cache, probe
        finally:
            cache.close()


@pytest.fixture
def writer(tie_sandbox: Sandbox) -> Iterator[TieClient]:
    with connected_client(tie_sandbox.config_file) as client:
        yield TieClient(client)


def test_a_set_by_another_client_is_seen(cached: Tuple[DxlClient, CachingTieClient, Probe],
                                         writer: TieClient) -> None:
    _, cache, probe = cached
    hashes = new_hashes()
    assert enterprise(cache.get_file_reputation(hashes)) == TrustLevel.NOT_SET
    assert enterprise(cache.get_file_reputation({"sha1": hashes["sha1"]})) == TrustLevel.NOT_SET
    assert cache.stats.hits == 1
    writer.set_file_reputation(TrustLevel.KNOWN_MALICIOUS, hashes)
    assert probe.wait_count(hashes["sha256"], 1), "no change event within {} s".format(WAIT)
    assert enterprise(cache.get_file_reputation({"md5": hashes["md5"]})) == \
        TrustLevel.KNOWN_MALICIOUS
    assert cache.stats.invalidations >= 1


def test_changes_missed_during_a_broker_restart_are_caught_up(tie_sandbox: Sandbox,
                                                              writer: TieClient) -> None:
    client = new_client(tie_sandbox.config_file)
    client.config.reconnect_when_disconnected = False  # stays away until the test reconnects
    client.connect()
    cache = CachingTieClient(client, check_interval=0.2)
    try:
        changed, kept = new_hashes(), new_hashes()
        cache.get_file_reputation(changed)
        cache.get_file_reputation({"md5": kept["md5"], "sha256": kept["sha256"]})
        tie_sandbox.restart_broker()
        assert _wait_for(lambda: not client.connected and not cache.synced)
        assert _wait_for(lambda: writer._dxl_client.connected)
        writer.set_file_reputation(TrustLevel.KNOWN_MALICIOUS, {"sha1": changed["sha1"]})
        assert not client.connected  # the change's event was not delivered to this client
        client.connect()
        assert cache.wait_synced(WAIT), "no catch-up within {} s".format(WAIT)
        stats = cache.stats
        assert stats.catch_ups >= 1 and stats.clears == 0, stats
        assert enterprise(cache.get_file_reputation({"sha256": changed["sha256"]})) == \
            TrustLevel.KNOWN_MALICIOUS
        hits = cache.stats.hits
        assert enterprise(cache.get_file_reputation({"md5": kept["md5"]})) == TrustLevel.NOT_SET
        assert cache.stats.hits == hits + 1  # an unchanged entry survives the catch-up
    finally:
        cache.close()
        client.destroy()


def test_concurrent_lookups_and_sets_never_serve_a_stale_entry(
        cached: Tuple[DxlClient, CachingTieClient, Probe], writer: TieClient) -> None:
    _, cache, probe = cached
    files = [new_hashes() for _ in range(8)]
    for hashes in files:
        cache.get_file_reputation(hashes)
    acked: Dict[str, int] = {}
    lock = threading.Lock()
    stale: List[str] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            for hashes in files:
                begin = time.perf_counter()
                answer = cache.get_file_reputation({"sha256": hashes["sha256"]})
                with lock:
                    sets = acked.get(hashes["sha256"], 0)
                events = probe.events(hashes["sha256"])
                if events and len(events) >= sets and events[-1][0] < begin \
                        and enterprise(answer) != events[-1][1]:
                    stale.append("{}: {} after event {}".format(hashes["sha256"][:8],
                                                               enterprise(answer), events[-1]))

    threads = [threading.Thread(target=reader, daemon=True) for _ in range(2)]
    for thread in threads:
        thread.start()
    try:
        levels = (TrustLevel.KNOWN_TRUSTED, TrustLevel.KNOWN_MALICIOUS, TrustLevel.UNKNOWN)
        for number in range(60):
            hashes = files[number % len(files)]
            with lock:  # counted first: a reader never takes a not-yet-announced set as missing
                acked[hashes["sha256"]] = acked.get(hashes["sha256"], 0) + 1
            writer.set_file_reputation(levels[number % len(levels)], hashes)
    finally:
        stop.set()
        for thread in threads:
            thread.join(WAIT)
    assert not stale, stale[:5]
    for hashes in files:  # every event arrived, and the cache agrees with TIE now
        assert probe.wait_count(hashes["sha256"], acked[hashes["sha256"]])
        assert enterprise(cache.get_file_reputation(hashes)) == \
            enterprise(writer.get_file_reputation(hashes))
    assert cache.stats.hits > 0


def _wait_for(condition: Any, timeout: float = WAIT) -> bool:
    deadline = time.monotonic() + timeout
    ticker = threading.Event()
    while time.monotonic() < deadline:
        if condition():
            return True
        ticker.wait(0.05)
    return bool(condition())
