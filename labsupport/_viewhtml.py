"""The HTML and CSS of the live view: pure functions from a ``RunState`` to markup.

Kept apart from the widget plumbing in ``view.py`` so the look can be read (and
tested) without a kernel. Every piece of text that came from the stream goes
through ``html.escape``: a token such as ``<script>`` is shown, never run.
"""

from __future__ import annotations

import html

from .prices import format_cost
from .runstate import RunState, Step

__all__ = [
    "CSS",
    "answer_html",
    "error_html",
    "footer_html",
    "live_html",
    "sources_html",
    "status_html",
    "steps_html",
    "steps_title",
    "summary_text",
    "title_html",
]

# Scoped under .lsv-*; JupyterLab's theme variables first, so dark themes work too.
CSS = """<style>
.lsv-card { border: 1px solid var(--jp-border-color2, #d0d7de); border-radius: 12px;
  padding: 14px 18px 12px; max-width: 780px; background: var(--jp-layout-color1, #fff);
  box-shadow: 0 1px 3px rgba(31, 35, 40, .08); font-family: var(--jp-ui-font-family, system-ui); }
.lsv-card.widget-vbox { gap: 6px; }
.lsv-card .widget-html-content { line-height: 1.45; }
.lsv-title { font-size: 15px; font-weight: 600; color: var(--jp-ui-font-color0, #1f2328); }
.lsv-status { display: flex; align-items: center; gap: 8px; font-size: 13px;
  color: var(--jp-ui-font-color1, #1f2328); min-height: 28px; }
.lsv-dot { width: 9px; height: 9px; border-radius: 50%; flex: none; background: #8c959f; }
.lsv-dot.lsv-running { background: #2f81f7; animation: lsv-pulse 1.2s ease-in-out infinite; }
.lsv-dot.lsv-finished { background: #1a7f37; }
.lsv-dot.lsv-error { background: #cf222e; }
.lsv-dot.lsv-cancelled { background: #bf8700; }
.lsv-elapsed { color: var(--jp-ui-font-color2, #59636e); font-variant-numeric: tabular-nums; }
.lsv-steps { margin: 0; padding-left: 4px; list-style: none; font-size: 12.5px;
  color: var(--jp-ui-font-color1, #1f2328); }
.lsv-steps li { margin: 3px 0; display: flex; gap: 8px; }
.lsv-icon { width: 1.2em; text-align: center; flex: none; color: var(--jp-ui-font-color2, #59636e); }
.lsv-tool_call .lsv-text, .lsv-tool_result .lsv-text {
  font-family: var(--jp-code-font-family, monospace); font-size: 12px; }
.lsv-thought .lsv-text { font-style: italic; }
.lsv-answer { font-size: 14px; line-height: 1.6; color: var(--jp-content-font-color1, #1f2328);
  margin-top: 8px; padding: 6px 0 2px; max-height: 26em; overflow-y: auto;
  display: flex; flex-direction: column-reverse; }
.lsv-answer-text { white-space: pre-wrap; overflow-wrap: anywhere; }
.lsv-caret { display: inline-block; width: 7px; height: 1.05em; vertical-align: text-bottom;
  margin-left: 1px; background: #2f81f7; animation: lsv-blink 1s steps(1) infinite; }
.lsv-note { display: inline-block; margin-left: 6px; padding: 0 8px; border-radius: 999px;
  font-size: 11.5px; background: #fff8c5; color: #7d4e00; border: 1px solid #d4a72c66; }
.lsv-skeleton div div { height: 11px; border-radius: 6px; margin: 9px 0;
  background: linear-gradient(90deg, #eaeef2 25%, #f6f8fa 45%, #eaeef2 65%);
  background-size: 400% 100%; animation: lsv-shimmer 1.4s ease infinite; }
.lsv-placeholder { color: var(--jp-ui-font-color2, #59636e); font-style: italic; }
.lsv-sources { display: flex; flex-wrap: wrap; gap: 6px; align-items: center; font-size: 12px; }
.lsv-label { color: var(--jp-ui-font-color2, #59636e); margin-right: 2px; }
.lsv-chip { display: inline-flex; gap: 6px; align-items: center; padding: 2px 10px;
  border-radius: 999px; border: 1px solid var(--jp-border-color2, #d0d7de);
  background: var(--jp-layout-color2, #f6f8fa); }
.lsv-chip b { font-family: var(--jp-code-font-family, monospace);
  color: var(--jp-content-link-color, #0969da); }
.lsv-footer { font-size: 12px; color: var(--jp-ui-font-color2, #59636e);
  font-variant-numeric: tabular-nums; border-top: 1px solid var(--jp-border-color3, #eaeef2);
  padding-top: 6px; margin-top: 4px; }
div.lsv-error { border-left: 4px solid #cf222e; background: #ffebe9; color: #82071e;
  padding: 8px 12px; border-radius: 6px; font-size: 13px; }
.lsv-live { position: absolute; width: 1px; height: 1px; overflow: hidden;
  clip: rect(0 0 0 0); clip-path: inset(50%); white-space: nowrap; }
.lsv-stop:focus-visible { outline: 3px solid var(--jp-brand-color1, #1a3fc4); outline-offset: 2px; }
@media (prefers-reduced-motion: reduce) {
  .lsv-dot, .lsv-caret, .lsv-skeleton div div { animation: none !important; }
}
@keyframes lsv-pulse { 50% { opacity: .35; } }
@keyframes lsv-blink { 50% { opacity: 0; } }
@keyframes lsv-shimmer { 0% { background-position: 100% 50%; } 100% { background-position: 0 50%; } }
</style>"""

