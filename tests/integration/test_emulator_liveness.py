"""
Issue #9 point 3: a dead TIE emulator is unregistered within seconds (its connection's last
will), so clients get the broker's immediate "unable to locate service" error instead of
timeouts; ``up`` brings it back.
"""

import os
import signal
import time

import pytest
from fabric_helpers import connected, private_sandbox, registry, wait_for

from dxltieclient import TieClient, TieServiceNotFoundError
from dxltieclient.sandbox.tie.seed import EICAR_HASHES

#: How soon after kill -9 a request must fail with TieServiceNotFoundError (seconds).
UNREGISTERED_WITHIN = 5.0


@pytest.fixture(scope="module")
def own_sandbox(tmp_path_factory):
    yield from private_sandbox(tmp_path_factory, "liveness-sandbox")


def test_a_killed_emulator_is_unregistered_within_seconds(own_sandbox):
    with connected(own_sandbox.config_file) as client:
        tie_client = TieClient(client)
        assert tie_client.get_file_reputation(EICAR_HASHES)
        pid = own_sandbox.status()["processes"]["tie_emulator"]["pid"]
        killed = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        # A request sent in the instant between the kill and the broker noticing it is lost
        # (as on a real broker): wait for the registration to go, then ask.
        assert wait_for(lambda: not registry(client, "/mcafee/service/tie"),
                        timeout=UNREGISTERED_WITHIN), "the dead emulator is still registered"
        unregistered = time.monotonic() - killed
        with pytest.raises(TieServiceNotFoundError) as error:
            tie_client.get_file_reputation(EICAR_HASHES)
        elapsed = time.monotonic() - killed
        print("kill -9: unregistered after {:.2f} s, 'no service' error after {:.2f} s".format(
            unregistered, elapsed))
        assert elapsed < UNREGISTERED_WITHIN
        assert error.value.error_code == 0x80000001 - (1 << 32)
    own_sandbox.up()  # restarts the emulator
    with connected(own_sandbox.config_file) as client:
        assert TieClient(client).get_file_reputation(EICAR_HASHES)


def test_the_emulator_registers_again_when_the_fabric_services_restart(own_sandbox, tmp_path):
    """New fabric services start with an empty registry: the running emulator registers again
    on their announcement, so it need not be restarted (issue #9 point 2, the emulator's side)."""
    import subprocess
    import sys

    from fabric_helpers import registry, wait_for

    own_sandbox.up()
    status = own_sandbox.status()
    emulator_pid = status["processes"]["tie_emulator"]["pid"]
    fabric_pid = status["processes"]["fabric_services"]["pid"]
    fabric_config = os.path.join(own_sandbox.directory, "clients", "dxl-fabric-services",
                                 "dxlclient.config")
    assert os.path.isfile(fabric_config)
    os.kill(fabric_pid, signal.SIGKILL)
    log_file = str(tmp_path / "fabric.log")
    with open(log_file, "wb") as log:
        fabric = subprocess.Popen(
            [sys.executable, "-m", "dxltieclient.sandbox.fabric_services", "--config",
             fabric_config], stdout=log, stderr=subprocess.STDOUT)
    try:
        def ready():
            with open(log_file, "rb") as log:
                return b"Fabric services ready" in log.read()

        assert wait_for(ready, timeout=30), "the new fabric services did not start"
        started = time.monotonic()
        with connected(own_sandbox.config_file) as client:
            assert wait_for(lambda: registry(client, "/mcafee/service/tie"), timeout=20), \
                "the emulator did not register with the new fabric services"
            print("registered again {:.2f} s after the new fabric services started".format(
                time.monotonic() - started))
            assert TieClient(client).get_file_reputation(EICAR_HASHES)
        assert own_sandbox.status()["processes"]["tie_emulator"]["pid"] == emulator_pid
    finally:
        own_sandbox.down()  # the emulator unregisters from the new fabric services
        fabric.terminate()
        fabric.wait(10)
