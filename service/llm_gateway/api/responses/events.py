"""A response's end and events, whichever way its upstream answered: canonical chunks and
answers, encoded by the gateway (`stream`), or a native upstream's own, relayed (`relayed`).

The typed gRPC service and background runs take their events from here; the REST surface's
dialect makes the same choice inside its encoder and framer.
"""

from __future__ import annotations

from typing import Any

import orjson

from llm_gateway.api.responses.relayed import RelayedResponse
from llm_gateway.api.responses.response import ResponseDraft
from llm_gateway.api.responses.stream import ResponsesStreamEncoder
from llm_gateway.errors import GatewayError
from llm_gateway.model.canonical import as_chat
from llm_gateway.model.wire import WireAnswer, WireEvent
from llm_gateway.routing.dispatch import Answer, Chunk


def final_of(draft: ResponseDraft, answer: Answer, background: bool = False) -> dict[str, Any]:
    """The response, every item whole, that a whole answer ends."""
    if isinstance(answer, WireAnswer):  # from a native upstream
        relay = RelayedResponse(draft, background)
        relay.answer(answer.data)
        assert relay.final is not None
        return relay.final
    return draft.answered(as_chat(answer))  # this surface asks only for chats


class ResponseEvents:
    """The events of one streamed response, from whichever chunks its upstream sends."""

    def __init__(self, draft: ResponseDraft, background: bool = False) -> None:
        self._encoder = ResponsesStreamEncoder(draft)
        self._relay = RelayedResponse(draft, background)
        self._relaying = False

    @property
    def final(self) -> dict[str, Any] | None:
        """The response as it ended, once an event has ended it."""
        return self._relay.final if self._relaying else self._encoder.final

    def of(self, chunk: Chunk) -> list[dict[str, Any]]:
        """The events a chunk makes: a relayed event as the caller gets it, or the events an
        encoded chunk makes. The one that ends the response sets `final`."""
        if isinstance(chunk, WireEvent):
            self._relaying = True
            return [orjson.loads(self._relay.event(chunk.data, chunk.name or ""))]
        return self._encoder.events(chunk)

    def ending(self) -> list[dict[str, Any]]:
        """The events that end a stream that completed (a relayed one has ended itself)."""
        return [] if self._relaying else self._encoder.ending()

    def failure(self, error: GatewayError) -> list[dict[str, Any]]:
        """The events that end a stream that failed: `error`, then `response.failed`."""
        return self._relay.failure(error) if self._relaying else self._encoder.failure(error)
