"""The rest of the TIE Server API (issue #10) over the fake DXL client: targeted reputation
change callbacks, prevalence callbacks, reputation updates (one page and paging), metadata
updates. Payload bytes, decoded forms of the schema's examples, validation messages, paging
termination."""

import hashlib
import json
import ssl

import pytest
from dxlclient import Event, Request
from dxlclient.callbacks import EventCallback
from hypothesis import given
from hypothesis import strategies as st
from tie_fakes import FakeDxlClient, make_event

from dxltieclient import HashType, TieClient, TieInputError, TieServiceError
from dxltieclient._errors import InvalidHashError
from dxltieclient._wire import (
    UpdatesPager,
    WireFormatError,
    cert_metadata_request,
    file_metadata_request,
    hashes_from_wire_strict,
    reputation_updates_from_response,
    reputation_updates_request,
    transform_prevalence_event,
)
from dxltieclient.callbacks import FilePrevalenceCallback, ReputationChangeCallback
from dxltieclient.client import (
    TIE_EVENT_CERT_REPUTATION_CHANGE_TARGETED_TOPIC,
    TIE_EVENT_FILE_PREVALENCE_CHANGE_TOPIC,
    TIE_EVENT_FILE_REPUTATION_CHANGE_TARGETED_TOPIC,
    TIE_GET_REPUTATION_UPDATES_TOPIC,
    TIE_UPDATE_CERT_METADATA_TOPIC,
    TIE_UPDATE_FILE_METADATA_TOPIC,
)

MD5 = "f2c7bb8acc97f92e987a2d4087d021b1"
SHA1 = "7eb0139d2175739b3ccb0d1110067820be6abd29"
CERT_SHA1 = "1c26e2037c8e205b452cab3565d696512207d66d"
CERT_SHA1_B64 = "HCbiA3yOIFtFLKs1ZdaWUSIH1m0="
CERT_PK_SHA1 = "b4c3b2d596d1461c1bb417b92dcd74817abb829d"
CERT_PK_SHA1_B64 = "tMOy1ZbRRhwbtBe5Lc10gXq7gp0="

# The schema's examples (tie-server.yaml).
UPDATES_RESPONSE_EXAMPLE = {
    "props": {"serverTime": 1518720115, "queryLimitExceeded": True},
    "fileHashes": [{"value": "ESK6sSE0rp1D+F3K9xrKLH/Wuaw=", "type": "sha1"},
                   {"value": "3tt/SI6IFXSHHisJtOUWhRFp0Y4=", "type": "sha1"},
                   {"value": "MQKz601c9VO26cNqWRdcCg==", "type": "md5"}],
    "certificateHashes": [{"value": "ERD6shE0rp1D+F3rUdrKLH/Wuet=", "type": "sha1"}],
    "latestUpdateTime": 1402602516,
}
PREVALENCE_EXAMPLE = {
    "hashes": [{"type": "sha1", "value": "0wzjHGXydh+ijtstLjkl1CkZgqU="},
               {"type": "md5", "value": "FvdpvB03zBTjCTuYgc8WkQ=="},
               {"type": "sha256", "value": "yXfKH1ESH+5YzaiIJ6YXOtTx1y2AJihOTE9EMCqWfkA="}],
    "agentGuid": "{abc5d2c6-e959-11e3-baeb-005056c00009}",
    "agentFirstReference": 1392320769, "enterpriseCount": 125, "prevalent": False,
}
CERT_CHANGE_EXAMPLE = {
    "publicKeySha1": "qi4bD+Y7VI1abbYyLjJLUAi2+Zg=",
    "hashes": [{"value": "X/1fNllXfncgp4Sx0qgRnYB5Klg=", "type": "sha1"}],
    "oldReputations": {"reputations": [{"providerId": 2, "createDate": 1396563520,
                                        "trustLevel": 0}],
                       "props": {"serverTime": 1487856678}},
    "newReputations": {"reputations": [{"providerId": 2, "createDate": 1396563520,
                                        "trustLevel": 99}],
                       "props": {"serverTime": 1487856678}},
    "updateTime": 1409851328,
}
FILE_CHANGE_EXAMPLE = {
    "oldReputations": {"reputations": [{"trustLevel": 0, "providerId": 3,
                                        "createDate": 1409783001}],
                       "props": {"serverTime": 1409851328}},
    "newReputations": {"reputations": [{"trustLevel": 85, "providerId": 3,
                                        "createDate": 1409783001}],
                       "props": {"serverTime": 1409851328}},
    "relationships": {"certificate": {"hashes": [
        {"value": "rB/QkipKKm5XeazdYodHwoOUsLk=", "type": "sha1"}]}},
    "hashes": [{"type": "md5", "value": "bQvLG6j1WmwRB8LZ2gPa1w=="},
               {"type": "sha1", "value": "OxbrjQd0H6+3meBW5YuBoInTcqM="}],
    "updateTime": 1409851328,
}


