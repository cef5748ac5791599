"""
Every sample, run as a subprocess against the session's sandbox, prints what it should.

Each test runs the sample through ``sample/run_samples.py`` (so the one-command run and these tests
share one definition of what each sample must print), then checks the seeded data more closely.
"""

import json

import pytest
from sample_runner import run_samples

SampleFailure = run_samples.SampleFailure

NOTEPAD = run_samples.NOTEPAD_HASHES


def run(sample, sandbox, tree):
    """Runs ``sample`` from ``tree``; fails the test with the sample's output if it failed."""
    try:
        return sample.run(sandbox, str(tree))
    except SampleFailure as failure:
        pytest.fail("{}: {}\n{}".format(sample.path, failure.reason, "\n".join(failure.lines)))


def json_after(lines, header):
    return run_samples.json_after(lines, header)


def test_every_sample_is_covered(samples_by_name):
    assert sorted(samples_by_name) == [
        "advanced_file_prevalence_callback_example",
        "advanced_get_reputation_example",
        "advanced_reputation_updates_example",
        "advanced_targeted_reputation_change_callback_example",
        "advanced_update_metadata_example",
        "basic_detection_callback_example",
        "basic_first_instance_callback",
        "basic_first_ref_example",
        "basic_get_reputation_example",
        "basic_reputation_change_callback_example",
        "basic_set_external_file_reputation",
        "basic_set_reputation_example",
    ]


def test_get_reputation(samples_by_name, tie_sandbox, sample_tree):
    lines = run(samples_by_name["basic_get_reputation_example"], tie_sandbox, sample_tree)

    notepad = json_after(lines, "Notepad.exe reputations:")
    assert notepad["1"]["providerId"] == 1
    assert notepad["1"]["trustLevel"] == 99
    assert notepad["3"]["providerId"] == 3
    assert lines.index("EICAR reputations:") > lines.index("Notepad.exe reputations:")
    assert lines[lines.index("EICAR reputations:") - 1] == ""
    eicar = json_after(lines, "EICAR reputations:")
    assert eicar["1"]["trustLevel"] == 1


def test_set_reputation(samples_by_name, tie_sandbox, sample_tree):
    lines = run(samples_by_name["basic_set_reputation_example"], tie_sandbox, sample_tree)

    assert lines == ["Succeeded."]


def test_set_external_reputation(samples_by_name, tie_sandbox, sample_tree):
    lines = run(samples_by_name["basic_set_external_file_reputation"], tie_sandbox, sample_tree)

    assert lines == ["Event Sent"]


def test_first_references(samples_by_name, tie_sandbox, sample_tree):
    lines = run(samples_by_name["basic_first_ref_example"], tie_sandbox, sample_tree)

    assert lines[:3] == ["", "Systems that have referenced the file:", ""]
    systems = lines[3:]
    assert systems, "no system listed"
    for line in systems:
        guid, _, when = line.partition(": ")
        assert line.startswith("\t{") and guid.endswith("}") and len(guid) == 39, line
        assert len(when) == len("2016-10-07 13:54:52"), line


def test_advanced_get_reputation(samples_by_name, tie_sandbox, sample_tree):
    lines = run(samples_by_name["advanced_get_reputation_example"], tie_sandbox, sample_tree)

    file_part = lines[:lines.index("Certificate reputation response:")]
    cert_part = lines[lines.index("Certificate reputation response:"):]
    assert file_part[0] == "File reputation response:"
    assert "\tGlobal Threat Intelligence (GTI) trust level: 99" in file_part
    assert any(line.startswith("\tEnterprise prevalence: ") for line in file_part)
    assert any(line.startswith("\tFirst contact: ") for line in file_part)
    assert any(line.startswith("\tGlobal Threat Intelligence (GTI) trust level: ")
               for line in cert_part)
    assert any(line.startswith("\tFirst contact: ") for line in cert_part)
    certificate = json_after(lines, "Full certificate reputation response:")
    assert sorted(certificate) == ["2", "4"]


def test_reputation_change_callback(samples_by_name, tie_sandbox, sample_tree):
    lines = run(samples_by_name["basic_reputation_change_callback_example"], tie_sandbox,
                sample_tree)

    assert lines[0] == "Waiting for reputation change events..."
    file_event = json_after(lines, "Reputation change on topic: "
                            + run_samples.FILE_REP_CHANGE_TOPIC)
    assert file_event["hashes"][run_samples.HashType.MD5] == NOTEPAD["md5"]
    assert "3" in file_event["newReputations"]
    cert_event = json_after(lines, "Reputation change on topic: "
                            + run_samples.CERT_REP_CHANGE_TOPIC)
    assert cert_event["hashes"]["sha1"] == run_samples.CERT_SHA1.lower()
    assert "4" in cert_event["newReputations"]


def test_detection_callback(samples_by_name, tie_sandbox, sample_tree):
    lines = run(samples_by_name["basic_detection_callback_example"], tie_sandbox, sample_tree)

    assert lines[0] == "Waiting for detection events..."
    event = json_after(lines, "Detection on topic: " + run_samples.DETECTION_TOPIC)
    assert event["agentGuid"] == run_samples.DETECTION_AGENT
    assert event["hashes"] == NOTEPAD
    assert event["name"] == "notepad.exe"
    assert event["remediationAction"] == 5


def test_first_instance_callback(samples_by_name, tie_sandbox, sample_tree):
    lines = run(samples_by_name["basic_first_instance_callback"], tie_sandbox, sample_tree)

    assert lines[0] == "Waiting for first instance events..."
    event = json_after(lines, "First instance on topic: " + run_samples.FIRST_INSTANCE_TOPIC)
    assert event == {"agentGuid": run_samples.FIRST_INSTANCE_AGENT, "hashes": NOTEPAD,
                     "name": "notepad.exe"}


def test_a_sample_that_prints_the_wrong_thing_fails(tmp_path, tie_sandbox):
    """The checks can fail: a sample printing something else is reported with its output."""
    (tmp_path / "basic").mkdir()
    (tmp_path / "basic" / "basic_set_reputation_example.py").write_text(
        'print("Nothing was set.")\n')
    sample = run_samples.Sample("basic/basic_set_reputation_example.py",
                                run_samples.check_set_reputation)

    with pytest.raises(SampleFailure) as failure:
        sample.run(tie_sandbox, str(tmp_path))

    assert failure.value.lines == ["Nothing was set."]
    assert "Succeeded." in failure.value.reason


def test_a_callback_sample_that_never_waits_fails(tmp_path, tie_sandbox):
    (tmp_path / "basic").mkdir()
    (tmp_path / "basic" / "silent.py").write_text('print("Starting...")\n')
    sample = run_samples.CallbackSample("basic/silent.py", run_samples.emit_detection,
                                        ["Detection on topic: " + run_samples.DETECTION_TOPIC])

    with pytest.raises(SampleFailure) as failure:
        sample.run(tie_sandbox, str(tmp_path))

    assert "Waiting for" in failure.value.reason
    assert failure.value.lines == ["Starting..."]


def test_json_output_is_parsed(samples_by_name):
    # json_after is what the checks above rely on: make sure it reads a pretty-printed object
    lines = ["Header:"] + json.dumps({"1": {"a": 1}}, indent=4).splitlines() + ["", "Next"]
    assert json_after(lines, "Header:") == {"1": {"a": 1}}
