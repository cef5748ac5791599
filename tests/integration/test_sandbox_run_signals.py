"""
``run`` stops every process it started on SIGTERM and SIGHUP as on SIGINT, also when a shell
started it in the background (where SIGINT is ignored); and the ``dxltie-sandbox`` script.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from typing import Any, List

import pytest

from dxltieclient.sandbox import _process

WAIT = 30.0


def wait_for_line(path: str, suffix: str, pid: int, timeout: float = 60.0) -> str:
    """Waits (bounded) until the file has a line ending with ``suffix``; returns it."""
    deadline = time.monotonic() + timeout
    delay = 0.01
    while time.monotonic() < deadline:
        try:
            with open(path, encoding="utf-8") as out:
                for line in out:
                    if line.strip().endswith(suffix):
                        return line.strip()
        except OSError:
            pass
        assert _process.is_running(pid), "run exited early"
        time.sleep(delay)
        delay = min(delay * 2, 0.2)
    raise AssertionError("no line ending with {!r} in {}".format(suffix, path))


def sandbox_pids(directory: str) -> List[int]:
    with open(os.path.join(directory, "sandbox.json"), encoding="utf-8") as state:
        pids = json.load(state)["pids"]
    return [pids[key] for key in ("broker", "fabric_services") if pids.get(key)]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_run_in_the_background_stops_everything_on_a_signal(tmp_path: Any, signum: int) -> None:
    directory = str(tmp_path / "sb")
    out = str(tmp_path / "run.out")
    command = [sys.executable, "-m", "dxltieclient.sandbox", "run", "--dir", directory,
               "--port", str(_process.free_port()), "--fabric-only"]
    # As a user's 'run &' in a script: the shell starts it with SIGINT ignored.
    shell = subprocess.run(
        ["sh", "-c", "{} >{} 2>&1 & echo $!".format(shlex.join(command), shlex.quote(out))],
        capture_output=True, text=True, timeout=WAIT, check=True)
    pid = int(shell.stdout.strip())
    try:
        wait_for_line(out, "dxlclient.config", pid)
        children = sandbox_pids(directory)
        assert len(children) == 2 and all(_process.is_running(p) for p in children)
        os.kill(pid, signum)
        assert _process.wait_exit(pid, WAIT), "run did not exit on signal {}".format(signum)
        assert not any(_process.is_running(p) for p in children)
    finally:
        if _process.is_running(pid):
            os.kill(pid, signal.SIGKILL)
        for child in sandbox_pids(directory) if os.path.exists(directory) else []:
            _process.stop(child, timeout=5)


def test_the_console_script_is_installed() -> None:
    script = os.path.join(os.path.dirname(sys.executable), "dxltie-sandbox")
    assert os.path.isfile(script), "pip install -e . installs dxltie-sandbox"
    result = subprocess.run([script, "--help"], capture_output=True, text=True, timeout=WAIT,
                            check=False)
    assert result.returncode == 0
    assert result.stdout.startswith("usage: dxltie-sandbox")
    bad = subprocess.run([script, "up", "--delay-ms", "nan"], capture_output=True, text=True,
                         timeout=WAIT, check=False)
    assert bad.returncode == 2
