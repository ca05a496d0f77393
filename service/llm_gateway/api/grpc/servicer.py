"""The typed gRPC service: converts messages, then awaits the same data plane as REST."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar, cast

import grpc
import orjson
from google.protobuf.message import Message

from llm_gateway.api.grpc import requests, responses
from llm_gateway.api.grpc.status import abort
from llm_gateway.api.headers import DEPLOYMENT_HEADER, DROPPED_HEADER
from llm_gateway.api.inbound import InboundCall
from llm_gateway.auth.keys import KeyRing
from llm_gateway.config.settings import LimitSettings
from llm_gateway.dataplane import CallInfo, DataPlane, Decisions, Served
from llm_gateway.errors import GatewayError, internal_error
from llm_gateway.model import Endpoint, GenerationRequest, RequestValidator
from llm_gateway.model.audio_files import TRANSCRIPTION_FORM
from llm_gateway.model.canonical import (
    ChatChunk,
    ChatCompletion,
    EmbeddingList,
    ImageList,
    ModerationList,
    TextCompletion,
)
from llm_gateway.model.forms import FormRules, form_fields
from llm_gateway.model.images import IMAGE_FORM
from llm_gateway.model.multipart import FormPart
from llm_gateway.model.wire import ApiFamily, WireAnswer, WireEvent, WireRequest
from llm_gateway.v1 import (
    audio_pb2,
    chat_pb2,
    completions_pb2,
    embeddings_pb2,
    images_pb2,
    llm_gateway_service_pb2_grpc,
    models_pb2,
    moderations_pb2,
)

log = logging.getLogger(__name__)
Context = grpc.aio.ServicerContext[Any, Any]
Out = TypeVar("Out", bound=Message)
AnswerT = TypeVar(
    "AnswerT", ChatCompletion, TextCompletion, EmbeddingList, ModerationList, ImageList
)
ChunkT = TypeVar("ChunkT", ChatChunk, TextCompletion)


# The methods that take a file (an upload's larger message limit: `message_limits`).
UPLOAD_METHODS = frozenset(
    (
        "CreateImageEdit",
        "CreateImageVariation",
        "CreateTranscription",
        "StreamTranscription",
        "CreateTranslation",
    )
)


class LlmGatewayServicer(llm_gateway_service_pb2_grpc.LlmGatewayServiceServicer):
    """Serves `llm_gateway.v1.LlmGatewayService`."""

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
        self, request: completions_pb2.CompletionRequest, context: Context
    ) -> completions_pb2.CompletionResponse:
        return await self._unary(
            context,
            lambda: self._validator.completion(requests.completion_body(request, stream=False)),
            responses.completion,
        )

    async def StreamCompletion(
        self, request: completions_pb2.CompletionRequest, context: Context
    ) -> AsyncIterator[completions_pb2.CompletionResponse]:
        parse = lambda: self._validator.completion(  # noqa: E731
            requests.completion_body(request, stream=True)
        )
        async for message in self._stream(context, parse, responses.completion):
            yield message

    async def CreateChatCompletion(
        self, request: chat_pb2.ChatCompletionRequest, context: Context
    ) -> chat_pb2.ChatCompletionResponse:
        return await self._unary(
            context,
            lambda: self._validator.chat(requests.chat_body(request, stream=False)),
            responses.chat_completion,
        )

    async def StreamChatCompletion(
        self, request: chat_pb2.ChatCompletionRequest, context: Context
    ) -> AsyncIterator[chat_pb2.ChatCompletionChunk]:
        parse = lambda: self._validator.chat(requests.chat_body(request, stream=True))  # noqa: E731
        async for message in self._stream(context, parse, responses.chat_chunk):
            yield message

    async def CreateEmbedding(
        self, request: embeddings_pb2.EmbeddingRequest, context: Context
    ) -> embeddings_pb2.EmbeddingResponse:
        return await self._unary(
            context,
            lambda: self._validator.embedding(requests.embedding_body(request)),
            responses.embedding_response,
        )

    async def CreateModeration(
        self, request: moderations_pb2.ModerationRequest, context: Context
    ) -> moderations_pb2.ModerationResponse:
        return await self._unary(
            context,
            lambda: self._validator.moderation(requests.moderation_body(request)),
            responses.moderation_response,
        )

    async def CreateImage(
        self, request: images_pb2.ImageRequest, context: Context
    ) -> images_pb2.ImagesResponse:
        return await self._unary(
            context,
            lambda: self._validator.image(Endpoint.IMAGE_GENERATIONS, requests.image_body(request)),
            responses.images_response,
        )

    async def CreateSpeech(
        self, request: audio_pb2.SpeechRequest, context: Context
    ) -> AsyncIterator[audio_pb2.SpeechChunk]:
        async with self._serving(context) as serving:
            served = serving.serve(self._validator.speech(requests.speech_body(request)))
            pieces = served.stream()
            try:
                async for piece in pieces:
                    # Speech is relayed as the upstream sends it: its audio's bytes.
                    assert isinstance(piece, WireEvent)
                    yield audio_pb2.SpeechChunk(audio=piece.data)
            finally:
                await pieces.aclose()

    async def CreateImageEdit(
        self, request: images_pb2.ImageEditRequest, context: Context
    ) -> images_pb2.ImagesResponse:
        return await self._form(
            context,
            Endpoint.IMAGE_EDITS,
            lambda: requests.image_edit_parts(request),
            IMAGE_FORM,
            self._validator.image,
            responses.images_response,
        )

    async def CreateImageVariation(
        self, request: images_pb2.ImageVariationRequest, context: Context
    ) -> images_pb2.ImagesResponse:
        return await self._form(
            context,
            Endpoint.IMAGE_VARIATIONS,
            lambda: requests.image_variation_parts(request),
            IMAGE_FORM,
            self._validator.image,
            responses.images_response,
        )

    async def CreateTranscription(
        self, request: audio_pb2.TranscriptionRequest, context: Context
    ) -> audio_pb2.TranscriptionResponse:
        return await self._form(
            context,
            Endpoint.TRANSCRIPTIONS,
            lambda: requests.transcript_parts(request),
            TRANSCRIPTION_FORM,
            self._validator.transcript,
            responses.transcription,
        )

    async def StreamTranscription(
        self, request: audio_pb2.TranscriptionRequest, context: Context
    ) -> AsyncIterator[audio_pb2.TranscriptionEvent]:
        async with self._serving(context) as serving:
            parts = (*requests.transcript_parts(request), FormPart("stream", b"true"))
            relayed = self._form_request(Endpoint.TRANSCRIPTIONS, parts, TRANSCRIPTION_FORM)
            events = serving.serve(self._validator.transcript(*relayed)).stream()
            try:
                async for event in events:
                    # Relayed as the upstream sent them: the API's `transcript.text.*` JSON.
                    assert isinstance(event, WireEvent)
                    yield responses.transcription_event(orjson.loads(event.data))
            finally:
                await events.aclose()

    async def CreateTranslation(
        self, request: audio_pb2.TranscriptionRequest, context: Context
    ) -> audio_pb2.TranscriptionResponse:
        return await self._form(
            context,
            Endpoint.TRANSLATIONS,
            lambda: requests.transcript_parts(request),
            TRANSCRIPTION_FORM,
            self._validator.transcript,
            responses.transcription,
        )

    async def _form(
        self,
        context: Context,
        endpoint: Endpoint,
        parts_of: Callable[[], list[FormPart]],
        rules: FormRules,
        validate: Callable[[Endpoint, Any, WireRequest], GenerationRequest],
        convert: Callable[[Any], Out],
    ) -> Out:
        """Serves a call whose upstream API takes only a form (image edits, transcripts): the
        message becomes the parts a REST caller would send, checked by the same `rules`, and
        the upstream's JSON answer is read into the typed one."""
        async with self._serving(context) as serving:
            answer = await serving.serve(
                validate(*self._form_request(endpoint, parts_of(), rules))
            ).answer()
            # Relayed JSON (the typed API asks for no text format); a translated answer (none
            # of these APIs has one yet) is already its data.
            return convert(orjson.loads(answer.data) if isinstance(answer, WireAnswer) else answer)
        raise AssertionError("unreachable: _serving re-raises every failure")

    def _form_request(
        self, endpoint: Endpoint, parts: Sequence[FormPart], rules: FormRules
    ) -> tuple[Endpoint, dict[str, Any], WireRequest]:
        """The form a typed call becomes, checked by `rules` (files and their sizes), as the
        validator of its endpoint takes it."""
        form = tuple(parts)
        fields = form_fields(form, rules, self._max_upload)
        stream = fields.get("stream") is True
        wire = WireRequest(
            ApiFamily.OPENAI, endpoint.value, fields, b"", stream, form=form, typed=True
        )
        return endpoint, fields, wire

    async def ListModels(
        self, request: models_pb2.ListModelsRequest, context: Context
    ) -> models_pb2.ListModelsResponse:
        return await self._answer(
            context, lambda call: responses.model_list(self._dataplane.list_models(call))
        )

    async def GetModel(
        self, request: models_pb2.GetModelRequest, context: Context
    ) -> models_pb2.Model:
        return await self._answer(
            context, lambda call: responses.model(self._dataplane.get_model(request.model, call))
        )

    @asynccontextmanager
    async def _serving(self, context: Context) -> AsyncIterator[_Serving]:
        """Authenticates the call, and ends it with the status of anything that fails inside
        (and, either way, the data plane's decisions in the trailing metadata)."""
        inbound = InboundCall(context, "grpc")
        # In trailing metadata: sent with the status, it costs no separate send.
        context.set_trailing_metadata((("x-request-id", inbound.request_id),))
        serving: _Serving | None = None
        try:
            serving = _Serving(await inbound.authenticate(self._keys), self._dataplane)
            yield serving
            decisions = serving.decisions
            if decisions is not None and (decisions.deployment or decisions.rate_limits):
                trailing = (("x-request-id", inbound.request_id), *decisions.rate_limits)
                if decisions.deployment:
                    trailing += ((DEPLOYMENT_HEADER, decisions.deployment),)
                if decisions.dropped:
                    trailing += ((DROPPED_HEADER, ", ".join(decisions.dropped)),)
                context.set_trailing_metadata(trailing)
        except GatewayError as error:
            await abort(context, error, inbound.request_id, _deployment(serving))
        except Exception:
            log.exception("unexpected failure of request %s", inbound.request_id)
            await abort(context, internal_error(), inbound.request_id, _deployment(serving))
        finally:
            inbound.finish()

    async def _answer(self, context: Context, produce: Callable[[CallInfo], Out]) -> Out:
        async with self._serving(context) as serving:
            return produce(serving.call)
        raise AssertionError("unreachable: _serving re-raises every failure")

    async def _unary(
        self,
        context: Context,
        parse: Callable[[], GenerationRequest],
        convert: Callable[[AnswerT], Out],
    ) -> Out:
        async with self._serving(context) as serving:
            answer = await serving.serve(parse()).answer()
            assert not isinstance(answer, WireAnswer), "typed calls are never relayed"
            # The endpoint `parse` gives the request decides which kind of answer it gets.
            return convert(cast(AnswerT, answer))
        raise AssertionError("unreachable: _serving re-raises every failure")

    async def _stream(
        self,
        context: Context,
        parse: Callable[[], GenerationRequest],
        convert: Callable[[ChunkT], Out],
    ) -> AsyncIterator[Out]:
        async with self._serving(context) as serving:
            chunks = serving.serve(parse()).stream()
            try:
                async for chunk in chunks:
                    assert not isinstance(chunk, WireEvent), "typed calls are never relayed"
                    yield convert(cast(ChunkT, chunk))
            finally:
                await chunks.aclose()


class _Serving:
    """An authenticated call, and the decisions of the generation it serves (if any)."""

    def __init__(self, call: CallInfo, dataplane: DataPlane) -> None:
        self.call = call
        self._dataplane = dataplane
        self.decisions: Decisions | None = None

    def serve(self, request: GenerationRequest) -> Served:
        served = self._dataplane.serve(request, self.call)
        self.decisions = served.decisions
        return served


def _deployment(serving: _Serving | None) -> str | None:
    decisions = serving.decisions if serving is not None else None
    return decisions.deployment if decisions is not None else None
