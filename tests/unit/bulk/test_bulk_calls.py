"""Unit tests of the bulk calls on a fake asynchronous DXL client (no broker)."""

import json
import threading
from typing import Any, Callable, Dict, List, Optional

import pytest
from dxlclient.message import ErrorResponse, Response

from dxltieclient import (
    BulkResult,
    FileType,
    HashType,
    InvalidHashError,
    TieClient,
    TieInputError,
    TieServiceError,
    TieTimeoutError,
    TrustLevel,
)
from dxltieclient.client import (
    TIE_EVENT_EXTERNAL_FILE_REPORT_TOPIC,
    TIE_GET_FILE_REPUTATION_TOPIC,
    TIE_SET_FILE_REPUTATION_TOPIC,
)

MD5 = "f2c7bb8acc97f92e987a2d4087d021b1"
SHA1 = "7eb0139d2175739b3ccb0d1110067820be6abd29"


def md5_of(number: int) -> str:
    return "{:032x}".format(number)


class RecordingRequestManager:
    """Stands in for dxlclient's request manager: records what the bulk engine tells it to drop."""

    def __init__(self) -> None:
        self.unregistered: List[str] = []
        self.removed: List[str] = []

    def unregister_async_callback(self, message_id: str) -> None:
        self.unregistered.append(message_id)

    def remove_current_request(self, message_id: str) -> None:
        self.removed.append(message_id)


class AsyncFakeClient:
    """Answers asynchronous requests from its own thread, newest first, every few milliseconds."""

    def __init__(self, answer: Callable[[Any], Optional[Any]]) -> None:
        self._answer = answer
        self.requests: List[Any] = []
        self.sync_requests: List[Any] = []
        self.events: List[Any] = []
        self.in_flight = 0
        self.max_seen_in_flight = 0
        self._lock = threading.Lock()
        self._waiting: List[Any] = []
        self._request_manager = RecordingRequestManager()
        self._stop = threading.Event()
        self._responder = threading.Thread(target=self._respond, daemon=True)
        self._responder.start()

    def async_request(self, request: Any, callback: Any) -> None:
        with self._lock:
            self.requests.append(request)
            self.in_flight += 1
            self.max_seen_in_flight = max(self.max_seen_in_flight, self.in_flight)
            self._waiting.append((request, callback))

    def _respond(self) -> None:
        while not self._stop.wait(0.002):
            with self._lock:
                batch = list(reversed(self._waiting))
                self._waiting.clear()
            for request, callback in batch:
                response = self._answer(request)
                with self._lock:
                    self.in_flight -= 1
                if response is not None:
                    callback.on_response(response)

    def sync_request(self, request: Any, timeout: float) -> Any:
        self.sync_requests.append(request)
        return self._answer(request)

    def send_event(self, event: Any) -> None:
        self.events.append(event)


def reputation_reply(request: Any) -> Any:
    payload = json.loads(request.payload.decode("utf-8"))
    response = Response(request)
    value = payload["hashes"][0]["value"]
    response.payload = json.dumps(
        {"props": {"serverTime": 1}, "reputations": [
            {"providerId": 1, "trustLevel": 99, "createDate": 1, "attributes": {"v": value}}]}
    ).encode("utf-8")
    return response


def test_get_file_reputations_keeps_input_order_and_matches_single_payloads() -> None:
    fake = AsyncFakeClient(reputation_reply)
    client = TieClient(fake)
    items = [{HashType.MD5: md5_of(n)} for n in range(50)]
    results = client.get_file_reputations(items, max_in_flight=7)
    assert [result.index for result in results] == list(range(50))
    assert all(result.ok for result in results)
    single_fake = AsyncFakeClient(reputation_reply)
    single = TieClient(single_fake)
    for item, result in zip(items, results):
        assert result.item is item
        assert single.get_file_reputation(item) == result.value
    assert sorted(r.payload for r in fake.requests) == sorted(
        r.payload for r in single_fake.sync_requests)
    assert {request.destination_topic for request in fake.requests} == {
        TIE_GET_FILE_REPUTATION_TOPIC}
    assert 1 < fake.max_seen_in_flight <= 7


