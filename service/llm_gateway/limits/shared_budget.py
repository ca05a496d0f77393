"""Key budgets kept in Redis, so that every replica reserves from one account per key and
period. An account starts from the spending in the usage records (read by the first replica
that needs it) and lives for an hour before it is read from them again."""

from __future__ import annotations

import time

from redis.asyncio import Redis

from llm_gateway.limits.budget import Budget, Spent, check, period_start

_PREFIX = "{llm-gateway}:budget:"
_LIFETIME_MS = 3_600_000
_RESERVE = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  if ARGV[5] == '' then return {-1, 0, 0, '0'} end
  redis.call('HSET', KEYS[1], 'tokens', ARGV[5], 'cost', ARGV[6], 'reserved', 0)
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
end
local tokens = tonumber(redis.call('HGET', KEYS[1], 'tokens'))
local cost = tonumber(redis.call('HGET', KEYS[1], 'cost'))
local reserved = tonumber(redis.call('HGET', KEYS[1], 'reserved'))
local allowed_tokens, allowed_cost = tonumber(ARGV[1]), tonumber(ARGV[2])
local amount = tonumber(ARGV[3])
if (allowed_cost >= 0 and cost >= allowed_cost)
    or (allowed_tokens >= 0 and tokens + reserved + amount > allowed_tokens) then
  return {0, tokens, reserved, tostring(cost)}
end
redis.call('HINCRBY', KEYS[1], 'reserved', amount)
return {1, tokens, reserved, tostring(cost)}
"""
_SETTLE = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HINCRBY', KEYS[1], 'reserved', -tonumber(ARGV[1]))
  redis.call('HINCRBY', KEYS[1], 'tokens', ARGV[2])
  redis.call('HINCRBYFLOAT', KEYS[1], 'cost', ARGV[3])
end
return 1
"""


class RedisBudgets:
    """Budgets of virtual keys, reserved and settled in Redis for every replica together."""

    def __init__(self, redis: Redis, spent: Spent) -> None:
        self._redis = redis
        self._spent = spent
        self._reserve = redis.register_script(_RESERVE)
        self._settle = redis.register_script(_SETTLE)

    @staticmethod
    def _account(key_id: str, budget: Budget) -> str:
        # Replicas whose clocks disagree may name different accounts for a moment around a
        # period's start; everywhere else they share one.
        return f"{_PREFIX}{key_id}:{int(period_start(budget.period, time.time()))}"

    async def reserve(self, key_id: str, budget: Budget, tokens: int) -> None:
        """See `Budgets.reserve`."""
        account = self._account(key_id, budget)
        limits = [
            -1 if budget.tokens is None else budget.tokens,
            -1 if budget.cost is None else budget.cost,
            tokens,
            _LIFETIME_MS,
        ]
        answer = await self._reserve(keys=[account], args=[*limits, "", ""])
        if int(answer[0]) == -1:  # no account yet: start it from the usage records
            start = float(account.rsplit(":", 1)[1])
            spent_tokens, spent_cost = await self._spent(key_id, start)
            answer = await self._reserve(keys=[account], args=[*limits, spent_tokens, spent_cost])
        if int(answer[0]) == 0:
            check(budget, tokens, int(answer[1]), float(answer[3]), int(answer[2]))  # raises

    async def settle(
        self, key_id: str, budget: Budget, reserved: int, tokens: int, cost: float | None
    ) -> None:
        """See `Budgets.settle`."""
        account = self._account(key_id, budget)
        await self._settle(keys=[account], args=[reserved, tokens, cost or 0.0])
