"""The Responses API over REST: `POST /v1/responses` on any provider, its token count
(`POST /v1/responses/input_tokens`: a native upstream's, otherwise estimated), and the
stored responses (`GET` and `DELETE /v1/responses/{id}`, `/input_items`, `/cancel`), as
`google.api.HttpBody` RPCs that carry the API's exact JSON and event stream (see
`operations` for what each does)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import grpc
import orjson
from google.api.httpbody_pb2 import HttpBody

from llm_gateway.api.inbound import InboundCall
from llm_gateway.api.responses.dialect import ResponsesDialect
from llm_gateway.api.responses.event_log import EventLog
from llm_gateway.api.responses.operations import ResponsesOperations, Turn
from llm_gateway.api.responses.stream import framed
from llm_gateway.api.rest import exchange, framing
from llm_gateway.api.rest.openai_dialect import OpenAIDialect
from llm_gateway.auth.keys import KeyRing
from llm_gateway.dataplane import CallInfo
from llm_gateway.errors import GatewayError, internal_error
from llm_gateway.model import GenerationRequest
from llm_gateway.v1 import responses_rest_service_pb2, responses_rest_service_pb2_grpc

log = logging.getLogger(__name__)
Context = grpc.aio.ServicerContext[Any, HttpBody]
_ERRORS = OpenAIDialect()
_INVALID_JSON = (
    "We could not parse the JSON body of your request. The OpenAI API expects a JSON payload."
)


def _asks_for_background(data: bytes) -> bool:
    """Whether a create call's body asks for a background response (read before the call
    is authenticated only to choose how it is answered; it is validated after)."""
    if b'"background"' not in data:
        return False
    try:
        body = orjson.loads(data)
    except orjson.JSONDecodeError:
        return False
    return isinstance(body, dict) and body.get("background") is True


class ResponsesRestServicer(responses_rest_service_pb2_grpc.ResponsesRestServiceServicer):
    """Serves `/v1/responses` with whatever upstream serves the model."""

    def __init__(self, operations: ResponsesOperations, keys: KeyRing) -> None:
        self._operations = operations
        self._keys = keys

    async def _turn(self, request: HttpBody, call: CallInfo) -> Turn:
        return await self._operations.turn(exchange.load_json(request, _INVALID_JSON), call)

    async def CreateResponse(self, request: HttpBody, context: Context) -> AsyncIterator[HttpBody]:
        if _asks_for_background(request.data):
            async for body in self._background(request, context):
                yield body
            return
        dialect = ResponsesDialect()
        turn: Turn | None = None

        async def load(call: CallInfo) -> None:
            nonlocal turn
            turn = await self._turn(request, call)
            dialect.draft = turn.draft()

        def parse(metadata: Mapping[str, str]) -> GenerationRequest:
            assert turn is not None
            return turn.generation()

        kept = False
        bodies = exchange.generate(
            context, self._keys, self._operations.dataplane, dialect, parse, load=load
        )
        async for body in bodies:
            final = dialect.final
            if final is not None and not kept and turn is not None:
                kept = True
                await self._operations.keep(turn, final)
            yield body

    async def CreateResponseWhole(self, request: HttpBody, context: Context) -> HttpBody:
        return await exchange.whole(self.CreateResponse(request, context))

    async def _background(self, request: HttpBody, context: Context) -> AsyncIterator[HttpBody]:
        """A background create call: answered with the `queued` response, or, asked for a
        stream, with its events as they come (the run goes on if the caller leaves)."""

        async def start(call: CallInfo) -> tuple[dict[str, Any], EventLog | None, int]:
            queued, events = await self._operations.start_background(
                await self._turn(request, call), call
            )
            return queued, events, -1

        async for body in self._answer_or_follow(context, start):
            yield body

    async def _answer_or_follow(
        self,
        context: Context,
        start: Callable[[CallInfo], Awaitable[tuple[dict[str, Any], EventLog | None, int]]],
    ) -> AsyncIterator[HttpBody]:
        """Serves a call that `start` answers with a JSON object, or with the events of a
        background response to follow (after the sequence number it gives); a failure is
        the caller's error, in OpenAI's shape."""
        inbound = InboundCall(context, "rest")
        try:
            try:
                answer, events, after = await start(await inbound.authenticate(self._keys))
            except GatewayError as error:
                yield await exchange.error_answer(context, _ERRORS, error, inbound.request_id)
                return
            except Exception:
                log.exception("unexpected failure of request %s", inbound.request_id)
                yield await exchange.error_answer(
                    context, _ERRORS, internal_error(), inbound.request_id
                )
                return
            if events is None:
                yield HttpBody(content_type=framing.JSON, data=orjson.dumps(answer))
                return
            # A caller that leaves stops following (the run goes on).
            await context.send_initial_metadata(((framing.STREAM_HEADER, "1"),))
            content_type = framing.EVENT_STREAM
            async for event in events.follow(after):
                yield HttpBody(content_type=content_type, data=framed([event]))
                content_type = ""
        finally:
            inbound.finish()

    async def CompactResponse(self, request: HttpBody, context: Context) -> HttpBody:
        async def compact(call: CallInfo, metadata: Mapping[str, str]) -> exchange.Reply:
            return await self._operations.compact(await self._turn(request, call), call), ()

        return await exchange.respond(context, self._keys, _ERRORS, compact)

    async def CountInputTokens(self, request: HttpBody, context: Context) -> HttpBody:
        async def count(call: CallInfo, metadata: Mapping[str, str]) -> exchange.Reply:
            counted = await self._operations.count(await self._turn(request, call), call)
            answer = {"object": "response.input_tokens", "input_tokens": counted.tokens}
            return counted.data or orjson.dumps(answer), framing.count_headers(counted)

        return await exchange.respond(context, self._keys, _ERRORS, count)

    async def CancelResponse(
        self, request: responses_rest_service_pb2.CancelResponseRequest, context: Context
    ) -> HttpBody:
        async def cancel(call: CallInfo, metadata: Mapping[str, str]) -> exchange.Reply:
            return orjson.dumps(await self._operations.cancel(request.response_id, call)), ()

        return await exchange.respond(context, self._keys, _ERRORS, cancel)

    async def GetResponse(
        self, request: responses_rest_service_pb2.GetResponseRequest, context: Context
    ) -> AsyncIterator[HttpBody]:
        if not request.stream:

            async def found(call: CallInfo, metadata: Mapping[str, str]) -> exchange.Reply:
                response = await self._operations.get(request.response_id, call, request.include)
                return orjson.dumps(response), ()

            yield await exchange.respond(context, self._keys, _ERRORS, found)
            return
        after = request.starting_after if request.HasField("starting_after") else -1

        async def follow(call: CallInfo) -> tuple[dict[str, Any], EventLog | None, int]:
            return {}, await self._operations.events_of(request.response_id, call), after

        async for body in self._answer_or_follow(context, follow):
            yield body

    async def DeleteResponse(
        self, request: responses_rest_service_pb2.DeleteResponseRequest, context: Context
    ) -> HttpBody:
        async def deleted(call: CallInfo, metadata: Mapping[str, str]) -> exchange.Reply:
            return orjson.dumps(await self._operations.delete(request.response_id, call)), ()

        return await exchange.respond(context, self._keys, _ERRORS, deleted)

    async def ListInputItems(
        self, request: responses_rest_service_pb2.ListInputItemsRequest, context: Context
    ) -> HttpBody:
        async def listed(call: CallInfo, metadata: Mapping[str, str]) -> exchange.Reply:
            limit = request.limit if request.HasField("limit") else None
            page = await self._operations.input_items(
                request.response_id, call, request.after, limit, request.order
            )
            return orjson.dumps(page), ()

        return await exchange.respond(context, self._keys, _ERRORS, listed)
