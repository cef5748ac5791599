"""
The command line of ``dxltie``: the argument parser, and the parsing of trust level and file type
values (names of :class:`~dxltieclient.TrustLevel` / :class:`~dxltieclient.FileType` members,
case-insensitive, or their numbers).
"""

from __future__ import annotations

import argparse
from typing import Any, Callable, Optional

from .._wire import constant_values
from ..constants import FileType, TrustLevel
from .errors import EXIT_CODES_HELP

#: The environment variable naming the DXL client configuration file.
CONFIG_ENV = "DXLTIE_CONFIG"
#: The default response timeout, in seconds (the library's default).
DEFAULT_TIMEOUT = 30.0
#: The default time allowed to reach and connect to a broker, in seconds.
DEFAULT_CONNECT_TIMEOUT = 10.0

DESCRIPTION = """\
Query and set file and certificate reputations on a McAfee TIE server over OpenDXL, import
reputation lists in bulk, and print TIE events.

The DXL client configuration comes from --config, else ${env}, else ./dxlclient.config, else
the default local sandbox's configuration when that sandbox is running. Create one with
`python -m dxlclient provisionconfig ...`, or start a local sandbox with
`python -m dxltieclient.sandbox up`. Global options may come before or after the command.
Give - as a target to read targets from standard input, one per line (blank lines and lines
starting with # are skipped).""".replace("{env}", CONFIG_ENV)

#: The most first references TIE returns for one query.
MAX_QUERY_LIMIT = 5000


def parse_constant(constant: type, text: str) -> int:
    """
    Parses a member of a constants class given by name (case-insensitive, ``-`` for ``_``
    accepted) or by number.

    :param constant: :class:`~dxltieclient.TrustLevel` or :class:`~dxltieclient.FileType`
    :param text: the name or number
    :return: the member's value
    :raises ValueError: naming the valid members, when ``text`` is none of them
    """
    members = constant_values(constant)
    cleaned = str(text).strip()
    by_name = members.get(cleaned.upper().replace("-", "_"))
    if by_name is not None:
        return int(by_name)
    try:
        number = int(cleaned)
    except ValueError:
        number = None
    if number is not None and number in members.values():
        return number
    listing = ", ".join("{} ({})".format(name, value)
                        for name, value in sorted(members.items(), key=lambda item: -item[1]))
    raise ValueError("unknown {} {!r}: use one of {}".format(constant.__name__, text, listing))


def parse_trust_level(text: str) -> int:
    """
    Parses a trust level: a :class:`~dxltieclient.TrustLevel` name (e.g. ``known_malicious``) or
    number (e.g. ``1``).

    :param text: the name or number
    :return: the trust level
    :raises ValueError: for anything else
    """
    return parse_constant(TrustLevel, text)


def parse_file_type(text: str) -> int:
    """
    Parses a file type: a :class:`~dxltieclient.FileType` name (e.g. ``peexe``) or number.

    :param text: the name or number
    :return: the file type
    :raises ValueError: for anything else
    """
    return parse_constant(FileType, text)


