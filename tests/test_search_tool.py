"""The knowledge-base search as a function-calling tool: what the model is offered, what it reads back."""

from __future__ import annotations

import json
from typing import Any

import pytest

from labsupport.search_tool import SEARCH_TOOL, run_search_tool


def test_the_tool_is_offered_as_search_kb_with_a_required_query() -> None:
    function = SEARCH_TOOL["function"]
    assert function["name"] == "search_kb"
    assert function["parameters"]["required"] == ["query"]


def test_k_is_capped_by_max_k() -> None:
    hits, _ = run_search_tool({"query": "runs billing", "k": 10}, max_k=1)
    assert len(hits) == 1


def test_search_tool_returns_json_the_model_can_read() -> None:
    hits, content = run_search_tool({"query": "runs billing", "k": 2})
    assert [h.doc.id for h in hits] == ["D1", "D3"]
    results = json.loads(content)
    assert [r["doc_id"] for r in results] == ["D1", "D3"]
    assert results[0]["text"].startswith("The Payments team runs billing")


@pytest.mark.parametrize(
    ("arguments", "match"),
    [({}, "non-empty 'query'"), ({"query": "x", "k": "3"}, "'k' must be an integer")],
    ids=["no-query", "k-not-int"],
)
def test_search_tool_refuses_bad_arguments(arguments: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        run_search_tool(arguments)
