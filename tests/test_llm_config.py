"""Choosing the model by environment: keyless mock by default, a real provider only by LAB_LLM=openai."""

from __future__ import annotations

import pytest

from labsupport.lifecycle import check_stream
from labsupport.llm_config import (
    DEFAULT_MOCK_MODEL,
    DEFAULT_REAL_MODEL,
    MOCK_API_KEY,
    LLMConfig,
    chosen_provider,
    load_config,
    mask_secret,
)
from labsupport.openai_agent import openai_chat_stream
from tests.support.openai_server import MockEndpoints

KEY = "sk-test-0123456789abcdefWXYZ"
MOCK_URL = "http://127.0.0.1:8765/v1"
REAL = {"LAB_LLM": "openai", "OPENAI_API_KEY": KEY}


def test_no_key_means_the_keyless_mock() -> None:
    config = load_config(MOCK_URL, environ={})
    assert (config.provider, config.base_url, config.model, config.api_key) == (
        "mock",
        MOCK_URL,
        DEFAULT_MOCK_MODEL,
        MOCK_API_KEY,
    )
    assert config.is_mock


def test_a_blank_key_counts_as_no_key() -> None:
    assert load_config(MOCK_URL, environ={"OPENAI_API_KEY": "  "}).is_mock


def test_base_url_alone_does_not_leave_the_mock() -> None:
    config = load_config(MOCK_URL, environ={"OPENAI_BASE_URL": "https://example.invalid/v1"})
    assert config.base_url == MOCK_URL


def test_lab_model_is_the_real_providers_and_never_reaches_the_mock() -> None:
    # Left over from trying a provider, it would make every mock request a 404.
    assert load_config(MOCK_URL, environ={"LAB_MODEL": "gpt-4o-mini"}).model == DEFAULT_MOCK_MODEL


def test_a_key_alone_stays_on_the_keyless_mock() -> None:
    # A key exported for other work must not start spending in a lesson by surprise.
    config = load_config(MOCK_URL, environ={"OPENAI_API_KEY": KEY})
    assert (config.provider, config.base_url, config.api_key) == ("mock", MOCK_URL, MOCK_API_KEY)


@pytest.mark.parametrize("value", ["", "mock", " MOCK "], ids=["blank", "mock", "spaced-caps"])
def test_lab_llm_unset_or_mock_means_the_mock(value: str) -> None:
    assert chosen_provider({"LAB_LLM": value, "OPENAI_API_KEY": KEY}) == "mock"


def test_lab_llm_openai_opts_in_to_the_real_provider_with_its_defaults() -> None:
    config = load_config(MOCK_URL, environ=REAL)
    assert (config.provider, config.base_url, config.model, config.api_key) == (
        "openai",
        "https://api.openai.com/v1",
        DEFAULT_REAL_MODEL,
        KEY,
    )
    assert not config.is_mock


def test_base_url_and_model_come_from_the_environment() -> None:
    env = REAL | {"OPENAI_BASE_URL": "https://llm.example/v1/", "LAB_MODEL": "m-2"}
    config = load_config(environ=env)
    assert (config.base_url, config.model) == ("https://llm.example/v1", "m-2")


def test_opting_in_without_a_key_explains_what_to_do() -> None:
    with pytest.raises(
        ValueError, match=r"LAB_LLM=openai .* OPENAI_API_KEY is not set.*unset LAB_LLM"
    ):
        load_config(MOCK_URL, environ={"LAB_LLM": "openai", "OPENAI_API_KEY": " "})


def test_an_unknown_choice_names_the_choices() -> None:
    with pytest.raises(ValueError, match=r"LAB_LLM must be one of mock, openai .*got 'anthropic'"):
        load_config(MOCK_URL, environ={"LAB_LLM": "anthropic"})


def test_no_mock_url_explains_what_to_do() -> None:
    with pytest.raises(ValueError, match=r"keyless mock is used.*start the lab server"):
        load_config(environ={"OPENAI_API_KEY": KEY})


def test_the_process_environment_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAB_LLM", "openai")
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.delenv("LAB_MODEL", raising=False)
    assert load_config().provider == "openai"


@pytest.mark.parametrize(
    ("secret", "shown"),
    [(KEY, "****WXYZ"), ("short-key", "****"), ("", "****")],
    ids=["long", "short", "empty"],
)
def test_mask_secret_shows_at_most_the_last_four_characters(secret: str, shown: str) -> None:
    assert mask_secret(secret) == shown


def test_the_key_never_appears_in_repr_str_or_describe() -> None:
    config = load_config(environ=REAL)
    for text in (repr(config), str(config), config.describe(), f"{config}"):
        assert KEY not in text
        assert KEY[:-4] not in text
    assert "****WXYZ" in repr(config)


def test_describe_says_which_endpoint_answers() -> None:
    assert "mock model 'lab-mock-1'" in load_config(MOCK_URL, environ={}).describe()
    real = load_config(environ=REAL).describe()
    assert real == "a real provider at https://api.openai.com/v1, model 'gpt-4o-mini', key ****WXYZ"


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"provider": "azure"}, "provider must be"),
        ({"base_url": "localhost:8000"}, "base_url must start with http"),
        ({"model": ""}, "model must not be empty"),
    ],
    ids=["provider", "base-url", "model"],
)
def test_bad_config_is_refused(fields: dict[str, str], match: str) -> None:
    values = {"provider": "mock", "base_url": MOCK_URL, "model": "m", "api_key": "lab"} | fields
    with pytest.raises(ValueError, match=match):
        LLMConfig(**values)  # type: ignore[arg-type]


# -- the same code on both sides, over a real socket --------------------------------------------


def test_the_mock_config_streams_with_no_key(lab: MockEndpoints) -> None:
    config = load_config(lab["instant"].base_url, environ={})
    events = list(
        openai_chat_stream("Who runs billing?", client=config.client(), model=config.model)
    )
    assert check_stream(events) == []
    assert events[-1].type == "done"


def test_a_provider_config_sends_its_key_and_runs_the_same_code(lab: MockEndpoints) -> None:
    # A "real provider" here is the mock behind OPENAI_BASE_URL: the code path is the same.
    env = REAL | {"OPENAI_BASE_URL": lab["instant"].base_url, "LAB_MODEL": "lab-mock-1"}
    config = load_config(environ=env)
    lab.authorizations.clear()
    events = list(
        openai_chat_stream(
            "Who runs billing?", client=config.client(max_retries=0), model=config.model
        )
    )
    assert check_stream(events) == []
    assert events[-1].type == "done"
    assert lab.authorizations == [f"Bearer {KEY}", f"Bearer {KEY}"]
    assert all(KEY not in e.to_json() for e in events)


async def test_the_async_client_follows_the_same_config(lab: MockEndpoints) -> None:
    config = load_config(lab["instant"].base_url, environ={})
    client = config.async_client(max_retries=0)
    models = await client.models.list()
    await client.close()
    assert [m.id for m in models.data] == ["lab-mock-1", "lab-mock-large"]
