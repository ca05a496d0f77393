"""The typed Responses API (`llm_gateway.v1.ResponsesService`): converts messages, then runs
the same operations as the REST surface, on the same store.

Failures end the call with the status code and details of `LlmGatewayService`; a stream that
fails after it started first sends the API's `error` and `response.failed` events (the
response is stored failed), then ends with the failure's status.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import grpc

from llm_gateway.api.grpc.status import abort
from llm_gateway.api.inbound import InboundCall
from llm_gateway.api.responses import typed
from llm_gateway.api.responses.conversations import Conversations
from llm_gateway.api.responses.events import ResponseEvents, final_of
from llm_gateway.api.responses.operations import ResponsesOperations, Turn
from llm_gateway.api.responses.response import shown_response
from llm_gateway.auth.keys import KeyRing
from llm_gateway.dataplane import CallInfo
from llm_gateway.errors import GatewayError, internal_error
from llm_gateway.v1 import responses_pb2 as pb
from llm_gateway.v1 import responses_service_pb2_grpc

log = logging.getLogger(__name__)
Context = grpc.aio.ServicerContext[Any, Any]


class ResponsesServicer(responses_service_pb2_grpc.ResponsesServiceServicer):
    """Serves `llm_gateway.v1.ResponsesService`."""

    def __init__(
        self, operations: ResponsesOperations, conversations: Conversations, keys: KeyRing
    ) -> None:
        self._operations = operations
        self._conversations = conversations
        self._keys = keys

    @asynccontextmanager
    async def _call(self, context: Context) -> AsyncIterator[CallInfo]:
        """Authenticates the call, and ends it with the status of anything that fails."""
        inbound = InboundCall(context, "grpc")
        context.set_trailing_metadata((("x-request-id", inbound.request_id),))
        try:
            yield await inbound.authenticate(self._keys)
        except GatewayError as error:
            await abort(context, error, inbound.request_id)
        except Exception:
            log.exception("unexpected failure of request %s", inbound.request_id)
            await abort(context, internal_error(), inbound.request_id)
        finally:
            inbound.finish()

    async def _turn(self, request: pb.CreateResponseRequest, call: CallInfo, stream: bool) -> Turn:
        return await self._operations.turn(typed.request_body(request, stream), call)

    async def CreateResponse(
        self, request: pb.CreateResponseRequest, context: Context
    ) -> pb.Response:
        async with self._call(context) as call:
            turn = await self._turn(request, call, stream=False)
            if turn.wire.get("background"):
                queued, _ = await self._operations.start_background(turn, call)
                return typed.response(queued)
            draft = turn.draft()
            answer = await self._operations.dataplane.serve(turn.generation(), call).answer()
            final = final_of(draft, answer)
            await self._operations.keep(turn, final)
            return typed.response(shown_response(final, draft.include))
        raise AssertionError("unreachable: _call re-raises every failure")

    async def StreamResponse(
        self, request: pb.CreateResponseRequest, context: Context
    ) -> AsyncIterator[pb.ResponseStreamEvent]:
        async with self._call(context) as call:
            turn = await self._turn(request, call, stream=True)
            if turn.wire.get("background"):
                _, events = await self._operations.start_background(turn, call)
                assert events is not None, "a streamed background response keeps its events"
                async for event in events.follow():
                    yield typed.event(event)
                return
            made = ResponseEvents(turn.draft())
            chunks = self._operations.dataplane.serve(turn.generation(), call).stream()
            try:
                async for chunk in chunks:
                    produced = made.of(chunk)
                    if made.final is not None:  # stored before its last event is sent
                        await self._operations.keep(turn, made.final)
                    for event in produced:
                        yield typed.event(event)
            except GatewayError as error:
                failure = made.failure(error)
                if made.final is not None:
                    await self._operations.keep(turn, made.final)
                for event in failure:
                    yield typed.event(event)
                raise
            finally:
                await chunks.aclose()
            ending = made.ending()
            if ending and made.final is not None:
                await self._operations.keep(turn, made.final)
            for event in ending:
                yield typed.event(event)

    async def GetResponse(self, request: pb.ResponseRequest, context: Context) -> pb.Response:
        async with self._call(context) as call:
            found = await self._operations.get(request.response_id, call, request.include)
            return typed.response(found)
        raise AssertionError("unreachable: _call re-raises every failure")

    async def DeleteResponse(
        self, request: pb.ResponseRequest, context: Context
    ) -> pb.DeleteResponseResponse:
        async with self._call(context) as call:
            await self._operations.delete(request.response_id, call)
            return pb.DeleteResponseResponse(id=request.response_id, deleted=True)
        raise AssertionError("unreachable: _call re-raises every failure")

    async def CancelResponse(self, request: pb.ResponseRequest, context: Context) -> pb.Response:
        async with self._call(context) as call:
            return typed.response(await self._operations.cancel(request.response_id, call))
        raise AssertionError("unreachable: _call re-raises every failure")

    async def ListInputItems(self, request: pb.ListItemsRequest, context: Context) -> pb.ItemPage:
        async with self._call(context) as call:
            limit = request.limit if request.HasField("limit") else None
            page = await self._operations.input_items(
                request.id, call, request.after, limit, request.order
            )
            return typed.page(page)
        raise AssertionError("unreachable: _call re-raises every failure")

    async def CreateConversation(
        self, request: pb.CreateConversationRequest, context: Context
    ) -> pb.Conversation:
        async with self._call(context) as call:
            body = {
                "items": [typed.item_dict(item) for item in request.items],
                "metadata": dict(request.metadata),
            }
            return typed.conversation(await self._conversations.create(body, call))
        raise AssertionError("unreachable: _call re-raises every failure")

    async def GetConversation(
        self, request: pb.ConversationRequest, context: Context
    ) -> pb.Conversation:
        async with self._call(context) as call:
            found = await self._conversations.get(request.conversation_id, call)
            return typed.conversation(found)
        raise AssertionError("unreachable: _call re-raises every failure")

    async def UpdateConversation(
        self, request: pb.UpdateConversationMetadataRequest, context: Context
    ) -> pb.Conversation:
        async with self._call(context) as call:
            metadata = dict(request.metadata)
            changed = await self._conversations.update(request.conversation_id, metadata, call)
            return typed.conversation(changed)
        raise AssertionError("unreachable: _call re-raises every failure")

    async def DeleteConversation(
        self, request: pb.ConversationRequest, context: Context
    ) -> pb.DeleteConversationResponse:
        async with self._call(context) as call:
            await self._conversations.delete(request.conversation_id, call)
            return pb.DeleteConversationResponse(id=request.conversation_id, deleted=True)
        raise AssertionError("unreachable: _call re-raises every failure")

    async def ListConversationItems(
        self, request: pb.ListItemsRequest, context: Context
    ) -> pb.ItemPage:
        async with self._call(context) as call:
            limit = request.limit if request.HasField("limit") else None
            page = await self._conversations.list_items(
                request.id, call, request.after, limit, request.order, request.include
            )
            return typed.page(page)
        raise AssertionError("unreachable: _call re-raises every failure")

    async def AddConversationItems(
        self, request: pb.AddConversationItemsRequest, context: Context
    ) -> pb.ItemPage:
        async with self._call(context) as call:
            given = [typed.item_dict(item) for item in request.items]
            added = await self._conversations.add_items(request.conversation_id, given, call)
            return typed.page(added)
        raise AssertionError("unreachable: _call re-raises every failure")

    async def GetConversationItem(
        self, request: pb.ConversationItemRef, context: Context
    ) -> pb.Item:
        async with self._call(context) as call:
            found = await self._conversations.get_item(
                request.conversation_id, request.item_id, call, request.include
            )
            return typed.item(found)
        raise AssertionError("unreachable: _call re-raises every failure")

    async def DeleteConversationItem(
        self, request: pb.ConversationItemRef, context: Context
    ) -> pb.Conversation:
        async with self._call(context) as call:
            left = await self._conversations.delete_item(
                request.conversation_id, request.item_id, call
            )
            return typed.conversation(left)
        raise AssertionError("unreachable: _call re-raises every failure")
