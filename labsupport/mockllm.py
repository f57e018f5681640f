"""A deterministic, keyless, free stand-in for a streaming language model.

It answers only from the documents it is given, quoting the sentence of each
document that best matches the question and citing the ids in brackets, and it
says so plainly when it was given nothing relevant. The same question and
documents give the same tokens on every run.

It behaves like a paid model where that matters for the lessons: it waits
before its first token (``ttft``), emits ``tokens_per_second``, bills the
prompt when a request starts and each token as it is generated, and keeps
counters that prove when spending stopped.

Example:
    >>> llm = MockLLM.instant()
    >>> docs = [get_document("D3")]
    >>> "".join(t for t in llm.stream("who runs billing", docs) if isinstance(t, str))
    'Dana Okafor leads the Payments team, which runs billing. [D3]'
    >>> llm.tokens_generated
    14
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Generator, Iterator, Sequence

from ._pacing import Pause
from .corpus import Document, Hit, get_document, terms
from .prices import PRICES, Prices

__all__ = [
    "NO_ANSWER",
    "MockLLM",
    "MockModelError",
    "MockStream",
    "count_tokens",
    "tokenize",
]

NO_ANSWER = (
    "I could not find anything about that in the knowledge base, so I will not guess. "
    "Try asking about Kestrel's teams, people, on-call, billing, incidents or policies."
)

SYSTEM_PROMPT = (
    "You are Kestrel's internal assistant. Answer only from the documents below, "
    "cite them by id in brackets, and say so when they do not contain the answer."
)

_TOKEN = re.compile(r"\s*(?:\w+|[^\w\s])|\s+")

# A source is used in the answer when it scores at least this share of the best one.
_RELEVANCE_SHARE = 0.6


def tokenize(text: str) -> list[str]:
    """Split text into model tokens: words and punctuation, each with its leading space.

    Joining the tokens gives the text back exactly.
    Example: ``tokenize("Hi, Dana.") -> ['Hi', ',', ' Dana', '.']``
    """
    return _TOKEN.findall(text)


def count_tokens(text: str) -> int:
    """How many tokens the mock counts (and bills) for ``text``."""
    return len(tokenize(text))


class MockModelError(RuntimeError):
    """The mock model failed mid-answer (raised by fault injection)."""


def _check_seconds(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, got {value!r}")
    if math.isnan(value) or value < 0 or math.isinf(value):
        raise ValueError(f"{name} must be a finite number of seconds >= 0, got {value!r}")
    return float(value)


class MockStream:
    """One streamed answer: iterate for tokens (``str``) and pauses; usage fills in as it goes."""

    def __init__(self, llm: MockLLM, prompt: str, text: str, *, can_fail: bool = True) -> None:
        self.model = llm.model
        self.prompt_tokens = count_tokens(prompt)
        self.completion_tokens = 0
        self.usd = 0.0
        self._llm = llm
        self._text = text
        self._fail_after = llm.fail_after_tokens if can_fail else None
        self._steps = self._generate()

    def __iter__(self) -> Iterator[str | Pause]:
        return self._steps

    def __next__(self) -> str | Pause:
        return next(self._steps)

    def close(self) -> None:
        """Stop generating: no token is produced or billed after this."""
        self._steps.close()

    def _generate(self) -> Generator[str | Pause, None, None]:
        llm = self._llm
        # The provider bills the prompt as soon as it starts reading it.
        self.usd += llm._bill(prompt_tokens=self.prompt_tokens)
        yield Pause(llm.ttft)
        gap = 0.0 if llm.tokens_per_second is None else 1.0 / llm.tokens_per_second
        for i, token in enumerate(tokenize(self._text)):
            if i:
                yield Pause(gap)
            if self._fail_after is not None and i >= self._fail_after:
                raise MockModelError(
                    f"the model failed after {i} tokens (fault injection: "
                    f"fail_after_tokens={self._fail_after})"
                )
            self.completion_tokens += 1
            self.usd += llm._bill(completion_tokens=1)
            yield token


class MockLLM:
    """A deterministic streaming model with pacing knobs, a price table and spend counters.

    ``ttft`` is the wait before the first token, ``tokens_per_second`` the rate
    after it (``None`` for as fast as possible), ``tool_delay`` how long the
    knowledge-base tool takes, and ``fail_after_tokens`` makes the model raise
    ``MockModelError`` after that many tokens. The defaults feel like a real
    model in a lesson; ``MockLLM.instant()`` is the zero-wait version for tests.
    """

    def __init__(
        self,
        *,
        model: str = "lab-mock-1",
        ttft: float = 0.5,
        tokens_per_second: float | None = 25.0,
        tool_delay: float = 0.3,
        fail_after_tokens: int | None = None,
        prices: dict[str, Prices] | None = None,
    ) -> None:
        table = PRICES if prices is None else prices
        if model not in table:
            raise ValueError(f"model must be one of {sorted(table)}, got {model!r}")
        if tokens_per_second is not None:
            if isinstance(tokens_per_second, bool) or not isinstance(
                tokens_per_second, (int, float)
            ):
                raise TypeError(
                    f"tokens_per_second must be a number or None, got {tokens_per_second!r}"
                )
            if not 0 < tokens_per_second < math.inf:
                raise ValueError(f"tokens_per_second must be > 0, got {tokens_per_second!r}")
        if fail_after_tokens is not None and (
            isinstance(fail_after_tokens, bool)
            or not isinstance(fail_after_tokens, int)
            or fail_after_tokens < 0
        ):
            raise ValueError(
                f"fail_after_tokens must be an int >= 0 or None, got {fail_after_tokens!r}"
            )
        self.model = model
        self.prices = table[model]
        self.ttft = _check_seconds("ttft", ttft)
        self.tokens_per_second = None if tokens_per_second is None else float(tokens_per_second)
        self.tool_delay = _check_seconds("tool_delay", tool_delay)
        self.fail_after_tokens = fail_after_tokens
        self._lock = threading.Lock()
        self._tokens_generated = 0
        self._prompt_tokens = 0
        self._cost_usd = 0.0
        self._requests = 0

    @classmethod
    def instant(cls, **knobs: object) -> MockLLM:
        """A mock with no waits at all, for tests and benchmarks; other knobs pass through."""
        settings: dict[str, object] = {"ttft": 0.0, "tokens_per_second": None, "tool_delay": 0.0}
        settings.update(knobs)
        return cls(**settings)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        return (
            f"MockLLM(model={self.model!r}, ttft={self.ttft}, "
            f"tokens_per_second={self.tokens_per_second}, tool_delay={self.tool_delay}, "
            f"fail_after_tokens={self.fail_after_tokens})"
        )

    # -- counters -----------------------------------------------------------------

    @property
    def tokens_generated(self) -> int:
        """Completion tokens generated (and billed) since creation or the last reset."""
        with self._lock:
            return self._tokens_generated

    @property
    def prompt_tokens(self) -> int:
        """Prompt tokens read (and billed) since creation or the last reset."""
        with self._lock:
            return self._prompt_tokens

    @property
    def cost_usd(self) -> float:
        """Everything billed so far, in US dollars."""
        with self._lock:
            return self._cost_usd

    @property
    def requests(self) -> int:
        """How many answers were started."""
        with self._lock:
            return self._requests

    def reset_counters(self) -> None:
        """Set every counter back to zero."""
        with self._lock:
            self._tokens_generated = self._prompt_tokens = self._requests = 0
            self._cost_usd = 0.0

    def bill(self, *, prompt_tokens: int = 0, completion_tokens: int = 0) -> float:
        """Count and price tokens used outside ``stream`` (a tool-call turn); returns the dollars.

        Billing prompt tokens counts one more request, as ``stream`` does.
        """
        for name, value in (
            ("prompt_tokens", prompt_tokens),
            ("completion_tokens", completion_tokens),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be an int >= 0, got {value!r}")
        return self._bill(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)

    def _bill(self, *, prompt_tokens: int = 0, completion_tokens: int = 0) -> float:
        usd = self.prices.cost(prompt_tokens, completion_tokens)
        with self._lock:
            if prompt_tokens:
                self._requests += 1
            self._prompt_tokens += prompt_tokens
            self._tokens_generated += completion_tokens
            self._cost_usd += usd
        return usd

    # -- the model ------------------------------------------------------------------

    def search_query(self, question: str) -> str:
        """The keywords the model would send to the search tool for ``question``.

        Example: ``search_query("Who runs billing?") -> 'runs billing'``
        """
        words = re.findall(r"[\w'-]+", question)
        kept = [w for w in words if terms(w)]
        return " ".join(kept) if kept else question.strip()

    def choose_sources(self, hits: Sequence[Hit]) -> list[Document]:
        """The documents worth answering from: those close to the best hit's score."""
        if not hits:
            return []
        best = max(h.score for h in hits)
        return [h.doc for h in hits if h.score > 0 and h.score >= _RELEVANCE_SHARE * best]

    def prompt(self, question: str, docs: Sequence[Document]) -> str:
        """The full prompt the model reads (and is billed for)."""
        context = "\n".join(f"[{d.id}] {d.title}: {d.text}" for d in docs) or "(no documents)"
        return f"{SYSTEM_PROMPT}\n\nDocuments:\n{context}\n\nQuestion: {question}"

    def compose_answer(self, question: str, docs: Sequence[Document]) -> str:
        """The answer the model gives: the best-matching sentence of each document, cited."""
        if not docs:
            return NO_ANSWER
        wanted = set(terms(question))
        sentences: list[str] = []
        for doc in docs:
            candidates = doc.sentences()
            best = max(
                candidates, key=lambda s: (len(wanted & set(terms(s))), -candidates.index(s))
            )
            if best not in sentences:
                sentences.append(best)
        ids = ", ".join(d.id for d in docs)
        return f"{' '.join(sentences)} [{ids}]"

    def stream(self, question: str, docs: Sequence[Document | str]) -> MockStream:
        """Start answering ``question`` from ``docs`` (documents or their ids)."""
        if not isinstance(question, str):
            raise TypeError(f"question must be a str, got {type(question).__name__}")
        resolved = [get_document(d) if isinstance(d, str) else d for d in docs]
        return MockStream(
            self, self.prompt(question, resolved), self.compose_answer(question, resolved)
        )

    def stream_text(self, prompt: str, text: str, *, can_fail: bool = True) -> MockStream:
        """Generate ``text`` as the model would, after reading ``prompt``: paced and billed.

        ``can_fail=False`` leaves fault injection out (a tool call's arguments, say).
        """
        return MockStream(self, prompt, text, can_fail=can_fail)
