"""Embeddings through Envoy: the official `openai` SDK on `/v1/embeddings` and `google-genai`
on Gemini's `:embedContent` / `:batchEmbedContents`, against the scripted doubles of OpenAI's
and Gemini's wire formats; answers validated by the spec's own schema."""

from __future__ import annotations

import json
from pathlib import Path

import fastjsonschema
import grpc
import openai
import pytest
import requests
from google import genai
from google.genai import errors, types

from llm_gateway.api.grpc import responses as grpc_responses
from llm_gateway.config.settings import Price
from llm_gateway.dataplane import ServedModel
from llm_gateway.v1 import llm_gateway_service_pb2_grpc, models_pb2
from tests.support import scripted_embeddings
from tests.support.grpc_client import METADATA
from tests.support.scripted_upstream import ScriptedUpstream
from tests.support.stack import KEY, Stack

_SCHEMAS = json.loads(
    (Path(__file__).parent / "fixtures" / "openai_response_schemas.json").read_text()
)
validate_list = fastjsonschema.compile(_SCHEMAS["embedding_list"])
TEXTS = [f"sentence number {i}" for i in range(8)]


@pytest.fixture
def gemini(stack: Stack) -> genai.Client:
    options = types.HttpOptions(base_url=stack.rest_url, api_version="v1beta")
    return genai.Client(api_key=KEY, http_options=options)


def _raw(stack: Stack, body: object, path: str = "/v1/embeddings") -> requests.Response:
    return requests.post(
        f"{stack.rest_url}{path}",
        headers={"authorization": f"Bearer {KEY}"},
        json=body,
        timeout=10,
    )


@pytest.mark.parametrize("model", ["text-embed", "gemini-embed"])
def test_sdk_embeds_a_batch_in_order(client: openai.OpenAI, stack: Stack, model: str) -> None:
    answer = client.embeddings.create(model=model, input=TEXTS)
    assert [item.index for item in answer.data] == list(range(len(TEXTS)))
    for item, text in zip(answer.data, TEXTS, strict=True):
        assert scripted_embeddings.close(item.embedding, scripted_embeddings.vector(text, 8))
    assert answer.usage.prompt_tokens > 0
    validate_list(_raw(stack, {"model": model, "input": TEXTS}).json())


@pytest.mark.parametrize("model", ["text-embed", "gemini-embed"])
def test_base64_decodes_to_the_same_vectors(
    client: openai.OpenAI, stack: Stack, model: str
) -> None:
    floats = client.embeddings.create(model=model, input=TEXTS[:3], encoding_format="float")
    # The SDK asks for base64 by default and decodes it: the same vectors as floats.
    decoded = client.embeddings.create(model=model, input=TEXTS[:3])
    for a, b in zip(floats.data, decoded.data, strict=True):
        assert scripted_embeddings.close(a.embedding, b.embedding)
    raw = _raw(stack, {"model": model, "input": TEXTS[:3], "encoding_format": "base64"}).json()
    # The spec's schema has only the float form; the rest of the answer is checked by it.
    assert all(isinstance(item["embedding"], str) for item in raw["data"])
    validate_list({**raw, "data": [{**item, "embedding": []} for item in raw["data"]]})


