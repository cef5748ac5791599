"""
Figure 3, event dispatch: file reputation change events per second delivered to a
:class:`~dxltieclient.callbacks.ReputationChangeCallback` subclass, against a raw
:class:`dxlclient.callbacks.EventCallback` that does nothing but count, with the events published by
a separate process (``bench/_publisher.py``) over the sandbox's broker.

Delivery rates are bounded by the slowest of publisher, broker and subscriber, so the figures also
give the subscriber's CPU per event and the time spent inside the callback per event: the
difference between the library's callback and the raw one is the library's transform cost.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from typing import IO, Any, Dict, List, Optional

from dxlclient.callbacks import EventCallback

from bench._common import CpuMeter, Report, log, mean, ratio
from dxltieclient import TieClient
from dxltieclient.callbacks import ReputationChangeCallback
from dxltieclient.client import TIE_EVENT_FILE_REPUTATION_CHANGE_TOPIC

#: Issue #11's targets: library CPU per event through a callback, and the delivered-rate ratio.
TARGET_TRANSFORM_US = 10.0
TARGET_RATE_RATIO = 0.95

_PUBLISHER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_publisher.py")
_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class _Tally:
    """
    Counts deliveries, with the first and last delivery times and the CPU time spent in the
    callbacks (thread CPU time: waits for the GIL held by the MQTT thread are not counted).
    """

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.count = 0
        self.first = 0.0
        self.last = 0.0
        self.callback_ns = 0
        self.lock = threading.Lock()
        self.finished = threading.Event()

    def hit(self, elapsed_ns: int) -> None:
        """Records one delivery that took ``elapsed_ns`` inside the callback."""
        now = time.perf_counter()
        with self.lock:
            if self.count == 0:
                self.first = now
            self.last = now
            self.count += 1
            self.callback_ns += elapsed_ns
            if self.count >= self.expected:
                self.finished.set()


class _TieCallback(ReputationChangeCallback):
    """The library's callback: times its own :meth:`on_event` (parse and transform included)."""

    def __init__(self, tally: _Tally) -> None:
        super().__init__()
        self.tally = tally
        self.last_dict: Optional[Dict[str, Any]] = None

    def on_event(self, event: Any) -> None:
        begin = time.thread_time_ns()
        super().on_event(event)
        self.tally.hit(time.thread_time_ns() - begin)

    def on_reputation_change(self, rep_change_dict: Dict[str, Any],
                             original_event: Any) -> None:
        self.last_dict = rep_change_dict


class _RawCallback(EventCallback):
    """A raw dxlclient callback that does nothing (timed the same way)."""

    def __init__(self, tally: _Tally) -> None:
        super().__init__()
        self.tally = tally

    def on_event(self, event: Any) -> None:
        begin = time.thread_time_ns()
        self.tally.hit(time.thread_time_ns() - begin)