def test_bad_items_fail_alone_with_the_single_call_errors() -> None:
    fake = AsyncFakeClient(reputation_reply)
    client = TieClient(fake)
    items: List[Any] = [{HashType.MD5: MD5}, {HashType.MD5: "xyz"}, {}, "not a dict",
                        {HashType.SHA1: SHA1}]
    results = client.get_file_reputations(items)
    assert [result.ok for result in results] == [True, False, False, False, True]
    assert isinstance(results[1].error, InvalidHashError)
    assert "xyz" in str(results[1].error)
    assert isinstance(results[2].error, TieInputError)
    assert isinstance(results[3].error, TieInputError)
    assert len(fake.requests) == 2


def test_validation_happens_before_the_first_send() -> None:
    order: List[str] = []

    def answer(request: Any) -> Any:
        order.append("sent")
        return reputation_reply(request)

    fake = AsyncFakeClient(answer)
    client = TieClient(fake)

    class Exploding(dict):  # a hashes dict whose validation is observable
        def items(self):  # type: ignore[override]
            order.append("validated")
            return super().items()

    items = [Exploding({HashType.MD5: md5_of(n)}) for n in range(3)]
    client.get_file_reputations(items)
    first_send = order.index("sent")
    assert order[:first_send].count("validated") >= 3


def test_error_responses_and_timeouts_fail_only_their_items() -> None:
    def answer(request: Any) -> Any:
        value = json.loads(request.payload.decode("utf-8"))["hashes"][0]["value"]
        if value == TieClient._hex_to_base64(md5_of(1)):
            return ErrorResponse(request, error_code=7, error_message="no such file")
        if value == TieClient._hex_to_base64(md5_of(2)):
            return None  # never answered
        return reputation_reply(request)

    fake = AsyncFakeClient(answer)
    client = TieClient(fake)
    progress: List[Any] = []
    results = client.get_file_reputations(
        [{HashType.MD5: md5_of(n)} for n in range(4)], timeout=0.2,
        progress=lambda done, total: progress.append((done, total)))
    assert [result.ok for result in results] == [True, False, False, True]
    assert isinstance(results[1].error, TieServiceError)
    assert str(results[1].error) == "Error: no such file (7)"
    assert isinstance(results[2].error, TieTimeoutError)
    assert progress[-1] == (4, 4)
    assert [done for done, _ in progress] == [1, 2, 3, 4]


def test_set_file_reputations_sends_the_single_call_payloads() -> None:
    def answer(request: Any) -> Any:
        response = Response(request)
        response.payload = b"{}"
        return response

    fake = AsyncFakeClient(answer)
    client = TieClient(fake)
    item = {"trust_level": TrustLevel.KNOWN_TRUSTED, "hashes": {HashType.MD5: MD5},
            "filename": "notepad.exe", "comment": "c"}
    results = client.set_file_reputations([item, {"trust_level": 42, "hashes": {"md5": MD5}},
                                           {"trust": 99, "hashes": {"md5": MD5}}])
    assert [result.ok for result in results] == [True, False, False]
    assert "Unknown trust level 42" in str(results[1].error)
    assert "unknown 'trust'" in str(results[2].error) and "missing 'trust_level'" in str(
        results[2].error)
    (request,) = fake.requests
    assert request.destination_topic == TIE_SET_FILE_REPUTATION_TOPIC
    single = AsyncFakeClient(answer)
    TieClient(single).set_file_reputation(**item)  # type: ignore[arg-type]
    assert request.payload == single.sync_requests[0].payload


