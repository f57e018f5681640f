"""``python -m labsupport.doctor`` finds real problems and prints a fix for each."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from labsupport import doctor


def test_this_environment_is_healthy() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "labsupport.doctor"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout
    assert "All good" in proc.stdout
    assert "✗" not in proc.stdout
    for name in ("ipykernel", "ipywidgets", "fastapi", "openai", "httpx-sse"):
        assert f"✓ {name} " in proc.stdout


@pytest.mark.parametrize("version", [(3, 9, 18), (3, 14, 0)], ids=str)
def test_an_unsupported_python_is_reported_with_a_fix(version: tuple[int, int, int]) -> None:
    finding = doctor.check_python(version)
    shown = ".".join(map(str, version))
    assert not finding.ok
    assert finding.what == f"Python {shown} is not supported (supported: 3.10, 3.11, 3.12, 3.13)"
    assert finding.fix == "use Python 3.10, 3.11, 3.12, 3.13, then run: python3 kit.py lab"


def test_the_doctor_supports_the_pythons_pyproject_allows() -> None:
    declared = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    stated = SpecifierSet(re.search(r'^requires-python = "([^"]+)"', declared, re.M)[1])  # type: ignore[index]
    for minor in range(6, 16):
        assert doctor.check_python((3, minor, 0)).ok == stated.contains(f"3.{minor}.0"), minor


def test_too_old_package_gets_a_pip_command() -> None:
    finding = doctor.check_requirement(
        Requirement("ipykernel>=7.4"), installed=lambda name: "6.29.5"
    )
    assert not finding.ok
    assert finding.what == "ipykernel 6.29.5 does not satisfy >=7.4"
    assert finding.fix is not None and 'pip install "ipykernel>=7.4"' in finding.fix


def test_missing_package_is_reported() -> None:
    def missing(name: str) -> str:
        raise metadata.PackageNotFoundError(name)

    finding = doctor.check_requirement(Requirement("httpx-sse>=0.4"), installed=missing)
    assert not finding.ok
    assert finding.what == "httpx-sse is not installed (needs >=0.4)"


def test_busy_port_is_reported() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        finding = doctor.check_loopback(port)
    assert not finding.ok
    assert f"cannot listen on 127.0.0.1 port {port}" in finding.what
    assert doctor.check_loopback().ok


def test_declared_requirements_come_from_the_package_metadata() -> None:
    names = {r.name for r in doctor.declared_requirements()}
    assert {"ipykernel", "ipywidgets", "jupyterlab", "fastapi", "uvicorn", "openai"} <= names


def test_the_api_key_is_never_printed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-very-secret-value")
    for choice in ("mock", "openai"):
        monkeypatch.setenv("LAB_LLM", choice)
        doctor.main([])
        out = capsys.readouterr().out
        assert "lesson 6" in out
        assert "very-secret" not in out


KEY = "sk-test-0123456789abcdefWXYZ"


@pytest.mark.parametrize(
    ("env", "ok", "says"),
    [
        ({}, True, "lesson 6 uses the keyless mock model: no cost"),
        ({"OPENAI_API_KEY": KEY}, True, "OPENAI_API_KEY is set but unused: LAB_LLM=openai"),
        ({"LAB_LLM": "openai"}, False, "OPENAI_API_KEY is not set"),
        ({"LAB_LLM": "claude"}, False, "LAB_LLM must be one of mock, openai"),
        (
            {"LAB_LLM": "openai", "OPENAI_API_KEY": KEY},
            True,
            "talks to a real provider at https://api.openai.com/v1, model 'gpt-4o-mini', key ****WXYZ",
        ),
    ],
    ids=["nothing-set", "key-alone", "opt-in-without-key", "unknown-choice", "opted-in"],
)
def test_check_llm_says_which_model_lesson_6_uses(env: dict[str, str], ok: bool, says: str) -> None:
    finding = doctor.check_llm(env)
    assert finding.ok is ok
    assert says in finding.what
    assert KEY not in finding.what


def test_a_missing_nginx_is_reported_with_the_install_command() -> None:
    finding = doctor.check_nginx(lambda: None)
    assert (finding.ok, finding.required) == (False, False)
    assert "lesson 7" in finding.what
    assert finding.fix is not None and "sudo apt-get install nginx" in finding.fix
    assert "! nginx is not installed" in "\n".join(finding.lines())
    found = doctor.check_nginx(lambda: "/usr/sbin/nginx")
    assert found.ok and "/usr/sbin/nginx" in found.what


def test_a_missing_redis_server_is_reported_with_the_install_command() -> None:
    finding = doctor.check_redis(lambda: None)
    assert (finding.ok, finding.required) == (False, False)
    assert "lesson 8" in finding.what
    assert finding.fix is not None and "sudo apt-get install redis-server" in finding.fix
    assert "brew install redis" in finding.fix
    assert "! redis-server is not installed" in "\n".join(finding.lines())
    found = doctor.check_redis(lambda: "/usr/bin/redis-server")
    assert found.ok and "/usr/bin/redis-server" in found.what


def test_the_redis_check_follows_lab_redis_server(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LAB_REDIS_SERVER", str(tmp_path / "no-redis-here"))
    assert not doctor.check_redis().ok
