"""The TIE emulator's request handling, without a broker: reply shapes and values of every topic,
references, events, the external report, and malformed requests."""

from __future__ import annotations

import json
from typing import Any, Dict

import pytest

from dxltieclient import _wire
from dxltieclient.client import (
    TIE_EVENT_CERT_REPUTATION_CHANGE_TOPIC,
    TIE_EVENT_FILE_FIRST_INSTANCE_TOPIC,
    TIE_EVENT_FILE_REPUTATION_CHANGE_TOPIC,
    TIE_GET_CERT_FIRST_REFS,
    TIE_GET_CERT_REPUTATION_TOPIC,
    TIE_GET_FILE_FIRST_REFS,
    TIE_GET_FILE_REPUTATION_TOPIC,
    TIE_SET_CERT_REPUTATION_TOPIC,
    TIE_SET_FILE_REPUTATION_TOPIC,
)
from dxltieclient.constants import (
    AtdAttrib,
    AtdTrustLevel,
    CertEnterpriseAttrib,
    CertProvider,
    EnterpriseAttrib,
    FileEnterpriseAttrib,
    FileProvider,
    FileType,
    TrustLevel,
)
from dxltieclient.sandbox.tie import service as service_module
from dxltieclient.sandbox.tie.seed import (
    EICAR_HASHES,
    EXAMPLE_CERT_PUBLIC_KEY_SHA1,
    EXAMPLE_CERT_SHA1,
    NOTEPAD_HASHES,
    SEED_AGENTS,
    SERVER_VERSION,
)
from dxltieclient.sandbox.tie.service import (
    ERROR_INTERNAL,
    ERROR_INVALID_REQUEST,
    REQUEST_TOPICS,
    TieService,
    agent_guid_from_reply_topic,
)
from dxltieclient.sandbox.tie.store import Store

from .helpers import AGENT, START, Clock, call, dump, events, reply

NEW_HASHES = {"md5": "0123456789abcdef0123456789abcdef",
              "sha1": "0123456789abcdef0123456789abcdef01234567"}
NEW_CERT_SHA1 = "aa" * 20
NEW_PUBLIC_KEY_SHA1 = "bb" * 20


def get_file(service: TieService, hashes: Dict[str, str], requester: Any = AGENT) -> Any:
    return call(service, TIE_GET_FILE_REPUTATION_TOPIC,
                _wire.file_reputation_request(hashes), requester)


def by_provider(response: Dict[str, Any]) -> Dict[int, Dict[str, Any]]:
    return _wire.reputations_from_response(response)


# ---------------------------------------------------------------------------------------------
# Requester
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("topic, expected", [
    ("/mcafee/client/{2f8b5c1a-0000-4000-8000-000000000001}",
     "{2f8b5c1a-0000-4000-8000-000000000001}"),
    ("/mcafee/client/plain-id", "{plain-id}"),
    ("/mcafee/client/", None),
    ("/somewhere/else", None),
    ("", None),
    (None, None),
])
def test_the_requester_comes_from_the_reply_topic(topic: Any, expected: Any) -> None:
    assert agent_guid_from_reply_topic(topic) == expected


def test_the_request_topics_are_the_clients() -> None:
    assert set(REQUEST_TOPICS) == {
        TIE_SET_FILE_REPUTATION_TOPIC, TIE_GET_FILE_REPUTATION_TOPIC,
        TIE_SET_CERT_REPUTATION_TOPIC, TIE_GET_CERT_REPUTATION_TOPIC, TIE_GET_FILE_FIRST_REFS,
        TIE_GET_CERT_FIRST_REFS, "/mcafee/service/tie/reputation/updates",
        "/mcafee/service/tie/file/update_metadata", "/mcafee/service/tie/cert/update_metadata"}


# ---------------------------------------------------------------------------------------------
# File lookups
# ---------------------------------------------------------------------------------------------

def test_file_lookup_reply_shape(service: TieService, clock: Clock) -> None:
    outcome = get_file(service, NOTEPAD_HASHES)
    response = reply(outcome)
    assert list(response) == ["props", "reputations"]
    assert response["props"] == {"serverTime": START, "submitMetaData": 1}
    for reputation in response["reputations"]:
        assert set(reputation) == {"providerId", "trustLevel", "createDate", "attributes"}
        assert isinstance(reputation["providerId"], int)
        assert isinstance(reputation["createDate"], int)
        assert all(isinstance(key, str) and isinstance(value, str)
                   for key, value in reputation["attributes"].items())
    assert outcome.events == []


