"""
Reads the files of ``dxltie import`` (CSV with a header row, or JSON lines) into the items of the
bulk calls, and writes the rows that failed back, with an ``error`` column, so that they can be
fixed and imported again.

Keys (CSV column names are case-insensitive): ``md5``, ``sha1``, ``sha256`` (at least one),
``trust`` (a :class:`~dxltieclient.TrustLevel` name or number), and optionally ``filename``,
``comment`` and, for external reports, ``file_type`` (a :class:`~dxltieclient.FileType` name or
number). An ``error`` key, as written in failed files, is ignored on input.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import tempfile
from typing import Any, Dict, Iterator, List, Mapping, NamedTuple, Optional, Sequence, Tuple

from .._errors import InvalidHashError, quote
from .._wire import check_hash
from ..constants import HashType
from .args import parse_file_type, parse_trust_level
from .errors import EXIT_USAGE, CliError

#: The import file formats.
CSV = "csv"
JSONL = "jsonl"
#: The key added to failed rows.
ERROR_KEY = "error"
#: The key under which a JSON line that is not an object is written back.
RAW_KEY = "raw"

_HASH_KEYS = (HashType.MD5, HashType.SHA1, HashType.SHA256)
_ALIASES = {"trust_level": "trust", "trustlevel": "trust", "file_name": "filename",
            "filetype": "file_type", "sha-1": "sha1", "sha-256": "sha256"}
_KNOWN_KEYS = frozenset(_HASH_KEYS + ("trust", "filename", "comment", "file_type", ERROR_KEY))
_EXTENSIONS = {".csv": CSV, ".jsonl": JSONL, ".ndjson": JSONL, ".json": JSONL}


class ImportRow(NamedTuple):
    """
    One row of an import file.

    :param line: its line number in the file
    :param original: the row as read (CSV: column to cell text; JSON lines: the object, or
        ``{"raw": <text>}`` for a line that is not a JSON object)
    :param item: the bulk call's item (``trust_level``, ``hashes``, ...) when the row is valid
    :param error: why the row is not valid, else ``None``
    :param cells: CSV: every cell of the row as read, extra ones included (``None`` for JSON
        lines), so that the row can be written back exactly
    """

    line: int
    original: Dict[str, Any]
    item: Optional[Dict[str, Any]]
    error: Optional[str]
    cells: Optional[List[str]] = None


class ImportFile(NamedTuple):
    """
    A parsed import file.

    :param path: the file
    :param format: :data:`CSV` or :data:`JSONL`
    :param fieldnames: the CSV header as written (``[]`` for JSON lines)
    :param rows: the rows, in file order
    """

    path: str
    format: str
    fieldnames: List[str]
    rows: List[ImportRow]


def _normalise_key(key: Any) -> str:
    text = str(key).strip().lower()
    return _ALIASES.get(text, text)


def _cell(value: Any) -> str:
    return "" if value is None else str(value).strip()


def row_to_item(row: Mapping[str, Any], external: bool = False) -> Dict[str, Any]:
    """
    Turns a row into an item of :meth:`~dxltieclient.TieClient.set_file_reputations` (or, with
    ``external``, of :meth:`~dxltieclient.TieClient.set_external_file_reputations`).

    :param row: the row (keys as in the module docstring; case-insensitive)
    :param external: whether the item is for an external report (``file_type`` is kept)
    :return: the item
    :raises ValueError: naming the problem, when the row is not valid
    """
    values = {_normalise_key(key): value for key, value in row.items() if key is not None}
    nested = values.get("hashes")
    if isinstance(nested, Mapping):
        values.update({_normalise_key(key): value for key, value in nested.items()})
    hashes = _row_hashes(values)
    trust = _row_trust(values)
    item: Dict[str, Any] = {"trust_level": parse_trust_level(trust), "hashes": hashes}
    for key in ("filename", "comment"):
        if _cell(values.get(key)):
            item[key] = str(values[key])
    if external and _cell(values.get("file_type")):
        item["file_type"] = parse_file_type(_cell(values["file_type"]))
    return item


def _row_hashes(values: Mapping[str, Any]) -> Dict[str, str]:
    """The row's hashes (lower-case hex), checked as the library checks them."""
    hashes: Dict[str, str] = {}
    for hash_type in _HASH_KEYS:
        value = _cell(values.get(hash_type))
        if value:
            try:
                check_hash(hash_type, value, allow_bytes=False)
            except InvalidHashError as error:
                raise ValueError(str(error)) from None
            hashes[hash_type] = value.lower()
    if not hashes:
        raise ValueError("no hash: give at least one of md5, sha1, sha256")
    return hashes


