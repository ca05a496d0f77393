"""The Gemini API's model methods on the Gemini surface: `GET /v1beta/models`,
`GET /v1beta/models/{model}` and `POST /v1beta/models/{model}:countTokens`, in Gemini's
shapes, for the google-genai SDKs and the Gemini CLI."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import grpc
import orjson
from google.api.httpbody_pb2 import HttpBody

from llm_gateway.api.gemini import dialect, validation
from llm_gateway.api.gemini import request as translate
from llm_gateway.api.gemini.inbound import inbound_call, model_of
from llm_gateway.api.rest import exchange, framing
from llm_gateway.auth.keys import KeyRing
from llm_gateway.dataplane import CallInfo, DataPlane, ServedModel
from llm_gateway.errors import invalid_request
from llm_gateway.model import Endpoint, GenerationRequest
from llm_gateway.model.wire import ApiFamily, WireRequest
from llm_gateway.v1 import gemini_rest_service_pb2, gemini_rest_service_pb2_grpc

Context = grpc.aio.ServicerContext[Any, HttpBody]
# The Gemini methods that serve each of the gateway's operations.
_METHODS = {
    "chat": ("generateContent", "streamGenerateContent", "countTokens"),
    "embeddings": ("embedContent", "batchEmbedContents"),
}


def model_resource(model: ServedModel) -> dict[str, Any]:
    """A Gemini `Model`."""
    return {
        "name": f"models/{model.id}",
        "baseModelId": model.id,
        "version": "001",
        "displayName": model.id,
        "description": f"{model.id}, served by llm-gateway ({model.owned_by}).",
        "supportedGenerationMethods": [
            method for operation in model.operations for method in _METHODS.get(operation, ())
        ],
    }


def count_request(model: str, body: HttpBody, metadata: Mapping[str, str]) -> GenerationRequest:
    """A `countTokens` call: `contents`, or a whole `generateContentRequest`."""
    wire = exchange.load_json(body, "Invalid JSON payload received.")
    if not isinstance(wire, dict):
        raise invalid_request("The request body must be a JSON object.")
    inner = validation.member(wire, "generateContentRequest")
    validation.validate(inner if inner is not None else wire)
    counted = inner if isinstance(inner, dict) else wire
    return GenerationRequest(
        Endpoint.CHAT,
        wire=WireRequest.received(
            ApiFamily.GEMINI,
            "countTokens",
            wire,
            body.data,
            False,
            metadata,
        ),
        model=model,
        sizing=translate.sizing(counted),
    )


class GeminiModelServicer(gemini_rest_service_pb2_grpc.GeminiModelServiceServicer):
    """Serves the Gemini API's model list, model lookup and token counting."""

    def __init__(self, dataplane: DataPlane, keys: KeyRing) -> None:
        self._dataplane = dataplane
        self._keys = keys

    async def CountTokens(
        self, request: gemini_rest_service_pb2.GeminiHttpRequest, context: Context
    ) -> HttpBody:
        model = model_of(request.model)

        async def count(call: CallInfo, metadata: Mapping[str, str]) -> exchange.Reply:
            wire = count_request(model, request.body, metadata)
            counted = await self._dataplane.count_tokens(wire, call)
            data = counted.data or orjson.dumps({"totalTokens": counted.tokens})
            return data, framing.count_headers(counted)

        inbound = inbound_call(context, request.key)
        return await exchange.respond(context, self._keys, dialect.SSE, count, inbound)

    async def ListModels(
        self, request: gemini_rest_service_pb2.GeminiListModelsRequest, context: Context
    ) -> HttpBody:
        async def listed(call: CallInfo, metadata: Mapping[str, str]) -> exchange.Reply:
            models = [model_resource(m) for m in self._dataplane.models(call)]
            return orjson.dumps({"models": models}), ()

        inbound = inbound_call(context, request.key)
        return await exchange.respond(context, self._keys, dialect.SSE, listed, inbound)

    async def GetModel(
        self, request: gemini_rest_service_pb2.GeminiGetModelRequest, context: Context
    ) -> HttpBody:
        name = model_of(request.name)

        async def found(call: CallInfo, metadata: Mapping[str, str]) -> exchange.Reply:
            return orjson.dumps(model_resource(self._dataplane.model(name, call))), ()

        inbound = inbound_call(context, request.key)
        return await exchange.respond(context, self._keys, dialect.SSE, found, inbound)
