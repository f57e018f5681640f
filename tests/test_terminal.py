"""The terminal renderer: progress first, then the answer inline, then sources and cost."""

from __future__ import annotations

import io

from labsupport import MockLLM, chat_stream, render
from labsupport.prices import format_cost
from labsupport.terminal import TerminalRenderer


def test_renders_progress_then_answer_then_sources_and_cost(llm: MockLLM) -> None:
    out = io.StringIO()
    state = render(chat_stream("Who runs billing?", llm=llm), out)
    lines = out.getvalue().splitlines()
    assert lines[:6] == [
        "  · thinking",
        "  · plan: I will search the knowledge base for 'runs billing'.",
        "  · searching the knowledge base",
        '  → search_kb(query="runs billing", k=3)',
        "  ← search_kb found D1, D3, D7",
        "  · writing the answer",
    ]
    assert lines[6] == state.answer
    assert lines[7] == "  sources: [D1] Payments team · [D3] Dana Okafor"
    assert (
        lines[8]
        == f"  cost: {format_cost(llm.cost_usd)} for {state.cost.total_tokens} tokens ({llm.prompt_tokens} prompt + 30 answer)"
    )  # type: ignore[union-attr]
    assert len(lines) == 9


class Recorder(io.StringIO):
    """Records what had been written at each flush."""

    def __init__(self) -> None:
        super().__init__()
        self.flushed: list[str] = []

    def flush(self) -> None:
        self.flushed.append(self.getvalue())


def test_each_token_is_flushed_as_it_arrives(llm: MockLLM) -> None:
    out = Recorder()
    render(chat_stream("Who runs billing?", llm=llm), out)
    token_flushes = [f for f in out.flushed if not f.endswith("\n")]
    assert len(token_flushes) == llm.tokens_generated


def test_error_is_shown_on_its_own_line() -> None:
    out = io.StringIO()
    render(chat_stream("Who runs billing?", llm=MockLLM.instant(fail_after_tokens=2)), out)
    assert out.getvalue().endswith(
        "The Payments\n  ✗ error (model_error): the model failed after 2 tokens (fault injection: fail_after_tokens=2)\n"
    )


def test_cancelled_says_that_nothing_more_came() -> None:
    out = io.StringIO()
    renderer = TerminalRenderer(out)
    stream = chat_stream("Who runs billing?", llm=MockLLM.instant())
    for event in stream:
        renderer(event)
        if renderer.state.token_count == 2:
            break
    stream.close()
    renderer.cancelled()
    assert out.getvalue().endswith(
        "The Payments\n  ■ stopped after 2 tokens: no further tokens, no cost event, no done event\n"
    )
