"""A real uvicorn on a loopback socket, served from a background thread, for tests.

The socket is bound here and handed to uvicorn, so a busy port fails in the
test's own process with a clear error instead of uvicorn calling ``sys.exit``.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn


@contextmanager
def serve_in_thread(
    app: Any, *, port: int = 0, startup_timeout: float = 10.0, lifespan: str = "off"
) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 at ``port`` (0: a free one); yields the base URL, stops on exit.

    ``lifespan="on"`` runs the app's startup and shutdown (a Redis run store connects there).
    """
    # IPPROTO_TCP so asyncio sets TCP_NODELAY on accepted connections (see kernel_server._bind).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        # Configure no logging: a log_level here would set uvicorn's loggers for the whole
        # test process (and hide kernel_server's own log lines from later tests).
        log_config=None,
        lifespan=lifespan,  # type: ignore[arg-type]
        # Without it, a client still holding a stream would keep the server from stopping.
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
