"""Validates request bodies against OpenAI's official request schemas before any upstream call.

The schemas are extracted from OpenAI's OpenAPI document by `scripts/extract_openai_schemas.py`
and compiled to Python code by `scripts/generate.py` (fastjsonschema), which keeps a typical chat
request at tens of microseconds and costs the server no compilation at start-up. Each violation
becomes a 400 that names the parameter, as OpenAI does.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import Any, Literal, cast

import fastjsonschema

from llm_gateway.errors import GatewayError, invalid_request
from llm_gateway.model.audio_files import seconds_in
from llm_gateway.model.canonical import (
    CanonicalRequest,
    ChatRequest,
    CompletionRequest,
)
from llm_gateway.model.embeddings import inputs_of
from llm_gateway.model.request import Endpoint, GenerationRequest
from llm_gateway.model.token_counts import check_count
from llm_gateway.model.validators import (
    chat_completions,
    completions,
    embeddings,
    image_edits,
    image_generations,
    image_variations,
    moderations,
    speech,
    transcriptions,
    translations,
)
from llm_gateway.model.wire import WireRequest

# Fields of a legacy completion that a chat completion cannot honour.
_CHAT_INCOMPATIBLE = ("echo", "suffix", "best_of", "logprobs")
# Left out of the chat request made from a completion request with `messages`.
_NOT_FORWARDED = frozenset((*_CHAT_INCOMPATIBLE, "prompt"))
# Token counts OpenAI's schemas leave unbounded (chat's) or bound only below; their minimums.
_TOKEN_COUNTS = {"max_tokens": 1, "max_completion_tokens": 1}
_COMPLETION_TOKEN_COUNTS = {"max_tokens": 0}
_RESPONSE_TOKEN_COUNTS = {"max_output_tokens": 16, "max_tool_calls": 0}


# The members of each request, as OpenAI's API names them (generated from its specification
# with the validators).
CHAT_FIELDS = chat_completions.FIELDS
COMPLETION_FIELDS = completions.FIELDS
EMBEDDING_FIELDS = embeddings.FIELDS
MODERATION_FIELDS = moderations.FIELDS
# The image endpoints' validators and members.
_IMAGES = {
    Endpoint.IMAGE_GENERATIONS: (image_generations.validate, image_generations.FIELDS),
    Endpoint.IMAGE_EDITS: (image_edits.validate, image_edits.FIELDS),
    Endpoint.IMAGE_VARIATIONS: (image_variations.validate, image_variations.FIELDS),
}
# The audio upload endpoints' validators and members.
_TRANSCRIPTS = {
    Endpoint.TRANSCRIPTIONS: (transcriptions.validate, transcriptions.FIELDS),
    Endpoint.TRANSLATIONS: (translations.validate, translations.FIELDS),
}
# The model an image request without one is for, as OpenAI's API defaults it.
DEFAULT_IMAGE_MODEL = "dall-e-2"
# The model a moderations request without one is for, as OpenAI's API defaults it.
DEFAULT_MODERATION_MODEL = "omni-moderation-latest"


def _param(name: str) -> str:
    return name.removeprefix("data").removeprefix(".")


def _to_gateway_error(exc: fastjsonschema.JsonSchemaValueException) -> GatewayError:
    name = exc.name or "data"
    if exc.rule == "required" and isinstance(exc.value, dict):
        missing = [f for f in exc.rule_definition if f not in exc.value]
        prefix = _param(name)
        param = f"{prefix}.{missing[0]}" if prefix else missing[0]
        return invalid_request(
            f"Missing required parameter: '{param}'.", param, "missing_required_parameter"
        )
    param = _param(name) or None
    detail = exc.message.removeprefix(name).strip()
    if exc.rule in ("anyOf", "oneOf"):
        detail = "does not match any of the shapes the API accepts for it"
    subject = f"'{param}'" if param else "the request body"
    return invalid_request(f"Invalid value for {subject}: {detail}.", param, "invalid_value")


def _without_output(
    endpoint: Endpoint,
    body: dict[str, Any],
    wire: WireRequest | None,
    prompt: Any,
    **units: float,
) -> GenerationRequest:
    """A validated request that makes no tokens (embeddings, moderations, images, speech,
    transcripts): admission estimates `prompt` and reserves no completion, but the `units`
    of work it names (`images`, `audio_seconds`: see `limits.Units`)."""
    return GenerationRequest(
        endpoint,
        cast(CanonicalRequest, body),
        wire=wire,
        sizing={"prompt": prompt, "max_tokens": 0, **units},
    )


class RequestValidator:
    """Turns raw request bodies into `GenerationRequest`s, or raises a 400 `GatewayError`."""

    def __init__(self, unknown_fields: Literal["pass", "reject"] = "pass") -> None:
        self._chat: Callable[[Any], Any] = chat_completions.validate
        self._completions: Callable[[Any], Any] = completions.validate
        self._responses: tuple[Callable[[Any], Any], frozenset[str]] | None = None
        self._reject_unknown = unknown_fields == "reject"

    def chat(self, body: Any, wire: WireRequest | None = None) -> GenerationRequest:
        """Validates a `/v1/chat/completions` body (`wire`: as an OpenAI REST caller sent it)."""
        body = self._check(body, self._chat, CHAT_FIELDS, _TOKEN_COUNTS)
        # OpenAI's schema has just checked the canonical shape.
        return GenerationRequest(Endpoint.CHAT, cast(ChatRequest, body), wire=wire)

    def completion(self, body: Any, wire: WireRequest | None = None) -> GenerationRequest:
        """Validates a `/v1/completions` body, which may give `messages` in place of `prompt`."""
        if isinstance(body, dict) and "messages" in body:
            return self._completion_from_messages(body, wire)
        body = self._check(body, self._completions, COMPLETION_FIELDS, _COMPLETION_TOKEN_COUNTS)
        return GenerationRequest(Endpoint.COMPLETIONS, cast(CompletionRequest, body), wire=wire)

    def embedding(self, body: Any, wire: WireRequest | None = None) -> GenerationRequest:
        """Validates a `/v1/embeddings` body."""
        body = self._check(body, embeddings.validate, EMBEDDING_FIELDS, {})
        for index, text in enumerate(inputs_of(body)):
            if text in ("", []):
                param = "input" if isinstance(body["input"], str) else f"input[{index}]"
                raise invalid_request(
                    f"'{param}' cannot be empty: give the text (or tokens) to embed.",
                    param,
                    "invalid_value",
                )
        return _without_output(Endpoint.EMBEDDINGS, body, wire, body["input"])

    def moderation(self, body: Any, wire: WireRequest | None = None) -> GenerationRequest:
        """Validates a `/v1/moderations` body (`model` defaults as in OpenAI's API)."""
        body = self._check(body, moderations.validate, MODERATION_FIELDS, {})
        body = {**body, "model": body.get("model") or DEFAULT_MODERATION_MODEL}
        return _without_output(Endpoint.MODERATIONS, body, wire, body["input"])

    def image(
        self, endpoint: Endpoint, body: Any, wire: WireRequest | None = None
    ) -> GenerationRequest:
        """Validates an image generation (JSON), edit or variation (the form's fields, see
        `model.images`); `model` defaults as in OpenAI's API."""
        validate, fields = _IMAGES[endpoint]
        body = self._check(body, validate, fields, {})
        body = {**body, "model": body.get("model") or DEFAULT_IMAGE_MODEL}
        images = body.get("n") or 1
        return _without_output(endpoint, body, wire, body.get("prompt") or "", images=images)

    def speech(self, body: Any, wire: WireRequest | None = None) -> GenerationRequest:
        """Validates a `/v1/audio/speech` body (it always streams: see `Endpoint.SPEECH`)."""
        body = self._check(body, speech.validate, speech.FIELDS, {})
        return _without_output(Endpoint.SPEECH, body, wire, body["input"])

    def transcript(
        self, endpoint: Endpoint, body: Any, wire: WireRequest | None = None
    ) -> GenerationRequest:
        """Validates a transcription or translation (the form's fields, see
        `model.audio_files`); admission estimates its prompt and its audio's length."""
        validate, fields = _TRANSCRIPTS[endpoint]
        body = self._check(body, validate, fields, {})
        seconds = (seconds_in(wire.form) if wire is not None else None) or 0.0
        return _without_output(
            endpoint, body, wire, body.get("prompt") or "", audio_seconds=seconds
        )

    def response(self, body: Any) -> dict[str, Any]:
        """Validates a `/v1/responses` body by the Responses API's own schema."""
        if self._responses is None:
            # Its validator is large (the API's every item and tool): loaded on first use.
            from llm_gateway.model.validators import responses

            self._responses = (responses.validate, responses.FIELDS)
        validate, fields = self._responses
        return self._check(body, validate, fields, _RESPONSE_TOKEN_COUNTS)

    def _completion_from_messages(
        self, body: dict[str, Any], wire: WireRequest | None
    ) -> GenerationRequest:
        if body.get("prompt") is not None:
            raise invalid_request("Give either 'prompt' or 'messages', not both.", "messages")
        for name in _CHAT_INCOMPATIBLE:
            if body.get(name) not in (None, False):
                raise invalid_request(
                    f"'{name}' cannot be used with 'messages' on /v1/completions; "
                    "use 'prompt', or call /v1/chat/completions.",
                    name,
                    "unsupported_parameter",
                )
        chat_body = {k: v for k, v in body.items() if k not in _NOT_FORWARDED}
        chat_body = self._check(chat_body, self._chat, CHAT_FIELDS, _TOKEN_COUNTS)
        if wire is not None:  # served as a chat completion: no upstream takes it as it is
            wire = dataclasses.replace(wire, relayable=False)
        return GenerationRequest(
            Endpoint.CHAT, cast(ChatRequest, chat_body), as_text_completion=True, wire=wire
        )

    def _check(
        self, body: Any, schema: Any, known: Iterable[str], counts: dict[str, int]
    ) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise invalid_request("The request body must be a JSON object.")
        try:
            schema(body)
        except fastjsonschema.JsonSchemaValueException as exc:
            raise _to_gateway_error(exc) from None
        for name, minimum in counts.items():
            check_count(body.get(name), name, minimum)
        if self._reject_unknown:
            unknown = sorted(set(body).difference(known))
            if unknown:
                raise invalid_request(
                    f"Unrecognized request argument supplied: {unknown[0]}",
                    unknown[0],
                    "unknown_parameter",
                )
        return body
