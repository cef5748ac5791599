"""dxltie end to end on the sandbox (Mosquitto + TIE emulator): every command, in process and as
a subprocess (the console script and ``python -m dxltieclient``)."""

from __future__ import annotations

import csv
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from typing import IO, Any, Callable, Dict, List

import pytest

from dxltieclient.cli import main

pytestmark = pytest.mark.integration

MD5 = "f2c7bb8acc97f92e987a2d4087d021b1"
SHA1 = "7eb0139d2175739b3ccb0d1110067820be6abd29"
SHA256 = "142e1d688ef0568370c37187fd9f2351d7ddeda574f8bfa9b0fa4ef42db85aa2"
CERT_SHA1 = "6EAE26DB8C13182A7947982991B4321732CC3DE2"
CERT_PUBLIC_KEY_SHA1 = "3B87A2D6F39770160364B79A152FCC73BAE27ADF"


@pytest.fixture
def run(tie_sandbox: Any, capsys: pytest.CaptureFixture) -> Callable[..., tuple]:
    """Runs ``dxltie --config <sandbox> ARGS`` in process: returns (exit code, stdout, stderr)."""
    def run_cli(*argv: str) -> tuple:
        code = main(["--config", tie_sandbox.config_file, "--timeout", "10"] + list(argv))
        captured = capsys.readouterr()
        return code, captured.out, captured.err
    return run_cli


def _random_md5() -> str:
    return uuid.uuid4().hex


def _reputations(run: Callable[..., tuple], target: str) -> Dict[str, Any]:
    code, out, err = run("reputation", "--json", target)
    assert code == 0, err
    return json.loads(out)[0]["result"]


def _wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after {} s waiting for {}".format(timeout, what))
        time.sleep(0.2)


def test_reputation_table_of_a_seeded_hash(run: Callable[..., tuple]) -> None:
    code, out, err = run("reputation", MD5)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "File: " + MD5
    gti = next(line for line in lines if line.strip().startswith("GTI"))
    assert "KNOWN_TRUSTED (99)" in gti and "first contact" in gti


def test_reputation_json_of_several_targets_uses_the_bulk_call(
        run: Callable[..., tuple], tmp_path: Any) -> None:
    path = tmp_path / "unknown.bin"
    path.write_bytes(os.urandom(64))
    code, out, err = run("reputation", "--json", "md5:" + MD5, SHA256, str(path))
    assert code == 0, err
    results = json.loads(out)
    assert [result["target"] for result in results] == ["md5:" + MD5, SHA256, str(path)]
    assert results[0]["result"]["1"]["trustLevel"] == 99
    assert results[1]["hashes"] == {"sha256": SHA256}
    assert results[1]["result"]["1"]["trustLevel"] == 99
    assert results[2]["path"] == str(path) and len(results[2]["hashes"]) == 3
    assert all(result["ok"] and "error" not in result for result in results)


def test_cert_reputation(run: Callable[..., tuple]) -> None:
    code, out, err = run("cert-reputation", CERT_SHA1, "--public-key-sha1",
                         CERT_PUBLIC_KEY_SHA1)
    assert code == 0, err
    assert out.startswith("Certificate: " + CERT_SHA1.lower())
    assert "public key sha1  " + CERT_PUBLIC_KEY_SHA1.lower() in out
    assert any(line.strip().startswith("GTI") and "KNOWN_TRUSTED (99)" in line
               for line in out.splitlines())
    code, out, err = run("cert-reputation", "--json", CERT_SHA1)
    assert code == 0, err
    assert json.loads(out)[0]["result"]["2"]["trustLevel"] == 99


def test_references(run: Callable[..., tuple]) -> None:
    code, out, err = run("references", "--json", MD5)
    assert code == 0, err
    agents = json.loads(out)[0]["result"]
    assert agents and all("agentGuid" in agent and "date" in agent for agent in agents)
    code, out, err = run("references", "--limit", "1", SHA1)
    assert code == 0, err
    assert out.rstrip().endswith("1 system(s)") and "SYSTEM" in out


