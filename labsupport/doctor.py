"""``python -m labsupport.doctor``: check a student's environment and print a fix for each problem.

What an instructor runs first when a breakout pair is stuck. It checks the
Python version, every dependency against the versions the kit declares, the
kernel that notebooks will run in, the ipywidgets front end, that a server
can listen on loopback, which model lesson 6 talks to, whether a lab server on
this machine answers without its secret, and what pip cannot install (nginx, for
lessons 7 and 8, and redis-server, for lesson 8). It never prints a secret.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

from .lab_url import TOKEN_ENV  # these two: the standard library only
from .nginx_binary import INSTALL_HINT, find_nginx
from .open_servers import open_lab_servers
from .redis_server import INSTALL_HINT as REDIS_INSTALL_HINT
from .redis_server import find_redis_server

__all__ = ["Finding", "main", "run_checks"]

# The Pythons pyproject.toml's requires-python allows (a test keeps the two in step).
SUPPORTED_MINORS = (10, 11, 12, 13)
WIDGETS_EXTENSION = "@jupyter-widgets/jupyterlab-manager"


@dataclass(frozen=True, slots=True)
class Finding:
    """One check's result: ``ok``, what was found, and how to fix it when not ok."""

    ok: bool
    what: str
    fix: str | None = None
    required: bool = True

    def lines(self) -> list[str]:
        mark = "✓" if self.ok else ("✗" if self.required else "!")
        out = [f"  {mark} {self.what}"]
        if not self.ok and self.fix:
            out += [f"      fix: {line}" for line in self.fix.splitlines()]
        return out


def check_python(version: Sequence[int] = sys.version_info[:3]) -> Finding:
    shown = ".".join(map(str, version))
    supported = ", ".join(f"3.{minor}" for minor in SUPPORTED_MINORS)
    if tuple(version[:2]) in {(3, minor) for minor in SUPPORTED_MINORS}:
        return Finding(True, f"Python {shown} (supported: {supported})")
    return Finding(
        False,
        f"Python {shown} is not supported (supported: {supported})",
        f"use Python {supported}, then run: python3 kit.py lab",
    )


def declared_requirements() -> list[Requirement]:
    """The kit's own runtime dependencies, as declared in its package metadata."""
    try:
        raw = metadata.requires("labsupport") or []
    except metadata.PackageNotFoundError:
        return []
    return [r for r in map(Requirement, raw) if r.marker is None or r.marker.evaluate()]


def check_requirement(
    req: Requirement, installed: Callable[[str], str] = metadata.version
) -> Finding:
    spec = str(req.specifier) or "any version"
    pip = f'{sys.executable} -m pip install "{req.name}{req.specifier}"'
    try:
        version = installed(req.name)
    except metadata.PackageNotFoundError:
        return Finding(False, f"{req.name} is not installed (needs {spec})", pip)
    if req.specifier and not req.specifier.contains(Version(version), prereleases=True):
        return Finding(False, f"{req.name} {version} does not satisfy {spec}", pip)
    return Finding(True, f"{req.name} {version} ({spec})")


def check_package_installed() -> Finding:
    try:
        version = metadata.version("labsupport")
    except metadata.PackageNotFoundError:
        return Finding(
            False,
            "the labsupport package is not installed in this Python",
            "from the kit's folder run: python3 kit.py lab   (or: python -m pip install -e .)",
        )
    return Finding(True, f"labsupport {version} at {Path(__file__).resolve().parent}")


def check_kernel() -> Finding:
    """The default notebook kernel must be this Python, or lessons import another environment."""
    try:
        from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
    except ImportError:
        return Finding(
            False, "jupyter_client is missing", f"{sys.executable} -m pip install ipykernel"
        )
    try:
        spec = KernelSpecManager().get_kernel_spec("python3")
    except NoSuchKernel:
        return Finding(
            False,
            "no 'python3' Jupyter kernel is registered",
            f"{sys.executable} -m ipykernel install --user --name python3",
        )
    program = spec.argv[0] if spec.argv else ""
    if program in ("python", "python3", "{python}", sys.executable):
        return Finding(True, "the 'python3' kernel runs this Python")
    here = Path(sys.executable).resolve()
    there = Path(shutil.which(program) or program).resolve()
    if there == here:
        return Finding(True, "the 'python3' kernel runs this Python")
    return Finding(
        False,
        f"the 'python3' kernel runs {program}, not this Python ({sys.executable})",
        f"{sys.executable} -m ipykernel install --user --name labkit --display-name 'Lab kit'\n"
        "then pick the kernel 'Lab kit' in JupyterLab (Kernel > Change Kernel)",
    )


def check_widgets_frontend() -> Finding:
    """The JupyterLab half of ipywidgets; without it widgets show as plain text."""
    try:
        from jupyter_core.paths import jupyter_path
    except ImportError:
        return Finding(
            False, "jupyter_core is missing", f"{sys.executable} -m pip install jupyterlab"
        )
    for base in jupyter_path("labextensions"):
        if (Path(base) / WIDGETS_EXTENSION / "package.json").exists():
            return Finding(True, f"the ipywidgets front end ({WIDGETS_EXTENSION}) is installed")
    return Finding(
        False,
        "the ipywidgets front end is not installed in JupyterLab (widgets would show as text)",
        f'{sys.executable} -m pip install "ipywidgets>=8.1,<9" "jupyterlab_widgets>=3"\n'
        "then restart JupyterLab and reload the browser tab",
    )


