"""Why a run cannot be resumed or cancelled, as exceptions that say it in words.

The HTTP layer turns them into status codes; nothing here knows about HTTP.

>>> raise RunGone("run run_a no longer keeps those events")
Traceback (most recent call last):
...
labsupport.run_errors.RunGone: run run_a no longer keeps those events
"""

from __future__ import annotations

__all__ = ["RunConflict", "RunError", "RunGone", "StoreUnavailable", "TooManyRuns", "UnknownRun"]


class RunError(Exception):
    """A run cannot do what was asked; ``str(exc)`` says why."""


class UnknownRun(RunError, LookupError):
    """No run has that id here: it never existed, or it was forgotten."""


class RunGone(RunError):
    """The run existed, but what was asked for is gone: it expired, or its events were dropped."""


class RunConflict(RunError):
    """The run exists, but the request does not fit it (another message, a future seq, ended)."""


class TooManyRuns(RunError):
    """The server already holds as many active runs as it allows; no new run was created."""


class StoreUnavailable(ConnectionError):
    """The shared run store (Redis) does not answer; the message names it. Not the run's fault."""
