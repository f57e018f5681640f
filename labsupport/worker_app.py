"""The lab app built from the environment, for several worker processes started alike.

    LAB_RUN_STORE=redis://127.0.0.1:6379/0 uvicorn labsupport.worker_app:app --workers 4

Every worker imports this module and builds the same app: ``LAB_SERVER_SETTINGS``
(JSON of ``ServerSettings`` fields, default ``{}``) with ``LAB_RUN_STORE`` (default
``memory``) as its ``run_store``. With ``memory`` each worker keeps its own runs, and
a resume that lands on another worker gets 404 (lesson 8 shows it); with a Redis
URL they share them. A secret shared by the workers comes from ``LAB_TOKEN``, which
``labsupport.workers`` passes through to every worker it starts.
"""

from __future__ import annotations

import json
import os

from fastapi import FastAPI

from .auth import token_from_env
from .server import ServerSettings, create_app

__all__ = ["app", "settings_from_environment"]


def settings_from_environment() -> ServerSettings:
    """``ServerSettings`` from ``LAB_SERVER_SETTINGS`` (JSON) and ``LAB_RUN_STORE``."""
    raw = os.environ.get("LAB_SERVER_SETTINGS", "{}")
    try:
        fields = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"LAB_SERVER_SETTINGS must be a JSON object, got {raw!r} ({exc})"
        ) from None
    if not isinstance(fields, dict):
        raise ValueError(f"LAB_SERVER_SETTINGS must be a JSON object, got {raw!r}")
    store = os.environ.get("LAB_RUN_STORE")
    if store:
        fields["run_store"] = store
    return ServerSettings.model_validate(fields)


app: FastAPI = create_app(settings_from_environment(), token=token_from_env())
"""The app every worker serves: ``uvicorn labsupport.worker_app:app --workers N``."""
