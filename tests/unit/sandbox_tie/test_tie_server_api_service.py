"""The emulator's side of the rest of the TIE Server API (issue #10): one wire contract with the
client, targeted change events, prevalence events, reputation updates and their paging through
the library's iterator, metadata updates. No broker."""

from __future__ import annotations

import json
from typing import Any, Dict, List

import pytest

from dxltieclient import _wire
from dxltieclient import client as tie_client_module
from dxltieclient.client import TieClient
from dxltieclient.sandbox import authz
from dxltieclient.sandbox.tie import service as service_module
from dxltieclient.sandbox.tie.service import TargetedPayload, TieService, client_id_of
from dxltieclient.sandbox.tie.store import CERT, FILE, Store

from .helpers import AGENT, Clock, call, dump, events, reply

FILE_TOPIC = service_module.TOPIC_GET_FILE_REPUTATION
SET_FILE = service_module.TOPIC_SET_FILE_REPUTATION
UPDATES = service_module.TOPIC_GET_REPUTATION_UPDATES
FILE_META = service_module.TOPIC_UPDATE_FILE_METADATA
CERT_META = service_module.TOPIC_UPDATE_CERT_METADATA
OTHER = "{99999999-2222-3333-4444-555555555555}"


def _md5(number: int) -> Dict[str, str]:
    return {"md5": "{:032x}".format(number + 0xabc000)}


def _lookup(service: TieService, hashes: Dict[str, str], agent: str = AGENT) -> Any:
    return service.handle_request(FILE_TOPIC, _wire.encode_json(
        _wire.file_reputation_request(hashes)), agent, agent)


def _set(service: TieService, hashes: Dict[str, str], trust: int = 99) -> Any:
    return call(service, SET_FILE, _wire.set_file_reputation_request(trust, hashes))


# -- the wire contract, once -------------------------------------------------------------------

def test_emulator_topics_are_the_clients_own_objects() -> None:
    pairs = {
        "TOPIC_SET_FILE_REPUTATION": "TIE_SET_FILE_REPUTATION_TOPIC",
        "TOPIC_GET_FILE_REPUTATION": "TIE_GET_FILE_REPUTATION_TOPIC",
        "TOPIC_SET_CERT_REPUTATION": "TIE_SET_CERT_REPUTATION_TOPIC",
        "TOPIC_GET_CERT_REPUTATION": "TIE_GET_CERT_REPUTATION_TOPIC",
        "TOPIC_GET_FILE_FIRST_REFS": "TIE_GET_FILE_FIRST_REFS",
        "TOPIC_GET_CERT_FIRST_REFS": "TIE_GET_CERT_FIRST_REFS",
        "TOPIC_GET_REPUTATION_UPDATES": "TIE_GET_REPUTATION_UPDATES_TOPIC",
        "TOPIC_UPDATE_FILE_METADATA": "TIE_UPDATE_FILE_METADATA_TOPIC",
        "TOPIC_UPDATE_CERT_METADATA": "TIE_UPDATE_CERT_METADATA_TOPIC",
        "TOPIC_EXTERNAL_FILE_REPORT": "TIE_EVENT_EXTERNAL_FILE_REPORT_TOPIC",
        "TOPIC_FILE_REPUTATION_CHANGE": "TIE_EVENT_FILE_REPUTATION_CHANGE_TOPIC",
        "TOPIC_CERT_REPUTATION_CHANGE": "TIE_EVENT_CERT_REPUTATION_CHANGE_TOPIC",
        "TOPIC_FILE_REPUTATION_CHANGE_TARGETED":
            "TIE_EVENT_FILE_REPUTATION_CHANGE_TARGETED_TOPIC",
        "TOPIC_CERT_REPUTATION_CHANGE_TARGETED":
            "TIE_EVENT_CERT_REPUTATION_CHANGE_TARGETED_TOPIC",
        "TOPIC_FILE_FIRST_INSTANCE": "TIE_EVENT_FILE_FIRST_INSTANCE_TOPIC",
        "TOPIC_FILE_PREVALENCE": "TIE_EVENT_FILE_PREVALENCE_CHANGE_TOPIC",
        "TOPIC_FILE_DETECTION": "TIE_EVENT_FILE_DETECTION_TOPIC",
    }
    for emulator_name, client_name in pairs.items():
        assert getattr(service_module, emulator_name) is getattr(tie_client_module, client_name)
    emulator_topics = {value for name, value in vars(service_module).items()
                       if name.startswith("TOPIC_")}
    assert emulator_topics == {getattr(tie_client_module, name) for name in pairs.values()}
    group_topics = {topic for topics in authz.AUTHORIZATION_GROUPS.values() for topic in topics}
    assert group_topics <= emulator_topics


