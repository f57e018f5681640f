"""Count what a screen reader would be asked to announce: changes inside live regions.

A MutationObserver watches every ``aria-live``, ``role="status"`` and ``role="alert"``
region; each task in which a region changed counts as one announcement (a screen
reader reads a region after the change, not per DOM node). Install before the
question is asked; read the count when the answer is done.
"""

from __future__ import annotations

from typing import Any

_INSTALL = """() => {
  const LIVE = '[aria-live]:not([aria-live=off]), [role=status], [role=alert], [role=log]';
  window.__announcements = [];
  let pending = null;
  const observer = new MutationObserver((records) => {
    for (const record of records) {
      const node = record.target.nodeType === 1 ? record.target : record.target.parentElement;
      const region = node && node.closest(LIVE);
      if (!region) continue;
      if (pending === null) {
        pending = setTimeout(() => {
          window.__announcements.push((region.textContent || '').trim());
          pending = null;
        }, 0);
      }
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
