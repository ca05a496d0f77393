"""Which upstream failures are retried, and how long to wait before the next attempt."""

from __future__ import annotations

import random
from email.utils import parsedate_to_datetime
from time import time

from llm_gateway.config.settings import RoutingSettings
from llm_gateway.errors import GatewayError


def is_retryable(error: GatewayError) -> bool:
    """Connect errors, timeouts, 429 and 5xx: worth another attempt, maybe elsewhere. Other
    4xx are about the request itself and would fail anywhere."""
    return error.status == 429 or error.status >= 500


def retry_after_seconds(value: str | None) -> float | None:
    """Parses `Retry-After` (delay seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time())
    except (TypeError, ValueError):
        return None


def delay(
    policy: RoutingSettings, attempt: int, retry_after: float | None, rng: random.Random
) -> float:
    """Seconds to wait before retry number `attempt` (1 for the first retry): full jitter over
    an exponential ceiling, and never less than what the upstream asked for."""
    ceiling = min(policy.max_backoff_seconds, policy.backoff_seconds * 2 ** (attempt - 1))
    wait = rng.uniform(0, ceiling)
    return max(wait, retry_after) if retry_after is not None else wait