def test_client_id_of_request() -> None:
    assert client_id_of("ab" * 20, "/mcafee/client/{x}") == "ab" * 20
    assert client_id_of("", "/mcafee/client/{x}") == "{x}"
    assert client_id_of("", "/elsewhere") is None
    assert client_id_of(None, None) is None


# -- targeted events -----------------------------------------------------------------------------

def test_a_change_is_targeted_at_the_clients_that_looked_the_file_up(service: TieService) -> None:
    hashes = _md5(1)
    _lookup(service, hashes, AGENT)
    _lookup(service, hashes, OTHER)
    _lookup(service, _md5(2), "{third}")
    outcome = _set(service, hashes)
    [(topic, payload), (broadcast_topic, broadcast)] = outcome.events
    assert topic == "/mcafee/event/tie/file/repchange"
    assert isinstance(payload, TargetedPayload) and payload.client_ids == (AGENT, OTHER)
    assert broadcast_topic == "/mcafee/event/tie/file/repchange/broadcast"
    assert not isinstance(broadcast, TargetedPayload)
    assert payload == broadcast
    change = _wire.transform_reputation_change_event(json.loads(payload))
    assert change["newReputations"][3]["trustLevel"] == 99


def test_no_targeted_event_for_a_file_nobody_looked_up(service: TieService) -> None:
    outcome = _set(service, _md5(3))
    [(_, payload)] = outcome.events
    assert not isinstance(payload, TargetedPayload)


def test_a_certificate_change_is_targeted(service: TieService) -> None:
    sha1 = "12" * 20
    service.handle_request(service_module.TOPIC_GET_CERT_REPUTATION, _wire.encode_json(
        _wire.cert_reputation_request(sha1)), AGENT, "cafe" * 10)
    outcome = call(service, service_module.TOPIC_SET_CERT_REPUTATION,
                   _wire.set_cert_reputation_request(99, sha1))
    [(topic, payload), _] = outcome.events
    assert (topic, payload.client_ids) == ("/mcafee/event/tie/cert/repchange", ("cafe" * 10,))


def test_an_external_report_is_targeted_too(service: TieService) -> None:
    hashes = {"md5": "{:032x}".format(77)}
    _lookup(service, hashes)
    published = service.handle_external_report(_wire.encode_json(
        _wire.external_file_report_event(99, hashes, 0, "x.exe")))
    assert [getattr(payload, "client_ids", ()) for _, payload in published] == [(AGENT,), ()]


# -- prevalence -----------------------------------------------------------------------------------

def _prevalence(outcome: Any) -> List[Any]:
    return [event for topic, event in events(outcome.events)
            if topic == "/mcafee/event/tie/file/prevalence"]


def test_prevalence_grows_until_the_threshold_then_stops(store: Store, clock: Clock) -> None:
    service = TieService(store, prevalence_threshold=2)
    hashes = _md5(4)
    [first] = _prevalence(_lookup(service, hashes, "{a}"))
    assert first == {"hashes": _wire.hashes_to_wire(hashes), "agentGuid": "{a}",
                     "agentFirstReference": clock.now, "enterpriseCount": 1, "prevalent": False}
    assert _prevalence(_lookup(service, hashes, "{a}")) == []  # the same system again
    clock.tick()
    [second] = _prevalence(_lookup(service, hashes, "{b}"))
    assert (second["enterpriseCount"], second["prevalent"], second["agentGuid"]) == (2, True,
                                                                                     "{b}")
    assert second["agentFirstReference"] == clock.now
    assert _prevalence(_lookup(service, hashes, "{c}")) == []  # prevalent: no more events


def test_seeded_prevalent_file_gets_no_event(service: TieService) -> None:
    from dxltieclient.sandbox.tie.seed import NOTEPAD_HASHES
    assert _prevalence(_lookup(service, NOTEPAD_HASHES, "{new-system}")) == []


