"""TieClient's static helpers (TIE-SPEC 3.8, 3.9 and the conversions of section 3)."""

import binascii

import pytest

from dxltieclient import (
    AtdTrustLevel,
    CertProvider,
    FileProvider,
    FileType,
    HashType,
    TieClient,
    TrustLevel,
)

MD5 = "f2c7bb8acc97f92e987a2d4087d021b1"
MD5_B64 = "8se7isyX+S6Yei1Ah9AhsQ=="
SHA1 = "7eb0139d2175739b3ccb0d1110067820be6abd29"
SHA1_B64 = "frATnSF1c5s8yw0REAZ4IL5qvSk="


# -- valid_parameter ------------------------------------------------------------------------------

@pytest.mark.parametrize("constant, value, expected", [
    (TrustLevel, 99, True), (TrustLevel, 0, True), (TrustLevel, 100, True),
    (TrustLevel, 99.0, True), (TrustLevel, True, True), (TrustLevel, False, True),
    (TrustLevel, 42, False), (TrustLevel, "99", False), (TrustLevel, None, False),
    (TrustLevel, -2, False),
    (AtdTrustLevel, -2, True), (AtdTrustLevel, 6, False),
    (FileType, 0, True), (FileType, 18, True), (FileType, 18.0, True), (FileType, False, True),
    (FileType, True, True), (FileType, 4328554496, True), (FileType, 3, False),
    (FileProvider, 15, True), (FileProvider, 11, False),
    (CertProvider, 4, True), (CertProvider, 3, False),
    (HashType, "md5", True), (HashType, "MD5", False),
])
def test_valid_parameter(constant, value, expected):
    assert TieClient.valid_parameter(constant, value) is expected


def test_valid_parameter_walks_dir_including_inherited():
    class Base(object):
        A = 1

    class Child(Base):
        B = 2
        __C = 3  # name-mangled to _Child__C: not a double-underscore name, so it counts
        __D__ = 4  # double underscore: ignored

    assert TieClient.valid_parameter(Child, 1)
    assert TieClient.valid_parameter(Child, 2)
    assert TieClient.valid_parameter(Child, 3)
    assert not TieClient.valid_parameter(Child, 4)


def test_valid_parameter_on_an_instance_method_works_too(tie):
    assert tie.valid_parameter(TrustLevel, 85) is True


# -- _hex_to_base64 -------------------------------------------------------------------------------

@pytest.mark.parametrize("hex_value, expected", [
    (MD5, MD5_B64), (MD5.upper(), MD5_B64), (MD5.encode(), MD5_B64), (MD5.upper().encode(),
                                                                      MD5_B64),
    (SHA1, SHA1_B64), ("", ""), ("00", "AA=="), ("ff", "/w=="), ("FFFF", "//8="),
    (bytearray(b"74657374"), "dGVzdA=="),
])
def test_hex_to_base64(hex_value, expected):
    result = TieClient._hex_to_base64(hex_value)
    assert result == expected
    assert type(result) is str


@pytest.mark.parametrize("hex_value, message", [
    ("abc", "Odd-length string"), (MD5[:-1], "Odd-length string"), (b"0", "Odd-length string"),
    ("zz", "Non-hexadecimal digit found"), ("0g", "Non-hexadecimal digit found"),
    (b"xy", "Non-hexadecimal digit found"),
])
def test_hex_to_base64_errors(hex_value, message):
    with pytest.raises(binascii.Error, match=message):
        TieClient._hex_to_base64(hex_value)


@pytest.mark.parametrize("value", [None, 5, ["ab"]])
def test_hex_to_base64_type_error(value):
    with pytest.raises(TypeError):
        TieClient._hex_to_base64(value)


# -- _base64_to_hex -------------------------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    ("dGVzdA==", "74657374"), (b"dGVzdA==", "74657374"), (MD5_B64, MD5),
    (MD5_B64.encode(), MD5), (SHA1_B64, SHA1), ("", ""), ("/w==", "ff"),
])
def test_base64_to_hex(value, expected):
    result = TieClient._base64_to_hex(value)
    assert result == expected
    assert type(result) is str


