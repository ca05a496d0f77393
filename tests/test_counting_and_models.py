"""The calls coding agents make besides generating: token counts and model lists, through
the official SDKs on the Anthropic and Gemini surfaces, in those APIs' own shapes."""

from __future__ import annotations

import anthropic
import pytest
import requests
from google import genai
from google.genai import types

from llm_gateway.limits import estimate_prompt
from tests.support import scripted_anthropic, scripted_gemini
from tests.support.scripted_upstream import ScriptedUpstream
from tests.support.stack import KEY, OTHER_KEY, Stack

MESSAGES = [{"role": "user", "content": "how many tokens is this"}]


@pytest.fixture
def claude(stack: Stack) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=stack.rest_url, api_key=KEY, max_retries=0, timeout=20)


@pytest.fixture
def gemini(stack: Stack) -> genai.Client:
    options = types.HttpOptions(base_url=stack.rest_url, api_version="v1beta")
    return genai.Client(api_key=KEY, http_options=options)


def test_anthropic_count_tokens_is_the_upstreams_count(
    claude: anthropic.Anthropic, upstream: ScriptedUpstream
) -> None:
    raw = claude.messages.with_raw_response.count_tokens(
        model="claude-echo", system="Be brief.", messages=MESSAGES
    )
    assert raw.headers["x-llm-gateway-token-count"] == "upstream"
    assert raw.headers["x-llm-gateway-deployment"] == "claude/echo"
    sent = upstream.last()
    assert sent.path == "/anthropic/v1/messages/count_tokens"
    assert sent.body == {"model": "echo", "system": "Be brief.", "messages": MESSAGES}
    assert raw.parse().input_tokens == scripted_anthropic.counted_tokens(sent.body)


def test_anthropic_count_tokens_without_an_anthropic_upstream_is_estimated(
    claude: anthropic.Anthropic,
) -> None:
    raw = claude.messages.with_raw_response.count_tokens(model="gpt-echo", messages=MESSAGES)
    assert raw.headers["x-llm-gateway-token-count"] == "estimated"
    expected = estimate_prompt({"messages": [None, MESSAGES, None]})
    assert raw.parse().input_tokens == expected > 0


def test_anthropic_count_tokens_errors_are_anthropics(claude: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.NotFoundError) as missing:
        claude.messages.count_tokens(model="no-such-model", messages=MESSAGES)
    assert missing.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]
    with pytest.raises(anthropic.BadRequestError) as invalid:
        claude.messages.count_tokens(model="claude-echo", messages=[])
    assert "messages" in invalid.value.message


def test_anthropic_model_list_and_lookup_in_anthropics_shape(
    claude: anthropic.Anthropic, stack: Stack
) -> None:
    page = claude.models.list()
    ids = [model.id for model in page.data]
    assert "claude-echo" in ids and "gpt-echo" in ids
    assert all(model.type == "model" and model.created_at for model in page.data)
    assert page.has_more is False
    model = claude.models.retrieve("claude-echo")
    assert (model.id, model.display_name) == ("claude-echo", "claude-echo")
    with pytest.raises(anthropic.NotFoundError) as missing:
        claude.models.retrieve("no-such-model")
    assert missing.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]
    # OpenAI's callers of the same path still get OpenAI's shape.
    openai_list = requests.get(
        f"{stack.rest_url}/v1/models", headers={"authorization": f"Bearer {KEY}"}, timeout=5
    ).json()
    assert openai_list["object"] == "list" and openai_list["data"][0]["object"] == "model"


def test_gemini_count_tokens_is_the_upstreams_count(
    gemini: genai.Client, upstream: ScriptedUpstream
) -> None:
    counted = gemini.models.count_tokens(model="gemini-echo", contents="how many tokens")
    sent = upstream.last()
    assert sent.path == "/gemini/v1beta/models/echo:countTokens"
    assert counted.total_tokens == scripted_gemini.counted_tokens(sent.body)


def test_gemini_count_tokens_elsewhere_is_estimated(stack: Stack) -> None:
    body = {"contents": [{"role": "user", "parts": [{"text": "how many tokens"}]}]}
    response = requests.post(
        f"{stack.rest_url}/v1beta/models/claude-echo:countTokens",
        json=body,
        headers={"x-goog-api-key": KEY},
        timeout=10,
    )
    assert response.status_code == 200
    assert response.headers["x-llm-gateway-token-count"] == "estimated"
    expected = estimate_prompt({"messages": [None, body["contents"]]})
    assert response.json() == {"totalTokens": expected}


def test_gemini_model_list_and_lookup_in_geminis_shape(gemini: genai.Client, stack: Stack) -> None:
    names = [model.name for model in gemini.models.list()]
    assert "models/gemini-echo" in names and "models/claude-echo" in names
    model = gemini.models.get(model="gemini-echo")
    assert model.name == "models/gemini-echo"
    assert model.supported_actions is not None and "countTokens" in model.supported_actions
    response = requests.get(
        f"{stack.rest_url}/v1beta/models/no-such-model",
        headers={"x-goog-api-key": KEY},
        timeout=5,
    )
    assert response.status_code == 404 and response.json()["error"]["status"] == "NOT_FOUND"
    # A key limited to some models lists only those.
    listed = requests.get(
        f"{stack.rest_url}/v1beta/models", params={"key": OTHER_KEY}, timeout=5
    ).json()
    assert {m["name"] for m in listed["models"]} < set(names)
