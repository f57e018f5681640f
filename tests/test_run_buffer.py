"""A run's buffer: one piece per take, bounded read-ahead, a replay window trimmed in steps."""

from __future__ import annotations

import asyncio

import pytest

from labsupport.run_buffer import READ_AHEAD, RunBuffer


def filled(count: int, keep: int = 0) -> RunBuffer:
    buffer = RunBuffer(keep=keep)
    for index in range(count):
        buffer.append(f"{index};".encode())
    return buffer


def test_take_returns_everything_waiting_from_the_cursor_in_one_piece() -> None:
    buffer = filled(4)
    assert buffer.take(1) == b"1;2;3;"
    assert buffer.written == 4
    buffer.append(b"4;")
    assert buffer.take(4) == b"4;"


def test_a_buffer_is_full_when_the_agent_is_read_ahead_events_ahead() -> None:
    buffer = filled(READ_AHEAD - 1)
    assert not buffer.full()
    buffer.append(b"x")
    assert buffer.full()
    buffer.take(0)
    assert not buffer.full()


async def test_wait_for_room_returns_once_the_reader_has_written() -> None:
    buffer = filled(READ_AHEAD)
    waiting = asyncio.ensure_future(buffer.wait_for_room())
    await asyncio.sleep(0)
    assert not waiting.done()
    buffer.take(0)
    await asyncio.wait_for(waiting, timeout=1.0)


async def test_a_new_reader_rewinds_and_frees_the_agent() -> None:
    buffer = filled(READ_AHEAD)
    buffer.take(0)
    buffer.rewind(0)  # a reconnection from the start: the agent is a full window ahead again
    assert buffer.full()
    buffer.rewind(READ_AHEAD)
    assert not buffer.full()


def test_trim_keeps_the_replay_window_and_drops_in_steps_until_the_end() -> None:
    buffer = filled(300, keep=10)
    buffer.take(0)
    buffer.trim(ended=False)
    assert buffer.oldest == 290  # 290 written beyond the window, at least a step: all dropped
    assert buffer.take(290) == b"".join(f"{i};".encode() for i in range(290, 300))
    buffer = filled(100, keep=10)
    buffer.take(0)
    buffer.trim(ended=False)
    assert buffer.oldest == 0  # less than a step: kept until the run ends
    buffer.trim(ended=True)
    assert buffer.oldest == 90
    assert buffer.take(95) == b"95;96;97;98;99;"


def test_a_negative_window_is_refused_naming_the_value() -> None:
    with pytest.raises(ValueError, match="got -1"):
        RunBuffer(keep=-1)
