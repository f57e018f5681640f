"""The per-server secret: every request that does work must carry it, as with Jupyter's token.

Binding 127.0.0.1 keeps the network out, but not the other users of the same
machine (a shared JupyterHub, a lab server): each of them can connect to every
loopback port. So a lab server makes a secret when it starts and serves only
requests that send it, either way:

- ``Authorization: Bearer <secret>`` (programs; also what the openai SDK sends
  as its ``api_key``, so the secret *is* the key for ``/v1``), or
- ``?token=<secret>`` (links and ``EventSource``, which cannot set headers).

Without it the answer is 401, with a wrong one 403, each with a JSON ``detail``
saying where the secret is (``server.url`` of the handle that started the
server). The secret is new on every start, so one left in a saved notebook is
dead after a restart; it is compared in constant time; and ``?token=`` is cut out
of the request before anything below this middleware (uvicorn's access log
included) can print it. Only the page and the API docs (``GET /``, ``/docs``,
``/redoc``, ``/openapi.json``) are served without it: they start nothing and
reveal no counters, and the page can do nothing without the secret in its URL
(a wrong secret is refused there too).

Turn it off with ``ServerSettings(require_token=False)``, only to see why it exists.

Example: ``TokenGuard(app, token=new_token())``
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from urllib.parse import parse_qsl, urlencode

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from .host_guard import OPEN_PATHS
from .lab_url import TOKEN_ENV, TOKEN_PARAM

__all__ = ["MIN_TOKEN_CHARS", "TokenGuard", "check_token", "new_token", "token_from_env"]

MIN_TOKEN_CHARS = 16
"""The shortest secret accepted from outside; a generated one has 43 characters (256 bits)."""

_WHERE = (
    "In the notebook that started this server, use server.url (or server.url_for(path), "
    "server.headers) of the handle start_server() returned; a program started outside the "
    f"kernel reads it from ${TOKEN_ENV}."
)


def new_token() -> str:
    """A fresh secret: 32 random bytes, URL-safe (43 characters)."""
    return secrets.token_urlsafe(32)


def check_token(token: str) -> str:
    """``token`` if it may be a server's secret; ``ValueError`` naming the problem otherwise."""
    if not isinstance(token, str):
        raise TypeError(f"token must be a str, got {type(token).__name__}")
    if len(token) < MIN_TOKEN_CHARS or not token.isascii() or not token.isprintable():
        shown = f"{len(token)} characters" if token.isascii() else "non-ASCII text"
        raise ValueError(
            f"a server's secret must be at least {MIN_TOKEN_CHARS} printable ASCII characters, "
            f"got {shown}; labsupport.auth.new_token() makes one"
        )
    return token


def token_from_env(environ: Mapping[str, str] | None = None) -> str | None:
    """The secret in ``$LAB_TOKEN`` (checked), or ``None`` when it is unset or empty."""
    value = (os.environ if environ is None else environ).get(TOKEN_ENV, "").strip()
    return check_token(value) if value else None


class TokenGuard:
    """ASGI middleware: 401 without the server's secret, 403 with a wrong one."""

    def __init__(self, app: ASGIApp, *, token: str) -> None:
        self.app = app
        self._token = check_token(token).encode()

    def __repr__(self) -> str:
        return "TokenGuard(token='****')"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            in_query = _pop_query_token(scope)
            sent = _bearer(Headers(scope=scope)) or in_query
            # The page and docs open without a secret, but a wrong one is refused everywhere
            # (it is a stale link, or a path glued after '?token=...').
            needed = scope["path"] not in OPEN_PATHS and scope["method"] != "OPTIONS"
            if needed or sent is not None:
                refusal = self._refusal(scope, sent)
                if refusal is not None:
                    await refusal(scope, receive, send)
                    return
        await self.app(scope, receive, send)

    def _refusal(self, scope: Scope, sent: str | None) -> JSONResponse | None:
        if sent is None:
            detail = (
                "this server requires its secret: send 'Authorization: Bearer <secret>' or "
                f"'?token=<secret>'. {_WHERE}"
            )
            return _refused(scope, 401, detail)
        if secrets.compare_digest(sent.encode(), self._token):
            return None
        detail = (
            "the secret sent is not this server's: a new one is made on every start, so one "
            f"from before a restart (or a saved notebook) no longer works. {_WHERE}"
        )
        if "/" in sent:
            detail += (
                " The secret sent contains '/': a path was appended after '?token=...'; "
                "build URLs with server.url_for('/stats'), not f'{server.url}/stats'."
            )
        return _refused(scope, 403, detail)


def _bearer(headers: Headers) -> str | None:
    scheme, _, value = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip() or None


def _pop_query_token(scope: Scope) -> str | None:
    """Take ``token`` out of the query string, in place, so no later layer or log sees it."""
    raw: bytes = scope.get("query_string", b"")
    if TOKEN_PARAM.encode() not in raw:
        return None
    pairs = parse_qsl(raw.decode("latin-1"), keep_blank_values=True)
    tokens = [value for name, value in pairs if name == TOKEN_PARAM]
    if not tokens:
        return None
    rest = [(name, value) for name, value in pairs if name != TOKEN_PARAM]
    scope["query_string"] = urlencode(rest).encode("latin-1")
    return tokens[-1]


def _refused(scope: Scope, status: int, detail: str) -> JSONResponse:
    body: dict[str, object] = {"detail": detail}
    if scope["path"].startswith("/v1/"):
        # The openai SDK reads OpenAI's error shape and raises AuthenticationError (401) or
        # PermissionDeniedError (403) with this message.
        code = "missing_api_key" if status == 401 else "invalid_api_key"
        body["error"] = {"message": detail, "type": "invalid_request_error", "code": code}
    headers = {"WWW-Authenticate": 'Bearer realm="lab"'} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)
