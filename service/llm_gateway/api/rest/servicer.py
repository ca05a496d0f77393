"""The REST facade: OpenAI's paths, bodies and status codes over `google.api.HttpBody` RPCs.

Every answer, error or not, is OpenAI's JSON or SSE bytes written by the gateway (see
`exchange` for how a generation call is served, and `openai_dialect` for the bytes).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import grpc
import orjson
from google.api.httpbody_pb2 import HttpBody

from llm_gateway.api.anthropic import models as anthropic_models
from llm_gateway.api.anthropic.dialect import AnthropicDialect
from llm_gateway.api.inbound import InboundCall
from llm_gateway.api.rest import exchange
from llm_gateway.api.rest.audio_dialect import TRANSCRIPTS, SpeechDialect
from llm_gateway.api.rest.images_dialect import IMAGES
from llm_gateway.api.rest.openai_dialect import OpenAIDialect
from llm_gateway.auth.keys import KeyRing
from llm_gateway.config.settings import LimitSettings
from llm_gateway.dataplane import CallInfo, DataPlane
from llm_gateway.model import Endpoint, GenerationRequest, RequestValidator
from llm_gateway.model.audio_files import TRANSCRIPTION_FORM
from llm_gateway.model.forms import FormRules, form_fields
from llm_gateway.model.images import IMAGE_FORM
from llm_gateway.model.multipart import form_parts
from llm_gateway.model.wire import ApiFamily, WireRequest
from llm_gateway.v1 import models_pb2, openai_rest_service_pb2_grpc

log = logging.getLogger(__name__)
Context = grpc.aio.ServicerContext[Any, HttpBody]
_DIALECT = OpenAIDialect()
_ANTHROPIC = AnthropicDialect()


_INVALID_JSON = (
    "We could not parse the JSON body of your request. The OpenAI API expects a JSON payload."
)


def _wire(
    operation: str, body: HttpBody, metadata: Mapping[str, str], streams: bool = True
) -> tuple[Any, WireRequest]:
    """The parsed body, and the request as the caller sent it (asking for a stream only where
    the operation `streams`: embeddings never do)."""
    parsed = exchange.load_json(body, _INVALID_JSON)
    stream = streams and isinstance(parsed, dict) and bool(parsed.get("stream"))
    fields = parsed if isinstance(parsed, dict) else {}
    wire = WireRequest.received(ApiFamily.OPENAI, operation, fields, body.data, stream, metadata)
    return parsed, wire


def _form_wire(
    operation: str,
    body: HttpBody,
    metadata: Mapping[str, str],
    rules: FormRules,
    max_file_bytes: int,
    streams: bool = True,
) -> tuple[dict[str, Any], WireRequest]:
    """A `multipart/form-data` request's fields, and the request as the caller sent it (its
    parts, files as they came); a file larger than `max_file_bytes` is a 413 naming it."""
    parts = form_parts(body.content_type, body.data)
    fields = form_fields(parts, rules, max_file_bytes)
    stream = streams and fields.get("stream") is True
    wire = WireRequest.received(
        ApiFamily.OPENAI, operation, fields, body.data, stream, metadata, tuple(parts)
    )
    return fields, wire


class OpenAIRestServicer(openai_rest_service_pb2_grpc.OpenAIRestServiceServicer):
    """Serves `/v1/completions`, `/v1/chat/completions`, `/v1/embeddings`, `/v1/moderations`,
    `/v1/images/*`, `/v1/audio/*` and `/v1/models` (`max_upload_bytes`: the largest file a
    form may carry)."""

    def __init__(
        self,
        dataplane: DataPlane,
        validator: RequestValidator,
        keys: KeyRing,
        max_upload_bytes: int = LimitSettings().max_upload_bytes,
    ) -> None:
        self._dataplane = dataplane
        self._validator = validator
        self._keys = keys
        self._max_upload = max_upload_bytes

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

    async def CreateCompletionWhole(self, request: HttpBody, context: Context) -> HttpBody:
        return await exchange.whole(self.CreateCompletion(request, context))

    async def CreateChatCompletionWhole(self, request: HttpBody, context: Context) -> HttpBody:
        return await exchange.whole(self.CreateChatCompletion(request, context))

    async def CreateEmbedding(self, request: HttpBody, context: Context) -> HttpBody:
        def parse(metadata: Mapping[str, str]) -> GenerationRequest:
            return self._validator.embedding(*_wire("embeddings", request, metadata, streams=False))

        return await exchange.whole(
            exchange.generate(context, self._keys, self._dataplane, _DIALECT, parse)
        )

    async def CreateModeration(self, request: HttpBody, context: Context) -> HttpBody:
        def parse(metadata: Mapping[str, str]) -> GenerationRequest:
            return self._validator.moderation(
                *_wire("moderations", request, metadata, streams=False)
            )

        return await exchange.whole(
            exchange.generate(context, self._keys, self._dataplane, _DIALECT, parse)
        )

    async def CreateImage(self, request: HttpBody, context: Context) -> AsyncIterator[HttpBody]:
        def parse(metadata: Mapping[str, str]) -> GenerationRequest:
            wire = _wire("images/generations", request, metadata)
            return self._validator.image(Endpoint.IMAGE_GENERATIONS, *wire)

        async for body in exchange.generate(context, self._keys, self._dataplane, IMAGES, parse):
            yield body

    async def CreateImageEdit(self, request: HttpBody, context: Context) -> AsyncIterator[HttpBody]:
        def parse(metadata: Mapping[str, str]) -> GenerationRequest:
            wire = _form_wire("images/edits", request, metadata, IMAGE_FORM, self._max_upload)
            return self._validator.image(Endpoint.IMAGE_EDITS, *wire)

        async for body in exchange.generate(context, self._keys, self._dataplane, IMAGES, parse):
            yield body

    async def CreateImageVariation(self, request: HttpBody, context: Context) -> HttpBody:
        def parse(metadata: Mapping[str, str]) -> GenerationRequest:
            wire = _form_wire(
                "images/variations", request, metadata, IMAGE_FORM, self._max_upload, False
            )
            return self._validator.image(Endpoint.IMAGE_VARIATIONS, *wire)

        return await exchange.whole(
            exchange.generate(context, self._keys, self._dataplane, IMAGES, parse)
        )

    async def CreateSpeech(self, request: HttpBody, context: Context) -> AsyncIterator[HttpBody]:
        dialect = SpeechDialect()

        def parse(metadata: Mapping[str, str]) -> GenerationRequest:
            parsed = self._validator.speech(
                *_wire("audio/speech", request, metadata, streams=False)
            )
            dialect.asked(parsed)
            return parsed

        try:
            async for body in exchange.generate(
                context, self._keys, self._dataplane, dialect, parse
            ):
                yield body
        except exchange.StreamCut as cut:
            await context.abort(grpc.StatusCode.UNAVAILABLE, cut.error.message)

    async def CreateTranscription(
        self, request: HttpBody, context: Context
    ) -> AsyncIterator[HttpBody]:
        def parse(metadata: Mapping[str, str]) -> GenerationRequest:
            wire = _form_wire(
                "audio/transcriptions", request, metadata, TRANSCRIPTION_FORM, self._max_upload
            )
            return self._validator.transcript(Endpoint.TRANSCRIPTIONS, *wire)

        async for body in exchange.generate(
            context, self._keys, self._dataplane, TRANSCRIPTS, parse
        ):
            yield body

    async def CreateTranslation(self, request: HttpBody, context: Context) -> HttpBody:
        def parse(metadata: Mapping[str, str]) -> GenerationRequest:
            wire = _form_wire(
                "audio/translations",
                request,
                metadata,
                TRANSCRIPTION_FORM,
                self._max_upload,
                streams=False,
            )
            return self._validator.transcript(Endpoint.TRANSLATIONS, *wire)

        return await exchange.whole(
            exchange.generate(context, self._keys, self._dataplane, TRANSCRIPTS, parse)
        )

    async def ListModels(self, request: models_pb2.ListModelsRequest, context: Context) -> HttpBody:
        def listed(call: CallInfo, anthropic: bool) -> dict[str, Any]:
            if anthropic:
                return anthropic_models.model_list(self._dataplane.models(call))
            return self._dataplane.list_models(call)

        return await self._models(context, listed)

    async def GetModel(self, request: models_pb2.GetModelRequest, context: Context) -> HttpBody:
        # Envoy decodes the path variable (SDKs send `org%2Fmodel`); not decoded again here.
        model = request.model

        def found(call: CallInfo, anthropic: bool) -> dict[str, Any]:
            if anthropic:
                return anthropic_models.model_object(self._dataplane.model(model, call))
            return self._dataplane.get_model(model, call)

        return await self._models(context, found)

    async def _models(
        self, context: Context, produce: Callable[[CallInfo, bool], dict[str, Any]]
    ) -> HttpBody:
        """Answers a models call in OpenAI's shape, or Anthropic's for Anthropic's callers
        (the two APIs share these paths)."""
        inbound = InboundCall(context, "rest")
        anthropic = anthropic_models.is_anthropic_caller(inbound.metadata)

        async def answer(call: CallInfo, metadata: Mapping[str, str]) -> exchange.Reply:
            return orjson.dumps(produce(call, anthropic)), ()

        dialect = _ANTHROPIC if anthropic else _DIALECT
        return await exchange.respond(context, self._keys, dialect, answer, inbound)
