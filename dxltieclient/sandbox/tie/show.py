"""
``python -m dxltieclient.sandbox show HASH``: what the TIE emulator's store knows about a file or
certificate: its hashes, name, reputations, the systems and clients that looked it up, whether it
is prevalent, its reputation changes and the metadata updates it received (issue #10), as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any, Dict, Optional

from ..._wire import HASH_HEX_LENGTHS, check_hash
from ...constants import HashType
from .store import CERT, FILE, Store

_TYPE_BY_LENGTH = {length: hash_type for hash_type, length in HASH_HEX_LENGTHS.items()}


#: The one-line help of the ``show`` command.
HELP = "show what the TIE emulator knows about a file or certificate (JSON; exit code 1 if nothing)"


def arguments(parser: argparse.ArgumentParser) -> None:
    """
    Adds the ``show`` command's arguments (``--dir`` and ``HASH``) to its parser.

    :param parser: the command's parser
    """
    from ..sandbox import default_directory

    parser.add_argument(
        "--dir", default=default_directory(),
        help="the sandbox directory (default: $DXLTIE_SANDBOX_DIR or ~/.dxltieclient/sandbox; "
        "now %(default)s)")
    parser.add_argument("hash", metavar="HASH",
                        help="an MD5, SHA-1 or SHA-256 of a file, or the SHA-1 of a certificate "
                        "(hexadecimal)")


def command(args: argparse.Namespace) -> int:
    """
    Runs ``show``: prints what the sandbox's store knows about ``args.hash``.

    :param args: the parsed arguments (``dir``, ``hash``)
    :return: 0 when found, 1 when not
    :raises ValueError: for a bad hash or a directory without a store
    """
    from ..sandbox import Sandbox

    return run(args.hash, Sandbox(args.dir).store_file)


def run(hash_value: str, store_file: str) -> int:
    """
    Prints what the store knows about a hash.

    :param hash_value: the hexadecimal hash
    :param store_file: the emulator's SQLite store
    :return: 0 when found, 1 when not (a message on stdout says so)
    :raises ValueError: for a value that is not a hexadecimal MD5, SHA-1 or SHA-256, or a store
        that does not exist
    """
    if not os.path.exists(store_file):
        raise ValueError("no TIE store at {}: start the sandbox first (up or run)".format(
            store_file))
    store = Store(store_file)
    try:
        found = describe(store, hash_value)
    finally:
        store.close()
    if found is None:
        print("Nothing is known about {}".format(hash_value.lower()))
        return 1
    print(json.dumps(found, indent=2, sort_keys=True))
    return 0


def describe(store: Store, hash_value: str) -> Optional[Dict[str, Any]]:
    """
    Describes a file or certificate.

    :param store: the store
    :param hash_value: the hexadecimal hash (a SHA-1 is looked for among files, then
        certificates)
    :return: ``{"file": {...}}`` or ``{"certificate": {...}}``, or ``None`` when unknown
    :raises ValueError: for a value that is not a hexadecimal MD5, SHA-1 or SHA-256
    """
    value = hash_value.strip().lower()
    hash_type = _TYPE_BY_LENGTH.get(len(value))
    if hash_type is None:
        raise ValueError("{!r} is not an MD5, SHA-1 or SHA-256 (32, 40 or 64 hexadecimal "
                         "digits)".format(hash_value[:80]))
    check_hash(hash_type, value)
    file_id = store.find_file({hash_type: value})
    if file_id is not None:
        return {"file": _file(store, file_id)}
    cert_id = store.find_certificate(value) if hash_type == HashType.SHA1 else None
    if cert_id is not None:
        return {"certificate": _certificate(store, cert_id)}
    return None


def _common(store: Store, subject: str, subject_id: int) -> Dict[str, Any]:
    changes = [time_ for kind, changed_id, time_ in store.changed_since(0)
               if kind == subject and changed_id == subject_id]
    return {"referenceCount": store.reference_count(subject, subject_id),
            "requesters": store.requesters(subject, subject_id),
            "lastReputationChange": changes[0] if changes else None,
            "metadata": store.metadata(subject, subject_id)}


def _file(store: Store, file_id: int) -> Dict[str, Any]:
    described = {"hashes": store.file_hashes(file_id), "name": store.file_name(file_id),
                 "reputations": store.file_reputations(file_id),
                 "prevalentSince": store.prevalent_since(file_id)}
    described.update(_common(store, FILE, file_id))
    return described


def _certificate(store: Store, cert_id: int) -> Dict[str, Any]:
    sha1, public_key_sha1 = store.certificate_hashes(cert_id)
    described = {"sha1": sha1, "publicKeySha1": public_key_sha1,
                 "reputations": store.cert_reputations(cert_id)}
    described.update(_common(store, CERT, cert_id))
    return described
