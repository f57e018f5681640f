"""axe-core in a real page: the accessibility rules a browser can check, run where users are.

``axe.min.js`` comes from the React app's pinned npm packages (``frontends/react``).
"""

from __future__ import annotations

from typing import Any

from tests.support.browser import save_screenshot
from tests.support.react_app import AXE_JS, require_app_packages

# WCAG 2.0, 2.1 and 2.2 A and AA, and axe's best practices.
_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]


def axe_violations(page: Any, scope: str | None = None) -> list[dict[str, Any]]:
    """Run axe on ``page`` (or only inside the CSS selector ``scope``); its violations, short."""
    require_app_packages()
    kind = page.evaluate("document.contentType")
    if kind != "text/html":
        # A refused request (a 401 JSON body) is no page to audit: say so, not "no violation".
        raise AssertionError(f"axe can audit only an HTML page; {page.url} is {kind!r}")
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE_JS))
    found: list[dict[str, Any]] = page.evaluate(
        """async ([scope, tags]) => {
            const result = await axe.run(scope ? { include: [scope] } : document,
                                         { runOnly: { type: 'tag', values: tags } });
            return result.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => ({ target: n.target.join(' '), summary: n.failureSummary })),
            }));
        }""",
        [scope, _TAGS],
    )
    return found


def check_state(page: Any, shot: str, state: str, scope: str | None = None) -> None:
    """Save what a person sees as ``shot``, then fail if axe finds anything, naming ``state``.

    With ``scope`` (a CSS selector) both the screenshot and the audit cover that element only.
    """
    save_screenshot(page, shot, scope)
    found = axe_violations(page, scope)
    assert found == [], f"axe found problems in state {state!r}: {found}"
