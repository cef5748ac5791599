"""
The TIE emulator end to end through a real broker (the session's ``tie_sandbox``): every
:class:`TieClient` method, every callback class, and malformed requests sent raw with dxlclient.

The sandbox is shared by the session, so these tests change only files and certificates they make
up themselves (the seeded entries are only read), and pick their own events out by hashes.
"""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from typing import Any, Callable, Dict, Iterator, List

import pytest
from dxlclient.message import Message, Request

from dxltieclient import (
    CertProvider,
    DetectionCallback,
    FileProvider,
    FileType,
    FirstInstanceCallback,
    ReputationChangeCallback,
    TieClient,
    TrustLevel,
    _wire,
)
from dxltieclient.client import (
    TIE_EVENT_CERT_REPUTATION_CHANGE_TOPIC,
    TIE_EVENT_FILE_DETECTION_TOPIC,
    TIE_EVENT_FILE_FIRST_INSTANCE_TOPIC,
    TIE_EVENT_FILE_REPUTATION_CHANGE_TOPIC,
    TIE_GET_CERT_REPUTATION_TOPIC,
    TIE_GET_FILE_FIRST_REFS,
    TIE_GET_FILE_REPUTATION_TOPIC,
    TIE_SET_FILE_REPUTATION_TOPIC,
)
from dxltieclient.sandbox import connected_client

NOTEPAD = {"md5": "f2c7bb8acc97f92e987a2d4087d021b1",
           "sha1": "7eb0139d2175739b3ccb0d1110067820be6abd29",
           "sha256": "142e1d688ef0568370c37187fd9f2351d7ddeda574f8bfa9b0fa4ef42db85aa2"}
EICAR_SHA256 = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"
CERT_SHA1 = "6EAE26DB8C13182A7947982991B4321732CC3DE2"
CERT_PUBLIC_KEY_SHA1 = "3B87A2D6F39770160364B79A152FCC73BAE27ADF"
SEED_AGENT = "{68125cd6-a5d8-11e6-348e-000c29663178}"
#: Seconds to wait for an event or a reply.
WAIT = 10.0
#: The emulator's error code for malformed requests.
ERROR_INVALID_REQUEST = 400


def new_hashes() -> Dict[str, str]:
    """The hashes of a file nobody has seen."""
    seed = uuid.uuid4().bytes
    return {"md5": hashlib.md5(seed).hexdigest(), "sha1": hashlib.sha1(seed).hexdigest(),
            "sha256": hashlib.sha256(seed).hexdigest()}


def new_sha1() -> str:
    return hashlib.sha1(uuid.uuid4().bytes).hexdigest()


def client_guid(dxl_client: Any) -> str:
    """The agent GUID the emulator records for a client: its client id."""
    return str(dxl_client.config._client_id)


class Waiter:
    """Collects the ``(dict, event)`` pairs a callback hook receives and waits for a match."""

    def __init__(self) -> None:
        self.received: List[Any] = []
        self._condition = threading.Condition()

    def add(self, payload: Dict[str, Any], event: Any) -> None:
        with self._condition:
            self.received.append((payload, event))
            self._condition.notify_all()

    def wait_for(self, match: Callable[[Dict[str, Any]], bool],
                 timeout: float = WAIT) -> Dict[str, Any]:
        found: List[Any] = []

        def matched() -> bool:
            found[:] = [pair for pair in self.received if match(pair[0])]
            return bool(found)

        with self._condition:
            assert self._condition.wait_for(matched, timeout), \
                "no matching event within {} s; got {}".format(timeout, self.received)
        payload, event = found[0]
        payload["__topic__"] = event.destination_topic
        return payload


class RepChange(ReputationChangeCallback):
    def __init__(self, waiter: Waiter) -> None:
        super().__init__()
        self.waiter = waiter

    def on_reputation_change(self, rep_change_dict: Dict[str, Any], original_event: Any) -> None:
        self.waiter.add(rep_change_dict, original_event)


