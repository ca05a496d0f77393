"""Conversations of the Responses API: the rows, and the SQL every store runs for them.

A conversation belongs to the caller that made it (`owner`) and keeps its items in the order
they were added (`seq`), each as JSON text under its id. Unlike stored responses, OpenAI keeps
conversations until they are deleted, and so does the gateway.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

CONVERSATION_COLUMNS = ("id", "owner", "created_at", "metadata")
MIGRATION = """
    CREATE TABLE conversations (
        id TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL,
        metadata TEXT NOT NULL
    );
    CREATE TABLE conversation_items (
        seq {serial} PRIMARY KEY,
        conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
        item_id TEXT NOT NULL,
        item TEXT NOT NULL
    );
    CREATE INDEX conversation_items_in_order ON conversation_items (conversation_id, seq)
    """


@dataclass(frozen=True, slots=True)
class StoredConversation:
    """One conversation: its metadata as JSON text."""

    id: str
    owner: str
    created_at: float
    metadata: str


class ConversationStore(Protocol):
    """Where conversations and their items live."""

    async def put_conversation(self, conversation: StoredConversation) -> None:
        """Stores a conversation, or replaces the metadata of the stored one."""
        ...

    async def get_conversation(self, conversation_id: str, owner: str) -> StoredConversation | None:
        """A conversation of `owner`, unless there is none."""
        ...

    async def delete_conversation(self, conversation_id: str, owner: str) -> bool:
        """Deletes a conversation of `owner` and its items; whether there was one."""
        ...

    async def add_conversation_items(
        self, conversation_id: str, items: Sequence[tuple[str, str]]
    ) -> None:
        """Appends items (id, JSON text) to a conversation, in order."""
        ...

    async def conversation_items(self, conversation_id: str) -> list[str]:
        """A conversation's items as JSON text, oldest first."""
        ...

    async def delete_conversation_item(self, conversation_id: str, item_id: str) -> bool:
        """Deletes one item of a conversation; whether there was one."""
        ...


def upsert(placeholder: Callable[[int], str]) -> str:
    """The INSERT of a conversation, replacing the metadata of one stored under its id."""
    values = ", ".join(placeholder(n) for n in range(1, len(CONVERSATION_COLUMNS) + 1))
    return (
        f"INSERT INTO conversations ({', '.join(CONVERSATION_COLUMNS)}) VALUES ({values}) "
        "ON CONFLICT (id) DO UPDATE SET metadata = excluded.metadata"
    )


def values(conversation: StoredConversation) -> tuple[object, ...]:
    """A row's values in `CONVERSATION_COLUMNS` order."""
    return tuple(getattr(conversation, name) for name in CONVERSATION_COLUMNS)