def test_seeded_notepad_lookup(service: TieService) -> None:
    reputations = by_provider(reply(get_file(service, NOTEPAD_HASHES)))
    assert sorted(reputations) == [FileProvider.GTI, FileProvider.ENTERPRISE]
    assert reputations[FileProvider.GTI]["trustLevel"] == TrustLevel.KNOWN_TRUSTED
    attributes = reputations[FileProvider.ENTERPRISE]["attributes"]
    # the seeded systems plus this requester
    assert attributes[FileEnterpriseAttrib.PREVALENCE] == str(len(SEED_AGENTS) + 1)
    assert int(attributes[FileEnterpriseAttrib.ENTERPRISE_SIZE]) >= len(SEED_AGENTS) + 1
    assert EnterpriseAttrib.to_version_tuple(
        attributes[FileEnterpriseAttrib.SERVER_VERSION]) == SERVER_VERSION
    assert FileEnterpriseAttrib.FIRST_CONTACT in attributes


def test_seeded_eicar_lookup_has_an_atd_reputation(service: TieService) -> None:
    reputations = by_provider(reply(get_file(service, {"sha256": EICAR_HASHES["sha256"]})))
    assert sorted(reputations) == [FileProvider.GTI, FileProvider.ENTERPRISE, FileProvider.ATD]
    assert reputations[FileProvider.GTI]["trustLevel"] == TrustLevel.KNOWN_MALICIOUS
    atd = reputations[FileProvider.ATD]
    assert atd["trustLevel"] == TrustLevel.KNOWN_MALICIOUS  # the TrustLevel scale
    assert atd["attributes"][AtdAttrib.VERDICT] == str(AtdTrustLevel.KNOWN_MALICIOUS)


def test_a_lookup_by_a_subset_of_hashes_finds_the_file(service: TieService) -> None:
    whole = by_provider(reply(get_file(service, NOTEPAD_HASHES)))
    part = by_provider(reply(get_file(service, {"sha1": NOTEPAD_HASHES["sha1"]})))
    assert part[FileProvider.GTI] == whole[FileProvider.GTI]


def test_an_unknown_file_is_created_and_announced(service: TieService, store: Store) -> None:
    before = store.counts()
    outcome = get_file(service, NEW_HASHES)
    reputations = by_provider(reply(outcome))
    assert sorted(reputations) == [FileProvider.GTI, FileProvider.ENTERPRISE]
    assert reputations[FileProvider.GTI]["trustLevel"] == TrustLevel.UNKNOWN
    assert reputations[FileProvider.ENTERPRISE]["trustLevel"] == TrustLevel.NOT_SET
    attributes = reputations[FileProvider.ENTERPRISE]["attributes"]
    assert attributes[FileEnterpriseAttrib.FIRST_CONTACT] == str(START)
    assert attributes[FileEnterpriseAttrib.PREVALENCE] == "1"
    # nothing definitive: the "set external reputation" sample's test passes
    assert all(rep["trustLevel"] in (TrustLevel.NOT_SET, TrustLevel.UNKNOWN)
               for rep in reputations.values())
    assert store.counts()["files"] == before["files"] + 1
    [(topic, event)] = [(topic, event) for topic, event in events(outcome.events)
                        if topic != "/mcafee/event/tie/file/prevalence"]
    assert topic == TIE_EVENT_FILE_FIRST_INSTANCE_TOPIC
    assert event == {"agentGuid": AGENT, "hashes": _wire.hashes_to_wire(NEW_HASHES), "name": ""}
    # a second lookup finds it: no new file, no new event
    again = get_file(service, NEW_HASHES)
    assert again.events == []
    assert store.counts()["files"] == before["files"] + 1


def test_hashes_learned_later_are_merged_and_found(service: TieService, store: Store) -> None:
    reply(get_file(service, {"md5": NEW_HASHES["md5"]}))
    reply(get_file(service, NEW_HASHES))
    sha256 = "ab" * 32
    reply(get_file(service, {"sha1": NEW_HASHES["sha1"], "sha256": sha256}))
    file_id = store.find_file({"sha256": sha256})
    assert file_id is not None
    assert store.file_hashes(file_id) == {**NEW_HASHES, "sha256": sha256}


def test_a_lookup_records_the_requester_once(service: TieService, store: Store,
                                             clock: Clock) -> None:
    reply(get_file(service, NEW_HASHES))
    clock.tick(5)
    reply(get_file(service, NEW_HASHES))
    file_id = store.find_file(NEW_HASHES)
    assert store.file_references(file_id or 0, 10) == (1, [{"agentGuid": AGENT, "date": START}])


