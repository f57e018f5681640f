"""Every package a lesson imports comes with ``pip install .``, or is a documented, guarded extra.

A student with the base install must be able to run every lesson. The imports
are read with ``ast`` (nothing is imported): the import statements in the code
cells of ``notebooks/`` and ``solution/``, and, through ``labsupport``, every
module of the package those reach, transitively. Each top-level module is mapped
to its distributions (what ``importlib.metadata.packages_distributions()`` gives on 3.11+) and
must be one the base install brings: ``[project] dependencies`` of
pyproject.toml, resolved through the installed distributions' own
requirements, with their markers evaluated and no extra that was not asked for.

An extra may be used only where the lesson checks for it first
(``try/except ImportError`` or ``importlib.util.find_spec``), and only an extra
listed in ``OPTIONAL`` below with the reason it is optional.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.support.lessons import (
    NOTEBOOKS,
    PACKAGE,
    ROOT,
    SOLUTIONS,
    Import,
    as_python,
    find_imports,
    lesson_imports,
    lesson_paths,
    parse,
    reached_imports,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@dataclass(frozen=True)
class Extra:
    """A distribution a lesson may use although the base install lacks it."""

    extra: str  # the pyproject.toml extra that installs it
    reason: str


OPTIONAL: dict[str, Extra] = {
    "semantic-kernel": Extra(
        "sk",
        "lesson 6's closing section shows the same tool call through Semantic Kernel; "
        "the lesson runs it only if importlib.util.find_spec('semantic_kernel') finds it, "
        "and it pins pydantic below 2.14, so it stays out of the base install",
    ),
    "streamlit": Extra(
        "streamlit",
        "the Streamlit front end (labsupport/streamlit_app.py) is started with "
        "`streamlit run`, next to the lessons, never from a lesson cell",
    ),
}

LESSONS = [*lesson_paths(NOTEBOOKS), *lesson_paths(SOLUTIONS)]


def pyproject() -> dict:  # type: ignore[type-arg]
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _applies(requirement: Requirement, extras: Iterable[str]) -> bool:
    """Whether ``requirement`` is installed when its parent is installed with ``extras``."""
    if requirement.marker is None:
        return True
    return any(requirement.marker.evaluate({"extra": extra}) for extra in ("", *extras))


def resolve(requirements: Iterable[str]) -> tuple[set[str], set[str]]:
    """The distributions ``requirements`` bring, transitively, through the installed metadata.

    Returns ``(names, missing)``: canonical names of every distribution pip
    installs for them, and those among them that are not installed here (their
    own requirements cannot be followed).

    Example: ["uvicorn[standard]"] brings uvicorn, click, h11 and, through the
    `standard` extra, uvloop and httptools; ["uvicorn"] does not bring uvloop.
    """
    names: set[str] = set()
    missing: set[str] = set()
    seen: set[tuple[str, frozenset[str]]] = set()
    todo = [Requirement(text) for text in requirements]
    todo = [r for r in todo if _applies(r, ())]
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        key = (name, frozenset(requirement.extras))
        if key in seen:
            continue
        seen.add(key)
        names.add(name)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            missing.add(name)
            continue
        for text in dist.requires or []:
            inner = Requirement(text)
            if _applies(inner, requirement.extras):
                todo.append(inner)
    return names, missing


@cache
def base_install() -> tuple[frozenset[str], frozenset[str]]:
    """What ``pip install .`` brings (canonical names), and which of those are missing here."""
    names, missing = resolve(pyproject()["project"]["dependencies"])
    return frozenset(names), frozenset(missing)


def top_level_names(dist: metadata.Distribution) -> set[str]:
    """The importable top-level names a distribution installs.

    ``top_level.txt`` when the wheel has one, else inferred from its files, as
    ``packages_distributions()`` does from Python 3.11 on (3.10 reads only the file).
    """
    listed = (dist.read_text("top_level.txt") or "").split()
    if listed:
        return set(listed)
    names = set()
    for path in dist.files or ():
        top = path.parts[0] if len(path.parts) > 1 else inspect.getmodulename(str(path))
        if top and "." not in top:
            names.add(top)
    return names


@cache
def providers() -> dict[str, list[str]]:
    """Top-level module name -> canonical names of the installed distributions providing it."""
    found: dict[str, set[str]] = {}
    for dist in metadata.distributions():
        for module in top_level_names(dist):
            found.setdefault(module, set()).add(canonicalize_name(dist.metadata["Name"]))
    return {module: sorted(names) for module, names in found.items()}


def problems(
    imports: Iterable[Import],
    base: frozenset[str],
    optional: Mapping[str, Extra] = OPTIONAL,
    provided_by: Mapping[str, list[str]] | None = None,
) -> list[str]:
    """What a student with the base install would hit: one message per offending import."""
    provided_by = providers() if provided_by is None else provided_by
    found: list[str] = []
    for imp in reached_imports(list(imports)):
        if imp.top in sys.stdlib_module_names or imp.top == PACKAGE:
            continue
        origin = " → ".join([*imp.via, f"{imp.where}: `{imp.statement}`"])
        dists = provided_by.get(imp.top, [])
        if not dists:
            found.append(f"{origin}: no installed distribution provides {imp.top!r}")
        elif base.isdisjoint(dists):
            extras = {d: optional[d] for d in dists if d in optional}
            needed = " or ".join(repr(d) for d in dists)
            if not extras:
                found.append(
                    f"{origin}: needs distribution {needed}, which `pip install .` does not "
                    "bring (add it to [project] dependencies, or make it a documented extra)"
                )
            elif not imp.guarded:
                named = ", ".join(f"{d!r} (extra {e.extra!r})" for d, e in extras.items())
                found.append(
                    f"{origin}: needs distribution {named}, which `pip install .` does not "
                    f"bring, and {imp.top!r} is imported without a guard (check "
                    f"importlib.util.find_spec({imp.top!r}) or catch ImportError first)"
                )
    return found


def _lesson_id(path: Path) -> str:
    return f"{path.parent.name}/{path.stem}"


def test_the_base_install_is_complete_here() -> None:
    names, missing = base_install()
    assert {"pydantic", "ipywidgets", "jupyterlab", "ipython", "pydantic-core"} <= names
    assert not missing, f"the base install is incomplete here: {sorted(missing)} not installed"


def test_every_optional_distribution_is_an_extra_of_pyproject_and_not_in_the_base() -> None:
    declared = pyproject()["project"]["optional-dependencies"]
    base, _ = base_install()
    for dist, extra in OPTIONAL.items():
        in_extra = {canonicalize_name(Requirement(r).name) for r in declared.get(extra.extra, [])}
        assert dist in in_extra, f"{dist!r} is not in the {extra.extra!r} extra: {in_extra}"
        assert dist not in base, f"{dist!r} comes with the base install: drop it from OPTIONAL"


@pytest.mark.parametrize("lesson", LESSONS, ids=_lesson_id)
def test_lesson_imports_only_what_the_base_install_brings(lesson: Path) -> None:
    base, _ = base_install()
    imports = lesson_imports(lesson)
    assert imports, f"{lesson.name}: no imports found at all"
    found = problems(imports, base)
    assert not found, "\n".join(found)


# -- the checker itself, on made-up cells -------------------------------------------


def cell_imports(source: str) -> list[Import]:
    where = "notebooks/99_made_up.ipynb, code cell 1"
    return find_imports(parse(as_python(source), where), where)


FIND_SPEC_GUARD = (
    "import importlib.util\n"
    "HAVE_SK = importlib.util.find_spec('semantic_kernel') is not None\n"
    "if not HAVE_SK:\n"
    "    print('skipping')\n"
    "else:\n"
    "    from semantic_kernel import Kernel\n"
)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import json, asyncio\nfrom labsupport import MockLLM", []),
        ("await asyncio.sleep(0)\n%time x = 1\nimport ipywidgets", []),
        ("import semantic_kernel", ["'semantic-kernel' (extra 'sk')", "without a guard"]),
        ("try:\n    import semantic_kernel\nexcept ImportError:\n    pass", []),
        (FIND_SPEC_GUARD, []),
        (
            "import importlib.util\n"
            "if importlib.util.find_spec('semantic_kernel') is None:\n"
            "    import semantic_kernel\n",
            ["'semantic-kernel' (extra 'sk')", "without a guard"],
        ),
        ("import hypothesis", ["`import hypothesis`", "'hypothesis'", "does not bring"]),
        (
            "try:\n    import hypothesis\nexcept ImportError:\n    pass",
            ["'hypothesis'", "make it a documented extra"],
        ),
        ("import no_such_module_anywhere", ["no installed distribution provides"]),
        (
            "from labsupport import streamlit_app",
            [
                "`from labsupport import streamlit_app` → labsupport.streamlit_app → "
                "labsupport/streamlit_app.py",
                "`import streamlit`",
                "'streamlit' (extra 'streamlit')",
            ],
        ),
        ("if TYPE_CHECKING:\n    import hypothesis", []),
    ],
    ids=[
        "stdlib-and-kit",
        "top-level-await-and-magic",
        "extra-unguarded",
        "extra-in-try-except",
        "extra-behind-find-spec-flag",
        "extra-in-the-wrong-branch",
        "test-extra",
        "test-extra-guarded-but-not-documented",
        "not-installed",
        "extra-through-the-package",
        "type-checking-only",
    ],
)
def test_checker_names_the_lesson_the_import_and_the_distribution(
    source: str, expected: list[str]
) -> None:
    base, _ = base_install()
    found = problems(cell_imports(source), base)
    if not expected:
        assert found == []
        return
    assert len(found) >= 1, found
    message = found[0]
    assert "notebooks/99_made_up.ipynb, code cell 1" in message
    for part in expected:
        assert part in message, message


def test_resolve_follows_only_the_extras_asked_for_and_evaluates_markers() -> None:
    plain, _ = resolve(["uvicorn"])
    standard, _ = resolve(["uvicorn[standard]"])
    assert "uvicorn" in plain and "h11" in plain
    assert "uvloop" not in plain and "httptools" not in plain
    assert {"httptools", "websockets"} <= standard
    never, _ = resolve(['nbclient; python_version < "3"'])
    assert never == set()
    # The kit's own test extra is not part of the base install.
    base, _ = base_install()
    assert "hypothesis" not in base and "playwright" not in base
