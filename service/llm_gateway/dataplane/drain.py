"""The end of a shutdown's grace period: the generations still running are ended with an error
their callers receive, rather than cut.

The server owns one `Drain` and gives it to the data plane, which enters each generation's task
into it and takes the task out while a stream's chunk is being sent: a cancellation landing in
the transport's code would cut the stream without an error frame, so such a stream is ended
instead when it next asks for a chunk (`ending`).
"""

from __future__ import annotations

import asyncio
from typing import Any

from llm_gateway.errors import shutting_down


class Drain:
    """The generations running now, and the shutdown that ends them."""

    def __init__(self) -> None:
        # Tasks serving generations where a cancellation lands in the data plane's code, and
        # those `end_running` has cancelled.
        self._running: set[asyncio.Task[Any]] = set()
        self._ended: set[asyncio.Task[Any]] = set()
        self.ending = False

    def enter(self) -> asyncio.Task[Any]:
        """Takes the current task in, as serving a generation; returns it."""
        task = asyncio.current_task()
        assert task is not None, "the data plane runs in a task"
        self._running.add(task)
        return task

    def resume(self, task: asyncio.Task[Any]) -> None:
        """The task is back in the data plane's code (after a chunk was sent)."""
        self._running.add(task)

    def leave(self, task: asyncio.Task[Any]) -> None:
        """The task has left the data plane's code: to send a chunk, or for good."""
        self._running.discard(task)

    def end_running(self) -> int:
        """Ends every generation still running with a 503 `shutting_down` error (an error
        frame for a stream that has started); returns how many were waiting for an upstream
        (the streams sending a chunk right then end before their next one)."""
        self.ending = True
        for task in self._running:
            self._ended.add(task)
            task.cancel()
        return len(self._running)

    def error_for(self, task: asyncio.Task[Any], failure: BaseException) -> BaseException:
        """The error to report for a generation that failed: the cancellation `end_running`
        caused becomes `shutting_down`, and the task goes on to send it."""
        if isinstance(failure, asyncio.CancelledError) and task in self._ended:
            self._ended.discard(task)
            task.uncancel()
            return shutting_down()
        return failure
