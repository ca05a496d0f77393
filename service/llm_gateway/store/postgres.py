"""The store for many replicas: PostgreSQL over an asyncpg pool.

Migrations run at start under an advisory lock, so replicas starting together apply each one
once. The schema mirrors the SQLite one. Every change to a key sends a notification, so each
replica drops its cached keys at once instead of waiting for them to expire.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Any

import asyncpg

from llm_gateway.auth.virtual_keys import VirtualKey
from llm_gateway.store import conversations, responses
from llm_gateway.store.base import KeyNotFound
from llm_gateway.store.columns import (
    KEY_SELECT,
    UPDATABLE,
    column_value,
    insert_key,
    insert_usage,
    key_from_row,
    key_values,
)
from llm_gateway.usage.records import UsageRecord, UsageRow, usage_values

log = logging.getLogger(__name__)
_KEYS_CHANNEL = "llm_gateway_keys"  # NOTIFY channel: some key changed
_LISTEN_BACKOFF = (0.5, 30.0)  # seconds: first and longest wait between reconnection attempts
_MIGRATION_LOCK = 0x6C6C6D67  # "llmg": the advisory lock id that serialises migrations
MIGRATIONS = (
    """
    CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        digest TEXT NOT NULL UNIQUE,
        prefix TEXT NOT NULL,
        name TEXT NOT NULL,
        owner TEXT,
        models JSONB NOT NULL,
        rpm INTEGER,
        tpm INTEGER,
        budget_tokens BIGINT,
        budget_cost DOUBLE PRECISION,
        budget_period TEXT NOT NULL,
        expires_at DOUBLE PRECISION,
        enabled BOOLEAN NOT NULL,
        metadata JSONB NOT NULL,
        created_at DOUBLE PRECISION NOT NULL,
        revoked_at DOUBLE PRECISION
    );
    CREATE TABLE usage_records (
        id BIGSERIAL PRIMARY KEY,
        request_id TEXT NOT NULL,
        key_name TEXT NOT NULL,
        key_id TEXT,
        model TEXT NOT NULL,
        deployment TEXT,
        prompt_tokens BIGINT NOT NULL,
        completion_tokens BIGINT NOT NULL,
        cached_tokens BIGINT NOT NULL,
        cost DOUBLE PRECISION,
        latency_ms DOUBLE PRECISION NOT NULL,
        ttft_ms DOUBLE PRECISION,
        status INTEGER NOT NULL,
        cancelled BOOLEAN NOT NULL,
        estimated BOOLEAN NOT NULL,
        transport TEXT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX usage_records_by_time ON usage_records (created_at, key_name);
    CREATE INDEX usage_records_by_key ON usage_records (key_id, created_at);
    """,
    responses.MIGRATION,
    conversations.MIGRATION.format(serial="BIGSERIAL"),
)
_INSERT_USAGE = insert_usage(lambda n: f"${n}")
_UPSERT_RESPONSE = responses.upsert(lambda n: f"${n}")
_RESPONSE_CHAIN = responses.chain(lambda n: f"${n}")
_GET_RESPONSE = responses.select_one(lambda n: f"${n}")
_FIND_RESPONSE = responses.select_any(lambda n: f"${n}")
_UPSERT_CONVERSATION = conversations.upsert(lambda n: f"${n}")
# A new key, announced to every replica's listener in the same statement.
_INSERT_KEY = (
    f"WITH added AS ({insert_key(lambda n: f'${n}')} RETURNING id) "
    f"SELECT pg_notify('{_KEYS_CHANNEL}', id) FROM added"
)


class PostgresStore:
    """Virtual keys and usage records in PostgreSQL."""

    def __init__(self, url: str, listen_backoff: tuple[float, float] = _LISTEN_BACKOFF) -> None:
        self._url = url
        self._pool: Any = None
        self._listener: Any = None
        self._listening: asyncio.Task[None] | None = None
        self._listen_backoff = listen_backoff

    async def _connection_pool(self) -> Any:
        if self._pool is None:
            self._pool = await asyncpg.create_pool(self._url, min_size=1, max_size=10)
        return self._pool

    async def migrate(self) -> None:
        pool = await self._connection_pool()
        async with pool.acquire() as db, db.transaction():
            await db.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
            await db.execute(
                "CREATE TABLE IF NOT EXISTS llm_gateway_schema (version INTEGER NOT NULL)"
            )
            version = await db.fetchval("SELECT max(version) FROM llm_gateway_schema") or 0
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                await db.execute(script)
                await db.execute("INSERT INTO llm_gateway_schema (version) VALUES ($1)", number)

    async def add_key(self, key: VirtualKey, digest: str) -> None:
        pool = await self._connection_pool()
        await pool.execute(_INSERT_KEY, *key_values(key, digest))

    async def find_key(self, digest: str) -> VirtualKey | None:
        pool = await self._connection_pool()
        row = await pool.fetchrow(f"SELECT {KEY_SELECT} FROM api_keys WHERE digest = $1", digest)
        return key_from_row(row) if row is not None else None

    async def get_key(self, key_id: str) -> VirtualKey:
        pool = await self._connection_pool()
        row = await pool.fetchrow(f"SELECT {KEY_SELECT} FROM api_keys WHERE id = $1", key_id)
        if row is None:
            raise KeyNotFound(key_id)
        return key_from_row(row)

    async def list_keys(self) -> list[VirtualKey]:
        pool = await self._connection_pool()
        rows = await pool.fetch(f"SELECT {KEY_SELECT} FROM api_keys ORDER BY created_at DESC")
        return [key_from_row(row) for row in rows]

    async def update_key(self, key_id: str, changes: dict[str, Any]) -> VirtualKey:
        unknown = set(changes) - UPDATABLE
        if unknown:
            raise ValueError(f"cannot change {sorted(unknown)}")
        if changes:
            names = list(changes)
            assignments = ", ".join(f"{name} = ${i}" for i, name in enumerate(names, start=2))
            pool = await self._connection_pool()
            changed = await pool.fetchval(
                f"WITH changed AS (UPDATE api_keys SET {assignments} WHERE id = $1 RETURNING id) "
                f"SELECT count(pg_notify('{_KEYS_CHANNEL}', id)) FROM changed",
                key_id,
                *(column_value(name, changes[name]) for name in names),
            )
            if changed == 0:
                raise KeyNotFound(key_id)
        return await self.get_key(key_id)

    async def add_usage(self, records: Sequence[UsageRecord]) -> None:
        pool = await self._connection_pool()
        async with pool.acquire() as db, db.transaction():
            await db.executemany(_INSERT_USAGE, [usage_values(record) for record in records])

    async def usage(self, since: float, key_name: str | None = None) -> list[UsageRow]:
        pool = await self._connection_pool()
        rows = await pool.fetch(
            "SELECT to_char(to_timestamp(created_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, "
            "key_name, model, COUNT(*), SUM(prompt_tokens), SUM(completion_tokens), "
            "COALESCE(SUM(cost), 0), COUNT(*) FILTER (WHERE status >= 400 AND NOT cancelled), "
            "COUNT(*) FILTER (WHERE cancelled), COUNT(*) FILTER (WHERE estimated) "
            "FROM usage_records WHERE created_at >= $1 AND ($2::text IS NULL OR key_name = $2) "
            "GROUP BY day, key_name, model ORDER BY day, key_name, model",
            since,
            key_name,
        )
        return [
            UsageRow(
                r[0], r[1], r[2], int(r[3]), int(r[4]), int(r[5]), float(r[6]), *map(int, r[7:])
            )
            for r in rows
        ]

    async def spent(self, key_id: str, since: float) -> tuple[int, float]:
        pool = await self._connection_pool()
        row = await pool.fetchrow(
            "SELECT COALESCE(SUM(prompt_tokens + completion_tokens), 0), COALESCE(SUM(cost), 0) "
            "FROM usage_records WHERE key_id = $1 AND created_at >= $2",
            key_id,
            since,
        )
        return int(row[0]), float(row[1])

    async def put_response(self, stored: responses.StoredResponse) -> None:
        pool = await self._connection_pool()
        await pool.execute(_UPSERT_RESPONSE, *responses.values(stored))

    async def get_response(
        self, response_id: str, owner: str, now: float
    ) -> responses.StoredResponse | None:
        pool = await self._connection_pool()
        row = await pool.fetchrow(_GET_RESPONSE, response_id, owner, now)
        return responses.StoredResponse(*row) if row is not None else None

    async def find_response(self, response_id: str, now: float) -> responses.StoredResponse | None:
        pool = await self._connection_pool()
        row = await pool.fetchrow(_FIND_RESPONSE, response_id, now)
        return responses.StoredResponse(*row) if row is not None else None

    async def response_chain(
        self, response_id: str, owner: str, now: float
    ) -> list[responses.StoredResponse]:
        pool = await self._connection_pool()
        rows = await pool.fetch(_RESPONSE_CHAIN, response_id, owner, now)
        return [responses.StoredResponse(*row) for row in rows]

    async def delete_response(self, response_id: str, owner: str) -> bool:
        pool = await self._connection_pool()
        deleted = await pool.execute(
            "DELETE FROM stored_responses WHERE id = $1 AND owner = $2", response_id, owner
        )
        return bool(deleted != "DELETE 0")

    async def purge_responses(self, now: float) -> int:
        pool = await self._connection_pool()
        deleted = await pool.execute("DELETE FROM stored_responses WHERE expires_at <= $1", now)
        return int(deleted.split()[-1])

    async def put_conversation(self, conversation: conversations.StoredConversation) -> None:
        pool = await self._connection_pool()
        await pool.execute(_UPSERT_CONVERSATION, *conversations.values(conversation))

    async def get_conversation(
        self, conversation_id: str, owner: str
    ) -> conversations.StoredConversation | None:
        pool = await self._connection_pool()
        row = await pool.fetchrow(
            "SELECT id, owner, created_at, metadata FROM conversations "
            "WHERE id = $1 AND owner = $2",
            conversation_id,
            owner,
        )
        return conversations.StoredConversation(*row) if row is not None else None

    async def delete_conversation(self, conversation_id: str, owner: str) -> bool:
        pool = await self._connection_pool()
        # Its items go with it (ON DELETE CASCADE).
        deleted = await pool.execute(
            "DELETE FROM conversations WHERE id = $1 AND owner = $2", conversation_id, owner
        )
        return bool(deleted != "DELETE 0")

    async def add_conversation_items(
        self, conversation_id: str, items: Sequence[tuple[str, str]]
    ) -> None:
        pool = await self._connection_pool()
        async with pool.acquire() as db, db.transaction():
            await db.executemany(
                "INSERT INTO conversation_items (conversation_id, item_id, item) "
                "VALUES ($1, $2, $3)",
                [(conversation_id, item_id, item) for item_id, item in items],
            )

    async def conversation_items(self, conversation_id: str) -> list[str]:
        pool = await self._connection_pool()
        rows = await pool.fetch(
            "SELECT item FROM conversation_items WHERE conversation_id = $1 ORDER BY seq",
            conversation_id,
        )
        return [row[0] for row in rows]

    async def delete_conversation_item(self, conversation_id: str, item_id: str) -> bool:
        pool = await self._connection_pool()
        deleted = await pool.execute(
            "DELETE FROM conversation_items WHERE conversation_id = $1 AND item_id = $2",
            conversation_id,
            item_id,
        )
        return bool(deleted != "DELETE 0")

    async def watch_keys(self, changed: Callable[[], None]) -> None:
        """Listens on a connection of its own for the notifications every key change sends;
        when that connection is lost it is made again (with backoff), and `changed` is called
        once it is back, since changes made meanwhile were not heard."""
        lost = asyncio.Event()
        await self._listen(changed, lost)
        self._listening = asyncio.create_task(self._keep_listening(changed, lost))

    async def _listen(self, changed: Callable[[], None], lost: asyncio.Event) -> None:
        lost.clear()
        self._listener = await asyncpg.connect(self._url)
        self._listener.add_termination_listener(lambda _: lost.set())
        await self._listener.add_listener(_KEYS_CHANNEL, lambda *_: changed())

    async def _keep_listening(self, changed: Callable[[], None], lost: asyncio.Event) -> None:
        first, longest = self._listen_backoff
        while True:
            await lost.wait()
            log.warning("lost the key-change listener's database connection; reconnecting")
            wait = first
            while True:
                await asyncio.sleep(wait)
                try:
                    await self._listen(changed, lost)
                    break
                except Exception as exc:  # refused, reset, timed out: all mean "later"
                    log.warning(
                        "key-change listener: cannot reconnect (%s); next try in %.1fs",
                        type(exc).__name__,
                        min(wait * 2, longest),
                    )
                    wait = min(wait * 2, longest)
            log.warning("key-change listener reconnected; cached keys dropped")
            changed()

    async def close(self) -> None:
        if self._listening is not None:
            self._listening.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listening
            self._listening = None
        if self._listener is not None:
            await self._listener.close()
            self._listener = None
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
