"""
The TIE wire format, written down once: pure functions with no I/O.

* validation of what a caller passes (hashes, trust levels, file types, query limits);
* conversions between the caller's hex strings and the base64 values TIE uses on the wire;
* the JSON payload of every request and of the external report event, in TIE's key order;
* the transforms applied to responses and incoming events.

:mod:`dxltieclient.client` and :mod:`dxltieclient.callbacks` use it client side; the sandbox's TIE
emulator uses it server side.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import numbers
import string
import threading
from typing import Any, Dict, Iterable, List, Mapping, Optional, Set, Tuple, Union, cast

from ._errors import InvalidHashError, TieInputError, TieInputTypeError, quote
from .constants import CertProvider, FileProvider, FileType, HashType, TrustLevel

#: A caller's hashes: hash type (``md5``, ``sha1``, ``sha256``) to hexadecimal digest.
Hashes = Mapping[str, Union[str, bytes]]
#: A JSON object as decoded by :func:`json.loads`.
JsonObject = Dict[str, Any]

#: The number of hexadecimal digits of each hash type.
HASH_HEX_LENGTHS: Dict[str, int] = {HashType.MD5: 32, HashType.SHA1: 40, HashType.SHA256: 64}

#: The largest payload the fabric carries: dxlclient's msgpack refuses longer strings, and the
#: broker then drops the message without a word, so the caller would only see a timeout.
MAX_PAYLOAD_BYTES = 1024 * 1024

_HEX_DIGITS = frozenset(string.hexdigits)

# Payload keys, written once.
_HASHES = "hashes"
_REPUTATIONS = "reputations"
_PROVIDER_ID = "providerId"
_PUBLIC_KEY_SHA1 = "publicKeySha1"


def constant_values(constant: type) -> Dict[str, Any]:
    """
    Lists the members of a constants class.

    :param constant: a class of :mod:`dxltieclient.constants`, e.g. ``TrustLevel``
    :return: member name to value, for every upper-case attribute
    """
    known = _KNOWN_CONSTANTS.get(constant)
    if known is not None:
        return dict(known[0])
    return {name: getattr(constant, name) for name in dir(constant) if name.isupper()}


def valid_parameter(constant: type, value: Any) -> bool:
    """
    Tells whether ``value`` equals (``==``) the value of any attribute of ``constant`` whose name
    does not start with two underscores: the original library's membership test.

    :param constant: the class to look in
    :param value: the value to look for
    :return: ``True`` when a member equals ``value``
    """
    known = _KNOWN_CONSTANTS.get(constant)
    if known is not None:
        return any(member == value for member in known[1])
    return any(getattr(constant, name) == value for name in dir(constant)
               if not name.startswith("__"))


def _members(constant: type) -> Tuple[Dict[str, Any], Tuple[Any, ...]]:
    return ({name: getattr(constant, name) for name in dir(constant) if name.isupper()},
            tuple(getattr(constant, name) for name in dir(constant) if not name.startswith("__")))


# The validation tables of the constants the requests check, read once (not at every call): the
# upper-case members (constant_values) and every member valid_parameter compares with, in dir order.
_KNOWN_CONSTANTS: Dict[type, Tuple[Dict[str, Any], Tuple[Any, ...]]] = {
    constant: _members(constant) for constant in (TrustLevel, FileType)}


def _describe_members(constant: type) -> str:
    members = sorted(constant_values(constant).items(), key=lambda item: item[1])
    return ", ".join("{} ({})".format(value, name) for name, value in members)


def _is_plain_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# ---------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------

def check_trust_level(trust_level: Any) -> int:
    """
    Checks a trust level for the ``set_*`` requests.

    :param trust_level: the trust level
    :return: the trust level
    :raises TieInputError: when it is not one of the :class:`TrustLevel` values
    """
    if not _is_plain_int(trust_level) or trust_level not in constant_values(TrustLevel).values():
        raise TieInputError(
            "Unknown trust level {}: use one of the TrustLevel values: {}".format(
                quote(trust_level), _describe_members(TrustLevel)))
    return cast(int, trust_level)


def check_query_limit(query_limit: Any) -> int:
    """
    Checks the ``query_limit`` of a first-references request.

    :param query_limit: the most systems to return
    :return: the query limit
    :raises TieInputError: when it is not a positive ``int``
    """
    if not _is_plain_int(query_limit) or query_limit < 1:
        raise TieInputError(
            "query_limit must be a positive int (TIE accepts 1 to 5000), got {}".format(
                quote(query_limit)))
    return cast(int, query_limit)


def check_timeout(value: Any, name: str, allow_infinite: bool) -> None:
    """
    Checks a number of seconds to wait, such as ``response_timeout`` or a bulk ``timeout``.

    :param value: the number of seconds
    :param name: the argument's name, for the error message
    :param allow_infinite: whether ``inf`` (wait as long as it takes) is accepted
    :raises TieInputTypeError: when it is not a real number (``bool`` included)
    :raises TieInputError: when it is NaN, not positive, or infinite (or beyond what a thread
        can wait, :data:`threading.TIMEOUT_MAX`) while not allowed
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TieInputTypeError("{} must be a number of seconds, got {} {}".format(
            name, type(value).__name__, quote(value)))
    try:
        seconds = float(value)
    except OverflowError:  # an int beyond any float
        seconds = math.inf
    too_long = seconds > threading.TIMEOUT_MAX and not allow_infinite
    if math.isnan(seconds) or seconds <= 0 or too_long:
        raise TieInputError("{} must be a positive number of seconds{}, got {}".format(
            name, "" if allow_infinite else " (finite, at most {:.0f})".format(
                threading.TIMEOUT_MAX), quote(value)))