class Recorder:
    def __init__(self):
        self.calls = []


class RepRecorder(Recorder, ReputationChangeCallback):
    def on_reputation_change(self, rep_change_dict, original_event):
        self.calls.append(rep_change_dict)


class PrevalenceRecorder(Recorder, FilePrevalenceCallback):
    def on_prevalence(self, prevalence_dict, original_event):
        self.calls.append((prevalence_dict, original_event))


class _Config:
    def __init__(self, cert_file, client_id):
        self.cert_file = cert_file
        self._client_id = client_id


@pytest.fixture(scope="module")
def cert_file(tmp_path_factory):
    from dxltieclient.sandbox.pki import CertificateAuthority

    directory = tmp_path_factory.mktemp("cert")
    authority = CertificateAuthority(str(directory / "ca"))
    authority.ensure()
    return authority.issue("unit", str(directory / "client.crt"),
                           str(directory / "client.key")).cert_file


@pytest.fixture
def configured(cert_file):
    fake = FakeDxlClient()
    fake.config = _Config(cert_file, "{11111111-2222-3333-4444-555555555555}")
    return fake, TieClient(fake)


def _fingerprint(cert_file):
    with open(cert_file) as handle:
        return hashlib.sha1(ssl.PEM_cert_to_DER_cert(handle.read())).hexdigest()


def _targeted_event(payload, topic, client_ids):
    event = make_event(payload, topic)
    event.client_ids = list(client_ids)
    return event


# -- targeted reputation change callbacks ------------------------------------------------------

@pytest.mark.parametrize("add, remove, topic", [
    ("add_file_targeted_reputation_change_callback",
     "remove_file_targeted_reputation_change_callback",
     TIE_EVENT_FILE_REPUTATION_CHANGE_TARGETED_TOPIC),
    ("add_certificate_targeted_reputation_change_callback",
     "remove_certificate_targeted_reputation_change_callback",
     TIE_EVENT_CERT_REPUTATION_CHANGE_TARGETED_TOPIC),
])
def test_targeted_subscribe_and_unsubscribe(configured, add, remove, topic):
    fake, tie = configured
    callback = RepRecorder()
    getattr(tie, add)(callback)
    assert fake.subscriptions == (topic,)
    assert len(fake.callbacks_for(topic)) == 1
    getattr(tie, remove)(callback)
    assert fake.subscriptions == ()
    assert fake.callbacks_for(topic) == []


def test_targeted_event_for_this_certificate_is_delivered_transformed(configured, cert_file):
    fake, tie = configured
    callback = RepRecorder()
    tie.add_certificate_targeted_reputation_change_callback(callback)
    fake.deliver(_targeted_event(CERT_CHANGE_EXAMPLE,
                                 TIE_EVENT_CERT_REPUTATION_CHANGE_TARGETED_TOPIC,
                                 ["someoneelse", _fingerprint(cert_file).upper()]))
    [change] = callback.calls
    assert change["hashes"] == {"sha1": "5ffd5f3659577e7720a784b1d2a8119d80792a58"}
    assert change["publicKeySha1"] == "aa2e1b0fe63b548d5a6db6322e324b5008b6f998"
    assert change["newReputations"][2]["trustLevel"] == 99
    assert change["oldReputations"][2]["trustLevel"] == 0


def test_targeted_event_for_this_instance_id_and_broadcast_are_delivered(configured):
    fake, tie = configured
    callback = RepRecorder()
    tie.add_file_targeted_reputation_change_callback(callback)
    topic = TIE_EVENT_FILE_REPUTATION_CHANGE_TARGETED_TOPIC
    fake.deliver(_targeted_event(FILE_CHANGE_EXAMPLE, topic,
                                 ["{11111111-2222-3333-4444-555555555555}"]))
    fake.deliver(_targeted_event(FILE_CHANGE_EXAMPLE, topic, []))
    assert len(callback.calls) == 2
    change = callback.calls[0]
    assert change["hashes"] == {"md5": "6d0bcb1ba8f55a6c1107c2d9da03dad7",
                                "sha1": "3b16eb8d07741fafb799e056e58b81a089d372a3"}
    assert change["relationships"]["certificate"]["hashes"] == {
        "sha1": "ac1fd0922a4a2a6e5779acdd628747c28394b0b9"}
    assert change["newReputations"][3]["trustLevel"] == 85


