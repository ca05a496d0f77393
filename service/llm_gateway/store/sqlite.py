"""The embedded store: one SQLite file in WAL mode (readers never wait for the writer, and the
CLI can manage keys while the gateway runs).

sqlite3 blocks, so every statement runs on one worker thread that owns the connection; the
event loop never waits on the disk.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import orjson

from llm_gateway.auth.virtual_keys import VirtualKey
from llm_gateway.store.base import KeyNotFound
from llm_gateway.usage.records import USAGE_COLUMNS, UsageRecord, UsageRow, usage_values

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
)
_KEY_COLUMNS = (
    "id, prefix, name, owner, models, rpm, tpm, budget_tokens, budget_cost, budget_period, "
    "expires_at, enabled, metadata, created_at, revoked_at"
)
# Settings a caller may change, and how each is stored.
_UPDATABLE: dict[str, Callable[[Any], Any]] = {
    "name": str,
    "owner": lambda v: v,
    "models": lambda v: orjson.dumps(list(v)).decode(),
    "rpm": lambda v: v,
    "tpm": lambda v: v,
    "budget_tokens": lambda v: v,
    "budget_cost": lambda v: v,
    "budget_period": str,
    "expires_at": lambda v: v,
    "enabled": int,
    "metadata": lambda v: orjson.dumps(v).decode(),
    "revoked_at": lambda v: v,
}


_INSERT_USAGE = (
    f"INSERT INTO usage_records ({', '.join(USAGE_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in USAGE_COLUMNS)})"
)


def database_path(url: str) -> Path:
    """The file of a `sqlite:///path` URL."""
    return Path(url.removeprefix("sqlite:///"))


def _key(row: sqlite3.Row) -> VirtualKey:
    return VirtualKey(
        id=row["id"],
        name=row["name"],
        prefix=row["prefix"],
        owner=row["owner"],
        models=tuple(orjson.loads(row["models"])),
        rpm=row["rpm"],
        tpm=row["tpm"],
        budget_tokens=row["budget_tokens"],
        budget_cost=row["budget_cost"],
        budget_period=row["budget_period"],
        expires_at=row["expires_at"],
        enabled=bool(row["enabled"]),
        metadata=orjson.loads(row["metadata"]),
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
    )


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
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute("PRAGMA busy_timeout=5000")
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
        def work(db: sqlite3.Connection) -> None:
            db.execute(
                f"INSERT INTO api_keys (digest, {_KEY_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    digest,
                    key.id,
                    key.prefix,
                    key.name,
                    key.owner,
                    orjson.dumps(list(key.models)).decode(),
                    key.rpm,
                    key.tpm,
                    key.budget_tokens,
                    key.budget_cost,
                    key.budget_period,
                    key.expires_at,
                    int(key.enabled),
                    orjson.dumps(key.metadata).decode(),
                    key.created_at,
                    key.revoked_at,
                ),
            )

        await self._run(work)

    async def find_key(self, digest: str) -> VirtualKey | None:
        def work(db: sqlite3.Connection) -> VirtualKey | None:
            row = db.execute(
                f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE digest = ?", (digest,)
            ).fetchone()
            return _key(row) if row is not None else None

        return await self._run(work)

    async def get_key(self, key_id: str) -> VirtualKey:
        def work(db: sqlite3.Connection) -> VirtualKey:
            row = db.execute(
                f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE id = ?", (key_id,)
            ).fetchone()
            if row is None:
                raise KeyNotFound(key_id)
            return _key(row)

        return await self._run(work)

    async def list_keys(self) -> list[VirtualKey]:
        def work(db: sqlite3.Connection) -> list[VirtualKey]:
            rows = db.execute(f"SELECT {_KEY_COLUMNS} FROM api_keys ORDER BY created_at DESC")
            return [_key(row) for row in rows]

        return await self._run(work)

    async def update_key(self, key_id: str, changes: dict[str, Any]) -> VirtualKey:
        unknown = set(changes) - set(_UPDATABLE)
        if unknown:
            raise ValueError(f"cannot change {sorted(unknown)}")

        def work(db: sqlite3.Connection) -> None:
            if not changes:
                return
            assignments = ", ".join(f"{name} = ?" for name in changes)
            values = [_UPDATABLE[name](value) for name, value in changes.items()]
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

    async def watch_keys(self, changed: Callable[[], None]) -> None:
        """SQLite cannot notify other processes: key caches expire on their own."""

    async def close(self) -> None:
        def work(db: sqlite3.Connection) -> None:
            db.close()

        if self._connection is not None:
            await self._run(work)
            self._connection = None
        self._worker.shutdown(wait=True)
