"""
A watchdog that stops a sandbox when the process that owns it dies without stopping it (a test
session killed by a timeout, for example), so that no broker is left running in a deleted
temporary directory.

``python -m dxltieclient.sandbox.watchdog --dir DIR --owner PID`` (started detached by the pytest
plugin). It exits by itself once the sandbox is down.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from typing import Any, Dict, List, Optional

from . import _process
from .errors import SandboxError
from .paths import SandboxPaths
from .state import read_json
from .supervisor import PROCESSES, is_running, stop_pids

_logger = logging.getLogger(__name__)

_POLL_SECONDS = 0.5


def _read_pids(paths: SandboxPaths) -> Optional[Dict[str, Any]]:
    try:
        pids = read_json(paths.state_file).get("pids")
    except SandboxError:
        return None
    return pids if isinstance(pids, dict) else None


def watch(directory: str, owner: int, poll_seconds: float = _POLL_SECONDS) -> bool:
    """
    Waits until the sandbox is down (returns ``False``) or its owner is gone; in the latter case,
    stops the sandbox's processes (emulator, fabric services, broker) and returns ``True``.

    :param directory: the sandbox directory
    :param owner: the owner's process id
    :param poll_seconds: how often to look, in seconds
    :return: whether the watchdog had to stop the sandbox
    """
    paths = SandboxPaths(directory)
    known: Dict[str, Any] = {}
    while True:
        pids = _read_pids(paths)
        if pids is not None:
            known = pids  # remember the last state: the directory may be deleted
        running = [spec.key for spec in PROCESSES if is_running(paths, spec, known.get(spec.key))]
        if not running:
            return False
        if not _process.is_running(owner):
            _logger.warning("Owner %d of the sandbox in %s is gone: stopping %s", owner,
                            directory, ", ".join(running))
            stop_pids(paths, known)
            return True
        time.sleep(poll_seconds)


def main(argv: Optional[List[str]] = None) -> int:
    """
    Runs the watchdog.

    :param argv: ``--dir DIR --owner PID``
    :return: the exit code
    """
    parser = argparse.ArgumentParser(prog="python -m dxltieclient.sandbox.watchdog")
    parser.add_argument("--dir", required=True, help="the sandbox directory")
    parser.add_argument("--owner", type=int, required=True, help="the owner's process id")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    watch(os.path.abspath(args.dir), args.owner)
    return 0


if __name__ == "__main__":
    sys.exit(main())
