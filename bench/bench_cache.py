"""
Figure 4, the reputation cache (:class:`dxltieclient.caching.CachingTieClient`, issue #11):

1. hit latency: a single-hash lookup answered from the cache, against the same lookup uncached;
2. a skewed workload: Zipf-distributed lookups over 100,000 files (every hash of a file sent, as
   TIE clients do) mixed with 5 % sets made by another client (its own DXL connection), each
   lookup made through the cache and uncached (interleaved, alternating which goes first; a file
   not yet asked about is first looked up uncached, untimed): lookups per second (time
   in lookups only), hit ratio, stale answers (an answer
   older than a change whose event the cached client had already received) and the delay from a
   set's acknowledgement to the cache having dropped the entry;
3. the CPU of the cache's own event listener per reputation change event (in-process).

Staleness is judged with a probe callback registered on the cached client's DXL connection after
the cache's own listener: dxlclient calls a topic's callbacks in registration order on one
thread, so when the probe has seen an event, the cache has handled it.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import random
import threading
import time
from typing import Any, Dict, List, Optional, Set, Tuple

from bench._common import Report, connect, destroy_quietly, log, median, percentile, ratio
from bench._publisher import event_payloads
from dxltieclient import TieClient, TrustLevel
from dxltieclient.caching import CachingTieClient
from dxltieclient.caching._events import ChangeListener
from dxltieclient.caching._keys import file_event_keys
from dxltieclient.caching._store import ReputationStore
from dxltieclient.callbacks import ReputationChangeCallback
from dxltieclient.client import TIE_EVENT_FILE_REPUTATION_CHANGE_TOPIC
from dxltieclient.constants import FileProvider

#: Target: median of a single-hash lookup answered from the cache, microseconds.
TARGET_HIT_US = 5.0
#: The files of the skewed workload, and the Zipf exponent.
POPULATION = 100_000
ZIPF_S = 1.1
#: The share of operations that are sets by another client.
SET_SHARE = 0.05
_LEVELS = (TrustLevel.KNOWN_TRUSTED, TrustLevel.KNOWN_MALICIOUS)


def file_hashes(index: int) -> Dict[str, str]:
    """The md5, sha1 and sha256 of imaginary file number ``index`` (deterministic)."""
    seed = b"bench-cache-%d" % index
    return {"md5": hashlib.md5(seed).hexdigest(), "sha1": hashlib.sha1(seed).hexdigest(),
            "sha256": hashlib.sha256(seed).hexdigest()}


def zipf_sampler(population: int, exponent: float, seed: int) -> Any:
    """A function returning file indexes drawn from a Zipf distribution (0 most popular)."""
    cumulative = list(itertools.accumulate(1.0 / (rank ** exponent)
                                           for rank in range(1, population + 1)))
    total = cumulative[-1]
    rng = random.Random(seed)

    def draw() -> int:
        return min(population - 1, bisect.bisect_left(cumulative, rng.random() * total))

    return draw


class _Probe(ReputationChangeCallback):
    """Records when each file's change event reached the cached client, and its new level."""

    def __init__(self, by_sha256: Dict[str, int]) -> None:
        super().__init__()
        self.by_sha256 = by_sha256
        self.lock = threading.Lock()
        self.delivered: Dict[int, List[Tuple[float, Optional[int]]]] = {}
        self.arrived = threading.Condition(self.lock)

    def on_reputation_change(self, rep_change_dict: Dict[str, Any],
                             original_event: Any) -> None:
        now = time.perf_counter()
        index = self.by_sha256.get(rep_change_dict.get("hashes", {}).get("sha256", ""))
        if index is None:
            return
        level = rep_change_dict.get("newReputations", {}).get(
            FileProvider.ENTERPRISE, {}).get("trustLevel")
        with self.arrived:
            self.delivered.setdefault(index, []).append((now, level))
            self.arrived.notify_all()


def _enterprise(answer: Dict[int, Dict[str, Any]]) -> Optional[int]:
    return answer.get(FileProvider.ENTERPRISE, {}).get("trustLevel")


