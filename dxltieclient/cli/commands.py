"""
The subcommands of ``dxltie``: each takes the parsed arguments, does its work over a
:class:`~dxltieclient.TieClient`, prints its output, and returns the exit code.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from typing import Any, Callable, Dict, Iterator, List, NamedTuple, Optional, Sequence

from .._errors import InvalidHashError, TieError, TieServiceNotFoundError, TieTimeoutError
from .._wire import check_sha1
from ..constants import FileType
from . import importrun, inputs, listen, output
from .connection import dxl_session, tie_session
from .errors import (
    EXIT_FAILED,
    EXIT_NO_SERVICE,
    EXIT_OK,
    EXIT_TIMEOUT,
    EXIT_USAGE,
    CliError,
)
from .hashing import Target, resolve_target
from .output import say, warn


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


def _session(args: argparse.Namespace) -> Any:
    return tie_session(args.config, args.timeout, args.connect_timeout)


def _file_title(target: Target) -> str:
    return "File: {}".format(target.path if target.path is not None else target.argument)


#: Files looked up per bulk call by ``reputation`` (results are printed after each).
LOOKUP_CHUNK = 100


class Lookup(NamedTuple):
    """
    One target of a lookup command.

    :param label: names the target in messages (the argument, or ``stdin:LINE``)
    :param record: the target's JSON members (``target`` first), without ``ok``/``result``
    :param title: the first line of its text block
    :param hashes: hash type (or label) to hex, listed under the title
    :param call: does the lookup on a TIE client
    """

    label: str
    record: Dict[str, Any]
    title: str
    hashes: Dict[str, str]
    call: Callable[[Any], Any]


class ResultWriter:
    """
    Prints the results of a lookup command: text blocks, one JSON array (``--json``: always a
    list of ``{target, ok, ..., result|error}``, whatever the number of targets and failures),
    or JSON lines (``--jsonl``) as results arrive.

    :param args: the parsed arguments (``json``, ``jsonl``)
    :param text_block: formats a successful result: ``(lookup, value) -> text``
    """

    def __init__(self, args: argparse.Namespace,
                 text_block: Callable[[Lookup, Any], str]) -> None:
        self._jsonl = bool(args.jsonl)
        self._json = bool(args.json) and not self._jsonl
        self._text_block = text_block
        self._records: List[Dict[str, Any]] = []
        self._blocks = 0
        #: One entry per target written: ``None`` or the error.
        self.errors: List[Optional[BaseException]] = []

    def add(self, lookup: Lookup, value: Any, error: Optional[BaseException]) -> None:
        """
        Writes (or keeps, for ``--json``) one target's outcome.

        :param lookup: the target
        :param value: the result (when ``error`` is ``None``)
        :param error: the error, else ``None``
        """
        self.errors.append(error)
        record = {"target": lookup.record.get("target"), "ok": error is None}
        record.update(lookup.record)
        if error is None:
            record["result"] = value
        else:
            record["error"] = str(error)
            warn("error: {}: {}".format(lookup.label, error))
        if self._jsonl:
            say(json.dumps(record, default=str))
        elif self._json:
            self._records.append(record)
        else:
            block = (self._text_block(lookup, value) if error is None
                     else "{}\n  error: {}".format(lookup.title, error))
            say(("\n" if self._blocks else "") + block)
            self._blocks += 1

    def finish(self) -> int:
        """
        Prints the JSON array (``--json``).

        :return: the exit code (:func:`items_exit_code`)
        """
        if self._json:
            say(output.to_json(self._records))
        return items_exit_code(self.errors)


def run_each(tie_client: Any, lookups: Sequence[Lookup], writer: ResultWriter) -> None:
    """
    Runs lookups one after the other. After an error of the fabric (no TIE service, timeout),
    the remaining targets are not sent and get the same error.

    :param tie_client: the TIE client
    :param lookups: the targets
    :param writer: where the outcomes go
    """
    fatal: Optional[BaseException] = None
    for lookup in lookups:
        if fatal is not None:
            writer.add(lookup, None, fatal)
            continue
        error: Optional[BaseException] = None
        try:
            value = lookup.call(tie_client)
        except (TieServiceNotFoundError, TieTimeoutError) as failure:
            value, error, fatal = None, failure, failure
        except TieError as failure:
            value, error = None, failure
        writer.add(lookup, value, error)


def _file_lookups(args: argparse.Namespace,
                  call: Callable[[Target], Callable[[Any], Any]]) -> List[Lookup]:
    lookups = []
    for label, argument in inputs.expand(args.targets):
        try:
            target = resolve_target(argument)
        except CliError as error:
            raise CliError("{}{}".format("" if label == argument else label + ": ", error),
                           error.exit_code) from None
        lookups.append(Lookup(label, {"target": argument, "path": target.path,
                                      "hashes": target.hashes},
                              _file_title(target), target.hashes, call(target)))
    return lookups


def _cert_lookups(args: argparse.Namespace,
                  call: Callable[[str, Optional[str]], Callable[[Any], Any]]) -> List[Lookup]:
    sha1s = inputs.expand(args.sha1s)
    public_key_sha1 = _check_sha1(args.public_key_sha1, "--public-key-sha1")
    if public_key_sha1 and len(sha1s) > 1:
        raise CliError("--public-key-sha1 applies to one certificate only; {} given".format(
            len(sha1s)), EXIT_USAGE)
    lookups = []
    for label, argument in sha1s:
        sha1 = _check_sha1(argument, "SHA1" if label == argument else label)
        assert sha1 is not None
        hashes = {"sha1": sha1}
        if public_key_sha1:
            hashes["public key sha1"] = public_key_sha1
        lookups.append(Lookup(label, {"target": argument, "sha1": sha1,
                                      "publicKeySha1": public_key_sha1},
                              "Certificate: {}".format(sha1), hashes,
                              call(sha1, public_key_sha1)))
    return lookups


def _run_bulk_reputations(tie_client: Any, lookups: Sequence[Lookup], writer: ResultWriter,
                          timeout: float) -> None:
    if len(lookups) == 1:
        run_each(tie_client, lookups, writer)
        return
    for start in range(0, len(lookups), LOOKUP_CHUNK):
        chunk = lookups[start:start + LOOKUP_CHUNK]
        results = tie_client.get_file_reputations([lookup.hashes for lookup in chunk],
                                                   timeout=timeout)
        for lookup, result in zip(chunk, results):
            writer.add(lookup, result.value, result.error)


def cmd_reputation(args: argparse.Namespace) -> int:
    """
    ``dxltie reputation PATH|HASH|-...``: looks up file reputations (the bulk call for
    several).

    :param args: the parsed arguments
    :return: the exit code
    """
    lookups = _file_lookups(args, lambda target: lambda tie: tie.get_file_reputation(
        target.hashes))
    writer = ResultWriter(args, lambda lookup, value: output.format_reputations(
        lookup.title, lookup.hashes, value or {}, "file", args.attributes))
    with _session(args) as tie_client:
        _run_bulk_reputations(tie_client, lookups, writer, args.timeout)
    return writer.finish()


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
    ``dxltie cert-reputation SHA1|-... [--public-key-sha1 HEX]``: looks up certificates'
    reputations.

    :param args: the parsed arguments
    :return: the exit code
    """
    lookups = _cert_lookups(args, lambda sha1, key: lambda tie: tie.get_certificate_reputation(
        sha1, key))
    writer = ResultWriter(args, lambda lookup, value: output.format_reputations(
        lookup.title, lookup.hashes, value or {}, "cert", args.attributes))
    with _session(args) as tie_client:
        run_each(tie_client, lookups, writer)
    return writer.finish()


