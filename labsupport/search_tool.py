"""The knowledge-base search as a tool for function calling: its description and its run.

``SEARCH_TOOL`` is what a model is offered; ``run_search_tool`` runs the call the
model makes and returns the JSON the model reads back. Any agent on the openai
SDK (the lab's, or a framework's) can use both.

>>> SEARCH_TOOL["function"]["name"]
'search_kb'
>>> hits, content = run_search_tool({"query": "runs billing", "k": 1})
>>> [hit.doc.id for hit in hits]
['D1']
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .agent import TOOL_NAME
from .corpus import Hit, search

__all__ = ["SEARCH_TOOL", "run_search_tool"]

SEARCH_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": TOOL_NAME,
        "description": "Search Kestrel's internal knowledge base; returns the best-matching documents.",
        "parameters": {
            "type": "object",
            "properties": {
                "query": {"type": "string", "description": "Keywords to search for."},
                "k": {
                    "type": "integer",
                    "description": "How many documents to return (1-10).",
                    "minimum": 1,
                    "maximum": 10,
                },
            },
            "required": ["query"],
        },
    },
}
"""The knowledge-base search, described for function calling."""


def run_search_tool(arguments: Mapping[str, Any], *, max_k: int = 10) -> tuple[list[Hit], str]:
    """Run ``search_kb`` with the model's arguments: the hits, and the JSON the model reads back.

    The model picks ``k`` (3 if it does not say); ``max_k`` caps it, as an app bounds its tools.

    Example: ``run_search_tool({"query": "billing", "k": 1})[1]`` is a JSON list such as
    ``[{"doc_id": "D1", "title": "Payments team", "score": 2.1, "text": "The Payments ..."}]``
    """
    query = arguments.get("query")
    if not isinstance(query, str) or not query.strip():
        raise ValueError(f"search_kb needs a non-empty 'query' string, got {query!r}")
    k = arguments.get("k", 3)
    if isinstance(k, bool) or not isinstance(k, int):
        raise ValueError(f"search_kb's 'k' must be an integer, got {k!r}")
    hits = search(query, max(1, min(k, max_k, 10)))
    results = [
        {"doc_id": h.doc.id, "title": h.doc.title, "score": h.score, "text": h.doc.text}
        for h in hits
    ]
    return hits, json.dumps(results, ensure_ascii=False)
