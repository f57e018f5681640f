"""Fixtures for the browser tests of the server's page."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from labsupport import MockLLM
from labsupport.kernel_server import ServerHandle, start_server
from labsupport.server import ServerSettings, create_app


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page in its own context; any JavaScript error on it fails the test."""
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


@pytest.fixture(params=["light", "dark"])
def scheme_page(request: pytest.FixtureRequest, browser: Any) -> Iterator[Any]:
    """A fresh page in the browser's light or dark colour scheme (``page.scheme`` says which)."""
    context = browser.new_context(
        viewport={"width": 1100, "height": 900}, color_scheme=request.param
    )
    page = context.new_page()
    page.scheme = request.param
    yield page
    context.close()


@pytest.fixture(scope="module")
def paced_server(request: pytest.FixtureRequest) -> Iterator[ServerHandle]:
    """A lab server whose answer grows for about two seconds: slow enough to watch, and to stop."""
    llm = MockLLM(ttft=0.3, tokens_per_second=15, tool_delay=0.3)
    name = f"{request.module.__name__.rsplit('.', 1)[-1]}-paced"
    with start_server(create_app(ServerSettings(llm=llm)), name=name) as handle:
        yield handle


@pytest.fixture(scope="module")
def failing_server(request: pytest.FixtureRequest) -> Iterator[ServerHandle]:
    """A lab server whose model fails after four answer tokens."""
    llm = MockLLM(ttft=0.1, tokens_per_second=40, tool_delay=0.1, fail_after_tokens=4)
    name = f"{request.module.__name__.rsplit('.', 1)[-1]}-failing"
    with start_server(create_app(ServerSettings(llm=llm)), name=name) as handle:
        yield handle