def check_text(value: Any, name: str) -> str:
    """
    Checks a text argument such as a file name or a comment.

    :param value: the argument
    :param name: the argument's name, for the error message
    :return: the value
    :raises TieInputError: when it is not a ``str``, or holds a lone surrogate (such as
        ``"\\udc80"``, which Python makes of undecodable bytes): it cannot be encoded as UTF-8,
        and TIE could not store it
    """
    if not isinstance(value, str):
        raise TieInputError("{} must be a str, got {} {}".format(
            name, type(value).__name__, quote(value)))
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise TieInputError(
            "{} holds a lone surrogate {!r} at position {}, which cannot be encoded as UTF-8: "
            "pass valid text (e.g. decode file names with errors='replace'), got {}".format(
                name, value[error.start], error.start, quote(value))) from None
    return value


def check_hash(hash_type: Any, value: Any, allow_bytes: bool = True) -> None:
    """
    Checks one hash: a known type, hexadecimal digits only (either case), and the right length.

    :param hash_type: the hash type (``md5``, ``sha1`` or ``sha256``; see :class:`HashType`)
    :param value: the hexadecimal digest (a ``str``, or ASCII ``bytes`` when ``allow_bytes``)
    :param allow_bytes: whether ASCII ``bytes`` are accepted as well as ``str``
    :raises InvalidHashError: naming the hash type and value, when the hash is not valid
    """
    if hash_type not in HASH_HEX_LENGTHS:
        raise InvalidHashError(
            "Unknown hash type {} (value {}): use one of {} (see HashType)".format(
                quote(hash_type), quote(value), ", ".join(sorted(HASH_HEX_LENGTHS))))
    text = value
    if allow_bytes and isinstance(value, (bytes, bytearray)):
        try:
            text = bytes(value).decode("ascii")
        except UnicodeDecodeError:
            text = None
    if not isinstance(text, str):
        raise InvalidHashError("Invalid {} hash {}: expected a string of hexadecimal digits, "
                               "got {}".format(hash_type, quote(value), type(value).__name__))
    if not _HEX_DIGITS.issuperset(text):
        raise InvalidHashError(
            "Invalid {} hash {}: it must contain hexadecimal digits only (0-9, a-f)".format(
                hash_type, quote(value)))
    expected = HASH_HEX_LENGTHS[hash_type]
    if len(text) != expected:
        raise InvalidHashError(
            "Invalid {} hash {}: expected {} hexadecimal digits, got {}".format(
                hash_type, quote(value), expected, len(text)))


def check_hashes(hashes: Any, allow_bytes: bool = True) -> None:
    """
    Checks a hashes dictionary: not empty, and every entry valid (see :func:`check_hash`).

    :param hashes: hash type to hexadecimal digest
    :param allow_bytes: whether ASCII ``bytes`` digests are accepted
    :raises TieInputError: when ``hashes`` is not a non-empty dict
    :raises InvalidHashError: when an entry is not valid
    """
    if not isinstance(hashes, Mapping):
        raise TieInputError(
            "hashes must be a dict of hash type to hex digest, e.g. {{'md5': '<32 hex digits>'}}, "
            "got {} {}".format(type(hashes).__name__, quote(hashes)))
    if not hashes:
        raise TieInputError(
            "hashes is empty: give at least one hash, e.g. {'md5': '<32 hex digits>'}")
    for hash_type, value in hashes.items():
        check_hash(hash_type, value, allow_bytes)


def check_sha1(value: Any, name: str) -> None:
    """
    Checks a certificate SHA-1 argument.

    :param value: the hexadecimal SHA-1
    :param name: the argument's name, for the error message
    :raises InvalidHashError: when it is not 40 hexadecimal digits
    """
    try:
        check_hash(HashType.SHA1, value)
    except InvalidHashError as error:
        raise InvalidHashError("{}: {}".format(name, error)) from None


# ---------------------------------------------------------------------------------------------
# Encodings
# ---------------------------------------------------------------------------------------------

