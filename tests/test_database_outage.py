"""A PostgreSQL outage while the gateway serves: an uncached key gets a retryable 503, cached
keys keep working and their usage records wait (bounded) and are all written once the database
is back; the key-change listener reconnects and drops the key cache, so revocations reach the
gateway at once again."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path

import asyncpg
import openai
import pytest
import requests

from llm_gateway.auth.directory import KeyDirectory
from llm_gateway.errors import GatewayError
from llm_gateway.usage.recorder import UsageRecorder
from tests.support.databases import fresh_postgres_database, query
from tests.support.scripted_upstream import ScriptedUpstream
from tests.support.stack import stack_config, start_stack
from tests.test_usage_and_key_cache import record
from tests.test_virtual_keys import SECRET, keys_cli, sdk

HI = [{"role": "user", "content": "hi"}]


def set_outage(server: str, database: str, down: bool) -> None:
    """Refuses (or allows again) connections to one database and ends those it has."""
    name = database.rsplit("/", 1)[1]

    async def change() -> None:
        admin = await asyncpg.connect(server)
        try:
            await admin.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS {not down}")
            if down:
                await admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = $1 AND pid <> pg_backend_pid()",
                    name,
                )
        finally:
            await admin.close()

    asyncio.run(change())


def wait_for(condition: object, limit: float, what: str) -> None:
    deadline = time.monotonic() + limit
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def test_outage_gives_503_keeps_served_records_and_listener_recovers(
    upstream: ScriptedUpstream, postgres_url: str, tmp_path: Path
) -> None:
    database = fresh_postgres_database(postgres_url, "outage")
    config = stack_config(
        upstream.base_url,
        storage={
            "database": database,
            "key_secret": SECRET,
            "key_cache_seconds": 30,  # a revocation must arrive by notification
            "usage_flush_seconds": 0.1,
        },
    )
    stack = start_stack(tmp_path, config)
    config_file = stack.log_path.parent / "gateway.yaml"
    try:
        cached = keys_cli(config_file, "create", "--name", "cached")
        fresh = keys_cli(config_file, "create", "--name", "fresh")
        sdk(stack, cached["key"]).chat.completions.create(model="gpt-echo", messages=HI)
        set_outage(postgres_url, database, down=True)
        try:
            answer = requests.post(
                f"{stack.rest_url}/v1/chat/completions",
                json={"model": "gpt-echo", "messages": HI},
                headers={"authorization": f"Bearer {fresh['key']}"},
                timeout=20,
            )
            assert answer.status_code == 503, answer.text
            assert answer.json()["error"]["code"] == "keys_unavailable"
            assert answer.headers["retry-after"] == "1"
            for index in range(5):  # a cached key is still served; its records wait
                sdk(stack, cached["key"]).chat.completions.create(
                    model="gpt-echo",
                    messages=HI,
                    extra_headers={"x-request-id": f"outage-{index}"},
                )
        finally:
            set_outage(postgres_url, database, down=False)
        wait_for(
            lambda: (
                len(query(database, "SELECT 1 FROM usage_records WHERE request_id LIKE 'outage-%'"))
                == 5
            ),
            15,
            "records of requests served during the outage were lost",
        )
        wait_for(
            lambda: "key-change listener reconnected" in stack.log_path.read_text(),
            40,
            "the key-change listener did not reconnect",
        )
        keys_cli(config_file, "revoke", cached["id"])  # another process: a notification
        client = sdk(stack, cached["key"])

        def refused() -> bool:
            try:
                client.chat.completions.create(model="gpt-echo", messages=HI)
            except openai.AuthenticationError:
                return True
            return False

        wait_for(refused, 2, "the revocation did not arrive by notification")
    finally:
        stack.stop()
    log = stack.log_path.read_text()
    assert "lost the key-change listener's database connection" in log
    assert cached["key"] not in log and fresh["key"] not in log


class DownStore:
    async def add_usage(self, records: Sequence[object]) -> None:
        raise ConnectionError("database unavailable")

    async def find_key(self, digest: str) -> None:
        raise asyncpg.ObjectNotInPrerequisiteStateError(
            'database "gw" is not currently accepting connections'
        )


def test_pending_usage_is_bounded_while_the_store_is_down(caplog: pytest.LogCaptureFixture) -> None:
    dropped: list[int] = []

    async def scenario() -> int:
        recorder = UsageRecorder(
            DownStore(),  # type: ignore[arg-type]
            batch_size=2,
            flush_seconds=0.05,
            max_pending=5,
            on_dropped=dropped.append,
        )
        for index in range(8):
            recorder.record(record(index))
        await recorder.flush()
        return len(recorder._pending)

    assert asyncio.run(scenario()) == 5
    assert sum(dropped) == 3
    assert "dropped 3 usage records" in caplog.text


def test_key_lookup_during_an_outage_is_a_retryable_503() -> None:
    directory = KeyDirectory(DownStore(), b"secret-0123456789", ttl=5)  # type: ignore[arg-type]
    with pytest.raises(GatewayError) as caught:
        asyncio.run(directory.find("sk-gw-whatever"))
    assert caught.value.status == 503 and caught.value.retry_after == "1"
    assert caught.value.code == "keys_unavailable"
