"""``python3 kit.py lab`` as a student runs it: as root too, the URL only once it answers."""

from __future__ import annotations

import http.server
import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

import httpx
import nbformat
import pytest
from nbformat.sign import NotebookNotary

ROOT = Path(__file__).resolve().parents[1]


def load_kit() -> ModuleType:
    spec = importlib.util.spec_from_file_location("kit", ROOT / "kit.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


kit = load_kit()


def test_a_root_user_gets_allow_root_and_others_do_not(monkeypatch: pytest.MonkeyPatch) -> None:
    for uid, expected in ((0, True), (1000, False)):
        monkeypatch.setattr(os, "geteuid", lambda uid=uid: uid)
        command = kit.lab_command(8888, "t0ken", ROOT / "notebooks")
        assert ("--allow-root" in command) is expected
        assert "--ServerApp.ip=127.0.0.1" in command


def test_a_jupyterlab_that_exits_at_once_is_explained() -> None:
    refusal = "Running as root is not recommended. Use --allow-root to bypass."
    process = subprocess.Popen(
        [sys.executable, "-c", f"print({refusal!r}); raise SystemExit(1)"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert kit.wait_until_serving(process, "http://127.0.0.1:9/api", timeout=20) is False
    assert process.stdout is not None
    tail = process.stdout.read().splitlines()
    text = kit.explain_early_exit(process.returncode, tail)
    assert "JupyterLab exited with code 1 before it could serve the lessons" in text
    assert refusal in text
    assert "Fix: run it as a normal user, or add --allow-root" in text


def test_an_unknown_failure_points_at_the_doctor() -> None:
    text = kit.explain_early_exit(None, [])
    assert "did not answer within 2 minutes" in text
    assert "(it printed nothing)" in text
    assert "python3 kit.py doctor" in text


@contextmanager
def serve_text(text: str) -> Iterator[int]:
    """A plain HTTP server on a loopback port that answers every GET with ``text``."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = text.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield server.server_address[1]
        finally:
            server.shutdown()


def hear_ctrl_c() -> None:
    """Let the child hear Ctrl+C even if these tests were started in the background.

    A shell without job control starts ``cmd &`` with SIGINT ignored, and every
    child inherits that: Python then never raises KeyboardInterrupt.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture
def kit_lab(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    """``python3 kit.py lab`` in its own Jupyter folders; stopped with Ctrl+C afterwards."""
    env = dict(os.environ)
    for name in ("config", "data", "runtime"):
        (tmp_path / name).mkdir()
        env[f"JUPYTER_{name.upper()}_DIR"] = str(tmp_path / name)
    env["IPYTHONDIR"] = str(tmp_path / "ipython")
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "kit.py"), "lab"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
        preexec_fn=hear_ctrl_c,
    )
    lines: list[str] = []
    try:
        yield process, lines
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_kit_lab_prints_a_url_that_answers_and_stops_on_ctrl_c(
    kit_lab: tuple[subprocess.Popen[str], list[str]], tmp_path: Path
) -> None:
    process, lines = kit_lab
    assert process.stdout is not None
    deadline = time.monotonic() + 480  # the first run may install the base environment
    url = None
    for line in process.stdout:
        lines.append(line)
        match = re.search(r"http://127\.0\.0\.1:\d+/lab/tree/01_generators\.ipynb\?token=\w+", line)
        if match:
            url = match.group(0)
            break
        assert time.monotonic() < deadline, "".join(lines[-20:])
    assert url, "kit.py lab ended without a URL:\n" + "".join(lines[-20:])
    said = "".join(lines)
    if os.geteuid() == 0:
        assert "running as root" in said and "--allow-root" in said
    # The URL is printed only once the server answers: it must work at once.
    page = httpx.get(url, timeout=10)
    assert page.status_code == 200
    assert "JupyterLab" in page.text
    token = url.rsplit("=", 1)[1]
    base = url.split("/lab/")[0]
    lesson = httpx.get(
        f"{base}/api/contents/05_serving_sse.ipynb",
        headers={"Authorization": f"token {token}"},
        timeout=10,
    )
    assert lesson.status_code == 200
    # The lessons are trusted for this user, so JupyterLab draws their saved widgets.
    notary = NotebookNotary(data_dir=str(tmp_path / "data"))
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        assert notary.check_signature(nbformat.read(path, as_version=4)), path.name
    # Lesson 5's page frame needs jupyter-server-proxy in the environment kit.py lab makes.
    with serve_text("hello through the proxy") as port:
        proxied = httpx.get(f"{base}/proxy/{port}/", params={"token": token}, timeout=10)
    assert (proxied.status_code, proxied.text) == (200, "hello through the proxy")

    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 0
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{base}/api", timeout=2)


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A kit checkout with two lessons as shipped (committed)."""
    root = tmp_path / "kit"
    (root / "notebooks").mkdir(parents=True)
    for name in ("01_generators.ipynb", "05_serving_sse.ipynb"):
        (root / "notebooks" / name).write_text(f'{{"shipped": "{name}"}}')
    git(root, "init", "-q")
    git(root, "add", ".")
    git(
        root, "-c", "user.name=kit", "-c", "user.email=kit@example.invalid", "commit", "-qm", "ship"
    )
    return root


def test_reset_restores_the_lesson_and_keeps_the_students_version(
    checkout: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lesson = checkout / "notebooks" / "05_serving_sse.ipynb"
    lesson.write_text('{"mine": "half done, with my notes"}')
    assert kit.reset(["05"], root=checkout) == 0
    assert lesson.read_text() == '{"shipped": "05_serving_sse.ipynb"}'
    (backup,) = (checkout / "notebooks" / "backups").iterdir()
    assert re.fullmatch(r"05_serving_sse-\d{8}-\d{6}\.ipynb", backup.name)
    assert backup.read_text() == '{"mine": "half done, with my notes"}'
    out = capsys.readouterr().out
    assert f"your version is in notebooks/backups/{backup.name}" in out
    # A second reset of an untouched lesson changes nothing and makes no backup.
    assert kit.reset(["5"], root=checkout) == 0
    assert len(list((checkout / "notebooks" / "backups").iterdir())) == 1
    assert "already as shipped" in capsys.readouterr().out


def test_reset_all_restores_every_changed_lesson(checkout: Path) -> None:
    for path in (checkout / "notebooks").glob("*.ipynb"):
        path.write_text("{}")
    assert kit.reset(["--all"], root=checkout) == 0
    for path in (checkout / "notebooks").glob("*.ipynb"):
        assert path.read_text() == f'{{"shipped": "{path.name}"}}'
    assert len(list((checkout / "notebooks" / "backups").iterdir())) == 2


@pytest.mark.parametrize("args", [[], ["07"], ["five"], ["05", "01"]], ids=str)
def test_reset_of_no_such_lesson_says_which_exist(
    checkout: Path, args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert kit.reset(args, root=checkout) == 2
    assert "usage: python3 kit.py reset NN   (one of 01, 05)" in capsys.readouterr().out


def test_reset_outside_a_checkout_changes_nothing(tmp_path: Path) -> None:
    (tmp_path / "notebooks").mkdir()
    lesson = tmp_path / "notebooks" / "05_serving_sse.ipynb"
    lesson.write_text("{}")
    assert kit.reset(["05"], root=tmp_path) == 1
    assert lesson.read_text() == "{}"


def children_of(pid: int) -> list[tuple[list[str], dict[str, str]]]:
    """Each child process of ``pid``: its command line and its environment (Linux's /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # The parent's pid follows the command name, which is in parentheses.
            if int(stat.read_text().rpartition(")")[2].split()[1]) != pid:
                continue
            argv = (stat.parent / "cmdline").read_bytes().split(b"\0")
            environ = (stat.parent / "environ").read_bytes().split(b"\0")
        except (OSError, ValueError):
            continue  # gone meanwhile
        env = dict(item.decode().partition("=")[::2] for item in environ if item)
        found.append(([arg.decode() for arg in argv if arg], env))
    return found


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_kit_react_serves_the_app_in_front_of_the_lab_and_stops_both_on_ctrl_c() -> None:
    if not (ROOT / "frontends" / "react" / "node_modules").exists() and not shutil.which("npm"):
        pytest.skip("npm not found: kit.py react needs Node.js")
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "kit.py"), "react"],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
        preexec_fn=hear_ctrl_c,
    )
    assert process.stdout is not None
    lines: list[str] = []
    try:
        for line in process.stdout:
            lines.append(line)
            if "Open this URL" in line:
                break
        said = "".join(lines)
        assert "Open this URL" in said, said[-2000:]
        lab = re.search(r"in front of the lab server on (http://127\.0\.0\.1:\d+)", said)
        assert lab, said[-2000:]
        next(process.stdout)
        url = next(process.stdout).strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", url), url
        # Printed only once both answer: the app, and the lab server through Vite's proxy.
        assert '<div id="root">' in httpx.get(url, timeout=10).text
        body = {
            "id": "chat-kit",
            "trigger": "submit-message",
            "messages": [
                {
                    "id": "u1",
                    "role": "user",
                    "parts": [{"type": "text", "text": "Who runs billing?"}],
                }
            ],
        }
        answer = httpx.post(f"{url}api/chat", json=body, timeout=30)
        assert answer.status_code == 200
        assert answer.text.endswith(
            'data: {"type":"finish","finishReason":"stop"}\n\ndata: [DONE]\n\n'
        )
        assert httpx.get(f"{url}stats", timeout=10).json()["runs_completed"] == 1
        # The lab server requires a secret of its own; Vite's proxy has it, a bare request not.
        assert httpx.get(f"{lab.group(1)}/stats", timeout=10).status_code == 401
        children = children_of(process.pid)
        tokens = {env.get("LAB_TOKEN") for _, env in children}
        assert len(children) == 2 and len(tokens) == 1, children
        token = tokens.pop()
        assert token and len(token) >= 32 and token != os.environ.get("LAB_TOKEN")
        # Handed over in the environment, never on a command line or in the output.
        assert not any(token in arg for argv, _ in children for arg in argv)
        assert token not in said
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
        for gone in (url, f"{lab.group(1)}/stats"):
            with pytest.raises(httpx.TransportError):
                httpx.get(gone, timeout=2)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.parametrize("version", [(3, 9, 18), (3, 14, 0), (2, 7, 18)], ids=str)
