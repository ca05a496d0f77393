"""The embedded store: one SQLite file in WAL mode (readers never wait for the writer, and the
CLI can manage keys while the gateway runs).

sqlite3 blocks, so every statement runs on one worker thread that owns the connection; the
event loop never waits on the disk.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

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

T = TypeVar("T")

# Each entry upgrades the schema by one version; applied in order, each in one transaction.
MIGRATIONS = (
    """
    CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        digest TEXT NOT NULL UNIQUE,
        prefix TEXT NOT NULL,
        name TEXT NOT NULL,
        owner TEXT,
        models TEXT NOT NULL,
        rpm INTEGER,
        tpm INTEGER,
        budget_tokens INTEGER,
        budget_cost REAL,
        budget_period TEXT NOT NULL,
        expires_at REAL,
        enabled INTEGER NOT NULL,
        metadata TEXT NOT NULL,
        created_at REAL NOT NULL,
        revoked_at REAL
    );
    CREATE TABLE usage_records (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        request_id TEXT NOT NULL,
        key_name TEXT NOT NULL,
        key_id TEXT,
        model TEXT NOT NULL,
        deployment TEXT,
        prompt_tokens INTEGER NOT NULL,
        completion_tokens INTEGER NOT NULL,
        cached_tokens INTEGER NOT NULL,
        cost REAL,
        latency_ms REAL NOT NULL,
        ttft_ms REAL,
        status INTEGER NOT NULL,
        cancelled INTEGER NOT NULL,
        estimated INTEGER NOT NULL,
        transport TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE INDEX usage_records_by_time ON usage_records (created_at, key_name);
    """,
    responses.MIGRATION,
    conversations.MIGRATION.format(serial="INTEGER"),
)
_INSERT_KEY = insert_key(lambda n: "?")
_INSERT_USAGE = insert_usage(lambda n: "?")
_UPSERT_RESPONSE = responses.upsert(lambda n: "?")
# SQLite numbers its parameters `?N`: the chain's owner and time are used twice.
_RESPONSE_CHAIN = responses.chain(lambda n: f"?{n}")
_GET_RESPONSE = responses.select_one(lambda n: "?")
_FIND_RESPONSE = responses.select_any(lambda n: "?")
_UPSERT_CONVERSATION = conversations.upsert(lambda n: "?")


def database_path(url: str) -> Path:
    """The file of a `sqlite:///path` URL."""
    return Path(url.removeprefix("sqlite:///"))


def _write_ahead_logging(connection: sqlite3.Connection, wait_seconds: float = 5.0) -> None:
    """Puts the file in WAL mode. While other processes open a new file, SQLite may refuse the
    switch with "database is locked" at once, without its busy handler: it is retried."""
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


class SqliteStore:
    """Virtual keys and usage records in one SQLite file."""

    def __init__(self, url: str) -> None:
        self._path = database_path(url)
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        self._connection: sqlite3.Connection | None = None

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._worker, self._on_worker, work)

    def _on_worker(self, work: Callable[[sqlite3.Connection], T]) -> T:
        if self._connection is None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            connection.row_factory = sqlite3.Row
            connection.execute("PRAGMA busy_timeout=5000")
            _write_ahead_logging(connection)
            connection.execute("PRAGMA synchronous=NORMAL")
            self._connection = connection
        return work(self._connection)

    async def migrate(self) -> None:
        def work(db: sqlite3.Connection) -> None:
            # The version is read inside the write transaction: a CLI and a gateway starting
            # together apply each migration once.
            db.execute("BEGIN IMMEDIATE")
            try:
                version = db.execute("PRAGMA user_version").fetchone()[0]
                for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                    for statement in filter(str.strip, script.split(";")):
                        db.execute(statement)
                    db.execute(f"PRAGMA user_version={number}")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

        await self._run(work)

    async def add_key(self, key: VirtualKey, digest: str) -> None:
        values = key_values(key, digest)
        await self._run(lambda db: db.execute(_INSERT_KEY, values))

    async def find_key(self, digest: str) -> VirtualKey | None:
        def work(db: sqlite3.Connection) -> VirtualKey | None:
            row = db.execute(
                f"SELECT {KEY_SELECT} FROM api_keys WHERE digest = ?", (digest,)
            ).fetchone()
            return key_from_row(row) if row is not None else None

        return await self._run(work)

    async def get_key(self, key_id: str) -> VirtualKey:
        def work(db: sqlite3.Connection) -> VirtualKey:
            row = db.execute(
                f"SELECT {KEY_SELECT} FROM api_keys WHERE id = ?", (key_id,)
            ).fetchone()
            if row is None:
                raise KeyNotFound(key_id)
            return key_from_row(row)

        return await self._run(work)

    async def list_keys(self) -> list[VirtualKey]:
        def work(db: sqlite3.Connection) -> list[VirtualKey]:
            rows = db.execute(f"SELECT {KEY_SELECT} FROM api_keys ORDER BY created_at DESC")
            return [key_from_row(row) for row in rows]

        return await self._run(work)

    async def update_key(self, key_id: str, changes: dict[str, Any]) -> VirtualKey:
        unknown = set(changes) - UPDATABLE
        if unknown:
            raise ValueError(f"cannot change {sorted(unknown)}")

        def work(db: sqlite3.Connection) -> None:
            if not changes:
                return
            assignments = ", ".join(f"{name} = ?" for name in changes)
            values = [column_value(name, value) for name, value in changes.items()]
            cursor = db.execute(
                f"UPDATE api_keys SET {assignments} WHERE id = ?", (*values, key_id)
            )
            if cursor.rowcount == 0:
                raise KeyNotFound(key_id)

        await self._run(work)
        return await self.get_key(key_id)

    async def add_usage(self, records: Sequence[UsageRecord]) -> None:
        rows = [usage_values(record) for record in records]

        def work(db: sqlite3.Connection) -> None:
            db.execute("BEGIN")
            try:
                db.executemany(_INSERT_USAGE, rows)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

        await self._run(work)

    async def usage(self, since: float, key_name: str | None = None) -> list[UsageRow]:
        def work(db: sqlite3.Connection) -> list[UsageRow]:
            rows = db.execute(
                "SELECT date(created_at, 'unixepoch') AS day, key_name, model, COUNT(*), "
                "SUM(prompt_tokens), SUM(completion_tokens), COALESCE(SUM(cost), 0), "
                "SUM(status >= 400 AND NOT cancelled), SUM(cancelled), SUM(estimated) "
                "FROM usage_records WHERE created_at >= ? AND (? IS NULL OR key_name = ?) "
                "GROUP BY day, key_name, model ORDER BY day, key_name, model",
                (since, key_name, key_name),
            )
            return [UsageRow(*row) for row in rows]

        return await self._run(work)

    async def spent(self, key_id: str, since: float) -> tuple[int, float]:
        def work(db: sqlite3.Connection) -> tuple[int, float]:
            row = db.execute(
                "SELECT COALESCE(SUM(prompt_tokens + completion_tokens), 0), "
                "COALESCE(SUM(cost), 0) FROM usage_records WHERE key_id = ? AND created_at >= ?",
                (key_id, since),
            ).fetchone()
            return int(row[0]), float(row[1])

        return await self._run(work)

    async def put_response(self, stored: responses.StoredResponse) -> None:
        row = responses.values(stored)
        await self._run(lambda db: db.execute(_UPSERT_RESPONSE, row))

    async def get_response(
        self, response_id: str, owner: str, now: float
    ) -> responses.StoredResponse | None:
        def work(db: sqlite3.Connection) -> responses.StoredResponse | None:
            row = db.execute(_GET_RESPONSE, (response_id, owner, now)).fetchone()
            return responses.StoredResponse(*row) if row is not None else None

        return await self._run(work)

    async def find_response(self, response_id: str, now: float) -> responses.StoredResponse | None:
        def work(db: sqlite3.Connection) -> responses.StoredResponse | None:
            row = db.execute(_FIND_RESPONSE, (response_id, now)).fetchone()
            return responses.StoredResponse(*row) if row is not None else None

        return await self._run(work)

    async def response_chain(
        self, response_id: str, owner: str, now: float
    ) -> list[responses.StoredResponse]:
        def work(db: sqlite3.Connection) -> list[responses.StoredResponse]:
            rows = db.execute(_RESPONSE_CHAIN, (response_id, owner, now)).fetchall()
            return [responses.StoredResponse(*row) for row in rows]

        return await self._run(work)

    async def delete_response(self, response_id: str, owner: str) -> bool:
        def work(db: sqlite3.Connection) -> bool:
            cursor = db.execute(
                "DELETE FROM stored_responses WHERE id = ? AND owner = ?", (response_id, owner)
            )
            return cursor.rowcount > 0

        return await self._run(work)

    async def purge_responses(self, now: float) -> int:
        def work(db: sqlite3.Connection) -> int:
            cursor = db.execute("DELETE FROM stored_responses WHERE expires_at <= ?", (now,))
            return cursor.rowcount

        return await self._run(work)

    async def put_conversation(self, conversation: conversations.StoredConversation) -> None:
        row = conversations.values(conversation)
        await self._run(lambda db: db.execute(_UPSERT_CONVERSATION, row))

    async def get_conversation(
        self, conversation_id: str, owner: str
    ) -> conversations.StoredConversation | None:
        def work(db: sqlite3.Connection) -> conversations.StoredConversation | None:
            row = db.execute(
                "SELECT id, owner, created_at, metadata FROM conversations "
                "WHERE id = ? AND owner = ?",
                (conversation_id, owner),
            ).fetchone()
            return conversations.StoredConversation(*row) if row is not None else None

        return await self._run(work)

    async def delete_conversation(self, conversation_id: str, owner: str) -> bool:
        def work(db: sqlite3.Connection) -> bool:
            db.execute("BEGIN")
            try:
                cursor = db.execute(
                    "DELETE FROM conversations WHERE id = ? AND owner = ?",
                    (conversation_id, owner),
                )
                if cursor.rowcount:
                    db.execute(
                        "DELETE FROM conversation_items WHERE conversation_id = ?",
                        (conversation_id,),
                    )
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            return cursor.rowcount > 0

        return await self._run(work)

    async def add_conversation_items(
        self, conversation_id: str, items: Sequence[tuple[str, str]]
    ) -> None:
        rows = [(conversation_id, item_id, item) for item_id, item in items]

        def work(db: sqlite3.Connection) -> None:
            db.executemany(
                "INSERT INTO conversation_items (conversation_id, item_id, item) VALUES (?, ?, ?)",
                rows,
            )

        await self._run(work)

    async def conversation_items(self, conversation_id: str) -> list[str]:
        def work(db: sqlite3.Connection) -> list[str]:
            rows = db.execute(
                "SELECT item FROM conversation_items WHERE conversation_id = ? ORDER BY seq",
                (conversation_id,),
            )
            return [row[0] for row in rows]

        return await self._run(work)

    async def delete_conversation_item(self, conversation_id: str, item_id: str) -> bool:
        def work(db: sqlite3.Connection) -> bool:
            cursor = db.execute(
                "DELETE FROM conversation_items WHERE conversation_id = ? AND item_id = ?",
                (conversation_id, item_id),
            )
            return cursor.rowcount > 0

        return await self._run(work)

    async def watch_keys(self, changed: Callable[[], None]) -> None:
        """SQLite cannot notify other processes: key caches expire on their own."""

    async def close(self) -> None:
        def work(db: sqlite3.Connection) -> None:
            db.close()

        if self._connection is not None:
            await self._run(work)
            self._connection = None
        self._worker.shutdown(wait=True)
