"""
The asyncio client end to end on the sandbox, with a real event loop: every coroutine against
the TIE emulator (with the synchronous client's answers), timeouts and cancellation leaving
dxlclient's pending-request tables as they were, event streams (iteration, end, unsubscription)
and lookups made while reacting to events.
"""

from __future__ import annotations

import asyncio
import hashlib
import socket
import time
from typing import Any, Dict, List

import pytest
from dxlclient.exceptions import DxlException

from dxltieclient import (
    BulkResult,
    FileProvider,
    HashType,
    ReputationProp,
    TieClient,
    TieServiceNotFoundError,
    TieTimeoutError,
    TrustLevel,
)
from dxltieclient.aio import AsyncTieClient, EventKind
from dxltieclient.sandbox.tie.seed import EICAR_HASHES, NOTEPAD_HASHES

CERT_SHA1 = "6EAE26DB8C13182A7947982991B4321732CC3DE2"
CERT_PUBLIC_KEY_SHA1 = "3B87A2D6F39770160364B79A152FCC73BAE27ADF"

#: Seconds any single awaited step of these tests may take.
STEP = 20.0


def unique_hashes(label: str) -> Dict[str, str]:
    data = label.encode("utf-8")
    return {HashType.MD5: hashlib.md5(data).hexdigest(),
            HashType.SHA1: hashlib.sha1(data).hexdigest(),
            HashType.SHA256: hashlib.sha256(data).hexdigest()}


def trust(reputations: Dict[int, Any], provider: int) -> Any:
    return reputations.get(provider, {}).get(ReputationProp.TRUST_LEVEL)


def pending_tables(dxl_client: Any) -> tuple:
    """The sizes of dxlclient's pending-request tables: (async callbacks, current requests)."""
    manager = dxl_client._request_manager
    return (len(manager.callback_map), manager.get_current_request_queue_size())


async def test_every_coroutine_answers_as_the_sync_client(tie_sandbox):
    hashes = unique_hashes("aio-every-call")
    async with AsyncTieClient.from_config(tie_sandbox.config_file) as tie:
        dxl_client = tie.dxl_client
        assert dxl_client.connected
        sync = TieClient(dxl_client)
        before = pending_tables(dxl_client)

        notepad = await tie.get_file_reputation(NOTEPAD_HASHES)
        assert trust(notepad, FileProvider.GTI) == TrustLevel.KNOWN_TRUSTED
        assert trust(notepad, FileProvider.GTI) == trust(
            await asyncio.to_thread(sync.get_file_reputation, NOTEPAD_HASHES), FileProvider.GTI)

        assert await tie.set_file_reputation(TrustLevel.KNOWN_MALICIOUS, hashes,
                                             filename="aio.exe", comment="aio") is None
        assert trust(await tie.get_file_reputation(hashes),
                     FileProvider.ENTERPRISE) == TrustLevel.KNOWN_MALICIOUS

        references = await tie.get_file_first_references(NOTEPAD_HASHES, query_limit=3)
        assert references == await asyncio.to_thread(sync.get_file_first_references,
                                                     NOTEPAD_HASHES, 3)
        assert references and all("agentGuid" in reference for reference in references)

        await tie.set_certificate_reputation(TrustLevel.MIGHT_BE_TRUSTED, CERT_SHA1,
                                             CERT_PUBLIC_KEY_SHA1, comment="aio")
        certificate = await tie.get_certificate_reputation(CERT_SHA1, CERT_PUBLIC_KEY_SHA1)
        assert trust(certificate, 4) == TrustLevel.MIGHT_BE_TRUSTED
        cert_references = await tie.get_certificate_first_references(CERT_SHA1,
                                                                     CERT_PUBLIC_KEY_SHA1)
        assert cert_references == await asyncio.to_thread(
            sync.get_certificate_first_references, CERT_SHA1, CERT_PUBLIC_KEY_SHA1)

        external = unique_hashes("aio-external")
        await tie.set_external_file_reputation(TrustLevel.MOST_LIKELY_MALICIOUS, external,
                                               filename="ext.exe")
        for _ in range(200):  # the report is an event: wait (bounded) until TIE stored it
            if trust(await tie.get_file_reputation(external), FileProvider.EXTERNAL):
                break
            await asyncio.sleep(0.05)
        assert trust(await tie.get_file_reputation(external),
                     FileProvider.EXTERNAL) == TrustLevel.MOST_LIKELY_MALICIOUS
        assert pending_tables(dxl_client) == before
    assert not dxl_client.connected


