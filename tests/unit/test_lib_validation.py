"""Argument validation (our stricter checks, and the external report's original ones): every
refusal raises a ValueError subclass and sends nothing."""

import binascii

import pytest

from dxltieclient import FileType, InvalidHashError, TieInputError, TrustLevel

MD5 = "f2c7bb8acc97f92e987a2d4087d021b1"
SHA1 = "7eb0139d2175739b3ccb0d1110067820be6abd29"
SHA256 = "142e1d688ef0568370c37187fd9f2351d7ddeda574f8bfa9b0fa4ef42db85aa2"
CERT_SHA1 = "1c26e2037c8e205b452cab3565d696512207d66d"
GOOD = {"md5": MD5, "sha1": SHA1, "sha256": SHA256}


def _refused(fake, call, error_type=TieInputError, match=None):
    with pytest.raises(error_type, match=match) as info:
        call()
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, TieInputError)
    assert fake.nothing_sent, "a refused call must send nothing"
    return info.value


# Every method that takes a hashes dict, as a function of the hashes.
HASH_CALLS = {
    "set_file_reputation": lambda tie, h: tie.set_file_reputation(99, h),
    "get_file_reputation": lambda tie, h: tie.get_file_reputation(h),
    "get_file_first_references": lambda tie, h: tie.get_file_first_references(h),
    "set_external_file_reputation":
        lambda tie, h: tie.set_external_file_reputation(99, h, filename="a.exe"),
}

BAD_HASHES = [
    # (hash type, value, why)
    ("md4", MD5, "unknown type"),
    ("sha512", SHA256, "unknown type"),
    ("crc32", "abcd0123", "unknown type"),
    ("", MD5, "unknown type"),
    ("md5", MD5[:-1], "odd length"),
    ("md5", MD5 + "00", "too long"),
    ("md5", SHA1, "sha1 length for md5"),
    ("md5", "", "empty"),
    ("sha1", MD5, "md5 length for sha1"),
    ("sha1", SHA1[:-2], "too short"),
    ("sha256", SHA1, "sha1 length for sha256"),
    ("sha256", SHA256 + "0", "odd"),
    ("md5", "g" + MD5[1:], "non-hex"),
    ("md5", "zz" * 16, "non-hex"),
    ("md5", MD5[:-1] + " ", "space"),
    ("md5", " " + MD5[1:], "space"),
    ("md5", "0x" + MD5[2:], "prefix"),
    ("md5", MD5[:-2] + "\u0663\u0663", "unicode digits"),
    ("md5", MD5[:-1] + "\uff41", "fullwidth a"),
    ("sha1", SHA1[:-1] + "-", "dash"),
]
BAD_IDS = ["{}-{}".format(t or "empty", why) for t, _, why in BAD_HASHES]


@pytest.mark.parametrize("method", sorted(HASH_CALLS))
@pytest.mark.parametrize("hash_type, value, why", BAD_HASHES, ids=BAD_IDS)
def test_bad_hash_refused(tie, fake, method, hash_type, value, why):
    hashes = {"md5": MD5, hash_type: value} if hash_type != "md5" else {hash_type: value}
    error = _refused(fake, lambda: HASH_CALLS[method](tie, hashes), InvalidHashError)
    assert isinstance(error, binascii.Error)
    text = str(error)
    assert hash_type in text
    assert value in text or repr(value) in text


@pytest.mark.parametrize("method", sorted(HASH_CALLS))
@pytest.mark.parametrize("hashes", [
    {"md5": MD5}, {"sha1": SHA1}, {"sha256": SHA256}, GOOD,
    {"md5": MD5.upper(), "sha1": SHA1.upper(), "sha256": SHA256.upper()},
    {"sha256": "A" * 64, "md5": "0" * 32},
])
def test_good_hashes_accepted(tie, fake, method, hashes):
    HASH_CALLS[method](tie, hashes)
    assert len(fake.requests) + len(fake.events) == 1


@pytest.mark.parametrize("method", sorted(HASH_CALLS))
def test_message_names_length_problem(tie, fake, method):
    error = _refused(fake, lambda: HASH_CALLS[method](tie, {"sha1": MD5}), InvalidHashError)
    assert "sha1" in str(error) and MD5 in str(error)


@pytest.mark.parametrize("method", ["set_file_reputation", "get_file_reputation",
                                    "get_file_first_references"])
@pytest.mark.parametrize("hashes", [{}, None, [], ["md5", MD5], [("md5", MD5)], "md5", MD5, 3,
                                    {("md5",): MD5}.keys()])
def test_empty_or_non_dict_hashes_refused(tie, fake, method, hashes):
    _refused(fake, lambda: HASH_CALLS[method](tie, hashes))


