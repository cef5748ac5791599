"""
The sandbox as a supervisor (issue #9), on sandboxes of this module's own: ``up`` restarts only
what died or does not answer, ``status`` reports a wedged process as unhealthy, a failed first
``up`` leaves nothing behind, folders are private whatever the umask.
"""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
from typing import Any, Dict, Iterator

import pytest
from fabric_helpers import private_sandbox

from dxltieclient import FileProvider, TieClient, TrustLevel
from dxltieclient.sandbox import PortInUseError, Sandbox, _process, connected_client
from dxltieclient.sandbox.tie.seed import NOTEPAD_HASHES

WAIT = 15.0


def cli(*args: str, timeout: float = 120, **kwargs: Any) -> "subprocess.CompletedProcess[str]":
    return subprocess.run([sys.executable, "-m", "dxltieclient.sandbox", *args],
                          capture_output=True, text=True, timeout=timeout, check=False, **kwargs)


def pids(sandbox: Sandbox) -> Dict[str, Any]:
    return {key: info["pid"] for key, info in sandbox.status(probe=False)["processes"].items()}


def lookup_works(sandbox: Sandbox) -> None:
    with connected_client(sandbox.config_file) as client:
        reputations = TieClient(client).get_file_reputation(dict(NOTEPAD_HASHES))
    assert reputations[FileProvider.GTI]["trustLevel"] == TrustLevel.KNOWN_TRUSTED


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    yield from private_sandbox(tmp_path_factory, "supervised")


def kill9(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
    # SIGKILL is delivered asynchronously: until the process is gone, up() rightly sees it run.
    assert _process.wait_exit(pid, WAIT), "process {} survived SIGKILL".format(pid)


def test_up_restarts_only_dead_fabric_services(sandbox: Sandbox) -> None:
    sandbox.up()
    before = pids(sandbox)
    kill9(before["fabric_services"])
    sandbox.up()
    after = pids(sandbox)
    assert after["fabric_services"] not in (None, before["fabric_services"])
    # the emulator was asked to register again with the new fabric services, not restarted
    assert after["broker"] == before["broker"]
    assert after["tie_emulator"] == before["tie_emulator"]
    assert sandbox.status()["healthy"] is True
    lookup_works(sandbox)


def test_up_restarts_a_dead_broker_and_fabric_services_but_keeps_the_emulator(
        sandbox: Sandbox) -> None:
    sandbox.up()
    before = pids(sandbox)
    kill9(before["fabric_services"])
    kill9(before["broker"])
    sandbox.up()
    after = pids(sandbox)
    assert after["broker"] not in (None, before["broker"])
    assert after["fabric_services"] not in (None, before["fabric_services"])
    assert after["tie_emulator"] == before["tie_emulator"]  # reconnected and registered again
    lookup_works(sandbox)


def test_up_restarts_only_a_dead_emulator(sandbox: Sandbox) -> None:
    sandbox.up()
    before = pids(sandbox)
    kill9(before["tie_emulator"])
    assert sandbox.status()["processes"]["tie_emulator"]["health"] == "stopped"
    sandbox.up()
    after = pids(sandbox)
    assert after["tie_emulator"] not in (None, before["tie_emulator"])
    assert (after["broker"], after["fabric_services"]) == \
        (before["broker"], before["fabric_services"])
    lookup_works(sandbox)


def test_a_wedged_emulator_is_unhealthy_and_up_replaces_it(sandbox: Sandbox) -> None:
    sandbox.up()
    before = pids(sandbox)
    wedged = before["tie_emulator"]
    os.kill(wedged, signal.SIGSTOP)  # alive, but answers nothing: as a deadlocked emulator
    try:
        status = sandbox.status()
        assert status["running"] is True
        assert status["healthy"] is False
        assert status["processes"]["tie_emulator"]["health"] == "unhealthy"
        assert status["processes"]["broker"]["health"] == "healthy"
        assert status["processes"]["fabric_services"]["health"] == "healthy"
        human = cli("status", "--dir", sandbox.directory)
        assert human.returncode == 4, human.stdout + human.stderr
        assert "unhealthy" in human.stdout
        sandbox.up()
        # the wedged one is gone (never two emulators at once), the others untouched
        assert not _process.is_running(wedged)
        after = pids(sandbox)
        assert after["tie_emulator"] not in (None, wedged)
        assert (after["broker"], after["fabric_services"]) == \
            (before["broker"], before["fabric_services"])
    finally:
        if _process.is_running(wedged):
            os.kill(wedged, signal.SIGCONT)
    lookup_works(sandbox)


def test_a_port_in_use_leaves_no_half_made_sandbox(tmp_path: Any) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        # in a directory the CLI would create
        directory = str(tmp_path / "new" / "sandbox")
        result = cli("up", "--dir", directory, "--port", str(port), "--fabric-only")
        assert result.returncode == 1
        assert "already in use" in result.stderr and result.stdout == ""
        assert not os.path.exists(str(tmp_path / "new" / "sandbox"))
        # in an existing, empty directory: left empty
        empty = tmp_path / "empty"
        empty.mkdir()
        with pytest.raises(PortInUseError):
            Sandbox(str(empty), port=port).up(fabric_only=True)
        assert list(empty.iterdir()) == []


@pytest.mark.parametrize("command", [
    ["down"], ["status"], ["status", "--json"], ["provision", "someone"],
    ["emit", "detection", "--md5", "f2c7bb8acc97f92e987a2d4087d021b1"],
])
def test_commands_on_a_folder_that_is_not_a_sandbox(tmp_path: Any, command: Any) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    missing = tmp_path / "missing"
    for directory in (empty, missing):
        result = cli(*command, "--dir", str(directory))
        assert result.returncode != 0
        assert "is not a sandbox" in result.stderr
    assert list(empty.iterdir()) == []
    assert not missing.exists()


def test_folders_are_private_whatever_the_umask(tmp_path: Any) -> None:
    directory = tmp_path / "a" / "b" / "sandbox"
    try:
        result = cli("up", "--dir", str(directory), "--port", str(_process.free_port()),
                     "--fabric-only", preexec_fn=lambda: os.umask(0))
        assert result.returncode == 0, result.stderr
        assert result.stdout == str(directory / "dxlclient.config") + "\n"
        for folder in (tmp_path / "a", tmp_path / "a" / "b"):
            assert stat.S_IMODE(os.stat(str(folder)).st_mode) == 0o700, folder
        for root, _dirs, files in os.walk(str(directory)):
            assert stat.S_IMODE(os.stat(root).st_mode) == 0o700, root
            for name in files:
                mode = stat.S_IMODE(os.stat(os.path.join(root, name)).st_mode)
                assert not mode & 0o022, (name, oct(mode))  # nothing writable by others
                if name.endswith((".key", ".log")):
                    assert mode == 0o600, (name, oct(mode))
    finally:
        cli("down", "--dir", str(directory))


def test_status_of_a_stopped_sandbox(tmp_path: Any) -> None:
    own = Sandbox(str(tmp_path / "stopped"))
    own.up(fabric_only=True)
    own.down()
    status = own.status()
    assert status["sandbox"] is True and status["running"] is False
    assert all(info["health"] == "stopped" for info in status["processes"].values())
