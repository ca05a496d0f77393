"""Extracts what the gateway and its tests need from OpenAI's official OpenAPI document.

Writes three files, all derived data that is never edited by hand:
- `service/llm_gateway/model/schemas/openai_requests.json`: self-contained JSON Schemas
  (draft 7) of the completions, chat completions, Responses, embeddings, moderations,
  images, speech, transcription and translation request bodies,
  which the gateway compiles
  at start-up to validate every request before an upstream is called;
- `tests/fixtures/openai_properties.json`: the property names of both operations'
  requests, and of their responses and stream chunks down to the choice level, which a test
  compares with the fields of the proto messages;
- `tests/fixtures/openai_response_schemas.json`: the JSON Schemas of the Responses API's
  `response` object and stream events, of the embeddings, moderations and images answers and
  the images stream events, of the transcription and translation answers and events, which
  tests validate
  the gateway's answers against.

A user's clone has no `../shared/`, so all are committed. Run with `make schemas`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_OUT = ROOT / "service" / "llm_gateway" / "model" / "schemas" / "openai_requests.json"
FIXTURE_OUT = ROOT / "tests" / "fixtures" / "openai_properties.json"
ANSWERS_OUT = ROOT / "tests" / "fixtures" / "openai_response_schemas.json"
# Answers the tests validate whole against the spec: the Responses API's object and events.
ANSWERS = {
    "response": "Response",
    "stream_event": "ResponseStreamEvent",
    "embedding_list": "CreateEmbeddingResponse",
    "moderation": "CreateModerationResponse",
    "images": "ImagesResponse",
    "image_generation_event": "ImageGenStreamEvent",
    "image_edit_event": "ImageEditStreamEvent",
    "transcription": "CreateTranscriptionResponseJson",
    "transcription_verbose": "CreateTranscriptionResponseVerboseJson",
    "transcription_event": "CreateTranscriptionResponseStreamEvent",
    "translation": "CreateTranslationResponseJson",
    "translation_verbose": "CreateTranslationResponseVerboseJson",
}
REQUESTS = {
    "completions": "CreateCompletionRequest",
    "chat_completions": "CreateChatCompletionRequest",
    "responses": "CreateResponse",
    "embeddings": "CreateEmbeddingRequest",
    "moderations": "CreateModerationRequest",
    "image_generations": "CreateImageRequest",
    "image_edits": "CreateImageEditRequest",
    "image_variations": "CreateImageVariationRequest",
    "speech": "CreateSpeechRequest",
    "transcriptions": "CreateTranscriptionRequest",
    "translations": "CreateTranslationRequest",
}
# Documentation and code-generation hints carry no validation meaning. `default` is dropped
# because a validator that fills defaults would change what is forwarded upstream, and
# `format` because the spec uses custom formats (unixtime, int64) that validators reject.
#
# `oneOf` is read as `anyOf`: OpenAI's alternatives are unions whose members exclude each other
# (by JSON type or by a discriminator value), so both accept the same documents, and `anyOf`
# stops at the first match where `oneOf` must try every member. A discriminated union first
# is dispatched on its discriminator (see `discriminated`).
DROPPED_KEYS = {"description", "example", "examples", "title", "deprecated", "default", "format"}
# Response objects, as paths from a component schema: each step is a property name, and `[]`
# steps into the items of an array.
RESPONSE_OBJECTS = {
    "completion": ("CreateCompletionResponse",),
    "completion.choice": ("CreateCompletionResponse", "choices", "[]"),
    "completion.choice.logprobs": ("CreateCompletionResponse", "choices", "[]", "logprobs"),
    "chat_completion": ("CreateChatCompletionResponse",),
    "chat_completion.choice": ("CreateChatCompletionResponse", "choices", "[]"),
    "chat_completion.message": ("CreateChatCompletionResponse", "choices", "[]", "message"),
    "chat_completion.logprobs": ("CreateChatCompletionResponse", "choices", "[]", "logprobs"),
    "chat_completion.token_logprob": ("ChatCompletionTokenLogprob",),
    "chat_completion_chunk": ("CreateChatCompletionStreamResponse",),
    "chat_completion_chunk.choice": ("CreateChatCompletionStreamResponse", "choices", "[]"),
    "chat_completion_chunk.delta": ("CreateChatCompletionStreamResponse", "choices", "[]", "delta"),
    "chat_completion_chunk.tool_call": ("ChatCompletionMessageToolCallChunk",),
    "usage": ("CompletionUsage",),
    "usage.prompt_tokens_details": ("CompletionUsage", "prompt_tokens_details"),
    "usage.completion_tokens_details": ("CompletionUsage", "completion_tokens_details"),
    "model": ("Model",),
}
# Members the spec lists as required that OpenAI's API does not require, and that clients
# leave out: a function tool's `strict` (the SDKs' own examples, LangChain).
NOT_REQUIRED = {"FunctionTool": ("strict",)}
REF_PREFIX = "#/components/schemas/"
COMPONENTS: dict[str, Any] = {}


def convert(node: Any, refs: set[str]) -> Any:
    """Returns node as draft-7 JSON Schema: OpenAPI's `nullable` becomes a `null` type."""
    if isinstance(node, list):
        return [convert(item, refs) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in DROPPED_KEYS or key.startswith("x-") or key in ("nullable", "discriminator"):
            continue
        if key == "$ref":
            name = value.removeprefix(REF_PREFIX)
            refs.add(name)
            out[key] = f"#/definitions/{name}"
        elif key in ("properties", "definitions"):
            out[key] = {name: convert(sub, refs) for name, sub in value.items()}
        elif key == "oneOf":
            out["anyOf"] = convert(value, refs)
        else:
            out[key] = convert(value, refs)
    out = merge_null_alternative(out)
    discriminator = node.get("discriminator", {}).get("propertyName")
    if discriminator and "anyOf" in out:
        out = discriminated(out, discriminator, node.get("oneOf") or node["anyOf"])
    if node.get("nullable") is True:
        if isinstance(out.get("type"), str) and "$ref" not in out:
            out["type"] = [out["type"], "null"]
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


def merge_null_alternative(out: dict[str, Any]) -> dict[str, Any]:
    """Turns `anyOf: [{type: T, ...}, {type: null}]` into `type: [T, null]`.

    Both accept the same documents; the merged form reports the failing constraint ("must be
    smaller than or equal to 2") instead of "cannot be validated by any definition".
    """
    members = out.get("anyOf")
    if not members or len(members) != 2 or {"type": "null"} not in members:
        return out
    (other,) = [m for m in members if m != {"type": "null"}]
    if not isinstance(other.get("type"), str) or "$ref" in other or len(out) != 1:
        return out
    merged = {**other, "type": [other["type"], "null"]}
    if "enum" in merged:
        merged["enum"] = [*merged["enum"], None]
    return merged


def discriminated(out: dict[str, Any], field: str, members: list[Any]) -> dict[str, Any]:
    """Dispatches a union on its discriminator instead of trying every member.

    The discriminator is checked first, then only the member it names applies (`if`/`then`),
    so an error inside that member is reported at its own path (`messages[0].content`). A
    union with a member that does not list its discriminator values (some of the Responses
    API's) stays an `anyOf`, its members tried in turn.
    """
    values_of = [discriminator_values(member, field) for member in members]
    if not all(values_of):
        return out
    converted = out.pop("anyOf")
    # A value several members share (the Responses API's input and output `message`) leads
    # to any of them.
    members_of: dict[Any, list[Any]] = {}
    for member_values, schema in zip(values_of, converted, strict=True):
        for value in member_values:
            members_of.setdefault(value, []).append(schema)
    check = {
        "type": "object",
        "required": [field],
        "properties": {field: {"enum": list(members_of)}},
    }
    branches = [
        {
            "if": {"properties": {field: {"const": value}}},
            "then": schemas[0] if len(schemas) == 1 else {"anyOf": schemas},
        }
        for value, schemas in members_of.items()
    ]
    return {**out, "allOf": [check, *branches]}


def discriminator_values(member: dict[str, Any], field: str) -> list[Any]:
    """Returns the values that a union member allows for its discriminator field (through
    `$ref` and `allOf`, as `enum` or `const`); empty when it does not say."""
    values: list[Any] = []
    for schema in _object_schemas(member):
        allowed = schema.get("properties", {}).get(field, {})
        if "enum" in allowed:
            values.extend(allowed["enum"])
        elif "const" in allowed:
            values.append(allowed["const"])
    return values


def request_schema(components: dict[str, Any], name: str) -> dict[str, Any]:
    """Returns the named schema with every schema it refers to under `definitions`."""
    refs: set[str] = set()
    root = convert(components[name], refs)
    # The gateway's `unknown_fields` policy, not the schema, decides about members the API
    # does not name (the embeddings request closes itself; the others do not).
    root.pop("additionalProperties", None)
    definitions: dict[str, Any] = {}
    pending = set(refs)
    while pending:
        ref = pending.pop()
        found: set[str] = set()
        definitions[ref] = convert(components[ref], found)
        if ref in NOT_REQUIRED:
            required = definitions[ref]["required"]
            definitions[ref]["required"] = [n for n in required if n not in NOT_REQUIRED[ref]]
        pending |= found - definitions.keys()
    root["definitions"] = dict(sorted(definitions.items()))
    root["$schema"] = "http://json-schema.org/draft-07/schema#"
    return root


def _object_schemas(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """Returns the object schemas that make up a schema (through `$ref`, `allOf`, `anyOf`)."""
    if "$ref" in schema:
        return _object_schemas(COMPONENTS[schema["$ref"].removeprefix(REF_PREFIX)])
    parts = [schema] if "properties" in schema or "items" in schema else []
    for key in ("allOf", "anyOf", "oneOf"):
        for member in schema.get(key, []):
            parts.extend(_object_schemas(member))
    return parts


def property_names(path: tuple[str, ...]) -> list[str]:
    """Returns the property names of the object a path leads to (see RESPONSE_OBJECTS)."""
    schemas = _object_schemas(COMPONENTS[path[0]])
    for step in path[1:]:
        if step == "[]":
            schemas = [i for s in schemas if "items" in s for i in _object_schemas(s["items"])]
        else:
            schemas = [
                p
                for s in schemas
                if step in s.get("properties", {})
                for p in _object_schemas(s["properties"][step])
            ]
    return sorted({name for s in schemas for name in s.get("properties", {})})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("openapi", type=Path, help="path of OpenAI's openapi.yaml")
    spec = yaml.load(parser.parse_args().openapi.read_text(), Loader=yaml.CSafeLoader)
    components = spec["components"]["schemas"]
    COMPONENTS.update(components)
    schemas = {key: request_schema(components, name) for key, name in REQUESTS.items()}
    SCHEMA_OUT.parent.mkdir(parents=True, exist_ok=True)
    SCHEMA_OUT.write_text(json.dumps(schemas, indent=1, sort_keys=True) + "\n")
    fixture = {
        "source": "openai-openapi/openapi.yaml " + str(spec["info"].get("version", "")),
        **{key: property_names((name,)) for key, name in REQUESTS.items()},
        "responses": {key: property_names(path) for key, path in RESPONSE_OBJECTS.items()},
    }
    FIXTURE_OUT.parent.mkdir(parents=True, exist_ok=True)
    FIXTURE_OUT.write_text(json.dumps(fixture, indent=1) + "\n")
    answers = {key: request_schema(components, name) for key, name in ANSWERS.items()}
    ANSWERS_OUT.write_text(json.dumps(answers, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
