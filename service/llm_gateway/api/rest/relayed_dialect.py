"""The dialect of OpenAI's media APIs (images, transcripts): their streams are only ever
relayed as the upstream sent them (only OpenAI-compatible upstreams stream them), and their
answers too, but for images another family's image model made (a Gemini image model's,
translated into OpenAI's `ImagesResponse`)."""

from __future__ import annotations

import orjson

from llm_gateway.api.rest import framing
from llm_gateway.api.rest.exchange import StreamEncoder, StreamFramer
from llm_gateway.errors import GatewayError
from llm_gateway.model import GenerationRequest
from llm_gateway.model.canonical import CanonicalAnswer
from llm_gateway.model.wire import WireAnswer


class RelayedDialect:
    """Relayed (or canonical) answers, and relayed streams written by `framer` (the API's
    own event framing)."""

    stream_content_type = framing.EVENT_STREAM

    def __init__(self, framer: StreamFramer) -> None:
        self._framer = framer

    def answer(self, answer: CanonicalAnswer) -> bytes:
        return orjson.dumps(answer)  # OpenAI's own shape

    def relayed(self, answer: WireAnswer) -> bytes:
        return answer.data  # the upstream's own bytes

    def error(self, error: GatewayError) -> bytes:
        return orjson.dumps(error.body())

    def encoder(self, request: GenerationRequest) -> StreamEncoder:
        raise AssertionError("this API's streams are only relayed")

    def framer(self) -> StreamFramer:
        return self._framer