def check_loopback(port: int = 0) -> Finding:
    """A server in the kernel must be able to listen on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
            sock.listen()
        except OSError as exc:
            where = f"port {port}" if port else "any port"
            return Finding(
                False,
                f"cannot listen on 127.0.0.1 {where}: {exc.strerror or exc}",
                "stop the program holding the port (lsof -i :PORT), or restart the kernel "
                "that started an earlier lab server",
            )
        bound = sock.getsockname()[1]
    return Finding(True, f"a server can listen on loopback (127.0.0.1:{bound} was free)")


def check_llm(environ: Mapping[str, str] | None = None) -> Finding:
    """Which model lesson 6 talks to; a key alone never switches to a paid provider."""
    env = os.environ if environ is None else environ
    try:  # llm_config needs openai, which may be the very thing missing
        from .llm_config import chosen_provider, load_config
    except ImportError as exc:
        return Finding(False, f"cannot tell which model lesson 6 uses: {exc}", "see openai above")
    try:
        provider = chosen_provider(env)
    except ValueError as exc:
        return Finding(
            False, str(exc), "unset LAB_LLM for the keyless mock, or: export LAB_LLM=openai"
        )
    has_key = bool(env.get("OPENAI_API_KEY", "").strip())
    if provider == "mock":
        unused = (
            " (OPENAI_API_KEY is set but unused: LAB_LLM=openai would use it)" if has_key else ""
        )
        return Finding(True, f"lesson 6 uses the keyless mock model: no cost{unused}")
    try:
        config = load_config(environ=env)
    except ValueError as exc:
        return Finding(False, str(exc), "export OPENAI_API_KEY=..., or unset LAB_LLM")
    return Finding(True, f"LAB_LLM=openai: lesson 6 talks to {config.describe()}; this costs money")


def check_secret(
    environ: Mapping[str, str] | None = None,
    find: Callable[[], list[int]] = open_lab_servers,
) -> Finding:
    """Lab servers answer only with their secret; ``$LAB_TOKEN``, if set, is a usable one.

    A kernel's server cannot be inspected from here, only asked: see ``open_servers``.
    """
    env = os.environ if environ is None else environ
    value = env.get(TOKEN_ENV, "").strip()
    if value:
        try:  # auth needs starlette, which may be the very thing missing
            from .auth import check_token

            check_token(value)
        except ImportError as exc:
            return Finding(False, f"cannot check ${TOKEN_ENV}: {exc}", "see starlette above")
        except ValueError as exc:
            return Finding(
                False,
                f"${TOKEN_ENV} is set but unusable: {exc}",
                f"export {TOKEN_ENV}=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')",
            )
    ports = find()
    if not ports:
        return Finding(True, "no lab server on this machine answers without its secret")
    where = ", ".join(f"127.0.0.1:{port}" for port in ports)
    return Finding(
        False,
        f"a lab server at {where} answers without its secret (require_token=False): "
        "any user of this machine can start, read and cancel its runs",
        "stop it (kernel_server.stop_all() in its notebook, or restart that kernel) and start "
        "it again without require_token=False",
        required=False,
    )


def _check_program(
    found: str | None, program: str, lesson: str, install: str, also: str = ""
) -> Finding:
    """A program a lesson runs for real, which pip cannot install: found, or how to get it."""
    if found:
        return Finding(True, f"{program} for {lesson}: {found}", required=False)
    return Finding(
        False,
        f"{program} is not installed: {lesson}'s steps that need it will be skipped",
        f"{install}; the lab starts its own copy on a loopback port{also}, the system "
        "service can stay stopped",
        required=False,
    )


def check_nginx(find: Callable[[], str | None] = find_nginx) -> Finding:
    """Lesson 7 puts a real nginx in front of the stream."""
    return _check_program(
        find(), "nginx", "lesson 7", f"{INSTALL_HINT}   (macOS: brew install nginx)"
    )


def check_redis(find: Callable[[], str | None] = find_redis_server) -> Finding:
    """Lesson 8 keeps runs in a real Redis shared by several workers."""
    return _check_program(
        find(),
        "redis-server",
        "lesson 8",
        f"{REDIS_INSTALL_HINT}   (macOS: brew install redis)",
        ", without persistence",
    )


def run_checks() -> list[Finding]:
    findings = [check_python(), check_package_installed()]
    findings += [check_requirement(req) for req in declared_requirements()]
    findings += [check_kernel(), check_widgets_frontend(), check_loopback()]
    findings += [check_llm(), check_secret(), check_nginx(), check_redis()]
    return findings


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m labsupport.doctor", description=__doc__.splitlines()[0]
    )
    parser.parse_args(argv)
    print("Lab kit doctor: checking this environment", flush=True)
    findings = run_checks()
    for finding in findings:
        print("\n".join(finding.lines()))
    problems = [f for f in findings if not f.ok and f.required]
    if problems:
        print(
            f"\n{len(problems)} problem(s) found. Apply the fixes above, restart the kernel, run this again."
        )
        return 1
    print("\nAll good: open notebooks/01_generators.ipynb and run the cells from the top.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