def test_a_lookup_without_a_requester_records_nothing(service: TieService,
                                                      store: Store) -> None:
    before = store.counts()["references"]
    reply(get_file(service, NOTEPAD_HASHES, requester=None))
    assert store.counts()["references"] == before


# ---------------------------------------------------------------------------------------------
# First references
# ---------------------------------------------------------------------------------------------

def test_file_first_references_reply(service: TieService, clock: Clock) -> None:
    clock.tick(10)
    reply(get_file(service, NOTEPAD_HASHES))
    response = reply(call(service, TIE_GET_FILE_FIRST_REFS,
                          _wire.file_first_references_request(NOTEPAD_HASHES)))
    assert list(response) == ["totalCount", "agents"]
    assert response["totalCount"] == len(SEED_AGENTS) + 1
    expected = [{"agentGuid": guid, "date": date} for guid, date in SEED_AGENTS]
    assert response["agents"] == expected + [{"agentGuid": AGENT, "date": START + 10}]


def test_file_first_references_honour_the_query_limit(service: TieService) -> None:
    response = reply(call(service, TIE_GET_FILE_FIRST_REFS,
                          _wire.file_first_references_request({"md5": NOTEPAD_HASHES["md5"]},
                                                              2)))
    assert response["totalCount"] == len(SEED_AGENTS)
    assert [agent["agentGuid"] for agent in response["agents"]] == [
        guid for guid, _ in SEED_AGENTS[:2]]


def test_first_references_are_ordered_by_first_reference(service: TieService,
                                                         clock: Clock) -> None:
    for name in ("{c}", "{a}", "{b}"):
        clock.tick()
        reply(get_file(service, NEW_HASHES, requester=name))
    clock.tick()
    reply(get_file(service, NEW_HASHES, requester="{a}"))  # not a first reference
    response = reply(call(service, TIE_GET_FILE_FIRST_REFS,
                          _wire.file_first_references_request(NEW_HASHES)))
    assert response == {"totalCount": 3, "agents": [
        {"agentGuid": "{c}", "date": START + 1}, {"agentGuid": "{a}", "date": START + 2},
        {"agentGuid": "{b}", "date": START + 3}]}


def test_a_missing_query_limit_means_100_and_a_large_one_is_capped(service: TieService) -> None:
    payload = {"hashes": _wire.hashes_to_wire(NOTEPAD_HASHES)}
    assert reply(call(service, TIE_GET_FILE_FIRST_REFS, payload))["totalCount"] == 3
    payload["queryLimit"] = 10 ** 6
    assert len(reply(call(service, TIE_GET_FILE_FIRST_REFS, payload))["agents"]) == 3


def test_first_references_of_an_unknown_file_create_nothing(service: TieService,
                                                           store: Store) -> None:
    before = dump(store.path)
    response = reply(call(service, TIE_GET_FILE_FIRST_REFS,
                          _wire.file_first_references_request(NEW_HASHES)))
    assert response == {"totalCount": 0, "agents": []}
    assert dump(store.path) == before


def test_certificate_first_references(service: TieService, clock: Clock) -> None:
    clock.tick(3)
    reply(call(service, TIE_GET_CERT_REPUTATION_TOPIC,
               _wire.cert_reputation_request(EXAMPLE_CERT_SHA1)))
    response = reply(call(service, TIE_GET_CERT_FIRST_REFS,
                          _wire.cert_first_references_request(
                              EXAMPLE_CERT_SHA1.upper(), EXAMPLE_CERT_PUBLIC_KEY_SHA1, 500)))
    assert response["totalCount"] == len(SEED_AGENTS) + 1
    assert response["agents"][-1] == {"agentGuid": AGENT, "date": START + 3}
    limited = reply(call(service, TIE_GET_CERT_FIRST_REFS,
                         _wire.cert_first_references_request(EXAMPLE_CERT_SHA1, None, 1)))
    assert limited == {"totalCount": len(SEED_AGENTS) + 1, "agents": [
        {"agentGuid": SEED_AGENTS[0][0], "date": SEED_AGENTS[0][1]}]}
    unknown = reply(call(service, TIE_GET_CERT_FIRST_REFS,
                         _wire.cert_first_references_request(NEW_CERT_SHA1)))
    assert unknown == {"totalCount": 0, "agents": []}


