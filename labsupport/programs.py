"""Finding a program the lessons run for real and pip cannot install (nginx, redis-server).

An environment variable names it first (a student's own build, or a test pointing
at nothing); then ``PATH``; then the places package managers put it, which a
non-login shell's ``PATH`` may lack (``/usr/sbin`` on Debian).

>>> find_program("no-such-program-here", "LAB_NO_SUCH_PROGRAM", ()) is None
True
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence

__all__ = ["find_program"]


def find_program(name: str, variable: str, usual_places: Sequence[str]) -> str | None:
    """The path of ``name``: ``$variable`` if set (None if not executable), ``PATH``, the usual places."""
    configured = os.environ.get(variable)
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    found = shutil.which(name)
    if found:
        return found
    return next((path for path in usual_places if os.access(path, os.X_OK)), None)
