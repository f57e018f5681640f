"""Finding lab servers that answer without their secret, as ``doctor`` does: real servers on loopback."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from labsupport import MockLLM
from labsupport.doctor import check_secret
from labsupport.kernel_server import ServerHandle, start_server
from labsupport.open_servers import listening_ports, open_lab_servers
from labsupport.server import ServerSettings

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/net")


@pytest.fixture(scope="module")
def two_servers() -> Iterator[tuple[ServerHandle, ServerHandle]]:
    guarded = start_server(settings=ServerSettings(llm=MockLLM.instant()), name="os-guarded")
    settings = ServerSettings(llm=MockLLM.instant(), require_token=False)
    open_one = start_server(settings=settings, name="os-open")
    try:
        yield guarded, open_one
    finally:
        guarded.stop()
        open_one.stop()


@linux_only
def test_this_users_listening_ports_include_both_servers(
    two_servers: tuple[ServerHandle, ServerHandle],
) -> None:
    ports = listening_ports()
    assert ports is not None
    assert {two_servers[0].port, two_servers[1].port} <= set(ports)


@linux_only
def test_another_users_sockets_are_not_listed(
    two_servers: tuple[ServerHandle, ServerHandle],
) -> None:
    ports = listening_ports(uid=4_000_000)
    assert ports is not None and two_servers[1].port not in ports


def test_only_the_server_without_its_secret_is_reported(
    two_servers: tuple[ServerHandle, ServerHandle],
) -> None:
    guarded, open_one = two_servers
    assert open_lab_servers([guarded.port, open_one.port]) == [open_one.port]


@linux_only
def test_doctor_names_the_open_server_and_how_to_close_it(
    two_servers: tuple[ServerHandle, ServerHandle],
) -> None:
    finding = check_secret(environ={})
    assert not finding.ok and not finding.required
    assert f"127.0.0.1:{two_servers[1].port}" in finding.what
    assert f"{two_servers[0].port}" not in finding.what
    assert finding.fix is not None and "require_token=False" in finding.fix


def test_doctor_is_content_when_every_server_wants_its_secret() -> None:
    assert check_secret(environ={}, find=list).ok


def test_doctor_refuses_a_weak_lab_token_without_showing_it() -> None:
    finding = check_secret(environ={"LAB_TOKEN": "hunter2"}, find=list)
    assert not finding.ok
    assert "hunter2" not in finding.what and "LAB_TOKEN" in finding.what
