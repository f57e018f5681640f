"""A lab server in a process of its own, so its memory (RSS) can be measured apart from the test's."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.support.net import free_port
from tests.support.processes import stop_process, wait_until_answering
from tests.support.secret import AUTH

# The secret reaches the child in $LAB_TOKEN (inherited from the suite), never in argv.
_SERVE = """
import sys, uvicorn
from labsupport.auth import token_from_env
from labsupport.server import ServerSettings, create_app
settings = ServerSettings.model_validate_json(sys.argv[2])
app = create_app(settings, token=token_from_env())
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


@contextmanager
def serve_in_process(
    settings: dict[str, Any], *, startup_timeout: float = 20.0
) -> Iterator[tuple[str, int]]:
    """Serve ``ServerSettings(**settings)`` with uvicorn in a subprocess; yields (base URL, pid)."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", _SERVE, str(port), json.dumps(settings)],
        stdin=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(
            process,
            f"{url}/stats",
            what=f"the lab server on port {port}",
            timeout=startup_timeout,
            headers=AUTH,
        )
        yield url, process.pid
    finally:
        stop_process(process)
