"""
The TIE service over the store: the six request topics and the external report event, as pure-ish
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

Errors: a malformed request gets an error response with code :data:`ERROR_INVALID_REQUEST`
(400) and a message naming the problem; nothing is changed in the store. Malformed includes JSON
nested too deeply to parse and text (a file name, a comment) that is not valid Unicode (a lone
surrogate escape such as ``"\\ud800"``). Messages and log lines quote at most
:data:`QUOTE_LIMIT` characters of a bad value (:func:`quote`), and an error message is at most
:data:`MESSAGE_LIMIT` characters long. An unexpected failure
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

import base64
import binascii
import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from ..._wire import (
    HASH_HEX_LENGTHS,
    check_hash,
    constant_values,
    decode_json,
    encode_json,
)
from ...constants import CertProvider, FileProvider, HashType, TrustLevel
from . import events, seed
from .store import FILE_HASH_TYPES, Store

logger = logging.getLogger(__name__)

#: Request topic: set a file's Enterprise reputation.
TOPIC_SET_FILE_REPUTATION = "/mcafee/service/tie/file/reputation/set"
#: Request topic: look up a file's reputations.
TOPIC_GET_FILE_REPUTATION = "/mcafee/service/tie/file/reputation"
#: Request topic: set a certificate's Enterprise reputation.
TOPIC_SET_CERT_REPUTATION = "/mcafee/service/tie/cert/reputation/set"
#: Request topic: look up a certificate's reputations.
TOPIC_GET_CERT_REPUTATION = "/mcafee/service/tie/cert/reputation"
#: Request topic: the systems that referenced a file.
TOPIC_GET_FILE_FIRST_REFS = "/mcafee/service/tie/file/agents"
#: Request topic: the systems that referenced a certificate.
TOPIC_GET_CERT_FIRST_REFS = "/mcafee/service/tie/cert/agents"
#: Event topic (subscribed): external reputation reports.
TOPIC_EXTERNAL_FILE_REPORT = "/mcafee/event/external/file/report"
#: Event topic (published): file reputation changes.
TOPIC_FILE_REPUTATION_CHANGE = "/mcafee/event/tie/file/repchange/broadcast"
#: Event topic (published): certificate reputation changes.
TOPIC_CERT_REPUTATION_CHANGE = "/mcafee/event/tie/cert/repchange/broadcast"
#: Event topic (published): a file seen for the first time.
TOPIC_FILE_FIRST_INSTANCE = "/mcafee/event/tie/file/firstinstance"
#: Event topic (published by :mod:`dxltieclient.sandbox` on demand): detections.
TOPIC_FILE_DETECTION = "/mcafee/event/tie/file/detection"

#: The six request topics the service registers.
REQUEST_TOPICS: Tuple[str, ...] = (
    TOPIC_SET_FILE_REPUTATION, TOPIC_GET_FILE_REPUTATION, TOPIC_SET_CERT_REPUTATION,
    TOPIC_GET_CERT_REPUTATION, TOPIC_GET_FILE_FIRST_REFS, TOPIC_GET_CERT_FIRST_REFS)

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

#: The longest prefix of a bad value quoted in an error message or a log line.
QUOTE_LIMIT = 100
#: The longest error message the emulator answers or logs.
MESSAGE_LIMIT = 1000

_REPLY_TO_PREFIX = "/mcafee/client/"
_DIGEST_SIZES = {hash_type: length // 2 for hash_type, length in HASH_HEX_LENGTHS.items()}
_TRUST_LEVELS = frozenset(constant_values(TrustLevel).values())

#: An event to publish: topic and payload bytes.
EventMessage = Tuple[str, bytes]
#: What a handler returns: the response object and the events (topic, payload object).
_Result = Tuple[Dict[str, Any], List[Tuple[str, Dict[str, Any]]]]


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
    #: The events to publish (topic, payload).
    events: List[EventMessage] = field(default_factory=list)


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


def quote(value: Any, limit: int = QUOTE_LIMIT) -> str:
    """
    Quotes a value for an error message or a log line: its ``repr``, cut to ``limit``
    characters, followed by its full length when cut.

    :param value: any value (from a request)
    :param limit: the most characters of its ``repr`` to keep
    :return: e.g. ``'abc'``, or ``'aaaa…(10000002 chars)`` when cut
    """
    try:
        text = repr(value)
    except RecursionError:
        return "<a deeply nested {}>".format(type(value).__name__)
    if len(text) <= limit:
        return text
    return "{}…({} chars)".format(text[:limit], len(text))


def bounded(message: str, limit: int = MESSAGE_LIMIT) -> str:
    """
    :param message: an error message
    :param limit: the most characters to keep
    :return: the message, cut to ``limit`` characters (with its full length) when longer
    """
    if len(message) <= limit:
        return message
    return "{}…({} chars)".format(message[:limit], len(message))


# ---------------------------------------------------------------------------------------------
# Request parsing: each raises RequestError with a message naming the problem.
# ---------------------------------------------------------------------------------------------

def _parse_object(payload: Any) -> Dict[str, Any]:
    try:
        data = decode_json(payload)
    except RecursionError:
        raise RequestError("the payload nests JSON arrays or objects too deeply")
    except (ValueError, TypeError, AttributeError):
        raise RequestError("the payload is not UTF-8 JSON")
    if not isinstance(data, dict):
        raise RequestError("the payload is a JSON {}, not an object".format(type(data).__name__))
    return data


def _decode_digest(hash_type: str, value: Any) -> str:
    if not isinstance(value, str):
        raise RequestError("the value of the {} hash must be a base64 string, got {}".format(
            hash_type, quote(value)))
    try:
        digest = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise RequestError("the value of the {} hash is not valid base64: {}".format(
            hash_type, quote(value)))
    if len(digest) != _DIGEST_SIZES[hash_type]:
        raise RequestError("the {} hash {} is {} bytes long, expected {}".format(
            hash_type, quote(value), len(digest), _DIGEST_SIZES[hash_type]))
    return binascii.hexlify(digest).decode("ascii")


def _parse_hashes(request: Mapping[str, Any], allowed: Tuple[str, ...]) -> Dict[str, str]:
    hash_list = request.get("hashes")
    if not isinstance(hash_list, list) or not hash_list:
        raise RequestError("'hashes' must be a non-empty list of {\"type\", \"value\"} objects")
    hashes: Dict[str, str] = {}
    for entry in hash_list:
        if not isinstance(entry, dict) or "type" not in entry or "value" not in entry:
            raise RequestError("each entry of 'hashes' must be an object with 'type' and "
                               "'value', got {}".format(quote(entry)))
        hash_type = entry["type"]
        if not isinstance(hash_type, str) or hash_type not in allowed:
            raise RequestError("unknown hash type {}: expected {}".format(
                quote(hash_type), " or ".join(allowed)))
        hashes[hash_type] = _decode_digest(hash_type, entry["value"])
    return hashes


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
        raise RequestError("'trustLevel' must be one of the TrustLevel values {}, got {}".format(
            sorted(_TRUST_LEVELS), quote(trust_level)))
    return trust_level


def _check_provider(request: Mapping[str, Any], expected: int) -> None:
    provider_id = request.get("providerId", expected)
    if isinstance(provider_id, bool) or provider_id != expected:
        raise RequestError("'providerId' must be {} on this topic, got {}".format(
            expected, quote(provider_id)))


def _parse_text(request: Mapping[str, Any], key: str) -> str:
    value = request.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise RequestError("'{}' must be a string, got {}".format(key, quote(value)))
    return _check_text(key, value)


def _check_text(key: str, value: str) -> str:
    """Refuses text the store cannot hold: a lone surrogate (from a ``\\ud800`` escape)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise RequestError("'{}' is not valid Unicode text: it holds a lone surrogate "
                           "(an unpaired \\ud800-\\udfff escape): {}".format(key, quote(value)))
    return value


