"""dxltie end to end on the sandbox, for issue #8: the default sandbox found without any
configuration option, a TLS failure against the real broker, lost and restored connections in
``listen``, certificate commands, stdin and JSON lines, and an import stopped by SIGTERM whose
failed file re-applies exactly what was not applied."""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from typing import IO, Any, Callable, List

import pytest

from dxltieclient.cli import main

from .tls_pki import Pki

pytestmark = pytest.mark.integration

MD5 = "f2c7bb8acc97f92e987a2d4087d021b1"
SHA1 = "7eb0139d2175739b3ccb0d1110067820be6abd29"
CERT_SHA1 = "6EAE26DB8C13182A7947982991B4321732CC3DE2"


class Collector:
    """Reads a process's stream in a thread; :meth:`wait_for` waits (bounded) for a pattern."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.text = ""
        self._changed = threading.Condition()
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream: IO[bytes]) -> None:
        while True:
            chunk = os.read(stream.fileno(), 4096)
            with self._changed:
                if not chunk:
                    self._changed.notify_all()
                    return
                self.text += chunk.decode("utf-8", "replace")
                self._changed.notify_all()

    def wait_for(self, pattern: str, timeout: float) -> "re.Match[str]":
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                match = re.search(pattern, self.text)
                if match:
                    return match
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError("no {!r} within {} s in: {}".format(
                        pattern, timeout, self.text[-2000:]))
                self._changed.wait(remaining)


def _dxltie(*argv: str, env: Any = None) -> "subprocess.Popen[bytes]":
    return subprocess.Popen([sys.executable, "-m", "dxltieclient"] + list(argv),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)


def test_the_running_default_sandbox_is_found_without_any_option(
        tie_sandbox: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture) -> None:
    monkeypatch.delenv("DXLTIE_CONFIG", raising=False)
    monkeypatch.setenv("DXLTIE_SANDBOX_DIR", tie_sandbox.directory)
    monkeypatch.chdir(tmp_path)
    assert main(["reputation", MD5, "--json", "--timeout", "10"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["result"]["1"]["trustLevel"] == 99


def test_a_client_certificate_the_broker_does_not_trust_exits_4_at_once(
        tie_sandbox: Any, tmp_path: Any, capsys: pytest.CaptureFixture) -> None:
    authority = Pki(tmp_path)
    _, _, ca_cert, ca_key = authority.issue("stranger-ca", ca=True)
    cert_file, key_file, _, _ = authority.issue("stranger", (ca_cert, ca_key))
    with open(tie_sandbox.config_file) as stream:
        text = stream.read()
    text = re.sub(r"(?m)^CertFile=.*$", "CertFile=" + cert_file, text)
    text = re.sub(r"(?m)^PrivateKey=.*$", "PrivateKey=" + key_file, text)
    config = tmp_path / "stranger.config"
    config.write_text(text)
    started = time.monotonic()
    assert main(["--config", str(config), "reputation", MD5]) == 4
    assert time.monotonic() - started < 5
    err = capsys.readouterr().err
    assert "TLS connection to the DXL broker failed" in err
    assert "the broker refused the TLS connection" in err and "Traceback" not in err


def test_listen_reports_a_lost_and_restored_connection(tie_fabric: Any) -> None:
    process = _dxltie("listen", "--config", tie_fabric.config_file)
    try:
        err = Collector(process.stderr)  # type: ignore[arg-type]
        err.wait_for("listening for", 20)
        tie_fabric.restart_broker()
        err.wait_for("connection to the DXL broker lost", 10)
        err.wait_for(r"connection to the DXL broker restored after \d+\.\d s", 20)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def test_certificate_commands_stdin_and_json_lines(tie_sandbox: Any, monkeypatch: Any,
                                                   capsys: pytest.CaptureFixture) -> None:
    config = ["--config", tie_sandbox.config_file, "--timeout", "10"]
    sha1 = uuid.uuid4().hex + "abcdef01"
    assert main(["set-cert-reputation", "--trust", "known_malicious", sha1, "--json"]
                + config) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["ok"], summary["sha1"], summary["trustLevel"]) == (True, sha1, 1)
    import io
    monkeypatch.setattr("sys.stdin", io.StringIO("# certificates\n{}\n\n{}\n".format(
        CERT_SHA1, sha1)))
    assert main(["cert-reputation", "-", "--jsonl"] + config) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [record["sha1"] for record in records] == [CERT_SHA1.lower(), sha1]
    assert records[1]["result"]["4"]["trustLevel"] == 1
    assert main(["cert-references", CERT_SHA1, "--limit", "2", "--json"] + config) == 0
    agents = json.loads(capsys.readouterr().out)[0]["result"]
    assert isinstance(agents, list) and len(agents) <= 2
    monkeypatch.setattr("sys.stdin", io.StringIO("{}\n{}\n".format(MD5, SHA1)))
    assert main(["references", "-", "--limit", "1", "--jsonl"] + config) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(record["target"], len(record["result"])) for record in records] == [
        (MD5, 1), (SHA1, 1)]


def _feed(path: Any, md5s: List[str]) -> None:
    with open(str(path), "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["md5", "trust", "comment"])
        writer.writerows([md5, "known_malicious", "row {}".format(number)]
                         for number, md5 in enumerate(md5s))


def test_import_stopped_by_sigterm_then_rerun_applies_exactly_the_rest(
        tie_sandbox: Any, tmp_path: Any, run_lookup: Callable[[str], Any]) -> None:
    md5s = [uuid.uuid4().hex for _ in range(3000)]
    feed = tmp_path / "feed.csv"
    _feed(feed, md5s)
    process = _dxltie("--config", tie_sandbox.config_file, "import", str(feed), "--progress",
                      "--max-in-flight", "4")
    try:
        err = Collector(process.stderr)  # type: ignore[arg-type]
        err.wait_for(r"\| *[1-9]\d*/3000", 30)
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert process.returncode == 130, err.text[-2000:]
    match = re.search(r"imported: (\d+) succeeded, 0 failed, (\d+) not sent", out.decode())
    assert match, out
    succeeded, unsent = int(match.group(1)), int(match.group(2))
    assert succeeded + unsent == 3000 and unsent > 0
    with open(str(tmp_path / "feed.failed.csv"), newline="") as stream:
        rows = list(csv.reader(stream))
    assert rows[0] == ["error", "md5", "trust", "comment"]
    assert [row[1] for row in rows[1:]] == md5s[succeeded:]  # exactly the rows not applied
    assert run_lookup(md5s[succeeded - 1]) == 1
    assert run_lookup(md5s[succeeded]) in (None, 0)  # not set yet
    result = subprocess.run([sys.executable, "-m", "dxltieclient", "--config",
                             tie_sandbox.config_file, "import", str(tmp_path / "feed.failed.csv")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "imported: {} succeeded, 0 failed".format(unsent) in result.stdout
    assert run_lookup(md5s[succeeded]) == 1 and run_lookup(md5s[-1]) == 1
    assert not (tmp_path / "feed.failed.failed.csv").exists()
    assert not (tmp_path / "feed.failed.csv").exists()  # every row is applied now


@pytest.fixture
def run_lookup(tie_sandbox: Any, capsys: pytest.CaptureFixture) -> Callable[[str], Any]:
    """The enterprise trust level of an MD5 (``None`` or 0 when it has none)."""
    def lookup(md5: str) -> Any:
        assert main(["--config", tie_sandbox.config_file, "reputation", "--json", md5]) == 0
        result = json.loads(capsys.readouterr().out)[0]["result"]
        return result.get("3", {}).get("trustLevel")
    return lookup
