"""Token and cost budgets of virtual keys, per day, month or for all time.

What a key has spent in the current period is read from the usage records, then kept in
memory: admitted requests reserve their estimated tokens and cost, and settle to what they
used and cost. The spent totals are re-read every `refresh_seconds`, so replicas sharing a
database see each other's spending within that time (plus the usage recorder's flush interval).
A request whose reservation would take the key past its token or cost budget is refused with
OpenAI's `insufficient_quota`, so concurrent requests cannot together overspend a budget by
more than what one of them used beyond its estimate.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from llm_gateway.errors import GatewayError

Spent = Callable[[str, float], Awaitable[tuple[int, float]]]  # (key id, since) → tokens, cost


@dataclass(frozen=True, slots=True)
class Budget:
    """A key's allowance for one period."""

    tokens: int | None
    cost: float | None
    period: str  # "day", "month" or "total"


def period_start(period: str, now: float) -> float:
    """The start (UTC) of the period that contains `now`."""
    if period == "total":
        return 0.0
    moment = datetime.fromtimestamp(now, UTC)
    start = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "month":
        start = start.replace(day=1)
    return start.timestamp()


@dataclass(slots=True)
class _Account:
    start: float
    tokens: int
    cost: float
    loaded_at: float
    reserved: int = 0
    reserved_cost: float = 0.0


def exhausted(message: str) -> GatewayError:
    """OpenAI's answer to a spent quota."""
    return GatewayError(429, message, type="insufficient_quota", code="insufficient_quota")


@dataclass(frozen=True, slots=True)
class Amount:
    """Tokens and cost: what a request reserves, or what it used."""

    tokens: int
    cost: float = 0.0


def check(budget: Budget, asked: Amount, spent: Amount, reserved: Amount) -> None:
    """Raises `insufficient_quota` unless `asked` fits in the budget beside what was spent
    and what requests still running have reserved."""
    if budget.cost is not None:
        committed = spent.cost + reserved.cost
        if committed >= budget.cost:
            raise exhausted(f"This API key has spent its {budget.period} budget of {budget.cost}.")
        if committed + asked.cost > budget.cost:
            raise exhausted(
                f"This API key's {budget.period} budget of {budget.cost} has "
                f"{budget.cost - committed:.6g} left, less than this request may cost "
                f"({asked.cost:.6g})."
            )
    committed_tokens = spent.tokens + reserved.tokens
    if budget.tokens is not None and committed_tokens + asked.tokens > budget.tokens:
        left = max(0, budget.tokens - committed_tokens)
        raise exhausted(
            f"This API key's {budget.period} budget of {budget.tokens} tokens has {left} "
            f"left, less than this request may use ({asked.tokens})."
        )


class Budgets(Protocol):
    """Reserves against key budgets and settles to what requests used."""

    async def reserve(self, key_id: str, budget: Budget, asked: Amount) -> None:
        """Reserves `asked` of the key's budget, or raises `insufficient_quota`."""
        ...

    async def settle(self, key_id: str, budget: Budget, reserved: Amount, used: Amount) -> None:
        """Replaces a request's reservation by what it used and cost."""
        ...


class BudgetLedger:
    """What each budgeted key has spent in its current period."""

    def __init__(
        self, spent: Spent, refresh_seconds: float = 5.0, clock: Callable[[], float] = time.time
    ) -> None:
        self._spent = spent
        self._refresh = refresh_seconds
        self._clock = clock
        self._accounts: dict[str, _Account] = {}

    async def reserve(self, key_id: str, budget: Budget, asked: Amount) -> None:
        """Reserves `asked` of the key's budget, or raises `insufficient_quota`."""
        now = self._clock()
        start = period_start(budget.period, now)
        account = self._accounts.get(key_id)
        if account is None or account.start != start or now - account.loaded_at > self._refresh:
            # Re-read now and then: other replicas spend from the same budget.
            spent_tokens, spent_cost = await self._spent(key_id, start)
            account = self._reloaded(key_id, start, now, spent_tokens, spent_cost)
        spent = Amount(account.tokens, account.cost)
        check(budget, asked, spent, Amount(account.reserved, account.reserved_cost))
        account.reserved += asked.tokens
        account.reserved_cost += asked.cost

    def _reloaded(
        self, key_id: str, start: float, now: float, tokens: int, cost: float
    ) -> _Account:
        # Read again after the await: requests admitted meanwhile hold reservations, and what
        # this process settled may not be written yet (so the larger count is kept).
        current = self._accounts.get(key_id)
        if current is not None and current.start == start:
            current.tokens = max(current.tokens, tokens)
            current.cost = max(current.cost, cost)
            current.loaded_at = now
            return current
        account = self._accounts[key_id] = _Account(start, tokens, cost, now)
        return account

    async def settle(self, key_id: str, budget: Budget, reserved: Amount, used: Amount) -> None:
        """Replaces a request's reservation by what it used and cost."""
        account = self._accounts.get(key_id)
        if account is None:
            return
        account.reserved = max(0, account.reserved - reserved.tokens)
        account.reserved_cost = max(0.0, account.reserved_cost - reserved.cost)
        account.tokens += used.tokens
        account.cost += used.cost
