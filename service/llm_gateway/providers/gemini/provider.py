"""The Gemini API as an upstream (`type: gemini`).

Gemini callers are passed through (`relay`): the model goes in the URL, so their body goes
upstream as the very bytes they sent (`thinkingConfig`, `thoughtSignature`, `cachedContent`
and fields not yet invented included), and each answer comes back as its bytes. Everyone
else is translated through the canonical model; OpenAI's image generations go to Gemini's
image models (`gemini.images`).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any, cast
from urllib.parse import quote

from llm_gateway.config.settings import ProviderSettings
from llm_gateway.model import embeddings
from llm_gateway.model.canonical import (
    ChatChunk,
    ChatCompletion,
    ChatRequest,
    EmbeddingList,
    EmbeddingRequest,
    ImageList,
    ImageRequest,
)
from llm_gateway.model.request import Endpoint
from llm_gateway.model.wire import ApiFamily, WireAnswer, WireEvent, WireRequest
from llm_gateway.providers import batched, upstream_errors
from llm_gateway.providers.base import UpstreamCall
from llm_gateway.providers.chat_only import ChatOnlyProvider
from llm_gateway.providers.gemini import embeddings as gemini_embeddings
from llm_gateway.providers.gemini import images as gemini_images
from llm_gateway.providers.gemini.errors import error_fields
from llm_gateway.providers.gemini.request import TRANSLATED, generate_content_request
from llm_gateway.providers.gemini.response import (
    StreamTranslator,
    chat_completion,
    prompt_blocked,
    usage,
)
from llm_gateway.providers.http import DEFAULT_MAX_RESPONSE_BYTES, HttpUpstream, json_object
from llm_gateway.providers.translation import no_such_api
from llm_gateway.usage.accounting import Usage, usage_of


def _usage(answer: dict[str, Any]) -> Usage | None:
    metadata = answer.get("usageMetadata")
    return usage_of({"usage": usage(metadata)}) if isinstance(metadata, dict) else None


def _pieces(answer: dict[str, Any]) -> int:
    candidates = answer.get("candidates")
    return sum(
        len((candidate.get("content") or {}).get("parts") or ())
        for candidate in (candidates if isinstance(candidates, list) else ())
        if isinstance(candidate, dict)
    )


class GeminiProvider(ChatOnlyProvider):
    """An upstream that speaks the Gemini API (`models/{model}:generateContent`)."""

    # The OpenTelemetry GenAI `gen_ai.provider.name` of this upstream API.
    system = "gcp.gemini"
    family = ApiFamily.GEMINI
    passthrough = True
    translated = TRANSLATED
    # Its translation puts the canonical `reasoning_signature` back where Gemini wants it.
    takes_reasoning_signatures = True
    makes_images = True

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
        self._http = HttpUpstream(settings, headers, max_response_bytes, error_fields)

    def _url(self, model: str, method: str) -> str:
        return f"{self._settings.base_url}/models/{quote(model, safe='')}:{method}"

    async def create_chat(self, body: ChatRequest, call: UpstreamCall) -> ChatCompletion:
        """Sends a `generateContent` request and returns its answer as a `chat.completion`."""
        url = self._url(body["model"], "generateContent")
        answer = await self._http.post_for_json(url, generate_content_request(body), call)
        if (error := prompt_blocked(answer)) is not None:
            raise error
        return chat_completion(answer)

    async def stream_chat(
        self, body: ChatRequest, call: UpstreamCall
    ) -> AsyncGenerator[ChatChunk, None]:
        """Sends a `streamGenerateContent` request and yields its answers as OpenAI chunks."""
        url = self._url(body["model"], "streamGenerateContent") + "?alt=sse"
        events = await self._http.post_for_events(url, generate_content_request(body), call)
        translator = StreamTranslator()
        try:
            async for event in events:
                answer = self._http.event_object(event)
                if (error := prompt_blocked(answer)) is not None:
                    raise error
                for chunk in translator.translate(answer):
                    yield chunk
            if not translator.finished:
                raise upstream_errors.stream_broken()
            yield translator.usage_chunk()
        finally:
            await events.aclose()

    async def embed(self, body: EmbeddingRequest, call: UpstreamCall) -> EmbeddingList:
        """Sends an embeddings request as `batchEmbedContents` calls of at most
        `embedding_batch` inputs; returns OpenAI's embedding list, in the inputs' order."""
        model = body["model"]
        url = self._url(model, "batchEmbedContents")

        async def one(part: EmbeddingRequest) -> EmbeddingList:
            sent = gemini_embeddings.batch_request(part, model)
            answer = await self._http.post_for_json(url, sent, call)
            return gemini_embeddings.embedding_list(answer, part)

        parts = embeddings.batches(body, self._settings.embedding_batch)
        return embeddings.joined(await batched.each(parts, one))

    async def images(self, endpoint: Endpoint, body: ImageRequest, call: UpstreamCall) -> ImageList:
        """Makes a generation's images with a Gemini image model, one `generateContent`
        call an image (a few at once); returns OpenAI's `ImagesResponse`. Edits and
        variations have no Gemini API."""
        if endpoint is not Endpoint.IMAGE_GENERATIONS:
            raise no_such_api(self.name, endpoint.value.replace("/", " "))
        sent = gemini_images.generate_content_request(body)
        url = self._url(body["model"], "generateContent")

        async def one(_: int) -> dict[str, Any]:
            answer = await self._http.post_for_json(url, sent, call)
            if (error := prompt_blocked(answer)) is not None:
                raise error
            return answer

        answers = await batched.each(range(body.get("n") or 1), one)
        return cast(ImageList, gemini_images.images_response(answers))

    async def relay(self, wire: WireRequest, model: str, call: UpstreamCall) -> WireAnswer:
        """Sends a Gemini caller's request body as its bytes, to the method it called (a
        `batchEmbedContents` body names the model in each request: those are rewritten to
        the upstream's); returns the answer's bytes."""
        url = self._url(model, wire.operation)
        sent: bytes | dict[str, Any] = wire.raw
        if wire.operation == "batchEmbedContents":
            sent = gemini_embeddings.with_model(wire.body, model)
        data = await self._http.post_for_bytes(url, sent, call, wire.headers)
        return WireAnswer(data, _usage(json_object(data)) or Usage(estimated=True))

    async def relay_stream(
        self, wire: WireRequest, model: str, call: UpstreamCall
    ) -> AsyncGenerator[WireEvent, None]:
        """Sends a Gemini caller's streamed request body as its bytes; yields each answer's
        bytes. Gemini has no end marker: a stream is complete when its body ends after a
        candidate's finish reason (or a blocked prompt's feedback)."""
        url = self._url(model, "streamGenerateContent") + "?alt=sse"
        events = await self._http.post_for_events(url, wire.raw, call, None, wire.headers)
        finished = False
        try:
            async for data in events:
                answer = self._http.event_object(data)
                finished = finished or b"finishReason" in data or b"blockReason" in data
                yield WireEvent(data, usage=_usage(answer), pieces=_pieces(answer))
            if not finished:
                raise upstream_errors.stream_broken()
        finally:
            await events.aclose()

    async def count_tokens(
        self, wire: WireRequest, model: str, call: UpstreamCall
    ) -> tuple[int, bytes]:
        """Sends a `countTokens` request body as its bytes; returns `totalTokens`."""
        url = self._url(model, "countTokens")
        # Gemini leaves `totalTokens` out when there are none.
        return await self._http.post_for_count(
            url, wire.raw, call, wire.headers, "totalTokens", when_absent=0
        )

    async def aclose(self) -> None:
        """Closes the connection pool."""
        await self._http.aclose()
