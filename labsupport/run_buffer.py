"""A run's encoded events between the agent and the connection that writes them.

The agent's side appends one encoded event at a time; the reader's side takes
everything that is waiting in one piece, so a burst of tokens costs one send
rather than one per token, and nothing waits for a batch to fill. The agent may
get ahead of its reader by ``READ_AHEAD`` events at most, then waits
(``wait_for_room``): a slow client slows the run down instead of filling memory.

Behind what was written, the buffer keeps the last ``keep`` events, so that a
reconnection can be sent again what it missed; older ones are dropped in steps.

>>> buffer = RunBuffer(keep=1)
>>> buffer.append(b"a"); buffer.append(b"b"); buffer.append(b"c")
>>> buffer.take(1), buffer.written
(b'bc', 3)
>>> buffer.trim(ended=True); buffer.oldest
2
"""

from __future__ import annotations

import asyncio

__all__ = ["READ_AHEAD", "RunBuffer"]

# How many encoded events a run may hold that its reader has not written yet.
READ_AHEAD = 64

# The buffer is trimmed in steps this large, so trimming stays cheap per event.
_TRIM_STEP = 256


class RunBuffer:
    """Encoded events by index: ``produced`` so far, ``written`` by the reader, from ``oldest`` kept."""

    def __init__(self, keep: int) -> None:
        if keep < 0:
            raise ValueError(f"keep must be 0 or more events, got {keep}")
        self.keep = keep
        self.produced = 0  # events appended so far
        self.written = 0  # how far the current reader has written
        self._chunks: list[bytes] = []
        self._base = 0  # the event index of _chunks[0]
        self._room: asyncio.Future[None] | None = None

    @property
    def oldest(self) -> int:
        """The index of the oldest event still kept."""
        return self._base

    def append(self, chunk: bytes) -> None:
        """One more encoded event at the end."""
        self._chunks.append(chunk)
        self.produced += 1

    def full(self) -> bool:
        """Whether the agent is ``READ_AHEAD`` events ahead of the reader."""
        return self.produced - self.written >= READ_AHEAD

    async def wait_for_room(self) -> None:
        """Wait until the reader has written enough for the agent to go on."""
        while self.full():
            self._room = asyncio.get_running_loop().create_future()
            await self._room

    def rewind(self, cursor: int) -> None:
        """A new reader starts at ``cursor``: count from there."""
        self.written = cursor
        self._made_room()

    def take(self, cursor: int) -> bytes:
        """Everything from event index ``cursor`` to the end, in one piece, counted as written."""
        start = cursor - self._base
        body = b"".join(self._chunks[start:]) if start else b"".join(self._chunks)
        self.written = self.produced
        self._made_room()
        return body

    def trim(self, *, ended: bool) -> None:
        """Drop what was written and is older than the last ``keep`` events."""
        cut = self.written - self.keep - self._base
        if cut >= _TRIM_STEP or (cut > 0 and ended):
            del self._chunks[:cut]
            self._base += cut

    def _made_room(self) -> None:
        room = self._room
        if room is not None and not room.done() and not self.full():
            room.set_result(None)