def test_a_large_batch_is_split_and_joined_in_order(
    client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    before = len(upstream.requests)
    answer = client.embeddings.create(model="text-embed-batched", input=TEXTS)
    calls = [r for r in upstream.requests[before:] if r.path == "/v1/embeddings"]
    # Sent at once, they arrive in any order: each call holds its batch, in the inputs' order.
    batches = sorted((c.body["input"] for c in calls), key=lambda sent: TEXTS.index(sent[0]))
    assert batches == [TEXTS[0:3], TEXTS[3:6], TEXTS[6:8]]
    assert [item.index for item in answer.data] == list(range(len(TEXTS)))
    for item, text in zip(answer.data, TEXTS, strict=True):
        assert scripted_embeddings.close(item.embedding, scripted_embeddings.vector(text, 8))
    assert answer.usage.prompt_tokens == sum(len(t.split()) for t in TEXTS)


def test_token_inputs_and_dimensions_reach_an_openai_upstream(
    client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    answer = client.embeddings.create(
        model="text-embed", input=[[1, 2, 3], [4, 5]], dimensions=4, user="u-1"
    )
    sent = upstream.last().body
    assert sent["input"] == [[1, 2, 3], [4, 5]] and sent["dimensions"] == 4
    assert sent["user"] == "u-1" and sent["model"] == "embed-8"
    assert scripted_embeddings.close(
        answer.data[1].embedding, scripted_embeddings.vector([4, 5], 4)
    )


def test_gemini_upstream_gets_batch_embed_contents(
    client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    client.embeddings.create(
        model="gemini-embed",
        input=["a", "b"],
        dimensions=4,
        extra_body={"task_type": "RETRIEVAL_QUERY"},
    )
    sent = upstream.last()
    assert sent.path.endswith("/models/embed-8:batchEmbedContents")
    assert [r["content"]["parts"][0]["text"] for r in sent.body["requests"]] == ["a", "b"]
    assert {r["outputDimensionality"] for r in sent.body["requests"]} == {4}
    assert {r["taskType"] for r in sent.body["requests"]} == {"RETRIEVAL_QUERY"}


def test_token_ids_to_gemini_are_refused_naming_input(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model="gemini-embed", input=[[1, 2, 3]])
    assert caught.value.param == "input[0]"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "text-embed"}, "input"),
        ({"model": "text-embed", "input": ""}, "input"),
        ({"model": "text-embed", "input": ["a", ""]}, "input[1]"),
        ({"model": "text-embed", "input": ["a"] * 2049}, "input"),
        ({"model": "text-embed", "input": "a", "encoding_format": "int8"}, "encoding_format"),
        ({"model": "text-embed", "input": "a", "dimensions": 0}, "dimensions"),
    ],
)
def test_bad_requests_are_refused_in_openais_shape(stack: Stack, body: object, param: str) -> None:
    answer = _raw(stack, body)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param


def test_a_chat_model_does_not_serve_embeddings(
    client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    before = len(upstream.requests)
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model="gpt-echo", input="hello")
    assert caught.value.code == "operation_not_supported" and caught.value.param == "model"
    assert "gpt-echo" in caught.value.message and "embeddings" in caught.value.message
    with pytest.raises(openai.BadRequestError) as chat:
        client.chat.completions.create(
            model="text-embed", messages=[{"role": "user", "content": "hi"}]
        )
    assert chat.value.code == "operation_not_supported"
    assert len(upstream.requests) == before  # refused before any upstream call


