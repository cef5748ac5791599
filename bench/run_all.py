"""
Runs every dxltieclient benchmark against a sandbox and prints a table of figures:

    python bench/run_all.py [--quick] [--json FILE] [--profile] [--only NAME ...]

It brings a sandbox up in a temporary directory on a free port (Mosquitto, the fabric services and
the TIE emulator, each its own process), runs

1. ``overhead``: TieClient.get_file_reputation against a raw DxlClient.sync_request with the same
   payload bytes (target: ratio of medians <= 1.05);
2. ``bulk``: a sequential get_file_reputation loop against get_file_reputations at several
   max_in_flight windows and raw async requests, with an emulated server delay of 0 ms and then
   10 ms (target: bulk >= 10x sequential at 10 ms), with the CPU cost per 1,000 requests;
3. ``events``: reputation change events per second through a ReputationChangeCallback against a
   raw EventCallback, published by a separate process;
4. ``aio``: AsyncTieClient.get_file_reputations against the threaded bulk call and raw async
   requests at the same window, and 1,000 concurrent lookups from one event loop (targets: async
   bulk >= 0.9x the threaded req/s, <= 1.1x its client CPU per request);
5. ``cache``: CachingTieClient's hit latency, and a Zipf workload with 5 % sets by another client
   with and without the cache (lookups/s, hit ratio, stale answers, set-to-invalidation delay);

and brings the sandbox down, whatever happens. Progress goes to stderr, the table to stdout. The
figures are measurements, not pass/fail: the exit status is 0 when every benchmark ran (targets
missed or not), 1 when one failed, 2 when the sandbox could not be started.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import sys
import tempfile
import time
import traceback
from typing import Any, Dict, List, Optional

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import (
    bench_aio,
    bench_bulk,
    bench_cache,
    bench_events,
    bench_overhead,
    profile_client,
)
from bench._common import (
    Report,
    connect,
    destroy_quietly,
    dump_json,
    find_pids,
    log,
    print_table,
    steal_share,
    system_cpu_times,
)

BENCHMARKS = ("overhead", "bulk", "events", "aio", "cache")

#: Sizes of a full run (about 1-2 minutes on 2 cores) and of ``--quick`` (a few seconds).
SIZES = {
    "full": {"overhead_calls": 2000, "overhead_warmup": 200, "bulk_total": 5000,
             "bulk_sequential_0ms": 5000, "bulk_sequential_10ms": 500, "event_count": 5000,
             "event_rounds": 2, "profile_count": 2000, "aio_total": 2000,
             "aio_concurrent": 1000, "aio_rounds": 3, "cache_operations": 3000,
             "cache_warmup": 2000, "cache_hit_calls": 5000},
    "quick": {"overhead_calls": 60, "overhead_warmup": 20, "bulk_total": 150,
              "bulk_sequential_0ms": 60, "bulk_sequential_10ms": 30, "event_count": 300,
              "event_rounds": 1, "profile_count": 100, "aio_total": 100,
              "aio_concurrent": 100, "aio_rounds": 1, "cache_operations": 200,
              "cache_warmup": 100, "cache_hit_calls": 200},
}
#: The emulated server delays of the bulk benchmark, in milliseconds.
DELAYS_MS = (0.0, 10.0)
#: A CPU steal share from which the figures are flagged as unreliable (a busy VM host).
STEAL_WARNING = 0.05


def _parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmarks of dxltieclient against a local sandbox (figures, not pass/fail).")
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes (a smoke run of every benchmark; figures meaningless)")
    parser.add_argument("--json", metavar="FILE", help="also save the figures to FILE as JSON")
    parser.add_argument("--profile", action="store_true",
                        help="after the measured runs, profile the client side (cProfile, all "
                             "threads) of each workload and print the top functions")
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, metavar="NAME",
                        help="run only these benchmarks ({})".format(", ".join(BENCHMARKS)))
    parser.add_argument("--keep-dir", metavar="DIR",
                        help="use DIR for the sandbox instead of a temporary directory (kept)")
    return parser.parse_args(argv)


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt("signal {}".format(signum))


def _print_profiles(config_file: str, count: int) -> None:
    print("\n".join(profile_client.run(config_file, count)), flush=True)


class _Session:
    """One benchmark run's sandbox and client; counts the benchmarks that failed."""

    def __init__(self, sandbox: Any, report: Report) -> None:
        self.sandbox = sandbox
        self.report = report
        self.failures = 0
        self.client: Any = None
        self.config_file = ""

    def start(self) -> bool:
        """Starts the sandbox and connects; False (reported) when the sandbox did not start."""
        log("sandbox: starting in {}".format(self.sandbox.directory))
        started = time.perf_counter()
        try:
            self.config_file = self.sandbox.up(delay_ms=0.0)
            self.sandbox.start_watchdog()  # stops the sandbox if this run is killed early
        except Exception as error:  # noqa: BLE001  (reported, exit 2)
            log("sandbox: failed to start: {}: {}".format(type(error).__name__, error))
            return False
        log("sandbox: up on port {} in {:.1f} s".format(self.sandbox.port,
                                                         time.perf_counter() - started))
        self.client = connect(self.config_file)
        return True

    def attempt(self, name: str, work: Any, *args: Any, **kwargs: Any) -> None:
        """Runs one benchmark; a failure is counted and noted, and the others still run."""
        try:
            work(*args, **kwargs)
        except Exception as error:  # noqa: BLE001  (the others still run)
            self.failures += 1
            traceback.print_exc()
            self.report.notes.append("{} FAILED: {}: {}".format(name, type(error).__name__,
                                                                error))

    def with_delay(self, delay_ms: float) -> None:
        """Restarts the TIE emulator with another emulated delay (and reconnects) if needed."""
        if float(self.sandbox.status(probe=False).get("delay_ms") or 0.0) == delay_ms:
            return
        log("sandbox: restarting the TIE emulator with a {:g} ms delay".format(delay_ms))
        destroy_quietly(self.client)
        self.client = None
        self.config_file = self.sandbox.up(delay_ms=delay_ms)
        self.client = connect(self.config_file)

    def close(self) -> None:
        """Disconnects and brings the sandbox down (a failure to stop it counts)."""
        destroy_quietly(self.client)
        log("sandbox: stopping")
        try:
            self.sandbox.down()
        except Exception as error:  # noqa: BLE001  (reported, exit 1)
            log("sandbox: stopping failed: {}: {}".format(type(error).__name__, error))
            self.failures += 1


