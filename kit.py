#!/usr/bin/env python3
"""Set up the lab kit and run it: ``python3 kit.py lab`` or ``python3 kit.py test``.

Needs only Python 3.10 to 3.13 with pip and venv. The first run creates ``.venv/``
in this folder (or where ``LAB_VENV`` says) and installs the kit into it; later runs
reuse it, reinstalling only when ``pyproject.toml`` changed.

    python3 kit.py lab                # JupyterLab on notebooks/, prints the URL to open
    python3 kit.py lab --solutions    # the same on the solved lessons in solution/
    python3 kit.py test               # lint, type checks, unit and browser tests, every notebook cell
    python3 kit.py smoke              # on this Python: install, fast unit tests, lessons 1-4 (nbval)
    python3 kit.py demo               # the headless terminal demo instead of the lab
    python3 kit.py react              # the lab server and the React app (frontends/react) together
    python3 kit.py doctor             # check this environment and print a fix for each problem
    python3 kit.py progress           # your exercises: passed, tried, not yet tried
    python3 kit.py progress --class /home/*   # instructors: one row per student, stuck first
    python3 kit.py reset 05           # put lesson 05 back as shipped (yours is kept in backups/)
    python3 kit.py reset --all        # the same for every lesson
"""

from __future__ import annotations

import collections
import hashlib
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import venv
from collections.abc import Sequence
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent
# One environment per Python: CI tests the lowest and highest supported Python side by side.
VENV = Path(os.environ.get("LAB_VENV") or ROOT / ".venv").resolve()
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")

# What `test` checks; the README's test command is `python3 kit.py test`, and .ci/run calls it.
LINT_PATHS = ["labsupport", "tests", "tools", "benchmarks", "kit.py"]
NBVAL_ARGS = [
    "--nbval",
    "--nbval-current-env",
    "--nbval-sanitize-with",
    "tests/nbval_sanitize.cfg",
    "--nbval-cell-timeout",
    "120",
]


# The Pythons the kit is tested on; pyproject.toml's requires-python says the same (a test checks).
SUPPORTED = ((3, 10), (3, 11), (3, 12), (3, 13))


def unsupported_python(version: Sequence[int] = sys.version_info) -> str | None:
    """One plain sentence if ``version`` is not a Python the kit supports, else None."""
    if tuple(version[:2]) in SUPPORTED:
        return None
    names = [f"{major}.{minor}" for major, minor in SUPPORTED]
    this = ".".join(str(part) for part in version[:3])
    return (
        f"[kit] This is Python {this}, and the lab kit supports Python "
        f"{', '.join(names[:-1])} and {names[-1]} only: run it with one of those, "
        "e.g. python3.12 kit.py lab."
    )


def say(message: str) -> None:
    print(f"[kit] {message}", flush=True)


def run(*args: str | Path) -> None:
    """Run a command in the kit folder; stop with its exit code if it fails."""
    cmd = [str(a) for a in args]
    say("$ " + " ".join(cmd))
    code = subprocess.call(cmd, cwd=ROOT)
    if code != 0:
        say(f"failed (exit code {code}): {' '.join(cmd)}")
        sys.exit(code)


