"""Lesson 07's checks: a right answer passes, the usual mistakes get the matching hint.

The checks try answers against a real nginx; where it is missing they must say
they skipped, which is tested by pointing ``LAB_NGINX`` at nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from labsupport.checks import lesson07
from labsupport.proxy import find_nginx

needs_nginx = pytest.mark.skipif(find_nginx() is None, reason="nginx is not installed")


@pytest.fixture
def no_nginx(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LAB_NGINX", str(tmp_path / "no-nginx-here"))


# -- exercise 1: streaming_directives ------------------------------------------------------


@needs_nginx
@pytest.mark.slow
@pytest.mark.parametrize(
    "answer", [["proxy_buffering off;"], ["  proxy_buffering off;", "gzip off;"]]
)
def test_streaming_directives_passes_directives_that_stream(
    answer: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert lesson07.streaming_directives(lambda: answer)
    assert capsys.readouterr().out.startswith("✅")


@pytest.mark.parametrize(
    ("func", "hint"),
    [
        (lambda: None, "return a list of nginx directives"),
        (lambda: "proxy_buffering off;", "return a list of strings, even for one directive"),
        (lambda: 1 / 0, "return a list of strings, one nginx directive each"),
    ],
    ids=["returns-none", "returns-str", "raises"],
)
def test_streaming_directives_hints_before_starting_anything(
    func: Any, hint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert not lesson07.streaming_directives(func)
    out = capsys.readouterr().out
    assert out.startswith("❌ Not yet:")
    assert hint in out


@needs_nginx
@pytest.mark.slow
@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        ([], "held the events back", "the directive is proxy_buffering"),
        (["proxy_buffering on;"], "held the events back", "the directive is proxy_buffering"),
        (
            ["proxy_bufering off;"],
            'unknown directive "proxy_bufering"',
            "check the directive's name",
        ),
        (["proxy_buffering off"], "ending in ';'", "write each like 'name value;'"),
    ],
    ids=["nothing", "buffering-on", "misspelled", "no-semicolon"],
)
def test_streaming_directives_tries_them_on_a_real_nginx(
    answer: list[str], problem: str, hint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert not lesson07.streaming_directives(lambda: answer)
    out = capsys.readouterr().out
    assert out.startswith("❌ Not yet:")
    assert problem in out and hint in out


def test_streaming_directives_says_it_skipped_without_nginx(
    no_nginx: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert not lesson07.streaming_directives(lambda: ["proxy_buffering off;"])
    out = capsys.readouterr().out
    assert out.startswith("⏭ Skipped: nginx is not installed")
    assert "apt-get install nginx" in out


# -- exercise 2: keepalive_for -------------------------------------------------------------


@needs_nginx
@pytest.mark.slow
def test_keepalive_for_passes_half_the_timeout_and_survives_a_real_nginx(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert lesson07.keepalive_for(lambda timeout: timeout / 2)
    out = capsys.readouterr().out
    assert out.startswith("✅") and "behind a real nginx" in out


def test_keepalive_for_checks_the_bounds_without_nginx(
    no_nginx: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert lesson07.keepalive_for(lambda timeout: timeout / 3)
    out = capsys.readouterr().out
    assert out.startswith("✅") and "the real trial was skipped" in out


@pytest.mark.parametrize(
    ("func", "hint"),
    [
        (lambda timeout: None, "return a number of seconds."),
        (lambda timeout: "5", "return a number of seconds, such as 5.0"),
        (lambda timeout: True, "return a number of seconds, such as 5.0"),
        (lambda timeout: float("nan"), "return a number of seconds, such as 5.0"),
        (lambda timeout: -1.0, "a positive number of seconds"),
        (lambda timeout: 15.0, "shorter than the timeout it guards against"),
        (lambda timeout: timeout, "shorter than the timeout it guards against"),
        (lambda timeout: timeout * 0.9, "at most half the timeout"),
        (lambda timeout: 0.05, "between a tenth and a half"),
        (lambda timeout: timeout / 1 / 0, "compute the interval from proxy_timeout"),
    ],
    ids=[
        "none",
        "str",
        "bool",
        "nan",
        "negative",
        "fixed-15s",
        "equal",
        "no-margin",
        "too-often",
        "raises",
    ],
)
def test_keepalive_for_hints_at_the_mistake(
    func: Any, hint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert not lesson07.keepalive_for(func)
    out = capsys.readouterr().out
    assert out.startswith("❌ Not yet:")
    assert hint in out
