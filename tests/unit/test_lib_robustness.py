"""
Unit tests of the library's fail-fast paths and stricter checks (issue 9): a disconnected or
disconnecting client, options validated before anything is sent, bounded quotes of bad values,
lone surrogates, falsy public keys and bad response timeouts. No broker.
"""

import json
import math
import pickle
import threading
import time
from typing import Any, Callable, List, Optional

import pytest
from dxlclient.exceptions import WaitTimeoutException
from dxlclient.message import Response

import dxltieclient
from dxltieclient import (
    HashType,
    InvalidHashError,
    TieClient,
    TieError,
    TieInputError,
    TieNotConnectedError,
    TieTimeoutError,
    TrustLevel,
)
from dxltieclient._errors import TieInputTypeError, quote
from dxltieclient.client import TIE_GET_FILE_REPUTATION_TOPIC

MD5 = "f2c7bb8acc97f92e987a2d4087d021b1"
SHA1 = "7eb0139d2175739b3ccb0d1110067820be6abd29"
HUGE = 10 * 1000 * 1000  # the 10 MB value of the issue
BOUND = 600  # no message may be longer than this, however large the bad value


def md5_of(number: int) -> str:
    return "{:032x}".format(number)


def reply(request: Any) -> Response:
    response = Response(request)
    response.payload = json.dumps({"reputations": [{"providerId": 1, "trustLevel": 99}]}).encode()
    return response


class SignallingCondition(threading.Condition):
    """A condition that tells when someone waits on it."""

    def __init__(self) -> None:
        super().__init__(threading.RLock())
        self.waited = threading.Event()

    def wait(self, timeout: Optional[float] = None) -> bool:
        if threading.current_thread().name != "dxltieclient-watch":  # the library's watcher
            self.waited.set()
        return super().wait(timeout)


class ConnectionFake:
    """
    A fake DXL client with dxlclient's connection state: ``connected``, the condition notified
    when it changes, and the connect thread that runs while it reconnects. Asynchronous requests
    are answered by ``answer`` (``None``: no answer) from the caller's thread when ``answer_now``
    is true, else kept for :meth:`answer_waiting`.
    """

    def __init__(self, connected: bool = True,
                 answer: Optional[Callable[[Any], Optional[Any]]] = reply) -> None:
        self._connected = connected
        #: Set when the library's watcher thread has seen the client disconnected.
        self.watch_saw_disconnection = threading.Event()
        self._connected_wait_condition = SignallingCondition()
        self._thread: Optional[threading.Thread] = None
        self.answer = answer
        self.requests: List[Any] = []
        self.sync_requests: List[Any] = []
        self.events: List[Any] = []
        self.forgotten: List[str] = []
        self.before_send: Optional[Callable[["ConnectionFake"], None]] = None
        self._request_manager = self

    @property
    def connected(self) -> bool:
        if not self._connected and threading.current_thread().name == "dxltieclient-watch":
            self.watch_saw_disconnection.set()
        return self._connected

    @connected.setter
    def connected(self, value: bool) -> None:
        self._connected = value

    # dxlclient's request manager, as the bulk engine uses it
    def unregister_async_callback(self, message_id: str) -> None:
        self.forgotten.append(message_id)

    def remove_current_request(self, message_id: str) -> None:
        pass

    def set_connected(self, connected: bool) -> None:
        with self._connected_wait_condition:
            self.connected = connected
            self._connected_wait_condition.notify_all()

    def async_request(self, request: Any, callback: Any) -> None:
        if self.before_send is not None:
            self.before_send(self)
        self.requests.append(request)
        if self.connected and self.answer is not None:
            response = self.answer(request)
            if response is not None:
                callback.on_response(response)

    def sync_request(self, request: Any, timeout: float) -> Any:
        self.sync_requests.append(request)
        if self.answer is None:
            raise WaitTimeoutException("Timeout waiting for response to message: "
                                       + request.message_id)
        return self.answer(request)

    def send_event(self, event: Any) -> None:
        self.events.append(event)


