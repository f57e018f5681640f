"""Count what a screen reader would be asked to announce: changes inside live regions.

A MutationObserver watches every ``aria-live``, ``role="status"`` and ``role="alert"``
region, and regions inserted whole; each task in which a region changed counts as one
announcement per region (a screen reader reads a region after the change, not per node). Install before the
question is asked; read the count when the answer is done.
"""

from __future__ import annotations

from typing import Any

_INSTALL = """() => {
  const LIVE = '[aria-live]:not([aria-live=off]), [role=status], [role=alert], [role=log]';
  window.__announcements = [];
  let changed = new Set();
  const regionsOf = (record) => {
    const node = record.target.nodeType === 1 ? record.target : record.target.parentElement;
    const around = node && node.closest(LIVE);
    if (around) return [around];
    // A region inserted whole (ipywidgets replaces an HTML widget's content) counts too.
    return [...record.addedNodes].filter((n) => n.nodeType === 1)
      .flatMap((n) => (n.matches(LIVE) ? [n] : [...n.querySelectorAll(LIVE)]));
  };
  const observer = new MutationObserver((records) => {
    const first = changed.size === 0;
    for (const record of records) regionsOf(record).forEach((region) => changed.add(region));
    if (first && changed.size > 0) {
      setTimeout(() => {
        for (const region of changed) {
          window.__announcements.push((region.textContent || '').trim());
        }
        changed = new Set();
      }, 0);
    }
  });
  observer.observe(document.body, { subtree: true, childList: true, characterData: true });
}"""


def watch_live_regions(page: Any) -> None:
    """Start counting announcements on ``page`` (what any live region says, after each change)."""
    page.evaluate(_INSTALL)


def announcements(page: Any) -> list[str]:
    """What the live regions said since ``watch_live_regions``, one entry per announcement."""
    said: list[str] = page.evaluate("window.__announcements")
    return said


def assert_answer_announced_once(page: Any, answer_selector: str = "#answer") -> None:
    """A screen reader heard a handful of steps, then the whole answer once, never token by token.

    For the mock's answer of 30 tokens: connecting, the statuses, then done.
    """
    page.wait_for_timeout(100)  # the observer reports a change one task after it
    said = announcements(page)
    answer = page.text_content(answer_selector) or ""
    assert 3 <= len(said) <= 8, f"live regions changed {len(said)} times: {said}"
    assert said[-1] == f"Done. The answer: {answer}"
    assert not any(answer[:20] in s for s in said[:-1]), f"a partial answer was announced: {said}"
