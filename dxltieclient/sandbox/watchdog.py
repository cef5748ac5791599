"""
A watchdog that stops a sandbox when the process that owns it dies without stopping it (a test
session killed by a timeout, for example), so that no broker is left running in a deleted
temporary directory.

``python -m dxltieclient.sandbox.watchdog --dir DIR --owner PID`` (started detached by the pytest
plugin). It exits by itself once the sandbox is down.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from typing import Any, Dict, List, Optional

from . import _process
from .sandbox import PROCESS_MARKERS, STOP_ORDER

_logger = logging.getLogger(__name__)

_POLL_SECONDS = 0.5


def _read_pids(directory: str) -> Optional[Dict[str, Any]]:
    try:
        with open(os.path.join(directory, "sandbox.json"), encoding="utf-8") as state:
            pids = json.load(state).get("pids", {})
    except (OSError, ValueError, AttributeError):
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
    known: Dict[str, Any] = {}
    while True:
        pids = _read_pids(directory)
        if pids is not None:
            known = pids  # remember the last state: the directory may be deleted
        running = [key for key in STOP_ORDER
                   if _process.is_running(known.get(key), PROCESS_MARKERS[key])]
        if not running:
            return False
        if not _process.is_running(owner):
            _logger.warning("Owner %d of the sandbox in %s is gone: stopping %s", owner,
                            directory, ", ".join(running))
            for key in STOP_ORDER:
                _process.stop(known.get(key), PROCESS_MARKERS[key], timeout=10.0)
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
