"""
The TIE emulator's SQLite store: files, certificates, their reputations per provider, and the
systems that referenced them ("first references").

One connection, guarded by a re-entrant lock: every public method takes the lock, and
:meth:`Store.transaction` holds it (and one SQLite transaction) across several calls so that an
operation of the service is atomic. The schema is created on first use; the file survives
restarts of the emulator. Hashes are stored as lower-case hexadecimal.

Reputations are returned in TIE's wire shape (``providerId``, ``trustLevel``, ``createDate``,
``attributes``), ordered by provider id. A few attributes are computed when read rather than
stored, so that they follow the data:

* file Enterprise (3) reputation: ``PREVALENCE`` (the number of systems that referenced the file)
  and ``ENTERPRISE_SIZE`` (the number of systems known to the emulator);
* certificate Enterprise (4) reputation: ``PREVALENCE`` (systems that referenced the
  certificate) and ``HAS_FILE_OVERRIDES``; the reputation also carries an ``overridden`` object
  listing the files signed by the certificate that have an Enterprise reputation other than
  ``NOT_SET`` (see :meth:`Store.cert_reputations`).
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Tuple

from ...constants import (
    CertEnterpriseAttrib,
    CertProvider,
    FileEnterpriseAttrib,
    FileProvider,
    HashType,
    TrustLevel,
)

logger = logging.getLogger(__name__)

#: The hash types a file is known by, in the order they are listed on the wire.
FILE_HASH_TYPES: Tuple[str, ...] = (HashType.MD5, HashType.SHA1, HashType.SHA256)

#: The subject kind of a file in the requesters, change log and metadata tables.
FILE = "file"
#: The subject kind of a certificate.
CERT = "cert"
_REFERENCE_TABLES = {FILE: ("file_references", "file_id"), CERT: ("cert_references", "cert_id")}

#: The most overriding files listed in a certificate's ``overridden`` object.
MAX_OVERRIDDEN_FILES = 100

_SCHEMA_VERSION = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY,
    md5 TEXT UNIQUE,
    sha1 TEXT UNIQUE,
    sha256 TEXT UNIQUE,
    name TEXT NOT NULL DEFAULT '',
    cert_id INTEGER,
    created INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS certificates (
    id INTEGER PRIMARY KEY,
    sha1 TEXT NOT NULL UNIQUE,
    public_key_sha1 TEXT,
    created INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS file_reputations (
    file_id INTEGER NOT NULL,
    provider_id INTEGER NOT NULL,
    trust_level INTEGER NOT NULL,
    create_date INTEGER NOT NULL,
    attributes TEXT NOT NULL,
    PRIMARY KEY (file_id, provider_id)
);
CREATE TABLE IF NOT EXISTS cert_reputations (
    cert_id INTEGER NOT NULL,
    provider_id INTEGER NOT NULL,
    trust_level INTEGER NOT NULL,
    create_date INTEGER NOT NULL,
    attributes TEXT NOT NULL,
    PRIMARY KEY (cert_id, provider_id)
);
CREATE TABLE IF NOT EXISTS file_references (
    file_id INTEGER NOT NULL,
    agent_guid TEXT NOT NULL,
    date INTEGER NOT NULL,
    PRIMARY KEY (file_id, agent_guid)
);
CREATE TABLE IF NOT EXISTS cert_references (
    cert_id INTEGER NOT NULL,
    agent_guid TEXT NOT NULL,
    date INTEGER NOT NULL,
    PRIMARY KEY (cert_id, agent_guid)
);
CREATE TABLE IF NOT EXISTS agents (
    guid TEXT PRIMARY KEY,
    first_seen INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS requesters (
    subject TEXT NOT NULL,
    subject_id INTEGER NOT NULL,
    client_id TEXT NOT NULL,
    PRIMARY KEY (subject, subject_id, client_id)
);
CREATE TABLE IF NOT EXISTS reputation_changes (
    seq INTEGER PRIMARY KEY,
    time INTEGER NOT NULL,
    subject TEXT NOT NULL,
    subject_id INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS reputation_changes_time ON reputation_changes (time);
CREATE TABLE IF NOT EXISTS prevalent_files (
    file_id INTEGER PRIMARY KEY,
    time INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS metadata (
    seq INTEGER PRIMARY KEY,
    subject TEXT NOT NULL,
    subject_id INTEGER NOT NULL,
    time INTEGER NOT NULL,
    source TEXT NOT NULL,
    fields TEXT NOT NULL
);
"""

