"""The two stores, SQLite and PostgreSQL (a server of the tests' own), pass the same tests."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from llm_gateway.auth.virtual_keys import VirtualKey, key_digest, new_key, new_key_id, shown_prefix
from llm_gateway.store import KeyNotFound, Store, open_store
from llm_gateway.usage.records import UsageRecord
from tests.support.databases import fresh_postgres_database


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database of each kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/store.db"
        return
    yield fresh_postgres_database(request.getfixturevalue("postgres_url"), "store")


def run(database: str, scenario: Callable[[Store], Awaitable[None]]) -> None:
    async def main() -> None:
        store = open_store(database)
        try:
            await store.migrate()
            await store.migrate()  # idempotent
            await scenario(store)
        finally:
            await store.close()

    asyncio.run(main())


def record(key: VirtualKey | None, **fields: object) -> UsageRecord:
    values: dict[str, object] = {
        "request_id": "r",
        "key_name": key.name if key else "config-key",
        "key_id": key.id if key else None,
        "model": "m",
        "deployment": "p/m",
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "cached_tokens": 0,
        "cost": 0.01,
        "latency_ms": 12.5,
        "ttft_ms": None,
        "status": 200,
        "cancelled": False,
        "estimated": False,
        "transport": "rest",
    }
    values.update(fields)
    return UsageRecord(**values)  # type: ignore[arg-type]


def test_key_lifecycle(database: str) -> None:
    async def scenario(store: Store) -> None:
        secret = new_key()
        key = VirtualKey(
            id=new_key_id(),
            name="alice",
            prefix=shown_prefix(secret),
            models=("gpt-*",),
            rpm=10,
            budget_tokens=1000,
            metadata={"team": "a"},
        )
        digest = key_digest(b"server-secret-0123", secret)
        await store.add_key(key, digest)
        assert await store.find_key(digest) == key
        assert await store.find_key(key_digest(b"server-secret-0123", new_key())) is None
        assert await store.get_key(key.id) == key
        changed = await store.update_key(key.id, {"models": ("*",), "enabled": False, "tpm": 5})
        assert (changed.models, changed.enabled, changed.tpm, changed.rpm) == (("*",), False, 5, 10)
        revoked = await store.update_key(key.id, {"revoked_at": 123.0})
        assert revoked.revoked_at == 123.0 and not revoked.usable(time.time())
        assert [k.id for k in await store.list_keys()] == [key.id]
        with pytest.raises(KeyNotFound):
            await store.get_key("key_missing")
        with pytest.raises(KeyNotFound):
            await store.update_key("key_missing", {"rpm": 1})
        with pytest.raises(ValueError):
            await store.update_key(key.id, {"digest": "x"})

    run(database, scenario)


def test_usage_report_and_spent(database: str) -> None:
    async def scenario(store: Store) -> None:
        key = VirtualKey(id=new_key_id(), name="bob", prefix="sk-gw-x...")
        now = time.time()
        await store.add_usage(
            [
                record(key, created_at=now - 10),
                record(key, created_at=now - 5, status=502, completion_tokens=0, cost=None),
                record(key, created_at=now - 1, status=499, cancelled=True, estimated=True),
                record(key, model="other", created_at=now - 2),
                record(None, created_at=now - 3),
                record(key, created_at=now - 10 * 86_400),  # long ago
            ]
        )
        rows = await store.usage(now - 86_400 * 2, "bob")
        by_model = {row.model: row for row in rows}
        assert set(by_model) == {"m", "other"}
        m = by_model["m"]
        assert (m.requests, m.prompt_tokens, m.completion_tokens) == (3, 30, 10)
        assert (m.failed, m.cancelled, m.estimated) == (1, 1, 1)
        assert m.cost == pytest.approx(0.02)
        assert len(await store.usage(now - 86_400 * 2)) == 3  # bob's two models, config-key
        tokens, cost = await store.spent(key.id, now - 86_400)
        assert tokens == 15 + 10 + 15 + 15 and cost == pytest.approx(0.03)

    run(database, scenario)


def test_concurrent_migrations_apply_each_once(database: str) -> None:
    async def main() -> None:
        stores = [open_store(database) for _ in range(4)]
        try:
            await asyncio.gather(*(store.migrate() for store in stores))
            assert await stores[0].list_keys() == []
        finally:
            for store in stores:
                await store.close()

    asyncio.run(main())


def test_many_processes_opening_a_new_sqlite_file_at_once(tmp_path: Path) -> None:
    """Switching a new file to WAL mode may be refused ("database is locked") without SQLite's
    busy handler while others open it too; before the retry, about 1 in 50 of these failed."""

    async def main() -> None:
        for attempt in range(100):
            stores = [open_store(f"sqlite:///{tmp_path}/new-{attempt}.db") for _ in range(8)]
            try:
                await asyncio.gather(*(store.migrate() for store in stores))
            finally:
                for store in stores:
                    await store.close()

    asyncio.run(main())


def _stored(response_id: str, previous: str | None, expires_at: float, owner: str = "me") -> Any:
    from llm_gateway.store.responses import StoredResponse

    response = json.dumps({"id": response_id, "output": [{"id": f"out-{response_id}"}]})
    return StoredResponse(response_id, owner, previous, 1.0, expires_at, response, "[]")


def test_stored_responses_chain_by_owner_expire_and_purge(database: str) -> None:
    async def scenario(store: Store) -> None:
        now = time.time()
        later = now + 3600
        await store.put_response(_stored("r1", None, later))
        await store.put_response(_stored("r2", "r1", later))
        await store.put_response(_stored("r3", "r2", later))
        await store.put_response(_stored("theirs", "r2", later, owner="them"))
        await store.put_response(_stored("old", None, now - 1))
        chain = await store.response_chain("r3", "me", now)
        assert [row.id for row in chain] == ["r1", "r2", "r3"]  # oldest first
        assert await store.response_chain("r3", "them", now) == []
        # Another owner's row never joins a chain, even if it names one of mine.
        assert [row.id for row in await store.response_chain("theirs", "them", now)] == ["theirs"]
        assert await store.get_response("old", "me", now) is None  # expired: never read
        assert await store.find_response("old", now) is None
        assert (await store.find_response("theirs", now)).owner == "them"  # type: ignore[union-attr]
        replaced = _stored("r2", "r1", later)
        await store.put_response(replaced)  # a background run's final write
        assert (await store.get_response("r2", "me", now)) == replaced
        assert await store.purge_responses(now) == 1
        assert await store.delete_response("r3", "them") is False
        assert await store.delete_response("r3", "me") is True
        assert await store.get_response("r3", "me", now) is None

    run(database, scenario)


def test_conversation_items_keep_their_order_and_go_with_the_conversation(database: str) -> None:
    from llm_gateway.store.conversations import StoredConversation

    async def scenario(store: Store) -> None:
        conversation = StoredConversation("c1", "me", 1.0, "{}")
        await store.put_conversation(conversation)
        await store.add_conversation_items("c1", [("a", '"a"'), ("b", '"b"')])
        await store.add_conversation_items("c1", [("c", '"c"')])
        assert await store.conversation_items("c1") == ['"a"', '"b"', '"c"']
        assert await store.get_conversation("c1", "them") is None
        await store.put_conversation(StoredConversation("c1", "me", 1.0, '{"k": "v"}'))
        assert (await store.get_conversation("c1", "me")).metadata == '{"k": "v"}'  # type: ignore[union-attr]
        assert await store.delete_conversation_item("c1", "b") is True
        assert await store.conversation_items("c1") == ['"a"', '"c"']
        assert await store.delete_conversation("c1", "them") is False
        assert await store.delete_conversation("c1", "me") is True
        assert await store.conversation_items("c1") == []

    run(database, scenario)
