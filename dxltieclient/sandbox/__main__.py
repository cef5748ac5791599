"""
The sandbox's command line: ``python -m dxltieclient.sandbox COMMAND``.

Commands: ``up``, ``down``, ``status``, ``provision``, ``emit``, ``serve``, ``run``. Exit codes:
0 success, 1 failure (the message says what to do), 2 usage error, 3 ``status``: not running.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
from typing import Any, Dict, List, Optional, Sequence

from .authz import valid_group_names

_logger = logging.getLogger(__name__)

#: The broker port ``up`` and ``run`` use when ``--port`` is not given and none is saved.
DEFAULT_PORT = 8883

_EXIT_OK = 0
_EXIT_FAILURE = 1
_EXIT_NOT_RUNNING = 3


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
        raise argparse.ArgumentTypeError("not a port number: {!r}".format(value))
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError("port must be 1-65535, not {}".format(port))
    return port


def _delay(value: str) -> float:
    try:
        delay = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError("not a number of milliseconds: {!r}".format(value))
    if delay < 0:
        raise argparse.ArgumentTypeError("the delay must be >= 0, not {}".format(value))
    return delay


def build_parser() -> argparse.ArgumentParser:
    """
    :return: the command-line parser of ``python -m dxltieclient.sandbox``
    """
    parser = argparse.ArgumentParser(
        prog="python -m dxltieclient.sandbox",
        description="A local DXL fabric (Mosquitto) with a TIE server emulator, for samples and "
        "tests of dxltieclient.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    up = commands.add_parser("up", help="start the sandbox in the background (idempotent); "
                             "prints the dxlclient.config path")
    _add_dir(up)
    up.add_argument("--port", type=_port, default=None,
                    help="broker port on 127.0.0.1 (default: the saved one, else {})".format(
                        DEFAULT_PORT))
    up.add_argument("--fabric-only", action="store_true",
                    help="no TIE emulator: only the DXL fabric (for your own mock services)")
    up.add_argument("--delay-ms", type=_delay, default=0.0,
                    help="emulated TIE server delay before each reply, in ms (default 0)")

    down = commands.add_parser("down", help="stop every sandbox process")
    _add_dir(down)

    status = commands.add_parser("status", help="show what runs (exit code 3 if not running)")
    _add_dir(status)
    status.add_argument("--json", action="store_true", help="print JSON")

    provision = commands.add_parser(
        "provision", help="create a client certificate and dxlclient.config; prints its path")
    provision.add_argument("name", help="the client name (its certificate's CN)")
    _add_dir(provision)
    provision.add_argument(
        "--deny", nargs="+", default=[], metavar="GROUP",
        help="TIE authorization groups the client is NOT a member of: {}".format(
            ", ".join(repr(g) for g in valid_group_names())))

    emit = commands.add_parser("emit", help="publish a TIE event on the sandbox")
    emit.add_argument("kind", choices=["detection", "first-instance"], help="the event")
    _add_dir(emit)
    emit.add_argument("--md5", help="the file's MD5 (hex)")
    emit.add_argument("--sha1", help="the file's SHA-1 (hex)")
    emit.add_argument("--sha256", help="the file's SHA-256 (hex)")
    emit.add_argument("--agent-guid", default="{00000000-0000-0000-0000-000000000001}",
                      help="the endpoint's agent GUID (default %(default)s)")
    emit.add_argument("--name", default="sandbox.exe", help="the file name (default %(default)s)")
    emit.add_argument("--local-reputation", type=int, default=1,
                      help="detection: the endpoint's reputation (default 1, known malicious)")
    emit.add_argument("--remediation-action", type=int, default=5,
                      help="detection: the action taken (default 5, delete)")
    emit.add_argument("--detection-time", type=int, default=None,
                      help="detection: epoch seconds (default now)")

    serve = commands.add_parser("serve", help="run only the TIE emulator (foreground) on any "
                                "existing fabric")
    serve.add_argument("--config", required=True, help="the emulator's dxlclient.config")
    serve.add_argument("--store", default=None,
                       help="the SQLite store (default: tie.sqlite beside the config)")
    serve.add_argument("--delay-ms", type=_delay, default=0.0,
                       help="delay before each reply, in ms (default 0)")

    run = commands.add_parser("run", help="run everything in the foreground, logs on the "
                              "terminal; Ctrl-C stops all")
    _add_dir(run)
    run.add_argument("--port", type=_port, default=None,
                     help="broker port on 127.0.0.1 (default: the saved one, else {})".format(
                         DEFAULT_PORT))
    run.add_argument("--fabric-only", action="store_true", help="no TIE emulator")
    run.add_argument("--delay-ms", type=_delay, default=0.0,
                     help="emulated TIE server delay, in ms (default 0)")
    from .tie import show
    show.arguments(commands.add_parser("show", help=show.HELP))
    return parser


def _sandbox(directory: str, port: Optional[int] = None, default_port: bool = False) -> Any:
    """A Sandbox; ``default_port``: use 8883 when no port is given and none is saved yet."""
    import os

    from .sandbox import Sandbox

    if port is None and default_port:
        state_file = os.path.join(os.path.abspath(os.path.expanduser(directory)), "sandbox.json")
        try:
            with open(state_file, encoding="utf-8") as state:
                saved = json.load(state).get("port")
        except (OSError, ValueError, AttributeError):
            saved = None
        if not saved:
            port = DEFAULT_PORT
    return Sandbox(directory, port=port)


def _print_status(status: Dict[str, Any]) -> None:
    print("Sandbox {}: {}".format(status["directory"],
                                  "running" if status["running"] else "not running"))
    print("  broker:          {}:{}".format(status["host"], status["port"]))
    print("  config:          {}".format(status["config_file"]))
    print("  store:           {}".format(status["store_file"]))
    mode = "fabric only" if status["fabric_only"] else "TIE emulator"
    if status["delay_ms"]:
        mode += ", delay {} ms".format(status["delay_ms"])
    print("  mode:            {}".format(mode))
    for name, proc in status["processes"].items():
        print("  {:<17}{}  (log {})".format(
            name + ":", "pid {}".format(proc["pid"]) if proc["running"] else "stopped",
            proc["log_file"]))
    counts = status.get("counts")
    if counts:
        print("  store holds:     {files} files, {certificates} certificates, {references} "
              "references from {agents} systems".format(**counts))
    for name, client in status["clients"].items():
        print("  client {}: {}{}".format(
            name, client["config_file"],
            " (denied: {})".format(", ".join(client["deny"])) if client["deny"] else ""))


def _hashes(args: argparse.Namespace) -> Dict[str, str]:
    hashes = {key: getattr(args, key) for key in ("md5", "sha1", "sha256") if getattr(args, key)}
    if not hashes:
        raise ValueError("Give at least one of --md5, --sha1, --sha256")
    return hashes


def _serve(args: argparse.Namespace) -> int:
    import os

    from .tie import emulator

    if not os.path.isfile(args.config):
        raise ValueError("No dxlclient configuration file {!r}: give the emulator's own client "
                         "configuration (e.g. from 'provision NAME')".format(args.config))
    store = args.store or os.path.join(os.path.dirname(os.path.abspath(args.config)),
                                       "tie.sqlite")
    emulator.serve(args.config, store, delay_ms=args.delay_ms)
    return _EXIT_OK


def _dispatch(args: argparse.Namespace) -> int:
    command = args.command
    if command == "serve":
        return _serve(args)
    if command == "up":
        sandbox = _sandbox(args.dir, args.port, default_port=True)
        config = sandbox.up(fabric_only=args.fabric_only, delay_ms=args.delay_ms)
        print("Sandbox up on 127.0.0.1:{} ({}); use this dxlclient configuration:".format(
            sandbox.port, "fabric only" if args.fabric_only else "TIE emulator"))
        print(config)
        return _EXIT_OK
    if command == "down":
        _sandbox(args.dir).down()
        print("Sandbox {} stopped".format(args.dir))
        return _EXIT_OK
    if command == "status":
        status = _sandbox(args.dir).status()
        if args.json:
            print(json.dumps(status, indent=2, sort_keys=True))
        else:
            _print_status(status)
        return _EXIT_OK if status["running"] else _EXIT_NOT_RUNNING
    if command == "show":
        from .tie import show
        return show.command(args)
    if command == "provision":
        print(_sandbox(args.dir).provision(args.name, deny=args.deny))
        return _EXIT_OK
    if command == "emit":
        sandbox = _sandbox(args.dir)
        if args.kind == "detection":
            sandbox.emit_detection(_hashes(args), args.agent_guid, args.name,
                                   args.local_reputation, args.remediation_action,
                                   args.detection_time)
        else:
            sandbox.emit_first_instance(_hashes(args), args.agent_guid, args.name)
        print("Sent a {} event".format(args.kind))
        return _EXIT_OK
    if command == "run":
        sandbox = _sandbox(args.dir, args.port, default_port=True)
        stop = threading.Event()

        def ready(config: str) -> None:
            print("Sandbox running on 127.0.0.1:{}; Ctrl-C stops it. Configuration:".format(
                sandbox.port), flush=True)
            print(config, flush=True)

        sandbox.run(fabric_only=args.fabric_only, delay_ms=args.delay_ms, stop_event=stop,
                    on_ready=ready)
        return _EXIT_OK
    raise AssertionError(command)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """
    Runs the command line.

    :param argv: the arguments (default: ``sys.argv[1:]``)
    :return: the exit code
    """
    from ._process import ProcessError
    from .broker import BrokerError, MosquittoNotFoundError
    from .sandbox import SandboxError

    args = build_parser().parse_args(list(argv) if argv is not None else None)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO
        if args.command in ("serve", "run") else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return _dispatch(args)
    except KeyboardInterrupt:
        return 130
    except (MosquittoNotFoundError, SandboxError, BrokerError, ProcessError, ValueError,
            OSError) as ex:
        print("error: {}".format(ex), file=sys.stderr)
        return _EXIT_FAILURE
    except Exception as ex:  # noqa: BLE001  (a CLI reports, the traceback is in --verbose)
        _logger.debug("Failure", exc_info=True)
        print("error: {}: {}".format(type(ex).__name__, ex), file=sys.stderr)
        return _EXIT_FAILURE


def _entry(argv: Optional[List[str]] = None) -> None:
    sys.exit(main(argv))


if __name__ == "__main__":
    _entry()
