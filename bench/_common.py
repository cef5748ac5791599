"""
Shared helpers of the benchmarks: figures and their table, statistics, CPU accounting (this process
and the sandbox's processes), DXL client connections, test data and an all-threads profiler.

Nothing here prints except :func:`print_table` and :func:`log`.
"""

from __future__ import annotations

import contextlib
import cProfile
import io
import json
import os
import pstats
import random
import resource
import statistics
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence

from dxlclient.client import DxlClient
from dxlclient.client_config import DxlClientConfig

#: Hash types of a realistic lookup: TIE clients usually send every hash they know.
HASH_LENGTHS = (("md5", 32), ("sha1", 40), ("sha256", 64))


@dataclass
class Figure:
    """
    One measured figure.

    :param name: a stable dotted identifier, e.g. ``overhead.ratio_median`` (the smoke test looks
        for these)
    :param value: the measured value (``None`` when it could not be measured)
    :param unit: its unit, e.g. ``us``, ``req/s``, ``x``
    :param target: the target, as text (``<= 1.05``), or ``None``
    :param met: whether the target was met (``None`` when there is no target)
    :param note: how it was measured, when it matters (subset sizes, window, ...)
    """

    name: str
    value: Optional[float]
    unit: str
    target: Optional[str] = None
    met: Optional[bool] = None
    note: str = ""


@dataclass
class Report:
    """The figures of a run, in the order they were measured, and notes for the reader."""

    figures: List[Figure] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)

    def add(self, name: str, value: Optional[float], unit: str, note: str = "",
            at_most: Optional[float] = None, at_least: Optional[float] = None) -> Figure:
        """
        Records a figure, with an optional target (``at_most`` or ``at_least``).

        :return: the figure recorded
        """
        target: Optional[str] = None
        met: Optional[bool] = None
        if at_most is not None:
            target = "<= {:g}".format(at_most)
            met = value is not None and value <= at_most
        elif at_least is not None:
            target = ">= {:g}".format(at_least)
            met = value is not None and value >= at_least
        figure = Figure(name, value, unit, target, met, note)
        self.figures.append(figure)
        return figure

    def to_json(self) -> Dict[str, Any]:
        """The report as a JSON-serialisable dict."""
        return {"figures": [asdict(figure) for figure in self.figures], "notes": self.notes}


def log(message: str) -> None:
    """Prints a progress line to stderr (the figures go to stdout)."""
    print("[bench {}] {}".format(time.strftime("%H:%M:%S"), message), file=sys.stderr, flush=True)


def _format_value(value: Optional[float]) -> str:
    if value is None:
        return "n/a"
    if value == int(value) and abs(value) >= 100:
        return "{:,.0f}".format(value)
    if abs(value) >= 100:
        return "{:,.0f}".format(value)
    if abs(value) >= 10:
        return "{:.1f}".format(value)
    return "{:.3f}".format(value)


def print_table(report: Report, out: Any = None) -> None:
    """
    Prints the figures as a fixed-width table: name, value, unit, target, met, note.

    :param report: the figures
    :param out: the stream (default: stdout)
    """
    stream = out if out is not None else sys.stdout
    rows = [("figure", "value", "unit", "target", "met", "note")]
    for fig in report.figures:
        met = "" if fig.met is None else ("yes" if fig.met else "NO")
        rows.append((fig.name, _format_value(fig.value), fig.unit, fig.target or "", met,
                     fig.note))
    widths = [max(len(row[col]) for row in rows) for col in range(5)]
    lines = []
    for number, row in enumerate(rows):
        cells = [row[0].ljust(widths[0]), row[1].rjust(widths[1])]
        cells += [row[col].ljust(widths[col]) for col in range(2, 5)]
        lines.append("  ".join(cells + [row[5]]).rstrip())
        if number == 0:
            lines.append("-" * max(len(line) for line in lines))
    print("\n".join(lines), file=stream)
    for note in report.notes:
        print("note: " + note, file=stream)
    stream.flush()


# -- statistics -----------------------------------------------------------------------------------

def median(values: Sequence[float]) -> Optional[float]:
    """The median, or ``None`` for no values."""
    return statistics.median(values) if values else None