def test_set_external_file_reputations_sends_one_event_per_valid_item(
        caplog: pytest.LogCaptureFixture) -> None:
    fake = AsyncFakeClient(reputation_reply)
    client = TieClient(fake)
    good = {"trust_level": TrustLevel.MIGHT_BE_TRUSTED, "hashes": {HashType.MD5: MD5},
            "file_type": FileType.PEEXE, "filename": "r.exe", "comment": "c"}
    unnamed = {"trust_level": TrustLevel.MIGHT_BE_TRUSTED, "hashes": {HashType.MD5: MD5}}
    bad = {"trust_level": TrustLevel.NOT_SET, "hashes": {HashType.MD5: MD5}}
    results = client.set_external_file_reputations([good, bad, unnamed])
    assert [result.ok for result in results] == [True, False, True]
    assert str(results[1].error) == "TrustLevel was not specified"
    assert [event.destination_topic for event in fake.events] == [
        TIE_EVENT_EXTERNAL_FILE_REPORT_TOPIC] * 2
    single = AsyncFakeClient(reputation_reply)
    TieClient(single).set_external_file_reputation(**good)  # type: ignore[arg-type]
    assert fake.events[0].payload == single.events[0].payload
    assert "1 external reports have no filename" in caplog.text


@pytest.mark.parametrize("options", [{"max_in_flight": 0}, {"max_in_flight": True},
                                     {"timeout": 0}, {"timeout": "5"}])
def test_bad_bulk_options_are_refused_before_sending(options: Dict[str, Any]) -> None:
    fake = AsyncFakeClient(reputation_reply)
    with pytest.raises(TieInputError):
        TieClient(fake).get_file_reputations([{HashType.MD5: MD5}], **options)
    assert fake.requests == []


def test_bulk_result_repr_and_ok() -> None:
    assert BulkResult(0, {}, value={1: {}}).ok
    failed = BulkResult(3, {}, error=ValueError("bad"))
    assert not failed.ok
    assert "index=3" in repr(failed) and "bad" in repr(failed)


def test_a_raising_progress_callback_aborts_and_abandons_the_outstanding_requests() -> None:
    answered: List[str] = []

    def answer(request: Any) -> Any:
        if len(answered) >= 2:
            return None  # the rest stay outstanding
        answered.append(request.message_id)
        return reputation_reply(request)

    fake = AsyncFakeClient(answer)

    def progress(done: int, total: int) -> None:
        if done == 2:
            raise RuntimeError("stop")

    with pytest.raises(RuntimeError, match="stop"):
        TieClient(fake).get_file_reputations(
            [{HashType.MD5: md5_of(n)} for n in range(50)], max_in_flight=10, timeout=30,
            progress=progress)
    outstanding = {request.message_id for request in fake.requests} - set(answered)
    assert outstanding  # requests were in flight when progress raised...
    assert set(fake._request_manager.unregistered) == outstanding  # ...and were abandoned
    assert set(fake._request_manager.removed) == outstanding


def test_timed_out_items_are_dropped_from_dxlclient_records() -> None:
    fake = AsyncFakeClient(lambda request: None)
    results = TieClient(fake).get_file_reputations([{HashType.MD5: MD5}], timeout=0.05)
    assert isinstance(results[0].error, TieTimeoutError)
    assert fake._request_manager.unregistered == [fake.requests[0].message_id]
    assert fake._request_manager.removed == [fake.requests[0].message_id]


def test_an_infinite_timeout_waits_for_the_answers() -> None:
    fake = AsyncFakeClient(reputation_reply)
    results = TieClient(fake).get_file_reputations(
        [{HashType.MD5: md5_of(n)} for n in range(5)], timeout=float("inf"))
    assert all(result.ok for result in results)


def test_a_nan_timeout_is_refused_even_through_response_timeout() -> None:
    fake = AsyncFakeClient(reputation_reply)
    client = TieClient(fake)
    with pytest.raises(TieInputError, match="timeout"):
        client.get_file_reputations([{HashType.MD5: MD5}], timeout=float("nan"))
    with pytest.raises(TieInputError, match="response_timeout"):
        client.response_timeout = float("nan")  # dxlbootstrap's setter let it through
    client._response_timeout = float("nan")  # e.g. set by a subclass
    with pytest.raises(TieInputError, match="timeout"):
        client.get_file_reputations([{HashType.MD5: MD5}])
    assert fake.requests == []
