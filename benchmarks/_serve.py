"""Host one benchmark app in a process of its own, the way a notebook kernel hosts the lab server.

    python benchmarks/_serve.py '{"kind": "lab", "answer_tokens": 50}'

The app runs on ``labsupport.kernel_server.start_server`` (uvicorn on a background
thread with its own event loop, on 127.0.0.1, a free port). The process prints one
JSON line ``{"url": ..., "pid": ...}`` once the server answers, then serves until
its stdin closes, and stops the server. A process of its own keeps the client's
work out of the server's CPU and memory figures.
"""

from __future__ import annotations

import json
import socket
import sys

from _servers import build_app

from labsupport import kernel_server
from labsupport.kernel_server import start_server


def _with_nodelay() -> None:
    """What-if: the listening socket created with proto=IPPROTO_TCP (proposed kernel_server fix).

    asyncio turns Nagle's algorithm off only on sockets whose ``proto`` is
    IPPROTO_TCP; ``socket.socket(AF_INET, SOCK_STREAM)`` has proto 0, and so do the
    connections it accepts, so small writes wait for the peer's delayed ACK (~40 ms).
    """
    original = kernel_server._bind

    def bind(host: str, port: int) -> socket.socket:
        sock = original(host, port)
        return socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())

    kernel_server._bind = bind


def main() -> None:
    spec = json.loads(sys.argv[1])
    if spec.get("nodelay"):
        _with_nodelay()
    server = start_server(build_app(spec), name=spec["kind"])
    try:
        print(json.dumps({"url": server.url}), flush=True)
        sys.stdin.read()  # returns when the parent closes our stdin (or exits)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
