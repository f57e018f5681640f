"""Where the Jupyter server that runs this kernel lives, as a URL path prefix.

A server started in a kernel binds 127.0.0.1, so a browser on another machine
reaches it only through jupyter-server-proxy at ``<prefix>proxy/<port>/``. The
prefix is ``/`` on a laptop, ``/user/alice/`` on JupyterHub and Binder, and the
``base_url`` of any JupyterLab started with one. ``/proxy/<port>/`` at a hub's
root is the hub's own 404 page.

    >>> jupyter_base_url(environ={"JUPYTERHUB_SERVICE_PREFIX": "/user/alice"}, parent_pid=0)
    '/user/alice/'
    >>> jupyter_base_url(environ={}, parent_pid=0)  # no Jupyter server started this process
    '/'

The prefix is found, in order:

1. ``JUPYTERHUB_SERVICE_PREFIX``, which JupyterHub (and so Binder) gives every
   single-user server and its kernels;
2. the ``base_url`` the parent Jupyter server recorded in its runtime file
   (``jpserver-<pid>.json``): a kernel is started by its server, so the server's
   pid is the kernel's parent pid;
3. ``/``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

__all__ = ["jupyter_base_url", "normalize_prefix"]


def normalize_prefix(prefix: str) -> str:
    """A URL path prefix with exactly one slash at each end.

    Example: ``normalize_prefix("user/alice") -> '/user/alice/'``; ``"" -> '/'``
    """
    if not isinstance(prefix, str):
        raise TypeError(f"prefix must be a str, got {type(prefix).__name__}")
    if "://" in prefix or "?" in prefix or "#" in prefix:
        raise ValueError(f"prefix must be a URL path such as '/user/alice/', got {prefix!r}")
    inner = prefix.strip("/")
    return f"/{inner}/" if inner else "/"


def _runtime_dir(env: Mapping[str, str]) -> Path | None:
    configured = env.get("JUPYTER_RUNTIME_DIR")
    if configured:
        return Path(configured)
    try:
        from jupyter_core.paths import jupyter_runtime_dir
    except ImportError:  # pragma: no cover - jupyter_core comes with JupyterLab
        return None
    return Path(jupyter_runtime_dir())


def _server_base_url(env: Mapping[str, str], parent_pid: int) -> str | None:
    """The ``base_url`` recorded by the Jupyter server whose pid is ``parent_pid``."""
    folder = _runtime_dir(env)
    if folder is None or parent_pid <= 1:
        return None
    path = folder / f"jpserver-{parent_pid}.json"
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # no such server, or a file being written: not ours
        return None
    base_url = info.get("base_url") if isinstance(info, dict) else None
    return base_url if isinstance(base_url, str) else None


def jupyter_base_url(
    *, environ: Mapping[str, str] | None = None, parent_pid: int | None = None
) -> str:
    """The URL path under which this kernel's Jupyter server answers: ``/`` or a prefix.

    ``environ`` defaults to ``os.environ`` and ``parent_pid`` to ``os.getppid()``;
    tests pass both.
    """
    env = os.environ if environ is None else environ
    hub_prefix = env.get("JUPYTERHUB_SERVICE_PREFIX", "").strip()
    if hub_prefix:
        return normalize_prefix(hub_prefix)
    pid = os.getppid() if parent_pid is None else parent_pid
    return normalize_prefix(_server_base_url(env, pid) or "/")
