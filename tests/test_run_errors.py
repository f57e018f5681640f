"""Why a run cannot be resumed or cancelled: plain exceptions, with HTTP codes only in the HTTP layer."""

from __future__ import annotations

from labsupport.run_errors import RunConflict, RunError, RunGone, TooManyRuns, UnknownRun
from labsupport.run_requests import STATUS


def test_every_run_error_has_exactly_one_http_status_in_the_http_layer() -> None:
    assert {UnknownRun: 404, RunGone: 410, RunConflict: 409, TooManyRuns: 429} == STATUS
    assert all(issubclass(kind, RunError) for kind in STATUS)
    assert not any(hasattr(kind("x"), "status") for kind in STATUS)


def test_an_unknown_run_is_also_a_lookup_error() -> None:
    assert isinstance(UnknownRun("run_x"), LookupError)
    assert str(RunGone("run run_x expired")) == "run run_x expired"