def _run_selected(session: _Session, selected: List[str], sizes: Dict[str, int]) -> None:
    client, report = session.client, session.report
    if "overhead" in selected:
        session.attempt("overhead", bench_overhead.run, client, report,
                        calls=sizes["overhead_calls"], warmup=sizes["overhead_warmup"])
    if "events" in selected:
        # Only TIE may publish TIE's events on the sandbox: the publisher plays it with the
        # sandbox's own (admin) identity.
        session.attempt("events", bench_events.run, client, session.sandbox.admin_config_file,
                        report, count=sizes["event_count"], rounds=sizes["event_rounds"])
    if "aio" in selected:
        session.attempt("aio", bench_aio.run, client, report, total=sizes["aio_total"],
                        concurrent=sizes["aio_concurrent"], rounds=sizes["aio_rounds"])
    if "cache" in selected:
        session.attempt("cache", bench_cache.run, client, session.config_file, report,
                        operations=sizes["cache_operations"], warmup=sizes["cache_warmup"],
                        hit_calls=sizes["cache_hit_calls"])
    if "bulk" in selected:
        for delay in DELAYS_MS:
            session.with_delay(delay)
            pids = find_pids(session.sandbox.status())
            sequential = sizes["bulk_sequential_10ms" if delay else "bulk_sequential_0ms"]
            session.attempt("bulk {:g} ms".format(delay), bench_bulk.run, session.client,
                            report, delay, pids, total=sizes["bulk_total"],
                            sequential_count=sequential)


def _run(args: argparse.Namespace, directory: str, report: Report) -> int:
    from dxltieclient.sandbox import Sandbox  # the sandbox is optional for the library itself

    sizes = SIZES["quick" if args.quick else "full"]
    session = _Session(Sandbox(directory), report)
    try:
        if not session.start():
            return 2
        _run_selected(session, args.only or list(BENCHMARKS), sizes)
        if args.profile:
            session.with_delay(0.0)
            session.sandbox.start_watchdog()  # stops the sandbox if this run is killed early
            session.attempt("profile", _print_profiles, session.config_file,
                            sizes["profile_count"])
    finally:
        session.close()
    return 1 if session.failures else 0


def main(argv: Optional[List[str]] = None) -> int:
    """Runs the benchmarks (see the module's docstring); returns the exit status."""
    args = _parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    report = Report()
    report.notes.append("{}: Python {}, {} CPUs, load average {}".format(
        "QUICK run, sizes too small for meaningful figures" if args.quick else "full run",
        platform.python_version(), os.cpu_count(),
        " ".join("{:.2f}".format(load) for load in os.getloadavg())))
    started = time.perf_counter()
    cpu_before = system_cpu_times()
    if args.keep_dir:
        status = _run(args, args.keep_dir, report)
    else:
        with tempfile.TemporaryDirectory(prefix="dxltie-bench-") as directory:
            status = _run(args, os.path.join(directory, "sandbox"), report)
    report.notes.append("total time {:.0f} s".format(time.perf_counter() - started))
    steal = steal_share(cpu_before, system_cpu_times())
    if steal is not None:
        report.notes.append(
            "CPU steal during the run {:.1%}{}".format(
                steal, " (the hypervisor ran other guests: figures are low and noisy)"
                if steal >= STEAL_WARNING else ""))
    print()
    print_table(report)
    if args.json:
        dump_json(args.json, report.to_json())
        log("figures saved to {}".format(args.json))
    return status


if __name__ == "__main__":
    sys.exit(main())
