"""The usage recorder (batches, a failing store, shutdown) and the virtual-key cache (hits,
misses, expiry, forgetting), with scripted stores."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from llm_gateway.auth.directory import KeyDirectory
from llm_gateway.auth.virtual_keys import VirtualKey, key_digest
from llm_gateway.usage.recorder import UsageRecorder
from llm_gateway.usage.records import UsageRecord

SECRET = b"secret-0123456789"


def record(index: int) -> UsageRecord:
    return UsageRecord(
        request_id=f"r{index}",
        key_name="k",
        key_id=None,
        model="m",
        deployment="p/m",
        prompt_tokens=1,
        completion_tokens=1,
        cached_tokens=0,
        cost=None,
        latency_ms=1.0,
        ttft_ms=None,
        status=200,
        cancelled=False,
        estimated=False,
        transport="rest",
    )


class FlakyStore:
    """Fails the first `failures` writes, then keeps what it is given."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.batches: list[list[str]] = []

    async def add_usage(self, records: Sequence[UsageRecord]) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("database unavailable")
        self.batches.append([r.request_id for r in records])


def test_recorder_writes_in_batches_keeps_records_through_failures_and_flushes_on_close() -> None:
    async def scenario() -> FlakyStore:
        store = FlakyStore(failures=1)
        recorder = UsageRecorder(store, batch_size=3, flush_seconds=0.05)  # type: ignore[arg-type]
        recorder.start()
        for index in range(7):
            recorder.record(record(index))
        await asyncio.sleep(0.2)  # the first write fails; the next ones succeed
        recorder.record(record(7))
        await recorder.close()  # writes what still waits
        return store

    store = asyncio.run(scenario())
    written = [request for batch in store.batches for request in batch]
    assert written == [f"r{i}" for i in range(8)]  # each once, in order, none lost
    assert all(len(batch) <= 3 for batch in store.batches)


class CountingStore:
    def __init__(self, keys: dict[str, VirtualKey]) -> None:
        self.keys = keys
        self.lookups = 0

    async def find_key(self, digest: str) -> VirtualKey | None:
        self.lookups += 1
        return self.keys.get(digest)


def test_key_cache_keeps_answers_for_its_ttl_and_forgets_on_demand() -> None:
    key = VirtualKey(id="key_1", name="alice", prefix="sk-gw-abc...")
    store = CountingStore({key_digest(SECRET, "sk-gw-good"): key})
    now = [0.0]
    directory = KeyDirectory(store, SECRET, ttl=5, clock=lambda: now[0])  # type: ignore[arg-type]

    async def scenario() -> None:
        assert await directory.find("sk-gw-good") == key
        assert await directory.find("sk-gw-good") == key
        assert await directory.find("sk-gw-wrong") is None
        assert await directory.find("sk-gw-wrong") is None  # a miss is cached too
        assert store.lookups == 2
        now[0] = 6.0  # past the TTL
        await directory.find("sk-gw-good")
        assert store.lookups == 3
        directory.forget()
        await directory.find("sk-gw-good")
        assert store.lookups == 4

    asyncio.run(scenario())
