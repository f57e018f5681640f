"""Finding a program: the environment variable first, then PATH, then the usual places."""

from __future__ import annotations

from pathlib import Path

import pytest

from labsupport.programs import find_program


def executable(path: Path) -> Path:
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def test_the_variable_wins_and_names_nothing_if_it_is_not_executable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    mine = executable(tmp_path / "my-tool")
    on_path = executable(tmp_path / "tool")
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("LAB_TOOL", str(mine))
    assert find_program("tool", "LAB_TOOL", ()) == str(mine)
    monkeypatch.setenv("LAB_TOOL", str(tmp_path / "missing"))
    assert find_program("tool", "LAB_TOOL", (str(on_path),)) is None


def test_path_comes_before_the_usual_places(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "bin").mkdir()
    (tmp_path / "sbin").mkdir()
    on_path = executable(tmp_path / "bin" / "tool")
    usual = executable(tmp_path / "sbin" / "tool")
    monkeypatch.delenv("LAB_TOOL", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    assert find_program("tool", "LAB_TOOL", (str(usual),)) == str(on_path)
    monkeypatch.setenv("PATH", str(tmp_path / "elsewhere"))
    not_executable = tmp_path / "sbin" / "plain"
    not_executable.write_text("")
    assert find_program("tool", "LAB_TOOL", (str(not_executable), str(usual))) == str(usual)
    assert find_program("tool", "LAB_TOOL", (str(not_executable),)) is None
