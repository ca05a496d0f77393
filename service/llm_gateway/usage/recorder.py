"""Writes usage records off the request path, in batches, and loses none on shutdown.

Requests hand their record over without waiting; a background task writes what has gathered
every `flush_seconds`, or sooner once `batch_size` records wait. A batch that fails to write is
kept and tried again. While the store is down at most `max_pending` records wait in memory;
beyond that new records are dropped, counted and logged. `close` writes everything still
waiting. With a journal, each record is also appended to it as it is taken, so a crash loses
none: the next start writes what the journal still holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from llm_gateway.store.base import Store
from llm_gateway.usage.journal import UsageJournal
from llm_gateway.usage.records import UsageRecord

log = logging.getLogger(__name__)


class UsageRecorder:
    """Buffers usage records and writes them to the store."""

    def __init__(
        self,
        store: Store,
        batch_size: int,
        flush_seconds: float,
        max_pending: int = 100_000,
        on_dropped: Callable[[int], None] | None = None,
        journal: UsageJournal | None = None,
    ) -> None:
        self._store = store
        self._batch_size = batch_size
        self._flush_seconds = flush_seconds
        self._max_pending = max_pending
        self._on_dropped = on_dropped
        self._dropped = 0  # since the last log line about it
        self._journal = journal
        self._pending: list[UsageRecord] = journal.recover() if journal is not None else []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def start(self) -> None:
        """Starts the background writer (which first writes what the journal recovered)."""
        self._task = asyncio.create_task(self._run(), name="usage-recorder")
        if self._pending:
            self._wake.set()

    def record(self, record: UsageRecord) -> None:
        """Takes one record; never blocks."""
        if len(self._pending) >= self._max_pending:
            self._dropped += 1
            if self._on_dropped is not None:
                self._on_dropped(1)
            return
        if self._journal is not None:
            try:
                self._journal.append(record)
            except OSError as exc:  # a full disk: the record still waits in memory
                log.warning("could not journal a usage record: %s", exc.strerror)
        self._pending.append(record)
        if len(self._pending) >= self._batch_size:
            self._wake.set()

    async def _run(self) -> None:
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._flush_seconds)
            self._wake.clear()
            await self.flush()

    async def flush(self) -> None:
        """Writes every waiting record (in batches); keeps them if the store fails."""
        if self._dropped:
            log.error(
                "dropped %d usage records: %d were waiting for the store, the most kept",
                self._dropped,
                self._max_pending,
            )
            self._dropped = 0
        if not self._pending:
            return
        if self._journal is not None:
            self._journal.seal()  # what is appended from now on waits for a later flush
        while self._pending:
            batch = self._pending[: self._batch_size]
            try:
                await self._store.add_usage(batch)
            except Exception:
                log.exception("could not write %d usage records; will retry", len(batch))
                return
            del self._pending[: len(batch)]
        if self._journal is not None:
            self._journal.release_sealed()

    async def close(self) -> None:
        """Stops the writer and writes what is left."""
        # The writer is let finish its batch rather than cancelled: a write cancelled half-way
        # could still land on disk and then be written again.
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
        await self.flush()
        if self._pending:
            kept = " (kept in the journal for the next start)" if self._journal else ""
            log.error(
                "%d usage records could not be written at shutdown%s", len(self._pending), kept
            )
        if self._journal is not None:
            self._journal.close(written=not self._pending)
