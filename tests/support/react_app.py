"""The React front end (``frontends/react``) built with Vite and served by ``vite preview``.

The app is built from the sources as they are now, into a folder of the test's own,
and served by Vite's preview server, whose proxy passes ``/api``, ``/runs`` and
``/stats`` to the lab server, exactly as the dev server does. Its packages come
from ``npm ci`` (``kit.py test`` and ``.ci/run`` run it); without them the tests are
skipped with the reason, except in CI, where they fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.support.net import free_port
from tests.support.processes import stop_process, wait_until_answering

APP = Path(__file__).resolve().parents[2] / "frontends" / "react"
AXE_JS = APP / "node_modules" / "axe-core" / "axe.min.js"
# Vite itself, not through npx: terminating npx would leave its node child running.
VITE = APP / "node_modules" / ".bin" / "vite"


def require_app_packages() -> None:
    """Skip (fail under CI) unless ``npm ci`` has installed the app's packages."""
    missing = None
    if shutil.which("npx") is None:
        missing = "no Node.js/npx found (install Node.js 20 or newer)"
    elif not VITE.exists() or not AXE_JS.exists():
        missing = f"the React app's packages are not installed: run npm ci in {APP}"
    if missing is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"the React app tests must run in CI: {missing}")
    pytest.skip(missing)


def build_app(out_dir: Path) -> Path:
    """``vite build`` the app into ``out_dir``; return it."""
    require_app_packages()
    done = subprocess.run(
        [str(VITE), "build", "--outDir", str(out_dir), "--emptyOutDir", "--logLevel", "warn"],
        cwd=APP,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, f"vite build failed:\n{done.stdout}\n{done.stderr}"
    assert (out_dir / "index.html").exists()
    return out_dir


@contextmanager
def serve_app(dist: Path, lab_url: str, *, token: str | None = None) -> Iterator[str]:
    """Serve the built app with ``vite preview`` in front of ``lab_url``; yields its URL.

    ``lab_url`` is the server's address without its secret (a handle's ``base_url``);
    ``token`` (a handle's ``token``) reaches Vite as ``$LAB_TOKEN``, never on its command line.
    """
    if urlsplit(lab_url).query or urlsplit(lab_url).path not in ("", "/"):
        raise ValueError(
            f"lab_url must be a bare address such as a handle's base_url, got {lab_url!r}"
        )
    port = free_port()
    env = {**os.environ, "LAB_SERVER_URL": lab_url}
    env.pop("LAB_TOKEN", None)  # the suite exports its own; Vite gets this server's or none
    if token is not None:
        env["LAB_TOKEN"] = token
    process = subprocess.Popen(
        [str(VITE), "preview", "--outDir", str(dist), "--port", str(port)],
        cwd=APP,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        what = f"vite preview on port {port}"
        wait_until_answering(process, url, what=what, timeout=30, interval=0.2)
        yield url
    finally:
        stop_process(process)
