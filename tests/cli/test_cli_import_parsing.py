"""dxltie import without a broker: CSV and JSON lines parsing, bad rows, the failed-rows file."""

from __future__ import annotations

import csv
import json

import pytest

from dxltieclient import FileType, TrustLevel
from dxltieclient.cli import main
from dxltieclient.cli.errors import CliError
from dxltieclient.cli.importfile import (
    default_failed_path,
    detect_format,
    read_import_file,
    row_to_item,
    write_failed,
)

MD5 = "f2c7bb8acc97f92e987a2d4087d021b1"
SHA1 = "7eb0139d2175739b3ccb0d1110067820be6abd29"

CSV_TEXT = """md5,sha1,sha256,trust,filename,comment
{md5},,,known_malicious,bad.exe,feed
,{sha1},,99,,
{md5}0,,,1,,
{md5},,,very_bad,,
,,,1,nohash.exe,
{md5},{sha1},,85,a,b,extra

""".format(md5=MD5, sha1=SHA1)


def test_csv_rows_become_items_and_bad_rows_failures(tmp_path) -> None:
    path = tmp_path / "feed.csv"
    path.write_text(CSV_TEXT)
    parsed = read_import_file(str(path))
    assert parsed.format == "csv" and len(parsed.rows) == 6
    assert [row.line for row in parsed.rows] == [2, 3, 4, 5, 6, 7]
    good = [row.item for row in parsed.rows if row.item]
    assert good == [
        {"trust_level": 1, "hashes": {"md5": MD5}, "filename": "bad.exe", "comment": "feed"},
        {"trust_level": 99, "hashes": {"sha1": SHA1}}]
    errors = [row.error for row in parsed.rows if row.error]
    assert "expected 32 hexadecimal digits" in errors[0]
    assert "unknown TrustLevel 'very_bad'" in errors[1]
    assert "no hash" in errors[2]
    assert "1 cell(s) more than the header" in errors[3]


def test_header_without_trust_or_hash_is_bad_input(tmp_path) -> None:
    for header in ("md5,filename\n", "trust,filename\n", ""):
        path = tmp_path / "bad.csv"
        path.write_text(header + "x,y\n" if header else "")
        with pytest.raises(CliError) as caught:
            read_import_file(str(path))
        assert caught.value.exit_code == 2


def test_a_csv_the_csv_module_refuses_is_bad_input(tmp_path) -> None:
    path = tmp_path / "huge.csv"
    path.write_text("md5,trust,comment\n{},1,{}\n".format(MD5, "x" * 200000))
    with pytest.raises(CliError) as caught:
        read_import_file(str(path))
    assert caught.value.exit_code == 2
    assert "not a readable CSV file" in str(caught.value)


def test_jsonl_rows_with_bad_lines(tmp_path) -> None:
    lines = [json.dumps({"md5": MD5, "trust": 1, "filename": "a.exe", "file_type": "peexe"}),
             json.dumps({"hashes": {"sha1": SHA1}, "trust": "Known_Trusted"}),
             "{not json", "[1, 2]", json.dumps({"md5": MD5, "trust": True}),
             json.dumps({"md5": MD5, "trust": 1, "error": "old failure"})]
    path = tmp_path / "feed.data"
    path.write_text("\n".join(lines) + "\n")
    parsed = read_import_file(str(path), external=True)
    assert parsed.format == "jsonl"
    items = [row.item for row in parsed.rows]
    assert items[0] == {"trust_level": 1, "hashes": {"md5": MD5}, "filename": "a.exe",
                        "file_type": FileType.PEEXE}
    assert items[1] == {"trust_level": TrustLevel.KNOWN_TRUSTED, "hashes": {"sha1": SHA1}}
    assert items[2] is None and "not valid JSON" in parsed.rows[2].error
    assert items[3] is None and "not a JSON object" in parsed.rows[3].error
    assert items[4] is None and "trust must be" in parsed.rows[4].error
    assert items[5] == {"trust_level": 1, "hashes": {"md5": MD5}}


def test_file_type_only_kept_for_external_reports() -> None:
    row = {"MD5": MD5, "Trust": "1", "File_Type": "dll"}
    assert "file_type" not in row_to_item(row)
    assert row_to_item(row, external=True)["file_type"] == FileType.DLL
    with pytest.raises(ValueError, match="FileType"):
        row_to_item({"md5": MD5, "trust": "1", "file_type": "nope"}, external=True)


def test_format_detection() -> None:
    assert detect_format("a.CSV", "{") == "csv"
    assert detect_format("a.ndjson", "md5") == "jsonl"
    assert detect_format("a.txt", '  {"md5": 1}') == "jsonl"
    assert detect_format("a", "md5,trust") == "csv"
    assert default_failed_path("/x/feed.csv", "csv") == "/x/feed.failed.csv"
    assert default_failed_path("/x/feed", "jsonl") == "/x/feed.failed.jsonl"


def test_failed_csv_keeps_the_row_and_can_be_read_again(tmp_path) -> None:
    path = tmp_path / "feed.csv"
    path.write_text(CSV_TEXT)
    parsed = read_import_file(str(path))
    failures = [(row, row.error) for row in parsed.rows if row.error]
    failed = tmp_path / "feed.failed.csv"
    write_failed(str(failed), parsed, failures)
    with open(str(failed), newline="") as stream:
        records = list(csv.DictReader(stream))
    assert [record["error"] for record in records] == [error for _, error in failures]
    assert records[0]["md5"] == MD5 + "0" and records[0]["trust"] == "1"
    again = read_import_file(str(failed))  # the error column is ignored on input
    assert [row.error for row in again.rows][:3] == [error for _, error in failures][:3]
    # every cell is written back, the extra ones too (after the error column, put first)
    assert again.rows[3].cells == [failures[3][1]] + failures[3][0].cells
    assert again.rows[3].error == "1 cell(s) more than the header's 7 columns"
    with open(str(failed), newline="") as stream:
        assert next(csv.reader(stream)) == ["error"] + parsed.fieldnames


def test_import_of_only_bad_rows_needs_no_broker(tmp_path, monkeypatch,
                                                 capsys: pytest.CaptureFixture) -> None:
    monkeypatch.delenv("DXLTIE_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "feed.jsonl"
    path.write_text('{"md5": "abc", "trust": 1}\nnot json\n')
    assert main(["import", str(path)]) == 1
    captured = capsys.readouterr()
    assert "imported: 0 succeeded, 2 failed" in captured.out
    assert "line 1: Invalid md5 hash 'abc'" in captured.err
    records = [json.loads(line) for line in (tmp_path / "feed.failed.jsonl").read_text()
               .splitlines()]
    assert records[0]["md5"] == "abc" and "Invalid md5" in records[0]["error"]
    assert records[1]["raw"] == "not json" and "not valid JSON" in records[1]["error"]


def test_import_of_a_missing_file_exits_2(tmp_path, capsys: pytest.CaptureFixture) -> None:
    assert main(["import", str(tmp_path / "nothing.csv")]) == 2
    assert "cannot read" in capsys.readouterr().err
