"""Packaging: environment.yml (Binder) and pyproject.toml declare the same dependencies."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]


def pyproject() -> dict:  # type: ignore[type-arg]
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def environment() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((ROOT / "environment.yml").read_text())


def pip_section() -> list[str]:
    for dep in environment()["dependencies"]:
        if isinstance(dep, dict) and "pip" in dep:
            return list(dep["pip"])
    raise AssertionError("environment.yml has no pip: section")


def as_map(reqs: list[str]) -> dict[str, Requirement]:
    """By name, and by name plus marker for a package pinned per Python (``ipykernel; 3.10``)."""
    parsed = [Requirement(r) for r in reqs]
    return {r.name.lower() + (f"; {r.marker}" if r.marker else ""): r for r in parsed}


def test_environment_yml_and_pyproject_agree_on_runtime_dependencies() -> None:
    declared = as_map(pyproject()["project"]["dependencies"])
    binder = as_map([r for r in pip_section() if not r.startswith("-")])
    assert set(binder) == set(declared), "same packages in both files"
    for name, req in declared.items():
        assert binder[name].specifier == req.specifier, f"{name}: {binder[name]} vs {req}"
        assert binder[name].extras == req.extras, f"{name}: extras differ"


def test_environment_yml_installs_the_kit_and_the_proxy() -> None:
    pip = pip_section()
    assert "-e ." in pip
    proxy = as_map([r for r in pip if not r.startswith("-")])["jupyter-server-proxy"]
    assert proxy.specifier == SpecifierSet(">=4.4")
    assert "conda-forge" in environment()["channels"]


def test_binder_python_satisfies_requires_python() -> None:
    python = next(
        d for d in environment()["dependencies"] if isinstance(d, str) and d.startswith("python=")
    )
    version = python.split("=", 1)[1]
    assert SpecifierSet(pyproject()["project"]["requires-python"]).contains(version + ".0")


def test_key_lower_bounds_are_declared() -> None:
    declared = as_map(pyproject()["project"]["dependencies"])
    newer = declared['ipykernel; python_version >= "3.11"'].specifier
    assert newer.contains("7.4.0") and not newer.contains("7.3.9")
    # ipykernel 7.4 needs Python 3.11; on 3.10 the lessons pass from 7.0.1 on.
    older = declared['ipykernel; python_version < "3.11"'].specifier
    assert older.contains("7.0.1") and older.contains("7.3.0") and not older.contains("6.31.0")
    assert not declared["fastapi"].specifier.contains("0.134.0")
    assert not declared["ipywidgets"].specifier.contains("9.0.0")
    assert not declared["jupyterlab"].specifier.contains("3.6.0")
    for name in ("nbval", "openai", "httpx", "httpx-sse", "uvicorn"):
        assert name in declared or name in as_map(
            pyproject()["project"]["optional-dependencies"]["test"]
        )


def test_requires_python_is_the_range_kit_py_supports() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("kit", ROOT / "kit.py")
    assert spec is not None and spec.loader is not None
    kit = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(kit)
    stated = SpecifierSet(pyproject()["project"]["requires-python"])
    for minor in range(6, 16):
        assert stated.contains(f"3.{minor}.0") == ((3, minor) in kit.SUPPORTED), f"3.{minor}"