def test_a_fallback_that_does_not_embed_is_skipped(
    client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    before = len(upstream.requests)
    answer = client.embeddings.create(model="embed-falls-back", input="hello")
    # gpt-echo (a chat model, upstream `echo`) was passed over; text-embed (`embed-8`) served.
    assert answer.model == "embed-8"
    assert [r.body["model"] for r in upstream.requests[before:]] == ["embed-8"]


def test_gemini_surface_names_what_another_upstream_cannot_carry(
    stack: Stack, upstream: ScriptedUpstream
) -> None:
    body = {
        "requests": [
            {"model": "models/text-embed", "content": {"parts": [{"text": "a"}]},
             "taskType": "RETRIEVAL_DOCUMENT", "title": "Doc", "outputDimensionality": 4},
        ]
    }  # fmt: skip
    answer = _raw(stack, body, "/v1beta/models/text-embed:batchEmbedContents")
    assert answer.status_code == 200
    assert answer.headers["x-llm-gateway-dropped"] == "requests[].taskType, requests[].title"
    assert upstream.last().body == {
        "model": "embed-8",
        "input": ["a"],
        "encoding_format": "float",
        "dimensions": 4,
    }
    assert scripted_embeddings.close(
        answer.json()["embeddings"][0]["values"], scripted_embeddings.vector("a", 4)
    )


def test_models_list_what_each_model_serves(client: openai.OpenAI) -> None:
    listed = {m.id: m for m in client.models.list()}
    assert listed["text-embed"].model_extra["llm_gateway"]["operations"] == ["embeddings"]
    assert listed["gpt-echo"].model_extra["llm_gateway"]["operations"] == [
        "chat",
        "completions",
        "responses",
    ]


def test_gemini_models_list_the_embedding_methods(gemini: genai.Client) -> None:
    assert gemini.models.get(model="gemini-embed").supported_actions == [
        "embedContent",
        "batchEmbedContents",
    ]
    assert "embedContent" not in (gemini.models.get(model="gemini-echo").supported_actions or [])


def test_typed_models_carry_operations(stack: Stack) -> None:
    with grpc.insecure_channel(stack.grpc_target) as channel:
        stub = llm_gateway_service_pb2_grpc.LlmGatewayServiceStub(channel)
        model = stub.GetModel(
            models_pb2.GetModelRequest(model="text-embed"), metadata=METADATA, timeout=5
        )
    assert list(model.llm_gateway.operations) == ["embeddings"]
    assert not model.llm_gateway.HasField("price")  # none configured for the scripted models


def test_model_prices_are_listed_in_the_apis_units() -> None:
    model = ServedModel("m", 0, "o", ("chat",), Price(input_per_million=2, output_per_million=8))
    facts = model.openai()["llm_gateway"]
    assert facts["price"] == {
        "input_per_million": 2,
        "cached_input_per_million": 2,
        "output_per_million": 8,
        "per_image": {},
        "per_million_characters": 0,
        "per_minute": 0,
    }
    typed = grpc_responses.model(model.openai())
    assert typed.llm_gateway.price.output_per_million == 8


def test_stream_is_not_an_embeddings_option(stack: Stack) -> None:
    # Passed on (`unknown_fields: pass`), never streamed: OpenAI's own refusal comes back.
    answer = _raw(stack, {"model": "text-embed", "input": "a", "stream": True})
    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith("application/json")
    assert "stream" in answer.json()["error"]["message"]


@pytest.mark.parametrize("model", ["gemini-embed", "text-embed"])
def test_genai_embed_content(gemini: genai.Client, model: str) -> None:
    one = gemini.models.embed_content(model=model, contents="hello there")
    assert one.embeddings is not None and len(one.embeddings) == 1
    assert scripted_embeddings.close(
        one.embeddings[0].values or [], scripted_embeddings.vector("hello there", 8)
    )
    texts = ["one", "two", "three"]
    several = gemini.models.embed_content(
        model=model,
        contents=[types.Content(parts=[types.Part(text=t)]) for t in texts],
        config=types.EmbedContentConfig(output_dimensionality=4),
    )
    assert several.embeddings is not None
    got = [e.values for e in several.embeddings]
    assert len(got) == len(texts)
    assert all(
        scripted_embeddings.close(v or [], scripted_embeddings.vector(t, 4))
        for v, t in zip(got, texts, strict=True)
    )


def test_genai_batch_to_gemini_names_the_upstream_model(
    gemini: genai.Client, upstream: ScriptedUpstream
) -> None:
    gemini.models.embed_content(
        model="gemini-embed", contents=[types.Content(parts=[types.Part(text="x")])] * 2
    )
    sent = upstream.last()
    assert sent.path.endswith("/models/embed-8:batchEmbedContents")
    assert {r["model"] for r in sent.body["requests"]} == {"models/embed-8"}


def test_gemini_surface_errors_are_geminis(gemini: genai.Client, stack: Stack) -> None:
    with pytest.raises(errors.ClientError) as caught:
        gemini.models.embed_content(model="gemini-echo", contents="hello")
    assert caught.value.code == 400
    answer = _raw(stack, {"requests": []}, "/v1beta/models/gemini-embed:batchEmbedContents")
    assert answer.status_code == 400 and answer.json()["error"]["status"] == "INVALID_ARGUMENT"


def test_every_endpoint_serves_an_operation() -> None:
    from typing import get_args

    from llm_gateway.config.settings import OperationName
    from llm_gateway.model.request import _OPERATION_OF, Endpoint, Operation

    assert set(_OPERATION_OF) == {e.value for e in Endpoint if e is not Endpoint.CHAT}
    # The config's names for operations are the data plane's.
    assert set(get_args(OperationName)) == {o.value for o in Operation}
