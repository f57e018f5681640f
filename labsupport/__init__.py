"""labsupport: the machinery behind the "Stream your agent to a UI" lab.

The agent emits small typed events as it works; everything else renders them.

    >>> from labsupport import chat_stream, MockLLM, render
    >>> state = render(chat_stream("Who runs billing?", llm=MockLLM.instant()))  # doctest: +SKIP
"""

from __future__ import annotations

from .agent import achat_stream, chat_stream
from .agent_args import MAX_QUESTION_CHARS
from .corpus import DOCUMENTS, Document, Hit, get_document, search
from .events import (
    EVENT_TYPES,
    TERMINAL_TYPES,
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
    event_json_schema,
    from_dict,
    from_json,
)
from .lifecycle import (
    LifecycleChecker,
    LifecycleError,
    Violation,
    check_stream,
    checked,
    validate_stream,
)
from .mockllm import MockLLM, MockModelError, count_tokens, tokenize
from .numbering import new_run_id
from .prices import PRICES, Prices, format_cost
from .runstate import RunState, Step
from .terminal import TerminalRenderer, render

__version__ = "0.1.0"

__all__ = [
    "DOCUMENTS",
    "EVENT_TYPES",
    "MAX_QUESTION_CHARS",
    "PRICES",
    "TERMINAL_TYPES",
    "CitationEvent",
    "CostEvent",
    "Document",
    "DoneEvent",
    "ErrorEvent",
    "Event",
    "Hit",
    "LifecycleChecker",
    "LifecycleError",
    "MockLLM",
    "MockModelError",
    "Prices",
    "RunState",
    "Source",
    "StatusEvent",
    "Step",
    "TerminalRenderer",
    "ThoughtEvent",
    "TokenEvent",
    "ToolCallEvent",
    "ToolResultEvent",
    "Violation",
    "__version__",
    "achat_stream",
    "chat_stream",
    "check_stream",
    "checked",
    "count_tokens",
    "event_json_schema",
    "format_cost",
    "from_dict",
    "from_json",
    "get_document",
    "new_run_id",
    "render",
    "search",
    "tokenize",
    "validate_stream",
]
