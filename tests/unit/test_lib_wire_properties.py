"""Hypothesis properties of the wire codec (``dxltieclient._wire``) and of the bytes TieClient
sends."""

import base64
import json
import re
import string

from dxlbootstrap.util import MessageUtils
from dxlclient import Request
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tie_fakes import FakeDxlClient

from dxltieclient import InvalidHashError, TieClient, TrustLevel, _wire

#: Enough examples to find codec slips, few enough to keep the unit suite fast.
#: Derandomized and without an example database: the same examples on every run and machine.
CODEC = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                 suppress_health_check=[HealthCheck.too_slow])
#: The TieClient-level properties build a client per example.
CLIENT = settings(CODEC, max_examples=25)

LENGTHS = {"md5": 32, "sha1": 40, "sha256": 64}
TRUST_LEVELS = [v for k, v in vars(TrustLevel).items() if not k.startswith("_")]


def hex_of(n_bytes):
    """Hex strings of ``n_bytes`` bytes in random letter case."""
    return st.tuples(st.binary(min_size=n_bytes, max_size=n_bytes),
                     st.integers(0, (1 << (2 * n_bytes)) - 1)).map(
        lambda pair: "".join(c.upper() if pair[1] >> i & 1 else c
                             for i, c in enumerate(pair[0].hex())))


