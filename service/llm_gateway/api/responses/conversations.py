"""The Conversations API's operations (conversations and their items) on the gateway's store,
on JSON objects as the API defines them, for the REST surface and the typed gRPC service.

A conversation and its items are visible only to the key that made it. Its items are whole
items with ids, as a response's input items are (`items.input_items`); a response created in
a conversation appends its input and output to it (see `operations`).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable
from typing import Any

import orjson

from llm_gateway.api.responses import items
from llm_gateway.api.responses.owners import owner_of
from llm_gateway.api.responses.response import new_id, shown
from llm_gateway.dataplane import CallInfo
from llm_gateway.errors import GatewayError, invalid_request
from llm_gateway.store.conversations import ConversationStore, StoredConversation

# OpenAI's bounds: items added in one call, and a metadata object's entries and their sizes.
MAX_ITEMS_PER_CALL = 20
_MAX_METADATA = 16
_MAX_KEY, _MAX_VALUE = 64, 512


def conversation_object(conversation: StoredConversation) -> dict[str, Any]:
    """The API's `conversation` object."""
    return {
        "id": conversation.id,
        "object": "conversation",
        "created_at": int(conversation.created_at),
        "metadata": orjson.loads(conversation.metadata),
    }


def not_found(conversation_id: str, param: str | None = None) -> GatewayError:
    """The 404 of a conversation the caller has not (or that does not exist)."""
    message = f"Conversation with id '{conversation_id}' not found."
    return GatewayError(404, message, param=param, code="not_found")


def checked_metadata(metadata: Any, param: str = "metadata") -> dict[str, str]:
    """Metadata as OpenAI bounds it: up to 16 string values, keys up to 64 characters and
    values up to 512; anything else is a 400 naming the entry."""
    if metadata is None:
        return {}
    if not isinstance(metadata, dict) or len(metadata) > _MAX_METADATA:
        raise invalid_request(
            f"'{param}' must be an object of at most {_MAX_METADATA} string values.", param
        )
    for key, value in metadata.items():
        if len(key) > _MAX_KEY or not isinstance(value, str) or len(value) > _MAX_VALUE:
            raise invalid_request(
                f"'{param}.{key}': keys are at most {_MAX_KEY} characters and values strings "
                f"of at most {_MAX_VALUE}.",
                f"{param}.{key}",
            )
    return metadata


def _new_items(given: Any, param: str) -> list[dict[str, Any]]:
    if not isinstance(given, list) or len(given) > MAX_ITEMS_PER_CALL:
        raise invalid_request(
            f"'{param}' must be a list of at most {MAX_ITEMS_PER_CALL} items.", param
        )
    for index, item in enumerate(given):
        if not isinstance(item, dict) or item.get("type") == "item_reference":
            where = f"{param}[{index}]"
            raise invalid_request(f"'{where}' must be a whole item.", where)
    return items.input_items(given, ())


def _as_rows(added: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(str(item.get("id", "")), orjson.dumps(item).decode()) for item in added]


def _item_not_found(item_id: str) -> GatewayError:
    return GatewayError(404, f"Item with id '{item_id}' not found.", code="not_found")


class Conversations:
    """Creates, reads, changes and deletes conversations and their items."""

    def __init__(self, store: ConversationStore) -> None:
        self._store = store

    async def _owned(self, conversation_id: str, call: CallInfo) -> StoredConversation:
        found = await self._store.get_conversation(conversation_id, owner_of(call.caller))
        if found is None:
            raise not_found(conversation_id)
        return found

    async def create(self, body: Any, call: CallInfo) -> dict[str, Any]:
        """A new conversation, from a create call's body (`items`, `metadata`)."""
        if not isinstance(body, dict):
            raise invalid_request("The request body must be a JSON object.")
        conversation = StoredConversation(
            new_id("conv"),
            owner_of(call.caller),
            time.time(),
            orjson.dumps(checked_metadata(body.get("metadata"))).decode(),
        )
        added = _new_items(body.get("items") or [], "items")
        await self._store.put_conversation(conversation)
        if added:
            await self._store.add_conversation_items(conversation.id, _as_rows(added))
        return conversation_object(conversation)

    async def get(self, conversation_id: str, call: CallInfo) -> dict[str, Any]:
        """A conversation of the caller's."""
        return conversation_object(await self._owned(conversation_id, call))

    async def update(self, conversation_id: str, metadata: Any, call: CallInfo) -> dict[str, Any]:
        """Replaces a conversation's metadata."""
        conversation = await self._owned(conversation_id, call)
        changed = dataclasses.replace(
            conversation, metadata=orjson.dumps(checked_metadata(metadata)).decode()
        )
        await self._store.put_conversation(changed)
        return conversation_object(changed)

    async def delete(self, conversation_id: str, call: CallInfo) -> dict[str, Any]:
        """Deletes a conversation of the caller's, with its items."""
        if not await self._store.delete_conversation(conversation_id, owner_of(call.caller)):
            raise not_found(conversation_id)
        return {"id": conversation_id, "object": "conversation.deleted", "deleted": True}

    async def list_items(
        self,
        conversation_id: str,
        call: CallInfo,
        after: str,
        limit: int | None,
        order: str,
        include: Iterable[str],
    ) -> dict[str, Any]:
        """A `list` page of a conversation's items."""
        size, direction = items.page_request(limit, order)
        await self._owned(conversation_id, call)
        kept = await self._store.conversation_items(conversation_id)
        whole = shown([orjson.loads(item) for item in kept], include)
        return items.page(whole, after, size, direction)

    async def add_items(self, conversation_id: str, given: Any, call: CallInfo) -> dict[str, Any]:
        """Appends items to a conversation; a `list` of them with their ids."""
        await self._owned(conversation_id, call)
        added = _new_items(given, "items")
        await self._store.add_conversation_items(conversation_id, _as_rows(added))
        return items.page(added, "", max(1, len(added)), "asc")

    async def get_item(
        self, conversation_id: str, item_id: str, call: CallInfo, include: Iterable[str]
    ) -> dict[str, Any]:
        """One item of a conversation of the caller's."""
        await self._owned(conversation_id, call)
        for kept in await self._store.conversation_items(conversation_id):
            item = orjson.loads(kept)
            if item.get("id") == item_id:
                return shown([item], include)[0]
        raise _item_not_found(item_id)

    async def delete_item(
        self, conversation_id: str, item_id: str, call: CallInfo
    ) -> dict[str, Any]:
        """Deletes one item of a conversation; the conversation."""
        conversation = await self._owned(conversation_id, call)
        if not await self._store.delete_conversation_item(conversation_id, item_id):
            raise _item_not_found(item_id)
        return conversation_object(conversation)
