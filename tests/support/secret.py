"""The secret the suite's lab servers require, and the headers that carry it.

Servers on real sockets are made with ``token=TEST_TOKEN``, new for every test
session; ``conftest`` exports it as ``$LAB_TOKEN``, as a student's terminal would
for a program outside the kernel, so ``labsupport.client``, the Streamlit app and
the Node clients find it there. Raw ``httpx`` calls send ``AUTH``. Apps served in
process carry a secret of their own: ``auth(app)`` reads it, and ``asgi_client(app)``
sends it.
"""

from __future__ import annotations

from typing import Any

import httpx

from labsupport.auth import new_token
from labsupport.lab_url import auth_headers
from labsupport.server import app_token

__all__ = ["AUTH", "TEST_TOKEN", "asgi_client", "auth"]

TEST_TOKEN = new_token()
AUTH = auth_headers(TEST_TOKEN)


def auth(app: Any) -> dict[str, str]:
    """The header that carries ``app``'s own secret (``{}`` when it has none)."""
    return auth_headers(app_token(app))


def asgi_client(app: Any) -> httpx.AsyncClient:
    """An in-process client for ``app`` (no socket) that sends its secret."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1", headers=auth(app)
    )
