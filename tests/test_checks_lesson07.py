"""Lesson 07's checks: a right answer passes, the usual mistakes get the matching hint.

The checks judge an answer by itself, then try it against a real nginx where
one is installed. Both paths are tested: "no nginx" by pointing ``LAB_NGINX``
(the first place ``labsupport.nginx.find_nginx`` looks) at nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from labsupport.checks import lesson07
from labsupport.nginx import find_nginx

needs_nginx = pytest.mark.skipif(find_nginx() is None, reason="nginx is not installed")


@pytest.fixture
def no_nginx(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LAB_NGINX", str(tmp_path / "no-nginx-here"))


# -- exercise 1: streaming_directives ------------------------------------------------------

STREAMING = [["proxy_buffering off;"], ["  proxy_buffering off;", "gzip off;"], ["gzip off;"]]
STREAMING_IDS = ["buffering-off", "with-gzip-off", "gzip-off"]


@needs_nginx
@pytest.mark.slow
@pytest.mark.parametrize("answer", STREAMING, ids=STREAMING_IDS)
def test_streaming_directives_passes_directives_that_stream_on_a_real_nginx(
    answer: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert lesson07.streaming_directives(lambda: answer)
    out = capsys.readouterr().out
    assert out.startswith("✅") and "nginx streams event by event" in out
    assert "real trial was skipped" not in out


@pytest.mark.parametrize(
    "answer", [*STREAMING, ["proxy_buffering Off;"]], ids=[*STREAMING_IDS, "Off"]
)
def test_streaming_directives_passes_them_without_nginx_and_says_it_did_not_try(
    answer: list[str], no_nginx: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert find_nginx() is None
    assert lesson07.streaming_directives(lambda: answer)
    out = capsys.readouterr().out
    assert out.startswith("✅") and "relays each event as it comes" in out
    assert "nginx is not installed, so the real trial was skipped" in out
    assert "sudo apt-get install nginx" in out


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


WRONG_DIRECTIVES = [
    ([], "no directive turns nginx's buffering off", "the directive is proxy_buffering"),
    (["gzip on;"], "none of ['gzip on;'] turns", "the directive is proxy_buffering"),
    (["proxy_buffering on;"], "nginx's default", "the value that relays each event"),
    (["proxy_bufering off;"], "'proxy_bufering' is not an nginx directive", "'proxy_buffering'?"),
    (["Proxy_buffering off;"], "is not an nginx directive", "did you mean 'proxy_buffering'?"),
    (["proxy_buffering off"], "ending in ';'", "write each like 'name value;'"),
    ([";"], "one of them is empty", "write each like 'name value;'"),
    (["proxy_buffering no;"], "takes one value, on or off", "'proxy_buffering off;'"),
    (["proxy_buffering off;", "proxy_buffering on;"], "given twice", "keep one of them"),
    (
        ["add_header X-Accel-Buffering no;"],
        "a header nginx reads",
        "(the directive is proxy_buffering)",
    ),
    ([42], "each directive must be a str", "write each like 'name value;'"),
]
WRONG_IDS = [
    "nothing",
    "gzip-on",
    "buffering-on",
    "misspelled",
    "capitalised",
    "no-semicolon",
    "empty",
    "not-a-flag",
    "twice",
    "header-to-the-browser",
    "not-a-str",
]


@pytest.mark.parametrize(("answer", "problem", "hint"), WRONG_DIRECTIVES, ids=WRONG_IDS)
def test_streaming_directives_judges_wrong_ones_without_nginx(
    answer: list[Any], problem: str, hint: str, no_nginx: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert not lesson07.streaming_directives(lambda: answer)
    out = capsys.readouterr().out
    assert out.startswith("❌ Not yet:")
    assert problem in out and hint in out


@needs_nginx
@pytest.mark.slow
@pytest.mark.parametrize(("answer", "problem", "hint"), WRONG_DIRECTIVES[:4], ids=WRONG_IDS[:4])
def test_streaming_directives_gives_the_same_verdict_with_nginx(
    answer: list[Any], problem: str, hint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert not lesson07.streaming_directives(lambda: answer)
    out = capsys.readouterr().out
    assert out.startswith("❌ Not yet:")
    assert problem in out and hint in out


@needs_nginx
@pytest.mark.slow
@pytest.mark.parametrize(
    ("answer", "problem", "hint"),
    [
        (
            ["proxy_buffering off;", "proxy_bufering off;"],
            'nginx refused them: unknown directive "proxy_bufering"',
            "check the directive's name",
        ),
        (
            ["gzip off;", "return 503;"],
            "the stream broke: nginx answered 503",
            "proxy_buffering off; is enough",
        ),
    ],
    ids=["refused", "breaks-the-stream"],
)
def test_streaming_directives_tries_them_on_a_real_nginx(
    answer: list[str], problem: str, hint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert not lesson07.streaming_directives(lambda: answer)
    out = capsys.readouterr().out
    assert out.startswith("❌ Not yet:")
    assert problem in out and hint in out


@needs_nginx
@pytest.mark.slow
def test_streaming_directives_fails_when_the_real_nginx_still_buffers(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Directives that read right but buffer on the real proxy: what the measurement then says.
    buffered = [(1.0, "status"), (1.0, "token"), (1.0, "done")]
    monkeypatch.setattr(lesson07, "arrival_times", lambda url, message: buffered)
    assert not lesson07.streaming_directives(lambda: ["proxy_buffering off;"])
    out = capsys.readouterr().out
    assert out.startswith("❌ Not yet: on a real nginx the events were still held back")


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
