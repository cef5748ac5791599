"""The constants classes and their helpers against TIE-SPEC section 5."""

import base64
import calendar
import inspect
import struct
import time

import pytest

from dxltieclient import constants
from dxltieclient.constants import (
    CertEnterpriseAttrib,
    EnterpriseAttrib,
    EpochMixin,
    FileEnterpriseAttrib,
    FirstRefProp,
)

_REPUTATION_PROP = {"PROVIDER_ID": "providerId", "TRUST_LEVEL": "trustLevel",
                    "CREATE_DATE": "createDate", "ATTRIBUTES": "attributes"}
_REP_CHANGE_PROP = {"HASHES": "hashes", "NEW_REPUTATIONS": "newReputations",
                    "OLD_REPUTATIONS": "oldReputations", "UPDATE_TIME": "updateTime"}
_ENTERPRISE = {"SERVER_VERSION": "2139285"}
_GTI = {"ORIGINAL_RESPONSE": "2120340"}

FILE_TYPE = {
    "NONE": 0, "COM": 1, "EXE": 2, "DRV": 4, "BOOT": 8, "PE": 16, "PEEXE": 18, "VXD": 64,
    "DLLNONPE": 128, "DLL": 144, "WIN": 272, "MZSTUB": 512, "NLM": 1024, "ELF": 2048,
    "JS": 4096, "VBS": 8192, "SCRIPT": 12288, "OLE": 16384, "PIC": 65536, "TEXT": 131072,
    "BAT": 143360, "HTML": 262144, "HTMLTEXT": 393216, "HTA": 524288, "RTF": 1048576,
    "PDF": 2097152, "MMEDIA": 4194304, "URL": 8388608, "SYS": 16777232, "ZIP": 33587200,
    "CAB": 67141632, "RARNOARC": 134217728, "RAR": 134250496, "OOXML": 167772160,
    "OOXMLPK": 301989888, "MACHO": 536870912, "APK": 1073741824, "CLASS": 2147483648,
    "JAR": 4328554496,
}

# Every member of every class, inherited ones included (TIE-SPEC 5).
TABLES = {
    "HashType": {"MD5": "md5", "SHA1": "sha1", "SHA256": "sha256"},
    "FileProvider": {"GTI": 1, "ENTERPRISE": 3, "ATD": 5, "MWG": 7, "EXTERNAL": 15},
    "CertProvider": {"GTI": 2, "ENTERPRISE": 4},
    "TrustLevel": {
        "KNOWN_TRUSTED_INSTALLER": 100, "KNOWN_TRUSTED": 99, "MOST_LIKELY_TRUSTED": 85,
        "MIGHT_BE_TRUSTED": 70, "UNKNOWN": 50, "MIGHT_BE_MALICIOUS": 30,
        "MOST_LIKELY_MALICIOUS": 15, "KNOWN_MALICIOUS": 1, "NOT_SET": 0,
    },
    "AtdTrustLevel": {
        "NOT_SET": -2, "KNOWN_TRUSTED": -1, "MOST_LIKELY_TRUSTED": 0, "MIGHT_BE_TRUSTED": 1,
        "UNKNOWN": 2, "MIGHT_BE_MALICIOUS": 3, "MOST_LIKELY_MALICIOUS": 4, "KNOWN_MALICIOUS": 5,
    },
    "ReputationProp": _REPUTATION_PROP,
    "FileReputationProp": _REPUTATION_PROP,
    "CertReputationProp": dict(_REPUTATION_PROP, OVERRIDDEN="overridden"),
    "CertReputationOverriddenProp": {"FILES": "files", "TRUNCATED": "truncated"},
    "EpochMixin": {},
    "EnterpriseAttrib": _ENTERPRISE,
    "FileEnterpriseAttrib": dict(
        _ENTERPRISE, FIRST_CONTACT="2102165", PREVALENCE="2101652", ENTERPRISE_SIZE="2111893",
        MIN_LOCAL_REP="2112148", MAX_LOCAL_REP="2112404", AVG_LOCAL_REP="2112660",
        PARENT_MIN_LOCAL_REP="2112916", PARENT_MAX_LOCAL_REP="2113172",
        PARENT_AVG_LOCAL_REP="2113428", DETECTION_COUNT="2113685",
        LAST_DETECTION_TIME="2113942", IS_PREVALENT="2123156", FILE_NAME_COUNT="2114965",
        CHILD_FILE_REPS="2138520", PARENT_FILE_REPS="2138264"),
    "CertEnterpriseAttrib": dict(
        _ENTERPRISE, FIRST_CONTACT="2109589", PREVALENCE="2109333",
        HAS_FILE_OVERRIDES="2122901", IS_PREVALENT="2125972"),
    "GtiAttrib": _GTI,
    "FileGtiAttrib": dict(_GTI, FIRST_CONTACT="2101908", PREVALENCE="2102421"),
    "CertGtiAttrib": dict(_GTI, FIRST_CONTACT="2109077", PREVALENCE="2108821",
                          REVOKED="2117524"),
    "AtdAttrib": {"GAM_SCORE": "4194962", "AV_ENGINE_SCORE": "4195218",
                  "SANDBOX_SCORE": "4195474", "VERDICT": "4195730", "BEHAVIORS": "4197784"},
    "FirstRefProp": {"DATE": "date", "SYSTEM_GUID": "agentGuid"},
    "RepChangeEventProp": _REP_CHANGE_PROP,
    "FileRepChangeEventProp": dict(_REP_CHANGE_PROP, RELATIONSHIPS="relationships"),
    "CertRepChangeEventProp": dict(_REP_CHANGE_PROP, PUBLIC_KEY_SHA1="publicKeySha1"),
    "DetectionEventProp": {
        "SYSTEM_GUID": "agentGuid", "HASHES": "hashes", "DETECTION_TIME": "detectionTime",
        "LOCAL_REPUTATION": "localReputation", "NAME": "name",
        "REMEDIATION_ACTION": "remediationAction"},
    "FirstInstanceEventProp": {"SYSTEM_GUID": "agentGuid", "HASHES": "hashes", "NAME": "name"},
    "FileType": FILE_TYPE,
}