def _workload(cache: CachingTieClient, plain: Optional[TieClient], writer: TieClient,
              first: TieClient, operations: int, seed: int, probe: _Probe,
              known: Set[int]) -> Dict[str, Any]:
    """
    Zipf-drawn operations: 5 % sets by ``writer`` (not timed: another client's work), the rest
    lookups of the drawn file through the cache and, when ``plain`` is given, uncached too, in
    alternating order. A file this system has not asked about yet is first looked up with
    ``first`` (uncached, same DXL connection), untimed: the emulator's first lookup of a file by a
    system publishes events (first instance, prevalence) before it answers, which costs a ~40 ms
    TCP delayed-ACK stall whichever client pays it. Only the timed lookups count.
    """
    draw = zipf_sampler(POPULATION, ZIPF_S, seed)
    rng = random.Random(seed + 1)
    lookups = stale = 0
    seconds = {"cached": 0.0, "plain": 0.0}
    acks: List[Tuple[int, float]] = []
    acked: Dict[int, int] = {}
    clock = time.perf_counter
    for number in range(operations):
        index = draw()
        hashes = file_hashes(index)
        if index not in known:
            first.get_file_reputation(hashes)
            known.add(index)
        if rng.random() < SET_SHARE:
            writer.set_file_reputation(rng.choice(_LEVELS), hashes)
            acks.append((index, clock()))
            acked[index] = acked.get(index, 0) + 1
            continue
        if plain is not None and number % 2:
            begin = clock()
            plain.get_file_reputation(hashes)
            seconds["plain"] += clock() - begin
        begin = clock()
        answer = cache.get_file_reputation(hashes)
        seconds["cached"] += clock() - begin
        lookups += 1
        if _is_stale(probe, index, acked.get(index, 0), begin, answer):
            stale += 1
        if plain is not None and not number % 2:
            begin = clock()
            plain.get_file_reputation(hashes)
            seconds["plain"] += clock() - begin
    return {"lookups": lookups, "seconds": seconds, "stale": stale, "acks": acks}


def _is_stale(probe: _Probe, index: int, sets: int, begin: float,
              answer: Dict[int, Dict[str, Any]]) -> bool:
    """Whether ``answer`` predates a change whose event reached the cache before the lookup."""
    with probe.lock:
        seen = list(probe.delivered.get(index, ()))
    if not seen or len(seen) < sets:
        return False  # a set's event is still on its way: either answer is legitimate
    when, level = seen[-1]
    return when < begin and _enterprise(answer) != level


def _delays(probe: _Probe, acks: List[Tuple[int, float]],
            timeout: float) -> Tuple[List[float], int]:
    """Microseconds from each set's acknowledgement to its event reaching the cache (the k-th
    set of a file is matched with the k-th event about it; 0 when the event came first)."""
    delays = []
    early = 0
    deadline = time.monotonic() + timeout
    rank: Dict[int, int] = {}
    for index, acked in acks:
        number = rank[index] = rank.get(index, -1) + 1

        def arrived(index: int = index, number: int = number) -> bool:
            return len(probe.delivered.get(index, ())) > number

        with probe.arrived:
            probe.arrived.wait_for(arrived, max(0.0, deadline - time.monotonic()))
            seen = probe.delivered.get(index, [])
            if len(seen) > number:
                delays.append(max(0.0, seen[number][0] - acked) * 1e6)
                early += seen[number][0] <= acked
    return delays, early


