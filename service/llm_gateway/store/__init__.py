"""The gateway's database: virtual keys and usage records (SQLite embedded, or PostgreSQL)."""

from llm_gateway.store.base import KeyNotFound, Store


def open_store(database: str) -> Store:
    """The store for a database URL (`sqlite:///path` or `postgresql://...`)."""
    # Each client is imported here: a gateway without a database (or on the other one) does
    # not pay for it at start-up.
    if database.startswith(("postgresql://", "postgres://")):
        from llm_gateway.store.postgres import PostgresStore

        return PostgresStore(database)
    from llm_gateway.store.sqlite import SqliteStore

    return SqliteStore(database)


__all__ = ["KeyNotFound", "Store", "open_store"]
