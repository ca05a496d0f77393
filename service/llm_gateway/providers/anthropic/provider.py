"""Anthropic's Messages API as an upstream (`type: anthropic`)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from llm_gateway.config.settings import ProviderSettings
from llm_gateway.providers import upstream_errors
from llm_gateway.providers.anthropic.request import messages_request
from llm_gateway.providers.anthropic.response import chat_completion
from llm_gateway.providers.anthropic.stream import StreamTranslator
from llm_gateway.providers.base import UpstreamCall
from llm_gateway.providers.chat_only import ChatOnlyProvider
from llm_gateway.providers.http import DEFAULT_MAX_RESPONSE_BYTES, HttpUpstream, json_object


def _is_message_stop(event: bytes) -> bool:
    # The substring test keeps the second parse off every other event.
    return b"message_stop" in event and json_object(event).get("type") == "message_stop"


class AnthropicProvider(ChatOnlyProvider):
    """An upstream that speaks Anthropic's Messages API (`POST /v1/messages`)."""

    # The OpenTelemetry GenAI `gen_ai.provider.name` of this upstream API.
    system = "anthropic"

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
        self._http = HttpUpstream(settings, headers, max_response_bytes)
        self._url = f"{settings.base_url}/messages"

    def _body(self, body: dict[str, Any]) -> dict[str, Any]:
        return messages_request(body, self._settings.default_max_tokens)

    async def create_chat(self, body: dict[str, Any], call: UpstreamCall) -> dict[str, Any]:
        """Sends a Messages request and returns its answer as a `chat.completion`."""
        wire = self._body(body)
        return chat_completion(await self._http.post_for_json(self._url, wire, call))

    async def stream_chat(
        self, body: dict[str, Any], call: UpstreamCall
    ) -> AsyncGenerator[dict[str, Any], None]:
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

    async def aclose(self) -> None:
        """Closes the connection pool."""
        await self._http.aclose()
