"""
The TIE emulator's life cycle against a real broker, on a sandbox of this module's own (the
session's sandbox is shared, and these tests stop and restart the emulator): ``serve`` run
in-process on a fabric-only sandbox, the store surviving ``down()``/``up()``, and the emulated
server delay.
"""

from __future__ import annotations

import hashlib
import os
import signal
import threading
import time
import uuid
from typing import Any, Dict, Iterator, List

import pytest
from dxlclient.callbacks import ResponseCallback
from dxlclient.message import Message, Request
from fabric_helpers import private_sandbox

from dxltieclient import FileProvider, TieClient, TrustLevel, _wire
from dxltieclient.client import TIE_GET_FILE_REPUTATION_TOPIC
from dxltieclient.sandbox import Sandbox, _process, connected_client
from dxltieclient.sandbox.tie import emulator
from dxltieclient.sandbox.tie.seed import NOTEPAD_HASHES, SEED_AGENTS
from dxltieclient.sandbox.tie.store import Store

WAIT = 15.0
#: dxlclient's reading of the broker's "no service" error code 0x80000001.
SERVICE_NOT_FOUND = (0x80000001, 0x80000001 - (1 << 32))


def new_hashes() -> Dict[str, str]:
    seed = uuid.uuid4().bytes
    return {"md5": hashlib.md5(seed).hexdigest(), "sha1": hashlib.sha1(seed).hexdigest()}


connected = connected_client


def lookup_request(hashes: Dict[str, str]) -> Request:
    request = Request(TIE_GET_FILE_REPUTATION_TOPIC)
    request.payload = _wire.encode_json(_wire.file_reputation_request(hashes))
    return request


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    yield from private_sandbox(tmp_path_factory, "tie-lifecycle", up=False)


def test_serve_in_process_on_a_fabric_only_sandbox(sandbox: Sandbox, tmp_path: Any) -> None:
    sandbox.up(fabric_only=True)
    emulator_config = sandbox.provision("tie-in-process")
    stop = threading.Event()
    ready = threading.Event()
    failures: List[BaseException] = []

    def run() -> None:
        try:
            emulator.serve(emulator_config, str(tmp_path / "in-process.sqlite"), 0.0, stop,
                           ready.set)
        except BaseException as error:  # noqa: BLE001  (reported by the test below)
            failures.append(error)
            ready.set()

    thread = threading.Thread(target=run, name="test-serve", daemon=True)
    thread.start()
    try:
        assert ready.wait(60), "serve never called on_ready"
        assert not failures, failures
        with connected(sandbox.config_file) as client:
            reputations = TieClient(client).get_file_reputation(NOTEPAD_HASHES)
            assert reputations[FileProvider.GTI]["trustLevel"] == TrustLevel.KNOWN_TRUSTED
            stop.set()
            thread.join(WAIT)
            assert not thread.is_alive(), "serve did not return after stop_event was set"
            # the service unregistered: the fabric answers "no service" now
            response = client.sync_request(lookup_request(NOTEPAD_HASHES), timeout=WAIT)
            assert response.message_type == Message.MESSAGE_TYPE_ERROR
            assert response.error_code in SERVICE_NOT_FOUND
    finally:
        stop.set()
        thread.join(WAIT)
    assert not failures, failures
    store = Store(str(tmp_path / "in-process.sqlite"))
    try:
        assert store.find_file(NOTEPAD_HASHES) is not None  # seeded on first use
    finally:
        store.close()