def ensure_environment(extras: str) -> None:
    """Create .venv if needed and install the kit with ``extras``, unless already done."""
    refusal = unsupported_python()
    if refusal:  # before pip, whose resolution error would not say which Python to use
        sys.exit(refusal)
    if not PYTHON.exists():
        say(f"creating a virtual environment in {VENV}/")
        try:
            venv.create(VENV, with_pip=True)
        except Exception as exc:  # ensurepip missing, read-only folder, ...
            sys.exit(
                f"[kit] could not create .venv ({exc}).\n"
                "      On Debian/Ubuntu: sudo apt-get install python3-venv, then run this again."
            )
        run(PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    stamp = VENV / f".installed-{extras or 'base'}"
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == wanted:
        return
    target = f".[{extras}]" if extras else "."
    say(f"installing the kit and its dependencies ({target}); the first time takes a few minutes")
    run(PYTHON, "-m", "pip", "install", "--quiet", "--editable", target)
    stamp.write_text(wanted)


def free_port(start: int = 8888) -> int:
    for port in range(start, start + 50):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise SystemExit("[kit] no free port between 8888 and 8937; stop another Jupyter and retry")


def running_as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def lab_command(port: int, token: str, root_dir: Path) -> list[str]:
    """The ``jupyter lab`` command line: loopback only, a fixed port and token, the lessons' folder."""
    cmd = [
        str(BIN / "jupyter"),
        "lab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={root_dir}",
        f"--IdentityProvider.token={token}",
    ]
    if running_as_root():
        cmd.append("--allow-root")
    return cmd


def _echo(stream: IO[str], tail: collections.deque[str]) -> None:
    """Pass a child's output through to this terminal, keeping the last lines to explain a failure."""
    for line in stream:
        tail.append(line.rstrip("\n"))
        sys.stdout.write(line)
        sys.stdout.flush()


def wait_until_serving(process: subprocess.Popen[str], url: str, timeout: float = 120.0) -> bool:
    """True once ``url`` answers; False if the process exits first or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return True
        except (OSError, ValueError):  # not listening yet
            pass
        time.sleep(0.25)
    return False


# What JupyterLab says when it cannot start, and what to do about it.
_KNOWN_FAILURES = [
    ("Running as root is not recommended", "run it as a normal user, or add --allow-root"),
    ("Address already in use", "another program took the port: run python3 kit.py lab again"),
    ("No module named", "the environment is incomplete: delete .venv/ and run python3 kit.py lab"),
    ("Permission denied", "the kit folder or your home folder is not writable by this user"),
]


def start_echoed(
    cmd: Sequence[str], cwd: Path, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[str], collections.deque[str], threading.Thread]:
    """A child process whose output is passed through to this terminal.

    Returns the process, its last 40 lines (to explain an early exit) and the
    thread that echoes them (join it to be sure the tail is complete).
    """
    process = subprocess.Popen(
        list(cmd),
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    assert process.stdout is not None
    tail: collections.deque[str] = collections.deque(maxlen=40)
    echo = threading.Thread(target=_echo, args=(process.stdout, tail), daemon=True)
    echo.start()
    return process, tail, echo


def explain_early_exit(code: int | None, tail: Sequence[str]) -> str:
    """One paragraph for a JupyterLab that stopped before it served: why, and how to fix it."""
    said = "\n".join(tail)
    fix = next((hint for marker, hint in _KNOWN_FAILURES if marker in said), None)
    why = f"exited with code {code}" if code is not None else "did not answer within 2 minutes"
    last = "\n".join(f"      {line}" for line in list(tail)[-8:]) or "      (it printed nothing)"
    return (
        f"JupyterLab {why} before it could serve the lessons. Its last words:\n{last}\n"
        f"  Fix: {fix or 'run python3 kit.py doctor, which checks the environment and says what to do'}"
    )


def stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.terminate()  # JupyterLab shuts its kernels down on SIGTERM
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def trust_lessons(folder: Path) -> None:
    """Sign the kit's own lessons for this user, so JupyterLab draws their saved widgets.

    A notebook fresh from a clone is untrusted, and JupyterLab then shows a widget output
    as its text form (``LiveView(...)``) until the cell runs again.
    """
    lessons = sorted(str(p) for p in folder.glob("*.ipynb"))
    done = subprocess.run(
        [str(BIN / "jupyter"), "trust", *lessons], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:  # not fatal: the lessons still run, their first look is plainer
        say(f"could not trust the lessons ({done.stderr.strip()[-200:]}); widgets draw once run")


def lab(args: Sequence[str] = ()) -> int:
    unknown = [a for a in args if a != "--solutions"]
    if unknown:
        sys.exit(f"[kit] lab takes only --solutions, got: {' '.join(unknown)}")
    folder = ROOT / ("solution" if "--solutions" in args else "notebooks")
    ensure_environment("")
    port = free_port()
    token = secrets.token_hex(16)
    if running_as_root():
        say(
            "running as root (usual in containers and cloud VMs): starting JupyterLab with "
            "--allow-root, without which it refuses to start. It still listens on this machine only."
        )
    trust_lessons(folder)
    say(f"starting JupyterLab on the lessons in {folder.name}/ ...")
    process, tail, echo = start_echoed(lab_command(port, token, folder), folder)
    try:
        if not wait_until_serving(process, f"http://127.0.0.1:{port}/api"):
            stop(process)
            echo.join(timeout=2)
            print("\n[kit] " + explain_early_exit(process.returncode, tail), flush=True)
            return process.returncode or 1
        url = f"http://127.0.0.1:{port}/lab/tree/01_generators.ipynb?token={token}"
        print(
            "\n"
            f"  JupyterLab is serving the lessons in {folder.name}/.\n"
            f"  Open this URL in your browser:\n\n    {url}\n\n"
            f"  Stop it with Ctrl+C. No browser? Run the headless demo instead:\n"
            f"    python3 kit.py demo\n",
            flush=True,
        )
        return process.wait()
    except KeyboardInterrupt:
        stop(process)
        return 0


def npm_ci(folder: Path, what: str) -> bool:
    """``npm ci`` in ``folder`` unless its lock file is installed already; False without npm."""
    npm = shutil.which("npm")
    if npm is None:
        return False
    stamp = folder / "node_modules" / ".installed"
    wanted = hashlib.sha256((folder / "package-lock.json").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == wanted:
        return True
    say(f"installing {what} ({folder.relative_to(ROOT)}) with npm ci")
    run(npm, "ci", "--prefix", folder, "--no-audit", "--no-fund", "--loglevel=error")
    stamp.write_text(wanted)
    return True


def ensure_js_clients() -> None:
    """Install the stock JavaScript clients and the React app the tests drive, if npm is here."""
    if not npm_ci(ROOT / "tests" / "js", "the JavaScript protocol clients"):
        say(
            "npm not found: the AG-UI, AI SDK and React app tests will be skipped (in CI they fail)"
        )
        return
    npm_ci(REACT_APP, "the React app")


REACT_APP = ROOT / "frontends" / "react"


def react(args: Sequence[str] = ()) -> int:
    """The lab server and the React app's Vite dev server together; Ctrl+C stops both."""
    if args:
        sys.exit(f"[kit] react takes no arguments, got: {' '.join(args)}")
    ensure_environment("")
    if not npm_ci(REACT_APP, "the React app"):
        sys.exit("[kit] npm not found: install Node.js 20 or newer, then run this again.")
    lab_port, vite_port = free_port(8000), free_port(5173)
    lab_url = f"http://127.0.0.1:{lab_port}"
    # The lab server's secret, where it has one; Vite's proxy adds it to every request.
    env = {**os.environ, "LAB_TOKEN": secrets.token_urlsafe(24), "LAB_SERVER_URL": lab_url}
    say(f"starting the lab server on {lab_url} and the React app ...")
    uvicorn = [str(PYTHON), "-m", "uvicorn", "labsupport.server:app"]
    server, _, _ = start_echoed(
        [*uvicorn, "--host", "127.0.0.1", "--port", str(lab_port)], ROOT, env
    )
    vite_bin = REACT_APP / "node_modules" / ".bin" / "vite"
    vite, _, _ = start_echoed([str(vite_bin), "--port", str(vite_port)], REACT_APP, env)
    url = f"http://127.0.0.1:{vite_port}/"
    try:
        for process, where in ((server, f"{lab_url}/"), (vite, url)):
            if not wait_until_serving(process, where, timeout=60):
                say(f"{where} did not answer; its output is above")
                return 1
        print(
            "\n"
            f"  The React app is serving, in front of the lab server on {lab_url}.\n"
            f"  Open this URL in your browser:\n\n    {url}\n\n"
            f"  Its code is in frontends/react/src; Vite reloads the page when you save.\n"
            f"  Stop both with Ctrl+C.\n",
            flush=True,
        )
        while server.poll() is None and vite.poll() is None:
            time.sleep(0.5)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        stop(vite)
        stop(server)


# The suites of `kit.py test`, in stages; the suites of a stage run side by side, since each
# mostly waits (a hub spawning a server, kernels, a browser) and the machine may have 2 cores.
# The timing-sensitive unit and browser tests share their stage only with the hub test, which
# is idle while a user's server spawns.
SLOW_SUITES = [
    "tests/hub",
    "tests/lessons",
    "tests/browser/test_students_seat.py",
    "tests/workers",
]
STAGES: list[dict[str, list[str]]] = [
    {
        "unit and browser tests": ["tests", *(f"--ignore={path}" for path in SLOW_SUITES)],
        "JupyterHub": ["tests/hub"],
        # Worker processes behind nginx on a shared Redis; mostly waiting on paced runs.
        "many workers": ["tests/workers"],
    },
    # Each notebook whole on one worker (its cells share a kernel).
    {"notebooks (nbval)": ["notebooks", "solution", *NBVAL_ARGS, "-n", "4", "--dist", "loadfile"]},
    {
        "lessons after a restart": ["tests/lessons", "-n", "2"],
        "the student's seat": ["tests/browser/test_students_seat.py"],
    },
]


# `kit.py smoke`: what CI runs on the lowest and highest supported Python, beside the full suite.
SMOKE_ARGS = [
    "tests",
    *(f"--ignore={path}" for path in SLOW_SUITES),
    "-m",
    "not slow and not browser",
    "notebooks/01_generators.ipynb",
    "notebooks/02_event_vocabulary.ipynb",
    "notebooks/03_live_widgets.ipynb",
    "notebooks/04_cancellation.ipynb",
]


def run_side_by_side(suites: dict[str, list[str]]) -> list[str]:
    """Run pytest suites at once, each output kept whole and printed when it ends; the failures."""
    logs = VENV / "test-logs"
    logs.mkdir(exist_ok=True)
    started = time.monotonic()
    running = {}
    for name, args in suites.items():
        log = logs / (re.sub(r"\W+", "-", name).strip("-") + ".log")
        cmd = [str(PYTHON), "-m", "pytest", *args, "-p", "no:cacheprovider"]
        say(f"$ {' '.join(cmd)}   ({name})")
        with log.open("w") as out:
            running[name] = (
                log,
                subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT),
            )
    failed = []
    for name, (log, process) in running.items():
        code = process.wait()
        print(log.read_text(errors="replace"), end="", flush=True)
        minutes = (time.monotonic() - started) / 60
        say(
            f"{name}: {'passed' if code == 0 else f'FAILED (exit code {code})'} after {minutes:.1f} min"
        )
        if code != 0:
            failed.append(name)
    return failed