def test_an_unsupported_python_is_refused_in_one_sentence_naming_the_supported(
    version: tuple[int, int, int],
) -> None:
    refusal = kit.unsupported_python(version)
    shown = ".".join(map(str, version))
    assert refusal == (
        f"[kit] This is Python {shown}, and the lab kit supports Python 3.10, 3.11, 3.12 and 3.13 "
        "only: run it with one of those, e.g. python3.12 kit.py lab."
    )


@pytest.mark.parametrize("minor", [10, 11, 12, 13])
def test_every_supported_python_is_accepted(minor: int) -> None:
    assert kit.unsupported_python((3, minor, 0)) is None


@pytest.mark.parametrize("name", ["3.9.18", "3.8.18"])
def test_kit_py_on_an_old_python_refuses_before_creating_anything(
    name: str, tmp_path: Path
) -> None:
    python = Path("/root/.pyenv/versions") / name / "bin" / "python"
    if not python.exists():
        pytest.skip(f"no Python {name} from pyenv on this machine")
    venv = tmp_path / "venv"
    done = subprocess.run(
        [str(python), str(ROOT / "kit.py"), "lab"],
        capture_output=True,
        text=True,
        env={**os.environ, "LAB_VENV": str(venv)},
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (
        f"[kit] This is Python {name}, and the lab kit supports Python 3.10, 3.11, 3.12 and 3.13 "
        "only: run it with one of those, e.g. python3.12 kit.py lab.\n"
    )
    assert not venv.exists()


def test_the_smoke_runs_lessons_1_to_4_and_ci_runs_it_on_the_lowest_and_highest_python() -> None:
    lessons = [arg for arg in kit.SMOKE_ARGS if arg.endswith(".ipynb")]
    assert [Path(arg).name[:2] for arg in lessons] == ["01", "02", "03", "04"]
    assert all((ROOT / arg).exists() for arg in lessons)
    lowest, highest = (f"{major}.{minor}" for major, minor in (kit.SUPPORTED[0], kit.SUPPORTED[-1]))
    ci = (ROOT / ".ci" / "run").read_text()
    assert f"for version in {lowest} {highest}; do" in ci
    workflow = (ROOT / ".github" / "workflows" / "test.yml").read_text()
    assert f'python-version: ["{lowest}", "{highest}"]' in workflow
