"""
``dxltie``: the command line of dxltieclient (also ``python -m dxltieclient``).

Commands::

    dxltie reputation PATH|HASH|-... [-a]               file reputations (bulk call for several)
    dxltie cert-reputation SHA1|-... [--public-key-sha1 HEX] [-a]
    dxltie references PATH|HASH|-... [--limit N]        systems that first referenced files
    dxltie cert-references SHA1|-... [--public-key-sha1 HEX] [--limit N]
    dxltie set-reputation --trust NAME|NUMBER PATH|HASH [--external] [--file-type NAME|NUMBER]
                          [--filename NAME] [--comment TEXT]
    dxltie set-cert-reputation --trust NAME|NUMBER SHA1 [--public-key-sha1 HEX] [--comment TEXT]
    dxltie import FILE [--external] [--format csv|jsonl] [--failed-file PATH] [--dry-run]
                  [--progress|--no-progress] [--max-in-flight N]
    dxltie listen [--reputation-changes] [--detections] [--first-instances] [--count N]

Global options, before or after the command: ``--config FILE`` (else ``$DXLTIE_CONFIG``, else
``./dxlclient.config``, else the running default sandbox's configuration), ``--timeout SECONDS``
(each TIE response, default 30), ``--connect-timeout SECONDS`` (default 10), ``-v``/``-vv``,
``--json`` and ``--jsonl``.

A ``PATH`` is hashed locally (MD5, SHA-1, SHA-256); a ``HASH`` is typed by its length (32, 40 or 64
hexadecimal digits) or by a ``md5:``/``sha1:``/``sha256:`` prefix, and several joined by commas
name one file; ``-`` reads targets from standard input, one per line. With ``--json``, lookups
print one JSON array of ``{"target", "ok", ..., "result"}`` or ``{..., "error"}`` objects whatever
the number of targets and failures; ``--jsonl`` prints the same objects one per line as they come.
Provider ids are JSON object keys there, hence strings (``"1"``, ``"3"``).

Exit codes: see :mod:`dxltieclient.cli.errors` (0 success, 1 some items failed, 2 usage error or
bad input, 3 no or unreadable configuration, 4 broker unreachable or TLS failure, 5 no TIE service,
6 timeout, 130 interrupted).
"""

from __future__ import annotations

import contextlib
import logging
import sys
from typing import Iterator, List, Optional, Sequence

from dxlclient.exceptions import DxlException

from .. import get_version
from .._errors import (
    TieError,
    TieInputError,
    TieServiceError,
    TieServiceNotFoundError,
    TieTimeoutError,
)
from .args import build_parser, merge_globals
from .commands import COMMANDS
from .errors import (
    EXIT_BROKER,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_NO_SERVICE,
    EXIT_OK,
    EXIT_TIMEOUT,
    EXIT_USAGE,
    CliError,
)

__all__ = ["main", "CliError"]

_LOGGERS = ("dxltieclient", "dxlclient", "dxlbootstrap")


@contextlib.contextmanager
def _logging_to_stderr(verbosity: int) -> Iterator[None]:
    """Routes the library's and dxlclient's logs to stderr for the command's duration."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("dxltie: %(levelname)s: %(name)s: %(message)s"))
    levels = {"dxltieclient": [logging.WARNING, logging.INFO, logging.DEBUG],
              "dxlclient": [logging.CRITICAL, logging.WARNING, logging.DEBUG],
              "dxlbootstrap": [logging.CRITICAL, logging.WARNING, logging.DEBUG]}
    saved = []
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        saved.append((logger, logger.level, logger.propagate))
        logger.setLevel(levels[name][min(verbosity, 2)])
        logger.propagate = False
        logger.addHandler(handler)
    try:
        yield
    finally:
        for logger, level, propagate in saved:
            logger.removeHandler(handler)
            logger.setLevel(level)
            logger.propagate = propagate


def _error(message: str) -> None:
    sys.stderr.write("dxltie: error: {}\n".format(message))
    sys.stderr.flush()


def _run(command: str, args: object) -> int:
    try:
        return COMMANDS[command](args)  # type: ignore[arg-type]
    except CliError as error:
        _error(str(error))
        return error.exit_code
    except TieServiceNotFoundError as error:
        _error(str(error))
        return EXIT_NO_SERVICE
    except TieTimeoutError as error:
        _error("{} (raise --timeout to wait longer)".format(error))
        return EXIT_TIMEOUT
    except TieInputError as error:
        _error(str(error))
        return EXIT_USAGE
    except (TieServiceError, TieError) as error:
        _error(str(error))
        return EXIT_FAILED
    except DxlException as error:
        _error("DXL fabric error: {}".format(error))
        return EXIT_BROKER
    except KeyboardInterrupt:
        _error("interrupted")
        return EXIT_INTERRUPTED


def dxlclient_version() -> str:
    """
    :return: the installed dxlclient's version (``unknown`` when it cannot be told)
    """
    try:
        from importlib.metadata import version

        return version("dxlclient")
    except Exception:  # noqa: BLE001  (any metadata problem: say unknown)
        import dxlclient

        return str(getattr(dxlclient, "__version__", "unknown"))


def version_text() -> str:
    """
    :return: what ``dxltie --version`` prints: this package's version
        (:func:`dxltieclient.get_version`) and dxlclient's
    """
    return "dxltie (dxltieclient) {} with dxlclient {}".format(get_version(), dxlclient_version())


def main(argv: Optional[Sequence[str]] = None) -> int:
    """
    Runs the ``dxltie`` command line.

    :param argv: the arguments, without the program name (default: ``sys.argv[1:]``)
    :return: the exit code (see the module docstring); errors are printed on stderr, without a
        traceback for expected ones
    """
    parser = build_parser()
    arguments: List[str] = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parser.parse_args(arguments)
    except SystemExit as exit_request:  # --help, or a usage error (already printed)
        code = exit_request.code
        return code if isinstance(code, int) else (EXIT_OK if code is None else EXIT_USAGE)
    merge_globals(args)
    if args.version:
        sys.stdout.write(version_text() + "\n")
        return EXIT_OK
    if not args.command:
        parser.print_usage(sys.stderr)
        _error("a command is required: {}".format(", ".join(COMMANDS)))
        return EXIT_USAGE
    with _logging_to_stderr(args.verbose):
        return _run(args.command, args)
