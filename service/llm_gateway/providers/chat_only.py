"""Serves `/v1/completions` on upstreams that only have a chat API (Anthropic, Gemini).

The prompt becomes a single user turn and the chat answer is reshaped into a
`text_completion`. What a chat cannot honour (`echo`, `logprobs`, `suffix`, `best_of`, token
prompts, several prompts) is refused with a 400 naming the field, never silently dropped.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from llm_gateway.errors import GatewayError, invalid_request
from llm_gateway.model.request import Endpoint
from llm_gateway.model.text_completion import completion_chunk_from_chat, completion_from_chat
from llm_gateway.providers.base import UpstreamCall
from llm_gateway.providers.translation import hints_left_out

_NOT_HONOURED = ("echo", "logprobs", "suffix", "best_of")
_COMPLETION_ONLY = frozenset(("prompt", *_NOT_HONOURED))


def _unsupported(field: str) -> GatewayError:
    return invalid_request(
        f"'{field}' is not supported by this model's provider, which only has a chat API.",
        field,
        "unsupported_parameter",
    )


def _prompt_text(prompt: Any) -> str:
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


def chat_body_from_completion(body: dict[str, Any]) -> dict[str, Any]:
    """Returns the chat request that serves a legacy completion request."""
    for field in _NOT_HONOURED:
        value = body.get(field)
        if value not in (None, False) and not (field == "best_of" and value == 1):
            raise _unsupported(field)
    chat = {k: v for k, v in body.items() if k not in _COMPLETION_ONLY}
    chat["messages"] = [{"role": "user", "content": _prompt_text(body.get("prompt"))}]
    return chat


class ChatOnlyProvider:
    """A provider whose upstream has only a chat API; subclasses implement the chat calls."""

    name: str
    # The canonical fields the subclass's translation carries.
    translated: frozenset[str] = frozenset()

    def left_out(self, body: dict[str, Any]) -> tuple[str, ...]:
        """The fields of a canonical request that only steer OpenAI's platform and that this
        provider's translation leaves out, for the caller to be told."""
        return hints_left_out(body, self.translated)

    async def create_chat(self, body: dict[str, Any], call: UpstreamCall) -> dict[str, Any]:
        """Returns the upstream's answer to a chat request, as a `chat.completion`."""
        raise NotImplementedError

    def stream_chat(
        self, body: dict[str, Any], call: UpstreamCall
    ) -> AsyncGenerator[dict[str, Any], None]:
        """Yields the upstream's answer to a chat request, as `chat.completion.chunk`s."""
        raise NotImplementedError

    async def create(
        self, endpoint: Endpoint, body: dict[str, Any], call: UpstreamCall
    ) -> dict[str, Any]:
        """Serves a chat or legacy completion request that does not stream."""
        if endpoint is Endpoint.CHAT:
            return await self.create_chat(body, call)
        return completion_from_chat(await self.create_chat(chat_body_from_completion(body), call))

    async def stream(
        self, endpoint: Endpoint, body: dict[str, Any], call: UpstreamCall
    ) -> AsyncGenerator[dict[str, Any], None]:
        """Serves a streamed chat or legacy completion request."""
        if endpoint is Endpoint.CHAT:
            chunks = self.stream_chat(body, call)
        else:
            chunks = self.stream_chat(chat_body_from_completion(body), call)
        try:
            async for chunk in chunks:
                if endpoint is Endpoint.CHAT:
                    yield chunk
                elif (reshaped := completion_chunk_from_chat(chunk)) is not None:
                    yield reshaped
        finally:
            await chunks.aclose()