@pytest.mark.parametrize("value", ["abc", "A", "dGVzdA="])
def test_base64_to_hex_errors(value):
    with pytest.raises(binascii.Error):
        TieClient._base64_to_hex(value)


# -- _transform_hashes ----------------------------------------------------------------------------

def test_transform_hashes():
    hashes = [{"type": "md5", "value": MD5_B64}, {"type": "sha1", "value": SHA1_B64}]
    result = TieClient._transform_hashes(hashes)
    assert result == {"md5": MD5, "sha1": SHA1}
    assert list(result) == ["md5", "sha1"]


def test_transform_hashes_empty():
    assert TieClient._transform_hashes([]) == {}


def test_transform_hashes_later_duplicate_wins():
    hashes = [{"type": "md5", "value": MD5_B64}, {"type": "md5", "value": "dGVzdA=="}]
    assert TieClient._transform_hashes(hashes) == {"md5": "74657374"}


def test_transform_hashes_passes_unknown_types_and_extra_keys():
    assert TieClient._transform_hashes([{"type": "x", "value": "dGVzdA==", "more": 1}]) == \
        {"x": "74657374"}


@pytest.mark.parametrize("entry", [{"type": "md5"}, {"value": MD5_B64}, {}])
def test_transform_hashes_key_error(entry):
    with pytest.raises(KeyError):
        TieClient._transform_hashes([entry])


def test_transform_hashes_bad_base64():
    with pytest.raises(binascii.Error):
        TieClient._transform_hashes([{"type": "md5", "value": "abc"}])


# -- _transform_reputations -----------------------------------------------------------------------

def test_transform_reputations_returns_the_same_objects():
    gti = {"providerId": 1, "trustLevel": 99, "createDate": 1, "attributes": {"2101908": "5"}}
    ent = {"providerId": 3, "trustLevel": 0, "createDate": 2, "attributes": {}}
    result = TieClient._transform_reputations([gti, ent])
    assert result == {1: gti, 3: ent}
    assert result[1] is gti and result[3] is ent
    assert gti == {"providerId": 1, "trustLevel": 99, "createDate": 1,
                   "attributes": {"2101908": "5"}}


def test_transform_reputations_last_duplicate_wins():
    first, second = {"providerId": 1, "n": 1}, {"providerId": 1, "n": 2}
    result = TieClient._transform_reputations([first, second])
    assert result == {1: second} and result[1] is second


def test_transform_reputations_key_error_without_provider_id():
    with pytest.raises(KeyError):
        TieClient._transform_reputations([{"providerId": 1}, {"trustLevel": 99}])


def test_transform_reputations_empty():
    assert TieClient._transform_reputations([]) == {}


def test_transform_reputations_converts_overridden_files_in_place():
    files = [{"hashes": [{"type": "md5", "value": MD5_B64}]}, {"name": "x"}]
    rep = {"providerId": 4, "overridden": {"files": files, "truncated": 1}}
    result = TieClient._transform_reputations([rep])
    assert result[4] is rep
    assert rep["overridden"]["files"] is files
    assert files == [{"hashes": {"md5": MD5}}, {"name": "x"}]
    assert rep["overridden"]["truncated"] == 1


def test_transform_reputations_leaves_everything_else():
    rep = {"providerId": 1, "trustLevel": 99, "createDate": 1475873692,
           "attributes": {"2120340": "AQID"}, "hashes": [{"type": "md5", "value": MD5_B64}]}
    before = {k: (dict(v) if isinstance(v, dict) else list(v) if isinstance(v, list) else v)
              for k, v in rep.items()}
    TieClient._transform_reputations([rep])
    assert rep == before


def test_hash_type_constants_work_as_keys():
    assert TieClient._transform_hashes([{"type": HashType.SHA1, "value": SHA1_B64}]) == \
        {"sha1": SHA1}
