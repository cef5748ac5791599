"""The supervisor's parts without a broker: the process table, paths, state, errors, CLI."""

from __future__ import annotations

import inspect
import multiprocessing
import os
import stat
from typing import Any

import pytest

from dxltieclient.sandbox import Sandbox, __main__, _process, broker, errors, sandbox, supervisor
from dxltieclient.sandbox.paths import SandboxPaths, make_private_dir
from dxltieclient.sandbox.state import StateStore, read_json, write_json_atomically


def test_one_process_table_in_start_order() -> None:
    assert supervisor.PROCESS_KEYS == ("broker", "fabric_services", "tie_emulator")
    assert supervisor.STOP_ORDER == ("tie_emulator", "fabric_services", "broker")
    assert sandbox.STOP_ORDER == supervisor.STOP_ORDER
    emulator = supervisor.spec_for("tie_emulator")
    assert emulator.stop_timeout == 15.0 and not emulator.fabric_only_runs
    assert [s.key for s in supervisor.wanted(True)] == ["broker", "fabric_services"]
    paths = SandboxPaths("/tmp/x")
    assert supervisor.spec_for("broker").marker(paths) == "/tmp/x/mosquitto.conf"
    assert len({spec.log_name for spec in supervisor.PROCESSES}) == 3


def test_the_watchdog_stops_through_the_table() -> None:
    from dxltieclient.sandbox import watchdog

    source = inspect.getsource(watchdog)
    assert "stop_pids" in source and "timeout=" not in source


def test_private_dirs_whatever_the_umask(tmp_path: Any) -> None:
    old = os.umask(0)
    try:
        assert make_private_dir(str(tmp_path / "a" / "b"))
        assert not make_private_dir(str(tmp_path / "a" / "b"))
    finally:
        os.umask(old)
    for path in (tmp_path / "a", tmp_path / "a" / "b"):
        assert stat.S_IMODE(os.stat(str(path)).st_mode) == 0o700


def test_atomic_json_and_unreadable_state(tmp_path: Any) -> None:
    path = str(tmp_path / "state.json")
    write_json_atomically(path, {"port": 1})
    assert read_json(path) == {"port": 1}
    assert os.listdir(str(tmp_path)) == ["state.json"]  # no temporary file left
    with open(path, "w") as broken:
        broken.write("{" + "x" * 10000)
    with pytest.raises(errors.SandboxStateError) as caught:
        read_json(path)
    assert len(str(caught.value)) < 600 and "Delete the file" in str(caught.value)


def _increment(directory: str, times: int) -> None:
    store = StateStore(SandboxPaths(directory))
    for _ in range(times):
        with store.locked():
            state = store.load()
            state["n"] = state.get("n", 0) + 1
            store.save(state)


def test_the_state_file_lock_serialises_processes(tmp_path: Any) -> None:
    directory = str(tmp_path / "sb")
    workers = [multiprocessing.Process(target=_increment, args=(directory, 25))
               for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert StateStore(SandboxPaths(directory)).load()["n"] == 75


def test_one_error_root_and_the_old_names() -> None:
    for name in errors.__all__:
        error = getattr(errors, name)
        assert issubclass(error, errors.SandboxError) and issubclass(error, RuntimeError)
    assert broker.BrokerError is errors.BrokerError
    assert broker.MosquittoNotFoundError is errors.MosquittoNotFoundError
    assert _process.ProcessError is errors.ProcessError
    assert sandbox.Sandbox is Sandbox
    from dxltieclient import sandbox as package

    assert package.SandboxError is errors.SandboxError
    assert issubclass(errors.PortInUseError, errors.BrokerError)


def test_log_rotation(tmp_path: Any) -> None:
    log = str(tmp_path / "x.log")
    with open(log, "wb") as out:
        out.write(b"x" * 100)
    assert not _process.rotate_log(log, max_bytes=100)
    with open(log, "ab") as out:
        out.write(b"y")
    assert _process.rotate_log(log, max_bytes=100)
    assert not os.path.exists(log) and os.path.getsize(log + ".1") == 101


def test_emit_detection_has_the_cli_defaults() -> None:
    args = __main__.build_parser().parse_args(["emit", "detection", "--md5", "00"])
    defaults = inspect.signature(Sandbox.emit_detection).parameters
    assert defaults["agent_guid"].default == args.agent_guid
    assert defaults["name"].default == args.name
    assert defaults["local_reputation"].default == args.local_reputation
    assert defaults["remediation_action"].default == args.remediation_action
    assert defaults["detection_time"].default == args.detection_time
    first = inspect.signature(Sandbox.emit_first_instance).parameters
    assert (first["agent_guid"].default, first["name"].default) == (args.agent_guid, args.name)


def test_a_folder_that_is_not_a_sandbox_is_left_alone(tmp_path: Any) -> None:
    missing = Sandbox(str(tmp_path / "missing"))
    status = missing.status()
    assert status["sandbox"] is False and status["running"] is False
    missing.down()
    with pytest.raises(errors.NotASandboxError, match="is not a sandbox"):
        missing.emit_first_instance({"md5": "00" * 16})
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv", [
    ["up", "--delay-ms", "nan"], ["up", "--port", "0"], ["frobnicate"], [],
    ["emit", "detection", "--dir", "/nonexistent-dxltie"],
])
def test_usage_errors_exit_2(argv: Any) -> None:
    with pytest.raises(SystemExit) as caught:
        __main__.main(argv)
    assert caught.value.code == 2


def test_subcommands_are_one_table() -> None:
    names = [command.name for command in __main__.COMMANDS]
    assert names == ["up", "down", "status", "provision", "emit", "show", "serve", "run"]
    parser = __main__.build_parser()
    for name in names:
        assert parser.parse_args([name] + (["x"] if name == "provision" else [])
                                 + (["detection"] if name == "emit" else [])
                                 + (["0" * 40] if name == "show" else [])
                                 + (["--config", "c"] if name == "serve" else [])).command == name