def test_the_store_survives_down_and_up(sandbox: Sandbox) -> None:
    config_file = sandbox.up()
    hashes = new_hashes()
    with connected(config_file) as client:
        tie = TieClient(client)
        tie.set_file_reputation(TrustLevel.MOST_LIKELY_TRUSTED, hashes, filename="kept.exe")
        tie.get_file_reputation(hashes)
        guid = client.config._client_id
    sandbox.down()
    assert not sandbox.status()["running"]
    assert sandbox.up() == config_file
    with connected(config_file) as client:
        tie = TieClient(client)
        assert [agent["agentGuid"] for agent in tie.get_file_first_references(hashes)] == [guid]
        reputations = tie.get_file_reputation({"sha1": hashes["sha1"]})
        assert reputations[FileProvider.ENTERPRISE]["trustLevel"] == \
            TrustLevel.MOST_LIKELY_TRUSTED
        # the seed was not added twice
        notepad_refs = tie.get_file_first_references(NOTEPAD_HASHES)
        guids = [ref["agentGuid"] for ref in notepad_refs]
        assert guids[:len(SEED_AGENTS)] == [seeded for seeded, _ in SEED_AGENTS]
        assert len(set(guids)) == len(guids)
    store = Store(sandbox.store_file)
    try:
        assert store.counts()["certificates"] == 1
    finally:
        store.close()


class Timed(ResponseCallback):
    """Records when each response arrives."""

    def __init__(self, expected: int) -> None:
        super().__init__()
        self.expected = expected
        self.arrivals: List[float] = []
        self.errors: List[Any] = []
        self.lock = threading.Lock()
        self.done = threading.Event()

    def on_response(self, response: Any) -> None:
        with self.lock:
            self.arrivals.append(time.monotonic())
            if response.message_type == Message.MESSAGE_TYPE_ERROR:
                self.errors.append(response.error_message)
            if len(self.arrivals) == self.expected:
                self.done.set()


def test_the_emulated_delay(sandbox: Sandbox) -> None:
    delay = 0.4
    config_file = sandbox.up(delay_ms=delay * 1000)
    assert sandbox.status()["delay_ms"] == delay * 1000
    try:
        with connected(config_file) as client:
            start = time.monotonic()
            response = client.sync_request(lookup_request(NOTEPAD_HASHES), timeout=WAIT)
            assert time.monotonic() - start >= delay
            assert response.message_type == Message.MESSAGE_TYPE_RESPONSE
            count = 24
            timed = Timed(count)
            start = time.monotonic()
            for _ in range(count):
                client.async_request(lookup_request(new_hashes()), timed)
            assert timed.done.wait(WAIT)
            assert not timed.errors, timed.errors
            assert min(timed.arrivals) - start >= delay  # none sooner than the delay
            # the requests overlap: one after the other would take count * delay = 9.6 s
            assert max(timed.arrivals) - start < 4 * delay
    finally:
        sandbox.up(delay_ms=0.0)


def test_up_restarts_dead_fabric_services_and_the_emulator_registers_again(
        sandbox: Sandbox) -> None:
    sandbox.up()
    processes = sandbox.status()["processes"]
    fabric_pid = processes["fabric_services"]["pid"]
    emulator_pid = processes["tie_emulator"]["pid"]
    os.kill(fabric_pid, signal.SIGKILL)
    # SIGKILL is delivered asynchronously: until the process is gone, up() rightly sees it running.
    assert _process.wait_exit(fabric_pid, WAIT), "fabric services survived SIGKILL"
    sandbox.up()  # new fabric services have an empty registry: the emulator registers again
    processes = sandbox.status()["processes"]
    assert processes["fabric_services"]["pid"] not in (None, fabric_pid)
    assert processes["tie_emulator"]["pid"] == emulator_pid  # not restarted
    with connected(sandbox.config_file) as client:
        reputations = TieClient(client).get_file_reputation(dict(NOTEPAD_HASHES))
    assert reputations[FileProvider.GTI]["trustLevel"] == TrustLevel.KNOWN_TRUSTED


def test_restart_broker_returns_once_the_emulator_answers_again(sandbox: Sandbox) -> None:
    sandbox.up()
    sandbox.restart_broker()
    with connected(sandbox.config_file) as client:
        response = client.sync_request(lookup_request(dict(NOTEPAD_HASHES)), timeout=10)
    assert response.message_type == Message.MESSAGE_TYPE_RESPONSE, response