class _Publisher:
    """The publisher process: started once, told to send a number of events per run."""

    def __init__(self, config_file: str, topic: str, timeout: float) -> None:
        self.process = subprocess.Popen(
            [sys.executable, _PUBLISHER, config_file, topic], cwd=_REPO,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        self.lines: "queue.Queue[Optional[str]]" = queue.Queue()
        self._reader = threading.Thread(target=self._read, args=(self.process.stdout,),
                                        name="bench-publisher-reader", daemon=True)
        self._reader.start()
        self.expect("ready", timeout)

    def _read(self, stream: Optional[IO[str]]) -> None:
        if stream is not None:
            for line in stream:
                self.lines.put(line.strip())
        self.lines.put(None)

    def expect(self, word: str, timeout: float) -> List[str]:
        """Waits (bounded) for a line starting with ``word``; returns its words."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("the publisher did not say {!r} within {:.0f} s".format(
                    word, timeout))
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise RuntimeError("the publisher exited (code {})".format(
                    self.process.poll()))
            if line.split()[:1] == [word]:
                return line.split()

    def send(self, count: int) -> None:
        """Tells it to publish ``count`` events."""
        assert self.process.stdin is not None
        self.process.stdin.write("send {}\n".format(count))
        self.process.stdin.flush()

    def close(self, timeout: float = 10.0) -> None:
        """Asks it to quit; kills it if it does not within ``timeout`` seconds."""
        try:
            if self.process.stdin is not None and self.process.poll() is None:
                self.process.stdin.write("quit\n")
                self.process.stdin.close()
        except OSError:
            pass
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


def _one_run(dxl_client: Any, tie_client: TieClient, publisher: _Publisher, kind: str,
             count: int, timeout: float) -> Dict[str, Optional[float]]:
    tally = _Tally(count)
    callback: EventCallback
    if kind == "tie":
        callback = _TieCallback(tally)
        tie_client.add_file_reputation_change_callback(callback)
    else:
        callback = _RawCallback(tally)
        dxl_client.add_event_callback(TIE_EVENT_FILE_REPUTATION_CHANGE_TOPIC, callback)
    time.sleep(0.3)  # let the subscription settle at the broker
    meter = CpuMeter()
    try:
        meter.start()
        publisher.send(count)
        sent = publisher.expect("sent", timeout)
        deadline = time.monotonic() + timeout
        # Bounded wait: all delivered, or no progress for 3 s, or the deadline.
        seen, idle_since = -1, time.monotonic()
        while not tally.finished.wait(0.2) and time.monotonic() < deadline:
            if tally.count != seen:
                seen, idle_since = tally.count, time.monotonic()
            elif time.monotonic() - idle_since > 3.0:
                break
        meter.stop()
    finally:
        if kind == "tie":
            tie_client.remove_file_reputation_change_callback(callback)
        else:
            dxl_client.remove_event_callback(TIE_EVENT_FILE_REPUTATION_CHANGE_TOPIC, callback)
    with tally.lock:
        delivered, first, last, callback_ns = (tally.count, tally.first, tally.last,
                                               tally.callback_ns)
    span = last - first
    publish_seconds = float(sent[2])
    result = {
        "delivered": float(delivered),
        "rate": (delivered - 1) / span if delivered > 1 and span > 0 else None,
        "publish_rate": count / publish_seconds if publish_seconds > 0 else None,
        "cpu_us": meter.self_seconds * 1e6 / delivered if delivered else None,
        "callback_us": callback_ns / 1000.0 / delivered if delivered else None,
    }
    log("events {}: {} of {} delivered at {:.0f}/s (published at {:.0f}/s), subscriber CPU "
        "{:.0f} us/event, {:.1f} us/event CPU in the callback".format(
            kind, delivered, count, result["rate"] or 0.0, result["publish_rate"] or 0.0,
            result["cpu_us"] or 0.0, result["callback_us"] or 0.0))
    return result


def run(dxl_client: Any, config_file: str, report: Report, count: int = 5000,
        rounds: int = 2, timeout: float = 60.0) -> Dict[str, List[Dict[str, Optional[float]]]]:
    """
    Runs ``rounds`` rounds of raw and library runs (ABBA order) of ``count`` events each and
    records the figures under ``events.*``.

    :param dxl_client: the subscriber's connected :class:`dxlclient.client.DxlClient`
    :param config_file: the publisher's configuration: an identity allowed to publish TIE's
        events (on a strict sandbox, its admin client's)
    :param report: where the figures go
    :param count: events per run
    :param rounds: rounds of one raw and one library run each
    :param timeout: the most seconds one run may take
    :return: the runs of each kind
    """
    tie_client = TieClient(dxl_client)
    runs: Dict[str, List[Dict[str, Optional[float]]]] = {"tie": [], "raw": []}
    publisher = _Publisher(config_file, TIE_EVENT_FILE_REPUTATION_CHANGE_TOPIC, timeout=30.0)
    try:
        _one_run(dxl_client, tie_client, publisher, "tie", min(count, 200), timeout)  # warm-up
        for number in range(rounds):
            kinds = ["raw", "tie"] if number % 2 == 0 else ["tie", "raw"]
            for kind in kinds:
                runs[kind].append(_one_run(dxl_client, tie_client, publisher, kind, count,
                                           timeout))
    finally:
        publisher.close()

    def average(kind: str, key: str) -> Optional[float]:
        values = [run[key] for run in runs[kind] if run[key] is not None]
        return mean([value for value in values if value is not None])

    note = "{} events x {} runs each, publisher in its own process".format(count, rounds)
    tie_rate, raw_rate = average("tie", "rate"), average("raw", "rate")
    report.add("events.tie_rate", tie_rate, "events/s",
               "ReputationChangeCallback subclass; " + note)
    report.add("events.raw_rate", raw_rate, "events/s", "raw EventCallback doing nothing")
    report.add("events.rate_ratio", ratio(tie_rate, raw_rate), "x", "library / raw",
               at_least=TARGET_RATE_RATIO)
    report.add("events.publish_rate", average("tie", "publish_rate"), "events/s",
               "send_event loop in the publisher process")
    tie_cpu, raw_cpu = average("tie", "cpu_us"), average("raw", "cpu_us")
    report.add("events.tie_cpu_us_per_event", tie_cpu, "us CPU", "subscriber process")
    report.add("events.raw_cpu_us_per_event", raw_cpu, "us CPU", "subscriber process")
    tie_cb, raw_cb = average("tie", "callback_us"), average("raw", "callback_us")
    report.add("events.transform_us_per_event",
               None if tie_cb is None or raw_cb is None else tie_cb - raw_cb, "us",
               "thread CPU in the library's on_event (parse + transform) minus the raw one's",
               at_most=TARGET_TRANSFORM_US)
    expected = count * rounds
    delivered = {kind: sum(int(run["delivered"] or 0) for run in runs[kind]) for kind in runs}
    for kind, got in delivered.items():
        if got < expected:
            report.notes.append("events: the {} subscriber got {} of {} events".format(
                kind, got, expected))
    return runs
