"""A page on another origin that tries every way a browser page can start a run, and a recorder.

The lab server is wrapped in ``Recorder``, which notes each request's method, path
and status; ``foreign_page`` serves a page that fires the requests without the
secret; ``visit`` opens it in Chromium until the requests have reached the server.
"""

from __future__ import annotations

import json
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class Recorder:
    """ASGI wrapper that records each request as ``("METHOD /path", status)``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.seen: list[tuple[str, int]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def record(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.seen.append((f"{scope['method']} {scope['path']}", message["status"]))
            await send(message)

        await self.app(scope, receive, record)

    def run_statuses(self) -> list[int]:
        """The statuses of requests for a run (CORS preflights start nothing and are left out)."""
        return [
            status
            for request, status in self.seen
            if request.endswith(" /chat/stream") and not request.startswith("OPTIONS")
        ]


def foreign_page(target: str, *, post: bool = False) -> ASGIApp:
    """A page that asks ``target`` for a run by <img>, fetch (no-cors, cors) and EventSource.

    With ``post``, also by a JSON ``POST`` (which a browser sends only after a CORS preflight).
    """
    url = json.dumps(f"{target}/chat/stream?message=Who+runs+billing%3F")
    post_js = (
        f"""fetch({json.dumps(target + "/chat/stream")}, {{method: "POST",
        headers: {{"Content-Type": "application/json"}},
        body: JSON.stringify({{message: "Who runs billing?"}})}}).catch(() => {{}});"""
        if post
        else ""
    )
    html = f"""<!doctype html><body><script>
      const url = {url};
      const img = new Image(); img.src = url + "&via=img";
      fetch(url + "&via=fetch-no-cors", {{mode: "no-cors"}}).catch(() => {{}});
      fetch(url + "&via=fetch-cors").catch(() => {{}});
      {post_js}
      const source = new EventSource(url + "&via=eventsource");
      source.onerror = () => source.close();
      window.tried = true;
    </script></body>""".encode()

    async def page(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"text/html; charset=utf-8")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": html})

    return page


def visit(browser: Any, page_url: str, recorder: Recorder, requests: int) -> None:
    """Open the foreign page until ``requests`` run requests reached the server (10 s at most)."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(page_url)
        page.wait_for_function("window.tried === true")
        deadline = time.monotonic() + 10
        while len(recorder.run_statuses()) < requests and time.monotonic() < deadline:
            page.wait_for_timeout(50)
        page.wait_for_timeout(300)  # anything slower would have shown up by now
    finally:
        context.close()
