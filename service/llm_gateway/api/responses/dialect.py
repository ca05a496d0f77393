"""The Responses API's answers, streams and errors, for one call.

Unlike the other surfaces' dialects, this one is made per call: it writes the response of
one `ResponseDraft` (its id and what it echoes), translated or relayed from a native
upstream (see `relayed`), and keeps the response as it ended (`final`: every item whole)
for the store.
"""

from __future__ import annotations

from typing import Any

import orjson

from llm_gateway.api.responses.relayed import RelayedResponse
from llm_gateway.api.responses.response import ResponseDraft, shown_response
from llm_gateway.api.responses.stream import ResponsesStreamEncoder, framed
from llm_gateway.api.rest import framing
from llm_gateway.errors import GatewayError
from llm_gateway.model import GenerationRequest
from llm_gateway.model.canonical import CanonicalAnswer, as_chat
from llm_gateway.model.wire import WireAnswer, WireEvent


class ResponsesRelayFramer:
    """Writes a stream relayed from a native upstream (see `relayed`)."""

    def __init__(self, relay: RelayedResponse) -> None:
        self._relay = relay

    def event(self, event: WireEvent) -> bytes:
        kind = event.name or ""
        data = self._relay.event(event.data, kind)
        return b"event: " + kind.encode() + b"\ndata: " + data + b"\n\n"

    def error(self, error: GatewayError) -> bytes:
        return framed(self._relay.failure(error))

    def end(self) -> bytes:
        return b""  # the upstream's terminal event has ended it


class ResponsesDialect:
    """Writes one response, whole or streamed; errors as OpenAI's."""

    stream_content_type = framing.EVENT_STREAM

    def __init__(self) -> None:
        self.draft: ResponseDraft | None = None  # set once the request is parsed
        self._final: dict[str, Any] | None = None
        self._encoder: ResponsesStreamEncoder | None = None
        self._relay: RelayedResponse | None = None

    @property
    def final(self) -> dict[str, Any] | None:
        """The response as it ended (completed, incomplete or failed), once it has."""
        if self._encoder is not None:
            return self._encoder.final
        if self._relay is not None:
            return self._relay.final
        return self._final

    def answer(self, answer: CanonicalAnswer) -> bytes:
        assert self.draft is not None
        self._final = self.draft.answered(as_chat(answer))  # this surface asks only for chats
        return orjson.dumps(shown_response(self._final, self.draft.include))

    def relayed(self, answer: WireAnswer) -> bytes:
        return orjson.dumps(self._relayed().answer(answer.data))

    def _relayed(self) -> RelayedResponse:
        assert self.draft is not None
        self._relay = RelayedResponse(self.draft)
        return self._relay

    def error(self, error: GatewayError) -> bytes:
        return orjson.dumps(error.body())

    def encoder(self, request: GenerationRequest) -> ResponsesStreamEncoder:
        assert self.draft is not None
        self._encoder = ResponsesStreamEncoder(self.draft)
        return self._encoder

    def framer(self) -> ResponsesRelayFramer:
        return ResponsesRelayFramer(self._relayed())
