"""The REST facade: OpenAI's paths, bodies and status codes over `google.api.HttpBody` RPCs.

Every answer, error or not, is OpenAI's JSON or SSE bytes written by the gateway (see
`exchange` for how a generation call is served, and `openai_dialect` for the bytes).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import grpc
from google.api.httpbody_pb2 import HttpBody

from llm_gateway.api.inbound import InboundCall
from llm_gateway.api.rest import exchange, framing
from llm_gateway.api.rest.openai_dialect import OpenAIDialect
from llm_gateway.auth.keys import KeyRing
from llm_gateway.dataplane import CallInfo, DataPlane
from llm_gateway.errors import GatewayError, internal_error
from llm_gateway.model import GenerationRequest, RequestValidator
from llm_gateway.model.wire import ApiFamily, WireRequest, forwarded_headers
from llm_gateway.v1 import models_pb2, openai_rest_service_pb2_grpc

log = logging.getLogger(__name__)
Context = grpc.aio.ServicerContext[Any, HttpBody]
_DIALECT = OpenAIDialect()


_INVALID_JSON = (
    "We could not parse the JSON body of your request. The OpenAI API expects a JSON payload."
)


def _wire(operation: str, body: HttpBody, metadata: Mapping[str, str]) -> tuple[Any, WireRequest]:
    """The parsed body, and the request as the caller sent it."""
    parsed = exchange.load_json(body, _INVALID_JSON)
    stream = isinstance(parsed, dict) and bool(parsed.get("stream"))
    headers = forwarded_headers(ApiFamily.OPENAI, metadata)
    fields = parsed if isinstance(parsed, dict) else {}
    return parsed, WireRequest(ApiFamily.OPENAI, operation, fields, body.data, stream, headers)


class OpenAIRestServicer(openai_rest_service_pb2_grpc.OpenAIRestServiceServicer):
    """Serves `/v1/completions`, `/v1/chat/completions` and `/v1/models`."""

    def __init__(self, dataplane: DataPlane, validator: RequestValidator, keys: KeyRing) -> None:
        self._dataplane = dataplane
        self._validator = validator
        self._keys = keys

    async def CreateCompletion(
        self, request: HttpBody, context: Context
    ) -> AsyncIterator[HttpBody]:
        def parse(metadata: Mapping[str, str]) -> GenerationRequest:
            return self._validator.completion(*_wire("completions", request, metadata))

        async for body in exchange.generate(context, self._keys, self._dataplane, _DIALECT, parse):
            yield body

    async def CreateChatCompletion(
        self, request: HttpBody, context: Context
    ) -> AsyncIterator[HttpBody]:
        def parse(metadata: Mapping[str, str]) -> GenerationRequest:
            return self._validator.chat(*_wire("chat/completions", request, metadata))

        async for body in exchange.generate(context, self._keys, self._dataplane, _DIALECT, parse):
            yield body

    async def ListModels(
        self, request: models_pb2.ListModelsRequest, context: Context
    ) -> AsyncIterator[HttpBody]:
        yield await self._answer(context, self._dataplane.list_models)

    async def GetModel(
        self, request: models_pb2.GetModelRequest, context: Context
    ) -> AsyncIterator[HttpBody]:
        # Envoy decodes the path variable (SDKs send `org%2Fmodel`); not decoded again here.
        model = request.model
        yield await self._answer(context, lambda call: self._dataplane.get_model(model, call))

    async def _answer(
        self, context: Context, produce: Callable[[CallInfo], dict[str, Any]]
    ) -> HttpBody:
        inbound = InboundCall(context, "rest")
        try:
            answer = produce(await inbound.authenticate(self._keys))
        except GatewayError as error:
            return await exchange.error_answer(context, _DIALECT, error, inbound.request_id)
        except Exception:
            log.exception("unexpected failure of request %s", inbound.request_id)
            return await exchange.error_answer(
                context, _DIALECT, internal_error(), inbound.request_id
            )
        finally:
            inbound.finish()
        return framing.json_body(answer)