class Reconnector:
    """Plays dxlclient's connect thread: alive until :meth:`finish` (connecting, or giving up)."""

    def __init__(self, fake: ConnectionFake) -> None:
        self.fake = fake
        self.stop = threading.Event()
        self.connect = False
        fake._thread = threading.Thread(target=self._run, daemon=True)
        fake._thread.start()

    def _run(self) -> None:
        self.stop.wait(30)
        if self.connect:
            self.fake.set_connected(True)

    def finish(self, connect: bool) -> None:
        self.connect = connect
        self.stop.set()
        assert self.fake._thread is not None
        self.fake._thread.join(5)

    def finish_once_waited_for(self, connect: bool, required: bool = True) -> None:
        """
        Finishes (from another thread) once the library waits for the reconnection; when the
        wait is not ``required`` (it may or may not happen), finishes after a while anyway.
        """

        def finish() -> None:
            waited = self.fake._connected_wait_condition.waited.wait(10 if required else 3)
            self.finish(connect)
            assert waited or not required

        threading.Thread(target=finish, daemon=True).start()


# -- the exception classes ------------------------------------------------------------------------

def test_not_connected_error_is_a_tie_error_and_the_original_timeout_type_but_no_timeout():
    assert issubclass(TieNotConnectedError, TieError)
    assert issubclass(TieNotConnectedError, WaitTimeoutException)
    assert not issubclass(TieNotConnectedError, (TieTimeoutError, TieInputError))
    assert dxltieclient.TieNotConnectedError is TieNotConnectedError
    assert "TieNotConnectedError" in dxltieclient.__all__


def test_not_connected_error_survives_pickling():
    error = dxltieclient._errors.not_connected_error("/t", sent=True)
    clone = pickle.loads(pickle.dumps(error))
    assert type(clone) is TieNotConnectedError
    assert (str(clone), clone.topic, clone.sent) == (str(error), "/t", True)


def test_input_type_error_is_both_a_value_and_a_type_error():
    assert issubclass(TieInputTypeError, TieInputError)
    assert issubclass(TieInputTypeError, ValueError)
    assert issubclass(TieInputTypeError, TypeError)


# -- bounded quotes -------------------------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    ("abc", "'abc'"),
    ("a" * 80, repr("a" * 80)),
    ("a" * 81, repr("a" * 80) + "... (81 characters)"),
    (b"b" * 100, repr(b"b" * 80) + "... (100 bytes)"),
    (12, "12"),
])
def test_quote(value, expected):
    assert quote(value) == expected


