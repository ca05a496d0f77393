"""The gateway's database: virtual keys and usage records (SQLite, embedded)."""

from llm_gateway.store.base import KeyNotFound, Store
from llm_gateway.store.sqlite import SqliteStore


def open_store(database: str) -> Store:
    """The store for a database URL (`sqlite:///path`)."""
    return SqliteStore(database)


__all__ = ["KeyNotFound", "SqliteStore", "Store", "open_store"]