# ---------------------------------------------------------------------------------------------
# Set file reputation
# ---------------------------------------------------------------------------------------------

def test_set_file_reputation_replies_an_empty_object_and_announces_the_change(
        service: TieService, clock: Clock) -> None:
    old = by_provider(reply(get_file(service, NOTEPAD_HASHES)))
    clock.tick(60)
    outcome = call(service, TIE_SET_FILE_REPUTATION_TOPIC, _wire.set_file_reputation_request(
        TrustLevel.MOST_LIKELY_TRUSTED, {"md5": NOTEPAD_HASHES["md5"]}, "notepad.exe", "c"))
    assert reply(outcome) == {}
    [(topic, event)] = events(outcome.events)
    assert topic == TIE_EVENT_FILE_REPUTATION_CHANGE_TOPIC
    assert list(event) == ["hashes", "oldReputations", "newReputations", "updateTime",
                           "relationships"]
    assert event["hashes"] == _wire.hashes_to_wire(NOTEPAD_HASHES)  # all known hashes
    assert event["updateTime"] == START + 60
    for key in ("oldReputations", "newReputations"):
        assert event[key]["props"] == {"serverTime": START + 60}
    old_event = _wire.reputations_from_wire(event["oldReputations"]["reputations"])
    new_event = _wire.reputations_from_wire(event["newReputations"]["reputations"])
    assert old_event[FileProvider.ENTERPRISE]["trustLevel"] == TrustLevel.NOT_SET
    assert old_event[FileProvider.ENTERPRISE] == old[FileProvider.ENTERPRISE]
    new_enterprise = new_event[FileProvider.ENTERPRISE]
    assert new_enterprise["trustLevel"] == TrustLevel.MOST_LIKELY_TRUSTED
    assert new_enterprise["createDate"] == START + 60
    assert new_enterprise["attributes"] == old[FileProvider.ENTERPRISE]["attributes"]
    assert new_event[FileProvider.GTI] == old_event[FileProvider.GTI]
    # notepad is signed by the example certificate
    assert event["relationships"] == {"certificate": {
        "hashes": [{"type": "sha1", "value": _wire.hex_to_base64(EXAMPLE_CERT_SHA1)}],
        "publicKeySha1": _wire.hex_to_base64(EXAMPLE_CERT_PUBLIC_KEY_SHA1)}}
    # and the client's callback transform accepts it
    transformed = _wire.transform_reputation_change_event(json.loads(json.dumps(event)))
    assert transformed["hashes"] == NOTEPAD_HASHES
    assert transformed["relationships"]["certificate"]["publicKeySha1"] == \
        EXAMPLE_CERT_PUBLIC_KEY_SHA1
    # the next lookup shows the new trust level
    now = by_provider(reply(get_file(service, NOTEPAD_HASHES)))
    assert now[FileProvider.ENTERPRISE]["trustLevel"] == TrustLevel.MOST_LIKELY_TRUSTED


def test_set_file_reputation_of_an_unknown_file_creates_it(service: TieService,
                                                           store: Store) -> None:
    outcome = call(service, TIE_SET_FILE_REPUTATION_TOPIC,
                   _wire.set_file_reputation_request(TrustLevel.KNOWN_MALICIOUS, NEW_HASHES,
                                                     "bad.exe"))
    assert reply(outcome) == {}
    [(_, event)] = events(outcome.events)
    assert "relationships" not in event
    old = _wire.reputations_from_wire(event["oldReputations"]["reputations"])
    new = _wire.reputations_from_wire(event["newReputations"]["reputations"])
    assert old[FileProvider.ENTERPRISE]["trustLevel"] == TrustLevel.NOT_SET
    assert new[FileProvider.ENTERPRISE]["trustLevel"] == TrustLevel.KNOWN_MALICIOUS
    file_id = store.find_file(NEW_HASHES)
    assert file_id is not None and store.file_name(file_id) == "bad.exe"
    assert store.counts()["references"] == 7  # a set request is not a reference


def test_set_file_reputation_to_not_set_is_accepted(service: TieService) -> None:
    payload = _wire.set_file_reputation_request(TrustLevel.KNOWN_TRUSTED, NOTEPAD_HASHES)
    reply(call(service, TIE_SET_FILE_REPUTATION_TOPIC, payload))
    payload["trustLevel"] = TrustLevel.NOT_SET
    reply(call(service, TIE_SET_FILE_REPUTATION_TOPIC, payload))
    reputations = by_provider(reply(get_file(service, NOTEPAD_HASHES)))
    assert reputations[FileProvider.ENTERPRISE]["trustLevel"] == TrustLevel.NOT_SET


