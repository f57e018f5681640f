"""``python -m labsupport.doctor`` finds real problems and prints a fix for each."""

from __future__ import annotations

import socket
import subprocess
import sys
from importlib import metadata

import pytest
from packaging.requirements import Requirement

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


def test_old_python_is_reported_with_a_fix() -> None:
    finding = doctor.check_python((3, 9, 18))
    assert not finding.ok
    assert finding.what == "Python 3.9.18 is too old (needs >= 3.10)"
    assert finding.fix is not None


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
    doctor.main([])
    out = capsys.readouterr().out
    assert "OPENAI_API_KEY is set (value hidden)" in out
    assert "very-secret" not in out