def test_set_reputation_of_a_file_then_external_report(run: Callable[..., tuple],
                                                       tmp_path: Any) -> None:
    path = tmp_path / "dropper.exe"
    path.write_bytes(os.urandom(256))
    code, out, err = run("set-reputation", "--trust", "known_malicious", str(path),
                         "--comment", "cli test")
    assert code == 0, err
    assert "to KNOWN_MALICIOUS (1)" in out and str(path) in out
    assert _reputations(run, str(path))["3"]["trustLevel"] == 1
    code, out, err = run("set-reputation", "--external", "--trust", "MIGHT_BE_TRUSTED",
                         "--file-type", "peexe", str(path))
    assert code == 0, err
    assert "filename 'dropper.exe'" in out and "PEEXE (18)" in out
    assert "as a DXL event" in out and "delivery is not confirmed" in out
    external = _wait_for(lambda: _reputations(run, str(path)).get("15"), 10,
                         "the external reputation")
    assert external["trustLevel"] == 70


def _write_csv(path: Any, header: List[str], rows: List[List[str]]) -> None:
    with open(str(path), "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(header)
        writer.writerows(rows)


def test_import_with_good_and_bad_rows_then_rerun_of_the_fixed_failed_file(
        run: Callable[..., tuple], tmp_path: Any) -> None:
    good = [_random_md5() for _ in range(3)]
    bad_hash, bad_trust = _random_md5(), _random_md5()
    feed = tmp_path / "feed.csv"
    _write_csv(feed, ["md5", "sha1", "trust", "filename", "comment"], [
        [good[0], "", "known_malicious", "a.exe", "feed"],
        [bad_hash[:-2], "", "1", "b.exe", ""],
        [good[1], "", "99", "", ""],
        [bad_trust, "", "evil", "c.exe", "typo"],
        [good[2], "", "Most_Likely_Trusted", "", ""]])
    code, out, err = run("import", str(feed))
    assert code == 1, err
    assert "imported: 3 succeeded, 2 failed" in out
    failed = tmp_path / "feed.failed.csv"
    assert str(failed) in out
    with open(str(failed), newline="") as stream:
        records = list(csv.DictReader(stream))
    assert [record["md5"] for record in records] == [bad_hash[:-2], bad_trust]
    assert "expected 32 hexadecimal digits" in records[0]["error"]
    assert "unknown TrustLevel 'evil'" in records[1]["error"]
    assert records[1]["filename"] == "c.exe" and records[1]["comment"] == "typo"
    assert _reputations(run, good[0])["3"]["trustLevel"] == 1
    assert _reputations(run, good[2])["3"]["trustLevel"] == 85

    records[0]["md5"] = bad_hash
    records[1]["trust"] = "might_be_malicious"
    with open(str(failed), "w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(records[0]))
        writer.writeheader()
        writer.writerows(records)
    code, out, err = run("import", "--progress", str(failed))
    assert code == 0, err
    assert "imported: 2 succeeded, 0 failed" in out
    assert "importing:" in err and "2/2" in err and "row/s" in err
    assert _reputations(run, bad_hash)["3"]["trustLevel"] == 1
    assert _reputations(run, bad_trust)["3"]["trustLevel"] == 30


def test_import_external_reports_from_json_lines(run: Callable[..., tuple],
                                                 tmp_path: Any) -> None:
    md5s = [_random_md5() for _ in range(2)]
    feed = tmp_path / "feed.jsonl"
    feed.write_text("".join(json.dumps({"md5": md5, "trust": 15, "filename": "x.exe",
                                        "file_type": "PEEXE"}) + "\n" for md5 in md5s))
    code, out, err = run("import", "--external", str(feed))
    assert code == 0, err
    assert "imported: 2 succeeded, 0 failed" in out
    assert not (tmp_path / "feed.failed.jsonl").exists()
    for md5 in md5s:
        external = _wait_for(lambda md5=md5: _reputations(run, md5).get("15"), 10,
                             "the external reputation of " + md5)
        assert external["trustLevel"] == 15


def _line_reader(stream: IO[str]) -> "queue.Queue[str]":
    lines: "queue.Queue[str]" = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line)
    threading.Thread(target=pump, daemon=True).start()
    return lines


def _next_line(lines: "queue.Queue[str]", timeout: float, what: str) -> str:
    try:
        return lines.get(timeout=timeout)
    except queue.Empty:
        raise AssertionError("no {} within {} s".format(what, timeout)) from None


def test_listen_prints_events_as_json_lines_and_exits_0_on_sigint(
        tie_sandbox: Any, run: Callable[..., tuple], tmp_path: Any) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "dxltieclient", "--config", tie_sandbox.config_file, "listen"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = _line_reader(process.stdout), _line_reader(process.stderr)  # type: ignore
        assert "listening for" in _next_line(err, 20, "ready message on stderr")
        md5 = _random_md5()
        code, _, run_err = run("set-reputation", "--trust", "known_trusted", md5)
        assert code == 0, run_err
        event = json.loads(_next_line(out, 10, "reputation change line"))
        assert event["topic"] == "/mcafee/event/tie/file/repchange/broadcast"
        assert event["type"] == "reputation-change"
        assert event["event"]["hashes"]["md5"] == md5
        assert event["event"]["newReputations"]["3"]["trustLevel"] == 99
        tie_sandbox.emit_detection({"md5": md5}, "{agent}", "x.exe", 1, 5)
        detection = json.loads(_next_line(out, 10, "detection line"))
        assert detection["type"] == "detection"
        assert detection["event"]["hashes"] == {"md5": md5}
        tie_sandbox.emit_first_instance({"md5": md5}, "{agent}", "x.exe")
        first = json.loads(_next_line(out, 10, "first instance line"))
        assert (first["type"], first["event"]["name"]) == ("first-instance", "x.exe")
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) == 0
        assert "stopped after 3 event(s)" in _next_line(err, 5, "stop message")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def _console_script() -> str:
    candidate = os.path.join(os.path.dirname(sys.executable), "dxltie")
    if not os.path.exists(candidate):  # e.g. Debian's python3: scripts go to /usr/local/bin
        candidate = shutil.which("dxltie") or candidate
    assert os.path.exists(candidate), "the dxltie console script is not installed: pip install -e ."
    return candidate


