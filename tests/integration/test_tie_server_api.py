"""
The rest of the TIE Server API (issue #10) end to end on the sandbox (a real Mosquitto broker and
the TIE emulator): targeted reputation changes reach only the clients that looked the file up,
prevalence events grow to ``prevalent``, reputation-updates paging returns every change exactly
once, metadata updates are stored (``sandbox show``), malformed ones change nothing.

Three DXL clients of the same certificate stand for three systems: the emulator tells them apart
by their dxlclient ids (Mosquitto stamps no canonical id).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
import time
import uuid
from contextlib import ExitStack
from typing import Any, Callable, Dict, Iterator, List, Tuple

import pytest
from dxlclient.message import Request

from dxltieclient import TieClient, TrustLevel, _wire
from dxltieclient.callbacks import FilePrevalenceCallback, ReputationChangeCallback
from dxltieclient.client import TIE_UPDATE_FILE_METADATA_TOPIC
from dxltieclient.sandbox import connected_client

WAIT = 10.0


def new_hashes() -> Dict[str, str]:
    seed = uuid.uuid4().bytes
    return {"md5": hashlib.md5(seed).hexdigest(), "sha1": hashlib.sha1(seed).hexdigest(),
            "sha256": hashlib.sha256(seed).hexdigest()}


class Collector:
    """Collects what a callback receives; waits (bounded) for a matching item."""

    def __init__(self) -> None:
        self.items: List[Dict[str, Any]] = []
        self._condition = threading.Condition()

    def add(self, item: Dict[str, Any]) -> None:
        with self._condition:
            self.items.append(item)
            self._condition.notify_all()

    def wait_for(self, match: Callable[[Dict[str, Any]], bool]) -> Dict[str, Any]:
        with self._condition:
            assert self._condition.wait_for(
                lambda: any(match(item) for item in self.items), WAIT), self.items
            return next(item for item in self.items if match(item))

    def matching(self, match: Callable[[Dict[str, Any]], bool]) -> List[Dict[str, Any]]:
        with self._condition:
            return [item for item in self.items if match(item)]


class RepCollector(ReputationChangeCallback):
    def __init__(self) -> None:
        super().__init__()
        self.collector = Collector()

    def on_reputation_change(self, rep_change_dict: Dict[str, Any], original_event: Any) -> None:
        self.collector.add(rep_change_dict)


class PrevalenceCollector(FilePrevalenceCallback):
    def __init__(self) -> None:
        super().__init__()
        self.collector = Collector()

    def on_prevalence(self, prevalence_dict: Dict[str, Any], original_event: Any) -> None:
        self.collector.add(prevalence_dict)


@pytest.fixture(scope="module")
def three(tie_sandbox: Any) -> Iterator[List[Tuple[Any, TieClient]]]:
    """Three connected clients (three "systems"), with their TieClients."""
    with ExitStack() as stack:
        clients = [stack.enter_context(connected_client(tie_sandbox.config_file))
                   for _ in range(3)]
        yield [(client, TieClient(client)) for client in clients]


def _has(hashes: Dict[str, str]) -> Callable[[Dict[str, Any]], bool]:
    return lambda item: item.get("hashes", {}).get("md5") == hashes["md5"]


def test_targeted_change_reaches_only_the_clients_that_looked_the_file_up(
        three: List[Tuple[Any, TieClient]]) -> None:
    (_, tie_a), (_, tie_b), _ = three
    on_a, on_b, broadcast_b = RepCollector(), RepCollector(), RepCollector()
    tie_a.add_file_targeted_reputation_change_callback(on_a)
    tie_b.add_file_targeted_reputation_change_callback(on_b)
    tie_b.add_file_reputation_change_callback(broadcast_b)
    try:
        looked_up_by_a, looked_up_by_b = new_hashes(), new_hashes()
        tie_a.get_file_reputation(looked_up_by_a)
        tie_b.get_file_reputation(looked_up_by_b)
        tie_a.set_file_reputation(TrustLevel.KNOWN_MALICIOUS, looked_up_by_a)
        tie_a.set_file_reputation(TrustLevel.KNOWN_TRUSTED, looked_up_by_b)
        change = on_a.collector.wait_for(_has(looked_up_by_a))
        assert change["newReputations"][3]["trustLevel"] == TrustLevel.KNOWN_MALICIOUS
        # B's client handles its messages in order (one incoming thread): once B has its own
        # targeted event (sent after A's), A's event has reached B and been dropped.
        on_b.collector.wait_for(_has(looked_up_by_b))
        broadcast_b.collector.wait_for(_has(looked_up_by_a))
        assert on_b.collector.matching(_has(looked_up_by_a)) == []
        assert on_a.collector.matching(_has(looked_up_by_b)) == []
    finally:
        tie_a.remove_file_targeted_reputation_change_callback(on_a)
        tie_b.remove_file_targeted_reputation_change_callback(on_b)
        tie_b.remove_file_reputation_change_callback(broadcast_b)


def test_targeted_certificate_change(three: List[Tuple[Any, TieClient]]) -> None:
    (_, tie_a), _, _ = three
    sha1 = hashlib.sha1(uuid.uuid4().bytes).hexdigest()
    on_a = RepCollector()
    tie_a.add_certificate_targeted_reputation_change_callback(on_a)
    try:
        tie_a.get_certificate_reputation(sha1)
        tie_a.set_certificate_reputation(TrustLevel.MOST_LIKELY_MALICIOUS, sha1)
        change = on_a.collector.wait_for(lambda item: item["hashes"].get("sha1") == sha1)
        assert change["newReputations"][4]["trustLevel"] == TrustLevel.MOST_LIKELY_MALICIOUS
    finally:
        tie_a.remove_certificate_targeted_reputation_change_callback(on_a)


def test_prevalence_events_grow_to_prevalent(three: List[Tuple[Any, TieClient]]) -> None:
    listener = PrevalenceCollector()
    (client_a, tie_a), _, _ = three
    tie_a.add_file_prevalence_callback(listener)
    try:
        hashes = new_hashes()
        for count, (dxl_client, tie) in enumerate(three, start=1):
            tie.get_file_reputation(hashes)
            event = listener.collector.wait_for(
                lambda item, count=count: _has(hashes)(item) and item["enterpriseCount"] == count)
            assert event["agentGuid"] == dxl_client.config._client_id
            assert event["hashes"] == hashes
            assert isinstance(event["agentFirstReference"], int)
            assert event["prevalent"] is (count == 3)  # the sandbox's threshold is 3
    finally:
        tie_a.remove_file_prevalence_callback(listener)


def _next_second() -> None:
    """Waits (bounded) until the clock enters a new second, so changes land in distinct ones."""
    start = int(time.time())
    deadline = time.monotonic() + 2.0
    while int(time.time()) == start and time.monotonic() < deadline:
        time.sleep(0.02)


def test_updates_paging_returns_every_change_exactly_once(
        three: List[Tuple[Any, TieClient]]) -> None:
    _, _, (_, tie_c) = three
    since = int(time.time())
    changed = []
    for _ in range(3):  # three seconds, two changes each, pages of three
        _next_second()
        for _ in range(2):
            hashes = new_hashes()
            tie_c.get_file_reputation(hashes)  # so that a targeted query lists it
            tie_c.set_file_reputation(TrustLevel.MIGHT_BE_TRUSTED, hashes)
            changed.append(hashes["sha256"])
    pages = list(tie_c.iter_reputation_updates(since, query_limit=3, targeted=True,
                                               file_hash_type="sha256"))
    listed = [entry["sha256"] for page in pages for entry in page["fileHashes"]]
    assert sorted(listed) == sorted(changed)
    assert len(pages) >= 2 and pages[-1]["queryLimitExceeded"] is False
    assert all(page["certificateHashes"] == [] for page in pages)
    single = tie_c.get_reputation_updates(since, query_limit=5000, targeted=True)
    assert len(single["fileHashes"]) == 6 and not single["queryLimitExceeded"]
    assert all(list(entry) == ["sha1"] for entry in single["fileHashes"])


def _show(sandbox: Any, value: str) -> Tuple[int, str]:
    done = subprocess.run([sys.executable, "-m", "dxltieclient.sandbox", "show", value,
                           "--dir", sandbox.directory], capture_output=True, text=True,
                          timeout=60)
    return done.returncode, done.stdout


def _wait_shown(sandbox: Any, value: str, match: Callable[[Dict[str, Any]], bool]) -> Any:
    deadline = time.monotonic() + WAIT
    while True:
        code, out = _show(sandbox, value)
        if code == 0 and match(json.loads(out)):
            return json.loads(out)
        assert time.monotonic() < deadline, out
        time.sleep(0.2)


def test_metadata_is_stored_and_malformed_updates_change_nothing(
        tie_sandbox: Any, three: List[Tuple[Any, TieClient]]) -> None:
    (client_a, tie_a), _, _ = three
    bad, good = new_hashes(), new_hashes()
    malformed = Request(TIE_UPDATE_FILE_METADATA_TOPIC)
    malformed.payload = json.dumps({"hashes": _wire.hashes_to_wire(bad), "name": "bad.exe",
                                    "size": "not a number"}).encode("utf-8")
    client_a.async_request(malformed)
    tie_a.update_file_metadata(good, name="good.exe", size=1234, agentGuid="{agent}",
                               actorSha1="ab" * 20)
    shown = _wait_shown(tie_sandbox, good["sha256"],
                        lambda found: bool(found["file"]["metadata"]))
    [stored] = shown["file"]["metadata"]
    assert stored["fields"] == {"name": "good.exe", "size": 1234, "agentGuid": "{agent}",
                                "actorSha1": "ab" * 20}
    assert stored["source"] == client_a.config._client_id
    tie_a.get_file_reputation(new_hashes())  # one more round trip through the emulator
    assert _show(tie_sandbox, bad["md5"])[0] == 1


def test_certificate_metadata_is_stored(tie_sandbox: Any,
                                        three: List[Tuple[Any, TieClient]]) -> None:
    (_, tie_a), _, _ = three
    sha1 = hashlib.sha1(uuid.uuid4().bytes).hexdigest()
    tie_a.update_certificate_metadata(sha1, subject="CN=test", validFrom=1, validTo=2)
    shown = _wait_shown(tie_sandbox, sha1, lambda found: bool(
        found.get("certificate", {}).get("metadata")))
    assert shown["certificate"]["metadata"][0]["fields"] == {"subject": "CN=test",
                                                             "validFrom": 1, "validTo": 2}
