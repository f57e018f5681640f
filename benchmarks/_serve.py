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
import sys

from _servers import build_app

from labsupport.kernel_server import start_server


def main() -> None:
    spec = json.loads(sys.argv[1])
    server = start_server(build_app(spec), name=spec["kind"])
    try:
        print(json.dumps({"url": server.url}), flush=True)
        sys.stdin.read()  # returns when the parent closes our stdin (or exits)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
