"""The lab's runs in AG-UI's dialect: ``RunAgentInput`` in, AG-UI events out as SSE.

`AG-UI <https://docs.ag-ui.com>`_ is an open protocol between agents and user
interfaces. A stock client such as ``@ag-ui/client``'s ``HttpAgent`` POSTs a
``RunAgentInput`` (thread id, run id, the whole conversation) and reads a
stream of typed events that open and close runs, steps, messages and tool
calls. The server's ``POST /ag-ui`` uses this module for both directions:
``labsupport.agui_request`` reads the body, and an ``AguiEncoder`` (here) turns the lab's events
into AG-UI's, built with the ``ag-ui-protocol`` package's own models and
encoder.

How each lab event travels (``{run_id}:{seq}`` is the lab event's id, as in
the lab's own SSE, and names the AG-UI message the event opens):

==============  ======================================================================
lab event       AG-UI events
==============  ======================================================================
(first event)   ``RUN_STARTED`` with the request's ``threadId`` and ``runId``, first
status          ``STEP_FINISHED`` for the step still open, then ``STEP_STARTED``
                whose ``stepName`` is the status message
thought         ``REASONING_START``, ``REASONING_MESSAGE_START``,
                ``REASONING_MESSAGE_CONTENT``, ``REASONING_MESSAGE_END``,
                ``REASONING_END``: one complete reasoning message per thought
tool_call       ``TOOL_CALL_START`` (``toolCallId`` is the lab's ``call_id``),
                ``TOOL_CALL_ARGS`` (the arguments as JSON), ``TOOL_CALL_END``: the
                arguments are complete as soon as the call is made
tool_result     ``TOOL_CALL_RESULT`` whose ``content`` is ``{"sources": [...]}``
                as JSON text
citation        ``CUSTOM`` named ``citation``, value ``{"doc_id", "title"}``
token           ``TEXT_MESSAGE_START`` before the first token of an answer, then
                ``TEXT_MESSAGE_CONTENT`` with the token as ``delta`` (an empty
                token sends nothing)
cost            ``CUSTOM`` named ``cost``, value ``{"prompt_tokens",
                "completion_tokens", "usd"}``; the counts also become the
                run's ``usage``
done            ``RUN_FINISHED`` with ``result`` ``{"answer", "citations"}`` and
                ``usage``
error           ``RUN_ERROR`` with the lab's ``code`` and ``message``; an error
                coded ``cancelled`` is a run stopped on purpose, so it becomes
                ``RUN_FINISHED`` with the outcome ``cancelled`` instead
==============  ======================================================================

Every other event closes an open text message first (``TEXT_MESSAGE_END``),
so a token after, say, a thought starts a new message. The terminal event
closes whatever is still open, the text message and then the step, before
``RUN_FINISHED`` or ``RUN_ERROR``: that is AG-UI's lifecycle, which stock
clients verify as they read.

Example:
    >>> encoder = AguiEncoder(thread_id="thread_1", run_id="run_1")
    >>> print(encoder.encode(StatusEvent(run_id="run_demo", seq=0, message="thinking")).decode())
    data: {"type":"RUN_STARTED","threadId":"thread_1","runId":"run_1","protocolVersion":"1.0"}
    <BLANKLINE>
    data: {"type":"STEP_STARTED","stepName":"thinking"}
    <BLANKLINE>
    <BLANKLINE>
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ag_ui.core import (
    PROTOCOL_VERSION,
    BaseEvent,
    CustomEvent,
    ReasoningEndEvent,
    ReasoningMessageContentEvent,
    ReasoningMessageEndEvent,
    ReasoningMessageStartEvent,
    ReasoningStartEvent,
    RunErrorEvent,
    RunFinishedCancelledOutcome,
    RunFinishedEvent,
    RunStartedEvent,
    StepFinishedEvent,
    StepStartedEvent,
    TextMessageContentEvent,
    TextMessageEndEvent,
    TextMessageStartEvent,
    TokenUsage,
    ToolCallArgsEvent,
    ToolCallEndEvent,
    ToolCallResultEvent,
    ToolCallStartEvent,
)
from ag_ui.encoder import EventEncoder

from .events import (
    CitationEvent,
    CostEvent,
    DoneEvent,
    ErrorEvent,
    Event,
    StatusEvent,
    ThoughtEvent,
    TokenEvent,
    ToolCallEvent,
    ToolResultEvent,
)

__all__ = ["CANCELLED_CODE", "AguiEncoder"]

CANCELLED_CODE = "cancelled"
"""The lab error code of a run stopped on purpose; AG-UI calls that a cancelled outcome."""


class AguiEncoder:
    """Turns one run's lab events into AG-UI events, as the bytes of an SSE stream.

    One encoder per run: it remembers what is open (a step, a text message) so
    that every ``*_START`` gets its ``*_END`` and the run ends cleanly, however
    it ends. Call ``encode`` once per lab event, in order; the run must end
    with exactly one ``done`` or ``error`` event, and nothing may follow it.
    """

    media_type: str = EventEncoder().get_content_type()
    headers: Mapping[str, str] = {}

    def __init__(self, *, thread_id: str, run_id: str) -> None:
        self.thread_id = thread_id
        self.run_id = run_id
        self._wire = EventEncoder()
        self._started = False
        self._ended = False
        self._step: str | None = None
        self._message_id: str | None = None
        self._answer: list[str] = []
        self._citations: list[dict[str, str]] = []
        self._usage: TokenUsage | None = None

    def encode(self, event: Event) -> bytes:
        """The wire bytes for one lab event: zero or more AG-UI events, as SSE."""
        if self._ended:
            raise RuntimeError(
                f"the run already ended; got a {event.type!r} event after its done or error"
            )
        out: list[BaseEvent] = []
        if not self._started:
            self._started = True
            out.append(
                RunStartedEvent(
                    thread_id=self.thread_id,
                    run_id=self.run_id,
                    protocol_version=PROTOCOL_VERSION,
                )
            )
        if not isinstance(event, TokenEvent):
            out.extend(self._close_message())
        out.extend(self._translate(event))
        return "".join(self._wire.encode(e) for e in out).encode()

    def _translate(self, event: Event) -> Sequence[BaseEvent]:
        if isinstance(event, TokenEvent):
            return self._token(event)
        if isinstance(event, StatusEvent):
            return self._status(event)
        if isinstance(event, ThoughtEvent):
            return _thought(event)
        if isinstance(event, ToolCallEvent):
            return _tool_call(event)
        if isinstance(event, ToolResultEvent):
            return [_tool_result(event)]
        if isinstance(event, CitationEvent):
            self._citations.append({"doc_id": event.doc_id, "title": event.title})
            return [CustomEvent(name="citation", value=_payload(event))]
        if isinstance(event, CostEvent):
            self._usage = TokenUsage(
                input_tokens=event.prompt_tokens,
                output_tokens=event.completion_tokens,
                total_tokens=event.total_tokens,
            )
            return [CustomEvent(name="cost", value=_payload(event))]
        if isinstance(event, DoneEvent):
            return [*self._end(), self._finished()]
        if isinstance(event, ErrorEvent):
            return [*self._end(), self._failed(event)]
        raise TypeError(f"not a lab event: {type(event).__name__}")

    def _token(self, event: TokenEvent) -> list[BaseEvent]:
        if not event.text:
            return []  # AG-UI allows empty deltas, but they carry nothing
        out: list[BaseEvent] = []
        if self._message_id is None:
            self._message_id = _event_id(event)
            out.append(TextMessageStartEvent(message_id=self._message_id, role="assistant"))
        self._answer.append(event.text)
        out.append(TextMessageContentEvent(message_id=self._message_id, delta=event.text))
        return out

    def _status(self, event: StatusEvent) -> list[BaseEvent]:
        out = self._close_step()
        self._step = event.message
        out.append(StepStartedEvent(step_name=event.message))
        return out

    def _close_message(self) -> list[BaseEvent]:
        if self._message_id is None:
            return []
        message_id, self._message_id = self._message_id, None
        return [TextMessageEndEvent(message_id=message_id)]

    def _close_step(self) -> list[BaseEvent]:
        if self._step is None:
            return []
        step, self._step = self._step, None
        return [StepFinishedEvent(step_name=step)]

    def _end(self) -> list[BaseEvent]:
        self._ended = True
        return self._close_step()  # encode() has already closed the text message

    def _finished(self) -> RunFinishedEvent:
        result = {"answer": "".join(self._answer), "citations": self._citations}
        return RunFinishedEvent(
            thread_id=self.thread_id, run_id=self.run_id, result=result, usage=self._usage_list()
        )

    def _failed(self, event: ErrorEvent) -> RunFinishedEvent | RunErrorEvent:
        if event.code == CANCELLED_CODE:
            return RunFinishedEvent(
                thread_id=self.thread_id,
                run_id=self.run_id,
                outcome=RunFinishedCancelledOutcome(),
                usage=self._usage_list(),
            )
        return RunErrorEvent(message=event.message, code=event.code, usage=self._usage_list())

    def _usage_list(self) -> list[TokenUsage] | None:
        return None if self._usage is None else [self._usage]


def _event_id(event: Event) -> str:
    return f"{event.run_id}:{event.seq}"


def _payload(event: Event) -> dict[str, Any]:
    """The fields that are the event's own: no type, run id or sequence number."""
    return event.model_dump(mode="json", exclude={"type", "run_id", "seq"})