def hex_to_base64(hex_value: Union[str, bytes]) -> str:
    """
    Converts a hexadecimal digest (either case) to standard base64 with padding.

    :param hex_value: the hexadecimal digest (``str`` or ASCII ``bytes``)
    :return: the base64 string, e.g. ``8se7isyX+S6Yei1Ah9AhsQ==``
    :raises binascii.Error: for an odd length or a non-hexadecimal digit
    :raises TypeError: for ``None``
    """
    return binascii.b2a_base64(binascii.unhexlify(hex_value), newline=False).decode("ascii")


def base64_to_hex(base64_value: Union[str, bytes]) -> str:
    """
    Converts a base64 value to a lower-case hexadecimal string.

    :param base64_value: the base64 value (``str`` or ``bytes``)
    :return: the hexadecimal string
    :raises binascii.Error: for invalid base64
    """
    return binascii.a2b_base64(base64_value).hex()


def encode_json(payload: Any) -> bytes:
    """
    Serialises a payload as the original library did: :func:`json.dumps` with its default
    separators and key order, encoded as UTF-8.

    :param payload: the JSON-serialisable payload
    :return: the payload bytes
    :raises TieInputError: when the payload is larger than :data:`MAX_PAYLOAD_BYTES`
    """
    data = json.dumps(payload).encode("utf-8")
    if len(data) > MAX_PAYLOAD_BYTES:
        raise TieInputError(
            "The message would be {} bytes, more than the {} bytes a DXL message carries: "
            "shorten the file name or the comment".format(len(data), MAX_PAYLOAD_BYTES))
    return data


def decode_json(payload: Union[bytes, bytearray, str]) -> Any:
    """
    Parses a message payload: UTF-8 JSON, trailing NUL characters ignored.

    :param payload: the payload (``bytes``, or an already decoded ``str``)
    :return: the parsed value
    :raises json.JSONDecodeError: when the payload is not JSON (an empty one included)
    :raises UnicodeDecodeError: when the payload is not UTF-8
    """
    text = bytes(payload).decode("utf-8") if isinstance(payload, (bytes, bytearray)) else payload
    return json.loads(text.rstrip("\0"))


def hashes_to_wire(hashes: Hashes) -> List[JsonObject]:
    """
    Converts a caller's hashes to TIE's hash list.

    :param hashes: hash type to hexadecimal digest
    :return: ``[{"type": <type>, "value": <base64>}, ...]`` in the dict's order
    """
    return [{"type": hash_type, "value": hex_to_base64(value)}
            for hash_type, value in hashes.items()]


def hashes_from_wire(hash_list: Iterable[Mapping[str, Any]]) -> Dict[str, str]:
    """
    Converts TIE's hash list to a hashes dictionary.

    :param hash_list: ``[{"type": <type>, "value": <base64>}, ...]``
    :return: hash type to lower-case hexadecimal digest (a later duplicate type wins)
    :raises KeyError: when an entry lacks ``type`` or ``value``
    :raises binascii.Error: when a value is not base64
    """
    a2b = binascii.a2b_base64  # base64_to_hex inlined: this runs for every hash of every event
    return {entry["type"]: a2b(entry["value"]).hex() for entry in hash_list}


def reputations_from_wire(reputations: Iterable[JsonObject]) -> Dict[Any, JsonObject]:
    """
    Keys a reputation list by provider, converting in place the hash lists of the files listed in
    a certificate reputation's ``overridden`` object.

    :param reputations: the ``reputations`` list of a response or event
    :return: ``providerId`` (as sent: an ``int`` from TIE) to the same reputation object
    :raises KeyError: when a reputation has no ``providerId``
    """
    by_provider: Dict[Any, JsonObject] = {}
    for reputation in reputations:
        by_provider[reputation[_PROVIDER_ID]] = reputation
        overridden = reputation.get("overridden")
        if overridden is not None and "files" in overridden:
            for file_entry in overridden["files"]:
                if _HASHES in file_entry:
                    file_entry[_HASHES] = hashes_from_wire(file_entry[_HASHES])
    return by_provider


# ---------------------------------------------------------------------------------------------
# Requests (client to TIE)
# ---------------------------------------------------------------------------------------------

def set_file_reputation_request(trust_level: Any, hashes: Any, filename: Any = "",
                                comment: Any = "") -> JsonObject:
    """
    Builds the payload that sets a file's enterprise reputation.

    :raises TieInputError: for a bad trust level, file name or comment
    :raises InvalidHashError: for a bad hash
    """
    check_trust_level(trust_level)
    check_hashes(hashes)
    return {"trustLevel": trust_level, "providerId": FileProvider.ENTERPRISE,
            "filename": check_text(filename, "filename"),
            "comment": check_text(comment, "comment"),
            _HASHES: hashes_to_wire(hashes)}