async def test_bulk_calls_match_the_threaded_bulk_call(tie_sandbox):
    items = [unique_hashes("aio-bulk-{}".format(n)) for n in range(120)]
    items[7] = dict(NOTEPAD_HASHES)
    items[50] = {HashType.SHA256: EICAR_HASHES[HashType.SHA256]}
    items[60] = {HashType.MD5: "not-hex"}
    async with AsyncTieClient.from_config(tie_sandbox.config_file) as tie:
        results = await asyncio.wait_for(tie.get_file_reputations(items, max_in_flight=16), STEP)
        threaded = await asyncio.to_thread(tie.tie_client.get_file_reputations, items, 16)
        assert all(isinstance(result, BulkResult) for result in results)
        assert [result.ok for result in results] == [result.ok for result in threaded]
        assert [trust(r.value or {}, FileProvider.GTI) for r in results] == [
            trust(r.value or {}, FileProvider.GTI) for r in threaded]
        assert trust(results[7].value, FileProvider.GTI) == TrustLevel.KNOWN_TRUSTED
        assert trust(results[50].value, FileProvider.GTI) == TrustLevel.KNOWN_MALICIOUS
        assert type(results[60].error) is type(threaded[60].error)

        files = [unique_hashes("aio-bulk-set-{}".format(n)) for n in range(10)]
        sets = await tie.set_file_reputations(
            [{"trust_level": TrustLevel.MIGHT_BE_MALICIOUS, "hashes": hashes}
             for hashes in files])
        assert all(result.ok for result in sets)
        lookups = await tie.get_file_reputations(files)
        assert [trust(r.value, FileProvider.ENTERPRISE) for r in lookups] == [
            TrustLevel.MIGHT_BE_MALICIOUS] * 10
        assert pending_tables(tie.dxl_client) == (0, 0)


async def test_no_tie_service_maps_to_the_same_exception(tie_fabric):
    async with AsyncTieClient.from_config(tie_fabric.config_file) as tie:
        with pytest.raises(TieServiceNotFoundError) as error:
            await tie.get_file_reputation(NOTEPAD_HASHES)
        with pytest.raises(TieServiceNotFoundError) as sync_error:
            await asyncio.to_thread(tie.tie_client.get_file_reputation, NOTEPAD_HASHES)
        assert str(error.value) == str(sync_error.value)


async def test_timeouts_and_cancellations_leave_dxlclients_tables_as_they_were(tie_sandbox):
    # The broker drops this client's enterprise sets: their requests are never answered.
    denied = await asyncio.to_thread(tie_sandbox.provision, "aio-denied", ["enterprise"])
    async with AsyncTieClient.from_config(denied) as tie:
        before = pending_tables(tie.dxl_client)
        hashes = unique_hashes("aio-denied")
        with pytest.raises(TieTimeoutError):
            await tie.set_file_reputation(TrustLevel.KNOWN_TRUSTED, hashes, timeout=0.3)
        assert pending_tables(tie.dxl_client) == before

        calls = [asyncio.ensure_future(tie.set_file_reputation(
            TrustLevel.KNOWN_TRUSTED, unique_hashes("aio-cancel-{}".format(n))))
            for n in range(25)]
        bulk = asyncio.ensure_future(tie.set_file_reputations(
            [{"trust_level": TrustLevel.KNOWN_TRUSTED, "hashes": unique_hashes(str(n))}
             for n in range(40)], max_in_flight=10))
        for _ in range(1000):
            if pending_tables(tie.dxl_client)[0] >= before[0] + 35:
                break
            await asyncio.sleep(0.01)
        assert pending_tables(tie.dxl_client)[0] == before[0] + 35
        for task in calls + [bulk]:
            task.cancel()
        outcomes = await asyncio.gather(*calls, bulk, return_exceptions=True)
        assert all(isinstance(outcome, asyncio.CancelledError) for outcome in outcomes)
        assert pending_tables(tie.dxl_client) == before

        # The connection still works for the requests this client may send.
        assert trust(await tie.get_file_reputation(NOTEPAD_HASHES), FileProvider.GTI) == 99