class Detection(DetectionCallback):
    def __init__(self, waiter: Waiter) -> None:
        super().__init__()
        self.waiter = waiter

    def on_detection(self, detection_dict: Dict[str, Any], original_event: Any) -> None:
        self.waiter.add(detection_dict, original_event)


class FirstInstance(FirstInstanceCallback):
    def __init__(self, waiter: Waiter) -> None:
        super().__init__()
        self.waiter = waiter

    def on_first_instance(self, first_instance_dict: Dict[str, Any],
                          original_event: Any) -> None:
        self.waiter.add(first_instance_dict, original_event)


def raw_request(dxl_client: Any, topic: str, payload: bytes) -> Any:
    request = Request(topic)
    request.payload = payload
    return dxl_client.sync_request(request, timeout=WAIT)


@pytest.fixture(scope="module")
def tie_dxl_client(tie_sandbox: Any) -> Iterator[Any]:
    """One connected client for the module (connecting and destroying one costs about 1 s)."""
    with connected_client(tie_sandbox.config_file) as client:
        yield client


@pytest.fixture(scope="module")
def tie_client(tie_dxl_client: Any) -> TieClient:
    """A TieClient over the module's client (tests remove the callbacks they add)."""
    return TieClient(tie_dxl_client)


# ---------------------------------------------------------------------------------------------
# TieClient methods
# ---------------------------------------------------------------------------------------------

def test_get_file_reputation_of_seeded_notepad(tie_client: TieClient) -> None:
    reputations = tie_client.get_file_reputation(NOTEPAD)
    assert sorted(reputations) == [FileProvider.GTI, FileProvider.ENTERPRISE]
    assert all(type(key) is int for key in reputations)
    assert reputations[FileProvider.GTI]["trustLevel"] == TrustLevel.KNOWN_TRUSTED
    assert reputations[FileProvider.GTI]["providerId"] == 1
    enterprise = reputations[FileProvider.ENTERPRISE]["attributes"]
    assert int(enterprise["2101652"]) >= 4  # PREVALENCE: 3 seeded systems and this client


def test_get_file_reputation_of_seeded_eicar_by_one_hash(tie_client: TieClient) -> None:
    reputations = tie_client.get_file_reputation({"sha256": EICAR_SHA256})
    assert sorted(reputations) == [FileProvider.GTI, FileProvider.ENTERPRISE, FileProvider.ATD]
    assert reputations[FileProvider.GTI]["trustLevel"] == TrustLevel.KNOWN_MALICIOUS


def test_set_file_reputation_then_get(tie_client: TieClient) -> None:
    hashes = new_hashes()
    assert tie_client.set_file_reputation(TrustLevel.MIGHT_BE_MALICIOUS, hashes,
                                          filename="x.exe", comment="test") is None
    reputations = tie_client.get_file_reputation({"sha1": hashes["sha1"]})
    assert reputations[FileProvider.ENTERPRISE]["trustLevel"] == TrustLevel.MIGHT_BE_MALICIOUS
    tie_client.set_file_reputation(TrustLevel.KNOWN_TRUSTED, {"md5": hashes["md5"]})
    reputations = tie_client.get_file_reputation(hashes)
    assert reputations[FileProvider.ENTERPRISE]["trustLevel"] == TrustLevel.KNOWN_TRUSTED


def test_an_unknown_file_gets_nothing_definitive(tie_client: TieClient) -> None:
    reputations = tie_client.get_file_reputation(new_hashes())
    assert reputations[FileProvider.GTI]["trustLevel"] == TrustLevel.UNKNOWN
    assert reputations[FileProvider.ENTERPRISE]["trustLevel"] == TrustLevel.NOT_SET


def test_file_first_references_include_the_caller(tie_client: TieClient,
                                                  tie_dxl_client: Any) -> None:
    hashes = new_hashes()
    assert tie_client.get_file_first_references(hashes) == []
    tie_client.get_file_reputation(hashes)
    agents = tie_client.get_file_first_references(hashes)
    assert [agent["agentGuid"] for agent in agents] == [client_guid(tie_dxl_client)]
    assert isinstance(agents[0]["date"], int)


