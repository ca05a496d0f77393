"""One usage record per request, and the rows of a usage report."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, fields


@dataclass(frozen=True, slots=True)
class UsageRecord:
    """What one request used and cost, whatever its outcome.

    `estimated` is set when the upstream's own usage never arrived (a stream cancelled or
    broken before its end) and completion tokens were counted from what was streamed.
    """

    request_id: str
    key_name: str
    key_id: str | None
    model: str
    deployment: str | None
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    cost: float | None
    latency_ms: float
    ttft_ms: float | None
    status: int
    cancelled: bool
    estimated: bool
    transport: str
    created_at: float = field(default_factory=time.time)


# The stored columns of a usage record: its fields, in order.
USAGE_COLUMNS = tuple(f.name for f in fields(UsageRecord))


def usage_values(record: UsageRecord) -> tuple[object, ...]:
    """A record's values in the order of `USAGE_COLUMNS`."""
    return tuple(getattr(record, column) for column in USAGE_COLUMNS)


@dataclass(frozen=True, slots=True)
class UsageRow:
    """Usage of one key on one model on one day (UTC)."""

    day: str
    key_name: str
    model: str
    requests: int
    prompt_tokens: int
    completion_tokens: int
    cost: float
    failed: int
    cancelled: int
    estimated: int
