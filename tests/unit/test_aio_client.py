"""
Unit tests of :class:`dxltieclient.aio.AsyncTieClient` on a fake asynchronous DXL client (no
broker), with a real event loop: the same bytes, values and exceptions as TieClient for every
method, timeouts and cancellation without leaks in dxlclient's tables, and the bulk calls.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Dict, List, Tuple

import pytest
from aio_fakes import AsyncFakeDxlClient
from tie_fakes import FakeDxlClient

from dxltieclient import (
    BulkResult,
    HashType,
    InvalidHashError,
    TieClient,
    TieInputError,
    TieServiceError,
    TieServiceNotFoundError,
    TieTimeoutError,
    TrustLevel,
)
from dxltieclient.aio import AsyncTieClient
from dxltieclient.client import TIE_GET_FILE_REPUTATION_TOPIC

MD5 = "f2c7bb8acc97f92e987a2d4087d021b1"
SHA1 = "7eb0139d2175739b3ccb0d1110067820be6abd29"
SHA256 = "142e1d688ef0568370c37187fd9f2351d7ddeda574f8bfa9b0fa4ef42db85aa2"
CERT_SHA1 = "6eae26db8c13182a7947982991b4321732cc3de2"
CERT_KEY_SHA1 = "3b87a2d6f39770160364b79a152fcc73bae27adf"
HASHES = {HashType.MD5: MD5, HashType.SHA1: SHA1, HashType.SHA256: SHA256}

REPUTATIONS_REPLY = {"props": {"serverTime": 1}, "reputations": [
    {"providerId": 1, "trustLevel": 99, "createDate": 1, "attributes": {"2120340": "2139160704"}},
    {"providerId": 3, "trustLevel": 0, "createDate": 2, "attributes": {}}]}
AGENTS_REPLY = {"agents": [{"agentGuid": "{guid}", "date": 1475873692}], "totalCount": 1}

#: (method, args, kwargs, reply) of every request method of TieClient.
CALLS: List[Tuple[str, tuple, dict, Any]] = [
    ("get_file_reputation", (HASHES,), {}, REPUTATIONS_REPLY),
    ("get_file_reputation", ({HashType.MD5: MD5.upper()},), {}, {}),
    ("set_file_reputation", (TrustLevel.KNOWN_TRUSTED, HASHES),
     {"filename": "notepad.exe", "comment": "ok"}, {}),
    ("set_file_reputation", (TrustLevel.KNOWN_MALICIOUS, {HashType.SHA256: SHA256}), {}, {}),
    ("get_file_first_references", (HASHES,), {}, AGENTS_REPLY),
    ("get_file_first_references", (HASHES, 7), {}, {}),
    ("set_certificate_reputation", (TrustLevel.MIGHT_BE_TRUSTED, CERT_SHA1, CERT_KEY_SHA1),
     {"comment": "c"}, {}),
    ("set_certificate_reputation", (TrustLevel.MIGHT_BE_TRUSTED, CERT_SHA1), {}, {}),
    ("get_certificate_reputation", (CERT_SHA1, CERT_KEY_SHA1), {}, REPUTATIONS_REPLY),
    ("get_certificate_reputation", (CERT_SHA1,), {}, {"reputations": []}),
    ("get_certificate_first_references", (CERT_SHA1, CERT_KEY_SHA1, 5), {}, AGENTS_REPLY),
    ("get_certificate_first_references", (CERT_SHA1,), {}, {}),
    ("get_reputation_updates", (1402612347,), {}, {"fileHashes": [], "latestUpdateTime": 5}),
    ("get_reputation_updates", (1402612347, 300, True, HashType.SHA256, "sha1"), {},
     {"fileHashes": [{"type": "sha256", "value": "AAAA"}],
      "certificateHashes": [{"type": "sha1", "value": "AQID"}], "latestUpdateTime": 9,
      "props": {"serverTime": 10, "queryLimitExceeded": True}}),
]

#: (method, args, kwargs) of the requests sent without waiting for a response.
NO_RESPONSE_CALLS: List[Tuple[str, tuple, dict]] = [
    ("update_file_metadata", ({HashType.MD5: MD5, HashType.SHA1: SHA1},),
     {"name": "Notepad++.exe", "agentGuid": "g", "size": 107008, "productEnforcing": 1,
      "companyName": None, "certSha1": CERT_SHA1}),
    ("update_certificate_metadata", (CERT_SHA1,),
     {"publicKeySha1": CERT_KEY_SHA1, "algorithm": "sha1RSA", "validFrom": 1260223064,
      "ruleEnforcing": True, "issuer": "Example CA"}),
]

#: (method, args) refused before anything is sent.
BAD_CALLS: List[Tuple[str, tuple]] = [
    ("get_file_reputation", ({},)),
    ("get_file_reputation", ({HashType.MD5: "xyz"},)),
    ("get_file_reputation", ("not a dict",)),
    ("set_file_reputation", (7, HASHES)),
    ("set_file_reputation", (TrustLevel.KNOWN_TRUSTED, {"crc32": "00ff00ff"})),
    ("get_file_first_references", (HASHES, 0)),
    ("set_certificate_reputation", (TrustLevel.KNOWN_TRUSTED, "abc")),
    ("get_certificate_reputation", (CERT_SHA1, "nothex")),
    ("get_certificate_first_references", (CERT_SHA1, None, -1)),
    ("set_external_file_reputation", (0, HASHES)),
    ("set_external_file_reputation", (TrustLevel.KNOWN_TRUSTED, {})),
    ("get_reputation_updates", (-1,)),
    ("get_reputation_updates", (1, 0)),
    ("get_reputation_updates", (1, 10, False, "crc32")),
    ("update_file_metadata", ({},)),
    ("update_certificate_metadata", ("123",)),
]


@pytest.mark.parametrize("method, args, kwargs, reply", CALLS)
async def test_same_bytes_values_and_timeout_as_the_sync_client(afake, atie, method, args,
                                                                kwargs, reply):
    sync_fake = FakeDxlClient().reply_json(reply)
    expected = getattr(TieClient(sync_fake), method)(*args, **kwargs)
    afake.reply_json(reply)

    value = await getattr(atie, method)(*args, **kwargs)

    assert value == expected
    assert [(r.topic, r.payload) for r in afake.requests] == [
        (r.topic, r.payload) for r in sync_fake.requests]
    assert afake.pending_tables() == (0, 0)


@pytest.mark.parametrize("method, args, kwargs", NO_RESPONSE_CALLS)
async def test_metadata_updates_send_the_sync_clients_request_without_waiting(
        afake, atie, method, args, kwargs):
    sync_fake = FakeDxlClient()
    getattr(TieClient(sync_fake), method)(*args, **kwargs)
    afake.hold = True  # nothing is awaited: the call returns although no response comes
    assert await asyncio.wait_for(getattr(atie, method)(*args, **kwargs), 5) is None
    [(sync_request, callback)] = sync_fake.async_requests
    assert callback is None
    assert [(r.topic, r.payload) for r in afake.requests] == [
        (sync_request.destination_topic, sync_request.payload)]


def _page(values: List[str], latest: Any, exceeded: bool) -> Dict[str, Any]:
    page: Dict[str, Any] = {"fileHashes": [{"type": "md5", "value": value} for value in values],
                            "certificateHashes": [], "latestUpdateTime": latest}
    if exceeded:
        page["props"] = {"serverTime": 2000, "queryLimitExceeded": True}
    return page


B64 = ["AAAAAAAAAAAAAAAAAAAAAA==", "AQAAAAAAAAAAAAAAAAAAAA==", "AgAAAAAAAAAAAAAAAAAAAA==",
       "AwAAAAAAAAAAAAAAAAAAAA=="]
PAGED_REPLIES = [_page(B64[0:2], 10, True), _page(B64[1:3], 10, True),
                 _page(B64[1:4], 11, False)]


async def test_reputation_update_pages_are_the_sync_clients(afake, atie):
    sync_fake = FakeDxlClient()
    for reply in PAGED_REPLIES:
        sync_fake.reply_json(reply)
        afake.reply_json(reply)
    expected = list(TieClient(sync_fake).iter_reputation_updates(5, query_limit=2))
    pages = [page async for page in atie.iter_reputation_updates(5, query_limit=2)]
    assert pages == expected
    assert [entry["md5"][:2] for page in pages for entry in page["fileHashes"]] == [
        "00", "01", "02", "03"]
    assert [r.payload for r in afake.requests] == [r.payload for r in sync_fake.requests]


async def test_reputation_update_paging_stops_on_a_server_that_repeats_itself(afake, atie):
    for _ in range(3):
        afake.reply_json(_page(B64[0:2], 10, True))
    pages = atie.iter_reputation_updates(10, query_limit=2)
    assert len((await pages.__anext__())["fileHashes"]) == 2
    with pytest.raises(TieServiceError, match="repeated the reputation updates since 10"):
        await pages.__anext__()
    assert len(afake.requests) == 2


async def test_reputation_update_paging_checks_its_arguments_when_created(afake, atie):
    with pytest.raises(TieInputError):
        atie.iter_reputation_updates(5, query_limit=0)
    with pytest.raises(TieInputError, match="timeout"):
        atie.iter_reputation_updates(5, timeout=-1)
    assert afake.nothing_sent


async def test_external_reports_send_the_sync_clients_event(afake, atie, caplog):
    sync_fake = FakeDxlClient()
    TieClient(sync_fake).set_external_file_reputation(TrustLevel.MOST_LIKELY_MALICIOUS, HASHES,
                                                      1, "x.exe", "c")
    with caplog.at_level(logging.WARNING):
        assert await atie.set_external_file_reputation(
            TrustLevel.MOST_LIKELY_MALICIOUS, HASHES, 1, "x.exe", "c") is None
        await atie.set_external_file_reputation(TrustLevel.KNOWN_TRUSTED, HASHES)
    assert afake.events[0].payload == sync_fake.events[0].payload
    assert afake.events[0].destination_topic == sync_fake.events[0].destination_topic
    assert "without a filename" in caplog.text


@pytest.mark.parametrize("method, args", BAD_CALLS)
async def test_bad_arguments_raise_what_the_sync_client_raises(afake, atie, method, args):
    sync_fake = FakeDxlClient()
    with pytest.raises(ValueError) as sync_error:
        getattr(TieClient(sync_fake), method)(*args)
    with pytest.raises(ValueError) as async_error:
        await getattr(atie, method)(*args)
    assert type(async_error.value) is type(sync_error.value)
    assert str(async_error.value) == str(sync_error.value)
    assert afake.nothing_sent and sync_fake.nothing_sent


@pytest.mark.parametrize("code, error_type", [(0x80000001 - (1 << 32), TieServiceNotFoundError),
                                              (42, TieServiceError)])
async def test_error_responses_raise_what_the_sync_client_raises(afake, atie, code, error_type):
    sync_fake = FakeDxlClient().reply_error(code, "unable to locate service for request")
    with pytest.raises(TieServiceError) as sync_error:
        TieClient(sync_fake).get_file_reputation(HASHES)
    afake.reply_error(code, "unable to locate service for request")
    with pytest.raises(TieServiceError) as async_error:
        await atie.get_file_reputation(HASHES)
    assert type(async_error.value) is type(sync_error.value) is error_type
    assert str(async_error.value) == str(sync_error.value)
    assert afake.pending_tables() == (0, 0)


async def test_the_default_timeout_is_the_sync_clients_response_timeout(atie):
    assert atie.response_timeout == TieClient(FakeDxlClient()).response_timeout == 30
    atie.response_timeout = 45
    assert atie.tie_client.response_timeout == 45
    with pytest.raises(Exception, match="greater than or equal to 30"):
        atie.response_timeout = 1


async def test_a_timeout_raises_tie_timeout_error_and_leaves_no_pending_request(afake, atie):
    afake.reply_timeout()
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(TieTimeoutError) as error:
        await atie.get_file_reputation(HASHES, timeout=0.2)
    assert 0.15 <= loop.time() - started < 5
    assert "Timeout waiting for response to message: " + afake.requests[0].request.message_id \
        in str(error.value)
    assert TIE_GET_FILE_REPUTATION_TOPIC in str(error.value)
    assert afake.pending_tables() == (0, 0)


@pytest.mark.parametrize("timeout", [0, -1, "5", True, float("nan")])
async def test_bad_timeouts_are_refused(afake, atie, timeout):
    with pytest.raises(TieInputError, match="timeout"):
        await atie.get_file_reputation(HASHES, timeout=timeout)
    assert afake.nothing_sent


async def test_cancellation_drops_the_pending_request_and_a_late_response_is_ignored(
        afake, atie, caplog):
    afake.hold = True
    task = asyncio.ensure_future(atie.get_file_reputation(HASHES))
    while not afake.requests:
        await asyncio.sleep(0)
    assert afake.pending_tables() == (1, 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert afake.pending_tables() == (0, 0)
    with caplog.at_level(logging.DEBUG):
        afake.release()  # the late response finds no callback: nothing happens
        await asyncio.wait_for(_drained(afake), 5)
    assert "Error" not in caplog.text
    assert afake.pending_tables() == (0, 0)


async def _drained(fake: AsyncFakeDxlClient) -> None:
    while fake.in_flight:
        await asyncio.sleep(0.001)


async def test_wait_for_timeout_around_a_call_cleans_up_too(afake, atie):
    afake.reply_timeout()
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(atie.get_certificate_reputation(CERT_SHA1), 0.05)
    assert afake.pending_tables() == (0, 0)


async def test_many_concurrent_calls_resolve_their_own_futures(afake, atie):
    items = [{HashType.MD5: "{:032x}".format(n)} for n in range(200)]
    afake._default_payload = None  # each reply echoes its request (below)
    for item in items:
        afake.reply_json({"reputations": [{"providerId": 1, "trustLevel": 99,
                                           "attributes": {"md5": item[HashType.MD5]}}]})
    # Replies are assigned in sending order: gather sends in argument order.
    values = await asyncio.gather(*(atie.get_file_reputation(item) for item in items))
    assert [value[1]["attributes"]["md5"] for value in values] == [
        item[HashType.MD5] for item in items]
    assert afake.pending_tables() == (0, 0)


# -- bulk -------------------------------------------------------------------------------------


async def _release_every_millisecond(fake: AsyncFakeDxlClient) -> None:
    while True:
        await asyncio.sleep(0.001)
        fake.release()


def _echo_reputation(fake: AsyncFakeDxlClient) -> None:
    """Makes the fake answer each lookup with the base64 value of its first hash."""
    original = fake._send_request

    def send(request: Any) -> None:
        value = json.loads(request.payload.decode("utf-8"))["hashes"][0]["value"]
        fake.reply_json({"reputations": [{"providerId": 1, "trustLevel": 99,
                                          "attributes": {"v": value}}]})
        original(request)

    fake._send_request = send


async def test_bulk_lookups_keep_input_order_bound_concurrency_and_match_the_threaded_call(
        afake, atie):
    _echo_reputation(afake)
    items: List[Dict[str, str]] = [{HashType.MD5: "{:032x}".format(n)} for n in range(60)]
    items[5] = {HashType.MD5: "bad"}
    progress: List[Tuple[int, int]] = []
    afake.hold = True  # answered in batches by the releaser, so that requests pile up
    releaser = asyncio.ensure_future(_release_every_millisecond(afake))
    try:
        results = await asyncio.wait_for(atie.get_file_reputations(
            items, max_in_flight=7, progress=lambda *p: progress.append(p)), 10)
    finally:
        releaser.cancel()
    assert all(isinstance(result, BulkResult) for result in results)
    assert [result.index for result in results] == list(range(60))
    assert [result.item for result in results] == items
    assert isinstance(results[5].error, InvalidHashError)
    assert all(result.ok for n, result in enumerate(results) if n != 5)
    assert 1 < afake.max_in_flight <= 7
    assert progress[0] == (1, 60) and progress[-1] == (60, 60)
    assert afake.pending_tables() == (0, 0)
    sync_fake = FakeDxlClient()
    for item, result in zip(items, results):
        if result.ok:
            TieClient(sync_fake).get_file_reputation(item)
    assert sorted(r.payload for r in afake.requests) == sorted(
        r.payload for r in sync_fake.requests)
    assert all(r.topic == TIE_GET_FILE_REPUTATION_TOPIC for r in afake.requests)
    assert results[0].value[1]["attributes"]["v"] == "AAAAAAAAAAAAAAAAAAAAAA=="


async def test_bulk_items_fail_alone_with_the_single_calls_exceptions(afake, atie):
    afake.reply_json({}).reply_error(42, "boom").reply_timeout().reply_json(REPUTATIONS_REPLY)
    items = [{HashType.MD5: "{:032x}".format(n)} for n in range(4)]
    results = await atie.get_file_reputations(items, max_in_flight=1, timeout=0.2)
    assert results[0].value == {} and results[0].ok
    assert isinstance(results[1].error, TieServiceError) and "boom (42)" in str(results[1].error)
    assert isinstance(results[2].error, TieTimeoutError)
    assert results[3].value[1]["trustLevel"] == 99
    assert afake.pending_tables() == (0, 0)


async def test_bulk_timeouts_in_a_full_window_fail_only_their_items(afake, atie):
    for number in range(12):
        if number % 3:
            afake.reply_json({"reputations": [{"providerId": 1, "trustLevel": number}]})
        else:
            afake.reply_timeout()
    items = [{HashType.MD5: "{:032x}".format(n)} for n in range(12)]
    results = await asyncio.wait_for(
        atie.get_file_reputations(items, max_in_flight=12, timeout=0.3), 10)
    assert [type(r.error) for r in results] == [
        TieTimeoutError if number % 3 == 0 else type(None) for number in range(12)]
    assert [r.value[1]["trustLevel"] for r in results if r.ok] == [
        number for number in range(12) if number % 3]
    assert afake.pending_tables() == (0, 0)


async def test_bulk_sets_send_the_single_calls_payloads(afake, atie):
    items = [{"trust_level": TrustLevel.KNOWN_TRUSTED, "hashes": HASHES, "filename": "a"},
             {"trust_level": 7, "hashes": HASHES}, {"hashes": HASHES}]
    results = await atie.set_file_reputations(items)
    assert [result.ok for result in results] == [True, False, False]
    assert "missing 'trust_level'" in str(results[2].error)
    sync_fake = FakeDxlClient()
    TieClient(sync_fake).set_file_reputation(TrustLevel.KNOWN_TRUSTED, HASHES, filename="a")
    assert [r.payload for r in afake.requests] == [r.payload for r in sync_fake.requests]


async def test_bulk_external_reports_are_the_threaded_calls(afake, atie):
    results = await atie.set_external_file_reputations(
        [{"trust_level": TrustLevel.KNOWN_TRUSTED, "hashes": HASHES, "filename": "a"}])
    assert results[0].ok and len(afake.events) == 1


@pytest.mark.parametrize("kwargs", [{"max_in_flight": 0}, {"max_in_flight": True},
                                    {"timeout": 0}, {"timeout": "1"}])
async def test_bulk_options_are_checked(afake, atie, kwargs):
    with pytest.raises(TieInputError):
        await atie.get_file_reputations([HASHES], **kwargs)
    assert afake.nothing_sent


async def test_a_progress_error_aborts_the_bulk_call_without_leaks(afake, atie):
    afake.hold = True
    items = [{HashType.MD5: "{:032x}".format(n)} for n in range(20)]

    def progress(done: int, total: int) -> None:
        raise RuntimeError("stop at {}".format(done))

    task = asyncio.ensure_future(atie.get_file_reputations(items, max_in_flight=4,
                                                           progress=progress))
    while len(afake.requests) < 4:
        await asyncio.sleep(0)
    assert afake.pending_tables() == (4, 4)
    afake.release()
    with pytest.raises(RuntimeError, match="stop at 1"):
        await task
    assert afake.pending_tables() == (0, 0)


async def test_cancelling_a_bulk_call_drops_every_pending_request(afake, atie):
    afake.hold = True
    items = [{HashType.MD5: "{:032x}".format(n)} for n in range(50)]
    task = asyncio.ensure_future(atie.get_file_reputations(items, max_in_flight=16))
    while len(afake.requests) < 16:
        await asyncio.sleep(0)
    assert afake.pending_tables() == (16, 16)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert afake.pending_tables() == (0, 0)
    assert len(afake.requests) == 16


async def test_an_empty_bulk_call_sends_nothing(afake, atie):
    assert await atie.get_file_reputations([]) == []
    assert afake.nothing_sent



def _request_methods() -> List[str]:
    """TieClient's public methods that talk to TIE (not callbacks, not helpers)."""
    skipped = ("add_", "remove_", "valid_parameter")
    return sorted(name for name in dir(TieClient) if not name.startswith("_")
                  and callable(getattr(TieClient, name)) and not name.startswith(skipped)
                  and name in vars(TieClient))


