"""Key budgets kept in Redis, so that every replica reserves from one account per key and
period. An account starts from the spending in the usage records (read by the first replica
that needs it) and lives for an hour before it is read from them again."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from llm_gateway.limits.budget import Amount, Budget, Spent, check, period_start

if TYPE_CHECKING:  # imported only where Redis is configured (it is heavy)
    from redis.asyncio import Redis

_PREFIX = "{llm-gateway}:budget:"
_LIFETIME_MS = 3_600_000
_RESERVE = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  if ARGV[6] == '' then return {-1, 0, 0, '0', '0'} end
  redis.call('HSET', KEYS[1], 'tokens', ARGV[6], 'cost', ARGV[7], 'reserved', 0,
    'reserved_cost', 0)
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
end
local tokens = tonumber(redis.call('HGET', KEYS[1], 'tokens'))
local cost = tonumber(redis.call('HGET', KEYS[1], 'cost'))
local reserved = tonumber(redis.call('HGET', KEYS[1], 'reserved'))
local reserved_cost = tonumber(redis.call('HGET', KEYS[1], 'reserved_cost') or '0')
local allowed_tokens, allowed_cost = tonumber(ARGV[1]), tonumber(ARGV[2])
local amount, amount_cost = tonumber(ARGV[3]), tonumber(ARGV[4])
local committed = cost + reserved_cost
if (allowed_cost >= 0 and (committed >= allowed_cost or committed + amount_cost > allowed_cost))
    or (allowed_tokens >= 0 and tokens + reserved + amount > allowed_tokens) then
  return {0, tokens, reserved, tostring(cost), tostring(reserved_cost)}
end
redis.call('HINCRBY', KEYS[1], 'reserved', amount)
redis.call('HINCRBYFLOAT', KEYS[1], 'reserved_cost', amount_cost)
return {1, tokens, reserved, tostring(cost), tostring(reserved_cost)}
"""
_SETTLE = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HINCRBY', KEYS[1], 'reserved', -tonumber(ARGV[1]))
  redis.call('HINCRBYFLOAT', KEYS[1], 'reserved_cost', -tonumber(ARGV[2]))
  redis.call('HINCRBY', KEYS[1], 'tokens', ARGV[3])
  redis.call('HINCRBYFLOAT', KEYS[1], 'cost', ARGV[4])
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

    async def reserve(self, key_id: str, budget: Budget, asked: Amount) -> None:
        """See `Budgets.reserve`."""
        account = self._account(key_id, budget)
        limits = [
            -1 if budget.tokens is None else budget.tokens,
            -1 if budget.cost is None else budget.cost,
            asked.tokens,
            repr(asked.cost),
            _LIFETIME_MS,
        ]
        answer = await self._reserve(keys=[account], args=[*limits, "", ""])
        if int(answer[0]) == -1:  # no account yet: start it from the usage records
            start = float(account.rsplit(":", 1)[1])
            spent_tokens, spent_cost = await self._spent(key_id, start)
            answer = await self._reserve(keys=[account], args=[*limits, spent_tokens, spent_cost])
        if int(answer[0]) == 0:
            spent = Amount(int(answer[1]), float(answer[3]))
            check(budget, asked, spent, Amount(int(answer[2]), float(answer[4])))  # raises

    async def settle(self, key_id: str, budget: Budget, reserved: Amount, used: Amount) -> None:
        """See `Budgets.settle`."""
        account = self._account(key_id, budget)
        args: list[int | str] = [reserved.tokens, repr(reserved.cost), used.tokens, repr(used.cost)]
        await self._settle(keys=[account], args=args)