def cmd_references(args: argparse.Namespace) -> int:
    """
    ``dxltie references PATH|HASH|-... [--limit N]``: lists the systems that first referenced
    files.

    :param args: the parsed arguments
    :return: the exit code
    """
    lookups = _file_lookups(args, lambda target: lambda tie: tie.get_file_first_references(
        target.hashes, query_limit=args.limit))
    writer = ResultWriter(args, lambda lookup, value: output.format_references(
        lookup.title, value))
    with _session(args) as tie_client:
        run_each(tie_client, lookups, writer)
    return writer.finish()


def cmd_cert_references(args: argparse.Namespace) -> int:
    """
    ``dxltie cert-references SHA1|-... [--limit N]``: lists the systems that first referenced
    certificates.

    :param args: the parsed arguments
    :return: the exit code
    """
    lookups = _cert_lookups(args, lambda sha1, key: lambda tie: (
        tie.get_certificate_first_references(sha1, key, query_limit=args.limit)))
    writer = ResultWriter(args, lambda lookup, value: output.format_references(
        lookup.title, value))
    with _session(args) as tie_client:
        run_each(tie_client, lookups, writer)
    return writer.finish()


def _describe_hashes(hashes: Dict[str, str]) -> str:
    return ", ".join("{} {}".format(hash_type, value) for hash_type, value in hashes.items())


def _summary(args: argparse.Namespace, summary: Dict[str, Any], text: str) -> None:
    if args.json or args.jsonl:
        say(json.dumps(summary, default=str, indent=None if args.jsonl else 2))
    else:
        say(text)


@contextlib.contextmanager
def _json_failure(args: argparse.Namespace, summary: Dict[str, Any]) -> Iterator[None]:
    """With ``--json``/``--jsonl``, prints the summary with ``ok: false`` and the error when TIE
    refuses or does not answer, so that the output keeps its shape; the error then propagates
    (exit code and message on stderr)."""
    try:
        yield
    except TieError as error:
        if args.json or args.jsonl:
            failed = dict(summary, ok=False, confirmed=False, error=str(error))
            say(json.dumps(failed, default=str, indent=None if args.jsonl else 2))
        raise