def _row_trust(values: Mapping[str, Any]) -> str:
    """The row's trust level, as text (a TrustLevel name or number)."""
    trust = values.get("trust")
    if trust is None or _cell(trust) == "":
        raise ValueError("no trust level: give a TrustLevel name or number in 'trust'")
    if isinstance(trust, bool) or not isinstance(trust, (int, str)):
        raise ValueError("trust must be a TrustLevel name or number, got {}".format(quote(trust)))
    return str(trust)


def detect_format(path: str, sample: str) -> str:
    """
    Tells the format of an import file: from its extension (``.csv``; ``.jsonl``, ``.ndjson``,
    ``.json``), else from its content (a first non-blank character ``{`` means JSON lines).

    :param path: the file's path
    :param sample: the beginning of its content
    :return: :data:`CSV` or :data:`JSONL`
    """
    extension = os.path.splitext(path)[1].lower()
    if extension in _EXTENSIONS:
        return _EXTENSIONS[extension]
    return JSONL if sample.lstrip().startswith("{") else CSV


def _row(line: int, original: Dict[str, Any], external: bool,
         cells: Optional[List[str]] = None) -> ImportRow:
    try:
        return ImportRow(line, original, row_to_item(original, external), None, cells)
    except ValueError as error:
        return ImportRow(line, original, None, str(error), cells)


def _parse_csv(path: str, text: str, external: bool) -> ImportFile:
    reader = csv.reader(io.StringIO(text, newline=""))
    fieldnames: List[str] = []
    for header in reader:
        if header:
            fieldnames = list(header)
            break
    keys = {_normalise_key(name) for name in fieldnames}
    if not fieldnames:
        raise CliError("{}: empty file (expected a header row such as "
                       "md5,sha1,sha256,trust,filename,comment)".format(path), EXIT_USAGE)
    if not keys.intersection(_HASH_KEYS) or "trust" not in keys:
        raise CliError(
            "{}: the header row ({}) needs a 'trust' column and at least one of md5, sha1, "
            "sha256".format(path, ",".join(fieldnames)), EXIT_USAGE)
    rows = []
    for cells in reader:
        if not any(cell.strip() for cell in cells):
            continue  # blank line
        original = dict(zip(fieldnames, cells))
        if len(cells) > len(fieldnames):
            rows.append(ImportRow(reader.line_num, original, None,
                                  "{} cell(s) more than the header's {} columns".format(
                                      len(cells) - len(fieldnames), len(fieldnames)),
                                  list(cells)))
        else:
            rows.append(_row(reader.line_num, original, external, list(cells)))
    return ImportFile(path, CSV, fieldnames, rows)


def _parse_jsonl(path: str, text: str, external: bool) -> ImportFile:
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError as error:
            rows.append(ImportRow(number, {RAW_KEY: line}, None,
                                  "not valid JSON: {}".format(error)))
            continue
        if not isinstance(value, dict):
            rows.append(ImportRow(number, {RAW_KEY: line}, None,
                                  "not a JSON object: {}".format(type(value).__name__)))
        elif set(value) <= {RAW_KEY, ERROR_KEY}:
            rows.append(ImportRow(number, value, None,
                                  "replace this line by the fixed JSON object"))
        else:
            rows.append(_row(number, value, external))
    return ImportFile(path, JSONL, [], rows)


