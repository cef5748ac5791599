"""
The bulk calls end to end on the sandbox: input order, per-item failures (bad input, error
responses, timeouts) without losing the other results, and the same answers as the single calls.
"""

import hashlib

from fabric_helpers import connected, wait_for

from dxltieclient import (
    FileProvider,
    HashType,
    InvalidHashError,
    ReputationProp,
    TieClient,
    TieInputError,
    TieServiceNotFoundError,
    TieTimeoutError,
    TrustLevel,
)
from dxltieclient.sandbox.tie.seed import EICAR_HASHES, NOTEPAD_HASHES


def unique_hashes(label: str) -> dict:
    """The three hashes of a file nobody has seen (digests of ``label``)."""
    data = label.encode("utf-8")
    return {HashType.MD5: hashlib.md5(data).hexdigest(),
            HashType.SHA1: hashlib.sha1(data).hexdigest(),
            HashType.SHA256: hashlib.sha256(data).hexdigest()}


def trust(reputations: dict, provider: int) -> int:
    return reputations[provider][ReputationProp.TRUST_LEVEL]


def test_bulk_lookups_come_back_in_input_order_with_the_single_call_values(tie_sandbox):
    items = [unique_hashes("bulk-order-{}".format(n)) for n in range(150)]
    items[17] = dict(NOTEPAD_HASHES)
    items[99] = {HashType.SHA256: EICAR_HASHES[HashType.SHA256]}
    progress = []
    with connected(tie_sandbox.config_file) as client:
        tie_client = TieClient(client)
        results = tie_client.get_file_reputations(
            items, max_in_flight=16, progress=lambda done, total: progress.append((done, total)))
        assert [result.index for result in results] == list(range(150))
        assert all(result.ok for result in results), [r for r in results if not r.ok][:3]
        assert [result.item for result in results] == items
        assert trust(results[17].value, FileProvider.GTI) == TrustLevel.KNOWN_TRUSTED
        assert trust(results[99].value, FileProvider.GTI) == TrustLevel.KNOWN_MALICIOUS
        assert trust(results[0].value, FileProvider.GTI) == TrustLevel.UNKNOWN
        for index in (0, 17, 99):
            single = tie_client.get_file_reputation(items[index])
            assert {provider: trust(single, provider) for provider in single} == {
                provider: trust(results[index].value, provider)
                for provider in results[index].value}
    assert progress[-1] == (150, 150)
    assert [done for done, _ in progress] == list(range(1, 151))


def test_bad_items_fail_alone_and_the_others_are_answered(tie_sandbox):
    items = [dict(NOTEPAD_HASHES), {HashType.MD5: "not-hex"}, {}, {"crc32": "00ff00ff"},
             unique_hashes("bulk-partial")]
    with connected(tie_sandbox.config_file) as client:
        results = TieClient(client).get_file_reputations(items)
    assert [result.ok for result in results] == [True, False, False, False, True]
    assert isinstance(results[1].error, InvalidHashError) and "not-hex" in str(results[1].error)
    assert isinstance(results[2].error, TieInputError)
    assert isinstance(results[3].error, InvalidHashError) and "crc32" in str(results[3].error)
    assert trust(results[0].value, FileProvider.GTI) == TrustLevel.KNOWN_TRUSTED


def test_every_item_gets_the_error_response_when_no_tie_service_answers(tie_fabric):
    items = [unique_hashes("bulk-no-service-{}".format(n)) for n in range(20)]
    with connected(tie_fabric.config_file) as client:
        results = TieClient(client).get_file_reputations(items, timeout=20)
    assert all(isinstance(result.error, TieServiceNotFoundError) for result in results), results
    assert "unable to locate service for request (-2147483647)" in str(results[0].error)


def test_bulk_sets_are_visible_in_a_bulk_lookup(tie_sandbox):
    files = [unique_hashes("bulk-set-{}".format(n)) for n in range(30)]
    levels = [TrustLevel.KNOWN_MALICIOUS if n % 2 else TrustLevel.MIGHT_BE_TRUSTED
              for n in range(30)]
    with connected(tie_sandbox.config_file) as client:
        tie_client = TieClient(client)
        results = tie_client.set_file_reputations(
            [{"trust_level": level, "hashes": hashes, "filename": "f{}.exe".format(n),
              "comment": "bulk test"} for n, (hashes, level) in enumerate(zip(files, levels))]
            + [{"trust_level": 7, "hashes": files[0]}])
        assert [result.ok for result in results] == [True] * 30 + [False]
        assert "Unknown trust level 7" in str(results[30].error)
        lookups = tie_client.get_file_reputations(files)
    assert [trust(result.value, FileProvider.ENTERPRISE) for result in lookups] == levels


def test_bulk_external_reports_reach_the_server(tie_sandbox):
    files = [unique_hashes("bulk-external-{}".format(n)) for n in range(10)]
    with connected(tie_sandbox.config_file) as client:
        tie_client = TieClient(client)
        results = tie_client.set_external_file_reputations(
            [{"trust_level": TrustLevel.MOST_LIKELY_MALICIOUS, "hashes": hashes,
              "filename": "x{}.exe".format(n)} for n, hashes in enumerate(files)])
        assert all(result.ok for result in results)

        def external_levels():
            values = [result.value for result in tie_client.get_file_reputations(files)]
            levels = [value.get(FileProvider.EXTERNAL, {}).get(ReputationProp.TRUST_LEVEL)
                      for value in values]
            return levels if all(levels) else None

        assert wait_for(external_levels, timeout=20) == [
            TrustLevel.MOST_LIKELY_MALICIOUS] * 10


def test_items_time_out_alone_when_the_broker_drops_them(tie_sandbox):
    denied = tie_sandbox.provision("bulk-denied", deny=["enterprise"])
    with connected(denied) as client:
        tie_client = TieClient(client)
        results = tie_client.set_file_reputations(
            [{"trust_level": TrustLevel.KNOWN_TRUSTED, "hashes": unique_hashes("bulk-denied")}],
            timeout=1.5)
        lookups = tie_client.get_file_reputations([dict(NOTEPAD_HASHES)], timeout=20)
    assert isinstance(results[0].error, TieTimeoutError)
    assert "Timeout waiting for response to message" in str(results[0].error)
    assert lookups[0].ok  # the same client may still look files up
