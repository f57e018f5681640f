"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from labsupport import MockLLM
from labsupport.lab_url import TOKEN_ENV
from labsupport.server import ServerSettings, create_app
from tests.support.browser import launch_browser
from tests.support.openai_server import MockEndpoints, serve_mock_endpoints
from tests.support.runs import INSTANT
from tests.support.secret import TEST_TOKEN
from tests.support.uvicorn_thread import serve_in_thread

# Checks run by the tests (and the kernels they start) must not fill the developer's own
# progress file; tests of progress point LAB_PROGRESS_FILE at a temporary file.
os.environ.setdefault("LAB_PROGRESS_FILE", "off")
# The suite's servers require TEST_TOKEN; programs outside the kernel read it from here.
os.environ[TOKEN_ENV] = TEST_TOKEN


@pytest.fixture
def llm() -> MockLLM:
    """A mock model with no waits, fresh counters for each test."""
    return MockLLM.instant()


@pytest.fixture
def instant_app() -> Any:
    """The lab's app on a mock model with no waits, fresh for each test (serve it in process)."""
    return create_app(ServerSettings(llm=MockLLM.instant()))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium for one test module (skipped, or failed in CI, if absent).

    Module scope on purpose: Playwright's sync API keeps an event loop running in
    the main thread while it is open, and asyncio tests after it could not start theirs.
    """
    yield from launch_browser()


@pytest.fixture(scope="module")
def mock_endpoints() -> Iterator[MockEndpoints]:
    """One real uvicorn serving the mock's OpenAI-compatible endpoints (instant, paced, failing, ...)."""
    with serve_mock_endpoints() as endpoints:
        yield endpoints


@pytest.fixture
def lab(mock_endpoints: MockEndpoints) -> MockEndpoints:
    """``mock_endpoints`` with every model's and endpoint's counters back at zero."""
    for endpoint in mock_endpoints.endpoints.values():
        endpoint.reset()
    return mock_endpoints


@pytest.fixture(scope="module")
def lab_url() -> Iterator[str]:
    """The base URL of a real lab server with the default (mock) agent, paced for tests: no waits."""
    with serve_in_thread(create_app(ServerSettings(**INSTANT), token=TEST_TOKEN)) as url:
        yield url


@pytest.fixture(scope="module")
def failing_lab_url() -> Iterator[str]:
    """The same server, with a mock that fails after three answer tokens."""
    app = create_app(ServerSettings(**INSTANT, fail_after_tokens=3), token=TEST_TOKEN)
    with serve_in_thread(app) as url:
        yield url
