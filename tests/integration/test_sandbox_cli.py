"""
``python -m dxltieclient.sandbox`` end to end, in temporary directories on free ports: up, status,
provision, emit, down, run; exit codes and error messages.
"""

import json
import os
import signal
import subprocess
import sys
import threading

import pytest
from fabric_helpers import RecordingEvents, connected

from dxltieclient import FirstInstanceCallback, TieClient
from dxltieclient.sandbox import _process

MD5 = "f2c7bb8acc97f92e987a2d4087d021b1"


def cli(*args, timeout=120):
    """Runs the sandbox CLI; returns the completed process (text output)."""
    return subprocess.run([sys.executable, "-m", "dxltieclient.sandbox", *args],
                          capture_output=True, text=True, timeout=timeout, check=False)


def status(directory):
    result = cli("status", "--dir", directory, "--json")
    return result.returncode, json.loads(result.stdout)


@pytest.fixture(scope="module")
def cli_sandbox(tmp_path_factory):
    """A sandbox started with the CLI (full, with the TIE emulator); stopped with the CLI."""
    directory = str(tmp_path_factory.mktemp("cli-sandbox"))
    port = _process.free_port()
    try:
        up = cli("up", "--dir", directory, "--port", str(port))
        assert up.returncode == 0, up.stderr
        yield directory, port, up
    finally:
        down = cli("down", "--dir", directory)
        assert down.returncode == 0, down.stderr


def test_up_prints_only_the_config_path_on_stdout(cli_sandbox):
    directory, port, up = cli_sandbox
    config = os.path.join(directory, "dxlclient.config")
    assert up.stdout == config + "\n"  # CONFIG=$(python -m dxltieclient.sandbox up) works
    assert "Sandbox up on 127.0.0.1:{}".format(port) in up.stderr
    again = cli("up", "--dir", directory)
    assert again.returncode == 0 and again.stdout == config + "\n"
    with open(config) as text:
        assert ";{};127.0.0.1;127.0.0.1".format(port) in text.read()


def test_status_reports_running_processes(cli_sandbox):
    directory, port, _ = cli_sandbox
    code, info = status(directory)
    assert code == 0
    assert info["running"] is True
    assert info["port"] == port
    assert info["fabric_only"] is False
    assert info["store_file"] == os.path.join(directory, "tie.sqlite")
    for name in ("broker", "fabric_services", "tie_emulator"):
        assert info["processes"][name]["running"], name
        assert _process.is_running(info["processes"][name]["pid"])
    human = cli("status", "--dir", directory)
    assert human.returncode == 0
    assert "running" in human.stdout and str(port) in human.stdout


def test_up_again_is_idempotent(cli_sandbox):  # and restarts nothing healthy
    directory, _, _ = cli_sandbox
    _, before = status(directory)
    again = cli("up", "--dir", directory)
    assert again.returncode == 0, again.stderr
    _, after = status(directory)
    assert {k: v["pid"] for k, v in after["processes"].items()} == \
        {k: v["pid"] for k, v in before["processes"].items()}


def test_up_on_another_port_refuses_and_keeps_the_running_sandbox(cli_sandbox):
    directory, port, _ = cli_sandbox
    _, before = status(directory)
    moved = cli("up", "--dir", directory, "--port", str(_process.free_port()))
    assert moved.returncode == 1
    assert "already runs on port {}".format(port) in moved.stderr
    code, after = status(directory)
    assert code == 0
    assert after["processes"] == before["processes"]


def test_serve_without_config_file_is_a_clear_error(tmp_path):
    missing = str(tmp_path / "missing.config")
    result = cli("serve", "--config", missing)
    assert result.returncode == 1
    assert "No dxlclient configuration file" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_tie_client_gets_seeded_reputation(cli_sandbox):
    directory, _, up = cli_sandbox
    with connected(up.stdout.strip().splitlines()[-1]) as client:
        reputations = TieClient(client).get_file_reputation({"md5": MD5})
    assert reputations[1]["trustLevel"] == 99  # the seeded notepad.exe: GTI KNOWN_TRUSTED


