"""Checks for lesson 01 (generators)."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Generator, Iterator
from typing import Any

from ._report import Check, attempt, exercise, fail, ok

__all__ = ["first_n", "words"]


@exercise
def words(func: Callable[[str], Any]) -> Check:
    """Exercise 1: ``words(text)`` yields each word with its leading space, lazily."""
    if not inspect.isgeneratorfunction(func):
        return fail(
            f"{getattr(func, '__name__', 'words')} is a plain function, not a generator function.",
            "a function becomes a generator function as soon as its body contains `yield`.",
        )
    result = attempt(lambda: list(func("Dana leads billing")))
    if result.error is not None:
        return fail(
            f'words("Dana leads billing") raised {result.describe_error()}',
            "loop over text.split(' ').",
        )
    expected = ["Dana", " leads", " billing"]
    if result.value != expected:
        return fail(
            f'list(words("Dana leads billing")) gave {result.value!r}, expected {expected!r}.',
            "every word after the first keeps the space before it, so ''.join(...) rebuilds the text.",
        )
    joined = attempt(lambda: "".join(func("a stream  of words")))
    if joined.value != "a stream  of words":
        return fail(
            f"''.join(words('a stream  of words')) gave {joined.value!r}.",
            "keep every space: two spaces in the text should survive the round trip.",
        )
    return ok("words() streams the text word by word, and joining the words gives the text back.")


@exercise
def first_n(func: Callable[[Iterator[Any], int], Any]) -> Check:
    """Exercise 2: ``first_n(stream, n)`` takes n items, then closes the stream."""
    log: list[str] = []

    def producer() -> Generator[int, None, None]:
        try:
            for i in range(1, 100):
                log.append(f"made {i}")
                yield i
        finally:
            log.append("finally")

    result = attempt(func, producer(), 3)
    if result.error is not None:
        return fail(
            f"first_n(stream, 3) raised {result.describe_error()}", "call next(stream) n times."
        )
    if result.value != [1, 2, 3]:
        return fail(
            f"first_n(stream, 3) returned {result.value!r}, expected [1, 2, 3].",
            "collect the items in a list and return it.",
        )
    made = sum(1 for line in log if line.startswith("made"))
    if made > 3:
        return fail(
            f"the producer made {made} items for n=3: you asked for one more than you kept.",
            "stop asking once you have n items (a for loop with a counter and break, or itertools.islice).",
        )
    if "finally" not in log:
        return fail(
            "the producer's finally never ran: the stream was left open.",
            "call stream.close() once you have your n items; that raises GeneratorExit inside the producer.",
        )
    return ok(
        "first_n() takes exactly n items and closes the stream, so the producer stops working at once."
    )
