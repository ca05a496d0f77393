"""Every request property of the official OpenAI API has a field in the proto request messages.

The property lists come from `fixtures/openai_request_properties.json`, which
`scripts/extract_openai_schemas.py` regenerates from OpenAI's OpenAPI document (`make schemas`).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llm_gateway.model.validation import CHAT_FIELDS, COMPLETION_FIELDS
from llm_gateway.v1 import chat_pb2, completions_pb2

FIXTURE = json.loads(
    (Path(__file__).parent / "fixtures" / "openai_request_properties.json").read_text()
)


@pytest.mark.parametrize(
    ("operation", "modelled"),
    [("chat_completions", CHAT_FIELDS), ("completions", COMPLETION_FIELDS)],
)
def test_every_official_request_property_is_modelled(
    operation: str, modelled: frozenset[str]
) -> None:
    official = set(FIXTURE[operation])
    assert official, "the fixture lists no properties"
    assert sorted(official - modelled) == []


@pytest.mark.parametrize(
    ("operation", "modelled"),
    [("chat_completions", CHAT_FIELDS), ("completions", COMPLETION_FIELDS)],
)
def test_no_invented_request_fields(operation: str, modelled: frozenset[str]) -> None:
    # `messages` on completions is the documented extension (served as chat).
    assert sorted(modelled - set(FIXTURE[operation])) == []


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