_ICONS = {"status": "•", "thought": "✎", "tool_call": "→", "tool_result": "←"}

_HEADLINES = {"finished": "Done", "error": "Failed", "cancelled": "Stopped"}


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def title_html(title: str | None) -> str:
    """The question (or any title) at the top of the card; nothing when there is none."""
    return f'<div class="lsv-title">{html.escape(title)}</div>' if title else ""


def status_html(state: RunState, elapsed: float) -> str:
    """The status line: a coloured dot, what is happening now, and the elapsed time."""
    if state.outcome == "waiting":
        headline = "Starting…"
    elif state.outcome == "running":
        headline = state.status[:1].upper() + state.status[1:] + "…"
    elif state.outcome == "cancelled":
        headline = f"Stopped after {_plural(state.token_count, 'token')}"
    else:
        headline = _HEADLINES[state.outcome]
    return (
        f'<div class="lsv-status"><span class="lsv-dot lsv-{state.outcome}"></span>'
        f'<span class="lsv-status-text">{html.escape(headline)}</span>'
        f'<span class="lsv-elapsed">· {elapsed:.1f} s</span></div>'
    )


def live_html(state: RunState) -> str:
    """What a screen reader hears: the step now, then the whole answer once (no elapsed time).

    Example: running with status "searching the knowledge base" -> "Searching the knowledge base…"
    """
    if state.outcome == "finished":
        said = f"Done. The answer: {state.answer}"
    elif state.outcome == "running":
        said = state.status[:1].upper() + state.status[1:] + "…"
    elif state.outcome == "cancelled":
        said = f"Stopped after {_plural(state.token_count, 'token')}."
    else:
        said = {"waiting": "Starting…", "error": "Failed."}[state.outcome]
    return f'<div class="lsv-live" role="status">{html.escape(said)}</div>'


def steps_title(state: RunState, elapsed: float) -> str:
    """The accordion's title: how much work is behind the answer."""
    steps = _plural(len(state.steps), "step")
    if state.outcome in ("waiting", "running"):
        return f"Thinking · {steps}"
    return f"Worked for {elapsed:.1f} s · {steps}"


