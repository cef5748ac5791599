"""dxltie import without a broker (a fake bulk client): interruption by SIGINT/SIGTERM, the failed
file holding exactly the rows not applied, stale failed files, and re-runs of a failed file."""

from __future__ import annotations

import contextlib
import csv
import os
import signal
import threading
from typing import Any, Dict, Iterator, List, Optional

import pytest

from dxltieclient import BulkResult, TieBulkStoppedError, TieServiceError
from dxltieclient.cli import main


class FakeBulkTie:
    """Applies items (a dict of md5 -> trust level), as the library's bulk call does: one item
    after the other, failing those whose comment is ``fail``, and once ``stop`` is set failing the
    items not sent yet with TieBulkStoppedError; sends ``signum`` to this process right after
    applying the item number ``signal_on_item`` (counted from 1 in each call)."""

    def __init__(self) -> None:
        self.applied: Dict[str, int] = {}
        self.calls = 0
        self.signal_on_item: Optional[int] = None
        self.signum = signal.SIGINT
        self.stops: List[Any] = []

    def set_file_reputations(self, items: List[Dict[str, Any]], max_in_flight: int = 64,
                             timeout: Any = None, progress: Any = None, *,
                             stop: Any = None) -> List[Any]:
        self.calls += 1
        self.stops.append(stop)
        results = []
        for index, item in enumerate(items):
            if stop is not None and stop.is_set():
                results.append(BulkResult(index, item, None,
                                          TieBulkStoppedError("not sent", "/t")))
            elif item.get("comment") == "fail":
                results.append(BulkResult(index, item, None,
                                          TieServiceError("refused", 1, "/t")))
            else:
                self.applied[item["hashes"]["md5"]] = item["trust_level"]
                results.append(BulkResult(index, item))
            if index + 1 == self.signal_on_item:
                os.kill(os.getpid(), self.signum)  # its handler runs before the next item
            if progress is not None:
                progress(index + 1, len(items))
        return results

    def set_external_file_reputations(self, items: List[Dict[str, Any]], progress: Any = None,
                                      *, stop: Any = None) -> List[Any]:
        return self.set_file_reputations(items, progress=progress, stop=stop)