def external_file_report_event(trust_level: Any, hashes: Any, file_type: Any = 0,
                               filename: Any = "", comment: Any = "") -> JsonObject:
    """
    Builds the payload of the external file report event. Unlike every request, it carries the
    hashes as a ``{type: hex}`` object, with the caller's digests verbatim.

    The original library's checks come first, in its order and with its messages; the stricter
    ones (booleans, hash validity, text arguments) follow.

    :raises TieInputError: for a bad trust level, file type, file name or comment
    :raises InvalidHashError: for a bad hash
    """
    if not trust_level:
        raise TieInputError("TrustLevel was not specified")
    if isinstance(file_type, bool) or not valid_parameter(FileType, file_type):
        raise TieInputError("FileType was not a valid entry")
    if not _is_plain_int(trust_level) or not valid_parameter(TrustLevel, trust_level):
        raise TieInputError("TrustLevel was not a valid entry")
    if not hashes:
        raise TieInputError("File hashes were not specified")
    if not _is_plain_int(file_type):
        raise TieInputError("FileType was not a valid entry")
    check_hashes(hashes, allow_bytes=False)
    return {"file": {"type": file_type, _HASHES: dict(hashes),
                     "attributes": {"filename": check_text(filename, "filename")},
                     "reputation": {"score": trust_level}},
            "provider": {"id": FileProvider.EXTERNAL},
            "comment": check_text(comment, "comment")}


def file_reputation_request(hashes: Any) -> JsonObject:
    """
    Builds the payload of a file reputation lookup (``scanType`` 3: an on-demand lookup).

    :raises TieInputError: when ``hashes`` is not a non-empty dict
    :raises InvalidHashError: for a bad hash
    """
    check_hashes(hashes)
    return {_HASHES: hashes_to_wire(hashes), "scanType": 3}


def file_first_references_request(hashes: Any, query_limit: Any = 500) -> JsonObject:
    """
    Builds the payload of a file first-references query.

    :raises TieInputError: for a bad query limit or hashes that are not a non-empty dict
    :raises InvalidHashError: for a bad hash
    """
    check_query_limit(query_limit)
    check_hashes(hashes)
    return {"queryLimit": query_limit, _HASHES: hashes_to_wire(hashes)}


def _public_key_given(public_key_sha1: Any) -> bool:
    # As in the original, None and an empty string mean "no public key" (the field is left out);
    # any other falsy value (0, False, [], {}) is a mistake, refused by check_sha1.
    return not (public_key_sha1 is None
                or (isinstance(public_key_sha1, (str, bytes, bytearray)) and not public_key_sha1))


def _cert_hashes(sha1: Any, public_key_sha1: Any) -> List[JsonObject]:
    check_sha1(sha1, "sha1")
    if _public_key_given(public_key_sha1):
        check_sha1(public_key_sha1, "public_key_sha1")
    return [{"type": HashType.SHA1, "value": hex_to_base64(sha1)}]


def _with_public_key(payload: JsonObject, public_key_sha1: Any) -> JsonObject:
    if _public_key_given(public_key_sha1):
        payload[_PUBLIC_KEY_SHA1] = hex_to_base64(public_key_sha1)
    return payload


def set_cert_reputation_request(trust_level: Any, sha1: Any, public_key_sha1: Any = None,
                                comment: Any = "") -> JsonObject:
    """
    Builds the payload that sets a certificate's enterprise reputation.

    :raises TieInputError: for a bad trust level or comment
    :raises InvalidHashError: for a bad SHA-1
    """
    check_trust_level(trust_level)
    hashes = _cert_hashes(sha1, public_key_sha1)
    return _with_public_key(
        {"trustLevel": trust_level, "providerId": CertProvider.ENTERPRISE,
         "comment": check_text(comment, "comment"), _HASHES: hashes},
        public_key_sha1)


def cert_reputation_request(sha1: Any, public_key_sha1: Any = None) -> JsonObject:
    """
    Builds the payload of a certificate reputation lookup.

    :raises InvalidHashError: for a bad SHA-1
    """
    return _with_public_key({_HASHES: _cert_hashes(sha1, public_key_sha1)}, public_key_sha1)


def cert_first_references_request(sha1: Any, public_key_sha1: Any = None,
                                   query_limit: Any = 500) -> JsonObject:
    """
    Builds the payload of a certificate first-references query.

    :raises TieInputError: for a bad query limit
    :raises InvalidHashError: for a bad SHA-1
    """
    check_query_limit(query_limit)
    return _with_public_key(
        {"queryLimit": query_limit, _HASHES: _cert_hashes(sha1, public_key_sha1)},
        public_key_sha1)


# ---------------------------------------------------------------------------------------------
# Responses (TIE to client)
# ---------------------------------------------------------------------------------------------

def reputations_from_response(response: Any) -> Dict[Any, JsonObject]:
    """
    Extracts the reputations of a lookup response.

    :param response: the parsed response payload
    :return: the reputations keyed by provider (see :func:`reputations_from_wire`), or ``{}``
        when the response has no ``reputations``
    """
    if _REPUTATIONS in response:
        return reputations_from_wire(response[_REPUTATIONS])
    return {}


def agents_from_response(response: Any) -> List[JsonObject]:
    """
    Extracts the systems of a first-references response.

    :param response: the parsed response payload
    :return: the ``agents`` list as received, or ``[]`` when the response has none
    """
    if "agents" in response:
        return cast(List[JsonObject], response["agents"])
    return []