def test_quote_bounds_containers_and_odd_objects():
    assert len(quote(list(range(HUGE // 100)))) < 200
    assert len(quote({"k" * HUGE: "v" * HUGE})) < 300

    class Loud:
        def __repr__(self) -> str:
            return "x" * 100000

    assert len(quote(Loud())) < 300


BIG_STRING = "a" * HUGE


@pytest.mark.parametrize("call", [
    lambda tie: tie.get_file_reputation({HashType.MD5: BIG_STRING}),
    lambda tie: tie.get_file_reputation({HashType.MD5: "g" * HUGE}),
    lambda tie: tie.get_file_reputation({BIG_STRING: MD5}),
    lambda tie: tie.get_file_reputation([BIG_STRING]),
    lambda tie: tie.get_file_first_references({HashType.MD5: MD5}, query_limit=BIG_STRING),
    lambda tie: tie.set_file_reputation(BIG_STRING, {HashType.MD5: MD5}),
    lambda tie: tie.set_file_reputation(TrustLevel.KNOWN_TRUSTED, {HashType.MD5: MD5},
                                        filename=[BIG_STRING]),
    lambda tie: tie.set_file_reputation(TrustLevel.KNOWN_TRUSTED, {HashType.MD5: MD5},
                                        comment=BIG_STRING + "\udc80"),
    lambda tie: tie.get_certificate_reputation(BIG_STRING),
    lambda tie: tie.get_certificate_reputation(SHA1, BIG_STRING),
    lambda tie: tie.set_external_file_reputation(TrustLevel.KNOWN_TRUSTED,
                                                 {HashType.MD5: BIG_STRING}),
], ids=["md5", "md5-not-hex", "hash-type", "hashes-list", "query-limit", "trust-level",
        "filename-type", "comment-surrogate", "cert-sha1", "public-key", "external"])
def test_single_call_messages_quote_a_bounded_prefix(call):
    fake = ConnectionFake()
    with pytest.raises(TieInputError) as caught:
        call(TieClient(fake))
    assert len(str(caught.value)) < BOUND, str(caught.value)[:BOUND]
    assert fake.sync_requests == [] and fake.events == []


@pytest.mark.parametrize("kwargs", [
    {"max_in_flight": BIG_STRING}, {"timeout": BIG_STRING}, {"progress": BIG_STRING},
])
def test_bulk_option_messages_quote_a_bounded_prefix(kwargs):
    fake = ConnectionFake()
    with pytest.raises(TieInputError) as caught:
        TieClient(fake).get_file_reputations([{HashType.MD5: MD5}], **kwargs)
    assert len(str(caught.value)) < BOUND
    assert fake.requests == []


@pytest.mark.parametrize("item", [
    {HashType.MD5: BIG_STRING},
    {"trust_level": 99, "hashes": {HashType.MD5: MD5}, BIG_STRING: 1},
    {"trust_level": 99, "hashes": {HashType.MD5: MD5}, "filename": [BIG_STRING]},
    BIG_STRING,
])
def test_bulk_item_messages_quote_a_bounded_prefix(item):
    fake = ConnectionFake()
    client = TieClient(fake)
    if isinstance(item, dict) and "trust_level" in item:
        results = client.set_file_reputations([item])
    else:
        results = client.get_file_reputations([item])
    assert isinstance(results[0].error, TieInputError)
    assert len(str(results[0].error)) < BOUND
    assert fake.requests == []


# -- lone surrogates ------------------------------------------------------------------------------

SURROGATE_CALLS = {
    "set_file_reputation-filename": lambda tie, text: tie.set_file_reputation(
        TrustLevel.KNOWN_TRUSTED, {HashType.MD5: MD5}, filename=text),
    "set_file_reputation-comment": lambda tie, text: tie.set_file_reputation(
        TrustLevel.KNOWN_TRUSTED, {HashType.MD5: MD5}, comment=text),
    "set_external_file_reputation-filename": lambda tie, text: tie.set_external_file_reputation(
        TrustLevel.KNOWN_TRUSTED, {HashType.MD5: MD5}, filename=text),
    "set_certificate_reputation-comment": lambda tie, text: tie.set_certificate_reputation(
        TrustLevel.KNOWN_TRUSTED, SHA1, comment=text),
}


@pytest.mark.parametrize("text", ["bad\udc80.exe", "\ud800", "x\udfff"])
@pytest.mark.parametrize("name", sorted(SURROGATE_CALLS))
def test_a_lone_surrogate_is_refused_before_sending(name, text):
    fake = ConnectionFake()
    with pytest.raises(TieInputError, match="lone surrogate") as caught:
        SURROGATE_CALLS[name](TieClient(fake), text)
    assert name.split("-")[1] in str(caught.value)
    assert fake.sync_requests == [] and fake.events == []


def test_a_surrogate_pair_and_other_text_still_pass():
    fake = ConnectionFake(answer=lambda request: Response(request))
    TieClient(fake).set_file_reputation(TrustLevel.KNOWN_TRUSTED, {HashType.MD5: MD5},
                                        filename="caf\u00e9 \U0001f600.exe", comment="\u4e2d")
    payload = json.loads(fake.sync_requests[0].payload.decode("utf-8"))
    assert payload["filename"] == "caf\u00e9 \U0001f600.exe"


def test_a_bulk_item_with_a_lone_surrogate_fails_alone():
    fake = ConnectionFake(answer=lambda request: Response(request))
    results = TieClient(fake).set_file_reputations([
        {"trust_level": TrustLevel.KNOWN_TRUSTED, "hashes": {HashType.MD5: MD5},
         "filename": "a\udc80"},
        {"trust_level": TrustLevel.KNOWN_TRUSTED, "hashes": {HashType.MD5: MD5},
         "filename": "ok.exe"}])
    assert isinstance(results[0].error, TieInputError) and results[1].ok
    assert len(fake.requests) == 1


# -- public_key_sha1 ------------------------------------------------------------------------------

CERT_CALLS = {
    "get": lambda tie, key: tie.get_certificate_reputation(SHA1, key),
    "first-refs": lambda tie, key: tie.get_certificate_first_references(SHA1, key),
    "set": lambda tie, key: tie.set_certificate_reputation(TrustLevel.KNOWN_TRUSTED, SHA1, key),
}


@pytest.mark.parametrize("key", [0, False, [], {}, 0.0, ()], ids=repr)
@pytest.mark.parametrize("call", sorted(CERT_CALLS))
def test_a_falsy_non_string_public_key_is_refused(call, key):
    fake = ConnectionFake()
    with pytest.raises(InvalidHashError, match="public_key_sha1"):
        CERT_CALLS[call](TieClient(fake), key)
    assert fake.sync_requests == []


@pytest.mark.parametrize("key", [None, "", b""], ids=repr)
@pytest.mark.parametrize("call", sorted(CERT_CALLS))
def test_none_and_empty_public_keys_are_left_out_as_in_the_original(call, key):
    fake = ConnectionFake()
    CERT_CALLS[call](TieClient(fake), key)
    payload = json.loads(fake.sync_requests[0].payload.decode("utf-8"))
    assert "publicKeySha1" not in payload


# -- response_timeout -----------------------------------------------------------------------------

@pytest.mark.parametrize("value, error_type", [
    (math.nan, TieInputError), (math.inf, TieInputError), (10 ** 100, TieInputError),
    (10 ** 400, TieInputError),
    ("45", TieInputTypeError),
    (None, TieInputTypeError), ([45], TieInputTypeError),
], ids=repr)
def test_a_bad_response_timeout_is_refused_where_it_is_set(value, error_type):
    client = TieClient(ConnectionFake())
    with pytest.raises(error_type, match="response_timeout"):
        client.response_timeout = value
    assert client.response_timeout == 30


@pytest.mark.parametrize("value", [-math.inf, -1, 0, True])
def test_a_response_timeout_below_30_keeps_the_original_error(value):
    client = TieClient(ConnectionFake())
    with pytest.raises(Exception, match=r"^Response timeout must be greater than or equal to 30$"):
        client.response_timeout = value
    assert client.response_timeout == 30


# -- bulk options and inputs ----------------------------------------------------------------------

BULK_CALLS = {
    "get_file_reputations": lambda tie, items, **kw: tie.get_file_reputations(items, **kw),
    "set_file_reputations": lambda tie, items, **kw: tie.set_file_reputations(items, **kw),
    "set_external_file_reputations":
        lambda tie, items, **kw: tie.set_external_file_reputations(items, **kw),
}
BULK_ITEMS = {
    "get_file_reputations": [{HashType.MD5: md5_of(n)} for n in range(100)],
    "set_file_reputations": [{"trust_level": TrustLevel.KNOWN_TRUSTED,
                              "hashes": {HashType.MD5: md5_of(n)}} for n in range(100)],
    "set_external_file_reputations": [{"trust_level": TrustLevel.KNOWN_TRUSTED,
                                       "hashes": {HashType.MD5: md5_of(n)}, "filename": "f"}
                                      for n in range(100)],
}
ARGUMENT_NAMES = {"get_file_reputations": "hashes_list", "set_file_reputations": "reputations",
                  "set_external_file_reputations": "reputations"}


@pytest.mark.parametrize("progress", [5, "progress", object()], ids=repr)
@pytest.mark.parametrize("call", sorted(BULK_CALLS))
def test_a_bad_progress_is_refused_before_anything_is_sent(call, progress):
    fake = ConnectionFake()
    with pytest.raises(TieInputError, match="progress"):
        BULK_CALLS[call](TieClient(fake), BULK_ITEMS[call], progress=progress)
    assert fake.requests == [] and fake.events == []


@pytest.mark.parametrize("items", [5, None, 1.5, object()], ids=repr)
@pytest.mark.parametrize("call", sorted(BULK_CALLS))
def test_a_non_iterable_bulk_input_is_an_input_and_type_error_naming_the_argument(call, items):
    fake = ConnectionFake()
    with pytest.raises(TieInputTypeError, match=ARGUMENT_NAMES[call]) as caught:
        BULK_CALLS[call](TieClient(fake), items)
    assert isinstance(caught.value, TypeError) and isinstance(caught.value, ValueError)
    assert fake.requests == [] and fake.events == []


@pytest.mark.parametrize("call", sorted(BULK_CALLS))
def test_a_single_item_passed_as_the_whole_input_is_refused(call):
    fake = ConnectionFake()
    with pytest.raises(TieInputError, match="list of one item"):
        BULK_CALLS[call](TieClient(fake), BULK_ITEMS[call][0])
    with pytest.raises(TieInputError, match=ARGUMENT_NAMES[call]):
        BULK_CALLS[call](TieClient(fake), MD5)
    assert fake.requests == [] and fake.events == []


def test_generators_are_still_accepted():
    fake = ConnectionFake()
    results = TieClient(fake).get_file_reputations(
        {HashType.MD5: md5_of(n)} for n in range(10))
    assert len(results) == 10 and all(result.ok for result in results)


# -- a client that is not connected ---------------------------------------------------------------

def test_a_bulk_call_on_a_disconnected_client_fails_every_item_at_once():
    fake = ConnectionFake(connected=False)
    progress = []
    started = time.monotonic()
    results = TieClient(fake).get_file_reputations(
        BULK_ITEMS["get_file_reputations"] * 7, timeout=5,
        progress=lambda done, total: progress.append(done))
    assert time.monotonic() - started < 2
    assert len(results) == 700 and progress == list(range(1, 701))
    assert all(isinstance(result.error, TieNotConnectedError) for result in results)
    assert not any(result.error.sent for result in results)
    assert "not connected" in str(results[0].error)
    assert "authoriz" not in str(results[0].error)
    assert fake.requests == []


def test_a_bad_item_keeps_its_input_error_on_a_disconnected_client():
    fake = ConnectionFake(connected=False)
    results = TieClient(fake).get_file_reputations([{HashType.MD5: "x"}, {HashType.MD5: MD5}])
    assert isinstance(results[0].error, InvalidHashError)
    assert isinstance(results[1].error, TieNotConnectedError)


@pytest.mark.parametrize("call", [
    lambda tie: tie.get_file_reputation({HashType.MD5: MD5}),
    lambda tie: tie.set_file_reputation(TrustLevel.KNOWN_TRUSTED, {HashType.MD5: MD5}),
    lambda tie: tie.get_certificate_first_references(SHA1),
])
def test_a_single_call_on_a_disconnected_client_fails_at_once(call):
    fake = ConnectionFake(connected=False)
    client = TieClient(fake)
    started = time.monotonic()
    with pytest.raises(TieNotConnectedError, match="not connected") as caught:
        call(client)
    assert time.monotonic() - started < 1
    assert isinstance(caught.value, WaitTimeoutException)  # what the original raised
    assert not caught.value.sent
    assert fake.sync_requests == []


def test_external_reports_on_a_disconnected_client_fail_per_item():
    fake = ConnectionFake(connected=False)
    results = TieClient(fake).set_external_file_reputations(
        BULK_ITEMS["set_external_file_reputations"][:3])
    assert all(isinstance(result.error, TieNotConnectedError) for result in results)
    assert fake.events == []


def test_a_single_call_that_loses_its_connection_while_waiting_says_so():
    fake = ConnectionFake(answer=None)

    def drop(request: Any, timeout: float) -> Any:
        fake.connected = False
        raise WaitTimeoutException("Timeout waiting for response to message: x")

    fake.sync_request = drop  # type: ignore[method-assign]
    with pytest.raises(TieNotConnectedError, match="may or may not have been applied") as caught:
        TieClient(fake).set_file_reputation(TrustLevel.KNOWN_TRUSTED, {HashType.MD5: MD5})
    assert caught.value.sent


def test_a_single_call_that_times_out_while_connected_is_still_a_timeout():
    fake = ConnectionFake(answer=None)
    with pytest.raises(TieTimeoutError, match="may still have been applied"):
        TieClient(fake).get_file_reputation({HashType.MD5: MD5})


# -- a client that reconnects ---------------------------------------------------------------------

def test_a_bulk_call_waits_for_a_reconnection_in_progress():
    fake = ConnectionFake(connected=False)
    Reconnector(fake).finish_once_waited_for(True)
    results = TieClient(fake).get_file_reputations(BULK_ITEMS["get_file_reputations"], timeout=20)
    assert all(result.ok for result in results), results[:2]
    assert len(fake.requests) == 100


def test_a_single_call_waits_for_a_reconnection_in_progress():
    fake = ConnectionFake(connected=False)
    Reconnector(fake).finish_once_waited_for(True)
    assert TieClient(fake).get_file_reputation({HashType.MD5: MD5}) == {
        1: {"providerId": 1, "trustLevel": 99}}


def test_the_reconnection_wait_is_bounded_once_per_call_not_per_item():
    fake = ConnectionFake(connected=False)
    reconnector = Reconnector(fake)
    try:
        started = time.monotonic()
        results = TieClient(fake).get_file_reputations(BULK_ITEMS["get_file_reputations"],
                                                       timeout=0.3)
        elapsed = time.monotonic() - started
    finally:
        reconnector.finish(False)
    assert 0.25 <= elapsed < 3, elapsed
    assert all(isinstance(result.error, TieNotConnectedError) for result in results)


def test_a_reconnection_that_gives_up_ends_the_wait():
    fake = ConnectionFake(connected=False)
    Reconnector(fake).finish_once_waited_for(False)
    started = time.monotonic()
    results = TieClient(fake).get_file_reputations(BULK_ITEMS["get_file_reputations"],
                                                   timeout=60)
    assert time.monotonic() - started < 5
    assert all(isinstance(result.error, TieNotConnectedError) for result in results)


# -- a connection lost during a bulk call ---------------------------------------------------------

def test_a_connection_lost_mid_bulk_fails_the_rest_fast():
    fake = ConnectionFake(answer=None)
    answered: List[str] = []

    def answer(request: Any) -> Optional[Any]:
        if len(fake.requests) <= 30:
            answered.append(request.message_id)
            return reply(request)
        return None  # dropped: the 31st request and later get no answer

    fake.answer = answer

    def before_send(client: ConnectionFake) -> None:
        if len(client.requests) == 40:
            client.connected = False  # the connection drops with 10 requests outstanding

    fake.before_send = before_send
    started = time.monotonic()
    results = TieClient(fake).get_file_reputations(BULK_ITEMS["get_file_reputations"],
                                                   max_in_flight=16, timeout=30)
    assert time.monotonic() - started < 3
    assert [result.ok for result in results[:30]] == [True] * 30
    errors = [result.error for result in results[30:]]
    assert all(isinstance(error, TieNotConnectedError) for error in errors), errors[:3]
    sent = [error.sent for error in errors]
    assert sent == [True] * sum(sent) + [False] * (len(sent) - sum(sent))  # sent ones first
    assert 0 < sum(sent) <= 16
    assert len(fake.requests) == 30 + sum(sent)
    lost_ids = {request.message_id for request in fake.requests} - set(answered)
    assert lost_ids <= set(fake.forgotten)
    assert "may or may not have been applied" in str(errors[0])


def test_a_connection_lost_mid_bulk_resumes_when_dxlclient_reconnects_in_time():
    fake = ConnectionFake()
    state = {"dropped": False}

    def before_send(client: ConnectionFake) -> None:
        if len(client.requests) == 50 and not state["dropped"]:
            state["dropped"] = True
            client.connected = False
            Reconnector(client).finish_once_waited_for(True)

    fake.before_send = before_send
    results = TieClient(fake).get_file_reputations(BULK_ITEMS["get_file_reputations"],
                                                   max_in_flight=1, timeout=20)
    failed = [result for result in results if not result.ok]
    # only the request sent as the connection dropped is lost; the others went after reconnecting
    assert [result.index for result in failed] == [50], [result.error for result in failed]
    assert isinstance(failed[0].error, TieNotConnectedError) and failed[0].error.sent
    assert len(fake.requests) == 100  # the lost one is not re-sent


def test_the_request_topic_is_named_in_the_not_connected_error():
    results = TieClient(ConnectionFake(connected=False)).get_file_reputations([{"md5": MD5}])
    assert results[0].error.topic == TIE_GET_FILE_REPUTATION_TOPIC
    assert TIE_GET_FILE_REPUTATION_TOPIC in str(results[0].error)


def test_the_watch_counts_a_disconnection_even_when_the_client_is_back_at_once():
    fake = ConnectionFake()
    seen = threading.Event()
    with dxltieclient._connection.DisconnectionWatch(fake, seen.set) as watch:
        fake.set_connected(False)
        assert seen.wait(10)
        fake.set_connected(True)
        assert watch.disconnections == 1
        assert fake.watch_saw_disconnection.is_set()


def test_a_short_disconnection_fails_the_requests_sent_before_it_and_not_the_later_ones():
    fake = ConnectionFake(answer=None)
    # The first 10 requests go out before the connection blinks: no response comes back.
    fake.answer = lambda request: reply(request) if len(fake.requests) > 10 else None

    def blink() -> None:
        fake.set_connected(False)
        assert fake.watch_saw_disconnection.wait(10)
        fake.set_connected(True)  # back before the library's own look at ``connected``

    def before_send(client: ConnectionFake) -> None:
        if len(client.requests) == 9:  # sending the 10th
            # in case it looks in between
            Reconnector(client).finish_once_waited_for(True, required=False)
            threading.Thread(target=blink, daemon=True).start()

    fake.before_send = before_send
    started = time.monotonic()
    results = TieClient(fake).get_file_reputations(BULK_ITEMS["get_file_reputations"],
                                                   max_in_flight=10, timeout=20)
    assert time.monotonic() - started < 5
    assert all(isinstance(result.error, TieNotConnectedError) and result.error.sent
               for result in results[:10]), [result.error for result in results[:10]]
    assert all(result.ok for result in results[10:]), [r.error for r in results[10:] if r.error]


class Config:
    reconnect_when_disconnected = True


def test_after_an_unexpected_drop_the_bulk_call_waits_for_dxlclient_to_start_reconnecting():
    fake = ConnectionFake()
    fake.config = Config()  # dxlclient reconnects by itself (its default)

    def drop_then_reconnect_late() -> None:
        fake.set_connected(False)
        # dxlclient tidies up before its connect thread starts: the library must wait for it
        assert fake._connected_wait_condition.waited.wait(10)
        Reconnector(fake).finish(True)

    def before_send(client: ConnectionFake) -> None:
        if len(client.requests) == 50:
            client._connected = False  # this request goes nowhere
            threading.Thread(target=drop_then_reconnect_late, daemon=True).start()

    fake.before_send = before_send
    results = TieClient(fake).get_file_reputations(BULK_ITEMS["get_file_reputations"],
                                                   max_in_flight=1, timeout=20)
    failed = [result for result in results if not result.ok]
    assert [result.index for result in failed] == [50], [result.error for result in failed]
    assert results[-1].ok


def test_without_automatic_reconnection_a_drop_fails_the_unsent_items_at_once():
    fake = ConnectionFake()

    def before_send(client: ConnectionFake) -> None:
        if len(client.requests) == 50:
            client.set_connected(False)

    fake.before_send = before_send
    started = time.monotonic()
    results = TieClient(fake).get_file_reputations(BULK_ITEMS["get_file_reputations"],
                                                   max_in_flight=1, timeout=20)
    assert time.monotonic() - started < 2
    assert [result.ok for result in results] == [True] * 50 + [False] * 50
    assert results[50].error.sent and not results[51].error.sent


def test_bulk_calls_on_one_client_share_one_watching_thread_that_ends_after_them():
    def watchers() -> set:
        return {thread for thread in threading.enumerate()
                if thread.name == dxltieclient._connection.WATCH_THREAD_NAME}

    before = watchers()  # other tests' threads, ending
    fake = ConnectionFake()
    client = TieClient(fake)
    for _ in range(20):
        assert client.get_file_reputations([{HashType.MD5: MD5}])[0].ok
    started = watchers() - before
    assert 1 <= len(started) <= 3  # one, or a few if the machine stalls between calls
    for thread in started:
        thread.join(5)
        assert not thread.is_alive()


def test_an_item_with_unknown_keys_of_mixed_types_gets_an_input_error():
    fake = ConnectionFake()
    results = TieClient(fake).set_file_reputations(
        [{"trust_level": 99, "hashes": {HashType.MD5: MD5}, 1: 2, b"x": 3}])
    assert isinstance(results[0].error, TieInputError), results[0].error
    assert "unknown" in str(results[0].error)


def test_a_bulk_timeout_beyond_any_float_waits_as_inf_does():
    results = TieClient(ConnectionFake()).get_file_reputations([{HashType.MD5: MD5}],
                                                             timeout=10 ** 400)
    assert results[0].ok