def test(pytest_args: list[str]) -> int:
    # The notebooks' check cells must not record into the developer's own progress file.
    os.environ.setdefault("LAB_PROGRESS_FILE", "off")
    ensure_environment("dev")
    ensure_js_clients()
    run(PYTHON, "-m", "ruff", "check", *LINT_PATHS)
    run(PYTHON, "-m", "ruff", "format", "--check", *LINT_PATHS)
    run(PYTHON, "-m", "mypy")
    if pytest_args:  # the caller chose what to run, e.g. `kit.py test tests/test_server.py`
        run(PYTHON, "-m", "pytest", *NBVAL_ARGS, "-p", "no:cacheprovider", *pytest_args)
        return 0
    failed = []
    for stage in STAGES:
        failed += run_side_by_side(stage)
    if failed:
        say(f"failed: {', '.join(failed)}")
        return 1
    say("every suite passed")
    return 0


def smoke(args: list[str]) -> int:
    """Install into this Python's environment, then the fast unit tests and lessons 1-4 (nbval).

    ``--install-only`` stops after the install: CI installs while the full suite runs and
    tests afterwards, so the smoke never competes with the suite's timing-sensitive tests.
    """
    os.environ.setdefault("LAB_PROGRESS_FILE", "off")
    pytest_args = [arg for arg in args if arg != "--install-only"]
    ensure_environment("dev")
    if len(pytest_args) < len(args):
        return 0
    cmd = [str(PYTHON), "-m", "pytest", *NBVAL_ARGS, "-p", "no:cacheprovider", *SMOKE_ARGS]
    say(f"$ {' '.join(cmd + pytest_args)}")
    return subprocess.call(cmd + pytest_args, cwd=ROOT)


