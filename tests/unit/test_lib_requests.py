"""Every TieClient method over the fake DXL client: topic, message kind, exact payload bytes,
timeout, return values (TIE-SPEC 3.1-3.7)."""

import base64
import json

import pytest
from dxlbootstrap.util import MessageUtils
from dxlclient import Event, Request
from tie_fakes import DXLCLIENT_DEFAULT_WAIT

from dxltieclient import FileProvider, FileType, HashType, TrustLevel
from dxltieclient.client import (
    TIE_EVENT_EXTERNAL_FILE_REPORT_TOPIC,
    TIE_GET_CERT_FIRST_REFS,
    TIE_GET_CERT_REPUTATION_TOPIC,
    TIE_GET_FILE_FIRST_REFS,
    TIE_GET_FILE_REPUTATION_TOPIC,
    TIE_SET_CERT_REPUTATION_TOPIC,
    TIE_SET_FILE_REPUTATION_TOPIC,
)

MD5 = "f2c7bb8acc97f92e987a2d4087d021b1"
SHA1 = "7eb0139d2175739b3ccb0d1110067820be6abd29"
SHA256 = "142e1d688ef0568370c37187fd9f2351d7ddeda574f8bfa9b0fa4ef42db85aa2"
MD5_B64 = "8se7isyX+S6Yei1Ah9AhsQ=="
SHA1_B64 = "frATnSF1c5s8yw0REAZ4IL5qvSk="
SHA256_B64 = "FC4daI7wVoNww3GH/Z8jUdfd7aV0+L+psPpO9C24WqI="
CERT_SHA1 = "1c26e2037c8e205b452cab3565d696512207d66d"
CERT_SHA1_B64 = "HCbiA3yOIFtFLKs1ZdaWUSIH1m0="
CERT_PK_SHA1 = "b4c3b2d596d1461c1bb417b92dcd74817abb829d"
CERT_PK_SHA1_B64 = "tMOy1ZbRRhwbtBe5Lc10gXq7gp0="

HASHES_2 = {HashType.MD5: MD5, HashType.SHA1: SHA1}
HASHES_2_WIRE = ('[{"type": "md5", "value": "8se7isyX+S6Yei1Ah9AhsQ=="}, '
                 '{"type": "sha1", "value": "frATnSF1c5s8yw0REAZ4IL5qvSk="}]')


def _only_request(fake):
    assert not fake.events
    assert len(fake.requests) == 1
    sent = fake.requests[0]
    assert type(sent.request) is Request
    return sent


def _bootstrap_bytes(payload_dict):
    """The bytes dxlbootstrap's MessageUtils would have produced for this dict."""
    message = Request("/x")
    MessageUtils.dict_to_json_payload(message, payload_dict)
    return message.payload


# -- the verified examples of TIE-SPEC 3 ----------------------------------------------------------

def test_set_file_reputation_verified_example(tie, fake):
    assert tie.set_file_reputation(99, HASHES_2) is None
    sent = _only_request(fake)
    assert sent.topic == TIE_SET_FILE_REPUTATION_TOPIC
    assert sent.payload == (
        b'{"trustLevel": 99, "providerId": 3, "filename": "", "comment": "", "hashes": '
        + HASHES_2_WIRE.encode() + b"}")
    assert sent.timeout == 30


def test_set_certificate_reputation_verified_example(tie, fake):
    assert tie.set_certificate_reputation(99, CERT_SHA1, CERT_PK_SHA1, comment="c") is None
    sent = _only_request(fake)
    assert sent.topic == TIE_SET_CERT_REPUTATION_TOPIC
    assert sent.payload == (
        b'{"trustLevel": 99, "providerId": 4, "comment": "c", "hashes": [{"type": "sha1", '
        b'"value": "HCbiA3yOIFtFLKs1ZdaWUSIH1m0="}], "publicKeySha1": '
        b'"tMOy1ZbRRhwbtBe5Lc10gXq7gp0="}')


