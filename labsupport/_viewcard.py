"""The live view's card: its widgets, created once, and the redraw that brings them up to date.

``view.py`` runs the stream and decides *when* to redraw; this module holds *what*
the card is made of. The markup itself is in ``_viewhtml.py``.

Accessible streaming: the status line, whose elapsed time ticks ten times a second,
is not a live region; a visually hidden ``role="status"`` widget beside it changes
only when the step changes, and reads the answer out once it is complete. The
answer is ``aria-busy`` while it streams; a failure is a ``role="alert"``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as widgets
from ipywidgets.widgets.widget_string import HTMLStyle

from . import _viewhtml as markup
from .runstate import RunState

__all__ = ["Card"]


class Card:
    """The card's widgets; ``draw(state, ...)`` shows ``state``, ``on_stop`` is the Stop button."""

    def __init__(self, title: str | None, state: RunState, on_stop: Callable[[], None]) -> None:
        # Every widget is created with its first frame's values and classes, and the plain
        # ones share one layout and one style: in a kernel each value set after creation
        # and each layout or style object is one more comm message.
        layout, style = widgets.Layout(), HTMLStyle()

        def html(value: str, name: str | None = None, **options: Any) -> widgets.HTML:
            classes = (f"lsv-{name}-box",) if name else ()
            options.setdefault("layout", layout)
            return widgets.HTML(value, style=style, _dom_classes=classes, **options)

        # The card's stylesheet travels with the title, which never changes.
        self.title = html(markup.CSS + markup.title_html(title))
        self.status = html(
            markup.status_html(state, 0.0), "status", layout=widgets.Layout(flex="1 1 auto")
        )
        self.live = html(markup.live_html(state), "live")
        self.stop_button = widgets.Button(
            description="Stop",
            icon="stop",
            button_style="danger",
            tooltip="Stop the run: the stream is closed, no further tokens are generated or billed",
            layout=widgets.Layout(width="auto", flex="0 0 auto"),
            _dom_classes=("lsv-stop",),
        )
        self.stop_button.on_click(lambda _button: on_stop())
        header = widgets.HBox(
            [self.status, self.live, self.stop_button],
            layout=widgets.Layout(align_items="center", justify_content="space-between"),
        )
        self.steps = html(markup.steps_html(state.steps))
        self.thinking = widgets.Accordion(
            children=[self.steps],
            titles=(markup.steps_title(state, 0.0),),
            selected_index=0,
            layout=layout,
            _dom_classes=("lsv-thinking",),
        )
        self.answer = html(markup.answer_html(state), "answer")
        self.error = html(markup.error_html(state), "error")
        self.sources = html(markup.sources_html(state), "sources")
        self.footer = html(markup.footer_html(state, 0), "footer")
        boxes = [self.answer, self.error, self.sources, self.footer]
        self.widget = widgets.VBox(
            [self.title, header, self.thinking, *boxes],
            layout=layout,
            _dom_classes=("lsv-card",),
        )

    def draw(self, state: RunState, elapsed: float, redraws: int) -> bool:
        """Bring every widget up to date (unchanged values send nothing); True if it has ended."""
        self.status.value = markup.status_html(state, elapsed)
        self.live.value = markup.live_html(state)
        self.steps.value = markup.steps_html(state.steps)
        self.thinking.set_title(0, markup.steps_title(state, elapsed))
        self.answer.value = markup.answer_html(state)
        self.error.value = markup.error_html(state)
        self.sources.value = markup.sources_html(state)
        self.footer.value = markup.footer_html(state, redraws)
        if not state.ended:
            return False
        with self.stop_button.hold_sync():
            self.stop_button.disabled = True
            self.stop_button.button_style = ""
        if state.outcome == "finished":
            self.thinking.selected_index = None
        return True