def test_provision_prints_a_working_config(cli_sandbox):
    directory, _, _ = cli_sandbox
    result = cli("provision", "cli-user", "--dir", directory, "--deny", "external")
    assert result.returncode == 0, result.stderr
    config = result.stdout.strip().splitlines()[-1]
    assert config == os.path.join(directory, "clients", "cli-user", "dxlclient.config")
    with connected(config) as client:
        assert client.connected
    _, info = status(directory)
    assert info["clients"]["cli-user"]["deny"] == ["TIE Server Set External Reputation"]


def test_provision_refuses_unknown_group(cli_sandbox):
    directory, _, _ = cli_sandbox
    result = cli("provision", "bad", "--dir", directory, "--deny", "superusers")
    assert result.returncode == 1
    assert "Unknown authorization group 'superusers'" in result.stderr
    assert "'enterprise'" in result.stderr and "'external'" in result.stderr


def test_emit_first_instance_reaches_a_callback(cli_sandbox):
    directory, _, up = cli_sandbox
    received = []
    arrived = threading.Event()

    class Callback(FirstInstanceCallback):
        def on_first_instance(self, first_instance_dict, original_event):
            received.append(first_instance_dict)
            arrived.set()

    with connected(up.stdout.strip().splitlines()[-1]) as client:
        TieClient(client).add_file_first_instance_callback(Callback())
        result = cli("emit", "first-instance", "--dir", directory, "--md5", MD5,
                     "--agent-guid", "{agent-1}", "--name", "new.exe")
        assert result.returncode == 0, result.stderr
        assert arrived.wait(10)
    assert received[0]["agentGuid"] == "{agent-1}"
    assert received[0]["hashes"]["md5"] == MD5


def test_emit_detection_is_an_event_on_the_detection_topic(cli_sandbox):
    directory, _, up = cli_sandbox
    events = RecordingEvents()
    with connected(up.stdout.strip().splitlines()[-1]) as client:
        client.add_event_callback("/mcafee/event/tie/file/detection", events)
        result = cli("emit", "detection", "--dir", directory, "--md5", MD5)
        assert result.returncode == 0, result.stderr
        assert events.received.wait(10)
    payload = json.loads(events.events[0].payload.decode("utf-8"))
    assert payload["localReputation"] == 1 and payload["remediationAction"] == 5


def test_emit_without_hash_is_a_usage_error(cli_sandbox):
    directory, _, _ = cli_sandbox
    result = cli("emit", "detection", "--dir", directory)
    assert result.returncode == 2
    assert "--md5" in result.stderr


def test_down_stops_every_process(tmp_path):
    directory = str(tmp_path / "sb")
    up = cli("up", "--dir", directory, "--port", str(_process.free_port()), "--fabric-only")
    assert up.returncode == 0, up.stderr
    code, info = status(directory)
    assert code == 0 and info["fabric_only"] is True
    pids = [info["processes"][name]["pid"] for name in ("broker", "fabric_services")]
    assert all(_process.is_running(pid) for pid in pids)
    assert info["processes"]["tie_emulator"]["running"] is False

    down = cli("down", "--dir", directory)
    assert down.returncode == 0, down.stderr
    assert not any(_process.is_running(pid) for pid in pids)
    code, info = status(directory)
    assert code == 3
    assert info["running"] is False
    # down again: nothing to do, still fine
    assert cli("down", "--dir", directory).returncode == 0


def test_run_in_foreground_stops_everything_on_ctrl_c(tmp_path):
    directory = str(tmp_path / "fg")
    proc = subprocess.Popen(
        [sys.executable, "-m", "dxltieclient.sandbox", "run", "--dir", directory, "--port",
         str(_process.free_port()), "--fabric-only"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        ready = threading.Event()
        lines = []

        def read():
            for line in proc.stdout:
                lines.append(line.strip())
                if line.strip().endswith("dxlclient.config"):
                    ready.set()

        threading.Thread(target=read, daemon=True).start()
        assert ready.wait(60), lines
        code, info = status(directory)
        assert code == 0, info
        pids = [info["processes"][name]["pid"] for name in ("broker", "fabric_services")]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
        assert not any(_process.is_running(pid) for pid in pids)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_usage_errors_exit_2():
    assert cli("up", "--port", "70000").returncode == 2
    assert cli("frobnicate").returncode == 2
