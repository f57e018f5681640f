"""The agent on the openai SDK: function calling first, then the answer, streamed as lab events.

The run tells the same story as the mock agent (``labsupport.agent``), with a
real model deciding the tool call::

    status "thinking" -> status "the model is calling search_kb" -> thought
    -> tool_call -> status "searching the knowledge base" -> tool_result
    -> status "writing the answer" -> token... -> citation... -> cost -> done

Both turns are streamed, so progress shows while the model is still writing
the tool call. Citations come after the answer: they are the documents the
model cited in brackets, among those the tool returned. A failure anywhere ends
the run with one ``error`` event.

The logic is written once (``openai_run.AgentRun``, which never does I/O);
``openai_chat_stream`` drives it with ``OpenAI`` and ``aopenai_chat_stream`` with
``AsyncOpenAI``.
Closing (or cancelling) the stream closes the SDK's HTTP response, so the
server sees the disconnect and stops generating.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator, Mapping

from openai import AsyncOpenAI, OpenAI

from .events import Event
from .openai_run import MAX_TOOL_ROUNDS, AgentRun, start_run
from .prices import Prices

__all__ = ["aopenai_chat_stream", "openai_chat_stream"]


def openai_chat_stream(
    question: str,
    *,
    client: OpenAI,
    model: str | None = None,
    k: int = 3,
    run_id: str | None = None,
    prices: Mapping[str, Prices] | None = None,
    max_tool_rounds: int = MAX_TOOL_ROUNDS,
) -> Generator[Event, None, None]:
    """Answer ``question`` with the model behind ``client``, yielding the run's events.

    ``model`` defaults to the lab's mock (``"lab-mock-1"``); ``k`` is the most
    documents the search returns, whatever the model asks; ``prices`` adds prices
    for models the mock's table lacks. Bad arguments raise at once; problems
    during the run (HTTP errors, a model failing mid-stream) arrive as an
    ``error`` event. Call ``.close()`` on the generator to stop the run.
    """
    if not isinstance(client, OpenAI):
        raise TypeError(f"client must be an openai.OpenAI, got {type(client).__name__}")
    return _drive(start_run(question, model, k, run_id, prices, max_tool_rounds), client)


def _drive(run: AgentRun, client: OpenAI) -> Generator[Event, None, None]:
    try:
        yield from run.start()
        while not run.finished:
            stream = client.chat.completions.create(**run.request())
            try:
                for chunk in stream:
                    yield from run.feed(chunk)
            finally:
                # Also on GeneratorExit: the server sees the disconnect and stops.
                stream.close()
            yield from run.end_turn()
    except Exception as exc:  # any failure ends the run with exactly one error event
        yield run.fail(exc)


def aopenai_chat_stream(
    question: str,
    *,
    client: AsyncOpenAI,
    model: str | None = None,
    k: int = 3,
    run_id: str | None = None,
    prices: Mapping[str, Prices] | None = None,
    max_tool_rounds: int = MAX_TOOL_ROUNDS,
) -> AsyncGenerator[Event, None]:
    """The ``async for`` twin of ``openai_chat_stream``, on ``AsyncOpenAI``.

    Cancel the consuming task, or ``await stream.aclose()``, to stop the run.
    """
    if not isinstance(client, AsyncOpenAI):
        raise TypeError(f"client must be an openai.AsyncOpenAI, got {type(client).__name__}")
    return _adrive(start_run(question, model, k, run_id, prices, max_tool_rounds), client)


async def _adrive(run: AgentRun, client: AsyncOpenAI) -> AsyncGenerator[Event, None]:
    try:
        for event in run.start():
            yield event
        while not run.finished:
            stream = await client.chat.completions.create(**run.request())
            try:
                async for chunk in stream:
                    for event in run.feed(chunk):
                        yield event
            finally:
                await stream.close()
            for event in run.end_turn():
                yield event
    except Exception as exc:  # any failure ends the run with exactly one error event
        yield run.fail(exc)
