"""A real JupyterHub for tests: loopback ports, the kit's lessons in each user's home.

The hub runs as its own process with configurable-http-proxy in front (from
``tests/js``, pinned in its lock file), the dummy authenticator with one shared
password, and SimpleLocalProcessSpawner, which starts each user's
``jupyterhub-singleuser`` as a plain local process with its home in the test's
temp folder. Everything the hub writes (database, cookie secret, pid files,
homes, one log for hub, proxy and servers) stays in that folder, and the test
stops every process whose working directory is there: hub, proxy, single-user
servers and their kernels.

The hub gives a single-user server no environment of its own beyond ``HOME``
and what ``Spawner.environment`` lists, so each user's Jupyter config, data and
runtime folders are under their home, apart from the developer's and each other's.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import httpx
import pytest

# The same quiet, predictable JupyterLab settings the plain-JupyterLab tests use.
from tests.support.jupyterlab import USER_SETTINGS
from tests.support.net import free_port

REPO = Path(__file__).resolve().parents[2]
LESSONS = REPO / "notebooks"
PROXY_BINARY = REPO / "tests" / "js" / "node_modules" / ".bin" / "configurable-http-proxy"
SERVICE = "hub-test"


def _missing(reason: str) -> NoReturn:
    """Skip the test, or fail it under CI, where every piece must be there."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"the JupyterHub test must run in CI: {reason}")
    pytest.skip(reason)


def singleuser_command() -> Path:
    """This environment's ``jupyterhub-singleuser``, so kernels run this environment's Python."""
    return Path(sys.executable).parent / "jupyterhub-singleuser"


def require_jupyterhub() -> None:
    """Skip (fail under CI) unless jupyterhub, node and configurable-http-proxy are installed."""
    try:
        import jupyterhub  # noqa: F401
    except ImportError:
        _missing("jupyterhub is not installed (pip install -e '.[test]')")
    if not singleuser_command().exists():
        _missing(f"{singleuser_command()} is missing (pip install -e '.[test]')")
    if shutil.which("node") is None:
        _missing("node is not installed: configurable-http-proxy runs in node 20+")
    if not PROXY_BINARY.exists():
        _missing("configurable-http-proxy is missing: run `npm ci --prefix tests/js`")


@dataclass
class Hub:
    """A running JupyterHub: its public URL, an admin token, its folder, log and process."""

    url: str
    api_token: str
    password: str
    workdir: Path
    log_path: Path
    process: subprocess.Popen[bytes]

    def log(self) -> str:
        """Everything the hub, its proxy and the single-user servers have logged so far."""
        return self.log_path.read_text(errors="replace")

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Call the hub's REST API (``/hub/api`` + ``path``) with the admin service's token."""
        return httpx.request(
            method,
            f"{self.url}/hub/api{path}",
            headers={"Authorization": f"token {self.api_token}"},
            timeout=30,
            **kwargs,
        )

    def new_token(self, user: str) -> str:
        """A fresh API token of ``user``'s, with exactly ``user``'s own permissions."""
        response = self.api("POST", f"/users/{user}/tokens", json={"note": "hub test"})
        response.raise_for_status()
        token: str = response.json()["token"]
        return token

    def request_server(self, user: str) -> None:
        """Ask the hub to start ``user``'s server; returns at once, the spawn goes on."""
        response = self.api("POST", f"/users/{user}/server")
        if response.status_code not in (201, 202, 400):  # 400: already running or pending
            response.raise_for_status()

    def wait_for_server(self, user: str, timeout: float) -> None:
        """Wait until ``user``'s server is up and the proxy routes to it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            model = self.api("GET", f"/users/{user}").json()
            server = model.get("servers", {}).get("")
            if server and server.get("ready"):
                return
            if not server and model.get("pending") is None:
                raise RuntimeError(f"{user}'s server stopped while starting:\n{self.log()[-3000:]}")
            time.sleep(1)
        raise TimeoutError(
            f"{user}'s server was not ready after {timeout} s:\n{self.log()[-3000:]}"
        )

    def _check_alive(self) -> None:
        if self.process.poll() is not None:
            raise RuntimeError(
                f"jupyterhub exited with code {self.process.returncode}:\n{self.log()[-3000:]}"
            )


def home_folder(workdir: Path, user: str) -> Path:
    """Where SimpleLocalProcessSpawner puts ``user``'s home (its ``home_dir_template``)."""
    return workdir / "home" / user


