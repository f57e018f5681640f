"""Words for what is wrong with a JSON request body: what a value is, and where it sits.

Every endpoint that refuses a body (the lab's own, AG-UI, the AI SDK's, the
OpenAI-compatible one) says it the same way:

>>> json_type([1, 2]), json_type(None), json_type("x")
('an array', 'null', 'a string')
>>> error = {"type": "string_type", "loc": ("messages", 0, "str", "content"), "msg": "", "input": 3}
>>> error_path(error, {"messages": [{"content": 3}]})
'messages[0].content'
"""

from __future__ import annotations

from typing import Any

from pydantic_core import ErrorDetails

__all__ = ["error_path", "json_type"]

_NAMES: dict[type, str] = {
    bool: "a boolean",
    int: "a number",
    float: "a number",
    str: "a string",
    list: "an array",
    dict: "an object",
}


def json_type(value: object) -> str:
    """What a JSON value is, in words: ``an array``, ``a number``, ``null``."""
    return "null" if value is None else _NAMES.get(type(value), type(value).__name__)


def error_path(error: ErrorDetails, payload: object) -> str:
    """``messages[0].content`` for a pydantic error in ``payload``, without union branch labels.

    A location mixes the input's keys and indexes with labels naming union
    branches (``'user'``, ``'str'``); walking the input tells them apart.
    """
    loc = error["loc"]
    data: Any = payload
    path = ""
    for i, item in enumerate(loc):
        if isinstance(item, int) and isinstance(data, list):
            path += f"[{item}]"
            data = data[item] if 0 <= item < len(data) else None
        elif isinstance(data, dict) and item in data:
            path += f".{item}" if path else str(item)
            data = data[item]
        elif error["type"] == "missing" and i == len(loc) - 1:
            path += f".{item}" if path else str(item)
    return path
