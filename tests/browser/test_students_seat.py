"""Every lesson, exactly as shipped, run from a student's seat: JupyterLab, Chromium, Run All Cells.

nbval proves each cell prints what it should; it never looks at the page. Here
each notebook in ``notebooks/`` is copied as it is into a real ``jupyter lab``,
opened in a real Chromium, and run with the menu's Run → Run All Cells. Then the
page is read as a person reads it: no traceback or other stderr in any cell,
every widget drawn (not its text repr, not "Error displaying widget"), every
frame showing its page, every plot loaded, every code cell finished. One
full-page screenshot per lesson is saved as ``test-artifacts/seat_<lesson>.png``.

Outputs are cleared first (Edit → Clear Outputs of All Cells): the shipped
notebooks carry outputs and execution numbers, and only a cleared prompt
turning into ``[n]:`` proves that the cell ran in this kernel.

Two made-up notebooks, one broken in every way the lessons must not be and one
that never finishes, prove that each check can fail.
"""

from __future__ import annotations

import contextlib
import html
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import nbformat
import pytest
from playwright.sync_api import Error as PlaywrightError

from tests.support.browser import ARTIFACTS
from tests.support.jupyterlab import LabServer, run_jupyterlab
from tests.support.lessons import ROOT, CodeCell, code_cells, lesson_paths
from tests.support.notebook_page import code_notebook

# The first lesson also waits for JupyterLab to start. Lessons run in 15-40 s here.
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(600)]

LESSONS = lesson_paths()

RUN_TIMEOUT = 300.0  # for a whole lesson, on two shared cores
SETTLED = 3.0  # an idle kernel and no queued cell for this long: Run All is over
WIDGET_TIMEOUT = 20.0  # for every widget view to be drawn once the kernel is idle
FRAME_TIMEOUT = 20.0

# Environment that would send lesson 6 to a paid provider instead of the keyless mock.
PROVIDER_ENV = ("LAB_LLM", "LAB_MODEL", "OPENAI_API_KEY", "OPENAI_BASE_URL")

STDERR_MIME = "application/vnd.jupyter.stderr"
WIDGET_ERROR = "Error displaying widget"
WIDGET_LOADING = "Loading widget"
# What an output shows when JupyterLab falls back to text/plain: a widget's or view's
# repr (LiveView(...), HTML(value=...), VBox(children=...)) or a figure's.
UNDRAWN = re.compile(
    r"^(LiveView\(|(HTML|HTMLMath|Label|Button|Output|VBox|HBox|Box|GridBox|Accordion|Tab"
    r"|IntProgress|FloatProgress|Text|Textarea|Image)\(\w+=|<Figure size )"
)
# A traceback, or the last line of one (a SyntaxError shows no "Traceback" header).
ERROR_TEXT = re.compile(r"Traceback|^\s*\w*(Error|Exception)\b", re.MULTILINE)
ERROR_PAGE = re.compile(r"\b(404|Not Found|50[0-9]|599|Bad Gateway|Service Unavailable)\b")

KIT_PAGE = ROOT / "labsupport" / "static" / "index.html"
PROXY_SRC = re.compile(r"/proxy/\d+/")

# Each cell as a person sees it: prompt, outputs (text, chosen MIME type, what is drawn).
# A widget output has no MIME type attribute; its view carries `.jupyter-widgets`.
READ_CELLS = """() => Array.from(document.querySelectorAll('.jp-Notebook .jp-Cell')).map(cell => ({
  code: cell.classList.contains('jp-CodeCell'),
  prompt: (cell.querySelector('.jp-InputPrompt')?.textContent ?? '').trim(),
  outputs: Array.from(cell.querySelectorAll('.jp-OutputArea-output')).map(out => ({
    mime: out.getAttribute('data-mime-type'),
    text: out.innerText,
    widgets: out.querySelectorAll('.jupyter-widgets').length,
    cards: out.querySelectorAll('.lsv-card').length,
    images: Array.from(out.querySelectorAll('img')).map(
      img => ({src: (img.getAttribute('src') ?? '').slice(0, 40), width: img.naturalWidth})),
  })),
}))"""

# The notebook scrolls inside its own panel: a full-page screenshot needs a viewport
# as tall as the panel's content, and the panel scrolled back to the top.
EXTRA_HEIGHT = """() => {
  const outer = document.querySelector('.jp-NotebookPanel .jp-WindowedPanel-outer');
  return outer ? outer.scrollHeight - outer.clientHeight : 0;
}"""
SCROLL_TO_TOP = """() => {
  const outer = document.querySelector('.jp-NotebookPanel .jp-WindowedPanel-outer');
  if (outer) outer.scrollTop = 0;
}"""


@dataclass(frozen=True)
class Output:
    """One entry of an output area as drawn on the page."""

    mime: str | None
    text: str
    widgets: int
    cards: int
    images: list[dict[str, Any]]


