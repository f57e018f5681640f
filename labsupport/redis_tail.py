"""One ``XREAD BLOCK`` per worker for all the connections waiting on runs' streams.

A reader that has written everything asks the tail for what follows event
``after`` of its run. Instead of one blocked Redis connection per reader (a
thousand streams would need a thousand connections), the worker keeps a single
``XREAD BLOCK`` over every stream someone waits on, each from the oldest
position any of its readers needs, and hands each reader the entries after its
own position. The ids are the readers' own positions, never ``$``, so an event
appended while a reader was busy writing is returned on its next read: nothing
falls between two reads.

A reader that joins while the read is blocked, on a stream the read does not
cover (or from an older position), wakes it by adding to this worker's *wake*
stream, which the blocked read also watches; the read returns, and the next one
includes the newcomer.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from .redis_log import Entry, entry_id, parse_entry

__all__ = ["Tail"]

_Waiter = tuple[int, "asyncio.Future[list[Entry]]"]

# Short enough that a dead connection is noticed, long enough to cost nothing when idle.
_BLOCK_MS = 1000
_WAKE_KEEP_MS = 60_000


class Tail:
    """Waits for new entries of many runs' streams with one blocked read."""

    def __init__(self, client: Redis, wake_key: str) -> None:
        self._client = client
        self._wake_key = wake_key
        self._wake_id: bytes | str = "0-0"
        self._waiting: dict[str, list[_Waiter]] = {}
        self._reading: dict[str, int] | None = None  # what the blocked read covers
        self._woken = False
        self._task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    async def read(self, stream: str, after: int, timeout: float) -> list[Entry]:
        """The entries of ``stream`` after event ``after``; ``[]`` if none come within ``timeout``."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[Entry]] = loop.create_future()
        waiter = (after, future)
        self._waiting.setdefault(stream, []).append(waiter)
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._run(), name="redis tail")
        else:
            self._wake_if_needed(stream, after)
        try:
            return await asyncio.wait_for(future, timeout)
        except asyncio.TimeoutError:
            return []
        finally:
            waiters = self._waiting.get(stream)
            if waiters is not None and waiter in waiters:
                waiters.remove(waiter)
                if not waiters:
                    del self._waiting[stream]

    def _wake_if_needed(self, stream: str, after: int) -> None:
        reading = self._reading
        if reading is None or self._woken:
            return  # not blocked: the next read includes this reader
        if stream in reading and reading[stream] <= after:
            return  # the blocked read already covers it
        self._woken = True
        task = asyncio.get_running_loop().create_task(self._wake())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _wake(self) -> None:
        with contextlib.suppress(RedisError, OSError):
            async with self._client.pipeline(transaction=False) as pipe:
                pipe.xadd(self._wake_key, {"w": 1}, maxlen=1)
                pipe.pexpire(self._wake_key, _WAKE_KEEP_MS)
                await pipe.execute()

    async def _run(self) -> None:
        while self._waiting:
            positions = {
                stream: min(after for after, _ in waiters)
                for stream, waiters in self._waiting.items()
            }
            streams: dict[Any, Any] = {s: entry_id(a) for s, a in positions.items()}
            streams[self._wake_key] = self._wake_id
            self._reading, self._woken = positions, False
            try:
                answer: Any = await self._read(streams)
            except (RedisError, OSError) as exc:
                self._fail(exc)
                await asyncio.sleep(0.05)
                continue
            finally:
                self._reading = None
            for name, entries in answer or []:
                self._deliver(name.decode(), entries, positions)
            # Let the readers just served write and come back before the next read.
            await asyncio.sleep(0)

    async def _read(self, streams: dict[Any, Any]) -> Any:
        try:
            return await self._client.xread(streams, block=_BLOCK_MS)
        except (RedisConnectionError, OSError):
            # Once more on a fresh connection: the pooled one may predate a Redis restart.
            return await self._client.xread(streams, block=_BLOCK_MS)

    def _deliver(self, stream: str, raw: list[Any], positions: dict[str, int]) -> None:
        if stream == self._wake_key:
            self._wake_id = raw[-1][0]
            return
        entries = [parse_entry(raw_id, fields) for raw_id, fields in raw]
        start = positions[stream]
        for after, future in list(self._waiting.get(stream, ())):
            if after < start:
                continue  # joined during the read, from further back: the next read serves it
            mine = [entry for entry in entries if entry.seq > after]
            if mine and not future.done():
                future.set_result(mine)

    def _fail(self, exc: BaseException) -> None:
        if not isinstance(exc, RedisError):
            exc = RedisConnectionError(str(exc))
        for waiters in self._waiting.values():
            for _, future in waiters:
                if not future.done():
                    future.set_exception(exc)

    async def aclose(self) -> None:
        for task in [self._task, *self._tasks]:
            if task is not None:
                task.cancel()
        with contextlib.suppress(RedisError, OSError):
            await self._client.delete(self._wake_key)
