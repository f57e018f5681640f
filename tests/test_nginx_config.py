"""The nginx config: every path in the work directory, knobs on the server, directives on the location.

These read the text ``labsupport.nginx_config.render_config`` builds; they need no nginx.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from labsupport.nginx_config import render_config


def test_every_path_nginx_writes_is_in_the_work_directory(tmp_path: Path) -> None:
    config = render_config("http://127.0.0.1:8000", port=8080, workdir=tmp_path)
    paths = [
        word.strip('";') for word in config.split() if word.startswith(('"/', "/")) and word != "/"
    ]
    assert len(paths) >= 8
    assert all(Path(p).is_relative_to(tmp_path) for p in paths), paths
    assert "daemon off;" in config and "listen 127.0.0.1:8080;" in config
    assert "proxy_pass http://127.0.0.1:8000;" in config
    as_root = hasattr(os, "geteuid") and os.geteuid() == 0
    assert ("user " in config) == as_root


def test_directives_go_on_the_location_and_knobs_on_the_server(tmp_path: Path) -> None:
    config = render_config(
        "http://localhost:8000/",
        port=8080,
        workdir=tmp_path,
        accel_buffering="ignore",
        buffering=False,
        read_timeout=2.5,
        directives=["  proxy_buffering on;  "],
    )
    server, location = config.split("location / {")
    assert "proxy_buffering off;" in server and "proxy_read_timeout 2500ms;" in server
    assert "proxy_ignore_headers X-Accel-Buffering;" in server
    assert "proxy_buffering on;" in location and "proxy_pass http://localhost:8000;" in location
    plain = render_config("http://127.0.0.1:8000", port=8080, workdir=tmp_path, gzip=False)
    assert (
        "gzip" not in plain and "proxy_read_timeout" not in plain and "proxy_buffering" not in plain
    )


def test_a_bad_port_is_refused_by_render_config(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="port must be an int from 1 to 65535"):
        render_config("http://127.0.0.1:8000", port=0, workdir=tmp_path)


def test_several_upstreams_become_one_round_robin_block(tmp_path: Path) -> None:
    config = render_config(
        ["http://127.0.0.1:8001", "http://127.0.0.1:8002/"], port=8080, workdir=tmp_path
    )
    block = config.split("upstream lab_workers {")[1].split("}")[0]
    assert block.split() == ["server", "127.0.0.1:8001;", "server", "127.0.0.1:8002;"]
    assert "proxy_pass http://lab_workers;" in config
    # The workers check the Host header: they must see the client's, not "lab_workers".
    assert "proxy_set_header Host $http_host;" in config
    single = render_config("http://127.0.0.1:8001", port=8080, workdir=tmp_path)
    assert "upstream lab_workers" not in single and "$http_host" not in single


@pytest.mark.parametrize(
    ("upstream", "message"),
    [
        ([], "upstream must be a URL string"),
        (["http://127.0.0.1:8001", "http://a;b:80"], "plain http://host:port"),
        (["ftp://127.0.0.1:8001"], "must be an http:// URL"),
    ],
    ids=["empty", "injection", "scheme"],
)
def test_a_bad_upstream_in_a_list_is_named(
    tmp_path: Path, upstream: list[str], message: str
) -> None:
    with pytest.raises((TypeError, ValueError), match=message):
        render_config(upstream, port=8080, workdir=tmp_path)
