"""What every agent accepts, checked before any event: a question, ``k`` and a run id.

Bad arguments raise at once with a message that names the bad value:

>>> check_k(0)
Traceback (most recent call last):
...
ValueError: k must be an int from 1 to 10, got 0
"""

from __future__ import annotations

__all__ = ["MAX_QUESTION_CHARS", "check_k", "check_question", "check_run_id"]

MAX_QUESTION_CHARS = 2000


def check_question(question: object) -> str:
    """``question`` if it is a non-blank str of at most ``MAX_QUESTION_CHARS``."""
    if not isinstance(question, str):
        raise TypeError(f"question must be a str, got {type(question).__name__}")
    if not question.strip():
        raise ValueError("question must not be empty")
    if len(question) > MAX_QUESTION_CHARS:
        raise ValueError(
            f"question is {len(question)} characters long; the limit is {MAX_QUESTION_CHARS}"
        )
    return question


def check_k(k: object) -> int:
    """``k`` (how many documents a search returns) if it is an int from 1 to 10."""
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 10:
        raise ValueError(f"k must be an int from 1 to 10, got {k!r}")
    return k


def check_run_id(run_id: object) -> str | None:
    """``run_id`` if it is ``None`` (a fresh one will do) or a non-empty str."""
    if run_id is not None and (not isinstance(run_id, str) or not run_id):
        raise ValueError(f"run_id must be a non-empty str, got {run_id!r}")
    return run_id