def test_console_script_runs_a_lookup(tie_sandbox: Any) -> None:
    result = subprocess.run(
        [_console_script(), "reputation", "--json", MD5], capture_output=True, text=True,
        timeout=60, env=dict(os.environ, DXLTIE_CONFIG=tie_sandbox.config_file))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)[0]["result"]["1"]["trustLevel"] == 99


def test_console_script_bad_hash_exits_2_without_traceback(tie_sandbox: Any) -> None:
    result = subprocess.run(
        [_console_script(), "--config", tie_sandbox.config_file, "reputation", "abc"],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.startswith("dxltie: error:") and "Traceback" not in result.stderr


def test_no_tie_service_exits_5(tie_fabric: Any, tmp_path: Any,
                                capsys: pytest.CaptureFixture) -> None:
    config = ["--config", tie_fabric.config_file, "--timeout", "10"]
    assert main(config + ["reputation", MD5]) == 5
    err = capsys.readouterr().err
    assert "no TIE server answered" in err and "Traceback" not in err
    feed = tmp_path / "feed.csv"
    _write_csv(feed, ["md5", "trust"], [[_random_md5(), "1"], [_random_md5(), "1"]])
    assert main(config + ["import", str(feed)]) == 5
    assert "imported: 0 succeeded, 2 failed" in capsys.readouterr().out