# ---------------------------------------------------------------------------------------------
# Certificates
# ---------------------------------------------------------------------------------------------

def test_seeded_certificate_lookup(service: TieService) -> None:
    outcome = call(service, TIE_GET_CERT_REPUTATION_TOPIC, _wire.cert_reputation_request(
        EXAMPLE_CERT_SHA1.upper(), EXAMPLE_CERT_PUBLIC_KEY_SHA1.upper()))
    response = reply(outcome)
    assert response["props"] == {"serverTime": START, "submitMetaData": 1}
    reputations = by_provider(response)
    assert sorted(reputations) == [CertProvider.GTI, CertProvider.ENTERPRISE]
    assert reputations[CertProvider.GTI]["trustLevel"] == TrustLevel.KNOWN_TRUSTED
    attributes = reputations[CertProvider.ENTERPRISE]["attributes"]
    assert attributes[CertEnterpriseAttrib.PREVALENCE] == str(len(SEED_AGENTS) + 1)
    assert CertEnterpriseAttrib.FIRST_CONTACT in attributes
    assert outcome.events == []


def test_certificate_lookup_without_a_public_key(service: TieService) -> None:
    reputations = by_provider(reply(call(service, TIE_GET_CERT_REPUTATION_TOPIC,
                                         _wire.cert_reputation_request(EXAMPLE_CERT_SHA1))))
    assert reputations[CertProvider.GTI]["trustLevel"] == TrustLevel.KNOWN_TRUSTED


def test_the_schemas_cert_public_key_name_is_accepted(service: TieService,
                                                      store: Store) -> None:
    payload = {"hashes": [{"type": "sha1", "value": _wire.hex_to_base64(NEW_CERT_SHA1)}],
               "certPublicKeySha1": _wire.hex_to_base64(NEW_PUBLIC_KEY_SHA1)}
    reply(call(service, TIE_GET_CERT_REPUTATION_TOPIC, payload))
    cert_id = store.find_certificate(NEW_CERT_SHA1)
    assert store.certificate_hashes(cert_id or 0) == (NEW_CERT_SHA1, NEW_PUBLIC_KEY_SHA1)


def test_an_unknown_certificate_is_created(service: TieService, store: Store) -> None:
    outcome = call(service, TIE_GET_CERT_REPUTATION_TOPIC,
                   _wire.cert_reputation_request(NEW_CERT_SHA1))
    reputations = by_provider(reply(outcome))
    assert reputations[CertProvider.GTI]["trustLevel"] == TrustLevel.UNKNOWN
    assert reputations[CertProvider.ENTERPRISE]["trustLevel"] == TrustLevel.NOT_SET
    assert store.certificate_hashes(store.find_certificate(NEW_CERT_SHA1) or 0) == (
        NEW_CERT_SHA1, None)


def test_set_certificate_reputation_announces_the_change(service: TieService,
                                                         clock: Clock) -> None:
    clock.tick(7)
    outcome = call(service, TIE_SET_CERT_REPUTATION_TOPIC, _wire.set_cert_reputation_request(
        TrustLevel.MIGHT_BE_MALICIOUS, EXAMPLE_CERT_SHA1, None, "why"))
    assert reply(outcome) == {}
    [(topic, event)] = events(outcome.events)
    assert topic == TIE_EVENT_CERT_REPUTATION_CHANGE_TOPIC
    assert list(event) == ["hashes", "publicKeySha1", "oldReputations", "newReputations",
                           "updateTime"]
    assert event["hashes"] == [{"type": "sha1",
                                "value": _wire.hex_to_base64(EXAMPLE_CERT_SHA1)}]
    assert event["publicKeySha1"] == _wire.hex_to_base64(EXAMPLE_CERT_PUBLIC_KEY_SHA1)
    assert event["updateTime"] == START + 7
    old = _wire.reputations_from_wire(event["oldReputations"]["reputations"])
    new = _wire.reputations_from_wire(event["newReputations"]["reputations"])
    assert old[CertProvider.ENTERPRISE]["trustLevel"] == TrustLevel.NOT_SET
    assert new[CertProvider.ENTERPRISE]["trustLevel"] == TrustLevel.MIGHT_BE_MALICIOUS
    assert new[CertProvider.ENTERPRISE]["createDate"] == START + 7
    lookup = by_provider(reply(call(service, TIE_GET_CERT_REPUTATION_TOPIC,
                                    _wire.cert_reputation_request(EXAMPLE_CERT_SHA1))))
    assert lookup[CertProvider.ENTERPRISE]["trustLevel"] == TrustLevel.MIGHT_BE_MALICIOUS