def _prepare_home(home: Path) -> None:
    """The lessons exactly as shipped, and JupyterLab's quiet settings, in a fresh home."""
    shutil.copytree(LESSONS, home, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    settings = home / ".jupyter" / "lab" / "user-settings"
    for relative, values in USER_SETTINGS.items():
        path = settings / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


def _config(
    workdir: Path, users: tuple[str, ...], password: str, api_token: str, ports: dict[str, int]
) -> dict[str, dict[str, object]]:
    """The hub's configuration, section by section, as plain values."""
    root = os.geteuid() == 0 if hasattr(os, "geteuid") else False
    singleuser_args = [
        # What tests/support/jupyterlab.py gives a plain JupyterLab: no update checks,
        # no registry lookups from the extension manager.
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
        # Containers often run tests as root; jupyter refuses that unless told.
        *(["--allow-root"] if root else []),
    ]
    bin_dir = str(Path(sys.executable).parent)
    return {
        "JupyterHub": {
            "ip": "127.0.0.1",
            "port": ports["proxy"],
            "hub_ip": "127.0.0.1",
            "hub_port": ports["hub"],
            "authenticator_class": "dummy",
            "spawner_class": "simple",
            "db_url": f"sqlite:///{workdir / 'jupyterhub.sqlite'}",
            "cookie_secret_file": str(workdir / "jupyterhub_cookie_secret"),
            "pid_file": str(workdir / "jupyterhub.pid"),
            # One admin service whose token the test uses for the REST API.
            "services": [{"name": SERVICE, "api_token": api_token}],
            "load_roles": [
                {
                    "name": SERVICE,
                    "scopes": ["admin:users", "admin:servers", "tokens", "read:users"],
                    "services": [SERVICE],
                }
            ],
        },
        "ConfigurableHTTPProxy": {
            "command": [str(PROXY_BINARY)],
            "api_url": f"http://127.0.0.1:{ports['proxy_api']}",
            "pid_file": str(workdir / "jupyterhub-proxy.pid"),
        },
        "Authenticator": {"allowed_users": sorted(users)},
        "DummyAuthenticator": {"password": password},
        "SimpleLocalProcessSpawner": {
            "home_dir_template": str(home_folder(workdir, "{username}")),
        },
        "Spawner": {
            "cmd": [str(singleuser_command())],
            "args": singleuser_args,
            "default_url": "/lab",
            # A server takes about a minute to start on a busy two-core machine.
            "start_timeout": 240,
            "http_timeout": 240,
            "environment": {
                # The kernel imports the kit from this checkout, with this environment's Python.
                "PATH": os.pathsep.join([bin_dir, os.environ.get("PATH", os.defpath)]),
                "PYTHONPATH": str(REPO),
                "LANG": "C.UTF-8",
                "PYDEVD_DISABLE_FILE_VALIDATION": "1",
            },
        },
    }


def _write_config(path: Path, config: dict[str, dict[str, object]]) -> None:
    lines = [
        "# Written by tests/support/jupyterhub.py for one test run.",
        "c = get_config()  # noqa",
    ]
    for section, values in config.items():
        lines.extend(f"c.{section}.{name} = {value!r}" for name, value in values.items())
    path.write_text("\n".join(lines) + "\n")


def _processes_in(workdir: Path) -> list[int]:
    """Pids of live processes whose working directory is in ``workdir``: all ours, none else's."""
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = Path(os.readlink(entry / "cwd"))
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if state != "Z" and cwd.is_relative_to(workdir):
            found.append(int(entry.name))
    return found


def _describe(pids: list[int]) -> str:
    lines = []
    for pid in pids:
        with contextlib.suppress(OSError):
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            lines.append(f"{pid}: {cmdline[:200]}")
    return "\n".join(lines)


def _wait_ready(hub: Hub, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        hub._check_alive()
        try:
            if hub.api("GET", "/").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"jupyterhub was not ready after {timeout} s:\n{hub.log()[-3000:]}")


def _stop(hub: Hub) -> str:
    """Stop the servers, then the hub and its proxy; kill and describe whatever outlived them."""
    if hub.process.poll() is None:
        # Each server first, the way an admin would: its kernels are shut down cleanly.
        for user in _users(hub):
            with contextlib.suppress(httpx.HTTPError):
                hub.api("DELETE", f"/users/{user}/server")
        # SIGTERM: the hub stops any server still up, then the proxy, then exits.
        hub.process.send_signal(signal.SIGTERM)
        try:
            hub.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            hub.process.kill()
            hub.process.wait(timeout=10)
    leftovers = _processes_in(hub.workdir)
    described = _describe(leftovers)
    for pid in leftovers:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return described


def _users(hub: Hub) -> list[str]:
    with contextlib.suppress(httpx.HTTPError, ValueError):
        response = hub.api("GET", "/users")
        if response.status_code == 200:
            return [user["name"] for user in response.json()]
    return []


@contextmanager
def run_jupyterhub(
    workdir: Path, users: tuple[str, ...], *, timeout: float = 90.0
) -> Iterator[Hub]:
    """Start a JupyterHub in ``workdir`` for ``users``; stop it and everything it started on exit.

    Raises ``RuntimeError`` on exit if any process of the hub's had to be killed.
    """
    require_jupyterhub()
    workdir = workdir.resolve()
    for user in users:
        _prepare_home(home_folder(workdir, user))
    password = secrets.token_urlsafe(12)
    api_token = secrets.token_hex(32)
    log_path = workdir / "jupyterhub.log"
    last_error: Exception | None = None
    for _attempt in range(3):  # a free port may be taken by someone else meanwhile
        ports = {"proxy": free_port(), "proxy_api": free_port(), "hub": free_port()}
        config = workdir / "jupyterhub_config.py"
        _write_config(config, _config(workdir, users, password, api_token, ports))
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "jupyterhub", "-f", str(config)],
                cwd=workdir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        hub = Hub(
            f"http://127.0.0.1:{ports['proxy']}", api_token, password, workdir, log_path, process
        )
        try:
            _wait_ready(hub, timeout)
        except (RuntimeError, TimeoutError) as exc:
            last_error = exc
            _stop(hub)
            continue
        leftovers = ""
        try:
            yield hub
        finally:
            leftovers = _stop(hub)
        if leftovers:
            raise RuntimeError(f"processes outlived the hub and were killed:\n{leftovers}")
        return
    raise RuntimeError(f"could not start jupyterhub: {last_error}")
