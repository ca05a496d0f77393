"""The Anthropic surface: `POST /v1/messages` over a `google.api.HttpBody` RPC."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Mapping
from typing import Any

import grpc
from google.api.httpbody_pb2 import HttpBody

from llm_gateway.api.anthropic import request as translate
from llm_gateway.api.anthropic import validation
from llm_gateway.api.anthropic.dialect import AnthropicDialect
from llm_gateway.api.rest import exchange
from llm_gateway.auth.keys import KeyRing
from llm_gateway.dataplane import DataPlane
from llm_gateway.model import Endpoint, GenerationRequest
from llm_gateway.model.wire import ApiFamily, WireRequest, forwarded_headers
from llm_gateway.v1 import anthropic_rest_service_pb2_grpc

Context = grpc.aio.ServicerContext[Any, HttpBody]
_DIALECT = AnthropicDialect()


def messages_request(body: HttpBody, metadata: Mapping[str, str]) -> GenerationRequest:
    """A Messages API call, validated by Anthropic's rules: passed through to an Anthropic
    upstream, translated (on first need) for any other."""
    wire = validation.validate(exchange.load_json(body, "The request body is not valid JSON."))
    return GenerationRequest(
        Endpoint.CHAT,
        wire=WireRequest(
            ApiFamily.ANTHROPIC,
            "messages",
            wire,
            body.data,
            bool(wire.get("stream")),
            forwarded_headers(ApiFamily.ANTHROPIC, metadata),
        ),
        translate=lambda: translate.translation(wire),
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