def test_targeted_event_for_other_clients_is_dropped(configured):
    fake, tie = configured
    callback = RepRecorder()
    tie.add_file_targeted_reputation_change_callback(callback)
    fake.deliver(_targeted_event(FILE_CHANGE_EXAMPLE,
                                 TIE_EVENT_FILE_REPUTATION_CHANGE_TARGETED_TOPIC,
                                 ["{99999999-2222-3333-4444-555555555555}", "ab" * 20]))
    assert callback.calls == []


def test_targeted_without_config_only_broadcasts_pass(tie, fake):
    callback = RepRecorder()
    tie.add_file_targeted_reputation_change_callback(callback)
    topic = TIE_EVENT_FILE_REPUTATION_CHANGE_TARGETED_TOPIC
    fake.deliver(_targeted_event(FILE_CHANGE_EXAMPLE, topic, ["{x}"]))
    fake.deliver(_targeted_event(FILE_CHANGE_EXAMPLE, topic, []))
    assert len(callback.calls) == 1


def test_unreadable_certificate_is_logged_and_instance_id_still_matches(caplog, tmp_path):
    fake = FakeDxlClient()
    fake.config = _Config(str(tmp_path / "missing.crt"), "{me}")
    tie = TieClient(fake)
    callback = RepRecorder()
    tie.add_file_targeted_reputation_change_callback(callback)
    assert "Cannot read the client certificate" in caplog.text
    fake.deliver(_targeted_event(FILE_CHANGE_EXAMPLE,
                                 TIE_EVENT_FILE_REPUTATION_CHANGE_TARGETED_TOPIC, ["{me}"]))
    assert len(callback.calls) == 1


@pytest.mark.parametrize("bad, message", [(None, "Missing callback argument"),
                                          (object(), "Type mismatch on callback argument")])
def test_targeted_bad_callback_refused_like_dxlclient(tie, fake, bad, message):
    with pytest.raises(ValueError, match=message):
        tie.add_file_targeted_reputation_change_callback(bad)


def test_plain_event_callback_accepted_for_targeted(configured):
    fake, tie = configured
    events = []

    class Plain(EventCallback):
        def on_event(self, event):
            events.append(event)

    tie.add_file_targeted_reputation_change_callback(Plain())
    event = _targeted_event({}, TIE_EVENT_FILE_REPUTATION_CHANGE_TARGETED_TOPIC, [])
    fake.deliver(event)
    assert events == [event]


# -- prevalence ---------------------------------------------------------------------------------

def test_prevalence_callback_decodes_the_schema_example(tie, fake):
    callback = PrevalenceRecorder()
    tie.add_file_prevalence_callback(callback)
    assert fake.subscriptions == (TIE_EVENT_FILE_PREVALENCE_CHANGE_TOPIC,)
    event = make_event(PREVALENCE_EXAMPLE, TIE_EVENT_FILE_PREVALENCE_CHANGE_TOPIC)
    fake.deliver(event)
    [(prevalence, original)] = callback.calls
    assert original is event
    assert prevalence == {
        "hashes": {"sha1": "d30ce31c65f2761fa28edb2d2e3925d4291982a5",
                   "md5": "16f769bc1d37cc14e3093b9881cf1691",
                   "sha256": "c977ca1f51121fee58cda88827a6173ad4f1d72d8026284e4c4f44302a967e40"},
        "agentGuid": "{abc5d2c6-e959-11e3-baeb-005056c00009}",
        "agentFirstReference": 1392320769, "enterpriseCount": 125, "prevalent": False}
    tie.remove_file_prevalence_callback(callback)
    assert fake.subscriptions == ()


def test_malformed_prevalence_event_logged_and_dropped(tie, fake, caplog):
    callback = PrevalenceRecorder()
    tie.add_file_prevalence_callback(callback)
    fake.deliver(make_event(b"not json", TIE_EVENT_FILE_PREVALENCE_CHANGE_TOPIC))
    assert callback.calls == []
    assert "Dropped a malformed TIE event on topic /mcafee/event/tie/file/prevalence" in caplog.text


