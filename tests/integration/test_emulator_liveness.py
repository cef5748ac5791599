"""
Issue #9 point 3: a dead TIE emulator is unregistered within seconds (its connection's last
will), so clients get the broker's immediate "unable to locate service" error instead of
timeouts; ``up`` brings it back.
"""

import os
import signal
import time

import pytest
from fabric_helpers import connected, registry, wait_for

from dxltieclient import TieClient, TieServiceNotFoundError
from dxltieclient.sandbox import Sandbox
from dxltieclient.sandbox.tie.seed import EICAR_HASHES

#: How soon after kill -9 a request must fail with TieServiceNotFoundError (seconds).
UNREGISTERED_WITHIN = 5.0


@pytest.fixture(scope="module")
def own_sandbox(tmp_path_factory):
    sandbox = Sandbox(str(tmp_path_factory.mktemp("liveness-sandbox")))
    try:
        sandbox.up()
        yield sandbox
    finally:
        sandbox.down()


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
