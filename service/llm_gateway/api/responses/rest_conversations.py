"""The Conversations API over REST (`/v1/conversations` and its items), as
`google.api.HttpBody` answers of the API's exact JSON (see `conversations`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import grpc
import orjson
from google.api.httpbody_pb2 import HttpBody

from llm_gateway.api.grpc.struct_values import from_struct, from_value
from llm_gateway.api.responses.conversations import Conversations
from llm_gateway.api.rest import exchange
from llm_gateway.api.rest.openai_dialect import OpenAIDialect
from llm_gateway.auth.keys import KeyRing
from llm_gateway.dataplane import CallInfo
from llm_gateway.v1 import responses_rest_service_pb2 as messages
from llm_gateway.v1 import responses_rest_service_pb2_grpc

Context = grpc.aio.ServicerContext[Any, HttpBody]
_ERRORS = OpenAIDialect()
_INVALID_JSON = (
    "We could not parse the JSON body of your request. The OpenAI API expects a JSON payload."
)


class ConversationsRestServicer(responses_rest_service_pb2_grpc.ConversationsRestServiceServicer):
    """Serves `/v1/conversations` from the store."""

    def __init__(self, conversations: Conversations, keys: KeyRing) -> None:
        self._conversations = conversations
        self._keys = keys

    async def _json(
        self, context: Context, produce: Callable[[CallInfo], Awaitable[dict[str, Any]]]
    ) -> HttpBody:
        async def answer(call: CallInfo, metadata: Mapping[str, str]) -> exchange.Reply:
            return orjson.dumps(await produce(call)), ()

        return await exchange.respond(context, self._keys, _ERRORS, answer)

    async def CreateConversation(self, request: HttpBody, context: Context) -> HttpBody:
        return await self._json(
            context,
            lambda call: self._conversations.create(
                exchange.load_json(request, _INVALID_JSON), call
            ),
        )

    async def GetConversation(
        self, request: messages.GetConversationRequest, context: Context
    ) -> HttpBody:
        return await self._json(
            context, lambda call: self._conversations.get(request.conversation_id, call)
        )

    async def UpdateConversation(
        self, request: messages.UpdateConversationRequest, context: Context
    ) -> HttpBody:
        metadata = from_struct(request.metadata)
        return await self._json(
            context,
            lambda call: self._conversations.update(request.conversation_id, metadata, call),
        )

    async def DeleteConversation(
        self, request: messages.GetConversationRequest, context: Context
    ) -> HttpBody:
        return await self._json(
            context, lambda call: self._conversations.delete(request.conversation_id, call)
        )

    async def ListConversationItems(
        self, request: messages.ListConversationItemsRequest, context: Context
    ) -> HttpBody:
        limit = request.limit if request.HasField("limit") else None
        return await self._json(
            context,
            lambda call: self._conversations.list_items(
                request.conversation_id, call, request.after, limit, request.order, request.include
            ),
        )

    async def CreateConversationItems(
        self, request: messages.CreateConversationItemsRequest, context: Context
    ) -> HttpBody:
        given = [from_value(value) for value in request.items.values]
        return await self._json(
            context,
            lambda call: self._conversations.add_items(request.conversation_id, given, call),
        )

    async def GetConversationItem(
        self, request: messages.ConversationItemRequest, context: Context
    ) -> HttpBody:
        return await self._json(
            context,
            lambda call: self._conversations.get_item(
                request.conversation_id, request.item_id, call, request.include
            ),
        )

    async def DeleteConversationItem(
        self, request: messages.ConversationItemRequest, context: Context
    ) -> HttpBody:
        return await self._json(
            context,
            lambda call: self._conversations.delete_item(
                request.conversation_id, request.item_id, call
            ),
        )
