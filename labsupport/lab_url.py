"""A lab server's address with its secret: how clients find the secret and send it.

A lab server requires a per-server secret (``labsupport.auth``). Every URL the kit
hands out carries it as a ``token`` query parameter, as Jupyter's own links do,
so a browser can open it and a student never types it:

    >>> split_token("http://127.0.0.1:8000/?token=abc123")
    ('http://127.0.0.1:8000', 'abc123')
    >>> with_token("http://127.0.0.1:8000/stats", "abc123")
    'http://127.0.0.1:8000/stats?token=abc123'
    >>> masked("http://127.0.0.1:8000/?token=abcdefghijklmnopqrstuvwxyz")
    'http://127.0.0.1:8000/?token=****wxyz'

Programs take the secret out of the URL and send it as ``Authorization: Bearer
<secret>`` instead (which is also what the openai SDK sends as its ``api_key``),
so it does not travel in request lines that proxies may log. A program started
outside the kernel gets it from the ``LAB_TOKEN`` environment variable, never from
its command line: any user of the machine can read another's command line in
``/proc/<pid>/cmdline``, but not its environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = [
    "TOKEN_ENV",
    "TOKEN_PARAM",
    "auth_headers",
    "masked",
    "resolve_token",
    "split_token",
    "with_token",
]

TOKEN_ENV = "LAB_TOKEN"
"""The environment variable that hands a lab server's secret to a program outside the kernel."""

TOKEN_PARAM = "token"
"""The query parameter that carries the secret in links (``EventSource`` cannot set headers)."""


def split_token(url: str) -> tuple[str, str | None]:
    """``url`` without its ``token`` parameter (and without a bare trailing ``/``), and the token.

    Example: ``"http://h:1/v1?token=t" -> ('http://h:1/v1', 't')``; without one, ``(url, None)``.
    """
    if not isinstance(url, str):
        raise TypeError(f"url must be a str, got {type(url).__name__}")
    parts = urlsplit(url)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    tokens = [value for name, value in pairs if name == TOKEN_PARAM]
    if not tokens:
        return url, None
    rest = urlencode([(name, value) for name, value in pairs if name != TOKEN_PARAM])
    path = parts.path.rstrip("/") if not rest else parts.path
    return urlunsplit((parts.scheme, parts.netloc, path, rest, parts.fragment)), tokens[-1]


def with_token(url: str, token: str | None) -> str:
    """``url`` with ``token`` as its ``token`` query parameter (``url`` itself when ``None``)."""
    if token is None:
        return url
    base, _ = split_token(url)
    parts = urlsplit(base)
    pairs = [*parse_qsl(parts.query, keep_blank_values=True), (TOKEN_PARAM, token)]
    query = urlencode(pairs, safe="*")  # '*' shows a masked secret as written
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", query, parts.fragment))


def masked(url: str) -> str:
    """``url`` safe to show: its secret cut to the last four characters."""
    base, token = split_token(url)
    if token is None:
        return url
    shown = "****" + token[-4:] if len(token) >= 16 else "****"
    return with_token(base, shown)


def auth_headers(token: str | None) -> dict[str, str]:
    """The header that carries ``token`` (``{}`` for a server whose secret is off)."""
    return {} if token is None else {"Authorization": f"Bearer {token}"}


def resolve_token(
    url: str, token: str | None = None, *, environ: Mapping[str, str] | None = None
) -> tuple[str, str | None]:
    """The base URL to talk to and the secret to send.

    The secret is, in order: ``token`` if given, the ``token`` in ``url``, then
    ``$LAB_TOKEN`` (``environ`` defaults to ``os.environ``); else ``None``.
    """
    base, in_url = split_token(url)
    if token is not None and not isinstance(token, str):
        raise TypeError(f"token must be a str or None, got {type(token).__name__}")
    env = os.environ if environ is None else environ
    return base, token or in_url or env.get(TOKEN_ENV) or None
