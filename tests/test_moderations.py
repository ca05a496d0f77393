"""Moderations through Envoy with the official `openai` SDK, and over the typed gRPC API,
against the scripted double of OpenAI's `/v1/moderations`; answers validated by the spec."""

from __future__ import annotations

import json
from pathlib import Path

import fastjsonschema
import grpc
import openai
import pytest
import requests

from llm_gateway.v1 import llm_gateway_service_pb2_grpc, moderations_pb2
from tests.support.grpc_client import METADATA, error_details
from tests.support.scripted_upstream import ScriptedUpstream
from tests.support.stack import KEY, Stack

_SCHEMAS = json.loads(
    (Path(__file__).parent / "fixtures" / "openai_response_schemas.json").read_text()
)
validate_moderation = fastjsonschema.compile(_SCHEMAS["moderation"])
IMAGE = "data:image/png;base64,iVBORw0KGgo="


def _raw(stack: Stack, body: object) -> requests.Response:
    return requests.post(
        f"{stack.rest_url}/v1/moderations",
        headers={"authorization": f"Bearer {KEY}"},
        json=body,
        timeout=10,
    )


def test_sdk_moderates_texts_in_order(client: openai.OpenAI, stack: Stack) -> None:
    answer = client.moderations.create(
        model="omni-moderation-latest", input=["I will kill the process", "hello"]
    )
    assert [r.flagged for r in answer.results] == [True, False]
    assert answer.results[0].categories.violence is True
    validate_moderation(_raw(stack, {"input": ["kill", "hi"]}).json())
    validate_moderation(
        _raw(stack, {"input": [{"type": "image_url", "image_url": {"url": IMAGE}}]}).json()
    )


def test_the_apis_default_model_serves_a_request_without_one(
    client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    answer = client.moderations.create(input="hello")
    assert answer.results[0].flagged is False
    assert upstream.last().body["model"] == "omni-moderation-latest"


def test_text_and_image_parts(client: openai.OpenAI, upstream: ScriptedUpstream) -> None:
    answer = client.moderations.create(
        model="omni-moderation-latest",
        input=[
            {"type": "text", "text": "a picture"},
            {"type": "image_url", "image_url": {"url": IMAGE}},
        ],
    )
    assert answer.results[0].category_applied_input_types.violence == ["text", "image"]
    assert upstream.last().body["input"][1]["image_url"]["url"] == IMAGE


def test_the_upstreams_refusal_reaches_the_caller(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.moderations.create(
            model="text-moderation-latest",
            input=[{"type": "image_url", "image_url": {"url": IMAGE}}],
        )
    assert caught.value.param == "input[0]"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "omni-moderation-latest"}, "input"),
        ({"input": [{"type": "video", "video": "x"}]}, "input"),
        ({"input": 5}, "input"),
    ],
)
def test_bad_requests_name_the_field(stack: Stack, body: object, param: str) -> None:
    answer = _raw(stack, body)
    assert answer.status_code == 400
    assert answer.json()["error"]["param"] == param


@pytest.mark.parametrize("model", ["gpt-echo", "text-embed"])
def test_other_models_do_not_moderate(client: openai.OpenAI, model: str) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.moderations.create(model=model, input="hello")
    assert caught.value.code == "operation_not_supported"


def test_a_provider_without_a_moderations_api_says_so(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.moderations.create(model="claude-moderation", input="hello")
    assert caught.value.code == "operation_not_supported"
    assert "moderations API" in caught.value.message


def test_typed_moderation(typed: llm_gateway_service_pb2_grpc.LlmGatewayServiceStub) -> None:
    answer = typed.CreateModeration(
        moderations_pb2.ModerationRequest(texts=["kill it", "fine"]), metadata=METADATA, timeout=10
    )
    assert [r.flagged for r in answer.results] == [True, False]
    assert answer.results[0].category_scores["violence"] == pytest.approx(0.9)
    assert list(answer.results[0].category_applied_input_types["violence"].types) == ["text"]
    parts = moderations_pb2.ModerationRequest(
        model="omni-moderation-latest",
        parts=[
            moderations_pb2.ModerationInput(text="x"),
            moderations_pb2.ModerationInput(image_url=IMAGE),
        ],
    )
    answer = typed.CreateModeration(parts, metadata=METADATA, timeout=10)
    applied = answer.results[0].category_applied_input_types
    assert list(applied["violence"].types) == ["text", "image"]
    assert list(applied["hate"].types) == ["text"]


def test_typed_moderation_errors(typed: llm_gateway_service_pb2_grpc.LlmGatewayServiceStub) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        typed.CreateModeration(
            moderations_pb2.ModerationRequest(model="gpt-echo", texts=["x"]),
            metadata=METADATA,
            timeout=10,
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    error, _ = error_details(caught.value)
    assert error.code == "operation_not_supported" and error.param == "model"
