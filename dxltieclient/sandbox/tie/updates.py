"""
The emulator's answers to the reputation-updates query and its checks of metadata updates (the
part of the TIE Server API added by issue #10). Pure functions over the store; the service calls
them inside a store transaction.

Reputation updates (``/mcafee/service/tie/reputation/updates``), as the emulator defines what the
schema leaves open:

* the change log has one row per reputation change (set requests, external reports); a file or
  certificate is listed **once**, with its latest change, when that change is at or after
  ``sinceTime`` (inclusive: a client that asks again from the ``serverTime`` or
  ``latestUpdateTime`` it was given loses nothing made in that same second);
* the listed subjects are ordered by that time (files before certificates at the same second,
  then by age); ``queryLimit`` (1 to 5000, default 100) caps files and certificates together;
* when more subjects are left, the response carries ``props: {"serverTime": <now>,
  "queryLimitExceeded": true}``; ``latestUpdateTime`` is the time of the last listed subject
  (absent when nothing is listed). The next page is asked from ``latestUpdateTime``: the subjects
  of that second come again and the client drops those it already has
  (:meth:`dxltieclient.client.TieClient.iter_reputation_updates`);
* ``targeted``: only the subjects the requesting client looked up, or that are prevalent
  (referenced by at least the service's prevalence threshold of systems);
* ``targetTypes``: only the subjects it names, each file listed by the hash type it asks for when
  the file is known by it, else by its SHA-1, MD5 or SHA-256 (in that order, the schema's default
  choice); an omitted or empty ``targetTypes`` lists both kinds with the default choice.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Tuple

from ..._wire import (
    CERT_METADATA_KINDS,
    DEFAULT_UPDATES_QUERY_LIMIT,
    FILE_METADATA_KINDS,
    MAX_UPDATES_QUERY_LIMIT,
    UPDATES_TARGET_HASH_TYPES,
    WireFormatError,
    digest_from_base64,
    hashes_to_wire,
)
from ...constants import HashType
from .store import CERT, FILE, Store

#: The metadata fields of a file update and their kinds.
FILE_METADATA: Mapping[str, str] = FILE_METADATA_KINDS
#: The metadata fields of a certificate update and their kinds.
CERT_METADATA: Mapping[str, str] = CERT_METADATA_KINDS

_DEFAULT_FILE_HASH_ORDER = (HashType.SHA1, HashType.MD5, HashType.SHA256)


class UpdatesQuery(NamedTuple):
    """A parsed reputation-updates request."""

    since: int
    limit: int
    targeted: bool
    #: The subjects asked for, with the hash type wanted (``None``: the default choice).
    subjects: Dict[str, Optional[str]]


def _plain_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parse_request(request: Mapping[str, Any]) -> UpdatesQuery:
    """
    Checks a reputation-updates request.

    :param request: the parsed payload
    :return: the query
    :raises WireFormatError: naming the bad member
    """
    since = request.get("sinceTime", 0)
    if not _plain_int(since) or since < 0:
        raise WireFormatError("'sinceTime' must be an integer >= 0, got {!r}".format(since))
    limit = request.get("queryLimit", DEFAULT_UPDATES_QUERY_LIMIT)
    if not _plain_int(limit) or not 1 <= limit <= MAX_UPDATES_QUERY_LIMIT:
        raise WireFormatError("'queryLimit' must be an integer from 1 to {}, got {!r}".format(
            MAX_UPDATES_QUERY_LIMIT, limit))
    targeted = request.get("targeted", False)
    if not isinstance(targeted, bool):
        raise WireFormatError("'targeted' must be true or false, got {!r}".format(targeted))
    return UpdatesQuery(since, limit, targeted, _parse_target_types(request.get("targetTypes")))


def _parse_target_types(target_types: Any) -> Dict[str, Optional[str]]:
    if target_types is None or target_types == {}:
        return {FILE: None, CERT: None}
    if not isinstance(target_types, dict):
        raise WireFormatError("'targetTypes' must be an object, got {!r}".format(target_types))
    subjects: Dict[str, Optional[str]] = {}
    for subject, hash_type in target_types.items():
        choices = UPDATES_TARGET_HASH_TYPES.get(subject)
        if choices is None:
            raise WireFormatError("unknown 'targetTypes' member {!r}: expected 'file' or "
                                  "'cert'".format(subject))
        if hash_type not in choices:
            raise WireFormatError("'targetTypes.{}' must be one of {}, got {!r}".format(
                subject, ", ".join(choices), hash_type))
        subjects[subject] = hash_type
    return subjects


def _wanted(store: Store, query: UpdatesQuery, client_id: Optional[str], threshold: int,
            row: Tuple[str, int, int]) -> bool:
    subject, subject_id, _ = row
    if subject not in query.subjects:
        return False
    if not query.targeted:
        return True
    return (client_id is not None and client_id in store.requesters(subject, subject_id)) \
        or store.reference_count(subject, subject_id) >= threshold


def _file_hash(hashes: Mapping[str, str], wanted: Optional[str]) -> Dict[str, str]:
    order = ((wanted,) if wanted else ()) + _DEFAULT_FILE_HASH_ORDER
    hash_type = next(hash_type for hash_type in order if hash_type in hashes)
    return hashes_to_wire({hash_type: hashes[hash_type]})[0]


def answer(store: Store, query: UpdatesQuery, client_id: Optional[str], threshold: int,
           now: int) -> Dict[str, Any]:
    """
    Answers a reputation-updates request from the change log (see the module docstring).

    :param store: the store (the caller holds a transaction)
    :param query: the parsed request
    :param client_id: the requesting client (for ``targeted``), or ``None``
    :param threshold: the number of systems from which a subject is prevalent
    :param now: the server time
    :return: the response object
    """
    rows = [row for row in store.changed_since(query.since)
            if _wanted(store, query, client_id, threshold, row)]
    page = rows[:query.limit]
    files: List[Dict[str, str]] = []
    certificates: List[Dict[str, str]] = []
    for subject, subject_id, _ in page:
        if subject == FILE:
            files.append(_file_hash(store.file_hashes(subject_id), query.subjects[FILE]))
        else:
            sha1, _key = store.certificate_hashes(subject_id)
            certificates.extend(hashes_to_wire({HashType.SHA1: sha1}))
    response: Dict[str, Any] = {}
    if len(rows) > query.limit:
        response["props"] = {"serverTime": now, "queryLimitExceeded": True}
    if FILE in query.subjects:
        response["fileHashes"] = files
    if CERT in query.subjects:
        response["certificateHashes"] = certificates
    if page:
        response["latestUpdateTime"] = page[-1][2]
    return response


def _check_value(name: str, kind: str, value: Any) -> Any:
    """Checks one received metadata value; returns it as stored (SHA-1 values in hex)."""
    if kind == "b64sha1":
        return digest_from_base64(HashType.SHA1, value)
    good = {"str": isinstance(value, str), "int": _plain_int(value),
            "bool": isinstance(value, bool) or (_plain_int(value) and value in (0, 1)),
            "strint": isinstance(value, str) or _plain_int(value)}[kind]
    if not good:
        raise WireFormatError("metadata field {!r} must be of kind {}, got {!r}".format(
            name, kind, value if not isinstance(value, str) else value[:80]))
    return value


def check_metadata(request: Mapping[str, Any], kinds: Mapping[str, str]) -> Dict[str, Any]:
    """
    Checks the fields of a metadata update (everything but ``hashes``).

    :param request: the parsed payload
    :param kinds: the fields allowed and their kinds (:data:`FILE_METADATA` or
        :data:`CERT_METADATA`)
    :return: the fields to store: ``null`` ones left out, SHA-1 values in hex
    :raises WireFormatError: for an unknown field or a value of the wrong kind
    """
    fields: Dict[str, Any] = {}
    for name, value in request.items():
        if name == "hashes":
            continue
        kind = kinds.get(name)
        if kind is None:
            raise WireFormatError("unknown metadata field {!r}".format(str(name)[:80]))
        if value is not None:
            fields[name] = _check_value(name, kind, value)
    return fields
