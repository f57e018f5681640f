"""The mock agent: answers a question from the knowledge base, emitting events as it works.

One run is always the same story, told as events::

    status "thinking" -> thought -> status "searching the knowledge base"
    -> tool_call -> tool_result -> citation... -> status "writing the answer"
    -> token... -> cost -> done

A failure anywhere ends the run with one ``error`` event instead. The logic is
written once, as a generator of events and pauses (``_run``); ``chat_stream``
drives it with ``time.sleep`` and ``achat_stream`` with ``asyncio.sleep``.

Stopping is part of the contract: closing the sync generator, or cancelling or
``aclose``-ing the async one, closes the model's stream too, so no further token
is generated or billed, and every ``finally`` runs.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator

from ._pacing import Pause, adrive, drive
from .agent_args import check_k, check_question, check_run_id
from .corpus import search
from .events import (
    CitationEvent,
    CostEvent,
    DoneEvent,
    ErrorEvent,
    Event,
    Source,
    StatusEvent,
    ThoughtEvent,
    ToolCallEvent,
    ToolResultEvent,
)
from .mockllm import MockLLM, MockModelError
from .numbering import Numbering, new_run_id

__all__ = ["TOOL_NAME", "achat_stream", "chat_stream"]

TOOL_NAME = "search_kb"


def _run(question: str, llm: MockLLM, k: int, run_id: str) -> Generator[Event | Pause, None, None]:
    """The agent itself, free of any clock: yields events, and pauses where time passes."""
    emit = Numbering(run_id)
    answer = None
    try:
        yield emit(StatusEvent, message="thinking")
        query = llm.search_query(question)
        yield emit(ThoughtEvent, text=f"I will search the knowledge base for {query!r}.")
        yield emit(StatusEvent, message="searching the knowledge base")
        call_id = f"call_{run_id.removeprefix('run_')}_1"
        yield emit(
            ToolCallEvent, call_id=call_id, name=TOOL_NAME, arguments={"query": query, "k": k}
        )
        yield Pause(llm.tool_delay)
        hits = search(query, k)
        sources = [Source(doc_id=h.doc.id, title=h.doc.title, score=h.score) for h in hits]
        yield emit(ToolResultEvent, call_id=call_id, name=TOOL_NAME, sources=sources)
        docs = llm.choose_sources(hits)
        for doc in docs:
            yield emit(CitationEvent, doc_id=doc.id, title=doc.title)
        yield emit(StatusEvent, message="writing the answer")
        answer = llm.stream(question, docs)
        for step in answer:
            yield step if isinstance(step, Pause) else emit.token(step)
        yield emit(
            CostEvent,
            prompt_tokens=answer.prompt_tokens,
            completion_tokens=answer.completion_tokens,
            usd=round(answer.usd, 10),
        )
        yield emit(DoneEvent)
    except MockModelError as exc:
        yield emit(ErrorEvent, code="model_error", message=str(exc))
    except Exception as exc:  # a bug or a failing tool must still end the run with one event
        yield emit(ErrorEvent, code="internal_error", message=f"{type(exc).__name__}: {exc}")
    finally:
        # Runs on completion, on error, and when the consumer stops us (GeneratorExit).
        if answer is not None:
            answer.close()


def _start(
    question: str, llm: MockLLM | None, k: int, run_id: str | None
) -> Generator[Event | Pause, None, None]:
    check_question(question)
    check_k(k)
    check_run_id(run_id)
    if llm is not None and not isinstance(llm, MockLLM):
        raise TypeError(f"llm must be a MockLLM, got {type(llm).__name__}")
    return _run(question, llm or MockLLM(), k, run_id or new_run_id())


def chat_stream(
    question: str, *, llm: MockLLM | None = None, k: int = 3, run_id: str | None = None
) -> Generator[Event, None, None]:
    """Answer ``question``, yielding the run's events as they happen (blocking while paced).

    ``llm`` is the model to use (a new ``MockLLM()`` with lesson pacing by
    default), ``k`` how many documents the search returns, ``run_id`` an id of
    your choosing (a fresh one by default). Bad arguments raise at once, before
    any event; problems during the run arrive as an ``error`` event.
    Call ``.close()`` on the generator to stop the run.
    """
    return drive(_start(question, llm, k, run_id))


def achat_stream(
    question: str, *, llm: MockLLM | None = None, k: int = 3, run_id: str | None = None
) -> AsyncGenerator[Event, None]:
    """The ``async for`` twin of ``chat_stream``: same events, awaiting instead of sleeping.

    Cancel the consuming task, or ``await stream.aclose()``, to stop the run.
    """
    return adrive(_start(question, llm, k, run_id))
