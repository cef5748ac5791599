"""Unit tests of the bulk calls' ``stop`` event, on a fake asynchronous DXL client (no broker)."""

import inspect
import pickle
import threading
import time
from typing import Any, Callable, List, Optional

import pytest

from dxltieclient import (
    HashType,
    InvalidHashError,
    TieBulkStoppedError,
    TieClient,
    TieError,
    TieInputError,
    TieTimeoutError,
    TrustLevel,
)
from dxltieclient.client import (
    TIE_EVENT_EXTERNAL_FILE_REPORT_TOPIC,
    TIE_GET_FILE_REPUTATION_TOPIC,
    TIE_SET_FILE_REPUTATION_TOPIC,
)

from .test_bulk_calls import AsyncFakeClient, md5_of, reputation_reply

BULK_METHODS = ("get_file_reputations", "set_file_reputations", "set_external_file_reputations")


class StoppingClient(AsyncFakeClient):
    """Sets ``stop`` as it is handed its ``stop_after``-th request or event (on the calling
    thread, so that the engine sees it before its next send)."""

    def __init__(self, answer: Callable[[Any], Optional[Any]], stop: threading.Event,
                 stop_after: int) -> None:
        super().__init__(answer)
        self._stop_event = stop
        self._stop_after = stop_after

    def async_request(self, request: Any, callback: Any) -> None:
        super().async_request(request, callback)
        if len(self.requests) == self._stop_after:
            self._stop_event.set()

    def send_event(self, event: Any) -> None:
        super().send_event(event)
        if len(self.events) == self._stop_after:
            self._stop_event.set()


def lookups(count: int) -> List[Any]:
    return [{HashType.MD5: md5_of(n)} for n in range(count)]


def sets(count: int) -> List[Any]:
    return [{"trust_level": TrustLevel.KNOWN_TRUSTED, "hashes": {HashType.MD5: md5_of(n)},
             "filename": "f{}.exe".format(n)} for n in range(count)]


def test_stop_is_a_keyword_only_option_defaulting_to_none() -> None:
    for name in BULK_METHODS:
        parameter = inspect.signature(getattr(TieClient, name)).parameters["stop"]
        assert parameter.kind is inspect.Parameter.KEYWORD_ONLY and parameter.default is None


@pytest.mark.parametrize("name", BULK_METHODS)
@pytest.mark.parametrize("bad", [True, "yes", threading.Lock(), object()])
def test_a_bad_stop_is_refused_before_anything_is_sent(name: str, bad: Any) -> None:
    fake = AsyncFakeClient(reputation_reply)
    items = lookups(3) if name == "get_file_reputations" else sets(3)
    with pytest.raises(TieInputError, match="stop must be None or a threading.Event") as caught:
        getattr(TieClient(fake), name)(items, stop=bad)
    assert isinstance(caught.value, TypeError)
    assert fake.requests == [] and fake.events == []


def test_a_stop_set_before_the_call_sends_nothing() -> None:
    fake = AsyncFakeClient(reputation_reply)
    stop = threading.Event()
    stop.set()
    seen: List[Any] = []
    items = lookups(3) + [{HashType.MD5: "zz"}]
    results = TieClient(fake).get_file_reputations(
        items, stop=stop, progress=lambda done, total: seen.append((done, total)))
    assert fake.requests == []
    assert all(isinstance(result.error, TieBulkStoppedError) for result in results[:3])
    assert isinstance(results[3].error, InvalidHashError)  # input errors are kept
    assert seen[-1] == (4, 4)  # every item is accounted for


@pytest.mark.parametrize("name, topic", [
    ("get_file_reputations", TIE_GET_FILE_REPUTATION_TOPIC),
    ("set_file_reputations", TIE_SET_FILE_REPUTATION_TOPIC),
])
def test_stop_sends_no_new_item_and_waits_for_those_in_flight(name: str, topic: str) -> None:
    stop = threading.Event()
    fake = StoppingClient(reputation_reply, stop, stop_after=7)
    items = lookups(40) if name == "get_file_reputations" else sets(40)
    results = getattr(TieClient(fake), name)(items, max_in_flight=4, stop=stop)
    assert len(fake.requests) == 7  # nothing was sent once the event was set
    assert [result.ok for result in results] == [True] * 7 + [False] * 33  # in flight: answered
    for result in results[7:]:
        assert isinstance(result.error, TieBulkStoppedError) and isinstance(result.error, TieError)
        assert result.error.topic == topic
        assert str(result.error).startswith("Not sent: the bulk call was stopped")
        assert "not applied" in str(result.error)


def test_after_stop_the_wait_for_those_in_flight_is_bounded_by_the_timeout() -> None:
    stop = threading.Event()
    fake = StoppingClient(lambda request: None, stop, stop_after=3)  # never answers
    started = time.monotonic()
    results = TieClient(fake).set_file_reputations(sets(20), max_in_flight=3, timeout=0.2,
                                                   stop=stop)
    assert time.monotonic() - started < 5
    assert len(fake.requests) == 3
    assert all(isinstance(result.error, TieTimeoutError) for result in results[:3])
    assert all(isinstance(result.error, TieBulkStoppedError) for result in results[3:])
    assert sorted(fake._request_manager.unregistered) == sorted(
        request.message_id for request in fake.requests)  # dxlclient's records are dropped


def test_a_stop_set_from_another_thread_ends_the_call() -> None:
    stop = threading.Event()
    release = threading.Event()

    def answer(request: Any) -> Any:
        release.wait(10)  # holds the answers until the event is set
        return reputation_reply(request)

    fake = AsyncFakeClient(answer)
    results: List[Any] = []
    caller = threading.Thread(target=lambda: results.extend(
        TieClient(fake).get_file_reputations(lookups(50), max_in_flight=5, stop=stop)))
    caller.start()
    stop.set()
    release.set()
    caller.join(10)
    assert not caller.is_alive() and len(results) == 50
    sent = len(fake.requests)
    assert sent <= 5  # the first answer came only after stop was set: one window at most
    assert all(result.ok for result in results[:sent])
    assert all(isinstance(result.error, TieBulkStoppedError) for result in results[sent:])


def test_stop_ends_the_external_reports_too() -> None:
    stop = threading.Event()
    fake = StoppingClient(reputation_reply, stop, stop_after=2)
    done: List[int] = []
    results = TieClient(fake).set_external_file_reputations(
        sets(5), stop=stop, progress=lambda count, total: done.append(count))
    assert len(fake.events) == 2 and [result.ok for result in results] == [True, True] + [
        False] * 3
    assert all(isinstance(result.error, TieBulkStoppedError)
               and result.error.topic == TIE_EVENT_EXTERNAL_FILE_REPORT_TOPIC
               for result in results[2:])
    assert done == [1, 2, 3, 4, 5]


def test_an_unset_stop_changes_nothing() -> None:
    fake = AsyncFakeClient(reputation_reply)
    results = TieClient(fake).set_file_reputations(sets(30), max_in_flight=4,
                                                   stop=threading.Event())
    assert len(fake.requests) == 30 and all(result.ok for result in results)


def test_the_stopped_error_survives_pickling() -> None:
    error = TieBulkStoppedError("not sent", "/topic")
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is TieBulkStoppedError and str(copy) == "not sent"
    assert copy.topic == "/topic"
