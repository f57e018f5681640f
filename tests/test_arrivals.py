"""``arrival_times`` straight from a paced server: every event, in order, spread over the run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from labsupport.arrivals import arrival_times
from tests.support.paced_server import QUESTION, STREAM_SECONDS, paced_server

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    """The lab server, paced so that a spread of arrivals would be unmistakable."""
    with paced_server() as url:
        yield url


@pytest.mark.slow
def test_arrival_times_direct_match_the_paced_run(upstream: str) -> None:
    arrivals = arrival_times(upstream, QUESTION)
    times = [t for t, _ in arrivals]
    assert times == sorted(times)
    assert arrivals[0][1] == "status" and arrivals[-1][1] == "done"
    assert times[-1] - times[0] > STREAM_SECONDS / 2
