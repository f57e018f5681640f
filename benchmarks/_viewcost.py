"""The live view's cost per event in a plain process: no kernel, no comm.

The in-kernel figures (``_kernel.py``) blur the view's own work with generation,
comm messages and the kernel's other threads. Here the events of one long answer
are made once, up front, and replayed by an async generator, twice per round:

* **bare**: ``async for`` over the replay, doing nothing;
* **viewed**: a ``LiveView`` (built before the clock starts, as a cell builds it
  before the stream flows) started on the replay, until ``await view`` returns
  with the final frame drawn.

The difference divided by the number of events is what the view adds per event:
``RunState.apply``, the coalescer's bookkeeping, the event list, and its share of
the first and final frames. The minimum over rounds is the figure (noise only
adds), the spread beside it. Generation, the mock making the same events through
the real agent, is timed in the same rounds for scale.

``RunState.apply``'s token path is timed alone too, per token, against the least
any state could do with a token (append its text and count it), with the loop's
own cost taken out of both.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from _harness import median

from labsupport.agent import chat_stream
from labsupport.events import Event, TokenEvent
from labsupport.longanswer import LongAnswerLLM
from labsupport.runstate import RunState
from labsupport.view import LiveView

__all__ = ["view_cost"]

_QUESTION = "Tell me everything"


async def _replay(events: Sequence[Event]) -> AsyncIterator[Event]:
    for event in events:
        yield event


async def _bare(events: Sequence[Event]) -> float:
    gc.collect()
    start = time.perf_counter()
    async for _ in _replay(events):
        pass
    return time.perf_counter() - start


async def _viewed(events: Sequence[Event]) -> tuple[float, int]:
    view = LiveView(title=_QUESTION)
    gc.collect()
    start = time.perf_counter()
    view.start(_replay(events))
    state = await view
    seconds = time.perf_counter() - start
    if state.outcome != "finished" or len(view.events) != len(events):
        raise RuntimeError(f"the view ended {state.outcome} with {len(view.events)} events")
    return seconds, view.redraws


def _generation(tokens: int) -> float:
    llm = LongAnswerLLM.instant(answer_tokens=tokens)
    gc.collect()
    start = time.perf_counter()
    for _ in chat_stream(_QUESTION, llm=llm):
        pass
    return time.perf_counter() - start


class _Floor:
    """The least a state can do with a token: keep its text and count it."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.count = 0

    def apply(self, event: TokenEvent) -> None:
        self.parts.append(event.text)
        self.count += 1


def _time_apply(apply: Callable[[TokenEvent], None], tokens: Sequence[TokenEvent]) -> float:
    gc.collect()
    start = time.perf_counter()
    for event in tokens:
        apply(event)
    return time.perf_counter() - start


def _apply_tokens(events: Sequence[Event]) -> tuple[float, float, float]:
    """Seconds for: an empty loop over the tokens, ``apply`` on each, the floor on each."""
    tokens = [e for e in events if isinstance(e, TokenEvent)]
    prefix = [e for e in events if e.type in ("status", "thought", "tool_call", "tool_result")]

    def fresh() -> RunState:
        state = RunState()
        for event in prefix:
            state.apply(event)
        return state

    gc.collect()
    start = time.perf_counter()
    for _event in tokens:
        pass
    empty = time.perf_counter() - start

    applied = _time_apply(fresh().apply, tokens)
    floor = _time_apply(_Floor().apply, tokens)
    return empty, applied, floor


def _spread(values: list[float]) -> dict[str, float]:
    return {"min": min(values), "median": median(values), "max": max(values)}


def view_cost(tokens: int, rounds: int) -> dict[str, Any]:
    """``rounds`` interleaved rounds of bare, viewed, generation and ``apply`` alone."""
    events = list(chat_stream(_QUESTION, llm=LongAnswerLLM.instant(answer_tokens=tokens)))
    n = len(events)
    warm_up = list(chat_stream(_QUESTION, llm=LongAnswerLLM.instant(answer_tokens=100)))
    bare: list[float] = []
    viewed: list[float] = []
    redraws: list[int] = []
    generation: list[float] = []
    empty: list[float] = []
    applied: list[float] = []
    floor: list[float] = []

    async def rounds_of_views() -> None:
        await _viewed(warm_up)  # first widgets, first frames
        for _ in range(rounds):
            bare.append(await _bare(events))
            seconds, drawn = await _viewed(events)
            viewed.append(seconds)
            redraws.append(drawn)

    asyncio.run(rounds_of_views())
    for _ in range(max(3, rounds // 5)):
        generation.append(_generation(tokens))
    for _ in range(rounds):
        e, a, f = _apply_tokens(events)
        empty.append(e)
        applied.append(a)
        floor.append(f)

    us = 1e6
    per_event = [(v - b) / n * us for b, v in zip(bare, viewed, strict=True)]
    n_tokens = sum(1 for e in events if type(e) is TokenEvent)
    apply_us = [(a - e) / n_tokens * us for e, a in zip(empty, applied, strict=True)]
    floor_us = [(f - e) / n_tokens * us for e, f in zip(empty, floor, strict=True)]
    return {
        "tokens": tokens,
        "events": n,
        "rounds": rounds,
        # The headline: minima of each side (a busy moment only ever adds time).
        "per_event_us": (min(viewed) - min(bare)) / n * us,
        # Round by round (each side's noise lands in the difference), for the spread.
        "per_event_pairs_us": _spread(per_event),
        "bare_min_ms": min(bare) * 1e3,
        "viewed_min_ms": min(viewed) * 1e3,
        "viewed_median_ms": median(viewed) * 1e3,
        "redraws": median(redraws),
        "generation_per_event_us": min(generation) / n * us,
        "generation_min_ms": min(generation) * 1e3,
        "share_of_generation": (min(viewed) - min(bare)) / min(generation),
        "apply_token_us": (min(applied) - min(empty)) / n_tokens * us,
        "apply_token_pairs_us": _spread(apply_us),
        "apply_floor_us": (min(floor) - min(empty)) / n_tokens * us,
        "apply_floor_pairs_us": _spread(floor_us),
    }
