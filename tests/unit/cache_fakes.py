"""
A faithful in-memory TIE with its fabric, for the cache's unit tests: no broker, no network.

:class:`FakeTie` holds files (known by any of their hashes, hashes merged as they are learned, as
TIE does) and certificates, each with a GTI and an Enterprise reputation, and a log of changes for
the reputation updates query. :meth:`FakeTie.client` makes a :class:`FabricClient`, a recording
fake DXL client whose requests are answered by this TIE and which receives the events it
publishes, as long as it is connected and subscribed:

* lookups answer ``{"props": {"serverTime", "submitMetaData"}, "reputations": [...]}``;
* sets change the Enterprise reputation, log the change and publish the reputation change event
  (broadcast and/or targeted, see :attr:`FakeTie.broadcast` and :attr:`FakeTie.targeted`) to every
  connected client, synchronously (the event reaches the caches before the set returns);
* the reputation updates query lists the changed files and certificates since ``sinceTime``
  (inclusive), one hash per file of the type asked for, at most ``queryLimit`` a page, with
  ``props`` ``{"serverTime", "queryLimitExceeded"}`` when the limit was exceeded;
* :meth:`FabricClient.drop` and :meth:`FabricClient.restore` cut and restore a client's connection
  the way the MQTT client reports it (``on_disconnect`` / ``on_connect`` of ``_client``): events
  published meanwhile are lost, requests raise :class:`dxlclient.exceptions.DxlException`.

:attr:`FakeTie.before_reply` runs after a lookup's answer was computed and before it is returned:
tests make a change there to reproduce "change while the lookup is in flight".
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
from typing import Any, Callable, Dict, List, Optional, Tuple

from dxlclient import ErrorResponse, Event, Request, Response
from dxlclient.exceptions import DxlException
from dxlclient.message import Message
from tie_fakes import FakeDxlClient, make_event

from dxltieclient.client import (
    TIE_EVENT_CERT_REPUTATION_CHANGE_TARGETED_TOPIC,
    TIE_EVENT_CERT_REPUTATION_CHANGE_TOPIC,
    TIE_EVENT_FILE_REPUTATION_CHANGE_TARGETED_TOPIC,
    TIE_EVENT_FILE_REPUTATION_CHANGE_TOPIC,
    TIE_GET_CERT_REPUTATION_TOPIC,
    TIE_GET_FILE_REPUTATION_TOPIC,
    TIE_GET_REPUTATION_UPDATES_TOPIC,
    TIE_SET_CERT_REPUTATION_TOPIC,
    TIE_SET_FILE_REPUTATION_TOPIC,
)

HASH_TYPES = ("md5", "sha1", "sha256")
START_TIME = 1_700_000_000


def _b64(hex_value: str) -> str:
    return base64.b64encode(binascii.unhexlify(hex_value)).decode("ascii")


def _hex(value: str) -> str:
    return binascii.hexlify(base64.b64decode(value)).decode("ascii")


def _wire_hashes(hashes: Dict[str, str]) -> List[Dict[str, str]]:
    return [{"type": hash_type, "value": _b64(value)} for hash_type, value in hashes.items()]


class _Subject:
    def __init__(self, hashes: Dict[str, str], now: int) -> None:
        self.hashes = hashes
        self.gti = 50
        self.enterprise = 0
        self.created = now
        self.changed = now

    def reputations(self, gti_provider: int, enterprise_provider: int) -> List[Dict[str, Any]]:
        return [{"providerId": gti_provider, "trustLevel": self.gti, "createDate": self.created,
                 "attributes": {"2120340": "2139160704"}},
                {"providerId": enterprise_provider, "trustLevel": self.enterprise,
                 "createDate": self.changed, "attributes": {"2101652": "1"}}]


class FakeTie:
    """An in-memory TIE and its fabric (see the module docstring)."""

    def __init__(self) -> None:
        self.now = START_TIME
        self.lock = threading.RLock()
        self.files: List[_Subject] = []
        self.file_index: Dict[Tuple[str, str], _Subject] = {}
        self.certs: Dict[str, _Subject] = {}
        self.changes: List[Tuple[int, str, _Subject]] = []
        self.clients: List["FabricClient"] = []
        #: Publish reputation change events on the broadcast topics.
        self.broadcast = True
        #: Publish them on the targeted topics too.
        self.targeted = False
        #: Run after a lookup's answer is computed, before it is returned.
        self.before_reply: Optional[Callable[[], None]] = None
        #: Answer the reputation updates query with an error (a TIE that cannot).
        self.updates_fail = False

    def client(self) -> "FabricClient":
        """A new connected client of this TIE."""
        client = FabricClient(self)
        with self.lock:
            self.clients.append(client)
        return client

    def tick(self, seconds: int = 1) -> None:
        """Advances the server clock."""
        with self.lock:
            self.now += seconds

    # -- state ------------------------------------------------------------------------------------

    def file(self, hashes: Dict[str, str]) -> _Subject:
        """Finds (by any hash) or creates a file, merging the hashes given."""
        hashes = {hash_type: value.lower() for hash_type, value in hashes.items()}
        with self.lock:
            found = next((self.file_index[key] for key in hashes.items()
                          if key in self.file_index), None)
            if found is None:
                found = _Subject({}, self.now)
                self.files.append(found)
            for hash_type, value in hashes.items():
                if hash_type not in found.hashes and (hash_type, value) not in self.file_index:
                    found.hashes[hash_type] = value
                    self.file_index[(hash_type, value)] = found
            return found

    def cert(self, sha1: str) -> _Subject:
        with self.lock:
            return self.certs.setdefault(sha1.lower(), _Subject({"sha1": sha1.lower()}, self.now))

    def file_answer(self, hashes: Dict[str, str]) -> Dict[int, Dict[str, Any]]:
        """What an uncached lookup returns now (reputations keyed by provider)."""
        with self.lock:
            return {rep["providerId"]: rep for rep in self.file(hashes).reputations(1, 3)}

    # -- requests ---------------------------------------------------------------------------------

    def handle(self, topic: str, request: Dict[str, Any]) -> Dict[str, Any]:
        with self.lock:
            if topic == TIE_GET_FILE_REPUTATION_TOPIC:
                subject = self.file({entry["type"]: _hex(entry["value"])
                                     for entry in request["hashes"]})
                return self._answer(subject.reputations(1, 3))
            if topic == TIE_GET_CERT_REPUTATION_TOPIC:
                return self._answer(self.cert(_hex(request["hashes"][0]["value"]))
                                    .reputations(2, 4))
            if topic == TIE_SET_FILE_REPUTATION_TOPIC:
                subject = self.file({entry["type"]: _hex(entry["value"])
                                     for entry in request["hashes"]})
                self._change("file", subject, request["trustLevel"])
                return {}
            if topic == TIE_SET_CERT_REPUTATION_TOPIC:
                self._change("cert", self.cert(_hex(request["hashes"][0]["value"])),
                             request["trustLevel"])
                return {}
            if topic == TIE_GET_REPUTATION_UPDATES_TOPIC:
                return self._updates(request)
        raise AssertionError("unexpected topic " + topic)

    def _answer(self, reputations: List[Dict[str, Any]]) -> Dict[str, Any]:
        return {"props": {"serverTime": self.now, "submitMetaData": 1},
                "reputations": reputations}

    def set_file(self, hashes: Dict[str, str], trust_level: int) -> None:
        """A change made on the server directly (as by another client)."""
        with self.lock:
            self._change("file", self.file(hashes), trust_level)

    def _change(self, kind: str, subject: _Subject, trust_level: int) -> None:
        providers = (1, 3) if kind == "file" else (2, 4)
        old = subject.reputations(*providers)
        subject.enterprise = trust_level
        subject.changed = self.now
        self.changes.append((self.now, kind, subject))
        event = {"hashes": _wire_hashes(subject.hashes),
                 "oldReputations": {"reputations": old, "props": {"serverTime": self.now}},
                 "newReputations": {"reputations": subject.reputations(*providers),
                                    "props": {"serverTime": self.now}},
                 "updateTime": self.now}
        topics = []
        if self.broadcast:
            topics.append(TIE_EVENT_FILE_REPUTATION_CHANGE_TOPIC if kind == "file"
                          else TIE_EVENT_CERT_REPUTATION_CHANGE_TOPIC)
        if self.targeted:
            topics.append(TIE_EVENT_FILE_REPUTATION_CHANGE_TARGETED_TOPIC if kind == "file"
                          else TIE_EVENT_CERT_REPUTATION_CHANGE_TARGETED_TOPIC)
        for topic in topics:
            self.publish(topic, event)

    def publish(self, topic: str, payload: Any) -> None:
        """Delivers an event to every connected client subscribed to ``topic``."""
        for client in list(self.clients):
            client.receive(make_event(payload, topic))

    def _updates(self, request: Dict[str, Any]) -> Dict[str, Any]:
        if self.updates_fail:
            raise _ServiceError(500, "reputation updates unavailable")
        since, limit = request["sinceTime"], request["queryLimit"]
        types = request.get("targetTypes") or {"file": None, "cert": "sha1"}
        latest: Dict[int, Tuple[int, str, _Subject]] = {}
        for when, kind, subject in self.changes:
            if when >= since and (kind in types):
                latest[id(subject)] = (when, kind, subject)
        listed = sorted(latest.values(), key=lambda change: change[0])
        page, more = listed[:limit], len(listed) > limit
        files, certs = [], []
        for _, kind, subject in page:
            if kind == "cert":
                certs.append({"type": "sha1", "value": _b64(subject.hashes["sha1"])})
                continue
            wanted = types.get("file")
            hash_type = wanted if wanted in subject.hashes else next(
                t for t in ("sha1", "md5", "sha256") if t in subject.hashes)
            files.append({"type": hash_type, "value": _b64(subject.hashes[hash_type])})
        response: Dict[str, Any] = {"fileHashes": files, "certificateHashes": certs}
        if page:
            response["latestUpdateTime"] = page[-1][0]
        if more:
            response["props"] = {"serverTime": self.now, "queryLimitExceeded": True}
        return response


class _ServiceError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class _FakeMqtt:
    """Stands for dxlclient's MQTT client: only its connection callbacks."""

    def __init__(self) -> None:
        self.on_connect: Any = None
        self.on_disconnect: Any = None


