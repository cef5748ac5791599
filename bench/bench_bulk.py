"""
Figure 2, bulk throughput: a sequential loop of :meth:`TieClient.get_file_reputation` against
:meth:`TieClient.get_file_reputations` with several in-flight windows, and raw dxlclient
asynchronous requests at the same window, against a TIE emulator (its own process) answering after
an emulated server delay.

For each run it records requests per second and CPU milliseconds per 1,000 requests of this
(client) process, and of the sandbox's processes when their PIDs are known.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Dict, List, Mapping, Optional, Sequence

from dxlclient.callbacks import ResponseCallback
from dxlclient.message import Message, Request

from bench._common import CpuMeter, Report, log, make_hashes, per_thousand, ratio
from dxltieclient import TieClient, _bulk, _wire
from dxltieclient.client import TIE_GET_FILE_REPUTATION_TOPIC

#: The target: bulk over sequential requests per second, with a 10 ms server delay.
TARGET_RATIO_AT_10MS = 10.0
#: Windows tried for the bulk call.
WINDOWS = (32, 64, 128)


class _Run:
    """The outcome of one measured run."""

    def __init__(self, label: str, count: int, meter: CpuMeter, failures: int) -> None:
        self.label = label
        self.count = count
        self.failures = failures
        self.wall = meter.wall_seconds
        self.rate = count / meter.wall_seconds if meter.wall_seconds > 0 else None
        self.client_cpu_ms_per_1k = per_thousand(meter.self_seconds, count)
        self.other_cpu_ms_per_1k: Dict[str, Optional[float]] = {
            name: (per_thousand(seconds, count) if seconds is not None else None)
            for name, seconds in meter.other_seconds.items()}

    def describe(self) -> str:
        """A one-line summary for the progress log."""
        return "{}: {} requests in {:.2f} s = {:.0f} req/s, client CPU {:.0f} ms/1k{}".format(
            self.label, self.count, self.wall, self.rate or 0.0,
            self.client_cpu_ms_per_1k or 0.0,
            ", {} failed".format(self.failures) if self.failures else "")


class _RawWindow(ResponseCallback):
    """Raw asynchronous requests with at most ``window`` outstanding; counts the responses."""

    def __init__(self, window: int, total: int) -> None:
        super().__init__()
        self.slots = threading.BoundedSemaphore(window)
        self.total = total
        self.received = 0
        self.errors = 0
        self.lock = threading.Lock()
        self.finished = threading.Event()

    def on_response(self, response: Any) -> None:
        with self.lock:
            self.received += 1
            if response.message_type == Message.MESSAGE_TYPE_ERROR:
                self.errors += 1
            if self.received >= self.total:
                self.finished.set()
        self.slots.release()


def raw_async(dxl_client: Any, payloads: Sequence[bytes], window: int, deadline: float) -> int:
    """
    Sends ``payloads`` as raw asynchronous requests with at most ``window`` outstanding.

    :param dxl_client: the connected client
    :param payloads: the request payloads
    :param window: the most requests outstanding at once
    :param deadline: ``time.monotonic()`` by which it gives up
    :return: the number of requests not answered (timed out) or answered with an error
    """
    state = _RawWindow(window, len(payloads))
    sent = 0
    for payload in payloads:
        if not state.slots.acquire(timeout=max(0.0, deadline - time.monotonic())):
            break
        request = Request(TIE_GET_FILE_REPUTATION_TOPIC)
        request.payload = payload
        dxl_client.async_request(request, state)
        sent += 1
    if sent == len(payloads):
        state.finished.wait(max(0.0, deadline - time.monotonic()))
    with state.lock:
        return (len(payloads) - state.received) + state.errors


def run(dxl_client: Any, report: Report, delay_ms: float, pids: Mapping[str, int],
        total: int = 5000, sequential_count: Optional[int] = None,
        windows: Sequence[int] = WINDOWS, request_timeout: float = 30.0) -> Dict[str, Any]:
    """
    Measures the sequential loop, the bulk call at each window and raw async requests, and records
    the figures under ``bulk_<delay>ms.*``.

    :param dxl_client: a connected :class:`dxlclient.client.DxlClient`
    :param report: where the figures go
    :param delay_ms: the emulator's server delay (for the names and the target)
    :param pids: the sandbox's processes (name to pid), for their CPU
    :param total: requests of each bulk run
    :param sequential_count: requests of the sequential loop (default: ``total``)
    :param windows: the ``max_in_flight`` values tried
    :param request_timeout: seconds each request may take
    :return: the runs by label
    """
    prefix = "bulk_{:g}ms".format(delay_ms)
    tie_client = TieClient(dxl_client)
    tie_client.response_timeout = max(30, request_timeout)  # dxlbootstrap's minimum is 30
    hashes = make_hashes(total, seed=int(delay_ms) + 2)
    payloads = [_wire.encode_json(_wire.file_reputation_request(item)) for item in hashes]
    seq_count = min(total, sequential_count or total)
    meter = CpuMeter(pids)
    runs: Dict[str, _Run] = {}
    default_window = _bulk.DEFAULT_MAX_IN_FLIGHT
    tried = sorted(set(windows) | {default_window})

    # Warm-up, unmeasured: a file enters the emulator's store (and a first-instance event goes
    # out) on its first lookup only, so look every file up once: then each measured run does the
    # same work on the server side.
    log("{}: warm-up, {} lookups".format(prefix, total))
    tie_client.get_file_reputations(hashes, max_in_flight=default_window, timeout=request_timeout)

    failures = 0
    with meter.span():
        for item in hashes[:seq_count]:
            try:
                tie_client.get_file_reputation(item)
            except Exception:  # noqa: BLE001  (counted, reported)
                failures += 1
    runs["sequential"] = _Run("{} sequential".format(prefix), seq_count, meter, failures)
    log(runs["sequential"].describe())

    for window in tried:
        with meter.span():
            results = tie_client.get_file_reputations(hashes, max_in_flight=window,
                                                      timeout=request_timeout)
        label = "bulk_k{}".format(window)
        runs[label] = _Run("{} bulk K={}".format(prefix, window), total, meter,
                           sum(1 for result in results if not result.ok))
        log(runs[label].describe())

    best_label = max((label for label in runs if label.startswith("bulk_k")),
                     key=lambda label: runs[label].rate or 0.0)
    best_window = int(best_label[len("bulk_k"):])
    raw_window = default_window
    with meter.span():
        failed = raw_async(dxl_client, payloads, raw_window,
                           time.monotonic() + max(60.0, total / 100.0))
    runs["raw"] = _Run("{} raw async K={}".format(prefix, raw_window), total, meter, failed)
    log(runs["raw"].describe())

    _record(report, prefix, delay_ms, runs, seq_count, total, default_window, best_label,
            best_window, raw_window)
    return {"runs": runs, "best_window": best_window}


def _record(report: Report, prefix: str, delay_ms: float, runs: Mapping[str, _Run],
            seq_count: int, total: int, default_window: int, best_label: str, best_window: int,
            raw_window: int) -> None:
    sequential = runs["sequential"]
    default = runs["bulk_k{}".format(default_window)]
    best = runs[best_label]
    seq_note = "{} lookups{}".format(seq_count, " (subset of {})".format(total)
                                     if seq_count < total else "")
    report.add(prefix + ".sequential_rps", sequential.rate, "req/s",
               "get_file_reputation loop, " + seq_note)
    report.add(prefix + ".bulk_default_rps", default.rate, "req/s",
               "get_file_reputations, {} lookups, max_in_flight={} (default)".format(
                   total, default_window))
    report.add(prefix + ".bulk_best_rps", best.rate, "req/s",
               "best of K={}: K={}".format(
                   "/".join(label[len("bulk_k"):] for label in runs if label.startswith("bulk_k")),
                   best_window))
    report.add(prefix + ".bulk_best_k", float(best_window), "K")
    target = TARGET_RATIO_AT_10MS if delay_ms >= 10 else None
    report.add(prefix + ".ratio_best", ratio(best.rate, sequential.rate), "x",
               "bulk (best K) / sequential", at_least=target)
    report.add(prefix + ".ratio_default", ratio(default.rate, sequential.rate), "x",
               "bulk (default K) / sequential", at_least=target)
    report.add(prefix + ".raw_async_rps", runs["raw"].rate, "req/s",
               "raw DxlClient.async_request, K={}, same payloads".format(raw_window))
    report.add(prefix + ".client_cpu_ms_per_1k.sequential", sequential.client_cpu_ms_per_1k,
               "ms CPU/1k", "client process, all threads")
    report.add(prefix + ".client_cpu_ms_per_1k.bulk", default.client_cpu_ms_per_1k,
               "ms CPU/1k", "client process, K={}".format(default_window))
    report.add(prefix + ".client_cpu_ms_per_1k.raw", runs["raw"].client_cpu_ms_per_1k,
               "ms CPU/1k", "client process, raw async K={} (dxlclient's own cost)".format(
                   raw_window))
    for name, value in sorted(default.other_cpu_ms_per_1k.items()):
        report.add("{}.server_cpu_ms_per_1k.{}".format(prefix, name), value, "ms CPU/1k",
                   "sandbox process during the bulk K={} run".format(default_window))
    failed: List[str] = ["{}: {}".format(run.label, run.failures) for run in runs.values()
                         if run.failures]
    if failed:
        report.notes.append("{}: failed or timed-out requests: {}".format(
            prefix, "; ".join(failed)))
