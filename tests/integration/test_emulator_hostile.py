"""
Issue #9 points 8 and 9 end to end: the running emulator answers hostile requests with a short
400 error (deep JSON, a lone surrogate in a file name, a 1 MB bad hash), never 500.
"""

import json

import pytest
from dxlclient.message import ErrorResponse, Request
from fabric_helpers import connected

from dxltieclient.client import TIE_GET_FILE_REPUTATION_TOPIC, TIE_SET_FILE_REPUTATION_TOPIC

DEEP = ("[" * 50_000 + "]" * 50_000).encode()
SURROGATE = (b'{"hashes": [{"type": "md5", "value": "1B2M2Y8AsgTpgAmY7PhCfg=="}], '
             b'"trustLevel": 99, "providerId": 3, "filename": "x\\ud800.exe"}')
HUGE_HASH = json.dumps({"hashes": [{"type": "md5", "value": "A" * 1_000_000}]}).encode()


@pytest.mark.parametrize("topic, payload, expected", [
    (TIE_GET_FILE_REPUTATION_TOPIC, DEEP, "too deeply"),
    (TIE_SET_FILE_REPUTATION_TOPIC, SURROGATE, "surrogate"),
    (TIE_GET_FILE_REPUTATION_TOPIC, HUGE_HASH, "characters)"),
], ids=["deep-json", "lone-surrogate", "1mb-hash"])
def test_hostile_requests_get_a_short_invalid_request_error(tie_sandbox, topic, payload,
                                                           expected):
    with connected(tie_sandbox.config_file) as client:
        request = Request(topic)
        request.payload = payload
        response = client.sync_request(request, timeout=30)
    assert isinstance(response, ErrorResponse)
    assert response.error_code == 400, response.error_message
    assert expected in response.error_message
    assert len(response.error_message) < 400
