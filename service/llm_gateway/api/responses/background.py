"""The background responses this process is generating (`"background": true`).

Each runs in a task of its own, outside the call that created it, which has long returned.
A cancel asked here cancels its task at once; one asked on another replica is written to the
store, which each run reads every `CANCEL_POLL_SECONDS` (so the upstream call is closed
within about a second wherever it runs). At shutdown the runs get the grace period, like
calls, and then end with an error their status records.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any

from llm_gateway.api.responses.event_log import KEPT_SECONDS, EventLog

CANCEL_POLL_SECONDS = 0.5


class BackgroundRuns:
    """The running background responses, by response id."""

    def __init__(self) -> None:
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._cancelled: set[str] = set()
        self._logs: dict[str, EventLog] = {}  # of streamed runs

    def log_of(self, response_id: str) -> EventLog | None:
        """The events of a streamed run of this process (until a while after it ended)."""
        return self._logs.get(response_id)

    def keep_events(self, response_id: str, owner: str) -> EventLog:
        """A new log for a streamed run's events; forgotten `KEPT_SECONDS` after it ends."""
        log = self._logs[response_id] = EventLog(owner)
        return log

    def start(self, response_id: str, work: Coroutine[Any, Any, None]) -> None:
        """Runs `work` (which writes the response's status as it ends) in a task."""
        task = asyncio.create_task(work, name=f"background {response_id}")
        self._tasks[response_id] = task

        def done(_: asyncio.Task[None]) -> None:
            self._tasks.pop(response_id, None)
            self._cancelled.discard(response_id)
            log = self._logs.get(response_id)
            if log is not None:
                log.finish()
                loop = asyncio.get_running_loop()
                loop.call_later(KEPT_SECONDS, self._logs.pop, response_id, None)

        task.add_done_callback(done)

    def cancel(self, response_id: str) -> bool:
        """Cancels a run of this process; whether there was one."""
        task = self._tasks.get(response_id)
        if task is None:
            return False
        self._cancelled.add(response_id)
        task.cancel()
        return True

    def was_cancelled(self, response_id: str) -> bool:
        """Whether a run's cancellation came from a cancel (not from a shutdown)."""
        return response_id in self._cancelled

    def __len__(self) -> int:
        return len(self._tasks)

    async def finished(self) -> None:
        """Waits until every run has ended (none starts once the server stops taking calls)."""
        while self._tasks:
            await asyncio.wait(list(self._tasks.values()))

    async def stop(self, seconds: float) -> None:
        """Gives the runs `seconds` more to write their status, then cancels what is left."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.finished(), seconds)
        for task in list(self._tasks.values()):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks.values()))
