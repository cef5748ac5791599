"""The samples of the rest of the TIE Server API (issue #10), run as subprocesses against the
session's sandbox through ``sample/run_samples.py``, their output checked closely."""

import json
import subprocess
import sys
import time

from sample_runner import run_or_fail as run
from sample_runner import run_samples

NOTEPAD = run_samples.NOTEPAD_HASHES


def test_targeted_reputation_change_callback(samples_by_name, tie_sandbox, sample_tree):
    lines = run(samples_by_name["advanced_targeted_reputation_change_callback_example"],
                tie_sandbox, sample_tree)

    assert lines[0] == "Waiting for targeted reputation change events..."
    file_event = run_samples.json_after(
        lines, "Targeted reputation change on topic: /mcafee/event/tie/file/repchange")
    assert file_event["hashes"]["md5"] == NOTEPAD["md5"]
    assert "3" in file_event["newReputations"]
    cert_event = run_samples.json_after(
        lines, "Targeted reputation change on topic: /mcafee/event/tie/cert/repchange")
    assert cert_event["hashes"]["sha1"] == run_samples.CERT_SHA1.lower()


def test_file_prevalence_callback(samples_by_name, tie_sandbox, sample_tree):
    lines = run(samples_by_name["advanced_file_prevalence_callback_example"], tie_sandbox,
                sample_tree)

    assert lines[0] == "Waiting for file prevalence events..."
    event = run_samples.json_after(
        lines, "Prevalence change on topic: /mcafee/event/tie/file/prevalence")
    assert sorted(event) == ["agentFirstReference", "agentGuid", "enterpriseCount", "hashes",
                             "prevalent"]
    assert list(event["hashes"]) == ["sha256"]
    assert event["enterpriseCount"] == 1 and event["prevalent"] is False


def test_reputation_updates(samples_by_name, tie_sandbox, sample_tree, tie_client):
    # a change of our own, so that the sample has something to list
    tie_client.set_file_reputation(run_samples.TrustLevel.KNOWN_TRUSTED, NOTEPAD)
    lines = run(samples_by_name["advanced_reputation_updates_example"], tie_sandbox,
                sample_tree)

    assert lines[0].startswith("Reputation updates since ")
    assert "\tFile sha256: " + NOTEPAD["sha256"] in lines
    assert lines[-1].startswith("Pages: ")
    listed = [line for line in lines if line.startswith("\t")]
    assert len(listed) == len(set(listed))


def test_update_metadata(samples_by_name, tie_sandbox, sample_tree):
    lines = run(samples_by_name["advanced_update_metadata_example"], tie_sandbox, sample_tree)

    assert lines == ["File metadata sent.", "Certificate metadata sent."]
    # TIE answers nothing: wait (bounded) until the emulator has stored the update
    deadline = time.monotonic() + 10
    while True:
        shown = subprocess.run([sys.executable, "-m", "dxltieclient.sandbox", "show",
                                NOTEPAD["sha256"], "--dir", tie_sandbox.directory],
                               capture_output=True, text=True, timeout=60, check=True).stdout
        updates = json.loads(shown)["file"]["metadata"]
        if any(update["fields"].get("name") == "notepad.exe" for update in updates):
            break
        assert time.monotonic() < deadline, shown
        time.sleep(0.2)
