"""The REST facade: OpenAI's paths, bodies and status codes over `google.api.HttpBody` RPCs.

Every answer, error or not, is OpenAI's JSON or SSE bytes written by the gateway. Success needs
no response metadata of its own (the proxy adds `x-request-id`), so its headers travel with the
first message instead of costing a separate send. A stream's
status is decided by its first chunk: an upstream refusal before it is a proper HTTP error; a
failure after it ends the stream with a `data: {"error": ...}` frame and `data: [DONE]`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import unquote

import grpc
import orjson
from google.api.httpbody_pb2 import HttpBody

from llm_gateway.api.inbound import InboundCall
from llm_gateway.api.rest import framing
from llm_gateway.auth.keys import KeyRing
from llm_gateway.dataplane import CallInfo, DataPlane
from llm_gateway.errors import GatewayError, internal_error, invalid_request
from llm_gateway.model import GenerationRequest, RequestValidator
from llm_gateway.v1 import models_pb2, openai_rest_service_pb2_grpc

log = logging.getLogger(__name__)
Context = grpc.aio.ServicerContext[Any, HttpBody]
Parse = Callable[[Any], GenerationRequest]


def _load_json(body: HttpBody) -> Any:
    try:
        return orjson.loads(body.data)
    except orjson.JSONDecodeError:
        raise invalid_request(
            "We could not parse the JSON body of your request. The OpenAI API expects a "
            "JSON payload.",
            code="invalid_json",
        ) from None


class OpenAIRestServicer(openai_rest_service_pb2_grpc.OpenAIRestServiceServicer):
    """Serves `/v1/completions`, `/v1/chat/completions` and `/v1/models`."""

    def __init__(self, dataplane: DataPlane, validator: RequestValidator, keys: KeyRing) -> None:
        self._dataplane = dataplane
        self._validator = validator
        self._keys = keys

    async def CreateCompletion(
        self, request: HttpBody, context: Context
    ) -> AsyncIterator[HttpBody]:
        async for body in self._generate(request, context, self._validator.completion):
            yield body

    async def CreateChatCompletion(
        self, request: HttpBody, context: Context
    ) -> AsyncIterator[HttpBody]:
        async for body in self._generate(request, context, self._validator.chat):
            yield body

    async def ListModels(
        self, request: models_pb2.ListModelsRequest, context: Context
    ) -> AsyncIterator[HttpBody]:
        yield await self._answer(context, self._dataplane.list_models)

    async def GetModel(
        self, request: models_pb2.GetModelRequest, context: Context
    ) -> AsyncIterator[HttpBody]:
        # A `**` path variable arrives percent-encoded: SDKs send `org%2Fmodel`.
        model = unquote(request.model)
        yield await self._answer(context, lambda call: self._dataplane.get_model(model, call))

    async def _answer(
        self, context: Context, produce: Callable[[CallInfo], dict[str, Any]]
    ) -> HttpBody:
        inbound = InboundCall(context, "rest")
        try:
            answer = produce(inbound.authenticate(self._keys))
        except GatewayError as error:
            return await self._error(context, error, inbound)
        except Exception:
            log.exception("unexpected failure of request %s", inbound.request_id)
            return await self._error(context, internal_error(), inbound)
        finally:
            inbound.finish()
        return framing.json_body(answer)

    async def _generate(
        self, body: HttpBody, context: Context, parse: Parse
    ) -> AsyncIterator[HttpBody]:
        inbound = InboundCall(context, "rest")
        call: CallInfo | None = None
        try:
            call = inbound.authenticate(self._keys)
            request = parse(_load_json(body))
            if request.stream:
                async for frame in self._stream(request, call, context):
                    yield frame
                return
            answer = await self._dataplane.generate(request, call)
            await context.send_initial_metadata(framing.success_headers(call.deployment))
            yield framing.json_body(answer)
        except GatewayError as error:
            yield await self._error(context, error, inbound, call)
        except Exception:
            log.exception("unexpected failure of request %s", inbound.request_id)
            yield await self._error(context, internal_error(), inbound, call)
        finally:
            inbound.finish()

    async def _stream(
        self, request: GenerationRequest, call: CallInfo, context: Context
    ) -> AsyncIterator[HttpBody]:
        chunks = self._dataplane.stream(request, call)
        try:
            try:
                # Raises GatewayError before any byte is sent: the caller gets a real status.
                first = await anext(chunks)
            except StopAsyncIteration:
                first = None
            await context.send_initial_metadata(framing.success_headers(call.deployment))
            if first is not None:
                yield framing.event(first, framing.EVENT_STREAM)
                try:
                    async for chunk in chunks:
                        yield framing.event(chunk)
                except GatewayError as error:
                    yield framing.event(error.body())
                except Exception:
                    log.exception("unexpected failure of request %s", call.request_id)
                    yield framing.event(internal_error().body())
            else:
                yield HttpBody(content_type=framing.EVENT_STREAM)
            yield framing.DONE
        finally:
            await chunks.aclose()

    @staticmethod
    async def _error(
        context: Context, error: GatewayError, inbound: InboundCall, call: CallInfo | None = None
    ) -> HttpBody:
        headers = framing.error_headers(
            error, inbound.request_id, call.deployment if call else None
        )
        await context.send_initial_metadata(headers)
        return framing.json_body(error.body())