# ---------------------------------------------------------------------------------------------
# Events (TIE to client)
# ---------------------------------------------------------------------------------------------

def _require_object(payload: Any) -> JsonObject:
    if not isinstance(payload, dict):
        raise ValueError("the event payload is a JSON {}, not an object".format(
            type(payload).__name__))
    return payload


def _transform_hashes_in(container: JsonObject) -> None:
    if _HASHES in container:
        container[_HASHES] = hashes_from_wire(container[_HASHES])


def transform_reputation_change_event(event: Any) -> JsonObject:
    """
    Transforms a file or certificate reputation change event in place: hash lists become
    ``{type: hex}`` dicts, ``newReputations`` and ``oldReputations`` become reputations keyed by
    provider (their ``props`` dropped), and public key SHA-1 values become hex.

    :param event: the parsed event payload
    :return: the same object, transformed
    :raises ValueError: when the payload is not a JSON object or a hash is not base64
    :raises KeyError: when a hash or reputation lacks a required key
    :raises TypeError: when a member has the wrong shape
    """
    _require_object(event)
    _transform_hashes_in(event)
    for key in ("newReputations", "oldReputations"):
        value = event.get(key)
        if isinstance(value, dict) and _REPUTATIONS in value:
            event[key] = reputations_from_wire(value[_REPUTATIONS])
    relationships = event.get("relationships")
    if isinstance(relationships, dict) and "certificate" in relationships:
        certificate = relationships["certificate"]
        _transform_hashes_in(certificate)
        if _PUBLIC_KEY_SHA1 in certificate:
            certificate[_PUBLIC_KEY_SHA1] = base64_to_hex(certificate[_PUBLIC_KEY_SHA1])
    if _PUBLIC_KEY_SHA1 in event:
        event[_PUBLIC_KEY_SHA1] = base64_to_hex(event[_PUBLIC_KEY_SHA1])
    return cast(JsonObject, event)


def transform_hashes_event(event: Any) -> JsonObject:
    """
    Transforms a detection or first-instance event in place: its ``hashes`` list becomes a
    ``{type: hex}`` dict; nothing else changes.

    :param event: the parsed event payload
    :return: the same object, transformed
    :raises ValueError: when the payload is not a JSON object or a hash is not base64
    :raises KeyError: when a hash lacks ``type`` or ``value``
    """
    _require_object(event)
    _transform_hashes_in(event)
    return cast(JsonObject, event)



# ---------------------------------------------------------------------------------------------
# The rest of the TIE Server API (issue #10): reputation updates, metadata updates, prevalence
# ---------------------------------------------------------------------------------------------

#: The largest ``queryLimit`` a reputation-updates request may carry (TIE accepts 1 to 5000).
MAX_UPDATES_QUERY_LIMIT = 5000
#: The ``queryLimit`` a reputation-updates request carries by default (TIE's own default).
DEFAULT_UPDATES_QUERY_LIMIT = 100
#: The hash types a reputation-updates request may ask for, per subject (``targetTypes``).
UPDATES_TARGET_HASH_TYPES: Dict[str, Tuple[str, ...]] = {
    "file": (HashType.SHA1, HashType.MD5, HashType.SHA256),
    "cert": (HashType.SHA1,),
}


class WireFormatError(ValueError):
    """A message received from the fabric does not have the shape TIE's schema gives it."""


def hashes_from_wire_strict(hash_list: Any, allowed: Iterable[str]) -> Dict[str, str]:
    """
    Converts TIE's hash list to a hashes dictionary, refusing anything off the schema: the strict
    counterpart of :func:`hashes_from_wire`, for a receiver (the emulator) that must not guess.

    :param hash_list: ``[{"type": <type>, "value": <base64>}, ...]``, not empty
    :param allowed: the hash types accepted (e.g. ``("sha1",)`` for a certificate)
    :return: hash type to lower-case hexadecimal digest
    :raises WireFormatError: naming the problem (not a non-empty list, an entry without ``type``
        or ``value``, an unknown type, a value that is not base64 or has the wrong length)
    """
    allowed = tuple(allowed)
    if not isinstance(hash_list, list) or not hash_list:
        raise WireFormatError(
            "'hashes' must be a non-empty list of {\"type\", \"value\"} objects")
    hashes: Dict[str, str] = {}
    for entry in hash_list:
        if not isinstance(entry, dict) or "type" not in entry or "value" not in entry:
            raise WireFormatError("each entry of 'hashes' must be an object with 'type' and "
                                  "'value', got {}".format(quote(entry)))
        hash_type = entry["type"]
        if hash_type not in allowed:
            raise WireFormatError("unknown hash type {}: expected {}".format(
                quote(hash_type), " or ".join(allowed)))
        hashes[hash_type] = digest_from_base64(hash_type, entry["value"])
    return hashes