def test_get_certificate_first_references_verified_example(tie, fake):
    assert tie.get_certificate_first_references(CERT_SHA1) == []
    sent = _only_request(fake)
    assert sent.topic == TIE_GET_CERT_FIRST_REFS
    assert sent.payload == (b'{"queryLimit": 500, "hashes": [{"type": "sha1", "value": '
                            b'"HCbiA3yOIFtFLKs1ZdaWUSIH1m0="}]}')


def test_set_external_file_reputation_verified_example(tie, fake):
    result = tie.set_external_file_reputation(70, HASHES_2, file_type=18, filename="r.exe",
                                              comment="c")
    assert result is None
    assert not fake.requests
    assert len(fake.events) == 1
    event = fake.events[0]
    assert type(event) is Event
    assert event.destination_topic == TIE_EVENT_EXTERNAL_FILE_REPORT_TOPIC
    assert event.payload == (
        b'{"file": {"type": 18, "hashes": {"md5": "f2c7bb8acc97f92e987a2d4087d021b1", '
        b'"sha1": "7eb0139d2175739b3ccb0d1110067820be6abd29"}, "attributes": {"filename": '
        b'"r.exe"}, "reputation": {"score": 70}}, "provider": {"id": 15}, "comment": "c"}')


def test_get_file_reputation_verified_example(tie, fake):
    tie.get_file_reputation(HASHES_2)
    sent = _only_request(fake)
    assert sent.topic == TIE_GET_FILE_REPUTATION_TOPIC
    assert sent.payload == b'{"hashes": ' + HASHES_2_WIRE.encode() + b', "scanType": 3}'


# -- every method: payload bytes, topic, kind, timeout -------------------------------------------

ALL_HASHES = {HashType.MD5: MD5, HashType.SHA1: SHA1, HashType.SHA256: SHA256}
ALL_HASHES_WIRE = [{"type": "md5", "value": MD5_B64}, {"type": "sha1", "value": SHA1_B64},
                   {"type": "sha256", "value": SHA256_B64}]
REVERSED_HASHES = {HashType.SHA256: SHA256.upper(), HashType.MD5: MD5}
REVERSED_HASHES_WIRE = [{"type": "sha256", "value": SHA256_B64},
                        {"type": "md5", "value": MD5_B64}]
CERT_WIRE = [{"type": "sha1", "value": CERT_SHA1_B64}]

