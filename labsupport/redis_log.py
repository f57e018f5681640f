"""A run's events as a Redis stream: each appended once, readable from any point by any worker.

Keys of run ``R`` (under a prefix, ``lab:`` by default):

- ``lab:run:R``: the stream (trimmed exactly to the replay limit), one entry per event, its id ``1-<seq>``; fields ``d`` (the
  event's bytes on the wire) and, on the last event only, ``o`` (the run's outcome);
- ``lab:run:R:meta``: a hash: ``message``, ``resumable``, ``expired``;
- ``lab:run:R:lease``: exists while a live worker runs ``R``; that worker renews it;
- ``lab:run:R:reader``: the token of the connection writing ``R`` to a client now.

The entry id *is* the sequence number, so Redis itself refuses a second event with
the same ``seq``: whoever appends seq 7 first wins, and a late writer learns that the
run ended without it. A reader keeps the id of the last entry it wrote and asks for
what comes after it (``XREAD BLOCK``); the missed events and the live ones arrive
through the same call, so nothing falls between a replay and a live tail.

>>> entry_id(-1), entry_id(0), entry_id(41)
('0-0', '1-0', '1-41')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from redis.asyncio import Redis

from .live_run import Outcome
from .redis_appends import Appends

__all__ = ["Entry", "LogKeys", "NewRun", "RunLog", "RunMeta", "entry_id", "parse_entry"]

# Append the terminal event for a run whose worker is gone: only if the lease has
# lapsed, the run has not ended, and nobody appended since the caller looked.
_APPEND_IF_LOST = """
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local seen = '0-0'
if #last > 0 then
  seen = last[1][1]
  local fields = last[1][2]
  for i = 1, #fields, 2 do
    if fields[i] == 'o' then return 0 end
  end