def test_file_first_references_of_notepad_honour_the_query_limit(
        tie_client: TieClient) -> None:
    agents = tie_client.get_file_first_references(NOTEPAD, query_limit=2)
    assert len(agents) == 2
    assert agents[0]["agentGuid"] == SEED_AGENT
    assert agents[0]["date"] <= agents[1]["date"]
    assert len(tie_client.get_file_first_references(NOTEPAD)) >= 3


def test_get_certificate_reputation_of_the_example_certificate(tie_client: TieClient) -> None:
    for public_key in (CERT_PUBLIC_KEY_SHA1, None):
        reputations = tie_client.get_certificate_reputation(CERT_SHA1, public_key)
        assert sorted(reputations) == [CertProvider.GTI, CertProvider.ENTERPRISE]
        assert reputations[CertProvider.GTI]["trustLevel"] == TrustLevel.KNOWN_TRUSTED
        assert "2109589" in reputations[CertProvider.ENTERPRISE]["attributes"]


def test_set_certificate_reputation_then_get(tie_client: TieClient) -> None:
    sha1, public_key = new_sha1(), new_sha1()
    tie_client.set_certificate_reputation(TrustLevel.MOST_LIKELY_MALICIOUS, sha1, public_key,
                                          comment="test")
    reputations = tie_client.get_certificate_reputation(sha1, public_key)
    assert reputations[CertProvider.ENTERPRISE]["trustLevel"] == \
        TrustLevel.MOST_LIKELY_MALICIOUS


def test_certificate_first_references(tie_client: TieClient, tie_dxl_client: Any) -> None:
    sha1 = new_sha1()
    assert tie_client.get_certificate_first_references(sha1) == []
    tie_client.get_certificate_reputation(sha1)
    agents = tie_client.get_certificate_first_references(sha1, query_limit=10)
    assert [agent["agentGuid"] for agent in agents] == [client_guid(tie_dxl_client)]
    seeded = tie_client.get_certificate_first_references(CERT_SHA1, CERT_PUBLIC_KEY_SHA1, 1)
    assert seeded == [{"agentGuid": SEED_AGENT, "date": seeded[0]["date"]}]


def test_external_report_is_visible_as_provider_15(tie_client: TieClient) -> None:
    hashes = new_hashes()
    waiter = Waiter()
    callback = RepChange(waiter)
    tie_client.add_file_reputation_change_callback(callback)
    try:
        tie_client.set_external_file_reputation(TrustLevel.MIGHT_BE_TRUSTED, hashes,
                                                FileType.PEEXE, filename="random.exe",
                                                comment="not stored")
        event = waiter.wait_for(lambda payload: payload.get("hashes") == hashes)
    finally:
        tie_client.remove_file_reputation_change_callback(callback)
    assert event["newReputations"][FileProvider.EXTERNAL]["trustLevel"] == \
        TrustLevel.MIGHT_BE_TRUSTED
    reputations = tie_client.get_file_reputation({"md5": hashes["md5"]})
    assert reputations[FileProvider.EXTERNAL]["trustLevel"] == TrustLevel.MIGHT_BE_TRUSTED


def test_external_report_without_a_filename_is_ignored(tie_client: TieClient) -> None:
    ignored, accepted = new_hashes(), new_hashes()
    waiter = Waiter()
    callback = RepChange(waiter)
    tie_client.add_file_reputation_change_callback(callback)
    try:
        tie_client.set_external_file_reputation(TrustLevel.MIGHT_BE_TRUSTED, ignored)
        tie_client.set_external_file_reputation(TrustLevel.MIGHT_BE_TRUSTED, accepted,
                                                filename="ok.exe")
        waiter.wait_for(lambda payload: payload.get("hashes") == accepted)
    finally:
        tie_client.remove_file_reputation_change_callback(callback)
    assert not [payload for payload, _ in waiter.received if payload.get("hashes") == ignored]
    assert FileProvider.EXTERNAL not in tie_client.get_file_reputation(ignored)


