"""The Anthropic surface: `POST /v1/messages` and `POST /v1/messages/count_tokens` over
`google.api.HttpBody` RPCs (its models API shares OpenAI's paths: see `models`)."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Mapping
from typing import Any

import grpc
import orjson
from google.api.httpbody_pb2 import HttpBody

from llm_gateway.api.anthropic import request as translate
from llm_gateway.api.anthropic import validation
from llm_gateway.api.anthropic.dialect import AnthropicDialect
from llm_gateway.api.rest import exchange, framing
from llm_gateway.auth.keys import KeyRing
from llm_gateway.dataplane import CallInfo, DataPlane
from llm_gateway.model import Endpoint, GenerationRequest
from llm_gateway.model.wire import ApiFamily, WireRequest
from llm_gateway.v1 import anthropic_rest_service_pb2_grpc

Context = grpc.aio.ServicerContext[Any, HttpBody]
_DIALECT = AnthropicDialect()


def messages_request(body: HttpBody, metadata: Mapping[str, str]) -> GenerationRequest:
    """A Messages API call, validated by Anthropic's rules: passed through to an Anthropic
    upstream, translated (on first need) for any other."""
    wire = validation.validate(exchange.load_json(body, "The request body is not valid JSON."))
    return GenerationRequest(
        Endpoint.CHAT,
        wire=WireRequest.received(
            ApiFamily.ANTHROPIC,
            "messages",
            wire,
            body.data,
            bool(wire.get("stream")),
            metadata,
        ),
        translate=lambda: translate.translation(wire),
        sizing=translate.sizing(wire),
    )


def count_request(body: HttpBody, metadata: Mapping[str, str]) -> GenerationRequest:
    """A `count_tokens` call, validated by Anthropic's rules (never translated)."""
    wire = validation.validate(
        exchange.load_json(body, "The request body is not valid JSON."), True
    )
    return GenerationRequest(
        Endpoint.CHAT,
        wire=WireRequest.received(
            ApiFamily.ANTHROPIC,
            "count_tokens",
            wire,
            body.data,
            False,
            metadata,
        ),
        sizing=translate.sizing(wire),
    )


class AnthropicRestServicer(anthropic_rest_service_pb2_grpc.AnthropicRestServiceServicer):
    """Serves `/v1/messages` with whatever upstream serves the model."""

    def __init__(self, dataplane: DataPlane, keys: KeyRing) -> None:
        self._dataplane = dataplane
        self._keys = keys

    async def CreateMessage(self, request: HttpBody, context: Context) -> AsyncIterator[HttpBody]:
        parse = functools.partial(messages_request, request)
        async for body in exchange.generate(context, self._keys, self._dataplane, _DIALECT, parse):
            yield body

    async def CreateMessageWhole(self, request: HttpBody, context: Context) -> HttpBody:
        return await exchange.whole(self.CreateMessage(request, context))

    async def CountTokens(self, request: HttpBody, context: Context) -> HttpBody:
        async def count(call: CallInfo, metadata: Mapping[str, str]) -> exchange.Reply:
            counted = await self._dataplane.count_tokens(count_request(request, metadata), call)
            data = counted.data or orjson.dumps({"input_tokens": counted.tokens})
            return data, framing.count_headers(counted)

        return await exchange.respond(context, self._keys, _DIALECT, count)
