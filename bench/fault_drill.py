"""
A fault drill of the sandbox and the client (issue #9): a lookup burst, then a kill -9 of each
sandbox process during a bulk set, with what was lost and how long recovery took:

    python bench/fault_drill.py [--quick] [--keep-dir DIR]

On a throwaway sandbox in a temporary directory (brought down at the end, whatever happens):

1. **burst**: ``TieClient.get_file_reputations`` of 20,000 new files with ``max_in_flight``
   20,000: items answered, items failed (by error class), elapsed seconds;
2. for each sandbox process (the broker, the fabric services, the TIE emulator): a 10,000-item
   ``set_file_reputations`` of new files (``max_in_flight`` 64, 5 s timeout) in a thread; once a
   third of the items completed, ``kill -9`` of that process; once the bulk call returned,
   ``Sandbox.up()`` (time to recover: from the kill until ``up()`` returned and a lookup on a new
   connection succeeded; ``up s`` is the part after the bulk call returned); then every item is
   read back and classified: acknowledged and stored, failed but stored ("written although
   reported failed"), failed and not stored, and **acknowledged but not stored** ("acknowledged
   writes lost", must be 0). Stored means the enterprise reputation's trust level is the level
   set.

Progress goes to stderr, the tables to stdout. The exit status is 0 when the drill ran and no
acknowledged write was lost, 1 when one was lost or a step failed, 2 when the sandbox could not
be started. ``--quick`` scales it down (2,000 burst, 1,000 items per fault).
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import signal
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench._common import (
    connect,
    destroy_quietly,
    find_pids,
    log,
    make_hashes,
)
from dxltieclient import FileProvider, TieClient, TieNotConnectedError, TrustLevel

#: Sizes of a full drill and of ``--quick``.
SIZES = {"full": {"burst": 20000, "fault_items": 10000},
         "quick": {"burst": 2000, "fault_items": 1000}}
#: The processes killed, in order (names of ``Sandbox.status()["processes"]``).
PROCESSES = ("broker", "fabric_services", "tie_emulator")
#: The trust level every bulk set writes.
TRUST_LEVEL = TrustLevel.KNOWN_TRUSTED
BURST_TIMEOUT = 60.0
SET_TIMEOUT = 5.0
SET_WINDOW = 64
READ_TIMEOUT = 30.0
READ_WINDOW = 64
#: The share of the items completed before the kill.
KILL_AFTER = 1.0 / 3.0
#: Bounds of the waits (seconds): for the kill point, for the bulk call, for a first lookup.
KILL_WAIT = 300.0
BULK_WAIT = 1800.0
LOOKUP_WAIT = 120.0


@dataclass
class BurstResult:
    """The figures of the lookup burst."""

    items: int
    answered: int
    failed: Dict[str, int]
    elapsed: float


@dataclass
class FaultResult:
    """The figures of one kill -9 during a bulk set."""

    process: str
    items: int
    done_at_kill: int = 0
    bulk_seconds: float = 0.0
    recover_seconds: Optional[float] = None
    up_seconds: Optional[float] = None
    failed: Dict[str, int] = field(default_factory=dict)
    acked_stored: int = 0
    failed_stored: int = 0
    failed_stored_by: Dict[str, int] = field(default_factory=dict)
    failed_not_stored: int = 0
    acked_lost: int = 0
    unreadable: int = 0

    @property
    def failed_total(self) -> int:
        """Items the bulk call reported failed."""
        return sum(self.failed.values())


def new_hashes(count: int) -> List[Dict[str, str]]:
    """``count`` hashes dicts of files never seen before (a random seed per call)."""
    return make_hashes(count, seed=random.SystemRandom().randrange(1 << 62))


def error_label(error: BaseException) -> str:
    """An error's class name; for :class:`TieNotConnectedError`, whether it had been sent."""
    name = type(error).__name__
    if isinstance(error, TieNotConnectedError):
        return name + (" (sent)" if error.sent else " (not sent)")
    return name


