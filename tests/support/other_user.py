"""A second user of this machine, made for one test with ``useradd`` and removed after.

It plays the other student on a shared host: it runs ``curl`` (as ``runuser -u
NAME -- curl ...``) against the student's server on loopback. The test process
must be root to create it; elsewhere the test is skipped with the reason, and under
CI (``CI=true``, which runs as root) it fails instead, so the check always runs there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

__all__ = ["OtherUser", "other_user"]


@dataclass(frozen=True)
class OtherUser:
    """The user's name and how to run a program as them."""

    name: str
    runuser: str

    def run(self, argv: Sequence[str], timeout: float = 30) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` as this user (from ``/``: the test's own folders may be closed to them)."""
        return subprocess.run(
            [self.runuser, "-u", self.name, "--", *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd="/",
            env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"},
            check=False,
        )

    def http_status(self, method: str, url: str, *args: str) -> int:
        """The status code ``curl`` gets as this user for ``method url`` (extra curl ``args``)."""
        done = self.run(
            [
                "/usr/bin/curl",
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "-X",
                method,
                *args,
                url,
            ]
        )
        assert done.returncode == 0, f"curl failed as {self.name}: {done.stderr}"
        return int(done.stdout)


def _which(tool: str) -> str | None:
    # /usr/sbin is not on every PATH a test runs with.
    return shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/sbin")


def _unavailable() -> str | None:
    if os.geteuid() != 0:
        return "creating a second user needs root (useradd); CI runs as root"
    for tool in ("useradd", "userdel", "runuser"):
        if _which(tool) is None:
            return f"{tool} is not installed"
    if not os.path.exists("/usr/bin/curl"):
        return "curl is not installed at /usr/bin/curl (apt-get install curl)"
    return None


@contextmanager
def other_user() -> Iterator[OtherUser]:
    """Create a throwaway user (no home, no login shell), yield it, delete it."""
    reason = _unavailable()
    if reason is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"the second-user test must run in CI: {reason}")
        pytest.skip(reason)
    name = f"labother{os.getpid() % 100000}"
    tools = {tool: _which(tool) or tool for tool in ("useradd", "userdel", "runuser")}
    subprocess.run(
        [tools["useradd"], "--no-create-home", "--shell", "/usr/sbin/nologin", name],
        check=True,
        capture_output=True,
    )
    try:
        yield OtherUser(name, tools["runuser"])
    finally:
        subprocess.run([tools["userdel"], name], check=False, capture_output=True)
