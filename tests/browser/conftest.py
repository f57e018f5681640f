"""Fixtures for the browser tests of the server's page."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


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