def test_prevalence_base_hook_raises():
    with pytest.raises(NotImplementedError):
        FilePrevalenceCallback().on_prevalence({}, None)


def test_transform_prevalence_event_requires_an_object():
    with pytest.raises(ValueError):
        transform_prevalence_event([1])


# -- reputation updates ------------------------------------------------------------------------

def test_updates_request_payload_bytes_defaults(tie, fake):
    fake.reply_json({"fileHashes": [], "certificateHashes": [], "latestUpdateTime": 5})
    result = tie.get_reputation_updates(1402612347)
    [sent] = fake.requests
    assert sent.topic == TIE_GET_REPUTATION_UPDATES_TOPIC
    assert isinstance(sent.request, Request)
    assert sent.payload == b'{"sinceTime": 1402612347, "queryLimit": 100, "targeted": false}'
    assert sent.timeout == 30
    assert result == {"fileHashes": [], "certificateHashes": [], "latestUpdateTime": 5,
                      "serverTime": None, "queryLimitExceeded": False}


def test_updates_request_payload_bytes_schema_example(tie, fake):
    tie.get_reputation_updates(1402612347, query_limit=300, targeted=True,
                               file_hash_type="sha256", cert_hash_type="sha1")
    assert fake.requests[0].payload == (
        b'{"sinceTime": 1402612347, "queryLimit": 300, "targeted": true, '
        b'"targetTypes": {"file": "sha256", "cert": "sha1"}}')


def test_updates_request_only_certificates():
    assert reputation_updates_request(0, 1, False, None, "sha1")["targetTypes"] == {
        "cert": "sha1"}


def test_updates_response_schema_example_decoded(tie, fake):
    fake.reply_json(UPDATES_RESPONSE_EXAMPLE)
    assert tie.get_reputation_updates(0) == {
        "fileHashes": [{"sha1": "1122bab12134ae9d43f85dcaf71aca2c7fd6b9ac"},
                       {"sha1": "dedb7f488e881574871e2b09b4e516851169d18e"},
                       {"md5": "3102b3eb4d5cf553b6e9c36a59175c0a"}],
        "certificateHashes": [{"sha1": "1110fab21134ae9d43f85deb51daca2c7fd6b9eb"}],
        "latestUpdateTime": 1402602516, "serverTime": 1518720115, "queryLimitExceeded": True}


def test_updates_response_without_lists():
    assert reputation_updates_from_response({}) == {
        "fileHashes": [], "certificateHashes": [], "latestUpdateTime": None,
        "serverTime": None, "queryLimitExceeded": False}
    with pytest.raises(WireFormatError):
        reputation_updates_from_response([])


@pytest.mark.parametrize("kwargs, message", [
    ({"since_time": -1}, r"since_time must be an int >= 0, got -1"),
    ({"since_time": "1"}, r"since_time must be an int >= 0, got '1'"),
    ({"since_time": True}, r"since_time must be an int >= 0, got True"),
    ({"since_time": 0, "query_limit": 0}, r"query_limit must be an int from 1 to 5000, got 0"),
    ({"since_time": 0, "query_limit": 5001},
     r"query_limit must be an int from 1 to 5000, got 5001"),
    ({"since_time": 0, "targeted": 1}, r"targeted must be a bool, got 1"),
    ({"since_time": 0, "file_hash_type": "sha512"},
     r"file_hash_type must be None or one of 'sha1', 'md5', 'sha256', got 'sha512'"),
    ({"since_time": 0, "cert_hash_type": "md5"},
     r"cert_hash_type must be None or one of 'sha1', got 'md5'"),
])
def test_updates_validation_messages(tie, fake, kwargs, message):
    with pytest.raises(TieInputError, match="^" + message + "$"):
        tie.get_reputation_updates(**kwargs)
    with pytest.raises(TieInputError, match="^" + message + "$"):
        tie.iter_reputation_updates(**kwargs)
    assert fake.nothing_sent


def _page(files, latest, exceeded):
    page = {"fileHashes": [{"type": "md5", "value": value} for value in files],
            "certificateHashes": [], "latestUpdateTime": latest}
    if exceeded:
        page["props"] = {"serverTime": 2000, "queryLimitExceeded": True}
    return page


