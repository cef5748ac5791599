"""
Figure 1, per-call overhead: :meth:`TieClient.get_file_reputation` against a raw
:meth:`DxlClient.sync_request` carrying the same payload bytes on the same topic, over the same
client connection, in alternating blocks (ABBA order) so that drift affects both alike.

The raw call is the floor: it does what dxlclient must do anyway. The difference is what the
library adds (argument checks, JSON encoding, error-response check, JSON decoding, transform).
"""

from __future__ import annotations

import time
from typing import Any, Callable, Dict, List, Optional

from dxlclient.message import Message, Request

from bench._common import Report, log, make_hashes, mean, median, percentile, ratio
from dxltieclient import TieClient, _wire
from dxltieclient.client import TIE_GET_FILE_REPUTATION_TOPIC

#: The target: TieClient's median per-call time over the raw call's.
TARGET_RATIO = 1.05
#: Issue #11's targets: library CPU per call over the raw call, and the per-call ratio.
TARGET_ADDED_CPU_US = 40.0
TARGET_RATIO_STRICT = 1.03
#: Requests kept from each side after warm-up (full run).
FULL_CALLS = 2000
#: A call slower than this (microseconds) counts as a stall.
STALL_US = 20000.0
#: Calls per block; blocks alternate A B B A ...
BLOCK = 100


def _timed_block(call: Callable[[int], None], start: int, count: int,
                 sink: Optional[List[float]], cpu_sink: Optional[List[float]] = None) -> None:
    """Makes calls ``start`` .. ``start + count - 1``, appending each one's time and CPU (us)."""
    clock, cpu_clock = time.perf_counter_ns, time.thread_time_ns
    for index in range(start, start + count):
        begin, cpu_begin = clock(), cpu_clock()
        call(index)
        cpu_elapsed, elapsed = cpu_clock() - cpu_begin, clock() - begin
        if sink is not None:
            sink.append(elapsed / 1000.0)
        if cpu_sink is not None:
            cpu_sink.append(cpu_elapsed / 1000.0)


def _difference(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return None if a is None or b is None else a - b


def _record(report: Report, tie_us: List[float], raw_us: List[float], tie_cpu: List[float],
            raw_cpu: List[float], note: str) -> Dict[str, Optional[float]]:
    """Records the overhead figures in ``report``; returns the main ones by name."""
    results = {
        "tie_median": median(tie_us), "raw_median": median(raw_us),
        "tie_mean": mean(tie_us), "raw_mean": mean(raw_us),
    }
    results["ratio_median"] = ratio(results["tie_median"], results["raw_median"])
    results["ratio_mean"] = ratio(results["tie_mean"], results["raw_mean"])
    report.add("overhead.tie_median_us", results["tie_median"], "us",
               "TieClient.get_file_reputation; " + note)
    report.add("overhead.raw_median_us", results["raw_median"], "us",
               "DxlClient.sync_request, same payload bytes and topic")
    report.add("overhead.tie_mean_us", results["tie_mean"], "us")
    report.add("overhead.raw_mean_us", results["raw_mean"], "us")
    delta = _difference(results["tie_median"], results["raw_median"])
    report.add("overhead.added_median_us", delta, "us", "what the library adds per call")
    report.add("overhead.ratio_median", results["ratio_median"], "x", "TieClient / raw",
               at_most=TARGET_RATIO)
    report.add("overhead.ratio_mean", results["ratio_mean"], "x", "TieClient / raw")
    report.add("overhead.ratio_median_strict", results["ratio_median"], "x",
               "the same ratio against issue #11's target", at_most=TARGET_RATIO_STRICT)
    tie_cpu_median, raw_cpu_median = median(tie_cpu), median(raw_cpu)
    report.add("overhead.tie_thread_cpu_us", tie_cpu_median, "us CPU",
               "calling thread's CPU per TieClient call (median)")
    report.add("overhead.raw_thread_cpu_us", raw_cpu_median, "us CPU",
               "calling thread's CPU per raw call (median)")
    report.add("overhead.added_cpu_us", _difference(tie_cpu_median, raw_cpu_median), "us CPU",
               "library CPU per call: validate + encode + decode + transform",
               at_most=TARGET_ADDED_CPU_US)
    report.add("overhead.tie_p99_us", percentile(tie_us, 0.99), "us")
    report.add("overhead.raw_p99_us", percentile(raw_us, 0.99), "us")
    slow = sum(1 for value in tie_us + raw_us if value > STALL_US)
    report.add("overhead.stalls", float(slow), "calls",
               "calls over {:g} ms, both kinds (TCP delayed-ACK stalls are ~40 ms)".format(
                   STALL_US / 1000))
    return results


def run(dxl_client: Any, report: Report, calls: int = FULL_CALLS, warmup: int = 200,
        request_timeout: float = 30.0) -> Dict[str, Optional[float]]:
    """
    Measures both calls ``calls`` times each (after ``warmup`` of each) and records the figures.

    :param dxl_client: a connected :class:`dxlclient.client.DxlClient`
    :param report: where the figures go
    :param calls: measured calls of each kind
    :param warmup: unmeasured calls of each kind first
    :param request_timeout: seconds each request may take
    :return: the main figures by name (also recorded in ``report``)
    """
    tie_client = TieClient(dxl_client)
    tie_client.response_timeout = max(30, request_timeout)  # dxlbootstrap's minimum is 30
    pool = make_hashes(BLOCK, seed=1)
    payloads = [_wire.encode_json(_wire.file_reputation_request(hashes)) for hashes in pool]
    errors = {"raw": 0}

    def tie_call(index: int) -> None:
        tie_client.get_file_reputation(pool[index % BLOCK])

    def raw_call(index: int) -> None:
        request = Request(TIE_GET_FILE_REPUTATION_TOPIC)
        request.payload = payloads[index % BLOCK]
        response = dxl_client.sync_request(request, timeout=request_timeout)
        if response.message_type == Message.MESSAGE_TYPE_ERROR:
            errors["raw"] += 1

    log("overhead: warm-up ({} calls of each)".format(warmup))
    _timed_block(tie_call, 0, warmup, None)
    _timed_block(raw_call, 0, warmup, None)

    tie_us: List[float] = []
    raw_us: List[float] = []
    tie_cpu: List[float] = []
    raw_cpu: List[float] = []
    block = min(BLOCK, max(1, calls))
    rounds = max(1, (calls + block - 1) // block)
    log("overhead: {} alternating blocks of {} (TieClient / raw sync_request)".format(
        2 * rounds, block))
    for number in range(rounds):
        count = min(block, calls - number * block)
        order = [(tie_call, tie_us, tie_cpu), (raw_call, raw_us, raw_cpu)]
        if number % 2:
            order.reverse()
        for call, sink, cpu_sink in order:
            _timed_block(call, number * block, count, sink, cpu_sink)

    results = _record(report, tie_us, raw_us, tie_cpu, raw_cpu,
                      "{} calls each after {} warm-up, ABBA blocks of {}".format(
                          len(tie_us), warmup, block))
    if errors["raw"]:
        report.notes.append("overhead: {} raw requests got an error response".format(
            errors["raw"]))
    return results
