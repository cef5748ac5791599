"""
The sandbox's command line: ``python -m dxltieclient.sandbox COMMAND`` (or ``dxltie-sandbox
COMMAND``).

Commands: ``up``, ``down``, ``status``, ``provision``, ``emit``, ``serve``, ``run`` (the table
:data:`COMMANDS`; a command is one row: its arguments and its function). Exit codes: 0 success, 1
failure (the message says what to do), 2 usage error, 3 ``status``: not running (or not a
sandbox), 4 ``status``: running but a process does not answer its health probe, 130
interrupted.

Only ``up``'s configuration path, ``provision``'s configuration path and ``status``' report go to
stdout (``CONFIG=$(python -m dxltieclient.sandbox up)`` works); progress and errors go to stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import logging.handlers
import math
import os
import signal
import sys
import threading
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence

from ._process import LOG_MAX_BYTES
from .authz import valid_group_names
from .tie import show

_logger = logging.getLogger(__name__)

#: The broker port ``up`` and ``run`` use when ``--port`` is not given and none is saved.
DEFAULT_PORT = 8883

_EXIT_OK = 0
_EXIT_FAILURE = 1
_EXIT_USAGE = 2
_EXIT_NOT_RUNNING = 3
_EXIT_UNHEALTHY = 4
_EXIT_INTERRUPTED = 130


def _add_dir(parser: argparse.ArgumentParser) -> None:
    from .sandbox import default_directory

    parser.add_argument(
        "--dir",
        default=default_directory(),
        help="the sandbox directory (default: $DXLTIE_SANDBOX_DIR or ~/.dxltieclient/sandbox; "
        "now %(default)s)",
    )


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError("not a port number: {!r}".format(value[:20]))
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError("port must be 1-65535, not {}".format(port))
    return port


def _delay(value: str) -> float:
    try:
        delay = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError("not a number of milliseconds: {!r}".format(value[:20]))
    if not math.isfinite(delay) or delay < 0:
        raise argparse.ArgumentTypeError("the delay must be a number >= 0, not {}".format(
            value[:20]))
    return delay


def _sandbox_options(parser: argparse.ArgumentParser) -> None:
    """The options of ``up`` and ``run``."""
    _add_dir(parser)
    parser.add_argument("--port", type=_port, default=None,
                        help="broker port on 127.0.0.1 (default: the saved one, else {})".format(
                            DEFAULT_PORT))
    parser.add_argument("--fabric-only", action="store_true",
                        help="no TIE emulator: only the DXL fabric (for your own mock services)")
    parser.add_argument("--delay-ms", type=_delay, default=0.0,
                        help="emulated TIE server delay before each reply, in ms (default 0)")
    parser.add_argument("--open", dest="open_acl", action="store_true",
                        help="let every client publish and subscribe to every topic (the "
                        "behaviour of earlier versions) instead of DXL-like topic authorization")


def _status_arguments(parser: argparse.ArgumentParser) -> None:
    _add_dir(parser)
    parser.add_argument("--json", action="store_true", help="print JSON")


def _provision_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="the client name (its certificate's CN)")
    _add_dir(parser)
    parser.add_argument(
        "--deny", nargs="+", default=[], metavar="GROUP",
        help="TIE authorization groups the client is NOT a member of: {}".format(
            ", ".join(repr(g) for g in valid_group_names())))


def _emit_arguments(parser: argparse.ArgumentParser) -> None:
    from .sandbox import (
        DEFAULT_AGENT_GUID,
        DEFAULT_FILE_NAME,
        DEFAULT_LOCAL_REPUTATION,
        DEFAULT_REMEDIATION_ACTION,
    )

    parser.add_argument("kind", choices=["detection", "first-instance"], help="the event")
    _add_dir(parser)
    parser.add_argument("--md5", help="the file's MD5 (hex)")
    parser.add_argument("--sha1", help="the file's SHA-1 (hex)")
    parser.add_argument("--sha256", help="the file's SHA-256 (hex)")
    parser.add_argument("--agent-guid", default=DEFAULT_AGENT_GUID,
                        help="the endpoint's agent GUID (default %(default)s)")
    parser.add_argument("--name", default=DEFAULT_FILE_NAME,
                        help="the file name (default %(default)s)")
    parser.add_argument("--local-reputation", type=int, default=DEFAULT_LOCAL_REPUTATION,
                        help="detection: the endpoint's reputation (default %(default)s, known "
                        "malicious)")
    parser.add_argument("--remediation-action", type=int, default=DEFAULT_REMEDIATION_ACTION,
                        help="detection: the action taken (default %(default)s, delete)")
    parser.add_argument("--detection-time", type=int, default=None,
                        help="detection: epoch seconds (default now)")


def _serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="the emulator's dxlclient.config")
    parser.add_argument("--store", default=None,
                        help="the SQLite store (default: tie.sqlite beside the config)")
    parser.add_argument("--delay-ms", type=_delay, default=0.0,
                        help="delay before each reply, in ms (default 0)")
    parser.add_argument("--log-file", default=None,
                        help="log to this file, rotated at {} MB (default: stderr)".format(
                            LOG_MAX_BYTES // (1024 * 1024)))


def _sandbox(directory: str, port: Optional[int] = None, default_port: bool = False) -> Any:
    """A Sandbox; ``default_port``: use 8883 when no port is given and none is saved yet."""
    from .sandbox import Sandbox
    from .state import read_json

    if port is None and default_port:
        state_file = os.path.join(os.path.abspath(os.path.expanduser(directory)), "sandbox.json")
        try:
            saved = read_json(state_file).get("port")
        except Exception:  # noqa: BLE001
            saved = None
        if not saved:
            port = DEFAULT_PORT
    return Sandbox(directory, port=port)


def _existing_sandbox(directory: str) -> Any:
    """A Sandbox on a directory that must hold one (else NotASandboxError, nothing created)."""
    sandbox = _sandbox(directory)
    sandbox.require_sandbox()
    return sandbox


def _print_status(status: Dict[str, Any]) -> None:
    state = "running" if status["running"] else "not running"
    if status["running"] and not status["healthy"]:
        state = "running, NOT HEALTHY (run 'up' to restart what does not answer)"
    print("Sandbox {}: {}".format(status["directory"], state))
    print("  broker:          {}:{}".format(status["host"], status["port"]))
    print("  config:          {}".format(status["config_file"]))
    print("  store:           {}".format(status["store_file"]))
    mode = "fabric only" if status["fabric_only"] else "TIE emulator"
    if status["delay_ms"]:
        mode += ", delay {} ms".format(status["delay_ms"])
    if status.get("open_acl"):
        mode += ", open ACL"
    print("  mode:            {}".format(mode))
    for name, proc in status["processes"].items():
        print("  {:<17}{}  (log {})".format(
            name + ":", "pid {}, {}".format(proc["pid"], proc["health"]) if proc["running"]
            else "stopped", proc["log_file"]))
    counts = status.get("counts")
    if counts:
        print("  store holds:     {files} files, {certificates} certificates, {references} "
              "references from {agents} systems".format(**counts))
    for name, client in status["clients"].items():
        print("  client {}: {}{}".format(
            name, client["config_file"],
            " (denied: {})".format(", ".join(client["deny"])) if client["deny"] else ""))


def _hashes(args: argparse.Namespace) -> Dict[str, str]:
    return {key: getattr(args, key) for key in ("md5", "sha1", "sha256") if getattr(args, key)}


# Commands -------------------------------------------------------------------------------------

def _up(args: argparse.Namespace) -> int:
    sandbox = _sandbox(args.dir, args.port, default_port=True)
    config = sandbox.up(fabric_only=args.fabric_only, delay_ms=args.delay_ms,
                        open_acl=args.open_acl)
    print("Sandbox up on 127.0.0.1:{} ({}); its dxlclient configuration:".format(
        sandbox.port, "fabric only" if args.fabric_only else "TIE emulator"), file=sys.stderr)
    print(config)
    return _EXIT_OK


def _down(args: argparse.Namespace) -> int:
    _existing_sandbox(args.dir).down()
    print("Sandbox {} stopped".format(args.dir), file=sys.stderr)
    return _EXIT_OK


def _show_arguments(parser: argparse.ArgumentParser) -> None:
    _add_dir(parser)
    show.arguments(parser)


def _show(args: argparse.Namespace) -> int:
    return show.run(args.hash, _existing_sandbox(args.dir).store_file)


def _status(args: argparse.Namespace) -> int:
    from .errors import NotASandboxError

    try:
        sandbox = _existing_sandbox(args.dir)
    except NotASandboxError as error:
        print("error: {}".format(error), file=sys.stderr)
        return _EXIT_NOT_RUNNING
    status = sandbox.status()
    if args.json:
        print(json.dumps(status, indent=2, sort_keys=True))
    else:
        _print_status(status)
    if not status["running"]:
        return _EXIT_NOT_RUNNING
    return _EXIT_OK if status["healthy"] else _EXIT_UNHEALTHY


def _provision(args: argparse.Namespace) -> int:
    print(_existing_sandbox(args.dir).provision(args.name, deny=args.deny))
    return _EXIT_OK


def _emit(args: argparse.Namespace) -> int:
    hashes = _hashes(args)
    if not hashes:
        raise _UsageError("give at least one of --md5, --sha1, --sha256")
    sandbox = _existing_sandbox(args.dir)
    if args.kind == "detection":
        sandbox.emit_detection(hashes, args.agent_guid, args.name, args.local_reputation,
                               args.remediation_action, args.detection_time)
    else:
        sandbox.emit_first_instance(hashes, args.agent_guid, args.name)
    print("Sent a {} event".format(args.kind), file=sys.stderr)
    return _EXIT_OK


def _serve(args: argparse.Namespace) -> int:
    from .tie import emulator

    if not os.path.isfile(args.config):
        raise ValueError("No dxlclient configuration file {!r}: give the emulator's own client "
                         "configuration (e.g. from 'provision NAME')".format(args.config[:200]))
    store = args.store or os.path.join(os.path.dirname(os.path.abspath(args.config)),
                                       "tie.sqlite")
    emulator.serve(args.config, store, delay_ms=args.delay_ms)
    return _EXIT_OK


def _run(args: argparse.Namespace) -> int:
    sandbox = _sandbox(args.dir, args.port, default_port=True)
    stop = threading.Event()
    ready = threading.Event()

    def on_ready(config: str) -> None:
        ready.set()
        print("Sandbox running on 127.0.0.1:{}; Ctrl-C (or SIGTERM, SIGHUP) stops it. "
              "Configuration:".format(sandbox.port), file=sys.stderr, flush=True)
        print(config, flush=True)

    with _stop_on_signals(stop, ready):
        sandbox.run(fabric_only=args.fabric_only, delay_ms=args.delay_ms, stop_event=stop,
                    on_ready=on_ready, open_acl=args.open_acl)
    return _EXIT_OK


class _stop_on_signals:
    """
    SIGINT, SIGTERM and SIGHUP (unless ignored, as under ``nohup``) stop ``run``, also when it
    was started in the background (where the shell ignores SIGINT): before ``ready`` they
    interrupt the start-up (which stops what it started), after it they set ``stop``.
    """

    def __init__(self, stop: threading.Event, ready: threading.Event) -> None:
        self._stop = stop
        self._ready = ready
        self._previous: Dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        _logger.info("Got signal %d: stopping the sandbox", signum)
        first = not self._stop.is_set()
        self._stop.set()
        if first and not self._ready.is_set():
            raise KeyboardInterrupt

    def __enter__(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            if signum == signal.SIGHUP and signal.getsignal(signum) == signal.SIG_IGN:
                continue
            self._previous[signum] = signal.signal(signum, self._handle)

    def __exit__(self, *exc_info: Any) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)


@dataclass(frozen=True)
class Command:
    """
    A subcommand of the sandbox's command line.

    :param name: its name
    :param help: its one-line description
    :param arguments: adds its arguments to its parser
    :param run: runs it; returns the exit code
    :param log_level: its default log level (``-v``: DEBUG)
    """

    name: str
    help: str
    arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    log_level: int = logging.WARNING


#: The subcommands, in the order ``--help`` lists them. Adding a command is adding a row.
COMMANDS: List[Command] = [
    Command("up", "start the sandbox in the background (idempotent; restarts what died or does "
            "not answer); prints only the dxlclient.config path on stdout",
            _sandbox_options, _up),
    Command("down", "stop every sandbox process", _add_dir, _down),
    Command("status", "show what runs and answers (exit code 3 if not running, 4 if a process "
            "does not answer)", _status_arguments, _status),
    Command("provision", "create a client certificate and dxlclient.config; prints its path",
            _provision_arguments, _provision),
    Command("emit", "publish a TIE event on the sandbox", _emit_arguments, _emit),
    Command("show", show.HELP, _show_arguments, _show),
    Command("serve", "run only the TIE emulator (foreground) on any existing fabric",
            _serve_arguments, _serve, logging.INFO),
    Command("run", "run everything in the foreground, logs on the terminal; Ctrl-C, SIGTERM or "
            "SIGHUP stops all", _sandbox_options, _run, logging.INFO),
]


class _UsageError(Exception):
    """A usage error found after parsing (exit code 2)."""


def build_parser(prog: Optional[str] = None) -> argparse.ArgumentParser:
    """
    :param prog: the program name in messages (default: ``python -m dxltieclient.sandbox``)
    :return: the command-line parser of ``python -m dxltieclient.sandbox``
    """
    parser = argparse.ArgumentParser(
        prog=prog or "python -m dxltieclient.sandbox",
        description="A local DXL fabric (Mosquitto) with a TIE server emulator, for samples and "
        "tests of dxltieclient.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for command in COMMANDS:
        command.arguments(subparsers.add_parser(command.name, help=command.help))
    return parser


def _configure_logging(level: int, log_file: Optional[str]) -> None:
    """Logs on stderr, or in ``log_file`` rotated at :data:`LOG_MAX_BYTES` (one old file)."""
    handler: logging.Handler
    if log_file:
        handler = logging.handlers.RotatingFileHandler(log_file, maxBytes=LOG_MAX_BYTES,
                                                       backupCount=1, encoding="utf-8")
    else:
        handler = logging.StreamHandler(sys.stderr)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        handlers=[handler])


def _command(name: str) -> Command:
    return next(command for command in COMMANDS if command.name == name)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """
    Runs the command line.

    :param argv: the arguments (default: ``sys.argv[1:]``)
    :return: the exit code
    """
    from .errors import SandboxError

    prog = None
    if argv is None and os.path.basename(sys.argv[0]) == "dxltie-sandbox":
        prog = "dxltie-sandbox"
    parser = build_parser(prog)
    args = parser.parse_args(list(argv) if argv is not None else None)
    command = _command(args.command)
    _configure_logging(logging.DEBUG if args.verbose else command.log_level,
                       getattr(args, "log_file", None))
    try:
        return command.run(args)
    except _UsageError as error:
        parser.error("{}: {}".format(args.command, error))  # exits with 2
        return _EXIT_USAGE
    except KeyboardInterrupt:
        return _EXIT_INTERRUPTED
    except (SandboxError, ValueError, OSError) as error:
        print("error: {}".format(error), file=sys.stderr)
        return _EXIT_FAILURE
    except Exception as error:  # a CLI reports; the traceback is in --verbose
        _logger.debug("Failure", exc_info=True)
        print("error: {}: {}".format(type(error).__name__, error), file=sys.stderr)
        return _EXIT_FAILURE


def _entry(argv: Optional[List[str]] = None) -> None:
    sys.exit(main(argv))


if __name__ == "__main__":
    _entry()