@dataclass(frozen=True)
class Cell:
    """One code cell as drawn on the page, with its source from the notebook file."""

    source: CodeCell
    prompt: str
    outputs: list[Output]

    @property
    def name(self) -> str:
        return f"cell {self.prompt or '[?]'} `{self.source.first_line[:70]}`"


@pytest.fixture(scope="module")
def lab(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    # Depends on `browser` so that a missing Chromium skips before a server is started.
    workdir = tmp_path_factory.mktemp("seat")
    with contextlib.ExitStack() as stack:
        # The kernels inherit the server's environment: keep them on the keyless mock.
        with pytest.MonkeyPatch.context() as env:
            for name in PROVIDER_ENV:
                env.delenv(name, raising=False)
            server = stack.enter_context(run_jupyterlab(workdir))
        yield server


# -- driving the page, as a person does --------------------------------------------


def choose_menu(page: Any, menu: str, item: str) -> None:
    """Open ``menu`` in the menu bar and click ``item``."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{re.escape(menu)}$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{re.escape(item)}$")).click()


def open_notebook(page: Any, lab: LabServer, name: str) -> None:
    # `reset`: a fresh workspace, so the notebooks opened before this one stay closed.
    page.goto(lab.lab_url(name) + "&reset")
    page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=90_000)
    page.locator("#jp-main-statusbar").get_by_text("Idle").wait_for(timeout=90_000)


def kernel_idle(page: Any) -> bool:
    status: str = page.locator("#jp-main-statusbar").inner_text()
    return "Idle" in status


def read_cells(page: Any, sources: list[CodeCell]) -> list[Cell]:
    """The page's code cells, each paired with its source from the file the page opened."""
    raw: list[dict[str, Any]] = page.evaluate(READ_CELLS)
    code = [c for c in raw if c["code"]]
    assert len(code) == len(sources), f"{len(code)} code cells on the page, {len(sources)} in file"
    return [
        Cell(source, c["prompt"], [Output(**o) for o in c["outputs"]])
        for source, c in zip(sources, code, strict=True)
    ]


def wait_until_run_all_is_over(page: Any, sources: list[CodeCell], timeout: float) -> list[str]:
    """Wait until no cell is queued or running and the kernel has been idle a while.

    Run All stops at a cell that raises and leaves the rest unrun: that ends the
    wait too (the unrun cells are reported later). Returns the cells still
    running at ``timeout``, if any.
    """
    deadline = time.monotonic() + timeout
    settled_since: float | None = None
    while True:
        cells = read_cells(page, sources)
        running = [c.name for c in cells if c.prompt == "[*]:"]
        now = time.monotonic()
        if running or not kernel_idle(page):
            settled_since = None
        elif settled_since is None:
            settled_since = now
        elif now - settled_since >= SETTLED:
            return []
        if now > deadline:
            return running or ["(the kernel never went idle)"]
        time.sleep(0.25)


def wait_for_widgets(page: Any, timeout: float) -> None:
    """Give widget views time to be drawn: until none is still loading, or ``timeout``."""
    deadline = time.monotonic() + timeout
    outputs = page.locator(".jp-Notebook .jp-OutputArea")
    while time.monotonic() < deadline:
        if not any(WIDGET_LOADING in text for text in outputs.all_inner_texts()):
            return
        time.sleep(0.25)


# -- what a person would see as wrong ---------------------------------------------


def _tail(text: str, lines: int = 6) -> str:
    return "\n".join(text.splitlines()[-lines:])


def cell_problems(cells: list[Cell], shipped_cards: dict[int, int]) -> list[str]:
    """Unrun cells, red boxes, undrawn widgets and images, missing live-view cards.

    ``shipped_cards`` maps a cell's index to the number of live views its
    shipped outputs hold: that cell must draw at least as many cards.
    """
    problems: list[str] = []
    for cell in cells:
        if not re.fullmatch(r"\[\d+\]:", cell.prompt):
            problems.append(f"{cell.name}: never ran (prompt {cell.prompt!r})")
        for out in cell.outputs:
            text = out.text.strip()
            if out.mime == STDERR_MIME:
                # An exception, or any other red box: the lessons write nothing to stderr.
                kind = "error" if ERROR_TEXT.search(text) else "stderr"
                problems.append(f"{cell.name}: {kind} output:\n{_tail(text)}")
            if WIDGET_ERROR in text:
                problems.append(f"{cell.name}: {_tail(text, 2)}")
            if WIDGET_LOADING in text:
                problems.append(f"{cell.name}: a widget never finished loading: {text[:120]!r}")
            if out.mime == "text/plain" and UNDRAWN.match(text):
                problems.append(f"{cell.name}: shows a text repr, not the drawing: {text[:120]!r}")
            for image in out.images:
                if image["width"] == 0:
                    problems.append(f"{cell.name}: an image did not load ({image['src']}...)")
        cards = sum(out.cards for out in cell.outputs)
        wanted = shipped_cards.get(cell.source.index, 0)
        if cards < wanted:
            problems.append(f"{cell.name}: {cards} live-view card(s) drawn, {wanted} expected")
    return problems


def kit_page_title() -> str:
    match = re.search(r"<title>(.*?)</title>", KIT_PAGE.read_text(), re.DOTALL)
    assert match, f"no <title> in {KIT_PAGE}"
    return html.unescape(match.group(1)).strip()


def frame_problems(page: Any) -> list[str]:
    """Every frame in an output loads; one on a kernel server's proxy path shows the kit page."""
    title = kit_page_title()
    problems: list[str] = []
    frames = page.locator(".jp-OutputArea-output iframe")
    for i in range(frames.count()):
        element = frames.nth(i)
        src = element.get_attribute("src")
        frame = element.element_handle().content_frame()
        if frame is None:
            problems.append(f"frame {src!r} has no document")
            continue
        try:
            frame.wait_for_load_state("load", timeout=FRAME_TIMEOUT * 1000)
            shown = frame.title()
            body = frame.locator("body").inner_text(timeout=5_000)[:300]
        except PlaywrightError as exc:
            problems.append(f"frame {src!r} did not load: {exc}")
            continue
        if ERROR_PAGE.search(f"{shown}\n{body}"):
            problems.append(f"frame {src!r} shows an error page: {shown!r} {body!r}")
        elif PROXY_SRC.search(src or "") and (shown != title or frame.locator("#ask").count() != 1):
            problems.append(f"frame {src!r} is not the kit page (title {shown!r}, body {body!r})")
    return problems


def shipped_cards(path: Path) -> dict[int, int]:
    """How many live views each cell's shipped outputs hold (by their ``LiveView(...)`` text)."""
    nb = nbformat.read(path, as_version=4)
    counts: dict[int, int] = {}
    for index, cell in enumerate(nb.cells):
        views = [
            output
            for output in cell.get("outputs", [])
            if str(output.get("data", {}).get("text/plain", "")).startswith("LiveView(")
        ]
        if views:
            counts[index] = len(views)
    return counts


# -- the run, and what it leaves behind ---------------------------------------------


def run_all_as_a_student(page: Any, lab: LabServer, name: str, timeout: float) -> list[str]:
    """Open ``name``, clear its outputs, Run All Cells, and return what looks wrong."""
    path = lab.root / name
    sources = code_cells(path)
    open_notebook(page, lab, name)
    choose_menu(page, "Edit", "Clear Outputs of All Cells")
    choose_menu(page, "Run", "Run All Cells")
    still_running = wait_until_run_all_is_over(page, sources, timeout)
    problems = [f"{cell}: still running after {timeout:.0f} s" for cell in still_running]
    wait_for_widgets(page, WIDGET_TIMEOUT)
    problems += cell_problems(read_cells(page, sources), shipped_cards(path))
    problems += frame_problems(page)
    return problems


def save_full_page(page: Any, name: str) -> Path:
    """A PNG of the whole notebook, not just the part in the window."""
    size = page.viewport_size
    extra = int(page.evaluate(EXTRA_HEIGHT))
    if extra > 0:
        page.set_viewport_size({"width": size["width"], "height": size["height"] + extra})
        time.sleep(1.0)  # let JupyterLab lay the taller panel out
    page.evaluate(SCROLL_TO_TOP)
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def shut_down_kernel(lab: LabServer, name: str) -> None:
    """Shut the notebook's kernel down: it may hold servers and an nginx the run left behind."""
    headers = {"Authorization": f"token {lab.token}"}
    sessions = httpx.get(f"{lab.base_url}/api/sessions", headers=headers, timeout=10).json()
    for session in sessions:
        if session.get("path") == name:
            httpx.delete(
                f"{lab.base_url}/api/sessions/{session['id']}", headers=headers, timeout=60
            ).raise_for_status()


@contextlib.contextmanager
def student_page(
    browser: Any, lab: LabServer, name: str, *, shot: str | None = None
) -> Iterator[tuple[Any, list[str]]]:
    """A fresh page and the JavaScript errors it reports; screenshot and kernel shutdown after."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"JavaScript error on the page: {exc}"))
    try:
        yield page, errors
    finally:
        with contextlib.suppress(PlaywrightError):  # never hide the real failure behind this one
            save_full_page(page, shot or f"seat_{Path(name).stem}")
        shut_down_kernel(lab, name)
        context.close()


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda path: path.stem)
def test_run_all_cells_draws_every_output_without_errors(
    lesson: Path, lab: LabServer, browser: Any
) -> None:
    shutil.copy2(lesson, lab.root / lesson.name)
    started = time.monotonic()
    with student_page(browser, lab, lesson.name) as (page, errors):
        problems = run_all_as_a_student(page, lab, lesson.name, RUN_TIMEOUT)
    print(f"{lesson.stem}: opened, ran and checked in {time.monotonic() - started:.1f} s")
    problems += errors
    shot = ARTIFACTS / f"seat_{lesson.stem}.png"
    assert not problems, f"{lesson.name} (screenshot: {shot}):\n" + "\n".join(problems)


COURSE_PREFIX = "/course/streaming/"


@pytest.fixture(scope="module")
def lab_under_prefix(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    """A JupyterLab under a ``base_url``, as a course server or a reverse proxy runs it."""
    with pytest.MonkeyPatch.context() as env:
        for name in PROVIDER_ENV:
            env.delenv(name, raising=False)
        with run_jupyterlab(tmp_path_factory.mktemp("prefix"), prefix=COURSE_PREFIX) as server:
            yield server


def test_lesson_5_under_a_base_url_frames_its_page_under_the_prefix(
    lab_under_prefix: LabServer, browser: Any
) -> None:
    lesson = ROOT / "notebooks" / "05_serving_sse.ipynb"
    shutil.copy2(lesson, lab_under_prefix.root / lesson.name)
    with student_page(browser, lab_under_prefix, lesson.name, shot="seat_05_under_base_url") as (
        page,
        errors,
    ):
        problems = run_all_as_a_student(page, lab_under_prefix, lesson.name, RUN_TIMEOUT)
        sources = page.locator(".jp-OutputArea-output iframe").evaluate_all(
            "frames => frames.map(f => f.getAttribute('src'))"
        )
    assert not problems + errors, "\n".join(problems + errors)
    assert sources and all(
        # server.proxy_path: under the prefix, with the lab server's secret as ?token=
        re.fullmatch(f"{re.escape(COURSE_PREFIX)}proxy/\\d+/\\?token=[A-Za-z0-9_-]{{43}}", src)
        for src in sources
    ), sources


# -- controls: the checks above can fail --------------------------------------------

LOST_MODEL = {"model_id": "0" * 32, "version_major": 2, "version_minor": 0}
BROKEN_CELLS = [
    "from IPython.display import IFrame, display",
    "display({'text/plain': \"LiveView(outcome='finished', tokens=3, events=9)\"}, raw=True)",
    f"display({{'application/vnd.jupyter.widget-view+json': {LOST_MODEL!r}, 'text/plain': 'HTML()'}},"
    " raw=True)",
    "IFrame('/proxy/9/', width='100%', height=120)",  # nothing listens on port 9
    "import sys\nprint('a warning nobody asked for', file=sys.stderr)",
    "1 / 0",
    "print('after the error')",  # Run All stops before this one
]


def write_notebook(path: Path, cells: list[str], cards: dict[int, int] | None = None) -> None:
    """A made-up notebook; ``cards`` gives cells a shipped ``LiveView(...)`` output."""
    nb = code_notebook(cells)
    for index, count in (cards or {}).items():
        nb.cells[index].outputs = [
            nbformat.v4.new_output("execute_result", {"text/plain": "LiveView(...)"})
        ] * count
    nbformat.write(nb, path)


def test_control_a_broken_notebook_fails_every_check(lab: LabServer, browser: Any) -> None:
    name = "control_broken.ipynb"
    write_notebook(lab.root / name, BROKEN_CELLS, cards={len(BROKEN_CELLS) - 1: 1})
    with student_page(browser, lab, name) as (page, _errors):
        problems = run_all_as_a_student(page, lab, name, RUN_TIMEOUT)
    report = "\n".join(problems)
    expected = [
        "shows a text repr, not the drawing: \"LiveView(outcome='finished'",
        WIDGET_ERROR,
        "frame '/proxy/9/' shows an error page",
        "stderr output:\na warning nobody asked for",
        "cell [6]: `1 / 0`: error output:",
        "ZeroDivisionError",
        "`print('after the error')`: never ran",
        "`print('after the error')`: 0 live-view card(s) drawn, 1 expected",
    ]
    missing = [part for part in expected if part not in report]
    assert not missing, f"not reported: {missing}\nreport:\n{report}"


def test_control_a_cell_that_never_ends_is_reported(lab: LabServer, browser: Any) -> None:
    name = "control_endless.ipynb"
    write_notebook(lab.root / name, ["import time", "time.sleep(600)", "print('done')"])
    with student_page(browser, lab, name) as (page, _errors):
        problems = run_all_as_a_student(page, lab, name, timeout=10)
    report = "\n".join(problems)
    assert "cell [*]: `time.sleep(600)`: still running after 10 s" in report, report
    assert "`print('done')`: never ran" in report, report