def test_a_certificate_event_has_no_public_key_when_unknown(service: TieService) -> None:
    outcome = call(service, TIE_SET_CERT_REPUTATION_TOPIC,
                   _wire.set_cert_reputation_request(TrustLevel.KNOWN_TRUSTED, NEW_CERT_SHA1))
    [(_, event)] = events(outcome.events)
    assert "publicKeySha1" not in event


def test_overridden_files_appear_in_the_certificates_enterprise_reputation(
        service: TieService) -> None:
    reply(call(service, TIE_SET_FILE_REPUTATION_TOPIC,
               _wire.set_file_reputation_request(TrustLevel.KNOWN_TRUSTED, NOTEPAD_HASHES)))
    response = reply(call(service, TIE_GET_CERT_REPUTATION_TOPIC,
                          _wire.cert_reputation_request(EXAMPLE_CERT_SHA1)))
    assert "overridden" not in response  # TIE-SPEC: inside the reputation, not at the top
    reputations = by_provider(response)  # the client's transform
    overridden = reputations[CertProvider.ENTERPRISE]["overridden"]
    assert overridden == {"files": [{"hashes": NOTEPAD_HASHES}], "truncated": 0}


# ---------------------------------------------------------------------------------------------
# External report
# ---------------------------------------------------------------------------------------------

def external(trust_level: int = TrustLevel.MIGHT_BE_TRUSTED, hashes: Any = None,
             filename: str = "random.exe") -> bytes:
    return _wire.encode_json(_wire.external_file_report_event(
        trust_level, hashes or NEW_HASHES, FileType.PEEXE, filename, "a comment"))


def test_an_external_report_stores_the_external_reputation(service: TieService,
                                                           clock: Clock) -> None:
    clock.tick(2)
    published = events(service.handle_external_report(external()))
    [(topic, event)] = published
    assert topic == TIE_EVENT_FILE_REPUTATION_CHANGE_TOPIC
    new = _wire.reputations_from_wire(event["newReputations"]["reputations"])
    old = _wire.reputations_from_wire(event["oldReputations"]["reputations"])
    assert FileProvider.EXTERNAL not in old
    assert new[FileProvider.EXTERNAL] == {"providerId": 15, "trustLevel": 70,
                                          "createDate": START + 2, "attributes": {}}
    reputations = by_provider(reply(get_file(service, {"md5": NEW_HASHES["md5"]})))
    assert reputations[FileProvider.EXTERNAL]["trustLevel"] == TrustLevel.MIGHT_BE_TRUSTED
    # and the comment is stored nowhere
    assert "a comment" not in repr(dump(service.store.path))


def test_an_external_report_merges_upper_case_hashes(service: TieService,
                                                     store: Store) -> None:
    reply(get_file(service, {"md5": NEW_HASHES["md5"]}))
    upper = {key: value.upper() for key, value in NEW_HASHES.items()}
    assert service.handle_external_report(external(hashes=upper))
    file_id = store.find_file({"md5": NEW_HASHES["md5"]})
    assert store.file_hashes(file_id or 0) == NEW_HASHES
    assert store.file_name(file_id or 0) == "random.exe"


def test_an_external_report_without_a_filename_is_ignored(service: TieService, store: Store,
                                                          caplog: Any) -> None:
    before = dump(store.path)
    with caplog.at_level("INFO", logger="dxltieclient.sandbox.tie.service"):
        assert service.handle_external_report(external(filename="")) == []
    assert "TIE ignores external reports without a filename" in caplog.text
    assert dump(store.path) == before


