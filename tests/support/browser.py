"""A real Chromium for browser tests: Debian's package, driven by Playwright for Python.

Browsers cannot be downloaded here, so Playwright is pointed at the system
binary. In CI (``CI=true``) a missing browser fails the test loudly; elsewhere
the test is skipped with the reason, so a student's laptop still runs the rest.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")

# Chromium's own background traffic is refused on a closed network; keep it quiet.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def chromium_path() -> str | None:
    """The system Chromium, from ``LAB_CHROMIUM`` or the usual Debian paths."""
    configured = os.environ.get("LAB_CHROMIUM")
    if configured:
        return configured if Path(configured).exists() else None
    for candidate in CHROMIUM_CANDIDATES:
        if Path(candidate).exists():
            return candidate
    return shutil.which("chromium")


def require_chromium() -> str:
    """The Chromium path, or skip (fail under CI) with a clear reason."""
    path = chromium_path()
    if path is None:
        reason = "no Chromium found (install Debian's 'chromium' package: apt-get install chromium)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"browser tests must run in CI: {reason}")
        pytest.skip(reason)
    return path


def launch_browser() -> Iterator[Any]:
    """Yield a headless Playwright ``Browser`` on the system Chromium; closes it afterwards."""
    path = require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def save_screenshot(page: Any, name: str, selector: str | None = None) -> Path:
    """Save a PNG of ``page`` (or of the element ``selector``) under ``test-artifacts/``."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    if selector is None:
        page.screenshot(path=str(path), full_page=True)
    else:
        element = page.locator(selector)
        element.scroll_into_view_if_needed()
        element.screenshot(path=str(path))
    return path
