"""Pacing written once, driven twice: a sync loop that sleeps and an async loop that awaits.

The agent and the mock model are plain generators that yield either an item or a
``Pause``. They never sleep themselves, so the same logic serves ``chat_stream``
(``time.sleep``) and ``achat_stream`` (``asyncio.sleep``) without a copy.

Pauses are kept on a schedule rather than slept one by one: each pause moves a
deadline forward, and the driver sleeps until that deadline. A late wake-up is
then caught up on instead of adding up over a long answer, as a real model keeps
generating at its own rate while the reader lags.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Generator
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

# Unpaced async streams still hand the loop back now and then, so a widget's
# Stop click or another request is served during a 10,000-token burst.
_YIELD_EVERY = 16


@dataclass(frozen=True, slots=True)
class Pause:
    """Wait ``seconds`` before the next item (zero means no wait)."""

    seconds: float


def drive(steps: Generator[T | Pause, None, None]) -> Generator[T, None, None]:
    """Run ``steps`` synchronously: sleep through pauses, yield the items."""
    deadline = time.monotonic()
    try:
        for step in steps:
            if isinstance(step, Pause):
                deadline += step.seconds
                delay = deadline - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            else:
                yield step
    finally:
        # Closing our generator closes the steps, so their ``finally`` blocks run now.
        steps.close()


async def adrive(steps: Generator[T | Pause, None, None]) -> AsyncGenerator[T, None]:
    """Run ``steps`` on the event loop: await through pauses, yield the items."""
    loop = asyncio.get_running_loop()
    deadline = loop.time()
    unpaced = 0
    try:
        for step in steps:
            if isinstance(step, Pause):
                deadline += step.seconds
                delay = deadline - loop.time()
                if delay > 0:
                    unpaced = 0
                    await asyncio.sleep(delay)
            else:
                yield step
                unpaced += 1
                if unpaced >= _YIELD_EVERY:
                    unpaced = 0
                    await asyncio.sleep(0)
    finally:
        steps.close()