BASES = {
    "EpochMixin": object, "EnterpriseAttrib": "EpochMixin",
    "FileEnterpriseAttrib": "EnterpriseAttrib", "CertEnterpriseAttrib": "EnterpriseAttrib",
    "FirstRefProp": "EpochMixin", "GtiAttrib": object, "FileGtiAttrib": "GtiAttrib",
    "CertGtiAttrib": "GtiAttrib", "ReputationProp": object,
    "FileReputationProp": "ReputationProp", "CertReputationProp": "ReputationProp",
    "RepChangeEventProp": object, "FileRepChangeEventProp": "RepChangeEventProp",
    "CertRepChangeEventProp": "RepChangeEventProp", "HashType": object, "FileProvider": object,
    "CertProvider": object, "TrustLevel": object, "AtdTrustLevel": object,
    "CertReputationOverriddenProp": object, "AtdAttrib": object, "DetectionEventProp": object,
    "FirstInstanceEventProp": object, "FileType": object,
}

EPOCH_CLASSES = {"EpochMixin", "EnterpriseAttrib", "FileEnterpriseAttrib",
                 "CertEnterpriseAttrib", "FirstRefProp"}
VERSION_CLASSES = {"EnterpriseAttrib", "FileEnterpriseAttrib", "CertEnterpriseAttrib"}
AGGREGATE_CLASSES = {"FileEnterpriseAttrib"}


def _members(cls):
    return {name: getattr(cls, name) for name in dir(cls)
            if not name.startswith("_") and not callable(getattr(cls, name))}


def test_the_24_classes_are_all_there():
    classes = {name for name, value in vars(constants).items()
               if inspect.isclass(value) and value.__module__ == constants.__name__}
    assert classes == set(TABLES)
    assert len(classes) == 24


@pytest.mark.parametrize("cls_name", sorted(TABLES))
def test_members_and_values(cls_name):
    members = _members(getattr(constants, cls_name))
    assert members == TABLES[cls_name]
    for name, value in members.items():
        assert type(value) is type(TABLES[cls_name][name]), name  # plain int / str


def test_file_type_has_39_members():
    assert len(_members(constants.FileType)) == 39


@pytest.mark.parametrize("cls_name, base", sorted(BASES.items(), key=lambda item: item[0]))
def test_inheritance(cls_name, base):
    cls = getattr(constants, cls_name)
    expected = base if base is object else getattr(constants, base)
    assert cls.__bases__ == (expected,)
    assert not hasattr(cls, "__members__")  # plain classes, no enums


@pytest.mark.parametrize("cls_name", sorted(TABLES))
def test_helper_availability(cls_name):
    cls = getattr(constants, cls_name)
    for helper in ("to_localtime", "to_localtime_string"):
        assert hasattr(cls, helper) is (cls_name in EPOCH_CLASSES), helper
    for helper in ("to_version_tuple", "to_version_string"):
        assert hasattr(cls, helper) is (cls_name in VERSION_CLASSES), helper
    assert hasattr(cls, "to_aggregate_tuple") is (cls_name in AGGREGATE_CLASSES)


