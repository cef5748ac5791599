"""
A fake DXL client for the asyncio layer's unit tests: :class:`FakeDxlClient` plus dxlclient's
asynchronous requests, answered from another thread.

``async_request`` goes through a real :class:`dxlclient._request_manager.RequestManager`, so the
tests see dxlclient's own pending-request tables (``callback_map``, ``current_request_message_ids``)
fill and empty. Each request gets the next canned reply of :class:`FakeDxlClient`; a queued
timeout means no reply at all. Replies are delivered on a responder thread (as dxlclient's
incoming-message threads would), at once or when :meth:`AsyncFakeDxlClient.release` is called.
"""

from __future__ import annotations

import queue
import threading
from typing import Any, List, Optional

from dxlclient import ErrorResponse, Response
from dxlclient._request_manager import RequestManager
from tie_fakes import FakeDxlClient, SentRequest, _Error, _Timeout, _wire_round_trip

#: The name prefix of the responder thread (dxlclient names its incoming-message threads so).
RESPONDER_PREFIX = "FakeDxlMessagePool-"


class AsyncFakeDxlClient(FakeDxlClient):
    """:class:`FakeDxlClient` with ``async_request``; see the module docstring."""

    def __init__(self, default_payload: Optional[bytes] = b"{}", hold: bool = False) -> None:
        super().__init__(default_payload)
        self._message_pool_prefix = RESPONDER_PREFIX
        self._request_manager = RequestManager(self)
        self.hold = hold
        self.held: List[Any] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._outbox: "queue.Queue[Any]" = queue.Queue()
        self._responder = threading.Thread(target=self._respond, daemon=True,
                                           name=RESPONDER_PREFIX + "0")
        self._responder.start()

    # -- dxlclient's surface --------------------------------------------------------------------

    def add_response_callback(self, topic: str, callback: Any) -> None:
        """Called by RequestManager's constructor: responses go to it directly here."""

    def async_request(self, request: Any, response_callback: Any = None) -> None:
        self._request_manager.async_request(request, response_callback)

    def _send_request(self, request: Any) -> None:
        _wire_round_trip(request)
        self.requests.append(SentRequest(request, None))
        reply = self._replies.popleft() if self._replies else ("payload", self._default_payload)
        if isinstance(reply, _Timeout):
            return
        if isinstance(reply, _Error):
            response: Any = ErrorResponse(request, error_code=reply.error_code,
                                          error_message=reply.error_message)
        else:
            response = Response(request)
            response.payload = reply[1]
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            if self.hold:
                self.held.append(response)
                return
        self._outbox.put(response)

    # -- test helpers -----------------------------------------------------------------------------

    def release(self) -> None:
        """Delivers the held responses (on the responder thread)."""
        with self._lock:
            held, self.held = self.held, []
        for response in held:
            self._outbox.put(response)

    def deliver_from_thread(self, event: Any) -> None:
        """Delivers an incoming event on the responder thread, as dxlclient would."""
        self._outbox.put(event)

    def pending_tables(self) -> tuple:
        """The sizes of dxlclient's pending-request tables: (async callbacks, current requests)."""
        manager = self._request_manager
        return (len(manager.callback_map), manager.get_current_request_queue_size())

    def close(self) -> None:
        self._outbox.put(None)
        self._responder.join(5)

    def _respond(self) -> None:
        while True:
            message = self._outbox.get()
            if message is None:
                return
            if isinstance(message, (Response, ErrorResponse)):
                with self._lock:
                    self.in_flight -= 1
                self._request_manager.on_response(message)
            else:
                self.deliver(message)
