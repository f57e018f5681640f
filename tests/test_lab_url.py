"""A server's URL with its secret: taking it apart, putting it back, showing it safely."""

from __future__ import annotations

import pytest

from labsupport.lab_url import auth_headers, masked, resolve_token, split_token, with_token

SECRET = "abcdefghijklmnopqrstuvwxyz0123456789"


@pytest.mark.parametrize(
    ("url", "base", "token"),
    [
        (f"http://127.0.0.1:8000/?token={SECRET}", "http://127.0.0.1:8000", SECRET),
        (f"http://127.0.0.1:8000/v1?token={SECRET}", "http://127.0.0.1:8000/v1", SECRET),
        (f"/proxy/9/?token={SECRET}", "/proxy/9", SECRET),
        (f"http://h:1/stats?a=1&token={SECRET}&b=2", "http://h:1/stats?a=1&b=2", SECRET),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000", None),
    ],
    ids=["page", "v1", "proxy-path", "other-params", "none"],
)
def test_split_token(url: str, base: str, token: str | None) -> None:
    assert split_token(url) == (base, token)


def test_with_token_round_trips_and_leaves_an_open_server_alone() -> None:
    url = with_token("http://127.0.0.1:8000", SECRET)
    assert url == f"http://127.0.0.1:8000/?token={SECRET}"
    assert split_token(url) == ("http://127.0.0.1:8000", SECRET)
    assert with_token("http://127.0.0.1:8000", None) == "http://127.0.0.1:8000"


def test_masked_shows_four_characters_at_most() -> None:
    assert masked(with_token("http://h:1", SECRET)) == "http://h:1/?token=****6789"
    assert masked(with_token("http://h:1", "short")) == "http://h:1/?token=****"


def test_the_secret_comes_from_the_argument_then_the_url_then_the_environment() -> None:
    env = {"LAB_TOKEN": "from-env-0123456789"}
    url = with_token("http://h:1", SECRET)
    assert resolve_token(url, "given", environ=env) == ("http://h:1", "given")
    assert resolve_token(url, environ=env) == ("http://h:1", SECRET)
    assert resolve_token("http://h:1", environ=env) == ("http://h:1", "from-env-0123456789")
    assert resolve_token("http://h:1", environ={}) == ("http://h:1", None)


def test_auth_headers() -> None:
    assert auth_headers(SECRET) == {"Authorization": f"Bearer {SECRET}"}
    assert auth_headers(None) == {}
