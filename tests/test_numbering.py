"""Run ids and the numbering of a run's events."""

from __future__ import annotations

import re

from labsupport.events import StatusEvent
from labsupport.numbering import Numbering, new_run_id


def test_run_ids_are_fresh_and_shaped_for_last_event_id() -> None:
    ids = {new_run_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(re.fullmatch(r"run_[0-9a-f]{12}", run_id) for run_id in ids)


def test_events_are_numbered_from_zero_without_gaps() -> None:
    emit = Numbering("run_t")
    events = [emit(StatusEvent, message="thinking"), emit.token("a"), emit.token("b")]
    assert [(e.run_id, e.seq) for e in events] == [("run_t", 0), ("run_t", 1), ("run_t", 2)]
    assert emit.seq == 3
