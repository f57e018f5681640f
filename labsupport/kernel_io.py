"""A kernel server's socket and log lines, kept so that neither ends the kernel nor reaches a cell.

- ``bind_loopback`` binds the socket before uvicorn starts: uvicorn reports a busy
  port with ``sys.exit``, which would end the kernel; here it is a ``PortInUseError``.
- ``capture_uvicorn_logs`` keeps uvicorn's log lines per server thread
  (``log_lines``) instead of letting them reach the notebook's stderr.
"""

from __future__ import annotations

import collections
import errno
import logging
import socket

__all__ = ["PortInUseError", "bind_loopback", "capture_uvicorn_logs", "log_lines"]

_LOG_LINES = 200


class PortInUseError(OSError):
    """The port is taken by another program (or another kernel)."""


class _LogBuffer(logging.Handler):
    """Keeps the last log lines of each server thread, instead of printing them."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.lines: dict[str, collections.deque[str]] = {}
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        buffer = self.lines.setdefault(
            record.threadName or "", collections.deque(maxlen=_LOG_LINES)
        )
        buffer.append(self.format(record))


_log_buffer = _LogBuffer()


def log_lines(thread_name: str) -> list[str]:
    """The last log lines the thread named ``thread_name`` wrote, oldest first."""
    return list(_log_buffer.lines.get(thread_name, ()))


def capture_uvicorn_logs() -> None:
    """Send uvicorn's log lines to the per-thread buffer, and nowhere else."""
    # With log_config=None uvicorn configures nothing; without this, its warnings would
    # reach Python's last-resort handler and the notebook's stderr.
    logger = logging.getLogger("uvicorn")
    if _log_buffer not in logger.handlers:
        logger.addHandler(_log_buffer)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def bind_loopback(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port``; ``PortInUseError`` if another program has it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP, not 0: asyncio disables Nagle's algorithm (TCP_NODELAY) only on
    # sockets that say they are TCP, and without it a small SSE write on a reused
    # connection waits ~40 ms for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    # Lets a restarted server take its port back at once (old connections in TIME_WAIT);
    # it never lets two live servers share a port on Linux or macOS.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUseError(
                exc.errno,
                f"port {port} on {host} is already in use by another program; "
                f"stop that program or pick another port (port=0 picks a free one)",
            ) from None
        raise OSError(exc.errno, f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return sock