end
if seen ~= ARGV[1] then return 0 end
redis.call('XADD', KEYS[1], ARGV[2], 'd', ARGV[3], 'o', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('PEXPIRE', KEYS[3], ARGV[5])
return 1
"""

# Append a batch of events in one command (one round trip, one reply to parse): ARGV is
# maxlen, keep_ms, the last event's outcome ('' if the run goes on), then '1' and the new
# run's message, resumable, lease_ms, reader and keep_ms + lease_ms (five '' for a run
# already recorded), then id, data pairs. A new run is recorded with its first events, so
# starting one costs no round trip of its own.
_APPEND_BATCH = """
local new = ARGV[4] == '1'
if new then
  redis.call('HSET', KEYS[2], 'message', ARGV[5], 'resumable', ARGV[6])
  redis.call('PEXPIRE', KEYS[2], ARGV[9])
  redis.call('SET', KEYS[3], '1', 'PX', ARGV[7])
  redis.call('SET', KEYS[4], ARGV[8], 'PX', ARGV[7])
end
local last = #ARGV - 1
for i = 10, last, 2 do
  local added
  if i == last and ARGV[3] ~= '' then
    added = redis.pcall('XADD', KEYS[1], 'MAXLEN', ARGV[1], ARGV[i], 'd', ARGV[i + 1], 'o', ARGV[3])
  else
    added = redis.pcall('XADD', KEYS[1], 'MAXLEN', ARGV[1], ARGV[i], 'd', ARGV[i + 1])
  end
  if type(added) == 'table' and added.err then return 0 end
end
if ARGV[3] ~= '' then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
  redis.call('DEL', KEYS[3])
elseif new then
  redis.call('PEXPIRE', KEYS[1], ARGV[9])  -- until its worker renews it: nothing outlives a lease
end
return 1
"""

# Renew a reader's claim only while it is still the reader (a newer one replaces it).
_RENEW_READER = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

_DROP_READER = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def entry_id(seq: int) -> str:
    """The stream id of event ``seq``; ``entry_id(-1)`` is the position before the first."""
    return "0-0" if seq < 0 else f"1-{seq}"


def _seq(raw_id: bytes) -> int:
    return int(raw_id.split(b"-")[1])


class Entry(NamedTuple):
    """One event as stored: its ``seq``, its bytes, and the run's outcome if it is the last."""

    seq: int
    data: bytes
    outcome: Outcome | None


@dataclass(frozen=True)
class NewRun:
    """A run to record with its first events: its message, flags, worker's lease and reader."""

    message: str
    resumable: bool
    lease_ms: int
    reader: str  # the token of the connection that started it


@dataclass(frozen=True)
class RunMeta:
    """What a worker needs to know to resume a run it did not start."""

    message: str
    resumable: bool
    expired: bool
    first: Entry | None  # the oldest event still kept
    last: Entry | None  # the newest event


def parse_entry(raw_id: bytes, fields: Mapping[bytes, bytes]) -> Entry:
    """An ``Entry`` from a stream entry as redis-py returns it."""
    outcome = fields.get(b"o")
    return Entry(_seq(raw_id), fields.get(b"d", b""), outcome.decode() if outcome else None)  # type: ignore[arg-type]


class LogKeys:
    """The key names of one run."""

    def __init__(self, prefix: str, run_id: str) -> None:
        base = f"{prefix}run:{run_id}"
        self.stream = base
        self.meta = f"{base}:meta"
        self.lease = f"{base}:lease"
        self.reader = f"{base}:reader"


class RunLog:
    """The runs' streams in one Redis database: append, read, and the lease of a live worker."""

    def __init__(self, client: Redis, *, prefix: str, max_events: int, keep_ms: int) -> None:
        self.client = client
        self.prefix = prefix
        self.max_events = max_events  # the replay limit: older entries are trimmed
        self.keep_ms = keep_ms  # how long an ended run stays readable
        self._append_if_lost = client.register_script(_APPEND_IF_LOST)
        self._appends = Appends(client, client.register_script(_APPEND_BATCH))
        self._renew_reader = client.register_script(_RENEW_READER)
        self._drop_reader = client.register_script(_DROP_READER)

    def keys(self, run_id: str) -> LogKeys:
        return LogKeys(self.prefix, run_id)

    async def append(
        self,
        run_id: str,
        seq: int,
        data: bytes,
        outcome: Outcome | None,
        *,
        new: NewRun | None = None,
    ) -> bool:
        """Add event ``seq``; False if that seq is taken (the run was ended by someone else)."""
        return await self.append_many(run_id, [(seq, data, outcome)], new=new)

    async def append_many(
        self,
        run_id: str,
        batch: Sequence[tuple[int, bytes, Outcome | None]],
        *,
        new: NewRun | None = None,
    ) -> bool:
        """Add events ``(seq, data, outcome)`` in one round trip; False if a seq was taken.

        ``new``: record the run too (its first batch). Only the last event may carry an
        outcome: then the run's keys start to expire and its lease is dropped, in the
        same round trip. A Lua script, so a batch is one command for redis-py to pack
        and one reply to parse.
        """
        k = self.keys(run_id)
        last_outcome = batch[-1][2]
        args: list[Any] = [self.max_events, self.keep_ms, last_outcome or ""]
        if new is None:
            args += ["", "", "", "", "", ""]
        else:
            args += ["1", new.message, int(new.resumable), new.lease_ms, new.reader]
            args.append(self.keep_ms + new.lease_ms)
        for seq, data, _ in batch:
            args += [entry_id(seq), data]
        # A taken seq (someone ended the run) stops the batch there: the caller's run is over.
        keys = [k.stream, k.meta, k.lease, k.reader]
        return bool(await self._appends.call(keys, args))

    async def append_if_lost(
        self, run_id: str, last_seq: int, data: bytes, outcome: Outcome
    ) -> bool:
        """End a run whose lease lapsed with event ``last_seq + 1``; False if it was not lost."""
        k = self.keys(run_id)
        args: list[str | bytes | int] = [
            entry_id(last_seq),
            entry_id(last_seq + 1),
            data,
            outcome,
            self.keep_ms,
        ]
        done = await self._append_if_lost(keys=[k.stream, k.lease, k.meta], args=args)
        return bool(done)

    async def read(self, run_id: str, after: int, block_ms: int | None) -> list[Entry]:
        """The entries after event ``after`` (-1: from the first), waiting up to ``block_ms``."""
        stream = self.keys(run_id).stream
        answer: Any = await self.client.xread({stream: entry_id(after)}, block=block_ms)
        if not answer:
            return []
        [(_name, entries)] = answer
        return [parse_entry(raw_id, fields) for raw_id, fields in entries]

    async def meta(self, run_id: str) -> RunMeta | None:
        """The run's message, flags and kept range, or None if Redis does not know it."""
        k = self.keys(run_id)
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.hgetall(k.meta)
            pipe.xrange(k.stream, count=1)
            pipe.xrevrange(k.stream, count=1)
            answers: list[Any] = await pipe.execute()
        fields, first, last = answers
        if not fields:
            return None
        return RunMeta(
            message=fields[b"message"].decode(),
            resumable=fields.get(b"resumable") == b"1",
            expired=fields.get(b"expired") == b"1",
            first=parse_entry(*first[0]) if first else None,
            last=parse_entry(*last[0]) if last else None,
        )

    async def mark_expired(self, run_id: str) -> None:
        await self.client.hset(self.keys(run_id).meta, "expired", 1)

    async def known(self, run_id: str) -> bool:
        """Whether Redis still holds the run (it forgets it on expiry, or on a restart)."""
        return bool(await self.client.exists(self.keys(run_id).meta))

    async def alive(self, run_id: str) -> bool:
        """Whether a worker holds the run's lease."""
        return bool(await self.client.exists(self.keys(run_id).lease))

    async def renew(self, run_ids: list[str], lease_ms: int) -> list[bool]:
        """Renew the leases of running runs; for each, whether a reader holds it now."""
        async with self.client.pipeline(transaction=False) as pipe:
            for run_id in run_ids:
                k = self.keys(run_id)
                pipe.set(k.lease, b"1", px=lease_ms)
                pipe.pexpire(k.stream, self.keep_ms + lease_ms)
                pipe.pexpire(k.meta, self.keep_ms + lease_ms)
                pipe.exists(k.reader)
            answers = await pipe.execute()
        return [bool(answers[i + 3]) for i in range(0, len(answers), 4)]

    async def claim_reader(self, run_id: str, token: str, lease_ms: int) -> None:
        """Make ``token`` the run's reader; an older reader sees it is replaced."""
        await self.client.set(self.keys(run_id).reader, token, px=lease_ms)

    async def renew_reader(self, run_id: str, token: str, lease_ms: int) -> bool:
        """Keep the claim alive; False if a newer reader took the run."""
        key = self.keys(run_id).reader
        return bool(await self._renew_reader(keys=[key], args=[token, lease_ms]))

    async def drop_reader(self, run_id: str, token: str) -> None:
        await self._drop_reader(keys=[self.keys(run_id).reader], args=[token])