def digest_from_base64(hash_type: str, value: Any) -> str:
    """
    Decodes one base64 digest strictly (no stray characters, the right length for its type).

    :param hash_type: ``md5``, ``sha1`` or ``sha256``
    :param value: the base64 value
    :return: the lower-case hexadecimal digest
    :raises WireFormatError: when the value is not base64 of the right length
    """
    if not isinstance(value, str):
        raise WireFormatError("the value of the {} hash must be a base64 string, got {}".format(
            hash_type, quote(value)))
    try:
        digest = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise WireFormatError("the value of the {} hash is not valid base64: {}".format(
            hash_type, quote(value))) from None
    expected = HASH_HEX_LENGTHS[hash_type] // 2
    if len(digest) != expected:
        raise WireFormatError("the {} hash {} is {} bytes long, expected {}".format(
            hash_type, quote(value), len(digest), expected))
    return binascii.hexlify(digest).decode("ascii")


def _check_int(value: Any, name: str, low: int, high: Optional[int] = None) -> int:
    if not _is_plain_int(value) or value < low or (high is not None and value > high):
        bounds = "from {} to {}".format(low, high) if high is not None else ">= {}".format(low)
        raise TieInputError("{} must be an int {}, got {}".format(name, bounds, quote(value)))
    return int(value)


def _check_target_type(subject: str, value: Any) -> None:
    choices = UPDATES_TARGET_HASH_TYPES[subject]
    if value not in choices:
        raise TieInputError("{}_hash_type must be None or one of {}, got {}".format(
            subject if subject == "file" else "cert", ", ".join(map(repr, choices)),
            quote(value)))


def reputation_updates_request(since_time: Any, query_limit: Any = DEFAULT_UPDATES_QUERY_LIMIT,
                               targeted: Any = False, file_hash_type: Any = None,
                               cert_hash_type: Any = None) -> JsonObject:
    """
    Builds the payload of a reputation-updates query
    (``/mcafee/service/tie/reputation/updates``).

    ``targetTypes`` is sent only when a hash type is given, and then lists only the subjects
    given: ``file_hash_type="sha256"`` alone asks for files only (their SHA-256),
    ``cert_hash_type="sha1"`` alone for certificates only. With neither, TIE includes both, with
    its default hash choice (a file's SHA-1, else its MD5, else its SHA-256).

    :param since_time: epoch seconds (``int`` >= 0): the changes since then
    :param query_limit: the most hashes to return, files and certificates together (1 to 5000)
    :param targeted: only the files and certificates this client asked for, or prevalent ones
    :param file_hash_type: ``"md5"``, ``"sha1"`` or ``"sha256"``, or ``None``
    :param cert_hash_type: ``"sha1"`` or ``None``
    :return: ``{"sinceTime", "queryLimit", "targeted"[, "targetTypes"]}``
    :raises TieInputError: naming the bad argument
    """
    _check_int(since_time, "since_time", 0)
    _check_int(query_limit, "query_limit", 1, MAX_UPDATES_QUERY_LIMIT)
    if not isinstance(targeted, bool):
        raise TieInputError("targeted must be a bool, got {}".format(quote(targeted)))
    payload: JsonObject = {"sinceTime": since_time, "queryLimit": query_limit,
                           "targeted": targeted}
    target_types: JsonObject = {}
    if file_hash_type is not None:
        _check_target_type("file", file_hash_type)
        target_types["file"] = file_hash_type
    if cert_hash_type is not None:
        _check_target_type("cert", cert_hash_type)
        target_types["cert"] = cert_hash_type
    if target_types:
        payload["targetTypes"] = target_types
    return payload


def _single_hashes(hash_list: Any) -> List[Dict[str, str]]:
    if hash_list is None:
        return []
    return [{entry["type"]: base64_to_hex(entry["value"])} for entry in hash_list]


def reputation_updates_from_response(response: Any) -> JsonObject:
    """
    Decodes a reputation-updates response.

    :param response: the parsed response payload
    :return: ``{"fileHashes": [{type: hex}, ...], "certificateHashes": [{"sha1": hex}, ...],
        "latestUpdateTime": int or None, "serverTime": int or None, "queryLimitExceeded": bool}``:
        both lists always present (``[]`` when TIE sent none), one single-entry dict per file or
        certificate; ``serverTime`` and ``queryLimitExceeded`` come from ``props`` (TIE sends
        ``props`` only when the limit was exceeded)
    :raises WireFormatError: when the response is not a JSON object
    :raises KeyError: when a hash entry lacks ``type`` or ``value``
    :raises binascii.Error: when a hash value is not base64
    """
    if not isinstance(response, dict):
        raise WireFormatError("the reputation-updates response is a JSON {}, not an object".format(
            type(response).__name__))
    props = response.get("props")
    props = props if isinstance(props, dict) else {}
    return {"fileHashes": _single_hashes(response.get("fileHashes")),
            "certificateHashes": _single_hashes(response.get("certificateHashes")),
            "latestUpdateTime": response.get("latestUpdateTime"),
            "serverTime": props.get("serverTime"),
            "queryLimitExceeded": bool(props.get("queryLimitExceeded", False))}


