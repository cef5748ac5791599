"""
The cache keys of lookups, reputation change events and reputation updates pages.

Lookups give hex digests (validated by :mod:`dxltieclient._wire` first); events and updates pages
give TIE's base64 hash lists or ``{type: hex}`` dicts. Every key is lower-case hex.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, List, Mapping, Optional, Tuple

from ._store import CERT, Key


def _hex(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("ascii").lower()
    return str(value).lower()


def file_keys(hashes: Mapping[str, Any]) -> Tuple[Key, ...]:
    """
    The keys of a file lookup (its hashes already validated).

    :param hashes: hash type to hex digest (``str`` or ASCII ``bytes``, either case)
    :return: one ``(hash type, lower-case hex)`` key per hash, in the dict's order
    """
    return tuple((hash_type, _hex(value)) for hash_type, value in hashes.items())


def fast_file_keys(hashes: Any) -> Optional[List[Key]]:
    """
    The keys of a file lookup given as a plain non-empty ``dict`` of ASCII ``str`` digests,
    without validating them (the cache only indexes validated keys, so a hit proves them valid).

    :param hashes: what the caller passed
    :return: the keys, or ``None`` for any other input (validate it first, then
        :func:`file_keys`)
    """
    if type(hashes) is not dict or not hashes:
        return None
    keys = []
    for hash_type, value in hashes.items():
        if type(value) is not str or not value.isascii():
            return None
        keys.append((hash_type, value.lower()))
    return keys


def cert_key(sha1: Any) -> Key:
    """
    The key of a certificate.

    :param sha1: the certificate's SHA-1 in hex (validated)
    :return: ``("cert", lower-case hex)``
    """
    return (CERT, _hex(sha1))


def cert_variant(public_key_sha1: Any) -> str:
    """
    The part of a certificate lookup other than its SHA-1: the public key SHA-1 it gave.

    :param public_key_sha1: the public key SHA-1 in hex, or ``None``/``""``
    :return: its lower-case hex, or ``""``
    """
    return _hex(public_key_sha1) if public_key_sha1 else ""


def _wire_keys(hash_list: Any, only: Optional[str] = None, kind: Optional[str] = None) -> List[Key]:
    if not isinstance(hash_list, list):
        raise ValueError("'hashes' is a {}, not a list".format(type(hash_list).__name__))
    keys: List[Key] = []
    for entry in hash_list:
        hash_type = entry["type"]
        if only is not None and hash_type != only:
            continue
        digest = binascii.hexlify(base64.b64decode(entry["value"])).decode("ascii")
        keys.append((kind or hash_type, digest))
    return keys


def file_event_keys(event: Any) -> List[Key]:
    """
    The keys a file reputation change event (TIE's wire format) invalidates: every hash of the
    file, and the certificate that signs it (its ``overridden`` files list may have changed).

    :param event: the parsed event payload
    :return: the keys
    :raises ValueError: (or ``KeyError``, ``TypeError``, ``binascii.Error``) for a malformed event
    """
    keys = _wire_keys(event["hashes"])
    if not keys:
        raise ValueError("the event lists no hash")
    relationships = event.get("relationships")
    certificate = relationships.get("certificate") if isinstance(relationships, dict) else None
    if isinstance(certificate, dict) and "hashes" in certificate:
        keys.extend(_wire_keys(certificate["hashes"], "sha1", CERT))
    return keys


def cert_event_keys(event: Any) -> List[Key]:
    """
    The keys a certificate reputation change event invalidates.

    :param event: the parsed event payload
    :return: the certificate's key
    :raises ValueError: (or ``KeyError``, ``TypeError``, ``binascii.Error``) for a malformed event
    """
    keys = _wire_keys(event["hashes"], "sha1", CERT)
    if not keys:
        raise ValueError("the event lists no sha1 hash")
    return keys


def update_time(event: Any) -> Optional[int]:
    """
    The ``updateTime`` of an event, when it is an int.

    :param event: the parsed event payload
    :return: epoch seconds, or ``None``
    """
    value = event.get("updateTime")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def updates_page_keys(page: Mapping[str, Any]) -> List[Key]:
    """
    The keys listed by one page of the reputation updates query (as
    :meth:`~dxltieclient.client.TieClient.iter_reputation_updates` yields it).

    :param page: ``{"fileHashes": [{type: hex}, ...], "certificateHashes": [{"sha1": hex}], ...}``
    :return: the keys of every listed file and certificate
    """
    keys: List[Key] = []
    for item in page.get("fileHashes") or ():
        keys.extend((hash_type, _hex(value)) for hash_type, value in item.items())
    for item in page.get("certificateHashes") or ():
        keys.extend((CERT, _hex(value)) for hash_type, value in item.items())
    return keys