async def test_events_are_iterated_with_lookups_and_the_stream_ends_cleanly(tie_sandbox):
    files = [unique_hashes("aio-events-{}".format(n)) for n in range(3)]
    async with AsyncTieClient.from_config(tie_sandbox.config_file) as tie, \
            AsyncTieClient.from_config(tie_sandbox.config_file) as setter:
        dxl_client = tie.dxl_client
        stream = tie.events(EventKind.FILE_REPUTATION_CHANGE, max_queue=100)
        async with stream:
            assert EventKind.FILE_REPUTATION_CHANGE in dxl_client.subscriptions
            for hashes in files:
                await setter.set_file_reputation(TrustLevel.KNOWN_TRUSTED, hashes)
            wanted = {hashes[HashType.MD5] for hashes in files}
            looked_up: Dict[str, Any] = {}
            lookups: List[asyncio.Future[Any]] = []

            async def look_up(hashes: Dict[str, str]) -> None:
                looked_up[hashes[HashType.MD5]] = await tie.get_file_reputation(hashes)

            async def consume() -> None:
                async for change in stream:
                    # React to each event with a lookup, concurrently, on the loop.
                    if change["hashes"].get(HashType.MD5) in wanted:
                        lookups.append(asyncio.ensure_future(look_up(change["hashes"])))
                    if len(lookups) == len(files):
                        return

            await asyncio.wait_for(consume(), STEP)
            await asyncio.wait_for(asyncio.gather(*lookups), STEP)
        assert sorted(looked_up) == sorted(wanted)
        assert all(trust(value, FileProvider.ENTERPRISE) == TrustLevel.KNOWN_TRUSTED
                   for value in looked_up.values())
        assert EventKind.FILE_REPUTATION_CHANGE not in dxl_client.subscriptions
        assert stream.closed and stream.dropped == 0


async def test_detection_and_first_instance_streams_end_when_the_consumer_is_cancelled(
        tie_sandbox):
    async with AsyncTieClient.from_config(tie_sandbox.config_file) as tie:
        dxl_client = tie.dxl_client
        received: List[Any] = []
        subscribed = asyncio.Event()

        async def consume() -> None:
            stream = tie.events(EventKind.DETECTION, EventKind.FIRST_INSTANCE)
            async with stream:
                subscribed.set()
                async for pair in stream.pairs():
                    received.append(pair)

        task = asyncio.ensure_future(consume())
        await asyncio.wait_for(subscribed.wait(), STEP)
        await asyncio.to_thread(tie_sandbox.emit_detection, NOTEPAD_HASHES, "{aio-agent}",
                                "notepad.exe", TrustLevel.MOST_LIKELY_MALICIOUS, 5)
        await asyncio.to_thread(tie_sandbox.emit_first_instance, NOTEPAD_HASHES, "{aio-agent}",
                                "notepad.exe")
        for _ in range(int(STEP / 0.01)):
            if len(received) >= 2:
                break
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        topics = [event.destination_topic for _, event in received]
        assert topics == [EventKind.DETECTION, EventKind.FIRST_INSTANCE]
        assert received[0][0]["hashes"] == NOTEPAD_HASHES
        assert received[0][0]["remediationAction"] == 5
        assert received[1][0]["agentGuid"] == "{aio-agent}"
        assert not {EventKind.DETECTION, EventKind.FIRST_INSTANCE} & set(dxl_client.subscriptions)