class FabricClient(FakeDxlClient):
    """A fake DXL client connected to a :class:`FakeTie` (see the module docstring)."""

    def __init__(self, tie: FakeTie) -> None:
        super().__init__()
        self.tie = tie
        self._client = _FakeMqtt()
        self._connected = True
        self.received: List[Event] = []

    @property
    def connected(self) -> bool:
        return self._connected

    def sync_request(self, request: Request, timeout: Any = 3600) -> Message:
        self.requests.append(_Sent(request, timeout))
        if not self._connected:
            raise DxlException("Client is not currently connected")
        try:
            answer = self.tie.handle(request.destination_topic,
                                     json.loads(request.payload.decode("utf-8")))
        except _ServiceError as error:
            return ErrorResponse(request, error_code=error.code, error_message=error.message)
        response = Response(request)
        response.payload = json.dumps(answer).encode("utf-8")
        hook = self.tie.before_reply
        if hook is not None and request.destination_topic == TIE_GET_FILE_REPUTATION_TOPIC:
            hook()
        return response

    def async_request(self, request: Request, response_callback: Any = None) -> None:
        response = self.sync_request(request)
        if response_callback is not None:
            response_callback.on_response(response)

    def receive(self, event: Event) -> None:
        """An event from the fabric: delivered when connected and subscribed."""
        if self._connected and event.destination_topic in self.subscriptions:
            self.received.append(event)
            self.deliver(event)

    def drop(self) -> None:
        """Loses the connection (the MQTT client reports it)."""
        self._connected = False
        if self._client.on_disconnect is not None:
            self._client.on_disconnect(self._client, self, 1)

    def restore(self) -> None:
        """Reconnects (subscriptions renewed, then reported connected)."""
        if self._client.on_connect is not None:
            self._client.on_connect(self._client, self, {}, 0)
        self._connected = True


class _Sent:
    def __init__(self, request: Request, timeout: Any) -> None:
        self.request = request
        self.timeout = timeout

    @property
    def topic(self) -> str:
        return self.request.destination_topic


def lookups(client: FakeDxlClient, topic: str = TIE_GET_FILE_REPUTATION_TOPIC) -> int:
    """How many requests ``client`` sent on ``topic``."""
    return sum(1 for sent in client.requests if sent.request.destination_topic == topic)
