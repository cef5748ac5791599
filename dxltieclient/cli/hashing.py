"""
Turns the command line's ``PATH|HASH`` arguments into TIE hashes dicts: files are hashed (MD5,
SHA-1 and SHA-256 in one streaming pass); hash arguments are typed by their length or by a
``type:`` prefix, and validated.
"""

from __future__ import annotations

import hashlib
import os
import re
from typing import Dict, NamedTuple, Optional

from .._errors import InvalidHashError
from .._wire import HASH_HEX_LENGTHS, check_hash
from ..constants import HashType
from .errors import EXIT_USAGE, CliError

#: The size of the chunks files are read in.
CHUNK_SIZE = 1024 * 1024

_HEX = frozenset("0123456789abcdefABCDEF")
_TYPE_BY_LENGTH = {length: hash_type for hash_type, length in HASH_HEX_LENGTHS.items()}
_TYPE_PREFIX = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{1,15}:[0-9A-Za-z]")
_PREFIX_ALIASES = {"md5": HashType.MD5, "sha1": HashType.SHA1, "sha-1": HashType.SHA1,
                   "sha256": HashType.SHA256, "sha-256": HashType.SHA256}


class Target(NamedTuple):
    """
    What a ``PATH|HASH`` argument stands for.

    :param argument: the argument as given
    :param hashes: hash type to lower-case hexadecimal digest
    :param path: the file's path when the argument named a file, else ``None``
    """

    argument: str
    hashes: Dict[str, str]
    path: Optional[str]


def hash_file(path: str, chunk_size: int = CHUNK_SIZE) -> Dict[str, str]:
    """
    Computes the MD5, SHA-1 and SHA-256 of a file, reading it once in chunks.

    :param path: the file
    :param chunk_size: bytes read at a time
    :return: ``{"md5": hex, "sha1": hex, "sha256": hex}``
    :raises OSError: when the file cannot be read
    """
    digests = {HashType.MD5: hashlib.md5(), HashType.SHA1: hashlib.sha1(),
               HashType.SHA256: hashlib.sha256()}
    with open(path, "rb") as stream:
        while True:
            chunk = stream.read(chunk_size)
            if not chunk:
                break
            for digest in digests.values():
                digest.update(chunk)
    return {hash_type: digest.hexdigest() for hash_type, digest in digests.items()}


def infer_hash_type(value: str) -> str:
    """
    Tells the type of a bare hexadecimal hash from its length (32: MD5, 40: SHA-1, 64: SHA-256).

    :param value: the hexadecimal digest
    :return: the :class:`~dxltieclient.HashType` value
    :raises InvalidHashError: when it is not hexadecimal or has none of those lengths
    """
    if not value or any(char not in _HEX for char in value):
        raise InvalidHashError(
            "Invalid hash {!r}: it must contain hexadecimal digits only (0-9, a-f)".format(value))
    hash_type = _TYPE_BY_LENGTH.get(len(value))
    if hash_type is None:
        raise InvalidHashError(
            "Invalid hash {!r}: {} hexadecimal digits; expected 32 (md5), 40 (sha1) or 64 "
            "(sha256)".format(value, len(value)))
    check_hash(hash_type, value)
    return hash_type


def parse_hashes(text: str) -> Dict[str, str]:
    """
    Parses a hash argument: ``HEX``, ``TYPE:HEX``, or several of them joined by commas for one
    file (``md5:HEX,sha1:HEX``). Types are ``md5``, ``sha1`` and ``sha256`` (case-insensitive).

    :param text: the argument
    :return: hash type to lower-case hexadecimal digest
    :raises InvalidHashError: for an unknown type, non-hexadecimal digits, a bad length, or the
        same type given twice
    """
    hashes: Dict[str, str] = {}
    for part in text.split(","):
        part = part.strip()
        if ":" in part:
            prefix, value = part.split(":", 1)
            hash_type = _PREFIX_ALIASES.get(prefix.strip().lower())
            if hash_type is None:
                raise InvalidHashError(
                    "Unknown hash type {!r} in {!r}: use md5:, sha1: or sha256:".format(
                        prefix, text))
            value = value.strip()
            check_hash(hash_type, value)
        else:
            value = part
            if not value:
                raise InvalidHashError("Empty hash in {!r}".format(text))
            hash_type = infer_hash_type(value)
        if hash_type in hashes:
            raise InvalidHashError("{} given twice in {!r}".format(hash_type, text))
        hashes[hash_type] = value.lower()
    return hashes


def looks_like_hash(text: str) -> bool:
    """
    Tells whether an argument is meant as a hash rather than a path: it has a ``type:`` prefix,
    or it is made of hexadecimal digits (and commas) only.

    :param text: the argument
    :return: ``True`` when it should be parsed with :func:`parse_hashes`
    """
    head = text.split(":", 1)[0].strip().lower()
    if ":" in text and head in _PREFIX_ALIASES:
        return True
    stripped = text.replace(",", "")
    return bool(stripped) and all(char in _HEX for char in stripped)


def resolve_target(argument: str) -> Target:
    """
    Resolves a ``PATH|HASH`` argument. A ``type:``-prefixed argument is always a hash; otherwise an
    existing path is a file (hashed), and anything else must be a hash.

    :param argument: the argument
    :return: the target
    :raises CliError: (exit code 2) for a bad hash, a directory, or an unreadable file
    """
    prefixed = ":" in argument and argument.split(":", 1)[0].strip().lower() in _PREFIX_ALIASES
    if not prefixed and os.path.exists(argument):
        if os.path.isdir(argument):
            raise CliError("{}: is a directory (give a file or a hash)".format(argument),
                           EXIT_USAGE)
        try:
            return Target(argument, hash_file(argument), argument)
        except OSError as error:
            raise CliError("cannot read {}: {}".format(argument, error.strerror or error),
                           EXIT_USAGE) from None
    if not prefixed and _TYPE_PREFIX.match(argument):
        prefixed = True  # e.g. sha512:...: parse_hashes names the unknown type
    if not prefixed and not looks_like_hash(argument):
        raise CliError(
            "{!r}: no such file, and not a hash (give a file path, a 32/40/64-digit hex hash, or "
            "md5:/sha1:/sha256:HEX)".format(argument), EXIT_USAGE)
    try:
        return Target(argument, parse_hashes(argument), None)
    except InvalidHashError as error:
        raise CliError(str(error), EXIT_USAGE) from None
