"""Anthropic's Messages API as an upstream (`type: anthropic`).

Anthropic callers are passed through (`relay`): their body goes upstream as they sent it with
the upstream's model name, their `anthropic-beta` and `anthropic-version` headers with it, and
the answer and every event (`ping`, `signature_delta` and those not yet invented included) come
back as their bytes. Everyone else is translated through the canonical model.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from llm_gateway.config.settings import ProviderSettings
from llm_gateway.model import reasoning
from llm_gateway.model.canonical import ChatChunk, ChatCompletion, ChatRequest
from llm_gateway.model.wire import ApiFamily, WireAnswer, WireEvent, WireRequest
from llm_gateway.providers import upstream_errors
from llm_gateway.providers.anthropic.errors import error_fields
from llm_gateway.providers.anthropic.request import TRANSLATED, messages_request
from llm_gateway.providers.anthropic.response import chat_completion, usage
from llm_gateway.providers.anthropic.stream import StreamTranslator
from llm_gateway.providers.base import UpstreamCall
from llm_gateway.providers.chat_only import ChatOnlyProvider
from llm_gateway.providers.http import DEFAULT_MAX_RESPONSE_BYTES, HttpUpstream, json_object
from llm_gateway.usage.accounting import Usage, usage_of


def _passed_through(wire: WireRequest, model: str) -> dict[str, Any]:
    """The caller's body with the upstream's model name, and without the thinking blocks the
    gateway minted for an earlier turn served elsewhere (the only other thing it rewrites)."""
    body = {**wire.body, "model": model}
    if reasoning.MINTED_MARK in wire.raw:
        body["messages"] = reasoning.without_minted_thinking(body.get("messages"))
    return body


def _usage(wire: dict[str, Any]) -> Usage:
    return usage_of({"usage": usage(wire)})


def _is_message_stop(event: bytes) -> bool:
    # The substring test keeps the second parse off every other event.
    return b"message_stop" in event and json_object(event).get("type") == "message_stop"


class AnthropicProvider(ChatOnlyProvider):
    """An upstream that speaks Anthropic's Messages API (`POST /v1/messages`)."""

    # The OpenTelemetry GenAI `gen_ai.provider.name` of this upstream API.
    system = "anthropic"
    family = ApiFamily.ANTHROPIC
    passthrough = True
    translated = TRANSLATED
    # Its translation rebuilds the thinking block of a canonical `reasoning_signature` it made.
    takes_reasoning_signatures = True

    def __init__(
        self,
        name: str,
        settings: ProviderSettings,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        self.name = name
        self._settings = settings
        headers = {"anthropic-version": settings.anthropic_version}
        if settings.api_key is not None and settings.api_key.get_secret_value():
            headers["x-api-key"] = settings.api_key.get_secret_value()
        self._http = HttpUpstream(settings, headers, max_response_bytes, error_fields)
        self._url = f"{settings.base_url}/messages"

    def _body(self, body: ChatRequest) -> dict[str, Any]:
        return messages_request(body, self._settings.default_max_tokens)

    async def create_chat(self, body: ChatRequest, call: UpstreamCall) -> ChatCompletion:
        """Sends a Messages request and returns its answer as a `chat.completion`."""
        wire = self._body(body)
        return chat_completion(await self._http.post_for_json(self._url, wire, call))

    async def stream_chat(
        self, body: ChatRequest, call: UpstreamCall
    ) -> AsyncGenerator[ChatChunk, None]:
        """Sends a streamed Messages request and yields its events as OpenAI chunks."""
        events = await self._http.post_for_events(
            self._url, self._body(body), call, _is_message_stop
        )
        translator = StreamTranslator(self._settings.upstream_messages == "hidden")
        try:
            async for event in events:
                for chunk in translator.translate(json_object(event)):
                    yield chunk
                if translator.finished:
                    return
            raise upstream_errors.stream_broken()
        finally:
            await events.aclose()

    async def relay(self, wire: WireRequest, model: str, call: UpstreamCall) -> WireAnswer:
        """Sends an Anthropic caller's request as it came; returns the answer's bytes."""
        body = _passed_through(wire, model)
        data = await self._http.post_for_bytes(self._url, body, call, wire.headers)
        return WireAnswer(data, _usage(json_object(data).get("usage") or {}))

    async def relay_stream(
        self, wire: WireRequest, model: str, call: UpstreamCall
    ) -> AsyncGenerator[WireEvent, None]:
        """Sends an Anthropic caller's streamed request as it came; yields each event's bytes
        with the usage so far (`message_start` has the input's, `message_delta` the output's)."""
        body = _passed_through(wire, model)
        events = await self._http.post_for_events(
            self._url, body, call, _is_message_stop, wire.headers
        )
        counted: dict[str, Any] = {}
        try:
            async for data in events:
                event = json_object(data)
                kind = event.get("type")
                if kind == "error":
                    raise upstream_errors.error_in_stream(
                        event, self._settings.upstream_messages == "hidden", error_fields
                    )
                reported = None
                if kind == "message_start":
                    # The input's count is final, the output's not yet.
                    counted = dict((event.get("message") or {}).get("usage") or {})
                    start = _usage(counted)
                    reported = Usage(start.prompt_tokens, 0, True, start.cached_tokens)
                elif kind == "message_delta" and isinstance(event.get("usage"), dict):
                    counted.update({k: v for k, v in event["usage"].items() if v is not None})
                    reported = _usage(counted)
                pieces = 1 if kind == "content_block_delta" else 0
                yield WireEvent(data, name=str(kind), usage=reported, pieces=pieces)
                if kind == "message_stop":
                    return
            raise upstream_errors.stream_broken()
        finally:
            await events.aclose()

    async def count_tokens(
        self, wire: WireRequest, model: str, call: UpstreamCall
    ) -> tuple[int, bytes]:
        """Sends a `count_tokens` request as the caller sent it; returns `input_tokens`."""
        body = _passed_through(wire, model)
        url = f"{self._url}/count_tokens"
        return await self._http.post_for_count(url, body, call, wire.headers, "input_tokens")

    async def aclose(self) -> None:
        """Closes the connection pool."""
        await self._http.aclose()
