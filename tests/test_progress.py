"""The pair's table and the class's, and the command that prints them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from labsupport.progress import (
    class_rows,
    class_table,
    class_table_html,
    main,
    pair_table,
    summarize,
)
from labsupport.progress_log import RELATIVE_PATH, Verdict, load, record

CATALOGUE = {"01": ["words", "first_n"], "05": ["format_sse", "first_tokens"]}


def test_the_pair_table_marks_passed_tried_and_untried() -> None:
    verdicts = [
        Verdict("alice", "01", "words", False, 1.0),
        Verdict("alice", "01", "words", True, 2.0),
        Verdict("alice", "05", "format_sse", False, 3.0),
    ]
    assert pair_table(verdicts, CATALOGUE) == (
        "lesson 01   ✓ words   – first_n\nlesson 05   ✗ format_sse   – first_tokens"
    )


def v(lesson: str, exercise: str, passed: bool, at: float, user: str = "s") -> Verdict:
    return Verdict(user, lesson, exercise, passed, at)


def test_summarize_counts_the_current_failing_streak_and_the_most_failed() -> None:
    verdicts = [
        v("01", "words", False, 0),
        v("01", "words", False, 60),
        v("01", "words", True, 120),
        v("05", "first_tokens", False, 600),
        v("05", "first_tokens", False, 660),
        v("05", "first_tokens", False, 720),
    ]
    row = summarize("/home/s", verdicts, now=720 + 25 * 60)
    assert (row.lesson, row.passed, row.failures, row.stuck) == ("05", 1, 3, True)
    assert row.most_failed == "05 first_tokens (3x)"
    assert row.minutes_since == pytest.approx(25)


def write_home(root: Path, user: str, verdicts: list[Verdict]) -> Path:
    home = root / user
    path = home / RELATIVE_PATH
    for verdict in verdicts:
        record(verdict.lesson, verdict.exercise, verdict.passed, path=path, at=verdict.at)
    return home


def test_the_class_table_puts_stuck_pairs_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    now = 10_000.0
    flying = write_home(tmp_path, "flying", [v("05", "format_sse", True, now - 60)])
    stuck_long = write_home(
        tmp_path, "stuck_long", [v("03", "redraw_times", False, now - 30 * 60)] * 2
    )
    stuck_now = write_home(
        tmp_path, "stuck_now", [v("04", "answer_with_budget", False, now - 60)] * 5
    )
    quiet = write_home(tmp_path, "quiet", [v("02", "describe", True, now - 40 * 60)])
    empty = tmp_path / "empty"
    empty.mkdir()
    corrupt = tmp_path / "corrupt" / RELATIVE_PATH
    corrupt.parent.mkdir(parents=True)
    corrupt.write_bytes(b"\xff\xfe not a progress file")

    rows = class_rows([flying, stuck_long, empty, stuck_now, quiet, corrupt.parents[1]], now=now)
    homes = [Path(r.home).name for r in rows]
    assert homes == ["stuck_now", "stuck_long", "quiet", "flying", "corrupt"]
    err = capsys.readouterr().err
    assert f"warning: {empty}: skipped (no progress yet)" in err
    assert "corrupt" in err and "unreadable" in err

    text = class_table(rows)
    assert text.splitlines()[0].split() == [
        "student",
        "lesson",
        "passed",
        "failing",
        "now",
        "failed",
        "most",
        "last",
        "check",
    ]
    assert "04      0       5x           04 answer_with_budget (5x)" in text
    page = class_table_html(rows)
    assert page.count("<tr") == 1 + len(rows) and page.count("#fdecea") == 2


def test_the_command_prints_the_class_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = write_home(tmp_path, "alice", [v("05", "format_sse", False, 1.0)])
    assert main(["--class", str(home), str(tmp_path / "nobody")]) == 0
    out, err = capsys.readouterr()
    assert "05 format_sse (1x)" in out
    assert "nobody: skipped (no progress yet)" in err


def test_the_command_prints_the_pairs_own_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "mine.jsonl"
    monkeypatch.setenv("LAB_PROGRESS_FILE", str(path))
    record("01", "words", True, path=path)
    assert main([]) == 0
    out = capsys.readouterr().out
    assert f"({path})" in out
    assert "lesson 01   ✓ words   – first_n" in out
    assert "lesson 05   – format_sse" in out
    assert os.environ["LAB_PROGRESS_FILE"] == str(path)


def test_a_check_records_its_verdict_without_printing_more(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from labsupport.checks import lesson01

    path = tmp_path / "progress.jsonl"
    monkeypatch.setenv("LAB_PROGRESS_FILE", "off")
    lesson01.words(lambda text: None)
    silent = capsys.readouterr().out
    monkeypatch.setenv("LAB_PROGRESS_FILE", str(path))
    lesson01.words(lambda text: None)

    def words(text: str) -> Iterator[str]:
        for i, word in enumerate(text.split(" ")):
            yield word if i == 0 else " " + word

    lesson01.words(words)
    recorded = capsys.readouterr().out
    assert recorded.startswith(silent)  # the same verdict, nothing added
    assert [(v.lesson, v.exercise, v.passed) for v in load(path)] == [
        ("01", "words", False),
        ("01", "words", True),
    ]


def test_every_lessons_exercises_are_known_in_order() -> None:
    from labsupport.checks import exercises_by_lesson

    catalogue = exercises_by_lesson()
    assert catalogue["01"] == ["words", "first_n"]
    assert catalogue["05"] == ["format_sse", "first_tokens"]
    assert all(len(names) >= 2 for names in catalogue.values())