def _argparse_type(parse: Callable[[str], int]) -> Callable[[str], int]:
    def convert(text: str) -> int:
        try:
            return parse(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
    convert.__name__ = parse.__name__
    return convert


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError("expected a positive number of seconds, got {!r}".format(
            text))
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError("expected a positive integer, got {!r}".format(text))
    return value


def _query_limit(text: str) -> int:
    value = _positive_int(text)
    if value > MAX_QUERY_LIMIT:
        raise argparse.ArgumentTypeError(
            "TIE returns at most {} systems: give a --limit from 1 to {}, got {}".format(
                MAX_QUERY_LIMIT, MAX_QUERY_LIMIT, value))
    return value


#: The global options' destinations, as parsed after a command (merged by :func:`merge_globals`).
_AFTER = "after_"


def _add_global_options(parser: argparse.ArgumentParser, after: bool) -> None:
    """
    Adds the global options: to the main parser with their defaults, or (``after``) to a
    command's parser, where they keep no default and land in ``after_*`` attributes.
    """
    prefix = _AFTER if after else ""

    def default(value: Any) -> Any:
        return argparse.SUPPRESS if after else value

    group = parser.add_argument_group("global options") if after else parser
    group.add_argument("--config", "-c", metavar="FILE", dest=prefix + "config",
                       default=default(None),
                       help="DXL client configuration file (default: ${}, then "
                            "./dxlclient.config, then the running default sandbox's)".format(
                                CONFIG_ENV))
    group.add_argument("--timeout", "-t", type=_positive_float, metavar="SECONDS",
                       dest=prefix + "timeout", default=default(DEFAULT_TIMEOUT),
                       help="seconds to wait for each TIE response (default: {:g})".format(
                           DEFAULT_TIMEOUT))
    group.add_argument("--connect-timeout", type=_positive_float, metavar="SECONDS",
                       dest=prefix + "connect_timeout", default=default(DEFAULT_CONNECT_TIMEOUT),
                       help="seconds allowed to reach and connect to a broker "
                            "(default: {:g})".format(DEFAULT_CONNECT_TIMEOUT))
    group.add_argument("--verbose", "-v", action="count", dest=prefix + "verbose",
                       default=default(0),
                       help="log more (-v: info, -vv: debug, dxlclient included)")
    group.add_argument("--json", action="store_true", dest=prefix + "json",
                       default=default(False),
                       help="print one JSON document (lookups: always a list of "
                            "{target, ok, result|error})")
    group.add_argument("--jsonl", action="store_true", dest=prefix + "jsonl",
                       default=default(False),
                       help="print one JSON object per line, as results arrive")


def merge_globals(args: argparse.Namespace) -> argparse.Namespace:
    """
    Applies the global options given after the command: they win over those given before it
    (``-v`` adds up).

    :param args: the parsed arguments
    :return: ``args``, updated
    """
    for name in ("config", "timeout", "connect_timeout", "json", "jsonl", "verbose"):
        after = _AFTER + name
        if hasattr(args, after):
            value = getattr(args, after)
            delattr(args, after)
            if name == "verbose":
                value += args.verbose
            elif name in ("json", "jsonl"):
                value = value or getattr(args, name)
            setattr(args, name, value)
    return args


def build_parser(prog: str = "dxltie") -> argparse.ArgumentParser:
    """
    Builds the argument parser of ``dxltie`` and its subcommands.

    :param prog: the program name shown in usage and error messages
    :return: the parser; :meth:`~argparse.ArgumentParser.parse_args` gives a namespace whose
        ``command`` attribute names the subcommand
    """
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(prog=prog, description=DESCRIPTION, epilog=EXIT_CODES_HELP,
                     formatter_class=formatter)
    _add_global_options(parser, after=False)
    parser.add_argument("--version", action="store_true",
                        help="print the versions of dxltieclient and dxlclient, and exit")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, help_text: str, description: Optional[str] = None
                ) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = commands.add_parser(
            name, help=help_text, description=description or help_text,
            epilog=EXIT_CODES_HELP, formatter_class=formatter)
        _add_global_options(sub, after=True)
        return sub

    rep = command("reputation", "look up file reputations",
                  "Look up the reputations of files (hashed locally: MD5, SHA-1, SHA-256) or "
                  "hashes (typed by length, or prefixed md5:/sha1:/sha256:; join several with "
                  "commas for one file); - reads targets from stdin. With --json, prints one "
                  "JSON array of {target, ok, path, hashes, result|error}: provider ids are "
                  "JSON object keys, hence strings.")
    rep.add_argument("targets", nargs="+", metavar="PATH|HASH|-")
    rep.add_argument("--attributes", "-a", action="store_true",
                     help="list every attribute of each reputation")

    cert = command("cert-reputation", "look up certificates' reputations",
                   "Look up the reputations of certificates by SHA-1; - reads SHA-1s from "
                   "stdin. With --json, prints one JSON array of {target, ok, sha1, "
                   "publicKeySha1, result|error}.")
    cert.add_argument("sha1s", nargs="+", metavar="SHA1|-",
                      help="the certificate's SHA-1 (40 hex digits)")
    cert.add_argument("--public-key-sha1", metavar="HEX",
                      help="the SHA-1 of the certificate's public key (one certificate only)")
    cert.add_argument("--attributes", "-a", action="store_true",
                      help="list every attribute of each reputation")

    limit_help = "the most systems to list per target (1 to {}; default: %(default)s)".format(
        MAX_QUERY_LIMIT)
    refs = command("references", "list the systems that first referenced files",
                   "List the systems that first referenced each file; - reads targets from "
                   "stdin. With --json, prints one JSON array of {target, ok, path, hashes, "
                   "result|error}.")
    refs.add_argument("targets", nargs="+", metavar="PATH|HASH|-")
    refs.add_argument("--limit", type=_query_limit, default=500, metavar="N", help=limit_help)

    crefs = command("cert-references", "list the systems that first referenced certificates",
                    "List the systems that first referenced each certificate (by SHA-1); - "
                    "reads SHA-1s from stdin.")
    crefs.add_argument("sha1s", nargs="+", metavar="SHA1|-")
    crefs.add_argument("--public-key-sha1", metavar="HEX",
                       help="the SHA-1 of the certificate's public key (one certificate only)")
    crefs.add_argument("--limit", type=_query_limit, default=500, metavar="N", help=limit_help)

    trust_help = ("the trust level: a TrustLevel name (case-insensitive, e.g. known_malicious) "
                  "or number (e.g. 1)")
    setrep = command("set-reputation", "set a file's enterprise (or external) reputation",
                     "Set a file's enterprise reputation (TIE confirms it), or with --external "
                     "send an external provider report as an event (TIE does not confirm "
                     "events, and ignores reports without a file name).")
    setrep.add_argument("target", metavar="PATH|HASH")
    setrep.add_argument("--trust", required=True, type=_argparse_type(parse_trust_level),
                        metavar="NAME|NUMBER", help=trust_help)
    setrep.add_argument("--external", action="store_true",
                        help="send an external provider report (set_external_file_reputation); "
                             "needs a file name: --filename, or a PATH target")
    setrep.add_argument("--file-type", type=_argparse_type(parse_file_type),
                        metavar="NAME|NUMBER",
                        help="with --external: a FileType name or number (default: NONE)")
    setrep.add_argument("--filename", metavar="NAME",
                        help="the file name to record (with --external, defaults to the file's "
                             "base name when a PATH is given)")
    setrep.add_argument("--comment", default="", metavar="TEXT", help="a comment")

    setcert = command("set-cert-reputation", "set a certificate's enterprise reputation")
    setcert.add_argument("sha1", metavar="SHA1", help="the certificate's SHA-1 (40 hex digits)")
    setcert.add_argument("--trust", required=True, type=_argparse_type(parse_trust_level),
                         metavar="NAME|NUMBER", help=trust_help)
    setcert.add_argument("--public-key-sha1", metavar="HEX",
                         help="the SHA-1 of the certificate's public key")
    setcert.add_argument("--comment", default="", metavar="TEXT", help="a comment")

    imp = command("import", "set many reputations from a CSV or JSON lines file",
                  "Set the reputations listed in FILE: CSV with a header row, or JSON lines, "
                  "with the keys md5, sha1, sha256 (at least one), trust (TrustLevel name or "
                  "number), and optionally filename, comment, file_type. Rows that fail, or "
                  "that were not sent because the import was interrupted, are written exactly "
                  "as read, with an 'error' column, to FILE's name + .failed.csv/.failed.jsonl "
                  "(or --failed-file); fix them and import that file again. A run without "
                  "failures removes the failed file.")
    imp.add_argument("file", metavar="FILE")
    imp.add_argument("--external", action="store_true",
                     help="send external provider reports instead of enterprise reputations")
    imp.add_argument("--format", choices=("csv", "jsonl"),
                     help="the file's format (default: from the extension, else the content)")
    imp.add_argument("--failed-file", metavar="PATH", help="where to write the failed rows")
    imp.add_argument("--dry-run", action="store_true",
                     help="only validate the file (no configuration or broker needed)")
    imp.add_argument("--progress", action="store_true",
                     help="show a progress bar on stderr even when it is not a terminal")
    imp.add_argument("--no-progress", action="store_true", help="never show a progress bar")
    imp.add_argument("--max-in-flight", type=_positive_int, default=64, metavar="N",
                     help="requests outstanding at once (default: %(default)s)")

    listen = command("listen", "print TIE events as JSON lines until interrupted",
                     "Print each TIE event as one JSON line {\"topic\", \"type\", \"event\"} on "
                     "stdout until interrupted (Ctrl+C or SIGTERM: exit 0). Without options, "
                     "listens to every kind.")
    listen.add_argument("--reputation-changes", action="store_true",
                        help="file and certificate reputation changes")
    listen.add_argument("--detections", action="store_true", help="detections")
    listen.add_argument("--first-instances", action="store_true", help="first instances")
    listen.add_argument("--count", type=_positive_int, metavar="N",
                        help="exit after N events")
    return parser
