"""Rate-limit windows in Redis, shared by every replica: N gateways enforce one limit.

Each window is a sorted set of reservation ids by time, a hash of their amounts and a running
total, under one hash tag so that a request's windows live in one slot. One Lua script expires
old reservations, checks every window of the request and reserves in all of them, atomically;
another settles a reservation to what was used. Time is Redis's own (`TIME`), so replicas'
clocks do not matter.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from llm_gateway.limits.admission import Headers, Limits, Ticket, rate_headers, refusal

if TYPE_CHECKING:  # imported only where Redis is configured (it is heavy)
    from redis.asyncio import Redis

_PREFIX = "{llm-gateway}:rl:"
_ADMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local span = tonumber(ARGV[1])
local id = ARGV[2]
local n = #KEYS / 3
local used = {}
for i = 1, n do
  local z, h, total = KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i]
  local old = redis.call('ZRANGEBYSCORE', z, '-inf', now - span)
  for _, member in ipairs(old) do
    redis.call('DECRBY', total, tonumber(redis.call('HGET', h, member) or '0'))
    redis.call('HDEL', h, member)
  end
  if #old > 0 then redis.call('ZREMRANGEBYSCORE', z, '-inf', now - span) end
  used[i] = tonumber(redis.call('GET', total) or '0')
end
for i = 1, n do
  local limit, amount = tonumber(ARGV[1 + 2 * i]), tonumber(ARGV[2 + 2 * i])
  if used[i] + amount > limit then
    local excess, wait = used[i] + amount - limit, span
    local entries = redis.call('ZRANGE', KEYS[3 * i - 2], 0, -1, 'WITHSCORES')
    for j = 1, #entries, 2 do
      excess = excess - tonumber(redis.call('HGET', KEYS[3 * i - 1], entries[j]) or '0')
      if excess <= 0 then wait = tonumber(entries[j + 1]) + span - now break end
    end
    local answer = {0, i, wait}
    for k = 1, n do answer[3 + k] = used[k] end
    return answer
  end
end
for i = 1, n do
  local amount = tonumber(ARGV[2 + 2 * i])
  redis.call('ZADD', KEYS[3 * i - 2], now, id)
  redis.call('HSET', KEYS[3 * i - 1], id, amount)
  redis.call('INCRBY', KEYS[3 * i], amount)
  for k = 3 * i - 2, 3 * i do redis.call('PEXPIRE', KEYS[k], span * 2) end
  used[i] = used[i] + amount
end
local answer = {1, 0, 0}
for k = 1, n do answer[3 + k] = used[k] end
return answer
"""
_SETTLE = """
for i = 1, #KEYS / 2 do
  local old = redis.call('HGET', KEYS[2 * i - 1], ARGV[1])
  if old then
    redis.call('HSET', KEYS[2 * i - 1], ARGV[1], ARGV[2])
    redis.call('INCRBY', KEYS[2 * i], tonumber(ARGV[2]) - tonumber(old))
  end
end
return 1
"""


class RedisLimiter:
    """Per-minute limits counted in Redis for every replica together."""

    def __init__(self, redis: Redis, span: float = 60.0) -> None:
        self._redis = redis
        self._span_ms = int(span * 1000)
        self._admit = self._redis.register_script(_ADMIT)
        self._settle = self._redis.register_script(_SETTLE)

    async def admit(self, scopes: dict[str, Limits], estimate: tuple[int, int]) -> Ticket:
        """See `RateLimiter.admit`."""
        checks: list[tuple[str, str, int, int]] = []  # (kind, window key, limit, amount)
        for scope, limits in scopes.items():
            if limits.rpm is not None:
                checks.append(("requests", f"{_PREFIX}{scope}:requests", limits.rpm, 1))
            if limits.tpm is not None:
                checks.append(("tokens", f"{_PREFIX}{scope}:tokens", limits.tpm, sum(estimate)))
        reservation = uuid.uuid4().hex
        keys = [f"{key}:{part}" for _, key, _, _ in checks for part in ("z", "h", "t")]
        args: list[Any] = [self._span_ms, reservation]
        for _, _, limit, amount in checks:
            args += [limit, amount]
        answer = await self._admit(keys=keys, args=args)
        admitted, refused_at, wait_ms = int(answer[0]), int(answer[1]), int(answer[2])
        used = [int(value) for value in answer[3:]]
        headers = self._headers(checks, used)
        if not admitted:
            kind, _, limit, _ = checks[refused_at - 1]
            raise refusal(kind, limit, wait_ms / 1000, headers)
        token_keys = [key for kind, key, _, _ in checks if kind == "tokens"]
        return Ticket(headers, (token_keys, reservation), estimate[0])

    async def settle(self, ticket: Ticket, tokens_used: int) -> None:
        """See `RateLimiter.settle`."""
        token_keys, reservation = ticket.tokens
        if token_keys:
            keys = [f"{key}:{part}" for key in token_keys for part in ("h", "t")]
            await self._settle(keys=keys, args=[reservation, tokens_used])

    def _headers(self, checks: list[tuple[str, str, int, int]], used: list[int]) -> Headers:
        span = self._span_ms / 1000  # a window just reserved in is full again after a span
        return rate_headers(
            (kind, limit, count, span)
            for (kind, _, limit, _), count in zip(checks, used, strict=True)
        )
