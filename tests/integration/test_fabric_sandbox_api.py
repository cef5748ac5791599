"""The :class:`dxltieclient.sandbox.Sandbox` API on the session sandbox: status, up, emit."""

import json
import os
import subprocess
import sys
import threading

from fabric_helpers import connected, registry, wait_for

from dxltieclient import DetectionCallback, TieClient
from dxltieclient.sandbox import Sandbox, _process

MD5 = "f2c7bb8acc97f92e987a2d4087d021b1"


def test_status_describes_the_running_sandbox(tie_sandbox):
    info = tie_sandbox.status()
    assert info["running"] is True
    assert info["fabric_only"] is False
    assert info["port"] == tie_sandbox.port
    assert info["config_file"] == tie_sandbox.config_file == \
        os.path.join(tie_sandbox.directory, "dxlclient.config")
    assert info["store_file"] == tie_sandbox.store_file == \
        os.path.join(tie_sandbox.directory, "tie.sqlite")
    assert os.path.isfile(tie_sandbox.store_file)
    for name in ("broker", "fabric_services", "tie_emulator"):
        assert _process.is_running(info["processes"][name]["pid"]), name
    # the seeded notepad.exe and EICAR files and the example certificate, at least
    assert info["counts"]["files"] >= 2
    assert info["counts"]["certificates"] >= 1
    assert info["counts"]["references"] >= 1


def test_status_command_prints_the_store_counts(tie_sandbox):
    result = subprocess.run(
        [sys.executable, "-m", "dxltieclient.sandbox", "status", "--dir", tie_sandbox.directory],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "store holds:" in result.stdout
    assert "{} files".format(tie_sandbox.status()["counts"]["files"]) in result.stdout


def test_up_on_a_running_sandbox_returns_the_config_and_keeps_the_processes(tie_sandbox):
    before = tie_sandbox.status()["processes"]
    # another Sandbox object on the same directory: the state lives in the directory
    assert Sandbox(tie_sandbox.directory).up() == tie_sandbox.config_file
    assert tie_sandbox.status()["processes"] == before


def test_emulator_is_registered_once_on_the_fabric(tie_sandbox):
    with connected(tie_sandbox.config_file) as client:
        services = registry(client, "/mcafee/service/tie")
    assert len(services) == 1
    [service] = services.values()
    assert "/mcafee/service/tie/file/reputation" in service["requestChannels"]


def test_emit_detection_reaches_a_detection_callback(tie_sandbox):
    received = []
    arrived = threading.Event()

    class Callback(DetectionCallback):
        def on_detection(self, detection_dict, original_event):
            received.append((detection_dict, original_event))
            arrived.set()

    with connected(tie_sandbox.config_file) as client:
        TieClient(client).add_file_detection_callback(Callback())
        tie_sandbox.emit_detection({"md5": MD5}, "{agent-7}", "bad.exe", local_reputation=15,
                                   remediation_action=5, detection_time=1700000000)
        assert arrived.wait(10)
    detection, event = received[0]
    assert detection["agentGuid"] == "{agent-7}"
    assert detection["name"] == "bad.exe"
    assert detection["hashes"] == {"md5": MD5}
    assert json.loads(event.payload.decode("utf-8"))["detectionTime"] == 1700000000


def test_fabric_only_sandbox_has_no_tie_service(tie_fabric):
    info = tie_fabric.status()
    assert info["fabric_only"] is True and info["running"] is True
    assert info["processes"]["tie_emulator"]["running"] is False
    with connected(tie_fabric.config_file) as client:
        assert registry(client, "/mcafee/service/tie") == {}


def test_watchdog_stops_the_sandbox_of_a_killed_owner(tmp_path):
    directory = str(tmp_path / "orphan")
    owner_code = (
        "import sys, time\n"
        "from dxltieclient.sandbox import Sandbox\n"
        "sandbox = Sandbox(sys.argv[1])\n"
        "sandbox.up(fabric_only=True)\n"
        "sandbox.start_watchdog()\n"
        "print('ready', flush=True)\n"
        "time.sleep(120)\n"
    )
    owner = subprocess.Popen([sys.executable, "-c", owner_code, directory],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert owner.stdout.readline().strip() == "ready"
        info = Sandbox(directory).status()
        pids = [info["processes"][k]["pid"] for k in ("broker", "fabric_services")]
        assert all(_process.is_running(pid) for pid in pids)
        owner.kill()  # no teardown: the watchdog must clean up
        owner.wait(10)
        assert wait_for(lambda: not any(_process.is_running(pid) for pid in pids), timeout=30)
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait(10)
        Sandbox(directory).down()
