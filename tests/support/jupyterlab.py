"""A real ``jupyter lab`` server for browser tests: loopback, free port, token, temp root.

The server runs in its own process with its own config, data and runtime
directories, so a developer's settings, kernels and open tabs never leak in,
and the test never touches theirs. Its log is kept to assert on what the
server itself reported (for instance "IOPub message rate exceeded").
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx

from tests.support.net import free_port
from tests.support.processes import stop_process

# JupyterLab's user settings for a quiet, predictable page, shared with the JupyterHub test:
# no news or update prompts over the notebook, every cell kept in the DOM (no virtual scrolling).
USER_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}


@dataclass
class LabServer:
    """A running JupyterLab: its base URL, token, root directory and log file."""

    base_url: str
    token: str
    root: Path
    log_path: Path
    process: subprocess.Popen[bytes]

    def lab_url(self, path: str) -> str:
        """The URL that opens ``path`` (relative to the root) in JupyterLab, token included."""
        return f"{self.base_url}/lab/tree/{quote(path)}?token={self.token}"

    def log(self) -> str:
        """Everything the server has logged so far."""
        return self.log_path.read_text(errors="replace")

    def get(self, path: str) -> httpx.Response:
        """GET an API path with the token."""
        return httpx.get(
            f"{self.base_url}{path}", headers={"Authorization": f"token {self.token}"}, timeout=10
        )


def _write_settings(config_dir: Path) -> None:
    for relative, values in USER_SETTINGS.items():
        path = config_dir / "lab" / "user-settings" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


def _wait_ready(server: LabServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"jupyter lab exited with code {server.process.returncode}:\n{server.log()[-3000:]}"
            )
        try:
            if server.get("/api/status").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"jupyter lab was not ready after {timeout} s:\n{server.log()[-3000:]}")


def _stop(server: LabServer) -> None:
    process = server.process
    if process.poll() is None:
        # The clean way: the server shuts its kernels down, then exits.
        with contextlib.suppress(httpx.TransportError):
            httpx.post(
                f"{server.base_url}/api/shutdown",
                headers={"Authorization": f"token {server.token}"},
                timeout=5,
            )
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            stop_process(process, timeout=5)


@contextmanager
def run_jupyterlab(
    workdir: Path, *, timeout: float = 90.0, prefix: str = "/"
) -> Iterator[LabServer]:
    """Start ``jupyter lab`` serving ``workdir / "root"``; stop it (and its kernels) on exit.

    ``prefix`` is JupyterLab's ``base_url``, as a course server or a reverse proxy sets it:
    every URL of the server, ``base_url`` of the handle included, lives under it.
    """
    root = workdir / "root"
    home = workdir / "jupyter"
    for d in (root, home / "config", home / "data", home / "runtime", home / "ipython"):
        d.mkdir(parents=True, exist_ok=True)
    _write_settings(home / "config")
    env = dict(os.environ)
    env.update(
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_DATA_DIR=str(home / "data"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        IPYTHONDIR=str(home / "ipython"),
        JUPYTER_PLATFORM_DIRS="1",
        PYDEVD_DISABLE_FILE_VALIDATION="1",
    )
    # The kernel must import the package under test, wherever pytest was started from.
    repo = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [repo, env.get("PYTHONPATH")]))
    token = secrets.token_hex(16)
    log_path = workdir / "jupyterlab.log"
    last_error: Exception | None = None
    for _attempt in range(3):  # the free port may be taken by someone else meanwhile
        port = free_port()
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "jupyterlab",
                    "--no-browser",
                    "--ip=127.0.0.1",
                    f"--port={port}",
                    "--port-retries=0",
                    f"--IdentityProvider.token={token}",
                    "--ServerApp.password=",
                    f"--ServerApp.root_dir={root}",
                    f"--ServerApp.base_url={prefix}",
                    "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                    # No registry lookups from a test: the extension manager stays read-only.
                    "--LabApp.extension_manager=readonly",
                    # Containers often run tests as root; jupyter refuses that unless told.
                    *(["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []),
                ],
                cwd=root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        origin = f"http://127.0.0.1:{port}{prefix.rstrip('/')}"
        server = LabServer(origin, token, root, log_path, process)
        try:
            _wait_ready(server, timeout)
        except (RuntimeError, TimeoutError) as exc:
            last_error = exc
            _stop(server)
            continue
        try:
            yield server
        finally:
            _stop(server)
        return
    raise RuntimeError(f"could not start jupyter lab: {last_error}")
