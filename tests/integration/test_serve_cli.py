"""
``python -m dxltieclient.sandbox serve --config FILE``: the TIE emulator alone, unchanged, on a
fabric it did not start (here a fabric-only sandbox of its own, standing in for a real OpenDXL
broker, so that nothing it registers can leak into the session's shared fabric), registering with
``register_service_sync`` and unregistering when stopped.
"""

import signal
import subprocess
import sys

import pytest
from fabric_helpers import connected, private_sandbox, registry, wait_for

from dxltieclient import FileProvider, ReputationProp, TieClient, TieServiceNotFoundError
from dxltieclient.sandbox.tie.seed import NOTEPAD_HASHES

TIE_SERVICE = "/mcafee/service/tie"


@pytest.fixture(scope="module")
def other_fabric(tmp_path_factory):
    yield from private_sandbox(tmp_path_factory, "other-fabric", fabric_only=True)


def test_serve_runs_the_emulator_on_an_existing_fabric(other_fabric, tmp_path):
    emulator_config = other_fabric.provision("external-tie-server")
    store = tmp_path / "tie.sqlite"
    log = open(tmp_path / "serve.log", "wb")
    serve = subprocess.Popen(
        [sys.executable, "-m", "dxltieclient.sandbox", "serve", "--config", emulator_config,
         "--store", str(store)], stdout=log, stderr=subprocess.STDOUT)
    try:
        with connected(other_fabric.config_file) as client:
            assert wait_for(lambda: registry(client, TIE_SERVICE), timeout=30), \
                (tmp_path / "serve.log").read_text()
            tie_client = TieClient(client)
            reputations = tie_client.get_file_reputation(dict(NOTEPAD_HASHES))
            assert reputations[FileProvider.GTI][ReputationProp.TRUST_LEVEL] == 99
            assert store.is_file()

            serve.send_signal(signal.SIGTERM)
            assert serve.wait(timeout=30) == 0, (tmp_path / "serve.log").read_text()
            assert not registry(client, TIE_SERVICE)
            with pytest.raises(TieServiceNotFoundError):
                tie_client.get_file_reputation(dict(NOTEPAD_HASHES))
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait(timeout=10)
        log.close()
