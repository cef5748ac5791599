"""
Fail-fast on the sandbox (issue 9, point 4): calls on a client that is not connected, or that
loses its connection during a bulk call, end within seconds with TieNotConnectedError instead of
waiting for a timeout per item.
"""

import hashlib
import time

from fabric_helpers import connected

from dxltieclient import (
    FileProvider,
    HashType,
    ReputationProp,
    TieClient,
    TieNotConnectedError,
    TrustLevel,
)
from dxltieclient.sandbox.connect import new_client

ITEMS = 640


def unique_hashes(label: str) -> dict:
    data = label.encode("utf-8")
    return {HashType.MD5: hashlib.md5(data).hexdigest(),
            HashType.SHA1: hashlib.sha1(data).hexdigest(),
            HashType.SHA256: hashlib.sha256(data).hexdigest()}


def assert_not_connected(results, sent=False):
    assert len(results) == ITEMS
    errors = [result.error for result in results]
    assert all(isinstance(error, TieNotConnectedError) for error in errors), errors[:3]
    assert all(error.sent is sent for error in errors)
    assert "not connected" in str(errors[0])


def test_a_disconnected_client_fails_640_items_within_seconds(tie_sandbox):
    items = [unique_hashes("failfast-disconnected-{}".format(n)) for n in range(ITEMS)]
    with connected(tie_sandbox.config_file) as client:
        tie_client = TieClient(client)
        assert tie_client.get_file_reputations(items[:5], timeout=20)[0].ok  # it works...
        client.disconnect()  # ...until the client is disconnected
        started = time.monotonic()
        lookups = tie_client.get_file_reputations(items, timeout=5)
        sets = tie_client.set_file_reputations(
            [{"trust_level": TrustLevel.KNOWN_TRUSTED, "hashes": hashes} for hashes in items],
            timeout=5)
        single_started = time.monotonic()
        try:
            tie_client.get_file_reputation(items[0])
            raise AssertionError("a single call on a disconnected client returned")
        except TieNotConnectedError as error:
            assert not error.sent
        finished = time.monotonic()
    assert finished - started < 3, finished - started
    assert finished - single_started < 1
    assert_not_connected(lookups)
    assert_not_connected(sets)


def test_a_client_never_connected_fails_at_once(tie_sandbox):
    client = new_client(tie_sandbox.config_file)
    try:
        started = time.monotonic()
        results = TieClient(client).get_file_reputations(
            [unique_hashes("failfast-never-{}".format(n)) for n in range(ITEMS)], timeout=5)
        assert time.monotonic() - started < 2
    finally:
        client.destroy()
    assert_not_connected(results)


def test_a_connection_lost_mid_bulk_fails_the_rest_fast_and_a_re_read_tells_what_was_applied(
        tie_sandbox):
    items = [unique_hashes("failfast-midway-{}".format(n)) for n in range(ITEMS)]
    with connected(tie_sandbox.config_file) as client:
        tie_client = TieClient(client)

        def progress(done, total):
            if done == 100:
                client.disconnect()  # the connection goes away with requests in flight

        started = time.monotonic()
        results = tie_client.set_file_reputations(
            [{"trust_level": TrustLevel.KNOWN_MALICIOUS, "hashes": hashes} for hashes in items],
            timeout=30, progress=progress)
        elapsed = time.monotonic() - started
        failed = [result for result in results if not result.ok]
        assert 0 < len(failed) < ITEMS - 99
        assert all(isinstance(result.error, TieNotConnectedError) for result in failed), \
            [result.error for result in failed[:3]]
        assert elapsed < 15, elapsed  # without the check: 30 s for the outstanding ones

        client.connect()  # what a caller does next: reconnect, then re-read (or re-send)
        lookups = tie_client.get_file_reputations(items, timeout=20)
    assert all(lookup.ok for lookup in lookups)
    levels = [lookup.value.get(FileProvider.ENTERPRISE, {}).get(ReputationProp.TRUST_LEVEL)
              for lookup in lookups]
    for result, level in zip(results, levels):
        if result.ok:  # an acknowledged set is stored
            assert level == TrustLevel.KNOWN_MALICIOUS, result
        elif not result.error.sent:  # a set never sent is not
            assert level != TrustLevel.KNOWN_MALICIOUS, result