def percentile(values: Sequence[float], fraction: float) -> Optional[float]:
    """The ``fraction`` quantile (nearest rank, e.g. 0.99), or ``None`` for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(fraction * len(ordered))) - 1))]


def mean(values: Sequence[float]) -> Optional[float]:
    """The mean, or ``None`` for no values."""
    return statistics.fmean(values) if values else None


def ratio(numerator: Optional[float], denominator: Optional[float]) -> Optional[float]:
    """``numerator / denominator``, or ``None`` when either is missing or the denominator is 0."""
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def per_thousand(seconds: float, count: int) -> Optional[float]:
    """CPU milliseconds per 1,000 operations from CPU seconds over ``count`` operations."""
    return seconds * 1e6 / count if count else None


# -- CPU accounting -------------------------------------------------------------------------------

def self_cpu() -> float:
    """CPU seconds (user + system) used so far by this process, all threads included."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def system_cpu_times() -> Optional[Dict[str, float]]:
    """
    The machine's cumulative CPU times in seconds, all CPUs summed, from ``/proc/stat``:
    ``busy`` (user, nice, system, irq, softirq), ``idle`` (idle, iowait) and ``steal`` (time the
    hypervisor gave to other guests while this one wanted to run). ``None`` without ``/proc``.
    """
    try:
        with open("/proc/stat") as stat:
            fields = stat.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu" or len(fields) < 9:
        return None
    ticks = [int(value) / _CLOCK_TICKS for value in fields[1:9]]
    user, nice, system, idle, iowait, irq, softirq, steal = ticks
    return {"busy": user + nice + system + irq + softirq, "idle": idle + iowait, "steal": steal}


def steal_share(before: Optional[Mapping[str, float]],
                after: Optional[Mapping[str, float]]) -> Optional[float]:
    """
    The share (0 to 1) of the machine's CPU time taken by the hypervisor between two
    :func:`system_cpu_times` readings; ``None`` when unknown.
    """
    if before is None or after is None:
        return None
    deltas = {key: after[key] - before[key] for key in ("busy", "idle", "steal")}
    total = sum(deltas.values())
    return deltas["steal"] / total if total > 0 else None


def proc_cpu(pid: int) -> Optional[float]:
    """
    CPU seconds (user + system) used so far by another process, read from ``/proc/<pid>/stat``.

    :return: the seconds, or ``None`` when the process is gone or ``/proc`` is unavailable
    """
    try:
        with open("/proc/{}/stat".format(pid), "rb") as stat:
            text = stat.read().decode("ascii", "replace")
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    fields = text[text.rfind(")") + 2:].split()
    try:
        return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS  # utime, stime
    except (IndexError, ValueError):
        return None


def find_pids(status: Mapping[str, Any]) -> Dict[str, int]:
    """
    The running processes of a sandbox, from its ``status()`` (``processes``: name to ``pid``).

    :param status: what :meth:`dxltieclient.sandbox.Sandbox.status` returned
    :return: name (``broker``, ``fabric_services``, ``tie_emulator``) to pid
    """
    processes = status.get("processes") or {}
    return {str(name): int(info["pid"]) for name, info in processes.items()
            if isinstance(info, Mapping) and isinstance(info.get("pid"), int)}


class CpuMeter:
    """
    Measures the CPU used by this process and by named other processes between :meth:`start`
    and :meth:`stop`.

    :param pids: name to pid of the other processes (e.g. the sandbox's)
    """

    def __init__(self, pids: Optional[Mapping[str, int]] = None) -> None:
        self.pids = dict(pids or {})
        self._self_start = 0.0
        self._others_start: Dict[str, Optional[float]] = {}
        self._wall_start = 0.0
        #: CPU seconds of this process over the last measured span.
        self.self_seconds = 0.0
        #: CPU seconds of each other process over the last span (``None``: not readable).
        self.other_seconds: Dict[str, Optional[float]] = {}
        #: Wall-clock seconds of the last span.
        self.wall_seconds = 0.0

    def start(self) -> None:
        """Starts a span."""
        self._others_start = {name: proc_cpu(pid) for name, pid in self.pids.items()}
        self._wall_start = time.perf_counter()
        self._self_start = self_cpu()

    def stop(self) -> None:
        """Ends the span and computes its figures."""
        self.self_seconds = self_cpu() - self._self_start
        self.wall_seconds = time.perf_counter() - self._wall_start
        self.other_seconds = {}
        for name, pid in self.pids.items():
            before, after = self._others_start.get(name), proc_cpu(pid)
            self.other_seconds[name] = (after - before) if before is not None \
                and after is not None else None

    @contextlib.contextmanager
    def span(self) -> Iterator["CpuMeter"]:
        """A ``with`` block measured as one span."""
        self.start()
        try:
            yield self
        finally:
            self.stop()


