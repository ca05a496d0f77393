"""The proto messages have a field for every property of the official OpenAI API, and no other;
the gateway's own lists of those properties are the specification's.

The property lists come from `fixtures/openai_properties.json`, which
`scripts/extract_openai_schemas.py` regenerates from OpenAI's OpenAPI document (`make schemas`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from llm_gateway.model.validation import CHAT_FIELDS, COMPLETION_FIELDS
from llm_gateway.v1 import chat_pb2, common_pb2, completions_pb2, models_pb2

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "openai_properties.json").read_text())


def modelled_fields(descriptor: Any) -> frozenset[str]:
    """The JSON members that a proto request message models.

    A `oneof` models the JSON member of its own name (a union-typed field such as `prompt`);
    the synthetic oneof of a proto3 `optional` field (`_temperature`) is just that field.
    """
    real_oneofs = [o for o in descriptor.oneofs if o.name != f"_{o.fields[0].name}"]
    names = {f.name for f in descriptor.fields if f.containing_oneof not in real_oneofs}
    names |= {o.name for o in real_oneofs}
    names.discard("extra_body")
    return frozenset(names)


PROTO_CHAT = modelled_fields(chat_pb2.ChatCompletionRequest.DESCRIPTOR)
# `messages` on completions is the documented extension (served as chat).
PROTO_COMPLETION = modelled_fields(completions_pb2.CompletionRequest.DESCRIPTOR) - {"messages"}


def test_the_gateways_field_lists_are_the_specifications() -> None:
    assert sorted(CHAT_FIELDS) == sorted(FIXTURE["chat_completions"])
    assert sorted(COMPLETION_FIELDS) == sorted(FIXTURE["completions"])


@pytest.mark.parametrize(
    ("operation", "modelled"),
    [("chat_completions", PROTO_CHAT), ("completions", PROTO_COMPLETION)],
)
def test_every_official_request_property_is_modelled(
    operation: str, modelled: frozenset[str]
) -> None:
    official = set(FIXTURE[operation])
    assert official, "the fixture lists no properties"
    assert sorted(official - modelled) == []


@pytest.mark.parametrize(
    ("operation", "modelled"),
    [("chat_completions", PROTO_CHAT), ("completions", PROTO_COMPLETION)],
)
def test_no_invented_request_fields(operation: str, modelled: frozenset[str]) -> None:
    # `messages` on completions is the documented extension (served as chat).
    assert sorted(modelled - set(FIXTURE[operation])) == []


RESPONSE_MESSAGES = {
    "completion": completions_pb2.CompletionResponse,
    "completion.choice": completions_pb2.CompletionChoice,
    "completion.choice.logprobs": completions_pb2.CompletionLogprobs,
    "chat_completion": chat_pb2.ChatCompletionResponse,
    "chat_completion.choice": chat_pb2.ChatChoice,
    "chat_completion.message": chat_pb2.ChatResponseMessage,
    "chat_completion.logprobs": chat_pb2.ChatLogprobs,
    "chat_completion.token_logprob": chat_pb2.TokenLogprob,
    "chat_completion_chunk": chat_pb2.ChatCompletionChunk,
    "chat_completion_chunk.choice": chat_pb2.ChatChunkChoice,
    "chat_completion_chunk.delta": chat_pb2.ChatDelta,
    "chat_completion_chunk.tool_call": chat_pb2.ToolCallDelta,
    "usage": common_pb2.Usage,
    "usage.prompt_tokens_details": common_pb2.PromptTokensDetails,
    "usage.completion_tokens_details": common_pb2.CompletionTokensDetails,
    "model": models_pb2.Model,
}


def test_every_response_object_is_covered() -> None:
    assert set(FIXTURE["responses"]) == set(RESPONSE_MESSAGES)


# The gateway's own members of OpenAI's objects, documented where they are defined.
GATEWAY_MEMBERS = {"model": {"llm_gateway"}}


@pytest.mark.parametrize("name", sorted(RESPONSE_MESSAGES))
def test_response_fields_match_the_official_api(name: str) -> None:
    fields = {f.name for f in RESPONSE_MESSAGES[name].DESCRIPTOR.fields}
    assert fields - GATEWAY_MEMBERS.get(name, set()) == set(FIXTURE["responses"][name])


def test_union_fields_are_oneofs() -> None:
    assert [
        o.name
        for o in completions_pb2.CompletionRequest.DESCRIPTOR.oneofs
        if not o.name.startswith("_")
    ] == ["prompt"]
    assert "content" in chat_pb2.ChatMessage.DESCRIPTOR.oneofs_by_name


def test_sampling_fields_have_presence() -> None:
    for name in (
        "temperature",
        "top_p",
        "n",
        "max_tokens",
        "seed",
        "presence_penalty",
        "frequency_penalty",
        "logprobs",
        "top_logprobs",
    ):
        assert chat_pb2.ChatCompletionRequest.DESCRIPTOR.fields_by_name[name].has_presence, name