def error_counts(errors: Sequence[Optional[BaseException]]) -> Dict[str, int]:
    """The errors by :func:`error_label` (``None`` entries are successes and not counted)."""
    return dict(collections.Counter(error_label(error) for error in errors
                                    if error is not None))


def format_counts(counts: Mapping[str, int]) -> str:
    """``Class: n, Class: n`` (``-`` when empty)."""
    return ", ".join("{}: {:,}".format(name, n) for name, n in sorted(counts.items())) or "-"


# -- the burst ------------------------------------------------------------------------------------

def run_burst(config_file: str, count: int) -> BurstResult:
    """
    Looks up ``count`` new files at once (``max_in_flight`` = ``count``).

    :param config_file: the sandbox's client configuration
    :param count: how many files
    """
    hashes = new_hashes(count)
    client = connect(config_file)
    try:
        tie = TieClient(client)
        log("burst: {:,} lookups, max_in_flight {:,}".format(count, count))
        started = time.perf_counter()
        results = tie.get_file_reputations(hashes, max_in_flight=count, timeout=BURST_TIMEOUT)
        elapsed = time.perf_counter() - started
    finally:
        destroy_quietly(client)
    failed = error_counts([result.error for result in results])
    return BurstResult(count, sum(1 for result in results if result.ok), failed, elapsed)


# -- one fault ------------------------------------------------------------------------------------

class _BulkSet(threading.Thread):
    """A bulk set in a thread; :attr:`third_done` is set once ``KILL_AFTER`` of it completed."""

    def __init__(self, tie: TieClient, items: List[Dict[str, Any]]) -> None:
        super().__init__(name="drill-bulk-set", daemon=True)
        self.tie = tie
        self.items = items
        self.third_done = threading.Event()
        self.done_count = 0
        self.errors: List[Optional[BaseException]] = []
        self.crash: Optional[BaseException] = None
        self.seconds = 0.0

    def _progress(self, done: int, total: int) -> None:
        self.done_count = done
        if done >= total * KILL_AFTER:
            self.third_done.set()

    def run(self) -> None:
        """Runs the bulk set; records each item's error (or the call's own failure)."""
        started = time.perf_counter()
        try:
            results = self.tie.set_file_reputations(self.items, max_in_flight=SET_WINDOW,
                                                     timeout=SET_TIMEOUT,
                                                     progress=self._progress)
            self.errors = [result.error for result in results]
        except BaseException as error:  # noqa: BLE001  (reported by the drill)
            self.crash = error
        finally:
            self.seconds = time.perf_counter() - started
            self.third_done.set()


def wait_for_lookup(config_file: str, deadline: float) -> None:
    """
    Connects a new client and retries one lookup until it succeeds.

    :raises RuntimeError: when no lookup succeeded before ``deadline`` (a ``perf_counter`` time)
    """
    last: Optional[BaseException] = None
    while time.perf_counter() < deadline:
        client = None
        try:
            client = connect(config_file)
            TieClient(client).get_file_reputation(new_hashes(1)[0])
            return
        except Exception as error:  # noqa: BLE001  (retried until the deadline)
            last = error
            time.sleep(0.2)  # a retry pause, not a synchronisation
        finally:
            destroy_quietly(client)
    raise RuntimeError("no lookup succeeded after the restart; last error: {}: {}".format(
        type(last).__name__, str(last)[:200]))


def read_back(config_file: str, hashes: List[Dict[str, str]]) -> List[Optional[bool]]:
    """
    Reads every file back on a new connection (twice for the items whose read failed).

    :return: per item, whether its enterprise trust level is :data:`TRUST_LEVEL` (``None``:
        could not be read)
    """
    stored: List[Optional[bool]] = [None] * len(hashes)
    client = connect(config_file)
    try:
        tie = TieClient(client)
        for _ in range(2):
            pending = [index for index, value in enumerate(stored) if value is None]
            if not pending:
                break
            results = tie.get_file_reputations([hashes[index] for index in pending],
                                               max_in_flight=READ_WINDOW, timeout=READ_TIMEOUT)
            for index, result in zip(pending, results):
                if result.ok:
                    enterprise = (result.value or {}).get(FileProvider.ENTERPRISE) or {}
                    stored[index] = enterprise.get("trustLevel") == TRUST_LEVEL
    finally:
        destroy_quietly(client)
    return stored


