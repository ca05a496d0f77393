"""Stored responses of the Responses API: the rows, and the SQL every store runs for them.

A row keeps the `response` object as the gateway made it (every output item whole, the
reasoning's signature included) and the items it was given, both as JSON text, under the
caller that made it (`owner`): every read names the owner, so one key never sees another's
responses. `previous_id` links a response to the one it continued; a conversation is read
back in one statement that follows those links. Rows past `expires_at` are never read, and
`purge` deletes them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

# The longest chain of `previous_response_id` links read back (OpenAI sets no limit; an agent
# loop of this many turns has outgrown any model's context long before).
MAX_CHAIN = 10_000
COLUMNS = ("id", "owner", "previous_id", "created_at", "expires_at", "response", "input_items")
MIGRATION = """
    CREATE TABLE stored_responses (
        id TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        previous_id TEXT,
        created_at DOUBLE PRECISION NOT NULL,
        expires_at DOUBLE PRECISION NOT NULL,
        response TEXT NOT NULL,
        input_items TEXT NOT NULL
    );
    CREATE INDEX stored_responses_by_expiry ON stored_responses (expires_at)
    """


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """One stored response: the object and its input items as JSON text."""

    id: str
    owner: str
    previous_id: str | None
    created_at: float
    expires_at: float
    response: str
    input_items: str


class ResponseStore(Protocol):
    """Where stored responses live."""

    async def put_response(self, stored: StoredResponse) -> None:
        """Stores a response, or replaces the stored one of the same id."""
        ...

    async def get_response(self, response_id: str, owner: str, now: float) -> StoredResponse | None:
        """A response of `owner`, unless there is none or it expired."""
        ...

    async def find_response(self, response_id: str, now: float) -> StoredResponse | None:
        """A response whoever made it (for the admin API), unless none or it expired."""
        ...

    async def response_chain(
        self, response_id: str, owner: str, now: float
    ) -> list[StoredResponse]:
        """The response and those it continued, oldest first; empty if `owner` has no such
        response (or it expired)."""
        ...

    async def delete_response(self, response_id: str, owner: str) -> bool:
        """Deletes a response of `owner`; whether there was one."""
        ...

    async def purge_responses(self, now: float) -> int:
        """Deletes the responses that expired; how many."""
        ...


def upsert(placeholder: Callable[[int], str]) -> str:
    """The INSERT of a row, replacing the object of a response stored before under its id."""
    values = ", ".join(placeholder(n) for n in range(1, len(COLUMNS) + 1))
    return (
        f"INSERT INTO stored_responses ({', '.join(COLUMNS)}) VALUES ({values}) "
        "ON CONFLICT (id) DO UPDATE SET response = excluded.response, "
        "expires_at = excluded.expires_at"
    )


def chain(placeholder: Callable[[int], str]) -> str:
    """The response `$1` of owner `$2` unexpired at `$3`, and its ancestors, oldest first."""
    one, owner, now = (placeholder(n) for n in (1, 2, 3))
    kept = ", ".join(COLUMNS)
    joined = ", ".join(f"r.{name}" for name in COLUMNS)
    return (
        f"WITH RECURSIVE chain ({kept}, depth) AS ("
        f"SELECT {kept}, 0 FROM stored_responses "
        f"WHERE id = {one} AND owner = {owner} AND expires_at > {now} "
        f"UNION ALL SELECT {joined}, chain.depth + 1 FROM stored_responses r "
        f"JOIN chain ON r.id = chain.previous_id "
        f"WHERE r.owner = {owner} AND r.expires_at > {now} AND chain.depth < {MAX_CHAIN}"
        f") SELECT {kept} FROM chain ORDER BY depth DESC"
    )


def select_one(placeholder: Callable[[int], str]) -> str:
    """The response `$1` of owner `$2`, unexpired at `$3`."""
    one, owner, now = (placeholder(n) for n in (1, 2, 3))
    return (
        f"SELECT {', '.join(COLUMNS)} FROM stored_responses "
        f"WHERE id = {one} AND owner = {owner} AND expires_at > {now}"
    )


def select_any(placeholder: Callable[[int], str]) -> str:
    """The response `$1`, whoever made it, unexpired at `$2`."""
    one, now = placeholder(1), placeholder(2)
    return (
        f"SELECT {', '.join(COLUMNS)} FROM stored_responses WHERE id = {one} AND expires_at > {now}"
    )


def values(stored: StoredResponse) -> tuple[object, ...]:
    """A row's values in `COLUMNS` order."""
    return tuple(getattr(stored, name) for name in COLUMNS)
