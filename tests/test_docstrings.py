"""The worked examples in the core modules' docstrings are true."""

from __future__ import annotations

import doctest
import importlib

import pytest

import labsupport

MODULES = [
    "events",
    "corpus",
    "prices",
    "mockllm",
    "lifecycle",
    "runstate",
    "agent_api",
    "agent_args",
    "numbering",
    "json_errors",
    "sse",
    "run_buffer",
    "live_run",
    "run_store",
    "server",
    "lab_url",
    "jupyter_base",
    "handles",
    "programs",
    "open_servers",
    "redis_log",
    "run_errors",
    "run_registry",
    "request_checks",
    "streamlit_text",
    "lab_routes",
    "openai_chunks",
    "agui_request",
    "vercel_request",
    "search_tool",
    "tool_calls",
    "openai_run",
    "progress_log",
    "progress",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(f"labsupport.{name}")
    globs = {**vars(labsupport), **vars(module)}
    result = doctest.testmod(module, globs=globs, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"labsupport.{name} has no example"
    assert result.failed == 0