B = ["AAAAAAAAAAAAAAAAAAAAAA==", "AQAAAAAAAAAAAAAAAAAAAA==", "AgAAAAAAAAAAAAAAAAAAAA==",
     "AwAAAAAAAAAAAAAAAAAAAA=="]


def _md5s(pages):
    return [entry["md5"][:2] for page in pages for entry in page["fileHashes"]]


def test_paging_follows_latest_update_time_and_dedups(tie, fake):
    fake.reply_json(_page(B[0:2], 10, True))      # B0 at 9, B1 at 10
    fake.reply_json(_page(B[1:3], 10, True))      # B1 again (time 10), B2 at 10
    fake.reply_json(_page(B[1:4], 11, False))     # B1, B2 again, B3 at 11
    pages = list(tie.iter_reputation_updates(5, query_limit=2))
    assert _md5s(pages) == ["00", "01", "02", "03"]
    assert [json.loads(sent.payload)["sinceTime"] for sent in fake.requests] == [5, 10, 10]


def test_paging_stops_on_a_server_that_repeats_itself(tie, fake):
    for _ in range(3):
        fake.reply_json(_page(B[0:2], 10, True))
    pages = tie.iter_reputation_updates(10, query_limit=2)
    assert _md5s([next(pages)]) == ["00", "01"]
    with pytest.raises(TieServiceError, match="repeated the reputation updates since 10") as error:
        next(pages)
    assert error.value.topic == TIE_GET_REPUTATION_UPDATES_TOPIC
    assert len(fake.requests) == 2


def test_pager_is_pure_and_reusable():
    pager = UpdatesPager(5)
    first = pager.take(reputation_updates_from_response(_page(B[0:2], 10, True)))
    assert (pager.since, pager.done, _md5s([first])) == (10, False, ["00", "01"])
    second = pager.take(reputation_updates_from_response(_page(B[1:3], 12, False)))
    assert (pager.done, _md5s([second])) == (True, ["02"])


@pytest.mark.parametrize("latest", [None, 4, "11"])
def test_paging_stops_without_a_usable_latest_update_time(tie, fake, latest):
    fake.reply_json(_page(B[0:1], latest, True))
    with pytest.raises(TieServiceError, match="no usable latestUpdateTime"):
        list(tie.iter_reputation_updates(5, query_limit=1))
    assert len(fake.requests) == 1


def test_paging_single_page(tie, fake):
    fake.reply_json(_page(B[0:1], 7, False))
    assert _md5s(tie.iter_reputation_updates(0)) == ["00"]


# -- metadata updates --------------------------------------------------------------------------

def test_file_metadata_payload_bytes_and_message_kind(tie, fake):
    tie.update_file_metadata({HashType.MD5: MD5, HashType.SHA1: SHA1}, name="Notepad++.exe",
                             agentGuid="testGuid", size=107008, productEnforcing=1,
                             companyName=None, certSha1=CERT_SHA1, version=22)
    assert not fake.requests and not fake.events
    [(request, callback)] = fake.async_requests
    assert isinstance(request, Request) and not isinstance(request, Event)
    assert callback is None
    assert request.destination_topic == TIE_UPDATE_FILE_METADATA_TOPIC
    assert request.payload == (
        b'{"hashes": [{"type": "md5", "value": "8se7isyX+S6Yei1Ah9AhsQ=="}, '
        b'{"type": "sha1", "value": "frATnSF1c5s8yw0REAZ4IL5qvSk="}], '
        b'"agentGuid": "testGuid", "name": "Notepad++.exe", "size": 107008, "version": 22, '
        b'"productEnforcing": 1, "certSha1": "' + CERT_SHA1_B64.encode() + b'"}')


def test_cert_metadata_payload_bytes(tie, fake):
    tie.update_certificate_metadata(CERT_SHA1, publicKeySha1=CERT_PK_SHA1, algorithm="sha1RSA",
                                    validFrom=1260223064, validTo=1299535064,
                                    ruleEnforcing=True, issuer="Example CA")
    [(request, _)] = fake.async_requests
    assert request.destination_topic == TIE_UPDATE_CERT_METADATA_TOPIC
    assert request.payload == (
        b'{"hashes": [{"type": "sha1", "value": "' + CERT_SHA1_B64.encode() + b'"}], '
        b'"publicKeySha1": "' + CERT_PK_SHA1_B64.encode() + b'", "algorithm": "sha1RSA", '
        b'"validFrom": 1260223064, "validTo": 1299535064, "ruleEnforcing": true, '
        b'"issuer": "Example CA"}')