# (method, args, kwargs, topic, expected payload dict in spec key order)
REQUEST_CASES = [
    ("set_file_reputation", (TrustLevel.KNOWN_TRUSTED, ALL_HASHES), {},
     TIE_SET_FILE_REPUTATION_TOPIC,
     {"trustLevel": 99, "providerId": 3, "filename": "", "comment": "",
      "hashes": ALL_HASHES_WIRE}),
    ("set_file_reputation", (TrustLevel.KNOWN_MALICIOUS, REVERSED_HASHES),
     {"filename": "notepad.exe", "comment": "Reputation set via OpenDXL"},
     TIE_SET_FILE_REPUTATION_TOPIC,
     {"trustLevel": 1, "providerId": 3, "filename": "notepad.exe",
      "comment": "Reputation set via OpenDXL", "hashes": REVERSED_HASHES_WIRE}),
    ("set_file_reputation", (TrustLevel.NOT_SET, {HashType.MD5: MD5}, "n\u00e9.exe", "\u00fc"),
     {}, TIE_SET_FILE_REPUTATION_TOPIC,
     {"trustLevel": 0, "providerId": 3, "filename": "n\u00e9.exe", "comment": "\u00fc",
      "hashes": [{"type": "md5", "value": MD5_B64}]}),
    ("get_file_reputation", (ALL_HASHES,), {}, TIE_GET_FILE_REPUTATION_TOPIC,
     {"hashes": ALL_HASHES_WIRE, "scanType": 3}),
    ("get_file_reputation", (REVERSED_HASHES,), {}, TIE_GET_FILE_REPUTATION_TOPIC,
     {"hashes": REVERSED_HASHES_WIRE, "scanType": 3}),
    ("get_file_first_references", (ALL_HASHES,), {}, TIE_GET_FILE_FIRST_REFS,
     {"queryLimit": 500, "hashes": ALL_HASHES_WIRE}),
    ("get_file_first_references", (REVERSED_HASHES,), {"query_limit": 7},
     TIE_GET_FILE_FIRST_REFS, {"queryLimit": 7, "hashes": REVERSED_HASHES_WIRE}),
    ("get_file_first_references", (REVERSED_HASHES, 5000), {},
     TIE_GET_FILE_FIRST_REFS, {"queryLimit": 5000, "hashes": REVERSED_HASHES_WIRE}),
    ("set_certificate_reputation", (TrustLevel.MIGHT_BE_MALICIOUS, CERT_SHA1), {},
     TIE_SET_CERT_REPUTATION_TOPIC,
     {"trustLevel": 30, "providerId": 4, "comment": "", "hashes": CERT_WIRE}),
    ("set_certificate_reputation", (TrustLevel.UNKNOWN, CERT_SHA1.upper(), None, "x"), {},
     TIE_SET_CERT_REPUTATION_TOPIC,
     {"trustLevel": 50, "providerId": 4, "comment": "x", "hashes": CERT_WIRE}),
    ("set_certificate_reputation", (TrustLevel.UNKNOWN, CERT_SHA1),
     {"public_key_sha1": CERT_PK_SHA1.upper()}, TIE_SET_CERT_REPUTATION_TOPIC,
     {"trustLevel": 50, "providerId": 4, "comment": "", "hashes": CERT_WIRE,
      "publicKeySha1": CERT_PK_SHA1_B64}),
    ("get_certificate_reputation", (CERT_SHA1,), {}, TIE_GET_CERT_REPUTATION_TOPIC,
     {"hashes": CERT_WIRE}),
    ("get_certificate_reputation", (CERT_SHA1, CERT_PK_SHA1), {}, TIE_GET_CERT_REPUTATION_TOPIC,
     {"hashes": CERT_WIRE, "publicKeySha1": CERT_PK_SHA1_B64}),
    ("get_certificate_reputation", (CERT_SHA1, ""), {}, TIE_GET_CERT_REPUTATION_TOPIC,
     {"hashes": CERT_WIRE}),
    ("get_certificate_first_references", (CERT_SHA1,), {"query_limit": 1},
     TIE_GET_CERT_FIRST_REFS, {"queryLimit": 1, "hashes": CERT_WIRE}),
    ("get_certificate_first_references", (CERT_SHA1, CERT_PK_SHA1, 20), {},
     TIE_GET_CERT_FIRST_REFS,
     {"queryLimit": 20, "hashes": CERT_WIRE, "publicKeySha1": CERT_PK_SHA1_B64}),
]


CASE_IDS = ["{}-{}".format(case[0], index) for index, case in enumerate(REQUEST_CASES)]


@pytest.mark.parametrize("method, args, kwargs, topic, expected", REQUEST_CASES, ids=CASE_IDS)
def test_request_payload_bytes(tie, fake, method, args, kwargs, topic, expected):
    getattr(tie, method)(*args, **kwargs)
    sent = _only_request(fake)
    assert sent.topic == topic
    assert sent.payload == json.dumps(expected).encode("utf-8")
    assert sent.payload == _bootstrap_bytes(expected)
    assert list(sent.json()) == list(expected)  # key order
    assert sent.request.other_fields == {}