# ---------------------------------------------------------------------------------------------
# Callbacks
# ---------------------------------------------------------------------------------------------

def test_reputation_change_callback_for_a_file(tie_client: TieClient) -> None:
    hashes = new_hashes()
    tie_client.get_file_reputation(hashes)
    waiter = Waiter()
    callback = RepChange(waiter)
    tie_client.add_file_reputation_change_callback(callback)
    try:
        tie_client.set_file_reputation(TrustLevel.KNOWN_MALICIOUS, {"md5": hashes["md5"]})
        event = waiter.wait_for(lambda payload: payload.get("hashes") == hashes)
    finally:
        tie_client.remove_file_reputation_change_callback(callback)
    assert event["__topic__"] == TIE_EVENT_FILE_REPUTATION_CHANGE_TOPIC
    assert event["oldReputations"][FileProvider.ENTERPRISE]["trustLevel"] == TrustLevel.NOT_SET
    assert event["newReputations"][FileProvider.ENTERPRISE]["trustLevel"] == \
        TrustLevel.KNOWN_MALICIOUS
    assert sorted(event["newReputations"]) == [FileProvider.GTI, FileProvider.ENTERPRISE]
    assert isinstance(event["updateTime"], int)


def test_reputation_change_callback_for_a_certificate(tie_client: TieClient) -> None:
    sha1, public_key = new_sha1(), new_sha1()
    waiter = Waiter()
    callback = RepChange(waiter)
    tie_client.add_certificate_reputation_change_callback(callback)
    try:
        tie_client.set_certificate_reputation(TrustLevel.MIGHT_BE_TRUSTED, sha1.upper(),
                                              public_key)
        event = waiter.wait_for(lambda payload: payload.get("hashes") == {"sha1": sha1})
    finally:
        tie_client.remove_certificate_reputation_change_callback(callback)
    assert event["__topic__"] == TIE_EVENT_CERT_REPUTATION_CHANGE_TOPIC
    assert event["publicKeySha1"] == public_key
    assert event["newReputations"][CertProvider.ENTERPRISE]["trustLevel"] == \
        TrustLevel.MIGHT_BE_TRUSTED
    assert event["oldReputations"][CertProvider.ENTERPRISE]["trustLevel"] == TrustLevel.NOT_SET


def test_detection_callback(tie_client: TieClient, tie_sandbox: Any) -> None:
    hashes = new_hashes()
    waiter = Waiter()
    callback = Detection(waiter)
    tie_client.add_file_detection_callback(callback)
    try:
        tie_sandbox.emit_detection(hashes, SEED_AGENT, "bad.exe", TrustLevel.KNOWN_MALICIOUS, 5,
                                   1402617156)
        event = waiter.wait_for(lambda payload: payload.get("hashes") == hashes)
    finally:
        tie_client.remove_file_detection_callback(callback)
    assert event == {"agentGuid": SEED_AGENT, "detectionTime": 1402617156, "hashes": hashes,
                     "localReputation": 1, "name": "bad.exe", "remediationAction": 5,
                     "__topic__": TIE_EVENT_FILE_DETECTION_TOPIC}


def test_first_instance_callback_from_the_sandbox(tie_client: TieClient,
                                                  tie_sandbox: Any) -> None:
    hashes = new_hashes()
    waiter = Waiter()
    callback = FirstInstance(waiter)
    tie_client.add_file_first_instance_callback(callback)
    try:
        tie_sandbox.emit_first_instance(hashes, SEED_AGENT, "new.exe")
        event = waiter.wait_for(lambda payload: payload.get("hashes") == hashes)
    finally:
        tie_client.remove_file_first_instance_callback(callback)
    assert event == {"agentGuid": SEED_AGENT, "hashes": hashes, "name": "new.exe",
                     "__topic__": TIE_EVENT_FILE_FIRST_INSTANCE_TOPIC}