def transform_prevalence_event(event: Any) -> JsonObject:
    """
    Transforms a file prevalence event in place, as first-instance events: its ``hashes`` list
    becomes a ``{type: hex}`` dict; ``agentGuid``, ``agentFirstReference``, ``enterpriseCount``
    and ``prevalent`` are left as sent.

    :param event: the parsed event payload
    :return: the same object, transformed
    :raises ValueError: when the payload is not a JSON object or a hash is not base64
    :raises KeyError: when a hash lacks ``type`` or ``value``
    """
    return transform_hashes_event(event)


# Metadata updates. Each field: (kind, name). Kinds: "str", "int", "bool" (a bool, or 0/1 as the
# schema's examples send), "b64sha1" (given in hex, sent as base64), "strint" (a string in the
# schema whose example sends a number: either is accepted).
_FILE_METADATA_FIELDS: Tuple[Tuple[str, str], ...] = (
    ("scanType", "int"), ("agentGuid", "str"), ("name", "str"), ("size", "int"),
    ("path", "str"), ("version", "strint"), ("fileType", "int"), ("signedBits", "int"),
    ("companyName", "str"), ("profilerFlags", "str"), ("certIssuer", "str"),
    ("certSubject", "str"), ("productName", "str"), ("productVersion", "str"),
    ("objectType", "int"), ("localRep", "int"), ("parentLocalRep", "int"),
    ("prePromptLocalRep", "int"), ("localRepRuleId", "int"), ("parentSha1", "b64sha1"),
    ("osVersion", "str"), ("actorLocalRep", "int"), ("caRep", "strint"),
    ("contentVersion", "str"), ("productEnforcing", "bool"), ("ruleEnforcing", "bool"),
    ("jtiAvProductId", "str"), ("userPrompted", "bool"), ("detectionType", "int"),
    ("detectionName", "str"), ("remediation", "int"), ("certSha1", "b64sha1"),
    ("certPublicKeySha1", "b64sha1"), ("actorSha1", "b64sha1"),
    # Not among the schema's properties, but in its example:
    ("vseRemediation", "int"), ("vseDetectionName", "str"), ("vseSuppressed", "bool"),
    ("vseDetectionType", "int"), ("vseContentVersion", "str"), ("vseProductId", "int"),
)
_CERT_METADATA_FIELDS: Tuple[Tuple[str, str], ...] = (
    ("publicKeySha1", "b64sha1"), ("algorithm", "str"), ("issuerDN", "str"),
    ("issuerPublicKeySha1", "b64sha1"), ("serialNumber", "str"), ("subjectName", "str"),
    ("validFrom", "int"), ("validTo", "int"), ("contentVersion", "str"),
    ("productEnforcing", "bool"), ("ruleEnforcing", "bool"), ("subject", "str"),
    ("issuer", "str"), ("issuerSha1", "b64sha1"),
)
#: The metadata fields of a file update, in the order they are sent (the schema's order).
FILE_METADATA_FIELDS: Tuple[str, ...] = tuple(name for name, _ in _FILE_METADATA_FIELDS)
#: The metadata fields of a certificate update, in the order they are sent.
CERT_METADATA_FIELDS: Tuple[str, ...] = tuple(name for name, _ in _CERT_METADATA_FIELDS)

_KIND_TEXT = {"str": "a str", "int": "an int", "bool": "a bool (or 0/1)",
              "b64sha1": "a SHA-1 as 40 hexadecimal digits", "strint": "a str or an int"}


def _metadata_value(name: str, kind: str, value: Any) -> Any:
    """Checks one metadata value; returns what goes on the wire."""
    good = {"str": isinstance(value, str), "int": _is_plain_int(value),
            "bool": isinstance(value, bool) or (_is_plain_int(value) and value in (0, 1)),
            "strint": isinstance(value, str) or _is_plain_int(value),
            "b64sha1": True}[kind]
    if not good:
        raise TieInputError("metadata field {!r} must be {}, got {} {}".format(
            name, _KIND_TEXT[kind], type(value).__name__, quote(value)))
    if kind == "b64sha1":
        check_sha1(value, name)
        return hex_to_base64(value)
    return value


def _metadata_fields(metadata: Any, fields: Tuple[Tuple[str, str], ...]) -> JsonObject:
    if not isinstance(metadata, Mapping):
        raise TieInputError("metadata must be a dict of field name to value, got {}".format(
            type(metadata).__name__))
    kinds = dict(fields)
    unknown = sorted(str(name) for name in metadata if name not in kinds)
    if unknown:
        raise TieInputError("unknown metadata field(s) {}: the fields are {}".format(
            ", ".join(quote(name) for name in unknown[:5]),
            ", ".join(name for name, _ in fields)))
    return {name: _metadata_value(name, kind, metadata[name]) for name, kind in fields
            if metadata.get(name) is not None}


