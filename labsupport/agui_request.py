"""An AG-UI request: a ``RunAgentInput`` body, read into the question and the run's encoder.

A stock ``HttpAgent`` sends the whole conversation; the question is the text of
the last user message. A bad body is refused with every bad field's path:

>>> parse_request([])
Traceback (most recent call last):
...
ValueError: the body must be a JSON object (a RunAgentInput), got an array
"""

from __future__ import annotations

from ag_ui.core import RunAgentInput, TextPart, UserMessage
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from .agui import AguiEncoder
from .json_errors import error_path, json_type

__all__ = ["parse_request"]

# How many validation problems one error message lists before "and N more".
_MAX_PROBLEMS = 3


def parse_request(payload: object) -> tuple[str, AguiEncoder]:
    """Read a decoded ``RunAgentInput`` body: the question to answer and the run's encoder.

    The question is the text of the last user message. Raises ``ValueError``
    saying precisely what is wrong: not an object, not a valid
    ``RunAgentInput`` (with the path of each bad field), no user message, or
    a last user message with no text in it.
    """
    if not isinstance(payload, dict):
        raise ValueError(
            f"the body must be a JSON object (a RunAgentInput), got {json_type(payload)}"
        )
    try:
        run_input = RunAgentInput.model_validate(payload)
    except ValidationError as exc:
        raise ValueError(_describe(exc, payload)) from None
    question = _last_user_text(run_input)
    return question, AguiEncoder(thread_id=run_input.thread_id, run_id=run_input.run_id)


def _last_user_text(run_input: RunAgentInput) -> str:
    users = [(i, m) for i, m in enumerate(run_input.messages) if isinstance(m, UserMessage)]
    if not users:
        if not run_input.messages:
            raise ValueError("messages is empty; send the question as a user message")
        roles = ", ".join(sorted({m.role for m in run_input.messages}))
        raise ValueError(f"messages has no user message (roles found: {roles})")
    index, message = users[-1]
    if isinstance(message.content, str):
        return message.content
    texts = [part.text for part in message.content if isinstance(part, TextPart)]
    if not texts:
        kinds = ", ".join(part.type for part in message.content) or "nothing"
        raise ValueError(
            f"messages[{index}], the last user message, has no text part "
            f"(its content holds {kinds}); this agent answers text"
        )
    return "\n".join(texts)


def _describe(exc: ValidationError, payload: object) -> str:
    """The validation problems as ``path: what is wrong``, one per bad field."""
    errors = exc.errors(include_url=False)
    paths = [error_path(error, payload) for error in errors]
    problems: dict[str, list[ErrorDetails]] = {}
    for error, path in zip(errors, paths, strict=True):
        # In a union, the branch that got deeper says more than the one that failed at once.
        if not any(other.startswith((f"{path}.", f"{path}[")) for other in paths):
            problems.setdefault(path, []).append(error)
    lines = [f"{path}: {_reason(errs)}" for path, errs in problems.items()]
    more = len(lines) - _MAX_PROBLEMS
    text = "; ".join(lines[:_MAX_PROBLEMS])
    return f"{text} (and {more} more)" if more > 0 else text


def _reason(errors: list[ErrorDetails]) -> str:
    """What is wrong at one path; several errors there are the branches of a union."""
    first = errors[0]
    ctx = first.get("ctx") or {}
    if first["type"] == "union_tag_not_found":
        return f"has no {ctx.get('discriminator', 'type')} field, which says what kind it is"
    if first["type"] == "union_tag_invalid":
        return (
            f"{ctx.get('discriminator')} is {ctx.get('tag')!r}; "
            f"expected one of {ctx.get('expected_tags')}"
        )
    if first["type"] == "missing":
        return "required, but missing"
    # "Input should be a valid string", "Input should be a valid list": name each branch once.
    wanted = [str(e["msg"]).removeprefix("Input ").removeprefix("should be ") for e in errors]
    return f"should be {' or '.join(dict.fromkeys(wanted))}, got {json_type(first.get('input'))}"
