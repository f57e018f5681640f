"""How the lab's server behaves: ``ServerSettings``, every field with a lesson-friendly default.

Example: ``ServerSettings(tokens_per_second=None, resumable=True)``; ``create_app``
in ``labsupport.server`` builds the app from it.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .agent_args import MAX_QUESTION_CHARS
from .host_guard import host_name
from .mockllm import MockLLM
from .request_checks import DEFAULT_MAX_BODY_BYTES
from .run_registry import DEFAULT_MAX_ACTIVE_RUNS
from .run_store import check_store_url

__all__ = ["DEFAULT_CORS_ORIGINS", "ServerSettings"]

# JupyterLab's usual address; the page itself is same-origin and needs no CORS at all.
DEFAULT_CORS_ORIGINS: tuple[str, ...] = ("http://127.0.0.1:8888", "http://localhost:8888")


class ServerSettings(BaseModel):
    """How the server behaves; every field has a lesson-friendly default.

    The pacing knobs (``ttft``, ``tokens_per_second``, ``tool_delay``,
    ``fail_after_tokens``, ``model``) build the default agent's ``MockLLM``; pass
    ``llm`` to use a mock of your own instead. To serve another agent, pass it to
    ``create_app(agent=...)``: these knobs then do not apply.

    Resuming (``resumable=True``): a run outlives its connection for
    ``resume_grace_seconds``; a client that reconnects with ``Last-Event-ID``
    gets the missed events (the last ``replay_events`` are kept, for
    ``replay_seconds`` after the run ends) and then the rest live.

    The secret (``require_token``, on by default): every request that starts, reads,
    resumes or cancels work, or reads ``/stats``, must carry the server's secret
    (``labsupport.auth``). ``require_token=False`` is the one switch that turns it
    off, for the lesson step that shows who else could use an open server.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    model: str = "lab-mock-1"
    ttft: float = Field(default=0.5, ge=0, allow_inf_nan=False)
    # Slow enough that a reader sees the answer arrive token by token.
    tokens_per_second: float | None = Field(default=20.0, gt=0, allow_inf_nan=False)
    tool_delay: float = Field(default=0.5, ge=0, allow_inf_nan=False)
    fail_after_tokens: int | None = Field(default=None, ge=0)
    llm: MockLLM | None = None
    k: int = Field(default=3, ge=1, le=10)
    keepalive_seconds: float = Field(default=15.0, gt=0, allow_inf_nan=False)
    max_message_chars: int = Field(default=MAX_QUESTION_CHARS, ge=1)
    cors_origins: tuple[str, ...] = DEFAULT_CORS_ORIGINS
    # Host names served besides 127.0.0.1, localhost and [::1] (any port); others get 403.
    allowed_hosts: tuple[str, ...] = ()
    # Off: a client that disconnects stops its run at once (nobody pays for an unread answer).
    # On: the run waits ``resume_grace_seconds`` for a reconnection with Last-Event-ID.
    resumable: bool = False
    resume_grace_seconds: float = Field(default=10.0, gt=0, allow_inf_nan=False)
    replay_events: int = Field(default=10_000, ge=1)
    replay_seconds: float = Field(default=60.0, gt=0, allow_inf_nan=False)
    # Runs active at once (running or parked); one more gets 429 with Retry-After.
    max_active_runs: int = Field(default=DEFAULT_MAX_ACTIVE_RUNS, ge=1)
    # A larger JSON body gets 413 before it is read whole.
    max_body_bytes: int = Field(default=DEFAULT_MAX_BODY_BYTES, ge=1)
    # Off only to show why it exists: then any user of this machine can use the server.
    require_token: bool = True
    # Where runs are kept: "memory" (this process) or a Redis URL shared by several workers.
    run_store: str = "memory"

    @field_validator("run_store")
    @classmethod
    def _known_store(cls, run_store: str) -> str:
        return check_store_url(run_store)

    @field_validator("cors_origins")
    @classmethod
    def _explicit_origins(cls, origins: tuple[str, ...]) -> tuple[str, ...]:
        for origin in origins:
            parts = urlsplit(origin)
            if origin == "*" or parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValueError(
                    f"cors_origins must list explicit origins such as 'http://127.0.0.1:8888', "
                    f"got {origin!r}"
                )
            if parts.path or parts.query or parts.fragment:
                raise ValueError(f"an origin has no path, query or fragment, got {origin!r}")
        return origins

    @field_validator("allowed_hosts")
    @classmethod
    def _plain_host_names(cls, hosts: tuple[str, ...]) -> tuple[str, ...]:
        for host in hosts:
            if not host or host != host_name(host) or any(c in host for c in "/*@ "):
                raise ValueError(
                    f"allowed_hosts must list lower-case host names without scheme, port or "
                    f"wildcard, such as 'lab.example.org', got {host!r}"
                )
        return hosts

    def build_llm(self) -> MockLLM:
        """The model the server's agent uses: ``llm`` if given, else a paced ``MockLLM``."""
        if self.llm is not None:
            return self.llm
        return MockLLM(
            model=self.model,
            ttft=self.ttft,
            tokens_per_second=self.tokens_per_second,
            tool_delay=self.tool_delay,
            fail_after_tokens=self.fail_after_tokens,
        )