#: What ``set-reputation --external`` says when no file name is known.
EXTERNAL_NEEDS_FILENAME = (
    "--external needs a file name: TIE ignores external reports without one. Give --filename "
    "NAME, or a file PATH (its base name is used)")


def cmd_set_reputation(args: argparse.Namespace) -> int:
    """
    ``dxltie set-reputation --trust NAME|NUMBER PATH|HASH``: sets a file's enterprise
    reputation, or with ``--external`` sends an external provider report (an event).

    :param args: the parsed arguments
    :return: the exit code
    """
    if args.file_type is not None and not args.external:
        raise CliError("--file-type applies to --external reports only", EXIT_USAGE)
    target = resolve_target(args.target)
    filename = args.filename
    if args.external and filename is None and target.path is not None:
        filename = os.path.basename(target.path)
    if args.external and not filename:
        raise CliError(EXTERNAL_NEEDS_FILENAME, EXIT_USAGE)
    file_type = args.file_type if args.file_type is not None else FileType.NONE
    summary = {"target": args.target, "ok": True, "path": target.path, "hashes": target.hashes,
               "trustLevel": args.trust, "external": bool(args.external),
               "fileType": file_type if args.external else None, "filename": filename or "",
               "comment": args.comment, "confirmed": not args.external}
    with _json_failure(args, summary), _session(args) as tie_client:
        if args.external:
            tie_client.set_external_file_reputation(args.trust, target.hashes, file_type,
                                                    filename, args.comment)
        else:
            tie_client.set_file_reputation(args.trust, target.hashes, filename or "",
                                           args.comment)
    what = _file_title(target)[6:]
    comment = ", comment {!r}".format(args.comment) if args.comment else ""
    if args.external:
        text = ("sent an external report for {} ({}) as a DXL event: trust {}, file type {}, "
                "filename {!r}{}. TIE does not answer events, so delivery is not confirmed: "
                "check with `dxltie reputation` (provider External, 15)".format(
                    what, _describe_hashes(target.hashes), output.trust_level_name(args.trust),
                    output.describe_file_type(file_type), filename, comment))
    else:
        text = "set the enterprise reputation of {} ({}) to {}{}{}".format(
            what, _describe_hashes(target.hashes), output.trust_level_name(args.trust),
            ", filename {!r}".format(filename) if filename else "", comment)
    _summary(args, summary, text)
    return EXIT_OK


def cmd_set_cert_reputation(args: argparse.Namespace) -> int:
    """
    ``dxltie set-cert-reputation --trust NAME|NUMBER SHA1``: sets a certificate's enterprise
    reputation.

    :param args: the parsed arguments
    :return: the exit code
    """
    sha1 = _check_sha1(args.sha1, "SHA1")
    public_key_sha1 = _check_sha1(args.public_key_sha1, "--public-key-sha1")
    summary = {"target": args.sha1, "ok": True, "sha1": sha1, "publicKeySha1": public_key_sha1,
               "trustLevel": args.trust, "comment": args.comment, "confirmed": True}
    with _json_failure(args, summary), _session(args) as tie_client:
        tie_client.set_certificate_reputation(args.trust, sha1, public_key_sha1, args.comment)
    text = "set the enterprise reputation of certificate {}{} to {}{}".format(
        sha1, " (public key sha1 {})".format(public_key_sha1) if public_key_sha1 else "",
        output.trust_level_name(args.trust),
        ", comment {!r}".format(args.comment) if args.comment else "")
    _summary(args, summary, text)
    return EXIT_OK


def cmd_import(args: argparse.Namespace) -> int:
    """
    ``dxltie import FILE``: sets the reputations a CSV or JSON lines file lists (see
    :mod:`dxltieclient.cli.importrun`).

    :param args: the parsed arguments
    :return: the exit code
    """
    return importrun.run_import(args)


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
    with dxl_session(args.config, args.timeout, args.connect_timeout) as (dxl_client,
                                                                          tie_client):
        watch = listen.ConnectionWatch(lambda: bool(dxl_client.connected), warn)
        listen.listen(tie_client, kinds, printer,
                      ready=lambda: warn("listening for {} events (Ctrl+C to stop)".format(
                          ", ".join(kinds))), watch=watch)
    warn("stopped after {} event(s)".format(printer.count))
    return EXIT_OK


#: The function of each subcommand.
COMMANDS: Dict[str, Callable[[argparse.Namespace], int]] = {
    "reputation": cmd_reputation,
    "cert-reputation": cmd_cert_reputation,
    "references": cmd_references,
    "cert-references": cmd_cert_references,
    "set-reputation": cmd_set_reputation,
    "set-cert-reputation": cmd_set_cert_reputation,
    "import": cmd_import,
    "listen": cmd_listen,
}