def file_metadata_request(hashes: Any, metadata: Any) -> JsonObject:
    """
    Builds the payload of a file metadata update (``/mcafee/service/tie/file/update_metadata``).

    :param hashes: hash type to hexadecimal digest (as for a lookup)
    :param metadata: field name (the schema's, e.g. ``name``, ``size``, ``agentGuid``; see
        :data:`FILE_METADATA_FIELDS`) to value; ``None`` values are left out. ``certSha1``,
        ``certPublicKeySha1``, ``actorSha1`` and ``parentSha1`` are given in hex and sent in
        base64.
    :return: ``{"hashes": [...], <fields in the schema's order>}``
    :raises TieInputError: for hashes that are not a non-empty dict, an unknown field, or a value
        of the wrong type
    :raises InvalidHashError: for a bad hash
    """
    check_hashes(hashes)
    payload: JsonObject = {_HASHES: hashes_to_wire(hashes)}
    payload.update(_metadata_fields(metadata, _FILE_METADATA_FIELDS))
    return payload


def cert_metadata_request(sha1: Any, metadata: Any) -> JsonObject:
    """
    Builds the payload of a certificate metadata update
    (``/mcafee/service/tie/cert/update_metadata``).

    :param sha1: the hexadecimal SHA-1 of the certificate
    :param metadata: field name (see :data:`CERT_METADATA_FIELDS`) to value; ``None`` values are
        left out. ``publicKeySha1``, ``issuerPublicKeySha1`` and ``issuerSha1`` are given in hex
        and sent in base64.
    :return: ``{"hashes": [{"type": "sha1", ...}], <fields in the schema's order>}``
    :raises TieInputError: for an unknown field or a value of the wrong type
    :raises InvalidHashError: for a bad SHA-1
    """
    payload: JsonObject = {_HASHES: _cert_hashes(sha1, None)}
    payload.update(_metadata_fields(metadata, _CERT_METADATA_FIELDS))
    return payload

#: The kind of each file metadata field (``str``, ``int``, ``bool``, ``strint``, ``b64sha1``).
FILE_METADATA_KINDS: Dict[str, str] = dict(_FILE_METADATA_FIELDS)
#: The kind of each certificate metadata field.
CERT_METADATA_KINDS: Dict[str, str] = dict(_CERT_METADATA_FIELDS)


class UpdatesPager:
    """
    The paging of reputation updates, with no I/O, so that the synchronous and the asyncio
    clients follow pages the same way.

    Each next page is asked from the previous page's ``latestUpdateTime``, inclusive (so that
    changes made in the same second as the page's last one are not lost); the hashes already
    yielded at that second are left out of the next page. :meth:`take` raises rather than let a
    server that repeats itself make the caller loop forever.

    .. code-block:: python

        pager = UpdatesPager(since_time)
        while not pager.done:
            page = pager.take(reputation_updates_from_response(ask(pager.since)))
            ...

    :param since_time: the ``sinceTime`` of the first page
    :param topic: the request topic, named by the errors :meth:`take` raises
    """

    def __init__(self, since_time: int, topic: Optional[str] = None) -> None:
        #: The ``sinceTime`` of the next page to ask for.
        self.since = since_time
        #: ``True`` once the last page was taken.
        self.done = False
        self._topic = topic
        self._seen: Set[Tuple[str, str, str]] = set()

    def take(self, page: JsonObject) -> JsonObject:
        """
        Takes a decoded page (see :func:`reputation_updates_from_response`): leaves out the hashes
        already yielded and moves :attr:`since` on.

        :param page: the decoded page (changed in place)
        :return: the page, without the hashes already yielded
        :raises TieServiceError: when the page says the limit was exceeded but gives no usable
            ``latestUpdateTime``, or brings nothing new at the same ``latestUpdateTime`` (more
            changes in one second than the query limit)
        """
        from ._errors import TieServiceError

        keys = {(kind, hash_type, value) for kind in ("fileHashes", "certificateHashes")
                for entry in page[kind] for hash_type, value in entry.items()}
        new = keys - self._seen
        latest = page["latestUpdateTime"]
        exceeded = bool(page["queryLimitExceeded"])
        if exceeded and (not _is_plain_int(latest) or latest < self.since):
            raise TieServiceError(
                "TIE said the query limit was exceeded but gave no usable latestUpdateTime "
                "({}), so the next page cannot be asked for".format(quote(latest)), 0,
                self._topic)
        if exceeded and latest == self.since and not new:
            raise TieServiceError(
                "TIE repeated the reputation updates since {} without anything new: more "
                "changes share that second than the query limit; ask again with a larger "
                "query_limit (at most 5000)".format(self.since), 0, self._topic)
        for kind in ("fileHashes", "certificateHashes"):
            page[kind] = [entry for entry in page[kind]
                          if not any((kind, hash_type, value) in self._seen
                                     for hash_type, value in entry.items())]
        if not exceeded:
            self.done = True
        else:
            self._seen = self._seen | new if latest == self.since else new
            self.since = latest
        return page
