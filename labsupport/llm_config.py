"""Which model the lessons talk to, chosen by environment variables.

The lab's own keyless mock endpoint (the server running in the kernel) is the
default, so nothing costs money and nothing leaves the machine, whatever keys
happen to be in the shell. A real provider is an explicit choice::

    export LAB_LLM=openai                     # opt in to a real, paid provider
    export OPENAI_API_KEY=sk-...              # its key (required with LAB_LLM=openai)
    export OPENAI_BASE_URL=https://...        # optional: any OpenAI-compatible server
    export LAB_MODEL=gpt-4o-mini              # optional: the provider's model to ask

An ``OPENAI_API_KEY`` alone does not switch: many students have one exported
for other work, and a lesson must not start spending it by surprise. The key is
a secret: it is never printed, and ``repr`` and ``describe`` show only its last
four characters.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from openai import AsyncOpenAI, OpenAI

from .lab_url import resolve_token

__all__ = [
    "CHOICES",
    "DEFAULT_MOCK_MODEL",
    "DEFAULT_REAL_MODEL",
    "MOCK_API_KEY",
    "LLMConfig",
    "load_config",
    "mask_secret",
]

MOCK_API_KEY = "lab"
"""The key sent to a mock endpoint whose server has no secret (``require_token=False``)."""

CHOICES = ("mock", "openai")
"""The values ``LAB_LLM`` may take; unset means ``mock``."""

DEFAULT_MOCK_MODEL = "lab-mock-1"
DEFAULT_REAL_MODEL = "gpt-4o-mini"
_DEFAULT_REAL_BASE_URL = "https://api.openai.com/v1"


def mask_secret(secret: str) -> str:
    """A secret made safe to show: its last four characters at most.

    Example: ``mask_secret("sk-proj-abcdefghijklmnop") -> '****mnop'``
    """
    if len(secret) < 16:
        return "****"  # too short to reveal even a part safely
    return "****" + secret[-4:]


@dataclass(frozen=True)
class LLMConfig:
    """Where the lab's model lives: ``provider`` is ``"mock"`` (keyless) or ``"openai"`` (a real key)."""

    provider: Literal["mock", "openai"]
    base_url: str
    model: str
    api_key: str = field(repr=False)

    def __post_init__(self) -> None:
        if self.provider not in ("mock", "openai"):
            raise ValueError(f"provider must be 'mock' or 'openai', got {self.provider!r}")
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {self.base_url!r}")
        if not self.model:
            raise ValueError("model must not be empty")

    @property
    def is_mock(self) -> bool:
        """True when the lab's keyless mock answers."""
        return self.provider == "mock"

    def __repr__(self) -> str:
        return (
            f"LLMConfig(provider={self.provider!r}, base_url={self.base_url!r}, "
            f"model={self.model!r}, api_key={mask_secret(self.api_key)!r})"
        )

    def describe(self) -> str:
        """One line for a notebook: which endpoint and model, never the key itself."""
        if self.is_mock:
            return (
                f"the lab's mock model {self.model!r} (no key needed, nothing leaves this machine)"
            )
        return f"a real provider at {self.base_url}, model {self.model!r}, key {mask_secret(self.api_key)}"

    def client(self, **options: Any) -> OpenAI:
        """An ``OpenAI`` client for this configuration; ``options`` pass through (``timeout``, ...)."""
        return OpenAI(base_url=self.base_url, api_key=self.api_key, **options)

    def async_client(self, **options: Any) -> AsyncOpenAI:
        """An ``AsyncOpenAI`` client for this configuration."""
        return AsyncOpenAI(base_url=self.base_url, api_key=self.api_key, **options)


def chosen_provider(environ: Mapping[str, str] | None = None) -> Literal["mock", "openai"]:
    """The provider ``LAB_LLM`` asks for: ``"mock"`` unless it says ``openai``.

    Example: ``chosen_provider({"OPENAI_API_KEY": "sk-..."}) -> 'mock'`` (a key alone
    does not opt in); ``chosen_provider({"LAB_LLM": "OpenAI"}) -> 'openai'``.
    """
    env = os.environ if environ is None else environ
    choice = env.get("LAB_LLM", "").strip().lower() or "mock"
    if choice == "mock":
        return "mock"
    if choice == "openai":
        return "openai"
    raise ValueError(
        f"LAB_LLM must be one of {', '.join(CHOICES)} (or unset for the keyless mock), "
        f"got {env.get('LAB_LLM')!r}"
    )


def load_config(
    mock_base_url: str | None = None, *, environ: Mapping[str, str] | None = None
) -> LLMConfig:
    """The configuration the environment asks for.

    ``mock_base_url`` is the lab's endpoint used unless ``LAB_LLM=openai``, such
    as ``server.url_for("/v1")`` of the lab's in-kernel server: the server's secret
    in it (``?token=``, else ``$LAB_TOKEN``) becomes the SDK's ``api_key``, so the
    SDK sends it as ``Authorization: Bearer``. Without it, the mock
    cannot be used and this raises ``ValueError`` saying what to do. With
    ``LAB_LLM=openai`` and no ``OPENAI_API_KEY`` it raises too. ``environ``
    defaults to ``os.environ``.
    """
    env = os.environ if environ is None else environ
    if chosen_provider(env) == "openai":
        model = env.get("LAB_MODEL", "").strip()
        key = env.get("OPENAI_API_KEY", "").strip()
        if not key:
            raise ValueError(
                "LAB_LLM=openai asks for a real provider, but OPENAI_API_KEY is not set: "
                "export your key, or unset LAB_LLM to use the lab's keyless mock"
            )
        base_url = env.get("OPENAI_BASE_URL", "").strip() or _DEFAULT_REAL_BASE_URL
        return LLMConfig("openai", base_url.rstrip("/"), model or DEFAULT_REAL_MODEL, key)
    if not mock_base_url:
        raise ValueError(
            "the lab's keyless mock is used (LAB_LLM is not 'openai'), but no mock_base_url "
            "was given: start the lab server and pass server.url_for('/v1')"
        )
    base_url, token = resolve_token(mock_base_url, environ=env)
    # LAB_MODEL names the real provider's model; left set after trying one, it must not
    # send the mock a model it does not serve.
    return LLMConfig("mock", base_url.rstrip("/"), DEFAULT_MOCK_MODEL, token or MOCK_API_KEY)
