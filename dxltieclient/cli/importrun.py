"""
``dxltie import``: validates the file, sends its valid rows through one bulk call with a progress
bar, stops cleanly on SIGINT/SIGTERM (the bulk call's ``stop`` event), and writes the rows that
were not applied (failed, invalid, or not sent) to a file that can be imported again.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from .._errors import TieBulkStoppedError
from . import importfile
from .connection import tie_session
from .errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, CliError
from .importfile import ImportFile, ImportRow
from .output import say, warn

#: The error written for rows not sent because the import was interrupted.
NOT_SENT = "not sent: the import was interrupted"
#: How many failed rows are listed on stderr.
SHOWN_FAILURES = 10


def progress_bar(total: int, initial: int, enabled: bool) -> Any:
    """
    Makes the import's progress bar: on stderr, counting rows (invalid ones count as done at
    once), with rate and ETA, redrawn at most four times a second.

    :param total: the rows of the file
    :param initial: the rows already done (invalid rows)
    :param enabled: whether to draw it at all
    :return: a :class:`tqdm.tqdm`
    """
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="row", desc="importing", file=sys.stderr,
                mininterval=0.25, disable=not enabled, dynamic_ncols=True, leave=True)


class StopFlag:
    """
    Set by the first SIGINT or SIGTERM while installed: the bulk call given :attr:`event` as its
    ``stop`` sends nothing more and waits for the requests in flight. A second signal interrupts
    at once (``KeyboardInterrupt``).

    :param what: says, on stderr, what the first signal does
    """

    def __init__(self, what: str) -> None:
        self._what = what
        self.event = threading.Event()
        #: The signal that set the flag.
        self.signal: Optional[int] = None

    def _handle(self, signum: Any, _frame: Any) -> None:
        if self.event.is_set():
            raise KeyboardInterrupt
        self.signal = int(signum)
        self.event.set()
        warn(self._what)

    @contextlib.contextmanager
    def installed(self) -> Iterator["StopFlag"]:
        """Installs the handlers (on the main thread only) for the block's duration."""
        previous: Dict[Any, Any] = {}
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                previous[signum] = signal.signal(signum, self._handle)
        try:
            yield self
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)


class _RowProgress:
    """
    The bulk call's ``progress(done, total)``, moving the bar by the rows done. Once ``stop`` is
    set the bar stands still: the bulk call then fails the rows not sent at once, and they are
    not done; :meth:`settle` shows the true count when the call returns.
    """

    def __init__(self, bar: Any, stop: threading.Event) -> None:
        self._bar = bar
        self._stop = stop
        self._start = bar.n  # the rows done before the call (invalid rows)
        self._shown = 0

    def __call__(self, done: int, _total: int) -> None:
        if done > self._shown and not self._stop.is_set():
            self._bar.update(done - self._shown)
            self._shown = done

    def settle(self, done: int) -> None:
        """Sets the bar to the rows done before the call plus ``done``."""
        if self._start + done != self._bar.n:
            self._bar.n = self._start + done
            self._bar.refresh()


def send_rows(tie_client: Any, rows: Sequence[ImportRow], args: argparse.Namespace,
              bar: Any, stop: threading.Event
              ) -> Tuple[List[Tuple[ImportRow, Optional[BaseException]]], List[ImportRow]]:
    """
    Sends the valid rows through one bulk call (at most ``--max-in-flight`` requests
    outstanding) with ``stop`` as its stop event: once it is set, nothing more is sent and the
    requests in flight are waited for (each bounded by ``--timeout``).

    :param tie_client: the TIE client
    :param rows: the valid rows
    :param args: the parsed arguments
    :param bar: the progress bar
    :param stop: set to stop sending
    :return: ``(row, error or None)`` for each row sent, in order, and the rows not sent
    """
    progress = _RowProgress(bar, stop)
    items = [row.item for row in rows]
    if args.external:
        results = tie_client.set_external_file_reputations(items, progress=progress, stop=stop)
    else:
        results = tie_client.set_file_reputations(
            items, max_in_flight=args.max_in_flight, timeout=args.timeout, progress=progress,
            stop=stop)
    outcomes: List[Tuple[ImportRow, Optional[BaseException]]] = []
    unsent: List[ImportRow] = []
    for row, result in zip(rows, results):
        if isinstance(result.error, TieBulkStoppedError):
            unsent.append(row)
        else:
            outcomes.append((row, result.error))
    progress.settle(len(outcomes))
    return outcomes, unsent


def _report_failures(failures: Sequence[Tuple[ImportRow, str]], failed_path: str) -> None:
    for row, error_text in failures[:SHOWN_FAILURES]:
        warn("line {}: {}".format(row.line, error_text))
    if len(failures) > SHOWN_FAILURES:
        warn("... and {} more in {}".format(len(failures) - SHOWN_FAILURES, failed_path))


