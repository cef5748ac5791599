"""The TIE emulator's seed data and event payload builders."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from dxltieclient import InvalidHashError, _wire
from dxltieclient.constants import (
    AtdAttrib,
    AtdTrustLevel,
    CertGtiAttrib,
    CertProvider,
    EnterpriseAttrib,
    FileGtiAttrib,
    FileProvider,
    TrustLevel,
)
from dxltieclient.sandbox.tie import detection_event, first_instance_event
from dxltieclient.sandbox.tie.events import (
    cert_reputation_change_event,
    file_reputation_change_event,
    reputations_object,
)
from dxltieclient.sandbox.tie.seed import (
    EICAR_HASHES,
    EXAMPLE_CERT_SHA1,
    NOTEPAD_HASHES,
    SERVER_VERSION,
    encode_server_version,
    seed,
)
from dxltieclient.sandbox.tie.store import Store

from .helpers import Clock, dump

GUID = "{68125cd6-a5d8-11e6-348e-000c29663178}"


def test_seeding_is_idempotent(store_file: str, clock: Clock) -> None:
    store = Store(store_file, clock=clock)
    try:
        assert seed(store) is True
        first = dump(store_file)
        assert seed(store) is False
        assert dump(store_file) == first
    finally:
        store.close()
    reopened = Store(store_file, clock=clock)  # a restart seeds nothing more
    try:
        assert seed(reopened) is False
        assert dump(store_file) == first
    finally:
        reopened.close()


def test_seed_does_not_undo_changes(store: Store) -> None:
    notepad = store.find_file(NOTEPAD_HASHES)
    assert notepad is not None
    store.put_file_reputation(notepad, FileProvider.ENTERPRISE, 99, 1, {})
    assert seed(store) is False
    assert store.file_reputation(notepad, FileProvider.ENTERPRISE)["trustLevel"] == 99


def test_seeded_values(store: Store) -> None:
    notepad = store.find_file(NOTEPAD_HASHES)
    eicar = store.find_file(EICAR_HASHES)
    cert = store.find_certificate(EXAMPLE_CERT_SHA1)
    assert notepad and eicar and cert
    assert store.file_hashes(notepad) == NOTEPAD_HASHES
    assert store.file_hashes(eicar) == EICAR_HASHES
    gti = store.file_reputation(notepad, FileProvider.GTI)
    assert gti["trustLevel"] == TrustLevel.KNOWN_TRUSTED
    assert {FileGtiAttrib.FIRST_CONTACT, FileGtiAttrib.PREVALENCE} <= set(gti["attributes"])
    atd = store.file_reputation(eicar, FileProvider.ATD)
    assert atd["trustLevel"] == TrustLevel.KNOWN_MALICIOUS
    for attribute in (AtdAttrib.VERDICT, AtdAttrib.SANDBOX_SCORE, AtdAttrib.GAM_SCORE,
                      AtdAttrib.AV_ENGINE_SCORE):
        assert int(atd["attributes"][attribute]) in vars(AtdTrustLevel).values()
    cert_gti = store.cert_reputation(cert, CertProvider.GTI)
    assert cert_gti["trustLevel"] == TrustLevel.KNOWN_TRUSTED
    assert cert_gti["attributes"][CertGtiAttrib.REVOKED] == "0"


def test_server_version_encoding_round_trips() -> None:
    assert EnterpriseAttrib.to_version_tuple(encode_server_version(*SERVER_VERSION)) == \
        SERVER_VERSION
    assert encode_server_version(1, 4, 0, 190) == "73183493944770750"


def test_detection_event() -> None:
    event = detection_event({"md5": NOTEPAD_HASHES["md5"].upper()}, GUID, "notepad.exe",
                            TrustLevel.KNOWN_MALICIOUS, 5, 1402617156)
    assert event == {"agentGuid": GUID, "detectionTime": 1402617156,
                     "hashes": [{"type": "md5", "value": "8se7isyX+S6Yei1Ah9AhsQ=="}],
                     "localReputation": 1, "name": "notepad.exe", "remediationAction": 5}
    # the client's DetectionCallback transform gives the caller's hashes back
    assert _wire.transform_hashes_event(json.loads(json.dumps(event)))["hashes"] == {
        "md5": NOTEPAD_HASHES["md5"]}


def test_detection_time_defaults_to_now() -> None:
    before = int(time.time())
    event = detection_event(NOTEPAD_HASHES, GUID, "n", 1, 5)
    assert before <= event["detectionTime"] <= int(time.time())


def test_first_instance_event() -> None:
    event = first_instance_event(EICAR_HASHES, GUID, "eicar.com")
    assert list(event) == ["agentGuid", "hashes", "name"]
    assert _wire.hashes_from_wire(event["hashes"]) == EICAR_HASHES
    assert event["agentGuid"] == GUID and event["name"] == "eicar.com"


@pytest.mark.parametrize("hashes", [{}, {"md5": "zz"}, {"sha512": "ab"}, {"md5": "ab"}])
def test_event_builders_refuse_bad_hashes(hashes: Any) -> None:
    with pytest.raises(ValueError):
        first_instance_event(hashes, GUID, "x")
    with pytest.raises(ValueError):
        detection_event(hashes, GUID, "x", 1, 5)


def test_reputation_change_events() -> None:
    old = [{"providerId": 3, "trustLevel": 0, "createDate": 1, "attributes": {}}]
    new = [{"providerId": 3, "trustLevel": 99, "createDate": 2, "attributes": {}}]
    event = file_reputation_change_event(NOTEPAD_HASHES, old, new, 5)
    assert event == {"hashes": _wire.hashes_to_wire(NOTEPAD_HASHES),
                     "oldReputations": reputations_object(old, 5),
                     "newReputations": {"reputations": new, "props": {"serverTime": 5}},
                     "updateTime": 5}
    with_cert = file_reputation_change_event(NOTEPAD_HASHES, old, new, 5, EXAMPLE_CERT_SHA1)
    assert with_cert["relationships"] == {"certificate": {"hashes": [
        {"type": "sha1", "value": _wire.hex_to_base64(EXAMPLE_CERT_SHA1)}]}}
    cert_event = cert_reputation_change_event(EXAMPLE_CERT_SHA1, None, old, new, 5)
    assert "publicKeySha1" not in cert_event
    transformed = _wire.transform_reputation_change_event(json.loads(json.dumps(cert_event)))
    assert transformed["hashes"] == {"sha1": EXAMPLE_CERT_SHA1}
    assert transformed["newReputations"][3]["trustLevel"] == 99
    with pytest.raises(InvalidHashError):
        cert_reputation_change_event("abc", None, old, new)
