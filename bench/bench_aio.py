"""
Figure 4, the asyncio layer: :meth:`AsyncTieClient.get_file_reputations` (bulk on the event loop)
against the threaded bulk call :meth:`TieClient.get_file_reputations` and raw dxlclient
asynchronous requests, all at the same window K, and 1,000 concurrent
:meth:`AsyncTieClient.get_file_reputation` calls from one event loop (``asyncio.gather``, no
bound), on the same connection and payloads.

The four runs alternate, ``rounds`` times, so that a change of machine load hits each alike; each
figure is the median of the rounds, its note gives the spread (min-max). Figures: requests per
second and CPU milliseconds per 1,000 requests of this (client) process, all threads; the targets
compare the async bulk call with the threaded one (throughput at least 0.9x, CPU at most 1.1x).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Callable, Dict, List, Optional, Sequence

from bench._common import CpuMeter, Report, log, make_hashes, median, per_thousand, ratio
from bench.bench_bulk import raw_async
from dxltieclient import TieClient, _bulk, _wire
from dxltieclient.aio import AsyncTieClient

#: The async/threaded targets: throughput ratio at least, CPU ratio at most.
TARGET_RPS_RATIO = 0.9
TARGET_CPU_RATIO = 1.1
#: The labels of the runs, in the order each round runs them.
LABELS = ("threaded_bulk", "async_bulk", "raw_async", "async_gather")


class _Sample:
    """One measured run: requests per second and client CPU per 1,000 requests."""

    def __init__(self, count: int, meter: CpuMeter, failures: int) -> None:
        self.rate = count / meter.wall_seconds if meter.wall_seconds > 0 else None
        self.cpu = per_thousand(meter.self_seconds, count)
        self.failures = failures


def _spread(values: Sequence[Optional[float]]) -> str:
    known = [value for value in values if value is not None]
    if not known:
        return "n/a"
    return "{:.0f}-{:.0f}".format(min(known), max(known))


async def _gather_lookups(tie: AsyncTieClient, hashes: Sequence[Dict[str, str]],
                          timeout: float) -> int:
    outcomes = await asyncio.gather(*(tie.get_file_reputation(item, timeout=timeout)
                                      for item in hashes), return_exceptions=True)
    return sum(1 for outcome in outcomes if isinstance(outcome, BaseException))


def run(dxl_client: Any, report: Report, total: int = 2000, concurrent: int = 1000,
        rounds: int = 3, window: int = _bulk.DEFAULT_MAX_IN_FLIGHT,
        request_timeout: float = 30.0) -> Dict[str, List[_Sample]]:
    """
    Measures the four runs ``rounds`` times and records the figures under ``aio.*``.

    :param dxl_client: a connected :class:`dxlclient.client.DxlClient`
    :param report: where the figures go
    :param total: requests of each bulk and raw run
    :param concurrent: concurrent lookups of the gather run
    :param rounds: how many times each run is measured
    :param window: the in-flight window K of the bulk and raw runs
    :param request_timeout: seconds each request may take
    :return: the samples by label
    """
    tie_client = TieClient(dxl_client)
    tie_client.response_timeout = max(30, request_timeout)  # dxlbootstrap's minimum is 30
    hashes = make_hashes(max(total, concurrent), seed=41)
    payloads = [_wire.encode_json(_wire.file_reputation_request(item)) for item in hashes[:total]]
    loop = asyncio.new_event_loop()
    tie = AsyncTieClient(dxl_client)
    meter = CpuMeter()
    samples: Dict[str, List[_Sample]] = {label: [] for label in LABELS}

    def threaded_bulk() -> int:
        results = tie_client.get_file_reputations(hashes[:total], max_in_flight=window,
                                                  timeout=request_timeout)
        return sum(1 for result in results if not result.ok)

    def async_bulk() -> int:
        results = loop.run_until_complete(tie.get_file_reputations(
            hashes[:total], max_in_flight=window, timeout=request_timeout))
        return sum(1 for result in results if not result.ok)

    def raw() -> int:
        return raw_async(dxl_client, payloads, window,
                         time.monotonic() + max(60.0, total / 100.0))

    def gather() -> int:
        return loop.run_until_complete(_gather_lookups(tie, hashes[:concurrent],
                                                       request_timeout))

    runs: Dict[str, Callable[[], int]] = {"threaded_bulk": threaded_bulk,
                                          "async_bulk": async_bulk, "raw_async": raw,
                                          "async_gather": gather}
    counts = {"threaded_bulk": total, "async_bulk": total, "raw_async": total,
              "async_gather": concurrent}
    try:
        # Warm-up, unmeasured: each file's first lookup stores it (and emits an event).
        log("aio: warm-up, {} lookups".format(len(hashes)))
        loop.run_until_complete(tie.get_file_reputations(hashes, max_in_flight=window,
                                                         timeout=request_timeout))
        for number in range(1, rounds + 1):
            for label in LABELS:
                with meter.span():
                    failures = runs[label]()
                sample = _Sample(counts[label], meter, failures)
                samples[label].append(sample)
                log("aio round {}: {} {} requests = {:.0f} req/s, client CPU {:.0f} ms/1k{}".format(
                    number, label, counts[label], sample.rate or 0.0, sample.cpu or 0.0,
                    ", {} failed".format(failures) if failures else ""))
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
    _record(report, samples, concurrent, window, rounds)
    return samples


def _record(report: Report, samples: Dict[str, List[_Sample]], concurrent: int, window: int,
            rounds: int) -> None:
    notes = {"threaded_bulk": "TieClient.get_file_reputations, K={}".format(window),
             "async_bulk": "AsyncTieClient.get_file_reputations, K={}".format(window),
             "raw_async": "raw DxlClient.async_request, K={}".format(window),
             "async_gather": "{} concurrent AsyncTieClient.get_file_reputation, one loop".format(
                 concurrent)}
    rates = {label: median([s.rate for s in samples[label] if s.rate is not None])
             for label in LABELS}
    cpus = {label: median([s.cpu for s in samples[label] if s.cpu is not None])
            for label in LABELS}
    for label in LABELS:
        spread = "median of {}, spread {}".format(rounds,
                                                  _spread([s.rate for s in samples[label]]))
        report.add("aio.{}_rps".format(label), rates[label], "req/s",
                   "{}; {}".format(notes[label], spread))
    for label in LABELS:
        report.add("aio.client_cpu_ms_per_1k.{}".format(label), cpus[label], "ms CPU/1k",
                   "client process; spread {}".format(_spread([s.cpu for s in samples[label]])))
    report.add("aio.rps_ratio", ratio(rates["async_bulk"], rates["threaded_bulk"]), "x",
               "async bulk / threaded bulk, req/s", at_least=TARGET_RPS_RATIO)
    report.add("aio.cpu_ratio", ratio(cpus["async_bulk"], cpus["threaded_bulk"]), "x",
               "async bulk / threaded bulk, client CPU per request", at_most=TARGET_CPU_RATIO)
    report.add("aio.gather_cpu_ratio", ratio(cpus["async_gather"], cpus["threaded_bulk"]), "x",
               "1,000 concurrent lookups / threaded bulk, client CPU per request")
    failed = ["{}: {}".format(label, sum(s.failures for s in samples[label]))
              for label in LABELS if any(s.failures for s in samples[label])]
    if failed:
        report.notes.append("aio: failed or timed-out requests: " + "; ".join(failed))
