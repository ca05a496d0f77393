"""Sends the calls one request was split into (an embeddings request too large for one
upstream call) a few at a time, and gives back their answers in order."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

Part = TypeVar("Part")
Result = TypeVar("Result")
# How many calls of one request are in flight at once: enough to overlap the round trips,
# few enough that one large request does not crowd out the upstream's other callers.
CALLS_AT_ONCE = 4


async def each(
    parts: Sequence[Part], call: Callable[[Part], Awaitable[Result]], at_once: int = CALLS_AT_ONCE
) -> list[Result]:
    """`call` on every part, at most `at_once` at a time; the first failure cancels the rest
    and is raised as it is, as from a single call."""
    gate = asyncio.Semaphore(at_once)

    async def one(part: Part) -> Result:
        async with gate:
            return await call(part)

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one(part)) for part in parts]
    except ExceptionGroup as failures:
        raise failures.exceptions[0] from None
    return [task.result() for task in tasks]
