"""The gateway's database: virtual keys and usage records (SQLite embedded, or PostgreSQL)."""

from llm_gateway.store.base import KeyNotFound, Store
from llm_gateway.store.sqlite import SqliteStore


def open_store(database: str) -> Store:
    """The store for a database URL (`sqlite:///path` or `postgresql://...`)."""
    if database.startswith(("postgresql://", "postgres://")):
        # Imported here: asyncpg costs a gateway on SQLite start-up time and memory.
        from llm_gateway.store.postgres import PostgresStore

        return PostgresStore(database)
    return SqliteStore(database)


__all__ = ["KeyNotFound", "SqliteStore", "Store", "open_store"]