def test_range_alias():
    assert constants.RANGE is range


# -- helper functions (TIE-SPEC 5.1) --------------------------------------------------------------

@pytest.mark.parametrize("cls", [EnterpriseAttrib, FileEnterpriseAttrib, CertEnterpriseAttrib])
@pytest.mark.parametrize("attrib, expected", [
    ("73183493944770750", (1, 4, 0, 190)),
    ("72339069014638857", (1, 1, 0, 265)),
    ("144678138029277428", (2, 2, 0, 244)),
    (73183493944770750, (1, 4, 0, 190)),
    (str((255 << 56) | (254 << 48) | (0xABCD << 32) | 0xFFFFFFFF), (255, 254, 0xABCD, 0xFFFFFFFF)),
    ("0", (0, 0, 0, 0)),
])
def test_version_helpers(cls, attrib, expected):
    result = cls.to_version_tuple(attrib)
    assert result == expected
    assert type(result) is tuple and all(type(part) is int for part in result)
    assert cls.to_version_string(attrib) == ".".join(str(part) for part in expected)


def test_version_string_example():
    assert EnterpriseAttrib.to_version_string("73183493944770750") == "1.4.0.190"


@pytest.mark.parametrize("attrib, expected", [
    ("AgBkADIAZABMHQ==", (2, 100, 50, 100, 75.0)),
    ("AQAAAAAAAAAAAA==", (1, 0, 0, 0, 0)),
    (base64.b64encode(struct.pack("<6H", 3, 99, 1, 50, 5000, 7)).decode(),
     (3, 99, 1, 50, 50.0, 7)),
    (base64.b64encode(struct.pack("<5H", 65535, 65535, 0, 1, 1)), (65535, 65535, 0, 1, 0.01)),
])
def test_to_aggregate_tuple(attrib, expected):
    result = FileEnterpriseAttrib.to_aggregate_tuple(attrib)
    assert result == expected
    assert type(result) is tuple
    assert [type(v) for v in result] == [type(v) for v in expected]


def test_to_aggregate_tuple_zero_average_stays_int():
    assert type(FileEnterpriseAttrib.to_aggregate_tuple("AQAAAAAAAAAAAA==")[4]) is int


@pytest.mark.parametrize("attrib", [
    "", base64.b64encode(struct.pack("<4H", 1, 2, 3, 4)).decode(), "AQAAAA==",
])
def test_to_aggregate_tuple_fewer_than_five_values(attrib):
    with pytest.raises(IndexError):
        FileEnterpriseAttrib.to_aggregate_tuple(attrib)


@pytest.mark.parametrize("raw", [b"\x01" * 11, b"\x01" * 3, b"\x01"])
def test_to_aggregate_tuple_odd_bytes(raw):
    with pytest.raises(struct.error):
        FileEnterpriseAttrib.to_aggregate_tuple(base64.b64encode(raw).decode())


@pytest.fixture
def utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


EPOCH = calendar.timegm((2016, 10, 7, 13, 54, 52, 0, 0, 0))


@pytest.mark.parametrize("cls", [EpochMixin, EnterpriseAttrib, FileEnterpriseAttrib,
                                 CertEnterpriseAttrib, FirstRefProp])
@pytest.mark.parametrize("value", [EPOCH, str(EPOCH), float(EPOCH), "%d.0" % EPOCH])
def test_to_localtime(utc, cls, value):
    result = cls.to_localtime(value)
    assert isinstance(result, time.struct_time)
    assert result == time.localtime(float(EPOCH))
    assert tuple(result)[:6] == (2016, 10, 7, 13, 54, 52)
    assert cls.to_localtime_string(value) == "2016-10-07 13:54:52"
    assert cls.to_localtime_string(value, format="%d/%m/%Y") == "07/10/2016"
    assert cls.to_localtime_string(value, "%H%M") == "1354"


def test_to_localtime_follows_the_local_zone(monkeypatch):
    monkeypatch.setenv("TZ", "IST-5:30")
    time.tzset()
    try:
        assert FirstRefProp.to_localtime_string(str(EPOCH)) == "2016-10-07 19:24:52"
        assert FirstRefProp.to_localtime(EPOCH) == time.localtime(EPOCH)
    finally:
        monkeypatch.undo()
        time.tzset()


@pytest.mark.parametrize("bad", ["abc", None, ""])
def test_to_localtime_rejects_non_numbers(bad):
    with pytest.raises((ValueError, TypeError)):
        EpochMixin.to_localtime(bad)
