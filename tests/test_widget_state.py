"""A lesson opened before it runs draws its widgets: every view's state is saved in the notebook.

JupyterLab, nbviewer and GitHub draw a widget output from the notebook's
``widgets`` metadata (``application/vnd.jupyter.widget-state+json``). An output
whose model is missing there shows as its text repr (``LiveView(...)``) or as
"Error displaying widget". The browser test ``tests/browser/test_first_look.py``
looks at the same notebooks in a real JupyterLab.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted([*ROOT.glob("notebooks/*.ipynb"), *ROOT.glob("solution/*.ipynb")])
VIEW = "application/vnd.jupyter.widget-view+json"
STATE = "application/vnd.jupyter.widget-state+json"


def view_models(nb: Any) -> list[str]:
    """The model id of every widget output, in cell order."""
    return [
        output["data"][VIEW]["model_id"]
        for cell in nb.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if VIEW in output.get("data", {})
    ]


def saved_state(nb: Any) -> dict[str, Any]:
    state: dict[str, Any] = nb.metadata.get("widgets", {}).get(STATE, {}).get("state", {})
    return state


def references(model: dict[str, Any]) -> list[str]:
    """The ids of the models a model's state points at (``IPY_MODEL_<id>``), e.g. a box's children."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str) and value.startswith("IPY_MODEL_"):
            found.append(value.removeprefix("IPY_MODEL_"))
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)

    walk(model.get("state", {}))
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_widget_output_and_what_it_shows_has_saved_state(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    state = saved_state(nb)
    missing: list[str] = []
    pending = view_models(nb)
    seen: set[str] = set()
    while pending:
        model_id = pending.pop()
        if model_id in seen:
            continue
        seen.add(model_id)
        if model_id not in state:
            missing.append(model_id)
            continue
        pending += references(state[model_id])
    assert not missing, (
        f"{path.name}: {len(missing)} widget model(s) without saved state; "
        "rebuild with: python tools/build_notebooks.py"
    )


def test_the_check_can_fail_on_a_view_without_state() -> None:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("view")
    cell.outputs = [
        nbformat.v4.new_output("display_data", data={VIEW: {"model_id": "abc", "version_major": 2}})
    ]
    nb.cells = [cell]
    assert view_models(nb) == ["abc"]
    assert saved_state(nb) == {}
    box = {"state": {"children": ["IPY_MODEL_x", "IPY_MODEL_y"], "layout": "IPY_MODEL_z"}}
    assert sorted(references(box)) == ["x", "y", "z"]
