"""Cancel across workers: whichever worker gets ``POST /runs/{id}/cancel``, the one driving the run stops it.

The worker that got the request publishes the run id on the store's cancel
channel; every worker listens (``listen_for_cancels``) and the one driving that
run cancels it, which appends the run's ``error`` event. The requester waits for
that last event in the run's stream, so its answer says what happened: cancelled,
or it had already ended. If no worker holds the run's lease any more, nobody
would act on the message, so the requester ends the run itself.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from .events import ErrorEvent
from .live_run import Outcome
from .redis_log import RunLog
from .run_errors import RunConflict, StoreUnavailable, UnknownRun
from .sse import LabEncoder

__all__ = ["cancel_elsewhere", "listen_for_cancels"]

# How long a cancel sent to another worker waits to see the run's last event.
_CANCEL_WAIT_SECONDS = 5.0
_RESUBSCRIBE_SECONDS = 0.5


async def cancel_elsewhere(
    log: RunLog, channel: str, run_id: str, code: str, message: str, *, wait_ms: int
) -> tuple[str, int]:
    """Ask the worker driving the run to stop it; (outcome, events written) once it ended."""
    meta = await log.meta(run_id)
    if meta is None:
        raise UnknownRun(f"run {run_id} is unknown to the run store")
    after = meta.last.seq if meta.last else -1
    if meta.last is not None and meta.last.outcome is not None:
        raise RunConflict(f"run {run_id} already ended: {meta.last.outcome}")
    await log.client.publish(channel, run_id)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + _CANCEL_WAIT_SECONDS
    while loop.time() < deadline:
        entries = await log.read(run_id, after, wait_ms)
        for entry in entries:
            if entry.outcome is not None:
                return _answer(run_id, entry.seq, entry.outcome)
        if entries:
            after = entries[-1].seq
        elif not await log.alive(run_id):  # nobody drives it: end it here
            event = ErrorEvent(run_id=run_id, seq=after + 1, code=code, message=message)
            if await log.append_if_lost(run_id, after, LabEncoder().encode(event), "cancelled"):
                return "cancelled", after + 2
    raise StoreUnavailable(f"run {run_id} did not end within {_CANCEL_WAIT_SECONDS:g} s of cancel")


def _answer(run_id: str, last_seq: int, outcome: Outcome) -> tuple[str, int]:
    if outcome != "cancelled":
        raise RunConflict(f"run {run_id} already ended: {outcome}")
    return outcome, last_seq + 1


async def listen_for_cancels(client: Redis, channel: str, cancel: Callable[[str], None]) -> None:
    """Call ``cancel(run_id)`` for every cancel any worker publishes; resubscribe after an outage."""
    while True:
        pubsub = client.pubsub()
        try:
            await pubsub.subscribe(channel)
            async for note in pubsub.listen():
                if note["type"] == "message":
                    cancel(note["data"].decode())
        except (RedisError, OSError):
            await asyncio.sleep(_RESUBSCRIBE_SECONDS)
        finally:
            with contextlib.suppress(RedisError, OSError):
                await pubsub.aclose()  # type: ignore[no-untyped-call]
