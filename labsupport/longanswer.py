"""A mock model that writes a long answer of an exact number of tokens, for floods and stress tests.

Rendering must survive a model that writes fast and long: thousands of tokens
with no pause between them. ``LongAnswerLLM`` is the lab's ``MockLLM`` in every
respect (pacing knobs, prices, spend counters, closing) except that its answer
is ``answer_tokens`` tokens of the knowledge base, quoted document by document.
Run it through the real agent, so the events are the usual ones:

    >>> llm = LongAnswerLLM.instant(answer_tokens=10_000)
    >>> tokens = [e.text for e in chat_stream("Tell me everything", llm=llm) if e.type == "token"]
    >>> len(tokens), "".join(tokens) == long_answer(10_000)
    (10000, True)
"""

from __future__ import annotations

from collections.abc import Sequence

from .corpus import DOCUMENTS, Document
from .mockllm import MockLLM, tokenize

__all__ = ["LongAnswerLLM", "long_answer"]


def long_answer(tokens: int, docs: Sequence[Document] = DOCUMENTS) -> str:
    """Exactly ``tokens`` mock tokens quoting ``docs`` in turn, one paragraph each.

    Example: ``long_answer(5) -> 'Payments team [D1]'``
    """
    if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 1:
        raise ValueError(f"tokens must be an int >= 1, got {tokens!r}")
    if not docs:
        raise ValueError("docs must not be empty")
    paragraphs = [f"{d.title} [{d.id}]: {d.text}" for d in docs]
    per_round = len(tokenize("\n\n".join(paragraphs) + "\n\n"))
    rounds = tokens // per_round + 1
    # Cut at a token boundary: the prefix tokenizes back into the same tokens.
    return "".join(tokenize("\n\n".join(paragraphs * rounds))[:tokens])


class LongAnswerLLM(MockLLM):
    """A ``MockLLM`` whose every answer is ``long_answer(answer_tokens)``; other knobs as MockLLM."""

    def __init__(self, *, answer_tokens: int = 10_000, **knobs: object) -> None:
        self.answer_text = long_answer(answer_tokens)
        self.answer_tokens = answer_tokens
        super().__init__(**knobs)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        return super().__repr__()[:-1].replace("MockLLM(", "LongAnswerLLM(", 1) + (
            f", answer_tokens={self.answer_tokens})"
        )

    def compose_answer(self, question: str, docs: Sequence[Document]) -> str:
        """The long answer, whatever the question and sources."""
        return self.answer_text
