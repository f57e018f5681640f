"""Through a real JupyterLab's jupyter-server-proxy, the stream stays a stream.

A remote JupyterLab (Binder, a hub) reaches the lesson's server only through
``/proxy/<port>/``. jupyter-server-proxy streams a response only when the
request's ``Accept`` is exactly ``text/event-stream``; otherwise it buffers the
whole answer and the user sees it at the end. These tests measure when the first
event arrives compared with the end of the stream, and drive the page through it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from labsupport import MockLLM
from labsupport.kernel_server import ServerHandle, start_server
from labsupport.lab_url import with_token
from labsupport.server import ServerSettings, create_app
from tests.support.browser import save_screenshot
from tests.support.jupyterlab import LabServer, run_jupyterlab

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

QUESTION = "Who runs billing?"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    with run_jupyterlab(Path(tmp_path_factory.mktemp("proxy"))) as server:
        yield server


@pytest.fixture(scope="module")
def server() -> Iterator[ServerHandle]:
    # About 2.5 s from the first event to the last: buffering would be unmistakable.
    llm = MockLLM(ttft=0.3, tokens_per_second=15, tool_delay=0.2)
    with start_server(create_app(ServerSettings(llm=llm)), name="test_proxy") as handle:
        yield handle


def proxied(lab: LabServer, server: ServerHandle, path: str) -> str:
    """The proxied URL of ``path``, with the lab server's secret as ``?token=``."""
    return with_token(f"{lab.base_url}/proxy/{server.port}/{path}", server.token)


@pytest.fixture(scope="module")
def jupyter(lab: LabServer) -> Iterator[httpx.Client]:
    """A client logged in to JupyterLab by its cookie, as a browser is.

    Through the proxy both secrets meet: Jupyter reads ``?token=`` and ``Authorization``
    as its own token first, so the lab server's secret (in ``?token=``) would hide
    Jupyter's from it; a logged-in cookie lets Jupyter ignore a token it does not know.
    """
    with httpx.Client(timeout=30) as client:
        client.get(f"{lab.base_url}/api/status", params={"token": lab.token}).raise_for_status()
        assert client.cookies, "JupyterLab set no login cookie"
        yield client


def arrivals(response: httpx.Response) -> list[tuple[float, str]]:
    """(arrival time, event name) for each block, as the client receives them."""
    return [
        (time.monotonic(), line.removeprefix("event: "))
        for line in response.iter_lines()
        if line.startswith("event: ")
    ]


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_first_event_arrives_long_before_the_stream_ends(
    lab: LabServer, server: ServerHandle, jupyter: httpx.Client, method: str
) -> None:
    url = proxied(lab, server, "chat/stream")
    if method == "GET":
        url = url.replace("?", f"?message={quote(QUESTION)}&")
    body: dict[str, Any] = {"json": {"message": QUESTION}} if method == "POST" else {}
    with jupyter.stream(method, url, headers={"Accept": "text/event-stream"}, **body) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        seen = arrivals(response)
    assert seen[0][1] == "status"
    assert seen[-1][1] == "done"
    assert seen[-1][0] - seen[0][0] > 1.5, "the proxy buffered the stream"


def test_validation_errors_pass_through_the_proxy(
    lab: LabServer, server: ServerHandle, jupyter: httpx.Client
) -> None:
    response = jupyter.post(
        proxied(lab, server, "chat/stream"),
        json={"message": ""},
        headers={"Accept": "text/event-stream"},
    )
    assert response.status_code == 422
    assert response.json() == {"detail": "field 'message' must not be empty"}


def test_without_the_secret_the_proxy_passes_on_the_refusal(
    lab: LabServer, server: ServerHandle, jupyter: httpx.Client
) -> None:
    before = jupyter.get(proxied(lab, server, "stats")).json()["runs_started"]
    plain = f"{lab.base_url}/proxy/{server.port}/chat/stream"
    response = jupyter.post(plain, json={"message": QUESTION})
    assert response.status_code == 401
    assert "server.url" in response.json()["detail"]
    assert jupyter.get(proxied(lab, server, "stats")).json()["runs_started"] == before


@pytest.mark.browser
@pytest.mark.parametrize("mode", ["eventsource", "fetch"])
def test_page_streams_through_the_proxy(
    lab: LabServer, server: ServerHandle, browser: Any, mode: str
) -> None:
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    try:
        page = context.new_page()
        page.goto(f"{lab.base_url}/api/status?token={lab.token}")  # Jupyter's login cookie
        page.goto(proxied(lab, server, ""))
        page.check(f"#mode-{mode}")
        page.click("#ask")
        lengths: list[int] = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and page.evaluate("document.body.dataset.state") in (
            "running",
            "idle",
        ):
            lengths.append(len(page.text_content("#answer") or ""))
            page.wait_for_timeout(50)
        final = page.text_content("#answer") or ""
        assert page.evaluate("document.body.dataset.state") == "finished"
        assert "Dana Okafor" in final
        partial = {n for n in lengths if 0 < n < len(final)}
        assert len(partial) >= 5, f"the page got the answer in one piece: {lengths}"
        save_screenshot(page, f"page-{mode}-through-proxy")
    finally:
        context.close()
