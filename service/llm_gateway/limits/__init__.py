"""Rate limits: requests and tokens per minute, per key and per model."""

from llm_gateway.limits.admission import (
    NO_UNITS,
    Limiter,
    Limits,
    RateLimiter,
    Ticket,
    Units,
    estimate_prompt,
    estimate_tokens,
)

__all__ = [
    "NO_UNITS",
    "Limiter",
    "Limits",
    "RateLimiter",
    "Ticket",
    "Units",
    "estimate_prompt",
    "estimate_tokens",
]