@pytest.mark.parametrize("payload", [
    b"not json",
    b"[]",
    b'{"file": 3}',
    b'{"file": {"hashes": {"md5": "f2c7bb8acc97f92e987a2d4087d021b1"}, "attributes": '
    b'{"filename": "a"}, "reputation": {"score": 70}}, "provider": {"id": 11}}',
    b'{"file": {"hashes": {}, "attributes": {"filename": "a"}, "reputation": {"score": 70}}, '
    b'"provider": {"id": 15}}',
    b'{"file": {"hashes": {"md5": "zz"}, "attributes": {"filename": "a"}, '
    b'"reputation": {"score": 70}}, "provider": {"id": 15}}',
    b'{"file": {"hashes": {"md5": "f2c7bb8acc97f92e987a2d4087d021b1"}, "attributes": '
    b'{"filename": "a"}, "reputation": {"score": 71}}, "provider": {"id": 15}}',
    b'{"file": {"hashes": {"md5": "f2c7bb8acc97f92e987a2d4087d021b1"}, "attributes": '
    b'{"filename": 5}, "reputation": {"score": 70}}, "provider": {"id": 15}}',
])
def test_a_malformed_external_report_is_ignored(service: TieService, store: Store,
                                                payload: bytes) -> None:
    before = dump(store.path)
    assert service.handle_external_report(payload) == []
    assert dump(store.path) == before


# ---------------------------------------------------------------------------------------------
# Malformed requests
# ---------------------------------------------------------------------------------------------

def b64(hex_value: str) -> str:
    return _wire.hex_to_base64(hex_value)


MD5_ENTRY = {"type": "md5", "value": b64(NOTEPAD_HASHES["md5"])}
SHA1_ENTRY = {"type": "sha1", "value": b64(EXAMPLE_CERT_SHA1)}

MALFORMED = [
    # (topic, payload, words expected in the message)
    (TIE_GET_FILE_REPUTATION_TOPIC, b"not json", "not UTF-8 JSON"),
    (TIE_GET_FILE_REPUTATION_TOPIC, b"\xff\xfe", "not UTF-8 JSON"),
    (TIE_GET_FILE_REPUTATION_TOPIC, b"", "not UTF-8 JSON"),
    (TIE_GET_FILE_REPUTATION_TOPIC, b"[1, 2]", "not an object"),
    (TIE_GET_FILE_REPUTATION_TOPIC, {"scanType": 3}, "'hashes'"),
    (TIE_GET_FILE_REPUTATION_TOPIC, {"hashes": []}, "'hashes'"),
    (TIE_GET_FILE_REPUTATION_TOPIC, {"hashes": {"md5": "x"}}, "'hashes'"),
    (TIE_GET_FILE_REPUTATION_TOPIC, {"hashes": ["md5"]}, "'type' and 'value'"),
    (TIE_GET_FILE_REPUTATION_TOPIC, {"hashes": [{"type": "md5"}]}, "'type' and 'value'"),
    (TIE_GET_FILE_REPUTATION_TOPIC, {"hashes": [{"type": "md5", "value": "%%%"}]},
     "not valid base64"),
    (TIE_GET_FILE_REPUTATION_TOPIC, {"hashes": [{"type": "md5", "value": 12}]},
     "base64 string"),
    (TIE_GET_FILE_REPUTATION_TOPIC, {"hashes": [{"type": "md5", "value": b64("ab" * 20)}]},
     "20 bytes long, expected 16"),
    (TIE_GET_FILE_REPUTATION_TOPIC, {"hashes": [MD5_ENTRY, {"type": "sha512", "value": "AA=="}]},
     "unknown hash type 'sha512'"),
    (TIE_GET_FILE_REPUTATION_TOPIC, {"hashes": [{"type": "MD5", "value": MD5_ENTRY["value"]}]},
     "unknown hash type"),
    (TIE_SET_FILE_REPUTATION_TOPIC, {"providerId": 3, "hashes": [MD5_ENTRY]}, "'trustLevel'"),
    (TIE_SET_FILE_REPUTATION_TOPIC, {"trustLevel": 42, "providerId": 3, "hashes": [MD5_ENTRY]},
     "'trustLevel'"),
    (TIE_SET_FILE_REPUTATION_TOPIC, {"trustLevel": "99", "providerId": 3,
                                     "hashes": [MD5_ENTRY]}, "'trustLevel'"),
    (TIE_SET_FILE_REPUTATION_TOPIC, {"trustLevel": True, "providerId": 3,
                                     "hashes": [MD5_ENTRY]}, "'trustLevel'"),
    (TIE_SET_FILE_REPUTATION_TOPIC, {"trustLevel": 99, "providerId": 1, "hashes": [MD5_ENTRY]},
     "'providerId' must be 3"),
    (TIE_SET_FILE_REPUTATION_TOPIC, {"trustLevel": 99, "providerId": 15,
                                     "hashes": [MD5_ENTRY]}, "'providerId' must be 3"),
    (TIE_SET_FILE_REPUTATION_TOPIC, {"trustLevel": 99, "providerId": 3, "filename": 7,
                                     "hashes": [MD5_ENTRY]}, "'filename'"),
    (TIE_SET_FILE_REPUTATION_TOPIC, {"trustLevel": 99, "providerId": 3, "comment": [],
                                     "hashes": [MD5_ENTRY]}, "'comment'"),
    (TIE_SET_FILE_REPUTATION_TOPIC, {"trustLevel": 99, "providerId": 3, "hashes": []},
     "'hashes'"),
    (TIE_GET_FILE_FIRST_REFS, {"queryLimit": 0, "hashes": [MD5_ENTRY]}, "'queryLimit'"),
    (TIE_GET_FILE_FIRST_REFS, {"queryLimit": "5", "hashes": [MD5_ENTRY]}, "'queryLimit'"),
    (TIE_GET_FILE_FIRST_REFS, {"queryLimit": 2.5, "hashes": [MD5_ENTRY]}, "'queryLimit'"),
    (TIE_GET_FILE_FIRST_REFS, {"queryLimit": True, "hashes": [MD5_ENTRY]}, "'queryLimit'"),
    (TIE_GET_FILE_FIRST_REFS, {"queryLimit": 10}, "'hashes'"),
    (TIE_GET_CERT_REPUTATION_TOPIC, {"hashes": [MD5_ENTRY]}, "unknown hash type 'md5'"),
    (TIE_GET_CERT_REPUTATION_TOPIC, {"hashes": []}, "'hashes'"),
    (TIE_GET_CERT_REPUTATION_TOPIC, {"hashes": [SHA1_ENTRY], "publicKeySha1": "!!"},
     "publicKeySha1"),
    (TIE_GET_CERT_REPUTATION_TOPIC, {"hashes": [SHA1_ENTRY], "publicKeySha1": b64("ab" * 16)},
     "16 bytes long, expected 20"),
    (TIE_SET_CERT_REPUTATION_TOPIC, {"trustLevel": 99, "providerId": 3,
                                     "hashes": [SHA1_ENTRY]}, "'providerId' must be 4"),
    (TIE_SET_CERT_REPUTATION_TOPIC, {"trustLevel": -1, "providerId": 4,
                                     "hashes": [SHA1_ENTRY]}, "'trustLevel'"),
    (TIE_SET_CERT_REPUTATION_TOPIC, {"trustLevel": 99, "providerId": 4, "hashes": [MD5_ENTRY]},
     "unknown hash type"),
    (TIE_GET_CERT_FIRST_REFS, {"queryLimit": -5, "hashes": [SHA1_ENTRY]}, "'queryLimit'"),
    (TIE_GET_CERT_FIRST_REFS, {"queryLimit": 5, "hashes": "sha1"}, "'hashes'"),
    ("/mcafee/service/tie/file/unknown", {"hashes": [MD5_ENTRY]}, "unknown topic"),
]


