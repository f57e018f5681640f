"""The lessons as shipped: where they live, and their code cells as plain Python.

Tests that look at lessons read the files at test time, never a cached copy or a
cell index: the lessons are edited all the time, and what counts is what a
student opens today.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
from IPython.core.inputtransformer2 import TransformerManager

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
SOLUTIONS = ROOT / "solution"


@dataclass(frozen=True)
class CodeCell:
    """One code cell of a lesson: its position among all cells and its source as Python."""

    index: int
    source: str

    @property
    def first_line(self) -> str:
        """The cell's first non-blank line, to name the cell in a message."""
        return next((line.strip() for line in self.source.splitlines() if line.strip()), "")


def lesson_paths(folder: Path = NOTEBOOKS) -> list[Path]:
    """The lesson notebooks in ``folder`` (``NN_name.ipynb``), in lesson order."""
    return sorted(folder.glob("[0-9][0-9]_*.ipynb"))


def code_cells(path: Path) -> list[CodeCell]:
    """The lesson's code cells, with IPython syntax (``%magic``, ``!cmd``) turned into Python.

    A cell's index counts every cell, markdown included, so it matches the
    position of the same cell in JupyterLab's page.
    """
    nb = nbformat.read(path, as_version=4)
    return [
        CodeCell(index, as_python(cell.source))
        for index, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
    ]


def as_python(source: str) -> str:
    """A cell's source as the kernel runs it: IPython's own transformer turns
    ``%magic`` and ``!cmd`` lines into calls, so ``ast`` can parse the cell."""
    transformed: str = TransformerManager().transform_cell(source)
    return transformed


# -- what a lesson imports ------------------------------------------------------------

PACKAGE = "labsupport"
ANY = "*"  # a guard that covers every import under it (try/except ImportError)
_CATCHES_IMPORT_ERROR = {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}
_TRY: tuple[type[ast.stmt], ...] = (
    (ast.Try, ast.TryStar) if sys.version_info >= (3, 11) else (ast.Try,)
)


@dataclass(frozen=True)
class Import:
    """One import statement: the module it names, where it is, and what guards it.

    ``names`` are the names of a ``from`` import (any of them may be a submodule).
    ``guards`` holds the top-level modules whose absence the statement is guarded
    against (``find_spec`` checks), or ``ANY`` under ``try/except ImportError``.
    ``via`` is empty for a lesson's own import; for one reached through the package,
    it starts with the lesson's import that led there, then each package module on the way.
    """

    module: str
    names: tuple[str, ...]
    where: str
    guards: frozenset[str] = frozenset()
    via: tuple[str, ...] = ()

    @property
    def top(self) -> str:
        return self.module.split(".")[0]

    @property
    def guarded(self) -> bool:
        return ANY in self.guards or self.top in self.guards

    @property
    def statement(self) -> str:
        if self.names:
            return f"from {self.module} import {', '.join(self.names)}"
        return f"import {self.module}"


def parse(source: str, where: str) -> ast.Module:
    """Parse a cell or a module; a notebook cell may ``await`` at top level."""
    flags = ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    tree: ast.Module = compile(source, where, "exec", flags=flags)
    return tree


def _spec_check(test: ast.expr, flags: dict[str, tuple[str, bool]]) -> tuple[str, bool] | None:
    """``(module, found)`` if ``test`` checks that ``module`` is installed, else None.

    ``found`` says whether the test is true when the module is there. Understood:
    ``find_spec("m")``, ``... is None``, ``... is not None``, ``not ...``, and a
    name assigned one of those earlier (``HAVE_SK = find_spec("m") is not None``).
    """
    if isinstance(test, ast.Call):
        func = test.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        first = test.args[0] if test.args else None
        if name == "find_spec" and isinstance(first, ast.Constant) and isinstance(first.value, str):
            return first.value.split(".")[0], True
        return None
    if isinstance(test, ast.Name):
        return flags.get(test.id)
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        inner = _spec_check(test.operand, flags)
        return (inner[0], not inner[1]) if inner else None
    if (
        isinstance(test, ast.Compare)
        and len(test.ops) == 1
        and isinstance(test.comparators[0], ast.Constant)
        and test.comparators[0].value is None
    ):
        inner = _spec_check(test.left, flags)
        if inner is None:
            return None
        negate = isinstance(test.ops[0], (ast.Is, ast.Eq))
        return inner[0], inner[1] != negate
    return None


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    if handler.type is None:
        return True
    types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(getattr(t, "id", getattr(t, "attr", None)) in _CATCHES_IMPORT_ERROR for t in types)


def _is_type_checking(test: ast.expr) -> bool:
    return getattr(test, "id", getattr(test, "attr", None)) == "TYPE_CHECKING"