# -- DXL ------------------------------------------------------------------------------------------

def connect(config_file: str, timeout: float = 20.0) -> DxlClient:
    """
    Connects a :class:`DxlClient` with a bounded number of connection attempts.

    :param config_file: the ``dxlclient.config`` written by the sandbox
    :param timeout: the most seconds to spend connecting (approximate)
    :return: the connected client (call ``destroy()`` when done)
    """
    config = DxlClientConfig.create_dxl_config_from_file(config_file)
    config.connect_retries = max(1, int(timeout // 2))
    config.reconnect_delay = 0.5
    config.reconnect_delay_max = 2
    client = DxlClient(config)
    try:
        client.connect()
    except Exception:
        client.destroy()
        raise
    return client


def destroy_quietly(client: Optional[DxlClient]) -> None:
    """Destroys a client, logging rather than raising a failure (used in ``finally`` blocks)."""
    if client is None:
        return
    try:
        client.destroy()
    except Exception as error:  # noqa: BLE001  (teardown must go on)
        log("destroying a DXL client failed: {}: {}".format(type(error).__name__, error))


# -- data -----------------------------------------------------------------------------------------

def make_hashes(count: int, seed: int = 5) -> List[Dict[str, str]]:
    """
    Deterministic hashes dicts (md5, sha1 and sha256 of ``count`` imaginary files).

    :param count: how many files
    :param seed: the random seed
    :return: one ``{hash type: lower-case hex}`` dict per file
    """
    rng = random.Random(seed)
    return [{name: "{:0{}x}".format(rng.getrandbits(length * 4), length)
             for name, length in HASH_LENGTHS} for _ in range(count)]


# -- profiling ------------------------------------------------------------------------------------

class ThreadsProfiler:
    """
    cProfile over every thread: the calling thread and each thread started while it is on (the
    DXL client's threads start when it connects, so create the client inside the span).

    Each thread is timed by its own CPU clock (:func:`time.thread_time`), so the figures show where
    CPU goes: time spent blocked (waiting for a response, in ``select``) counts as almost nothing.
    """

    def __init__(self) -> None:
        self._profiles: List[cProfile.Profile] = []
        self._lock = threading.Lock()
        self._main: Optional[cProfile.Profile] = None

    def _thread_hook(self, frame: Any, event: str, arg: Any) -> None:
        profile = cProfile.Profile(time.thread_time)
        with self._lock:
            self._profiles.append(profile)
        profile.enable()  # replaces this hook for the new thread

    def start(self) -> None:
        """Starts profiling this thread and the threads started from now on."""
        threading.setprofile(self._thread_hook)
        self._main = cProfile.Profile(time.thread_time)
        self._profiles.append(self._main)
        self._main.enable()

    def stop(self) -> None:
        """Stops profiling this thread and stops hooking new ones."""
        threading.setprofile(None)
        if self._main is not None:
            self._main.disable()

    def report(self, title: str, top: int = 18) -> str:
        """
        The merged statistics: the ``top`` functions by cumulative and by own time.

        :param title: a heading
        :param top: how many functions in each list
        """
        buffer = io.StringIO()
        with self._lock:
            profiles = list(self._profiles)
        stats: Optional[pstats.Stats] = None
        for profile in profiles:
            try:
                if stats is None:
                    stats = pstats.Stats(profile, stream=buffer)
                else:
                    stats.add(profile)
            except (TypeError, ValueError):  # a thread that recorded nothing
                continue
        buffer.write("=" * 100 + "\nPROFILE {} ({} threads, thread CPU time)\n".format(
            title, len(profiles)))
        if stats is None:
            buffer.write("(nothing recorded)\n")
            return buffer.getvalue()
        buffer.write("-- dxltieclient's own functions, by cumulative time\n")
        stats.sort_stats("cumulative").print_stats(r"dxltieclient[/\\](?!sandbox)", top)
        stats.strip_dirs()
        buffer.write("-- by cumulative time\n")
        stats.sort_stats("cumulative").print_stats(top)
        buffer.write("-- by own time\n")
        stats.sort_stats("tottime").print_stats(top)
        return buffer.getvalue()


def dump_json(path: str, payload: Mapping[str, Any]) -> None:
    """Writes ``payload`` as indented JSON to ``path``."""
    with open(path, "w", encoding="utf-8") as out:
        json.dump(payload, out, indent=2, sort_keys=False)
        out.write("\n")
