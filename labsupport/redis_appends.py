"""The appends of all the runs of one worker, sent to Redis together.

Each run sends its next batch once the previous one is in (``labsupport.redis_run``).
With hundreds of paced runs at once that is thousands of round trips a second, and
each costs the worker more in redis-py (take a pooled connection, write, wait, parse,
give it back) than the events themselves. Here the runs' calls queue while one
pipeline is in flight and go in the next, one write and one read for all of them;
each call keeps its own answer, so a refused append refuses only its run. A call
that finds nothing in flight goes at once, alone: a quiet server pays no latency.
"""

from __future__ import annotations

import asyncio
from typing import Any

from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

__all__ = ["Appends"]

_Call = tuple[list[Any], list[Any], "asyncio.Future[Any]"]


class Appends:
    """Calls of one Lua ``script`` from many tasks, pipelined while a round trip is under way."""

    def __init__(self, client: Redis, script: AsyncScript) -> None:
        self._client = client
        self._script = script
        self._queue: list[_Call] = []
        self._task: asyncio.Task[None] | None = None

    async def call(self, keys: list[Any], args: list[Any]) -> Any:
        """Run the script with ``keys`` and ``args``; its answer, or the error Redis gave."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.append((keys, args, future))
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._send(), name="redis appends")
        return await future

    async def _send(self) -> None:
        while self._queue:
            calls, self._queue = self._queue, []
            try:
                answers = await self._round_trip(calls)
            except Exception as exc:  # Redis is gone: every call in the trip fails alike
                answers = [exc] * len(calls)
            for (_, _, future), answer in zip(calls, answers, strict=True):
                if future.done():  # its caller was cancelled
                    continue
                if isinstance(answer, Exception):
                    future.set_exception(answer)
                else:
                    future.set_result(answer)

    async def _round_trip(self, calls: list[_Call]) -> list[Any]:
        if len(calls) == 1:
            keys, args, _ = calls[0]
            return [await self._script(keys=keys, args=args)]
        # EVALSHA straight into the pipeline: redis-py's script-in-pipeline checks that the
        # script is loaded with a round trip of its own before every pipeline.
        async with self._client.pipeline(transaction=False) as pipe:
            for keys, args, _ in calls:
                pipe.evalsha(self._script.sha, len(keys), *keys, *args)
            answers: list[Any] = await pipe.execute(raise_on_error=False)
        for i, answer in enumerate(answers):
            if isinstance(answer, NoScriptError):  # Redis restarted: the call loads it again
                keys, args, _ = calls[i]
                answers[i] = await self._script(keys=keys, args=args)
        return answers
