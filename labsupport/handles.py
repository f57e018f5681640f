"""What every handle on a thing the lab started (a server, nginx, Redis) has in common.

Each listens on a free loopback port (``free_port``) and has a handle that
shows its name, where it answers and whether it runs, and stops the thing when
used in a ``with`` block:

>>> class Demo(Handle):
...     name, url, running = "demo", "http://127.0.0.1:1", False
...     def stop(self) -> None:
...         print("stopped")
>>> with Demo() as demo:
...     print(repr(demo))
<Demo 'demo' http://127.0.0.1:1 stopped>
stopped
"""

from __future__ import annotations

import socket
from types import TracebackType
from typing import Any, TypeVar

__all__ = ["Handle", "free_port"]

_H = TypeVar("_H", bound="Handle")


class Handle:
    """Base for handles with ``name``, ``url``, ``running`` and ``stop()``."""

    name: str

    @property
    def url(self) -> str:
        raise NotImplementedError

    @property
    def running(self) -> bool:
        raise NotImplementedError

    def stop(self) -> Any:
        raise NotImplementedError

    def _address(self) -> str:
        """Where it answers, as ``repr`` shows it; a handle whose ``url`` carries a secret
        shows its address without it, since a printed handle ends up in saved notebooks."""
        return self.url

    def _detail(self) -> str:
        """Shown after the URL in ``repr``, e.g. ``-> http://upstream``."""
        return ""

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        detail = f" {self._detail()}" if self._detail() else ""
        return f"<{type(self).__name__} {self.name!r} {self._address()}{detail} {state}>"

    def __enter__(self: _H) -> _H:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on now (someone may take it before we do)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
