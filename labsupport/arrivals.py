"""When each event of a stream reaches the client: what a proxy's buffering looks like from outside.

    >>> arrival_times(proxy.url)                           # doctest: +SKIP
    [(0.11, 'status'), (0.11, 'thought'), ..., (0.89, 'done')]

Streamed, the arrivals spread over the whole run; held back by a proxy, they
bunch up at the end (lesson 7 draws both).
"""

from __future__ import annotations

import time

from .client import stream_events

__all__ = ["arrival_times"]


def arrival_times(url: str, message: str = "Who runs billing?") -> list[tuple[float, str]]:
    """Ask the server (or proxy) at ``url``; each event's type and when it arrived.

    Times are seconds since the request was sent, as the client saw them:
    ``[(0.11, 'status'), (0.11, 'thought'), ..., (0.89, 'done')]``. A stream that
    breaks off raises (``StreamError`` or httpx's error), as ``stream_events`` does.
    """
    start = time.monotonic()
    return [(time.monotonic() - start, event.type) for event in stream_events(url, message)]
