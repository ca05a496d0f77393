"""The dialect of OpenAI's APIs that only OpenAI-compatible upstreams serve (images,
transcripts): their answers and events are only ever relayed as the upstream sent them; the
gateway writes only OpenAI's errors."""

from __future__ import annotations

import orjson

from llm_gateway.api.rest import framing
from llm_gateway.api.rest.exchange import StreamEncoder, StreamFramer
from llm_gateway.errors import GatewayError
from llm_gateway.model import GenerationRequest
from llm_gateway.model.canonical import CanonicalAnswer
from llm_gateway.model.wire import WireAnswer


class RelayedDialect:
    """Relayed answers, and streams written by `framer` (the API's own event framing)."""

    stream_content_type = framing.EVENT_STREAM

    def __init__(self, framer: StreamFramer) -> None:
        self._framer = framer

    def answer(self, answer: CanonicalAnswer) -> bytes:
        raise AssertionError("this API's answers are only relayed")

    def relayed(self, answer: WireAnswer) -> bytes:
        return answer.data  # the upstream's own bytes

    def error(self, error: GatewayError) -> bytes:
        return orjson.dumps(error.body())

    def encoder(self, request: GenerationRequest) -> StreamEncoder:
        raise AssertionError("this API's streams are only relayed")

    def framer(self) -> StreamFramer:
        return self._framer
