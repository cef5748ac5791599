"""dxltie without a broker: global options after the command, --version, configuration
discovery, stdin targets, the one JSON shape of lookups, the refusals of set-reputation
--external without a file name and of references --limit above 5000, and import --dry-run."""

from __future__ import annotations

import contextlib
import io
import json
from typing import Any, Iterator, List

import pytest

from dxltieclient import BulkResult, TieServiceError, get_version
from dxltieclient.cli import dxlclient_version, main
from dxltieclient.cli.args import build_parser, merge_globals
from dxltieclient.cli.connection import resolve_config_path
from dxltieclient.cli.errors import CliError

MD5 = "f2c7bb8acc97f92e987a2d4087d021b1"
MD5_B = "0" * 31 + "1"
SHA1 = "7eb0139d2175739b3ccb0d1110067820be6abd29"


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DXLTIE_CONFIG", raising=False)
    monkeypatch.setenv("DXLTIE_SANDBOX_DIR", str(tmp_path / "no-sandbox"))
    monkeypatch.chdir(tmp_path)


def test_global_options_after_the_command_win_and_verbosity_adds_up() -> None:
    args = merge_globals(build_parser().parse_args(
        ["-v", "--config", "a", "reputation", MD5, "--config", "b", "-v", "--json",
         "--timeout", "3", "--connect-timeout", "4"]))
    assert (args.config, args.verbose, args.json, args.jsonl, args.timeout,
            args.connect_timeout) == ("b", 2, True, False, 3.0, 4.0)
    args = merge_globals(build_parser().parse_args(["--json", "--timeout", "7", "listen"]))
    assert (args.config, args.verbose, args.json, args.timeout) == (None, 0, True, 7.0)
    assert not any(name.startswith("after_") for name in vars(args))


def test_version_names_this_package_and_dxlclient(capsys: pytest.CaptureFixture) -> None:
    assert main(["--version"]) == 0
    out = capsys.readouterr().out
    assert get_version() in out and "dxlclient " + dxlclient_version() in out
    assert dxlclient_version() != "unknown"


def _touch(path: Any) -> str:
    path.write_text("[Certs]\n")
    return str(path)


def test_config_discovery_order(tmp_path: Any) -> None:
    option, env = _touch(tmp_path / "option.config"), _touch(tmp_path / "env.config")
    environ = {"DXLTIE_CONFIG": env}
    assert resolve_config_path(option, environ) == option
    assert resolve_config_path(None, environ) == env
    _touch(tmp_path / "dxlclient.config")
    assert resolve_config_path(None, {}) == "dxlclient.config"


def test_no_configuration_lists_what_was_tried(tmp_path: Any,
                                               capsys: pytest.CaptureFixture) -> None:
    assert main(["reputation", MD5]) == 3
    err = capsys.readouterr().err
    assert "no DXL client configuration found. Tried, in order:" in err
    assert "--config: not given" in err and "$DXLTIE_CONFIG: not set" in err
    assert "./dxlclient.config: no such file in {}".format(tmp_path) in err
    assert "the default sandbox ({}): not set up".format(tmp_path / "no-sandbox") in err
    assert not (tmp_path / "no-sandbox").exists()  # looked at, not created