def pristine(root: Path, relative: str) -> bytes | None:
    """The lesson as shipped: the version in this checkout's last commit, or None."""
    if shutil.which("git") is None:
        return None
    shown = subprocess.run(
        ["git", "-C", str(root), "show", f"HEAD:{relative}"], capture_output=True, check=False
    )
    return shown.stdout if shown.returncode == 0 else None


def reset(args: Sequence[str], root: Path = ROOT) -> int:
    """Put lessons back as shipped, first keeping the student's version in notebooks/backups/."""
    folder = root / "notebooks"
    lessons = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    if list(args) == ["--all"]:
        chosen = lessons
    elif len(args) == 1 and re.fullmatch(r"\d{1,2}", args[0]):
        chosen = [p for p in lessons if p.name.startswith(args[0].zfill(2))]
    else:
        chosen = []
    if not chosen:
        names = ", ".join(p.name[:2] for p in lessons)
        say(f"usage: python3 kit.py reset NN   (one of {names}), or: python3 kit.py reset --all")
        return 2
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for path in chosen:
        original = pristine(root, f"notebooks/{path.name}")
        if original is None:
            say(
                f"{path.name}: no shipped copy found (this folder is not a git checkout); unchanged"
            )
            return 1
        if path.read_bytes() == original:
            say(f"{path.name}: already as shipped")
            continue
        backup = folder / "backups" / f"{path.stem}-{stamp}.ipynb"
        backup.parent.mkdir(exist_ok=True)
        shutil.copy2(path, backup)
        path.write_bytes(original)
        say(f"{path.name}: reset; your version is in {backup.relative_to(root)}")
    say("if the lesson is open in JupyterLab, close its tab without saving, then open it again")
    return 0


def main(argv: list[str]) -> int:
    command, rest = (argv[0], argv[1:]) if argv else ("help", [])
    refusal = unsupported_python()
    if refusal and command not in ("help", "-h", "--help"):
        print(refusal, file=sys.stderr)
        return 2
    if command == "lab":
        return lab(rest)
    if command == "reset":
        return reset(rest)
    if command == "progress":
        ensure_environment("")
        return subprocess.call([str(PYTHON), "-m", "labsupport.progress", *rest], cwd=ROOT)
    if command == "test":
        return test(rest)
    if command == "react":
        return react(rest)
    if command == "smoke":
        return smoke(rest)
    if command == "demo":
        ensure_environment("")
        return subprocess.call([str(PYTHON), "-m", "labsupport.demo", *rest], cwd=ROOT)
    if command == "doctor":
        ensure_environment("")
        return subprocess.call([str(PYTHON), "-m", "labsupport.doctor", *rest], cwd=ROOT)
    print(__doc__)
    return 0 if command in ("help", "-h", "--help") else 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