def read_import_file(path: str, file_format: Optional[str] = None,
                     external: bool = False) -> ImportFile:
    """
    Reads and validates an import file. Bad rows are kept (with their error), not raised.

    :param path: the file
    :param file_format: :data:`CSV` or :data:`JSONL`; ``None`` to detect it
        (:func:`detect_format`)
    :param external: whether the items are for external reports
    :return: the parsed file
    :raises CliError: (exit code 2) when the file cannot be read, is not UTF-8 text, or its CSV
        header has no ``trust`` column or no hash column
    """
    try:
        with open(path, encoding="utf-8-sig", newline="") as stream:
            text = stream.read()
    except UnicodeDecodeError as error:
        raise CliError("{}: not UTF-8 text ({})".format(path, error), EXIT_USAGE) from None
    except OSError as error:
        raise CliError("cannot read {}: {}".format(path, error.strerror or error),
                       EXIT_USAGE) from None
    file_format = file_format or detect_format(path, text[:4096])
    if file_format == JSONL:
        return _parse_jsonl(path, text, external)
    try:
        return _parse_csv(path, text, external)
    except csv.Error as error:
        raise CliError("{}: not a readable CSV file: {}".format(path, error), EXIT_USAGE)


def unknown_columns(import_file: ImportFile) -> List[str]:
    """
    Lists the CSV columns the import ignores.

    :param import_file: the parsed file
    :return: the header names that are not import keys
    """
    return [name for name in import_file.fieldnames if _normalise_key(name) not in _KNOWN_KEYS]


def default_failed_path(path: str, file_format: str) -> str:
    """
    Names the file the failed rows go to: ``feed.csv`` -> ``feed.failed.csv``, ``feed.jsonl``
    -> ``feed.failed.jsonl``; a failed file keeps its own name (``feed.failed.csv`` ->
    ``feed.failed.csv``), so that re-running it never makes ``feed.failed.failed.csv``.

    :param path: the import file
    :param file_format: its format
    :return: the path, next to the import file
    """
    stem, extension = os.path.splitext(path)
    if not extension:
        extension = ".csv" if file_format == CSV else ".jsonl"
    if stem.endswith(".failed"):
        return stem + extension
    return "{}.failed{}".format(stem, extension)


def _csv_failed_rows(import_file: ImportFile, failures: Sequence[Tuple[Any, ...]]
                     ) -> Iterator[List[str]]:
    """The failed file's CSV rows: the header and each row's cells, with the error."""
    fieldnames = list(import_file.fieldnames)
    error_index = next((index for index, name in enumerate(fieldnames)
                        if _normalise_key(name) == ERROR_KEY), None)
    if error_index is None:  # the error goes first, so extra cells keep their place
        yield [ERROR_KEY] + fieldnames
        for row, error in failures:
            yield [error] + list(row.cells if row.cells is not None else
                                 [_cell(row.original.get(name)) for name in fieldnames])
        return
    yield fieldnames
    for row, error in failures:
        cells = list(row.cells if row.cells is not None else
                     [_cell(row.original.get(name)) for name in fieldnames])
        cells.extend([""] * (error_index + 1 - len(cells)))
        cells[error_index] = error
        yield cells


def write_failed(path: str, import_file: ImportFile,
                 failures: Sequence[Tuple[Any, ...]]) -> None:
    """
    Writes failed rows, in the import file's format, so that the file can be fixed and imported
    again: CSV rows keep every cell as read (extra ones included) and get an ``error`` column
    (first, or the file's own ``error`` column); JSON lines keep the object and get an
    ``error`` key. The file is replaced atomically (it may be the file being imported).

    :param path: the file to write (replaced)
    :param import_file: the file the rows came from
    :param failures: ``(row, error text)`` pairs, ``row`` an :class:`ImportRow`
    """
    directory = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(prefix=".dxltie-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            if import_file.format == CSV:
                csv.writer(stream).writerows(_csv_failed_rows(import_file, failures))
            else:
                for row, error in failures:
                    record: Dict[str, Any] = dict(row.original)
                    record[ERROR_KEY] = error
                    stream.write(json.dumps(record) + "\n")
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
