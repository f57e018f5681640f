"""Refuse requests a browser was tricked into sending: DNS rebinding and cross-site work.

Two checks run before any endpoint, each answered with 403 and a JSON ``detail``
that says what was refused and how to allow it:

- **Host.** A page on ``evil.example`` whose DNS name is rebound to 127.0.0.1
  reaches the server as a same-origin page, so CORS does not stop it; but its
  browser still sends ``Host: evil.example``. Only the server's loopback names
  (``127.0.0.1``, ``localhost``, ``[::1]``, any port) and the names listed in
  ``ServerSettings.allowed_hosts`` are served; in-process clients
  (``httpx.ASGITransport(app)``) address the app as ``http://127.0.0.1``.
- **Cross-site requests.** An ``<img src=".../chat/stream?message=...">`` or an
  ``EventSource`` on another site starts a run without being able to read it.
  Browsers mark such requests ``Sec-Fetch-Site: cross-site`` (or ``same-site``
  for another port of the same host); they are refused unless their ``Origin``
  is in the explicit CORS list. The page itself (``GET /``) and the API docs stay
  reachable from anywhere a link may point, since they start nothing. Requests
  without ``Sec-Fetch-Site`` (httpx, curl, the openai SDK) or with ``none`` (the
  user typed the URL) are not browser-forged and pass.

Reached through jupyter-server-proxy, the server sees the *outer* ``Host``
(measured: ``Host: 127.0.0.1:8888``, JupyterLab's own address, plus
``X-Forwarded-Context: /proxy/<port>``). On a laptop that is a loopback name and
passes. On a JupyterHub (or Binder) it is the hub's public name, which the
server cannot know, so under a hub (``JUPYTERHUB_SERVICE_PREFIX`` is set for
every single-user server and its kernels) a request marked by the proxy for this
very port is accepted whatever its ``Host``. The marker is an ordinary header a
rebinding page could forge, which is why it is trusted only under a hub: there
the student's browser runs on another machine and cannot reach the hub's
127.0.0.1 at all, so no rebinding is possible, and the request came through
Jupyter's login. What the marker cannot stop, other users of the same machine
sending whatever headers they like, is the per-server secret's job (SECURITY.md).

Example: ``HostGuard(app, allowed_hosts=("lab.example.org",), cors_origins=())``
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["LOOPBACK_HOSTS", "OPEN_PATHS", "HostGuard", "host_name", "running_under_jupyterhub"]

LOOPBACK_HOSTS: frozenset[str] = frozenset({"127.0.0.1", "localhost", "[::1]"})

# Read-only paths a link from anywhere may open: they start no run and reveal no counters.
OPEN_PATHS: frozenset[str] = frozenset({"/", "/docs", "/redoc", "/openapi.json"})
_CROSS_SITE: frozenset[str] = frozenset({"cross-site", "same-site"})


def host_name(host: str) -> str:
    """The name in a ``Host`` header, lower-case, without port or trailing dot.

    Example: ``"LocalHost.:8000" -> "localhost"``, ``"[::1]:8000" -> "[::1]"``
    """
    host = host.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0].rstrip(".") if ":" in host else host.rstrip(".")


def running_under_jupyterhub(environ: Mapping[str, str] | None = None) -> bool:
    """Whether this process runs in a JupyterHub single-user server (or one of its kernels)."""
    return bool((os.environ if environ is None else environ).get("JUPYTERHUB_SERVICE_PREFIX"))


class HostGuard:
    """ASGI middleware: 403 for a foreign ``Host`` or a cross-site request that may start work."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        allowed_hosts: Iterable[str] = (),
        cors_origins: Iterable[str] = (),
        trust_proxy_marker: bool | None = None,
    ) -> None:
        self.app = app
        self.hosts = LOOPBACK_HOSTS | {host_name(h) for h in allowed_hosts}
        self.origins = frozenset(cors_origins)
        self.trust_proxy_marker = (
            running_under_jupyterhub() if trust_proxy_marker is None else trust_proxy_marker
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refusal = self._refusal(scope)
            if refusal is not None:
                await JSONResponse({"detail": refusal}, status_code=403)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _refusal(self, scope: Scope) -> str | None:
        """Why this request is refused, or None to serve it."""
        headers = Headers(scope=scope)
        host = headers.get("host", "")
        if not self._served(host_name(host)) and not self._proxied(scope, headers):
            return (
                f"Host {host!r} is not this server's name: only 127.0.0.1, localhost, [::1] "
                "and ServerSettings(allowed_hosts=...) are served, so a page whose DNS name "
                "points at this machine cannot use it. Open the server at http://127.0.0.1:<port>/ "
                "or add the name to allowed_hosts."
            )
        site = headers.get("sec-fetch-site", "")
        origin = headers.get("origin")
        if scope["path"] not in OPEN_PATHS and site in _CROSS_SITE and origin not in self.origins:
            return (
                f"a {site} request from origin {origin or '(none sent)'} may not use "
                f"{scope['path']}: a page on another site could start runs. Use the server's own "
                "page, or add that page's origin to ServerSettings(cors_origins=...)."
            )
        return None

    def _served(self, name: str) -> bool:
        return name in self.hosts

    def _proxied(self, scope: Scope, headers: Headers) -> bool:
        """Whether jupyter-server-proxy marked this request as proxied to this server's port."""
        if not self.trust_proxy_marker:
            return False
        server = scope.get("server")
        context = headers.get("x-forwarded-context", "")
        return server is not None and context.rstrip("/").endswith(f"/proxy/{server[1]}")