@pytest.mark.parametrize("method", sorted(HASH_CALLS))
@pytest.mark.parametrize("value", [None, 5, ["f2"], {"x": 1}])
def test_non_string_hash_value_refused(tie, fake, method, value):
    _refused(fake, lambda: HASH_CALLS[method](tie, {"md5": value}), InvalidHashError)


def test_external_report_refuses_bytes_hash_values(tie, fake):
    _refused(fake, lambda: tie.set_external_file_reputation(99, {"md5": MD5.encode()}, 0, "a"),
             InvalidHashError)


# -- trust levels ---------------------------------------------------------------------------------

BAD_TRUST = [2, 42, 98, 101, -1, 99.0, 1.0, 0.0, True, False, "99", None, [99], 50.5]


@pytest.mark.parametrize("trust_level", BAD_TRUST, ids=repr)
@pytest.mark.parametrize("method", ["file", "cert"])
def test_bad_trust_level_refused(tie, fake, method, trust_level):
    if method == "file":
        _refused(fake, lambda: tie.set_file_reputation(trust_level, GOOD))
    else:
        _refused(fake, lambda: tie.set_certificate_reputation(trust_level, CERT_SHA1))


GOOD_TRUST = [0, 1, 15, 30, 50, 70, 85, 99, 100]


@pytest.mark.parametrize("trust_level", GOOD_TRUST)
def test_every_trust_level_accepted(tie, fake, trust_level):
    tie.set_file_reputation(trust_level, GOOD)
    tie.set_certificate_reputation(trust_level, CERT_SHA1)
    assert [s.json()["trustLevel"] for s in fake.requests] == [trust_level, trust_level]


def test_trust_level_checked_before_hashes(tie, fake):
    # a bad trust level with bad hashes: the trust level is reported, not the hash
    error = _refused(fake, lambda: tie.set_file_reputation(42, {"md5": "zz"}))
    assert not isinstance(error, InvalidHashError)


# -- query limits ---------------------------------------------------------------------------------

@pytest.mark.parametrize("query_limit", [0, -1, -500, True, False, 1.5, 500.0, "5", None],
                         ids=repr)
@pytest.mark.parametrize("method", ["file", "cert"])
def test_bad_query_limit_refused(tie, fake, method, query_limit):
    if method == "file":
        _refused(fake, lambda: tie.get_file_first_references(GOOD, query_limit))
    else:
        _refused(fake, lambda: tie.get_certificate_first_references(CERT_SHA1, None, query_limit))


@pytest.mark.parametrize("query_limit", [1, 2, 500, 5000])
def test_good_query_limit(tie, fake, query_limit):
    tie.get_file_first_references(GOOD, query_limit=query_limit)
    tie.get_certificate_first_references(CERT_SHA1, query_limit=query_limit)
    assert [s.json()["queryLimit"] for s in fake.requests] == [query_limit, query_limit]


# -- certificate hashes ---------------------------------------------------------------------------

BAD_SHA1 = [MD5, SHA256, CERT_SHA1[:-1], CERT_SHA1 + "0", "g" + CERT_SHA1[1:], "", "zz" * 20,
            CERT_SHA1[:-1] + " "]
CERT_CALLS = {
    "set_certificate_reputation": lambda tie, s, p: tie.set_certificate_reputation(99, s, p),
    "get_certificate_reputation": lambda tie, s, p: tie.get_certificate_reputation(s, p),
    "get_certificate_first_references":
        lambda tie, s, p: tie.get_certificate_first_references(s, p),
}


@pytest.mark.parametrize("method", sorted(CERT_CALLS))
@pytest.mark.parametrize("bad", BAD_SHA1 + [None, 5])
def test_bad_cert_sha1_refused(tie, fake, method, bad):
    error = _refused(fake, lambda: CERT_CALLS[method](tie, bad, None), InvalidHashError)
    if isinstance(bad, str) and bad:
        assert bad in str(error)


@pytest.mark.parametrize("method", sorted(CERT_CALLS))
@pytest.mark.parametrize("bad", BAD_SHA1[:-3] + ["zz" * 20, 5])
def test_bad_public_key_sha1_refused(tie, fake, method, bad):
    error = _refused(fake, lambda: CERT_CALLS[method](tie, CERT_SHA1, bad), InvalidHashError)
    assert "public_key_sha1" in str(error)


@pytest.mark.parametrize("method", sorted(CERT_CALLS))
def test_good_cert_hashes(tie, fake, method):
    CERT_CALLS[method](tie, CERT_SHA1.upper(), SHA1.upper())
    assert len(fake.requests) == 1


# -- the external report: the original's checks, order and messages -------------------------------

NOT_SPECIFIED = "^TrustLevel was not specified$"
BAD_FILE_TYPE = "^FileType was not a valid entry$"
BAD_TRUST_LEVEL = "^TrustLevel was not a valid entry$"
NO_HASHES = "^File hashes were not specified$"


