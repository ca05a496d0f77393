"""The events of a streamed background response, kept while it runs (and a while after) so
that callers can follow it, and come back to it (`GET /v1/responses/{id}?stream=true&
starting_after=N`) on the replica that runs it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

# How long a finished run's events can still be followed.
KEPT_SECONDS = 600.0


class EventLog:
    """One run's events, in order; followers wait for the next one."""

    def __init__(self, owner: str) -> None:
        self.owner = owner  # whose response it is (see `owners`)
        self.events: list[dict[str, Any]] = []
        self.done = False
        self._changed = asyncio.Event()

    def add(self, events: list[dict[str, Any]]) -> None:
        """Appends events and wakes the followers."""
        self.events += events
        self._changed.set()

    def finish(self) -> None:
        """No event follows."""
        self.done = True
        self._changed.set()

    async def follow(self, after: int = -1) -> AsyncIterator[dict[str, Any]]:
        """The events whose sequence number is above `after`, as they come, to the end."""
        sent = 0
        while True:
            while sent < len(self.events):
                event = self.events[sent]
                sent += 1
                if event["sequence_number"] > after:
                    yield event
            if self.done:
                return
            self._changed.clear()
            if sent == len(self.events) and not self.done:
                await self._changed.wait()
