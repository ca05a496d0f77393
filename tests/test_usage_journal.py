"""The write-ahead journal of usage records: a SIGKILLed gateway loses none of the records it
had taken, a later start writes them; live processes sharing the folder keep their own."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Sequence
from pathlib import Path

import requests

from llm_gateway.usage.journal import UsageJournal
from llm_gateway.usage.recorder import UsageRecorder
from llm_gateway.usage.records import UsageRecord
from tests.support.databases import query
from tests.support.scripted_upstream import ScriptedUpstream
from tests.support.stack import KEY, stack_config, start_stack
from tests.test_usage_and_key_cache import record
from tests.test_virtual_keys import SECRET


class KeepingStore:
    def __init__(self, failures: int = 0) -> None:
        self.written: list[str] = []
        self.failures = failures

    async def add_usage(self, records: Sequence[UsageRecord]) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("down")
        self.written += [r.request_id for r in records]


def test_records_survive_a_process_that_never_wrote_them(tmp_path: Path) -> None:
    journal = UsageJournal(tmp_path)
    for index in range(5):
        journal.append(record(index))
    # Another process sharing the folder while this one lives takes nothing of it.
    assert UsageJournal(tmp_path).recover() == []
    os.close(journal._fd)  # the writer dies: its lock goes with its descriptor
    recovered = UsageJournal(tmp_path).recover()
    assert [r.request_id for r in recovered] == [f"r{i}" for i in range(5)]
    assert recovered[1].prompt_tokens == record(1).prompt_tokens and not recovered[1].cancelled


def test_a_torn_last_line_is_skipped(tmp_path: Path) -> None:
    journal = UsageJournal(tmp_path)
    journal.append(record(1))
    os.write(journal._fd, b'{"request_id": "r2", "key_na')  # killed mid-write
    os.close(journal._fd)
    assert [r.request_id for r in UsageJournal(tmp_path).recover()] == ["r1"]


def test_recorder_releases_segments_only_once_written(tmp_path: Path) -> None:
    async def scenario() -> tuple[list[str], list[str]]:
        store = KeepingStore(failures=1)
        recorder = UsageRecorder(
            store,  # type: ignore[arg-type]
            batch_size=10,
            flush_seconds=60,
            journal=UsageJournal(tmp_path),
        )
        for index in range(3):
            recorder.record(record(index))
        await recorder.flush()  # fails: the records stay journaled
        assert len(os.listdir(tmp_path)) == 2  # sealed + current
        recorder.record(record(3))
        await recorder.flush()
        left = os.listdir(tmp_path)
        await recorder.close()
        return store.written, left

    written, left = asyncio.run(scenario())
    assert written == ["r0", "r1", "r2", "r3"]
    assert len(left) == 1  # the current, empty segment
    assert list(tmp_path.iterdir()) == []  # closed with everything written: nothing left


def test_sigkill_loses_no_usage_record(upstream: ScriptedUpstream, tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path}/g.db"
    config = stack_config(
        upstream.base_url,
        storage={"database": database, "key_secret": SECRET, "usage_flush_seconds": 60},
    )
    stack = start_stack(tmp_path / "first", config)
    try:
        for index in range(30):
            answer = requests.post(
                f"{stack.rest_url}/v1/chat/completions",
                json={"model": "gpt-echo", "messages": [{"role": "user", "content": "hi"}]},
                headers={"authorization": f"Bearer {KEY}", "x-request-id": f"kill-{index}"},
                timeout=10,
            )
            assert answer.status_code == 200
    finally:
        os.kill(stack.process.pid, signal.SIGKILL)
        stack.process.wait(10)
    assert query(database, "SELECT request_id FROM usage_records") == []  # none written yet
    again = start_stack(tmp_path / "second", config)
    try:
        deadline = time.monotonic() + 10
        while len(query(database, "SELECT 1 FROM usage_records")) < 30:
            assert time.monotonic() < deadline, "the journaled records were not written"
            time.sleep(0.1)
    finally:
        again.stop()
    rows = query(database, "SELECT request_id FROM usage_records ORDER BY request_id")
    assert sorted(r["request_id"] for r in rows) == sorted(f"kill-{i}" for i in range(30))
    assert "recovered 30 usage records" in again.log_path.read_text()
