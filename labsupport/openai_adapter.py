"""From an openai SDK stream to lab events: tokens, assembled tool calls, and cost.

A streamed Chat Completion arrives as chunks. Text is easy, each chunk's
``delta.content`` is the next piece. Tool calls are not: a call arrives spread
over many chunks, keyed by ``index``, with its id and name first and its JSON
arguments in fragments that only parse once all have arrived::

    {"index": 0, "id": "call_1", "function": {"name": "search_kb", "arguments": ""}}
    {"index": 0, "function": {"arguments": "{\\"query"}}
    {"index": 0, "function": {"arguments": "\\": \\"billing\\"}"}}
      -> search_kb({"query": "billing"})

``labsupport.tool_calls`` puts them back together; ``ChunkReader`` reads a whole
stream (text, tool calls, usage) and says which events it produced. The two
drivers, ``events_from_stream`` and ``aevents_from_stream``, share that logic and
differ only in how they iterate and close the SDK's stream.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncGenerator, AsyncIterable, Generator, Iterable, Mapping

import openai
from openai.types import CompletionUsage
from openai.types.chat import ChatCompletionChunk

from .events import CostEvent, DoneEvent, ErrorEvent, Event, StatusEvent, TokenEvent, ToolCallEvent
from .numbering import Numbering, new_run_id
from .prices import PRICES, Prices
from .tool_calls import ToolArgumentsError, ToolCallAssembler

__all__ = [
    "ChunkReader",
    "aevents_from_stream",
    "error_code",
    "error_message",
    "events_from_stream",
    "price_for",
]


def price_for(model: str, prices: Mapping[str, Prices] | None = None) -> Prices | None:
    """The price of ``model``: ``prices`` first, then the mock's ``PRICES``; ``None`` if unknown.

    A dated snapshot name matches its family: ``gpt-4o-mini-2024-07-18`` uses ``gpt-4o-mini``.
    """
    table = {**PRICES, **(prices or {})}
    if model in table:
        return table[model]
    families = [name for name in table if model.startswith(name + "-")]
    return table[max(families, key=len)] if families else None


def error_code(exc: BaseException) -> str:
    """The ``error`` event code for an exception raised by the openai SDK (or anything else)."""
    codes: list[tuple[type[BaseException], str]] = [
        (ToolArgumentsError, "bad_tool_call"),
        (openai.AuthenticationError, "auth_error"),
        (openai.PermissionDeniedError, "permission_denied"),
        (openai.NotFoundError, "not_found"),
        (openai.RateLimitError, "rate_limited"),
        (openai.BadRequestError, "bad_request"),
        (openai.UnprocessableEntityError, "bad_request"),
        (openai.InternalServerError, "server_error"),
        (openai.APITimeoutError, "timeout"),
        (openai.APIConnectionError, "connection_error"),
        (openai.APIStatusError, "api_error"),
    ]
    for cls, code in codes:
        if isinstance(exc, cls):
            return code
    if isinstance(exc, openai.APIError):
        # An error sent inside the stream: the server's own code says what failed.
        body = exc.body if isinstance(exc.body, dict) else {}
        return str(body.get("code") or "model_error")
    return "internal_error"


def error_message(exc: BaseException) -> str:
    """One readable line for the ``error`` event."""
    if isinstance(exc, openai.APIError):
        return exc.message
    return f"{type(exc).__name__}: {exc}"


class ChunkReader:
    """Reads one streamed completion, chunk by chunk, and returns the events each produced.

    ``emit`` numbers the events (so several completions can share one run).
    Text becomes ``token`` events at once; tool calls become ``tool_call``
    events only in ``tool_call_events``, when their arguments are complete.
    """

    def __init__(self, emit: Numbering, *, prices: Mapping[str, Prices] | None = None) -> None:
        self.emit = emit
        self.prices = prices
        self.model = ""
        self.finish_reason: str | None = None
        self.usage: CompletionUsage | None = None
        self.tool_calls = ToolCallAssembler()
        self._text: list[str] = []

    @property
    def text(self) -> str:
        """The text received so far."""
        return "".join(self._text)

    def feed(self, chunk: ChatCompletionChunk) -> list[Event]:
        """Read one chunk: its text becomes tokens; tool calls and usage are kept."""
        self.model = self.model or chunk.model
        if chunk.usage is not None:
            self.usage = chunk.usage
        events: list[Event] = []
        for choice in chunk.choices:
            if choice.index != 0:
                continue  # n > 1: the lab reads the first choice only
            if choice.finish_reason is not None:
                self.finish_reason = choice.finish_reason
            delta = choice.delta
            if delta.content:
                self._text.append(delta.content)
                events.append(self.emit(TokenEvent, text=delta.content))
            if delta.tool_calls:
                for call in self.tool_calls.feed(delta.tool_calls):
                    events.append(
                        self.emit(StatusEvent, message=f"the model is calling {call.name}")
                    )
        return events

    def tool_call_events(self) -> list[Event]:
        """One ``tool_call`` event per assembled call (``ValueError`` on arguments that do not parse)."""
        # Parse every call before numbering any, so a bad one leaves no gap in ``seq``.
        parsed = [(call, call.parsed_arguments()) for call in self.tool_calls.calls]
        return [
            self.emit(
                ToolCallEvent,
                call_id=call.id or f"call_{call.index}",
                name=call.name,
                arguments=arguments,
            )
            for call, arguments in parsed
        ]

    def cost_events(self, *, prompt_tokens: int = 0, completion_tokens: int = 0) -> list[Event]:
        """A ``cost`` event from the usage (plus earlier turns' tokens), with a note when unpriced."""
        notes: list[Event] = []
        if self.usage is None:
            notes.append(
                self.emit(
                    StatusEvent,
                    message="the server sent no usage, so this turn's tokens are not counted "
                    "(ask for it with stream_options={'include_usage': True})",
                )
            )
        else:
            prompt_tokens += self.usage.prompt_tokens
            completion_tokens += self.usage.completion_tokens
        price = price_for(self.model, self.prices)
        if price is None:
            notes.append(
                self.emit(
                    StatusEvent,
                    message=f"no price known for model {self.model!r}, so the cost shows $0 "
                    "(pass prices={name: Prices(...)} to set one)",
                )
            )
        usd = 0.0 if price is None else round(price.cost(prompt_tokens, completion_tokens), 10)
        cost = self.emit(
            CostEvent, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, usd=usd
        )
        return [*notes, cost]

    def finish(self) -> list[Event]:
        """The end of a standalone run: its tool calls, its cost, then ``done``."""
        return [*self.tool_call_events(), *self.cost_events(), self.emit(DoneEvent)]

    def fail(self, exc: BaseException) -> Event:
        """The ``error`` event that ends the run after ``exc``."""
        return self.emit(ErrorEvent, code=error_code(exc), message=error_message(exc))


def events_from_stream(
    stream: Iterable[ChatCompletionChunk],
    *,
    run_id: str | None = None,
    prices: Mapping[str, Prices] | None = None,
) -> Generator[Event, None, None]:
    """The lab events of one streamed completion, ending with ``cost`` and ``done`` (or ``error``).

    ``stream`` is what ``client.chat.completions.create(..., stream=True)`` returns.
    Ask for ``stream_options={"include_usage": True}`` to get a real cost.
    Closing this generator closes ``stream``, so the server sees the disconnect.
    """
    reader = ChunkReader(Numbering(run_id or new_run_id()), prices=prices)
    try:
        for chunk in stream:
            yield from reader.feed(chunk)
        ending = reader.finish()
    except Exception as exc:  # a failure mid-stream ends the run with one error event
        ending = [reader.fail(exc)]
    finally:
        # Also on GeneratorExit: closing our generator closes the HTTP response.
        close = getattr(stream, "close", None)
        if close is not None:
            close()
    yield from ending


async def aevents_from_stream(
    stream: AsyncIterable[ChatCompletionChunk],
    *,
    run_id: str | None = None,
    prices: Mapping[str, Prices] | None = None,
) -> AsyncGenerator[Event, None]:
    """The ``async for`` twin of ``events_from_stream``, for ``AsyncOpenAI`` streams."""
    reader = ChunkReader(Numbering(run_id or new_run_id()), prices=prices)
    try:
        async for chunk in stream:
            for event in reader.feed(chunk):
                yield event
        ending = reader.finish()
    except Exception as exc:  # a failure mid-stream ends the run with one error event
        ending = [reader.fail(exc)]
    finally:
        await _aclose(stream)
    for event in ending:
        yield event


async def _aclose(stream: object) -> None:
    close = getattr(stream, "close", None)
    if close is not None:
        result = close()
        if inspect.isawaitable(result):
            await result