def test_every_request_method_has_a_coroutine_with_the_same_parameters():
    import inspect

    names = _request_methods()
    assert "get_reputation_updates" in names and "get_file_reputations" in names
    for name in names:
        # ``stop`` (a threading.Event ending a bulk call early) is the synchronous bulk calls'
        # own: a coroutine is cancelled instead.
        sync_parameters = [(p.name, p.kind, p.default) for p in inspect.signature(
            getattr(TieClient, name)).parameters.values() if p.name != "stop"]
        async_method = getattr(AsyncTieClient, name)
        async_parameters = [(p.name, p.kind, p.default) for p in inspect.signature(
            async_method).parameters.values()]
        assert async_parameters[:len(sync_parameters)] == sync_parameters, name
        extra = async_parameters[len(sync_parameters):]
        assert extra in (
            [], [("timeout", inspect.Parameter.KEYWORD_ONLY, None)]), name
        if name == "iter_reputation_updates":
            assert inspect.isasyncgenfunction(AsyncTieClient._pages)
        else:
            assert inspect.iscoroutinefunction(async_method), name


def test_finished_event_loops_are_not_kept_alive_by_their_bridge():
    import gc
    import weakref

    from dxltieclient.aio import _bridge

    fake = AsyncFakeDxlClient()
    try:
        loop = asyncio.new_event_loop()
        loop.run_until_complete(AsyncTieClient(fake).get_file_reputation(HASHES))
        assert loop in _bridge._BRIDGES
        loop.close()
        gone = weakref.ref(loop)
        del loop
        gc.collect()
        assert gone() is None
    finally:
        fake.close()