def _hit_latency(cache: CachingTieClient, plain: TieClient, calls: int) -> Dict[str, Any]:
    files = [file_hashes(POPULATION + number) for number in range(100)]
    for hashes in files:
        cache.get_file_reputation(hashes)  # misses: fill the cache
    singles = [{"sha256": hashes["sha256"]} for hashes in files]
    hit_us: List[float] = []
    clock = time.perf_counter_ns
    for number in range(calls):
        item = singles[number % len(singles)]
        begin = clock()
        cache.get_file_reputation(item)
        hit_us.append((clock() - begin) / 1000.0)
    uncached_us: List[float] = []
    for number in range(max(20, calls // 20)):
        item = singles[number % len(singles)]
        begin = clock()
        plain.get_file_reputation(item)
        uncached_us.append((clock() - begin) / 1000.0)
    return {"hit": median(hit_us), "hit_p99": percentile(hit_us, 0.99),
            "uncached": median(uncached_us)}


def _listener_cpu(count: int) -> float:
    store = ReputationStore(1000, None)
    listener = ChangeListener(store, file_event_keys, lambda reason: None)
    payloads = event_payloads()

    class _Event:
        destination_topic = TIE_EVENT_FILE_REPUTATION_CHANGE_TOPIC
        payload = b""

    event = _Event()
    begin = time.thread_time_ns()
    for number in range(count):
        event.payload = payloads[number % len(payloads)]
        listener.on_event(event)
    return (time.thread_time_ns() - begin) / 1000.0 / count


def run(dxl_client: Any, config_file: str, report: Report, operations: int = 3000,
        warmup: int = 2000, hit_calls: int = 5000) -> Dict[str, Any]:
    """
    Runs the cache benchmarks and records the figures under ``cache.*``.

    :param dxl_client: a connected client (the cached reader uses it)
    :param config_file: the sandbox's client configuration (the writer connects with it)
    :param report: where the figures go
    :param operations: operations of the measured run (5 % of them sets; each other one a
        lookup through the cache and one uncached)
    :param warmup: cached operations before the measured run (fills the cache)
    :param hit_calls: single-hash hits timed
    :return: the figures by name
    """
    writer_client = connect(config_file)
    cache = CachingTieClient(dxl_client, max_entries=POPULATION)
    probe = _Probe({file_hashes(index)["sha256"]: index for index in range(POPULATION)})
    dxl_client.add_event_callback(TIE_EVENT_FILE_REPUTATION_CHANGE_TOPIC, probe)
    try:
        writer = TieClient(writer_client)
        plain = TieClient(dxl_client)
        log("cache: hit latency ({} single-hash hits)".format(hit_calls))
        latency = _hit_latency(cache, plain, hit_calls)
        log("cache: Zipf workload, {} warm-up then {} operations".format(warmup, operations))
        known: Set[int] = set()
        warm = _workload(cache, None, writer, plain, warmup, seed=11, probe=probe, known=known)
        _delays(probe, warm["acks"], timeout=10.0)  # let the warm-up's events arrive
        with probe.lock:
            probe.delivered.clear()
        before = cache.stats
        measured = _workload(cache, plain, writer, plain, operations, seed=12, probe=probe,
                             known=known)
        after = cache.stats
        delays, early = _delays(probe, measured["acks"], timeout=10.0)
        listener_us = _listener_cpu(2000)
    finally:
        dxl_client.remove_event_callback(TIE_EVENT_FILE_REPUTATION_CHANGE_TOPIC, probe,
                                         unsubscribe_from_topic=False)
        cache.close()
        destroy_quietly(writer_client)
    hits = after.hits - before.hits
    misses = after.misses - before.misses
    lookups, seconds = measured["lookups"], measured["seconds"]
    cached_rate = lookups / seconds["cached"] if seconds["cached"] else None
    uncached_rate = lookups / seconds["plain"] if seconds["plain"] else None
    figures = {"hit_median_us": latency["hit"], "uncached_median_us": latency["uncached"],
               "cached_rps": cached_rate, "uncached_rps": uncached_rate,
               "hit_ratio": hits / (hits + misses) if hits + misses else None,
               "stale": float(measured["stale"]), "delay_median_us": median(delays),
               "delay_p99_us": percentile(delays, 0.99), "listener_us": listener_us}
    report.add("cache.hit_median_us", latency["hit"], "us",
               "CachingTieClient.get_file_reputation({sha256}) answered from the cache",
               at_most=TARGET_HIT_US)
    report.add("cache.hit_p99_us", latency["hit_p99"], "us")
    report.add("cache.uncached_median_us", latency["uncached"], "us",
               "the same lookup with TieClient")
    note = "Zipf s={:g} over {:,} files, {:.0%} sets by another client".format(
        ZIPF_S, POPULATION, SET_SHARE)
    report.add("cache.zipf_cached_lookups_per_s", cached_rate, "lookups/s",
               "{}; {} ops after {} warm-up; time in lookups only".format(
                   note, operations, warmup))
    report.add("cache.zipf_uncached_lookups_per_s", uncached_rate, "lookups/s",
               "TieClient, the same lookups (interleaved, alternating which goes first)")
    report.notes.append(
        "cache: each file was first looked up once uncached, untimed (the emulator's first "
        "lookup of a file by a system publishes events first and stalls ~40 ms on a TCP "
        "delayed ACK)")
    report.add("cache.zipf_speedup", ratio(cached_rate, uncached_rate), "x", "cached / uncached")
    report.add("cache.zipf_hit_ratio", figures["hit_ratio"], "", "hits / lookups, measured run")
    report.add("cache.zipf_stale_answers", figures["stale"], "answers",
               "answers older than a change whose event had been delivered", at_most=0)
    report.add("cache.set_to_invalidation_median_us", figures["delay_median_us"], "us",
               "set acknowledged -> change event handled by the cache ({} sets; 0 when the "
               "event came first: {} did)".format(len(delays), early))
    report.add("cache.set_to_invalidation_p99_us", figures["delay_p99_us"], "us")
    report.add("cache.listener_cpu_us_per_event", listener_us, "us CPU",
               "the cache's own change listener, in-process (parse + drop)")
    if len(delays) < len(measured["acks"]):
        report.notes.append("cache: {} of {} change events did not reach the cache".format(
            len(measured["acks"]) - len(delays), len(measured["acks"])))
    return figures
