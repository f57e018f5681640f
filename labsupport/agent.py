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

import uuid
from collections.abc import AsyncGenerator, Generator
from typing import Any

from ._pacing import Pause, adrive, drive
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
    TokenEvent,
    ToolCallEvent,
    ToolResultEvent,
)
from .mockllm import MockLLM, MockModelError

__all__ = ["MAX_QUESTION_CHARS", "TOOL_NAME", "achat_stream", "chat_stream", "new_run_id"]

MAX_QUESTION_CHARS = 2000
TOOL_NAME = "search_kb"


def new_run_id() -> str:
    """A fresh, unique run id such as ``run_3f9a1c0b7d2e``."""
    return f"run_{uuid.uuid4().hex[:12]}"


def _check_question(question: object) -> str:
    if not isinstance(question, str):
        raise TypeError(f"question must be a str, got {type(question).__name__}")
    if not question.strip():
        raise ValueError("question must not be empty")
    if len(question) > MAX_QUESTION_CHARS:
        raise ValueError(
            f"question is {len(question)} characters long; the limit is {MAX_QUESTION_CHARS}"
        )
    return question


def _check_k(k: object) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 10:
        raise ValueError(f"k must be an int from 1 to 10, got {k!r}")
    return k


class _Numbering:
    """Stamps events with the run id and the next sequence number."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.seq = 0

    def __call__(self, cls: type[Any], **fields: Any) -> Event:
        event: Event = cls(run_id=self.run_id, seq=self.seq, **fields)
        self.seq += 1
        return event

    def token(self, text: str) -> TokenEvent:
        """A token event: the hot path of every answer, so built directly.

        Measured: pydantic's validating constructor (about 1.8 µs here) beats
        ``model_construct`` (about 4.5 µs), which resolves defaults in Python.
        """
        event = TokenEvent(run_id=self.run_id, seq=self.seq, text=text)
        self.seq += 1
        return event


def _run(question: str, llm: MockLLM, k: int, run_id: str) -> Generator[Event | Pause, None, None]:
    """The agent itself, free of any clock: yields events, and pauses where time passes."""
    emit = _Numbering(run_id)
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
    _check_question(question)
    _check_k(k)
    if llm is not None and not isinstance(llm, MockLLM):
        raise TypeError(f"llm must be a MockLLM, got {type(llm).__name__}")
    if run_id is not None and (not isinstance(run_id, str) or not run_id):
        raise ValueError(f"run_id must be a non-empty str, got {run_id!r}")
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
