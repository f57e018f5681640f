"""Fixtures shared by the whole suite."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from labsupport import MockLLM
from tests.support.browser import launch_browser


@pytest.fixture
def llm() -> MockLLM:
    """A mock model with no waits, fresh counters for each test."""
    return MockLLM.instant()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the whole session (skipped, or failed in CI, if absent)."""
    yield from launch_browser()