#: A reputation in TIE's wire shape.
Reputation = Dict[str, Any]


_COUNTS_SQL = (
    "SELECT (SELECT COUNT(*) FROM files), (SELECT COUNT(*) FROM certificates), "
    "(SELECT COUNT(*) FROM file_references) + (SELECT COUNT(*) FROM cert_references), "
    "(SELECT COUNT(*) FROM agents)")


def _counts(conn: sqlite3.Connection) -> Dict[str, int]:
    files, certificates, references, agents = conn.execute(_COUNTS_SQL).fetchone()
    return {"files": files, "certificates": certificates, "references": references,
            "agents": agents}


def read_counts(path: str) -> Optional[Dict[str, int]]:
    """
    Counts what a store file holds without writing to it (safe while the emulator runs).

    :param path: the SQLite file
    :return: the counts of :meth:`Store.counts`, or ``None`` when the file does not exist or has no
        store schema yet
    """
    if not os.path.exists(path):
        return None
    try:
        conn = sqlite3.connect("file:{}?mode=ro".format(path), uri=True)
    except sqlite3.Error:
        return None
    try:
        return _counts(conn)
    except sqlite3.Error:
        return None
    finally:
        conn.close()


class Store:
    """
    The emulator's persistent state in one SQLite file.

    :param path: the SQLite file (created with its schema when missing); ``":memory:"`` for a
        throw-away store
    :param clock: the source of "now" in epoch seconds (tests inject their own)
    """

    def __init__(self, path: str, clock: Callable[[], float] = time.time) -> None:
        self._path = path
        self._clock = clock
        self._lock = threading.RLock()
        self._depth = 0
        self._agents = 0
        if path != ":memory:":
            directory = os.path.dirname(os.path.abspath(path))
            os.makedirs(directory, exist_ok=True)
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        with self._lock:
            if path != ":memory:":
                self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.executescript(_SCHEMA)
            self._conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', ?)",
                               (_SCHEMA_VERSION,))
            self._agents = int(self._conn.execute("SELECT COUNT(*) FROM agents").fetchone()[0])
        logger.debug("TIE store opened: %s", path)

    # -----------------------------------------------------------------------------------------
    # Housekeeping
    # -----------------------------------------------------------------------------------------

    @property
    def path(self) -> str:
        """The SQLite file of the store."""
        return self._path

    def now(self) -> int:
        """
        The current time by the store's clock.

        :return: epoch seconds
        """
        return int(self._clock())

    def close(self) -> None:
        """Closes the SQLite connection (the store cannot be used afterwards)."""
        with self._lock:
            self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator["Store"]:
        """
        Holds the store's lock and one SQLite transaction for the ``with`` block: committed when
        the block ends normally, rolled back when it raises. Nested blocks join the outer one.

        :return: a context manager yielding the store
        """
        with self._lock:
            if self._depth == 0:
                self._conn.execute("BEGIN")
            self._depth += 1
            try:
                yield self
            except BaseException:
                self._depth -= 1
                if self._depth == 0:
                    self._conn.execute("ROLLBACK")
                    self._agents = int(
                        self._conn.execute("SELECT COUNT(*) FROM agents").fetchone()[0])
                raise
            else:
                self._depth -= 1
                if self._depth == 0:
                    self._conn.execute("COMMIT")

    def get_meta(self, key: str) -> Optional[str]:
        """
        Reads a value of the store's key/value metadata.

        :param key: the key
        :return: the value, or ``None`` when unset
        """
        with self._lock:
            row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        """
        Writes a value of the store's key/value metadata.

        :param key: the key
        :param value: the value
        """
        with self.transaction():
            self._conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                               (key, value))

    def counts(self) -> Dict[str, int]:
        """
        Counts what the store holds, for a status display.

        :return: ``files``, ``certificates``, ``references`` (file and certificate references
            together) and ``agents`` (distinct systems seen)
        """
        with self._lock:
            return _counts(self._conn)

    # -----------------------------------------------------------------------------------------
    # Files
    # -----------------------------------------------------------------------------------------

    def find_file(self, hashes: Mapping[str, str]) -> Optional[int]:
        """
        Finds a file by any of its hashes.

        :param hashes: hash type to lower-case hexadecimal digest (types other than md5, sha1 and
            sha256 are ignored)
        :return: the file's id, or ``None`` when no hash is known. When the hashes match several
            files (contradictory input), the oldest file wins.
        """
        found = self.lookup_file(hashes)
        return None if found is None else found[0]

    def lookup_file(self, hashes: Mapping[str, str]) -> Optional[Tuple[int, Dict[str, str]]]:
        """
        Finds a file by any of its hashes, in one query, with the hashes it is known by.

        :param hashes: hash type to lower-case hexadecimal digest (types other than md5, sha1 and
            sha256 are ignored)
        :return: the file's id and its known hashes (see :meth:`file_hashes`), or ``None`` when
            no hash is known. When the hashes match several files, the oldest file wins.
        """
        conditions = []
        values = []
        for hash_type in FILE_HASH_TYPES:
            value = hashes.get(hash_type)
            if value is not None:
                conditions.append("{} = ?".format(hash_type))
                values.append(value)
        if not conditions:
            return None
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, md5, sha1, sha256 FROM files WHERE {} ORDER BY id".format(
                    " OR ".join(conditions)), values).fetchall()
        if not rows:
            return None
        if len(rows) > 1:
            logger.warning("Hashes %s match several files %s: using the oldest",
                           dict(hashes), [row[0] for row in rows])
        row = rows[0]
        return int(row[0]), {hash_type: value for hash_type, value in zip(FILE_HASH_TYPES, row[1:])
                             if value is not None}

    def add_file(self, hashes: Mapping[str, str], name: str = "") -> int:
        """
        Creates a file entry (no reputation, no reference).

        :param hashes: hash type to lower-case hexadecimal digest
        :param name: the file name, if known
        :return: the new file's id
        """
        with self.transaction():
            cursor = self._conn.execute(
                "INSERT INTO files (md5, sha1, sha256, name, created) VALUES (?, ?, ?, ?, ?)",
                (hashes.get(HashType.MD5), hashes.get(HashType.SHA1),
                 hashes.get(HashType.SHA256), name, self.now()))
            file_id = cursor.lastrowid
        assert file_id is not None
        return file_id

    def merge_file_hashes(self, file_id: int, hashes: Mapping[str, str]) -> None:
        """
        Records hashes learned later for a file: each hash type the file does not know yet is
        filled in, unless another file already owns that digest. Known digests are never
        overwritten.

        :param file_id: the file
        :param hashes: hash type to lower-case hexadecimal digest
        """
        with self.transaction():
            known = self.file_hashes(file_id)
            for hash_type in FILE_HASH_TYPES:
                value = hashes.get(hash_type)
                if value is None or hash_type in known:
                    if value is not None and known.get(hash_type) != value:
                        logger.warning("File %d already has %s %s; ignoring %s", file_id,
                                       hash_type, known[hash_type], value)
                    continue
                owner = self._conn.execute(
                    "SELECT id FROM files WHERE {} = ?".format(hash_type), (value,)).fetchone()
                if owner is not None:
                    logger.warning("%s %s belongs to file %d, not to file %d", hash_type, value,
                                   owner[0], file_id)
                    continue
                self._conn.execute("UPDATE files SET {} = ? WHERE id = ?".format(hash_type),
                                   (value, file_id))

    def file_hashes(self, file_id: int) -> Dict[str, str]:
        """
        Reads the known hashes of a file.

        :param file_id: the file
        :return: hash type to lower-case hexadecimal digest, in md5, sha1, sha256 order
        """
        with self._lock:
            row = self._conn.execute("SELECT md5, sha1, sha256 FROM files WHERE id = ?",
                                     (file_id,)).fetchone()
        if row is None:
            return {}
        return {hash_type: value for hash_type, value in zip(FILE_HASH_TYPES, row)
                if value is not None}

    def file_name(self, file_id: int) -> str:
        """
        Reads the name recorded for a file.

        :param file_id: the file
        :return: the name, ``""`` when unknown
        """
        with self._lock:
            row = self._conn.execute("SELECT name FROM files WHERE id = ?",
                                     (file_id,)).fetchone()
        return "" if row is None else str(row[0])

    def set_file_name(self, file_id: int, name: str) -> None:
        """
        Records the name of a file.

        :param file_id: the file
        :param name: the name
        """
        with self.transaction():
            self._conn.execute("UPDATE files SET name = ? WHERE id = ?", (name, file_id))

    def set_file_certificate(self, file_id: int, cert_id: Optional[int]) -> None:
        """
        Records the certificate that signs a file.

        :param file_id: the file
        :param cert_id: the certificate, or ``None`` for none
        """
        with self.transaction():
            self._conn.execute("UPDATE files SET cert_id = ? WHERE id = ?", (cert_id, file_id))

    def file_certificate(self, file_id: int) -> Optional[int]:
        """
        Reads the certificate that signs a file.

        :param file_id: the file
        :return: the certificate's id, or ``None``
        """
        with self._lock:
            row = self._conn.execute("SELECT cert_id FROM files WHERE id = ?",
                                     (file_id,)).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def file_reputation(self, file_id: int, provider_id: int) -> Optional[Reputation]:
        """
        Reads one stored reputation of a file (attributes as stored, nothing computed).

        :param file_id: the file
        :param provider_id: the provider (see :class:`~dxltieclient.constants.FileProvider`)
        :return: the reputation in wire shape, or ``None``
        """
        return self._reputation("file_reputations", "file_id", file_id, provider_id)

    def put_file_reputation(self, file_id: int, provider_id: int, trust_level: int,
                            create_date: int, attributes: Mapping[str, str]) -> None:
        """
        Creates or replaces one reputation of a file.

        :param file_id: the file
        :param provider_id: the provider
        :param trust_level: the trust level (see :class:`~dxltieclient.constants.TrustLevel`)
        :param create_date: the reputation's creation date (epoch seconds)
        :param attributes: attribute id to string value
        """
        self._put_reputation("file_reputations", "file_id", file_id, provider_id, trust_level,
                             create_date, attributes)

    def file_reputations(self, file_id: int) -> List[Reputation]:
        """
        Reads every reputation of a file, as a lookup answers them.

        :param file_id: the file
        :return: the reputations in wire shape, ordered by provider id, with the Enterprise
            ``PREVALENCE`` and ``ENTERPRISE_SIZE`` attributes computed
        """
        with self._lock:
            reputations = self._reputations("file_reputations", "file_id", file_id)
            for reputation in reputations:
                if reputation["providerId"] == FileProvider.ENTERPRISE:
                    attributes = reputation["attributes"]
                    attributes[FileEnterpriseAttrib.PREVALENCE] = str(
                        self._count("file_references", "file_id", file_id))
                    attributes[FileEnterpriseAttrib.ENTERPRISE_SIZE] = str(self._agents)
        return reputations

    def add_file_reference(self, file_id: int, agent_guid: str, date: int) -> bool:
        """
        Records that a system referenced a file (only its first reference counts).

        :param file_id: the file
        :param agent_guid: the system's GUID, e.g. ``{68125cd6-a5d8-11e6-348e-000c29663178}``
        :param date: the time of the reference (epoch seconds)
        :return: ``True`` when this was the system's first reference to the file
        """
        return self._add_reference("file_references", "file_id", file_id, agent_guid, date)

    def file_references(self, file_id: int, limit: int) -> Tuple[int, List[Dict[str, Any]]]:
        """
        Lists the systems that referenced a file, oldest first reference first.

        :param file_id: the file
        :param limit: the most systems to list
        :return: the total number of systems and the first ``limit`` of them as
            ``{"agentGuid": ..., "date": ...}`` objects
        """
        return self._references("file_references", "file_id", file_id, limit)

    # -----------------------------------------------------------------------------------------
    # Certificates
    # -----------------------------------------------------------------------------------------

    def find_certificate(self, sha1: str) -> Optional[int]:
        """
        Finds a certificate by the SHA-1 of its body.

        :param sha1: lower-case hexadecimal SHA-1
        :return: the certificate's id, or ``None``
        """
        with self._lock:
            row = self._conn.execute("SELECT id FROM certificates WHERE sha1 = ?",
                                     (sha1,)).fetchone()
        return None if row is None else int(row[0])

    def add_certificate(self, sha1: str, public_key_sha1: Optional[str] = None) -> int:
        """
        Creates a certificate entry (no reputation, no reference).

        :param sha1: lower-case hexadecimal SHA-1 of the certificate body
        :param public_key_sha1: lower-case hexadecimal SHA-1 of its public key, if known
        :return: the new certificate's id
        """
        with self.transaction():
            cursor = self._conn.execute(
                "INSERT INTO certificates (sha1, public_key_sha1, created) VALUES (?, ?, ?)",
                (sha1, public_key_sha1, self.now()))
            cert_id = cursor.lastrowid
        assert cert_id is not None
        return cert_id

    def certificate_hashes(self, cert_id: int) -> Tuple[str, Optional[str]]:
        """
        Reads a certificate's hashes.

        :param cert_id: the certificate
        :return: the SHA-1 of its body and the SHA-1 of its public key (``None`` when unknown),
            lower-case hexadecimal
        :raises KeyError: when there is no such certificate
        """
        with self._lock:
            row = self._conn.execute(
                "SELECT sha1, public_key_sha1 FROM certificates WHERE id = ?",
                (cert_id,)).fetchone()
        if row is None:
            raise KeyError(cert_id)
        return str(row[0]), None if row[1] is None else str(row[1])

    def set_certificate_public_key(self, cert_id: int, public_key_sha1: str) -> None:
        """
        Records the public key SHA-1 of a certificate when it is not known yet.

        :param cert_id: the certificate
        :param public_key_sha1: lower-case hexadecimal SHA-1 of the public key
        """
        with self.transaction():
            self._conn.execute(
                "UPDATE certificates SET public_key_sha1 = ? "
                "WHERE id = ? AND public_key_sha1 IS NULL", (public_key_sha1, cert_id))

    def cert_reputation(self, cert_id: int, provider_id: int) -> Optional[Reputation]:
        """
        Reads one stored reputation of a certificate (attributes as stored).

        :param cert_id: the certificate
        :param provider_id: the provider (see :class:`~dxltieclient.constants.CertProvider`)
        :return: the reputation in wire shape, or ``None``
        """
        return self._reputation("cert_reputations", "cert_id", cert_id, provider_id)

    def put_cert_reputation(self, cert_id: int, provider_id: int, trust_level: int,
                            create_date: int, attributes: Mapping[str, str]) -> None:
        """
        Creates or replaces one reputation of a certificate.

        :param cert_id: the certificate
        :param provider_id: the provider
        :param trust_level: the trust level
        :param create_date: the reputation's creation date (epoch seconds)
        :param attributes: attribute id to string value
        """
        self._put_reputation("cert_reputations", "cert_id", cert_id, provider_id, trust_level,
                             create_date, attributes)

    def cert_reputations(self, cert_id: int) -> List[Reputation]:
        """
        Reads every reputation of a certificate, as a lookup answers them.

        The Enterprise reputation gets its ``PREVALENCE`` and ``HAS_FILE_OVERRIDES`` attributes
        computed and, when some file signed by the certificate has an Enterprise reputation
        other than ``NOT_SET``, an ``overridden`` object ``{"files": [{"hashes": {type: hex}},
        ...], "truncated": 0 or 1}`` (domain hashes: the service shapes them for the wire).
        TIE-SPEC 3.6 and 3.9 place
        ``overridden`` inside the Enterprise reputation (that is where the client transforms it);
        the TIE schema (tie-server.yaml) shows it at the top level of the response. The spec wins.

        :param cert_id: the certificate
        :return: the reputations in wire shape, ordered by provider id
        """
        with self._lock:
            reputations = self._reputations("cert_reputations", "cert_id", cert_id)
            for reputation in reputations:
                if reputation["providerId"] != CertProvider.ENTERPRISE:
                    continue
                attributes = reputation["attributes"]
                attributes[CertEnterpriseAttrib.PREVALENCE] = str(
                    self._count("cert_references", "cert_id", cert_id))
                rows = self._conn.execute(
                    "SELECT f.md5, f.sha1, f.sha256 FROM files f JOIN file_reputations r "
                    "ON r.file_id = f.id WHERE f.cert_id = ? AND r.provider_id = ? "
                    "AND r.trust_level != ? ORDER BY f.id LIMIT ?",
                    (cert_id, FileProvider.ENTERPRISE, TrustLevel.NOT_SET,
                     MAX_OVERRIDDEN_FILES + 1)).fetchall()
                attributes[CertEnterpriseAttrib.HAS_FILE_OVERRIDES] = "1" if rows else "0"
                if rows:
                    files = [{"hashes": {hash_type: value
                                         for hash_type, value in zip(FILE_HASH_TYPES, row)
                                         if value is not None}}
                             for row in rows[:MAX_OVERRIDDEN_FILES]]
                    reputation["overridden"] = {
                        "files": files, "truncated": 1 if len(rows) > MAX_OVERRIDDEN_FILES else 0}
        return reputations

    def add_cert_reference(self, cert_id: int, agent_guid: str, date: int) -> bool:
        """
        Records that a system referenced a certificate (only its first reference counts).

        :param cert_id: the certificate
        :param agent_guid: the system's GUID
        :param date: the time of the reference (epoch seconds)
        :return: ``True`` when this was the system's first reference to the certificate
        """
        return self._add_reference("cert_references", "cert_id", cert_id, agent_guid, date)

    def cert_references(self, cert_id: int, limit: int) -> Tuple[int, List[Dict[str, Any]]]:
        """
        Lists the systems that referenced a certificate, oldest first reference first.

        :param cert_id: the certificate
        :param limit: the most systems to list
        :return: the total number of systems and the first ``limit`` of them
        """
        return self._references("cert_references", "cert_id", cert_id, limit)

    # -----------------------------------------------------------------------------------------
    # Shared SQL
    # -----------------------------------------------------------------------------------------

    def _reputation(self, table: str, key: str, subject_id: int,
                    provider_id: int) -> Optional[Reputation]:
        with self._lock:
            row = self._conn.execute(
                "SELECT provider_id, trust_level, create_date, attributes FROM {} "
                "WHERE {} = ? AND provider_id = ?".format(table, key),
                (subject_id, provider_id)).fetchone()
        return None if row is None else _reputation_from_row(row)

    def _reputations(self, table: str, key: str, subject_id: int) -> List[Reputation]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT provider_id, trust_level, create_date, attributes FROM {} "
                "WHERE {} = ? ORDER BY provider_id".format(table, key), (subject_id,)).fetchall()
        return [_reputation_from_row(row) for row in rows]

    def _put_reputation(self, table: str, key: str, subject_id: int, provider_id: int,
                        trust_level: int, create_date: int,
                        attributes: Mapping[str, str]) -> None:
        with self.transaction():
            self._conn.execute(
                "INSERT OR REPLACE INTO {} ({}, provider_id, trust_level, create_date, attributes) "
                "VALUES (?, ?, ?, ?, ?)".format(table, key),
                (subject_id, provider_id, trust_level, create_date,
                 json.dumps(dict(attributes))))

    def _add_reference(self, table: str, key: str, subject_id: int, agent_guid: str,
                       date: int) -> bool:
        with self.transaction():
            cursor = self._conn.execute(
                "INSERT OR IGNORE INTO {} ({}, agent_guid, date) VALUES (?, ?, ?)".format(
                    table, key), (subject_id, agent_guid, date))
            added = cursor.rowcount > 0
            if added:
                cursor = self._conn.execute(
                    "INSERT OR IGNORE INTO agents (guid, first_seen) VALUES (?, ?)",
                    (agent_guid, date))
                if cursor.rowcount > 0:
                    self._agents += 1
        return added

    def _references(self, table: str, key: str, subject_id: int,
                    limit: int) -> Tuple[int, List[Dict[str, Any]]]:
        with self._lock:
            total = self._count(table, key, subject_id)
            rows = self._conn.execute(
                "SELECT agent_guid, date FROM {} WHERE {} = ? ORDER BY date, rowid "
                "LIMIT ?".format(table, key), (subject_id, limit)).fetchall()
        return total, [{"agentGuid": guid, "date": date} for guid, date in rows]

    def _count(self, table: str, key: str, subject_id: int) -> int:
        row = self._conn.execute("SELECT COUNT(*) FROM {} WHERE {} = ?".format(table, key),
                                 (subject_id,)).fetchone()
        return int(row[0])

    # -----------------------------------------------------------------------------------------
    # Requesters, the reputation change log, prevalence and metadata (issue #10)
    # -----------------------------------------------------------------------------------------

    def add_requester(self, subject: str, subject_id: int, client_id: str) -> None:
        """
        Records that a DXL client looked a file or certificate up (it gets the targeted change
        events of the subject).

        :param subject: :data:`FILE` or :data:`CERT`
        :param subject_id: the file's or certificate's id
        :param client_id: the client's id as the fabric names it
        """
        with self.transaction():
            self._conn.execute(
                "INSERT OR IGNORE INTO requesters (subject, subject_id, client_id) "
                "VALUES (?, ?, ?)", (subject, subject_id, client_id))

    def requesters(self, subject: str, subject_id: int) -> List[str]:
        """
        :param subject: :data:`FILE` or :data:`CERT`
        :param subject_id: the file's or certificate's id
        :return: the ids of the clients that looked it up, in the order they first did
        """
        with self._lock:
            rows = self._conn.execute(
                "SELECT client_id FROM requesters WHERE subject = ? AND subject_id = ? "
                "ORDER BY rowid", (subject, subject_id)).fetchall()
        return [str(row[0]) for row in rows]

    def log_change(self, subject: str, subject_id: int, time_: int) -> None:
        """
        Appends a reputation change to the change log.

        :param subject: :data:`FILE` or :data:`CERT`
        :param subject_id: the file's or certificate's id
        :param time_: when it changed (epoch seconds)
        """
        with self.transaction():
            self._conn.execute(
                "INSERT INTO reputation_changes (time, subject, subject_id) VALUES (?, ?, ?)",
                (time_, subject, subject_id))

    def changed_since(self, since: int) -> List[Tuple[str, int, int]]:
        """
        Lists what changed since a time, each file or certificate once with its latest change.

        :param since: epoch seconds (inclusive)
        :return: ``(subject, subject_id, latest change time)`` ordered by that time, files
            before certificates, then by id
        """
        with self._lock:
            rows = self._conn.execute(
                "SELECT subject, subject_id, MAX(time) AS latest FROM reputation_changes "
                "WHERE time >= ? GROUP BY subject, subject_id "
                "ORDER BY latest, subject DESC, subject_id", (since,)).fetchall()
        return [(str(subject), int(subject_id), int(latest))
                for subject, subject_id, latest in rows]

    def reference_count(self, subject: str, subject_id: int) -> int:
        """
        :param subject: :data:`FILE` or :data:`CERT`
        :param subject_id: the file's or certificate's id
        :return: the number of systems that referenced it
        """
        table, key = _REFERENCE_TABLES[subject]
        with self._lock:
            return self._count(table, key, subject_id)

    def prevalent_since(self, file_id: int) -> Optional[int]:
        """
        :param file_id: the file
        :return: when the file was declared prevalent (epoch seconds), or ``None``
        """
        with self._lock:
            row = self._conn.execute("SELECT time FROM prevalent_files WHERE file_id = ?",
                                     (file_id,)).fetchone()
        return None if row is None else int(row[0])

    def mark_prevalent(self, file_id: int, time_: int) -> None:
        """
        Records that a file is prevalent (no more prevalence events are published for it).

        :param file_id: the file
        :param time_: when (epoch seconds)
        """
        with self.transaction():
            self._conn.execute("INSERT OR IGNORE INTO prevalent_files (file_id, time) "
                               "VALUES (?, ?)", (file_id, time_))

    def add_metadata(self, subject: str, subject_id: int, time_: int, source: str,
                     fields: Mapping[str, Any]) -> None:
        """
        Stores one metadata update.

        :param subject: :data:`FILE` or :data:`CERT`
        :param subject_id: the file's or certificate's id
        :param time_: when it arrived (epoch seconds)
        :param source: who sent it (the requester's id, ``""`` when unknown)
        :param fields: the validated fields, as received
        """
        with self.transaction():
            self._conn.execute(
                "INSERT INTO metadata (subject, subject_id, time, source, fields) "
                "VALUES (?, ?, ?, ?, ?)",
                (subject, subject_id, time_, source, json.dumps(dict(fields), sort_keys=True)))

    def metadata(self, subject: str, subject_id: int) -> List[Dict[str, Any]]:
        """
        :param subject: :data:`FILE` or :data:`CERT`
        :param subject_id: the file's or certificate's id
        :return: its metadata updates, oldest first: ``{"time", "source", "fields"}``
        """
        with self._lock:
            rows = self._conn.execute(
                "SELECT time, source, fields FROM metadata WHERE subject = ? AND subject_id = ? "
                "ORDER BY seq", (subject, subject_id)).fetchall()
        return [{"time": int(time_), "source": str(source), "fields": json.loads(fields)}
                for time_, source, fields in rows]


def _reputation_from_row(row: Tuple[Any, ...]) -> Reputation:
    provider_id, trust_level, create_date, attributes = row
    return {"providerId": provider_id, "trustLevel": trust_level, "createDate": create_date,
            "attributes": json.loads(attributes)}