def classify(result: FaultResult, errors: Sequence[Optional[BaseException]],
             stored: Sequence[Optional[bool]]) -> None:
    """Fills the per-item figures of ``result`` from the set's errors and the read-back."""
    result.failed = error_counts(errors)
    for error, is_stored in zip(errors, stored):
        if is_stored is None:
            result.unreadable += 1
        elif error is None:
            result.acked_stored += is_stored
            result.acked_lost += not is_stored
        elif is_stored:
            result.failed_stored += 1
            label = error_label(error)
            result.failed_stored_by[label] = result.failed_stored_by.get(label, 0) + 1
        else:
            result.failed_not_stored += 1


def run_fault(sandbox: Any, process: str, count: int) -> FaultResult:
    """
    Kills ``process`` (kill -9) a third into a bulk set of ``count`` new files, brings the
    sandbox back up and reads every item back.

    :param sandbox: the running :class:`dxltieclient.sandbox.Sandbox`
    :param process: ``broker``, ``fabric_services`` or ``tie_emulator``
    :param count: items of the bulk set
    """
    pid = find_pids(sandbox.status(probe=False))[process]
    hashes = new_hashes(count)
    items = [{"trust_level": TRUST_LEVEL, "hashes": item, "comment": "fault drill"}
             for item in hashes]
    result = FaultResult(process, count)
    client = connect(sandbox.config_file)
    try:
        bulk = _BulkSet(TieClient(client), items)
        log("{}: bulk set of {:,} items".format(process, count))
        bulk.start()
        bulk.third_done.wait(KILL_WAIT)
        killed_at = time.perf_counter()
        os.kill(pid, signal.SIGKILL)
        result.done_at_kill = bulk.done_count
        log("{}: kill -9 {} after {:,} items".format(process, pid, bulk.done_count))
        bulk.join(BULK_WAIT)
        if bulk.is_alive() or bulk.crash is not None:
            raise RuntimeError("the bulk set did not return: {!r}".format(bulk.crash))
        result.bulk_seconds = bulk.seconds
        log("{}: bulk set returned after {:.1f} s; sandbox up".format(process, bulk.seconds))
        returned_at = time.perf_counter()
        sandbox.up()
        wait_for_lookup(sandbox.config_file, time.perf_counter() + LOOKUP_WAIT)
        result.up_seconds = time.perf_counter() - returned_at
        result.recover_seconds = time.perf_counter() - killed_at
    finally:
        destroy_quietly(client)
    log("{}: recovered in {:.1f} s; reading {:,} items back".format(
        process, result.recover_seconds or 0.0, count))
    classify(result, bulk.errors, read_back(sandbox.config_file, hashes))
    return result


# -- output ---------------------------------------------------------------------------------------

def _table(rows: List[List[str]]) -> str:
    widths = [max(len(row[col]) for row in rows) for col in range(len(rows[0]))]
    lines = ["  ".join(cell.rjust(width) if col else cell.ljust(width)
                       for col, (cell, width) in enumerate(zip(row, widths))).rstrip()
             for row in rows]
    lines.insert(1, "-" * max(len(line) for line in lines))
    return "\n".join(lines)


def format_burst(burst: BurstResult) -> str:
    """The burst's table."""
    return _table([["burst", "items", "answered", "failed", "elapsed s", "failed by class"],
                   ["get_file_reputations", "{:,}".format(burst.items),
                    "{:,}".format(burst.answered), "{:,}".format(sum(burst.failed.values())),
                    "{:.1f}".format(burst.elapsed), format_counts(burst.failed)]])


