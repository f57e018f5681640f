"""What a server serves: any agent that streams the lab's events and reports what it spent.

The server is written against ``Agent``, not against a model, so the same page,
live view, Stop and ``/stats`` work whichever agent answers::

    create_app(agent=MockAgent(MockLLM.instant()))                 # the keyless mock
    create_app(agent=OpenAIAgent(AsyncOpenAI(base_url=..., api_key=...), model="gpt-4o-mini"))

``MockAgent`` reads its spend from the mock's own counters: what was billed.
``OpenAIAgent`` cannot see a provider's bill, so it counts what reached it: one
token per streamed piece of the answer while the run goes, then the run's
``cost`` event (the provider's reported usage, tool turns included) replaces the
estimate. A run stopped early keeps what was counted so far.

A fresh agent has spent nothing:

>>> MockAgent(MockLLM.instant()).spend()
Spend(tokens_generated=0, cost_usd=0.0)
"""

from __future__ import annotations

import threading
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from openai import AsyncOpenAI

from .agent import achat_stream
from .events import Event
from .mockllm import MockLLM
from .openai_adapter import price_for
from .openai_agent import aopenai_chat_stream
from .openai_run import MAX_TOOL_ROUNDS
from .prices import Prices

__all__ = ["Agent", "MockAgent", "OpenAIAgent", "Spend"]


@dataclass(frozen=True, slots=True)
class Spend:
    """What an agent has spent so far: completion tokens generated and US dollars."""

    tokens_generated: int = 0
    cost_usd: float = 0.0


@runtime_checkable
class Agent(Protocol):
    """An agent a server can serve: events for a question, and its spend so far."""

    def stream(self, question: str, *, k: int, run_id: str) -> AsyncIterator[Event]:
        """The run's events; bad arguments raise ``TypeError``/``ValueError`` before any event."""
        ...

    def spend(self) -> Spend:
        """Everything spent since the agent was made."""
        ...


class MockAgent:
    """The mock agent (``labsupport.agent``) over ``llm``, whose counters are its spend."""

    def __init__(self, llm: MockLLM | None = None) -> None:
        if llm is not None and not isinstance(llm, MockLLM):
            raise TypeError(f"llm must be a MockLLM, got {type(llm).__name__}")
        self.llm = llm if llm is not None else MockLLM()

    def stream(self, question: str, *, k: int, run_id: str) -> AsyncIterator[Event]:
        return achat_stream(question, llm=self.llm, k=k, run_id=run_id)

    def spend(self) -> Spend:
        return Spend(tokens_generated=self.llm.tokens_generated, cost_usd=self.llm.cost_usd)

    def __repr__(self) -> str:
        return f"MockAgent({self.llm!r})"


class OpenAIAgent:
    """The agent on the openai SDK (``labsupport.openai_agent``) behind ``client``.

    ``model``, ``prices`` and ``max_tool_rounds`` are those of ``aopenai_chat_stream``.
    """

    def __init__(
        self,
        client: AsyncOpenAI,
        *,
        model: str | None = None,
        prices: Mapping[str, Prices] | None = None,
        max_tool_rounds: int = MAX_TOOL_ROUNDS,
    ) -> None:
        if not isinstance(client, AsyncOpenAI):
            raise TypeError(f"client must be an openai.AsyncOpenAI, got {type(client).__name__}")
        self.client = client
        self.model = model
        self.prices = prices
        self.max_tool_rounds = max_tool_rounds
        self._price = price_for(model or "lab-mock-1", prices)
        self._lock = threading.Lock()
        self._tokens = 0
        self._usd = 0.0

    def stream(self, question: str, *, k: int, run_id: str) -> AsyncIterator[Event]:
        events = aopenai_chat_stream(
            question,
            client=self.client,
            model=self.model,
            k=k,
            run_id=run_id,
            prices=self.prices,
            max_tool_rounds=self.max_tool_rounds,
        )
        return self._metered(events)

    def spend(self) -> Spend:
        with self._lock:
            return Spend(tokens_generated=self._tokens, cost_usd=self._usd)

    async def _metered(self, events: AsyncGenerator[Event, None]) -> AsyncGenerator[Event, None]:
        counted = 0  # answer tokens seen in this run, until its cost event settles them
        try:
            async for event in events:
                if event.type == "token":
                    counted += 1
                    self._add(1, self._token_usd(1))
                elif event.type == "cost":
                    self._add(
                        event.completion_tokens - counted, event.usd - self._token_usd(counted)
                    )
                    counted = 0
                yield event
        finally:
            await events.aclose()

    def _token_usd(self, tokens: int) -> float:
        return 0.0 if self._price is None else self._price.cost(0, tokens)

    def _add(self, tokens: int, usd: float) -> None:
        with self._lock:
            self._tokens += tokens
            self._usd += usd

    def __repr__(self) -> str:
        return f"OpenAIAgent(model={self.model!r}, base_url={str(self.client.base_url)!r})"
