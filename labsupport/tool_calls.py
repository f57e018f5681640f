"""Tool calls put back together from a stream's deltas.

A streamed tool call arrives spread over many chunks, keyed by ``index``, with
its id and name first and its JSON arguments in fragments that only parse once
all have arrived:

>>> from openai.types.chat.chat_completion_chunk import ChoiceDeltaToolCall as Delta
>>> assembler = ToolCallAssembler()
>>> _ = assembler.feed([Delta(index=0, id="call_1", function={"name": "search_kb", "arguments": ""})])
>>> _ = assembler.feed([Delta(index=0, function={"arguments": '{"query": "bil'})])
>>> _ = assembler.feed([Delta(index=0, function={"arguments": 'ling"}'})])
>>> assembler.calls[0].parsed_arguments()
{'query': 'billing'}
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from openai.types.chat.chat_completion_chunk import ChoiceDeltaToolCall

__all__ = ["AssembledToolCall", "ToolArgumentsError", "ToolCallAssembler"]


class ToolArgumentsError(ValueError):
    """A tool call's arguments are not a JSON object."""


@dataclass
class AssembledToolCall:
    """One tool call put back together from its deltas; ``arguments`` is the JSON text."""

    index: int
    id: str = ""
    name: str = ""
    arguments: str = ""

    def parsed_arguments(self) -> dict[str, Any]:
        """The arguments as a dict; ``ToolArgumentsError`` naming the call if not a JSON object."""
        try:
            value = json.loads(self.arguments or "{}")
        except json.JSONDecodeError as exc:
            raise ToolArgumentsError(
                f"the arguments of tool call {self.name or '?'} ({self.id or 'no id'}) are not "
                f"valid JSON: {self.arguments!r} ({exc.msg})"
            ) from None
        if not isinstance(value, dict):
            raise ToolArgumentsError(
                f"the arguments of tool call {self.name or '?'} must be a JSON object, got {self.arguments!r}"
            )
        return value


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except json.JSONDecodeError:
        return False
    return True


@dataclass
class ToolCallAssembler:
    """Collects streamed tool-call deltas into whole calls, by ``index``.

    Robust to what some servers send besides OpenAI's own shape: the id and
    name repeated in every delta, the whole arguments sent again at the end,
    several calls all under index 0 (told apart by their ids), or no index.
    """

    calls: list[AssembledToolCall] = field(default_factory=list)
    _by_index: dict[int, AssembledToolCall] = field(default_factory=dict, repr=False)

    def feed(self, deltas: Iterable[ChoiceDeltaToolCall]) -> list[AssembledToolCall]:
        """Add one chunk's tool-call deltas; returns the calls whose name just became known."""
        named: list[AssembledToolCall] = []
        for delta in deltas:
            call = self._call_for(delta)
            had_name = bool(call.name)
            if delta.id and not call.id:
                call.id = delta.id
            function = delta.function
            if function is not None:
                if function.name:
                    call.name = _merge_name(call.name, function.name)
                if function.arguments:
                    call.arguments = _merge_arguments(call.arguments, function.arguments)
            if call.name and not had_name:
                named.append(call)
        return named

    def _call_for(self, delta: ChoiceDeltaToolCall) -> AssembledToolCall:
        index = getattr(delta, "index", None)
        if index is None:
            # No index: match by id, else continue the latest call.
            for call in self.calls:
                if delta.id and call.id == delta.id:
                    return call
            if self.calls and not delta.id:
                return self.calls[-1]
            index = len(self.calls)
        current = self._by_index.get(index)
        if current is not None and delta.id and current.id and delta.id != current.id:
            current = None  # a new call reusing the index of an earlier one
        if current is None:
            current = AssembledToolCall(index=index)
            self.calls.append(current)
            self._by_index[index] = current
        return current


def _merge_name(name: str, piece: str) -> str:
    if not name or piece.startswith(name):
        return piece  # first piece, a repeat, or a server that sends the name so far
    return name + piece


def _merge_arguments(arguments: str, piece: str) -> str:
    # A server that resends the whole arguments at the end would otherwise give '{..}{..}'.
    if arguments and piece.lstrip().startswith("{") and _is_json(arguments) and _is_json(piece):
        return piece
    return arguments + piece
