"""Issue #9 points 8 and 9 on the emulator's side: bounded quotes of bad values, deep JSON and
lone surrogates answered as invalid requests (400), not internal errors (500)."""

import base64
import json
import logging

import pytest

from dxltieclient.sandbox.tie import service as svc
from dxltieclient.sandbox.tie.seed import EICAR_HASHES
from dxltieclient.sandbox.tie.service import (
    ERROR_INVALID_REQUEST,
    TOPIC_GET_FILE_REPUTATION,
    TOPIC_SET_FILE_REPUTATION,
    bounded,
    quote,
)

from .helpers import dump

MD5_B64 = base64.b64encode(bytes.fromhex(EICAR_HASHES["md5"])).decode("ascii")


def test_quote_keeps_a_bounded_prefix_and_says_how_long_the_value_was():
    assert quote("abc") == "'abc'"
    huge = "a" * 10_000_000
    quoted = quote(huge)
    assert quoted.startswith("'aaaa") and quoted.endswith("... (10000000 characters)")
    assert len(quoted) < 150
    assert len(bounded("x" * 5000)) < svc.MESSAGE_LIMIT + 30


def test_quote_survives_a_value_too_deep_for_repr():
    value = []
    for _ in range(100_000):
        value = [value]
    quoted = quote(value)
    assert quoted.startswith("[[") and len(quoted) < 200


def test_a_10_mb_hash_gets_a_short_error_and_a_short_log_line(service, caplog):
    payload = json.dumps({"hashes": [{"type": "md5", "value": "A" * 10_000_000}]}).encode()
    with caplog.at_level(logging.DEBUG):
        outcome = service.handle_request(TOPIC_GET_FILE_REPUTATION, payload, None)
    code, message = outcome.error
    assert code == ERROR_INVALID_REQUEST
    assert "md5" in message and "characters)" in message
    assert len(message) < 400
    assert max(len(record.getMessage()) for record in caplog.records) < 2000


def test_every_quoted_value_is_bounded(service):
    big = "z" * 100_000
    for request in (
        {"hashes": [{"type": big, "value": MD5_B64}]},
        {"hashes": [big]},
        {"hashes": [{"type": "md5", "value": MD5_B64}], "trustLevel": big},
        {"hashes": [{"type": "md5", "value": MD5_B64}], "trustLevel": 99, "providerId": big},
        {"hashes": [{"type": "md5", "value": MD5_B64}], "trustLevel": 99, "filename": [big]},
    ):
        topic = TOPIC_SET_FILE_REPUTATION if "trustLevel" in request else \
            TOPIC_GET_FILE_REPUTATION
        outcome = service.handle_request(topic, json.dumps(request).encode(), None)
        assert outcome.error[0] == ERROR_INVALID_REQUEST, outcome
        assert len(outcome.error[1]) < 400, outcome.error[1][:200]


@pytest.mark.parametrize("depth", [10_000, 100_000])
def test_deeply_nested_json_is_an_invalid_request(service, depth):
    payload = ("[" * depth + "]" * depth).encode()
    outcome = service.handle_request(TOPIC_GET_FILE_REPUTATION, payload, None)
    assert outcome.error[0] == ERROR_INVALID_REQUEST
    assert "too deeply" in outcome.error[1]
    obj = ('{"hashes": ' + "[" * depth + "]" * depth + "}").encode()
    assert service.handle_request(TOPIC_GET_FILE_REPUTATION, obj, None).error[0] == \
        ERROR_INVALID_REQUEST


def test_a_deeply_nested_external_report_is_ignored_without_a_traceback(service, caplog):
    payload = ("[" * 100_000 + "]" * 100_000).encode()
    assert service.handle_external_report(payload) == []
    assert not any(record.exc_info for record in caplog.records)
    assert "too deeply" in caplog.text


def test_a_filename_with_a_lone_surrogate_is_an_invalid_request(service, store_file):
    before = dump(store_file)
    payload = ('{"hashes": [{"type": "md5", "value": "%s"}], "trustLevel": 99, '
               '"providerId": 3, "filename": "bad\\ud800name.exe"}' % MD5_B64).encode()
    outcome = service.handle_request(TOPIC_SET_FILE_REPUTATION, payload, None)
    assert outcome.error[0] == ERROR_INVALID_REQUEST
    assert "'filename'" in outcome.error[1] and "surrogate" in outcome.error[1]
    assert dump(store_file) == before
    comment = payload.replace(b'"filename"', b'"comment"')
    assert service.handle_request(TOPIC_SET_FILE_REPUTATION, comment, None).error[0] == \
        ERROR_INVALID_REQUEST


def test_an_external_report_with_a_lone_surrogate_filename_is_ignored(service, store_file,
                                                                      caplog):
    before = dump(store_file)
    payload = ('{"file": {"hashes": {"md5": "%s"}, "reputation": {"score": 99}, '
               '"attributes": {"filename": "x\\udfff"}}, "provider": {"id": 15}}'
               % EICAR_HASHES["md5"]).encode()
    assert service.handle_external_report(payload) == []
    assert dump(store_file) == before
    assert "surrogate" in caplog.text
    assert not any(record.exc_info for record in caplog.records)
