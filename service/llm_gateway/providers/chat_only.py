"""Serves `/v1/completions` on upstreams that only have a chat API (Anthropic, Gemini), and
says which of OpenAI's other APIs they have none of (a Gemini image model makes images).

The prompt becomes a single user turn and the chat answer is reshaped into a
`text_completion`. What a chat cannot honour (`echo`, `logprobs`, `suffix`, `best_of`, token
prompts, several prompts) is refused with a 400 naming the field, never silently dropped.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from typing import Any, cast

from llm_gateway.errors import GatewayError, invalid_request
from llm_gateway.model.canonical import (
    CanonicalAnswer,
    CanonicalChunk,
    CanonicalRequest,
    ChatChunk,
    ChatCompletion,
    ChatRequest,
    CompletionRequest,
    EmbeddingList,
    EmbeddingRequest,
    ImageList,
    ImageRequest,
)
from llm_gateway.model.request import AUDIO_ENDPOINTS, IMAGE_ENDPOINTS, Endpoint
from llm_gateway.model.text_completion import completion_chunk_from_chat, completion_from_chat
from llm_gateway.providers.base import UpstreamCall
from llm_gateway.providers.translation import hints_left_out, no_such_api, unsupported

_NOT_HONOURED = ("echo", "logprobs", "suffix", "best_of")
_COMPLETION_ONLY = frozenset(("prompt", *_NOT_HONOURED))


def _unsupported(field: str) -> GatewayError:
    return invalid_request(
        f"'{field}' is not supported by this model's provider, which only has a chat API.",
        field,
        "unsupported_parameter",
    )


def _prompt_text(prompt: object) -> str:
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
        return prompt[0]
    if isinstance(prompt, str):
        return prompt
    raise invalid_request(
        "This model's provider only has a chat API: 'prompt' must be one string "
        "(token arrays and several prompts are not supported).",
        "prompt",
        "unsupported_parameter",
    )


def chat_body_from_completion(body: CompletionRequest) -> ChatRequest:
    """Returns the chat request that serves a legacy completion request."""
    fields: Mapping[str, Any] = body
    for field in _NOT_HONOURED:
        value = fields.get(field)
        if value not in (None, False) and not (field == "best_of" and value == 1):
            raise _unsupported(field)
    # The fields the two requests share keep their names and meaning.
    chat = cast(ChatRequest, {k: v for k, v in fields.items() if k not in _COMPLETION_ONLY})
    chat["messages"] = [{"role": "user", "content": _prompt_text(body.get("prompt"))}]
    return chat


class ChatOnlyProvider:
    """A provider whose upstream has only a chat API; subclasses implement the chat calls."""

    name: str
    # The canonical fields the subclass's translation carries.
    translated: frozenset[str] = frozenset()
    # Whether the upstream has image models (`images`).
    makes_images = False

    def left_out(self, body: Mapping[str, Any]) -> tuple[str, ...]:
        """The fields of a canonical request that only steer OpenAI's platform and that this
        provider's translation leaves out, for the caller to be told."""
        return hints_left_out(body, self.translated)

    async def create_chat(self, body: ChatRequest, call: UpstreamCall) -> ChatCompletion:
        """Returns the upstream's answer to a chat request, as a `chat.completion`."""
        raise NotImplementedError

    def stream_chat(self, body: ChatRequest, call: UpstreamCall) -> AsyncGenerator[ChatChunk, None]:
        """Yields the upstream's answer to a chat request, as `chat.completion.chunk`s."""
        raise NotImplementedError

    async def embed(self, body: EmbeddingRequest, call: UpstreamCall) -> EmbeddingList:
        """Returns the upstream's vectors for an embeddings request."""
        raise no_such_api(self.name, "embeddings")

    async def images(self, endpoint: Endpoint, body: ImageRequest, call: UpstreamCall) -> ImageList:
        """Makes the images of an image request (a provider with image models, `makes_images`,
        overrides this)."""
        raise no_such_api(self.name, "image")

    async def create(
        self, endpoint: Endpoint, body: CanonicalRequest, call: UpstreamCall
    ) -> CanonicalAnswer:
        """Serves a chat, legacy completion or embeddings request that does not stream."""
        if endpoint is Endpoint.EMBEDDINGS:
            return await self.embed(cast(EmbeddingRequest, body), call)
        if endpoint is Endpoint.MODERATIONS:
            raise no_such_api(self.name, "moderations")
        if endpoint in IMAGE_ENDPOINTS:
            return await self.images(endpoint, cast(ImageRequest, body), call)
        if endpoint in AUDIO_ENDPOINTS:
            raise no_such_api(self.name, "audio")
        if endpoint is Endpoint.CHAT:
            return await self.create_chat(cast(ChatRequest, body), call)
        chat = chat_body_from_completion(cast(CompletionRequest, body))
        return completion_from_chat(await self.create_chat(chat, call))

    async def stream(
        self, endpoint: Endpoint, body: CanonicalRequest, call: UpstreamCall
    ) -> AsyncGenerator[CanonicalChunk, None]:
        """Serves a streamed chat or legacy completion request."""
        if endpoint in AUDIO_ENDPOINTS:  # speech always streams
            raise no_such_api(self.name, "audio")
        if endpoint in IMAGE_ENDPOINTS:
            if self.makes_images:
                raise unsupported("stream", self.name, "Its image models answer whole.")
            raise no_such_api(self.name, "image")
        if endpoint is Endpoint.CHAT:
            chunks = self.stream_chat(cast(ChatRequest, body), call)
        else:
            chunks = self.stream_chat(
                chat_body_from_completion(cast(CompletionRequest, body)), call
            )
        try:
            async for chunk in chunks:
                if endpoint is Endpoint.CHAT:
                    yield chunk
                elif (reshaped := completion_chunk_from_chat(chunk)) is not None:
                    yield reshaped
        finally:
            await chunks.aclose()
