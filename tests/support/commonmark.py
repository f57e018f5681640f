"""What CommonMark shows for a piece of Markdown: escapes undone, a code span's text."""

from __future__ import annotations

import re


def unescape(markdown: str) -> str:
    """What CommonMark shows for backslash-escaped text: the escaped characters themselves."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown)


def code_span_text(markdown: str) -> str:
    """The text inside the single code span ``markdown`` is (CommonMark's rules)."""
    match = re.fullmatch(r"(`+)(.*)\1", markdown, flags=re.DOTALL)
    assert match is not None, f"not a code span: {markdown!r}"
    fence, body = match.groups()
    assert all(len(run) != len(fence) for run in re.findall(r"`+", body)), "the span closes early"
    if len(body) > 1 and body.startswith(" ") and body.endswith(" ") and body.strip():
        body = body[1:-1]
    return body
