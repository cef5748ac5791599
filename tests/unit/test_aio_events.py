"""
Unit tests of the asyncio event streams on a fake DXL client (no broker), with a real event loop:
the callbacks' dicts, delivery from another thread, the drop-oldest overflow policy, the end of an
iteration (close, break, cancellation) and its unsubscription, and a lookup from an event.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import logging
from types import SimpleNamespace
from typing import Any, List

import pytest
from aio_fakes import AsyncFakeDxlClient
from tie_fakes import make_event

from dxltieclient import (
    DetectionCallback,
    FilePrevalenceCallback,
    FirstInstanceCallback,
    HashType,
    ReputationChangeCallback,
    TieInputError,
)
from dxltieclient.aio import AsyncTieClient, EventKind, EventStream

MD5 = "f2c7bb8acc97f92e987a2d4087d021b1"
MD5_B64 = base64.b64encode(bytes.fromhex(MD5)).decode("ascii")

REP_CHANGE = {"hashes": [{"type": "md5", "value": MD5_B64}],
              "newReputations": {"reputations": [{"providerId": 3, "trustLevel": 99}]},
              "oldReputations": {"reputations": [{"providerId": 3, "trustLevel": 0}]},
              "updateTime": 1}
DETECTION = {"agentGuid": "{a}", "detectionTime": 1, "hashes": [{"type": "md5", "value": MD5_B64}],
             "localReputation": 1, "name": "x.exe", "remediationAction": 5}
FIRST_INSTANCE = {"agentGuid": "{a}", "hashes": [{"type": "md5", "value": MD5_B64}],
                  "name": "x.exe"}


PREVALENCE = {"hashes": [{"type": "md5", "value": MD5_B64}], "agentGuid": "{a}",
              "agentFirstReference": 1, "enterpriseCount": 2, "prevalent": False}


class _Recorder(ReputationChangeCallback, DetectionCallback, FirstInstanceCallback,
                FilePrevalenceCallback):
    """Every callback hook, recording the dicts (for the comparison with the streams)."""

    def __init__(self) -> None:
        super().__init__()
        self.dicts: List[Any] = []

    def on_reputation_change(self, rep_change_dict: Any, original_event: Any) -> None:
        self.dicts.append(rep_change_dict)

    def on_detection(self, detection_dict: Any, original_event: Any) -> None:
        self.dicts.append(detection_dict)

    def on_first_instance(self, first_instance_dict: Any, original_event: Any) -> None:
        self.dicts.append(first_instance_dict)

    def on_prevalence(self, prevalence_dict: Any, original_event: Any) -> None:
        self.dicts.append(prevalence_dict)


async def _until(predicate: Any, timeout: float = 5.0) -> None:
    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(0.001)
    await asyncio.wait_for(poll(), timeout)


@pytest.mark.parametrize("kind, payload, callback_class", [
    (EventKind.FILE_REPUTATION_CHANGE, REP_CHANGE, ReputationChangeCallback),
    (EventKind.CERT_REPUTATION_CHANGE, REP_CHANGE, ReputationChangeCallback),
    (EventKind.DETECTION, DETECTION, DetectionCallback),
    (EventKind.FIRST_INSTANCE, FIRST_INSTANCE, FirstInstanceCallback),
    (EventKind.FILE_PREVALENCE, PREVALENCE, FilePrevalenceCallback),
    (EventKind.FILE_REPUTATION_CHANGE_TARGETED, REP_CHANGE, ReputationChangeCallback),
    (EventKind.CERT_REPUTATION_CHANGE_TARGETED, REP_CHANGE, ReputationChangeCallback),
])
async def test_each_kind_yields_the_callbacks_dict(afake, atie, kind, payload, callback_class):
    recorder = _Recorder()
    callback_class.on_event(recorder, make_event(copy.deepcopy(payload), kind))
    async with atie.events(kind) as stream:
        assert afake.subscriptions == (kind,)
        afake.deliver_from_thread(make_event(copy.deepcopy(payload), kind))
        event_dict = await asyncio.wait_for(stream.__aiter__().__anext__(), 5)
    assert event_dict == recorder.dicts[0]
    assert afake.subscriptions == ()
    assert afake.callbacks_for(kind) == []


@pytest.mark.parametrize("kind", [EventKind.FILE_REPUTATION_CHANGE_TARGETED,
                                  EventKind.CERT_REPUTATION_CHANGE_TARGETED])
async def test_targeted_events_for_other_clients_are_dropped(afake, atie, kind):
    afake.config = SimpleNamespace(cert_file=None, _client_id="{Me}")
    async with atie.events(kind) as stream:
        for number, client_ids in enumerate([["{other}"], ["{me}", "{x}"], [], ["{y}"]]):
            event = make_event(dict(REP_CHANGE, updateTime=number), kind)
            event.client_ids = client_ids
            afake.deliver_from_thread(event)
        afake.deliver_from_thread(make_event(dict(REP_CHANGE, updateTime=9), kind))
        times = []
        async for change in stream:
            times.append(change["updateTime"])
            if change["updateTime"] == 9:
                break
    assert times == [1, 2, 9]
    assert stream.received == 3


async def test_pairs_carry_the_original_event_and_several_kinds_share_a_stream(afake, atie):
    async with atie.events(EventKind.DETECTION, EventKind.FIRST_INSTANCE) as stream:
        assert set(afake.subscriptions) == {EventKind.DETECTION, EventKind.FIRST_INSTANCE}
        afake.deliver_from_thread(make_event(DETECTION, EventKind.DETECTION))
        afake.deliver_from_thread(make_event(FIRST_INSTANCE, EventKind.FIRST_INSTANCE))
        seen = []
        async for event_dict, event in stream.pairs():
            seen.append((event.destination_topic, event_dict["hashes"]))
            if len(seen) == 2:
                break
    assert seen == [(EventKind.DETECTION, {"md5": MD5}), (EventKind.FIRST_INSTANCE, {"md5": MD5})]
    assert afake.subscriptions == ()


async def test_a_malformed_event_is_logged_and_skipped(afake, atie, caplog):
    async with atie.events(EventKind.DETECTION) as stream:
        with caplog.at_level(logging.ERROR):
            afake.deliver_from_thread(make_event(b"not json", EventKind.DETECTION))
            afake.deliver_from_thread(make_event(DETECTION, EventKind.DETECTION))
            event_dict = await asyncio.wait_for(stream.__aiter__().__anext__(), 5)
    assert event_dict["name"] == "x.exe"
    assert "Dropped a malformed TIE event on topic " + EventKind.DETECTION in caplog.text
    assert stream.received == 1


async def test_a_slow_consumer_loses_the_oldest_events_counted_and_logged(afake, atie, caplog):
    async with atie.events(EventKind.DETECTION, max_queue=3) as stream:
        with caplog.at_level(logging.WARNING):
            for number in range(10):
                afake.deliver(make_event(dict(DETECTION, detectionTime=number),
                                         EventKind.DETECTION))
        assert stream.pending == 3 and stream.dropped == 7 and stream.received == 10
        times = []
        async for detection in stream:
            times.append(detection["detectionTime"])
            if len(times) == 3:
                break
        assert times == [7, 8, 9]
    assert caplog.text.count("dropped the oldest queued event") == 1
    assert "7 dropped so far" not in caplog.text and "1 dropped so far" in caplog.text


async def test_closing_ends_an_iteration_in_progress(afake, atie):
    stream = atie.events(EventKind.FIRST_INSTANCE)
    received: List[Any] = []

    async def consume() -> str:
        async for event_dict in stream:
            received.append(event_dict)
        return "ended"

    task = asyncio.ensure_future(consume())
    await _until(lambda: afake.subscriptions == (EventKind.FIRST_INSTANCE,))
    afake.deliver_from_thread(make_event(FIRST_INSTANCE, EventKind.FIRST_INSTANCE))
    await _until(lambda: received)
    await stream.aclose()
    assert await asyncio.wait_for(task, 5) == "ended"
    assert afake.subscriptions == () and stream.closed
    with pytest.raises(RuntimeError, match="closed"):
        await stream.open()


async def test_breaking_out_of_an_unmanaged_iteration_unsubscribes(afake, atie):
    async for _ in _deliver_then_iterate(afake, atie.events(EventKind.DETECTION)):
        break
    await _until(lambda: afake.subscriptions == ())
    assert afake.callbacks_for(EventKind.DETECTION) == []


async def _deliver_then_iterate(afake: AsyncFakeDxlClient, stream: EventStream) -> Any:
    iterator = stream.__aiter__()
    first = asyncio.ensure_future(iterator.__anext__())
    await _until(lambda: afake.subscriptions)
    afake.deliver_from_thread(make_event(DETECTION, EventKind.DETECTION))
    yield await first
    async for event_dict in iterator:  # pragma: no cover  (the caller breaks first)
        yield event_dict


async def test_cancelling_the_consumer_unsubscribes(afake, atie):
    async def consume() -> None:
        async for _ in atie.events(EventKind.CERT_REPUTATION_CHANGE):
            pass

    task = asyncio.ensure_future(consume())
    await _until(lambda: afake.subscriptions == (EventKind.CERT_REPUTATION_CHANGE,))
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert afake.subscriptions == ()
    assert afake.callbacks_for(EventKind.CERT_REPUTATION_CHANGE) == []


async def test_a_topic_another_callback_listens_on_stays_subscribed(afake, atie):
    recorder = _Recorder()
    atie.tie_client.add_file_detection_callback(recorder)
    async with atie.events(EventKind.DETECTION):
        pass
    assert afake.subscriptions == (EventKind.DETECTION,)
    afake.deliver(make_event(DETECTION, EventKind.DETECTION))
    assert len(recorder.dicts) == 1


async def test_closing_the_client_closes_its_streams(afake):
    async with AsyncTieClient(afake) as atie:
        stream = await atie.events(EventKind.DETECTION).open()
        assert afake.subscriptions
    assert stream.closed and afake.subscriptions == ()


@pytest.mark.parametrize("kinds, max_queue, message", [
    ((), 10, "at least one event kind"),
    (("/no/such/topic",), 10, "unknown event kind"),
    ((EventKind.DETECTION,), 0, "max_queue"),
    ((EventKind.DETECTION,), True, "max_queue"),
])
async def test_bad_stream_arguments_are_refused(afake, atie, kinds, max_queue, message):
    with pytest.raises(TieInputError, match=message):
        atie.events(*kinds, max_queue=max_queue)
    assert afake.subscriptions == ()


async def test_a_lookup_from_an_event_just_works(afake, atie):
    afake.reply_json({"reputations": [{"providerId": 1, "trustLevel": 99}]})
    async with atie.events(EventKind.FILE_REPUTATION_CHANGE) as stream:
        afake.deliver_from_thread(make_event(REP_CHANGE, EventKind.FILE_REPUTATION_CHANGE))
        async for change in stream:
            reputations = await asyncio.wait_for(atie.get_file_reputation(change["hashes"]), 5)
            break
    assert reputations[1]["trustLevel"] == 99
    assert afake.requests[0].json()["hashes"] == [{"type": HashType.MD5, "value": MD5_B64}]


async def test_two_consumers_of_one_stream_share_its_events(afake, atie):
    async with atie.events(EventKind.DETECTION) as stream:
        iterators = [stream.__aiter__(), stream.__aiter__()]
        firsts = [asyncio.ensure_future(iterator.__anext__()) for iterator in iterators]
        await asyncio.sleep(0)
        for number in range(2):
            afake.deliver_from_thread(make_event(dict(DETECTION, detectionTime=number),
                                                 EventKind.DETECTION))
        done = await asyncio.wait_for(asyncio.gather(*firsts), 5)
    assert sorted(detection["detectionTime"] for detection in done) == [0, 1]


async def test_a_failed_subscription_leaves_nothing_registered(afake, atie):
    def refuse(topic: str) -> None:
        raise RuntimeError("broker said no")

    afake.subscribe = refuse
    with pytest.raises(RuntimeError, match="broker said no"):
        async with atie.events(EventKind.DETECTION):
            pass  # pragma: no cover
    assert afake.callbacks_for(EventKind.DETECTION) == []
