"""
The TIE service over the store: the nine request topics and the external report event, as pure-ish
functions of the payload bytes (no dxlclient here; :mod:`.emulator` is the thin adapter).

:meth:`TieService.handle_request` takes a request's topic, payload and requester and returns an
:class:`Outcome`: the response payload or an error, and the events to publish.
:meth:`TieService.handle_external_report` takes the payload of an external report event and
returns the events to publish.

Replies, in TIE's wire format (TIE-SPEC 3, ``tie-server.yaml``):

* lookups (``/mcafee/service/tie/file/reputation``, ``/mcafee/service/tie/cert/reputation``):
  ``{"props": {"serverTime": <epoch>, "submitMetaData": 1}, "reputations": [...]}``;
* first references (``.../file/agents``, ``.../cert/agents``):
  ``{"totalCount": <n>, "agents": [{"agentGuid": ..., "date": ...}, ...]}``;
* set requests (``.../file/reputation/set``, ``.../cert/reputation/set``): ``{}``.

Behaviour worth knowing:

* a file is found by any of its hashes; hashes learned later are merged into the entry;
* a lookup records the requester as a reference (as real TIE servers do, issue #13). Mosquitto
  leaves ``source_client_id`` empty, so the adapter derives the requester from the request's
  reply-to topic (``/mcafee/client/<client id>``, see :func:`agent_guid_from_reply_topic`);
* a lookup of an unknown file or certificate creates it (Enterprise ``NOT_SET``, GTI ``UNKNOWN``);
  for a file it also publishes a first-instance event;
* a set request replaces the Enterprise trust level and creation date (attributes kept) and
  publishes a reputation change event, even when the trust level did not change;
* the external report stores the External (15) reputation, except that a report without a file
  name is ignored (as TIE does, issues #16 and #20); its comment is not stored.

The rest of the TIE Server API (issue #10):

* a lookup also records the requesting client (:func:`client_id_of`: the broker-stamped
  ``source_client_id``, else the dxlclient id of the reply-to topic); every reputation change is
  then published twice: targeted (``/mcafee/event/tie/file/repchange``, ``.../cert/repchange``,
  destination client ids = those requesters; none when nobody looked it up) and broadcast;
* a lookup by a system new to a file publishes a prevalence event (``enterpriseCount``,
  ``agentGuid``, ``agentFirstReference``), ``prevalent: true`` once the count reaches the
  service's threshold, and none after that;
* every reputation change is appended to a change log that answers
  ``/mcafee/service/tie/reputation/updates`` (see :mod:`.updates` for the paging rules);
* metadata updates (``.../file/update_metadata``, ``.../cert/update_metadata``) are validated and
  stored, and get no reply at all (:attr:`Outcome.no_reply`): a malformed one is logged and
  ignored, nothing of it stored.

Errors: a malformed request gets an error response with code :data:`ERROR_INVALID_REQUEST`
(400) and a message naming the problem; nothing is changed in the store. An unexpected failure
(a bug, a store error) gets :data:`ERROR_INTERNAL` (500). A malformed external report is logged
and ignored (events have no reply).

Where TIE-SPEC and the TIE schema differ, the spec wins:

* the schema calls the certificate lookup's public key member ``certPublicKeySha1`` in its base
  object and ``publicKeySha1`` in its examples; the client sends ``publicKeySha1``. Both are
  accepted;
* a certificate's ``overridden`` object is placed inside its Enterprise reputation (TIE-SPEC 3.6,
  3.9), not at the top level of the response as the schema shows;
* the schema gives ``queryLimit`` a default of 100 and a range of 1 to 5000: a missing
  ``queryLimit`` means 100, one above 5000 is capped at 5000, one below 1 (or not an integer) is
  an error.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, NamedTuple, Optional, Tuple

from ... import client as _client
from ..._wire import (
    WireFormatError,
    check_hash,
    constant_values,
    decode_json,
    digest_from_base64,
    encode_json,
    hashes_from_wire_strict,
    hashes_to_wire,
)
from ...constants import CertProvider, FileProvider, HashType, TrustLevel
from . import events, seed, updates
from .store import CERT, FILE, FILE_HASH_TYPES, Store

logger = logging.getLogger(__name__)

# The topics are the library's own constants (dxltieclient.client): the wire contract is written
# once, so a topic cannot differ between the client and the emulator.
#: Request topic: set a file's Enterprise reputation.
TOPIC_SET_FILE_REPUTATION = _client.TIE_SET_FILE_REPUTATION_TOPIC
#: Request topic: look up a file's reputations.
TOPIC_GET_FILE_REPUTATION = _client.TIE_GET_FILE_REPUTATION_TOPIC
#: Request topic: set a certificate's Enterprise reputation.
TOPIC_SET_CERT_REPUTATION = _client.TIE_SET_CERT_REPUTATION_TOPIC
#: Request topic: look up a certificate's reputations.
TOPIC_GET_CERT_REPUTATION = _client.TIE_GET_CERT_REPUTATION_TOPIC
#: Request topic: the systems that referenced a file.
TOPIC_GET_FILE_FIRST_REFS = _client.TIE_GET_FILE_FIRST_REFS
#: Request topic: the systems that referenced a certificate.
TOPIC_GET_CERT_FIRST_REFS = _client.TIE_GET_CERT_FIRST_REFS
#: Request topic: the files and certificates whose reputation changed since a time.
TOPIC_GET_REPUTATION_UPDATES = _client.TIE_GET_REPUTATION_UPDATES_TOPIC
#: Request topic (no response): metadata about a file.
TOPIC_UPDATE_FILE_METADATA = _client.TIE_UPDATE_FILE_METADATA_TOPIC
#: Request topic (no response): metadata about a certificate.
TOPIC_UPDATE_CERT_METADATA = _client.TIE_UPDATE_CERT_METADATA_TOPIC
#: Event topic (subscribed): external reputation reports.
TOPIC_EXTERNAL_FILE_REPORT = _client.TIE_EVENT_EXTERNAL_FILE_REPORT_TOPIC
#: Event topic (published): file reputation changes.
TOPIC_FILE_REPUTATION_CHANGE = _client.TIE_EVENT_FILE_REPUTATION_CHANGE_TOPIC
#: Event topic (published): certificate reputation changes.
TOPIC_CERT_REPUTATION_CHANGE = _client.TIE_EVENT_CERT_REPUTATION_CHANGE_TOPIC
#: Event topic (published, targeted at the clients that looked the file up).
TOPIC_FILE_REPUTATION_CHANGE_TARGETED = _client.TIE_EVENT_FILE_REPUTATION_CHANGE_TARGETED_TOPIC
#: Event topic (published, targeted at the clients that looked the certificate up).
TOPIC_CERT_REPUTATION_CHANGE_TARGETED = _client.TIE_EVENT_CERT_REPUTATION_CHANGE_TARGETED_TOPIC
#: Event topic (published): a file seen for the first time.
TOPIC_FILE_FIRST_INSTANCE = _client.TIE_EVENT_FILE_FIRST_INSTANCE_TOPIC
#: Event topic (published): the number of systems that looked a file up grew.
TOPIC_FILE_PREVALENCE = _client.TIE_EVENT_FILE_PREVALENCE_CHANGE_TOPIC
#: Event topic (published by :mod:`dxltieclient.sandbox` on demand): detections.
TOPIC_FILE_DETECTION = _client.TIE_EVENT_FILE_DETECTION_TOPIC

#: The request topics TIE answers nothing to (the metadata updates).
NO_REPLY_TOPICS: Tuple[str, ...] = (TOPIC_UPDATE_FILE_METADATA, TOPIC_UPDATE_CERT_METADATA)
#: The request topics the service registers.
REQUEST_TOPICS: Tuple[str, ...] = (
    TOPIC_SET_FILE_REPUTATION, TOPIC_GET_FILE_REPUTATION, TOPIC_SET_CERT_REPUTATION,
    TOPIC_GET_CERT_REPUTATION, TOPIC_GET_FILE_FIRST_REFS, TOPIC_GET_CERT_FIRST_REFS,
    TOPIC_GET_REPUTATION_UPDATES) + NO_REPLY_TOPICS

#: The environment variable that sets :data:`DEFAULT_PREVALENCE_THRESHOLD` for a service.
PREVALENCE_THRESHOLD_ENV = "DXLTIE_PREVALENCE_THRESHOLD"
#: The number of distinct systems from which a file is prevalent (prevalence events stop).
DEFAULT_PREVALENCE_THRESHOLD = 3

#: The DXL service type the emulator registers.
SERVICE_TYPE = "/mcafee/service/tie"

#: Error code of the response to a malformed request (nothing was changed).
ERROR_INVALID_REQUEST = 400
#: Error code of the response to a request the emulator failed to handle (a bug).
ERROR_INTERNAL = 500

#: The ``queryLimit`` assumed when a first-references request has none (TIE's default).
DEFAULT_QUERY_LIMIT = 100
#: The largest ``queryLimit`` TIE honours; larger ones are capped.
MAX_QUERY_LIMIT = 5000

_REPLY_TO_PREFIX = "/mcafee/client/"
_TRUST_LEVELS = frozenset(constant_values(TrustLevel).values())



class TargetedPayload(bytes):
    """
    The payload bytes of a targeted event, with the destination client ids it is addressed to
    (the publisher sets them as the event's ``client_ids``).

    :param payload: the payload bytes
    :param client_ids: the destination client ids
    """

    client_ids: Tuple[str, ...]

    def __new__(cls, payload: bytes, client_ids: Tuple[str, ...]) -> "TargetedPayload":
        self = super().__new__(cls, payload)
        self.client_ids = tuple(client_ids)
        return self


#: An event to publish: topic and payload bytes (a :class:`TargetedPayload` for a targeted one).
EventMessage = Tuple[str, bytes]
#: An event a handler builds: topic, payload object and destination client ids (``()`` for a
#: broadcast).
_Publish = Tuple[str, Dict[str, Any], Tuple[str, ...]]
#: What a handler returns: the response object and the events.
_Result = Tuple[Dict[str, Any], List[_Publish]]


class Caller(NamedTuple):
    """Who sent a request."""

    #: The requesting system's agent GUID (references, prevalence), or ``None`` when unknown.
    agent_guid: Optional[str]
    #: The requesting DXL client's id (targeted events), or ``None`` when unknown.
    client_id: Optional[str]


class RequestError(Exception):
    """
    A request (or external report) was refused.

    :param message: what is wrong with it
    :param code: the error code of the response
    """

    def __init__(self, message: str, code: int = ERROR_INVALID_REQUEST) -> None:
        super().__init__(message)
        #: The error message
        self.message = message
        #: The error code
        self.code = code


@dataclass
class Outcome:
    """What handling a request produced."""

    #: The payload of the response, or ``None`` when the reply is an error.
    response: Optional[bytes] = None
    #: The error code and message of an error response, or ``None``.
    error: Optional[Tuple[int, str]] = None
    #: The events to publish (topic, payload; a targeted event's payload is a
    #: :class:`TargetedPayload`).
    events: List[EventMessage] = field(default_factory=list)
    #: ``True`` for a request TIE answers nothing to (neither response nor error).
    no_reply: bool = False


def agent_guid_from_reply_topic(reply_to_topic: Optional[str]) -> Optional[str]:
    """
    Derives the requester's agent GUID from a request's reply-to topic.

    :param reply_to_topic: e.g. ``/mcafee/client/{2f8b...}``
    :return: the client id in braces (dxlclient's ids already have them), e.g. ``{2f8b...}``, or
        ``None`` when the topic is not a client reply topic
    """
    if not reply_to_topic or not reply_to_topic.startswith(_REPLY_TO_PREFIX):
        return None
    client_id = reply_to_topic[len(_REPLY_TO_PREFIX):]
    if not client_id:
        return None
    if client_id.startswith("{") and client_id.endswith("}"):
        return client_id
    return "{" + client_id + "}"


def client_id_of(source_client_id: Optional[str], reply_to_topic: Optional[str]) -> Optional[str]:
    """
    The id a targeted event names a requester by.

    :param source_client_id: the request's ``source_client_id``: a real broker stamps the
        client's canonical id there (its certificate's SHA-1 fingerprint); Mosquitto leaves it
        empty
    :param reply_to_topic: the request's reply-to topic, ``/mcafee/client/<dxlclient id>``
    :return: the stamped id when there is one, else the dxlclient instance id of the reply-to
        topic (which the library's targeted callbacks also accept), else ``None``
    """
    if source_client_id:
        return source_client_id
    if reply_to_topic and reply_to_topic.startswith(_REPLY_TO_PREFIX):
        return reply_to_topic[len(_REPLY_TO_PREFIX):] or None
    return None


# ---------------------------------------------------------------------------------------------
# Request parsing: each raises RequestError with a message naming the problem.
# ---------------------------------------------------------------------------------------------

def _parse_object(payload: Any) -> Dict[str, Any]:
    try:
        data = decode_json(payload)
    except (ValueError, TypeError, AttributeError):
        raise RequestError("the payload is not UTF-8 JSON")
    if not isinstance(data, dict):
        raise RequestError("the payload is a JSON {}, not an object".format(type(data).__name__))
    return data


def _decode_digest(hash_type: str, value: Any) -> str:
    try:
        return digest_from_base64(hash_type, value)
    except WireFormatError as error:
        raise RequestError(str(error)) from None


def _parse_hashes(request: Mapping[str, Any], allowed: Tuple[str, ...]) -> Dict[str, str]:
    try:
        return hashes_from_wire_strict(request.get("hashes"), allowed)
    except WireFormatError as error:
        raise RequestError(str(error)) from None


def _parse_public_key(request: Mapping[str, Any]) -> Optional[str]:
    for key in ("publicKeySha1", "certPublicKeySha1"):
        value = request.get(key)
        if value is not None and value != "":
            try:
                return _decode_digest(HashType.SHA1, value)
            except RequestError as error:
                raise RequestError("{}: {}".format(key, error.message))
    return None


def _parse_trust_level(request: Mapping[str, Any]) -> int:
    trust_level = request.get("trustLevel")
    if not isinstance(trust_level, int) or isinstance(trust_level, bool) \
            or trust_level not in _TRUST_LEVELS:
        raise RequestError("'trustLevel' must be one of the TrustLevel values {}, got {!r}".format(
            sorted(_TRUST_LEVELS), trust_level))
    return trust_level


def _check_provider(request: Mapping[str, Any], expected: int) -> None:
    provider_id = request.get("providerId", expected)
    if isinstance(provider_id, bool) or provider_id != expected:
        raise RequestError("'providerId' must be {} on this topic, got {!r}".format(
            expected, provider_id))


def _parse_text(request: Mapping[str, Any], key: str) -> str:
    value = request.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise RequestError("'{}' must be a string, got {!r}".format(key, value))
    return value


def _parse_query_limit(request: Mapping[str, Any]) -> int:
    query_limit = request.get("queryLimit", DEFAULT_QUERY_LIMIT)
    if isinstance(query_limit, bool) or not isinstance(query_limit, int) or query_limit < 1:
        raise RequestError("'queryLimit' must be an integer from 1 to {}, got {!r}".format(
            MAX_QUERY_LIMIT, query_limit))
    return min(query_limit, MAX_QUERY_LIMIT)


class TieService:
    """
    The TIE request topics and the external report over a :class:`~.store.Store`.

    Every public method is thread-safe (the store serialises them).

    :param store: the store
    :param clock: the source of "now" in epoch seconds; the store's clock when ``None``
    :param prevalence_threshold: the number of distinct systems from which a file is prevalent
        (its last prevalence event says ``prevalent: true``, and none follows). ``None``: the
        environment variable :data:`PREVALENCE_THRESHOLD_ENV`, else
        :data:`DEFAULT_PREVALENCE_THRESHOLD`
    """

    def __init__(self, store: Store, clock: Optional[Callable[[], float]] = None,
                 prevalence_threshold: Optional[int] = None) -> None:
        self._store = store
        self._clock = clock or store.now
        if prevalence_threshold is None:
            prevalence_threshold = int(os.environ.get(PREVALENCE_THRESHOLD_ENV, "0") or 0) \
                or DEFAULT_PREVALENCE_THRESHOLD
        if prevalence_threshold < 1:
            raise ValueError("prevalence_threshold must be >= 1, not {}".format(
                prevalence_threshold))
        #: The number of distinct systems from which a file is prevalent.
        self.prevalence_threshold = prevalence_threshold
        self._handlers: Dict[str, Callable[[Dict[str, Any], Caller], _Result]] = {
            TOPIC_GET_FILE_REPUTATION: self._get_file_reputation,
            TOPIC_SET_FILE_REPUTATION: self._set_file_reputation,
            TOPIC_GET_FILE_FIRST_REFS: self._get_file_first_refs,
            TOPIC_GET_CERT_REPUTATION: self._get_cert_reputation,
            TOPIC_SET_CERT_REPUTATION: self._set_cert_reputation,
            TOPIC_GET_CERT_FIRST_REFS: self._get_cert_first_refs,
            TOPIC_GET_REPUTATION_UPDATES: self._get_reputation_updates,
            TOPIC_UPDATE_FILE_METADATA: self._update_file_metadata,
            TOPIC_UPDATE_CERT_METADATA: self._update_cert_metadata,
        }

    @property
    def store(self) -> Store:
        """The store the service works on."""
        return self._store

    def _now(self) -> int:
        return int(self._clock())

    def handle_request(self, topic: str, payload: Any, requester: Optional[str],
                       client_id: Optional[str] = None) -> Outcome:
        """
        Handles one request.

        :param topic: the request's destination topic (one of :data:`REQUEST_TOPICS`)
        :param payload: the request's payload (UTF-8 JSON bytes)
        :param requester: the requesting system's agent GUID (see
            :func:`agent_guid_from_reply_topic`), or ``None`` when unknown: no reference is
            recorded then
        :param client_id: the requesting client's id for targeted events (see
            :func:`client_id_of`), or ``None`` when unknown: the client gets no targeted events
        :return: the response payload or error, and the events to publish. Never raises: an
            unexpected exception is logged and answered with :data:`ERROR_INTERNAL`. For the
            topics of :data:`NO_REPLY_TOPICS` the outcome has ``no_reply`` set, and a malformed
            request is logged and ignored.
        """
        handler = self._handlers.get(topic)
        if handler is None:
            message = "Invalid TIE request: unknown topic {}".format(topic)
            logger.warning(message)
            return Outcome(error=(ERROR_INVALID_REQUEST, message))
        no_reply = topic in NO_REPLY_TOPICS
        try:
            request = _parse_object(payload)
            response, to_publish = handler(request, Caller(requester, client_id))
            return Outcome(response=encode_json(response), no_reply=no_reply,
                           events=_encoded(to_publish))
        except RequestError as error:
            message = "Invalid TIE request on {}: {}".format(topic, error.message)
            if no_reply:
                logger.warning("Ignoring a malformed request: %s (payload %r)", message,
                               _preview(payload))
            else:
                logger.info("%s (payload %r)", message, _preview(payload))
            return Outcome(error=(error.code, message), no_reply=no_reply)
        except Exception:  # noqa: BLE001 - never let a bug escape into dxlclient's threads
            logger.exception("TIE emulator failed to handle a request on %s (payload %r)",
                             topic, _preview(payload))
            return Outcome(error=(ERROR_INTERNAL,
                                  "TIE emulator internal error on {}".format(topic)),
                           no_reply=no_reply)

    def handle_external_report(self, payload: Any) -> List[EventMessage]:
        """
        Handles one external report event (topic :data:`TOPIC_EXTERNAL_FILE_REPORT`): stores
        the External (15) reputation ``file.reputation.score`` of the file ``file.hashes`` and
        returns the reputation change events to publish (targeted at the clients that looked the
        file up, if any, then broadcast). A report without a file name is ignored, as TIE does;
        the comment is not stored. A malformed report is logged and ignored.

        :param payload: the event's payload (UTF-8 JSON bytes)
        :return: the events to publish (none when the report was ignored). Never raises.
        """
        try:
            return _encoded(self._external_report(_parse_object(payload)))
        except RequestError as error:
            logger.warning("Ignoring a malformed external report: %s (payload %r)",
                           error.message, _preview(payload))
        except Exception:  # noqa: BLE001 - never let a bug escape into dxlclient's threads
            logger.exception("TIE emulator failed to handle an external report (payload %r)",
                             _preview(payload))
        return []

    # -----------------------------------------------------------------------------------------
    # Files
    # -----------------------------------------------------------------------------------------

    def _file_for(self, hashes: Mapping[str, str], now: int) -> Tuple[int, bool]:
        """Finds or creates (with its initial reputations) the file; merges the hashes."""
        store = self._store
        found = store.lookup_file(hashes)
        if found is None:
            file_id = store.add_file(hashes)
            for provider_id, trust, created, attributes in seed.new_file_reputations(now):
                store.put_file_reputation(file_id, provider_id, trust, created, attributes)
            return file_id, True
        file_id, known = found
        if any(known.get(hash_type) != value for hash_type, value in hashes.items()):
            store.merge_file_hashes(file_id, hashes)
        return file_id, False

    def _get_file_reputation(self, request: Dict[str, Any], caller: Caller) -> _Result:
        hashes = _parse_hashes(request, FILE_HASH_TYPES)
        now = self._now()
        to_publish: List[_Publish] = []
        store = self._store
        requester = caller.agent_guid
        with store.transaction():
            file_id, created = self._file_for(hashes, now)
            if caller.client_id:
                store.add_requester(FILE, file_id, caller.client_id)
            if created:
                to_publish.append((TOPIC_FILE_FIRST_INSTANCE, events.first_instance_event(
                    store.file_hashes(file_id), requester or "", store.file_name(file_id)), ()))
            if requester and store.add_file_reference(file_id, requester, now):
                to_publish.extend(self._prevalence(file_id, requester, now))
            reputations = store.file_reputations(file_id)
        return ({"props": {"serverTime": now, "submitMetaData": 1},
                 "reputations": reputations}, to_publish)

    def _prevalence(self, file_id: int, agent_guid: str, now: int) -> List[_Publish]:
        """The prevalence event for a file a new system looked up, until it is prevalent."""
        store = self._store
        if store.prevalent_since(file_id) is not None:
            return []
        count = store.reference_count(FILE, file_id)
        if count - 1 >= self.prevalence_threshold:  # prevalent already (seeded data)
            store.mark_prevalent(file_id, now)
            return []
        prevalent = count >= self.prevalence_threshold
        if prevalent:
            store.mark_prevalent(file_id, now)
        return [(TOPIC_FILE_PREVALENCE, events.prevalence_event(
            store.file_hashes(file_id), agent_guid, now, count, prevalent), ())]

    def _set_file_reputation(self, request: Dict[str, Any], caller: Caller) -> _Result:
        trust_level = _parse_trust_level(request)
        _check_provider(request, FileProvider.ENTERPRISE)
        filename = _parse_text(request, "filename")
        _parse_text(request, "comment")
        hashes = _parse_hashes(request, FILE_HASH_TYPES)
        now = self._now()
        with self._store.transaction():
            file_id, _ = self._file_for(hashes, now)
            to_publish = self._change_file_reputation(file_id, FileProvider.ENTERPRISE,
                                                      trust_level, filename, now)
        return {}, to_publish

    def _change_file_reputation(self, file_id: int, provider_id: int, trust_level: int,
                                filename: str, now: int) -> List[_Publish]:
        store = self._store
        if filename:
            store.set_file_name(file_id, filename)
        old = store.file_reputations(file_id)
        current = store.file_reputation(file_id, provider_id)
        if current is not None:
            attributes = current["attributes"]
        elif provider_id == FileProvider.ENTERPRISE:
            attributes = seed.new_file_enterprise_attributes(now)
        else:
            attributes = {}
        store.put_file_reputation(file_id, provider_id, trust_level, now, attributes)
        store.log_change(FILE, file_id, now)
        new = store.file_reputations(file_id)
        cert_sha1: Optional[str] = None
        cert_public_key: Optional[str] = None
        cert_id = store.file_certificate(file_id)
        if cert_id is not None:
            cert_sha1, cert_public_key = store.certificate_hashes(cert_id)
        event = events.file_reputation_change_event(
            store.file_hashes(file_id), old, new, now, cert_sha1, cert_public_key)
        return _with_targeted(TOPIC_FILE_REPUTATION_CHANGE, TOPIC_FILE_REPUTATION_CHANGE_TARGETED,
                              event, store.requesters(FILE, file_id))

    def _get_file_first_refs(self, request: Dict[str, Any], caller: Caller) -> _Result:
        query_limit = _parse_query_limit(request)
        hashes = _parse_hashes(request, FILE_HASH_TYPES)
        store = self._store
        with store.transaction():
            file_id = store.find_file(hashes)
            total, agents = (0, []) if file_id is None else store.file_references(
                file_id, query_limit)
        return {"totalCount": total, "agents": agents}, []

    def _external_report(self, report: Dict[str, Any]) -> List[_Publish]:
        file_info = report.get("file")
        if not isinstance(file_info, dict):
            raise RequestError("'file' must be an object")
        provider = report.get("provider")
        provider_id = provider.get("id") if isinstance(provider, dict) else None
        if isinstance(provider_id, bool) or provider_id != FileProvider.EXTERNAL:
            raise RequestError("'provider.id' must be {}, got {!r}".format(
                FileProvider.EXTERNAL, provider_id))
        raw_hashes = file_info.get("hashes")
        if not isinstance(raw_hashes, dict) or not raw_hashes:
            raise RequestError("'file.hashes' must be a non-empty {type: hex} object")
        hashes: Dict[str, str] = {}
        for hash_type, value in raw_hashes.items():
            try:
                check_hash(hash_type, value, allow_bytes=False)
            except ValueError as error:
                raise RequestError(str(error))
            hashes[hash_type] = value.lower()
        reputation = file_info.get("reputation")
        score = reputation.get("score") if isinstance(reputation, dict) else None
        trust_level = _parse_trust_level({"trustLevel": score})
        attributes = file_info.get("attributes")
        filename = attributes.get("filename") if isinstance(attributes, dict) else None
        if filename is not None and not isinstance(filename, str):
            raise RequestError("'file.attributes.filename' must be a string")
        if not filename:
            logger.info("TIE ignores external reports without a filename (hashes %s)", hashes)
            return []
        now = self._now()
        with self._store.transaction():
            file_id, _ = self._file_for(hashes, now)
            return self._change_file_reputation(file_id, FileProvider.EXTERNAL, trust_level,
                                                filename, now)

    # -----------------------------------------------------------------------------------------
    # Certificates
    # -----------------------------------------------------------------------------------------

    def _cert_for(self, sha1: str, public_key_sha1: Optional[str], now: int) -> int:
        store = self._store
        cert_id = store.find_certificate(sha1)
        if cert_id is None:
            cert_id = store.add_certificate(sha1, public_key_sha1)
            for provider_id, trust, created, attributes in seed.new_cert_reputations(now):
                store.put_cert_reputation(cert_id, provider_id, trust, created, attributes)
        elif public_key_sha1:
            store.set_certificate_public_key(cert_id, public_key_sha1)
        return cert_id

    def _get_cert_reputation(self, request: Dict[str, Any], caller: Caller) -> _Result:
        sha1 = _parse_hashes(request, (HashType.SHA1,))[HashType.SHA1]
        public_key_sha1 = _parse_public_key(request)
        now = self._now()
        store = self._store
        with store.transaction():
            cert_id = self._cert_for(sha1, public_key_sha1, now)
            if caller.agent_guid:
                store.add_cert_reference(cert_id, caller.agent_guid, now)
            if caller.client_id:
                store.add_requester(CERT, cert_id, caller.client_id)
            reputations = wire_reputations(store.cert_reputations(cert_id))
        return ({"props": {"serverTime": now, "submitMetaData": 1},
                 "reputations": reputations}, [])

    def _set_cert_reputation(self, request: Dict[str, Any], caller: Caller) -> _Result:
        trust_level = _parse_trust_level(request)
        _check_provider(request, CertProvider.ENTERPRISE)
        _parse_text(request, "comment")
        sha1 = _parse_hashes(request, (HashType.SHA1,))[HashType.SHA1]
        public_key_sha1 = _parse_public_key(request)
        now = self._now()
        store = self._store
        with store.transaction():
            cert_id = self._cert_for(sha1, public_key_sha1, now)
            old = wire_reputations(store.cert_reputations(cert_id))
            current = store.cert_reputation(cert_id, CertProvider.ENTERPRISE)
            attributes = (current["attributes"] if current is not None
                          else seed.new_cert_enterprise_attributes(now))
            store.put_cert_reputation(cert_id, CertProvider.ENTERPRISE, trust_level, now,
                                      attributes)
            store.log_change(CERT, cert_id, now)
            new = wire_reputations(store.cert_reputations(cert_id))
            known_sha1, known_public_key = store.certificate_hashes(cert_id)
            requesters = store.requesters(CERT, cert_id)
        event = events.cert_reputation_change_event(known_sha1, known_public_key, old, new, now)
        return {}, _with_targeted(TOPIC_CERT_REPUTATION_CHANGE,
                                  TOPIC_CERT_REPUTATION_CHANGE_TARGETED, event, requesters)

    def _get_cert_first_refs(self, request: Dict[str, Any], caller: Caller) -> _Result:
        query_limit = _parse_query_limit(request)
        sha1 = _parse_hashes(request, (HashType.SHA1,))[HashType.SHA1]
        _parse_public_key(request)
        store = self._store
        with store.transaction():
            cert_id = store.find_certificate(sha1)
            total, agents = (0, []) if cert_id is None else store.cert_references(
                cert_id, query_limit)
        return {"totalCount": total, "agents": agents}, []

    # -----------------------------------------------------------------------------------------
    # Reputation updates and metadata (issue #10)
    # -----------------------------------------------------------------------------------------

    def _get_reputation_updates(self, request: Dict[str, Any], caller: Caller) -> _Result:
        try:
            query = updates.parse_request(request)
        except WireFormatError as error:
            raise RequestError(str(error)) from None
        with self._store.transaction():
            response = updates.answer(self._store, query, caller.client_id,
                                      self.prevalence_threshold, self._now())
        return response, []

    def _update_file_metadata(self, request: Dict[str, Any], caller: Caller) -> _Result:
        hashes = _parse_hashes(request, FILE_HASH_TYPES)
        fields = _parse_metadata(request, updates.FILE_METADATA)
        now = self._now()
        with self._store.transaction():
            file_id, _ = self._file_for(hashes, now)
            self._store.add_metadata(FILE, file_id, now, caller.client_id or "", fields)
        return {}, []

    def _update_cert_metadata(self, request: Dict[str, Any], caller: Caller) -> _Result:
        sha1 = _parse_hashes(request, (HashType.SHA1,))[HashType.SHA1]
        fields = _parse_metadata(request, updates.CERT_METADATA)
        public_key = request.get("publicKeySha1")
        now = self._now()
        with self._store.transaction():
            cert_id = self._cert_for(
                sha1, _decode_digest(HashType.SHA1, public_key) if public_key else None, now)
            self._store.add_metadata(CERT, cert_id, now, caller.client_id or "", fields)
        return {}, []


def _parse_metadata(request: Mapping[str, Any], kinds: Mapping[str, str]) -> Dict[str, Any]:
    try:
        return updates.check_metadata(request, kinds)
    except WireFormatError as error:
        raise RequestError(str(error)) from None


def _encoded(to_publish: List[_Publish]) -> List[EventMessage]:
    """The events' payloads encoded; a targeted one's as a :class:`TargetedPayload`."""
    return [(topic, TargetedPayload(encode_json(event), ids) if ids else encode_json(event))
            for topic, event, ids in to_publish]


def _with_targeted(broadcast_topic: str, targeted_topic: str, event: Dict[str, Any],
                   requesters: List[str]) -> List[_Publish]:
    """The broadcast event, and the same payload targeted at the requesters (if any)."""
    to_publish: List[_Publish] = []
    if requesters:
        to_publish.append((targeted_topic, event, tuple(requesters)))
    to_publish.append((broadcast_topic, event, ()))
    return to_publish


def wire_reputations(reputations: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """
    Shapes the store's reputations for the wire: the hashes of the files in a certificate
    reputation's ``overridden`` object become TIE's hash lists.

    :param reputations: reputations as :meth:`~.store.Store.cert_reputations` returns them
    :return: the same list, converted in place
    """
    for reputation in reputations:
        overridden = reputation.get("overridden")
        if overridden is not None:
            for file_entry in overridden.get("files", []):
                file_entry["hashes"] = hashes_to_wire(file_entry["hashes"])
    return reputations


def _preview(payload: Any, limit: int = 200) -> Any:
    if isinstance(payload, (bytes, bytearray, str)) and len(payload) > limit:
        return payload[:limit]
    return payload