@pytest.mark.parametrize("metadata, error, message", [
    ({"nmae": "x"}, TieInputError, r"^unknown metadata field\(s\) 'nmae': the fields are "
                                   r"scanType, agentGuid, name, "),
    ({"size": "12"}, TieInputError, r"^metadata field 'size' must be an int, got str '12'$"),
    ({"size": True}, TieInputError, r"^metadata field 'size' must be an int, got bool True$"),
    ({"name": 5}, TieInputError, r"^metadata field 'name' must be a str, got int 5$"),
    ({"userPrompted": 2}, TieInputError,
     r"^metadata field 'userPrompted' must be a bool \(or 0/1\), got int 2$"),
    ({"actorSha1": "xyz"}, InvalidHashError, r"^actorSha1: Invalid sha1 hash 'xyz'"),
])
def test_file_metadata_validation(tie, fake, metadata, error, message):
    with pytest.raises(error, match=message):
        tie.update_file_metadata({HashType.MD5: MD5}, **metadata)
    assert fake.nothing_sent


def test_metadata_validation_of_hashes(tie, fake):
    with pytest.raises(TieInputError, match="hashes is empty"):
        tie.update_file_metadata({}, name="x")
    with pytest.raises(InvalidHashError, match="sha1: Invalid sha1 hash"):
        tie.update_certificate_metadata("123", subject="x")
    with pytest.raises(TieInputError, match="unknown metadata field"):
        tie.update_certificate_metadata(CERT_SHA1, name="x")
    with pytest.raises(TieInputError, match="metadata must be a dict"):
        cert_metadata_request(CERT_SHA1, ["x"])
    assert fake.nothing_sent


def test_metadata_long_value_quoted_bounded():
    with pytest.raises(TieInputError) as caught:
        file_metadata_request({HashType.MD5: MD5}, {"size": "9" * 10000})
    assert len(str(caught.value)) < 200


# -- the strict hash-list decoder ----------------------------------------------------------------

def test_strict_decoder():
    assert hashes_from_wire_strict([{"type": "sha1", "value": CERT_SHA1_B64}], ("sha1",)) == {
        "sha1": CERT_SHA1}
    for bad, message in [
            ([], "non-empty list"),
            ([{"type": "sha1"}], "with 'type' and 'value'"),
            ([{"type": "md5", "value": CERT_SHA1_B64}], "unknown hash type 'md5'"),
            ([{"type": "sha1", "value": "!!"}], "not valid base64"),
            ([{"type": "sha1", "value": "AAAA"}], "is 3 bytes long, expected 20"),
            ([{"type": "sha1", "value": 5}], "must be a base64 string")]:
        with pytest.raises(WireFormatError, match=message):
            hashes_from_wire_strict(bad, ("sha1",))


# -- properties ---------------------------------------------------------------------------------

_HASHES = st.fixed_dictionaries({}, optional={
    hash_type: st.text("0123456789abcdefABCDEF", min_size=length, max_size=length)
    for hash_type, length in (("md5", 32), ("sha1", 40), ("sha256", 64))}).filter(bool)


@given(_HASHES)
def test_strict_decoder_inverts_the_encoder(hashes):
    wire = json.loads(json.dumps(file_metadata_request(hashes, {})))["hashes"]
    assert hashes_from_wire_strict(wire, ("md5", "sha1", "sha256")) == {
        hash_type: value.lower() for hash_type, value in hashes.items()}


@given(st.integers(0, 2 ** 40), st.integers(1, 5000), st.booleans(),
       st.sampled_from([None, "md5", "sha1", "sha256"]), st.sampled_from([None, "sha1"]))
def test_updates_request_is_what_the_emulator_parses(since, limit, targeted, file_type,
                                                     cert_type):
    from dxltieclient.sandbox.tie import updates

    payload = json.loads(json.dumps(reputation_updates_request(since, limit, targeted, file_type,
                                                               cert_type)))
    query = updates.parse_request(payload)
    assert (query.since, query.limit, query.targeted) == (since, limit, targeted)
    if file_type is None and cert_type is None:
        assert query.subjects == {"file": None, "cert": None}
    else:
        assert query.subjects == {subject: value for subject, value in
                                  (("file", file_type), ("cert", cert_type)) if value}
