"""
A fake DXL client for the library's unit tests: no broker, no network.

:class:`FakeDxlClient` stands where a connected :class:`dxlclient.client.DxlClient` would. It

* records every request sent with ``sync_request`` together with the ``timeout`` it was given,
  and every event sent with ``send_event``;
* answers each request with the next canned reply (a dxlclient ``Response`` with a JSON payload,
  an ``ErrorResponse``, or a ``WaitTimeoutException`` raised like dxlclient's request manager);
* keeps event callbacks with dxlclient's own callback manager (so its validation applies:
  ``None`` -> ``ValueError("Missing callback argument")``, a non-``EventCallback`` ->
  ``ValueError("Type mismatch on callback argument")``) and subscribes / unsubscribes like
  ``DxlClient`` (``subscriptions`` is a tuple);
* round-trips every sent message through dxlclient's msgpack encoding, as the wire would, so a
  message the fabric could not carry fails here too.

A real ``DxlClient`` cannot stand in: its constructor loads the TLS certificate files.
"""

from __future__ import annotations

import collections
import json
from typing import Any, Deque, List, NamedTuple, Optional, Union

from dxlclient import ErrorResponse, Event, Request, Response
from dxlclient._callback_manager import _EventCallbackManager
from dxlclient.exceptions import WaitTimeoutException
from dxlclient.message import Message

#: dxlclient's default wait for ``sync_request`` (1 hour); TieClient must never rely on it.
DXLCLIENT_DEFAULT_WAIT = 3600


class SentRequest(NamedTuple):
    """A request recorded by :class:`FakeDxlClient`."""

    request: Request
    timeout: Any

    @property
    def topic(self) -> str:
        return self.request.destination_topic

    @property
    def payload(self) -> bytes:
        return self.request.payload

    def json(self) -> Any:
        return json.loads(self.request.payload.decode("utf-8"))


class _Timeout:
    """Canned reply: raise dxlclient's ``WaitTimeoutException``."""


class _Error(NamedTuple):
    error_code: int
    error_message: str


class FakeDxlClient:
    """A recording stand-in for a connected ``DxlClient``; see the module docstring."""

    def __init__(self, default_payload: Optional[bytes] = b"{}") -> None:
        #: Requests sent, in order.
        self.requests: List[SentRequest] = []
        #: Events sent, in order.
        self.events: List[Event] = []
        #: Requests sent with ``async_request``, with their response callback.
        self.async_requests: List[tuple] = []
        #: ``(method name, topic, callback, flag)`` for each add/remove_event_callback call.
        self.callback_calls: List[tuple] = []
        self._replies: Deque[Any] = collections.deque()
        self._default_payload = default_payload
        self._subscriptions: List[str] = []
        self._event_callbacks = _EventCallbackManager()

    # -- canned replies ---------------------------------------------------------------------

    def reply_json(self, value: Any) -> "FakeDxlClient":
        """Queues a ``Response`` whose payload is ``json.dumps(value)`` in UTF-8."""
        return self.reply_payload(json.dumps(value).encode("utf-8"))

    def reply_payload(self, payload: Union[bytes, str]) -> "FakeDxlClient":
        """Queues a ``Response`` with this exact payload."""
        self._replies.append(("payload", payload))
        return self

    def reply_error(self, error_code: int, error_message: str) -> "FakeDxlClient":
        """Queues an ``ErrorResponse``."""
        self._replies.append(_Error(error_code, error_message))
        return self

    def reply_timeout(self) -> "FakeDxlClient":
        """Queues a ``WaitTimeoutException`` (as dxlclient raises it)."""
        self._replies.append(_Timeout())
        return self

    # -- what TieClient calls -----------------------------------------------------------------

    def sync_request(self, request: Request, timeout: Any = DXLCLIENT_DEFAULT_WAIT) -> Message:
        if not isinstance(request, Request):
            raise AssertionError("sync_request given a {}".format(type(request).__name__))
        _wire_round_trip(request)
        self.requests.append(SentRequest(request, timeout))
        reply = self._replies.popleft() if self._replies else ("payload", self._default_payload)
        if isinstance(reply, _Timeout):
            raise WaitTimeoutException(
                "Timeout waiting for response to message: " + request.message_id)
        if isinstance(reply, _Error):
            response: Message = ErrorResponse(request, error_code=reply.error_code,
                                              error_message=reply.error_message)
        else:
            response = Response(request)
            response.payload = reply[1]
        return response

    def async_request(self, request: Request, response_callback: Any = None) -> None:
        """Records a request sent without waiting (in :attr:`async_requests`); no reply."""
        if not isinstance(request, Request):
            raise AssertionError("async_request given a {}".format(type(request).__name__))
        _wire_round_trip(request)
        self.async_requests.append((request, response_callback))

    def send_event(self, event: Event) -> None:
        if event is None or not isinstance(event, Event):  # as DxlClient.send_event
            raise ValueError("Invalid or unspecified event object")
        _wire_round_trip(event)
        self.events.append(event)

    def add_event_callback(self, topic: Optional[str], event_callback: Any,
                           subscribe_to_topic: bool = True) -> None:
        self.callback_calls.append(("add_event_callback", topic, event_callback,
                                    subscribe_to_topic))
        self._event_callbacks.add_callback("" if topic is None else topic, event_callback)
        if subscribe_to_topic is True and topic is not None:
            self.subscribe(topic)

    def remove_event_callback(self, topic: Optional[str], event_callback: Any,
                              unsubscribe_from_topic: bool = True) -> None:
        self.callback_calls.append(("remove_event_callback", topic, event_callback,
                                    unsubscribe_from_topic))
        self._event_callbacks.remove_callback("" if topic is None else topic, event_callback)
        if unsubscribe_from_topic is True and topic is not None:
            self.unsubscribe(topic)

    def subscribe(self, topic: str) -> None:
        if topic not in self._subscriptions:
            self._subscriptions.append(topic)

    def unsubscribe(self, topic: str) -> None:
        if topic in self._subscriptions:
            self._subscriptions.remove(topic)

    @property
    def subscriptions(self) -> tuple:
        """The subscribed topics, as a tuple (like ``DxlClient.subscriptions``)."""
        return tuple(self._subscriptions)

    # -- test helpers -------------------------------------------------------------------------

    @property
    def nothing_sent(self) -> bool:
        """True when no request and no event was sent."""
        return not self.requests and not self.events and not self.async_requests

    def callbacks_for(self, topic: str) -> list:
        """The event callbacks registered on ``topic``."""
        return list(self._event_callbacks.callbacks_by_channel.get(topic, []))

    def deliver(self, event: Event) -> None:
        """Hands an incoming event to the callbacks registered on its topic, as dxlclient does."""
        for callback in self.callbacks_for(event.destination_topic):
            callback.on_event(event)


def _wire_round_trip(message: Message) -> Message:
    """Serialises a message with dxlclient's msgpack encoding and parses it back."""
    return Message._from_bytes(message._to_bytes())


def make_event(payload: Any, topic: str = "/test/topic") -> Event:
    """
    Builds an incoming event as dxlclient would deliver it.

    :param payload: a JSON-serialisable value (encoded as UTF-8 JSON), or raw ``bytes``
    :param topic: the event's topic
    """
    event = Event(topic)
    event.payload = payload if isinstance(payload, bytes) else json.dumps(payload).encode("utf-8")
    return event
