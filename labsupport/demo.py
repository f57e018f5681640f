"""Headless demo: ``python -m labsupport.demo`` shows the streamed agent in three sections.

1. the streamed response: progress lines, then the answer token by token, then sources and cost;
2. the same run as raw events, one JSON object per line;
3. cancellation: the user stops after three tokens, and the model's counters show
   that nothing more was generated or billed, and that ``cost`` and ``done`` never came.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TextIO

from .agent import chat_stream
from .mockllm import MockLLM
from .prices import format_cost
from .terminal import TerminalRenderer, render

__all__ = ["main", "run_demo"]

DEFAULT_QUESTION = "Who runs billing?"


def _heading(title: str, out: TextIO) -> None:
    print(f"\n==== {title} ====", file=out, flush=True)


def run_demo(
    question: str = DEFAULT_QUESTION, *, fast: bool = False, out: TextIO | None = None
) -> None:
    """Print the three sections for ``question``; ``fast`` turns the pacing off."""
    out = out or sys.stdout

    def model() -> MockLLM:
        return MockLLM.instant() if fast else MockLLM()

    _heading("1. STREAMED RESPONSE (progress first, then the answer as it is written)", out)
    render(chat_stream(question, llm=model(), run_id="run_demo1"), out)

    _heading("2. RAW EVENTS (what a renderer receives, one JSON object per line)", out)
    for event in chat_stream(question, llm=MockLLM.instant(), run_id="run_demo2"):
        print(event.to_json(), file=out, flush=True)

    _heading("3. CANCELLATION (the user presses stop after three tokens)", out)
    llm = model()
    renderer = TerminalRenderer(out)
    stream = chat_stream(question, llm=llm, run_id="run_demo3")
    for event in stream:
        renderer(event)
        if renderer.state.token_count == 3:
            stream.close()  # the agent and the model stop here: GeneratorExit, then finally
            break
    renderer.cancelled()
    print(
        f"  model counters after the stop: {llm.tokens_generated} tokens generated, "
        f"{format_cost(llm.cost_usd)} spent; cost event: "
        f"{'yes' if renderer.state.cost else 'never'}, done event: "
        f"{'yes' if renderer.state.outcome == 'finished' else 'never'}",
        file=out,
        flush=True,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m labsupport.demo", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "question", nargs="?", default=DEFAULT_QUESTION, help="what to ask the agent"
    )
    parser.add_argument("--fast", action="store_true", help="no pacing: everything at once")
    args = parser.parse_args(argv)
    if not args.question.strip():
        parser.error("the question must not be empty")
    run_demo(args.question, fast=args.fast)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