def valid_hashes():
    return st.dictionaries(st.sampled_from(sorted(LENGTHS)), st.just(None), min_size=1).flatmap(
        lambda keys: st.fixed_dictionaries({k: hex_of(LENGTHS[k] // 2) for k in keys}))


def _bootstrap_bytes(payload):
    message = Request("/x")
    MessageUtils.dict_to_json_payload(message, payload)
    return message.payload


@CODEC
@given(st.binary(max_size=80), st.booleans())
def test_hex_base64_hex_round_trip(data, upper):
    hex_value = data.hex().upper() if upper else data.hex()
    b64 = _wire.hex_to_base64(hex_value)
    assert b64 == base64.b64encode(data).decode("ascii")
    assert _wire.base64_to_hex(b64) == data.hex()
    assert _wire.base64_to_hex(b64.encode()) == data.hex()
    assert _wire.hex_to_base64(hex_value.encode()) == b64
    assert TieClient._base64_to_hex(TieClient._hex_to_base64(hex_value)) == hex_value.lower()


@CODEC
@given(valid_hashes())
def test_hashes_wire_round_trip(hashes):
    wire = _wire.hashes_to_wire(hashes)
    assert [entry["type"] for entry in wire] == list(hashes)
    assert all(set(entry) == {"type", "value"} for entry in wire)
    assert _wire.hashes_from_wire(wire) == {k: v.lower() for k, v in hashes.items()}
    assert TieClient._transform_hashes(wire) == {k: v.lower() for k, v in hashes.items()}
    _wire.check_hashes(hashes)  # valid input passes the check


@CODEC
@given(st.sampled_from(sorted(LENGTHS)), st.text(max_size=70))
def test_check_hash_accepts_exactly_hex_of_the_right_length(hash_type, value):
    expected_ok = re.fullmatch(r"[0-9a-fA-F]{%d}" % LENGTHS[hash_type], value) is not None
    try:
        _wire.check_hash(hash_type, value)
    except InvalidHashError as error:
        assert not expected_ok, str(error)
        assert hash_type in str(error)
    else:
        assert expected_ok


@CODEC
@given(st.sampled_from(sorted(LENGTHS)), st.text(alphabet=string.hexdigits, max_size=70))
def test_check_hash_on_hex_strings_of_any_length(hash_type, value):
    if len(value) == LENGTHS[hash_type]:
        _wire.check_hash(hash_type, value)
    else:
        try:
            _wire.check_hash(hash_type, value)
        except InvalidHashError as error:
            assert str(len(value)) in str(error)
        else:
            raise AssertionError("accepted a {}-digit {}".format(len(value), hash_type))


@CODEC
@given(st.sampled_from(sorted(LENGTHS)).flatmap(
    lambda t: st.tuples(st.just(t), hex_of(LENGTHS[t] // 2),
                        st.integers(0, LENGTHS[t] - 1),
                        st.characters(blacklist_characters=string.hexdigits))))
def test_check_hash_rejects_one_non_hex_character(case):
    hash_type, value, index, char = case
    bad = value[:index] + char + value[index + 1:]
    try:
        _wire.check_hash(hash_type, bad)
    except InvalidHashError:
        pass
    else:
        raise AssertionError("accepted {!r}".format(bad))


@CODEC
@given(st.text(max_size=10).filter(lambda t: t not in LENGTHS), hex_of(16))
def test_check_hash_rejects_unknown_types(hash_type, value):
    try:
        _wire.check_hash(hash_type, value)
    except InvalidHashError as error:
        assert repr(hash_type) in str(error) or hash_type in str(error)
    else:
        raise AssertionError("accepted type {!r}".format(hash_type))


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=8)


@CODEC
@given(JSON_VALUES, st.integers(0, 4))
def test_encode_decode_json_round_trip(value, nuls):
    data = _wire.encode_json(value)
    assert data == json.dumps(value).encode("utf-8")
    assert _wire.decode_json(data + b"\0" * nuls) == value
    assert _wire.decode_json(bytearray(data)) == value


@CODEC
@given(st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=3))
def test_encode_json_equals_message_utils(value):
    assert _wire.encode_json(value) == _bootstrap_bytes(value)
    message = Request("/x")
    message.payload = _wire.encode_json(value) + b"\0"
    assert MessageUtils.json_payload_to_dict(message) == _wire.decode_json(message.payload)


TEXT = st.text(max_size=30)


@CLIENT
@given(st.sampled_from(TRUST_LEVELS), valid_hashes(), TEXT, TEXT)
def test_set_file_reputation_bytes(trust_level, hashes, filename, comment):
    fake = FakeDxlClient()
    TieClient(fake).set_file_reputation(trust_level, hashes, filename, comment)
    expected = {"trustLevel": trust_level, "providerId": 3, "filename": filename,
                "comment": comment,
                "hashes": [{"type": k, "value": base64.b64encode(bytes.fromhex(v)).decode()}
                           for k, v in hashes.items()]}
    assert fake.requests[0].payload == _bootstrap_bytes(expected)


@CLIENT
@given(valid_hashes(), st.integers(1, 10000))
def test_file_lookup_bytes(hashes, query_limit):
    fake = FakeDxlClient()
    tie = TieClient(fake)
    tie.get_file_reputation(hashes)
    tie.get_file_first_references(hashes, query_limit)
    wire = [{"type": k, "value": base64.b64encode(bytes.fromhex(v)).decode()}
            for k, v in hashes.items()]
    assert fake.requests[0].payload == _bootstrap_bytes({"hashes": wire, "scanType": 3})
    assert fake.requests[1].payload == _bootstrap_bytes({"queryLimit": query_limit,
                                                         "hashes": wire})


@CLIENT
@given(st.sampled_from(TRUST_LEVELS), hex_of(20), st.none() | hex_of(20), TEXT,
       st.integers(1, 5000))
def test_certificate_bytes(trust_level, sha1, public_key_sha1, comment, query_limit):
    fake = FakeDxlClient()
    tie = TieClient(fake)
    tie.set_certificate_reputation(trust_level, sha1, public_key_sha1, comment)
    tie.get_certificate_reputation(sha1, public_key_sha1)
    tie.get_certificate_first_references(sha1, public_key_sha1, query_limit)
    hashes = [{"type": "sha1", "value": base64.b64encode(bytes.fromhex(sha1)).decode()}]
    extra = {} if public_key_sha1 is None else {
        "publicKeySha1": base64.b64encode(bytes.fromhex(public_key_sha1)).decode()}
    expected = [
        dict({"trustLevel": trust_level, "providerId": 4, "comment": comment, "hashes": hashes},
             **extra),
        dict({"hashes": hashes}, **extra),
        dict({"queryLimit": query_limit, "hashes": hashes}, **extra),
    ]
    assert [s.payload for s in fake.requests] == [_bootstrap_bytes(e) for e in expected]


@CLIENT
@given(st.sampled_from([t for t in TRUST_LEVELS if t]),
       st.sampled_from([v for k, v in vars(_wire.FileType).items() if not k.startswith("_")]),
       valid_hashes(), TEXT, TEXT)
def test_external_report_bytes(trust_level, file_type, hashes, filename, comment):
    fake = FakeDxlClient()
    TieClient(fake).set_external_file_reputation(trust_level, hashes, file_type, filename,
                                                 comment)
    expected = {"file": {"type": file_type, "hashes": hashes,
                         "attributes": {"filename": filename},
                         "reputation": {"score": trust_level}},
                "provider": {"id": 15}, "comment": comment}
    assert fake.events[0].payload == _bootstrap_bytes(expected)


@CLIENT
@given(st.lists(st.fixed_dictionaries({"providerId": st.integers(0, 20),
                                       "trustLevel": st.sampled_from(TRUST_LEVELS)}),
                max_size=6))
def test_transform_reputations_matches_a_dict_comprehension(reputations):
    result = TieClient._transform_reputations(reputations)
    assert result == {r["providerId"]: r for r in reputations}
    for key, value in result.items():
        assert value is [r for r in reputations if r["providerId"] == key][-1]
