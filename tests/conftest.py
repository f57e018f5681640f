"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from labsupport import MockLLM
from tests.support.browser import launch_browser

# Checks run by the tests (and the kernels they start) must not fill the developer's own
# progress file; tests of progress point LAB_PROGRESS_FILE at a temporary file.
os.environ.setdefault("LAB_PROGRESS_FILE", "off")


@pytest.fixture
def llm() -> MockLLM:
    """A mock model with no waits, fresh counters for each test."""
    return MockLLM.instant()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium for one test module (skipped, or failed in CI, if absent).

    Module scope on purpose: Playwright's sync API keeps an event loop running in
    the main thread while it is open, and asyncio tests after it could not start theirs.
    """
    yield from launch_browser()
