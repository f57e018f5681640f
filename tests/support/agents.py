"""Small agents for tests: an async generator function served as an ``Agent``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from labsupport.agent_api import Spend
from labsupport.events import Event

EventsFn = Callable[..., AsyncIterator[Event]]


class FunctionAgent:
    """Serves ``fn(question, *, k, run_id)``, an async generator of events; it spends nothing."""

    def __init__(self, fn: EventsFn) -> None:
        self.fn = fn

    def stream(self, question: str, *, k: int, run_id: str) -> AsyncIterator[Event]:
        return self.fn(question, k=k, run_id=run_id)

    def spend(self) -> Spend:
        return Spend()