@pytest.mark.parametrize("method, args, kwargs, topic, expected", REQUEST_CASES, ids=CASE_IDS)
@pytest.mark.parametrize("timeout", [None, 45, 3600])
def test_request_timeout_is_response_timeout(tie, fake, method, args, kwargs, topic, expected,
                                             timeout):
    if timeout is not None:
        tie.response_timeout = timeout
    getattr(tie, method)(*args, **kwargs)
    sent = _only_request(fake)
    assert sent.timeout == (30 if timeout is None else timeout)
    assert sent.timeout != DXLCLIENT_DEFAULT_WAIT or timeout == 3600


def test_bytes_hash_values_are_accepted(tie, fake):
    tie.get_file_reputation({HashType.MD5: MD5.encode(), HashType.SHA1: SHA1.upper().encode()})
    assert _only_request(fake).payload == b'{"hashes": ' + HASHES_2_WIRE.encode() + \
        b', "scanType": 3}'


@pytest.mark.parametrize("hashes", [{HashType.MD5: MD5.upper()},
                                    {HashType.MD5: MD5[:10].upper() + MD5[10:]}])
def test_upper_case_hex_is_normalised_by_base64(tie, fake, hashes):
    tie.get_file_reputation(hashes)
    assert _only_request(fake).json()["hashes"] == [{"type": "md5", "value": MD5_B64}]


# -- external report ------------------------------------------------------------------------------

@pytest.mark.parametrize("trust_level", [1, 15, 30, 50, 70, 85, 99, 100])
@pytest.mark.parametrize("file_type", [0, 18, 2147483648, 4328554496, FileType.PDF])
def test_external_report_payload(tie, fake, trust_level, file_type):
    hashes = {HashType.SHA256: SHA256.upper(), HashType.MD5: MD5}
    tie.set_external_file_reputation(trust_level, hashes, file_type, "f.exe", "co")
    assert not fake.requests
    (event,) = fake.events
    expected = {"file": {"type": file_type, "hashes": hashes,
                         "attributes": {"filename": "f.exe"},
                         "reputation": {"score": trust_level}},
                "provider": {"id": FileProvider.EXTERNAL}, "comment": "co"}
    assert event.payload == json.dumps(expected).encode("utf-8")
    assert isinstance(event.payload, bytes)


def test_external_report_defaults(tie, fake):
    tie.set_external_file_reputation(TrustLevel.MIGHT_BE_TRUSTED, {HashType.MD5: MD5})
    (event,) = fake.events
    assert event.payload == (
        b'{"file": {"type": 0, "hashes": {"md5": "f2c7bb8acc97f92e987a2d4087d021b1"}, '
        b'"attributes": {"filename": ""}, "reputation": {"score": 70}}, '
        b'"provider": {"id": 15}, "comment": ""}')


def test_external_report_keeps_hex_case_verbatim(tie, fake):
    hashes = {HashType.MD5: MD5.upper(), HashType.SHA1: "7EB0139d2175739b3ccb0d1110067820BE6ABD29"}
    tie.set_external_file_reputation(70, hashes, filename="a")
    assert json.loads(fake.events[0].payload)["file"]["hashes"] == hashes


def test_external_report_uses_no_timeout_and_ignores_response_timeout(tie, fake):
    tie.response_timeout = 45
    tie.set_external_file_reputation(70, {HashType.MD5: MD5}, filename="a")
    assert len(fake.events) == 1 and not fake.requests


def test_external_report_does_not_keep_a_reference_to_the_callers_dict(tie, fake):
    hashes = {HashType.MD5: MD5}
    tie.set_external_file_reputation(70, hashes, filename="a")
    hashes[HashType.SHA1] = SHA1
    assert json.loads(fake.events[0].payload)["file"]["hashes"] == {"md5": MD5}


def test_external_report_warns_without_filename(tie, fake, caplog):
    caplog.set_level("DEBUG")
    tie.set_external_file_reputation(70, {HashType.MD5: MD5})
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1
    assert "filename" in warnings[0].getMessage()
    assert warnings[0].name.startswith("dxltieclient")
    assert len(fake.events) == 1