def test_a_sandbox_that_is_not_running_is_skipped(tmp_path: Any,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    sandbox = tmp_path / "sandbox"
    sandbox.mkdir()
    _touch(sandbox / "dxlclient.config")
    monkeypatch.setenv("DXLTIE_SANDBOX_DIR", str(sandbox))
    with pytest.raises(CliError) as raised:
        resolve_config_path(None, {})
    assert raised.value.exit_code == 3
    assert "the default sandbox ({}): not running".format(sandbox) in str(raised.value)


@pytest.mark.parametrize("argv, message", [
    (["references", MD5, "--limit", "5001"], "TIE returns at most 5000 systems"),
    (["cert-references", SHA1, "--limit", "9999"], "TIE returns at most 5000 systems"),
    (["set-reputation", "--external", "--trust", "1", MD5], "TIE ignores external reports"),
    (["cert-reputation", SHA1, SHA1, "--public-key-sha1", SHA1], "one certificate only"),
    (["reputation", "-", "-"], "at most once"),
    (["reputation", "sha512:" + "a" * 128], "Unknown hash type 'sha512'"),
    (["reputation", "md5:" + MD5 + "ab"], "Invalid md5 hash"),
    (["reputation", "md5:" + MD5[:-1] + "x"], "hexadecimal digits only")])
def test_refusals_exit_2_before_any_configuration_is_needed(
        argv: List[str], message: str, capsys: pytest.CaptureFixture) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


class FakeTie:
    """A TIE client whose lookups fail for MD5_B and return {} or [] otherwise."""

    def get_file_reputation(self, hashes: Any) -> Any:
        if hashes.get("md5") == MD5_B:
            raise TieServiceError("Could not find reputation", 0, "/t")
        return {1: {"trustLevel": 99}}

    def get_file_reputations(self, items: Any, timeout: Any = None) -> Any:
        results = []
        for index, hashes in enumerate(items):
            try:
                results.append(BulkResult(index, hashes, self.get_file_reputation(hashes)))
            except TieServiceError as error:
                results.append(BulkResult(index, hashes, None, error))
        return results

    def get_file_first_references(self, hashes: Any, query_limit: int = 500) -> Any:
        self.get_file_reputation(hashes)
        return [{"agentGuid": "{a}", "date": 1}]

    def set_external_file_reputation(self, *args: Any) -> None:
        self.external = args


@pytest.fixture
def fake_tie(monkeypatch: pytest.MonkeyPatch) -> FakeTie:
    tie = FakeTie()

    @contextlib.contextmanager
    def session(*_args: Any) -> Iterator[FakeTie]:
        yield tie

    monkeypatch.setattr("dxltieclient.cli.commands.tie_session", session)
    return tie


@pytest.mark.parametrize("command", ["reputation", "references"])
@pytest.mark.parametrize("targets", [[MD5], [MD5, MD5_B], [MD5_B]])
def test_json_has_one_shape_whatever_the_count_and_the_failures(
        fake_tie: FakeTie, capsys: pytest.CaptureFixture, command: str,
        targets: List[str]) -> None:
    code = main([command, "--json"] + targets)
    records = json.loads(capsys.readouterr().out)
    assert isinstance(records, list) and [record["target"] for record in records] == targets
    for record in records:
        assert set(record) == {"target", "ok", "path", "hashes",
                               "result" if record["ok"] else "error"}
        assert record["ok"] == (record["target"] != MD5_B)
    assert code == (0 if MD5_B not in targets else 1)


def test_stdin_targets_and_json_lines(fake_tie: FakeTie, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(
        "# a comment\n\n  {}  \n{}\n".format(MD5, MD5_B)))
    assert main(["reputation", "-", "--jsonl"]) == 1
    lines = capsys.readouterr().out.splitlines()
    records = [json.loads(line) for line in lines]
    assert [(record["target"], record["ok"]) for record in records] == [
        (MD5, True), (MD5_B, False)]
    assert records[0]["result"] == {"1": {"trustLevel": 99}}
    assert "Could not find reputation" in records[1]["error"]


def test_a_bad_stdin_line_is_named(fake_tie: FakeTie, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("{}\n\nnot-a-hash\n".format(MD5)))
    assert main(["references", "-"]) == 2
    assert "stdin:3: 'not-a-hash'" in capsys.readouterr().err


def test_external_report_says_delivery_is_not_confirmed(
        fake_tie: FakeTie, capsys: pytest.CaptureFixture) -> None:
    assert main(["set-reputation", "--external", "--trust", "1", "--filename", "x.exe",
                 MD5]) == 0
    out = capsys.readouterr().out
    assert "as a DXL event" in out and "delivery is not confirmed" in out
    assert fake_tie.external[3] == "x.exe"
    assert main(["set-reputation", "--external", "--trust", "1", "--filename", "x.exe",
                 MD5, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["ok"], summary["external"], summary["confirmed"]) == (True, True, False)


def test_import_dry_run_needs_no_configuration(tmp_path: Any,
                                               capsys: pytest.CaptureFixture) -> None:
    feed = tmp_path / "feed.csv"
    feed.write_text("md5,trust,extra\n{},1,x\n{},99\n".format(MD5, MD5_B))
    assert main(["import", "--dry-run", str(feed)]) == 0
    assert "dry run: 2 rows, 2 valid, 0 invalid" in capsys.readouterr().out
    feed.write_text("md5,trust\n{},1\nabc,1\n{},evil\n".format(MD5, MD5_B))
    assert main(["import", str(feed), "--dry-run", "--json"]) == 1
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert (summary["rows"], summary["valid"], summary["invalid"]) == (3, 1, 2)
    assert [error["line"] for error in summary["errors"]] == [3, 4]
    assert "line 3: Invalid md5 hash 'abc'" in captured.err
    assert not (tmp_path / "feed.failed.csv").exists()


def test_empty_stdin_is_refused(monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("# nothing\n\n"))
    assert main(["cert-reputation", "-"]) == 2
    assert "no target on standard input" in capsys.readouterr().err


def test_connection_watch_reports_each_change_once() -> None:
    from dxltieclient.cli.listen import ConnectionWatch

    states = iter([True, False, False, True, True])
    messages: List[str] = []
    watch = ConnectionWatch(lambda: next(states), messages.append)
    for _ in range(5):
        watch.check()
    assert len(messages) == 2
    assert messages[0].startswith("connection to the DXL broker lost")
    assert messages[1].startswith("connection to the DXL broker restored after ")


def test_setter_json_summary_keeps_its_shape_on_failure(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    class Refusing:
        def set_file_reputation(self, *_args: Any) -> None:
            raise TieServiceError("Not authorized", 2, "/t")

    @contextlib.contextmanager
    def session(*_args: Any) -> Iterator[Refusing]:
        yield Refusing()

    monkeypatch.setattr("dxltieclient.cli.commands.tie_session", session)
    assert main(["set-reputation", "--trust", "1", MD5, "--json"]) == 1
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert (summary["ok"], summary["target"]) == (False, MD5)
    assert "Not authorized" in summary["error"] and "Not authorized" in captured.err