def _absolute(node: ast.ImportFrom, package: str | None) -> str:
    if not node.level:
        return node.module or ""
    if package is None:
        raise ValueError(f"relative import outside a package: line {node.lineno}")
    parts = package.split(".")
    base = parts[: len(parts) - node.level + 1]
    return ".".join([*base, node.module] if node.module else base)


def find_imports(
    tree: ast.Module,
    where: str,
    *,
    package: str | None = None,
    flags: dict[str, tuple[str, bool]] | None = None,
) -> list[Import]:
    """Every import in ``tree`` that can run, with its guards.

    Imports under ``if TYPE_CHECKING:`` never run and are left out. ``flags``
    collects names assigned a ``find_spec`` check; pass the same dict for each
    cell of a lesson, so a flag set in one cell guards an import in a later one.
    """
    flags = {} if flags is None else flags
    found: list[Import] = []

    def visit(node: ast.AST, guards: frozenset[str]) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append(Import(alias.name, (), f"{where}, line {node.lineno}", guards))
            return
        if isinstance(node, ast.ImportFrom):
            names = tuple(alias.name for alias in node.names)
            module = _absolute(node, package)
            found.append(Import(module, names, f"{where}, line {node.lineno}", guards))
            return
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            check = _spec_check(node.value, flags)
            if isinstance(target, ast.Name) and check is not None:
                flags[target.id] = check
        if isinstance(node, ast.If):
            if _is_type_checking(node.test):
                for child in node.orelse:
                    visit(child, guards)
                return
            check = _spec_check(node.test, flags)
            body, orelse = guards, guards
            if check is not None:
                module, found_if_true = check
                if found_if_true:
                    body = guards | {module}
                else:
                    orelse = guards | {module}
            visit(node.test, guards)
            for child in node.body:
                visit(child, body)
            for child in node.orelse:
                visit(child, orelse)
            return
        if isinstance(node, _TRY):
            body = guards | {ANY} if any(map(_catches_import_error, node.handlers)) else guards
            for child in node.body:
                visit(child, body)
            for child in [*node.handlers, *node.orelse, *node.finalbody]:
                visit(child, guards)
            return
        for child in ast.iter_child_nodes(node):
            visit(child, guards)

    visit(tree, frozenset())
    return found


def lesson_imports(path: Path) -> list[Import]:
    """Every import in the lesson's code cells, in order, named by lesson and cell."""
    flags: dict[str, tuple[str, bool]] = {}
    found: list[Import] = []
    for number, cell in enumerate(code_cells(path), start=1):
        where = f"{path.relative_to(ROOT)}, code cell {number} `{cell.first_line[:60]}`"
        found += find_imports(parse(cell.source, where), where, flags=flags)
    return found


def _module_file(module: str) -> Path | None:
    """The source file of a module of the kit's package, or None if it is not one."""
    if module != PACKAGE and not module.startswith(PACKAGE + "."):
        return None
    base = ROOT.joinpath(*module.split("."))
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def _modules_run_by(imp: Import) -> list[str]:
    """The package modules an import executes: each parent package, then the module and any
    submodule a ``from`` import names (``from labsupport import proxy``)."""
    parts = imp.module.split(".")
    named = [".".join(parts[:i]) for i in range(1, len(parts) + 1)]
    named += [f"{imp.module}.{name}" for name in imp.names]
    return [m for m in named if _module_file(m) is not None]


def reached_imports(imports: list[Import]) -> list[Import]:
    """The imports outside the package that ``imports`` run, directly or through the package.

    Each package module the lesson reaches is parsed (with ``ast``, never
    imported) and followed, transitively; a guard on the way covers what is
    beneath it, and ``via`` records the path.
    """
    outside: list[Import] = []
    seen: set[tuple[str, frozenset[str]]] = set()
    todo = list(imports)
    while todo:
        imp = todo.pop(0)
        if imp.top != PACKAGE:
            outside.append(imp)
            continue
        for module in _modules_run_by(imp):
            if (module, imp.guards) in seen:
                continue
            seen.add((module, imp.guards))
            path = _module_file(module)
            assert path is not None
            package = module if path.name == "__init__.py" else module.rpartition(".")[0]
            where = str(path.relative_to(ROOT))
            for inner in find_imports(parse(path.read_text(), where), where, package=package):
                # `via` starts at the lesson's own import, then each package module on the way.
                via = (*(imp.via or (f"{imp.where}: `{imp.statement}`",)), module)
                todo.append(
                    Import(inner.module, inner.names, inner.where, inner.guards | imp.guards, via)
                )
    return outside