@pytest.fixture
def tie(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> FakeBulkTie:
    fake = FakeBulkTie()

    @contextlib.contextmanager
    def session(*_args: Any) -> Iterator[FakeBulkTie]:
        yield fake

    monkeypatch.setattr("dxltieclient.cli.importrun.tie_session", session)
    monkeypatch.chdir(tmp_path)
    return fake


def _md5(number: int) -> str:
    return "{:032x}".format(number)


def _read_rows(path: Any) -> List[List[str]]:
    with open(str(path), newline="") as stream:
        return list(csv.reader(stream))


def _write(path: Any, rows: List[List[str]]) -> None:
    with open(str(path), "w", newline="") as stream:
        csv.writer(stream).writerows(rows)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_import_writes_failed_and_unsent_rows_for_an_exact_rerun(
        tie: FakeBulkTie, tmp_path: Any, capsys: pytest.CaptureFixture, signum: int) -> None:
    header = ["md5", "trust", "comment", "note"]
    rows = [[_md5(n), "1", "fail" if n == 1 else "", "n{}".format(n)] for n in range(8)]
    rows[5] = rows[5] + ["an extra cell"]
    rows.insert(3, ["zz", "1", "", "bad hash"])
    feed = tmp_path / "feed.csv"
    _write(feed, [header] + rows)
    tie.signal_on_item, tie.signum = 4, signum
    assert main(["import", "--max-in-flight", "2", "--no-progress", str(feed)]) == 130
    captured = capsys.readouterr()
    assert "stopping: waiting for the requests in flight" in captured.err
    # one bulk call with the stop event; the signal came after the 4th valid row was sent
    assert tie.calls == 1 and isinstance(tie.stops[0], threading.Event)
    assert sorted(tie.applied) == [_md5(0), _md5(2), _md5(3)]
    assert "imported: 3 succeeded, 3 failed, 3 not sent (interrupted)" in captured.out
    written = _read_rows(tmp_path / "feed.failed.csv")
    assert written[0] == ["error"] + header
    assert [row[1:] for row in written[1:]] == [rows[1], rows[3]] + rows[5:]
    assert "refused" in written[1][0] and "Invalid md5 hash 'zz'" in written[2][0]
    assert [row[0] == "not sent: the import was interrupted" for row in written[3:]] == [
        True, False, True, True]
    assert "1 cell(s) more than the header" in written[4][0]  # the row with an extra cell

    # fix the failed file and import it: the failed file keeps its own name
    fixed = [written[0]] + [row for row in written[1:] if "an extra cell" not in row]
    fixed[1][3] = ""  # no longer "fail"
    fixed[2][1] = _md5(99)
    _write(tmp_path / "feed.failed.csv", fixed)
    tie.signal_on_item = None
    assert main(["import", "--no-progress", str(tmp_path / "feed.failed.csv")]) == 0
    assert "imported: 5 succeeded, 0 failed" in capsys.readouterr().out
    assert sorted(tie.applied) == sorted([_md5(n) for n in (0, 1, 2, 3, 4, 6, 7, 99)])
    assert not (tmp_path / "feed.failed.failed.csv").exists()
    assert not (tmp_path / "feed.failed.csv").exists()  # nothing is left to apply


def test_a_clean_run_removes_a_stale_failed_file(tie: FakeBulkTie, tmp_path: Any,
                                                 capsys: pytest.CaptureFixture) -> None:
    feed = tmp_path / "feed.jsonl"
    feed.write_text('{"md5": "%s", "trust": "known_trusted"}\n' % _md5(7))
    stale = tmp_path / "feed.failed.jsonl"
    stale.write_text('{"md5": "x", "error": "old"}\n')
    assert main(["import", "--no-progress", str(feed), "--json"]) == 0
    captured = capsys.readouterr()
    assert not stale.exists() and "removed {}".format(stale) in captured.err
    assert '"succeeded": 1' in captured.out and '"failedFile": null' in captured.out
    assert tie.applied == {_md5(7): 99}


def test_progress_bar_counts_every_row_with_rate(tie: FakeBulkTie, tmp_path: Any,
                                                 capsys: pytest.CaptureFixture) -> None:
    feed = tmp_path / "feed.csv"
    _write(feed, [["md5", "trust"]] + [[_md5(n), "1"] for n in range(5)] + [["bad", "1"]])
    assert main(["import", "--progress", str(feed)]) == 1
    err = capsys.readouterr().err
    assert "importing:" in err and "6/6" in err and "row/s" in err
    assert main(["import", str(feed)]) == 1  # stderr is not a terminal here: no bar
    assert "importing:" not in capsys.readouterr().err


def test_many_rows_go_through_one_bulk_call(tie: FakeBulkTie, tmp_path: Any,
                                            capsys: pytest.CaptureFixture) -> None:
    feed = tmp_path / "feed.csv"
    _write(feed, [["md5", "trust"]] + [[_md5(n), "1"] for n in range(10)])
    assert main(["import", "--max-in-flight", "2", "--no-progress", str(feed)]) == 0
    assert tie.calls == 1 and len(tie.applied) == 10
    assert "imported: 10 succeeded, 0 failed" in capsys.readouterr().out


@pytest.mark.parametrize("external", [False, True])
def test_an_interrupted_bar_counts_only_the_rows_done(
        tie: FakeBulkTie, tmp_path: Any, capsys: pytest.CaptureFixture, external: bool) -> None:
    feed = tmp_path / "feed.csv"
    rows = [[_md5(n), "1", "name{}".format(n)] for n in range(7)] + [["bad", "1", "x"]] * 2
    _write(feed, [["md5", "trust", "filename"]] + rows)
    tie.signal_on_item = 4
    options = ["--external"] if external else []
    assert main(["import", "--progress", str(feed)] + options) == 130
    captured = capsys.readouterr()
    assert "imported: 4 succeeded, 2 failed, 3 not sent (interrupted)" in captured.out
    assert tie.calls == 1 and len(tie.applied) == 4
    last_draw = captured.err.split("\r")[-1]
    assert "6/9" in last_draw, captured.err  # 2 invalid rows + 4 sent; not the 3 unsent
