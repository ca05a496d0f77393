"""OpenAI-compatible upstreams (OpenAI, vLLM, Ollama, llama.cpp, ...).

Bodies go out as they came in (every modelled field and any pass-through extension) with the
upstream's model name; responses come back as plain data. Streams are decoded incrementally and
each chunk is yielded the moment its event is complete.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from llm_gateway.config.settings import ProviderSettings
from llm_gateway.model.request import Endpoint
from llm_gateway.providers import upstream_errors
from llm_gateway.providers.base import UpstreamCall
from llm_gateway.providers.http import DEFAULT_MAX_RESPONSE_BYTES, HttpUpstream, json_object

_DONE = b"[DONE]"


def _is_done(event: bytes) -> bool:
    return event == _DONE


class OpenAICompatibleProvider:
    """An upstream that speaks OpenAI's REST API."""

    # The OpenTelemetry GenAI `gen_ai.provider.name` of this upstream API.
    system = "openai"

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
            headers["authorization"] = f"Bearer {settings.api_key.get_secret_value()}"
        self._http = HttpUpstream(settings, headers, max_response_bytes)

    def _url(self, endpoint: Endpoint) -> str:
        return f"{self._settings.base_url}/{endpoint.value}"

    async def create(
        self, endpoint: Endpoint, body: dict[str, Any], call: UpstreamCall
    ) -> dict[str, Any]:
        """Posts the request and returns the upstream's JSON answer."""
        return await self._http.post_for_json(self._url(endpoint), body, call)

    async def stream(
        self, endpoint: Endpoint, body: dict[str, Any], call: UpstreamCall
    ) -> AsyncGenerator[dict[str, Any], None]:
        """Posts the request and yields each chunk of the upstream's event stream."""
        if self._settings.stream_usage:
            options = body.get("stream_options") or {}
            body = {**body, "stream_options": {**options, "include_usage": True}}
        events = await self._http.post_for_events(self._url(endpoint), body, call, _is_done)
        try:
            async for event in events:
                if event == _DONE:
                    return
                chunk = json_object(event)
                if chunk.get("error"):
                    raise upstream_errors.error_in_stream(
                        chunk, self._settings.upstream_messages == "hidden"
                    )
                yield chunk
            raise upstream_errors.stream_broken()
        finally:
            await events.aclose()

    async def aclose(self) -> None:
        """Closes the connection pool."""
        await self._http.aclose()
