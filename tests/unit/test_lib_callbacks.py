"""The callback classes (TIE-SPEC section 4) and the registration methods (TIE-SPEC 3.10)."""

import copy
import json
import logging

import pytest
from dxlclient import Event
from dxlclient.callbacks import EventCallback
from tie_fakes import make_event

from dxltieclient import (
    DetectionCallback,
    FirstInstanceCallback,
    ReputationChangeCallback,
    TieClient,
)
from dxltieclient.client import (
    TIE_EVENT_CERT_REPUTATION_CHANGE_TOPIC,
    TIE_EVENT_FILE_DETECTION_TOPIC,
    TIE_EVENT_FILE_FIRST_INSTANCE_TOPIC,
    TIE_EVENT_FILE_REPUTATION_CHANGE_TOPIC,
)

WIRE_HASHES = [
    {"type": "md5", "value": "bQvLG6j1WmwRB8LZ2gPa1w=="},
    {"type": "sha1", "value": "OxbrjQd0H6+3meBW5YuBoInTcqM="},
    {"type": "sha256", "value": "yXfKH1ESH+5YzaiIJ6YXOtTx1y2AJihOTE9EMCqWfkA="},
]
HEX_HASHES = {
    "md5": "6d0bcb1ba8f55a6c1107c2d9da03dad7",
    "sha1": "3b16eb8d07741fafb799e056e58b81a089d372a3",
    "sha256": "c977ca1f51121fee58cda88827a6173ad4f1d72d8026284e4c4f44302a967e40",
}
GTI = {"providerId": 1, "trustLevel": 99, "createDate": 1200,
       "attributes": {"2120340": "2139160", "2101908": "1200"}}
ENT = {"providerId": 3, "trustLevel": 0, "createDate": 1200,
       "attributes": {"2098277": "256", "2101652": "0", "2102165": "1476902802"}}
NEW_ENT = dict(ENT, trustLevel=99)


def file_rep_change_payload():
    return {
        "hashes": WIRE_HASHES,
        "newReputations": {"reputations": [GTI, NEW_ENT], "props": {"serverTime": 1476902802}},
        "oldReputations": {"reputations": [GTI, ENT], "props": {"serverTime": 1476902802}},
        "updateTime": 1476902802,
        "relationships": {"certificate": {
            "hashes": [{"type": "sha1", "value": "rB/QkipKKm5XeazdYodHwoOUsLk="}],
            "publicKeySha1": "Q139Rw9ydDfHy08Hy6H5ofQnJlY="}},
    }


FILE_REP_CHANGE_EXPECTED = {
    "hashes": HEX_HASHES,
    "newReputations": {1: GTI, 3: NEW_ENT},
    "oldReputations": {1: GTI, 3: ENT},
    "updateTime": 1476902802,
    "relationships": {"certificate": {
        "hashes": {"sha1": "ac1fd0922a4a2a6e5779acdd628747c28394b0b9"},
        "publicKeySha1": "435dfd470f727437c7cb4f07cba1f9a1f4272656"}},
}