def test_first_instance_callback_on_an_unknown_file_lookup(tie_client: TieClient,
                                                          tie_dxl_client: Any) -> None:
    hashes = new_hashes()
    waiter = Waiter()
    callback = FirstInstance(waiter)
    tie_client.add_file_first_instance_callback(callback)
    try:
        tie_client.get_file_reputation(hashes)
        event = waiter.wait_for(lambda payload: payload.get("hashes") == hashes)
        tie_client.get_file_reputation(hashes)  # a known file: no second event
        known = new_hashes()
        tie_client.get_file_reputation(known)  # events arrive in order: this one comes after
        waiter.wait_for(lambda payload: payload.get("hashes") == known)
    finally:
        tie_client.remove_file_first_instance_callback(callback)
    assert event["agentGuid"] == client_guid(tie_dxl_client)
    assert len([payload for payload, _ in waiter.received if payload["hashes"] == hashes]) == 1


# ---------------------------------------------------------------------------------------------
# Malformed requests
# ---------------------------------------------------------------------------------------------

B64_MD5 = _wire.hex_to_base64(NOTEPAD["md5"])


@pytest.mark.parametrize("topic, payload, words", [
    (TIE_GET_FILE_REPUTATION_TOPIC, b"not json", "not UTF-8 JSON"),
    (TIE_GET_FILE_REPUTATION_TOPIC, b"[]", "not an object"),
    (TIE_GET_FILE_REPUTATION_TOPIC, b'{"hashes": []}', "'hashes'"),
    (TIE_GET_FILE_REPUTATION_TOPIC, b'{"hashes": [{"type": "md5", "value": "%%"}]}',
     "not valid base64"),
    (TIE_GET_FILE_REPUTATION_TOPIC,
     json.dumps({"hashes": [{"type": "sha3", "value": B64_MD5}]}).encode(), "unknown hash type"),
    (TIE_SET_FILE_REPUTATION_TOPIC,
     json.dumps({"trustLevel": 42, "providerId": 3,
                 "hashes": [{"type": "md5", "value": B64_MD5}]}).encode(), "'trustLevel'"),
    (TIE_SET_FILE_REPUTATION_TOPIC,
     json.dumps({"trustLevel": 99, "providerId": 4,
                 "hashes": [{"type": "md5", "value": B64_MD5}]}).encode(), "'providerId'"),
    (TIE_GET_FILE_FIRST_REFS,
     json.dumps({"queryLimit": 0, "hashes": [{"type": "md5", "value": B64_MD5}]}).encode(),
     "'queryLimit'"),
    (TIE_GET_CERT_REPUTATION_TOPIC,
     json.dumps({"hashes": [{"type": "md5", "value": B64_MD5}]}).encode(), "unknown hash type"),
])
def test_a_malformed_request_gets_an_error_response(tie_dxl_client: Any, tie_client: TieClient,
                                                    topic: str, payload: bytes,
                                                    words: str) -> None:
    before = tie_client.get_file_reputation(NOTEPAD)
    response = raw_request(tie_dxl_client, topic, payload)
    assert response.message_type == Message.MESSAGE_TYPE_ERROR
    assert response.error_code == ERROR_INVALID_REQUEST
    assert response.error_message.startswith("Invalid TIE request on " + topic)
    assert words in response.error_message
    # the emulator keeps serving, and nothing changed
    after = tie_client.get_file_reputation(NOTEPAD)
    assert after[FileProvider.ENTERPRISE]["trustLevel"] == \
        before[FileProvider.ENTERPRISE]["trustLevel"]


def test_the_error_response_surfaces_as_the_clients_exception(tie_dxl_client: Any) -> None:
    from dxltieclient import TieServiceError

    class Raw(TieClient):
        def send(self, topic: str, payload: Dict[str, Any]) -> Any:
            return self._tie_request(topic, payload)

    with pytest.raises(TieServiceError) as caught:
        Raw(tie_dxl_client).send(TIE_GET_FILE_REPUTATION_TOPIC, {"hashes": []})
    assert str(caught.value).startswith("Error: Invalid TIE request on ")
    assert str(caught.value).endswith("({})".format(ERROR_INVALID_REQUEST))