def test_external_report_does_not_warn_with_filename(tie, fake, caplog):
    caplog.set_level("DEBUG")
    tie.set_external_file_reputation(70, {HashType.MD5: MD5}, filename="x.exe")
    assert [r for r in caplog.records if r.levelno >= 30] == []
    assert len(fake.events) == 1


# -- return values --------------------------------------------------------------------------------

GTI_REP = {"providerId": 1, "trustLevel": 99, "createDate": 1475873692,
           "attributes": {"2120340": "2139160", "2101908": "1475873692"}}
ENT_REP = {"providerId": 3, "trustLevel": 0, "createDate": 1475873692,
           "attributes": {"2139285": "72339069014638857", "2098277": "256"}}


@pytest.mark.parametrize("method, args", [
    ("get_file_reputation", (HASHES_2,)),
    ("get_certificate_reputation", (CERT_SHA1, CERT_PK_SHA1)),
])
def test_reputations_keyed_by_int_provider_ids(tie, fake, method, args):
    fake.reply_json({"props": {"serverTime": 1475873692, "submitMetaData": 1},
                     "reputations": [GTI_REP, ENT_REP]})
    result = getattr(tie, method)(*args)
    assert result == {1: GTI_REP, 3: ENT_REP}
    assert all(type(key) is int for key in result)
    assert "props" not in result
    assert result[FileProvider.ENTERPRISE]["attributes"]["2139285"] == "72339069014638857"


def test_string_provider_ids_stay_strings(tie, fake):
    fake.reply_json({"reputations": [dict(GTI_REP, providerId="1")]})
    assert list(tie.get_file_reputation(HASHES_2)) == ["1"]


@pytest.mark.parametrize("response", [{}, {"props": {"serverTime": 1}}, {"other": []}])
@pytest.mark.parametrize("method, args", [
    ("get_file_reputation", (HASHES_2,)),
    ("get_certificate_reputation", (CERT_SHA1,)),
])
def test_reputations_missing_gives_empty_dict(tie, fake, method, args, response):
    fake.reply_json(response)
    result = getattr(tie, method)(*args)
    assert result == {} and isinstance(result, dict)


def test_empty_reputation_list_gives_empty_dict(tie, fake):
    fake.reply_json({"reputations": []})
    assert tie.get_file_reputation(HASHES_2) == {}


def test_last_duplicate_provider_wins(tie, fake):
    fake.reply_json({"reputations": [GTI_REP, dict(GTI_REP, trustLevel=1)]})
    assert tie.get_file_reputation(HASHES_2) == {1: dict(GTI_REP, trustLevel=1)}


def test_certificate_overridden_files_hashes_are_converted(tie, fake):
    overridden = {"files": [
        {"hashes": [{"type": "md5", "value": MD5_B64}, {"type": "sha1", "value": SHA1_B64},
                    {"type": "sha256", "value": SHA256_B64}]},
        {"hashes": []},
        {"other": 1},
    ], "truncated": 0}
    ent = {"providerId": 4, "trustLevel": 99, "createDate": 1, "attributes": {},
           "overridden": overridden}
    gti = {"providerId": 2, "trustLevel": 85, "createDate": 2,
           "attributes": {"2120596": "0"}}
    fake.reply_json({"reputations": [gti, ent]})
    result = tie.get_certificate_reputation(CERT_SHA1)
    assert result[2] == gti
    assert result[4]["overridden"] == {"files": [
        {"hashes": {"md5": MD5, "sha1": SHA1, "sha256": SHA256}},
        {"hashes": {}},
        {"other": 1},
    ], "truncated": 0}


def test_overridden_without_files_left_alone(tie, fake):
    rep = {"providerId": 4, "overridden": {"truncated": 1}}
    fake.reply_json({"reputations": [rep]})
    assert tie.get_certificate_reputation(CERT_SHA1) == {4: rep}


