"""The Responses API's answers, streams and errors, for one call.

Unlike the other surfaces' dialects, this one is made per call: it writes the response of
one `ResponseDraft` (its id and what it echoes), and keeps the response as it ended
(`final`: every item whole) for the store.
"""

from __future__ import annotations

from typing import Any

import orjson

from llm_gateway.api.responses.response import ResponseDraft, shown_response
from llm_gateway.api.responses.stream import ResponsesStreamEncoder
from llm_gateway.api.rest import framing
from llm_gateway.errors import GatewayError
from llm_gateway.model import GenerationRequest
from llm_gateway.model.canonical import CanonicalAnswer, as_chat
from llm_gateway.model.wire import WireEvent


class _NoRelay:
    """No upstream's stream is relayed to this surface: every request is translated."""

    def event(self, event: WireEvent) -> bytes:
        raise AssertionError("a Responses API stream is never relayed")

    def error(self, error: GatewayError) -> bytes:
        raise AssertionError("a Responses API stream is never relayed")

    def end(self) -> bytes:
        raise AssertionError("a Responses API stream is never relayed")


class ResponsesDialect:
    """Writes one response, whole or streamed; errors as OpenAI's."""

    stream_content_type = framing.EVENT_STREAM

    def __init__(self) -> None:
        self.draft: ResponseDraft | None = None  # set once the request is parsed
        self._final: dict[str, Any] | None = None
        self._encoder: ResponsesStreamEncoder | None = None

    @property
    def final(self) -> dict[str, Any] | None:
        """The response as it ended (completed, incomplete or failed), once it has."""
        if self._encoder is not None:
            return self._encoder.final
        return self._final

    def answer(self, answer: CanonicalAnswer) -> bytes:
        assert self.draft is not None
        self._final = self.draft.answered(as_chat(answer))  # this surface asks only for chats
        return orjson.dumps(shown_response(self._final, self.draft.include))

    def error(self, error: GatewayError) -> bytes:
        return orjson.dumps(error.body())

    def encoder(self, request: GenerationRequest) -> ResponsesStreamEncoder:
        assert self.draft is not None
        self._encoder = ResponsesStreamEncoder(self.draft)
        return self._encoder

    def framer(self) -> _NoRelay:
        return _NoRelay()
