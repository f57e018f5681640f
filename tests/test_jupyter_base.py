"""The Jupyter prefix a kernel's proxied URLs live under: laptop, base_url, JupyterHub."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from labsupport.jupyter_base import jupyter_base_url, normalize_prefix


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("", "/"),
        ("/", "/"),
        ("/user/alice", "/user/alice/"),
        ("user/alice/", "/user/alice/"),
        ("//lab//", "/lab/"),
    ],
    ids=["empty", "root", "no-trailing-slash", "no-leading-slash", "doubled-slashes"],
)
def test_normalize_prefix_gives_one_slash_at_each_end(prefix: str, expected: str) -> None:
    assert normalize_prefix(prefix) == expected


@pytest.mark.parametrize("bad", ["https://hub.example/user/alice/", "/user/alice/?token=x", "/a#b"])
def test_normalize_prefix_refuses_what_is_not_a_path(bad: str) -> None:
    with pytest.raises(ValueError, match="must be a URL path"):
        normalize_prefix(bad)


def write_server_file(folder: Path, pid: int, base_url: str) -> None:
    info = {"base_url": base_url, "pid": pid, "port": 8888, "url": "http://127.0.0.1:8888/"}
    (folder / f"jpserver-{pid}.json").write_text(json.dumps(info))


def test_hub_prefix_wins(tmp_path: Path) -> None:
    write_server_file(tmp_path, 4321, "/lab-base/")
    env = {"JUPYTERHUB_SERVICE_PREFIX": "/user/alice/", "JUPYTER_RUNTIME_DIR": str(tmp_path)}
    assert jupyter_base_url(environ=env, parent_pid=4321) == "/user/alice/"


def test_parent_servers_base_url_is_used_without_a_hub(tmp_path: Path) -> None:
    write_server_file(tmp_path, 4321, "/lab-base/")
    write_server_file(tmp_path, 999, "/someone-else/")  # another server on this machine
    env = {"JUPYTER_RUNTIME_DIR": str(tmp_path)}
    assert jupyter_base_url(environ=env, parent_pid=4321) == "/lab-base/"


@pytest.mark.parametrize("content", ["", "{not json", "[1, 2]", '{"base_url": 7}'])
def test_an_unreadable_server_file_falls_back_to_the_root(tmp_path: Path, content: str) -> None:
    (tmp_path / "jpserver-4321.json").write_text(content)
    assert jupyter_base_url(environ={"JUPYTER_RUNTIME_DIR": str(tmp_path)}, parent_pid=4321) == "/"


def test_a_process_not_started_by_jupyter_uses_the_root(tmp_path: Path) -> None:
    assert jupyter_base_url(environ={"JUPYTER_RUNTIME_DIR": str(tmp_path)}, parent_pid=4321) == "/"
