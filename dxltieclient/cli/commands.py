"""
The subcommands of ``dxltie``: each takes the parsed arguments, does its work over a
:class:`~dxltieclient.TieClient`, prints its output, and returns the exit code.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Callable, Dict, List, Optional, Sequence

from .._errors import InvalidHashError, TieError, TieServiceNotFoundError, TieTimeoutError
from .._wire import check_sha1
from ..constants import FileType
from . import importfile, listen, output
from .connection import tie_session
from .errors import (
    EXIT_FAILED,
    EXIT_NO_SERVICE,
    EXIT_OK,
    EXIT_TIMEOUT,
    EXIT_USAGE,
    CliError,
)
from .hashing import Target, resolve_target


def error_exit_code(error: BaseException) -> int:
    """
    The exit code for an item's error: 5 when no TIE service answered, 6 for a timeout, else 1.

    :param error: the exception
    :return: the exit code
    """
    if isinstance(error, TieServiceNotFoundError):
        return EXIT_NO_SERVICE
    if isinstance(error, TieTimeoutError):
        return EXIT_TIMEOUT
    return EXIT_FAILED


def items_exit_code(errors: Sequence[Optional[BaseException]]) -> int:
    """
    The exit code of a command over several items: 0 when none failed; 5 or 6 when every item
    failed for that same reason (the fabric, not the items, is at fault); else 1.

    :param errors: one entry per item sent (``None`` for a success)
    :return: the exit code
    """
    failed = [error for error in errors if error is not None]
    if not failed:
        return EXIT_OK
    codes = {error_exit_code(error) for error in failed}
    if len(failed) == len(errors) and len(codes) == 1:
        return codes.pop()
    return EXIT_FAILED


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _warn(text: str) -> None:
    sys.stderr.write("dxltie: " + text + "\n")
    sys.stderr.flush()


def _session(args: argparse.Namespace) -> Any:
    return tie_session(args.config, args.timeout, args.connect_timeout)


def _file_title(target: Target) -> str:
    return "File: {}".format(target.path if target.path is not None else target.argument)


def cmd_reputation(args: argparse.Namespace) -> int:
    """
    ``dxltie reputation PATH|HASH...``: looks up file reputations (the bulk call for several).

    :param args: the parsed arguments
    :return: the exit code
    """
    targets = [resolve_target(argument) for argument in args.targets]
    with _session(args) as tie_client:
        if len(targets) == 1:
            try:
                values: List[Any] = [tie_client.get_file_reputation(targets[0].hashes)]
                errors: List[Optional[BaseException]] = [None]
            except (TieServiceNotFoundError, TieTimeoutError):
                raise
            except TieError as error:
                values, errors = [None], [error]
        else:
            results = tie_client.get_file_reputations([target.hashes for target in targets],
                                                      timeout=args.timeout)
            values = [result.value for result in results]
            errors = [result.error for result in results]
    if args.json:
        _say(output.to_json([
            {"target": target.argument, "path": target.path, "hashes": target.hashes,
             "reputations": value if failure is None else None,
             "error": None if failure is None else str(failure)}
            for target, value, failure in zip(targets, values, errors)]))
    else:
        blocks = []
        for target, value, failure in zip(targets, values, errors):
            if failure is None:
                blocks.append(output.format_reputations(_file_title(target), target.hashes,
                                                        value or {}, "file", args.attributes))
            else:
                blocks.append("{}\n  error: {}".format(_file_title(target), failure))
        _say("\n\n".join(blocks))
    for target, failure in zip(targets, errors):
        if failure is not None:
            _warn("error: {}: {}".format(target.argument, failure))
    return items_exit_code(errors)


def _check_sha1(value: Optional[str], name: str) -> Optional[str]:
    if value is None:
        return None
    try:
        check_sha1(value, name)
    except InvalidHashError as error:
        raise CliError(str(error), EXIT_USAGE) from None
    return value.lower()


def cmd_cert_reputation(args: argparse.Namespace) -> int:
    """
    ``dxltie cert-reputation SHA1 [--public-key-sha1 HEX]``: looks up a certificate's
    reputations.

    :param args: the parsed arguments
    :return: the exit code
    """
    sha1 = _check_sha1(args.sha1, "SHA1")
    public_key_sha1 = _check_sha1(args.public_key_sha1, "--public-key-sha1")
    with _session(args) as tie_client:
        reputations = tie_client.get_certificate_reputation(sha1, public_key_sha1)
    if args.json:
        _say(output.to_json({"sha1": sha1, "publicKeySha1": public_key_sha1,
                             "reputations": reputations}))
    else:
        hashes = {"sha1": sha1}
        if public_key_sha1:
            hashes["public key sha1"] = public_key_sha1
        _say(output.format_reputations("Certificate: {}".format(sha1), hashes, reputations,
                                       "cert", args.attributes))
    return EXIT_OK


def cmd_references(args: argparse.Namespace) -> int:
    """
    ``dxltie references PATH|HASH [--limit N]``: lists the systems that first referenced a file.

    :param args: the parsed arguments
    :return: the exit code
    """
    target = resolve_target(args.target)
    with _session(args) as tie_client:
        agents = tie_client.get_file_first_references(target.hashes, query_limit=args.limit)
    if args.json:
        _say(output.to_json({"target": target.argument, "path": target.path,
                             "hashes": target.hashes, "agents": agents}))
    else:
        _say(output.format_references(_file_title(target), agents))
    return EXIT_OK


def _describe_hashes(hashes: Dict[str, str]) -> str:
    return ", ".join("{} {}".format(hash_type, value) for hash_type, value in hashes.items())


def cmd_set_reputation(args: argparse.Namespace) -> int:
    """
    ``dxltie set-reputation --trust NAME|NUMBER PATH|HASH``: sets a file's enterprise
    reputation, or with ``--external`` sends an external provider report.

    :param args: the parsed arguments
    :return: the exit code
    """
    if args.file_type is not None and not args.external:
        raise CliError("--file-type applies to --external reports only", EXIT_USAGE)
    target = resolve_target(args.target)
    filename = args.filename
    trust = output.trust_level_name(args.trust)
    with _session(args) as tie_client:
        if args.external:
            if filename is None and target.path is not None:
                filename = os.path.basename(target.path)
            file_type = args.file_type if args.file_type is not None else FileType.NONE
            tie_client.set_external_file_reputation(args.trust, target.hashes, file_type,
                                                    filename or "", args.comment)
        else:
            tie_client.set_file_reputation(args.trust, target.hashes, filename or "",
                                           args.comment)
    if args.external:
        _say("sent an external report for {} ({}): trust {}, file type {}, filename {!r}{}"
             .format(_file_title(target)[6:], _describe_hashes(target.hashes), trust,
                     output.describe_file_type(file_type), filename or "",
                     ", comment {!r}".format(args.comment) if args.comment else ""))
    else:
        _say("set the enterprise reputation of {} ({}) to {}{}{}".format(
            _file_title(target)[6:], _describe_hashes(target.hashes), trust,
            ", filename {!r}".format(filename) if filename else "",
            ", comment {!r}".format(args.comment) if args.comment else ""))
    return EXIT_OK


def cmd_import(args: argparse.Namespace) -> int:
    """
    ``dxltie import FILE``: sets the reputations a CSV or JSON lines file lists (bulk call), and
    writes the failed rows, with their error, to a file that can be imported again.

    :param args: the parsed arguments
    :return: the exit code
    """
    parsed = importfile.read_import_file(args.file, args.format, args.external)
    ignored = importfile.unknown_columns(parsed)
    if ignored:
        _warn("warning: {}: ignoring the column(s) {}".format(args.file, ", ".join(ignored)))
    valid = [row for row in parsed.rows if row.item is not None]
    failures = [(row, row.error or "invalid row") for row in parsed.rows if row.item is None]
    sent_errors: List[Optional[BaseException]] = []
    if valid:
        show = args.progress or sys.stderr.isatty()
        bar = output.ProgressBar(sys.stderr) if show else None
        try:
            with _session(args) as tie_client:
                items = [row.item for row in valid]
                if args.external:
                    results = tie_client.set_external_file_reputations(items, progress=bar)
                else:
                    results = tie_client.set_file_reputations(
                        items, max_in_flight=args.max_in_flight, timeout=args.timeout,
                        progress=bar)
        finally:
            if bar is not None:
                bar.close()
        for row, result in zip(valid, results):
            sent_errors.append(result.error)
            if result.error is not None:
                failures.append((row, str(result.error)))
    failures.sort(key=lambda failure: failure[0].line)
    succeeded = len(parsed.rows) - len(failures)
    _say("imported: {} succeeded, {} failed".format(succeeded, len(failures)))
    if failures:
        failed_path = args.failed_file or importfile.default_failed_path(args.file,
                                                                         parsed.format)
        try:
            importfile.write_failed(failed_path, parsed, failures)
        except OSError as error:
            raise CliError("cannot write the failed rows to {}: {}".format(
                failed_path, error.strerror or error), EXIT_FAILED) from None
        _say("failed rows written to {} (fix them and import that file again)".format(
            failed_path))
        for row, error_text in failures[:10]:
            _warn("line {}: {}".format(row.line, error_text))
        if len(failures) > 10:
            _warn("... and {} more in {}".format(len(failures) - 10, failed_path))
    if len(failures) > len([error for error in sent_errors if error is not None]):
        return EXIT_FAILED  # some rows were invalid
    return items_exit_code(sent_errors)


def cmd_listen(args: argparse.Namespace) -> int:
    """
    ``dxltie listen``: prints TIE events as JSON lines until SIGINT/SIGTERM (exit 0).

    :param args: the parsed arguments
    :return: the exit code
    """
    kinds = [kind for kind, wanted in ((listen.REPUTATION_CHANGE, args.reputation_changes),
                                       (listen.DETECTION, args.detections),
                                       (listen.FIRST_INSTANCE, args.first_instances)) if wanted]
    kinds = kinds or [listen.REPUTATION_CHANGE, listen.DETECTION, listen.FIRST_INSTANCE]
    printer = listen.EventPrinter(sys.stdout, args.count)
    with _session(args) as tie_client:
        listen.listen(tie_client, kinds, printer,
                      ready=lambda: _warn("listening for {} events (Ctrl+C to stop)".format(
                          ", ".join(kinds))))
    _warn("stopped after {} event(s)".format(printer.count))
    return EXIT_OK


#: The function of each subcommand.
COMMANDS: Dict[str, Callable[[argparse.Namespace], int]] = {
    "reputation": cmd_reputation,
    "cert-reputation": cmd_cert_reputation,
    "references": cmd_references,
    "set-reputation": cmd_set_reputation,
    "import": cmd_import,
    "listen": cmd_listen,
}
