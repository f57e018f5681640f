"""The progress log: one verdict per line, safe under concurrent kernels, read back whatever it holds."""

from __future__ import annotations

import json
import multiprocessing
import stat
from pathlib import Path

import pytest

from labsupport.progress_log import RELATIVE_PATH, Verdict, load, progress_file, record


def test_a_verdict_round_trips_through_its_line() -> None:
    verdict = Verdict("alice", "05", "format_sse", True, 1700000000.125)
    line = verdict.to_line()
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert Verdict.from_line(line.decode()) == verdict
    assert set(json.loads(line)) == {"v", "user", "lesson", "exercise", "passed", "at"}


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "not a progress record"),
        ('{"v": 99, "user": "a"}', "not a progress record"),
        (
            '{"v": 1, "user": "a", "lesson": "05", "exercise": "x", "passed": "yes", "at": 1}',
            "wrong type",
        ),
        (
            '{"v": 1, "user": "", "lesson": "05", "exercise": "x", "passed": true, "at": 1}',
            "wrong type",
        ),
    ],
    ids=["broken-json", "not-an-object", "other-version", "passed-not-bool", "empty-user"],
)
def test_a_bad_line_says_what_is_wrong(line: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        Verdict.from_line(line)


def test_record_appends_to_a_file_only_the_student_can_read(tmp_path: Path) -> None:
    path = tmp_path / "home" / RELATIVE_PATH
    first = record("05", "format_sse", False, path=path, at=100.0)
    record("05", "format_sse", True, path=path, at=160.0)
    assert first is not None and first.user
    assert [(v.passed, v.at) for v in load(path)] == [(False, 100.0), (True, 160.0)]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_recording_can_be_turned_off_and_pointed_elsewhere(tmp_path: Path) -> None:
    assert progress_file({"LAB_PROGRESS_FILE": "off"}) is None
    assert progress_file({"LAB_PROGRESS_FILE": str(tmp_path / "p.jsonl")}) == tmp_path / "p.jsonl"
    assert progress_file({}) == Path.home() / RELATIVE_PATH


def test_an_unwritable_place_loses_the_verdict_but_never_raises(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where a folder should be")
    assert record("05", "format_sse", True, path=blocker / "progress.jsonl") is None


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="lesson and exercise must be non-empty"):
        record("", "format_sse", True)


def _hammer(path: str, worker: int, count: int) -> None:
    for i in range(count):
        record("05", f"w{worker}", i % 2 == 0, path=Path(path), at=float(i))


def test_two_processes_writing_at_once_lose_no_verdict(tmp_path: Path) -> None:
    path = tmp_path / "progress.jsonl"
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_hammer, args=(str(path), n, 500)) for n in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    verdicts = load(path)
    assert len(verdicts) == 1000
    assert sorted(sum(v.exercise == f"w{n}" for v in verdicts) for n in range(2)) == [500, 500]


def test_a_corrupt_file_keeps_its_good_lines_and_warns_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "progress.jsonl"
    good = Verdict("alice", "01", "words", True, 10.0).to_line()
    path.write_bytes(good + b"\x00\xffgarbage\n" + b'{"v": 1, "user": "alice"' + b"\n" + good)
    assert len(load(path)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "skipped 2 unreadable line(s), line 2: not JSON" in err
