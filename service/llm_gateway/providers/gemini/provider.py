"""The Gemini API as an upstream (`type: gemini`)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any
from urllib.parse import quote

from llm_gateway.config.settings import ProviderSettings
from llm_gateway.providers import upstream_errors
from llm_gateway.providers.base import UpstreamCall
from llm_gateway.providers.chat_only import ChatOnlyProvider
from llm_gateway.providers.gemini.request import generate_content_request
from llm_gateway.providers.gemini.response import (
    StreamTranslator,
    chat_completion,
    prompt_blocked,
)
from llm_gateway.providers.http import DEFAULT_MAX_RESPONSE_BYTES, HttpUpstream, json_object


class GeminiProvider(ChatOnlyProvider):
    """An upstream that speaks the Gemini API (`models/{model}:generateContent`)."""

    # The OpenTelemetry GenAI `gen_ai.provider.name` of this upstream API.
    system = "gcp.gemini"

    def __init__(
        self,
        name: str,
        settings: ProviderSettings,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        self.name = name
        self._settings = settings
        headers = {}
        if settings.api_key is not None and settings.api_key.get_secret_value():
            headers["x-goog-api-key"] = settings.api_key.get_secret_value()
        self._http = HttpUpstream(settings, headers, max_response_bytes)

    def _url(self, model: str, method: str) -> str:
        return f"{self._settings.base_url}/models/{quote(model, safe='')}:{method}"

    async def create_chat(self, body: dict[str, Any], call: UpstreamCall) -> dict[str, Any]:
        """Sends a `generateContent` request and returns its answer as a `chat.completion`."""
        url = self._url(body["model"], "generateContent")
        answer = await self._http.post_for_json(url, generate_content_request(body), call)
        if (error := prompt_blocked(answer)) is not None:
            raise error
        return chat_completion(answer)

    async def stream_chat(
        self, body: dict[str, Any], call: UpstreamCall
    ) -> AsyncGenerator[dict[str, Any], None]:
        """Sends a `streamGenerateContent` request and yields its answers as OpenAI chunks."""
        url = self._url(body["model"], "streamGenerateContent") + "?alt=sse"
        events = await self._http.post_for_events(url, generate_content_request(body), call)
        translator = StreamTranslator()
        try:
            async for event in events:
                answer = json_object(event)
                if answer.get("error"):
                    raise upstream_errors.error_in_stream(
                        answer, self._settings.upstream_messages == "hidden"
                    )
                if (error := prompt_blocked(answer)) is not None:
                    raise error
                for chunk in translator.translate(answer):
                    yield chunk
            if not translator.finished:
                raise upstream_errors.stream_broken()
            yield translator.usage_chunk()
        finally:
            await events.aclose()

    async def aclose(self) -> None:
        """Closes the connection pool."""
        await self._http.aclose()