AGENTS = [{"agentGuid": "{3a6f574a-3e6f-436d-acd4-bcde336b054d}", "date": 1475873692},
          {"agentGuid": "{68125cd6-a5d8-11e6-348e-000c29663178}", "date": 1475873693}]


@pytest.mark.parametrize("method, args", [
    ("get_file_first_references", (HASHES_2,)),
    ("get_certificate_first_references", (CERT_SHA1,)),
])
def test_first_references(tie, fake, method, args):
    fake.reply_json({"totalCount": 2, "agents": AGENTS})
    assert getattr(tie, method)(*args) == AGENTS


@pytest.mark.parametrize("response", [{}, {"totalCount": 0}])
@pytest.mark.parametrize("method, args", [
    ("get_file_first_references", (HASHES_2,)),
    ("get_certificate_first_references", (CERT_SHA1,)),
])
def test_first_references_missing_gives_empty_list(tie, fake, method, args, response):
    fake.reply_json(response)
    result = getattr(tie, method)(*args)
    assert result == [] and isinstance(result, list)


GETTERS = [
    ("get_file_reputation", (HASHES_2,)),
    ("get_file_first_references", (HASHES_2,)),
    ("get_certificate_reputation", (CERT_SHA1,)),
    ("get_certificate_first_references", (CERT_SHA1,)),
]
SETTERS = [
    ("set_file_reputation", (99, HASHES_2)),
    ("set_certificate_reputation", (99, CERT_SHA1)),
]


@pytest.mark.parametrize("payload", [b"", b"\0"])
@pytest.mark.parametrize("method, args", GETTERS)
def test_getters_empty_payload_raise_json_decode_error(tie, fake, method, args, payload):
    fake.reply_payload(payload)
    with pytest.raises(json.JSONDecodeError):
        getattr(tie, method)(*args)


@pytest.mark.parametrize("method, args", GETTERS)
def test_getters_tolerate_trailing_nuls(tie, fake, method, args):
    fake.reply_payload(b'{"reputations": [], "agents": []}\0\0')
    assert getattr(tie, method)(*args) in ({}, [])


@pytest.mark.parametrize("payload", [b"", b"not json", b"\xff\xfe", b"[1, 2]", b"{}"])
@pytest.mark.parametrize("method, args", SETTERS)
def test_setters_ignore_the_response(tie, fake, method, args, payload):
    fake.reply_payload(payload)
    assert getattr(tie, method)(*args) is None
    assert len(fake.requests) == 1


def test_setters_send_nothing_else(tie, fake):
    tie.set_file_reputation(99, HASHES_2)
    tie.set_certificate_reputation(99, CERT_SHA1)
    assert [s.topic for s in fake.requests] == [TIE_SET_FILE_REPUTATION_TOPIC,
                                                TIE_SET_CERT_REPUTATION_TOPIC]
    assert not fake.events


def test_each_call_sends_a_new_request(tie, fake):
    tie.get_file_reputation(HASHES_2)
    tie.get_file_reputation(HASHES_2)
    first, second = fake.requests
    assert first.request.message_id != second.request.message_id
    assert first.payload == second.payload


def test_callers_hashes_dict_is_not_modified(tie, fake):
    hashes = {HashType.MD5: MD5.upper(), HashType.SHA1: SHA1}
    copy = dict(hashes)
    tie.get_file_reputation(hashes)
    tie.set_file_reputation(99, hashes)
    tie.get_file_first_references(hashes)
    tie.set_external_file_reputation(99, hashes, filename="a")
    assert hashes == copy


def test_base64_vectors_are_consistent():
    # guards the constants of this module
    for hex_value, b64 in [(MD5, MD5_B64), (SHA1, SHA1_B64), (SHA256, SHA256_B64),
                           (CERT_SHA1, CERT_SHA1_B64), (CERT_PK_SHA1, CERT_PK_SHA1_B64)]:
        assert base64.b64encode(bytes.fromhex(hex_value)).decode() == b64
