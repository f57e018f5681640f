"""Run a web server inside a Jupyter kernel, in the background, and stop it cleanly.

    >>> server = start_server()                 # doctest: +SKIP
    >>> server.url                               # doctest: +SKIP
    'http://127.0.0.1:43127/?token=...'
    >>> httpx.get(server.url_for("/stats"))      # doctest: +SKIP
    >>> server.stop()                            # doctest: +SKIP

Every URL the handle gives carries the server's secret (``labsupport.auth``), new
on every start: ``url`` (the page; hand it to ``labsupport.client`` too),
``url_for(path)``, ``proxy_path``, ``proxy_path_for(path)``; ``headers`` sends it
from a program instead.
``base_url`` is the address alone, and ``repr`` shows only that.
``start_server(settings=ServerSettings(require_token=False))`` starts one without.

Why it is built this way:

- uvicorn runs on **its own thread and event loop**, not the kernel's. A cell that
  blocks on a client (``httpx.stream(...)``) blocks the kernel's loop; a server
  on that loop could never answer it, and the cell would hang forever.
- The socket is **bound here, before uvicorn starts**. uvicorn reports a busy port
  with ``sys.exit``, which would end the kernel; binding first turns it into a
  ``PortInUseError`` in the cell, and the kernel lives on.
- **Stopping ends open streams** (each gets an ``error`` event, then its end) and
  uvicorn cancels whatever is left after a short grace period, so the port is free
  within 2 seconds even while a browser keeps an ``EventSource`` open.
- Starting again under the same ``name`` **replaces** the old server, so running a
  cell twice just works.
- uvicorn's log lines never reach the notebook (no stray stderr in outputs); they
  are kept on the handle: ``server.logs``.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import socket
import threading
import time
from typing import Any

import uvicorn

from .handles import Handle
from .jupyter_base import jupyter_base_url
from .kernel_io import PortInUseError, bind_loopback, capture_uvicorn_logs, log_lines
from .lab_url import auth_headers, with_token

__all__ = ["PortInUseError", "ServerHandle", "running_servers", "start_server", "stop_all"]

_STARTUP_TIMEOUT = 10.0
# How long uvicorn lets requests finish on its own before it cancels them.
_GRACE_SECONDS = 1


_registry_lock = threading.Lock()
_servers: dict[str, ServerHandle] = {}


class ServerHandle(Handle):
    """A server running in the background of this process: its ``url``, ``stop()``, ``restart()``."""

    def __init__(
        self, app: Any, *, host: str, port: int, name: str, token: str | None = None
    ) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.name = name
        self._token = token
        self._thread: threading.Thread | None = None
        self._server: uvicorn.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._failure: BaseException | None = None

    @property
    def base_url(self) -> str:
        """Where the server answers, without its secret, e.g. ``http://127.0.0.1:8765``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def url(self) -> str:
        """The server's page with its secret, e.g. ``http://127.0.0.1:8765/?token=...``.

        Open it in a browser on this machine, or pass it to ``labsupport.client``,
        ``start_nginx`` or ``load_config``: each takes the secret out and sends it.
        Without a secret (``require_token=False``) it is ``base_url``.
        """
        return self.base_url if self._token is None else self.url_for("/")

    @property
    def token(self) -> str | None:
        """The secret this server requires (new on every start), or ``None`` when it is off."""
        return self._token

    @property
    def headers(self) -> dict[str, str]:
        """``{"Authorization": "Bearer <secret>"}`` for a client of your own (``{}`` when off)."""
        return auth_headers(self._token)

    def url_for(self, path: str) -> str:
        """The URL of ``path`` on this server, with its secret: ``url_for("/stats")``."""
        if not isinstance(path, str) or not path.startswith("/"):
            raise ValueError(f"path must start with '/', such as '/stats', got {path!r}")
        return with_token(self.base_url + path, self._token)

    @property
    def proxy_path(self) -> str:
        """The server's page through jupyter-server-proxy, under this Jupyter's prefix.

        ``/proxy/<port>/`` on a laptop, ``/user/alice/proxy/<port>/`` on JupyterHub
        or Binder, ``<base_url>proxy/<port>/`` under a JupyterLab ``base_url``, with
        ``?token=<secret>``: the address a browser anywhere can open. ``url`` stays
        the link for this machine.
        """
        return self.proxy_path_for("/")

    def proxy_path_for(self, path: str) -> str:
        """``path`` through jupyter-server-proxy, with the secret: ``proxy_path_for("/stats")``."""
        if not isinstance(path, str) or not path.startswith("/"):
            raise ValueError(f"path must start with '/', such as '/stats', got {path!r}")
        return with_token(f"{jupyter_base_url()}proxy/{self.port}{path}", self._token)

    @property
    def running(self) -> bool:
        """Whether the server thread is alive and serving."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def logs(self) -> list[str]:
        """uvicorn's recent log lines for this server, oldest first."""
        thread = self._thread
        return log_lines(thread.name) if thread else []

    def __repr__(self) -> str:
        # Never the secret: a printed handle ends up in saved notebooks.
        state = "running" if self.running else "stopped"
        open_to_all = "" if self._token is not None else ", no secret"
        return f"<ServerHandle {self.name!r} {self.base_url} {state}{open_to_all}>"

    def _start(self) -> None:
        sock = bind_loopback(self.host, self.port)
        self.port = sock.getsockname()[1]
        capture_uvicorn_logs()
        config = uvicorn.Config(
            self.app,
            log_config=None,
            access_log=False,
            ws="none",  # no websocket support needed; avoids its import warnings
            lifespan="auto",
            timeout_graceful_shutdown=_GRACE_SECONDS,
        )
        self._server = uvicorn.Server(config)
        self._failure = None
        self._thread = threading.Thread(
            target=self._serve,
            args=(self._server, sock),
            name=f"labsupport-server-{self.name}-{self.port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + _STARTUP_TIMEOUT
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                detail = "; ".join(self.logs[-3:]) or repr(self._failure)
                raise RuntimeError(f"the server did not start: {detail}")
            time.sleep(0.01)

    def _serve(self, server: uvicorn.Server, sock: socket.socket) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        loop.set_exception_handler(_log_loop_error)
        try:
            loop.run_until_complete(server.serve(sockets=[sock]))
        except BaseException as exc:  # uvicorn exits with SystemExit when startup fails
            self._failure = exc
            logging.getLogger("uvicorn.error").error("server stopped: %r", exc)
        finally:
            try:
                _cancel_leftovers(loop)
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()
                sock.close()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop serving and free the port; open streams end with an ``error`` event."""
        thread, server, loop = self._thread, self._server, self._loop
        if thread is None or server is None or not thread.is_alive():
            return
        from .server import stream_closer  # the server module is optional for other apps

        closer = stream_closer(self.app)
        if closer is not None and loop is not None and not loop.is_closed():
            # RuntimeError: the loop closed between the check and the call; nothing to end.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(closer)
        server.should_exit = True
        thread.join(timeout)
        if thread.is_alive():
            server.force_exit = True
            thread.join(1.0)
        if thread.is_alive():
            raise RuntimeError(
                f"server {self.name!r} at {self.base_url} did not stop within {timeout} s"
            )

    def restart(self) -> ServerHandle:
        """Stop and start the same app again on the same port (and secret); returns ``self``."""
        self.stop()
        self._start()
        return self


def _log_loop_error(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    # The default handler writes to stderr, which would land in a notebook cell's output.
    logging.getLogger("uvicorn.error").error(
        "event loop: %s", context.get("message"), exc_info=context.get("exception")
    )


def _cancel_leftovers(loop: asyncio.AbstractEventLoop) -> None:
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))


def start_server(
    app: Any = None,
    *,
    port: int = 0,
    host: str = "127.0.0.1",
    name: str = "lab",
    settings: Any = None,
) -> ServerHandle:
    """Serve ``app`` in the background and return its handle; the call returns once it answers.

    ``app`` is any ASGI app (default: ``labsupport.server.create_app(settings)``).
    ``port=0`` picks a free port. The handle's URLs carry the app's secret
    (``labsupport.server.app_token``); ``settings=ServerSettings(require_token=False)``
    starts the lab's app without one. A server started earlier under the same ``name``,
    or on the same port, is stopped first, so re-running a cell replaces it.
    A port taken by another program raises ``PortInUseError``.
    """
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValueError(f"port must be an int from 0 to 65535, got {port!r}")
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty str, got {name!r}")
    from .server import app_token, create_app  # the server module is optional for other apps

    if app is None:
        app = create_app(settings)
    elif settings is not None:
        raise ValueError("pass settings only without app; an app brings its own settings")
    with _registry_lock:
        for key, old in list(_servers.items()):
            if key == name or (port and old.port == port and old.host == host):
                old.stop()
                del _servers[key]
        handle = ServerHandle(app, host=host, port=port, name=name, token=app_token(app))
        handle._start()
        _servers[name] = handle
    return handle


def running_servers() -> list[ServerHandle]:
    """The servers started in this process that are still running."""
    with _registry_lock:
        return [h for h in _servers.values() if h.running]


def stop_all() -> None:
    """Stop every server started in this process."""
    with _registry_lock:
        handles = list(_servers.values())
        _servers.clear()
    for handle in handles:
        handle.stop()


# A kernel restart or interpreter exit should close sockets politely, not mid-response.
atexit.register(stop_all)
