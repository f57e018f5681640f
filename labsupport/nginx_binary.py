"""Finding the nginx binary for lesson 7, and the errors that say what is missing or wrong.

The standard library only, so ``doctor`` can use it before the dependencies are checked.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from .programs import find_program

__all__ = ["INSTALL_HINT", "NginxNotFound", "NginxStartError", "find_nginx", "require_nginx"]

INSTALL_HINT = "sudo apt-get install nginx"

# Where distributions put the binary; /usr/sbin is often not on a normal user's PATH.
_CANDIDATES = ("/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx")


class NginxNotFound(FileNotFoundError):
    """No nginx binary on this machine; the message says how to install one."""


class NginxStartError(RuntimeError):
    """nginx refused the config or did not start; ``log_lines`` holds what it said."""

    def __init__(self, message: str, log_lines: Sequence[str] = ()) -> None:
        self.log_lines = list(log_lines)
        details = "\n".join(f"  {line}" for line in self.log_lines)
        super().__init__(f"{message}\nnginx said:\n{details}" if details else message)


def find_nginx() -> str | None:
    """The nginx binary's path (``LAB_NGINX``, then ``PATH``, then the usual places), or None."""
    return find_program("nginx", "LAB_NGINX", _CANDIDATES)


def require_nginx(nginx: str | None) -> str:
    """``nginx`` if it is an executable, else ``find_nginx()``; ``NginxNotFound`` saying how to install."""
    if nginx is not None:
        if not isinstance(nginx, str) or not os.access(nginx, os.X_OK):
            raise NginxNotFound(f"nginx={nginx!r} is not an executable file")
        return nginx
    found = find_nginx()
    if found is None:
        where = os.environ.get("LAB_NGINX")
        extra = f" (LAB_NGINX={where!r} is not an executable file)" if where else ""
        raise NginxNotFound(
            f"nginx is not installed{extra}; install it with: {INSTALL_HINT} "
            "(the lab starts its own copy on a loopback port; the system service can stay stopped)"
        )
    return found