def test_prevalence_threshold_from_the_environment(store: Store,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(service_module.PREVALENCE_THRESHOLD_ENV, "7")
    assert TieService(store).prevalence_threshold == 7
    monkeypatch.delenv(service_module.PREVALENCE_THRESHOLD_ENV)
    assert TieService(store).prevalence_threshold == service_module.DEFAULT_PREVALENCE_THRESHOLD
    with pytest.raises(ValueError):
        TieService(store, prevalence_threshold=0)


# -- reputation updates --------------------------------------------------------------------------

def _updates(service: TieService, client_id: str = AGENT, **request: Any) -> Any:
    return reply(service.handle_request(UPDATES, _wire.encode_json(request), client_id,
                                        client_id))


def test_updates_list_each_changed_subject_once_with_its_latest_time(
        service: TieService, clock: Clock) -> None:
    since = clock.now
    _set(service, _md5(10))
    clock.tick()
    _set(service, _md5(11))
    _set(service, _md5(12))
    clock.tick()
    _set(service, _md5(10), 85)  # changed again: listed once, at its latest time
    response = _updates(service, sinceTime=since)
    assert response == {
        "fileHashes": [{"type": "md5", "value": _wire.hex_to_base64(_md5(number)["md5"])}
                       for number in (11, 12, 10)],
        "certificateHashes": [], "latestUpdateTime": clock.now}
    assert _updates(service, sinceTime=clock.now + 1) == {"fileHashes": [],
                                                           "certificateHashes": []}


def test_updates_target_types_and_hash_choice(service: TieService, clock: Clock) -> None:
    from dxltieclient.sandbox.tie.seed import NOTEPAD_HASHES
    since = clock.now
    _set(service, NOTEPAD_HASHES)
    default = _updates(service, sinceTime=since)
    assert default["fileHashes"] == [{"type": "sha1",
                                      "value": _wire.hex_to_base64(NOTEPAD_HASHES["sha1"])}]
    wanted = _updates(service, sinceTime=since, targetTypes={"file": "sha256"})
    assert wanted == {"fileHashes": [{"type": "sha256", "value": _wire.hex_to_base64(
        NOTEPAD_HASHES["sha256"])}], "latestUpdateTime": clock.now}
    only_md5_known = _md5(12)
    _set(service, only_md5_known)
    fallback = _updates(service, sinceTime=since, targetTypes={"file": "sha256"})
    assert fallback["fileHashes"][-1]["type"] == "md5"
    assert _updates(service, sinceTime=since, targetTypes={"cert": "sha1"}) == {
        "certificateHashes": []}


def test_updates_targeted(service: TieService, clock: Clock) -> None:
    since = clock.now
    mine, theirs = _md5(20), _md5(21)
    _lookup(service, mine, AGENT)
    _set(service, mine)
    _set(service, theirs)
    response = _updates(service, sinceTime=since, targeted=True)
    assert response["fileHashes"] == [{"type": "md5",
                                       "value": _wire.hex_to_base64(mine["md5"])}]
    assert len(_updates(service, sinceTime=since)["fileHashes"]) == 2


@pytest.mark.parametrize("request_, message", [
    ({"sinceTime": -1}, "'sinceTime' must be an integer >= 0"),
    ({"sinceTime": 0, "queryLimit": 0}, "'queryLimit' must be an integer from 1 to 5000"),
    ({"sinceTime": 0, "queryLimit": 5001}, "'queryLimit' must be an integer from 1 to 5000"),
    ({"sinceTime": 0, "targeted": "yes"}, "'targeted' must be true or false"),
    ({"sinceTime": 0, "targetTypes": {"file": "sha512"}}, "'targetTypes.file' must be one of"),
    ({"sinceTime": 0, "targetTypes": {"process": "sha1"}}, "unknown 'targetTypes' member"),
])
def test_updates_malformed(service: TieService, request_: Any, message: str) -> None:
    outcome = call(service, UPDATES, request_)
    assert outcome.error is not None and message in outcome.error[1]
    assert not outcome.no_reply


class _ServiceAsFabric:
    """Answers TieClient requests with the service: the library's paging over the emulator's
    pages, with no broker."""

    def __init__(self, service: TieService) -> None:
        self.service = service
        self.pages = 0

    def sync_request(self, request: Any, timeout: Any = None) -> Any:
        from dxlclient import Response
        self.pages += 1
        outcome = self.service.handle_request(request.destination_topic, request.payload,
                                              AGENT, AGENT)
        response = Response(request)
        response.payload = outcome.response
        return response


def test_paging_returns_every_change_exactly_once(service: TieService, clock: Clock) -> None:
    since = clock.now
    expected = []
    for number in range(23):  # 23 changes over 8 seconds, 3 a second
        _set(service, _md5(100 + number))
        expected.append(_md5(100 + number))
        if number % 3 == 2:
            clock.tick()
    fabric = _ServiceAsFabric(service)
    pages = list(TieClient(fabric).iter_reputation_updates(since, query_limit=4))
    seen = [entry for page in pages for entry in page["fileHashes"]]
    assert sorted(entry["md5"] for entry in seen) == sorted(hashes["md5"] for hashes in expected)
    assert len(seen) == len(set(entry["md5"] for entry in seen)) == 23
    assert pages[-1]["queryLimitExceeded"] is False
    assert all(page["queryLimitExceeded"] for page in pages[:-1])
    assert fabric.pages == len(pages) < 23


def test_paging_stops_when_one_second_holds_more_than_the_limit(
        service: TieService, clock: Clock) -> None:
    since = clock.now
    for number in range(5):
        _set(service, _md5(200 + number))
    fabric = _ServiceAsFabric(service)
    from dxltieclient import TieServiceError
    with pytest.raises(TieServiceError, match="larger query_limit"):
        list(TieClient(fabric).iter_reputation_updates(since, query_limit=2))
    assert fabric.pages == 2


# -- metadata ------------------------------------------------------------------------------------

def test_file_metadata_stored_without_reply(service: TieService, store: Store) -> None:
    hashes = _md5(300)
    payload = _wire.file_metadata_request(hashes, {"name": "a.exe", "size": 10,
                                                   "actorSha1": "ab" * 20,
                                                   "productEnforcing": 1})
    outcome = service.handle_request(FILE_META, _wire.encode_json(payload), AGENT, AGENT)
    assert outcome.no_reply and outcome.error is None
    file_id = store.find_file(hashes)
    assert file_id is not None
    [stored] = store.metadata(FILE, file_id)
    assert stored["fields"] == {"name": "a.exe", "size": 10, "actorSha1": "ab" * 20,
                                "productEnforcing": 1}
    assert stored["source"] == AGENT


def test_schema_example_file_metadata_is_accepted(service: TieService, store: Store) -> None:
    example = {
        "hashes": [{"value": "frATnSF1c5s8yw0REAZ4IL5qvSk=", "type": "sha1"}],
        "scanType": 1, "agentGuid": "testGuid", "name": "Notepad++.exe", "size": 107008,
        "version": 22, "fileType": 16, "signedBits": 0, "companyName": None, "caRep": 0,
        "productEnforcing": 1, "vseSuppressed": False, "vseDetectionName": "TestVseDetection"}
    outcome = call(service, FILE_META, example)
    assert outcome.error is None


def test_cert_metadata_stored(service: TieService, store: Store) -> None:
    sha1 = "34" * 20
    payload = _wire.cert_metadata_request(sha1, {"subject": "CN=x", "validFrom": 1,
                                                 "publicKeySha1": "56" * 20})
    outcome = call(service, CERT_META, payload)
    assert outcome.no_reply and outcome.error is None
    cert_id = store.find_certificate(sha1)
    assert cert_id is not None
    assert store.certificate_hashes(cert_id) == (sha1, "56" * 20)
    assert store.metadata(CERT, cert_id)[0]["fields"] == {
        "subject": "CN=x", "validFrom": 1, "publicKeySha1": "56" * 20}


@pytest.mark.parametrize("topic, payload", [
    (FILE_META, {"hashes": [{"type": "md5", "value": "8se7isyX+S6Yei1Ah9AhsQ=="}],
                 "size": "big"}),
    (FILE_META, {"hashes": [{"type": "md5", "value": "8se7isyX+S6Yei1Ah9AhsQ=="}],
                 "name": "ok", "nmae": "typo"}),
    (FILE_META, {"hashes": [{"type": "md5", "value": "AAAA"}], "name": "x"}),
    (FILE_META, {"name": "x"}),
    (CERT_META, {"hashes": [{"type": "sha1", "value": "frATnSF1c5s8yw0REAZ4IL5qvSk="}],
                 "publicKeySha1": "not base64!"}),
    (FILE_META, b"not json"),
])
def test_malformed_metadata_changes_nothing_and_gets_no_reply(
        service: TieService, store_file: str, topic: str, payload: Any,
        caplog: pytest.LogCaptureFixture) -> None:
    before = dump(store_file)
    outcome = call(service, topic, payload)
    assert outcome.no_reply
    assert dump(store_file) == before
    assert "Ignoring a malformed request" in caplog.text


# -- sandbox show HASH ---------------------------------------------------------------------------

def test_show_describes_files_and_certificates(service: TieService, store: Store,
                                               store_file: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    from dxltieclient.sandbox.tie import show
    from dxltieclient.sandbox.tie.seed import EXAMPLE_CERT_SHA1, NOTEPAD_HASHES

    described = show.describe(store, NOTEPAD_HASHES["sha256"].upper())
    assert described is not None
    assert described["file"]["hashes"] == NOTEPAD_HASHES
    assert described["file"]["referenceCount"] == 3
    certificate = show.describe(store, EXAMPLE_CERT_SHA1)
    assert certificate is not None and certificate["certificate"]["sha1"] == EXAMPLE_CERT_SHA1
    assert show.describe(store, "0" * 40) is None
    with pytest.raises(ValueError, match="not an MD5, SHA-1 or SHA-256"):
        show.describe(store, "abc")
    with pytest.raises(ValueError, match="Invalid md5 hash"):
        show.describe(store, "z" * 32)
    assert show.run(NOTEPAD_HASHES["md5"], store_file) == 0
    assert json.loads(capsys.readouterr().out)["file"]["name"] == "notepad.exe"
    assert show.run("1" * 32, store_file) == 1
    with pytest.raises(ValueError, match="no TIE store"):
        show.run("1" * 32, store_file + ".missing")