def _thought(event: ThoughtEvent) -> list[BaseEvent]:
    reasoning_id = _event_id(event)
    out: list[BaseEvent] = [
        ReasoningStartEvent(message_id=reasoning_id),
        ReasoningMessageStartEvent(message_id=reasoning_id, role="reasoning"),
    ]
    if event.text:
        out.append(ReasoningMessageContentEvent(message_id=reasoning_id, delta=event.text))
    out.append(ReasoningMessageEndEvent(message_id=reasoning_id))
    out.append(ReasoningEndEvent(message_id=reasoning_id))
    return out


def _tool_call(event: ToolCallEvent) -> list[BaseEvent]:
    return [
        ToolCallStartEvent(
            tool_call_id=event.call_id,
            tool_call_name=event.name,
            parent_message_id=_event_id(event),
        ),
        ToolCallArgsEvent(tool_call_id=event.call_id, delta=json.dumps(event.arguments)),
        ToolCallEndEvent(tool_call_id=event.call_id),
    ]


def _tool_result(event: ToolResultEvent) -> ToolCallResultEvent:
    sources = [source.model_dump(mode="json") for source in event.sources]
    return ToolCallResultEvent(
        message_id=_event_id(event),
        tool_call_id=event.call_id,
        content=json.dumps({"sources": sources}),
        role="tool",
    )