async def _collect_until(stream: Any, predicate: Any, seen: List[Any]) -> Any:
    async def consume() -> Any:
        async for event_dict in stream:
            seen.append(event_dict)
            if predicate(event_dict):
                return event_dict
    return await asyncio.wait_for(consume(), STEP)


def _md5_is(hashes: Dict[str, str]) -> Any:
    return lambda item: item.get("hashes", {}).get(HashType.MD5) == hashes[HashType.MD5]


async def test_targeted_and_prevalence_streams_and_reputation_updates(tie_sandbox):
    since = int(time.time())
    x, y, z = (unique_hashes("aio-targeted-{}".format(name)) for name in "xyz")
    config = tie_sandbox.config_file
    async with AsyncTieClient.from_config(config) as a, AsyncTieClient.from_config(config) as b, \
            AsyncTieClient.from_config(config) as c:
        async with a.events(EventKind.FILE_REPUTATION_CHANGE_TARGETED) as a_targeted, \
                b.events(EventKind.FILE_REPUTATION_CHANGE_TARGETED) as b_targeted, \
                a.events(EventKind.FILE_PREVALENCE) as a_prevalence:
            await a.get_file_reputation(x)
            await b.get_file_reputation(y)
            await a.set_file_reputation(TrustLevel.KNOWN_MALICIOUS, x)
            await a.set_file_reputation(TrustLevel.KNOWN_TRUSTED, y)
            await a.set_file_reputation(TrustLevel.MIGHT_BE_MALICIOUS, x)
            seen_by_a: List[Any] = []
            seen_by_b: List[Any] = []
            last = await _collect_until(a_targeted, lambda item: _md5_is(x)(item) and item[
                "newReputations"][FileProvider.ENTERPRISE]["trustLevel"]
                == TrustLevel.MIGHT_BE_MALICIOUS, seen_by_a)
            assert last is not None
            await _collect_until(b_targeted, _md5_is(y), seen_by_b)
            # A got y's event (sent between x's two) only if the filter failed: it is dropped.
            assert not [item for item in seen_by_a if _md5_is(y)(item)]
            assert not [item for item in seen_by_b if _md5_is(x)(item)]

            counts = []
            for tie in (a, b, c):
                await tie.get_file_reputation(z)
                event = await _collect_until(a_prevalence, _md5_is(z), [])
                counts.append((event["enterpriseCount"], event["prevalent"]))
            assert counts == [(1, False), (2, False), (3, True)]  # the sandbox's threshold is 3

        pages = [page async for page in a.iter_reputation_updates(since, query_limit=5000)]
        sync_pages = await asyncio.to_thread(
            lambda: list(a.tie_client.iter_reputation_updates(since, query_limit=5000)))
        assert pages == sync_pages
        listed = {entry.get("sha1") for page in pages for entry in page["fileHashes"]}
        assert {x[HashType.SHA1], y[HashType.SHA1]} <= listed
        assert await a.get_reputation_updates(since, 5000) == pages[0]
        await a.update_file_metadata(x, name="aio.exe", size=1)
        await a.update_certificate_metadata(CERT_SHA1.lower(), subject="CN=aio")


async def test_from_config_gives_up_after_its_connect_retries(tie_sandbox, tmp_path):
    with socket.socket() as probe:  # a free port: nothing listens there once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    text = open(tie_sandbox.config_file).read()
    dead = tmp_path / "dead.config"
    dead.write_text(text.replace(";{};".format(tie_sandbox.port), ";{};".format(port)))
    assert dead.read_text() != text
    with pytest.raises(DxlException):
        async with AsyncTieClient.from_config(str(dead), connect_retries=0):
            pass  # pragma: no cover  (never connected)