def format_faults(faults: Sequence[FaultResult]) -> str:
    """The faults' table, then each fault's errors by class."""
    rows = [["kill -9", "items", "done at kill", "failed", "written though failed",
             "failed, not written", "acked + stored", "acked writes lost", "unreadable",
             "bulk s", "recover s", "up s"]]
    for fault in faults:
        times = ["n/a" if seconds is None else "{:.1f}".format(seconds)
                 for seconds in (fault.recover_seconds, fault.up_seconds)]
        rows.append([fault.process] + ["{:,}".format(value) for value in (
            fault.items, fault.done_at_kill, fault.failed_total, fault.failed_stored,
            fault.failed_not_stored, fault.acked_stored, fault.acked_lost, fault.unreadable)]
            + ["{:.1f}".format(fault.bulk_seconds)] + times)
    errors = ["{}: failed by class: {}; written though failed, by class: {}".format(
        fault.process, format_counts(fault.failed), format_counts(fault.failed_stored_by))
        for fault in faults]
    return "\n".join([_table(rows)] + errors)


# -- main -----------------------------------------------------------------------------------------

def _parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Fault drill: a lookup burst, then kill -9 of each sandbox process during "
                    "a bulk set (issue #9).")
    parser.add_argument("--quick", action="store_true",
                        help="scaled down: 2,000 burst lookups, 1,000 items per fault")
    parser.add_argument("--keep-dir", metavar="DIR",
                        help="use DIR for the sandbox instead of a temporary directory (kept)")
    return parser.parse_args(argv)


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt("signal {}".format(signum))


def _drill(sandbox: Any, sizes: Mapping[str, int]) -> int:
    """Runs the burst and the faults on a running sandbox, prints the tables; the status."""
    failures = 0
    try:
        print(format_burst(run_burst(sandbox.config_file, sizes["burst"])), flush=True)
    except Exception:  # noqa: BLE001  (reported; the faults still run)
        traceback.print_exc()
        failures += 1
    faults: List[FaultResult] = []
    for process in PROCESSES:
        try:
            faults.append(run_fault(sandbox, process, sizes["fault_items"]))
        except Exception:  # noqa: BLE001  (reported; the next fault still runs)
            traceback.print_exc()
            failures += 1
            sandbox.up()
    print(flush=True)
    print(format_faults(faults), flush=True)
    lost = sum(fault.acked_lost for fault in faults)
    if lost:
        print("ACKNOWLEDGED WRITES LOST: {:,}".format(lost), flush=True)
    return 1 if failures or lost else 0


def _run(directory: str, sizes: Mapping[str, int]) -> int:
    from dxltieclient.sandbox import Sandbox  # the sandbox is optional for the library itself

    sandbox = Sandbox(directory)
    try:
        log("sandbox: starting in {}".format(directory))
        try:
            sandbox.up()
            sandbox.start_watchdog()  # stops the sandbox if this run is killed early
        except Exception as error:  # noqa: BLE001  (reported, exit 2)
            log("sandbox: failed to start: {}: {}".format(type(error).__name__, error))
            return 2
        return _drill(sandbox, sizes)
    finally:
        log("sandbox: stopping")
        sandbox.down()


def main(argv: Optional[List[str]] = None) -> int:
    """Runs the drill (see the module's docstring); returns the exit status."""
    args = _parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    sizes = SIZES["quick" if args.quick else "full"]
    started = time.perf_counter()
    if args.keep_dir:
        status = _run(args.keep_dir, sizes)
    else:
        with tempfile.TemporaryDirectory(prefix="dxltie-drill-") as directory:
            status = _run(os.path.join(directory, "sandbox"), sizes)
    log("drill finished in {:.0f} s, exit status {}".format(time.perf_counter() - started,
                                                            status))
    return status


if __name__ == "__main__":
    sys.exit(main())