def steps_html(steps: list[Step]) -> str:
    """The agent's visible work, one line per status, thought, tool call and tool result."""
    if not steps:
        return '<div class="lsv-placeholder">No steps yet.</div>'
    items = "".join(
        f'<li class="lsv-{s.kind}"><span class="lsv-icon">{_ICONS[s.kind]}</span>'
        f'<span class="lsv-text">{html.escape(s.text)}</span></li>'
        for s in steps
    )
    return f'<ol class="lsv-steps">{items}</ol>'


def answer_html(state: RunState) -> str:
    """The answer as it grows; a skeleton until the first token; a note once stopped."""
    if state.token_count == 0:
        if not state.ended:
            bars = "".join(f'<div style="width:{w}%"></div>' for w in (94, 88, 61))
            return f'<div class="lsv-answer lsv-skeleton" aria-busy="true"><div>{bars}</div></div>'
        message = {
            "cancelled": "Stopped before the first token.",
            "error": "No answer: the run failed before the first token.",
            "finished": "The answer is empty.",
        }[state.outcome]
        return f'<div class="lsv-answer"><div class="lsv-placeholder">{message}</div></div>'
    tail = ""
    if state.outcome == "running":
        tail = '<span class="lsv-caret"></span>'
    elif state.outcome == "cancelled":
        tail = '<span class="lsv-note">■ stopped</span>'
    busy = "true" if state.outcome == "running" else "false"
    return (
        f'<div class="lsv-answer" aria-busy="{busy}"><div><span class="lsv-answer-text">'
        f"{html.escape(state.answer)}</span>{tail}</div></div>"
    )


def sources_html(state: RunState) -> str:
    """The cited documents as chips (id and title); nothing until the first citation."""
    if not state.citations:
        return ""
    chips = "".join(
        f'<span class="lsv-chip"><b>{html.escape(doc_id)}</b>{html.escape(title)}</span>'
        for doc_id, title in state.citations
    )
    return f'<div class="lsv-sources"><span class="lsv-label">Sources</span>{chips}</div>'


def error_html(state: RunState) -> str:
    """A red box naming the failure; nothing while the run is healthy."""
    if state.error is None:
        return ""
    return (
        f'<div class="lsv-error" role="alert"><b>Error · {html.escape(state.error.code)}</b>'
        f"<div>{html.escape(state.error.message)}</div></div>"
    )


def footer_html(state: RunState, redraws: int) -> str:
    """Counters: tokens received, what was billed, events received and redraws sent."""
    parts = [f'<span class="lsv-tokens">{_plural(state.token_count, "token")} received</span>']
    if state.cost is not None:
        cost = state.cost
        parts.append(
            f"{cost.total_tokens:,} billed ({cost.prompt_tokens:,} prompt + "
            f'{cost.completion_tokens:,} answer) · <span class="lsv-cost">{format_cost(cost.usd)}</span>'
        )
    parts.append(f"{_plural(state.event_count, 'event')} · {_plural(redraws, 'redraw')}")
    return f'<div class="lsv-footer">{" · ".join(parts)}</div>'


def summary_text(state: RunState, event_count: int) -> str:
    """The final state in a few deterministic lines (``LiveView.summary``)."""
    lines = [
        f"outcome: {state.outcome}",
        f"answer: {state.answer!r}",
        f"tokens received: {state.token_count}",
        "sources: " + (", ".join(f"{i} {t}" for i, t in state.citations) or "none"),
    ]
    if state.cost is not None:
        lines.append(
            f"cost: {format_cost(state.cost.usd)} for {state.cost.total_tokens} tokens "
            f"({state.cost.prompt_tokens} prompt + {state.cost.completion_tokens} answer)"
        )
    else:
        lines.append("cost: none reported")
    if state.error is not None:
        lines.append(f"error: {state.error.code}: {state.error.message}")
    lines.append(f"events: {event_count}")
    return "\n".join(lines)
