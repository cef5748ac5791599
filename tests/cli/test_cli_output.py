"""dxltie output without a broker: names, dates, key attributes, tables, JSON, event lines."""

from __future__ import annotations

import io
import json
import time

from dxltieclient import (
    AtdAttrib,
    CertEnterpriseAttrib,
    CertGtiAttrib,
    FileEnterpriseAttrib,
    FileGtiAttrib,
)
from dxltieclient.cli import output
from dxltieclient.cli.listen import EventPrinter

CREATED = 1475848492


def _local(epoch: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))


REPUTATIONS = {
    1: {"providerId": 1, "trustLevel": 99, "createDate": CREATED,
        "attributes": {FileGtiAttrib.FIRST_CONTACT: "1256265475",
                       FileGtiAttrib.PREVALENCE: "120661", "9999": "x"}},
    3: {"providerId": 3, "trustLevel": 0, "createDate": CREATED,
        "attributes": {FileEnterpriseAttrib.PREVALENCE: "4",
                       FileEnterpriseAttrib.ENTERPRISE_SIZE: "5",
                       FileEnterpriseAttrib.FIRST_CONTACT: str(CREATED)}},
    5: {"providerId": 5, "trustLevel": 15, "createDate": CREATED,
        "attributes": {AtdAttrib.VERDICT: "4", AtdAttrib.SANDBOX_SCORE: "3"}},
    7: {"providerId": 7, "trustLevel": 85, "createDate": CREATED, "attributes": {}},
    15: {"providerId": 15, "trustLevel": 1, "createDate": CREATED},
}


def test_names() -> None:
    assert output.trust_level_name(99) == "KNOWN_TRUSTED (99)"
    assert output.trust_level_name("1") == "KNOWN_MALICIOUS (1)"
    assert output.trust_level_name(42) == "42"
    assert output.atd_trust_level_name("-1") == "KNOWN_TRUSTED (-1)"
    assert [output.provider_name(pid) for pid in (1, 3, 5, 7, 15, 99)] == [
        "GTI", "Enterprise", "ATD", "MWG", "External", "provider 99"]
    assert [output.provider_name(pid, "cert") for pid in (2, 4)] == ["GTI", "Enterprise"]
    assert output.describe_file_type(18) == "PEEXE (18)"
    assert output.attribute_name(3, FileEnterpriseAttrib.PREVALENCE) == \
        "FileEnterpriseAttrib.PREVALENCE"
    assert output.attribute_name(1, "9999") == ""


def test_dates_are_local_time() -> None:
    assert output.format_time(CREATED) == _local(CREATED)
    assert output.format_time(str(CREATED)) == _local(CREATED)
    assert output.format_time(None) == "-"
    assert output.format_time("soon") == "soon"


def test_file_table_shows_providers_trust_dates_and_key_attributes() -> None:
    text = output.format_reputations("File: notepad.exe", {"md5": "ab" * 16}, REPUTATIONS)
    lines = text.splitlines()
    assert lines[0] == "File: notepad.exe" and lines[1] == "  md5  " + "ab" * 16
    assert lines[2].split() == ["PROVIDER", "TRUST", "LEVEL", "CREATED", "DETAILS"]
    rows = {line.split()[0]: line for line in lines[3:]}
    assert "KNOWN_TRUSTED (99)" in rows["GTI"] and _local(CREATED) in rows["GTI"]
    assert "first contact {}".format(_local(1256265475)) in rows["GTI"]
    assert "prevalence 120661" in rows["GTI"]
    assert "prevalence 4, enterprise size 5, first contact " + _local(CREATED) in \
        rows["Enterprise"]
    assert "MOST_LIKELY_MALICIOUS (15)" in rows["ATD"]
    assert "verdict MOST_LIKELY_MALICIOUS (4), sandbox MIGHT_BE_MALICIOUS (3)" in rows["ATD"]
    assert "MOST_LIKELY_TRUSTED (85)" in rows["MWG"] and "KNOWN_MALICIOUS (1)" in rows["External"]
    # columns are aligned: every row's trust level starts where the header's does
    column = lines[2].index("TRUST LEVEL")
    assert all(line[column - 2:column] == "  " and line[column] != " " for line in lines[3:])


def test_attribute_listing_and_empty_reputations() -> None:
    text = output.format_reputations("File: x", {}, REPUTATIONS, show_attributes=True)
    assert "GTI attributes:" in text and "FileGtiAttrib.PREVALENCE" in text
    assert "9999" in text
    assert output.format_reputations("File: x", {"md5": "0" * 32}, {}).endswith(
        "no reputations")


def test_certificate_table() -> None:
    reputations = {
        2: {"providerId": 2, "trustLevel": 99, "createDate": CREATED,
            "attributes": {CertGtiAttrib.REVOKED: "0", CertGtiAttrib.PREVALENCE: "7"}},
        4: {"providerId": 4, "trustLevel": 0, "createDate": CREATED,
            "attributes": {CertEnterpriseAttrib.PREVALENCE: "4"},
            "overridden": {"files": [{"hashes": {}}, {"hashes": {}}], "truncated": 1}}}
    text = output.format_reputations("Certificate: c", {"sha1": "c"}, reputations, "cert")
    assert "GTI         KNOWN_TRUSTED (99)" in text and "revoked 0" in text
    assert "overridden by 2+ file(s)" in text


def test_references_table() -> None:
    text = output.format_references("File: x", [{"agentGuid": "{a}", "date": CREATED}])
    assert "{a}" in text and _local(CREATED) in text and text.endswith("1 system(s)")
    assert output.format_references("File: x", []).endswith("0 system(s)")


def test_json_turns_provider_ids_into_strings() -> None:
    assert json.loads(output.to_json({1: {"trustLevel": 99}})) == {"1": {"trustLevel": 99}}


class _Event:
    destination_topic = "/mcafee/event/tie/file/detection"


def test_event_printer_writes_one_json_line_per_event_and_stops_at_the_limit() -> None:
    stream = io.StringIO()
    printer = EventPrinter(stream, limit=2)
    printer.write("detection", {"hashes": {"md5": "ab"}, "reps": {1: 2}}, _Event())
    assert not printer.done.is_set()
    printer.write("detection", {"name": "x"}, _Event())
    printer.write("detection", {"name": "ignored"}, _Event())
    lines = stream.getvalue().splitlines()
    assert printer.done.is_set() and printer.count == 2 and len(lines) == 2
    assert json.loads(lines[0]) == {"topic": "/mcafee/event/tie/file/detection",
                                    "type": "detection",
                                    "event": {"hashes": {"md5": "ab"}, "reps": {"1": 2}}}