class Recorder:
    """Mixin recording the hook's calls."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def _record(self, data, original_event):
        self.calls.append((data, original_event))


class RepRecorder(Recorder, ReputationChangeCallback):
    def on_reputation_change(self, rep_change_dict, original_event):
        self._record(rep_change_dict, original_event)


class DetectionRecorder(Recorder, DetectionCallback):
    def on_detection(self, detection_dict, original_event):
        self._record(detection_dict, original_event)


class FirstInstanceRecorder(Recorder, FirstInstanceCallback):
    def on_first_instance(self, first_instance_dict, original_event):
        self._record(first_instance_dict, original_event)


RECORDERS = [RepRecorder, DetectionRecorder, FirstInstanceRecorder]


def _deliver(callback, payload, topic="/test/topic"):
    event = make_event(payload, topic)
    raw = event.payload
    callback.on_event(event)
    assert event.payload == raw  # the payload bytes are not altered
    return event


# -- ReputationChangeCallback ---------------------------------------------------------------------

def test_reputation_change_verified_vector():
    callback = RepRecorder()
    event = _deliver(callback, file_rep_change_payload(), TIE_EVENT_FILE_REPUTATION_CHANGE_TOPIC)
    ((data, original),) = callback.calls
    assert original is event
    assert original.destination_topic == TIE_EVENT_FILE_REPUTATION_CHANGE_TOPIC
    assert data == FILE_REP_CHANGE_EXPECTED
    assert all(type(k) is int for k in data["newReputations"])
    assert all(type(k) is int for k in data["oldReputations"])
    assert json.loads(original.payload) == file_rep_change_payload()


def test_reputation_change_certificate_event():
    payload = {
        "hashes": [{"type": "sha1", "value": "rB/QkipKKm5XeazdYodHwoOUsLk="}],
        "publicKeySha1": "Q139Rw9ydDfHy08Hy6H5ofQnJlY=",
        "newReputations": {"reputations": [{"providerId": 4, "trustLevel": 99,
                                            "createDate": 1, "attributes": {}}],
                           "props": {"serverTime": 2}},
        "oldReputations": {"reputations": [], "props": {"serverTime": 2}},
        "updateTime": 2,
    }
    callback = RepRecorder()
    _deliver(callback, payload, TIE_EVENT_CERT_REPUTATION_CHANGE_TOPIC)
    ((data, original),) = callback.calls
    assert data == {
        "hashes": {"sha1": "ac1fd0922a4a2a6e5779acdd628747c28394b0b9"},
        "publicKeySha1": "435dfd470f727437c7cb4f07cba1f9a1f4272656",
        "newReputations": {4: {"providerId": 4, "trustLevel": 99, "createDate": 1,
                               "attributes": {}}},
        "oldReputations": {},
        "updateTime": 2,
    }
    assert original.destination_topic == TIE_EVENT_CERT_REPUTATION_CHANGE_TOPIC


@pytest.mark.parametrize("key", ["newReputations", "oldReputations"])
@pytest.mark.parametrize("value", [{"props": {"serverTime": 5}}, {}, {"other": [1]}])
def test_reputations_key_without_reputations_left_as_is(key, value):
    payload = file_rep_change_payload()
    payload[key] = copy.deepcopy(value)
    callback = RepRecorder()
    _deliver(callback, payload)
    data = callback.calls[0][0]
    assert data[key] == value
    other = "oldReputations" if key == "newReputations" else "newReputations"
    assert data[other] == FILE_REP_CHANGE_EXPECTED[other]


@pytest.mark.parametrize("missing", ["hashes", "newReputations", "oldReputations",
                                     "relationships", "updateTime"])
def test_reputation_change_missing_keys_tolerated(missing):
    payload = file_rep_change_payload()
    del payload[missing]
    callback = RepRecorder()
    _deliver(callback, payload)
    expected = dict(FILE_REP_CHANGE_EXPECTED)
    del expected[missing]
    assert callback.calls[0][0] == expected


def test_relationships_without_certificate_left_as_is():
    payload = file_rep_change_payload()
    payload["relationships"] = {"parent": {"hashes": WIRE_HASHES}}
    callback = RepRecorder()
    _deliver(callback, payload)
    assert callback.calls[0][0]["relationships"] == {"parent": {"hashes": WIRE_HASHES}}


def test_relationships_other_keys_untouched():
    payload = file_rep_change_payload()
    payload["relationships"]["other"] = {"hashes": WIRE_HASHES}
    payload["relationships"]["certificate"]["extra"] = "keep"
    callback = RepRecorder()
    _deliver(callback, payload)
    relationships = callback.calls[0][0]["relationships"]
    assert relationships["other"] == {"hashes": WIRE_HASHES}
    assert relationships["certificate"]["extra"] == "keep"
    assert relationships["certificate"]["publicKeySha1"] == \
        "435dfd470f727437c7cb4f07cba1f9a1f4272656"


def test_reputation_change_unknown_keys_pass_through():
    payload = file_rep_change_payload()
    payload["futureKey"] = {"hashes": WIRE_HASHES}
    callback = RepRecorder()
    _deliver(callback, payload)
    assert callback.calls[0][0]["futureKey"] == {"hashes": WIRE_HASHES}


def test_overridden_files_in_event_reputations_converted():
    payload = {"newReputations": {"reputations": [
        {"providerId": 4, "overridden": {"files": [{"hashes": WIRE_HASHES}], "truncated": 0}}]}}
    callback = RepRecorder()
    _deliver(callback, payload)
    assert callback.calls[0][0]["newReputations"][4]["overridden"] == {
        "files": [{"hashes": HEX_HASHES}], "truncated": 0}


# -- DetectionCallback / FirstInstanceCallback ----------------------------------------------------

DETECTION = {"agentGuid": "{68125cd6-a5d8-11e6-348e-000c29663178}", "detectionTime": 1481301796,
             "hashes": WIRE_HASHES, "localReputation": 1, "name": "FOCUS_MALWARE2.EXE",
             "remediationAction": 5}
FIRST_INSTANCE = {"agentGuid": "{68125cd6-a5d8-11e6-348e-000c29663178}",
                  "hashes": WIRE_HASHES, "name": "MORPH.EXE"}


@pytest.mark.parametrize("cls, payload, topic", [
    (DetectionRecorder, DETECTION, TIE_EVENT_FILE_DETECTION_TOPIC),
    (FirstInstanceRecorder, FIRST_INSTANCE, TIE_EVENT_FILE_FIRST_INSTANCE_TOPIC),
])
def test_only_hashes_converted(cls, payload, topic):
    payload = dict(payload, unknownKey={"hashes": WIRE_HASHES},
                   publicKeySha1="Q139Rw9ydDfHy08Hy6H5ofQnJlY=",
                   newReputations={"reputations": [GTI]})
    callback = cls()
    event = _deliver(callback, payload, topic)
    ((data, original),) = callback.calls
    assert original is event
    assert data == dict(payload, hashes=HEX_HASHES)


@pytest.mark.parametrize("cls", [DetectionRecorder, FirstInstanceRecorder])
def test_without_hashes(cls):
    callback = cls()
    _deliver(callback, {"name": "x"})
    assert callback.calls[0][0] == {"name": "x"}


@pytest.mark.parametrize("cls", RECORDERS)
@pytest.mark.parametrize("nuls", [1, 3])
def test_trailing_nuls_tolerated(cls, nuls):
    payload = json.dumps({"hashes": WIRE_HASHES}).encode() + b"\0" * nuls
    callback = cls()
    event = _deliver(callback, payload)
    assert callback.calls[0][0]["hashes"] == HEX_HASHES
    assert event.payload.endswith(b"\0" * nuls)


@pytest.mark.parametrize("cls", RECORDERS)
def test_hook_receives_two_positional_arguments(cls):
    received = []

    class Strict(cls):
        pass

    for hook in ("on_reputation_change", "on_detection", "on_first_instance"):
        if hasattr(cls, hook):
            setattr(Strict, hook, lambda self, *args, **kwargs: received.append((args, kwargs)))
    event = make_event({"hashes": []})
    Strict().on_event(event)
    ((args, kwargs),) = received
    assert kwargs == {}
    assert args[0] == {"hashes": {}} and args[1] is event


@pytest.mark.parametrize("cls, hook", [
    (ReputationChangeCallback, "on_reputation_change"),
    (DetectionCallback, "on_detection"),
    (FirstInstanceCallback, "on_first_instance"),
])
def test_base_hooks_raise_not_implemented(cls, hook):
    callback = cls()
    with pytest.raises(NotImplementedError, match=r"^Must be implemented in a child class\.$"):
        getattr(callback, hook)({}, make_event({}))
    with pytest.raises(NotImplementedError, match=r"^Must be implemented in a child class\.$"):
        callback.on_event(make_event({"hashes": WIRE_HASHES}))


@pytest.mark.parametrize("cls", RECORDERS)
def test_hook_exception_propagates(cls):
    class Boom(Exception):
        pass

    class Failing(cls):
        def _record(self, data, original_event):
            raise Boom("from the user's hook")

    with pytest.raises(Boom, match="from the user's hook"):
        Failing().on_event(make_event({"hashes": WIRE_HASHES}))


# -- malformed events: logged, dropped, the next one still delivered ------------------------------

COMMON_MALFORMED = [
    pytest.param(b"not json", id="not-json"),
    pytest.param(b"", id="empty"),
    pytest.param(b"\0\0", id="only-nuls"),
    pytest.param(b"\xff\xfe{}", id="not-utf8"),
    pytest.param(b"[1, 2]", id="json-list"),
    pytest.param(b'"text"', id="json-string"),
    pytest.param(b"null", id="json-null"),
    pytest.param(b"42", id="json-number"),
    pytest.param({"hashes": 5}, id="hashes-int"),
    pytest.param({"hashes": {"md5": "bQvLG6j1WmwRB8LZ2gPa1w=="}}, id="hashes-dict"),
    pytest.param({"hashes": "abc"}, id="hashes-string"),
    pytest.param({"hashes": [{"type": "md5"}]}, id="entry-without-value"),
    pytest.param({"hashes": [{"value": "bQvLG6j1WmwRB8LZ2gPa1w=="}]}, id="entry-without-type"),
    pytest.param({"hashes": ["md5"]}, id="entry-not-object"),
    pytest.param({"hashes": [{"type": "md5", "value": "abc"}]}, id="bad-base64"),
    pytest.param({"hashes": [{"type": "md5", "value": 5}]}, id="value-int"),
]
REP_CHANGE_MALFORMED = COMMON_MALFORMED + [
    pytest.param({"newReputations": {"reputations": [{"trustLevel": 99}]}},
                 id="reputation-without-providerId"),
    pytest.param({"oldReputations": {"reputations": 5}}, id="reputations-int"),
    pytest.param({"newReputations": {"reputations": [5]}}, id="reputation-not-object"),
    pytest.param({"relationships": {"certificate": {"publicKeySha1": "abc"}}},
                 id="relationship-bad-public-key"),
    pytest.param({"relationships": {"certificate": {"hashes": 3}}}, id="relationship-hashes-int"),
    pytest.param({"publicKeySha1": "abc"}, id="bad-public-key"),
    pytest.param({"publicKeySha1": None}, id="null-public-key"),
]


def _check_dropped_and_logged(callback, payload, topic, caplog):
    caplog.set_level(logging.DEBUG)
    event = make_event(payload, topic)
    raw = event.payload
    callback.on_event(event)  # must not raise
    assert callback.calls == []
    assert event.payload == raw
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert topic in errors[0].getMessage()
    assert errors[0].name.startswith("dxltieclient")
    # the next good event still reaches the hook
    good = make_event({"hashes": WIRE_HASHES}, topic)
    callback.on_event(good)
    assert len(callback.calls) == 1
    assert callback.calls[0][0]["hashes"] == HEX_HASHES and callback.calls[0][1] is good


@pytest.mark.parametrize("payload", REP_CHANGE_MALFORMED)
def test_malformed_reputation_change_event(payload, caplog):
    _check_dropped_and_logged(RepRecorder(), payload, TIE_EVENT_FILE_REPUTATION_CHANGE_TOPIC,
                              caplog)


@pytest.mark.parametrize("cls, topic", [
    (DetectionRecorder, TIE_EVENT_FILE_DETECTION_TOPIC),
    (FirstInstanceRecorder, TIE_EVENT_FILE_FIRST_INSTANCE_TOPIC),
])
@pytest.mark.parametrize("payload", COMMON_MALFORMED)
def test_malformed_hashes_event(cls, topic, payload, caplog):
    _check_dropped_and_logged(cls(), payload, topic, caplog)


@pytest.mark.parametrize("cls", RECORDERS)
def test_good_event_logs_no_error(cls, caplog):
    caplog.set_level(logging.DEBUG)
    callback = cls()
    callback.on_event(make_event({"hashes": WIRE_HASHES}))
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert len(callback.calls) == 1


# -- registration (TIE-SPEC 3.10) -----------------------------------------------------------------

REGISTRATIONS = [
    ("add_file_reputation_change_callback", "remove_file_reputation_change_callback",
     TIE_EVENT_FILE_REPUTATION_CHANGE_TOPIC),
    ("add_certificate_reputation_change_callback",
     "remove_certificate_reputation_change_callback", TIE_EVENT_CERT_REPUTATION_CHANGE_TOPIC),
    ("add_file_detection_callback", "remove_file_detection_callback",
     TIE_EVENT_FILE_DETECTION_TOPIC),
    ("add_file_first_instance_callback", "remove_file_first_instance_callback",
     TIE_EVENT_FILE_FIRST_INSTANCE_TOPIC),
]
REG_IDS = [r[2].rsplit("/", 2)[-2] + "-" + r[2].rsplit("/", 1)[-1] for r in REGISTRATIONS]


@pytest.mark.parametrize("add, remove, topic", REGISTRATIONS, ids=REG_IDS)
@pytest.mark.parametrize("cls", RECORDERS)
def test_add_and_remove_subscribe_the_topic(tie, fake, add, remove, topic, cls):
    callback = cls()
    assert getattr(tie, add)(callback) is None
    assert fake.subscriptions == (topic,)
    assert isinstance(fake.subscriptions, tuple)
    assert fake.callbacks_for(topic) == [callback]
    assert fake.callback_calls == [("add_event_callback", topic, callback, True)]
    assert fake.nothing_sent
    assert getattr(tie, remove)(callback) is None
    assert fake.subscriptions == ()
    assert fake.callbacks_for(topic) == []
    assert fake.callback_calls[1] == ("remove_event_callback", topic, callback, True)


def test_one_callback_on_all_four_topics(tie, fake):
    callback = DetectionRecorder()
    for add, _, _ in REGISTRATIONS:
        getattr(tie, add)(callback)
    assert set(fake.subscriptions) == {topic for _, _, topic in REGISTRATIONS}
    for _, _, topic in REGISTRATIONS:
        fake.deliver(make_event({"hashes": WIRE_HASHES}, topic))
    assert [event.destination_topic for _, event in callback.calls] == \
        [topic for _, _, topic in REGISTRATIONS]
    for _, remove, topic in REGISTRATIONS:
        getattr(tie, remove)(callback)
        assert topic not in fake.subscriptions
    assert fake.subscriptions == ()


def test_any_event_callback_is_accepted(tie, fake):
    class Plain(EventCallback):
        def __init__(self):
            self.events = []

        def on_event(self, event):
            self.events.append(event)

    plain = Plain()
    tie.add_file_reputation_change_callback(plain)
    event = make_event(b"anything", TIE_EVENT_FILE_REPUTATION_CHANGE_TOPIC)
    fake.deliver(event)
    assert plain.events == [event]


def test_remove_unsubscribes_even_when_another_callback_remains(tie, fake):
    first, second = DetectionRecorder(), DetectionRecorder()
    tie.add_file_detection_callback(first)
    tie.add_file_detection_callback(second)
    assert fake.subscriptions == (TIE_EVENT_FILE_DETECTION_TOPIC,)
    tie.remove_file_detection_callback(first)
    assert fake.subscriptions == ()
    assert fake.callbacks_for(TIE_EVENT_FILE_DETECTION_TOPIC) == [second]


@pytest.mark.parametrize("add, remove, topic", REGISTRATIONS, ids=REG_IDS)
@pytest.mark.parametrize("bad, message", [
    (None, "Missing callback argument"),
    (object(), "Type mismatch on callback argument"),
    (lambda event: None, "Type mismatch on callback argument"),
])
def test_dxlclient_validation_applies(tie, fake, add, remove, topic, bad, message):
    with pytest.raises(ValueError, match="^" + message + "$"):
        getattr(tie, add)(bad)
    assert fake.subscriptions == ()


def test_registration_uses_the_private_client_copy(fake):
    tie = TieClient(fake)
    assert tie._TieClient__dxl_client is fake
    tie.add_file_detection_callback(DetectionRecorder())
    assert fake.subscriptions == (TIE_EVENT_FILE_DETECTION_TOPIC,)


def test_delivery_through_fake_passes_the_same_event(tie, fake):
    callback = RepRecorder()
    tie.add_file_reputation_change_callback(callback)
    event = Event(TIE_EVENT_FILE_REPUTATION_CHANGE_TOPIC)
    event.payload = json.dumps(file_rep_change_payload()).encode()
    fake.deliver(event)
    assert callback.calls == [(FILE_REP_CHANGE_EXPECTED, event)]
