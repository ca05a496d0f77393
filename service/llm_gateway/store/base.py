"""What the gateway needs from its database: virtual keys, usage records, and the Responses
API's stored responses and conversations."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from llm_gateway.auth.virtual_keys import VirtualKey
from llm_gateway.store.conversations import ConversationStore
from llm_gateway.store.responses import ResponseStore
from llm_gateway.usage.records import UsageRecord, UsageRow


class KeyNotFound(LookupError):
    """No virtual key has the id given."""


class ResponsesState(ResponseStore, ConversationStore, Protocol):
    """Where the Responses API keeps its state: stored responses and conversations."""


class Store(ResponsesState, Protocol):
    """A database of virtual keys, usage records, stored responses and conversations."""

    async def migrate(self) -> None:
        """Brings the schema up to date (idempotent)."""
        ...

    async def add_key(self, key: VirtualKey, digest: str) -> None:
        """Stores a new virtual key under the digest of its secret."""
        ...

    async def find_key(self, digest: str) -> VirtualKey | None:
        """The key with that digest, revoked or not; None if there is none."""
        ...

    async def get_key(self, key_id: str) -> VirtualKey:
        """The key with that id; raises `KeyNotFound`."""
        ...

    async def list_keys(self) -> list[VirtualKey]:
        """Every key, newest first."""
        ...

    async def update_key(self, key_id: str, changes: dict[str, Any]) -> VirtualKey:
        """Changes settings of a key; raises `KeyNotFound`."""
        ...

    async def add_usage(self, records: Sequence[UsageRecord]) -> None:
        """Writes usage records, all or none."""
        ...

    async def usage(self, since: float, key_name: str | None = None) -> list[UsageRow]:
        """Usage per key, model and day since `since` (seconds since the epoch)."""
        ...

    async def spent(self, key_id: str, since: float) -> tuple[int, float]:
        """Tokens and cost recorded for a virtual key since `since`."""
        ...

    async def watch_keys(self, changed: Callable[[], None]) -> None:
        """Calls `changed` whenever any process changes a key, where the database can tell
        (PostgreSQL can; SQLite cannot, and caches then expire on their own)."""
        ...

    async def close(self) -> None:
        """Releases the connection."""
        ...