def _parse_query_limit(request: Mapping[str, Any]) -> int:
    query_limit = request.get("queryLimit", DEFAULT_QUERY_LIMIT)
    if isinstance(query_limit, bool) or not isinstance(query_limit, int) or query_limit < 1:
        raise RequestError("'queryLimit' must be an integer from 1 to {}, got {}".format(
            MAX_QUERY_LIMIT, quote(query_limit)))
    return min(query_limit, MAX_QUERY_LIMIT)


class TieService:
    """
    The TIE request topics and the external report over a :class:`~.store.Store`.

    Every public method is thread-safe (the store serialises them).

    :param store: the store
    :param clock: the source of "now" in epoch seconds; the store's clock when ``None``
    """

    def __init__(self, store: Store, clock: Optional[Callable[[], float]] = None) -> None:
        self._store = store
        self._clock = clock or store.now
        self._handlers: Dict[str, Callable[[Dict[str, Any], Optional[str]], _Result]] = {
            TOPIC_GET_FILE_REPUTATION: self._get_file_reputation,
            TOPIC_SET_FILE_REPUTATION: self._set_file_reputation,
            TOPIC_GET_FILE_FIRST_REFS: self._get_file_first_refs,
            TOPIC_GET_CERT_REPUTATION: self._get_cert_reputation,
            TOPIC_SET_CERT_REPUTATION: self._set_cert_reputation,
            TOPIC_GET_CERT_FIRST_REFS: self._get_cert_first_refs,
        }

    @property
    def store(self) -> Store:
        """The store the service works on."""
        return self._store

    def _now(self) -> int:
        return int(self._clock())

    def handle_request(self, topic: str, payload: Any, requester: Optional[str]) -> Outcome:
        """
        Handles one request.

        :param topic: the request's destination topic (one of :data:`REQUEST_TOPICS`)
        :param payload: the request's payload (UTF-8 JSON bytes)
        :param requester: the requesting system's agent GUID (see
            :func:`agent_guid_from_reply_topic`), or ``None`` when unknown: no reference is
            recorded then
        :return: the response payload or error, and the events to publish. Never raises: an
            unexpected exception is logged and answered with :data:`ERROR_INTERNAL`.
        """
        handler = self._handlers.get(topic)
        if handler is None:
            message = "Invalid TIE request: unknown topic {}".format(quote(topic))
            logger.warning(message)
            return Outcome(error=(ERROR_INVALID_REQUEST, message))
        try:
            request = _parse_object(payload)
            response, to_publish = handler(request, requester)
            return Outcome(response=encode_json(response),
                           events=[(event_topic, encode_json(event))
                                   for event_topic, event in to_publish])
        except RequestError as error:
            message = bounded("Invalid TIE request on {}: {}".format(topic, error.message))
            logger.info("%s (payload %s)", message, quote(payload))
            return Outcome(error=(error.code, message))
        except Exception:  # noqa: BLE001 - never let a bug escape into dxlclient's threads
            logger.exception("TIE emulator failed to handle a request on %s (payload %s)",
                             topic, quote(payload))
            return Outcome(error=(ERROR_INTERNAL,
                                  "TIE emulator internal error on {}".format(topic)))

    def handle_external_report(self, payload: Any) -> List[EventMessage]:
        """
        Handles one external report event (topic :data:`TOPIC_EXTERNAL_FILE_REPORT`): stores
        the External (15) reputation ``file.reputation.score`` of the file ``file.hashes`` and
        returns the reputation change event to publish. A report without a file name is
        ignored, as TIE does; the comment is not stored. A malformed report is logged and
        ignored.

        :param payload: the event's payload (UTF-8 JSON bytes)
        :return: the events to publish (none when the report was ignored). Never raises.
        """
        try:
            return [(topic, encode_json(event))
                    for topic, event in self._external_report(_parse_object(payload))]
        except RequestError as error:
            logger.warning("Ignoring a malformed external report: %s (payload %s)",
                           bounded(error.message), quote(payload))
        except Exception:  # noqa: BLE001 - never let a bug escape into dxlclient's threads
            logger.exception("TIE emulator failed to handle an external report (payload %s)",
                             quote(payload))
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

    def _get_file_reputation(self, request: Dict[str, Any],
                             requester: Optional[str]) -> _Result:
        hashes = _parse_hashes(request, FILE_HASH_TYPES)
        now = self._now()
        to_publish: List[Tuple[str, Dict[str, Any]]] = []
        store = self._store
        with store.transaction():
            file_id, created = self._file_for(hashes, now)
            if requester:
                store.add_file_reference(file_id, requester, now)
            reputations = store.file_reputations(file_id)
            if created:
                to_publish.append((TOPIC_FILE_FIRST_INSTANCE, events.first_instance_event(
                    store.file_hashes(file_id), requester or "", store.file_name(file_id))))
        return ({"props": {"serverTime": now, "submitMetaData": 1},
                 "reputations": reputations}, to_publish)

    def _set_file_reputation(self, request: Dict[str, Any],
                             requester: Optional[str]) -> _Result:
        trust_level = _parse_trust_level(request)
        _check_provider(request, FileProvider.ENTERPRISE)
        filename = _parse_text(request, "filename")
        _parse_text(request, "comment")
        hashes = _parse_hashes(request, FILE_HASH_TYPES)
        now = self._now()
        with self._store.transaction():
            file_id, _ = self._file_for(hashes, now)
            event = self._change_file_reputation(file_id, FileProvider.ENTERPRISE, trust_level,
                                                 filename, now)
        return {}, [(TOPIC_FILE_REPUTATION_CHANGE, event)]

    def _change_file_reputation(self, file_id: int, provider_id: int, trust_level: int,
                                filename: str, now: int) -> Dict[str, Any]:
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
        new = store.file_reputations(file_id)
        cert_sha1: Optional[str] = None
        cert_public_key: Optional[str] = None
        cert_id = store.file_certificate(file_id)
        if cert_id is not None:
            cert_sha1, cert_public_key = store.certificate_hashes(cert_id)
        return events.file_reputation_change_event(
            store.file_hashes(file_id), old, new, now, cert_sha1, cert_public_key)

    def _get_file_first_refs(self, request: Dict[str, Any],
                             requester: Optional[str]) -> _Result:
        query_limit = _parse_query_limit(request)
        hashes = _parse_hashes(request, FILE_HASH_TYPES)
        store = self._store
        with store.transaction():
            file_id = store.find_file(hashes)
            total, agents = (0, []) if file_id is None else store.file_references(
                file_id, query_limit)
        return {"totalCount": total, "agents": agents}, []

    def _external_report(self, report: Dict[str, Any]) -> List[Tuple[str, Dict[str, Any]]]:
        file_info = report.get("file")
        if not isinstance(file_info, dict):
            raise RequestError("'file' must be an object")
        provider = report.get("provider")
        provider_id = provider.get("id") if isinstance(provider, dict) else None
        if isinstance(provider_id, bool) or provider_id != FileProvider.EXTERNAL:
            raise RequestError("'provider.id' must be {}, got {}".format(
                FileProvider.EXTERNAL, quote(provider_id)))
        raw_hashes = file_info.get("hashes")
        if not isinstance(raw_hashes, dict) or not raw_hashes:
            raise RequestError("'file.hashes' must be a non-empty {type: hex} object")
        hashes: Dict[str, str] = {}
        for hash_type, value in raw_hashes.items():
            try:
                check_hash(hash_type, value, allow_bytes=False)
            except ValueError as error:
                raise RequestError(bounded(str(error)))
            hashes[hash_type] = value.lower()
        reputation = file_info.get("reputation")
        score = reputation.get("score") if isinstance(reputation, dict) else None
        trust_level = _parse_trust_level({"trustLevel": score})
        attributes = file_info.get("attributes")
        filename = attributes.get("filename") if isinstance(attributes, dict) else None
        if filename is not None and not isinstance(filename, str):
            raise RequestError("'file.attributes.filename' must be a string")
        if filename:
            _check_text("file.attributes.filename", filename)
        if not filename:
            logger.info("TIE ignores external reports without a filename (hashes %s)",
                        quote(hashes, 300))
            return []
        now = self._now()
        with self._store.transaction():
            file_id, _ = self._file_for(hashes, now)
            event = self._change_file_reputation(file_id, FileProvider.EXTERNAL, trust_level,
                                                 filename, now)
        return [(TOPIC_FILE_REPUTATION_CHANGE, event)]

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

    def _get_cert_reputation(self, request: Dict[str, Any],
                             requester: Optional[str]) -> _Result:
        sha1 = _parse_hashes(request, (HashType.SHA1,))[HashType.SHA1]
        public_key_sha1 = _parse_public_key(request)
        now = self._now()
        store = self._store
        with store.transaction():
            cert_id = self._cert_for(sha1, public_key_sha1, now)
            if requester:
                store.add_cert_reference(cert_id, requester, now)
            reputations = store.cert_reputations(cert_id)
        return ({"props": {"serverTime": now, "submitMetaData": 1},
                 "reputations": reputations}, [])

    def _set_cert_reputation(self, request: Dict[str, Any],
                             requester: Optional[str]) -> _Result:
        trust_level = _parse_trust_level(request)
        _check_provider(request, CertProvider.ENTERPRISE)
        _parse_text(request, "comment")
        sha1 = _parse_hashes(request, (HashType.SHA1,))[HashType.SHA1]
        public_key_sha1 = _parse_public_key(request)
        now = self._now()
        store = self._store
        with store.transaction():
            cert_id = self._cert_for(sha1, public_key_sha1, now)
            old = store.cert_reputations(cert_id)
            current = store.cert_reputation(cert_id, CertProvider.ENTERPRISE)
            attributes = (current["attributes"] if current is not None
                          else seed.new_cert_enterprise_attributes(now))
            store.put_cert_reputation(cert_id, CertProvider.ENTERPRISE, trust_level, now,
                                      attributes)
            new = store.cert_reputations(cert_id)
            known_sha1, known_public_key = store.certificate_hashes(cert_id)
        event = events.cert_reputation_change_event(known_sha1, known_public_key, old, new, now)
        return {}, [(TOPIC_CERT_REPUTATION_CHANGE, event)]

    def _get_cert_first_refs(self, request: Dict[str, Any],
                             requester: Optional[str]) -> _Result:
        query_limit = _parse_query_limit(request)
        sha1 = _parse_hashes(request, (HashType.SHA1,))[HashType.SHA1]
        _parse_public_key(request)
        store = self._store
        with store.transaction():
            cert_id = store.find_certificate(sha1)
            total, agents = (0, []) if cert_id is None else store.cert_references(
                cert_id, query_limit)
        return {"totalCount": total, "agents": agents}, []

