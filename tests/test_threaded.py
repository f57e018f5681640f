"""labsupport._threaded: a blocking generator consumed from the event loop, and closed from it."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Generator

import pytest

from labsupport._threaded import iterate_in_thread


class Producer:
    """A blocking generator that records where it ran and how it ended."""

    def __init__(self, count: int | None = None, delay: float = 0.0) -> None:
        self.count, self.delay = count, delay
        self.made = 0
        self.threads: set[str] = set()
        self.log: list[str] = []

    def __call__(self) -> Generator[int, None, None]:
        try:
            i = 0
            while self.count is None or i < self.count:
                if self.delay:
                    time.sleep(self.delay)
                self.threads.add(threading.current_thread().name)
                self.made += 1
                yield i
                i += 1
        except GeneratorExit:
            self.log.append(f"GeneratorExit in {threading.current_thread().name}")
            raise
        finally:
            self.log.append("finally")


async def test_yields_every_item_in_order_from_a_worker_thread() -> None:
    producer = Producer(count=5000)
    items = [item async for item in iterate_in_thread(producer())]
    assert items == list(range(5000))
    assert producer.threads == {"labsupport-stream"}
    assert producer.log == ["finally"]


async def test_a_blocking_producer_leaves_the_loop_free() -> None:
    producer = Producer(count=5, delay=0.05)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    task = asyncio.ensure_future(ticker())
    items = [item async for item in iterate_in_thread(producer())]
    task.cancel()
    assert items == [0, 1, 2, 3, 4]
    assert ticks >= 10  # the loop kept running while the producer slept


async def test_aclose_closes_the_producer_in_its_thread_before_returning() -> None:
    producer = Producer(delay=0.01)
    stream = iterate_in_thread(producer())
    assert [await stream.__anext__() for _ in range(3)] == [0, 1, 2]
    await stream.aclose()
    assert producer.log == ["GeneratorExit in labsupport-stream", "finally"]
    made = producer.made
    await asyncio.sleep(0.1)
    assert producer.made == made
    assert made <= 4  # at most the item in flight when the consumer stopped


async def test_cancelling_the_consumer_closes_the_producer() -> None:
    producer = Producer(delay=0.01)
    seen: list[int] = []

    async def consume() -> None:
        async for item in iterate_in_thread(producer()):
            seen.append(item)

    task = asyncio.ensure_future(consume())
    while len(seen) < 3:  # noqa: ASYNC110  (polling the consumer's progress is the point)
        await asyncio.sleep(0.005)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert producer.log[-1] == "finally"
    assert producer.log[0] == "GeneratorExit in labsupport-stream"
    assert producer.made <= len(seen) + 1


async def test_an_exception_in_the_producer_reaches_the_consumer() -> None:
    def failing() -> Generator[int, None, None]:
        yield 1
        raise KeyError("no such document")

    seen: list[int] = []
    with pytest.raises(KeyError, match="no such document"):
        async for item in iterate_in_thread(failing()):
            seen.append(item)
    assert seen == [1]


async def test_a_slow_consumer_holds_the_producer_back_at_the_buffer_size() -> None:
    producer = Producer()  # endless and instant
    stream = iterate_in_thread(producer(), buffer=8)
    for _ in range(2):
        await stream.__anext__()
        await asyncio.sleep(0.1)  # the producer fills the buffer while the consumer dawdles
    # The second step took a whole batch and yielded one item of it. The items taken
    # but not yet yielded still count against the buffer, so the producer waited:
    # the buffer's 8, plus the one item already yielded and done with.
    assert producer.made <= 8 + 1
    await stream.aclose()
    assert producer.log[-1] == "finally"


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
async def test_bad_buffer_is_rejected_with_its_value(bad: object) -> None:
    with pytest.raises(ValueError, match="buffer"):
        await iterate_in_thread(iter([1]), buffer=bad).__anext__()  # type: ignore[arg-type]