@pytest.mark.parametrize("trust_level, hashes, file_type, message", [
    (0, GOOD, 0, NOT_SPECIFIED),
    (None, GOOD, 0, NOT_SPECIFIED),
    (TrustLevel.NOT_SET, GOOD, 18, NOT_SPECIFIED),
    (0, {}, 3, NOT_SPECIFIED),            # trust checked first
    (None, None, -1, NOT_SPECIFIED),
    (99, GOOD, 3, BAD_FILE_TYPE),
    (99, GOOD, -1, BAD_FILE_TYPE),
    (99, GOOD, 17, BAD_FILE_TYPE),
    (99, GOOD, "18", BAD_FILE_TYPE),
    (99, GOOD, None, BAD_FILE_TYPE),
    (42, {}, 3, BAD_FILE_TYPE),           # file type before trust level validity
    (42, GOOD, 0, BAD_TRUST_LEVEL),
    (42, {}, 18, BAD_TRUST_LEVEL),        # trust level validity before hashes
    (-1, GOOD, 0, BAD_TRUST_LEVEL),
    ("99", GOOD, 0, BAD_TRUST_LEVEL),
    (True, GOOD, 0, BAD_TRUST_LEVEL),     # bool is not a trust level (defect 2 fixed)
    (99, {}, 0, NO_HASHES),
    (99, None, 0, NO_HASHES),
    (99, [], 0, NO_HASHES),
    (99, "", FileType.PEEXE, NO_HASHES),
])
def test_external_report_original_checks(tie, fake, trust_level, hashes, file_type, message):
    _refused(fake, lambda: tie.set_external_file_reputation(trust_level, hashes, file_type, "a"),
             TieInputError, match=message)


def test_external_report_refuses_false_file_type(tie, fake):
    _refused(fake, lambda: tie.set_external_file_reputation(99, GOOD, False, "a"),
             TieInputError, match=BAD_FILE_TYPE)


@pytest.mark.parametrize("hashes", [["md5", MD5], [("md5", MD5)], "md5", 3, (MD5,)], ids=repr)
def test_external_report_refuses_non_dict_hashes(tie, fake, hashes):
    error = _refused(fake, lambda: tie.set_external_file_reputation(99, hashes, 0, "a"))
    assert "hashes" in str(error).lower()


@pytest.mark.parametrize("file_type", sorted(
    v for k, v in vars(FileType).items() if not k.startswith("_")))
def test_external_report_accepts_every_file_type(tie, fake, file_type):
    tie.set_external_file_reputation(TrustLevel.KNOWN_MALICIOUS, {"md5": MD5}, file_type, "a")
    assert len(fake.events) == 1


# -- the 1 MiB limit of a DXL message -------------------------------------------------------------

MIB = 1024 * 1024


def _set_file_reputation_overhead():
    import json
    return len(json.dumps({"trustLevel": 99, "providerId": 3, "filename": "", "comment": "",
                           "hashes": [{"type": "md5", "value": "8se7isyX+S6Yei1Ah9AhsQ=="}]}))


def test_payload_of_exactly_1_mib_is_sent(tie, fake):
    comment = "c" * (MIB - _set_file_reputation_overhead())
    tie.set_file_reputation(99, {"md5": MD5}, comment=comment)
    assert len(fake.requests[0].payload) == MIB


@pytest.mark.parametrize("extra", [1, 1000, MIB])
def test_payload_larger_than_1_mib_refused(tie, fake, extra):
    comment = "c" * (MIB - _set_file_reputation_overhead() + extra)
    error = _refused(fake, lambda: tie.set_file_reputation(99, {"md5": MD5}, comment=comment))
    assert "bytes" in str(error)
    assert str(MIB) in str(error) or "1 MiB" in str(error)


@pytest.mark.parametrize("call", [
    lambda tie, big: tie.set_external_file_reputation(99, {"md5": MD5}, 0, big),
    lambda tie, big: tie.set_external_file_reputation(99, {"md5": MD5}, 0, "a", big),
    lambda tie, big: tie.set_certificate_reputation(99, CERT_SHA1, None, big),
    lambda tie, big: tie.set_file_reputation(99, {"md5": MD5}, big),
], ids=["external-filename", "external-comment", "cert-comment", "file-filename"])
def test_oversized_text_refused_everywhere(tie, fake, call):
    _refused(fake, lambda: call(tie, "x" * (MIB + 1)))


def test_non_ascii_counts_in_utf8_bytes(tie, fake):
    # json.dumps escapes non-ASCII as \\uXXXX: 6 bytes per character on the wire
    comment = "\u00e9" * (MIB // 6 + 1)
    _refused(fake, lambda: tie.set_file_reputation(99, {"md5": MD5}, comment=comment))
