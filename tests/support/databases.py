"""Plain SQL against either store's database, for tests that look at what was stored."""

from __future__ import annotations

import asyncio
import itertools
import re
import sqlite3
from typing import Any

import asyncpg

_names = itertools.count()


def fresh_postgres_database(server: str, prefix: str) -> str:
    """Creates an empty database on the server; returns its URL."""
    name = f"{prefix}_{next(_names)}"

    async def create() -> None:
        connection = await asyncpg.connect(server)
        await connection.execute(f"CREATE DATABASE {name}")
        await connection.close()

    asyncio.run(create())
    return server.rsplit("/", 1)[0] + f"/{name}"


def query(database: str, sql: str, *args: Any) -> list[dict[str, Any]]:
    """Runs `sql` (with `?` placeholders) on a `sqlite:///` or `postgresql://` database."""
    if database.startswith("sqlite:///"):
        with sqlite3.connect(database.removeprefix("sqlite:///")) as db:
            db.row_factory = sqlite3.Row
            return [dict(row) for row in db.execute(sql, args).fetchall()]
    numbered = itertools.count(1)
    postgres_sql = re.sub(r"\?", lambda _: f"${next(numbered)}", sql)

    async def fetch() -> list[dict[str, Any]]:
        connection = await asyncpg.connect(database)
        try:
            return [dict(row) for row in await connection.fetch(postgres_sql, *args)]
        finally:
            await connection.close()

    return asyncio.run(fetch())
