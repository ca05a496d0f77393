"""A store of responses opened by the first call that needs it.

The Responses API's state needs a database even where the configuration names none (an
SQLite one in memory then). Opened at start-up, it would cost every gateway SQLite's import
and a worker thread, used or not: it is opened, and migrated, when a caller first stores or
reads a response.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from llm_gateway.store.base import Store
from llm_gateway.store.conversations import StoredConversation
from llm_gateway.store.responses import StoredResponse


class ResponsesOnFirstUse:
    """The Responses API's state (`ResponsesState`) on the database `url`, opened on first use."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._store: Store | None = None
        self._opening: asyncio.Lock | None = None

    async def _opened(self) -> Store:
        if self._store is not None:
            return self._store
        if self._opening is None:
            self._opening = asyncio.Lock()
        async with self._opening:
            if self._store is None:
                from llm_gateway.store import open_store

                store = open_store(self._url)
                await store.migrate()
                self._store = store
        return self._store

    async def put_response(self, stored: StoredResponse) -> None:
        await (await self._opened()).put_response(stored)

    async def get_response(self, response_id: str, owner: str, now: float) -> StoredResponse | None:
        return await (await self._opened()).get_response(response_id, owner, now)

    async def find_response(self, response_id: str, now: float) -> StoredResponse | None:
        return await (await self._opened()).find_response(response_id, now)

    async def response_chain(
        self, response_id: str, owner: str, now: float
    ) -> list[StoredResponse]:
        return await (await self._opened()).response_chain(response_id, owner, now)

    async def delete_response(self, response_id: str, owner: str) -> bool:
        return await (await self._opened()).delete_response(response_id, owner)

    async def purge_responses(self, now: float) -> int:
        return await (await self._opened()).purge_responses(now)

    async def put_conversation(self, conversation: StoredConversation) -> None:
        await (await self._opened()).put_conversation(conversation)

    async def get_conversation(self, conversation_id: str, owner: str) -> StoredConversation | None:
        return await (await self._opened()).get_conversation(conversation_id, owner)

    async def delete_conversation(self, conversation_id: str, owner: str) -> bool:
        return await (await self._opened()).delete_conversation(conversation_id, owner)

    async def add_conversation_items(
        self, conversation_id: str, items: Sequence[tuple[str, str]]
    ) -> None:
        await (await self._opened()).add_conversation_items(conversation_id, items)

    async def conversation_items(self, conversation_id: str) -> list[str]:
        return await (await self._opened()).conversation_items(conversation_id)

    async def delete_conversation_item(self, conversation_id: str, item_id: str) -> bool:
        return await (await self._opened()).delete_conversation_item(conversation_id, item_id)

    async def close(self) -> None:
        """Closes the database, if it was opened."""
        if self._store is not None:
            await self._store.close()
            self._store = None