@pytest.mark.parametrize("topic, payload, words", MALFORMED)
def test_a_malformed_request_gets_an_error_and_changes_nothing(
        service: TieService, store: Store, topic: str, payload: Any, words: str) -> None:
    before = dump(store.path)
    outcome = call(service, topic, payload)
    assert outcome.response is None
    assert outcome.events == []
    assert outcome.error is not None
    code, message = outcome.error
    assert code == ERROR_INVALID_REQUEST
    assert message.startswith("Invalid TIE request")
    assert words in message
    assert dump(store.path) == before
    # and the service keeps serving
    assert reply(get_file(service, NOTEPAD_HASHES))["reputations"]


def test_an_internal_failure_is_logged_and_answered_with_500(
        service: TieService, store: Store, monkeypatch: Any, caplog: Any) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(store, "add_file_reference", broken)
    before = dump(store.path)
    with caplog.at_level("ERROR", logger="dxltieclient.sandbox.tie.service"):
        outcome = get_file(service, NEW_HASHES)
    assert outcome.error is not None and outcome.error[0] == ERROR_INTERNAL
    assert outcome.events == []
    assert "disk on fire" in caplog.text
    assert dump(store.path) == before  # the file created before the failure is rolled back


def test_an_internal_failure_in_an_external_report_is_logged(
        service: TieService, monkeypatch: Any, caplog: Any) -> None:
    monkeypatch.setattr(service_module.events, "file_reputation_change_event",
                        lambda *args: 1 / 0)
    with caplog.at_level("ERROR", logger="dxltieclient.sandbox.tie.service"):
        assert service.handle_external_report(external()) == []
    assert "ZeroDivisionError" in caplog.text