def _write_or_clean(args: argparse.Namespace, parsed: ImportFile,
                    failures: List[Tuple[ImportRow, str]]) -> Tuple[str, bool]:
    """Writes the failed file, or removes a stale one; returns (its path, whether written)."""
    failed_path = args.failed_file or importfile.default_failed_path(args.file, parsed.format)
    if failures:
        try:
            importfile.write_failed(failed_path, parsed, failures)
        except OSError as error:
            raise CliError("cannot write the failed rows to {}: {}".format(
                failed_path, error.strerror or error), EXIT_FAILED) from None
        return failed_path, True
    if os.path.exists(failed_path):
        # A failed file from an earlier run, or the failed file just re-imported: nothing in it
        # is left to apply, and its existence would say otherwise.
        try:
            os.unlink(failed_path)
            warn("removed {}: its rows are applied now".format(failed_path))
        except OSError as error:
            warn("warning: cannot remove {}: {}".format(
                failed_path, error.strerror or error))
    return failed_path, False


def dry_run(args: argparse.Namespace, parsed: ImportFile) -> int:
    """
    ``import --dry-run``: reports what the file holds, sends nothing, writes nothing.

    :param args: the parsed arguments
    :param parsed: the validated file
    :return: 0 when every row is valid, else 1
    """
    invalid = [(row, row.error or "invalid row") for row in parsed.rows if row.item is None]
    summary = {"file": args.file, "dryRun": True, "rows": len(parsed.rows),
               "valid": len(parsed.rows) - len(invalid), "invalid": len(invalid),
               "errors": [{"line": row.line, "error": error} for row, error in invalid]}
    if args.json or args.jsonl:
        say(json.dumps(summary, indent=None if args.jsonl else 2))
    else:
        say("dry run: {} rows, {} valid, {} invalid (nothing sent)".format(
            summary["rows"], summary["valid"], summary["invalid"]))
    _report_failures(invalid, args.file)
    return EXIT_FAILED if invalid else EXIT_OK


def run_import(args: argparse.Namespace) -> int:
    """
    ``dxltie import FILE``: see the module docstring.

    :param args: the parsed arguments
    :return: 0, 1 (some rows not applied), 5/6 (every sent row failed for that reason), or 130
        (interrupted: the rows not sent are in the failed file)
    """
    parsed = importfile.read_import_file(args.file, args.format, args.external)
    ignored = importfile.unknown_columns(parsed)
    if ignored:
        warn("warning: {}: ignoring the column(s) {}".format(args.file, ", ".join(ignored)))
    if args.dry_run:
        return dry_run(args, parsed)
    valid = [row for row in parsed.rows if row.item is not None]
    failures = [(row, row.error or "invalid row") for row in parsed.rows if row.item is None]
    outcomes: List[Tuple[ImportRow, Optional[BaseException]]] = []
    unsent: List[ImportRow] = []
    stop = StopFlag("stopping: waiting for the requests in flight (at most {:g} s); press "
                    "Ctrl+C again to quit at once".format(args.timeout))
    if valid:
        show = not args.no_progress and (args.progress or sys.stderr.isatty())
        with stop.installed(), progress_bar(len(parsed.rows), len(failures), show) as bar:
            with tie_session(args.config, args.timeout, args.connect_timeout) as tie_client:
                outcomes, unsent = send_rows(tie_client, valid, args, bar, stop.event)
    failures.extend((row, str(error)) for row, error in outcomes if error is not None)
    failures.extend((row, NOT_SENT) for row in unsent)
    failures.sort(key=lambda failure: failure[0].line)
    failed_path, written = _write_or_clean(args, parsed, failures)
    succeeded = len(parsed.rows) - len(failures)
    _print_summary(args, parsed, succeeded, len(failures) - len(unsent), len(unsent),
                   failed_path if written else None)
    if failures:
        _report_failures([failure for failure in failures if failure[1] != NOT_SENT],
                         failed_path)
    if stop.event.is_set():
        return EXIT_INTERRUPTED
    return _exit_code(failures, outcomes)


def _print_summary(args: argparse.Namespace, parsed: ImportFile, succeeded: int, failed: int,
                   unsent: int, failed_path: Optional[str]) -> None:
    if args.json or args.jsonl:
        say(json.dumps({"file": args.file, "rows": len(parsed.rows), "succeeded": succeeded,
                         "failed": failed, "notSent": unsent, "interrupted": unsent > 0,
                         "failedFile": failed_path}, indent=None if args.jsonl else 2))
        return
    say("imported: {} succeeded, {} failed{}".format(
        succeeded, failed, ", {} not sent (interrupted)".format(unsent) if unsent else ""))
    if failed_path:
        say("rows not applied written to {} (fix them and import that file again)".format(
            failed_path))


def _exit_code(failures: Sequence[Tuple[ImportRow, str]],
               outcomes: Sequence[Tuple[ImportRow, Optional[BaseException]]]) -> int:
    from .commands import items_exit_code

    sent_errors = [error for _, error in outcomes]
    if len(failures) > len([error for error in sent_errors if error is not None]):
        return EXIT_FAILED  # some rows were invalid
    return items_exit_code(sent_errors)
